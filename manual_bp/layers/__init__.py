"""Layers written by hand in NumPy, forward beside backward, in the CS231n API that most NumPy courses use.

Every ``*_forward`` returns ``(out, cache)``; every ``*_backward(dout, cache)`` returns the gradients
of ⟨dout, out⟩ with respect to the forward's array inputs, in their order. Loss layers return
``(loss, dx)`` at once. Arrays are float32 or float64, one dtype per call, and every result has it.
Bad inputs raise ValueError/TypeError naming the argument, what was given and what was expected.

| kind (``LAYER_KINDS``) | functions | inputs → gradients |
|---|---|---|
| ``affine`` | ``affine_forward(x, w, b)``, ``affine_backward`` | x (N, d₁…d_k), w (D, M), b (M,) → dx, dw, db |
| each activation NAME (11) | ``NAME_forward(x)``, ``NAME_backward`` | x (N, …) → dx (softmax: last axis) |
| each loss NAME (6) | ``NAME(x, y) -> (loss, dx)`` | x, y (N, D) → dx |
| ``softmax_loss``, ``svm_loss`` | ``NAME(x, y) -> (loss, dx)`` | x (N, C), y (N,) int labels → dx |
| ``conv2d`` | ``conv_forward_naive(x, w, b, conv_param)``, ``conv_backward_naive`` (and ``_fast``) | → dx, dw, db |
| ``max_pool`` | ``max_pool_forward_naive(x, pool_param)``, ``max_pool_backward_naive`` | x (N, C, H, W) → dx |
| ``batchnorm`` | ``batchnorm_forward(x, gamma, beta, bn_param)``, ``batchnorm_backward`` | → dx, dgamma, dbeta |
| ``layernorm`` | ``layernorm_forward(x, gamma, beta, ln_param)``, ``layernorm_backward`` | → dx, dgamma, dbeta |
| ``dropout`` | ``dropout_forward(x, dropout_param)`` or ``_masked(x, mask, p)``, ``dropout_backward`` | → dx |

Equations, shapes and conventions at non-smooth points (relu′(0) = 0, the first maximum of a max-pool
window takes a tie, svm margins count only when > 0, zero variance gives x̂ = 0) are in each module's
docstring. This package imports NumPy and manual_bp's own maths only.
"""

from manual_bp.activations import ACTIVATION_NAMES as _ACTIVATIONS
from manual_bp.layers.activation import (
    elu_backward,
    elu_forward,
    gelu_backward,
    gelu_forward,
    gelu_tanh_backward,
    gelu_tanh_forward,
    identity_backward,
    identity_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    silu_backward,
    silu_forward,
    softmax_backward,
    softmax_forward,
    softplus_backward,
    softplus_forward,
    tanh_backward,
    tanh_forward,
)
from manual_bp.layers.affine import affine_backward, affine_forward
from manual_bp.layers.conv import conv_backward_fast, conv_backward_naive, conv_forward_fast, conv_forward_naive
from manual_bp.layers.dropout import dropout_backward, dropout_forward, dropout_forward_masked
from manual_bp.layers.loss import (
    binary_cross_entropy,
    cross_entropy,
    half_sse,
    huber,
    l1,
    mse,
    softmax_loss,
    svm_loss,
)
from manual_bp.layers.norm import batchnorm_backward, batchnorm_forward, layernorm_backward, layernorm_forward
from manual_bp.layers.pool import max_pool_backward_naive, max_pool_forward_naive
from manual_bp.losses import LOSS_NAMES as _LOSSES

# The kinds `manual-bp check-layer` checks. references.layers keeps its own copy (an oracle shares
# names with its subject, never code); tests/test_layers.py checks that the two agree.
LAYER_KINDS: tuple[str, ...] = (
    ("affine",) + _ACTIVATIONS + _LOSSES
    + ("softmax_loss", "svm_loss", "conv2d", "max_pool", "batchnorm", "layernorm", "dropout")
)

__all__ = [
    "LAYER_KINDS", "affine_backward", "affine_forward", "batchnorm_backward", "batchnorm_forward",
    "binary_cross_entropy", "conv_backward_fast", "conv_backward_naive", "conv_forward_fast", "conv_forward_naive",
    "cross_entropy", "dropout_backward", "dropout_forward", "dropout_forward_masked", "elu_backward", "elu_forward",
    "gelu_backward", "gelu_forward", "gelu_tanh_backward", "gelu_tanh_forward", "half_sse", "huber",
    "identity_backward", "identity_forward", "l1", "layernorm_backward", "layernorm_forward", "leaky_relu_backward",
    "leaky_relu_forward", "max_pool_backward_naive", "max_pool_forward_naive", "mse", "relu_backward",
    "relu_forward", "sigmoid_backward", "sigmoid_forward", "silu_backward", "silu_forward", "softmax_backward",
    "softmax_forward", "softmax_loss", "softplus_backward", "softplus_forward", "svm_loss", "tanh_backward",
    "tanh_forward",
]
