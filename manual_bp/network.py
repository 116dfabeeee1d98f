"""The seed's backpropagation for a dense network, written by hand.

Layer l = 1..L, one sample per row of a batch (so W⁽ˡ⁾ a⁽ˡ⁻¹⁾ is written ``a @ W.T``):

    z⁽ˡ⁾ = W⁽ˡ⁾ a⁽ˡ⁻¹⁾ + b⁽ˡ⁾,   a⁽ˡ⁾ = σ_l(z⁽ˡ⁾),   a⁽⁰⁾ = x                  (forward)

    δ⁽ᴸ⁾ = ∂J/∂a⁽ᴸ⁾ ⊙ σ′(z⁽ᴸ⁾)            — for the seed's loss, (a⁽ᴸ⁾ − y) ⊙ σ′(z⁽ᴸ⁾)
    δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀ δ⁽ˡ⁺¹⁾ ⊙ σ′(z⁽ˡ⁾)     for l = L−1 .. 1                    (backward)
    ∂J/∂W⁽ˡ⁾ = δ⁽ˡ⁾ (a⁽ˡ⁻¹⁾)ᵀ,   ∂J/∂b⁽ˡ⁾ = δ⁽ˡ⁾, each summed over the batch

Here δ⁽ˡ⁾ = ∂J/∂z⁽ˡ⁾ of the batch cost J, so it already carries the loss's reduction (the 1/B of a
batch mean): summing the per-sample outer products over the batch then gives ∂J/∂W⁽ˡ⁾ exactly.
A softmax layer replaces "⊙ σ′(z)" by its Jacobian-vector product (see ``activations``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from manual_bp import _validate
from manual_bp import activations as _act
from manual_bp import losses as _loss

Array = np.ndarray
Params = list[tuple[Array, Array]]


class Trace(NamedTuple):
    """What the forward pass records: ``zs[l-1]`` = z⁽ˡ⁾ and ``activations[l]`` = a⁽ˡ⁾ (a⁽⁰⁾ = x)."""

    zs: list[Array]
    activations: list[Array]


class Backward(NamedTuple):
    """What the backward pass computes.

    ``deltas[l-1]`` = δ⁽ˡ⁾ (B, n_l) and ``grads[l-1]`` = (∂J/∂W⁽ˡ⁾, ∂J/∂b⁽ˡ⁾).
    """

    deltas: list[Array]
    grads: list[tuple[Array, Array]]


def _forward(params: Params, x: Array, activations: list[str]) -> Trace:
    a = x
    zs, acts = [], [x]
    for (W, b), name in zip(params, activations, strict=True):
        z = a @ W.T
        z += b                               # z⁽ˡ⁾ = W⁽ˡ⁾ a⁽ˡ⁻¹⁾ + b⁽ˡ⁾ (+ b in place: one temporary fewer)
        a = _act.ACTIVATIONS[name].value(z)  # a⁽ˡ⁾ = σ(z⁽ˡ⁾)
        zs.append(z)
        acts.append(a)
    return Trace(zs, acts)


def _backward(params: Params, trace: Trace, y: Array, activations: list[str], loss: str) -> Backward:
    L = len(params)
    deltas: list[Array] = [np.empty(0)] * L
    grads: list[tuple[Array, Array]] = [(np.empty(0), np.empty(0))] * L
    g = _loss.LOSSES[loss].gradient(trace.activations[L], y)  # ∂J/∂a⁽ᴸ⁾
    for l in range(L, 0, -1):
        W, _ = params[l - 1]
        z, a, a_prev = trace.zs[l - 1], trace.activations[l], trace.activations[l - 1]
        delta = _act.ACTIVATIONS[activations[l - 1]].delta(z, a, g)     # δ⁽ˡ⁾ = g ⊙ σ′(z⁽ˡ⁾)
        dW = delta.T @ a_prev                                           # ∂J/∂W⁽ˡ⁾ = δ⁽ˡ⁾ (a⁽ˡ⁻¹⁾)ᵀ
        db = delta.sum(axis=0)                                          # ∂J/∂b⁽ˡ⁾ = δ⁽ˡ⁾
        deltas[l - 1], grads[l - 1] = delta, (dW, db)
        if l > 1:
            g = delta @ W                                               # (W⁽ˡ⁾)ᵀ δ⁽ˡ⁾ = ∂J/∂a⁽ˡ⁻¹⁾
    return Backward(deltas, grads)


def forward(params: Params, x: Array, activations: list[str]) -> Trace:
    """The forward pass: z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾ and a⁽ˡ⁾ = σ(z⁽ˡ⁾) for l = 1..L, recorded.

    x: (B, n₀); W⁽ˡ⁾: (n_l, n_{l−1}); b⁽ˡ⁾: (n_l,). Returns ``Trace(zs, activations)`` with
    z⁽ˡ⁾ and a⁽ˡ⁾ of shape (B, n_l), and a⁽⁰⁾ = x first in ``activations``.
    """
    p = _validate.check_params(params)
    acts = _validate.check_activations(activations, len(p))
    xx = _validate.check_x(x, p)
    _validate.check_same_dtype(p, xx)
    return _forward(p, xx, acts)


def backward(params: Params, x: Array, y: Array, activations: list[str], loss: str) -> Backward:
    """Forward, then the seed's backward recursion; returns every δ⁽ˡ⁾ and every gradient.

    δ⁽ᴸ⁾ = ∂J/∂a⁽ᴸ⁾ ⊙ σ′(z⁽ᴸ⁾) and δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ σ′(z⁽ˡ⁾), each of shape (B, n_l) and
    equal to ∂J/∂z⁽ˡ⁾ of the batch cost; grads as in :func:`gradients`.
    """
    p, xx, yy, acts, name = _validate.check_call(params, x, y, activations, loss)
    return _backward(p, _forward(p, xx, acts), yy, acts, name)


def gradients(
    params: Params, x: Array, y: Array, activations: list[str], loss: str
) -> list[tuple[Array, Array]]:
    """∂J/∂W⁽ˡ⁾ and ∂J/∂b⁽ˡ⁾ for every layer, layer 1 first: the contract's gradient function.

    ∂J/∂W⁽ˡ⁾ = Σ_b δ⁽ˡ⁾_b (a⁽ˡ⁻¹⁾_b)ᵀ with the shape of W⁽ˡ⁾ (n_l, n_{l−1}), ∂J/∂b⁽ˡ⁾ = Σ_b δ⁽ˡ⁾_b with
    the shape of b⁽ˡ⁾, in the dtype of the inputs (float32 or float64). Pure: the arguments are not
    modified and nothing is kept between calls.
    """
    return backward(params, x, y, activations, loss).grads


def loss_value(params: Params, x: Array, y: Array, activations: list[str], loss: str) -> float:
    """The batch cost J (see ``manual_bp.losses``) of the network's output a⁽ᴸ⁾ against y."""
    p, xx, yy, acts, name = _validate.check_call(params, x, y, activations, loss)
    return _loss.LOSSES[name].value(_forward(p, xx, acts).activations[-1], yy)
