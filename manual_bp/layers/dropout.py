"""Inverted dropout with a keep probability p.

    forward (train):  out = x ⊙ m / p,   m_k ∈ {0, 1} with P(m_k = 1) = p   (the mask)
    backward (train): dx = dout ⊙ m / p
    test mode:        out = x, dx = dout

so E[out] = x and nothing needs rescaling at test time. p is the KEEP probability (CS231n's
convention; torch's ``F.dropout`` takes the drop probability 1 − p). ``dropout_forward`` draws the
mask from ``np.random.default_rng(dropout_param["seed"])``; ``dropout_forward_masked`` takes it
explicitly (a pure function: the checker recovers a candidate's mask from its output, m = out ≠ 0
where x ≠ 0, and calls this).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from manual_bp.layers import _validate as v

Array = np.ndarray


class DropoutCache(NamedTuple):
    mask: Array | None   # m (bool, x's shape); None in test mode
    p: float
    dtype: np.dtype


def _keep(where: str, params: Mapping[str, Any]) -> float:
    return v.real(where, params, "p", low=0.0, high=1.0, low_open=True)


def dropout_forward_masked(x: Array, mask: Array, p: float) -> tuple[Array, DropoutCache]:
    """out = x ⊙ m / p for the given mask m (bool, x's shape) and keep probability p ∈ (0, 1]."""
    x = v.array("x", x, min_ndim=1)
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        raise TypeError(f"mask must be a bool numpy.ndarray, got {getattr(mask, 'dtype', type(mask).__name__)}")
    if mask.shape != x.shape:
        raise ValueError(f"mask must have x's shape {x.shape}, got {mask.shape}")
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0 < p <= 1:
        raise ValueError(f"p (the keep probability) must be a number in (0, 1], got {p!r}")
    return x * mask / p, DropoutCache(mask, float(p), x.dtype)   # out = x ⊙ m / p


def dropout_forward(x: Array, dropout_param: Mapping[str, Any]) -> tuple[Array, DropoutCache]:
    """Inverted dropout: dropout_param {"p": keep probability in (0, 1], "mode": "train" | "test",
    "seed": an int, or absent for fresh entropy}. Returns out (x's shape and dtype) and the cache."""
    x = v.array("x", x, min_ndim=1)
    v.mapping("dropout_param", dropout_param)
    p = _keep("dropout_param", dropout_param)
    if v.mode("dropout_param", dropout_param) == "test":
        return x.copy(), DropoutCache(None, p, x.dtype)
    seed = dropout_param.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise TypeError(f"dropout_param['seed'] must be a non-negative int or absent, got {seed!r}")
    mask = np.random.default_rng(seed).random(x.shape) < p   # P(m = 1) = p
    return dropout_forward_masked(x, mask, p)


def dropout_backward(dout: Array, cache: DropoutCache) -> Array:
    """dx = dout ⊙ m / p in training mode, dout in test mode; dout has x's shape and dtype."""
    mask, p, dtype = v.cache(cache, DropoutCache, "dropout_forward")
    dout = v.array("dout", dout, min_ndim=1)
    if dout.dtype != dtype:
        raise TypeError(f"dout must have the forward output's dtype {dtype}, got {dout.dtype}")
    if mask is None:
        return dout.copy()
    if dout.shape != mask.shape:
        raise ValueError(f"dout must have the forward output's shape {mask.shape}, got {dout.shape}")
    return dout * mask / p   # ∂J/∂x = dout ⊙ m / p
