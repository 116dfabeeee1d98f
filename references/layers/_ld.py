"""Every layer kind's forward in long double, defined once for the two NumPy references.

``definition(kind, hyper, base)`` returns f(inputs) -> out, written with the operations of
``_dual`` on trailing axes, so that f evaluates

* plain long-double inputs with leading stack axes (``finite_diff``: many perturbed copies of one
  input in one call; the other inputs unstacked), and
* dual numbers (``ground_truth``: forward-mode tangents, one leading tangent axis).

Non-smooth points use the *piece* that the unperturbed inputs ``base`` select, fixed when the
definition is made: the max-pool window's maximal entry (the first in row-major order at a tie,
the contract's convention), the svm margins that count (m > 0 strictly), relu/leaky_relu/elu's
branch (z > 0), l1's sign (0 where x = y) and huber's branch (|x − y| ≤ 1: a difference straddling
|x − y| = 1 would be off by O(h)). Away from them this is the function itself; on them
it is the contract's one-sided choice, and a finite difference of it is the contract's subgradient.
Activations and losses are ``references._longdouble``'s (dual tangents: its σ′ and ∂J/∂a).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from references import _longdouble as ld
from references.finite_diff import _PIECEWISE, _on_piece
from references.layers import _dual as d
from references.layers._spec import Kind

LD = np.longdouble
Array = np.ndarray
Definition = Callable[[dict[str, Any]], Any]


def _windows(n: int, size: int, stride: int) -> Array:
    """start + offset indices of n windows of ``size`` with ``stride``: shape (n, size)."""
    return (np.arange(n) * stride)[:, None] + np.arange(size)[None, :]


def _gather(height: Array, width: Array) -> Callable[[Array], Array]:
    """a[..., H, W] → a[..., i, j, k, l] = a[..., height[i, k], width[j, l]]: (…, H′, W′, KH, KW)."""
    rows, cols = height[:, None, :, None], width[None, :, None, :]
    return lambda a: a[..., rows, cols]


def _affine(base: dict[str, Array], hyper: dict[str, Any]) -> Definition:
    N, D = base["x"].shape[0], int(np.prod(base["x"].shape[1:]))
    k = base["x"].ndim

    def f(inp: dict[str, Any]) -> Any:
        x2 = d.linear(lambda a: a.reshape(a.shape[: a.ndim - k] + (N, D)), inp["x"])
        return d.bilinear(np.matmul, x2, inp["w"]) + inp["b"][..., None, :]   # x̃ w + b
    return f


def _conv(base: dict[str, Array], hyper: dict[str, Any]) -> Definition:
    s, p = hyper["stride"], hyper["pad"]
    (_, _, H, W), (_, _, HH, WW) = base["x"].shape, base["w"].shape
    gather = _gather(_windows(1 + (H + 2 * p - HH) // s, HH, s), _windows(1 + (W + 2 * p - WW) // s, WW, s))

    def pad(a: Array) -> Array:
        return np.pad(a, [(0, 0)] * (a.ndim - 2) + [(p, p), (p, p)])

    def correlate(patches: Array, w: Array) -> Array:
        return np.einsum("...nchwij,...fcij->...nfhw", patches, w)   # Σ_{c,i,j} x̄ w

    def f(inp: dict[str, Any]) -> Any:
        patches = d.linear(lambda a: gather(pad(a)), inp["x"])   # (…, N, C, H′, W′, HH, WW)
        return d.bilinear(correlate, patches, inp["w"]) + inp["b"][..., None, :, None, None]
    return f


def _max_pool(base: dict[str, Array], hyper: dict[str, Any]) -> Definition:
    ph, pw, s = hyper["pool_height"], hyper["pool_width"], hyper["stride"]
    _, _, H, W = base["x"].shape
    gather = _gather(_windows(1 + (H - ph) // s, ph, s), _windows(1 + (W - pw) // s, pw, s))

    def windows(a: Array) -> Array:
        g = gather(a)
        return g.reshape(g.shape[:-2] + (ph * pw,))
    chosen = np.argmax(windows(base["x"]), axis=-1)[..., None]   # the first maximum of each window

    def pick(a: Array) -> Array:
        return np.take_along_axis(a, np.broadcast_to(chosen, a.shape[:-1] + (1,)), axis=-1)[..., 0]

    return lambda inp: d.linear(lambda a: pick(windows(a)), inp["x"])


def _norm(axis: int) -> Callable[[dict[str, Array], dict[str, Any]], Definition]:
    def make(base: dict[str, Array], hyper: dict[str, Any]) -> Definition:
        eps = LD(hyper["eps"])

        def f(inp: dict[str, Any]) -> Any:
            x = inp["x"]
            mu = d.mean(x, axis, keepdims=True)
            xc = x - mu
            var = d.mean(xc * xc, axis, keepdims=True)   # biased
            xhat = xc / d.sqrt(var + eps)
            return inp["gamma"][..., None, :] * xhat + inp["beta"][..., None, :]
        return f
    return make


def _dropout(base: dict[str, Array], hyper: dict[str, Any]) -> Definition:
    scale = base["mask"].astype(LD) / LD(hyper["p"])
    return lambda inp: inp["x"] * scale   # x ⊙ m / p


def _activation(name: str, base: dict[str, Array]) -> Definition:
    z0 = base["x"]

    def f(inp: dict[str, Any]) -> Any:
        z = inp["x"]
        if isinstance(z, d.Dual):
            a = ld.activation(name, z.v)
            return d.Dual(a, ld.activation_jvp(name, z.v, a, z.t))
        return _on_piece(name, z, z0) if name in _PIECEWISE else ld.activation(name, z)
    return f


def _loss(name: str, base: dict[str, Array]) -> Definition:
    if name == "svm_loss":
        return _svm(base)
    y: Array = base["y"]
    if name == "softmax_loss":   # the contract's cross-entropy with one-hot targets
        y = np.eye(base["x"].shape[1], dtype=LD)[base["y"]]
        name = "cross_entropy"
    r0 = base["x"] - y
    sign0, inner0 = np.sign(r0), np.abs(r0) <= 1

    def f(inp: dict[str, Any]) -> Any:
        a = inp["x"]
        if isinstance(a, d.Dual):
            return d.Dual(ld.loss_value(name, a.v, y), np.sum(ld.loss_grad(name, a.v, y) * a.t, axis=(-2, -1)))
        if name == "l1":   # on the piece of the unperturbed sign: Σ sign₀ (a − y) / (N D)
            return np.sum(sign0 * (a - y), axis=(-2, -1)) / y.size
        if name == "huber":  # the branch of the unperturbed |r| ≤ 1 (its derivative is continuous, not its second)
            r = a - y
            return np.sum(np.where(inner0, r * r / 2, sign0 * r - LD(1) / 2), axis=(-2, -1)) / y.size
        return ld.loss_value(name, a, y)
    return f


def _svm(base: dict[str, Array]) -> Definition:
    labels = base["y"][:, None]
    x0 = base["x"]
    counted = (x0 - np.take_along_axis(x0, labels, axis=-1) + 1 > 0)   # m > 0 strictly
    counted[np.arange(x0.shape[0]), base["y"]] = False                  # never the correct class

    def f(inp: dict[str, Any]) -> Any:
        x = inp["x"]
        correct = d.linear(lambda a: np.take_along_axis(a, np.broadcast_to(labels, a.shape[:-1] + (1,)), axis=-1), x)
        margins = d.select(counted, x - correct + 1)
        return d.total(d.total(margins, -1), -1) / x0.shape[0]
    return f


_FAMILIES: dict[str, Callable[[dict[str, Array], dict[str, Any]], Definition]] = {
    "affine": _affine, "conv2d": _conv, "max_pool": _max_pool, "dropout": _dropout,
}


def definition(kind: Kind, hyper: dict[str, Any], base: dict[str, Array]) -> Definition:
    """f(inputs) -> out for ``kind``, its pieces fixed by the long-double inputs ``base``."""
    if kind.family == "activation":
        return _activation(kind.name, base)
    if kind.family in ("loss", "label_loss"):
        return _loss(kind.name, base)
    if kind.family == "norm":
        return _norm(-2 if kind.name == "batchnorm" else -1)(base, hyper)
    return _FAMILIES[kind.family](base, hyper)


def widen(inputs: dict[str, Array]) -> dict[str, Array]:
    """The inputs with every float array converted (exactly) to long double; labels and masks kept."""
    return {k: v.astype(LD) if v.dtype.kind == "f" else v for k, v in inputs.items()}
