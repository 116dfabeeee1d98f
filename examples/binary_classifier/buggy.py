"""The binary classifier (columns, one sigmoid output, cross-entropy on probabilities), with the
sigmoid's derivative applied twice.

    manual-bp check examples/binary_classifier/buggy.py:gradients --layout columns --output-width 1 \
        --loss-input probabilities --losses binary_cross_entropy --targets binary --hidden-activations relu,tanh

The bug (one line, `backward_propagation`): dZ⁽ᴸ⁾ = (A − Y) · A(1 − A). A − Y is already the derivative
of the cost through the sigmoid (the σ′ cancels against the cross-entropy's 1/(a(1 − a))); multiplying
by σ′ = A(1 − A) once more counts the sigmoid twice, as happens when a generic "dZ = dA · σ′(Z)" step
is fed A − Y as if it were dA. δ⁽ᴸ⁾ is wrong, so dW and db are wrong in every layer (in the minimal
counterexample, depth 1: W⁽¹⁾ and b⁽¹⁾). Nothing crashes, and training still heads roughly the right
way (each sample's gradient is only scaled by a factor in (0, ¼]), which is why it survives.

`fixed.py` beside it starts from dZ⁽ᴸ⁾ = A − Y; it passes.
"""

import numpy as np


def sigmoid(Z):
    return 1 / (1 + np.exp(-Z))


def hidden_forward(Z, activation):
    if activation == "relu":
        return np.maximum(0, Z)
    if activation == "tanh":
        return np.tanh(Z)
    raise NotImplementedError(f"hidden layers are relu or tanh, not {activation}")


def hidden_backward(dA, Z, activation):
    if activation == "relu":
        return dA * (Z > 0)                              # relu′(0) = 0
    if activation == "tanh":
        return dA * (1 - np.tanh(Z) ** 2)
    raise NotImplementedError(f"hidden layers are relu or tanh, not {activation}")


def forward_propagation(X, parameters, activations):
    cache = {"A0": X}
    A = X
    L = len(parameters)
    for l in range(1, L + 1):
        W, b = parameters[l - 1]
        Z = W @ A + b
        A = sigmoid(Z) if l == L else hidden_forward(Z, activations[l - 1])
        cache["Z" + str(l)] = Z
        cache["A" + str(l)] = A
    return A, cache


def compute_cost(AL, Y):
    m = Y.shape[1]
    return -1 / m * np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL))


def backward_propagation(parameters, cache, Y, activations):
    grads = {}
    L = len(parameters)
    m = Y.shape[1]
    AL = cache["A" + str(L)]
    dZ = (AL - Y) * AL * (1 - AL)                        # BUG: through the sigmoid a second time
    for l in range(L, 0, -1):
        A_prev = cache["A" + str(l - 1)]
        grads["dW" + str(l)] = 1 / m * dZ @ A_prev.T
        grads["db" + str(l)] = 1 / m * np.sum(dZ, axis=1, keepdims=True)
        if l > 1:
            W = parameters[l - 1][0]
            dA_prev = W.T @ dZ
            dZ = hidden_backward(dA_prev, cache["Z" + str(l - 1)], activations[l - 2])
    return grads


def gradients(params, x, y, activations, loss):
    if loss != "binary_cross_entropy" or activations[-1] != "sigmoid":
        raise NotImplementedError("a sigmoid output unit with the binary cross-entropy only")
    AL, cache = forward_propagation(x, params, activations)
    return backward_propagation(params, cache, y, activations)
