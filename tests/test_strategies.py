"""Meta-tests: the strategies reach every corner they promise, and the assertion helpers fail readably."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import manual_bp
from bpcheck import tolerance as tol
from bpcheck.assertions import assert_gradients_close
from bpcheck.cases import ACTIVATIONS, LOSSES, Case
from bpcheck.strategies import cases, shapes

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")


def find_any(strategy, condition, max_examples: int = 3000):
    """Like hypothesis' internal find_any: some draw satisfies ``condition`` within the budget."""
    found: list = []

    @settings(max_examples=max_examples, database=None, deadline=None, derandomize=True)
    @given(strategy)
    def search(value) -> None:
        if condition(value):
            found.append(value)
            raise StopIteration

    try:
        search()
    except StopIteration:
        return found[0]
    raise AssertionError("no draw satisfied the condition")


SHAPE_CORNERS = {
    "depth 1": lambda s: len(s.widths) == 2,
    "depth ≥ 3": lambda s: len(s.widths) >= 4,
    "depth 6": lambda s: len(s.widths) == 7,
    "width 1 inside": lambda s: 1 in s.widths[1:-1],
    "n_L = 1": lambda s: s.widths[-1] == 1,
    "batch 1": lambda s: s.batch == 1,
    "batch equal to a width > 1": lambda s: s.batch > 1 and s.batch in s.widths,
    "square W": lambda s: any(a == b > 1 for a, b in zip(s.widths, s.widths[1:], strict=False)),
    "width 32": lambda s: 32 in s.widths,
    "batch 32": lambda s: s.batch == 32,
}


@pytest.mark.parametrize("corner", list(SHAPE_CORNERS))
def test_shapes_reach_every_corner(corner: str) -> None:
    find_any(shapes(), SHAPE_CORNERS[corner])


def _exact_kink(case: Case) -> bool:
    zs = manual_bp.forward(case.params, case.x, list(case.activations)).zs
    return any(np.any(z == 0) and act in ("relu", "leaky_relu", "elu") for z, act in zip(zs, case.activations,
                                                                                         strict=True))


def _a_equals_y(case: Case) -> bool:
    a = manual_bp.forward(case.params, case.x, list(case.activations)).activations[-1]
    return case.loss == "l1" and bool(np.any(a == case.y))


def _saturated(case: Case) -> bool:
    zs = manual_bp.forward(case.params, case.x, list(case.activations)).zs
    return any(np.any(np.abs(z) > 30) and act in ("sigmoid", "tanh", "softplus")
               for z, act in zip(zs, case.activations, strict=True))


CASE_CORNERS = {
    "different activations per layer": lambda c: len(set(c.activations)) > 1,
    "exact z = 0 at a kink": _exact_kink,
    "l1 with a = y exactly": _a_equals_y,
    "saturated sigmoid/tanh/softplus": _saturated,
    "large cross-entropy logits": lambda c: c.loss == "cross_entropy" and _logits_above(c, 50),
    "float32": lambda c: c.dtype == np.float32,
    "float64": lambda c: c.dtype == np.float64,
}


def _logits_above(case: Case, bound: float) -> bool:
    return bool(np.max(np.abs(manual_bp.forward(case.params, case.x, list(case.activations)).activations[-1]))
                > bound)


@pytest.mark.parametrize("corner", list(CASE_CORNERS))
def test_cases_reach_every_corner(corner: str) -> None:
    find_any(cases(), CASE_CORNERS[corner])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_every_activation_is_drawn(name: str) -> None:
    find_any(cases(), lambda c: name in c.activations, max_examples=500)


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_is_drawn(name: str) -> None:
    find_any(cases(), lambda c: c.loss == name, max_examples=500)


@given(cases())
def test_targets_are_valid_for_the_loss(case: Case) -> None:
    assert case.y.shape == (case.batch, case.widths[-1])
    if case.loss == "cross_entropy":
        assert np.all(case.y >= 0)
        np.testing.assert_allclose(case.y.sum(axis=1), 1.0, rtol=0, atol=1e-5 * case.widths[-1])
    if case.loss == "binary_cross_entropy":
        assert np.all((case.y >= 0) & (case.y <= 1))
    assert all(W.dtype == case.dtype for W, _ in case.params)
    manual_bp.gradients(case.params, case.x, case.y, list(case.activations), case.loss)  # validates the case


@given(cases(max_depth=3, max_width=5), st.integers(0, 1000))
def test_assertion_helper_names_the_planted_mismatch(case: Case, pick: int) -> None:
    analysis = tol.analyse(case)
    grads = [(dW.copy(), db.copy()) for dW, db in analysis.grads]
    layer = pick % case.depth
    scale = 1.0 + float(np.max(np.abs(grads[layer][1])))
    grads[layer][1][0] += 0.5 * scale  # a planted error far beyond any rounding
    with pytest.raises(AssertionError) as info:
        assert_gradients_close(grads, analysis.grads, analysis, u_ref=0.0, names=("planted", "truth"), case=case)
    msg = str(info.value)
    assert f"∂J/∂b⁽{layer + 1}⁾ of planted against truth" in msg
    assert "entry [0]" in msg and "> tolerance" in msg and "margin" in msg


@given(cases(max_depth=3, max_width=5), st.integers(0, 1000), st.sampled_from([0.5, 1.5]))
def test_assertion_helper_draws_the_line_at_the_tolerance(case: Case, pick: int, factor: float) -> None:
    """An error of half the tolerance at one entry passes, with that margin; 1.5 times it fails."""
    analysis = tol.analyse(case)
    grads = [(dW.copy(), db.copy()) for dW, db in analysis.grads]
    layer = pick % case.depth
    tau = tol.tolerance(analysis.grad_bounds[layer][1], analysis.u, 0.0)
    assume(tau[0] > 0 and np.isfinite(tau[0]))
    grads[layer][1][0] += factor * tau[0]
    # the planted value, as stored, must be off by the planted amount (no absorption by rounding)
    assume(abs(abs(grads[layer][1][0] - analysis.grads[layer][1][0]) / tau[0] - factor) < 1e-3)
    if factor < 1:
        margin = assert_gradients_close(grads, analysis.grads, analysis, u_ref=0.0)
        assert 0.5 - 1e-3 < margin <= 0.5 + 1e-3
    else:
        with pytest.raises(AssertionError, match=f"∂J/∂b⁽{layer + 1}⁾"):
            assert_gradients_close(grads, analysis.grads, analysis, u_ref=0.0)
