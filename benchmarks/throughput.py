"""Verification throughput and suite times: how long do the checks take?

    python -m benchmarks.throughput [--out PATH] [--repeats N] [--no-suite]

1. Examples per second of `manual-bp check manual_bp:gradients`, counted at the margin: the time of a
   check with 600 random examples minus that with 100, over 500, so imports and the fixed corner sweep
   don't count. Medians of ``--repeats`` pairs, in one process (imports warm); with the candidate in
   the supervised worker process (the default) and, in the same loop, in this process
   (``isolate=False``): the ratio of the two is the cost of isolation.
2. The time split of one 600-example check (cProfile, so every part runs slower than unprofiled; the
   shares are what counts), by the file of each function's own time (a builtin's, such as a NumPy
   reduction or a pipe write, goes to its caller's file): drawing the cases (Hypothesis' engine, the
   strategies, the values drawn by bpcheck.cases), the analysis (bpcheck.tolerance and its elementwise
   rules), judging, the worker (the supervisor's pickling, pipe writes and waits: the candidate's two
   calls and the transfers, as far as they are not overlapped with the analysis), and the rest.
3. Wall time of whole commands, imports included, each in a fresh process, median of
   ``--command-repeats``: `manual-bp check manual_bp:gradients` (default 500 examples); the same on a
   partial implementation (examples/sigmoid_only/fixed.py: sigmoid and half_sse, found by the probe);
   a default `manual-bp check-layer` of each of manual_bp.layers' conv2d, max_pool, batchnorm,
   layernorm and dropout.
4. Wall time of the README's test command's pytest run (`pytest -n 2 --dist worksteal --hypothesis-profile=ci`) and of
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
    """Examples/s at the margin, isolated and in process, the two measured in turn in one loop."""
    import manual_bp
    from bpcheck.check import check

    out: dict[str, Any] = {}
    runs: dict[bool, dict[str, list[float]]] = {True: {"rates": [], "t100": [], "t600": []},
                                                False: {"rates": [], "t100": [], "t600": []}}
    for isolate in (True, False):
        check(manual_bp.gradients, examples=50, isolate=isolate)  # warm: imports, caches, the worker
    for _ in range(repeats):
        for isolate in (True, False):
            t = time.perf_counter()
            check(manual_bp.gradients, examples=100, isolate=isolate)
            t100 = time.perf_counter() - t
            t = time.perf_counter()
            check(manual_bp.gradients, examples=600, isolate=isolate)
            t600 = time.perf_counter() - t
            r = runs[isolate]
            r["t100"].append(t100)
            r["t600"].append(t600)
            r["rates"].append(500 / (t600 - t100))
    for isolate, key in ((True, ""), (False, "in_process_")):
        r = runs[isolate]
        out |= {f"{key}examples_per_s_median": statistics.median(r["rates"]), f"{key}examples_per_s_all": r["rates"],
                f"{key}t100_s": r["t100"], f"{key}t600_s": r["t600"]}
    paired = [a / b for a, b in zip(runs[False]["rates"], runs[True]["rates"], strict=True)]
    out["isolation_cost_ratio_median"] = statistics.median(paired)  # in-process rate / isolated rate
    return out


PARTS = (("drawing (Hypothesis, the cases' values)", ("/hypothesis/", "bpcheck/strategies.py", "bpcheck/cases.py")),
         ("analysis (the tolerance model)", ("bpcheck/tolerance.py", "bpcheck/_elementwise.py")),
         ("judging", ("bpcheck/check/judge.py", "bpcheck/check/layout.py")),
         ("worker (transfers, waits)", ("bpcheck/isolation/", "multiprocessing/connection.py",
                                       "multiprocessing/reduction.py", "/selectors.py")))


def time_split(examples: int = 600) -> dict[str, Any]:
    """The shares of one check's time (cProfile's own time per function, grouped by file): Hypothesis,
    the analysis, the supervisor's waits and transfers (the worker computing the candidate), the rest."""
    import cProfile
    import pstats

    import manual_bp
    from bpcheck.check import check

    check(manual_bp.gradients, examples=50)  # warm
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    check(manual_bp.gradients, examples=examples)
    prof.disable()
    elapsed = time.perf_counter() - t
    stats = pstats.Stats(prof)
    totals = {name: 0.0 for name, _ in PARTS} | {"other": 0.0}
    for (filename, _line, func), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = filename.replace("\\", "/")
        if filename == "~" or "/numpy/" in filename:   # a builtin or NumPy's own: its caller's file
            where = _caller_file(stats, (filename, _line, func))
        part = next((name for name, marks in PARTS if any(m in where for m in marks)), "other")
        totals[part] += tottime
    profiled = sum(totals.values())
    return {"examples": examples, "profiled_wall_s": elapsed,
            "share": {k: v / profiled for k, v in totals.items()}, "seconds": totals}


def _caller_file(stats: Any, key: tuple[str, int, str]) -> str:
    """The file that spent a builtin's or a NumPy wrapper's time: the caller that spent most in it,
    followed up through NumPy's own Python frames (np.sum → _wrapreduction → ufunc.reduce)."""
    for _ in range(6):
        callers = stats.stats[key][4]
        if not callers:
            return key[0]
        key = max(callers.items(), key=lambda item: item[1][3] if len(item[1]) > 3 else 0.0)[0]
        if key[0] != "~" and "/numpy/" not in key[0]:
            return key[0]
    return key[0]


def command_times(repeats: int) -> dict[str, Any]:
    """Median wall seconds of whole commands in fresh processes (see the module docstring, 3)."""
    script = str(Path(sys.executable).with_name("manual-bp"))
    commands: dict[str, list[str]] = {
        "check manual_bp:gradients": [script, "check", "manual_bp:gradients"],
        "check examples/sigmoid_only/fixed.py:gradients (partial)":
            [script, "check", "examples/sigmoid_only/fixed.py:gradients"],
    }
    layer_pairs = {"conv2d": ("conv_forward_naive", "conv_backward_naive"),
                   "max_pool": ("max_pool_forward_naive", "max_pool_backward_naive"),
                   "batchnorm": ("batchnorm_forward", "batchnorm_backward"),
                   "layernorm": ("layernorm_forward", "layernorm_backward"),
                   "dropout": ("dropout_forward", "dropout_backward")}
    for kind, (fwd, bwd) in layer_pairs.items():
        commands[f"check-layer {kind}"] = [script, "check-layer", kind, f"manual_bp.layers:{fwd}",
                                           f"manual_bp.layers:{bwd}"]
    out = {}
    for name, cmd in commands.items():
        times = [wall(cmd, REPO) for _ in range(repeats)]
        out[name] = {"median_s": statistics.median(times), "all_s": times}
    return out


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
    parser.add_argument("--command-repeats", type=int, default=3)
    parser.add_argument("--no-suite", action="store_true", help="skip the test-suite and report timings")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"machine": machine(), "load_start": os.getloadavg()}
    result["check_margin"] = margin_rate(args.repeats)
    result["time_split"] = time_split()
    result["commands"] = command_times(args.command_repeats)
    result["check_command_s"] = result["commands"]["check manual_bp:gradients"]["median_s"]
    script = str(Path(sys.executable).with_name("manual-bp"))
    if not args.no_suite:
        result["pytest_ci_s"] = wall([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "worksteal",
                                      "--hypothesis-profile=ci",
                                      "-p", "no:cacheprovider"], REPO)
        with tempfile.TemporaryDirectory() as out:
            result["report_quick_s"] = wall([script, "report", "--quick", "--out", out], REPO)
    result["load_end"] = os.getloadavg()
    write_json_atomic(args.out, result)
    m = result["check_margin"]
    rows = [("check throughput (600 − 100 examples), isolated", f"{m['examples_per_s_median']:.0f} examples/s "
             f"(runs: {', '.join(f'{r:.0f}' for r in m['examples_per_s_all'])})"),
            ("the same in process (isolate=False)", f"{m['in_process_examples_per_s_median']:.0f} examples/s "
             f"(runs: {', '.join(f'{r:.0f}' for r in m['in_process_examples_per_s_all'])})"),
            ("cost of isolation (in-process rate / isolated rate, paired)",
             f"{m['isolation_cost_ratio_median']:.2f}×"),
            ("time split of a 600-example check (cProfile)",
             ", ".join(f"{k} {v:.0%}" for k, v in result["time_split"]["share"].items()))]
    rows += [(f"`manual-bp {name}`, imports included", f"{v['median_s']:.1f} s "
              f"(runs: {', '.join(f'{t:.1f}' for t in v['all_s'])})") for name, v in result["commands"].items()]
    if not args.no_suite:
        rows += [("pytest -n 2 --dist worksteal --hypothesis-profile=ci", f"{result['pytest_ci_s']:.0f} s"),
                 ("manual-bp report --quick", f"{result['report_quick_s']:.0f} s")]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"load average {result['load_start']} → {result['load_end']}; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
