"""Correct layers written differently from ``manual_bp.layers``: none may ever be flagged.

Each differs from manual_bp in what a tolerance model must absorb: the order of the sums (im2col with
an explicit copy, a shift-and-add convolution, einsum, sequential loops), the staged computational
graph of batch norm's backward (CS231n's) instead of the compact formula, torch's fused
normalisation out = x·(γr) + (β − μγr), layer norm as batch norm of the transpose, a dropout scale
folded into the mask, and the textbook activation and loss formulas (σ′ = a(1 − a), tanh′ = 1 − a²,
Φ = ½(1 + erf)). ``STYLES[kind]`` lists (name, forward, backward) triples in the CS231n API of
``bpcheck.layers.api.call_layer`` (dropout's forwards take an explicit mask: ``masked=True``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tests.styles import _plain_act

Array = np.ndarray
Layer = tuple[str, Callable[..., Any], Callable[..., Any] | None]


# ---------------------------------------------------------------- affine: einsum, and per-sample loops

def affine_einsum_forward(x: Array, w: Array, b: Array) -> tuple[Array, Any]:
    return np.einsum("nd,dm->nm", x.reshape(x.shape[0], -1), w) + b, (x, w)


def affine_einsum_backward(dout: Array, cache: Any) -> tuple[Array, Array, Array]:
    x, w = cache
    x2 = x.reshape(x.shape[0], -1)
    db = np.zeros(w.shape[1], dtype=dout.dtype)
    for row in dout:   # a sequential batch sum
        db += row
    return np.einsum("nm,dm->nd", dout, w).reshape(x.shape), np.einsum("nd,nm->dm", x2, dout), db


# ---------------------------------------------------------------- conv: im2col with a copy; shift-and-add

def _im2col(xp: Array, HH: int, WW: int, s: int, Ho: int, Wo: int) -> Array:
    """cols (C·HH·WW, N·Ho·Wo): one column per output position, copied."""
    N, C = xp.shape[:2]
    cols = np.empty((C, HH, WW, N, Ho, Wo), dtype=xp.dtype)
    for k in range(HH):
        for l in range(WW):
            cols[:, k, l] = xp[:, :, k : k + s * (Ho - 1) + 1 : s, l : l + s * (Wo - 1) + 1 : s].transpose(1, 0, 2, 3)
    return cols.reshape(C * HH * WW, N * Ho * Wo)


def conv_im2col_forward(x: Array, w: Array, b: Array, conv_param: dict) -> tuple[Array, Any]:
    s, p = conv_param["stride"], conv_param["pad"]
    F, C, HH, WW = w.shape
    N, _, H, W = x.shape
    Ho, Wo = 1 + (H + 2 * p - HH) // s, 1 + (W + 2 * p - WW) // s
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    cols = _im2col(xp, HH, WW, s, Ho, Wo)
    out = (w.reshape(F, -1) @ cols + b[:, None]).reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(out), (x, w, s, p, cols)


def conv_im2col_backward(dout: Array, cache: Any) -> tuple[Array, Array, Array]:
    x, w, s, p, cols = cache
    F, C, HH, WW = w.shape
    N, _, H, W = x.shape
    Ho, Wo = dout.shape[2:]
    d2 = dout.transpose(1, 0, 2, 3).reshape(F, -1)
    dw = (d2 @ cols.T).reshape(w.shape)
    dcols = (w.reshape(F, -1).T @ d2).reshape(C, HH, WW, N, Ho, Wo)
    dxp = np.zeros((N, C, H + 2 * p, W + 2 * p), dtype=x.dtype)
    for k in range(HH):   # col2im
        for l in range(WW):
            rows, cols_ = slice(k, k + s * (Ho - 1) + 1, s), slice(l, l + s * (Wo - 1) + 1, s)
            dxp[:, :, rows, cols_] += dcols[:, k, l].transpose(1, 0, 2, 3)
    return dxp[:, :, p : p + H, p : p + W], dw, d2.sum(axis=1)


def conv_shift_forward(x: Array, w: Array, b: Array, conv_param: dict) -> tuple[Array, Any]:
    """Σ over kernel offsets of a strided slice of x̄ times w[:, :, k, l], accumulated in order."""
    s, p = conv_param["stride"], conv_param["pad"]
    F, C, HH, WW = w.shape
    N, _, H, W = x.shape
    Ho, Wo = 1 + (H + 2 * p - HH) // s, 1 + (W + 2 * p - WW) // s
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.zeros((N, F, Ho, Wo), dtype=x.dtype) + b[None, :, None, None]
    for k in range(HH):
        for l in range(WW):
            out += np.einsum("nchw,fc->nfhw", xp[:, :, k : k + s * (Ho - 1) + 1 : s, l : l + s * (Wo - 1) + 1 : s],
                             w[:, :, k, l])
    return out, (x, w, s, p)


def conv_shift_backward(dout: Array, cache: Any) -> tuple[Array, Array, Array]:
    x, w, s, p = cache
    N, C, H, W = x.shape
    Ho, Wo = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for k in range(w.shape[2]):
        for l in range(w.shape[3]):
            rows, cols = slice(k, k + s * (Ho - 1) + 1, s), slice(l, l + s * (Wo - 1) + 1, s)
            dxp[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, k, l])
            dw[:, :, k, l] = np.einsum("nfhw,nchw->fc", dout, xp[:, :, rows, cols])
    return dxp[:, :, p : p + H, p : p + W], dw, dout.sum(axis=(0, 2, 3))


# ---------------------------------------------------------------- max pool: all windows at once

def pool_windows_forward(x: Array, pool_param: dict) -> tuple[Array, Any]:
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    rows = (np.arange(Ho) * s)[:, None, None, None] + np.arange(ph)[None, None, :, None]
    cols = (np.arange(Wo) * s)[None, :, None, None] + np.arange(pw)[None, None, None, :]
    windows = x[:, :, rows, cols].reshape(N, C, Ho, Wo, ph * pw)
    first = windows.argmax(axis=-1)   # the first maximum: the contract's tie rule
    return np.take_along_axis(windows, first[..., None], axis=-1)[..., 0], (x.shape, first, s, ph, pw)


def pool_windows_backward(dout: Array, cache: Any) -> Array:
    shape, first, s, ph, pw = cache
    N, C, Ho, Wo = dout.shape
    dx = np.zeros(shape, dtype=dout.dtype)
    n, c, i, j = np.indices((N, C, Ho, Wo))
    np.add.at(dx, (n, c, i * s + first // pw, j * s + first % pw), dout)
    return dx


# ---------------------------------------------------------------- batch norm: the staged graph; torch's fused form

def bn_graph_forward(x: Array, gamma: Array, beta: Array, bn_param: dict) -> tuple[Array, Any]:
    """CS231n's staged computational graph, one node per line."""
    eps = bn_param.get("eps", 1e-5)
    N = x.shape[0]
    mu = np.sum(x, axis=0) / N
    xmu = x - mu
    sq = xmu**2
    var = np.sum(sq, axis=0) / N
    sqrtvar = np.sqrt(var + eps)
    ivar = 1 / sqrtvar
    xhat = xmu * ivar
    return gamma * xhat + beta, (xhat, gamma, xmu, ivar, sqrtvar, var, eps)


def bn_graph_backward(dout: Array, cache: Any) -> tuple[Array, Array, Array]:
    xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
    N = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    divar = np.sum(dxhat * xmu, axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -1 / (sqrtvar**2) * divar
    dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar
    dsq = np.ones_like(xmu) / N * dvar
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -np.sum(dx1, axis=0)
    dx2 = np.ones_like(xmu) / N * dmu
    return dx1 + dx2, dgamma, dbeta


def _fused_forward(x: Array, gamma: Array, beta: Array, eps: float, axis: int) -> tuple[Array, Any]:
    """torch's kernels: μ and σ² by np.var, then out = x·(γr) + (β − μγr)."""
    mu = x.mean(axis=axis, keepdims=True)
    r = 1 / np.sqrt(np.var(x, axis=axis, keepdims=True) + eps)
    scale = gamma * r
    return x * scale + (beta - mu * scale), ((x - mu) * r, gamma, r, axis)


def _compact_backward(dout: Array, cache: Any) -> tuple[Array, Array, Array]:
    """dx = (1/K) γ r (K dout − Σ dout − x̂ Σ dout x̂), the CS231n one-liner."""
    xhat, gamma, r, axis = cache
    K = xhat.shape[axis]
    dbeta, dgamma = dout.sum(axis=0), (dout * xhat).sum(axis=0)
    if axis == 0:
        dx = (1 / K) * gamma * r * (K * dout - dbeta - xhat * dgamma)
    else:
        g = dout * gamma
        dx = (1 / K) * r * (K * g - g.sum(axis=1, keepdims=True) - xhat * (g * xhat).sum(axis=1, keepdims=True))
    return dx, dgamma, dbeta


def bn_fused_forward(x: Array, gamma: Array, beta: Array, bn_param: dict) -> tuple[Array, Any]:
    return _fused_forward(x, gamma, beta, bn_param.get("eps", 1e-5), 0)


# ---------------------------------------------------------------- layer norm: batch norm of the transpose; fused

def ln_transpose_forward(x: Array, gamma: Array, beta: Array, ln_param: dict) -> tuple[Array, Any]:
    ones = np.ones(x.shape[0], dtype=x.dtype)
    xhat_t, cache = bn_graph_forward(x.T, ones, np.zeros_like(ones), ln_param)
    return gamma * xhat_t.T + beta, (cache, gamma, xhat_t.T)


def ln_transpose_backward(dout: Array, cache: Any) -> tuple[Array, Array, Array]:
    bn_cache, gamma, xhat = cache
    dx_t, _, _ = bn_graph_backward((dout * gamma).T, bn_cache)
    return dx_t.T, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def ln_fused_forward(x: Array, gamma: Array, beta: Array, ln_param: dict) -> tuple[Array, Any]:
    return _fused_forward(x, gamma, beta, ln_param.get("eps", 1e-5), 1)


# ---------------------------------------------------------------- dropout: the scale folded into the mask

def dropout_scaled_mask_forward(x: Array, mask: Array, p: float) -> tuple[Array, Any]:
    scaled = mask.astype(x.dtype) / x.dtype.type(p)   # CS231n: mask = (rand < p) / p
    return x * scaled, scaled


def dropout_scaled_mask_backward(dout: Array, cache: Any) -> Array:
    return dout * cache


# ---------------------------------------------------------------- activations: the textbook formulas

def _activation_pair(name: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def forward(x: Array) -> tuple[Array, Any]:
        if name == "softmax":   # rows here (the network style's _plain_act works on columns)
            e = np.exp(x - x.max(axis=1, keepdims=True))
            s = e / e.sum(axis=1, keepdims=True)
            return s, (s, None)
        a, d = _plain_act(name, x)
        return a, (a, d)

    def backward(dout: Array, cache: Any) -> Array:
        a, d = cache
        if d is None:
            return a * (dout - (dout * a).sum(axis=1, keepdims=True))
        return dout * d
    return forward, backward


# ---------------------------------------------------------------- losses: vectorised textbook forms

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _plain_loss(name: str) -> Callable[[Array, Array], tuple[Any, Array]]:
    def loss(x: Array, y: Array) -> tuple[Any, Array]:
        N, D = x.shape
        r = x - y
        with np.errstate(over="ignore"):
            if name == "half_sse":
                return 0.5 * np.sum(r**2) / N, r / N
            if name == "mse":
                return np.mean(r**2), 2 * r / r.size
            if name == "cross_entropy":
                logp = x - np.logaddexp.reduce(x, axis=1, keepdims=True)
                return -np.sum(y * logp) / N, (np.exp(logp) - y) / N
            if name == "binary_cross_entropy":
                return np.mean(np.logaddexp(0, x) - x * y), (1 / (1 + np.exp(-x)) - y) / r.size
            if name == "huber":
                return np.mean(np.where(np.abs(r) <= 1, 0.5 * r**2, np.abs(r) - 0.5)), np.clip(r, -1, 1) / r.size
            if name == "l1":
                return np.mean(np.abs(r)), np.sign(r) / r.size
        raise ValueError(name)
    return loss


def softmax_loss_cs231n(x: Array, y: Array) -> tuple[Any, Array]:
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    probs = np.exp(log_probs)
    N = x.shape[0]
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    return -np.sum(log_probs[np.arange(N), y]) / N, dx / N


def svm_loss_cs231n(x: Array, y: Array) -> tuple[Any, Array]:
    N = x.shape[0]
    correct = x[np.arange(N), y]
    margins = np.maximum(0, x - correct[:, None] + 1.0)
    margins[np.arange(N), y] = 0
    num_pos = np.sum(margins > 0, axis=1)
    dx = np.zeros_like(x)
    dx[margins > 0] = 1
    dx[np.arange(N), y] -= num_pos
    return np.sum(margins) / N, dx / N


def _styles() -> dict[str, list[Layer]]:
    from references.layers import KINDS

    styles: dict[str, list[Layer]] = {
        "affine": [("einsum", affine_einsum_forward, affine_einsum_backward)],
        "conv2d": [("im2col", conv_im2col_forward, conv_im2col_backward),
                   ("shift_and_add", conv_shift_forward, conv_shift_backward)],
        "max_pool": [("all_windows", pool_windows_forward, pool_windows_backward)],
        "batchnorm": [("staged_graph", bn_graph_forward, bn_graph_backward),
                      ("fused_compact", bn_fused_forward, _compact_backward)],
        "layernorm": [("transpose_of_batchnorm", ln_transpose_forward, ln_transpose_backward),
                      ("fused_compact", ln_fused_forward, _compact_backward)],
        "dropout": [("scaled_mask", dropout_scaled_mask_forward, dropout_scaled_mask_backward)],
        "softmax_loss": [("cs231n", softmax_loss_cs231n, None)],
        "svm_loss": [("cs231n", svm_loss_cs231n, None)],
    }
    for name, kind in KINDS.items():
        if kind.family == "activation":
            styles[name] = [("textbook", *_activation_pair(name))]
        elif kind.family == "loss":
            styles[name] = [("textbook", _plain_loss(name), None)]
    return styles


STYLES: dict[str, list[Layer]] = _styles()


def _manual() -> dict[str, Layer]:
    """manual_bp.layers, the subject, in the same (name, forward, backward) form."""
    import manual_bp.layers as L
    from references.layers import KINDS

    table: dict[str, Layer] = {
        "affine": ("manual_bp", L.affine_forward, L.affine_backward),
        "conv2d": ("manual_bp", L.conv_forward_naive, L.conv_backward_naive),
        "max_pool": ("manual_bp", L.max_pool_forward_naive, L.max_pool_backward_naive),
        "batchnorm": ("manual_bp", L.batchnorm_forward, L.batchnorm_backward),
        "layernorm": ("manual_bp", L.layernorm_forward, L.layernorm_backward),
        "dropout": ("manual_bp", L.dropout_forward_masked, L.dropout_backward),
        "softmax_loss": ("manual_bp", L.softmax_loss, None),
        "svm_loss": ("manual_bp", L.svm_loss, None),
    }
    for name, kind in KINDS.items():
        if kind.family == "activation":
            table[name] = ("manual_bp", getattr(L, f"{name}_forward"), getattr(L, f"{name}_backward"))
        elif kind.family == "loss":
            table[name] = ("manual_bp", getattr(L, name), None)
    return table


MANUAL: dict[str, Layer] = _manual()


def implementations(kind: str) -> list[Layer]:
    """Every correct implementation of ``kind`` here: manual_bp's first, then the other styles."""
    import manual_bp.layers as L

    # conv2d's vectorised pair is manual_bp's too: it must pass everything the naive pair passes
    extra: list[Layer] = [("manual_bp_fast", L.conv_forward_fast, L.conv_backward_fast)] if kind == "conv2d" else []
    return [MANUAL[kind], *extra, *STYLES.get(kind, [])]
