"""Count false alarms of the layer tolerance model on correct layers, over many random cases.

    python scripts/false_alarms_layers.py --kind conv2d --cases 10000 --seed 0 [--jobs 2] [--frameworks torch,jax]

Each case comes from the suite's own distribution (``bpcheck.layers.strategies.random_layer_case``:
the strategies' shapes and corners, every choice uniform, all four regimes, float32 and float64), and
every correct implementation of the kind is judged as ``check-layer`` will judge a candidate
(``bpcheck.layers.judge``, against the analysis' float64 truth): manual_bp (conv2d: its naive and its
vectorised pair), the other styles of tests/layer_styles.py, the catalog's correct base
(tests/layer_mutants.py) and, with --frameworks, torch and/or jax computing in the case's dtype. Any
fault on any of them is a false alarm. ``--kind`` takes a kind, a comma-separated list, or ``all``.
Prints the false alarms, a summary line and the worst margins (error ÷ tolerance; 1 is the limit),
manual_bp's also against the long-double ground truth; exits 1 on any false alarm.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bpcheck.layers.api import call_layer  # noqa: E402
from bpcheck.layers.judge import judge_outputs  # noqa: E402
from bpcheck.layers.strategies import random_layer_case  # noqa: E402
from bpcheck.layers.tolerance import analyse, compare  # noqa: E402
from references.layers import LAYER_KINDS  # noqa: E402

Task = tuple[int, int, int, tuple[str, ...], tuple[str, ...]]


def _implementations(kind: str, frameworks: tuple[str, ...]) -> list[tuple[str, Any, Any, bool]]:
    from tests.layer_mutants import BASE
    from tests.layer_styles import implementations

    impls = [(name, f, b, kind == "dropout") for name, f, b in implementations(kind)]
    if kind in BASE:
        f, b, masked = BASE[kind]
        impls.append(("catalog_base", f, b, masked))
    return impls + [(name, None, None, False) for name in frameworks]


def _outputs(case: Any, name: str, forward: Any, backward: Any, masked: bool) -> dict[str, Any]:
    if forward is None:   # a framework reference as a candidate, in the case's dtype
        import references.layers as RL

        out, grads = RL.forward_and_vjp(case.kind, case.inputs, case.hyper, case.dout, backend=name)
        return {"out": out, **grads}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return call_layer(case, forward, backward, masked=masked)[0]


def run(task: Task) -> tuple[int, int, list[tuple[Any, ...]], dict[str, float]]:
    seed, start, stop, kinds, frameworks = task
    import references.layers as RL

    alarms: list[tuple[Any, ...]] = []
    worst: dict[str, float] = {}
    unresolvable = 0
    for i in range(start, stop):
        case = random_layer_case(np.random.default_rng([seed, i]), kinds)
        analysis = analyse(case)
        if case.dtype == np.float32 and analysis.resolution > 1e-2:
            unresolvable += 1
        for name, forward, backward, masked in _implementations(case.kind, frameworks):
            try:
                outputs = _outputs(case, name, forward, backward, masked)
            except Exception as err:  # noqa: BLE001 - a correct implementation must not raise: an alarm
                alarms.append((i, name, case.describe(), "exception", f"{type(err).__name__}: {err}"[:300]))
                continue
            fault = judge_outputs(outputs, analysis)
            if fault is not None:
                alarms.append((i, name, case.describe(), fault.kind, fault.message[:300]))
                continue
            _, margin = compare({k: np.asarray(v) for k, v in outputs.items()}, analysis, u_ref=2.0**-53)
            key = f"{case.kind} {name} {case.dtype}"
            worst[key] = max(worst.get(key, 0.0), margin)
            if name == "manual_bp":   # and against the long-double truth, which shares no arithmetic with anyone
                out, grads = RL.forward_and_vjp(case.kind, case.inputs, case.hyper, case.dout, backend="ground_truth")
                _, margin = compare({k: np.asarray(v) for k, v in outputs.items()}, analysis, u_ref=0.0,
                                    reference={"out": out, **grads})
                key = f"{case.kind} manual_bp-vs-ground_truth {case.dtype}"
                worst[key] = max(worst.get(key, 0.0), margin)
    return stop - start, unresolvable, alarms, worst


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--kind", default="all", help="a layer kind, a comma-separated list, or 'all'")
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--frameworks", default="", metavar="torch,jax",
                        help="also judge these references as candidates (jax compiles once per shape)")
    args = parser.parse_args()
    kinds = LAYER_KINDS if args.kind == "all" else tuple(args.kind.split(","))
    unknown = [k for k in kinds if k not in LAYER_KINDS]
    if unknown:
        parser.error(f"unknown kind(s) {', '.join(unknown)}; expected some of {', '.join(LAYER_KINDS)} or 'all'")
    frameworks = tuple(f for f in args.frameworks.split(",") if f)
    t0 = time.perf_counter()
    chunk = max(1, args.cases // (args.jobs * 8))
    tasks = [(args.seed, s, min(s + chunk, args.cases), kinds, frameworks) for s in range(0, args.cases, chunk)]
    total, unresolvable, alarms, worst = 0, 0, [], {}
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for n, un, al, w in pool.map(run, tasks):
            total, unresolvable = total + n, unresolvable + un
            alarms += al
            for k, v in w.items():
                worst[k] = max(worst.get(k, 0.0), v)
    for alarm in alarms:
        print("FALSE ALARM", *alarm)
    names = sorted({k.split()[1] for k in worst} - {"manual_bp-vs-ground_truth"})
    print(f"{total} cases of {args.kind} (seed {args.seed}) × [{', '.join(names)}]: {len(alarms)} false alarms; "
          f"{unresolvable} float32 cases unresolvable (bound > 1% of an output's scale); "
          f"{time.perf_counter() - t0:.0f} s")
    print("worst margin (error ÷ tolerance) by kind, implementation, dtype:")
    for key, value in sorted(worst.items()):
        print(f"  {key}: {value:.3g}")
    return 1 if alarms else 0


if __name__ == "__main__":
    sys.exit(main())
