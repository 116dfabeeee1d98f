"""Backprop as objects: each layer and each loss has `forward` and `backward`, and a `Network` chains them.

    manual-bp check examples/network_class/fixed.py:gradients

The way many people structure it once the maths works: an activation object remembers what its
backward pass needs; a `Dense` layer computes z = x Wᵀ + b, hands z to its activation, and on the way
back turns ∂J/∂a into ∂J/∂z (δ), its own dW and db, and ∂J/∂x for the layer below; the loss object
starts the backward pass with ∂J/∂a⁽ᴸ⁾. The layout is the contract's (a sample per row, W of shape
(n_out, n_in) like torch.nn.Linear), and each layer's gradients come back as a dict {"dW", "db"}.

The module-level `gradients` builds a `Network` from the parameters, runs it forward and backward,
and returns what the layers hold: that is all `manual-bp check` needs. Implemented: identity,
sigmoid, tanh, relu, leaky_relu and softmax layers; half_sse, mse and cross_entropy (on logits)
losses; any other name raises NotImplementedError, so the check covers exactly these.

`buggy.py` beside it gets the softmax layer's backward pass wrong.
"""

import numpy as np


class Identity:
    def forward(self, z):
        return z

    def backward(self, grad):
        return grad


class Sigmoid:
    def forward(self, z):
        self.a = 1 / (1 + np.exp(-z))
        return self.a

    def backward(self, grad):
        return grad * self.a * (1 - self.a)               # σ′ = σ(1 − σ)


class Tanh:
    def forward(self, z):
        self.a = np.tanh(z)
        return self.a

    def backward(self, grad):
        return grad * (1 - self.a ** 2)                   # tanh′ = 1 − tanh²


class ReLU:
    def forward(self, z):
        self.z = z
        return np.maximum(z, 0)

    def backward(self, grad):
        return grad * (self.z > 0)                         # relu′(0) = 0


class LeakyReLU:
    slope = 0.01

    def forward(self, z):
        self.z = z
        return np.where(z > 0, z, self.slope * z)

    def backward(self, grad):
        return np.where(self.z > 0, grad, self.slope * grad)   # leaky_relu′(0) = 0.01


class Softmax:
    def forward(self, z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        self.s = e / e.sum(axis=1, keepdims=True)
        return self.s

    def backward(self, grad):
        # each row's Jacobian is diag(s) − s sᵀ, so ∂J/∂z = s ⊙ (g − ⟨g, s⟩)
        return self.s * (grad - np.sum(grad * self.s, axis=1, keepdims=True))


class HalfSSE:
    """J = (1/B) Σ_b ½‖a_b − y_b‖²."""

    def forward(self, a, y):
        self.diff = a - y
        return 0.5 * np.sum(self.diff ** 2) / len(a)

    def backward(self):
        return self.diff / len(self.diff)


class MSE:
    """J = mean of (a − y)² over every entry."""

    def forward(self, a, y):
        self.diff = a - y
        return np.mean(self.diff ** 2)

    def backward(self):
        return 2 * self.diff / self.diff.size


class CrossEntropy:
    """J = −(1/B) Σ_b Σ_j y_bj log softmax(a_b)_j, on logits a."""

    def forward(self, a, y):
        shifted = a - a.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.p, self.y = np.exp(log_p), y
        return -np.sum(y * log_p) / len(a)

    def backward(self):
        return (self.p - self.y) / len(self.y)


ACTIVATIONS = {"identity": Identity, "sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU,
               "leaky_relu": LeakyReLU, "softmax": Softmax}
LOSSES = {"half_sse": HalfSSE, "mse": MSE, "cross_entropy": CrossEntropy}


def lookup(table, name):
    if name not in table:
        raise NotImplementedError(f"{name} is not implemented (only {', '.join(table)})")
    return table[name]


class Dense:
    def __init__(self, W, b, activation):
        self.W, self.b = W, b
        self.activation = lookup(ACTIVATIONS, activation)()

    def forward(self, x):
        self.x = x
        return self.activation.forward(x @ self.W.T + self.b)

    def backward(self, grad):
        delta = self.activation.backward(grad)             # δ = ∂J/∂z
        self.dW = delta.T @ self.x                         # ∂J/∂W = δᵀ x, summed over the batch
        self.db = delta.sum(axis=0)
        return delta @ self.W                              # ∂J/∂x, for the layer below


class Network:
    def __init__(self, params, activations, loss):
        self.layers = [Dense(W, b, name) for (W, b), name in zip(params, activations, strict=True)]
        self.loss = lookup(LOSSES, loss)()

    def forward(self, x, y):
        a = x
        for layer in self.layers:
            a = layer.forward(a)
        return self.loss.forward(a, y)

    def backward(self):
        grad = self.loss.backward()
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return [{"dW": layer.dW, "db": layer.db} for layer in self.layers]


def gradients(params, x, y, activations, loss):
    net = Network(params, activations, loss)
    net.forward(x, y)
    return net.backward()
