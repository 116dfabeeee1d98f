"""The references against a small independent float64 backprop written here, and each other.

The yardstick below is written from the contract alone (it shares no code with ``references`` or
``manual_bp``). Errors are scaled: max |G − R| / max(1, max |R|) over every entry of every layer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import references as R

TIGHT = 1e-11  # torch, jax, ground_truth against the float64 yardstick
LOOSE = 1e-6  # finite_diff
FRAMEWORKS = ("torch", "jax")


def needs(backend: str) -> None:
    reason = R.unavailable_reason(backend)
    if reason is not None:
        pytest.skip(reason)


# ---------------------------------------------------------------- the yardstick: float64 backprop


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


_erf = np.vectorize(math.erf, otypes=[float])
_GC = math.sqrt(2 / math.pi)


def ys_sigma(name: str, z: np.ndarray) -> np.ndarray:
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return {
        "identity": lambda: z,
        "sigmoid": lambda: _sigmoid(z),
        "tanh": lambda: np.tanh(z),
        "relu": lambda: np.where(z > 0, z, 0.0),
        "leaky_relu": lambda: np.where(z > 0, z, 0.01 * z),
        "elu": lambda: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
        "softplus": lambda: np.logaddexp(z, 0),
        "gelu": lambda: 0.5 * z * (1 + _erf(z / math.sqrt(2))),
        "gelu_tanh": lambda: z * _sigmoid(2 * _GC * (z + 0.044715 * z**3)),
        "silu": lambda: z * _sigmoid(z),
    }[name]()


def ys_sigma_prime(name: str, z: np.ndarray) -> np.ndarray:
    s = _sigmoid(z)
    ds = _sigmoid(z) * _sigmoid(-z)
    u2 = 2 * _GC * (z + 0.044715 * z**3)
    return {
        "identity": lambda: np.ones_like(z),
        "sigmoid": lambda: ds,
        "tanh": lambda: 1 / np.cosh(np.minimum(np.abs(z), 300)) ** 2,
        "relu": lambda: (z > 0).astype(float),
        "leaky_relu": lambda: np.where(z > 0, 1.0, 0.01),
        "elu": lambda: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0))),
        "softplus": lambda: s,
        "gelu": lambda: 0.5 * (1 + _erf(z / math.sqrt(2))) + z * np.exp(-z * z / 2) / math.sqrt(2 * math.pi),
        "gelu_tanh": lambda: _sigmoid(u2) + z * _sigmoid(u2) * _sigmoid(-u2) * 2 * _GC * (1 + 3 * 0.044715 * z**2),
        "silu": lambda: s + z * ds,
    }[name]()


def ys_dJ_da(loss: str, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    B, n = a.shape
    r = a - y
    if loss == "cross_entropy":
        return (ys_sigma("softmax", a) * y.sum(axis=1, keepdims=True) - y) / B
    return {
        "half_sse": lambda: r / B,
        "mse": lambda: 2 * r / (B * n),
        "binary_cross_entropy": lambda: (_sigmoid(a) - y) / (B * n),
        "huber": lambda: np.clip(r, -1, 1) / (B * n),
        "l1": lambda: np.sign(r) / (B * n),
    }[loss]()


def yardstick(params: Any, x: Any, y: Any, acts: Any, loss: str) -> tuple[list, list]:
    """(grads, deltas) by backprop in float64."""
    zs, outs = [], [np.asarray(x, float)]
    for (W, b), name in zip(params, acts, strict=True):
        zs.append(outs[-1] @ np.asarray(W, float).T + np.asarray(b, float))
        outs.append(ys_sigma(name, zs[-1]))
    g = ys_dJ_da(loss, outs[-1], np.asarray(y, float))
    deltas: list = [None] * len(params)
    for l in reversed(range(len(params))):
        if acts[l] == "softmax":
            d = outs[l + 1] * (g - (g * outs[l + 1]).sum(axis=1, keepdims=True))
        else:
            d = g * ys_sigma_prime(acts[l], zs[l])
        deltas[l] = d
        g = d @ np.asarray(params[l][0], float)
    grads = [(d.T @ a, d.sum(axis=0)) for d, a in zip(deltas, outs, strict=False)]
    return grads, deltas


# ---------------------------------------------------------------- cases and comparison


def make_case(rng: np.random.Generator, acts: list[str] | str, loss: str, dtype: Any = np.float64) -> tuple:
    depth = len(acts) if isinstance(acts, list) else int(rng.integers(1, 4))
    acts = acts if isinstance(acts, list) else [acts] * depth
    widths = [int(w) for w in rng.integers(1, 6, depth + 1)]
    batch = int(rng.integers(1, 5))
    params = [
        (
            rng.normal(0, 1.5 / math.sqrt(widths[i]), (widths[i + 1], widths[i])).astype(dtype),
            rng.normal(0, 0.5, widths[i + 1]).astype(dtype),
        )
        for i in range(depth)
    ]
    x = rng.normal(0, 1.5, (batch, widths[0])).astype(dtype)
    n = widths[-1]
    if loss == "cross_entropy":
        y = rng.dirichlet(np.ones(n), batch)
    elif loss == "binary_cross_entropy":
        y = rng.uniform(0, 1, (batch, n))
    else:
        y = rng.normal(0, 1.5, (batch, n))
    return params, x, y.astype(dtype), acts, loss


def flat(grads: Any) -> list[np.ndarray]:
    return [np.asarray(t, np.longdouble) for pair in grads for t in pair]


def scaled_err(got: list, ref: list) -> float:
    scale = max(1.0, max(float(np.max(np.abs(r))) for r in ref))
    return max(float(np.max(np.abs(g - r))) for g, r in zip(got, ref, strict=True)) / scale


# ---------------------------------------------------------------- every activation × every loss


def check_against_yardstick(backend: str, case: tuple, tol: float) -> str | None:
    """Compare gradients and deltas of one case; a message if either is off."""
    ref_grads, ref_deltas = yardstick(*case)
    grads = R.gradients(*case, backend=backend)
    deltas = R.deltas(*case, backend=backend)
    assert [t.shape for t in flat(grads)] == [t.shape for t in flat(ref_grads)]
    assert [d.shape for d in deltas] == [d.shape for d in ref_deltas]
    err_g = scaled_err(flat(grads), flat(ref_grads))
    err_d = scaled_err([np.asarray(d, np.longdouble) for d in deltas], ref_deltas)
    if err_g <= tol and err_d <= tol:
        return None
    widths = [case[1].shape[1], *(W.shape[0] for W, _ in case[0])]
    return f"{case[3]}/{case[4]} widths {widths}: scaled errors grads {err_g:.3g}, deltas {err_d:.3g}"


@pytest.mark.parametrize("activation", R.ACTIVATIONS)
@pytest.mark.parametrize("backend", R.BACKENDS)
def test_random_nets_every_loss_match_yardstick(backend: str, activation: str) -> None:
    """Gradients and δ⁽ˡ⁾ of random float64 nets, depth 1–3, widths 1–5, batch 1–4."""
    needs(backend)
    tol = LOOSE if backend == "finite_diff" else TIGHT
    rng = np.random.default_rng([R.ACTIVATIONS.index(activation), 2024])
    cases = [make_case(rng, activation, loss) for loss in R.LOSSES]
    failures = [m for case in cases if (m := check_against_yardstick(backend, case, tol))]
    assert not failures, f"{backend} (tolerance {tol:g}): " + "; ".join(failures)


@pytest.mark.parametrize("backend", R.BACKENDS)
def test_mixed_activation_nets_match_yardstick(backend: str) -> None:
    needs(backend)
    tol = LOOSE if backend == "finite_diff" else TIGHT
    rng = np.random.default_rng(7)
    cases = [make_case(rng, list(rng.choice(R.ACTIVATIONS, 3)), loss) for loss in R.LOSSES]
    failures = [m for case in cases if (m := check_against_yardstick(backend, case, tol))]
    assert not failures, f"{backend} (tolerance {tol:g}): " + "; ".join(failures)


@pytest.mark.parametrize("backend", R.BACKENDS)
def test_top_delta_of_half_sse_is_residual_times_slope(backend: str) -> None:
    needs(backend)
    rng = np.random.default_rng(11)
    params, x, y, acts, loss = make_case(rng, ["tanh", "tanh"], "half_sse")
    a1 = np.tanh(x @ params[0][0].T + params[0][1])
    z2 = a1 @ params[1][0].T + params[1][1]
    expected = (np.tanh(z2) - y) * (1 - np.tanh(z2) ** 2) / x.shape[0]
    top = np.asarray(R.deltas(params, x, y, acts, loss, backend=backend)[-1], float)
    np.testing.assert_allclose(top, expected, rtol=1e-6 if backend == "finite_diff" else 1e-12, atol=1e-15)


def test_torch_and_jax_agree_on_mixed_nets() -> None:
    needs("torch")
    needs("jax")
    rng = np.random.default_rng(7)  # the cases of test_mixed_activation_nets_match_yardstick
    for loss in R.LOSSES:
        case = make_case(rng, list(rng.choice(R.ACTIVATIONS, 3)), loss)
        t = flat(R.gradients(*case, backend="torch"))
        j = flat(R.gradients(*case, backend="jax"))
        assert scaled_err(t, j) <= 1e-12, (case[3], loss)


# ---------------------------------------------------------------- float32, purity


@pytest.mark.parametrize("backend", R.BACKENDS)
def test_float32_in_gives_the_documented_dtype_out(backend: str) -> None:
    needs(backend)
    rng = np.random.default_rng(3)
    case = make_case(rng, ["tanh", "sigmoid"], "mse", dtype=np.float32)
    want = {"finite_diff": np.float64, "ground_truth": np.longdouble}.get(backend, np.float32)
    grads = R.gradients(*case, backend=backend)
    assert all(t.dtype == want for pair in grads for t in pair)
    assert all(d.dtype == want for d in R.deltas(*case, backend=backend))
    ref, _ = yardstick(*case)
    assert scaled_err(flat(grads), flat(ref)) <= 1e-5


@pytest.mark.parametrize("backend", R.BACKENDS)
def test_arguments_are_not_modified(backend: str) -> None:
    needs(backend)
    case = make_case(np.random.default_rng(4), ["elu", "softmax"], "cross_entropy")
    params, x, y = case[:3]
    before = [t.copy() for pair in params for t in pair] + [x.copy(), y.copy()]
    R.gradients(*case, backend=backend)
    R.deltas(*case, backend=backend)
    after = [t for pair in params for t in pair] + [x, y]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
