"""A binary classifier as courses write it: samples in columns, one sigmoid output, cross-entropy on
probabilities.

    manual-bp check examples/binary_classifier/fixed.py:gradients --layout columns --output-width 1 \
        --loss-input probabilities --losses binary_cross_entropy --targets binary --hidden-activations relu,tanh

X is (n₀, m), Y is (1, m) with labels 0 or 1, W⁽ˡ⁾ is (n_l, n_{l−1}) and b⁽ˡ⁾ is (n_l, 1). The hidden
layers are relu or tanh; the output layer is one sigmoid unit, A⁽ᴸ⁾ = σ(Z⁽ᴸ⁾), the probability of
class 1; the cost is J = −(1/m) Σ [y log a + (1 − y) log(1 − a)], written on that probability. The
gradients come back in a dict {"dW1", "db1", …}.

The flags, one by one: `--layout columns` for the shapes; `--output-width 1` because this code has one
output unit (its 1/m is the mean over the entries only when n_L = 1); `--loss-input probabilities`
because the sigmoid is part of this network, not of the loss, so the checker calls it with
activations [..., "sigmoid"] and compares with the contract's logits form (the same J); `--targets
binary` for labels in {0, 1}; `--hidden-activations relu,tanh` for the hidden layers it implements.

The backward pass starts from dZ⁽ᴸ⁾ = A⁽ᴸ⁾ − Y, the derivative of the cost through the sigmoid in one
step. The long way, dA = −(Y/A − (1 − Y)/(1 − A)) and then dZ = dA · A(1 − A), is the same in exact
arithmetic but divides by zero once the sigmoid saturates (A = 1 in floating point), and the check
finds that too (non_finite). `buggy.py` beside it goes through the sigmoid twice.
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
    dZ = AL - Y                                          # ∂(cost of one sample)/∂Z⁽ᴸ⁾ through the sigmoid
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
