"""The rules shared by every layer's bound (docs/tolerance.md, "Layers"), in one place.

A quantity q computed in a dtype of unit roundoff u carries an elementwise bound e(q) ≥ 0 on its
distance from the exact value; inputs are exact (the truth runs on the very same values, widened).

* A dot product of n terms (n products and their sum) adds u·√(n+1)·Σ|terms| (the random-walk rule of
  bpcheck.tolerance); a plain sum of n exact terms adds the same for n ≥ 2 and nothing for n = 1 (one
  term is not rounded).
* Underflow: frameworks may flush subnormal results to zero, so each rounded step may lose up to the
  dtype's smallest normal ``tiny`` in absolute terms: n·tiny for n terms.
* An elementwise function other than +, −, ×, ÷ (exp, log, tanh, erf, the sigmoid, √) is accurate to
  a few ulps in the frameworks, not to ½ ulp: measured against mpmath on this project's CPU, XLA's
  float64 tanh is off by up to 6 ulps (12u; its derivative 1 − tanh² by 14u), its float32 tanh, expm1
  and erf by 3–3.7 ulps, the sigmoid by 2 ulps in both frameworks. Such a step adds ELEMENTARY·u times
  the magnitude of its result (bpcheck.tolerance's elementwise steps carry C_ELEM = 2; the layer
  model tops them up to ELEMENTARY).
* Exactness: where every term is exactly zero the result is exact (bound 0, the propagated parts are
  zero too); and where every factor is a multiple of 2⁻⁸ (``DYADIC_BITS``) and Σ|terms| < 2^(p−17)
  (p: the dtype's significand bits), every product and partial sum is representable, so the result is
  exact in any order of summation.
"""

from __future__ import annotations

import math

import numpy as np

from bpcheck.tolerance import C_ELEM, SAFETY, compare_arrays, tolerance, unit_roundoff

Array = np.ndarray
DYADIC_BITS = 8
ELEMENTARY = 16.0  # in units of u: a transcendental step of a framework (XLA's tanh: 12u, 1 − tanh²: 14u)

__all__ = ["C_ELEM", "ELEMENTARY", "SAFETY", "compare_arrays", "dot", "dyadic", "exact_limit", "plain_sum", "tolerance",
           "unit_roundoff", "zero_where_exact"]


def dot(n: int, u: float) -> float:
    """The rounding factor of a dot product of n terms: u·√(n+1)."""
    return u * math.sqrt(n + 1)


def plain_sum(n: int, u: float) -> float:
    """The rounding factor of a sum of n exact terms: 0 for a single term, else u·√(n+1)."""
    return 0.0 if n <= 1 else u * math.sqrt(n + 1)


def dyadic(*arrays: Array) -> bool:
    """Whether every value is a multiple of 2⁻⁸ (so sums of products of them may be exact)."""
    scale = 2.0**DYADIC_BITS
    return all(bool(np.all(a * scale == np.round(a * scale))) for a in arrays)


def exact_limit(u: float) -> float:
    """Σ|terms| below this keeps sums of products of multiples of 2⁻⁸ exact: 2^(p − 17)."""
    p = -math.log2(u) + 1
    return 2.0 ** (p - 2 * DYADIC_BITS - 1)


def zero_where_exact(bound: Array, terms: Array, u: float, exact_inputs: bool) -> Array:
    """The bound, set to 0 where every term is zero, or where the dyadic rule makes the sum exact."""
    exact = terms == 0
    if exact_inputs:
        exact = exact | (terms < exact_limit(u))
    return np.where(exact, 0.0, bound)
