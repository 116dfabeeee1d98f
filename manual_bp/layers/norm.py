"""Batch normalisation (training mode) and layer normalisation of x (N, D).

Both normalise x over one axis, with K entries (BN: over the batch, K = N, per feature; LN: over the
features, K = D, per sample), then scale and shift per feature:

    μ = (1/K) Σ_k x_k,   σ² = (1/K) Σ_k (x_k − μ)²   (biased, as torch normalises),
    r = 1/√(σ² + eps),   x̂ = (x − μ) r,   out = γ x̂ + β                    (γ, β: (D,))

and backward, with g = dout ⊙ γ (= ∂J/∂x̂) and the means taken over the same K entries:

    dx = r (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)),   dγ = Σ_n dout ⊙ x̂,   dβ = Σ_n dout

(dγ and dβ always sum over the batch n). Zero variance follows torch's eps semantics: σ² = 0 gives
r = 1/√eps and x̂ = 0, so at batch 1 (BN) or with one feature (LN) out = β, dγ = 0 and dx = 0 exactly.

Batch norm's running statistics follow CS231n: in training mode bn_param's "running_mean" and
"running_var" are replaced by momentum·old + (1 − momentum)·(μ, σ²) (new arrays; σ² biased), and
"test" mode normalises with them instead of the batch statistics.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, NamedTuple

import numpy as np

from manual_bp.layers import _validate as v

Array = np.ndarray


class NormCache(NamedTuple):
    xhat: Array      # x̂ (N, D)
    gamma: Array     # γ (D,)
    r: Array         # r = 1/√(σ² + eps), broadcastable to (N, D)
    axis: int | None  # the normalised axis (0: batch norm, 1: layer norm), None: test-mode batch norm


def _check(x: Array, gamma: Array, beta: Array) -> tuple[Array, Array, Array]:
    x = v.array("x", x, 2, dims="(N, D)")
    gamma = v.like("gamma", gamma, "x", x, (x.shape[1],))
    beta = v.like("beta", beta, "x", x, (x.shape[1],))
    return x, gamma, beta


def _eps(where: str, params: Mapping[str, Any]) -> float:
    return v.real(where, params, "eps", default=1e-5, low=0.0, low_open=True)


def _normalise(x: Array, axis: int, eps: float) -> tuple[Array, Array, Array, Array]:
    """(x̂, r, μ, σ²) over ``axis``, keeping it as a length-1 axis."""
    mu = x.mean(axis=axis, keepdims=True)          # μ = (1/K) Σ_k x_k
    xc = x - mu
    var = (xc * xc).mean(axis=axis, keepdims=True)  # σ² = (1/K) Σ_k (x_k − μ)², biased
    r = 1 / np.sqrt(var + eps)                      # r = 1/√(σ² + eps)
    return xc * r, r, mu, var                       # x̂ = (x − μ) r


def _norm_backward(dout: Array, cache: NormCache) -> tuple[Array, Array, Array]:
    xhat, gamma, r, axis = cache
    dbeta = dout.sum(axis=0)                  # ∂J/∂β = Σ_n dout
    dgamma = (dout * xhat).sum(axis=0)        # ∂J/∂γ = Σ_n dout ⊙ x̂
    g = dout * gamma                          # ∂J/∂x̂
    if axis is None:                          # test mode: x̂ = (x − running μ) r is affine in x
        return g * r, dgamma, dbeta
    mean_g = g.mean(axis=axis, keepdims=True)
    mean_gx = (g * xhat).mean(axis=axis, keepdims=True)
    dx = r * (g - mean_g - xhat * mean_gx)   # ∂J/∂x = r (g − mean g − x̂ mean(g x̂))
    return dx, dgamma, dbeta


def batchnorm_forward(x: Array, gamma: Array, beta: Array,
                      bn_param: MutableMapping[str, Any]) -> tuple[Array, NormCache]:
    """out = γ x̂ + β with x̂ normalised per feature over the batch (the module docstring's equations).

    x (N, D), gamma and beta (D,), one dtype; bn_param {"mode": "train" | "test", "eps" (default 1e-5),
    "momentum" (default 0.9), "running_mean", "running_var" (default zeros)}. Training mode uses the
    batch's μ and biased σ² and updates the running statistics in bn_param. Returns out (N, D) in x's
    dtype and the cache for ``batchnorm_backward``.
    """
    x, gamma, beta = _check(x, gamma, beta)
    v.mapping("bn_param", bn_param)
    mode = v.mode("bn_param", bn_param)
    eps = _eps("bn_param", bn_param)
    momentum = v.real("bn_param", bn_param, "momentum", default=0.9, low=0.0, high=1.0)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    running_mean = v.like("bn_param['running_mean']", running_mean, "x", x, (D,))
    running_var = v.like("bn_param['running_var']", running_var, "x", x, (D,))
    if mode == "train":
        xhat, r, mu, var = _normalise(x, 0, eps)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu[0]
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var[0]
        cache = NormCache(xhat, gamma, r, 0)
    else:
        r = 1 / np.sqrt(running_var + eps)
        xhat = (x - running_mean) * r
        cache = NormCache(xhat, gamma, r, None)
    return gamma * xhat + beta, cache


def batchnorm_backward(dout: Array, cache: NormCache) -> tuple[Array, Array, Array]:
    """dx (N, D), dgamma (D,), dbeta (D,) by the module docstring's equations; dout is (N, D)."""
    cache = v.cache(cache, NormCache, "batchnorm_forward")
    dout = v.dout(dout, cache.xhat.shape, cache.xhat.dtype)
    return _norm_backward(dout, cache)


def layernorm_forward(x: Array, gamma: Array, beta: Array, ln_param: Mapping[str, Any]) -> tuple[Array, NormCache]:
    """out = γ x̂ + β with x̂ normalised per sample over its D features (the module docstring's equations).

    x (N, D), gamma and beta (D,), one dtype; ln_param {"eps" (default 1e-5)}. Returns out (N, D) in
    x's dtype and the cache for ``layernorm_backward``.
    """
    x, gamma, beta = _check(x, gamma, beta)
    eps = _eps("ln_param", v.mapping("ln_param", ln_param))
    xhat, r, _, _ = _normalise(x, 1, eps)
    return gamma * xhat + beta, NormCache(xhat, gamma, r, 1)


def layernorm_backward(dout: Array, cache: NormCache) -> tuple[Array, Array, Array]:
    """dx (N, D), dgamma (D,), dbeta (D,) by the module docstring's equations; dout is (N, D)."""
    cache = v.cache(cache, NormCache, "layernorm_forward")
    dout = v.dout(dout, cache.xhat.shape, cache.xhat.dtype)
    return _norm_backward(dout, cache)
