"""Gradient descent on every W⁽ˡ⁾ and b⁽ˡ⁾, exactly as ``torch.optim.SGD``.

Without momentum:  p ← p − η g
With momentum μ:   buf ← μ buf + g  (buf = g on the first step),   p ← p − η buf
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from manual_bp import _validate
from manual_bp.network import Params, gradients, loss_value

Array = np.ndarray


def sgd(
    params: Params,
    grads: list[tuple[Array, Array]],
    *,
    lr: float,
    momentum: float = 0.0,
    buffers: list[tuple[Array, Array]] | None = None,
) -> tuple[Params, list[tuple[Array, Array]] | None]:
    """One SGD step; returns ``(new_params, new_buffers)`` and modifies nothing in place.

    ``buffers`` is None on the first step (buf = g then); pass back what the previous step returned.
    Without momentum, no buffer is kept and None is returned for it.
    """
    p = _validate.check_params(params)
    if not isinstance(lr, (int, float)) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if not isinstance(momentum, (int, float)) or not 0 <= momentum < 1:
        raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
    if len(grads) != len(p):
        raise ValueError(f"grads must have one (dW, db) per layer: {len(p)} expected, got {len(grads)}")
    for l, ((W, b), (dW, db)) in enumerate(zip(p, grads, strict=True), start=1):
        if np.shape(dW) != W.shape or np.shape(db) != b.shape:
            raise ValueError(
                f"grads[{l - 1}] must have the shapes of layer {l}: {W.shape} and {b.shape}, "
                f"got {np.shape(dW)} and {np.shape(db)}"
            )
    if momentum == 0:
        return [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(p, grads, strict=True)], None
    if buffers is None:
        new_buf = [(dW.copy(), db.copy()) for dW, db in grads]  # buf = g on the first step
    else:
        new_buf = [(momentum * bW + dW, momentum * bb + db)      # buf ← μ buf + g
                   for (bW, bb), (dW, db) in zip(buffers, grads, strict=True)]
    new_params = [(W - lr * bW, b - lr * bb)                     # p ← p − η buf
                  for (W, b), (bW, bb) in zip(p, new_buf, strict=True)]
    return new_params, new_buf


class TrainResult(NamedTuple):
    params: Params
    losses: list[float]  # J before each step, then J after the last step (steps + 1 values)


def train(
    params: Params,
    x: Array,
    y: Array,
    activations: list[str],
    loss: str,
    *,
    lr: float,
    steps: int,
    momentum: float = 0.0,
) -> TrainResult:
    """Full-batch gradient descent: ``steps`` times, backprop then one :func:`sgd` step on every layer."""
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an integer ≥ 0, got {steps!r}")
    buffers = None
    losses = []
    for _ in range(steps):
        losses.append(loss_value(params, x, y, activations, loss))
        grads = gradients(params, x, y, activations, loss)
        params, buffers = sgd(params, grads, lr=lr, momentum=momentum, buffers=buffers)
    losses.append(loss_value(params, x, y, activations, loss))
    return TrainResult(params, losses)
