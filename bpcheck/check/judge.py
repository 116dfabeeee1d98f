"""Judging one call of a candidate gradient function against the truth: a verdict, never a crash.

The faults, in the order they are looked for (the first found is the verdict's ``kind``):

| kind | the candidate … |
|---|---|
| ``exception`` | raised (its own traceback is summarised), or did not return within ``CALL_TIMEOUT_S`` |
| ``shape`` | returned the wrong number of layers or pairs, non-arrays, or arrays of the wrong shapes |
| ``dtype`` | returned arrays of another dtype than the inputs' |
| ``mutated_input`` | modified params, x or y in place |
| ``inconsistent`` | answered the same call differently the second time (state kept between calls) |
| ``non_finite`` | returned NaN or inf where the truth is finite |
| ``mismatch`` | returned gradients farther from the truth than the tolerance model allows |
"""

from __future__ import annotations

import contextlib
import signal
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from bpcheck import tolerance as tol
from bpcheck.cases import Case

Array = np.ndarray
KINDS = ("mismatch", "exception", "shape", "dtype", "non_finite", "mutated_input", "inconsistent")


class Fault(NamedTuple):
    """What the judge found, with its evidence: the candidate's first answer (None when it raised)
    and the analysis of the case, so whoever explains the fault recomputes nothing."""

    kind: str
    message: str
    mismatches: list[tol.Mismatch]
    output: Any = None
    analysis: tol.Analysis | None = None


# A call that has not returned after this many seconds is a fault of kind "exception" (a candidate
# stuck in a loop must not hang the tool). Enforced with SIGALRM, so on the main thread of a POSIX
# process and between Python bytecodes: a single long NumPy operation finishes first.
CALL_TIMEOUT_S = 30.0
# After one call has timed out, shrinking replays many cases that will time out too: they get this
# shorter deadline for the rest of the check (reset by ``reset_deadline``).
SHRINK_TIMEOUT_S = 1.0
_state = {"timed_out": False}


def reset_deadline() -> None:
    _state["timed_out"] = False


class CandidateTimeout(Exception):
    """The candidate did not return within CALL_TIMEOUT_S."""


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or seconds <= 0:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CandidateTimeout(f"the call did not return within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call_candidate(fn: Callable[..., Any], case: Case) -> tuple[Any, BaseException | None, Case]:
    """Call ``fn`` on fresh copies of the case, silencing NumPy's warnings (a warning is no verdict).

    Returns (its output or None, the exception it raised or None, the copies it was given)."""
    c = case.copy()
    try:
        limit = min(CALL_TIMEOUT_S, SHRINK_TIMEOUT_S) if _state["timed_out"] else CALL_TIMEOUT_S
        with warnings.catch_warnings(), np.errstate(all="ignore"), _deadline(limit):
            warnings.simplefilter("ignore")
            return fn(c.params, c.x, c.y, list(c.activations), c.loss), None, c
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure of the candidate is a verdict
        if isinstance(exc, CandidateTimeout):
            _state["timed_out"] = True
        return None, exc, c


def summarise_exception(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/bpcheck/" not in f.filename]
    where = "; ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}" for f in frames[-3:])
    return f"{type(exc).__name__}: {exc}" + (f" (at {where})" if where else "")


def structure_fault(out: Any, case: Case) -> Fault | None:
    """A ``shape`` or ``dtype`` fault of the answer's structure, or None if it is a list of (dW, db) arrays
    with the params' shapes and the inputs' dtype."""
    L = case.depth
    if not isinstance(out, (list, tuple)):
        return Fault("shape", f"expected a list of {L} (dW, db) pairs, got {type(out).__name__}", [])
    if len(out) != L:
        return Fault("shape", f"expected {L} (dW, db) pairs (one per layer), got {len(out)}", [])
    for l, (pair, (W, b)) in enumerate(zip(out, case.params, strict=True), start=1):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            return Fault("shape", f"layer {l}: expected a (dW, db) pair, got {type(pair).__name__}", [])
        for name, got, want in (("dW", pair[0], W), ("db", pair[1], b)):
            if not isinstance(got, np.ndarray):
                return Fault("shape", f"layer {l}: {name} is a {type(got).__name__}, expected a numpy array", [])
            if got.shape != want.shape:
                return Fault("shape", f"layer {l}: {name} has shape {got.shape}, expected {want.shape}", [])
    for l, pair in enumerate(out, start=1):
        for name, got in zip(("dW", "db"), pair, strict=True):
            if got.dtype != case.dtype:
                return Fault("dtype", f"layer {l}: {name} has dtype {got.dtype}, expected {case.dtype} "
                                      "(gradients come back in the inputs' dtype)", [])
    return None


def _mutated(before: Case, after: Case) -> str | None:
    for l, ((W0, b0), (W1, b1)) in enumerate(zip(before.params, after.params, strict=True), start=1):
        if not np.array_equal(W0, W1) or not np.array_equal(b0, b1):
            return f"params of layer {l} were modified in place"
    for name, v0, v1 in (("x", before.x, after.x), ("y", before.y, after.y)):
        if not np.array_equal(v0, v1):
            return f"{name} was modified in place"
    return None


def judge(fn: Callable[..., Any], case: Case, analysis: tol.Analysis) -> Fault | None:
    """The first fault of ``fn`` on ``case`` (see the table above), or None if it passes.

    The fault carries the candidate's first answer and ``analysis``, its evidence.
    """
    out, exc, c = call_candidate(fn, case)

    def fault(kind: str, message: str, mismatches: list[tol.Mismatch] | None = None) -> Fault:
        return Fault(kind, message, mismatches or [], out, analysis)

    if exc is not None:
        return fault("exception", summarise_exception(exc))
    found = structure_fault(out, case)
    if found:
        return fault(found.kind, found.message)
    where = _mutated(case, c)
    if where:
        return fault("mutated_input", where)
    again, exc, _ = call_candidate(fn, case)
    if exc is not None:
        return fault("inconsistent", f"the same call raised the second time: {summarise_exception(exc)}")
    if structure_fault(again, case) is not None:
        return fault("inconsistent", "a second identical call returned a different structure")
    if not _bitwise_equal(out, again):
        # bitwise differences within rounding (a non-deterministic reduction order) are not a fault
        drift, _ = tol.compare(again, out, analysis, u_ref=analysis.u)
        if drift:
            m = drift[0]
            return fault("inconsistent", f"a second identical call gave different gradients: "
                                         f"{m.param}⁽{m.layer}⁾ moved by {m.max_abs_err:.3g}")
    for l, (pair, truth) in enumerate(zip(out, analysis.grads, strict=True), start=1):
        for name, got, t in zip(("dW", "db"), pair, truth, strict=True):
            bad = ~np.isfinite(got) & np.isfinite(t)
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                return fault("non_finite", f"layer {l}: {name}{list(idx)} is {got[idx]} where the truth is "
                                           f"{t[idx]:.6g}")
    mismatches, _ = tol.compare(out, analysis.grads, analysis, u_ref=tol.unit_roundoff(np.float64))
    if mismatches:
        return fault("mismatch", _mismatch_message(mismatches), mismatches)
    return None


def _bitwise_equal(a: list, b: list) -> bool:
    return all(np.array_equal(g1, g2, equal_nan=True)
               for p1, p2 in zip(a, b, strict=True) for g1, g2 in zip(p1, p2, strict=True))


def _mismatch_message(mismatches: list[tol.Mismatch]) -> str:
    parts = [f"{m.param}⁽{m.layer}⁾" for m in mismatches]
    worst = max(mismatches, key=lambda m: m.margin)
    return (f"gradients disagree with the truth beyond tolerance in {', '.join(parts)}; worst "
            f"{worst.param}⁽{worst.layer}⁾{list(worst.index)}: error {worst.max_abs_err:.3g} > "
            f"tolerance {worst.tolerance:.3g}")
