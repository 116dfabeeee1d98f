"""Verification throughput and suite times: how long do the checks take?

    python -m benchmarks.throughput [--out PATH] [--repeats N] [--no-suite]

1. Examples per second of `manual-bp check manual_bp:gradients`, counted at the margin: the time of a
   check with 600 random examples minus that with 100, over 500, so imports and the fixed corner sweep
   don't count. Medians of ``--repeats`` pairs, in one process (imports warm).
2. Wall time of the whole command `manual-bp check manual_bp:gradients` (default 500 examples),
   imports included, in a fresh process.
3. Wall time of the README's test command's pytest run (`pytest -n 2 --hypothesis-profile=ci`) and of
   `manual-bp report --quick`, each in a fresh process (skipped with --no-suite).

A benchmark, not a test: it measures and reports; it never fails on a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.backprop import REPO, machine, write_json_atomic

DEFAULT_OUT = REPO / "benchmarks" / "results" / "throughput.json"


def margin_rate(repeats: int) -> dict[str, Any]:
    import manual_bp
    from bpcheck.check import check

    check(manual_bp.gradients, examples=50)  # warm: imports, caches
    rates, small, large = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        check(manual_bp.gradients, examples=100)
        t100 = time.perf_counter() - t
        t = time.perf_counter()
        check(manual_bp.gradients, examples=600)
        t600 = time.perf_counter() - t
        small.append(t100)
        large.append(t600)
        rates.append(500 / (t600 - t100))
    return {"examples_per_s_median": statistics.median(rates), "examples_per_s_all": rates,
            "t100_s": small, "t600_s": large}


def wall(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-suite", action="store_true", help="skip the test-suite and report timings")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"machine": machine(), "load_start": os.getloadavg()}
    result["check_margin"] = margin_rate(args.repeats)
    script = str(Path(sys.executable).with_name("manual-bp"))
    result["check_command_s"] = wall([script, "check", "manual_bp:gradients"], REPO)
    if not args.no_suite:
        result["pytest_ci_s"] = wall([sys.executable, "-m", "pytest", "-q", "-n", "2", "--hypothesis-profile=ci",
                                      "-p", "no:cacheprovider"], REPO)
        with tempfile.TemporaryDirectory() as out:
            result["report_quick_s"] = wall([script, "report", "--quick", "--out", out], REPO)
    result["load_end"] = os.getloadavg()
    write_json_atomic(args.out, result)
    m = result["check_margin"]
    rows = [("check throughput (600 − 100 examples)", f"{m['examples_per_s_median']:.0f} examples/s "
             f"(runs: {', '.join(f'{r:.0f}' for r in m['examples_per_s_all'])})"),
            ("`manual-bp check manual_bp:gradients`, imports included", f"{result['check_command_s']:.1f} s")]
    if not args.no_suite:
        rows += [("pytest -n 2 --hypothesis-profile=ci", f"{result['pytest_ci_s']:.0f} s"),
                 ("manual-bp report --quick", f"{result['report_quick_s']:.0f} s")]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"load average {result['load_start']} → {result['load_end']}; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
