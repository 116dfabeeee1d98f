"""Count false alarms of the tolerance model on correct implementations, over many random cases.

    python scripts/false_alarms.py --cases 100000 --seed 0 [--jobs 2] [--frameworks torch,jax]

Each case comes from the suite's own strategies' distribution (depth 1–6, widths 1–32, batch 1–32,
every activation and loss, float32 and float64, all four regimes, the extreme one included), and every
correct implementation is judged exactly as `manual-bp check` judges a candidate: manual_bp, the
catalog's correct base, the per-sample column-vector style, the vectorised other-formulas style and,
with --frameworks, torch and/or jax computing in the case's dtype. Any verdict on any of them is a
false alarm. Prints a summary line and the worst margins; exits 1 on any false alarm.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bpcheck import tolerance as tol  # noqa: E402
from bpcheck.cases import ACTIVATIONS, DTYPES, LOSSES, REGIMES, make_case  # noqa: E402
from bpcheck.check.judge import judge  # noqa: E402


def _implementations(frameworks: tuple[str, ...]) -> dict:
    import manual_bp
    from tests import mutants, styles

    impls = {"manual_bp": manual_bp.gradients, "mutant_base": mutants.gradients, **styles.STYLES}
    if frameworks:
        import references

        for name in frameworks:
            if references.available(name):
                impls[name] = (lambda n: lambda p, x, y, a, lo: references.gradients(p, x, y, a, lo, backend=n))(name)
    return impls


def _draw(rng: np.random.Generator):
    depth = int(rng.choice([1, 2, 3, 4, 5, 6]))
    widths = [int(rng.choice([1, int(rng.integers(1, 5)), int(rng.integers(1, 33))])) for _ in range(depth + 1)]
    batch = int(rng.choice([1, int(rng.integers(1, 33)), int(rng.choice(widths))]))
    acts = [str(a) for a in rng.choice(ACTIVATIONS, size=depth)] if rng.random() < 0.5 else \
        [str(rng.choice(ACTIVATIONS))] * depth
    return widths, acts, str(rng.choice(LOSSES)), batch, str(rng.choice(DTYPES)), str(rng.choice(REGIMES))


def run(args: tuple[int, int, int, tuple[str, ...]]) -> tuple[int, int, list, dict]:
    seed, start, stop, frameworks = args
    impls = _implementations(frameworks)
    alarms, unresolvable, worst = [], 0, {}
    for i in range(start, stop):
        rng = np.random.default_rng([seed, i])
        widths, acts, loss, batch, dtype, regime = _draw(rng)
        case = make_case(rng, widths, acts, loss, batch=batch, dtype=dtype, regime=regime)
        analysis = tol.analyse(case)
        if case.dtype == np.float32 and analysis.resolution > 1e-2:
            unresolvable += 1
        for name, fn in impls.items():
            fault = judge(fn, case, analysis)
            if fault is not None:
                alarms.append((i, name, case.describe(), regime, fault.kind, fault.message[:300]))
        _, margin = tol.compare(impls["manual_bp"](case.params, case.x, case.y, list(case.activations), case.loss),
                                analysis.grads, analysis, u_ref=tol.unit_roundoff(np.float64))
        key = f"{dtype}/{regime}"
        worst[key] = max(worst.get(key, 0.0), margin)
    return stop - start, unresolvable, alarms, worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--frameworks", default="", metavar="torch,jax",
                        help="also judge these references as candidates (jax compiles once per shape)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    chunk = max(1, args.cases // (args.jobs * 8))
    frameworks = tuple(f for f in args.frameworks.split(",") if f)
    tasks = [(args.seed, s, min(s + chunk, args.cases), frameworks) for s in range(0, args.cases, chunk)]
    total, unresolvable, alarms, worst = 0, 0, [], {}
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for n, un, al, w in pool.map(run, tasks):
            total, unresolvable = total + n, unresolvable + un
            alarms += al
            for k, v in w.items():
                worst[k] = max(worst.get(k, 0.0), v)
    for a in alarms:
        print("FALSE ALARM", *a)
    impls = ", ".join(_implementations(frameworks))
    print(f"{total} cases × [{impls}]: {len(alarms)} false alarms; {unresolvable} float32 cases unresolvable "
          f"(bound > 1% of the gradient); {time.perf_counter() - t0:.0f} s")
    print("worst margin of manual_bp (error ÷ tolerance) by dtype/regime:",
          ", ".join(f"{k} {v:.3g}" for k, v in sorted(worst.items())))
    return 1 if alarms else 0


if __name__ == "__main__":
    sys.exit(main())
