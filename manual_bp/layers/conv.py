"""2-D convolution (cross-correlation, as every framework computes it), NCHW, zero padding, any stride.

With x̄ = x zero-padded by p on each side of H and W, s the stride and i, j the output positions:

    forward:   out[n,f,i,j] = b[f] + Σ_{c,k,l} x̄[n, c, i s + k, j s + l] · w[f, c, k, l]
    backward:  dx̄[n,c,i s+k, j s+l] += Σ_f dout[n,f,i,j] · w[f,c,k,l]   (over every i, j, f; dx = dx̄ unpadded)
               dw[f,c,k,l] = Σ_{n,i,j} dout[n,f,i,j] · x̄[n, c, i s + k, j s + l]
               db[f]       = Σ_{n,i,j} dout[n,f,i,j]

Shapes: x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {"stride": s ≥ 1, "pad": p ≥ 0};
out (N, F, H′, W′) with H′ = 1 + (H + 2p − HH) // s and W′ = 1 + (W + 2p − WW) // s (floor: rows and
columns of x̄ past the last window are unused, and their dx is 0). The kernel is not flipped.

Two implementations of the same maths, kept side by side and tested equal:
``conv_forward_naive``/``conv_backward_naive`` loop over every output position (the equations as
written); ``conv_forward_fast``/``conv_backward_fast`` gather the windows into one strided view
(im2col without a copy) and contract it with w in one matrix product, and scatter the window
gradients back with one strided add per kernel offset (col2im).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from manual_bp.layers import _validate as v

Array = np.ndarray


class ConvCache(NamedTuple):
    x: Array
    w: Array
    stride: int
    pad: int


def _check(x: Array, w: Array, b: Array, conv_param: Mapping[str, Any]) -> tuple[Array, Array, Array, int, int]:
    x = v.array("x", x, 4, dims="(N, C, H, W)")
    w = v.array("w", w, 4, dims="(F, C, HH, WW)")
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"w must have shape (F, {x.shape[1]}, HH, WW) to match the C = {x.shape[1]} channels of x "
                         f"{x.shape}, got {w.shape}")
    w = v.like("w", w, "x", x, w.shape)
    b = v.like("b", b, "w", w, (w.shape[0],))
    conv_param = v.mapping("conv_param", conv_param)
    s = v.integer("conv_param", conv_param, "stride", low=1)
    p = v.integer("conv_param", conv_param, "pad", low=0)
    H, W = x.shape[2] + 2 * p, x.shape[3] + 2 * p
    if w.shape[2] > H or w.shape[3] > W:
        raise ValueError(f"w's window {w.shape[2]}×{w.shape[3]} must fit in the padded image {H}×{W} "
                         f"(x {x.shape}, pad {p})")
    return x, w, b, s, p


def _out_size(x: Array, w: Array, s: int, p: int) -> tuple[int, int]:
    return 1 + (x.shape[2] + 2 * p - w.shape[2]) // s, 1 + (x.shape[3] + 2 * p - w.shape[3]) // s


def _pad(x: Array, p: int) -> Array:
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def conv_forward_naive(x: Array, w: Array, b: Array, conv_param: Mapping[str, Any]) -> tuple[Array, ConvCache]:
    """out[n,f,i,j] = b[f] + Σ_{c,k,l} x̄[n,c,i s+k,j s+l] w[f,c,k,l], one output position at a time.

    Returns out (N, F, H′, W′) in x's dtype and the cache for ``conv_backward_naive``."""
    x, w, b, s, p = _check(x, w, b, conv_param)
    Ho, Wo = _out_size(x, w, s, p)
    HH, WW = w.shape[2:]
    xp = _pad(x, p)
    out = np.empty((x.shape[0], w.shape[0], Ho, Wo), dtype=x.dtype)
    for n in range(x.shape[0]):
        for f in range(w.shape[0]):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * s : i * s + HH, j * s : j * s + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, ConvCache(x, w, s, p)


def conv_backward_naive(dout: Array, cache: ConvCache) -> tuple[Array, Array, Array]:
    """dx, dw, db by the equations above, one output position at a time; dout is (N, F, H′, W′)."""
    x, w, s, p = v.cache(cache, ConvCache, "conv_forward_naive or conv_forward_fast")
    Ho, Wo = _out_size(x, w, s, p)
    dout = v.dout(dout, (x.shape[0], w.shape[0], Ho, Wo), x.dtype)
    HH, WW = w.shape[2:]
    xp = _pad(x, p)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for n in range(x.shape[0]):
        for f in range(w.shape[0]):
            for i in range(Ho):
                for j in range(Wo):
                    rows, cols = slice(i * s, i * s + HH), slice(j * s, j * s + WW)
                    dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]   # ∂out[n,f,i,j]/∂x̄ = w[f] on its window
                    dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]   # ∂out[n,f,i,j]/∂w[f] = x̄'s window
    db = dout.sum(axis=(0, 2, 3))
    return dxp[:, :, p : p + x.shape[2], p : p + x.shape[3]], dw, db


def _windows(xp: Array, w: Array, s: int, Ho: int, Wo: int) -> Array:
    """The view cols[n, c, i, j, k, l] = x̄[n, c, i s + k, j s + l], shape (N, C, H′, W′, HH, WW)."""
    view = sliding_window_view(xp, w.shape[2:], axis=(2, 3))
    return view[:, :, : (Ho - 1) * s + 1 : s, : (Wo - 1) * s + 1 : s]


def conv_forward_fast(x: Array, w: Array, b: Array, conv_param: Mapping[str, Any]) -> tuple[Array, ConvCache]:
    """The same out as ``conv_forward_naive``: the windows (a strided view) contracted with w at once."""
    x, w, b, s, p = _check(x, w, b, conv_param)
    Ho, Wo = _out_size(x, w, s, p)
    cols = _windows(_pad(x, p), w, s, Ho, Wo)
    out = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3]))   # (N, H′, W′, F): Σ_{c,k,l} x̄ w
    out += b
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2)), ConvCache(x, w, s, p)


def conv_backward_fast(dout: Array, cache: ConvCache) -> tuple[Array, Array, Array]:
    """The same dx, dw, db as ``conv_backward_naive``, by whole-array products and a strided scatter."""
    x, w, s, p = v.cache(cache, ConvCache, "conv_forward_naive or conv_forward_fast")
    Ho, Wo = _out_size(x, w, s, p)
    dout = v.dout(dout, (x.shape[0], w.shape[0], Ho, Wo), x.dtype)
    xp = _pad(x, p)
    cols = _windows(xp, w, s, Ho, Wo)
    dw = np.tensordot(dout, cols, axes=([0, 2, 3], [0, 2, 3]))   # Σ_{n,i,j} dout · x̄'s windows
    db = dout.sum(axis=(0, 2, 3))
    dcols = np.tensordot(dout, w, axes=([1], [0]))               # (N, H′, W′, C, HH, WW): dout · w per window
    dxp = np.zeros_like(xp)
    for k in range(w.shape[2]):
        for l in range(w.shape[3]):
            dxp[:, :, k : k + (Ho - 1) * s + 1 : s, l : l + (Wo - 1) * s + 1 : s] += \
                dcols[:, :, :, :, k, l].transpose(0, 3, 1, 2)
    return dxp[:, :, p : p + x.shape[2], p : p + x.shape[3]], dw, db
