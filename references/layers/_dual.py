"""Forward-mode differentiation by dual numbers with many tangents at once, and the few operations the
layer definitions need, written once for plain arrays and for duals.

A ``Dual`` carries a value v (shape S) and P tangents t (shape (P,) + S): the directional derivatives
of v along P input directions. Each operation applies its own derivative rule to the tangents:

    (a ± b)˙ = ȧ ± ḃ,   (a b)˙ = ȧ b + a ḃ,   (a / b)˙ = (ȧ − (a/b) ḃ) / b,   f(a)˙ = f′(a) ȧ,
    L(a)˙ = L(ȧ) for a linear map L (sums, means, reshapes, gathers, padding),
    B(a, b)˙ = B(ȧ, b) + B(a, ḃ) for a bilinear map B (matrix products, convolutions).

No backward pass anywhere: seeding P unit directions of one input gives P columns of the Jacobian,
and ⟨dout, J e_k⟩ is the gradient's k-th entry (``references.layers.ground_truth``).

Every operation works on trailing axes (negative axis numbers, ``...`` in einsum specs), so the same
definition serves a plain long-double array with leading stack axes (``finite_diff`` evaluates many
perturbed inputs in one call) and a dual, whose tangents add one leading axis. A plain array is a
constant: its tangent is zero and never stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Array = np.ndarray
Value = Any  # Array | Dual


class Dual:
    """A value and its P tangents: v (S), t (P,) + S."""

    __slots__ = ("t", "v")
    __array_ufunc__ = None  # `array op dual` defers to Dual's reflected operators

    def __init__(self, v: Array, t: Array) -> None:
        self.v, self.t = v, t

    def __add__(self, other: Value) -> Dual:
        return add(self, other)

    __radd__ = __add__

    def __sub__(self, other: Value) -> Dual:
        return add(self, neg(other))

    def __rsub__(self, other: Value) -> Dual:
        return add(neg(self), other)

    def __mul__(self, other: Value) -> Dual:
        return mul(self, other)

    __rmul__ = __mul__

    def __truediv__(self, other: Value) -> Value:
        return div(self, other)

    def __rtruediv__(self, other: Value) -> Value:
        return div(other, self)

    def __neg__(self) -> Dual:
        return neg(self)

    def __getitem__(self, index: tuple[Any, ...]) -> Dual:
        """Indexing of trailing axes only: the index must start with ``...``."""
        if not (isinstance(index, tuple) and index and index[0] is Ellipsis):
            raise IndexError(f"a Dual is indexed on trailing axes, with an index starting with '...', got {index!r}")
        return linear(lambda a: a[index], self)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.v.shape)


def value(a: Value) -> Array:
    return a.v if isinstance(a, Dual) else a


def _tangent(a: Value, ndim: int) -> Array | None:
    """a's tangents with the value part widened to ``ndim`` axes (for broadcasting), or None."""
    if not isinstance(a, Dual):
        return None
    extra = ndim - a.v.ndim
    return a.t.reshape((a.t.shape[0],) + (1,) * extra + a.v.shape) if extra > 0 else a.t


def _combine(v: Array, *parts: Array | None) -> Value:
    present = [p for p in parts if p is not None]
    if not present:
        return v
    t = present[0]
    for p in present[1:]:
        t = t + p
    return Dual(v, np.broadcast_to(t, (t.shape[0],) + v.shape))


def add(a: Value, b: Value) -> Value:
    v = value(a) + value(b)
    return _combine(v, _tangent(a, v.ndim), _tangent(b, v.ndim))


def neg(a: Value) -> Value:
    return Dual(-a.v, -a.t) if isinstance(a, Dual) else -a


def mul(a: Value, b: Value) -> Value:
    va, vb = value(a), value(b)
    v = va * vb
    ta, tb = _tangent(a, v.ndim), _tangent(b, v.ndim)
    return _combine(v, None if ta is None else ta * vb, None if tb is None else va * tb)


def div(a: Value, b: Value) -> Value:
    va, vb = value(a), value(b)
    v = va / vb
    ta, tb = _tangent(a, v.ndim), _tangent(b, v.ndim)
    return _combine(v, None if ta is None else ta / vb, None if tb is None else -v * tb / vb)


def linear(fn: Callable[[Array], Array], a: Value) -> Value:
    """A linear map acting on trailing axes: L(v), L(t)."""
    return Dual(fn(a.v), fn(a.t)) if isinstance(a, Dual) else fn(a)


def bilinear(fn: Callable[[Array, Array], Array], a: Value, b: Value) -> Value:
    """A bilinear map on trailing axes (matrix products, convolutions): B(a, b), B(ȧ, b) + B(a, ḃ)."""
    va, vb = value(a), value(b)
    v = fn(va, vb)
    return _combine(v, fn(a.t, vb) if isinstance(a, Dual) else None, fn(va, b.t) if isinstance(b, Dual) else None)


def elementwise(f: Callable[[Array], Array], fprime: Callable[[Array, Array], Array], a: Value) -> Value:
    """f(a), with tangent f′(a) ȧ; ``fprime(v, f(v))`` gives f′."""
    if not isinstance(a, Dual):
        return f(a)
    v = f(a.v)
    return Dual(v, fprime(a.v, v) * a.t)


def total(a: Value, axis: int, keepdims: bool = False) -> Value:
    """Σ over one trailing axis (``axis`` < 0)."""
    return linear(lambda t: np.sum(t, axis=axis, keepdims=keepdims), a)


def mean(a: Value, axis: int, keepdims: bool = False) -> Value:
    n = value(a).shape[axis]
    return linear(lambda t: np.sum(t, axis=axis, keepdims=keepdims) / n, a)


def sqrt(a: Value) -> Value:
    return elementwise(np.sqrt, lambda v, r: 1 / (2 * r), a)


def exp(a: Value) -> Value:
    return elementwise(np.exp, lambda v, e: e, a)


def log(a: Value) -> Value:
    return elementwise(np.log, lambda v, r: 1 / v, a)


def select(mask: Array, a: Value, other: Any = 0) -> Value:
    """where(mask, a, other) with a constant mask and constant ``other``: a piece of a piecewise function."""
    return linear(lambda t: np.where(mask, t, 0), a) + np.where(mask, 0, other) if isinstance(a, Dual) \
        else np.where(mask, a, other)


def inner(dout: Array, a: Value) -> Value:
    """⟨dout, a⟩ over dout's axes (the trailing ones of a): shape of a's leading axes."""
    axes = tuple(range(-dout.ndim, 0))
    return linear(lambda t: np.sum(dout * t, axis=axes) if axes else dout * t, a)
