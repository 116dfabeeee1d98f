"""Loss layers: ``NAME(x, y) -> (loss, dx)``, the scalar cost of a batch beside its gradient.

The 6 losses of the contract, by name, with ``manual_bp.losses``' definitions and maths (reused):
x (N, D) are the predictions (logits for the two cross-entropies), y (N, D) the targets.

| name | J | dx = ∂J/∂x |
|---|---|---|
| half_sse | (1/N) Σ_n ½‖x_n − y_n‖² | (x − y)/N |
| mse | mean over the N·D entries of (x − y)² | 2(x − y)/(N D) |
| cross_entropy | −(1/N) Σ_n Σ_j y_nj log softmax(x_n)_j (rows of y: probabilities) | (softmax(x_n) Σ_j y_nj − y_n)/N |
| binary_cross_entropy | mean of softplus(x) − x y, y ∈ [0, 1] | (sigmoid(x) − y)/(N D) |
| huber | mean of ½r² if \\|r\\| ≤ 1 else \\|r\\| − ½, r = x − y | clip(r, −1, 1)/(N D) |
| l1 | mean of \\|x − y\\| | sign(x − y)/(N D), sign(0) = 0 |

And the two classic integer-label forms of CS231n, y (N,) an int array of class indices:

| name | J | dx |
|---|---|---|
| softmax_loss | −(1/N) Σ_n log softmax(x_n)_{y_n} | (softmax(x_n) − e_{y_n})/N |
| svm_loss | (1/N) Σ_n Σ_{j≠y_n} max(0, m_nj), m_nj = x_nj − x_ny_n + 1 | 1[m_nj > 0]/N; at y_n: −#{j: m_nj > 0}/N |

svm_loss's margin m_nj = x_nj − x_ny_n + 1 counts only when strictly positive: at m_nj = 0 exactly the
subgradient taken is 0 (``torch.nn.functional.multi_margin_loss``'s choice, like relu′(0) = 0).

The loss is returned as a NumPy scalar of x's dtype, dx as an array of x's shape and dtype.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from manual_bp import losses as _losses
from manual_bp.layers import _validate as v

Array = np.ndarray
LossLayer = Callable[[Array, Array], tuple[np.floating, Array]]


def _check_targets(name: str, x: Array, y: Array) -> None:
    if name == "binary_cross_entropy" and (np.any(y < 0) or np.any(y > 1)):
        raise ValueError(f"y must lie in [0, 1] for binary_cross_entropy, got values in [{y.min()}, {y.max()}]")
    if name == "cross_entropy":
        if np.any(y < 0):
            raise ValueError(f"y must be probability rows (≥ 0) for cross_entropy, got min {y.min()}")
        worst = float(np.max(np.abs(y.astype(np.float64).sum(axis=1) - 1)))
        slack = np.sqrt(np.finfo(y.dtype).eps) * y.shape[1]
        if worst > slack:
            raise ValueError(f"y rows must sum to 1 for cross_entropy (probability targets), got a row off by "
                             f"{worst:.3g} (allowed {slack:.2g})")


def _loss(name: str) -> LossLayer:
    """The layer function of the contract's loss ``name`` (manual_bp.losses)."""
    loss = _losses.get(name)

    def layer(x: Array, y: Array) -> tuple[np.floating, Array]:
        x = v.array("x", x, 2, dims="(N, D)")
        y = v.like("y", y, "x", x, x.shape)
        _check_targets(name, x, y)
        return x.dtype.type(loss.value(x, y)), loss.gradient(x, y)

    layer.__name__ = layer.__qualname__ = name
    layer.__module__ = __name__
    layer.__doc__ = (f"The contract's {name} loss of x (N, D) against targets y (N, D): (J, ∂J/∂x), "
                     f"definitions in manual_bp.layers.loss's table.")
    return layer


half_sse = _loss("half_sse")
mse = _loss("mse")
cross_entropy = _loss("cross_entropy")
binary_cross_entropy = _loss("binary_cross_entropy")
huber = _loss("huber")
l1 = _loss("l1")


def _labels(x: Array, y: Array) -> tuple[Array, Array]:
    x = v.array("x", x, 2, dims="(N, C)")
    return x, v.labels("y", y, x.shape[0], x.shape[1])


def softmax_loss(x: Array, y: Array) -> tuple[np.floating, Array]:
    """J = −(1/N) Σ_n log softmax(x_n)_{y_n},  dx = (softmax(x) − onehot(y))/N.

    x (N, C) logits, y (N,) integer class indices. The contract's cross_entropy with one-hot targets.
    """
    x, y = _labels(x, y)
    onehot = np.zeros_like(x)
    onehot[np.arange(x.shape[0]), y] = 1
    ce = _losses.get("cross_entropy")
    return x.dtype.type(ce.value(x, onehot)), ce.gradient(x, onehot)


def svm_loss(x: Array, y: Array) -> tuple[np.floating, Array]:
    """The multiclass hinge with margin 1, averaged over the batch:

        m_nj = x_nj − x_ny_n + 1,   J = (1/N) Σ_n Σ_{j≠y_n} max(0, m_nj),
        dx_nj = 1[m_nj > 0]/N (j ≠ y_n),   dx_ny_n = −(1/N) Σ_{j≠y_n} 1[m_nj > 0].

    x (N, C) scores, y (N,) integer class indices. At m_nj = 0 exactly the margin does not count
    (subgradient 0, as torch's multi_margin_loss).
    """
    x, y = _labels(x, y)
    n = x.shape[0]
    rows = np.arange(n)
    margins = x - x[rows, y][:, None] + 1   # m_nj = x_nj − x_ny + 1
    margins[rows, y] = 0                     # the correct class is not its own margin
    positive = margins > 0
    loss = np.sum(margins[positive]) / n
    dx = positive.astype(x.dtype) / n        # ∂J/∂x_nj = 1[m_nj > 0]/N
    dx[rows, y] = -positive.sum(axis=1) / n  # ∂J/∂x_ny = −#{j: m_nj > 0}/N
    return x.dtype.type(loss), dx
