"""The layer mutation catalog: classic hand-written layer bugs, each a small variant of one correct
CS231n-style implementation (the functions below with ``bug=None``). The suite must catch every one,
naming the output it breaks.

``CATALOG`` lists a ``LayerBug`` per bug: its name, the layer kind, what it is, the corner it hides
in, the outputs it breaks and the fault kinds a judge may report (``mismatch``, or ``shape`` where the
bug changes a shape, ``non_finite`` where it divides by zero in its hiding corner). ``BASE[kind]`` is
the correct version of the functions the bugs of ``kind`` vary.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

Array = np.ndarray


class LayerBug(NamedTuple):
    name: str
    kind: str                    # the layer kind (references.layers.KINDS)
    what: str
    hides_at: str
    breaks: tuple[str, ...]      # the outputs it makes wrong
    faults: tuple[str, ...]      # the fault kinds a judge may report
    forward: Callable[..., Any]
    backward: Callable[..., Any] | None
    masked: bool = False         # dropout: the forward takes an explicit mask


# ---------------------------------------------------------------- affine

def affine_forward(x: Array, w: Array, b: Array) -> tuple[Array, Any]:
    return x.reshape(x.shape[0], -1) @ w + b, (x, w)


def affine_backward(dout: Array, cache: Any, bug: str | None = None) -> tuple[Array, Array, Array]:
    x, w = cache
    x2 = x.reshape(x.shape[0], -1)
    dw = dout.T @ x2 if bug == "affine_dw_transposed" else x2.T @ dout
    db = dout.mean(axis=0) if bug == "affine_db_averaged" else dout.sum(axis=0)
    return (dout @ w.T).reshape(x.shape), dw, db


# ---------------------------------------------------------------- relu

def relu_forward(x: Array) -> tuple[Array, Any]:
    return np.maximum(x, 0), x


def relu_backward(dout: Array, x: Array, bug: str | None = None) -> Array:
    return dout * ((x >= 0) if bug == "relu_prime_at_zero_is_one" else (x > 0))


# ---------------------------------------------------------------- softmax_loss, svm_loss

def softmax_loss(x: Array, y: Array, bug: str | None = None) -> tuple[Any, Array]:
    N = 1 if bug == "softmax_loss_not_divided_by_batch" else x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    dx = np.exp(log_probs)
    dx[np.arange(x.shape[0]), y] -= 1
    return -log_probs[np.arange(x.shape[0]), y].sum() / N, dx / N


def svm_loss(x: Array, y: Array, bug: str | None = None) -> tuple[Any, Array]:
    N = x.shape[0]
    margins = np.maximum(0, x - x[np.arange(N), y][:, None] + 1)
    if bug != "svm_counts_correct_class":
        margins[np.arange(N), y] = 0
    positive = margins > 0
    dx = positive.astype(x.dtype)
    dx[np.arange(N), y] -= positive.sum(axis=1)
    return margins.sum() / N, dx / N


# ---------------------------------------------------------------- conv2d (naive)

def conv_forward(x: Array, w: Array, b: Array, conv_param: dict) -> tuple[Array, Any]:
    s, p = conv_param["stride"], conv_param["pad"]
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    Ho, Wo = 1 + (xp.shape[2] - HH) // s, 1 + (xp.shape[3] - WW) // s
    out = np.empty((x.shape[0], F, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            window = xp[:, :, i * s : i * s + HH, j * s : j * s + WW]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, s, p)


def conv_backward(dout: Array, cache: Any, bug: str | None = None) -> tuple[Array, Array, Array]:
    x, w, s, p = cache
    HH, WW = w.shape[2:]
    step = 1 if bug == "conv_backward_ignores_stride" else s
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * step, i * step + HH), slice(j * step, j * step + WW)
            dxp[:, :, rows, cols] += np.tensordot(dout[:, :, i, j], w, axes=([1], [0]))
            dw += np.tensordot(dout[:, :, i, j], xp[:, :, rows, cols], axes=([0], [0]))
    if bug == "conv_dw_kernel_flipped":
        dw = dw[:, :, ::-1, ::-1]
    dx = dxp if bug == "conv_dx_padding_left_on" else dxp[:, :, p : p + x.shape[2], p : p + x.shape[3]]
    return dx, dw, dout.sum(axis=(0, 2, 3))


# ---------------------------------------------------------------- max pool (naive)

def max_pool_forward(x: Array, pool_param: dict) -> tuple[Array, Any]:
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    Ho, Wo = 1 + (x.shape[2] - ph) // s, 1 + (x.shape[3] - pw) // s
    out = np.empty(x.shape[:2] + (Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * s : i * s + ph, j * s : j * s + pw].max(axis=(2, 3))
    return out, (x, ph, pw, s)


def max_pool_backward(dout: Array, cache: Any, bug: str | None = None) -> Array:
    x, ph, pw, s = cache
    dx = np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    k, l = divmod(int(np.argmax(x[n, c, i * s : i * s + ph, j * s : j * s + pw])), pw)
                    if bug == "max_pool_assigns_instead_of_accumulating":
                        dx[n, c, i * s + k, j * s + l] = dout[n, c, i, j]
                    else:
                        dx[n, c, i * s + k, j * s + l] += dout[n, c, i, j]
    return dx


# ---------------------------------------------------------------- batch norm, layer norm

def norm_forward(x: Array, gamma: Array, beta: Array, param: dict, axis: int = 0,
                 bug: str | None = None) -> tuple[Array, Any]:
    if bug == "layernorm_over_the_batch_axis":
        axis = 0
    K = x.shape[axis]
    mu = x.mean(axis=axis, keepdims=True)
    xc = x - mu
    var = (xc * xc).sum(axis=axis, keepdims=True) / (K - 1 if bug == "batchnorm_unbiased_variance" else K)
    r = 1 / np.sqrt(var + param.get("eps", 1e-5))
    xhat = xc * r
    return gamma * xhat + beta, (x, xhat, gamma, r, axis)


def norm_backward(dout: Array, cache: Any, bug: str | None = None) -> tuple[Array, Array, Array]:
    x, xhat, gamma, r, axis = cache
    g = dout * gamma
    mean_term = 0 if bug == "batchnorm_dx_without_mean_term" else g.mean(axis=axis, keepdims=True)
    dx = r * (g - mean_term - xhat * (g * xhat).mean(axis=axis, keepdims=True))
    dgamma = (dout * (x if bug == "batchnorm_dgamma_from_x" else xhat)).sum(axis=0)
    return dx, dgamma, dout.sum(axis=0)


# ---------------------------------------------------------------- dropout

def dropout_forward(x: Array, mask: Array, p: float) -> tuple[Array, Any]:
    return x * mask / p, (mask, p)


def dropout_backward(dout: Array, cache: Any, bug: str | None = None) -> Array:
    mask, p = cache
    return dout * mask if bug == "dropout_backward_without_scale" else dout * mask / p


def _bn_forward(x: Array, gamma: Array, beta: Array, bn_param: dict, bug: str | None = None) -> tuple[Array, Any]:
    return norm_forward(x, gamma, beta, bn_param, 0, bug)


def _ln_forward(x: Array, gamma: Array, beta: Array, ln_param: dict, bug: str | None = None) -> tuple[Array, Any]:
    return norm_forward(x, gamma, beta, ln_param, 1, bug)


# kind → (forward, backward, masked): the correct base each bug of that kind varies
_FUNCTIONS: dict[str, tuple[Callable[..., Any], Callable[..., Any] | None, bool]] = {
    "affine": (affine_forward, affine_backward, False),
    "relu": (relu_forward, relu_backward, False),
    "softmax_loss": (softmax_loss, None, False),
    "svm_loss": (svm_loss, None, False),
    "conv2d": (conv_forward, conv_backward, False),
    "max_pool": (max_pool_forward, max_pool_backward, False),
    "batchnorm": (_bn_forward, norm_backward, False),
    "layernorm": (_ln_forward, norm_backward, False),
    "dropout": (dropout_forward, dropout_backward, True),
}
BASE = _FUNCTIONS

# name, kind, what, hides at, breaks, faults, and whether the bug is in the forward (else the backward)
_BUGS: list[tuple[str, str, str, str, tuple[str, ...], tuple[str, ...], bool]] = [
    ("batchnorm_dx_without_mean_term", "batchnorm", "dx = r(g − x̂·mean(g x̂)): the −mean(g) term forgotten",
     "dout·γ with zero column means", ("dx",), ("mismatch",), False),
    ("batchnorm_unbiased_variance", "batchnorm", "σ² divided by N − 1 instead of N (torch normalises with 1/N)",
     "nowhere at N ≥ 2; a division by zero at N = 1", ("out", "dx", "dgamma"), ("mismatch", "non_finite"), True),
    ("batchnorm_dgamma_from_x", "batchnorm", "dγ = Σ dout·x instead of Σ dout·x̂",
     "columns already normalised (μ = 0, σ² + eps = 1)", ("dgamma",), ("mismatch",), False),
    ("layernorm_over_the_batch_axis", "layernorm", "μ and σ² over the batch (axis 0) instead of the features",
     "N = D with symmetric data", ("out", "dx", "dgamma"), ("mismatch",), True),
    ("conv_dw_kernel_flipped", "conv2d", "dw returned with the kernel flipped (convolution instead of correlation)",
     "1×1 kernels and symmetric gradients", ("dw",), ("mismatch",), False),
    ("conv_backward_ignores_stride", "conv2d", "the backward pass places the windows at stride 1",
     "stride 1", ("dx", "dw"), ("mismatch",), False),
    ("conv_dx_padding_left_on", "conv2d", "dx returned with the zero padding still around it",
     "pad 0", ("dx",), ("shape",), False),
    ("max_pool_assigns_instead_of_accumulating", "max_pool",
     "dx[argmax] = dout instead of +=: an entry that is the maximum of several overlapping windows keeps one",
     "stride ≥ window (no overlap)", ("dx",), ("mismatch",), False),
    ("dropout_backward_without_scale", "dropout", "dx = dout·m, without the 1/p of inverted dropout",
     "p = 1", ("dx",), ("mismatch",), False),
    ("affine_dw_transposed", "affine", "dw = doutᵀ x̃, (M, D) instead of (D, M)",
     "D = M (then a mismatch, not a shape)", ("dw",), ("shape", "mismatch"), False),
    ("affine_db_averaged", "affine", "db = mean over the batch instead of the sum",
     "batch 1", ("db",), ("mismatch",), False),
    ("relu_prime_at_zero_is_one", "relu", "relu′(0) = 1: the mask x ≥ 0 instead of x > 0",
     "no exact zero in x", ("dx",), ("mismatch",), False),
    ("softmax_loss_not_divided_by_batch", "softmax_loss", "loss and dx summed over the batch, not averaged",
     "batch 1", ("out", "dx"), ("mismatch",), True),
    ("svm_counts_correct_class", "svm_loss", "the correct class's own margin (always 1) counted in the loss",
     "nowhere: J is 1 too large per sample", ("out",), ("mismatch",), True),
]


def _bug(name: str, kind: str, what: str, hides: str, breaks: tuple[str, ...], faults: tuple[str, ...],
         in_forward: bool) -> LayerBug:
    forward, backward, masked = _FUNCTIONS[kind]
    if in_forward:
        forward = functools.partial(forward, bug=name)
    elif backward is not None:
        backward = functools.partial(backward, bug=name)
    return LayerBug(name, kind, what, hides, breaks, faults, forward, backward, masked)


CATALOG: dict[str, LayerBug] = {entry[0]: _bug(*entry) for entry in _BUGS}
