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
from bpcheck.cases import DTYPES, Case, make_case
from bpcheck.check import coverage as _coverage
from bpcheck.check import judge as _judge
from bpcheck.check import target as _target
from bpcheck.check.coverage import Scope
from bpcheck.check.explain import explain
from bpcheck.check.layout import Layout
from bpcheck.check.verdict import Verdict
from bpcheck.errors import UsageError
from bpcheck.isolation import supervisor
from bpcheck.isolation.supervisor import DEFAULT_MEMORY_LIMIT_GIB, DEFAULT_TIMEOUT_S, Candidate, InProcess, Isolated
from bpcheck.strategies import case_groups


class _Failed(Exception):
    pass


CORNER_REGIMES = ("kinks", "extreme")
CORNER_WIDTHS = (3, 3, 3, 3)  # depth 3, square W, n_L > 1: the shapes that expose most bugs
CORNER_BATCH = 3


def corner_cases(dtypes: Sequence[str] = DTYPES, seed: int = 0,
                 scope: Scope | None = None) -> list[tuple[Case, dict[str, Any]]]:
    """One case per activation × loss × dtype × corner regime, so the corners never depend on luck.

    With separate hidden and output sets, the (hidden, output) pairs cycle through both so that every
    name of each comes once. Each corner comes with the restriction of ``strategies.cases`` that
    shrinks it (which may also move to the simple regime).
    """
    scope = scope if scope is not None else Scope(dtypes=tuple(dtypes))
    pairs = _activation_pairs(scope)
    widths, batch = scope.bounded(CORNER_WIDTHS, CORNER_BATCH)
    out = []
    for i, ((hidden, output), loss, dtype, regime) in enumerate(
            (p, lo, d, r) for p in pairs for lo in scope.losses for d in scope.dtypes for r in CORNER_REGIMES):
        rng = np.random.default_rng([seed, i])
        acts = (hidden,) * (len(widths) - 2) + (output,)
        case = make_case(rng, widths, acts, loss, batch=batch, dtype=dtype, regime=regime,
                         targets=scope.layout.case_targets)
        out.append((case, {**scope.strategy_options(), "hidden_activations": [hidden],
                           "output_activations": [output], "losses": [loss], "dtypes": [dtype],
                           "regimes": ["simple", regime]}))
    return out


# Each crosses a size threshold where real code changes paths (chunked batches, fast paths for wide
# layers, fixed buffers and layer limits, BLAS kernels that switch algorithms, vectorised code for
# large arrays); the random search stays small (depth ≤ 6, widths ≤ 32, batch ≤ 32), so it never does.
SIZE_SHAPES: tuple[tuple[tuple[int, ...], int], ...] = (
    ((4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 3), 5),           # depth 10
    ((3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2), 2),     # depth 12
    ((10, 70, 5), 9),                                  # a width above 64
    ((20, 130, 130, 4), 3),                            # above 128; W⁽²⁾ has 16 900 entries (≥ 4096)
    ((8, 1030, 3), 4),                                 # a layer ≥ 1024 wide; z⁽¹⁾ has 4 120 entries
    ((6, 20, 14, 3), 75),                              # a batch above 64 and no multiple of 16; z⁽¹⁾: 1 500
)


# Vectorised elementwise code often switches paths at an array of 1024 entries; a shape whose
# pre-activations z⁽ˡ⁾ (B × n_l entries, what an activation and its derivative see) cross that line is
# also judged in the extreme regime, where such a path's overflow and tail bugs show (saturated
# sigmoid/tanh/softplus, erfc's tails in gelu, large logits). Those cases are float64
# when the scope has it: a fault of 1e-8 in a tail is below float32's resolution, while a path that
# computes in float32 inside a float64 call, or overflows there, is still seen in float64.
EXTREME_SIZE_ENTRIES = 1024


def _largest_z(widths: Sequence[int], batch: int) -> int:
    """The entries of the largest z⁽ˡ⁾ of a network, batch × n_l."""
    return batch * max(widths[1:])


def size_cases(seed: int = 0, scope: Scope | None = None) -> list[tuple[Case, str]]:
    """The size corners within the scope's bounds, each with its regime: every shape of ``SIZE_SHAPES``
    that fits, with every activation pair of the scope (its losses and dtypes in turn, so each shape
    meets both dtypes), in the default regime, and again in the extreme regime, in float64 (when the
    scope has it), for the shapes with a z⁽ˡ⁾ of ``EXTREME_SIZE_ENTRIES`` entries or more."""
    scope = scope if scope is not None else Scope()
    out = []
    for s, (widths, batch) in enumerate(SIZE_SHAPES):
        if not scope.fits(widths, batch):
            continue
        widths = (*widths[:-1], scope.output_width) if scope.output_width is not None else widths
        regimes = ("default", "extreme") if _largest_z(widths, batch) >= EXTREME_SIZE_ENTRIES else ("default",)
        for r, regime in enumerate(regimes):
            for i, (hidden, output) in enumerate(_activation_pairs(scope)):
                loss = scope.losses[(s + i + r) % len(scope.losses)]  # the extreme case: the next loss
                acts = (hidden,) * (len(widths) - 2) + (output,)
                dtype = scope.dtypes[(s + i) % len(scope.dtypes)] if regime == "default" else \
                    ("float64" if "float64" in scope.dtypes else scope.dtypes[0])
                # the default regime keeps its generator keys, so its cases are those of earlier versions
                rng = np.random.default_rng([seed, 1000 + s, i] if r == 0 else [seed, 1000 + s, i, r])
                case = make_case(rng, widths, acts, loss, batch=batch, dtype="float64", regime=regime,
                                 targets=scope.layout.case_targets).astype(dtype)
                out.append((case, regime))
    return out


def _activation_pairs(scope: Scope) -> list[tuple[str, str]]:
    """(hidden, output) pairs naming every activation of each set at least once."""
    if scope.hidden == scope.output:
        return [(a, a) for a in scope.hidden]
    n = max(len(scope.hidden), len(scope.output))
    return [(scope.hidden[i % len(scope.hidden)], scope.output[i % len(scope.output)]) for i in range(n)]


GROUP = 4    # the random search judges this many value draws of each structure it draws
BATCH = 16   # corners and size corners go to the worker this many at a time


class _Search:
    """One check's search: the candidate, its scope, and the count of cases judged and declined."""

    def __init__(self, candidate: Candidate, scope: Scope, seed: int) -> None:
        self.candidate, self.scope, self.seed = candidate, scope, seed
        self.declined = 0

    def judge(self, case: Case) -> tuple[_judge.Fault | None, tol.Analysis]:
        return _judge.assess(self.candidate, case, layout=self.scope.layout, declines=self.scope.declines_allowed)

    def judge_each(self, group: list[Case]) -> list[tuple[_judge.Fault | None, tol.Analysis]]:
        return _judge.assess_each(self.candidate, group, layout=self.scope.layout,
                                  declines=self.scope.declines_allowed)

    def sweep(self, items: list[Case]) -> tuple[int | None, _judge.Fault | None, int]:
        """Judge fixed cases in order, ``BATCH`` per request: (the index of the first failure and its
        fault, or None; the cases judged, declined ones not counted)."""
        judged = 0
        for start in range(0, len(items), BATCH):
            for k, (fault, _) in enumerate(self.judge_each(items[start:start + BATCH])):
                if fault is not None and fault.kind == "declined":
                    self.declined += 1
                    continue
                judged += 1
                if fault is not None:
                    return start + k, fault, judged
        return None, None, judged

    def hypothesis(self, strategy: Any, examples: int) -> tuple[tuple[Case, _judge.Fault] | None, int]:
        """Hypothesis's search and shrink over groups of ``GROUP`` cases of one structure: (the minimal
        failing case and its fault, or None; the number of passing cases judged before anything
        failed). A case that cannot resolve a bug, or that the candidate declines, is not counted; a
        group with no case counted is rejected (Hypothesis steers away from it)."""
        passed = 0
        last: tuple[Case, _judge.Fault] | None = None

        @settings(max_examples=max(1, -(-examples // GROUP)), deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                  phases=(Phase.generate, Phase.target, Phase.shrink), print_blob=False)
        @given(strategy)
        def search(group: list[Case]) -> None:
            nonlocal passed, last
            counted = 0
            for case, (fault, analysis) in zip(group, self.judge_each(group), strict=False):
                if fault is None:
                    counted += analysis.resolvable
                elif fault.kind == "declined":
                    self.declined += last is None
                else:
                    last = (case, fault)
                    raise _Failed(fault.kind)
            assume(counted > 0)
            if last is None:  # count the search, not the shrinking
                passed += counted

        try:
            hypothesis_seed(self.seed)(search)()
        except _Failed:
            return last, passed
        except Unsatisfiable:
            # a restricted search (say float32 in the extreme regime) may find too few cases it can
            # resolve; nothing failed, and the caller falls back to the case it already has
            return None, passed
        return None, passed

    def run(self, examples: int) -> tuple[tuple[Case, _judge.Fault] | None, int]:
        """The corner sweep, the random search, then the size corners: (the minimal failure or None,
        cases judged)."""
        corners = corner_cases(seed=self.seed, scope=self.scope)
        index, fault, judged = self.sweep([case for case, _ in corners])
        if index is not None and fault is not None:
            case, restriction = corners[index]
            shrunk, _ = self.hypothesis(case_groups(GROUP, **restriction), max(examples, 200))
            if shrunk is None:  # the restricted search found no failure of its own: bisect the corner
                shrunk = self.shrink_size(case, fault, regime=restriction["regimes"][-1])
            return shrunk, judged
        found, passed = self.hypothesis(case_groups(GROUP, **self.scope.strategy_options()), examples)
        judged += passed + (found is not None)
        if found is not None:
            return found, judged
        sizes = size_cases(self.seed, self.scope)
        index, fault, counted = self.sweep([case for case, _ in sizes])
        judged += counted
        if index is not None and fault is not None:
            case, regime = sizes[index]
            return self.shrink_size(case, fault, regime=regime), judged
        return None, judged

    def shrink_size(self, case: Case, fault: _judge.Fault, regime: str = "default") -> tuple[Case, _judge.Fault]:
        """The smallest network that still fails, from a failing corner: fewer layers first, then each
        width and the batch bisected down to the smallest value that still fails (so a bug behind a
        threshold keeps the size that triggers it). Values are redrawn for each shape from one
        generator key, in the corner's ``regime``; the fault kept is of the corner's kind."""
        widths, batch, acts = list(case.widths), case.batch, list(case.activations)

        def attempt(ws: list[int], b: int, names: list[str]) -> tuple[Case, _judge.Fault] | None:
            rng = np.random.default_rng([self.seed, 2000, *ws, b])
            trial = make_case(rng, ws, names, case.loss, batch=b, dtype="float64", regime=regime,
                              targets=self.scope.layout.case_targets).astype(case.dtype)
            found, _ = self.judge(trial)
            return (trial, found) if found is not None and found.kind == fault.kind else None

        best = (case, fault)
        for depth in range(1, len(acts)):  # fewer layers: the first hidden ones, then the output layer
            names = acts[:depth - 1] + [acts[-1]]
            found = attempt(widths[:depth] + [widths[-1]], batch, names)
            if found is not None:
                best, widths, acts = found, widths[:depth] + [widths[-1]], names
                break
        output_fixed = self.scope.output_width is not None
        for i in range(len(widths) + 1):  # each width, then the batch, bisected
            if i == len(widths) - 1 and output_fixed:
                continue
            lo, hi = 1, (batch if i == len(widths) else widths[i])
            while lo < hi:
                mid = (lo + hi) // 2
                ws = widths if i == len(widths) else widths[:i] + [mid] + widths[i + 1:]
                found = attempt(ws, mid if i == len(widths) else batch, acts)
                if found is not None:
                    best, hi = found, mid
                else:
                    lo = mid + 1
            if i < len(widths):
                widths[i] = hi
            else:
                batch = hi
        return best


def check(fn: Callable[..., Any] | None = None, *, examples: int = 500, seed: int = 0,
          dtypes: Sequence[str] = DTYPES, references: Sequence[str] | None = None,
          target: str | _target.Target | None = None, device: str = "cpu", isolate: bool = True,
          timeout: float = DEFAULT_TIMEOUT_S, memory_limit: float | None = DEFAULT_MEMORY_LIMIT_GIB,
          activations: Sequence[str] | None = None, hidden_activations: Sequence[str] | None = None,
          output_activations: Sequence[str] | None = None, losses: Sequence[str] | None = None,
          output_width: int | None = None, layout: str = "rows", weights: str = "out_in",
          targets: str = "probabilities", reduction: str = "mean", l2: float = 0.0,
          loss_input: str = "logits", max_depth: int | None = None, max_width: int | None = None,
          max_batch: int | None = None) -> Verdict:
    """Search for a case where the candidate breaks the contract; shrink it; explain it.

    The candidate ``fn(params, x, y, activations, loss) -> [(dW, db), ...]`` is given as a function, or
    by ``target`` (``path/to/file.py:function`` or ``package.module:function``, as on the command line),
    or both (``target`` then only names it in the repro script). First one corner case per
    activation × loss × dtype × (kinks, extreme regime) is judged, then ``examples`` random cases
    drawn by Hypothesis. A failing corner is shrunk by a search restricted to its activation, loss,
    dtype and regime. ``seed`` makes the run reproducible; ``dtypes``: which of float32/float64 to
    try; ``references``: the backends that explain a counterexample (default: all available);
    ``device``: where the torch and jax references run for that explanation ("cpu" or "cuda").

    What is checked (``bpcheck.check.coverage``): ``activations`` (every layer), ``hidden_activations``
    and ``output_activations``, ``losses`` restrict the search to what the candidate implements;
    without any of them, a probe finds it (NotImplementedError marks a name unsupported).
    ``output_width`` fixes n_L. How the candidate's code is written (``bpcheck.check.layout``):
    ``layout`` ("rows" or "columns"), ``weights`` ("out_in" or "in_out"), ``targets``
    ("probabilities", "one-hot", "labels", "binary"), ``reduction`` ("mean" or "sum"), ``l2`` (λ of
    an L2 term in the gradient), ``loss_input`` ("logits" or "probabilities").

    ``isolate`` (default True) runs the candidate in a supervised worker process: its crashes, exits,
    hangs and memory exhaustion become verdicts. ``timeout`` is each call's deadline in seconds,
    ``memory_limit`` the worker's resident memory limit in GiB (None: none). ``isolate=False`` runs it
    in this process, for debugging (a deadline by SIGALRM; no memory limit).

    Sizes: the random search draws depth ≤ 6, widths ≤ 32, batch ≤ 32 (``bpcheck.strategies``), and
    ``SIZE_SHAPES`` adds a few large networks that cross common thresholds (depth 10 and 12, widths
    above 64, 128 and 1024, a batch of 75, arrays of over 1024 and 4096 entries), in the default
    regime, and those with a z⁽ˡ⁾ of ≥ 1024 entries also in the extreme regime; a failing one is
    shrunk to the smallest network that still fails. ``max_depth``, ``max_width`` and ``max_batch``
    bound both: the random search draws up to them, and size corners beyond them are left out.

    ``examples`` in the verdict counts every case judged: the corners, the random cases that passed,
    the size corners, and the failing one. A scope in which the candidate implements nothing at all raises
    ``bpcheck.errors.UsageError`` (the command line's exit 2), never a pass.
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
    how = Layout(samples=layout, weights=weights, targets=targets, reduction=reduction, l2=l2, loss_input=loss_input)
    asked = _coverage.scope(layout=how, activations=activations, hidden_activations=hidden_activations,
                            output_activations=output_activations, losses=losses, dtypes=dtypes,
                            output_width=output_width, max_depth=max_depth, max_width=max_width,
                            max_batch=max_batch)
    given = any(v is not None for v in (activations, hidden_activations, output_activations, losses))
    where = _target.of_function(fn) if target is None else \
        target if isinstance(target, _target.Target) else _target.parse(target)
    start = time.perf_counter()
    with _open_candidate(fn, where, isolate, timeout, memory_limit) as candidate:
        scope = asked if given else _coverage.probe(candidate, asked)
        if not (scope.hidden and scope.output and scope.losses and scope.dtypes):
            raise UsageError(f"{where.label} implements nothing that can be checked: it raised "
                             "NotImplementedError for every activation, loss or dtype tried")
        search = _Search(candidate, scope, seed)
        found, judged = search.run(examples)
    coverage = scope.coverage(search.declined)
    elapsed = time.perf_counter() - start
    if found is None:
        return Verdict(True, judged, seed, elapsed, dtypes=scope.dtypes, coverage=coverage, target=where.label)
    case, fault = found
    cex = explain(case, fault, target=where, references=references, device=device, timeout=timeout, layout=how)
    return Verdict(False, judged, seed, elapsed, cex, dtypes=scope.dtypes, coverage=coverage, target=where.label)


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
