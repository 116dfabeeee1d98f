"""Truth and bounds of batch norm (normalised over the batch, axis 0) and layer norm (over the
features, axis 1), derived step by step (docs/tolerance.md, "Layers"; K entries per normalised group):

    μ = mean x             e(μ) = u√(K+1)·mean|x| + u|μ|                         (0 when K = 1)
    x_c = x − μ            e(x_c) = e(μ) + u|x_c|
    σ² = mean x_c²         e(σ²) = mean(2|x_c| e(x_c) + e(x_c)² + u x̄²) + u√(K+1)·mean x̄² + u σ²,  x̄ = |x_c| + e(x_c)
    s = σ² + eps           e(s) = e(σ²) + u s [σ² ≠ 0] + u eps [eps not representable]
    r = 1/√s               e(r) = max_± |1/√(s ± e(s)) − r| + 4 u r      (√ and ÷, or an rsqrt: 2 ulps)
    x̂ = x_c r              e(x̂) = e(x_c) r + |x_c| e(r) + e(x_c) e(r) + C u m̂,   m̂ = r (|x| + |μ|)
    out = γ x̂ + β          e(out) = |γ| e(x̂) + C u (|γ| m̂ + |β|)

m̂ is the magnitude of x̂'s *uncentred* evaluation x·r − μ·r, which torch's kernels use throughout
(out = x·(γr) + (β − μγr); layer norm's dγ from x·r + (−μr); its dx as r·g + b·x + c with
b = (μ Σg − Σ g x)·r³/K): their roundings scale with |x| and |μ|, not with |x − μ|, so nothing is
exact at K = 1 there (dx = 0 up to u r |g| with a fused multiply-add). Backward, g = dout ⊙ γ:

    dβ = Σ_n dout,  dγ = Σ_n dout x̂                      (sums over the batch, N terms)
    A = mean g, B = mean g x̂, w = g − A − x̂ B,  dx = r w   (means over the K entries)

with the errors of A, B and w propagated the same way and every rounding of a term with x̂ taken at
m̂; e(dx) = e(r)(|g| + |A| + 3|x̂ B|) + r e(w) + …: the r error enters each term on its own (the
step-by-step graph form has r³ in its variance term; torch's has it in b), so it may not cancel
between them; within torch's b·x + c = b(x − μ) − r A the same b multiplies x and μ, so r's error
meets |x̂|, not m̂ (only the roundings of b·x and b·μ meet m̂).

The first-order μ-error terms (2|x_c| e(x_c)) are kept although they cancel in a two-pass variance:
they admit Welford-style updates too, at the cost of a looser bound when |μ| ≫ σ.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bpcheck.layers._bounds import C_ELEM, dot, plain_sum

Array = np.ndarray
Outputs = dict[str, tuple[Array, Array]]
# r = 1/√s: √ and ÷ are correctly rounded (IEEE), an rsqrt is within 2 ulps (measured on this CPU:
# NumPy's 1/√ 1.4 ulps, XLA's rsqrt 0.9), so 4u, not the transcendental functions' ELEMENTARY
RSQRT = 4.0


def _mean(v: Array, axis: int) -> Array:
    return v.mean(axis=axis, keepdims=True)


def normalise(a: dict[str, Array], hyper: dict[str, Any], dout: Array, u: float, tiny: float,
              dtype: np.dtype, axis: int) -> Outputs:
    x, gamma, beta = a["x"], a["gamma"], a["beta"]
    eps = hyper["eps"]
    K, N = x.shape[axis], x.shape[0]
    # forward
    mu = _mean(x, axis)
    e_mu = (plain_sum(K, u) * _mean(np.abs(x), axis) + u * np.abs(mu) + 2 * tiny) * (K > 1)
    xc = x - mu
    e_xc = e_mu + u * np.abs(xc)
    big = np.abs(xc) + e_xc
    var = _mean(xc * xc, axis)
    e_var = (_mean(2 * np.abs(xc) * e_xc + e_xc**2 + u * big**2, axis) + plain_sum(K, u) * _mean(big**2, axis)
             + u * var + 4 * tiny) * (K > 1)
    s = var + eps
    e_s = e_var + u * s * ((var != 0) | (e_var != 0)) + (u * eps if float(dtype.type(eps)) != eps else 0.0)
    r = 1 / np.sqrt(s)
    lo = np.maximum(s - e_s, np.finfo(np.float64).tiny)
    e_r = np.maximum(np.abs(1 / np.sqrt(lo) - r), np.abs(1 / np.sqrt(s + e_s) - r)) + RSQRT * u * r
    xhat = xc * r
    m_hat = r * (np.abs(x) + np.abs(mu))   # the terms of x̂ = x·r − μ·r, the uncentred evaluation
    e_xhat = e_xc * r + np.abs(xc) * e_r + e_xc * e_r + C_ELEM * u * m_hat + 2 * tiny
    out = gamma * xhat + beta
    e_out = np.abs(gamma) * e_xhat + C_ELEM * u * (np.abs(gamma) * m_hat + np.abs(beta)) + 2 * tiny
    # backward
    ad = np.abs(dout)
    dbeta = dout.sum(axis=0)
    e_dbeta = plain_sum(N, u) * ad.sum(axis=0) + (N > 1) * N * tiny
    dgamma = (dout * xhat).sum(axis=0)
    e_dgamma = (ad * e_xhat).sum(axis=0) + dot(N, u) * (ad * m_hat).sum(axis=0) + N * tiny
    g = dout * gamma
    e_g = u * np.abs(g)
    A = _mean(g, axis)
    e_A = _mean(e_g, axis) + plain_sum(K, u) * _mean(np.abs(g), axis) + u * np.abs(A)
    B = _mean(g * xhat, axis)
    e_B = _mean(e_g * np.abs(xhat) + np.abs(g) * e_xhat + e_g * e_xhat, axis) + \
        dot(K, u) * _mean(np.abs(g) * m_hat, axis) + u * np.abs(B)
    w = g - A - xhat * B
    e_w = e_g + e_A + e_xhat * np.abs(B) + np.abs(xhat) * e_B + e_xhat * e_B + \
        C_ELEM * u * (np.abs(g) + np.abs(A) + m_hat * np.abs(B)) + 4 * tiny
    dx = r * w
    e_dx = e_r * (np.abs(g) + np.abs(A) + 3 * np.abs(xhat * B)) + r * e_w + e_r * e_w + u * np.abs(dx)
    return {"out": (out, e_out), "dx": (dx, e_dx), "dgamma": (dgamma, e_dgamma), "dbeta": (dbeta, e_dbeta)}
