"""The contract's names, and the checks every reference applies to its arguments at the boundary.

A network is params = [(W⁽¹⁾, b⁽¹⁾), ..., (W⁽ᴸ⁾, b⁽ᴸ⁾)] with W⁽ˡ⁾ of shape (n_l, n_{l-1}) and b⁽ˡ⁾ of
shape (n_l,); x is (B, n₀) and y is (B, n_L); every array shares one dtype, float32 or float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

ACTIVATIONS: tuple[str, ...] = (
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "softplus",
    "gelu",
    "gelu_tanh",
    "silu",
    "softmax",
)
LOSSES: tuple[str, ...] = (
    "half_sse",
    "mse",
    "cross_entropy",
    "binary_cross_entropy",
    "huber",
    "l1",
)
BACKENDS: tuple[str, ...] = ("torch", "jax", "finite_diff", "ground_truth")
DEVICES: tuple[str, ...] = ("cpu", "cuda")
DTYPES: tuple[np.dtype[Any], ...] = (np.dtype(np.float32), np.dtype(np.float64))

Params = list[tuple[np.ndarray, np.ndarray]]
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _named(symbol: str, l: int) -> str:
    """The seed's name of a layer's array: W⁽ˡ⁾, b⁽ˡ⁾ with l as superscript digits."""
    return f"{symbol}⁽{str(l).translate(_SUPERSCRIPT)}⁾"


class Problem(NamedTuple):
    """A validated call: the arrays as NumPy arrays (not copied) and the names as tuples."""

    params: Params
    x: np.ndarray
    y: np.ndarray
    activations: tuple[str, ...]
    loss: str

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.x.dtype

    @property
    def widths(self) -> tuple[int, ...]:
        return (self.x.shape[1], *(W.shape[0] for W, _ in self.params))


def check_name(kind: str, name: object, valid: tuple[str, ...]) -> str:
    """Return ``name`` if it is one of ``valid``, else raise ValueError listing the valid names."""
    if not isinstance(name, str) or name not in valid:
        raise ValueError(f"unknown {kind} {name!r}; valid: {', '.join(valid)}")
    return name


def check_backend(backend: object) -> str:
    return check_name("backend", backend, BACKENDS)


def check_device(device: object) -> str:
    return check_name("device", device, DEVICES)


def _array(name: str, value: object, ndim: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D; got shape {arr.shape}")
    return arr


def check_problem(
    params: Sequence[tuple[Any, Any]],
    x: Any,
    y: Any,
    activations: Sequence[str],
    loss: str,
) -> Problem:
    """Check shapes, dtypes and names against the contract; raise ValueError/TypeError that name
    the offending argument, what it is and what was expected."""
    if isinstance(activations, str):
        raise TypeError(f"activations must be a sequence of names, one per layer; got {activations!r}")
    x = _array("x", x, 2)
    y = _array("y", y, 2)
    checked: Params = []
    for l, pair in enumerate(params, start=1):
        if len(pair) != 2:
            raise ValueError(f"params[{l - 1}] must be a (W, b) pair; got {len(pair)} items")
        checked.append((_array(_named("W", l), pair[0], 2), _array(_named("b", l), pair[1], 1)))
    if not checked:
        raise ValueError("params must hold at least one (W, b) layer")
    acts = tuple(check_name("activation", a, ACTIVATIONS) for a in activations)
    if len(acts) != len(checked):
        raise ValueError(f"got {len(acts)} activations for {len(checked)} layers")
    loss = check_name("loss", loss, LOSSES)
    batch, n_prev = x.shape
    if batch < 1:
        raise ValueError(f"x must hold at least one sample; got shape {x.shape}")
    for l, (W, b) in enumerate(checked, start=1):
        if W.shape[1] != n_prev:
            raise ValueError(f"{_named('W', l)} has shape {W.shape}; expected ({W.shape[0]}, {n_prev})")
        if b.shape != (W.shape[0],):
            raise ValueError(f"{_named('b', l)} has shape {b.shape}; expected ({W.shape[0]},)")
        n_prev = W.shape[0]
    if y.shape != (batch, n_prev):
        raise ValueError(f"y has shape {y.shape}; expected ({batch}, {n_prev})")
    if x.dtype not in DTYPES:
        raise TypeError(f"x has dtype {x.dtype}; expected float32 or float64")
    arrays = {"y": y} | {_named("W", l): W for l, (W, _) in enumerate(checked, 1)}
    arrays |= {_named("b", l): b for l, (_, b) in enumerate(checked, 1)}
    for name, arr in arrays.items():
        if arr.dtype != x.dtype:
            raise TypeError(f"{name} has dtype {arr.dtype}; every array must share x's {x.dtype}")
    return Problem(checked, x, y, acts, loss)
