"""A first backprop, sigmoid and the squared error only, with σ′ written wrong.

    manual-bp check examples/sigmoid_only/buggy.py:gradients

The bug (one line, `sigmoid_prime`): σ′(z) written as σ(z)·(1 − z) instead of σ(z)·(1 − σ(z)). The
course writes σ′ = a(1 − a) with a = σ(z); pass z where a was meant and you get this. It makes δ⁽ᴸ⁾
wrong, and every δ below it, so dW and db are wrong in every layer (in the minimal counterexample, a
depth-1 network: W⁽¹⁾ and b⁽¹⁾). It is wrong wherever z ≠ σ(z), which is everywhere but one point
(z ≈ 0.66), so the first case already shows it.

`fixed.py` beside it is the same code with the line right; it passes (partial: sigmoid and half_sse).
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    s = sigmoid(z)
    return s * (1.0 - z)                          # BUG: σ′(z) = σ(z)(1 − σ(z)), not σ(z)(1 − z)


def gradients(params, x, y, activations, loss):
    if loss != "half_sse":
        raise NotImplementedError(f"only the squared error (half_sse) is implemented, not {loss}")
    for name in activations:
        if name != "sigmoid":
            raise NotImplementedError(f"only sigmoid layers are implemented, not {name}")

    # forward pass: keep every z and every activation
    zs = []
    acts = [x]
    for W, b in params:
        z = acts[-1] @ W.T + b                     # z⁽ˡ⁾ = W⁽ˡ⁾ a⁽ˡ⁻¹⁾ + b⁽ˡ⁾, one sample per row
        zs.append(z)
        acts.append(sigmoid(z))                    # a⁽ˡ⁾ = σ(z⁽ˡ⁾)

    # backward pass
    L = len(params)
    batch = x.shape[0]
    grads = [None] * L
    delta = (acts[-1] - y) * sigmoid_prime(zs[-1]) / batch     # δ⁽ᴸ⁾ = (a⁽ᴸ⁾ − y) ⊙ σ′(z⁽ᴸ⁾), batch mean
    for l in range(L - 1, -1, -1):
        dW = delta.T @ acts[l]                     # ∂J/∂W⁽ˡ⁾ = δ⁽ˡ⁾ (a⁽ˡ⁻¹⁾)ᵀ, summed over the batch
        db = delta.sum(axis=0)                     # ∂J/∂b⁽ˡ⁾ = δ⁽ˡ⁾, summed over the batch
        grads[l] = (dW, db)
        if l > 0:
            W = params[l][0]
            delta = (delta @ W) * sigmoid_prime(zs[l - 1])    # δ⁽ˡ⁻¹⁾ = (W⁽ˡ⁾)ᵀ δ⁽ˡ⁾ ⊙ σ′(z⁽ˡ⁻¹⁾)
    return grads
