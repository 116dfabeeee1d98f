"""manual_bp on its own: each derivative against central differences, the kinks pinned exactly,
numerical stability over the whole range of each dtype, and a table of bad inputs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import manual_bp
from manual_bp import activations as act
from manual_bp import losses

ELEMENTWISE = [n for n in manual_bp.ACTIVATIONS if n != "softmax"]


def _central(f, z: np.ndarray, h: float = 1e-6) -> np.ndarray:
    return (f(z + h) - f(z - h)) / (2 * h)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_derivative_matches_central_differences(name: str) -> None:
    rng = np.random.default_rng(1)
    z = rng.uniform(-6, 6, size=400)
    if name in ("relu", "leaky_relu", "elu"):
        z = z[np.abs(z) > 1e-3]  # away from the kink, where central differences average the two slopes
    got = act.derivative(name, z)
    want = _central(lambda t: act.value(name, t), z)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_derivative_keeps_its_relative_accuracy_where_tanh_saturates(dtype) -> None:
    """tanh′ = 2/(cosh 2z + 1) and δ = g ⊙ tanh′ within 2 eps (float64) / 3 eps (float32) of a long-double
    truth wherever tanh′ is a normal number; 1 − tanh² (checked here too) loses every digit there."""
    rng = np.random.default_rng(8)
    lim = 40 if dtype == np.float32 else 350
    z = np.concatenate([rng.uniform(-lim, lim, 20_000), rng.normal(0, 2, 20_000), [0, 1e-30, 9, 19]]).astype(dtype)
    g = rng.normal(size=z.size).astype(dtype)
    truth = 1 / np.cosh(z.astype(np.longdouble)) ** 2
    eps = np.longdouble(np.finfo(dtype).eps)
    bound = 2 if dtype == np.float64 else 3

    def worst(got: np.ndarray, want: np.ndarray) -> float:
        return float(np.max(np.abs(got.astype(np.longdouble) - want) / np.abs(want)) / eps)

    assert worst(act.derivative("tanh", z), truth) <= bound
    assert worst(act.get("tanh").vjp(z[None], np.tanh(z)[None], g[None])[0], g * truth) <= bound
    t = np.tanh(z)
    assert worst(1 - t * t, truth) > 1e6  # the formula this replaces fails the same bound


@pytest.mark.parametrize(("name", "at_zero"), [("relu", 0.0), ("leaky_relu", 0.01), ("elu", 1.0), ("identity", 1.0),
                                               ("sigmoid", 0.25), ("tanh", 1.0), ("gelu", 0.5), ("gelu_tanh", 0.5),
                                               ("silu", 0.5), ("softplus", 0.5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_derivative_at_zero_is_pinned_exactly(name: str, at_zero: float, dtype) -> None:
    for zero in (0.0, -0.0):
        d = act.derivative(name, np.array([zero], dtype=dtype))
        assert d.dtype == dtype
        assert d[0] == np.asarray(at_zero, dtype=dtype), (name, zero, d[0])


def test_softmax_backward_is_its_jacobian_vector_product() -> None:
    rng = np.random.default_rng(2)
    z, g = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    s = act.value("softmax", z)
    got = act.get("softmax").vjp(z, s, g)
    want = np.stack([manual_bp.jacobians.softmax_jacobian(z[i]).T @ g[i] for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match="not elementwise"):
        act.derivative("softmax", z)


def _valid_targets(name: str, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    if name == "cross_entropy":
        e = rng.random(shape)
        return e / e.sum(axis=1, keepdims=True)
    if name == "binary_cross_entropy":
        return rng.random(shape)
    return rng.normal(size=shape)


@pytest.mark.parametrize("name", manual_bp.LOSSES)
def test_loss_gradient_matches_central_differences(name: str) -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4, 3)) * 2
    y = _valid_targets(name, rng, a.shape)
    if name in ("l1", "huber"):
        r = np.abs(a - y)
        assert np.min(r) > 1e-3 and np.min(np.abs(r - 1)) > 1e-3
    loss = losses.get(name)
    got = loss.gradient(a, y)
    want = np.zeros_like(a)
    h = 1e-6
    for idx in np.ndindex(a.shape):
        up, down = a.copy(), a.copy()
        up[idx] += h
        down[idx] -= h
        want[idx] = (loss.value(up, y) - loss.value(down, y)) / (2 * h)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_l1_subgradient_is_zero_where_a_equals_y_also_at_negative_zero() -> None:
    a = np.array([[1.0, 0.0, -0.0, 2.0]])
    y = np.array([[1.0, 0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(losses.get("l1").gradient(a, y), [[0.0, 0.0, 0.0, 0.25]])


def test_huber_gradient_is_continuous_at_r_equals_one() -> None:
    a, y = np.array([[2.0, -2.0]]), np.array([[1.0, -1.0]])
    np.testing.assert_array_equal(losses.get("huber").gradient(a, y), [[0.5, -0.5]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", manual_bp.ACTIVATIONS)
def test_activations_are_stable_over_the_whole_range(name: str, dtype) -> None:
    """No overflow, no warning (warnings are errors here), finite values and derivatives up to the dtype's max."""
    big = np.finfo(dtype).max
    z = np.array([[-big, -1e300 if dtype == np.float64 else -1e30, -800.0, -100.0, -20.0, 0.0, 20.0, 100.0, 800.0,
                   big]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        a = act.value(name, z)
        g = act.get(name).vjp(z, a, np.ones_like(z))
    assert a.dtype == dtype and g.dtype == dtype
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(g))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["cross_entropy", "binary_cross_entropy"])
def test_logit_losses_are_stable_for_huge_logits(name: str, dtype) -> None:
    big = np.finfo(dtype).max / 4
    a = np.array([[big, -big, 0.0]], dtype=dtype)
    y = np.array([[0.0, 1.0, 0.0]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        grad = losses.get(name).gradient(a, y)
    assert grad.dtype == dtype and np.all(np.isfinite(grad))


def test_importing_manual_bp_loads_nothing_heavier_than_numpy() -> None:
    code = "import manual_bp, sys; bad = {'torch', 'jax', 'scipy'} & set(sys.modules); assert not bad, bad"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_keep_shapes_and_dtype_and_do_not_touch_inputs(dtype) -> None:
    rng = np.random.default_rng(4)
    params = [(rng.normal(size=(4, 3)).astype(dtype), rng.normal(size=4).astype(dtype)),
              (rng.normal(size=(2, 4)).astype(dtype), rng.normal(size=2).astype(dtype))]
    x, y = rng.normal(size=(5, 3)).astype(dtype), rng.normal(size=(5, 2)).astype(dtype)
    before = [(W.copy(), b.copy()) for W, b in params], x.copy(), y.copy()
    grads = manual_bp.gradients(params, x, y, ["tanh", "identity"], "mse")
    again = manual_bp.gradients(params, x, y, ["tanh", "identity"], "mse")
    for (W, b), (dW, db), (dW2, db2) in zip(params, grads, again, strict=True):
        assert dW.shape == W.shape and db.shape == b.shape and dW.dtype == dtype and db.dtype == dtype
        np.testing.assert_array_equal(dW, dW2)
        np.testing.assert_array_equal(db, db2)
    for (W, b), (W0, b0) in zip(params, before[0], strict=True):
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)
    np.testing.assert_array_equal(x, before[1])
    np.testing.assert_array_equal(y, before[2])


def test_backward_exposes_deltas_of_the_seed() -> None:
    """δ⁽ᴸ⁾ = (a⁽ᴸ⁾ − y) ⊙ σ′(z⁽ᴸ⁾)/B for the seed's loss, and ∂J/∂b⁽ᴸ⁾ = Σ_b δ⁽ᴸ⁾."""
    rng = np.random.default_rng(5)
    params = [(rng.normal(size=(3, 2)), rng.normal(size=3)), (rng.normal(size=(2, 3)), rng.normal(size=2))]
    x, y = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    out = manual_bp.backward(params, x, y, ["tanh", "sigmoid"], "half_sse")
    trace = manual_bp.forward(params, x, ["tanh", "sigmoid"])
    aL, zL = trace.activations[-1], trace.zs[-1]
    s = 1 / (1 + np.exp(-zL))
    np.testing.assert_allclose(out.deltas[-1], (aL - y) * s * (1 - s) / 4, rtol=1e-13)
    np.testing.assert_allclose(out.grads[-1][1], out.deltas[-1].sum(axis=0), rtol=1e-13)
    np.testing.assert_allclose(out.grads[-1][0], out.deltas[-1].T @ trace.activations[-2], rtol=1e-13)
    # δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀ δ⁽ˡ⁺¹⁾ ⊙ σ′(z⁽ˡ⁾)
    t = np.tanh(trace.zs[0])
    np.testing.assert_allclose(out.deltas[0], (out.deltas[1] @ params[1][0]) * (1 - t * t), rtol=1e-12)


def _net(dtype=np.float64):
    rng = np.random.default_rng(6)
    return ([(rng.normal(size=(3, 2)).astype(dtype), rng.normal(size=3).astype(dtype)),
             (rng.normal(size=(2, 3)).astype(dtype), rng.normal(size=2).astype(dtype))],
            rng.normal(size=(4, 2)).astype(dtype), rng.random(size=(4, 2)).astype(dtype))


def _bad(kind: str):
    params, x, y = _net()
    acts, loss = ["tanh", "identity"], "mse"
    if kind == "unknown activation":
        acts = ["tanh", "swish"]
    elif kind == "unknown loss":
        loss = "hinge"
    elif kind == "lengths differ":
        acts = ["tanh"]
    elif kind == "W shape":
        params[1] = (params[1][0][:, :2], params[1][1])
    elif kind == "b shape":
        params[0] = (params[0][0], params[0][1][:2])
    elif kind == "x shape":
        x = x[:, :1]
    elif kind == "y shape":
        y = y[:3]
    elif kind == "empty batch":
        x, y = x[:0], y[:0]
    elif kind == "int dtype":
        x = x.astype(np.int64)
    elif kind == "mixed dtypes":
        x = x.astype(np.float32)
    elif kind == "non-finite":
        x = x.copy()
        x[0, 0] = np.nan
    elif kind == "bce targets":
        loss, y = "binary_cross_entropy", y + 1.5
    elif kind == "ce targets":
        loss = "cross_entropy"
    elif kind == "not an array":
        x = x.tolist()
    elif kind == "params not pairs":
        params = [params[0][0], params[1][0]]
    elif kind == "one-array layer":
        params[1] = (params[1][0],)
    elif kind == "x wide":
        x = np.hstack([x, x[:, :1]])
    elif kind == "x 3-d":
        x = x[:, :, None]
    elif kind == "y wide":
        y = np.hstack([y, y[:, :1]])
    elif kind == "half non-finite":
        x = x.copy()
        x[:2] = [np.nan, np.inf]
    elif kind == "W float32 under x float64":
        params[0] = (params[0][0].astype(np.float32), params[0][1])
    elif kind == "b float32 under x float64":
        params[0] = (params[0][0], params[0][1].astype(np.float32))
    elif kind == "b float64 under x float32":
        params = [(W.astype(np.float32), b) for W, b in params]
        x, y = x.astype(np.float32), y.astype(np.float32)
    return params, x, y, acts, loss


BAD_INPUTS = [
    ("unknown activation", ValueError, r"activations\[1\] \(layer 2\) is 'swish'; expected one of identity, sigmoid"),
    ("unknown loss", ValueError, r"loss is 'hinge'; expected one of half_sse, mse"),
    ("lengths differ", ValueError, r"params has 2 layer\(s\), activations has 1"),
    ("W shape", ValueError, r"W⁽2⁾\) must have 3 columns .* got shape \(2, 2\)"),
    ("b shape", ValueError, r"b⁽1⁾\) must have shape \(3,\) .* got \(2,\)"),
    ("x shape", ValueError, r"x must have shape \(B, 2\) .* got \(4, 1\)"),
    ("y shape", ValueError, r"y must have shape \(4, 2\) \(B, n_L\), got \(3, 2\)"),
    ("empty batch", ValueError, r"x is an empty batch"),
    ("int dtype", TypeError, r"x must have dtype float32 or float64, got int64"),
    ("mixed dtypes", TypeError, r"one dtype: x is float32, W⁽1⁾ is float64"),
    ("non-finite", ValueError, r"x must be finite, got 1 non-finite"),
    ("bce targets", ValueError, r"y must lie in \[0, 1\] for binary_cross_entropy"),
    ("ce targets", ValueError, r"y rows must sum to 1 for cross_entropy"),
    ("not an array", TypeError, r"x must be a numpy.ndarray, got list"),
    ("params not pairs", TypeError, r"params\[0\] \(layer 1\) must be a \(W, b\) pair"),
    ("one-array layer", TypeError, r"params\[1\] \(layer 2\) must be a \(W, b\) pair"),
    ("x wide", ValueError, r"x must have shape \(B, 2\) .* got \(4, 3\)"),
    ("x 3-d", ValueError, r"x must have .*got shape \(4, 2, 1\)|x must have shape \(B, 2\) .* got \(4, 2, 1\)"),
    ("y wide", ValueError, r"y must have shape \(4, 2\) \(B, n_L\), got \(4, 3\)"),
    ("half non-finite", ValueError, r"x must be finite, got 4 non-finite"),
    ("W float32 under x float64", TypeError, r"W⁽1⁾.* float32"),
    ("b float32 under x float64", TypeError, r"b⁽1⁾.* float32"),
    ("b float64 under x float32", TypeError, r"b⁽1⁾.* float64"),
]


@pytest.mark.parametrize(("kind", "error", "pattern"), BAD_INPUTS)
def test_bad_inputs_get_a_clear_error(kind: str, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        manual_bp.gradients(*_bad(kind))


@pytest.mark.parametrize(("kind", "error", "pattern"), BAD_INPUTS)
def test_bad_inputs_get_the_same_error_when_the_structure_is_known(kind: str, error: type, pattern: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """manual_bp.gradients keeps a Network per structure after a good call, and checks the next call's
    arrays with it: a bad call must still get the contract's error, word for word."""
    monkeypatch.setattr(manual_bp.network, "_NETWORKS", {})
    params, x, y, acts, loss = _bad(kind)
    good_params, good_x, good_y, _, _ = _bad("none")
    if loss == "cross_entropy":
        good_y = good_y / good_y.sum(axis=1, keepdims=True)
    try:
        manual_bp.gradients(good_params, good_x, good_y, acts, loss)  # the same structure, good arrays
    except (TypeError, ValueError):
        pass  # the names themselves are bad: no structure to know
    if kind in ("y shape", "empty batch", "non-finite", "bce targets", "ce targets"):
        assert manual_bp.network._structure_key(params, x, acts, loss) in manual_bp.network._NETWORKS
    with pytest.raises(error, match=pattern):
        manual_bp.gradients(params, x, y, acts, loss)


def test_sgd_validates_and_follows_the_update_rule() -> None:
    params, _, _ = _net()
    grads = [(np.ones_like(W), np.ones_like(b)) for W, b in params]
    new, buf = manual_bp.sgd(params, grads, lr=0.5)
    assert buf is None
    np.testing.assert_array_equal(new[0][0], params[0][0] - 0.5)
    new, buf = manual_bp.sgd(params, grads, lr=0.5, momentum=0.9)
    np.testing.assert_array_equal(buf[0][0], grads[0][0])               # buf = g on the first step
    new2, buf2 = manual_bp.sgd(new, grads, lr=0.5, momentum=0.9, buffers=buf)
    np.testing.assert_array_equal(buf2[0][0], 0.9 * buf[0][0] + 1)       # buf ← μ buf + g
    np.testing.assert_array_equal(new2[0][0], new[0][0] - 0.5 * buf2[0][0])
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        manual_bp.sgd(params, grads, lr=-1.0)
    with pytest.raises(ValueError, match=r"grads\[0\] must have the shapes of layer 1"):
        manual_bp.sgd(params, [(np.ones(2), np.ones(3)), grads[1]], lr=0.1)


# --- gaps the cosmic-ray campaign found (docs/mutations.md, "The cosmic-ray campaign") ----------------

def test_softmax_normalises_the_last_axis_of_any_array() -> None:
    """value's docstring: softmax over the last axis of any array, not only of a (B, n) batch."""
    rng = np.random.default_rng(5)
    for shape in [(4,), (2, 3, 4)]:
        z = rng.normal(size=shape)
        s = act.value("softmax", z)
        np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=1e-15)
        np.testing.assert_allclose(s, np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True), rtol=1e-14)


@pytest.mark.parametrize("module", [act, losses])
def test_an_unhashable_name_gets_the_list_of_valid_names(module) -> None:
    with pytest.raises(ValueError, match="expected one of"):
        module.get(["relu"])


def test_cross_entropy_gradient_rows_sum_to_zero_for_any_targets() -> None:
    """J(a + c) = J(a) for a constant c added to a row of logits, whatever the targets' sum: so each row
    of ∂J/∂a = (softmax(a) Σ_j y_j − y)/B sums to 0, also for targets off the unit sum (which the
    contract's slack admits, and which dividing by Σ_j y_j instead of multiplying gets wrong)."""
    rng = np.random.default_rng(6)
    a = rng.normal(size=(3, 4))
    for total in (1.0 + 1e-9, 0.5, 3.0):
        y = rng.random(size=a.shape)
        y *= total / y.sum(axis=1, keepdims=True)
        grad = losses.get("cross_entropy").gradient(a, y)
        np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-15)


@pytest.mark.parametrize("lr", [0.0, -0.5, float("nan"), float("inf")])
def test_sgd_rejects_a_step_size_that_is_not_a_positive_number(lr: float) -> None:
    params, _, _ = _net()
    grads = [(np.ones_like(W), np.ones_like(b)) for W, b in params]
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        manual_bp.sgd(params, grads, lr=lr)


def test_train_takes_zero_steps_and_rejects_negative_ones() -> None:
    params, x, y = _net()
    result = manual_bp.train(params, x, y, ["tanh", "identity"], "mse", lr=0.1, steps=0)
    assert result.params is params and len(result.losses) == 1  # J of the untouched params, and nothing else
    with pytest.raises(ValueError, match="steps must be an integer ≥ 0"):
        manual_bp.train(params, x, y, ["tanh", "identity"], "mse", lr=0.1, steps=-1)


@pytest.mark.parametrize("which", ["dW", "db"])
@pytest.mark.parametrize("extra", [-1, 1])
def test_sgd_names_a_gradient_of_the_wrong_shape(which: str, extra: int) -> None:
    params, _, _ = _net()
    grads = [(np.ones_like(W), np.ones_like(b)) for W, b in params]
    dW, db = grads[0]
    grads[0] = (np.ones((dW.shape[0] + extra, dW.shape[1])), db) if which == "dW" else (dW, np.ones(db.size + extra))
    with pytest.raises(ValueError, match=r"grads\[0\] must have the shapes of layer 1"):
        manual_bp.sgd(params, grads, lr=0.1)


@pytest.mark.parametrize("batch", [1, 3])
def test_softmax_jacobian_of_a_batch_is_block_diagonal(batch: int) -> None:
    """∂a/∂z of a softmax batch: one block diag(s) − s sᵀ per row, zeros elsewhere; a batch of one too."""
    z = np.random.default_rng(7).normal(size=(batch, 4))
    got = manual_bp.jacobians.activation_jacobian("softmax", z)
    want = np.zeros((4 * batch, 4 * batch))
    for i in range(batch):
        want[4 * i:4 * i + 4, 4 * i:4 * i + 4] = manual_bp.jacobians.softmax_jacobian(z[i])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("cut", [(0, -1), (-1, 0), (0, 1)])
def test_chain_rule_names_a_jacobian_of_the_wrong_shape(cut: tuple[int, int]) -> None:
    grad_y, x_shape = np.ones((2, 3)), (2, 2)
    jacobian = np.ones((grad_y.size + cut[0], 4 + cut[1]))
    with pytest.raises(ValueError, match=r"jacobian must have shape \(6, 4\)"):
        manual_bp.jacobians.chain_rule(jacobian, grad_y, x_shape)


def test_unflatten_takes_only_a_vector() -> None:
    """unflatten inverts flatten: it takes a vector, never a matrix that happens to have the size."""
    with pytest.raises(ValueError, match=r"v must be a vector of 6 entries for shape \(3, 2\)"):
        manual_bp.jacobians.unflatten(np.ones((2, 3)), (3, 2))
    np.testing.assert_array_equal(manual_bp.jacobians.unflatten(np.arange(6.0), (3, 2)), np.arange(6.0).reshape(3, 2))


# --- gaps of the campaign's sample of 1,000 (docs/mutations.md) ----------------------------------------

def _deep_net(dtype=np.float64):
    """Widths 2-3-4-5-2: every layer's W has its own shape, so an error that names the wrong layer's W
    or b, or the wrong index, quotes something else."""
    rng = np.random.default_rng(12)
    widths = (2, 3, 4, 5, 2)
    params = [(rng.normal(size=(m, n)).astype(dtype), rng.normal(size=m).astype(dtype))
              for n, m in zip(widths[:-1], widths[1:], strict=True)]
    return params, rng.normal(size=(3, 2)).astype(dtype), rng.normal(size=(3, 2)).astype(dtype)


@pytest.mark.parametrize("l", [2, 3, 4])
@pytest.mark.parametrize("known", [False, True], ids=["new structure", "known structure"])
def test_errors_name_the_bad_layer_by_its_own_index_at_any_depth(l: int, known: bool,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """params[l − 1], W⁽ˡ⁾, W⁽ˡ⁻¹⁾'s shape, activations[l − 1], grads[l − 1]: each error names layer l,
    on a new structure and on one manual_bp.gradients already knows, for l past the first two."""
    monkeypatch.setattr(manual_bp.network, "_NETWORKS", {})
    params, x, y = _deep_net()
    acts = ["tanh"] * 4
    if known:
        manual_bp.gradients(params, x, y, acts, "mse")
    bad = list(params)
    bad[l - 1] = (params[l - 1][0], params[l - 1][1], params[l - 1][1])
    with pytest.raises(TypeError, match=rf"^params\[{l - 1}\] \(layer {l}\) must be a \(W, b\) pair"):
        manual_bp.gradients(bad, x, y, acts, "mse")
    names = list(acts)
    names[l - 1] = "swish"
    with pytest.raises(ValueError, match=rf"^activations\[{l - 1}\] \(layer {l}\) is 'swish'"):
        manual_bp.gradients(params, x, y, names, "mse")
    W_prev = params[l - 2][0]
    narrow = [*params[:l - 1], (params[l - 1][0][:, :-1], params[l - 1][1]), *params[l:]]
    with pytest.raises(ValueError, match=rf"^params\[{l - 1}\]\[0\] \(W⁽{l}⁾\) must have {W_prev.shape[0]} columns "
                                         rf"to follow W⁽{l - 1}⁾ of shape \({W_prev.shape[0]}, {W_prev.shape[1]}\)"):
        manual_bp.forward(narrow, x, acts)
    grads = [(np.ones_like(W), np.ones_like(b)) for W, b in params]
    grads[l - 1] = (grads[l - 1][0], np.ones(grads[l - 1][1].size + 1))
    with pytest.raises(ValueError, match=rf"^grads\[{l - 1}\] must have the shapes of layer {l}"):
        manual_bp.sgd(params, grads, lr=0.1)


@pytest.mark.parametrize("momentum", [1, 1.0, 1.5, -0.1])
def test_sgd_rejects_a_momentum_outside_zero_to_one(momentum: float) -> None:
    params, _, _ = _net()
    grads = [(np.ones_like(W), np.ones_like(b)) for W, b in params]
    with pytest.raises(ValueError, match=r"momentum must be a number in \[0, 1\)"):
        manual_bp.sgd(params, grads, lr=0.1, momentum=momentum)


@pytest.mark.parametrize("layers", [1, 3])
def test_sgd_rejects_gradients_for_another_number_of_layers(layers: int) -> None:
    params, _, _ = _net()
    grads = [(np.ones_like(W), np.ones_like(b)) for W, b in params]
    grads = grads[:layers] if layers < len(grads) else grads + grads[:layers - len(grads)]
    with pytest.raises(ValueError, match=rf"grads must have one \(dW, db\) per layer: 2 expected, got {layers}"):
        manual_bp.sgd(params, grads, lr=0.1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_targets_may_be_off_one_by_sqrt_eps_per_output_whatever_the_batch(dtype) -> None:
    """The slack on a probability row's sum is √eps · n_L (at least √eps): with one output and a batch of
    8, a row off by 1.5 √eps is refused, one off by ½ √eps is taken."""
    rng = np.random.default_rng(13)
    params = [(rng.normal(size=(1, 2)).astype(dtype), rng.normal(size=1).astype(dtype))]
    x = rng.normal(size=(8, 2)).astype(dtype)
    root = np.sqrt(np.finfo(dtype).eps)
    manual_bp.gradients(params, x, np.full((8, 1), 1 + 0.5 * root, dtype), ["identity"], "cross_entropy")
    with pytest.raises(ValueError, match="y rows must sum to 1 for cross_entropy"):
        manual_bp.gradients(params, x, np.full((8, 1), 1 + 1.5 * root, dtype), ["identity"], "cross_entropy")


def test_the_target_error_quotes_the_sum_of_the_worst_row() -> None:
    params, x, y = _net()
    y = np.full_like(y, 0.5)
    y[1] = [0.75, 0.75]
    with pytest.raises(ValueError, match=r"got a row summing to 1\.5 \(allowed"):
        manual_bp.gradients(params, x, y, ["tanh", "identity"], "cross_entropy")


def test_arrays_of_one_dtype_pass_whatever_object_stands_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """One dtype is equality of dtypes, not identity: a float64 that carries metadata is float64 (on a
    structure gradients has not seen, so that the arguments are checked in full)."""
    monkeypatch.setattr(manual_bp.network, "_NETWORKS", {})
    params, x, y = _net()
    tagged = np.dtype(np.float64, metadata={"unit": "m"})
    assert tagged == np.float64 and tagged is not np.dtype(np.float64)
    _assert_same_grads(manual_bp.gradients(params, x.astype(tagged), y, ["tanh", "identity"], "mse"),
                       manual_bp.gradients(params, x, y, ["tanh", "identity"], "mse"))


def _assert_same_grads(got, want) -> None:
    for (dW, db), (dW2, db2) in zip(got, want, strict=True):
        np.testing.assert_array_equal(dW, dW2)
        np.testing.assert_array_equal(db, db2)


@pytest.mark.parametrize(("name", "pieces"), [("huber", [0.125, 1.5, 2.5, 0.0]), ("l1", [0.5, 2.0, 3.0, 0.0])])
def test_piecewise_losses_take_the_value_of_each_piece(name: str, pieces: list[float]) -> None:
    """J on both sides of each kink (|a − y| = 1 for huber, 0 for l1): the gradients of a piece that is
    off by a constant are right, so only the values can show it."""
    y = np.zeros((1, 4))
    a = np.array([[0.5, 2.0, -3.0, 0.0]])
    assert losses.get(name).value(a, y) == pytest.approx(np.mean(pieces), rel=1e-15)
