"""Backprop written course-style (samples in columns, a dict of gradients), with a classic bug.

    manual-bp check examples/columns/buggy.py:gradients --layout columns

The bug (one line, `layer_backward`): dW = dZ A_prevᵀ without the 1/m. In this style the 1/m of the
batch mean is not in dA⁽ᴸ⁾ but applied in every layer's dW and db, so it is easy to write it in db and
forget it in dW. Every dW⁽ˡ⁾ comes out m times too large; every db⁽ˡ⁾ is right. With one sample
(m = 1) nothing is wrong, which is why a check on one example misses it: the minimal counterexample
has m = 2, and `mismatches` names W⁽ˡ⁾ of each layer and no b.

`fixed.py` beside it is the same code with the 1/m in place; it passes.
"""

import numpy as np


def sigmoid(Z):
    return 1 / (1 + np.exp(-Z))


def activation_forward(Z, activation):
    if activation == "sigmoid":
        return sigmoid(Z)
    if activation == "tanh":
        return np.tanh(Z)
    if activation == "relu":
        return np.maximum(0, Z)
    if activation == "identity":
        return Z
    raise NotImplementedError(f"no {activation} layer here")


def activation_backward(dA, Z, activation):
    """dZ = dA ⊙ g′(Z)."""
    if activation == "sigmoid":
        s = sigmoid(Z)
        return dA * s * (1 - s)
    if activation == "tanh":
        return dA * (1 - np.tanh(Z) ** 2)
    if activation == "relu":
        dZ = np.array(dA, copy=True)
        dZ[Z <= 0] = 0                               # relu′(0) = 0
        return dZ
    if activation == "identity":
        return dA
    raise NotImplementedError(f"no {activation} layer here")


def cost_backward(AL, Y, loss):
    """dAL = ∂L/∂AL for each sample (the 1/m comes later, in each layer's dW and db)."""
    if loss == "half_sse":                           # L = ½‖a − y‖²
        return AL - Y
    if loss == "mse":                                # L = (1/n_L) ‖a − y‖²
        return 2 * (AL - Y) / AL.shape[0]
    raise NotImplementedError(f"no {loss} cost here")


def layer_forward(A_prev, W, b, activation):
    Z = W @ A_prev + b
    A = activation_forward(Z, activation)
    cache = (A_prev, W, b, Z)
    return A, cache


def model_forward(X, parameters, activations):
    caches = []
    A = X
    for (W, b), activation in zip(parameters, activations, strict=True):
        A, cache = layer_forward(A, W, b, activation)
        caches.append(cache)
    return A, caches


def layer_backward(dA, cache, activation):
    A_prev, W, b, Z = cache
    m = A_prev.shape[1]
    dZ = activation_backward(dA, Z, activation)
    dW = dZ @ A_prev.T                               # BUG: the 1/m is missing
    db = 1 / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = W.T @ dZ
    return dA_prev, dW, db


def model_backward(AL, Y, caches, activations, loss):
    grads = {}
    L = len(caches)
    dA = cost_backward(AL, Y, loss)
    for l in reversed(range(L)):
        dA_prev, dW, db = layer_backward(dA, caches[l], activations[l])
        grads["dA" + str(l)] = dA_prev
        grads["dW" + str(l + 1)] = dW
        grads["db" + str(l + 1)] = db
        dA = dA_prev
    return grads


def gradients(params, x, y, activations, loss):
    AL, caches = model_forward(x, params, activations)
    return model_backward(AL, y, caches, activations, loss)
