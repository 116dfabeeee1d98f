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

from bpcheck import tolerance as tol
from bpcheck.cases import ACTIVATIONS, DTYPES, LOSSES, Case, make_case
from bpcheck.check import judge as _judge
from bpcheck.check import target as _target
from bpcheck.check.explain import explain
from bpcheck.check.verdict import Verdict
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


def _search(fn: Callable[..., Any], strategy: Any, examples: int,
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
        analysis = tol.analyse(case)
        fault = _judge.judge(fn, case, analysis)
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


def check(fn: Callable[..., Any], *, examples: int = 500, seed: int = 0,
          dtypes: Sequence[str] = DTYPES, references: Sequence[str] | None = None,
          target: str | _target.Target | None = None, device: str = "cpu") -> Verdict:
    """Search for a case where ``fn`` breaks the contract; shrink it; explain it.

    ``fn(params, x, y, activations, loss) -> [(dW, db), ...]``. First one corner case per
    activation × loss × dtype × (kinks, extreme regime) is judged, then ``examples`` random cases
    drawn by Hypothesis. A failing corner is shrunk by a search restricted to its activation, loss,
    dtype and regime. ``seed`` makes the run reproducible; ``dtypes``: which of float32/float64 to
    try; ``references``: the backends that explain a counterexample (default: all available);
    ``target``: where ``fn`` comes from, for the repro script's import (default: found from ``fn``);
    ``device``: where the torch and jax references run for that explanation ("cpu" or "cuda").

    ``examples`` in the verdict counts every case judged: the corners, the random cases that passed,
    and the failing one.
    """
    if not isinstance(examples, int) or examples < 1:
        raise ValueError(f"examples must be an integer ≥ 1, got {examples!r}")
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or not dtypes:
        raise ValueError(f"dtypes must be a non-empty subset of {DTYPES}, got {list(dtypes)}")
    where = _target.of_function(fn) if target is None else \
        target if isinstance(target, _target.Target) else _target.parse(target)
    start = time.perf_counter()
    _judge.reset_deadline()
    judged = 0
    found = None
    for case, restriction in corner_cases(dtypes, seed):
        judged += 1
        fault = _judge.judge(fn, case, tol.analyse(case))
        if fault is not None:
            shrunk, _ = _search(fn, cases(**restriction), max(examples, 200), seed)
            found = shrunk if shrunk is not None else (case, fault)
            break
    if found is None:
        found, passed = _search(fn, cases(dtypes=dtypes), examples, seed)
        judged += passed + (found is not None)
    if found is None:
        return Verdict(True, judged, seed, time.perf_counter() - start)
    case, fault = found
    cex = explain(case, fault, target=where, references=references, device=device)
    return Verdict(False, judged, seed, time.perf_counter() - start, cex)
