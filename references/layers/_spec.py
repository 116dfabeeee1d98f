"""The layer kinds: their names, inputs, hyperparameters and outputs, and the checks every layer
reference applies at its boundary.

A kind maps named input arrays and hyperparameters to one output ``out`` (a 0-d array for the loss
kinds). Its gradients are those of ⟨dout, out⟩ (of the scalar out itself for the loss kinds, with no
dout) with respect to its differentiable inputs, each named "d" + the input's name:

| kind | inputs (differentiable first) | hyper | out |
|---|---|---|---|
| affine | x (N, d₁…d_k), w (D, M), b (M,) | – | (N, M) |
| each activation | x (N, …) | – | x's shape |
| each contract loss | x (N, D); y (N, D) | – | () |
| softmax_loss, svm_loss | x (N, C); y (N,) int labels | – | () |
| conv2d | x (N, C, H, W), w (F, C, HH, WW), b (F,) | stride, pad | (N, F, H′, W′) |
| max_pool | x (N, C, H, W) | pool_height, pool_width, stride | (N, C, H′, W′) |
| batchnorm, layernorm | x (N, D), gamma (D,), beta (D,) | eps | (N, D) |
| dropout | x (N, …); mask (bool, x's shape) | p (keep probability) | x's shape |

Extra hyperparameters that the maths does not use are accepted (batch norm's "momentum" and
"mode" == "train", dropout's "mode" == "train" and "seed", the mask being an input).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from references._validate import ACTIVATIONS, LOSSES

Array = np.ndarray


class Kind(NamedTuple):
    name: str
    family: str                    # affine, activation, loss, label_loss, conv2d, max_pool, norm, dropout
    inputs: tuple[str, ...]        # every input array, in the CS231n call order
    differentiable: tuple[str, ...]
    hyper: tuple[str, ...]         # required hyperparameters
    ignored: tuple[str, ...] = ()  # accepted, not used by the maths

    @property
    def scalar(self) -> bool:
        """Whether out is a scalar (a loss): then there is no dout."""
        return self.family in ("loss", "label_loss")

    @property
    def grads(self) -> tuple[str, ...]:
        return tuple("d" + name for name in self.differentiable)

    @property
    def outputs(self) -> tuple[str, ...]:
        return ("out",) + self.grads


def _table() -> dict[str, Kind]:
    kinds = [Kind("affine", "affine", ("x", "w", "b"), ("x", "w", "b"), ())]
    kinds += [Kind(name, "activation", ("x",), ("x",), ()) for name in ACTIVATIONS]
    kinds += [Kind(name, "loss", ("x", "y"), ("x",), ()) for name in LOSSES]
    kinds += [Kind(name, "label_loss", ("x", "y"), ("x",), ()) for name in ("softmax_loss", "svm_loss")]
    kinds += [
        Kind("conv2d", "conv2d", ("x", "w", "b"), ("x", "w", "b"), ("stride", "pad")),
        Kind("max_pool", "max_pool", ("x",), ("x",), ("pool_height", "pool_width", "stride")),
        Kind("batchnorm", "norm", ("x", "gamma", "beta"), ("x", "gamma", "beta"), ("eps",), ("momentum", "mode")),
        Kind("layernorm", "norm", ("x", "gamma", "beta"), ("x", "gamma", "beta"), ("eps",)),
        Kind("dropout", "dropout", ("x", "mask"), ("x",), ("p",), ("mode", "seed")),
    ]
    return {k.name: k for k in kinds}


KINDS: dict[str, Kind] = _table()
LAYER_KINDS: tuple[str, ...] = tuple(KINDS)


class LayerCall(NamedTuple):
    """A validated call: the arrays as given (not copied) and the hyperparameters the maths uses."""

    kind: Kind
    inputs: dict[str, Array]
    hyper: dict[str, Any]
    dout: Array | None
    out_shape: tuple[int, ...]

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.inputs["x"].dtype


def kind_of(name: Any) -> Kind:
    if not isinstance(name, str) or name not in KINDS:
        raise ValueError(f"kind is {name!r}; expected one of {', '.join(LAYER_KINDS)}")
    return KINDS[name]


def _label(name: str) -> str:
    return "dout" if name == "dout" else f"inputs[{name!r}]"


def _float(name: str, value: Any, ndim: int | None = None, min_ndim: int = 1) -> Array:
    label = _label(name)
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{label} must be a numpy.ndarray, got {type(value).__name__}")
    if value.dtype not in (np.float32, np.float64):
        raise TypeError(f"{label} must have dtype float32 or float64, got {value.dtype}")
    if (ndim is not None and value.ndim != ndim) or value.ndim < min_ndim or 0 in value.shape:
        want = f"{ndim} dimension(s)" if ndim is not None else f"at least {min_ndim} dimension(s)"
        raise ValueError(f"{label} must be a non-empty array with {want}, got shape {value.shape}")
    if not np.isfinite(value).all():
        raise ValueError(f"{label} must be finite, got non-finite values")
    return value


def _shaped(inputs: Mapping[str, Any], name: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array:
    value = _float(name, inputs[name], len(shape), 0)
    if value.shape != shape:
        raise ValueError(f"{_label(name)} must have shape {shape}, got {value.shape}")
    if value.dtype != dtype:
        raise TypeError(f"{_label(name)} must have x's dtype {dtype}, got {value.dtype}")
    return value


def _int(hyper: Mapping[str, Any], key: str, low: int) -> int:
    value = hyper[key]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"hyper[{key!r}] must be an int ≥ {low}, got {value!r}")
    return int(value)


def _real(hyper: Mapping[str, Any], key: str, high: float) -> float:
    value = hyper[key]
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 < float(value) <= high:
        raise ValueError(f"hyper[{key!r}] must be a number in (0, {high:g}], got {value!r}")
    return float(value)


def _targets(kind: Kind, x: Array, y: Any) -> None:
    if kind.family == "label_loss":
        if not isinstance(y, np.ndarray) or y.dtype.kind not in "iu" or y.shape != (x.shape[0],):
            raise TypeError(f"inputs['y'] must be an int array of shape ({x.shape[0]},) (class indices), "
                            f"got {getattr(y, 'dtype', type(y).__name__)} {getattr(y, 'shape', '')}")
        if y.min() < 0 or y.max() >= x.shape[1]:
            raise ValueError(f"inputs['y'] must hold class indices in [0, {x.shape[1]}), got [{y.min()}, {y.max()}]")
        return
    y = _shaped({"y": y}, "y", x.shape, x.dtype)
    if kind.name == "binary_cross_entropy" and (y.min() < 0 or y.max() > 1):
        raise ValueError("inputs['y'] must lie in [0, 1] for binary_cross_entropy")
    if kind.name == "cross_entropy":
        sums = y.astype(np.float64).sum(axis=1)
        if y.min() < 0 or np.max(np.abs(sums - 1)) > np.sqrt(np.finfo(y.dtype).eps) * y.shape[1]:
            raise ValueError("inputs['y'] must be probability rows (≥ 0, summing to 1) for cross_entropy")


def _out_shape(kind: Kind, inputs: Mapping[str, Any], hyper: dict[str, Any]) -> tuple[int, ...]:
    """Check the family's shapes and hyperparameters (normalising ``hyper``); the output's shape."""
    fam = kind.family
    x = _float("x", inputs["x"], 2 if fam in ("loss", "label_loss", "norm") else 4 if fam in ("conv2d", "max_pool")
               else None, 2 if fam == "affine" else 1)
    if fam in ("loss", "label_loss"):
        _targets(kind, x, inputs["y"])
        return ()
    if fam == "affine":
        D = int(np.prod(x.shape[1:]))
        w = _float("w", inputs["w"], 2)
        _shaped(inputs, "w", (D, w.shape[1]), x.dtype)
        _shaped(inputs, "b", (w.shape[1],), x.dtype)
        return (x.shape[0], w.shape[1])
    if fam == "conv2d":
        w = _float("w", inputs["w"], 4)
        _shaped(inputs, "w", (w.shape[0], x.shape[1]) + w.shape[2:], x.dtype)
        _shaped(inputs, "b", (w.shape[0],), x.dtype)
        s, p = _int(hyper, "stride", 1), _int(hyper, "pad", 0)
        hyper.update(stride=s, pad=p)
        H, W = x.shape[2] + 2 * p - w.shape[2], x.shape[3] + 2 * p - w.shape[3]
        if min(H, W) < 0:
            raise ValueError(f"the kernel {w.shape[2:]} does not fit in x {x.shape} padded by {p}")
        return (x.shape[0], w.shape[0], 1 + H // s, 1 + W // s)
    if fam == "max_pool":
        ph, pw, s = (_int(hyper, key, 1) for key in ("pool_height", "pool_width", "stride"))
        hyper.update(pool_height=ph, pool_width=pw, stride=s)
        if ph > x.shape[2] or pw > x.shape[3]:
            raise ValueError(f"the pool window {ph}×{pw} does not fit in x {x.shape}")
        return x.shape[:2] + (1 + (x.shape[2] - ph) // s, 1 + (x.shape[3] - pw) // s)
    if fam == "norm":
        _shaped(inputs, "gamma", (x.shape[1],), x.dtype)
        _shaped(inputs, "beta", (x.shape[1],), x.dtype)
        hyper["eps"] = _real(hyper, "eps", np.inf)
        return x.shape
    if fam == "dropout":
        mask = inputs["mask"]
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != x.shape:
            raise TypeError(f"inputs['mask'] must be a bool array of x's shape {x.shape}")
        hyper["p"] = _real(hyper, "p", 1.0)
        return x.shape
    return x.shape  # activation


def check_call(kind_name: Any, inputs: Any, hyper: Any, dout: Any, *, need_dout: bool = True) -> LayerCall:
    """Validate one call of a layer reference; raises ValueError/TypeError naming what is wrong.

    With ``need_dout=False`` (a forward pass only) a missing dout of a non-loss kind becomes zeros."""
    kind = kind_of(kind_name)
    if not isinstance(inputs, Mapping) or set(inputs) != set(kind.inputs):
        got = sorted(inputs) if isinstance(inputs, Mapping) else type(inputs).__name__
        raise ValueError(f"inputs of {kind.name} must be a dict with the keys {list(kind.inputs)}, got {got}")
    hyper = dict(hyper or {})
    unknown = set(hyper) - set(kind.hyper) - set(kind.ignored)
    missing = set(kind.hyper) - set(hyper)
    if unknown or missing:
        raise ValueError(f"hyper of {kind.name} must have the keys {list(kind.hyper)} (and may have "
                         f"{list(kind.ignored)}), got {sorted(hyper)}")
    if hyper.get("mode", "train") != "train":
        raise ValueError(f"hyper['mode'] must be 'train' (the references check training mode), got {hyper['mode']!r}")
    out_shape = _out_shape(kind, inputs, hyper)
    for key in kind.ignored:
        hyper.pop(key, None)
    if kind.scalar:
        if dout is not None:
            raise ValueError(f"dout must be None for the loss kind {kind.name}: its gradient is that of the loss")
    elif dout is None and not need_dout:
        dout = np.zeros(out_shape, dtype=inputs["x"].dtype)
    else:
        dout = _shaped({"dout": dout}, "dout", out_shape, inputs["x"].dtype)
    return LayerCall(kind, dict(inputs), hyper, dout, out_shape)
