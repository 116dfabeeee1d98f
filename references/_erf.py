"""The error function in long double, for the extended-precision references.

SciPy's ``erf`` rejects ``np.longdouble`` and SciPy is not a dependency, so this module computes

    erf(x)  = (2/√π) ∫₀ˣ e^{−t²} dt,        erfc(x) = 1 − erf(x),
    Φ(z)    = ½ erfc(−z/√2)                 (the standard normal CDF, used by ``gelu``),
    φ(z)    = e^{−z²/2} / √(2π)             (its density),

accurate to a few units of long-double roundoff (eps ≈ 1.1e-19) in relative terms for erf on
the whole line and for erfc wherever erfc is representable. Two classical expansions:

* |x| < 1.5: the series with positive terms (no cancellation, unlike the alternating Taylor one)

      erf(x) = (2/√π) e^{−x²} Σₙ 2ⁿ x^{2n+1} / (1·3·5···(2n+1)),

* x ≥ 1.5: Laplace's continued fraction, evaluated backwards from a fixed depth,

      erfc(x) = (e^{−x²}/√π) · 1/(x + (1/2)/(x + (2/2)/(x + (3/2)/(x + ···)))).

e^{−x²} is evaluated with x² split exactly into hi + lo (Dekker), so its relative error does not
grow like x²·eps. Tested against mpmath in ``tests/test_references.py``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

LD = np.longdouble
Array = NDArray[np.longdouble]

SQRT_PI = LD("1.7724538509055160272981674833411451828")
SQRT_2 = LD("1.4142135623730950488016887242096980786")
SQRT_2PI = LD("2.5066282746310005024157652848110452530")
_SPLIT = LD(2**32 + 1)  # Dekker's splitter for a 64-bit significand
_CF_FROM = LD("1.5")


def _exp_minus_square(x: Array, scale: int = 1) -> Array:
    """e^{−x²/scale} (scale a power of two), with x² = hi + lo split exactly (Dekker), so that
    only exp's own rounding remains."""
    c = x * _SPLIT
    xh = c - (c - x)
    xl = x - xh
    hi = x * x
    lo = ((xh * xh - hi) + 2 * xh * xl) + xl * xl
    return np.exp(-hi / scale) * (1 - lo / scale)


def _erf_series(x: Array) -> Array:
    """erf(x) for |x| < 1.5 by the positive-term series (about 30 terms at 1.5)."""
    x2 = 2 * x * x
    term = x.copy()
    total = x.copy()
    n = 0
    while n < 200:
        n += 1
        term = term * x2 / LD(2 * n + 1)
        total = total + term
        if np.all(np.abs(term) <= 1e-21 * np.abs(total)):
            break
    return 2 / SQRT_PI * _exp_minus_square(x) * total


def _erfc_fraction(x: Array) -> Array:
    """erfc(x) for x ≥ 1.5 by the continued fraction; the depth needed shrinks as x grows."""
    depth = 160 if x.size and float(np.min(x)) < 3 else 60
    f = x.copy()
    for k in range(depth, 0, -1):
        f = x + LD(k) / 2 / f
    return _exp_minus_square(x) / SQRT_PI / f


def erf(x: NDArray[np.floating] | float) -> Array:
    """erf(x) in long double, elementwise; odd, with erf(±∞) = ±1."""
    x = np.asarray(x, dtype=LD)
    ax = np.abs(x)
    out = np.empty_like(ax)
    small = ax < _CF_FROM
    out[small] = _erf_series(ax[small])
    out[~small] = 1 - _erfc_fraction(ax[~small])
    return np.copysign(out, x)


def erfc(x: NDArray[np.floating] | float) -> Array:
    """erfc(x) = 1 − erf(x) in long double, elementwise, relatively accurate in the right tail."""
    x = np.asarray(x, dtype=LD)
    out = np.empty_like(x)
    tail = x >= _CF_FROM
    out[tail] = _erfc_fraction(x[tail])
    out[~tail] = 1 - erf(x[~tail])
    return out


def normal_cdf(z: NDArray[np.floating]) -> Array:
    """Φ(z) = ½ erfc(−z/√2), relatively accurate in both tails' representable range."""
    return erfc(-np.asarray(z, dtype=LD) / SQRT_2) / 2


def normal_pdf(z: NDArray[np.floating]) -> Array:
    """φ(z) = e^{−z²/2} / √(2π)."""
    return _exp_minus_square(np.asarray(z, dtype=LD), scale=2) / SQRT_2PI
