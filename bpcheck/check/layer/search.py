"""``check_layer``: search for a case where a layer written in the CS231n API breaks the contract.

    from bpcheck.check.layer import check_layer
    verdict = check_layer("conv2d", conv_forward_naive, conv_backward_naive)

The search, as ``check``'s: corner cases (each dtype × the kinks and extreme regimes), then random
cases drawn by Hypothesis (``bpcheck.layers.strategies.layer_cases``: the corners of each layer kind
come up often, every draw shrinks toward small N, C, H, W and simple values), then size corners (a
batch above 64 and no multiple of 16, widths above 64 and 1024, images past 32 × 32, arrays of over
4096 entries). A failure is shrunk: a random one by Hypothesis, a corner by a search restricted to its
dtype and regime, a size corner by bisecting its dimensions; then explained against every reference.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable

from bpcheck.check import target as _target
from bpcheck.check.layer import judge as _judge
from bpcheck.check.layer.explain import explain
from bpcheck.check.verdict import Verdict
from bpcheck.errors import UsageError
from bpcheck.isolation import supervisor
from bpcheck.isolation.supervisor import DEFAULT_MEMORY_LIMIT_GIB, DEFAULT_TIMEOUT_S, Candidate, InProcess, Isolated
from bpcheck.layers.cases import DTYPES, LayerCase, make_layer_case
from bpcheck.layers.strategies import layer_cases, random_layer_case
from bpcheck.tolerance import MAX_RESOLUTION
from references.layers import KINDS, LAYER_KINDS

CORNER_REGIMES = ("kinks", "extreme")
WEIGHTS = ("in_out", "out_in")

# Per family, shapes that cross common size thresholds (make_layer_case's keys): each is checked in
# every dtype, in the default regime.
SIZE_SHAPES: dict[str, tuple[dict[str, Any], ...]] = {
    "affine": ({"N": 75, "dims": (70,), "M": 130}, {"N": 3, "dims": (4, 260), "M": 5}),
    "activation": ({"N": 75, "D": 70}, {"N": 4, "D": 1030}),
    "loss": ({"N": 75, "D": 70}, {"N": 4, "D": 1030}),
    "label_loss": ({"N": 75, "C": 70}, {"N": 4, "C": 1030}),
    "conv2d": ({"N": 2, "C": 3, "H": 33, "W": 35, "F": 4, "HH": 3, "WW": 3, "stride": 2, "pad": 1},
               {"N": 70, "C": 2, "H": 6, "W": 6, "F": 3, "HH": 3, "WW": 3, "stride": 1, "pad": 1}),
    "max_pool": ({"N": 2, "C": 3, "H": 40, "W": 41, "pool_height": 3, "pool_width": 3, "stride": 2},
                 {"N": 70, "C": 2, "H": 8, "W": 8, "pool_height": 2, "pool_width": 2, "stride": 2}),
    "norm": ({"N": 75, "D": 70}, {"N": 4, "D": 1030}),
    "dropout": ({"N": 75, "D": 70, "p": 0.5}, {"N": 4, "D": 1030, "p": 0.75}),
}
_BISECTED = ("N", "D", "M", "C", "H", "W", "F")  # the dimensions a failing size corner is bisected on


class _Failed(Exception):
    pass


def corner_cases(kind: str, dtypes: Sequence[str] = DTYPES, seed: int = 0) -> list[tuple[LayerCase, str]]:
    """One case per dtype × corner regime (and the regime that shrinks it)."""
    out = []
    for i, (dtype, regime) in enumerate((d, r) for d in dtypes for r in CORNER_REGIMES):
        rng = np.random.default_rng([seed, LAYER_KINDS.index(kind), i])
        out.append((random_layer_case(rng, kind, dtypes=[dtype], regimes=[regime]), regime))
    return out


def size_cases(kind: str, dtypes: Sequence[str] = DTYPES, seed: int = 0) -> list[tuple[LayerCase, dict[str, Any]]]:
    """The size corners of ``kind`` in each dtype, with their shapes (for bisecting)."""
    out = []
    for s, shape in enumerate(SIZE_SHAPES[KINDS[kind].family]):
        for dtype in dtypes:
            rng = np.random.default_rng([seed, 3000 + s])  # the float32 twin is the same draw
            out.append((make_layer_case(rng, kind, shape, dtype=dtype, regime="default"), dict(shape)))
    return out


class _Search:
    def __init__(self, candidate: Candidate, kind: str, dtypes: Sequence[str], seed: int, weights: str,
                 masked: bool) -> None:
        self.candidate, self.kind, self.dtypes, self.seed = candidate, kind, tuple(dtypes), seed
        self.weights, self.masked = weights, masked

    def judge(self, case: LayerCase) -> tuple[_judge.LayerFault | None, Any]:
        return _judge.assess(self.candidate, case, self.weights, self.masked)

    def hypothesis(self, strategy: Any, examples: int) -> tuple[_judge.LayerFault | None, int]:
        passed = 0
        last: _judge.LayerFault | None = None

        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                  report_multiple_bugs=False, phases=(Phase.generate, Phase.target, Phase.shrink),
                  print_blob=False)
        @given(strategy)
        def search(case: LayerCase) -> None:
            nonlocal passed, last
            fault, analysis = self.judge(case)
            if fault is None:
                # a float32 case that cannot resolve a bug is steered away from, not counted
                assume(analysis.dtype != np.float32 or analysis.resolution <= MAX_RESOLUTION)
                if last is None:
                    passed += 1
                return
            last = fault
            raise _Failed(fault.kind)

        try:
            hypothesis_seed(self.seed)(search)()
        except _Failed:
            return last, passed
        except Unsatisfiable:
            return None, passed
        return None, passed

    def bisect(self, fault: _judge.LayerFault, shape: dict[str, Any], regime: str) -> _judge.LayerFault:
        """The smallest shape that still fails with the same kind: each dimension bisected in turn."""
        best = fault
        shape = dict(shape)
        dtype = str(fault.case.dtype)
        for key in [k for k in _BISECTED if k in shape]:
            lo, hi = 1, int(shape[key])
            while lo < hi:
                mid = (lo + hi) // 2
                trial_shape = {**shape, key: mid}
                try:
                    rng = np.random.default_rng([self.seed, 4000, *(int(v) for v in trial_shape.values()
                                                                       if isinstance(v, int))])
                    trial = make_layer_case(rng, self.kind, trial_shape, dtype=dtype, regime=regime)
                except (ValueError, ZeroDivisionError):
                    lo = mid + 1  # not a valid shape for this kind (a kernel larger than the image, …)
                    continue
                found, _ = self.judge(trial)
                if found is not None and found.kind == fault.kind:
                    best, hi = found, mid
                else:
                    lo = mid + 1
            shape[key] = hi
        return best

    def run(self, examples: int) -> tuple[_judge.LayerFault | None, int]:
        judged = 0
        for case, regime in corner_cases(self.kind, self.dtypes, self.seed):
            fault, _ = self.judge(case)
            judged += 1
            if fault is not None:
                shrunk, _ = self.hypothesis(layer_cases(self.kind, dtypes=[str(case.dtype)],
                                                        regimes=["simple", regime]), max(examples, 200))
                return (shrunk if shrunk is not None else fault), judged
        found, passed = self.hypothesis(layer_cases(self.kind, dtypes=list(self.dtypes)), examples)
        judged += passed + (found is not None)
        if found is not None:
            return found, judged
        for case, shape in size_cases(self.kind, self.dtypes, self.seed):
            fault, _ = self.judge(case)
            judged += 1
            if fault is not None:
                return self.bisect(fault, shape, "default"), judged
        return None, judged


def _candidate(kind: str, forward: Callable[..., Any] | None, backward: Callable[..., Any] | None,
               targets: tuple[_target.Target | None, _target.Target | None], isolate: bool, timeout: float,
               memory_limit: float | None) -> Candidate:
    names = _judge.FUNCTIONS[:1] if KINDS[kind].scalar else _judge.FUNCTIONS
    given = (forward, backward)
    if not isolate:
        functions = {}
        for name, fn, tgt in zip(names, given, targets, strict=False):
            functions[name] = fn if fn is not None else _target.load(tgt)  # type: ignore[arg-type]
        return InProcess(functions, timeout=timeout)
    sources = tuple(supervisor.pickled_source(fn, name) if fn is not None else supervisor.target_source(tgt, name)
                    for name, fn, tgt in zip(names, given, targets, strict=False))
    candidate = Isolated(("several", sources, ()), timeout=timeout, memory_limit_gib=memory_limit)
    try:
        candidate.start()
    except BaseException:
        candidate.close()
        raise
    return candidate


def check_layer(kind: str, forward: Callable[..., Any] | None = None, backward: Callable[..., Any] | None = None, *,
                forward_target: str | _target.Target | None = None,
                backward_target: str | _target.Target | None = None, examples: int = 300, seed: int = 0,
                dtypes: Sequence[str] = DTYPES, references: Sequence[str] | None = None, device: str = "cpu",
                weights: str = "in_out", masked: bool = False, isolate: bool = True,
                timeout: float = DEFAULT_TIMEOUT_S, memory_limit: float | None = DEFAULT_MEMORY_LIMIT_GIB) -> Verdict:
    """Search for a case where a layer of ``kind`` (``references.layers.LAYER_KINDS``) breaks the contract.

    ``forward`` (and, for every kind but the losses, ``backward``) in the CS231n API
    (``bpcheck.layers.api``), as functions or as targets (``path/to/file.py:function`` or
    ``package.module:function``). ``weights``: affine's w as (D, M) ("in_out", the CS231n API's) or
    (M, D) ("out_in"). ``masked``: a dropout forward of the form forward(x, mask, p) (manual_bp's
    explicit-mask function) instead of the CS231n API's forward(x, dropout_param), whose mask is read
    from its output. The other keywords are ``check``'s. The verdict's counterexample names the
    wrong outputs ("out", "dx", "dw", …).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(LAYER_KINDS)}, got {kind!r}")
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHTS)}, got {weights!r}")
    if not isinstance(examples, int) or isinstance(examples, bool) or examples < 1:
        raise ValueError(f"examples must be an integer ≥ 1, got {examples!r}")
    if not dtypes or isinstance(dtypes, str) or any(d not in DTYPES for d in dtypes):
        raise ValueError(f"dtypes must be a non-empty subset of {DTYPES}, got {dtypes!r}")
    scalar = KINDS[kind].scalar
    if forward is None and forward_target is None:
        raise ValueError("check_layer needs the forward function (forward or forward_target)")
    if not scalar and backward is None and backward_target is None:
        raise UsageError(f"a {kind} layer is checked through its forward and its backward: give BACKWARD too")
    targets = tuple(t if t is None or isinstance(t, _target.Target) else _target.parse(t)
                    for t in (forward_target, backward_target))
    named = [t if t is not None else _target.of_function(f) if f is not None else None
             for f, t in zip((forward, backward), targets, strict=True)]
    label = " ".join(t.label for t in named if t is not None)
    start = time.perf_counter()
    with _candidate(kind, forward, backward, (targets[0], targets[1]), isolate, timeout, memory_limit) as candidate:
        search = _Search(candidate, kind, dtypes, seed, weights, masked)
        found, judged = search.run(examples)
    elapsed = time.perf_counter() - start
    coverage = {"layer": kind, "dtypes": list(dtypes), "options": {"weights": weights} if weights != "in_out" else {}}
    if found is None:
        return Verdict(True, judged, seed, elapsed, dtypes=tuple(dtypes), coverage=coverage, target=label, layer=kind)
    cex = explain(found, targets=(named[0], named[1]), references=references, device=device, timeout=timeout,
                  weights=weights, masked=masked)
    return Verdict(False, judged, seed, elapsed, cex, dtypes=tuple(dtypes), coverage=coverage, target=label,
                   layer=kind)
