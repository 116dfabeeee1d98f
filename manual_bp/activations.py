"""The 11 activations of the contract, each value σ(z) beside its derivative σ′(z).

Forward and backward for every activation sit together, one short block each, so a reader can put
the seed's equations beside the code:

    a⁽ˡ⁾ = σ(z⁽ˡ⁾)                              (forward)
    δ⁽ˡ⁾ = ∂J/∂a⁽ˡ⁾ ⊙ σ′(z⁽ˡ⁾)                  (backward, elementwise activations)
    δ⁽ˡ⁾ = s ⊙ (g − ⟨g, s⟩)   per row           (backward, softmax: its Jacobian-vector product)

Conventions at kinks are PyTorch's: relu′(0) = 0, leaky_relu′(0) = 0.01, elu′(0) = 1.

Every formula is written so that no intermediate overflows for any finite z of the array's dtype
(float32 or float64): exponentials only ever see −|z|, and polynomial terms that could overflow are
evaluated on a clipped copy of z where the clipping cannot change the result. Two overflows are
deliberate and silenced where they happen: cosh 2z in tanh′ = 2/(cosh 2z + 1) overflows to inf only
where tanh′ is below the smallest normal number, and 2/inf = 0 is right there (``_twice_cosh2``);
softmax's z − max z may round to −inf, and e^{−inf} = 0 is right.

Each backward rule comes in the form the backward pass uses, ``delta(z, a, g)``, which may compute δ in
the memory of z and g: the network's backward pass never needs z⁽ˡ⁾ or ∂J/∂a⁽ˡ⁾ again once δ⁽ˡ⁾ is
known, so identity, tanh, relu and softmax allocate no (B, n) array for δ. ``Activation.vjp`` is
the same rule on copies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from manual_bp._special import erfc

Array = np.ndarray

LEAKY_SLOPE = 0.01
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_C = 0.044715
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class Activation(NamedTuple):
    """σ beside its backward rule, for a batch (B, n).

    ``delta(z, a, g)``, given z and a = σ(z) from the forward pass and g = ∂J/∂a, returns
    δ = (∂a/∂z)ᵀ g, possibly in the memory of z or g (which it may overwrite); ``vjp(z, a, g)`` (the
    vector-Jacobian product) returns the same δ and leaves its arguments alone. "backward" is kept for
    whole passes (``manual_bp.backward``) and for the layers' CS231n functions (``NAME_backward``).
    """

    name: str
    value: Callable[[Array], Array]
    delta: Callable[[Array, Array, Array], Array]
    derivative: Callable[[Array], Array] | None  # σ′(z) elementwise; None for softmax

    def vjp(self, z: Array, a: Array, g: Array) -> Array:
        """δ = (∂a/∂z)ᵀ g, as ``delta`` computes it, on copies of z and g."""
        return self.delta(z.copy(), a, g.copy())


def _elementwise(
    name: str,
    value: Callable[[Array], Array],
    derivative: Callable[[Array], Array],
    delta: Callable[[Array, Array, Array], Array] | None = None,
) -> Activation:
    """An elementwise σ; ``delta`` defaults to g ⊙ σ′(z), or is a faster rule with the same result."""

    def default_delta(z: Array, a: Array, g: Array) -> Array:
        d = derivative(z)
        d *= g  # δ = ∂J/∂a ⊙ σ′(z), in place on σ′'s fresh array
        return d

    return Activation(name, value, delta or default_delta, derivative)


def _sigmoid(z: Array) -> Array:
    # 1/(1+e^{−z}) for z ≥ 0 and e^{z}/(1+e^{z}) for z < 0: e = e^{−|z|} never overflows.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


# Small ufunc calls cost twice as much with a Python scalar operand as with an array (0.9 against
# 0.5 µs on 4 entries): constants on the hot path are 0-d arrays, and 2x is written x + x.
_ONE = {np.dtype(t): np.ones((), t) for t in (np.float32, np.float64)}
for _one in _ONE.values():
    _one.flags.writeable = False


@np.errstate(over="ignore")  # as a decorator: half the cost of a with-block on every call
def _twice_cosh2(u: Array, out: Array | None = None) -> Array:
    """2cosh²(u) = cosh(2u) + 1, inf where cosh(2u) overflows (|u| > 355 in float64, 44 in float32)."""
    # There 2/(cosh 2u + 1) = sech²(u) is below the smallest normal number, so inf is the right
    # denominator (it gives 0): the overflow is the answer, and only here is it silenced.
    c = np.add(u, u, out=out)  # 2u
    np.cosh(c, out=c)
    c += _ONE.get(c.dtype, 1)
    return c


def _sech2(u: Array) -> Array:
    # sech²(u) = 1 − tanh²(u) = 2/(cosh 2u + 1): no cancellation, and one cosh instead of a square of
    # one, so within 1.1 (float64) / 2.0 (float32) eps of the truth (e^{−2|u|} forms: 2.3 / 2.9 eps).
    # (1 − a² from a = tanh(u) would lose all relative accuracy where tanh(u) rounds to ±1.)
    c = _twice_cosh2(u)
    return np.divide(2, c, out=c)


# identity: σ(z) = z, σ′(z) = 1
def _identity(z: Array) -> Array:
    return z.copy()


def _identity_prime(z: Array) -> Array:
    return np.ones_like(z)


def _identity_delta(z: Array, a: Array, g: Array) -> Array:
    return g  # δ = g ⊙ 1 = g itself


# sigmoid: σ′ = σ(1 − σ), with 1 − σ(z) = σ(−z) to avoid cancellation
def _sigmoid_prime(z: Array) -> Array:
    return _sigmoid(z) * _sigmoid(-z)


def _sigmoid_delta(z: Array, a: Array, g: Array) -> Array:
    d = _sigmoid(np.negative(z, out=z))
    d *= a  # σ′(z) = σ(z) σ(−z), reusing a = σ(z) from the forward pass (one σ fewer)
    d *= g  # δ = ∂J/∂a ⊙ σ′(z)
    return d


# tanh: σ′ = 1 − tanh² = 1/cosh² = 2/(cosh 2z + 1)
def _tanh(z: Array) -> Array:
    return np.tanh(z)


def _tanh_delta(z: Array, a: Array, g: Array) -> Array:
    g /= _twice_cosh2(z, out=z)  # in z's and g's memory: 5 passes, no (B, n) array allocated
    g += g                       # δ = ∂J/∂a ⊙ σ′(z) = 2g/(cosh 2z + 1) = g/cosh²(z)
    return g


# relu: max(z, 0); σ′ = 1[z > 0], so relu′(0) = 0
def _relu(z: Array) -> Array:
    return np.where(z > 0, z, np.zeros_like(z))


def _relu_prime(z: Array) -> Array:
    return (z > 0).astype(z.dtype)


def _relu_delta(z: Array, a: Array, g: Array) -> Array:
    g *= z > 0  # δ = g ⊙ 1[z > 0], in g's memory (0 · g keeps g's sign, as σ′(z) · g does)
    return g


# leaky_relu: z if z > 0 else 0.01 z; σ′(0) = 0.01
def _leaky(z: Array) -> Array:
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def _leaky_prime(z: Array) -> Array:
    return np.where(z > 0, np.ones_like(z), np.full_like(z, LEAKY_SLOPE))


# elu (α = 1): z if z > 0 else e^z − 1; σ′ = 1 if z > 0 else e^z, so elu′(0) = 1
def _elu(z: Array) -> Array:
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))


def _elu_prime(z: Array) -> Array:
    return np.where(z > 0, np.ones_like(z), np.exp(np.minimum(z, 0)))


# softplus: log(1 + e^z) = max(z, 0) + log1p(e^{−|z|}), exact everywhere; σ′ = sigmoid(z)
def _softplus(z: Array) -> Array:
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


# gelu (erf form): z Φ(z), Φ(z) = ½ erfc(−z/√2); σ′ = Φ(z) + z φ(z)
_erfc_scalar = np.frompyfunc(math.erfc, 1, 1)
_VECTOR_ERFC_MIN_SIZE = 1024


def _Phi(z: Array) -> Array:
    # NumPy has no erf; erfc is evaluated in float64. math.erfc per element costs ~0.1 µs each;
    # the vectorised erfc (W. J. Cody's, manual_bp/_special.py, within a few ulps of math.erfc) costs
    # 2.4× less per element but ~0.1 ms of fixed cost, so it takes over from 1024 elements on.
    u = -_INV_SQRT_2 * z.astype(np.float64)
    e = erfc(u) if u.size >= _VECTOR_ERFC_MIN_SIZE else np.asarray(_erfc_scalar(u), dtype=np.float64)
    return (0.5 * e).astype(z.dtype)


def _phi(z: Array) -> Array:
    zc = np.clip(z, -40, 40)  # φ(±40) underflows to 0 in float64: clipping changes nothing
    return _INV_SQRT_2PI * np.exp(-0.5 * zc * zc)


def _gelu(z: Array) -> Array:
    return z * _Phi(z)


def _gelu_prime(z: Array) -> Array:
    return _Phi(z) + np.clip(z, -40, 40) * _phi(z)


# gelu_tanh: ½ z (1 + tanh(u)), u = √(2/π)(z + 0.044715 z³)
# σ′ = ½(1 + tanh u) + ½ z sech²(u) √(2/π)(1 + 3·0.044715 z²)
def _gelu_tanh_u(z: Array) -> Array:
    zc = np.clip(z, -100, 100)  # tanh(u) is exactly ±1 long before |z| = 100
    return _SQRT_2_OVER_PI * (zc + _GELU_TANH_C * zc * zc * zc)


def _gelu_tanh(z: Array) -> Array:
    return 0.5 * z * (1 + np.tanh(_gelu_tanh_u(z)))


def _gelu_tanh_prime(z: Array) -> Array:
    u = _gelu_tanh_u(z)
    zc = np.clip(z, -100, 100)  # sech²(u) is exactly 0 beyond, so the second term is 0 there
    du = _SQRT_2_OVER_PI * (1 + 3 * _GELU_TANH_C * zc * zc)
    return 0.5 * (1 + np.tanh(u)) + 0.5 * zc * _sech2(u) * du


# silu: z sigmoid(z); σ′ = s (1 + z (1 − s)), with 1 − s = sigmoid(−z)
def _silu(z: Array) -> Array:
    return z * _sigmoid(z)


def _silu_prime(z: Array) -> Array:
    s = _sigmoid(z)
    return s + z * s * _sigmoid(-z)


# softmax: s_i = e^{z_i − max z} / Σ_j e^{z_j − max z} per row;
# backward is the Jacobian-vector product (diag(s) − s sᵀ) g = s ⊙ (g − ⟨g, s⟩), never elementwise.
def _softmax(z: Array) -> Array:
    with np.errstate(over="ignore"):  # z − max z can round to −inf across the whole range; e^{−inf} = 0 is right
        e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_delta(z: Array, a: Array, g: Array) -> Array:
    g -= (g * a).sum(axis=-1, keepdims=True)  # g − ⟨g, s⟩, per row, in g's memory
    g *= a                                    # δ = s ⊙ (g − ⟨g, s⟩)
    return g


ACTIVATIONS: dict[str, Activation] = {
    act.name: act
    for act in (
        _elementwise("identity", _identity, _identity_prime, _identity_delta),
        _elementwise("sigmoid", _sigmoid, _sigmoid_prime, _sigmoid_delta),
        _elementwise("tanh", _tanh, _sech2, _tanh_delta),
        _elementwise("relu", _relu, _relu_prime, _relu_delta),
        _elementwise("leaky_relu", _leaky, _leaky_prime),
        _elementwise("elu", _elu, _elu_prime),
        _elementwise("softplus", _softplus, _sigmoid),
        _elementwise("gelu", _gelu, _gelu_prime),
        _elementwise("gelu_tanh", _gelu_tanh, _gelu_tanh_prime),
        _elementwise("silu", _silu, _silu_prime),
        Activation("softmax", _softmax, _softmax_delta, None),
    )
}

ACTIVATION_NAMES: tuple[str, ...] = tuple(ACTIVATIONS)


def get(name: str) -> Activation:
    """The activation called ``name``; a ``ValueError`` listing the valid names otherwise."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {name!r}; expected one of {', '.join(ACTIVATION_NAMES)}"
        ) from None


def value(name: str, z: Array) -> Array:
    """a = σ(z) for the activation ``name``, applied to a batch (B, n) or any array (softmax: last axis)."""
    return get(name).value(z)


def derivative(name: str, z: Array) -> Array:
    """σ′(z) elementwise. Softmax has no elementwise derivative: use its Jacobian instead."""
    act = get(name)
    if act.derivative is None:
        raise ValueError(
            f"activation {name!r} is not elementwise: its derivative is the Jacobian "
            "diag(s) − s sᵀ (manual_bp.jacobians.softmax_jacobian)"
        )
    return act.derivative(z)
