"""Correct implementations of the contract in styles other than ``manual_bp``'s.

No false alarm is allowed on any of them: each must pass ``manual-bp check`` and the property suite's
comparisons, in float32 and float64. They differ from ``manual_bp`` in what a tolerance model must
absorb: the order of the sums, the plainest textbook formulas (σ′ = a(1 − a), tanh′ = 1 − a²,
Φ = ½(1 + erf), eᶻ − 1), a cross-entropy gradient p − y that ignores Σy ≠ 1 by rounding.
"""

from __future__ import annotations

import math

import numpy as np

Array = np.ndarray
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _plain_act(name: str, z: Array) -> tuple[Array, Array | None]:
    """Textbook formulas, evaluated in z's dtype; overflow to inf inside exp is harmless here."""
    dt = z.dtype
    with np.errstate(over="ignore", under="ignore"):
        if name == "identity":
            return z, np.ones_like(z)
        if name == "sigmoid":
            a = 1 / (1 + np.exp(-z))
            return a, a * (1 - a)
        if name == "tanh":
            a = np.tanh(z)
            return a, 1 - a * a
        if name == "relu":
            return np.maximum(z, 0), np.where(z > 0, 1, 0).astype(dt)
        if name == "leaky_relu":
            return np.where(z > 0, z, dt.type(0.01) * z), np.where(z > 0, 1, 0.01).astype(dt)
        if name == "elu":
            e = np.exp(np.minimum(z, 0))
            return np.where(z > 0, z, e - 1), np.where(z > 0, 1, e).astype(dt)
        if name == "softplus":
            s = 1 / (1 + np.exp(-z))
            return np.logaddexp(z, dt.type(0)), s
        if name == "gelu":
            Phi = (0.5 * (1 + _erf(z.astype(np.float64) / math.sqrt(2)))).astype(dt)
            pdf = np.exp(-0.5 * np.minimum(z * z, dt.type(1e4))) / dt.type(math.sqrt(2 * math.pi))
            return z * Phi, Phi + z * pdf
        if name == "gelu_tanh":
            k, c = dt.type(math.sqrt(2 / math.pi)), dt.type(0.044715)
            zc = np.clip(z, -50, 50)
            t = np.tanh(k * (zc + c * zc * zc * zc))
            return dt.type(0.5) * z * (1 + t), dt.type(0.5) * (1 + t) + dt.type(0.5) * zc * (1 - t * t) * k * (
                1 + 3 * c * zc * zc)
        if name == "silu":
            s = 1 / (1 + np.exp(-z))
            return z * s, s * (1 + z * (1 - s))
        if name == "softmax":
            e = np.exp(z - z.max(axis=0, keepdims=True))
            return e / e.sum(axis=0, keepdims=True), None
    raise ValueError(name)


def _plain_loss_grad(loss: str, a: Array, y: Array, B: int) -> Array:
    """∂J/∂a for one sample (column vector a, y), with the batch's reduction."""
    n = a.shape[0]
    if loss == "half_sse":
        return (a - y) / B
    if loss == "mse":
        return 2 * (a - y) / (B * n)
    if loss == "cross_entropy":
        e = np.exp(a - a.max())
        return (e / e.sum() - y) / B
    if loss == "binary_cross_entropy":
        with np.errstate(over="ignore"):
            return (1 / (1 + np.exp(-a)) - y) / (B * n)
    if loss == "huber":
        return np.clip(a - y, -1, 1) / (B * n)
    if loss == "l1":
        return np.sign(a - y) / (B * n)
    raise ValueError(loss)


def per_sample_columns(params, x, y, activations, loss):
    """The seed's notation literally: one sample at a time, column vectors, outer products summed."""
    B = x.shape[0]
    grads = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    for i in range(B):
        a = [x[i][:, None]]
        zs, primes = [], []
        for (W, b), name in zip(params, activations, strict=True):
            z = W @ a[-1] + b[:, None]
            act, d = _plain_act(name, z)
            zs.append(z)
            a.append(act)
            primes.append(d)
        g = _plain_loss_grad(loss, a[-1], y[i][:, None], B)
        for l in range(len(params), 0, -1):
            W = params[l - 1][0]
            s, d = a[l], primes[l - 1]
            delta = s * (g - (s * g).sum()) if d is None else g * d
            dW, db = grads[l - 1]
            grads[l - 1] = (dW + delta @ a[l - 1].T, db + delta[:, 0])
            g = W.T @ delta
    return grads


def _stable_act(name: str, z: Array) -> tuple[Array, Array | None]:
    """Other stable formulas: σ through tanh, tanh′ through cosh, Φ through erfc."""
    dt = z.dtype
    half = dt.type(0.5)
    if name == "sigmoid":
        a = half * (1 + np.tanh(half * z))
        return a, a * (1 - a)
    if name == "tanh":
        with np.errstate(over="ignore"):
            return np.tanh(z), 1 / np.cosh(z) ** 2
    if name == "softplus":
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))), half * (1 + np.tanh(half * z))
    if name == "silu":
        s = half * (1 + np.tanh(half * z))
        return z * s, s + z * s * (1 - s)
    if name == "gelu":
        erfc = np.vectorize(math.erfc, otypes=[np.float64])
        Phi = (0.5 * erfc(-z.astype(np.float64) / math.sqrt(2))).astype(dt)
        pdf = (np.exp(-0.5 * np.minimum(z.astype(np.float64) ** 2, 1e4)) / math.sqrt(2 * math.pi)).astype(dt)
        return z * Phi, Phi + z * pdf
    if name == "softmax":
        logp = z - z.max(axis=1, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(axis=1, keepdims=True))
        return np.exp(logp), None
    a, d = _plain_act(name, z.T)
    return a.T, None if d is None else d.T


def vectorised_other_formulas(params, x, y, activations, loss):
    """Batch-vectorised, but with other stable formulas and the sums in another order (einsum)."""
    acts, zs, primes = [x], [], []
    for (W, b), name in zip(params, activations, strict=True):
        z = np.einsum("bi,oi->bo", acts[-1], W) + b
        a, d = _stable_act(name, z)
        zs.append(z)
        acts.append(a)
        primes.append(d)
    B = x.shape[0]
    a = acts[-1]
    if loss == "cross_entropy":
        logp = a - a.max(axis=1, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(axis=1, keepdims=True))
        g = (np.exp(logp) - y) / B
    elif loss == "binary_cross_entropy":
        g = (_stable_act("sigmoid", a)[0] - y) / a.size
    else:
        g = np.stack([_plain_loss_grad(loss, a[i], y[i], B) for i in range(B)]) if loss in (
            "half_sse",) else _plain_loss_grad(loss, a.T, y.T, B).T * (a.shape[1] / a.shape[1])
    out = []
    for l in range(len(params), 0, -1):
        W = params[l - 1][0]
        s, d = acts[l], primes[l - 1]
        delta = s * (g - np.einsum("bj,bj->b", s, g)[:, None]) if d is None else g * d
        out.append((np.einsum("bo,bi->oi", delta, acts[l - 1]), np.einsum("bo->o", delta)))
        g = np.einsum("bo,oi->bi", delta, W)
    return out[::-1]


STYLES = {"per_sample_columns": per_sample_columns, "vectorised_other_formulas": vectorised_other_formulas}
