"""``check``: drive a candidate gradient function with the suite's strategies until it fails.

    from bpcheck.check import check
    verdict = check(my_gradients, examples=500, seed=0)
    verdict.passed, verdict.examples, verdict.counterexample

The search: Hypothesis draws cases (``bpcheck.strategies.cases``: every activation and loss, both
dtypes, the extreme and kink regimes), each judged against the float64 truth of the tolerance model
(``bpcheck.judge``). A failure is shrunk to a minimal counterexample — smallest depth, widths and
batch, simplest values — which is then compared with every available reference (the long-double
ground truth first, then torch, jax, finite differences) layer by layer, and written out as a
standalone repro script that needs only NumPy and the candidate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable

from bpcheck import judge as _judge
from bpcheck import tolerance as tol
from bpcheck.cases import ACTIVATIONS, DTYPES, LOSSES, Case, make_case
from bpcheck.strategies import cases

# float32 cases whose bound exceeds this fraction of a gradient's scale cannot resolve a bug: the
# search steers away from them (they are not counted as examples) rather than counting them as passes
MAX_RESOLUTION = 1e-2


@dataclass
class Counterexample:
    case: Case
    kind: str
    message: str
    mismatches: list[dict[str, Any]]            # the contract's entries, against the primary reference
    table: list[dict[str, Any]] = field(default_factory=list)  # every reference, every layer/param
    repro: str = ""                             # the script's text

    def to_json(self, repro_path: str | None) -> dict[str, Any]:
        c = self.case
        return {"widths": c.widths, "activations": list(c.activations), "loss": c.loss,
                "dtype": str(c.dtype), "batch": c.batch, "kind": self.kind, "message": self.message,
                "mismatches": self.mismatches, "repro": repro_path or self.repro,
                "repro_script": self.repro, "references": self.table}


@dataclass
class Verdict:
    passed: bool
    examples: int
    seed: int
    seconds: float
    counterexample: Counterexample | None = None

    def to_json(self, repro_path: str | None = None) -> dict[str, Any]:
        return {"verdict": "pass" if self.passed else "fail", "examples": self.examples, "seed": self.seed,
                "counterexample": None if self.counterexample is None
                else self.counterexample.to_json(repro_path)}


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


def _search(fn: Callable[..., Any], strategy: Any, examples: int, seed: int,
            state: dict[str, Any]) -> tuple[Case, _judge.Fault] | None:
    """Hypothesis's search and shrink; the minimal failing case and its fault, or None."""

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              report_multiple_bugs=False, phases=(Phase.generate, Phase.target, Phase.shrink), print_blob=False)
    @given(strategy)
    def search(case: Case) -> None:
        analysis = tol.analyse(case)
        fault = _judge.judge(fn, case, analysis)
        if fault is None:
            assume(case.dtype != np.float32 or analysis.resolution <= MAX_RESOLUTION)
            if state["last"] is None:  # count the search, not the shrinking
                state["count"] += 1
            return
        state["last"] = (case, fault)
        raise _Failed(fault.kind)

    state["last"] = None
    try:
        hypothesis_seed(seed)(search)()
    except _Failed:
        return state["last"]
    except Unsatisfiable:
        # a restricted search (say float32 in the extreme regime) may find too few cases it can
        # resolve; nothing failed, and the caller falls back to the case it already has
        return None
    return None


def check(fn: Callable[..., Any], *, examples: int = 500, seed: int = 0,
          dtypes: Sequence[str] = DTYPES, references: Sequence[str] | None = None,
          target: str = "candidate", device: str = "cpu") -> Verdict:
    """Search for a case where ``fn`` breaks the contract; shrink it; explain it.

    ``fn(params, x, y, activations, loss) -> [(dW, db), ...]``. First one corner case per
    activation × loss × dtype × (kinks, extreme regime) is judged, then ``examples`` random cases
    drawn by Hypothesis. A failing corner is shrunk by a search restricted to its activation, loss,
    dtype and regime. ``seed`` makes the run reproducible; ``dtypes``: which of float32/float64 to
    try; ``references``: the backends that explain a counterexample (default: all available);
    ``device``: where the torch and jax references run for that explanation ("cpu" or "cuda").
    """
    if not isinstance(examples, int) or examples < 1:
        raise ValueError(f"examples must be an integer ≥ 1, got {examples!r}")
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or not dtypes:
        raise ValueError(f"dtypes must be a non-empty subset of {DTYPES}, got {list(dtypes)}")
    start = time.perf_counter()
    _judge.reset_deadline()
    state: dict[str, Any] = {"count": 0, "last": None}
    found = None
    for case, restriction in corner_cases(dtypes, seed):
        fault = _judge.judge(fn, case, tol.analyse(case))
        if fault is not None:
            shrunk = _search(fn, cases(**restriction), max(examples, 200), seed, {"count": 0, "last": None})
            found = shrunk if shrunk is not None else (case, fault)
            state["count"] += 1
            break
        state["count"] += 1
    if found is None:
        found = _search(fn, cases(dtypes=dtypes), examples, seed, state)
        if found is not None:
            state["count"] += 1
    if found is None:
        return Verdict(True, state["count"], seed, time.perf_counter() - start)
    case, fault = found
    cex = explain(fn, case, fault, references=references, target=target, device=device)
    return Verdict(False, state["count"], seed, time.perf_counter() - start, cex)


def explain(fn: Callable[..., Any], case: Case, fault: _judge.Fault, *,
            references: Sequence[str] | None = None, target: str = "candidate", device: str = "cpu") -> Counterexample:
    """The minimal case against every reference: the contract's mismatches and a full table."""
    from bpcheck import _explain

    return _explain.explain(fn, case, fault, references=references, target=target, device=device)
