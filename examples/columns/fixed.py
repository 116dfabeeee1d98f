"""Backprop written course-style: samples in columns, a cache per layer, the gradients in a dict.

    manual-bp check examples/columns/fixed.py:gradients --layout columns

X holds one sample per column, (n₀, m); W⁽ˡ⁾ is (n_l, n_{l−1}) and b⁽ˡ⁾ is a column (n_l, 1), so a
layer is Z = W A_prev + b. The forward pass keeps a cache (A_prev, W, b, Z) per layer; the backward
pass walks the caches in reverse and fills grads["dW1"], grads["db1"], … (and grads["dA0"], … on the
way, which the checker ignores). The 1/m of the batch mean is applied in each layer's dW and db, as
courses that write the cost as J = (1/m) Σ L(a, y) do. Implemented: sigmoid, tanh, relu and identity
layers, and the half squared error or the mean squared error; anything else raises
NotImplementedError.

`--layout columns` is all `manual-bp check` needs to know: it then passes x as (n₀, m), y as (n_L, m)
and b as (n, 1), reads the dict, and expects db back as (n, 1). `buggy.py` beside it has a classic bug.
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
    dW = 1 / m * dZ @ A_prev.T
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
