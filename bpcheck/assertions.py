"""Assertion helpers for property tests: one comparison, a readable failure.

    assert_backprop(my_gradients, case)                     # the whole judgement, as `manual-bp check`

runs the full judgement of ``manual-bp check`` on one case (structure, dtype, mutated inputs, a
second identical call, non-finite values, the tolerance model), in this process, and fails with the
fault's kind and message: the same verdict as the command line and ``check()`` on the same code.

    assert_gradients_close(candidate, reference, analysis, u_ref=0.0, names=("manual_bp", "torch"))

compares every ∂J/∂W⁽ˡ⁾ and ∂J/∂b⁽ˡ⁾ under the tolerance model and, on failure, says which layer and
parameter, which entry, by how much, against which tolerance — and hides itself from the traceback.
Margins (error ÷ tolerance) of passing comparisons reach every function in ``MARGIN_LISTENERS``, so
trends show before anything fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bpcheck import tolerance as tol
from bpcheck.check.judge import judge
from bpcheck.check.layout import Layout
from bpcheck.isolation.supervisor import InProcess

Array = np.ndarray
# hook for the test session: called with (label, margin, case) for every comparison made
MARGIN_LISTENERS: list[Callable[[str, float, Any], None]] = []


def _notify(label: str, margin: float, case: Any = None) -> None:
    for listen in MARGIN_LISTENERS:
        listen(label, margin, case)


def assert_backprop(fn: Callable[..., Any], case: Any, *, layout: str = "rows", weights: str = "out_in",
                    targets: str = "probabilities", reduction: str = "mean", l2: float = 0.0,
                    loss_input: str = "logits", timeout: float = 30.0) -> None:
    """Judge ``fn`` on one ``bpcheck.cases.Case`` exactly as ``manual-bp check`` does; AssertionError
    ("kind: message") on any fault. The layout options are ``check``'s (``bpcheck.check.layout``);
    draw cases to match (e.g. ``cases(targets="one-hot")`` for ``targets="labels"``). In-process, with
    a ``timeout`` per call (SIGALRM, main thread). A case that does not fit the options (soft targets
    for ``targets="labels"``, a non-identity output layer for ``loss_input="probabilities"``) is a
    ValueError, never a verdict."""
    __tracebackhide__ = True
    how = Layout(samples=layout, weights=weights, targets=targets, reduction=reduction, l2=l2, loss_input=loss_input)
    why = how.misfit(case)
    if why:
        raise ValueError(f"assert_backprop: the case does not fit the options: {why}")
    fault = judge(InProcess({"gradients": fn}, timeout=timeout), case, layout=how)
    if fault is not None:
        raise AssertionError(f"{fault.kind}: {fault.message} (on {case.describe()})")


def assert_arrays_close(got: Array, want: Array, tau: Array, *, what: str) -> float:
    """|got − want| ≤ τ entrywise; returns the margin max |got − want|/τ."""
    __tracebackhide__ = True
    if np.shape(got) != np.shape(want):
        raise AssertionError(f"{what}: shape {np.shape(got)} where {np.shape(want)} was expected")
    ok, err, t, margin, idx = tol.compare_arrays(np.asarray(got), np.asarray(want), tau)
    if not ok:
        raise AssertionError(
            f"{what}: entry {list(idx)} is {float(np.asarray(got)[idx])!r}, expected {float(np.asarray(want)[idx])!r}: "
            f"|error| {err:.3g} > tolerance {t:.3g} (margin {margin:.3g}; worst of {np.size(got)} entries)")
    return margin


def assert_gradients_close(candidate: list[tuple[Array, Array]], reference: list[tuple[Array, Array]],
                           analysis: tol.Analysis, *, u_ref: float, names: tuple[str, str] = ("candidate",
                                                                                              "reference"),
                           case: Any = None) -> float:
    """Every (dW, db) of ``candidate`` within the tolerance model of ``reference``; returns the worst margin."""
    __tracebackhide__ = True
    if len(candidate) != len(reference):
        raise AssertionError(f"{names[0]} has {len(candidate)} layers, {names[1]} has {len(reference)}")
    worst = 0.0
    where = f" on {case.describe()}" if case is not None else ""
    for l, ((gW, gb), (rW, rb), (eW, eb)) in enumerate(
            zip(candidate, reference, analysis.grad_bounds, strict=True), start=1):
        for p, g, r, e in (("W", gW, rW, eW), ("b", gb, rb, eb)):
            tau = tol.tolerance(e, analysis.u, u_ref)
            worst = max(worst, assert_arrays_close(
                g, r, tau, what=f"∂J/∂{p}⁽{l}⁾ of {names[0]} against {names[1]}{where}"))
    _notify(f"{names[0]} vs {names[1]}", worst, case)
    return worst


def assert_deltas_close(candidate: list[Array], reference: list[Array], analysis: tol.Analysis, *,
                        u_ref: float, names: tuple[str, str] = ("candidate", "reference"),
                        case: Any = None) -> float:
    """Every δ⁽ˡ⁾ = ∂J/∂z⁽ˡ⁾ within the tolerance model, layer by layer; returns the worst margin."""
    __tracebackhide__ = True
    worst = 0.0
    where = f" on {case.describe()}" if case is not None else ""
    for l, (g, r, e) in enumerate(zip(candidate, reference, analysis.delta_bounds, strict=True), start=1):
        worst = max(worst, assert_arrays_close(
            g, r, tol.tolerance(e, analysis.u, u_ref), what=f"δ⁽{l}⁾ of {names[0]} against {names[1]}{where}"))
    _notify(f"{names[0]} vs {names[1]} (δ)", worst, case)
    return worst
