"""Where a report sweep's time goes: CPU seconds per step, summed over its cases, in one process.

    python -m benchmarks.report_cost [--sweep quick|default|large]

Each case of the sweep (seed 0) is drawn, then each step timed with ``time.process_time``: the
long-double ground truth, the tolerance analysis, manual_bp, torch and jax (a first call per case,
so jax's compile for a new signature counts), and finite_diff where the report runs it. Prints the
totals per step and per shape. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict


def main(argv: list[str] | None = None) -> int:
    import references
    from bpcheck.report import measurement as msr
    from bpcheck.report.sweep import SWEEPS, build_sweep
    from bpcheck.tolerance import analyse

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sweep", choices=SWEEPS, default="large")
    args = parser.parse_args(argv)
    spent: dict[str, float] = defaultdict(float)
    by_shape: dict[tuple, float] = defaultdict(float)
    specs = build_sweep(sweep=args.sweep)
    for spec in specs:
        case = spec.case(0)
        backends = ["manual_bp", "torch", "jax"]
        if msr.finite_diff_skip(case, spec.regime) is None:
            backends.append("finite_diff")
        steps = [("ground_truth", references.gradients, (*case,), {"backend": "ground_truth"}),
                 ("analyse", analyse, (case,), {})]
        steps += [(b, msr.compute, (b, case, "cpu", False), {}) for b in backends]
        for name, fn, args_, kwargs in steps:
            t0 = time.process_time()
            fn(*args_, **kwargs)
            dt = time.process_time() - t0
            spent[name] += dt
            by_shape[spec.widths, spec.batch] += dt
    print(f"{args.sweep} sweep, {len(specs)} cases, CPU seconds: "
          + ", ".join(f"{k} {v:.1f}" for k, v in sorted(spent.items(), key=lambda kv: -kv[1]))
          + f"; total {sum(spent.values()):.1f}")
    for (widths, batch), seconds in by_shape.items():
        print(f"  {'-'.join(map(str, widths))} / {batch}: {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
