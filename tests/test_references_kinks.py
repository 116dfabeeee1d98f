"""The contract's conventions at kinks, pinned exactly for every reference (docs/conventions.md).

Each case is a tiny net whose kink is hit exactly in float32 and float64 alike (zero weight rows,
zero biases, small integers), with every other number chosen so the expected gradient is exact.
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
import pytest

import references as R

EXACT_BACKENDS = ("torch", "jax", "ground_truth")
DTYPES = (np.float32, np.float64)


def needs(backend: str) -> None:
    reason = R.unavailable_reason(backend)
    if reason is not None:
        pytest.skip(reason)


def grads_of(backend: str, params: list, x: Any, y: Any, acts: list[str], loss: str, dtype: Any) -> list:
    cast = [(np.asarray(W, dtype), np.asarray(b, dtype)) for W, b in params]
    return R.gradients(cast, np.asarray(x, dtype), np.asarray(y, dtype), acts, loss, backend=backend)


# ---------------------------------------------------------------- σ′ at z = 0


def kink_net(activation: str) -> tuple:
    """z⁽¹⁾ = (0, 4) exactly (zero row, zero bias); a⁽²⁾ = 2σ(0) + σ(4) = 4, y = 1, half_sse:
    ∂J/∂a⁽²⁾ = 3, so δ⁽¹⁾₀ = 3 · 2 · σ′(0) = 6σ′(0) and ∂J/∂W⁽¹⁾₀ = 6σ′(0) · x = 6σ′(0) · (1, 2)."""
    params = [([[0, 0], [1, 1]], [0, 1]), ([[2, 1]], [0])]
    return params, [[1, 2]], [[1]], [activation, "identity"], "half_sse"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("activation", "slope"), [("relu", 0.0), ("leaky_relu", 0.01), ("elu", 1.0)])
@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_activation_slope_at_zero_is_the_contracts(backend: str, activation: str, slope: float, dtype: Any) -> None:
    needs(backend)
    params, x, y, acts, loss = kink_net(activation)
    (dW1, db1), _ = grads_of(backend, params, x, y, acts, loss, dtype)
    if backend == "ground_truth":  # long double: 6 · (1/100) rounded there, not in float64
        exact = np.longdouble(1) / 100 if activation == "leaky_relu" else np.longdouble(slope)
        want, tol = 6 * exact, 4 * np.finfo(np.longdouble).eps * 6 * exact
    else:
        want, tol = dtype(6) * dtype(slope), 0
    assert abs(db1[0] - want) <= tol, (db1[0], want)
    assert abs(dW1[0, 0] - want) <= tol and abs(dW1[0, 1] - 2 * want) <= 2 * tol
    assert db1[1] == 3 and list(dW1[1]) == [3, 6]  # the unit away from its kink


@pytest.mark.parametrize(("activation", "slope"), [("relu", 0.0), ("leaky_relu", 0.01), ("elu", 1.0)])
def test_finite_differences_follow_the_contract_at_a_kink(activation: str, slope: float) -> None:
    """references.finite_diff differences the active piece: at z = 0 exactly it gives the contract's
    slope, not the ½(0 + 1) average a plain central difference straddling relu's kink would give."""
    (dW1, db1), _ = grads_of("finite_diff", *kink_net(activation), np.float64)
    assert abs(db1[0] - 6 * slope) <= 1e-9 and abs(dW1[0, 1] - 12 * slope) <= 1e-9
    assert abs(db1[1] - 3) <= 1e-9


def test_finite_differences_follow_l1s_subgradient_at_a_equal_y() -> None:
    params = [([[1, 1], [1, 0]], [-3, 0])]
    ((dW, db),) = grads_of("finite_diff", params, [[1, 2]], [[0, 0]], ["identity"], "l1", np.float64)
    np.testing.assert_allclose(db, [0, 0.5], atol=1e-9)
    np.testing.assert_allclose(dW, [[0, 0], [0.5, 1]], atol=1e-9)


# ---------------------------------------------------------------- l1 at a = y, huber at |r| = 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_l1_subgradient_at_a_equal_y_is_zero(backend: str, dtype: Any) -> None:
    """a = (0, 1) = W x + b exactly, y = (0, 0): ∂J/∂a = (sign 0, sign 1)/2 = (0, ½)."""
    needs(backend)
    params = [([[1, 1], [1, 0]], [-3, 0])]
    ((dW, db),) = grads_of(backend, params, [[1, 2]], [[0, 0]], ["identity"], "l1", dtype)
    assert list(db) == [0, 0.5] and dW.tolist() == [[0, 0], [0.5, 1]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", ("torch", "jax"))
def test_l1_subgradient_at_negative_zero_residual_is_zero(backend: str, dtype: Any) -> None:
    """z₀ = −(smallest subnormal), so a₀ = leaky_relu(z₀) = 0.01 z₀ underflows to −0.0 and
    a₀ − y₀ = −0.0 − 0.0 = −0.0. With abs′(−0.0) = ±1 db₀ would be ±0.005, not 0.
    (Not for ground_truth: in long double 0.01 z₀ does not underflow, so there a₀ < y₀.)"""
    needs(backend)
    tiny = np.finfo(dtype).smallest_subnormal
    assert np.signbit(dtype(0.01) * -tiny)  # the premise, in NumPy
    params = [([[0, 0], [1, 0]], [-tiny, 0])]
    ((dW, db),) = grads_of(backend, params, [[1, 2]], [[0, 0]], ["leaky_relu"], "l1", dtype)
    assert list(db) == [0, 0.5] and dW.tolist() == [[0, 0], [0.5, 1]]


@pytest.mark.parametrize("backend", ("torch", "jax"))
def test_framework_l1_losses_give_zero_at_both_signed_zero_residuals(backend: str) -> None:
    """The loss itself, below the network: ∂/∂a mean|a − y| at a − y = +0.0 and −0.0."""
    needs(backend)
    a, y = np.array([[0.0, -0.0, 0.0, 2.0]]), np.array([[0.0, 0.0, -0.0, 1.0]])
    if backend == "torch":
        import torch

        from references._torch import LOSSES

        at = torch.tensor(a, requires_grad=True)
        (g,) = torch.autograd.grad(LOSSES["l1"](at, torch.tensor(y)), at)
        g = g.numpy()
    else:
        import jax

        from references._jax import LOSSES

        g = np.asarray(jax.grad(LOSSES["l1"])(a, y))
    assert g.tolist() == [[0, 0, 0, 0.25]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_huber_gradient_at_unit_residual_is_the_residual(backend: str, dtype: Any) -> None:
    """a = (3, 1), y = (2, 2): r = ±1 exactly, where ½r² and |r| − ½ meet with slope ±1."""
    needs(backend)
    params = [([[1, 1], [1, 0]], [0, 0])]
    ((dW, db),) = grads_of(backend, params, [[1, 2]], [[2, 2]], ["identity"], "huber", dtype)
    assert list(db) == [0.5, -0.5] and dW.tolist() == [[0.5, 1], [-0.5, -1]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_binary_cross_entropy_gradient_at_zero_logit(backend: str, dtype: Any) -> None:
    """a = 0 exactly: ∂J/∂a = (sigmoid(0) − y)/n = (½ − y)/4 for y = (0, 1, ¼, ¾). JAX's max/abs
    ties would turn the textbook max(a, 0) − a y + log1p(e^{−|a|}) into −y/4 here."""
    needs(backend)
    params = [([[0, 0]] * 4, [0] * 4)]
    y = [[0, 1, 0.25, 0.75]]
    ((dW, db),) = grads_of(backend, params, [[1, 2]], y, ["identity"], "binary_cross_entropy", dtype)
    assert list(db) == [0.125, -0.125, 0.0625, -0.0625]
    assert dW[:, 1].tolist() == [0.25, -0.25, 0.125, -0.125]


# ---------------------------------------------------------------- softplus and gelu forms


@pytest.mark.parametrize("backend", (*EXACT_BACKENDS, "finite_diff"))
def test_softplus_has_no_linear_switch_over(backend: str) -> None:
    """z = 30 > torch's threshold 20: softplus′(30) = sigmoid(30) = 1 − 9.4e-14, not 1."""
    needs(backend)
    ((_, db),) = grads_of(backend, [([[0]], [30])], [[1]], [[0]], ["softplus"], "l1", np.float64)
    want = 1 / (1 + math.exp(-30))
    assert db[0] != 1 and abs(float(db[0]) - want) <= (1e-12 if backend == "finite_diff" else 2.3e-16)


@pytest.mark.parametrize("backend", (*EXACT_BACKENDS, "finite_diff"))
@pytest.mark.parametrize("activation", ("gelu", "gelu_tanh"))
def test_gelu_is_the_erf_form_and_gelu_tanh_the_tanh_form(backend: str, activation: str) -> None:
    """σ′(1) for both forms, from mpmath: they differ by 3.5e-4, the backends match to 1e-15."""
    needs(backend)
    mpmath.mp.dps = 30
    if activation == "gelu":
        want = mpmath.ncdf(1) + mpmath.npdf(1)
    else:
        c, k = mpmath.sqrt(2 / mpmath.pi), mpmath.mpf("0.044715")
        want = mpmath.diff(lambda z: z / 2 * (1 + mpmath.tanh(c * (z + k * z**3))), 1)
    ((_, db),) = grads_of(backend, [([[0]], [1])], [[1]], [[-5]], [activation], "l1", np.float64)
    tol = 1e-12 if backend == "finite_diff" else 2.3e-16
    assert abs(float(db[0]) - float(want)) <= tol, (db[0], want)
