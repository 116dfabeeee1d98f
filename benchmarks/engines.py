"""The engines side by side: the local process pool against a Dask cluster on this machine.

    python -m benchmarks.engines [--cases 3000] [--rounds 2] [--workers 2] [--no-report] [--out PATH]

1. False-alarm cost per case: ``scripts/false_alarms.py --cases N --chunk 100`` (seed 11) with
   ``--jobs W`` and with ``--scheduler`` on a Dask ``LocalCluster`` of W single-threaded worker
   processes (nannies, as ``dask worker --nworkers W --nthreads 1`` starts them), alternated, each in a
   fresh process. Wall seconds, and CPU seconds: the script's and its children's (the pool), or the
   script's plus the cluster's worker processes' (read with psutil before and after). The results
   are checked equal (apart from their timings).
2. The report's default engine: ``run_report(quick=True, plots=False)`` with ``jobs=W`` against a fresh
   ``LocalCluster`` per round (its start-up included), alternated, in this process; the cases are
   checked equal.

Every cluster binds to 127.0.0.1 only, without a dashboard. The load average is recorded beside each
run: on a shared machine the rounds say how noisy the figures are. A benchmark, not a test: it never
fails on a time. The JSON (``--out``, default benchmarks/results/engines.json) is written atomically.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "engines.json"
SCRIPT = REPO / "scripts" / "false_alarms.py"


def _cluster(workers: int):
    from distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None)


def _workers_cpu(client) -> float:
    def cpu() -> float:
        import psutil

        times = psutil.Process().cpu_times()
        return times.user + times.system

    return sum(client.run(cpu).values())


def _timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (its own and its children's) of a command, in a fresh process."""
    before = os.times()
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def false_alarm_cost(cases: int, rounds: int, workers: int, directory: Path) -> dict[str, Any]:
    from distributed import Client

    runs: dict[str, list[dict[str, float]]] = {"pool": [], "dask": []}
    results = []
    with _cluster(workers) as cluster, Client(cluster, set_as_default=False) as client:
        for r in range(rounds):
            for engine in ("pool", "dask"):
                out = directory / f"fa-{engine}{r}.json"
                where = ["--jobs", str(workers)] if engine == "pool" else ["--scheduler", cluster.scheduler_address]
                load = os.getloadavg()[0]
                cpu0 = _workers_cpu(client) if engine == "dask" else 0.0
                wall, cpu = _timed([sys.executable, str(SCRIPT), "--seed", "11", "--cases", str(cases),
                                    "--chunk", "100", *where, "--out", str(out)])
                if engine == "dask":
                    cpu += _workers_cpu(client) - cpu0
                runs[engine].append({"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "load": load})
                results.append({k: v for k, v in json.loads(out.read_text()).items() if k != "runs"})
                print(f"false alarms, round {r + 1}, {engine}: {wall:.1f} s wall, {cpu:.1f} s CPU (load {load:.1f})",
                      flush=True)
    summary = {}
    for engine, rows in runs.items():
        wall, cpu = statistics.median(r["wall_s"] for r in rows), statistics.median(r["cpu_s"] for r in rows)
        summary[engine] = {"median_wall_s": wall, "median_cpu_s": cpu, "cpu_ms_per_case": 1e3 * cpu / cases,
                           "wall_core_ms_per_case": 1e3 * wall * workers / cases}
    return {"cases": cases, "workers": workers, "runs": runs, "summary": summary,
            "dask_over_pool_wall": summary["dask"]["median_wall_s"] / summary["pool"]["median_wall_s"],
            "identical_results": all(r == results[0] for r in results),
            "false_alarms": len(results[0]["false_alarms"])}


def report_engines(rounds: int, workers: int, directory: Path) -> dict[str, Any]:
    from bpcheck.report import run_report

    runs: dict[str, list[dict[str, float]]] = {"pool": [], "localcluster": []}
    cases = {}
    for r in range(rounds):
        for engine in ("pool", "localcluster"):
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            out = directory / f"report-{engine}{r}"
            if engine == "pool":
                result = run_report(out, quick=True, jobs=workers, plots=False)
            else:
                with _cluster(workers) as cluster:
                    result = run_report(out, quick=True, scheduler=cluster.scheduler_address, plots=False)
            wall = time.perf_counter() - t0
            runs[engine].append({"wall_s": round(wall, 2), "load": load})
            cases.setdefault(engine, result.report["cases"])
            print(f"quick report, round {r + 1}, {engine}: {wall:.1f} s (load {load:.1f})", flush=True)
    medians = {e: statistics.median(x["wall_s"] for x in rows) for e, rows in runs.items()}
    return {"runs": runs, "median_wall_s": medians, "localcluster_over_pool": medians["localcluster"] / medians["pool"],
            "identical_cases": cases["pool"] == cases["localcluster"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-report", action="store_true", help="only the false-alarm comparison")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    from bpcheck.writing import write_json

    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    with tempfile.TemporaryDirectory(prefix="engines-") as tmp:
        data: dict[str, Any] = {"started": started, "machine": {"cpu_count": os.cpu_count(),
                                                                "python": platform.python_version(),
                                                                "platform": platform.platform()},
                                "false_alarms": false_alarm_cost(args.cases, args.rounds, args.workers, Path(tmp))}
        if not args.no_report:
            data["report_quick"] = report_engines(args.rounds, args.workers, Path(tmp))
    data["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, data, indent=2)
    print(json.dumps({"false_alarms": data["false_alarms"]["summary"],
                      "report_quick": data.get("report_quick", {}).get("median_wall_s")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
