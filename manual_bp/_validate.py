"""Validation at the public boundary: every bad input gets a ValueError or TypeError that names the
argument, says what was given and what was expected. Never a bare NumPy broadcasting error, never a
silent broadcast."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from manual_bp import activations as _act
from manual_bp import losses as _loss

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


_FLOAT_CHARS = frozenset("fd")  # float32, float64: a char lookup is ~10× cheaper than comparing dtypes


def _name(label: str | tuple[str, int]) -> str:
    """"x", or ("W", l) → "params[l−1][0] (W⁽ˡ⁾)": formatted only for an error message."""
    if isinstance(label, str):
        return label
    kind, l = label
    return f"params[{l - 1}][{0 if kind == 'W' else 1}] ({kind}⁽{l}⁾)"


def _array(label: str | tuple[str, int], value: Any, ndim: int) -> np.ndarray:
    """``value`` as a finite float32/float64 array of ``ndim`` dimensions; ``label`` names it in errors."""
    if not (isinstance(value, np.ndarray) and value.ndim == ndim and value.dtype.char in _FLOAT_CHARS):
        _explain_array(_name(label), value, ndim)
    if not np.isfinite(value).all():
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        raise ValueError(f"{_name(label)} must be finite, got {bad} non-finite value(s) (NaN or inf)")
    return value


def _explain_array(name: str, value: Any, ndim: int) -> None:
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(value).__name__}")
    if value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {value.shape}")
    raise TypeError(f"{name} must have dtype float32 or float64, got {value.dtype}")


def check_params(params: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """params: a non-empty sequence of (W⁽ˡ⁾ (n_l, n_{l−1}), b⁽ˡ⁾ (n_l,)), layer 1 first."""
    if isinstance(params, (str, bytes, np.ndarray)) or not isinstance(params, Sequence):
        raise TypeError(f"params must be a list of (W, b) tuples, got {type(params).__name__}")
    if len(params) == 0:
        raise ValueError("params must hold at least one layer, got an empty list")
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for l, layer in enumerate(params, start=1):
        if not isinstance(layer, (tuple, list)) or len(layer) != 2:
            raise TypeError(f"params[{l - 1}] (layer {l}) must be a (W, b) pair, got {layer!r:.60}")
        W = _array(("W", l), layer[0], 2)
        b = _array(("b", l), layer[1], 1)
        if 0 in W.shape:
            raise ValueError(f"params[{l - 1}][0] (W⁽{l}⁾) has a zero width: shape {W.shape}")
        if b.shape != (W.shape[0],):
            raise ValueError(
                f"params[{l - 1}][1] (b⁽{l}⁾) must have shape ({W.shape[0]},) to match "
                f"W⁽{l}⁾ of shape {W.shape}, got {b.shape}"
            )
        if out and W.shape[1] != out[-1][0].shape[0]:
            raise ValueError(
                f"params[{l - 1}][0] (W⁽{l}⁾) must have {out[-1][0].shape[0]} columns to follow "
                f"W⁽{l - 1}⁾ of shape {out[-1][0].shape}, got shape {W.shape}"
            )
        out.append((W, b))
    return out


def check_activations(activations: Any, depth: int) -> list[str]:
    if isinstance(activations, (str, bytes)) or not isinstance(activations, Sequence):
        raise TypeError(
            f"activations must be a sequence of {depth} activation name(s), got {activations!r:.60}"
        )
    if len(activations) != depth:
        raise ValueError(
            f"activations must name one activation per layer: params has {depth} layer(s), "
            f"activations has {len(activations)}"
        )
    for l, name in enumerate(activations, start=1):
        if name not in _act.ACTIVATIONS:
            raise ValueError(
                f"activations[{l - 1}] (layer {l}) is {name!r}; expected one of "
                f"{', '.join(_act.ACTIVATION_NAMES)}"
            )
    return list(activations)


def check_loss(loss: Any) -> str:
    if not isinstance(loss, str) or loss not in _loss.LOSSES:
        raise ValueError(f"loss is {loss!r}; expected one of {', '.join(_loss.LOSS_NAMES)}")
    return loss


def check_x(x: Any, params: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    x = _array("x", x, 2)
    if x.shape[0] == 0:
        raise ValueError(f"x is an empty batch: shape {x.shape}; expected at least one row")
    n0 = params[0][0].shape[1]
    if x.shape[1] != n0:
        raise ValueError(f"x must have shape (B, {n0}) to match W⁽¹⁾ of shape "
                         f"{params[0][0].shape}, got {x.shape}")
    return x


def check_y(y: Any, x: np.ndarray, params: list[tuple[np.ndarray, np.ndarray]], loss: str) -> np.ndarray:
    y = _array("y", y, 2)
    expected = (x.shape[0], params[-1][0].shape[0])
    if y.shape != expected:
        raise ValueError(f"y must have shape {expected} (B, n_L), got {y.shape}")
    if loss == "binary_cross_entropy" and (np.any(y < 0) or np.any(y > 1)):
        raise ValueError(
            f"y must lie in [0, 1] for binary_cross_entropy, got values in [{y.min()}, {y.max()}]"
        )
    if loss == "cross_entropy":
        if np.any(y < 0):
            raise ValueError(f"y must be probability rows (≥ 0) for cross_entropy, got min {y.min()}")
        sums = y.astype(np.float64).sum(axis=1)
        slack = np.sqrt(np.finfo(y.dtype).eps) * max(1, y.shape[1])
        worst = float(np.max(np.abs(sums - 1)))
        if worst > slack:
            raise ValueError(
                f"y rows must sum to 1 for cross_entropy (probability targets), got a row summing "
                f"to {1 + worst if worst else 1:.6g} (allowed |Σ − 1| ≤ {slack:.2g})"
            )
    return y


def check_same_dtype(params: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray,
                     y: np.ndarray | None = None) -> np.dtype:
    dt = x.dtype
    for l, (W, b) in enumerate(params, start=1):
        if W.dtype != dt or b.dtype != dt:
            name, arr = (f"W⁽{l}⁾", W) if W.dtype != dt else (f"b⁽{l}⁾", b)
            raise TypeError(f"all arrays must share one dtype: x is {dt}, {name} is {arr.dtype}")
    if y is not None and y.dtype != dt:
        raise TypeError(f"all arrays must share one dtype: x is {dt}, y is {y.dtype}")
    return dt


def check_call(params: Any, x: Any, y: Any, activations: Any, loss: Any) -> tuple[
        list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray, list[str], str]:
    """Validate a full ``gradients`` call; returns the arguments as typed values."""
    p = check_params(params)
    acts = check_activations(activations, len(p))
    name = check_loss(loss)
    xx = check_x(x, p)
    yy = _array("y", y, 2)
    check_same_dtype(p, xx, yy)
    yy = check_y(yy, xx, p, name)
    return p, xx, yy, acts, name
