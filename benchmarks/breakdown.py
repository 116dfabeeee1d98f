"""Where a manual_bp gradient call spends its time, part by part, for every net of benchmarks.backprop.

    python -m benchmarks.breakdown [--out PATH] [--repeats N]

One thread (it re-executes like ``benchmarks.backprop --single-thread``). For a ``manual_bp.Network``
built once, the parts are timed side by side, interleaved repeat by repeat, as the CPU time of the
calling thread (so a busy machine's waiting is not counted; OpenBLAS runs on that thread too):

- call: ``net.gradients(params, x, y)``, all of it;
- checks: what the call checks about its arrays (``Network._check``: shapes, dtype, finiteness, targets);
- forward: the forward pass alone; forward + backward: both passes, without the checks;
- products: the matrix products alone (``benchmarks.backprop.floor_fn``, the floor).

So call ≈ checks + (forward + backward), and forward + backward − products is the elementwise work
(bias, activations, derivatives, the loss, the batch sums) and the Python between the calls.
A benchmark, not a test: it measures and reports, it never fails on a time.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time
from pathlib import Path
from typing import Any

import manual_bp
from benchmarks.backprop import (
    _SINGLE_THREAD_ENV,
    _SINGLE_THREAD_MARK,
    DTYPES,
    LOSS,
    REPO,
    SIZES,
    _fmt,
    activations_for,
    floor_fn,
    machine,
    make_case,
    side_by_side,
    write_json_atomic,
)
from manual_bp import network as _network

DEFAULT_OUT = REPO / "benchmarks" / "results" / "breakdown.json"
PARTS = ("call", "checks", "forward", "forward + backward", "products")


def parts(widths: tuple[int, ...], batch: int, dtype: str) -> dict[str, Any]:
    params, x, y = make_case(widths, batch, dtype)
    net = manual_bp.Network(widths, activations_for(len(params)), LOSS, dtype)
    p, xx, yy = net._check(params, x, y)
    layers, loss = net._layers, net._loss
    return {
        "call": lambda: net.gradients(params, x, y),
        "checks": lambda: net._check(params, x, y),
        "forward": lambda: _network._forward(p, xx, layers),
        "forward + backward": lambda: _network._backward(p, _network._forward(p, xx, layers), yy, layers, loss,
                                                         keep_deltas=False),
        "products": floor_fn(params, x, y),
    }


def run(repeats: int) -> dict:
    load_before = os.getloadavg()
    results = []
    for dtype in DTYPES:
        for name, widths, batch in SIZES:
            timed = side_by_side(parts(widths, batch, dtype), repeats, 0.02, repeats, 0.0, timer=time.thread_time)
            med = {k: v["median_s"] for k, v in timed.items()}
            results.append({"size": name, "widths": list(widths), "batch": batch, "dtype": dtype,
                            "median_thread_cpu_s": med})
            print(f"  {dtype} {name}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in med.items()), file=sys.stderr,
                  flush=True)
    return {"benchmark": "breakdown", "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "command": "python -m benchmarks.breakdown " + " ".join(sys.argv[1:]),
            "config": {"repeats": repeats, "statistic": "median of repeats, thread CPU seconds per call",
                       "threads": 1, "parts": list(PARTS)},
            "machine": {**machine(), "load_average_1_5_15min": {"start": load_before, "end": os.getloadavg()}},
            "results": results}


def markdown(report: dict) -> str:
    head = ["size", "dtype", *PARTS, "elementwise and the rest", "checks / call"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["results"]:
        m = r["median_thread_cpu_s"]
        rest = m["forward + backward"] - m["products"]
        lines.append("| " + " | ".join([f"{r['size']} {'-'.join(map(str, r['widths']))} B={r['batch']}", r["dtype"],
                                        *(_fmt(m[k]) for k in PARTS), _fmt(rest),
                                        f"{m['checks'] / m['call']:.0%}"]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.breakdown", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON report (default {DEFAULT_OUT})")
    parser.add_argument("--repeats", type=int, default=21, help="repeats per part (default 21)")
    args = parser.parse_args(argv)
    if os.environ.get(_SINGLE_THREAD_MARK) != "1":
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks.breakdown", *(argv or sys.argv[1:])],
                  {**os.environ, **_SINGLE_THREAD_ENV, _SINGLE_THREAD_MARK: "1"})
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    report = run(args.repeats)
    print(markdown(report))
    write_json_atomic(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
