"""Truth and bounds of the layers built from products and sums: affine, conv2d, max_pool, dropout.

Each function takes the case's arrays in float64 (exact copies), the hyperparameters, dout, the
candidate's unit roundoff u and its smallest normal ``tiny``, and returns {output: (truth, bound)}.
The convolution here is this package's own float64 one (loops over the kernel offsets), independent
of manual_bp's code and of the references'.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bpcheck.layers._bounds import dot, dyadic, plain_sum, zero_where_exact

Array = np.ndarray
Outputs = dict[str, tuple[Array, Array]]


def _dotted(value: Array, terms: Array, n: int, u: float, tiny: float, exact: bool) -> tuple[Array, Array]:
    """A result made of n-term dot products whose Σ|terms| is ``terms``: (value, its bound)."""
    return value, zero_where_exact(dot(n, u) * terms + n * tiny, terms, u, exact)


def _summed(value: Array, terms: Array, n: int, u: float, tiny: float, exact: bool) -> tuple[Array, Array]:
    """A result made of plain sums of n exact terms whose Σ|terms| is ``terms``."""
    return value, zero_where_exact(plain_sum(n, u) * terms + (n > 1) * n * tiny, terms, u, exact)


def affine(a: dict[str, Array], hyper: dict[str, Any], dout: Array, u: float, tiny: float) -> Outputs:
    """out = x̃ w + b, dx = dout wᵀ, dw = x̃ᵀ dout, db = Σ_n dout."""
    x, w, b = a["x"], a["w"], a["b"]
    N, (D, M) = x.shape[0], w.shape
    x2, ax, aw, ad = x.reshape(N, D), np.abs(x.reshape(N, D)), np.abs(w), np.abs(dout)
    exact = dyadic(x, w, b, dout)
    out, e_out = _dotted(x2 @ w + b, ax @ aw + np.abs(b), D + 1, u, tiny, exact)
    e_out = np.where(ax @ aw == 0, 0.0, e_out)   # no nonzero product: out = b exactly
    dx, e_dx = _dotted(dout @ w.T, ad @ aw.T, M, u, tiny, exact)
    return {"out": (out, e_out), "dx": (dx.reshape(x.shape), e_dx.reshape(x.shape)),
            "dw": _dotted(x2.T @ dout, ax.T @ ad, N, u, tiny, exact),
            "db": _summed(dout.sum(axis=0), ad.sum(axis=0), N, u, tiny, exact)}


def _pad(x: Array, p: int) -> Array:
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def _offsets(w_shape: tuple[int, ...], s: int, Ho: int, Wo: int) -> list[tuple[int, int, slice, slice]]:
    """For each kernel offset (k, l): the rows and columns of x̄ it meets, as strided slices."""
    return [(k, l, slice(k, k + (Ho - 1) * s + 1, s), slice(l, l + (Wo - 1) * s + 1, s))
            for k in range(w_shape[2]) for l in range(w_shape[3])]


def correlate(xp: Array, w: Array, s: int, Ho: int, Wo: int) -> Array:
    """out[n,f,i,j] = Σ_{c,k,l} x̄[n,c,i s+k,j s+l] w[f,c,k,l] (no bias)."""
    out = np.zeros((xp.shape[0], w.shape[0], Ho, Wo))
    for k, l, rows, cols in _offsets(w.shape, s, Ho, Wo):
        out += np.einsum("nchw,fc->nfhw", xp[:, :, rows, cols], w[:, :, k, l])
    return out


def correlate_input_grad(dout: Array, w: Array, s: int, xp_shape: tuple[int, ...]) -> Array:
    """dx̄[n,c,·,·] = Σ over windows and f of dout[n,f,i,j] w[f,c,k,l], at (i s + k, j s + l)."""
    dxp = np.zeros(xp_shape)
    for k, l, rows, cols in _offsets(w.shape, s, dout.shape[2], dout.shape[3]):
        dxp[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, k, l])
    return dxp


def correlate_weight_grad(dout: Array, xp: Array, s: int, w_shape: tuple[int, ...]) -> Array:
    """dw[f,c,k,l] = Σ_{n,i,j} dout[n,f,i,j] x̄[n,c,i s+k,j s+l]."""
    dw = np.zeros(w_shape)
    for k, l, rows, cols in _offsets(w_shape, s, dout.shape[2], dout.shape[3]):
        dw[:, :, k, l] = np.einsum("nfhw,nchw->fc", dout, xp[:, :, rows, cols])
    return dw


def conv2d(a: dict[str, Array], hyper: dict[str, Any], dout: Array, u: float, tiny: float) -> Outputs:
    """out, dx, dw, db of the convolution; each entry a dot product over the taps that meet it."""
    x, w, b = a["x"], a["w"], a["b"]
    s, p = hyper["stride"], hyper["pad"]
    (N, C, H, W), (F, _, HH, WW) = x.shape, w.shape
    Ho, Wo = dout.shape[2:]
    xp, axp, aw, ad = _pad(x, p), _pad(np.abs(x), p), np.abs(w), np.abs(dout)
    exact = dyadic(x, w, b, dout)
    T_out = correlate(axp, aw, s, Ho, Wo)
    out, e_out = _dotted(correlate(xp, w, s, Ho, Wo) + b[None, :, None, None],
                         T_out + np.abs(b)[None, :, None, None], C * HH * WW + 1, u, tiny, exact)
    e_out = np.where(T_out == 0, 0.0, e_out)   # no nonzero product: out = b exactly
    taps = F * math.ceil(HH / s) * math.ceil(WW / s)   # the most (f, window) pairs meeting one pixel
    inner = (slice(None), slice(None), slice(p, p + H), slice(p, p + W))
    dx, e_dx = _dotted(correlate_input_grad(dout, w, s, xp.shape)[inner],
                       correlate_input_grad(ad, aw, s, xp.shape)[inner], taps, u, tiny, exact)
    return {"out": (out, e_out), "dx": (dx, e_dx),
            "dw": _dotted(correlate_weight_grad(dout, xp, s, w.shape), correlate_weight_grad(ad, axp, s, w.shape),
                          N * Ho * Wo, u, tiny, exact),
            "db": _summed(dout.sum(axis=(0, 2, 3)), ad.sum(axis=(0, 2, 3)), N * Ho * Wo, u, tiny, exact)}


def max_pool(a: dict[str, Array], hyper: dict[str, Any], dout: Array, u: float, tiny: float) -> Outputs:
    """out selects an input (exact); dx sums the dout of the windows whose first maximum an entry is.

    Selection is exact: the inputs are exact in the candidate's dtype, comparisons of exact numbers
    are exact, so a tie is a tie and an order is an order in every precision, and the convention (the
    first maximal entry, row-major) is checked with a bound of 0. Only the accumulation of dout over
    overlapping windows rounds: a plain sum of as many terms as windows chose the entry."""
    x = a["x"]
    ph, pw, s = hyper["pool_height"], hyper["pool_width"], hyper["stride"]
    Ho, Wo = dout.shape[2:]
    out = np.empty(dout.shape)
    dx, count, ad = np.zeros(x.shape), np.zeros(x.shape), np.zeros(x.shape)
    for i in range(Ho):
        for j in range(Wo):
            window = x[:, :, i * s : i * s + ph, j * s : j * s + pw].reshape(x.shape[:2] + (ph * pw,))
            first = np.argmax(window, axis=2)      # the first maximum in row-major order
            rows, cols = i * s + first // pw, j * s + first % pw
            n, c = np.indices(x.shape[:2])
            out[:, :, i, j] = window[n, c, first]
            np.add.at(dx, (n, c, rows, cols), dout[:, :, i, j])
            np.add.at(count, (n, c, rows, cols), 1)
            np.add.at(ad, (n, c, rows, cols), np.abs(dout[:, :, i, j]))
    exact = dyadic(dout)
    e_dx = np.where(count > 1, np.sqrt(count + 1) * u * ad + count * tiny, 0.0)
    return {"out": (out, np.zeros(out.shape)), "dx": (dx, zero_where_exact(e_dx, ad, u, exact))}


def _power_of_two(p: float) -> bool:
    return math.frexp(p)[0] == 0.5


def dropout(a: dict[str, Array], hyper: dict[str, Any], dout: Array, u: float, tiny: float,
            dtype: np.dtype) -> Outputs:
    """out = x ⊙ m / p and dx = dout ⊙ m / p: exact where m = 0; where m = 1 at most two roundings
    (x/p, or x·(1/p) with 1/p rounded), none when p is a power of two, and one more when p itself
    is not representable in the dtype (a candidate divides by p rounded)."""
    p = hyper["p"]
    m = a["mask"].astype(np.float64)
    c = (0.0 if _power_of_two(p) else 2.0) + (0.0 if float(dtype.type(p)) == p else 1.0)
    out, dx = a["x"] * m / p, dout * m / p
    return {"out": (out, c * u * np.abs(out) + c * tiny * m), "dx": (dx, c * u * np.abs(dx) + c * tiny * m)}
