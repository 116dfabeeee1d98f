"""Meta-tests of the layer strategies: they reach every corner they promise, shrink toward the
smallest case, and the cases they draw are valid for every reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import references.layers as RL
from bpcheck.layers.cases import LayerCase, make_layer_case
from bpcheck.layers.strategies import layer_cases
from bpcheck.layers.tolerance import analyse

SEARCH = settings(database=None, derandomize=True, max_examples=3000, suppress_health_check=list(HealthCheck))


def _windows_tie(c: LayerCase) -> bool:
    x, h = c.inputs["x"], c.hyper
    ph, pw, s = h["pool_height"], h["pool_width"], h["stride"]
    for i in range(0, x.shape[2] - ph + 1, s):
        for j in range(0, x.shape[3] - pw + 1, s):
            w = x[:, :, i : i + ph, j : j + pw].reshape(x.shape[0], x.shape[1], -1)
            if np.any((w == w.max(axis=2, keepdims=True)).sum(axis=2) > 1):
                return True
    return False


def _svm_zero_margin(c: LayerCase) -> bool:
    x, y = c.inputs["x"], c.inputs["y"]
    m = x - x[np.arange(len(y)), y][:, None] + 1
    m[np.arange(len(y)), y] = 1
    return bool(np.any(m == 0))


def _conv(c: LayerCase) -> tuple[int, ...]:
    """(H, W, HH, WW, stride, pad)."""
    return c.inputs["x"].shape[2:] + c.inputs["w"].shape[2:] + (c.hyper["stride"], c.hyper["pad"])


CORNERS: dict[str, tuple[str, Callable[[LayerCase], bool]]] = {
    "batch norm of one sample": ("batchnorm", lambda c: c.inputs["x"].shape[0] == 1),
    "batch norm, a constant column": ("batchnorm", lambda c: c.inputs["x"].shape[0] > 1 and bool(
        np.any(np.ptp(c.inputs["x"], axis=0) == 0))),
    "batch norm, batch 16": ("batchnorm", lambda c: c.inputs["x"].shape[0] == 16),
    "layer norm of one feature": ("layernorm", lambda c: c.inputs["x"].shape[1] == 1),
    "layer norm, a constant row": ("layernorm", lambda c: c.inputs["x"].shape[1] > 1 and bool(
        np.any(np.ptp(c.inputs["x"], axis=1) == 0))),
    "conv, stride not dividing": ("conv2d", lambda c: (_conv(c)[0] + 2 * _conv(c)[5] - _conv(c)[2]) % _conv(c)[4] > 0),
    "conv, pad ≥ kernel/2": ("conv2d", lambda c: _conv(c)[5] > 0 and 2 * _conv(c)[5] >= max(_conv(c)[2:4])),
    "conv, 1×1 kernel": ("conv2d", lambda c: _conv(c)[2:4] == (1, 1) and _conv(c)[0] > 1),
    "conv, 1×1 image": ("conv2d", lambda c: _conv(c)[:2] == (1, 1)),
    "conv, stride > kernel": ("conv2d", lambda c: _conv(c)[4] > max(_conv(c)[2:4])),
    "max pool, a tie": ("max_pool", _windows_tie),
    "max pool, overlapping windows": ("max_pool", lambda c: c.hyper["stride"] < min(c.hyper["pool_height"],
                                                                                    c.hyper["pool_width"])),
    "max pool, window = image": ("max_pool", lambda c: (c.hyper["pool_height"], c.hyper["pool_width"])
                                 == c.inputs["x"].shape[2:] and c.inputs["x"].shape[2] > 1),
    "dropout, keep near 0": ("dropout", lambda c: c.hyper["p"] <= 0.05),
    "dropout, keep near 1": ("dropout", lambda c: 0.95 <= c.hyper["p"] < 1),
    "dropout, keep 1": ("dropout", lambda c: c.hyper["p"] == 1),
    "relu, an exact zero": ("relu", lambda c: bool(np.any(c.inputs["x"] == 0))),
    "leaky_relu, an exact zero": ("leaky_relu", lambda c: bool(np.any(c.inputs["x"] == 0))),
    "l1, x = y exactly": ("l1", lambda c: bool(np.any(c.inputs["x"] == c.inputs["y"]))),
    "huber, |x − y| = 1 exactly": ("huber", lambda c: bool(np.any(np.abs(c.inputs["x"] - c.inputs["y"]) == 1))),
    "softmax_loss, tied logits": ("softmax_loss", lambda c: bool(np.any(
        (c.inputs["x"] == c.inputs["x"].max(axis=1, keepdims=True)).sum(axis=1) > 1))),
    "svm_loss, a margin of exactly 0": ("svm_loss", _svm_zero_margin),
    "affine, batch 1 and a 3-D x": ("affine", lambda c: c.inputs["x"].ndim == 3 and c.inputs["x"].shape[0] == 1),
}


@pytest.mark.parametrize("corner", CORNERS)
def test_the_strategies_reach_every_corner(corner: str) -> None:
    kind, condition = CORNERS[corner]
    find(layer_cases(kind), condition, settings=SEARCH)


@pytest.mark.parametrize(("kind", "smallest"), [
    ("conv2d", dict(x=(1, 1, 1, 1), w=(1, 1, 1, 1), b=(1,))),
    ("max_pool", dict(x=(1, 1, 1, 1))),
    ("batchnorm", dict(x=(1, 1), gamma=(1,), beta=(1,))),
    ("affine", dict(x=(1, 1), w=(1, 1), b=(1,))),
])
def test_cases_shrink_to_the_smallest_shapes_and_simplest_values(kind: str, smallest: dict[str, Any]) -> None:
    case = find(layer_cases(kind), lambda c: True, settings=SEARCH)
    assert {k: v.shape for k, v in case.inputs.items()} == smallest
    assert all(np.all(np.isin(v, [0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0])) for k, v in case.inputs.items()
               if k in ("x", "w", "b")), case   # the simple (dyadic) regime
    assert case.hyper.get("stride", 1) == 1 and case.hyper.get("pad", 0) == 0


@given(layer_cases(), st.sampled_from(["float32", "float64"]))
def test_drawn_cases_are_valid_calls_with_an_analysis(case: LayerCase, dtype: str) -> None:
    """Every reference accepts every drawn case (and its cast to another dtype), the analysis covers
    every output with finite truth and bounds, and a copy is independent of the original."""
    cast = case.astype(dtype)
    call = RL.check_call(cast.kind, cast.inputs, cast.hyper, cast.dout)
    analysis = analyse(cast.astype("float64") if dtype == "float64" else cast)
    assert analysis.outputs == call.kind.outputs
    for name in analysis.outputs:
        assert np.all(np.isfinite(analysis.truth[name])) and np.all(analysis.bounds[name] >= 0), name
    if case.kind == "dropout":
        assert not np.any(cast.inputs["x"] == 0)   # the mask is recoverable from the output
    other = case.copy()
    other.inputs["x"][...] = 7
    assert not np.any(case.inputs["x"] == 7) or np.all(case.inputs["x"] == 7)


def test_analysis_refuses_a_narrower_dtype_and_make_layer_case_checks_its_arguments() -> None:
    case = make_layer_case(np.random.default_rng(0), "relu", dict(N=1, D=2), dtype="float32")
    analyse(case, "float64")   # widening is exact
    with pytest.raises(ValueError, match="cannot be analysed for float32"):
        analyse(case.astype("float64"), "float32")
    with pytest.raises(ValueError, match="kind must be one of"):
        make_layer_case(np.random.default_rng(0), "conv3d", {})
    with pytest.raises(ValueError, match="regime must be one of"):
        make_layer_case(np.random.default_rng(0), "relu", dict(N=1, D=1), regime="wild")
