"""manual_bp.Network, the plan behind manual_bp.gradients: the contract's results bit for bit, pure
calls, and clear errors at construction and at each call."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given

import manual_bp
from bpcheck.cases import Case
from bpcheck.strategies import cases
from manual_bp import Network
from manual_bp import _validate as validate
from manual_bp import network as network_module


def _net(case: Case) -> Network:
    return Network(case.widths, case.activations, case.loss, case.dtype)


def _assert_identical(got: list, want: list) -> None:
    __tracebackhide__ = True
    assert len(got) == len(want)
    for l, ((dW, db), (dW2, db2)) in enumerate(zip(got, want, strict=True), start=1):
        for name, g, w in (("W", dW, dW2), ("b", db, db2)):
            assert g.dtype == w.dtype and g.shape == w.shape, (l, name, g.dtype, w.dtype, g.shape, w.shape)
            assert np.array_equal(g, w), f"∂J/∂{name}⁽{l}⁾ differs: max |Δ| = {np.max(np.abs(g - w))}"


@given(cases(max_batch=8))
def test_network_gives_the_contract_functions_results_bit_for_bit(case: Case) -> None:
    net = _net(case)
    acts = list(case.activations)
    _assert_identical(net.gradients(case.params, case.x, case.y),
                      manual_bp.gradients(case.params, case.x, case.y, acts, case.loss))
    mine, theirs = net.backward(case.params, case.x, case.y), manual_bp.backward(case.params, case.x, case.y,
                                                                                 acts, case.loss)
    _assert_identical(mine.grads, theirs.grads)
    for d, d2 in zip(mine.deltas, theirs.deltas, strict=True):
        assert np.array_equal(d, d2)
    trace, trace2 = net.forward(case.params, case.x), manual_bp.forward(case.params, case.x, acts)
    for u, v in zip(trace.zs + trace.activations, trace2.zs + trace2.activations, strict=True):
        assert np.array_equal(u, v)
    assert net.loss_value(case.params, case.x, case.y) == manual_bp.loss_value(case.params, case.x, case.y, acts,
                                                                               case.loss)


@given(cases(max_batch=8))
def test_network_calls_are_pure(case: Case) -> None:
    """Arguments untouched, the same answer twice, results that share no memory with the arguments or
    with each other, and a result modified in place changes no later call."""
    net = _net(case)
    before = case.copy()
    first = net.gradients(case.params, case.x, case.y)
    deltas = net.backward(case.params, case.x, case.y).deltas
    for (W, b), (W0, b0) in zip(case.params, before.params, strict=True):
        assert np.array_equal(W, W0) and np.array_equal(b, b0)
    assert np.array_equal(case.x, before.x) and np.array_equal(case.y, before.y)
    inputs = [a for layer in case.params for a in layer] + [case.x, case.y]
    outputs = [g for layer in first for g in layer] + deltas
    for i, out in enumerate(outputs):
        assert not any(np.shares_memory(out, a) for a in inputs), f"output {i} shares memory with an argument"
        assert not any(np.shares_memory(out, o) for o in outputs[i + 1:]), f"output {i} shares memory"
    saved = [(dW.copy(), db.copy()) for dW, db in first]
    for dW, db in first:
        dW += 1.0
        db += 1.0
    _assert_identical(net.gradients(case.params, case.x, case.y), saved)


def test_a_network_keeps_nothing_from_one_call_to_the_next() -> None:
    rng = np.random.default_rng(0)
    net = Network((3, 5, 2), ("tanh", "softmax"), "cross_entropy", "float64")

    def call(seed: int) -> list:
        r = np.random.default_rng(seed)
        params = [(r.normal(size=(5, 3)), r.normal(size=5)), (r.normal(size=(2, 5)), r.normal(size=2))]
        y = r.random((4, 2))
        return net.gradients(params, r.normal(size=(4, 3)), y / y.sum(axis=1, keepdims=True))

    first = call(1)
    call(int(rng.integers(2, 100)))   # another call in between, different arrays
    _assert_identical(call(1), first)


def test_network_describes_its_structure() -> None:
    net = Network([3, np.int64(4), 2], ["tanh", "identity"], "mse", np.float32)
    assert net.widths == (3, 4, 2) and net.activations == ("tanh", "identity")
    assert net.loss == "mse" and net.dtype == np.dtype(np.float32)
    assert repr(net) == "Network(widths=(3, 4, 2), activations=('tanh', 'identity'), loss='mse', dtype='float32')"
    assert net == Network((3, 4, 2), ("tanh", "identity"), "mse", "float32")
    assert hash(net) == hash(Network((3, 4, 2), ("tanh", "identity"), "mse", "float32"))
    assert net != Network((3, 4, 2), ("tanh", "identity"), "mse", "float64")
    with pytest.raises(AttributeError):
        net.loss = "l1"  # type: ignore[misc]


@pytest.mark.parametrize("other", [((3, 5, 2), ("tanh", "identity"), "mse", "float32"),
                                   ((3, 4, 2), ("tanh", "identity"), "l1", "float32"),
                                   ((3, 4, 2), ("sigmoid", "identity"), "mse", "float32")])
def test_networks_of_different_structures_are_unequal_both_ways(other: tuple) -> None:
    """Equality is of the whole structure, in either order (an ordering of structures is no equality)."""
    net, them = Network((3, 4, 2), ("tanh", "identity"), "mse", np.float32), Network(*other)
    assert net != them and them != net and not net == them and not them == net


@pytest.mark.parametrize(("args", "error", "pattern"), [
    (("3-4-2", ["tanh"], "mse", "float64"), TypeError, r"widths must be a sequence of layer widths"),
    (((3,), [], "mse", "float64"), ValueError, r"widths must hold n₀ and at least one layer width .* got \(3,\)"),
    (((3, 4.0), ["tanh"], "mse", "float64"), TypeError, r"widths\[1\] must be an integer, got 4.0 \(float\)"),
    (((3, True), ["tanh"], "mse", "float64"), TypeError, r"widths\[1\] must be an integer, got True"),
    (((3, 0, 2), ["tanh", "tanh"], "mse", "float64"), ValueError, r"widths\[1\] must be ≥ 1, got 0"),
    (((3, 4, 2), ["tanh"], "mse", "float64"), ValueError,
     r"one activation per layer: widths \(3, 4, 2\) has 2 layer\(s\), activations has 1"),
    (((3, 4, 2), "tanh", "mse", "float64"), TypeError, r"activations must be a sequence of 2 activation name"),
    (((3, 4, 2), ["tanh", "swish"], "mse", "float64"), ValueError,
     r"activations\[1\] \(layer 2\) is 'swish'; expected one of identity, sigmoid"),
    (((3, 4, 2), ["tanh", "tanh"], "hinge", "float64"), ValueError, r"loss is 'hinge'; expected one of half_sse"),
    (((3, 4, 2), ["tanh", "tanh"], "mse", "int64"), ValueError, r"dtype must be float32 or float64, got int64"),
    (((3, 4, 2), ["tanh", "tanh"], "mse", "float16"), ValueError, r"dtype must be float32 or float64, got float16"),
    (((3, 4, 2), ["tanh", "tanh"], "mse", object()), TypeError, r"dtype must be float32 or float64, got <object"),
])
def test_a_bad_structure_is_named_at_construction(args: tuple, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        Network(*args)


def _call(kind: str) -> tuple[Network, list, object, object]:
    rng = np.random.default_rng(7)
    net = Network((2, 3, 2), ("tanh", "sigmoid"), "binary_cross_entropy", "float64")
    params = [(rng.normal(size=(3, 2)), rng.normal(size=3)), (rng.normal(size=(2, 3)), rng.normal(size=2))]
    x, y = rng.normal(size=(4, 2)), rng.random((4, 2))
    if kind == "too few layers":
        params = params[:1]
    elif kind == "not pairs":
        params = [params[0][0], params[1][0]]
    elif kind == "not a list":
        params = np.zeros(2)
    elif kind == "W shape":
        params[1] = (params[1][0].T, params[1][1])
    elif kind == "b shape":
        params[0] = (params[0][0], params[0][1][:2])
    elif kind == "W not an array":
        params[0] = (params[0][0].tolist(), params[0][1])
    elif kind == "W dtype":
        params[1] = (params[1][0].astype(np.float32), params[1][1])
    elif kind == "x width":
        x = x[:, :1]
    elif kind == "x rank":
        x = x[0]
    elif kind == "x 3-d":
        x = x[:, :, None]
    elif kind == "x wide":
        x = np.hstack([x, x[:, :1]])
    elif kind == "one-array layer":
        params[1] = (params[1][0],)
    elif kind == "empty batch":
        x, y = x[:0], y[:0]
    elif kind == "x dtype":
        x = x.astype(np.float32)
    elif kind == "y shape":
        y = y[:3]
    elif kind == "y not an array":
        y = y.tolist()
    elif kind == "W non-finite":
        params[1][0][1, 2] = np.inf
    elif kind == "x non-finite":
        x[2, 0] = np.nan
    elif kind == "y non-finite":
        y[0, 0] = -np.inf
    elif kind == "y domain":
        y = y + 1.5
    return net, params, x, y


@pytest.mark.parametrize(("kind", "error", "pattern"), [
    ("too few layers", ValueError, r"params must hold 2 layer\(s\), as the Network's widths say, got 1"),
    ("not pairs", TypeError, r"params\[0\] \(layer 1\) must be a \(W, b\) pair"),
    ("not a list", TypeError, r"params must be a list of \(W, b\) tuples, got ndarray"),
    ("W shape", ValueError, r"params\[1\]\[0\] \(W⁽2⁾\) must have shape \(2, 3\) as the Network's widths say, "
                            r"got \(3, 2\)"),
    ("b shape", ValueError, r"params\[0\]\[1\] \(b⁽1⁾\) must have shape \(3,\) .* got \(2,\)"),
    ("W not an array", TypeError, r"params\[0\]\[0\] \(W⁽1⁾\) must be a numpy.ndarray, got list"),
    ("W dtype", TypeError, r"W⁽2⁾\) must have dtype float64, the Network's, got float32"),
    ("x width", ValueError, r"x must have shape \(B, 2\) as the Network's widths say, got \(4, 1\)"),
    ("x rank", ValueError, r"x must have shape \(B, 2\) .* got \(2,\)"),
    ("x 3-d", ValueError, r"x must have shape \(B, 2\) as the Network's widths say, got \(4, 2, 1\)"),
    ("x wide", ValueError, r"x must have shape \(B, 2\) as the Network's widths say, got \(4, 3\)"),
    ("one-array layer", TypeError, r"params\[1\] \(layer 2\) must be a \(W, b\) pair"),
    ("empty batch", ValueError, r"x is an empty batch: shape \(0, 2\)"),
    ("x dtype", TypeError, r"x must have dtype float64, the Network's, got float32"),
    ("y shape", ValueError, r"y must have shape \(4, 2\) \(B, n_L\), got \(3, 2\)"),
    ("y not an array", TypeError, r"y must be a numpy.ndarray, got list"),
    ("W non-finite", ValueError, r"params\[1\]\[0\] \(W⁽2⁾\) must be finite, got 1 non-finite"),
    ("x non-finite", ValueError, r"x must be finite, got 1 non-finite"),
    ("y non-finite", ValueError, r"y must be finite, got 1 non-finite"),
    ("y domain", ValueError, r"y must lie in \[0, 1\] for binary_cross_entropy"),
])
def test_a_bad_call_is_named(kind: str, error: type, pattern: str) -> None:
    net, params, x, y = _call(kind)
    with pytest.raises(error, match=pattern):
        net.gradients(params, x, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_calls_check_finiteness_exactly(dtype) -> None:
    """Above validate._SMALL_CALL entries the check is Σ v² per array: huge finite values (whose squares
    overflow) pass without a warning, any NaN or inf is found and named."""
    n = 200
    assert n * n > validate._SMALL_CALL
    net = Network((n, n, 1), ("tanh", "identity"), "half_sse", dtype)
    rng = np.random.default_rng(3)
    params = [(rng.normal(size=(n, n)).astype(dtype), np.zeros(n, dtype)),
              (rng.normal(size=(1, n)).astype(dtype), np.zeros(1, dtype))]
    x, y = rng.normal(size=(2, n)).astype(dtype), np.zeros((2, 1), dtype)
    big = np.finfo(dtype).max / 4
    params[0][0][0, :2] = big, -big  # Σ W² overflows: the exact check has to run, and passes
    grads = net.gradients(params, x, y)
    assert all(np.all(np.isfinite(g)) for layer in grads for g in layer)
    for value in (np.nan, np.inf, -np.inf):
        bad = params[0][0].copy()
        bad[5, 7] = value
        with pytest.raises(ValueError, match=r"params\[0\]\[0\] \(W⁽1⁾\) must be finite, got 1 non-finite"):
            net.gradients([(bad, params[0][1]), params[1]], x, y)


def test_the_contract_function_keeps_one_network_per_structure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network_module, "_NETWORKS", {})
    monkeypatch.setattr(network_module, "_MAX_NETWORKS", 2)
    rng = np.random.default_rng(1)
    for n in (2, 3, 2, 4, 5):  # two layers, every width its own: a Network with a width misread is found out
        params = [(rng.normal(size=(6, 3)), rng.normal(size=6)), (rng.normal(size=(n, 6)), rng.normal(size=n))]
        manual_bp.gradients(params, rng.normal(size=(2, 3)), rng.normal(size=(2, n)), ["tanh", "tanh"], "mse")
    kept = list(network_module._NETWORKS.values())
    assert [net.widths for net in kept] == [(3, 6, 4), (3, 6, 5)]  # at most 2: (3, 6, 2), (3, 6, 3) were let go
    assert kept[0] == Network((3, 6, 4), ["tanh", "tanh"], "mse", "float64")


def test_params_may_be_any_sequence_of_pairs_as_for_the_contract_function() -> None:
    class Layers(Sequence):  # neither list nor tuple
        def __init__(self, items: list) -> None:
            self.items = items

        def __getitem__(self, i):  # type: ignore[override]
            return self.items[i]

        def __len__(self) -> int:
            return len(self.items)

    rng = np.random.default_rng(2)
    params = [(rng.normal(size=(3, 2)), rng.normal(size=3)), [rng.normal(size=(1, 3)), rng.normal(size=1)]]
    x, y = rng.normal(size=(4, 2)), rng.normal(size=(4, 1))
    want = manual_bp.gradients(params, x, y, ["relu", "identity"], "huber")
    _assert_identical(manual_bp.gradients(Layers(params), x, y, ["relu", "identity"], "huber"), want)
    _assert_identical(manual_bp.gradients(Layers(params), x, y, ["relu", "identity"], "huber"), want)  # known now
    _assert_identical(Network((2, 3, 1), ["relu", "identity"], "huber", "float64").gradients(Layers(params), x, y),
                      want)


@pytest.mark.parametrize("n", [1, 60])  # below validate._TINY_CALL entries, then above it
def test_huge_finite_entries_pass_the_finiteness_probes(n: int) -> None:
    """On tiny calls the probe is a Python sum, which overflows on targets of 1e308 (y holds two): that
    sends it to the exact check, which lets the call through. Larger calls use isfinite directly."""
    net = Network((2, n, 1), ("tanh", "identity"), "half_sse", "float64")
    rng = np.random.default_rng(4)
    params = [(rng.normal(size=(n, 2)), rng.normal(size=n)), (0.1 * rng.normal(size=(1, n)), np.zeros(1))]
    x, y = rng.normal(size=(2, 2)), np.full((2, 1), 1e308)
    size = sum(a.size for layer in params for a in layer) + x.size + y.size
    assert (size <= validate._TINY_CALL) == (n == 1)
    grads = net.gradients(params, x, y)
    assert all(np.all(np.isfinite(g)) for layer in grads for g in layer)


# --- gaps the cosmic-ray campaign found (docs/mutations.md, "The cosmic-ray campaign") ----------------

@pytest.mark.parametrize("n", [1, 60, 9000])  # each finiteness probe: Python sum, isfinite joined, Σ v²
def test_every_finiteness_probe_finds_a_non_finite_entry(n: int) -> None:
    net = Network((2, n, 1), ("tanh", "identity"), "half_sse", "float64")
    rng = np.random.default_rng(5)
    params = [(rng.normal(size=(n, 2)), rng.normal(size=n)), (rng.normal(size=(1, n)), np.zeros(1))]
    x, y = rng.normal(size=(2, 2)), np.zeros((2, 1))
    size = sum(a.size for layer in params for a in layer) + x.size + y.size
    probe = 0 if size <= validate._TINY_CALL else 1 if size <= validate._SMALL_CALL else 2
    assert probe == [1, 60, 9000].index(n)
    x[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"x must be finite, got 1 non-finite"):
        net.gradients(params, x, y)


def test_a_layer_that_is_not_a_pair_is_named_at_every_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network_module, "_NETWORKS", {})
    rng = np.random.default_rng(6)
    W, b = rng.normal(size=(1, 2)), rng.normal(size=1)
    x, y = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    pattern = r"params\[0\] \(layer 1\) must be a \(W, b\) pair"
    with pytest.raises(TypeError, match=pattern):
        manual_bp.gradients([(W, b, b)], x, y, ["tanh"], "mse")
    with pytest.raises(TypeError, match=pattern):
        manual_bp.forward([(W, b, b)], x, ["tanh"])
    with pytest.raises(TypeError, match=pattern):
        Network((2, 1), ["tanh"], "mse", "float64").gradients([(W, b, b)], x, y)


@pytest.mark.parametrize(("layer2", "pattern"), [
    ((np.ones((0, 3)), np.ones(0)), r"params\[1\]\[0\] \(W⁽2⁾\) has a zero width: shape \(0, 3\)"),
    ((np.ones((2, 4)), np.ones(2)), r"params\[1\]\[0\] \(W⁽2⁾\) must have 3 columns to follow W⁽1⁾"),
    ((np.ones((2, 3)), np.ones(3)), r"params\[1\]\[1\] \(b⁽2⁾\) must have shape \(2,\) to match W⁽2⁾"),
    (None, r"params\[0\]\[1\] \(b⁽1⁾\) must have shape \(3,\) to match W⁽1⁾"),
])
def test_a_bad_layer_is_named_with_its_index(layer2: tuple | None, pattern: str) -> None:
    """The contract's functions (here forward) name the layer: params[l−1] and W⁽ˡ⁾, for l = 1 and 2."""
    rng = np.random.default_rng(7)
    params = [(rng.normal(size=(3, 2)), rng.normal(size=3)), (np.ones((2, 3)), np.ones(2))]
    if layer2 is None:
        params[0] = (params[0][0], np.ones(4))
    else:
        params[1] = layer2
    with pytest.raises(ValueError, match=pattern):
        manual_bp.forward(params, rng.normal(size=(4, 2)), ["tanh", "identity"])


def test_a_smaller_W_is_named_not_broadcast() -> None:
    net = Network((2, 3, 1), ("tanh", "identity"), "mse", "float64")
    rng = np.random.default_rng(8)
    params = [(rng.normal(size=(3, 1)), rng.normal(size=3)), (rng.normal(size=(1, 3)), rng.normal(size=1))]
    with pytest.raises(ValueError, match=r"params\[0\]\[0\] \(W⁽1⁾\) must have shape \(3, 2\)"):
        net.gradients(params, rng.normal(size=(4, 2)), rng.normal(size=(4, 1)))


def test_a_wide_input_gets_the_error_of_what_is_wrong() -> None:
    """Widths above 256 are ints that Python does not share: compared by value, a right x is never blamed."""
    net = Network((300, 1), ("identity",), "mse", "float64")
    rng = np.random.default_rng(9)
    params = [(rng.normal(size=(1, 300)), rng.normal(size=1))]
    with pytest.raises(TypeError, match=r"y must have dtype float64, the Network's, got float32"):
        net.gradients(params, rng.normal(size=(2, 300)), np.zeros((2, 1), np.float32))


def test_a_wide_input_passes_as_often_as_it_is_called() -> None:
    """The widths compared by value on the quick path too: a right call with n₀ = 300 (an int Python does
    not share) passes, every time, with the contract function's result."""
    net = Network((300, 2), ("tanh",), "mse", "float64")
    rng = np.random.default_rng(11)
    params = [(rng.normal(size=(2, 300)) / 20, rng.normal(size=2))]
    x, y = rng.normal(size=(3, 300)), rng.normal(size=(3, 2))
    want = manual_bp.gradients(params, x, y, ["tanh"], "mse")
    for _ in range(2):
        _assert_identical(net.gradients(params, x, y), want)


def test_an_x_of_the_wrong_width_is_named_beside_W1() -> None:
    rng = np.random.default_rng(10)
    params = [(rng.normal(size=(3, 2)), rng.normal(size=3))]
    with pytest.raises(ValueError, match=r"x must have shape \(B, 2\) to match W⁽¹⁾ of shape \(3, 2\), got \(4, 3\)"):
        manual_bp.forward(params, rng.normal(size=(4, 3)), ["tanh"])
