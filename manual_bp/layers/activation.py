"""The 11 activations as layers: ``NAME_forward(x) -> (out, cache)``, ``NAME_backward(dout, cache) -> dx``.

    forward:   out = σ(x)                      elementwise (softmax: over the last axis)
    backward:  dx = dout ⊙ σ′(x)               elementwise
               dx = s ⊙ (dout − ⟨dout, s⟩)     softmax, per row, s = softmax(x): the Jacobian-vector
                                               product (diag(s) − s sᵀ) dout

The maths is ``manual_bp.activations``' (the dense network's), reused, not rewritten; the formulas
are in the table below and in each function's docstring. x may have any shape (N, …). Conventions at
kinks are PyTorch's: relu′(0) = 0, leaky_relu′(0) = 0.01, elu′(0) = 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from manual_bp import activations as _act
from manual_bp.layers import _validate as v

Array = np.ndarray

# σ(x) and σ′(x) of each name, for the docstrings (the contract's table).
FORMULAS: dict[str, tuple[str, str]] = {
    "identity": ("x", "1"),
    "sigmoid": ("1/(1 + e^{−x})", "σ(x)(1 − σ(x))"),
    "tanh": ("tanh x", "1 − tanh² x"),
    "relu": ("max(x, 0)", "1[x > 0]; relu′(0) = 0"),
    "leaky_relu": ("x if x > 0 else 0.01 x", "1 if x > 0 else 0.01; leaky_relu′(0) = 0.01"),
    "elu": ("x if x > 0 else e^x − 1", "1 if x > 0 else e^x; elu′(0) = 1"),
    "softplus": ("log(1 + e^x), exact", "sigmoid(x)"),
    "gelu": ("x Φ(x), Φ the normal CDF (erf form)", "Φ(x) + x φ(x)"),
    "gelu_tanh": ("½ x (1 + tanh(√(2/π)(x + 0.044715 x³)))", "its derivative"),
    "silu": ("x sigmoid(x)", "s(1 + x(1 − s)), s = sigmoid(x)"),
    "softmax": ("e^{x_i} / Σ_j e^{x_j} over the last axis", "dx = s ⊙ (dout − ⟨dout, s⟩) per row"),
}


class ActivationCache(NamedTuple):
    name: str
    x: Array
    out: Array


Forward = Callable[[Array], tuple[Array, ActivationCache]]
Backward = Callable[[Array, ActivationCache], Array]


def _pair(name: str) -> tuple[Forward, Backward]:
    """NAME_forward and NAME_backward for the activation ``name`` of manual_bp.activations."""
    act = _act.get(name)
    value, slope = FORMULAS[name]

    def forward(x: Array) -> tuple[Array, ActivationCache]:
        x = v.array("x", x, min_ndim=1, dims="(N, ...)")
        out = act.value(x)  # a = σ(x)
        return out, ActivationCache(name, x, out)

    def backward(dout: Array, cache: ActivationCache) -> Array:
        cache = v.cache(cache, ActivationCache, f"{name}_forward")
        if cache.name != name:
            raise ValueError(f"cache comes from {cache.name}_forward, not {name}_forward")
        dout = v.dout(dout, cache.x.shape, cache.x.dtype)
        return act.vjp(cache.x, cache.out, dout)  # δ = dout ⊙ σ′(x)  (softmax: s ⊙ (dout − ⟨dout, s⟩))

    forward.__name__ = forward.__qualname__ = f"{name}_forward"
    backward.__name__ = backward.__qualname__ = f"{name}_backward"
    forward.__doc__ = (f"out = {name}(x) = {value}; x of any shape (N, …), float32 or float64.\n\n"
                       f"Returns (out, cache), out of x's shape and dtype.")
    backward.__doc__ = (f"dx = dout ⊙ σ′(x) with σ′(x) = {slope}; dout of out's shape and dtype.\n\n"
                        f"Returns dx of x's shape and dtype.")
    if name == "softmax":
        backward.__doc__ = (f"{slope}, s = softmax(x): the Jacobian-vector product, never elementwise.\n\n"
                            "Returns dx of x's shape and dtype.")
    forward.__module__ = backward.__module__ = __name__
    return forward, backward


identity_forward, identity_backward = _pair("identity")
sigmoid_forward, sigmoid_backward = _pair("sigmoid")
tanh_forward, tanh_backward = _pair("tanh")
relu_forward, relu_backward = _pair("relu")
leaky_relu_forward, leaky_relu_backward = _pair("leaky_relu")
elu_forward, elu_backward = _pair("elu")
softplus_forward, softplus_backward = _pair("softplus")
gelu_forward, gelu_backward = _pair("gelu")
gelu_tanh_forward, gelu_tanh_backward = _pair("gelu_tanh")
silu_forward, silu_backward = _pair("silu")
softmax_forward, softmax_backward = _pair("softmax")
