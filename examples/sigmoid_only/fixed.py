"""A first backprop: sigmoid units and the squared error, and nothing else.

    manual-bp check examples/sigmoid_only/fixed.py:gradients

This is how most people's first backprop looks: every layer is a sigmoid, the cost is the seed's
J = (1/B) Σ_b ½‖a⁽ᴸ⁾_b − y_b‖², and anything else raises NotImplementedError. `manual-bp check` finds
that out by itself (a NotImplementedError marks a name unsupported) and checks what is implemented:
PASS (partial), 1 of 11 activations, 1 of 6 losses. The layout is the contract's: one sample per row
of x (B, n₀), W⁽ˡ⁾ of shape (n_l, n_{l−1}), b⁽ˡ⁾ of shape (n_l,), a list of (dW, db) pairs back.

`buggy.py` beside it is the same code with σ′ written wrong.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    s = sigmoid(z)
    return s * (1.0 - s)                          # σ′(z) = σ(z)(1 − σ(z))


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
