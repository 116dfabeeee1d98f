"""The affine (fully connected) layer in the CS231n layout: samples in rows, w as (D, M).

    forward:   out = x̃ w + b,             x̃ = x reshaped to (N, D), D = d₁⋯d_k
    backward:  dx = (dout wᵀ) reshaped to x's shape,  dw = x̃ᵀ dout,  db = Σ_n dout_n

This is the seed's z⁽ˡ⁾ = W⁽ˡ⁾ a⁽ˡ⁻¹⁾ + b⁽ˡ⁾ for a batch in rows, with w = W⁽ˡ⁾ᵀ: dw is the batch sum of
the outer products a⁽ˡ⁻¹⁾ δ⁽ˡ⁾ᵀ, db the batch sum of δ⁽ˡ⁾ (summed, never averaged: the loss owns the
batch mean).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from manual_bp.layers import _validate as v

Array = np.ndarray


class AffineCache(NamedTuple):
    x: Array
    w: Array


def affine_forward(x: Array, w: Array, b: Array) -> tuple[Array, AffineCache]:
    """out = x̃ w + b with x̃ = x.reshape(N, D).

    x (N, d₁, …, d_k) with D = d₁⋯d_k, w (D, M), b (M,), all of one dtype (float32 or float64);
    returns out (N, M) in that dtype and the cache for ``affine_backward``.
    """
    x = v.array("x", x, min_ndim=2, dims="(N, d1, ..., dk)")
    n, d = x.shape[0], int(np.prod(x.shape[1:]))
    w = v.array("w", w, 2, dims="(D, M)")
    if w.shape[0] != d:
        raise ValueError(f"w must have shape ({d}, M): x of shape {x.shape} flattens to D = {d} per row, "
                         f"got {w.shape}")
    w = v.like("w", w, "x", x, w.shape)
    b = v.like("b", b, "w", w, (w.shape[1],))
    out = x.reshape(n, d) @ w + b  # z = x̃ w + b
    return out, AffineCache(x, w)


def affine_backward(dout: Array, cache: AffineCache) -> tuple[Array, Array, Array]:
    """dx = dout wᵀ (x's shape), dw = x̃ᵀ dout (D, M), db = Σ_n dout_n (M,); dout is (N, M)."""
    x, w = v.cache(cache, AffineCache, "affine_forward")
    dout = v.dout(dout, (x.shape[0], w.shape[1]), x.dtype)
    dx = (dout @ w.T).reshape(x.shape)        # ∂J/∂x̃ = δ wᵀ
    dw = x.reshape(x.shape[0], -1).T @ dout   # ∂J/∂w = x̃ᵀ δ
    db = dout.sum(axis=0)                     # ∂J/∂b = Σ_n δ_n
    return dx, dw, db
