"""Judging one case of a candidate gradient function against the truth: a verdict, never a crash.

The faults, in the order they are looked for (the first found is the verdict's ``kind``):

| kind | the candidate … |
|---|---|
| ``exception`` | raised (traceback summarised), called ``sys.exit``; or its process crashed, hung, ran out of memory |
| ``shape`` | returned the wrong number of layers or pairs, non-arrays, or arrays of the wrong shapes |
| ``dtype`` | returned arrays of another dtype than the inputs' |
| ``mutated_input`` | modified params, x or y in place |
| ``inconsistent`` | answered the same call differently the second time (state kept between calls) |
| ``non_finite`` | returned NaN or inf where the truth is finite |
| ``mismatch`` | returned gradients farther from the truth than the tolerance model allows |

A crashed, hung or exhausted process is told in the message: ``exited with status 3``, ``killed by
SIGSEGV``, ``did not return within 30 s``, ``ran out of memory (limit 4 GiB)``.

The candidate runs in a worker process (``bpcheck.isolation``) or, for debugging, in this one; either
way it answers through the same plan: a call on fresh copies of the case, then a second identical
call. The request is sent before the case is analysed, so the worker and the analysis run side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from bpcheck import tolerance as tol
from bpcheck.cases import Case
from bpcheck.check.layout import CONTRACT, Layout
from bpcheck.isolation.supervisor import Candidate, Crash, InProcess
from bpcheck.isolation.worker import Opaque, Same

Array = np.ndarray
KINDS = ("mismatch", "exception", "shape", "dtype", "non_finite", "mutated_input", "inconsistent")
CANDIDATE = "gradients"  # the name the candidate function goes by in its worker


class Fault(NamedTuple):
    """What the judge found, with its evidence: the candidate's first answer (None when it raised)
    and the analysis of the case, so whoever explains the fault recomputes nothing."""

    kind: str
    message: str
    mismatches: list[tol.Mismatch]
    output: Any = None
    analysis: tol.Analysis | None = None


def type_name(value: Any) -> str:
    return value.type_name if isinstance(value, Opaque) else type(value).__name__


def structure_fault(out: Any, case: Case, layout: Layout = CONTRACT) -> Fault | None:
    """A ``shape`` or ``dtype`` fault of the answer's structure (in the candidate's layout), or None."""
    _, kind, message = layout.canonical(out, case)
    return Fault(kind, message, []) if kind else None


def _mutated_message(path: tuple[int | str, ...]) -> str:
    """args = (params, x, y, activations, loss): where the first modified array sits, in words."""
    if path and path[0] == 0 and len(path) > 1:
        return f"params of layer {int(path[1]) + 1} were modified in place"
    names = ("params", "x", "y", "activations", "loss")
    return f"{names[int(path[0])] if path else 'an argument'} was modified in place"


def submit(candidate: Candidate, case: Case, layout: Layout = CONTRACT) -> Iterator[Any]:
    """Send the case to the candidate now, in its layout; the answers come from the returned iterator."""
    return candidate.submit("twice", CANDIDATE, layout.args(case))


def judge(candidate: Candidate | Callable[..., Any], case: Case, analysis: tol.Analysis | None = None,
          layout: Layout = CONTRACT, *, declines: bool = False) -> Fault | None:
    """The first fault of the candidate on ``case`` (see the table above), or None if it passes.

    ``candidate``: an isolated or in-process candidate (``bpcheck.isolation.supervisor``), or a plain
    function, judged in this process. ``analysis`` defaults to ``tolerance.analyse(case)``, computed
    while the candidate works. ``layout``: how the candidate takes its arguments and gives its answer
    (``bpcheck.check.layout``; the contract's by default). The fault carries the candidate's answer (as
    contract (dW, db) pairs when its structure allows) and the analysis. ``declines``: a
    NotImplementedError is the candidate declining the case (a fault of kind ``"declined"``, which the
    search skips and counts), not an exception.
    """
    return assess(candidate, case, analysis, layout, declines=declines)[0]


def assess(candidate: Candidate | Callable[..., Any], case: Case, analysis: tol.Analysis | None = None,
           layout: Layout = CONTRACT, *, declines: bool = False) -> tuple[Fault | None, tol.Analysis]:
    """``judge``, returning the analysis too (the search needs its resolution)."""
    if not isinstance(candidate, Candidate):
        candidate = InProcess({CANDIDATE: candidate})
    replies = submit(candidate, case, layout)
    if analysis is None:
        analysis = tol.analyse(case)
    return _first_fault(replies, case, layout.truth(analysis, case), layout, declines), analysis


def assess_each(candidate: Candidate | Callable[..., Any], cases: list[Case], layout: Layout = CONTRACT, *,
                declines: bool = False) -> list[tuple[Fault | None, tol.Analysis]]:
    """``assess`` for several cases with one request: the worker calls the candidate on all of them
    while this process analyses them all; then each is judged in order, up to the first fault (a
    declined case is not one). The list holds the judged cases' (fault, analysis), in order."""
    if not isinstance(candidate, Candidate):
        candidate = InProcess({CANDIDATE: candidate})
    stream = _ByCase(candidate.submit("twice_each", CANDIDATE, [layout.args(case) for case in cases]))
    analyses = [tol.analyse(case) for case in cases]
    judged: list[tuple[Fault | None, tol.Analysis]] = []
    for j, (case, analysis) in enumerate(zip(cases, analyses, strict=True)):
        fault = _first_fault(stream.replies(j), case, layout.truth(analysis, case), layout, declines)
        judged.append((fault, analysis))
        if fault is not None and fault.kind != "declined":
            break
    return judged


class _ByCase:
    """The replies of a request over several cases, handed out case by case."""

    def __init__(self, stream: Iterator[Any]) -> None:
        self.stream, self.ahead = stream, None

    def replies(self, case: int) -> Iterator[Any]:
        while True:
            if self.ahead is None:
                self.ahead = next(self.stream, None)
            reply = self.ahead
            if reply is None or (not isinstance(reply, Crash) and reply.case != case):
                return
            self.ahead = None
            yield reply
            if isinstance(reply, Crash):
                return


def _first_fault(replies: Iterator[Any], case: Case, truth: tol.Analysis, layout: Layout,
                 declines: bool) -> Fault | None:
    """The judgement itself: ``truth`` is the analysis as this layout's candidate must answer it."""
    first = next(replies)
    if isinstance(first, Crash):
        return Fault("exception", first.message, [], None, truth)
    if first.kind == "raised":
        kind = "declined" if declines and first.exception == "NotImplementedError" else "exception"
        return Fault(kind, first.value, [], None, truth)
    out, kind, message = layout.canonical(first.value, case)
    if kind == "shape":
        return Fault("shape", message, [], first.value, truth)
    if kind == "dtype":
        return Fault("dtype", message + _values_once_cast(out, truth, layout), [], out, truth)

    def fault(kind: str, message: str, mismatches: list[tol.Mismatch] | None = None) -> Fault:
        return Fault(kind, message, mismatches or [], out, truth)

    if first.mutated is not None:
        return fault("mutated_input", _mutated_message(first.mutated))
    second = next(replies)
    if isinstance(second, Crash):
        return fault("inconsistent", f"the same call, made a second time: {second.message}")
    if second.kind == "raised":
        return fault("inconsistent", f"the same call raised the second time: {second.value}")
    if not isinstance(second.value, Same):
        again, kind, _ = layout.canonical(second.value, case)
        if kind:
            return fault("inconsistent", "a second identical call returned a different structure")
        # differences within rounding (a non-deterministic reduction order) are not a fault
        drift, _ = tol.compare(again, out, truth, u_ref=truth.u)
        if drift:
            m = drift[0]
            return fault("inconsistent", f"a second identical call gave different gradients: "
                                         f"{m.param}⁽{m.layer}⁾ moved by {m.max_abs_err:.3g}")
    u64 = tol.unit_roundoff(np.float64)
    if tol.within(out, truth.grads, truth, u_ref=u64):  # the common answer, in one pass
        return None
    for l, (pair, reference) in enumerate(zip(out, truth.grads, strict=True), start=1):
        for name, got, t in zip(("dW", "db"), pair, reference, strict=True):
            bad = ~np.isfinite(got) & np.isfinite(t)
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                return fault("non_finite", f"layer {l}: {name}{list(layout.entry(name, idx))} is {got[idx]} "
                                           f"where the truth is {float(t[idx])!r}")
    mismatches, _ = tol.compare(out, truth.grads, truth, u_ref=tol.unit_roundoff(np.float64))
    if mismatches:
        return fault("mismatch", _mismatch_message(mismatches, layout), mismatches)
    return None


def _values_once_cast(out: list[tuple[Array, Array]], truth: tol.Analysis, layout: Layout) -> str:
    """A dtype fault does not hide the numbers: are the values right once cast to the expected dtype?"""
    cast = [(dW.astype(truth.dtype), db.astype(truth.dtype)) for dW, db in out]
    with np.errstate(all="ignore"):
        mismatches, _ = tol.compare(cast, truth.grads, truth, u_ref=tol.unit_roundoff(np.float64))
    if not mismatches:
        return f"; once cast to {truth.dtype} its values agree with the truth"
    return f"; its values are wrong too, once cast to {truth.dtype}: {_mismatch_message(mismatches, layout)}"


def _mismatch_message(mismatches: list[tol.Mismatch], layout: Layout = CONTRACT) -> str:
    """The wrong pairs, and the worst entry, indexed as in the candidate's own array."""
    parts = [f"{m.param}⁽{m.layer}⁾" for m in mismatches]
    worst = max(mismatches, key=lambda m: m.margin)
    at = list(layout.entry(worst.param, worst.index))
    return (f"gradients disagree with the truth beyond tolerance in {', '.join(parts)}; worst "
            f"{worst.param}⁽{worst.layer}⁾{at}: error {worst.max_abs_err:.3g} > "
            f"tolerance {worst.tolerance:.3g}")
