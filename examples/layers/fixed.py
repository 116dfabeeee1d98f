"""Layers written the way a CS231n-style assignment writes them: each forward returns (out, cache),
each backward takes (dout, cache); the losses return (loss, dx). Correct: every one passes
`manual-bp check-layer` (examples/README.md has the commands).
"""

import numpy as np


def affine_forward(x, w, b):
    """out = x̃ w + b, with x̃ = x reshaped to (N, D); w is (D, M), b is (M,)."""
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w)


def affine_backward(dout, cache):
    """dx = dout wᵀ (reshaped like x), dw = x̃ᵀ dout, db = Σ over the batch of dout."""
    x, w = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """relu′(x) = 1 where x > 0, else 0 (relu′(0) = 0)."""
    x = cache
    return dout * (x > 0)


def softmax_loss(x, y):
    """Mean over the batch of −log softmax(x)[y]; dx = (softmax(x) − one_hot(y)) / N."""
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    N = x.shape[0]
    loss = -log_probs[np.arange(N), y].sum() / N
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    return loss, dx / N


def svm_loss(x, y):
    """Mean over the batch of Σ_{j ≠ y} max(0, x_j − x_y + 1); a margin of exactly 0 does not count."""
    N = x.shape[0]
    correct = x[np.arange(N), y][:, None]
    margins = np.maximum(0, x - correct + 1)
    margins[np.arange(N), y] = 0
    loss = margins.sum() / N
    positive = (margins > 0).astype(x.dtype)
    positive[np.arange(N), y] = -positive.sum(axis=1)
    return loss, positive / N


def batchnorm_forward(x, gamma, beta, bn_param):
    """Training mode: x̂ = (x − μ)/√(σ² + eps) with the batch mean μ and biased variance σ²; out = γ x̂ + β."""
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    std = np.sqrt(var + eps)
    x_hat = (x - mu) / std
    bn_param["running_mean"] = momentum * bn_param.get("running_mean", np.zeros_like(mu)) + (1 - momentum) * mu
    bn_param["running_var"] = momentum * bn_param.get("running_var", np.zeros_like(var)) + (1 - momentum) * var
    return gamma * x_hat + beta, (x_hat, gamma, std)


def batchnorm_backward(dout, cache):
    """dx = (γ/σ)(dout − mean(dout) − x̂ mean(dout x̂)); dγ = Σ dout x̂; dβ = Σ dout."""
    x_hat, gamma, std = cache
    dgamma = (dout * x_hat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dx_hat = dout * gamma
    dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) / std
    return dx, dgamma, dbeta
