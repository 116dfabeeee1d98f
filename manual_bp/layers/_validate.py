"""Validation at the boundary of the layer functions: a ValueError or TypeError that names the
argument, says what was given and what was expected. Never a bare NumPy broadcasting error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np

Array = np.ndarray
T = TypeVar("T")
_FLOAT_CHARS = frozenset("fd")  # float32, float64


def array(name: str, value: Any, ndim: int | None = None, *, min_ndim: int = 1, dims: str = "") -> Array:
    """``value`` as a finite float32/float64 array with ``ndim`` (or ≥ ``min_ndim``) dimensions.

    ``dims`` names the axes for the message, e.g. "(N, C, H, W)"."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(value).__name__}")
    if value.dtype.char not in _FLOAT_CHARS:
        raise TypeError(f"{name} must have dtype float32 or float64, got {value.dtype}")
    if (ndim is not None and value.ndim != ndim) or value.ndim < min_ndim:
        want = f"{ndim}" if ndim is not None else f"at least {min_ndim}"
        raise ValueError(f"{name} must have {want} dimension(s) {dims}, got shape {value.shape}".replace("  ", " "))
    if 0 in value.shape:
        raise ValueError(f"{name} must not be empty, got shape {value.shape}")
    if not np.isfinite(value).all():
        bad = int(value.size - np.count_nonzero(np.isfinite(value)))
        raise ValueError(f"{name} must be finite, got {bad} non-finite value(s) (NaN or inf)")
    return value


def like(name: str, value: Any, ref_name: str, ref: Array, shape: tuple[int, ...]) -> Array:
    """A finite array of exactly ``shape`` and of ``ref``'s dtype."""
    value = array(name, value, len(shape), min_ndim=0)
    if value.shape != shape:
        raise ValueError(f"{name} must have shape {shape} to match {ref_name} of shape {ref.shape}, got {value.shape}")
    if value.dtype != ref.dtype:
        raise TypeError(f"{name} must have {ref_name}'s dtype {ref.dtype}, got {value.dtype}")
    return value


def labels(name: str, value: Any, n: int, classes: int) -> Array:
    """Integer class indices of shape (n,), each in [0, classes)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of integer class indices, got {type(value).__name__}")
    if value.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class indices, got dtype {value.dtype}")
    if value.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one class index per row of x, got {value.shape}")
    if n and (value.min() < 0 or value.max() >= classes):
        raise ValueError(f"{name} must hold class indices in [0, {classes}), got values in "
                         f"[{value.min()}, {value.max()}]")
    return value


def mapping(name: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict, got {type(value).__name__}")
    return value


def integer(where: str, params: Mapping[str, Any], key: str, *, low: int, default: int | None = None) -> int:
    """params[key] as an int ≥ ``low``; ``where`` names the dict in messages."""
    if key not in params:
        if default is not None:
            return default
        raise ValueError(f"{where} must have the key {key!r}, got keys {sorted(params)}")
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where}[{key!r}] must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"{where}[{key!r}] must be ≥ {low}, got {value}")
    return int(value)


def real(where: str, params: Mapping[str, Any], key: str, *, default: float | None = None,
         low: float = -np.inf, high: float = np.inf, low_open: bool = False) -> float:
    """params[key] as a finite float in [low, high] (or (low, high] with ``low_open``)."""
    if key not in params:
        if default is not None:
            return default
        raise ValueError(f"{where} must have the key {key!r}, got keys {sorted(params)}")
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{where}[{key!r}] must be a number, got {value!r}")
    v = float(value)
    if not np.isfinite(v) or v > high or v < low or (low_open and v == low):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ValueError(f"{where}[{key!r}] must lie in {interval}, got {value!r}")
    return v


def mode(where: str, params: Mapping[str, Any]) -> str:
    value = params.get("mode", "train")
    if value not in ("train", "test"):
        raise ValueError(f"{where}['mode'] must be 'train' or 'test', got {value!r}")
    return str(value)


def dout(value: Any, out_shape: tuple[int, ...], dtype: np.dtype) -> Array:
    """The upstream gradient: the forward output's shape and dtype."""
    value = array("dout", value, len(out_shape), min_ndim=0)
    if value.shape != out_shape:
        raise ValueError(f"dout must have the forward output's shape {out_shape}, got {value.shape}")
    if value.dtype != dtype:
        raise TypeError(f"dout must have the forward output's dtype {dtype}, got {value.dtype}")
    return value


def cache(value: Any, cls: type[T], forward: str) -> T:
    """The cache made by ``forward``: an instance of its NamedTuple ``cls``."""
    if not isinstance(value, cls):
        raise TypeError(f"cache must be the cache returned by {forward}, a {cls.__name__}, got {type(value).__name__}")
    return value
