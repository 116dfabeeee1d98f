"""The contract's activations and losses in long double, value beside derivative.

Shared by the two NumPy references (``finite_diff`` evaluates J with ``forward`` and
``loss_value``; ``ground_truth`` pushes tangents with ``activation_jvp`` and ``loss_grad``).
Every array may carry leading axes in front of the contract's (B, n): softmax and the losses act
on the last axis / the last two axes, so a stack of perturbed networks is one call.

Every formula is written so that nothing overflows and nothing cancels catastrophically:
e = e^{−|z|} is the only exponential of a data-dependent argument, 1 − tanh² z is 4e/(1 + e)² with
e = e^{−2|z|}, and ½(1 + tanh u) is sigmoid(2u). Kinks follow the contract (PyTorch's):
relu′(0) = 0, leaky_relu′(0) = 0.01, elu′(0) = 1, and sign(0) = 0 for l1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from references._erf import SQRT_2PI, normal_cdf, normal_pdf

LD = np.longdouble
Array = NDArray[np.longdouble]

LEAK = LD(1) / 100
GELU_C = LD(2) / SQRT_2PI  # √(2/π) = 2/√(2π)
GELU_K = LD("0.044715")


def sigmoid(z: Array) -> Array:
    """sigmoid(z) = 1/(1 + e^{−z}), from e = e^{−|z|} on either side of 0."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_prime(z: Array) -> Array:
    """sigmoid′(z) = e/(1 + e)² with e = e^{−|z|}: no 1 − s cancellation in the tails."""
    e = np.exp(-np.abs(z))
    return e / (1 + e) ** 2


def softplus(z: Array) -> Array:
    """softplus(z) = log(1 + e^z) = max(z, 0) + log1p(e^{−|z|}), exact: no linear switch-over."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def softmax(z: Array) -> Array:
    """softmax over the last axis, shifted by the row maximum."""
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _gelu_tanh_parts(z: Array) -> tuple[Array, Array]:
    """For u = √(2/π)(z + 0.044715 z³): (sigmoid(2u), d/dz sigmoid(2u))."""
    u2 = 2 * GELU_C * (z + GELU_K * z**3)
    du2 = 2 * GELU_C * (1 + 3 * GELU_K * z**2)
    return sigmoid(u2), sigmoid_prime(u2) * du2


def _tanh_prime(z: Array) -> Array:
    e = np.exp(-2 * np.abs(z))
    return 4 * e / (1 + e) ** 2


def _elementwise(name: str) -> tuple[Callable[[Array], Array], Callable[[Array], Array]]:
    """(σ, σ′) of an elementwise activation."""
    if name == "identity":
        return (lambda z: z), np.ones_like
    if name == "sigmoid":
        return sigmoid, sigmoid_prime
    if name == "tanh":
        return np.tanh, _tanh_prime
    if name == "relu":
        return (lambda z: np.where(z > 0, z, 0)), (lambda z: np.where(z > 0, LD(1), LD(0)))
    if name == "leaky_relu":
        return (lambda z: np.where(z > 0, z, LEAK * z)), (lambda z: np.where(z > 0, LD(1), LEAK))
    if name == "elu":
        return (
            lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
            lambda z: np.where(z > 0, LD(1), np.exp(np.minimum(z, 0))),
        )
    if name == "softplus":
        return softplus, sigmoid
    if name == "gelu":
        return (lambda z: z * normal_cdf(z)), (lambda z: normal_cdf(z) + z * normal_pdf(z))
    if name == "gelu_tanh":
        return (lambda z: z * _gelu_tanh_parts(z)[0]), _gelu_tanh_prime
    if name == "silu":
        return (lambda z: z * sigmoid(z)), (lambda z: sigmoid(z) + z * sigmoid_prime(z))
    raise ValueError(f"no elementwise activation {name!r}")


def _gelu_tanh_prime(z: Array) -> Array:
    s, ds = _gelu_tanh_parts(z)
    return s + z * ds


def activation(name: str, z: Array) -> Array:
    """a = σ(z); softmax acts on the last axis."""
    if name == "softmax":
        return softmax(z)
    return _elementwise(name)[0](z)


def activation_jvp(name: str, z: Array, a: Array, z_dot: Array) -> Array:
    """The tangent ȧ = σ′(z) ż (elementwise), or ȧ = a ⊙ (ż − ⟨a, ż⟩) for softmax, per row.

    z and a may lack leading axes that z_dot has (one primal, many tangents)."""
    if name == "softmax":
        return a * (z_dot - np.sum(a * z_dot, axis=-1, keepdims=True))
    return _elementwise(name)[1](z) * z_dot


def forward(
    params: Sequence[tuple[Array, Array]], x: Array, activations: Sequence[str]
) -> tuple[list[Array], list[Array]]:
    """z⁽ˡ⁾ = a⁽ˡ⁻¹⁾ W⁽ˡ⁾ᵀ + b⁽ˡ⁾ and a⁽ˡ⁾ = σ_l(z⁽ˡ⁾), l = 1..L; returns ([z⁽¹⁾..z⁽ᴸ⁾], [a⁽⁰⁾..a⁽ᴸ⁾])."""
    zs: list[Array] = []
    acts: list[Array] = [x]
    for (W, b), name in zip(params, activations, strict=True):
        zs.append(acts[-1] @ W.T + b)
        acts.append(activation(name, zs[-1]))
    return zs, acts


def _mean_over(t: Array) -> Array:
    """Mean over the last two axes (the B·n elements of one network's output)."""
    return np.sum(t, axis=(-2, -1)) / (t.shape[-2] * t.shape[-1])


def loss_value(name: str, a: Array, y: Array) -> Array:
    """J(a⁽ᴸ⁾, y), reduced over the last two axes (B, n_L); leading axes are kept."""
    r = a - y
    batch = a.shape[-2]
    if name == "half_sse":
        return np.sum(r * r, axis=(-2, -1)) / (2 * batch)
    if name == "mse":
        return _mean_over(r * r)
    if name == "cross_entropy":
        m = np.max(a, axis=-1, keepdims=True)
        lse = m + np.log(np.sum(np.exp(a - m), axis=-1, keepdims=True))
        return -np.sum(y * (a - lse), axis=(-2, -1)) / batch
    if name == "binary_cross_entropy":
        return _mean_over(y * softplus(-a) + (1 - y) * softplus(a))
    if name == "huber":
        ar = np.abs(r)
        return _mean_over(np.where(ar <= 1, r * r / 2, ar - LD(1) / 2))
    if name == "l1":
        return _mean_over(np.abs(r))
    raise ValueError(f"unknown loss {name!r}")


def loss_grad(name: str, a: Array, y: Array) -> Array:
    """∂J/∂a⁽ᴸ⁾, shape (B, n_L); l1 takes sign(0) = 0, huber is continuous at |r| = 1."""
    r = a - y
    batch, n = a.shape[-2], a.shape[-1]
    if name == "half_sse":
        return r / batch
    if name == "mse":
        return 2 * r / (batch * n)
    if name == "cross_entropy":
        return (softmax(a) * np.sum(y, axis=-1, keepdims=True) - y) / batch
    if name == "binary_cross_entropy":
        return (sigmoid(a) - y) / (batch * n)
    if name == "huber":
        return np.where(np.abs(r) <= 1, r, np.sign(r)) / (batch * n)
    if name == "l1":
        return np.sign(r) / (batch * n)
    raise ValueError(f"unknown loss {name!r}")


def to_longdouble(
    params: Sequence[tuple[np.ndarray, np.ndarray]], *arrays: np.ndarray
) -> tuple[list[tuple[Array, Array]], list[Array]]:
    """Exact conversion of float32/float64 inputs to long double."""
    ld_params = [(np.asarray(W, dtype=LD), np.asarray(b, dtype=LD)) for W, b in params]
    return ld_params, [np.asarray(arr, dtype=LD) for arr in arrays]
