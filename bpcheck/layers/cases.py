"""Layer test cases: one call of one layer kind, with its upstream gradient, in one dtype.

``make_layer_case(rng, kind, shape, dtype=…, regime=…)`` draws the values of a case from a NumPy
``Generator`` for a given ``shape`` (the dimensions and structural hyperparameters, below) in a regime:

| regime | what it stresses |
|---|---|
| ``simple`` | small dyadic values (0, ±½, ±1, ±2): exact arithmetic, readable counterexamples |
| ``default`` | well-conditioned values: x ~ N(0, 1), weights ~ N(0, 1/fan-in), columns with offsets |
| ``extreme`` | large and small magnitudes: saturated activations, large logits, \\|μ\\| ≫ σ, σ² ≪ eps |
| ``kinks`` | exact non-smooth points: zeros for relu, x = y for l1 (\\|x − y\\| = 1 for huber), equal logits, |
|  | svm margins of exactly 0, max-pool ties, constant columns (batch norm) and rows (layer norm), zero weights |

``shape`` keys, by kind (every value an int unless said):

| kind | keys |
|---|---|
| affine | N, dims (tuple: x is (N, *dims)), M |
| activations, the 6 losses, batchnorm, layernorm, dropout | N, D (dropout also p: the keep probability, a float) |
| softmax_loss, svm_loss | N, C |
| conv2d | N, C, H, W, F, HH, WW, stride, pad |
| max_pool | N, C, H, W, pool_height, pool_width, stride |

Batch norm and layer norm draw eps (a float32 number, so every dtype holds it exactly); dropout's p
is a float32 number too, and its x has no zero (so its mask can be recovered from its output: m = out ≠ 0).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from references.layers import KINDS, LAYER_KINDS, Kind, check_call

Array = np.ndarray
REGIMES = ("simple", "default", "extreme", "kinks")
DTYPES = ("float32", "float64")
_DYADIC = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0])


class LayerCase(NamedTuple):
    """One layer call: ``kind``'s ``inputs`` (names as in ``references.layers.KINDS[kind].inputs``),
    its hyperparameters, and the upstream gradient ``dout`` (None for the loss kinds)."""

    kind: str
    inputs: dict[str, Array]
    hyper: dict[str, Any]
    dout: Array | None

    @property
    def spec(self) -> Kind:
        return KINDS[self.kind]

    @property
    def dtype(self) -> np.dtype:
        return self.inputs["x"].dtype

    def astype(self, dtype: np.dtype | str) -> LayerCase:
        """The same case with every float array (dout included) cast to ``dtype``; labels and masks kept."""
        def cast(a: Array) -> Array:
            return a.astype(dtype) if a.dtype.kind == "f" else a.copy()
        return LayerCase(self.kind, {k: cast(v) for k, v in self.inputs.items()}, dict(self.hyper),
                         None if self.dout is None else cast(self.dout))

    def copy(self) -> LayerCase:
        return LayerCase(self.kind, {k: v.copy() for k, v in self.inputs.items()}, dict(self.hyper),
                         None if self.dout is None else self.dout.copy())

    def digest(self) -> str:
        """A fingerprint of the case's inputs (names, dtypes, shapes, every value bit for bit, the
        hyperparameters and dout): two cases with the same digest are the same layer call."""
        h = hashlib.sha256(self.kind.encode())
        for name in sorted(self.inputs):
            a = np.ascontiguousarray(self.inputs[name])
            h.update(f"{name}{a.dtype}{a.shape}".encode())
            h.update(a.tobytes())
        h.update(repr(sorted(self.hyper.items())).encode())
        if self.dout is not None:
            h.update(np.ascontiguousarray(self.dout).tobytes())
        return h.hexdigest()[:16]

    def describe(self) -> str:
        arrays = " ".join(f"{k}{tuple(v.shape)}" for k, v in self.inputs.items())
        hyper = " ".join(f"{k}={v:.7g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.hyper.items()
                         if k not in ("mode", "momentum"))
        return f"{self.kind} {arrays}{' ' + hyper if hyper else ''} dtype={self.dtype}"


def _dyadic(rng: np.random.Generator, shape: tuple[int, ...]) -> Array:
    return rng.choice(_DYADIC, size=shape)


def _f32(value: float) -> float:
    """The float32 number nearest ``value``: exactly representable in both dtypes."""
    return float(np.float32(value))


def _normal(rng: np.random.Generator, shape: tuple[int, ...], regime: str, scale: float = 1.0) -> Array:
    if regime == "simple":
        return _dyadic(rng, shape)
    if regime == "extreme":
        return rng.normal(size=shape) * scale * float(rng.choice([1e-3, 16.0, 256.0, 4096.0]))
    v = rng.normal(size=shape) * scale
    if regime == "kinks":  # exact zeros and small integers
        v = np.where(rng.random(shape) < 0.3, 0.0, np.where(rng.random(shape) < 0.3, np.round(v), v))
    return v


def _dout(rng: np.random.Generator, shape: tuple[int, ...], regime: str) -> Array:
    if regime == "simple":
        return _dyadic(rng, shape)
    if regime == "kinks":
        return rng.integers(-2, 3, size=shape).astype(np.float64)
    return rng.normal(size=shape) * (float(rng.choice([1e-3, 1.0, 1e3])) if regime == "extreme" else 1.0)


def _affine(rng: np.random.Generator, s: Mapping[str, Any], regime: str) -> dict[str, Array]:
    dims = tuple(s["dims"])
    D = int(np.prod(dims))
    x = _normal(rng, (s["N"],) + dims, regime)
    w = _normal(rng, (D, s["M"]), regime, 1 / np.sqrt(D)) if regime != "simple" else _dyadic(rng, (D, s["M"]))
    if regime == "kinks":
        w[:, rng.random(s["M"]) < 0.3] = 0.0  # zero columns: out = b exactly there
    return {"x": x, "w": w, "b": _normal(rng, (s["M"],), regime, 0.1)}


def _activation(rng: np.random.Generator, kind: str, s: Mapping[str, Any], regime: str) -> dict[str, Array]:
    shape = (s["N"], s["D"])
    if regime == "extreme":  # saturated: |x| from tens to a thousand
        return {"x": rng.normal(size=shape) * float(rng.choice([20.0, 100.0, 1000.0]))}
    return {"x": _normal(rng, shape, regime, 3.0)}


def _targets(rng: np.random.Generator, kind: str, x: Array, regime: str) -> Array:
    N, D = x.shape
    if kind == "cross_entropy":
        if regime == "simple" or rng.random() < 0.3:  # one-hot rows
            return np.eye(D)[rng.integers(0, D, size=N)]
        e = np.exp(rng.normal(size=(N, D)) * (4.0 if regime == "extreme" else 1.0))
        return e / e.sum(axis=1, keepdims=True)
    if kind == "binary_cross_entropy":
        if regime == "simple":
            return rng.choice(np.array([0.0, 0.5, 1.0]), size=(N, D))
        return rng.uniform(size=(N, D)) if rng.random() < 0.6 else rng.integers(0, 2, size=(N, D)).astype(float)
    y = _normal(rng, (N, D), regime if regime != "kinks" else "default")
    if regime in ("kinks", "simple") and kind in ("l1", "huber"):  # x = y exactly, and |x − y| = 1
        equal = rng.random((N, D)) < 0.4
        y[equal] = x[equal]
        if kind == "huber":
            unit = ~equal & (rng.random((N, D)) < 0.4)
            y[unit] = x[unit] - rng.choice(np.array([-1.0, 1.0]), size=int(unit.sum()))
    return y


def _loss(rng: np.random.Generator, kind: str, s: Mapping[str, Any], regime: str) -> dict[str, Array]:
    N, D = s["N"], s["D"]
    if regime == "kinks":  # multiples of 1/8 in [−4, 4]: x − 1 and x = y stay exact in float32
        x = rng.integers(-32, 33, size=(N, D)) / 8.0
    elif regime == "extreme":
        x = rng.normal(size=(N, D)) * float(rng.choice([10.0, 100.0, 1000.0]))
    else:
        x = _normal(rng, (N, D), regime, 2.0)
    return {"x": x, "y": _targets(rng, kind, x, regime)}


def _label_loss(rng: np.random.Generator, kind: str, s: Mapping[str, Any], regime: str) -> dict[str, Array]:
    N, C = s["N"], s["C"]
    if regime == "kinks":  # small integers: equal logits, and svm margins of exactly 0
        x = rng.integers(-2, 3, size=(N, C)).astype(np.float64)
    elif regime == "extreme":
        x = rng.normal(size=(N, C)) * float(rng.choice([30.0, 300.0]))
    else:
        x = _normal(rng, (N, C), regime, 2.0)
    return {"x": x, "y": rng.integers(0, C, size=N)}


def _conv(rng: np.random.Generator, s: Mapping[str, Any], regime: str) -> dict[str, Array]:
    fan_in = s["C"] * s["HH"] * s["WW"]
    w = _normal(rng, (s["F"], s["C"], s["HH"], s["WW"]), regime, 1 / np.sqrt(fan_in))
    if regime == "kinks":
        w[rng.random(s["F"]) < 0.3] = 0.0  # zero filters: out = b exactly
    return {"x": _normal(rng, (s["N"], s["C"], s["H"], s["W"]), regime), "w": w,
            "b": _normal(rng, (s["F"],), regime, 0.1)}


def _pool(rng: np.random.Generator, s: Mapping[str, Any], regime: str) -> dict[str, Array]:
    shape = (s["N"], s["C"], s["H"], s["W"])
    if regime in ("kinks", "simple"):  # small integers: ties in most windows (±0.0 included)
        x = rng.integers(0, 3, size=shape).astype(np.float64)
        return {"x": np.where(rng.random(shape) < 0.2, -0.0, x) if regime == "kinks" else x}
    if regime == "extreme":  # magnitudes 1e-20 .. 1e20, finite in float32
        return {"x": rng.normal(size=shape) * 10.0 ** rng.uniform(-20, 20, size=shape)}
    return {"x": rng.normal(size=shape)}


def _norm(rng: np.random.Generator, kind: str, s: Mapping[str, Any], regime: str) -> dict[str, Array]:
    N, D = s["N"], s["D"]
    along = 0 if kind == "batchnorm" else 1      # the normalised axis
    groups = (1, D) if along == 0 else (N, 1)    # one offset and scale per normalised group
    if regime == "simple":
        x = _dyadic(rng, (N, D))
    elif regime == "extreme":  # |μ| ≫ σ, or σ² far below or above eps
        x = rng.normal(size=groups) * 10.0 ** rng.uniform(0, 3, size=groups) + \
            rng.normal(size=(N, D)) * 10.0 ** rng.uniform(-3, 2, size=groups)
    else:
        x = rng.normal(size=groups) * 2 + rng.normal(size=(N, D)) * np.exp(rng.normal(size=groups))
    if regime == "kinks":  # constant groups (zero variance), some of them zero
        const = rng.random(groups) < 0.5
        x = np.where(const, np.round(x.mean(axis=along, keepdims=True) * 4) / 4 * (rng.random(groups) < 0.7), x)
    gamma = _dyadic(rng, (D,)) if regime == "simple" else rng.normal(size=D) * 0.5 + 1.0
    beta = _dyadic(rng, (D,)) if regime == "simple" else rng.normal(size=D) * 0.5
    return {"x": x, "gamma": gamma, "beta": beta}


def _dropout(rng: np.random.Generator, s: Mapping[str, Any], regime: str) -> tuple[dict[str, Array], float]:
    p = _f32(s["p"]) if "p" in s else _f32(float(rng.choice([0.05, 0.25, 0.5, 0.8, 0.95])))
    shape = (s["N"], s["D"])
    x = _normal(rng, shape, "default" if regime == "kinks" else regime)
    x = np.where(x == 0, 1.0, x)  # no zeros: the mask stays visible in the output
    return {"x": x, "mask": rng.random(shape) < p}, p


def _eps(rng: np.random.Generator, regime: str) -> float:
    return 2.0**-8 if regime == "simple" else _f32(float(rng.choice([1e-5, 1e-5, 1e-3, 0.1])))


def make_layer_case(rng: np.random.Generator, kind: str, shape: Mapping[str, Any], *,
                    dtype: str | np.dtype = "float64", regime: str = "default") -> LayerCase:
    """A case of ``kind`` with the dimensions ``shape`` (keys in the module docstring), drawn from ``rng``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(LAYER_KINDS)}, got {kind!r}")
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {REGIMES}, got {regime!r}")
    spec = KINDS[kind]
    fam = spec.family
    hyper: dict[str, Any] = {}
    if fam == "affine":
        inputs = _affine(rng, shape, regime)
    elif fam == "activation":
        inputs = _activation(rng, kind, shape, regime)
    elif fam == "loss":
        inputs = _loss(rng, kind, shape, regime)
    elif fam == "label_loss":
        inputs = _label_loss(rng, kind, shape, regime)
    elif fam == "conv2d":
        inputs = _conv(rng, shape, regime)
        hyper = {"stride": int(shape["stride"]), "pad": int(shape["pad"])}
    elif fam == "max_pool":
        inputs = _pool(rng, shape, regime)
        hyper = {key: int(shape[key]) for key in ("pool_height", "pool_width", "stride")}
    elif fam == "norm":
        inputs = _norm(rng, kind, shape, regime)
        hyper = {"eps": _eps(rng, regime)}
        if kind == "batchnorm":
            hyper.update(momentum=0.9, mode="train")
    else:
        inputs, p = _dropout(rng, shape, regime)
        hyper = {"p": p, "mode": "train"}
    dt = np.dtype(dtype)
    inputs = {k: v.astype(dt) if v.dtype.kind == "f" else v for k, v in inputs.items()}
    if fam == "dropout":  # no zero survives the cast either (an underflow in float32)
        inputs["x"] = np.where(inputs["x"] == 0, dt.type(1), inputs["x"])
    dout = None
    if not spec.scalar:
        out_shape = check_call(kind, inputs, hyper, None, need_dout=False).out_shape
        dout = _dout(rng, out_shape, regime).astype(dt)
    return LayerCase(kind, inputs, hyper, dout)
