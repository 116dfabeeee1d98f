"""The 6 losses of the contract: each cost J of a batch beside its gradient ∂J/∂a⁽ᴸ⁾.

``a`` is the network output a⁽ᴸ⁾ of shape (B, n_L) and ``y`` the targets of the same shape. The
reduction is part of each definition, and it travels into every δ⁽ˡ⁾ through ∂J/∂a⁽ᴸ⁾:

| name | J | ∂J/∂a⁽ᴸ⁾ |
|---|---|---|
| half_sse | (1/B) Σ_b ½‖a_b − y_b‖² (the seed's loss, batch-averaged) | (a − y)/B |
| mse | (1/(B n_L)) Σ (a − y)² | 2(a − y)/(B n_L) |
| cross_entropy | −(1/B) Σ_b Σ_j y_bj log softmax(a_b)_j | (softmax(a_b) Σ_j y_bj − y_b)/B |
| binary_cross_entropy | (1/(B n_L)) Σ softplus(a) − a y | (sigmoid(a) − y)/(B n_L) |
| huber | (1/(B n_L)) Σ ½r² if |r| ≤ 1 else |r| − ½, r = a − y | clip(r, −1, 1)/(B n_L) |
| l1 | (1/(B n_L)) Σ |r| | sign(r)/(B n_L), sign(0) = 0 |

Cross-entropy and binary cross-entropy take logits: they use log-sum-exp and the logits form, so
neither overflows for any finite a.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from manual_bp.activations import _sigmoid, _softplus

Array = np.ndarray


class Loss(NamedTuple):
    name: str
    value: Callable[[Array, Array], float]
    gradient: Callable[[Array, Array], Array]


# half_sse: J = (1/B) Σ ½‖a − y‖², ∂J/∂a = (a − y)/B
def _half_sse(a: Array, y: Array) -> float:
    r = a - y
    return float(0.5 * np.sum(r * r) / a.shape[0])


def _half_sse_grad(a: Array, y: Array) -> Array:
    r = a - y
    r /= a.shape[0]  # (a − y)/B, divided in place: one temporary fewer
    return r


# mse: J = mean (a − y)², ∂J/∂a = 2(a − y)/N
def _mse(a: Array, y: Array) -> float:
    r = a - y
    return float(np.mean(r * r))


def _mse_grad(a: Array, y: Array) -> Array:
    return 2 * (a - y) / a.size


# cross_entropy on logits: log softmax(a)_j = a_j − logsumexp(a)
def _log_softmax(a: Array) -> Array:
    shifted = a - a.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _cross_entropy(a: Array, y: Array) -> float:
    return float(-np.sum(y * _log_softmax(a)) / a.shape[0])


def _cross_entropy_grad(a: Array, y: Array) -> Array:
    # ∂/∂a_k [−Σ_j y_j (a_j − lse a)] = softmax(a)_k Σ_j y_j − y_k; equals softmax − y when Σ y = 1
    p = np.exp(_log_softmax(a))
    return (p * y.sum(axis=1, keepdims=True) - y) / a.shape[0]


# binary_cross_entropy on logits: −[y log σ(a) + (1 − y) log(1 − σ(a))] = softplus(a) − a y
def _bce(a: Array, y: Array) -> float:
    return float(np.mean(_softplus(a) - a * y))


def _bce_grad(a: Array, y: Array) -> Array:
    return (_sigmoid(a) - y) / a.size


# huber (δ = 1): ½r² if |r| ≤ 1 else |r| − ½; ∂/∂r = clip(r, −1, 1)
def _huber(a: Array, y: Array) -> float:
    r = a - y
    return float(np.mean(np.where(np.abs(r) <= 1, 0.5 * r * r, np.abs(r) - 0.5)))


def _huber_grad(a: Array, y: Array) -> Array:
    return np.clip(a - y, -1, 1) / a.size


# l1: |r|; ∂/∂r = sign(r), with sign(0) = 0 (PyTorch's subgradient)
def _l1(a: Array, y: Array) -> float:
    return float(np.mean(np.abs(a - y)))


def _l1_grad(a: Array, y: Array) -> Array:
    return np.sign(a - y) / a.size


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("half_sse", _half_sse, _half_sse_grad),
        Loss("mse", _mse, _mse_grad),
        Loss("cross_entropy", _cross_entropy, _cross_entropy_grad),
        Loss("binary_cross_entropy", _bce, _bce_grad),
        Loss("huber", _huber, _huber_grad),
        Loss("l1", _l1, _l1_grad),
    )
}

LOSS_NAMES: tuple[str, ...] = tuple(LOSSES)


def get(name: str) -> Loss:
    """The loss called ``name``; a ``ValueError`` listing the valid names otherwise."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown loss {name!r}; expected one of {', '.join(LOSS_NAMES)}") from None
