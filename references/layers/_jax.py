"""The JAX reference for the layer kinds: ``jax.vjp`` (``jax.value_and_grad`` for the losses), jitted
once per signature, 64-bit mode on, matmul and convolution precision HIGHEST.

- affine: ``jnp.matmul(x.reshape(N, -1), w, precision=HIGHEST) + b``;
- the activations and the 6 losses: the network reference's tables (``references._jax``, which
  keeps PyTorch's kinks);
- softmax_loss: −mean of ``jax.nn.log_softmax(x)`` at the labels;
- svm_loss: Σ ``jnp.where(m > 0, m, 0)`` / N over j ≠ y: only the selected branch is
  differentiated, so a zero margin has slope 0 (``jnp.maximum(m, 0)`` would split it ½–½);
- conv2d: ``lax.conv_general_dilated`` (NCHW, OIHW, strides, precision HIGHEST) of the input padded by
  ``jnp.pad`` (see ``_conv`` for the XLA abort this avoids);
- max_pool: ``lax.reduce_window(x, −inf, lax.max, …, "VALID")``: its gradient (XLA's
  select-and-scatter, selecting with ≥) goes to the first maximal entry of a window, row-major, as
  torch's does: measured (docs/conventions.md) and pinned by tests;
- batchnorm, layernorm: the formula μ, biased σ², x̂ = (x − μ)·``lax.rsqrt``(σ² + eps), γ x̂ + β;
- dropout: ``x * mask / p``.

A bounded LRU of compiled functions (``CACHE_SIZE``, as for the network) keyed by kind, hyperparameters,
shapes, dtypes and device; each new shape costs one compilation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from references._jax import ACTIVATIONS, CACHE_SIZE, LOSSES, _device, device_problem  # switches 64-bit mode on
from references.layers._spec import KINDS, LayerCall

__all__ = ["device_problem", "run"]
Array = Any


def _norm(axis: int, t: dict[str, Array], eps: float) -> Array:
    x = t["x"]
    mu = jnp.mean(x, axis=axis, keepdims=True)
    xc = x - mu
    var = jnp.mean(xc * xc, axis=axis, keepdims=True)
    return t["gamma"] * (xc * lax.rsqrt(var + eps)) + t["beta"]


def _svm(x: Array, y: Array) -> Array:
    correct = jnp.take_along_axis(x, y[:, None], axis=1)
    m = x - correct + 1
    counted = (m > 0) & (jnp.arange(x.shape[1])[None, :] != y[:, None])
    return jnp.sum(jnp.where(counted, m, 0)) / x.shape[0]


def _softmax_loss(x: Array, y: Array) -> Array:
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(x, axis=1), y[:, None], axis=1))


def _conv(t: dict[str, Array], h: dict[str, Any], precision: Any) -> Array:
    """The padding is applied by ``jnp.pad`` and the rows and columns no window reads are cut off
    before a "VALID" convolution: jaxlib 0.10.2's XLA aborts the whole process (a failed CHECK in its
    algebraic simplifier, "Window dimensions do not match RHS shape") when it compiles the gradient of
    ``conv_general_dilated`` with the padding given to it, a stride of 2 and a padded row no window
    reads (x (6, 1, 1, 6), w (3, 1, 2, 2), stride 2, pad 1; pinned by tests/test_layers.py). The
    same function, without the negative padding that case's transpose needed."""
    s, p = h["stride"], h["pad"]
    x, w = t["x"], t["w"]
    rows, cols = (x.shape[2] + 2 * p - w.shape[2]) // s * s + w.shape[2], \
        (x.shape[3] + 2 * p - w.shape[3]) // s * s + w.shape[3]
    xp = jnp.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))[:, :, :rows, :cols]
    out = lax.conv_general_dilated(xp, w, (s, s), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"),
                                   precision=precision)
    return out + t["b"][None, :, None, None]


def _max_pool(x: Array, h: dict[str, Any]) -> Array:
    window, strides = (1, 1, h["pool_height"], h["pool_width"]), (1, 1, h["stride"], h["stride"])
    return lax.reduce_window(x, -jnp.inf, lax.max, window, strides, "VALID")


_FAMILIES: dict[str, Callable[[str, dict[str, Array], dict[str, Any], Any], Array]] = {
    "affine": lambda k, t, h, pr: jnp.matmul(t["x"].reshape(t["x"].shape[0], -1), t["w"], precision=pr) + t["b"],
    "activation": lambda k, t, h, pr: ACTIVATIONS[k](t["x"]),
    "loss": lambda k, t, h, pr: LOSSES[k](t["x"], t["y"]),
    "label_loss": lambda k, t, h, pr: _softmax_loss(t["x"], t["y"]) if k == "softmax_loss" else _svm(t["x"], t["y"]),
    "conv2d": lambda k, t, h, pr: _conv(t, h, pr),
    "max_pool": lambda k, t, h, pr: _max_pool(t["x"], h),
    "norm": lambda k, t, h, pr: _norm(0 if k == "batchnorm" else 1, t, h["eps"]),
    "dropout": lambda k, t, h, pr: t["x"] * t["mask"] / h["p"],
}


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compiled(kind_name: str, hyper: tuple[tuple[str, Any], ...], highest: bool, signature: tuple[Any, ...]) -> Any:
    """The jitted (out, grads) of one kind for one signature (shapes, dtypes, device)."""
    kind = KINDS[kind_name]
    h = dict(hyper)
    precision = lax.Precision.HIGHEST if highest else None

    def forward(diff: dict[str, Array], const: dict[str, Array]) -> Array:
        return _FAMILIES[kind.family](kind.name, {**diff, **const}, h, precision)

    if kind.scalar:
        return jax.jit(jax.value_and_grad(forward))

    def out_and_vjp(diff: dict[str, Array], const: dict[str, Array], dout: Array) -> Any:
        out, pullback = jax.vjp(lambda dd: forward(dd, const), diff)
        return out, pullback(dout)[0]
    return jax.jit(out_and_vjp)


def run(call: LayerCall, *, device: str, allow_tf32: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(out, {"d" + name: gradient}) in the input dtype."""
    kind = call.kind
    diff = {k: v for k, v in call.inputs.items() if k in kind.differentiable}
    const = {k: (v.astype(call.dtype) if v.dtype == np.bool_ else v)
             for k, v in call.inputs.items() if k not in kind.differentiable}
    signature = (tuple((k, v.shape, str(v.dtype)) for k, v in sorted(call.inputs.items())), device)
    fn = _compiled(kind.name, tuple(sorted(call.hyper.items())), not allow_tf32, signature)
    args: tuple[Any, ...] = (diff, const) if kind.scalar else (diff, const, call.dout)
    dev = _device(device)
    if dev is not None:
        args = jax.device_put(args, dev)
    out, grads = fn(*args)
    return np.array(out), {"d" + k: np.array(g) for k, g in grads.items()}
