"""The x @ W classifier (relu, softmax loss on labels, summed, L2), with the biases regularised too.

    manual-bp check examples/x_at_w/buggy.py:gradients --weights in_out --hidden-activations relu \
        --output-activations identity --losses cross_entropy --targets labels --reduction sum --l2 0.1

The bug (one line, `loss_and_grads`): the L2 term's gradient λ b⁽ˡ⁾ is added to db⁽ˡ⁾ as well as λ W⁽ˡ⁾
to dW⁽ˡ⁾, as if the biases were in the penalty. The loss this code computes has no ‖b‖² in it, so its
gradient is not the gradient of its own loss: every db⁽ˡ⁾ with a non-zero bias is off by λ b⁽ˡ⁾, and
every dW is right. It hides where the biases are zero (many networks start so).

`fixed.py` beside it is the same code without the λ b; it passes.
"""

import numpy as np

REG = 0.1  # λ of the L2 term


def affine_forward(x, w, b):
    out = x @ w + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    x, w, b = cache
    dx = dout @ w.T
    dw = x.T @ dout
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    out = np.maximum(0, x)
    return out, x


def relu_backward(dout, cache):
    x = cache
    return dout * (x > 0)                            # relu′(0) = 0


def softmax_loss(scores, y):
    """Cross-entropy of softmax(scores) against labels y, summed over the batch; and d/dscores."""
    N = scores.shape[0]
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    probs = np.exp(log_probs)
    loss = -np.sum(log_probs[np.arange(N), y])
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    return loss, dscores


def loss_and_grads(params, X, y, reg):
    """The loss and its gradients: relu after every layer but the last, which gives the scores."""
    caches = []
    out = X
    L = len(params)
    for l, (W, b) in enumerate(params, start=1):
        out, affine_cache = affine_forward(out, W, b)
        relu_cache = None
        if l < L:
            out, relu_cache = relu_forward(out)
        caches.append((affine_cache, relu_cache))

    loss, dout = softmax_loss(out, y)
    grads = {}
    for l in range(L, 0, -1):
        affine_cache, relu_cache = caches[l - 1]
        if relu_cache is not None:
            dout = relu_backward(dout, relu_cache)
        dout, dW, db = affine_backward(dout, affine_cache)
        W, b = params[l - 1]
        loss += 0.5 * reg * np.sum(W * W)
        grads[f"W{l}"] = dW + reg * W
        grads[f"b{l}"] = db + reg * b                 # BUG: biases are not regularised
    return loss, grads


def gradients(params, x, y, activations, loss):
    if loss != "cross_entropy":
        raise NotImplementedError(f"this network is trained with the softmax loss, not {loss}")
    if list(activations) != ["relu"] * (len(params) - 1) + ["identity"]:
        raise NotImplementedError(f"relu hidden layers and raw scores out, not {activations}")
    _, grads = loss_and_grads(params, x, y, REG)
    return grads
