"""Float64 activations for the tolerance model's own pass, written apart from ``manual_bp``.

Each entry gives σ(z), σ′(z), and the *magnitude scales* of the intermediates that a correct
implementation may round, for value and derivative: a correct formula computing σ(z) in a dtype of
unit roundoff u is off by at most a few u·M(z) (plus the propagated error of z), and σ′(z) by a few
u·M′(z). The scales are those of the plainest correct formulas, not only of the most careful ones:
s(1 − s) for the sigmoid's derivative (absolute error ≈ u·s), 1 − tanh² (≈ u), ½(1 + erf(z/√2)) for
Φ (≈ u where Φ ≈ 0), log(1 + eᶻ) for softplus (≈ u), so that none of them false-alarms.

The scales are in units of C_ELEM·u (bpcheck.tolerance: two roundings), which covers an elementary
function within about an ulp (NumPy's, glibc's). A framework's tanh and erf are not: XLA's float64 tanh
is off by up to 12u (docs/tolerance.md, "A framework's elementary functions are a few ulps off"), its
derivative 1 − tanh² by up to 14.6u absolute where tanh saturates (z near ±18), where the scale
1 + |σ′| allowed 8u: a tanh network computed by jax failed a check on a 1030-wide layer whose units all
saturated (1.98× the tolerance), and torch's float32 gelu reached 0.62 of its allowance (erf, 3.5
ulps). So the steps through tanh (tanh, gelu_tanh) and erf (gelu) carry ``_ELEMENTARY`` times their
magnitude, the layer model's 16u: measured after the change, every activation of torch and jax, in
both dtypes, stays within 0.25 of its allowance (``python scripts/elementwise_accuracy.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

Array = np.ndarray
_K = math.sqrt(2.0 / math.pi)
_C = 0.044715
_erfc = np.frompyfunc(math.erfc, 1, 1)
_ELEMENTARY = 8.0  # a framework's tanh or erf: 16u (XLA's tanh measured at 12u), in units of C_ELEM·u = 2u
# the activations whose scales already carry a framework's elementary error (the layer model, which tops
# every transcendental step up to its own ELEMENTARY, leaves them as they are)
FRAMEWORK_SCALED = frozenset({"tanh", "gelu", "gelu_tanh"})


def sigmoid(z: Array) -> Array:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sech2(u: Array) -> Array:
    e = np.exp(-2.0 * np.abs(u))
    return 4.0 * e / ((1.0 + e) ** 2)


def Phi(z: Array) -> Array:
    return 0.5 * _erfc(-z / math.sqrt(2.0)).astype(np.float64)


def phi(z: Array) -> Array:
    zc = np.clip(z, -40.0, 40.0)
    return np.exp(-0.5 * zc * zc) / math.sqrt(2.0 * math.pi)


def _gt_u(z: Array) -> Array:
    zc = np.clip(z, -100.0, 100.0)
    return _K * (zc + _C * zc**3)


class Elementwise(NamedTuple):
    f: Callable[[Array], Array]
    fp: Callable[[Array], Array]
    M: Callable[[Array, Array], Array]    # scale of the value's rounding, given z and a = f(z)
    Mp: Callable[[Array, Array], Array]   # scale of the derivative's rounding, given z and f′(z)


def _gelu_tanh_p(z: Array) -> Array:
    u, zc = _gt_u(z), np.clip(z, -100.0, 100.0)
    return 0.5 * (1.0 + np.tanh(u)) + 0.5 * zc * sech2(u) * _K * (1.0 + 3.0 * _C * zc * zc)


def _gelu_tanh_M(z: Array, a: Array) -> Array:
    # ½z(1 + tanh u): the cancellation in 1 + tanh u, where tanh's own error (_ELEMENTARY) is absolute, times
    # ½|z|; and tanh's argument rounded (u·|u|)
    u, zc = _gt_u(z), np.clip(z, -100.0, 100.0)
    return (1.0 + 0.5 * _ELEMENTARY) * np.abs(z) + np.abs(a) + 0.5 * np.abs(zc) * sech2(u) * np.abs(u)


def _gelu_tanh_Mp(z: Array, d: Array) -> Array:
    # ½(1 + tanh u) + ½ z (1 − tanh² u) u′: tanh's error (½_ELEMENTARY in the first term), doubled through
    # 1 − tanh² (an absolute error, not relative to sech²), which the factor ½|z|u′ amplifies; tanh's
    # rounded argument adds u·|u| times the slope of sech²
    u, zc = _gt_u(z), np.clip(z, -100.0, 100.0)
    du = _K * (1.0 + 3.0 * _C * zc * zc)
    t = np.tanh(u)
    slope = 1.0 + _ELEMENTARY * t * t + sech2(u) * (1.0 + np.abs(u))
    return 1.0 + 0.5 * _ELEMENTARY + np.abs(d) + np.abs(zc) * du * slope


def _zeros(z: Array, a: Array) -> Array:
    return np.zeros_like(z)


ELEMENTWISE: dict[str, Elementwise] = {
    "identity": Elementwise(lambda z: z.copy(), np.ones_like, _zeros, _zeros),
    # σ = ½(1 + tanh(z/2)) and σ′ = a(1 − a) are correct formulas with an absolute error ≈ u, not u·σ
    "sigmoid": Elementwise(sigmoid, lambda z: sigmoid(z) * sigmoid(-z),
                           lambda z, a: 1.0 + np.abs(a), lambda z, d: 1.0 + np.abs(d)),
    # tanh's own error _ELEMENTARY·|a|, doubled through 1 − tanh² (absolute: not relative to sech²)
    "tanh": Elementwise(np.tanh, sech2, lambda z, a: _ELEMENTARY * np.abs(a),
                        lambda z, d: 1.0 + np.abs(d) + 2.0 * _ELEMENTARY * np.tanh(z) ** 2),
    "relu": Elementwise(lambda z: np.where(z > 0, z, 0.0), lambda z: (z > 0).astype(np.float64),
                        _zeros, _zeros),
    "leaky_relu": Elementwise(lambda z: np.where(z > 0, z, 0.01 * z),
                              lambda z: np.where(z > 0, 1.0, 0.01),
                              lambda z, a: np.abs(a), lambda z, d: np.abs(d)),
    "elu": Elementwise(lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
                       lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0))),
                       lambda z, a: np.abs(a) + (z <= 0), lambda z, d: np.abs(d) + (z <= 0)),
    "softplus": Elementwise(lambda z: np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))), sigmoid,
                            lambda z, a: np.abs(a) + 1.0, lambda z, d: 1.0 + np.abs(d)),
    # Φ = ½(1 + erf(z/√2)): erf's own error is absolute, ½_ELEMENTARY in Φ, times |z| in the value
    "gelu": Elementwise(lambda z: z * Phi(z), lambda z: Phi(z) + np.clip(z, -40, 40) * phi(z),
                        lambda z, a: (1.0 + 0.5 * _ELEMENTARY) * np.abs(z) + np.abs(a),
                        lambda z, d: 1.0 + 0.5 * _ELEMENTARY + np.abs(d)),
    "gelu_tanh": Elementwise(lambda z: 0.5 * z * (1.0 + np.tanh(_gt_u(z))), _gelu_tanh_p,
                             _gelu_tanh_M, _gelu_tanh_Mp),
    "silu": Elementwise(lambda z: z * sigmoid(z), lambda z: sigmoid(z) * (1.0 + z * sigmoid(-z)),
                        lambda z, a: np.abs(a) + np.abs(z),
                        lambda z, d: 1.0 + np.abs(z) + np.abs(d)),
}


def softmax(z: Array) -> Array:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z: Array) -> Array:
    s = z - z.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))
