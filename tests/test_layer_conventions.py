"""The layers' conventions at non-smooth points, pinned exactly for manual_bp and every reference
(docs/conventions.md), and the errors bad inputs get.

Each case hits its point exactly in float32 and float64 alike (small integers, exact zeros), so the
expected result is an exact number: compared with tolerance 0 where the arithmetic is exact, else
through the tolerance model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import manual_bp.layers as L
import references
import references.layers as RL
from bpcheck.layers.api import call_layer
from bpcheck.layers.cases import LayerCase
from bpcheck.layers.judge import judge_outputs
from bpcheck.layers.tolerance import analyse
from tests.layer_styles import MANUAL

BACKENDS = ("manual_bp", "torch", "jax", "ground_truth", "finite_diff")
DTYPES = (np.float32, np.float64)


def outputs_of(backend: str, kind: str, inputs: dict[str, Any], hyper: dict[str, Any], dout: Any,
               dtype: Any) -> dict[str, np.ndarray]:
    """The named outputs of ``backend`` on the case, its float inputs and dout cast to ``dtype``."""
    keep = np.asarray(inputs.get("y", 0.0)).dtype.kind in "iu"   # integer labels stay integers
    cast = {k: np.asarray(v) if k == "mask" or (k == "y" and keep) else np.asarray(v, dtype) for k, v in inputs.items()}
    d = None if dout is None else np.asarray(dout, dtype)
    if backend == "manual_bp":
        _, forward, backward = MANUAL[kind]
        out, _ = call_layer(LayerCase(kind, cast, hyper, d), forward, backward, masked=kind == "dropout")
        return {k: np.asarray(v) for k, v in out.items()}
    reason = references.unavailable_reason(backend)
    if reason is not None:
        pytest.skip(reason)
    out, grads = RL.forward_and_vjp(kind, cast, hyper, d, backend=backend)
    return {"out": out, **grads}


def assert_exact(got: np.ndarray, want: Any, backend: str) -> None:
    """Bit for bit, except finite differences (1e-9) and the long-double truth (a few of its ulps)."""
    __tracebackhide__ = True
    want = np.asarray(want, dtype=np.float64)
    tol = {"finite_diff": 1e-9, "ground_truth": 8 * float(np.finfo(np.longdouble).eps)}.get(backend, 0.0)
    err = np.abs(np.asarray(got, dtype=np.longdouble) - want)
    assert float(np.max(err)) <= tol * max(1.0, float(np.max(np.abs(want)))), (backend, got, want)


# ---------------------------------------------------------------- max pooling: ties


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_max_pool_tie_goes_to_the_first_maximum(backend: str, dtype: Any) -> None:
    """2×2 windows, stride 1, on a 3×3 image full of ties; each window's dout is distinct, so dx shows
    where each one went: (0,0)'s first 2 is x[0,1]; (0,1)'s window starts with the tied 2 at x[0,1]
    itself; (1,0)'s first 2 is x[1,0]; (1,1)'s is x[1,2]. Overlapping windows accumulate."""
    x = [[[[1, 2, 2], [2, 1, 2], [2, 2, 1]]]]
    got = outputs_of(backend, "max_pool", {"x": x}, {"pool_height": 2, "pool_width": 2, "stride": 1},
                     [[[[1, 10], [100, 1000]]]], dtype)
    assert_exact(got["out"], [[[[2, 2], [2, 2]]]], backend)
    assert_exact(got["dx"], [[[[0, 11, 0], [100, 0, 1000], [0, 0, 0]]]], backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_max_pool_tie_between_signed_zeros_goes_to_the_first(backend: str) -> None:
    """−0.0 and +0.0 compare equal: the first of them takes the gradient, whichever sign it has."""
    got = outputs_of(backend, "max_pool", {"x": [[[[-0.0, 0.0, -1.0]]]]}, {"pool_height": 1, "pool_width": 2,
                                                                         "stride": 1}, [[[[3, 5]]]], np.float64)
    assert_exact(got["dx"], [[[[3, 5, 0]]]], backend)


# ---------------------------------------------------------------- activations at 0, losses at their kinks


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("kind", "slope"), [("relu", 0.0), ("leaky_relu", 0.01), ("elu", 1.0)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_activation_slope_at_zero(backend: str, kind: str, slope: float, dtype: Any) -> None:
    """dx = dout·σ′(0) at x = 0 exactly, dout = 3: relu′(0) = 0, leaky_relu′(0) = 0.01, elu′(0) = 1."""
    got = outputs_of(backend, kind, {"x": [[0.0, 2.0]]}, {}, [[3.0, 3.0]], dtype)
    if backend == "ground_truth":
        want = 3 * (np.longdouble(1) / 100 if kind == "leaky_relu" else np.longdouble(slope))
        assert abs(got["dx"][0, 0] - want) <= 8 * np.finfo(np.longdouble).eps * abs(want)
    elif backend == "finite_diff":
        assert abs(got["dx"][0, 0] - 3 * slope) <= 1e-9
    else:
        assert got["dx"][0, 0] == dtype(3) * dtype(slope), got["dx"]
    assert_exact(got["dx"][:, 1], [3.0], backend)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_svm_margin_of_exactly_zero_does_not_count(backend: str, dtype: Any) -> None:
    """Row 0: both margins are exactly 0 (x_j = x_y − 1): no loss, no gradient (torch's
    multi_margin_loss, like relu′(0) = 0). Row 1: margins 2 and 0.5 count. J = 2.5/2."""
    got = outputs_of(backend, "svm_loss", {"x": [[0, 1, 0], [2, 1, 0.5]], "y": np.array([1, 1])}, {}, None, dtype)
    assert_exact(got["out"], 1.25, backend)
    assert_exact(got["dx"], [[0, 0, 0], [0.5, -1, 0.5]], backend)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_l1_and_huber_layers_at_their_kinks(backend: str, dtype: Any) -> None:
    """l1 at x = y: subgradient 0; huber at |x − y| = 1: slope ±1 (continuous there)."""
    x, y = [[1.0, 2.0, 3.0, -1.0]], [[1.0, 1.0, 2.0, 0.0]]
    assert_exact(outputs_of(backend, "l1", {"x": x, "y": y}, {}, None, dtype)["dx"], [[0, 0.25, 0.25, -0.25]], backend)
    assert_exact(outputs_of(backend, "huber", {"x": x, "y": y}, {}, None, dtype)["dx"], [[0, 0.25, 0.25, -0.25]],
                 backend)


# ---------------------------------------------------------------- zero variance: torch's eps semantics


def _judged(backend: str, kind: str, inputs: dict[str, Any], hyper: dict[str, Any], dout: Any,
            dtype: Any) -> dict[str, np.ndarray]:
    """The outputs, checked against the ground truth: a candidate (manual_bp, torch, jax) through the
    model (the frameworks may round where manual_bp is exact), finite differences to 1e-6 scaled."""
    got = outputs_of(backend, kind, inputs, hyper, dout, dtype)
    truth = outputs_of("ground_truth", kind, inputs, hyper, dout, dtype)
    if backend == "finite_diff":
        for name, value in truth.items():
            assert np.max(np.abs(got[name] - value)) <= 1e-6 * max(1.0, float(np.max(np.abs(value)))), name
    elif backend != "ground_truth":
        case = LayerCase(kind, {k: np.asarray(v, dtype) for k, v in inputs.items()}, hyper, np.asarray(dout, dtype))
        fault = judge_outputs(got, analyse(case), u_ref=0.0, reference=truth)
        assert fault is None, (backend, fault)
    return got


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["batchnorm", "layernorm"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_variance_normalises_to_zero(backend: str, kind: str, dtype: Any) -> None:
    """Batch norm of one sample, layer norm of one feature: σ² = 0, r = 1/√eps, x̂ = 0, so out = β,
    dγ = 0, dβ = Σ_n dout and dx = 0. Exact for manual_bp and the long-double truth; within the
    model for the frameworks (torch's fused x·(γr) + (β − μγr) rounds)."""
    x, shape = ([[3.0, -1.5, 0.25]], (3,)) if kind == "batchnorm" else ([[3.0], [-1.5]], (1,))
    gamma, beta = np.full(shape, 2.0), np.linspace(-1, 1, shape[0])
    dout = np.full(np.shape(x), 1.5)
    got = _judged(backend, kind, {"x": x, "gamma": gamma, "beta": beta}, {"eps": 2.0**-10}, dout, dtype)
    if backend in ("manual_bp", "ground_truth"):
        assert_exact(got["out"], np.broadcast_to(beta, np.shape(x)), backend)
        assert_exact(got["dx"], np.zeros(np.shape(x)), backend)
        assert_exact(got["dgamma"], np.zeros(shape), backend)
    assert_exact(got["dbeta"], dout.sum(axis=0), backend)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_batchnorm_constant_column(backend: str, dtype: Any) -> None:
    """Column 0 constant at 0.1 (not representable: μ rounds, so a computed x − μ need not be 0):
    the exact answer is x̂ = 0 there, out = β₀, dγ₀ = 0 and dx = γ₀ (dout − mean dout)/√eps."""
    eps = 2.0**-10
    x = [[0.1, 1.0], [0.1, 2.0], [0.1, 4.0]]
    dout = [[1.0, 0.5], [-2.0, 0.25], [4.0, 1.0]]
    got = _judged(backend, "batchnorm", {"x": x, "gamma": [3.0, 1.0], "beta": [0.5, 0.0]}, {"eps": eps}, dout, dtype)
    truth = outputs_of("ground_truth", "batchnorm", {"x": x, "gamma": [3.0, 1.0], "beta": [0.5, 0.0]}, {"eps": eps},
                       dout, dtype)
    d0 = np.array([1.0, -2.0, 4.0])
    want = 3.0 * (d0 - d0.mean()) / np.sqrt(eps)
    assert np.max(np.abs(truth["dx"][:, 0] - want)) <= 1e-12 * np.max(np.abs(want))
    assert truth["dgamma"][0] == 0 and np.all(truth["out"][:, 0] == 0.5)
    assert got["dx"].shape == (3, 2)


# ---------------------------------------------------------------- dropout


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_dropped_entries_get_exactly_zero(backend: str, dtype: Any) -> None:
    """m = 0 gives out = 0 and dx = 0 exactly; p = 1/4 (a power of 2) makes the kept ones exact too."""
    mask = np.array([[True, False, True]])
    got = outputs_of(backend, "dropout", {"x": [[1.0, 2.0, -3.0]], "mask": mask}, {"p": 0.25}, [[1.0, 1.0, 0.5]],
                     dtype)
    assert_exact(got["out"], [[4, 0, -12]], backend)
    assert_exact(got["dx"], [[4, 0, 2]], backend)


def test_dropout_forward_draws_a_keep_mask_and_test_mode_is_the_identity() -> None:
    x = np.arange(1.0, 10001.0).reshape(100, 100)
    out, cache = L.dropout_forward(x, {"p": 0.3, "mode": "train", "seed": 7})
    kept = out != 0
    assert abs(kept.mean() - 0.3) < 0.02 and np.array_equal(out[kept], x[kept] / 0.3)
    np.testing.assert_array_equal(L.dropout_backward(np.ones_like(x), cache), kept / 0.3)
    again, _ = L.dropout_forward(x, {"p": 0.3, "mode": "train", "seed": 7})
    np.testing.assert_array_equal(out, again)
    same, cache = L.dropout_forward(x, {"p": 0.3, "mode": "test"})
    np.testing.assert_array_equal(same, x)
    np.testing.assert_array_equal(L.dropout_backward(x, cache), x)


def test_batchnorm_running_statistics_and_test_mode() -> None:
    """CS231n's running averages (biased σ²), and test mode normalising with them."""
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    param: dict[str, Any] = {"mode": "train", "momentum": 0.5, "eps": 1.0}
    L.batchnorm_forward(x, np.ones(2), np.zeros(2), param)
    np.testing.assert_array_equal(param["running_mean"], [1.0, 2.0])
    np.testing.assert_array_equal(param["running_var"], [0.5, 2.0])
    param["mode"] = "test"
    out, cache = L.batchnorm_forward(x, np.ones(2), np.zeros(2), param)
    np.testing.assert_allclose(out, (x - [1.0, 2.0]) / np.sqrt([1.5, 3.0]), rtol=1e-15)
    dx, _, _ = L.batchnorm_backward(np.ones_like(x), cache)
    np.testing.assert_allclose(dx, np.ones_like(x) / np.sqrt([1.5, 3.0]), rtol=1e-15)


# ---------------------------------------------------------------- bad inputs


X, W, B = np.ones((2, 3)), np.ones((3, 4)), np.ones(4)
IMG, KER = np.ones((1, 3, 4, 4)), np.ones((2, 3, 2, 2))
CONV = {"stride": 1, "pad": 0}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 1}
BAD: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("x not an array", lambda: L.relu_forward([[1.0]]), TypeError, "x must be a numpy.ndarray, got list"),
    ("x of ints", lambda: L.relu_forward(np.ones((2, 2), int)), TypeError, "x must have dtype float32 or float64"),
    ("x with NaN", lambda: L.tanh_forward(np.array([[np.nan]])), ValueError, "x must be finite"),
    ("affine x 1-D", lambda: L.affine_forward(np.ones(3), W, B), ValueError, "x must have at least 2 dimension(s)"),
    ("affine w rows", lambda: L.affine_forward(X, np.ones((4, 4)), B), ValueError, "w must have shape (3, M)"),
    ("affine b", lambda: L.affine_forward(X, W, np.ones(3)), ValueError, "b must have shape (4,)"),
    ("affine dtypes", lambda: L.affine_forward(X.astype(np.float32), W, B), TypeError, "w must have x's dtype"),
    ("conv channels", lambda: L.conv_forward_naive(IMG, np.ones((2, 2, 2, 2)), np.ones(2), CONV), ValueError,
     "w must have shape (F, 3, HH, WW)"),
    ("conv pad missing", lambda: L.conv_forward_fast(IMG, KER, np.ones(2), {"stride": 1}), ValueError,
     "conv_param must have the key 'pad'"),
    ("conv stride 0", lambda: L.conv_forward_naive(IMG, KER, np.ones(2), {"stride": 0, "pad": 0}), ValueError,
     "conv_param['stride'] must be ≥ 1"),
    ("conv kernel too big", lambda: L.conv_forward_naive(IMG, np.ones((2, 3, 5, 5)), np.ones(2), CONV), ValueError,
     "must fit in the padded image 4×4"),
    ("pool window too big", lambda: L.max_pool_forward_naive(IMG, {**POOL, "pool_height": 5}), ValueError,
     "the pool window 5×2 must fit"),
    ("pool stride float", lambda: L.max_pool_forward_naive(IMG, {**POOL, "stride": 1.0}), TypeError,
     "pool_param['stride'] must be an int"),
    ("bn gamma", lambda: L.batchnorm_forward(X, np.ones(2), np.ones(3), {}), ValueError,
     "gamma must have shape (3,) to match x"),
    ("bn eps", lambda: L.batchnorm_forward(X, np.ones(3), np.ones(3), {"eps": -1.0}), ValueError,
     "bn_param['eps'] must lie in (0, inf]"),
    ("bn mode", lambda: L.batchnorm_forward(X, np.ones(3), np.ones(3), {"mode": "eval"}), ValueError,
     "bn_param['mode'] must be 'train' or 'test', got 'eval'"),
    ("ln x 3-D", lambda: L.layernorm_forward(np.ones((2, 3, 1)), np.ones(3), np.ones(3), {}), ValueError,
     "x must have 2 dimension(s) (N, D)"),
    ("dropout p 0", lambda: L.dropout_forward(X, {"p": 0.0}), ValueError, "dropout_param['p'] must lie in (0, 1]"),
    ("dropout mask", lambda: L.dropout_forward_masked(X, np.ones((2, 3)), 0.5), TypeError, "mask must be a bool"),
    ("dropout seed", lambda: L.dropout_forward(X, {"p": 0.5, "seed": "a"}), TypeError,
     "dropout_param['seed'] must be a non-negative int"),
    ("softmax_loss labels", lambda: L.softmax_loss(X, np.zeros(2)), TypeError, "y must hold integer class indices"),
    ("svm labels", lambda: L.svm_loss(X, np.array([0, 3])), ValueError, "y must hold class indices in [0, 3)"),
    ("ce targets", lambda: L.cross_entropy(X, X), ValueError, "y rows must sum to 1"),
    ("bce targets", lambda: L.binary_cross_entropy(X, 2 * X), ValueError, "y must lie in [0, 1]"),
    ("dout shape", lambda: L.relu_backward(np.ones((3, 3)), L.relu_forward(X)[1]), ValueError,
     "dout must have the forward output's shape (2, 3)"),
    ("dout dtype", lambda: L.relu_backward(np.ones((2, 3), np.float32), L.relu_forward(X)[1]), TypeError,
     "dout must have the forward output's dtype float64"),
    ("wrong cache", lambda: L.relu_backward(X, L.sigmoid_forward(X)[1]), ValueError,
     "cache comes from sigmoid_forward, not relu_forward"),
    ("foreign cache", lambda: L.batchnorm_backward(X, (1, 2)), TypeError,
     "cache must be the cache returned by batchnorm_forward"),
    ("reference kind", lambda: RL.forward("nope", {"x": X}, {}, backend="ground_truth"), ValueError,
     "kind is 'nope'; expected one of affine, identity"),
    ("reference hyper", lambda: RL.forward("conv2d", {"x": IMG, "w": KER, "b": np.ones(2)}, {"stride": 1},
                                           backend="ground_truth"), ValueError,
     "hyper of conv2d must have the keys ['stride', 'pad']"),
    ("reference dout", lambda: RL.vjp("relu", {"x": X}, {}, np.ones(3), backend="ground_truth"), ValueError,
     "dout must be a non-empty array with 2 dimension(s)"),
    ("reference loss dout", lambda: RL.vjp("l1", {"x": X, "y": X}, {}, X, backend="finite_diff"), ValueError,
     "dout must be None for the loss kind l1"),
    ("reference inputs", lambda: RL.forward("affine", {"x": X, "w": W}, {}, backend="ground_truth"), ValueError,
     "inputs of affine must be a dict with the keys ['x', 'w', 'b']"),
]


@pytest.mark.parametrize(("call", "error", "text"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_inputs_name_the_argument(call: Callable[[], Any], error: type[Exception], text: str) -> None:
    with pytest.raises(error) as info:
        call()
    assert text in str(info.value)
