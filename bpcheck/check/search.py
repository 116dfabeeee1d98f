"""``check``: drive a candidate gradient function with the suite's strategies until it fails.

    from bpcheck.check import check
    verdict = check(my_gradients, examples=500, seed=0)
    verdict.passed, verdict.examples, verdict.counterexample

The search: Hypothesis draws cases (``bpcheck.strategies.cases``: every activation and loss, both
dtypes, the extreme and kink regimes), each judged against the float64 truth of the tolerance model
(``bpcheck.check.judge``). A failure is shrunk to a minimal counterexample — smallest depth, widths and
batch, simplest values — which is then compared with every available reference (the long-double
ground truth first, then torch, jax, finite differences) layer by layer, and written out as a
standalone repro script that needs only NumPy and the candidate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable

from bpcheck.cases import ACTIVATIONS, DTYPES, LOSSES, Case, make_case
from bpcheck.check import judge as _judge
from bpcheck.check import target as _target
from bpcheck.check.explain import explain
from bpcheck.check.verdict import Verdict
from bpcheck.isolation import supervisor
from bpcheck.isolation.supervisor import DEFAULT_MEMORY_LIMIT_GIB, DEFAULT_TIMEOUT_S, Candidate, InProcess, Isolated
from bpcheck.strategies import cases


class _Failed(Exception):
    pass


CORNER_REGIMES = ("kinks", "extreme")
CORNER_WIDTHS = (3, 3, 3, 3)  # depth 3, square W, n_L > 1: the shapes that expose most bugs
CORNER_BATCH = 3


def corner_cases(dtypes: Sequence[str] = DTYPES, seed: int = 0) -> list[tuple[Case, dict[str, Any]]]:
    """One case per activation × loss × dtype × corner regime, so the corners never depend on luck."""
    out = []
    for i, (act, loss, dtype, regime) in enumerate(
            (a, lo, d, r) for a in ACTIVATIONS for lo in LOSSES for d in dtypes for r in CORNER_REGIMES):
        rng = np.random.default_rng([seed, i])
        case = make_case(rng, CORNER_WIDTHS, (act,) * (len(CORNER_WIDTHS) - 1), loss, batch=CORNER_BATCH,
                         dtype=dtype, regime=regime)
        # the restricted search that shrinks a failing corner may also move to the simple regime
        out.append((case, {"activations": [act], "losses": [loss], "dtypes": [dtype],
                           "regimes": ["simple", regime]}))
    return out


def _search(candidate: Candidate, strategy: Any, examples: int,
            seed: int) -> tuple[tuple[Case, _judge.Fault] | None, int]:
    """Hypothesis's search and shrink: (the minimal failing case and its fault, or None; the number of
    passing cases the search judged before anything failed)."""
    passed = 0
    last: tuple[Case, _judge.Fault] | None = None

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              report_multiple_bugs=False, phases=(Phase.generate, Phase.target, Phase.shrink), print_blob=False)
    @given(strategy)
    def search(case: Case) -> None:
        nonlocal passed, last
        fault, analysis = _judge.assess(candidate, case)
        if fault is None:
            assume(analysis.resolvable)  # not a pass: a case that cannot resolve a bug is steered away from
            if last is None:  # count the search, not the shrinking
                passed += 1
            return
        last = (case, fault)
        raise _Failed(fault.kind)

    try:
        hypothesis_seed(seed)(search)()
    except _Failed:
        return last, passed
    except Unsatisfiable:
        # a restricted search (say float32 in the extreme regime) may find too few cases it can
        # resolve; nothing failed, and the caller falls back to the case it already has
        return None, passed
    return None, passed


def check(fn: Callable[..., Any] | None = None, *, examples: int = 500, seed: int = 0,
          dtypes: Sequence[str] = DTYPES, references: Sequence[str] | None = None,
          target: str | _target.Target | None = None, device: str = "cpu", isolate: bool = True,
          timeout: float = DEFAULT_TIMEOUT_S, memory_limit: float | None = DEFAULT_MEMORY_LIMIT_GIB) -> Verdict:
    """Search for a case where the candidate breaks the contract; shrink it; explain it.

    The candidate ``fn(params, x, y, activations, loss) -> [(dW, db), ...]`` is given as a function, or
    by ``target`` (``path/to/file.py:function`` or ``package.module:function``, as on the command line),
    or both (``target`` then only names it in the repro script). First one corner case per
    activation × loss × dtype × (kinks, extreme regime) is judged, then ``examples`` random cases
    drawn by Hypothesis. A failing corner is shrunk by a search restricted to its activation, loss,
    dtype and regime. ``seed`` makes the run reproducible; ``dtypes``: which of float32/float64 to
    try; ``references``: the backends that explain a counterexample (default: all available);
    ``device``: where the torch and jax references run for that explanation ("cpu" or "cuda").

    ``isolate`` (default True) runs the candidate in a supervised worker process: its crashes, exits,
    hangs and memory exhaustion become verdicts. ``timeout`` is each call's deadline in seconds,
    ``memory_limit`` the worker's resident memory limit in GiB (None: none). ``isolate=False`` runs it
    in this process, for debugging (a deadline by SIGALRM; no memory limit).

    ``examples`` in the verdict counts every case judged: the corners, the random cases that passed,
    and the failing one.
    """
    if not isinstance(examples, int) or isinstance(examples, bool) or examples < 1:
        raise ValueError(f"examples must be an integer ≥ 1, got {examples!r}")
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or not dtypes or isinstance(dtypes, str):
        raise ValueError(f"dtypes must be a non-empty subset of {DTYPES}, got {dtypes!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    if memory_limit is not None and (isinstance(memory_limit, bool) or not isinstance(memory_limit, int | float)
                                     or not memory_limit > 0):
        raise ValueError(f"memory_limit must be a number of GiB > 0 or None, got {memory_limit!r}")
    if fn is None and target is None:
        raise ValueError("check needs the candidate: a function (fn) or a target string")
    if fn is not None and not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    where = _target.of_function(fn) if target is None else \
        target if isinstance(target, _target.Target) else _target.parse(target)
    start = time.perf_counter()
    with _open_candidate(fn, where, isolate, timeout, memory_limit) as candidate:
        judged = 0
        found = None
        for case, restriction in corner_cases(dtypes, seed):
            judged += 1
            fault = _judge.judge(candidate, case)
            if fault is not None:
                shrunk, _ = _search(candidate, cases(**restriction), max(examples, 200), seed)
                found = shrunk if shrunk is not None else (case, fault)
                break
        if found is None:
            found, passed = _search(candidate, cases(dtypes=dtypes), examples, seed)
            judged += passed + (found is not None)
    if found is None:
        return Verdict(True, judged, seed, time.perf_counter() - start, dtypes=tuple(dtypes))
    case, fault = found
    cex = explain(case, fault, target=where, references=references, device=device, timeout=timeout)
    return Verdict(False, judged, seed, time.perf_counter() - start, cex, dtypes=tuple(dtypes))


def _open_candidate(fn: Callable[..., Any] | None, target: _target.Target, isolate: bool, timeout: float,
                    memory_limit: float | None) -> Candidate:
    """The candidate as the judge runs it: in a worker process (loaded there from the target, or sent
    there pickled), or in this process."""
    if not isolate:
        function = fn if fn is not None else _target.load(target)
        return InProcess({_judge.CANDIDATE: function}, timeout=timeout)
    if fn is not None:
        source = supervisor.pickled_source(fn, _judge.CANDIDATE)
    else:
        source = supervisor.target_source(target, _judge.CANDIDATE)
    candidate = Isolated(source, timeout=timeout, memory_limit_gib=memory_limit)
    try:
        candidate.start()
    except BaseException:
        candidate.close()
        raise
    return candidate
