"""A classifier written with layer functions: x @ W + b, relu, softmax loss on integer labels, L2.

    manual-bp check examples/x_at_w/fixed.py:gradients --weights in_out --hidden-activations relu \
        --output-activations identity --losses cross_entropy --targets labels --reduction sum --l2 0.1

The style of many NumPy courses: W⁽ˡ⁾ is (n_in, n_out), so a layer is x @ W + b; each layer is an
`affine_forward`/`affine_backward` pair with a cache; relu between layers, raw class scores out of the
last one; the softmax cross-entropy takes integer labels y of shape (N,). Two choices differ from the
contract's, and each has its flag:

- the loss is summed over the batch, not averaged (`--reduction sum`): dscores = probs − onehot(y);
- the gradient includes the L2 term (λ/2) Σ_l ‖W⁽ˡ⁾‖², λ = REG below (`--l2 0.1` must say the same).
  Biases are not regularised.

The gradients come back as a dict {"W1": dW⁽¹⁾, "b1": db⁽¹⁾, …}, named like the parameters.
`buggy.py` beside it regularises the biases too.
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
        grads[f"b{l}"] = db
    return loss, grads


def gradients(params, x, y, activations, loss):
    if loss != "cross_entropy":
        raise NotImplementedError(f"this network is trained with the softmax loss, not {loss}")
    if list(activations) != ["relu"] * (len(params) - 1) + ["identity"]:
        raise NotImplementedError(f"relu hidden layers and raw scores out, not {activations}")
    _, grads = loss_and_grads(params, x, y, REG)
    return grads
