"""Count false alarms of the tolerance model on correct implementations, over many random cases.

    python scripts/false_alarms.py --cases 100000 --seed 0 [--jobs 2] [--frameworks torch,jax]
    python scripts/false_alarms.py --seed 7 --start 0 --stop 250000 --scheduler tcp://HOST:8786 --out part0.json
    python scripts/false_alarms.py --merge part0.json part1.json … [--out all.json]
    python scripts/false_alarms.py --size-corners --cases 39600 --frameworks torch,jax

Each case comes from the suite's own strategies' distribution (depth 1–6, widths 1–32, batch 1–32,
every activation and loss, float32 and float64, all four regimes, the extreme one included), and every
correct implementation is judged exactly as `manual-bp check` judges a candidate: manual_bp, the
catalog's correct base, the per-sample column-vector style, the vectorised other-formulas style and,
with --frameworks, torch and/or jax computing in the case's dtype. Any verdict on any of them is a
false alarm. Prints a summary line and the worst margins; exits 1 on any false alarm.

With --size-corners the cases are instead those `manual-bp check` judges last, its size corners (depth
10 and 12, widths above 64, 128 and 1024, a batch of 75; the large ones again in the extreme regime):
case i is size corner i mod K of a check with seed s + i div K, K size corners per check (88).

Case i of seed s is drawn from ``np.random.default_rng([s, i])`` alone, so a campaign is the range of
case numbers [start, stop) of a seed, cut into tasks of --chunk cases that any engine may run: this
process (--jobs 1), a local pool (--jobs N), or the workers of a Dask scheduler (--scheduler ADDRESS;
docs/scale.md). Results are merged in case order, so the summary and the --out JSON are the same
whichever engine ran them and however the range was cut. A campaign may run in parts (--start/--stop,
each part --out its own JSON) that --merge adds up: the parts must share the seed, the implementations
and the code, and must not overlap.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bpcheck import tolerance as tol  # noqa: E402
from bpcheck.cases import ACTIVATIONS, DTYPES, LOSSES, REGIMES, make_case  # noqa: E402
from bpcheck.check.judge import judge  # noqa: E402
from bpcheck.check.search import size_cases  # noqa: E402
from bpcheck.errors import UsageError  # noqa: E402
from bpcheck.report import engines  # noqa: E402
from bpcheck.writing import check_output_file, write_json  # noqa: E402

KIND = "manual-bp false alarms"
SCHEMA = 1


def _implementations(frameworks: tuple[str, ...]) -> dict:
    if str(ROOT) not in sys.path:  # on a Dask worker, which got this function by value: find tests/ here
        sys.path.insert(0, str(ROOT))
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


_CORNERS: dict[int, list[tuple[Any, str]]] = {}


def _size_corners_of(check_seed: int) -> list[tuple[Any, str]]:
    """The size corners of one check, drawn once for the K cases that come from them. A plain dict, not
    ``functools.lru_cache``: a Dask worker gets this script's functions by value (it cannot import
    ``__main__``), and a cache wrapper would be pickled by reference to a module the worker lacks."""
    corners = _CORNERS.pop(check_seed, None)
    if corners is None:
        corners = size_cases(check_seed)
        if len(_CORNERS) >= 2:  # least recently used out: the first check's (asked for K) and the current
            del _CORNERS[next(iter(_CORNERS))]  # one's are all a task needs
    _CORNERS[check_seed] = corners  # the most recently used last
    return corners


def _size_corner(seed: int, i: int) -> tuple[Any, str]:
    """Case i of a --size-corners campaign: size corner i mod K of a check with seed ``seed + i div K``."""
    per_check = len(_size_corners_of(seed))  # K does not depend on the seed
    return _size_corners_of(seed + i // per_check)[i % per_check]


def run(seed: int, start: int, stop: int, frameworks: tuple[str, ...], sizes: bool = False) -> dict[str, Any]:
    """One task: cases start … stop − 1 of ``seed``, every implementation judged on each."""
    impls = _implementations(frameworks)
    alarms, unresolvable, worst = [], 0, {}
    for i in range(start, stop):
        if sizes:
            case, regime = _size_corner(seed, i)
            dtype = str(case.dtype)
        else:
            rng = np.random.default_rng([seed, i])
            widths, acts, loss, batch, dtype, regime = _draw(rng)
            case = make_case(rng, widths, acts, loss, batch=batch, dtype=dtype, regime=regime)
        analysis = tol.analyse(case)
        if case.dtype == np.float32 and analysis.resolution > 1e-2:
            unresolvable += 1
        for name, fn in impls.items():
            fault = judge(fn, case, analysis)
            if fault is not None:
                alarms.append({"case": i, "implementation": name, "description": case.describe(), "regime": regime,
                               "kind": fault.kind, "message": fault.message[:300]})
        _, margin = tol.compare(impls["manual_bp"](case.params, case.x, case.y, list(case.activations), case.loss),
                                analysis.grads, analysis, u_ref=tol.unit_roundoff(np.float64))
        key = f"{dtype}/{regime}"
        worst[key] = max(worst.get(key, 0.0), margin)
    return {"start": start, "stop": stop, "unresolvable": unresolvable, "false_alarms": alarms, "worst_margin": worst}


def _combine(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Task or part results added up in case order: the same whatever order they came in."""
    spans = sorted(tuple(r) for p in parts for r in (p["ranges"] if "ranges" in p else [(p["start"], p["stop"])]))
    ranges: list[list[int]] = []
    for lo, hi in spans:
        if ranges and lo < ranges[-1][1]:
            raise UsageError(f"case ranges overlap: [{ranges[-1][0]}, {ranges[-1][1]}) and [{lo}, {hi})")
        if ranges and lo == ranges[-1][1]:
            ranges[-1][1] = hi
        else:
            ranges.append([lo, hi])
    worst: dict[str, float] = {}
    for p in parts:
        for k, v in p["worst_margin"].items():
            worst[k] = max(worst.get(k, 0.0), v)
    alarms = sorted((a for p in parts for a in p["false_alarms"]), key=lambda a: (a["case"], a["implementation"]))
    return {"ranges": ranges, "cases": sum(hi - lo for lo, hi in ranges),
            "unresolvable": sum(p["unresolvable"] for p in parts), "false_alarms": alarms,
            "worst_margin": dict(sorted(worst.items()))}


def campaign(seed: int, start: int, stop: int, frameworks: tuple[str, ...], *, jobs: int, chunk: int,
             cluster: engines.Cluster | None, sizes: bool = False) -> dict[str, Any]:
    tasks = [(run, (seed, lo, min(lo + chunk, stop), frameworks, sizes)) for lo in range(start, stop, chunk)]
    t0 = time.perf_counter()
    done = list(engines.results(tasks, jobs=jobs, cluster=cluster, name="manual-bp-false-alarms"))
    seconds = time.perf_counter() - t0
    engine = cluster.describe() if cluster is not None else f"{jobs} local processes" if jobs > 1 else "one process"
    return {"kind": KIND, "schema": SCHEMA, "seed": seed, "cases_from": "size corners" if sizes else "strategies",
            "frameworks": list(frameworks),
            "implementations": list(_implementations(frameworks)), "fingerprint": engines.fingerprint(),
            **_combine(done), "runs": [{"start": start, "stop": stop, "engine": engine, "seconds": round(seconds, 1)}]}


def _load(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--merge {path!r}: cannot read it as JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != KIND or data.get("schema") != SCHEMA:
        raise UsageError(f"--merge {path!r} is not a result of this script (kind {KIND!r}, schema {SCHEMA})")
    return data


def merge(paths: list[str]) -> dict[str, Any]:
    """The results of several parts of one campaign as one: UsageError unless they share the seed, the
    implementations and the code, and their case ranges do not overlap."""
    parts = [_load(p) for p in paths]
    first = parts[0]
    for path, part in zip(paths, parts, strict=True):
        for key in ("seed", "cases_from", "frameworks", "implementations", "fingerprint"):
            if part.get(key) != first.get(key):
                raise UsageError(f"--merge {path!r} has another {key} than {paths[0]!r} "
                                 f"({json.dumps(part.get(key))[:80]} vs {json.dumps(first.get(key))[:80]})")
    keys = ("kind", "schema", "seed", "cases_from", "frameworks", "implementations", "fingerprint")
    return {key: first[key] for key in keys if key in first} \
        | _combine(parts) | {"runs": sorted((r for p in parts for r in p["runs"]), key=lambda r: r["start"])}


def summary(result: dict[str, Any]) -> list[str]:
    """What the campaign found, as printed: the same for any engine and any cut into parts."""
    lines = [f"FALSE ALARM case {a['case']} {a['implementation']}: {a['description']} regime {a['regime']}: "
             f"{a['kind']}: {a['message']}" for a in result["false_alarms"]]
    ranges = " + ".join(f"[{lo}, {hi})" for lo, hi in result["ranges"])
    source = " of check's size corners" if result.get("cases_from") == "size corners" else ""
    lines.append(f"{result['cases']} cases{source} (seed {result['seed']}, cases {ranges}) × "
                 f"[{', '.join(result['implementations'])}]: {len(result['false_alarms'])} false alarms; "
                 f"{result['unresolvable']} float32 cases unresolvable (bound > 1% of the gradient)")
    lines.append("worst margin of manual_bp (error ÷ tolerance) by dtype/regime: "
                 + ", ".join(f"{k} {v:.3g}" for k, v in result["worst_margin"].items()))
    return lines


def _arguments(args: argparse.Namespace) -> tuple[int, int]:
    for name in ("seed", "jobs", "chunk"):
        value = getattr(args, name)
        if value < (0 if name == "seed" else 1):
            raise UsageError(f"--{name} must be {'≥ 0' if name == 'seed' else '≥ 1'}, got {value}")
    if args.cases is not None and (args.start is not None or args.stop is not None):
        raise UsageError("--cases N is --start 0 --stop N: give one or the other")
    start = args.start or 0
    stop = args.stop if args.stop is not None else args.cases if args.cases is not None else 10000
    if not 0 <= start < stop:
        raise UsageError(f"--start and --stop must satisfy 0 ≤ start < stop, got [{start}, {stop})")
    return start, stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, help="cases 0 … N − 1 (default 10000)")
    parser.add_argument("--start", type=int, help="the first case number of this part (default 0)")
    parser.add_argument("--stop", type=int, help="one past the last case number of this part")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="local worker processes (without --scheduler)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run the tasks on this Dask scheduler's workers")
    parser.add_argument("--chunk", type=int, default=500, help="cases per task (default 500; the figures do not "
                        "depend on it)")
    parser.add_argument("--frameworks", default="", metavar="torch,jax",
                        help="also judge these references as candidates (jax compiles once per shape)")
    parser.add_argument("--size-corners", action="store_true", help="judge check's size corners instead of the "
                        "strategies' cases (case i: corner i mod 88 of check seed SEED + i div 88)")
    parser.add_argument("--out", metavar="FILE", help="write the result as JSON (atomically)")
    parser.add_argument("--merge", nargs="+", metavar="FILE", help="add up the --out results of parts instead of "
                        "running cases")
    args = parser.parse_args(argv)
    try:
        out = check_output_file("--out", args.out) if args.out else None
        if args.merge:
            result = merge(args.merge)
        else:
            start, stop = _arguments(args)
            frameworks = tuple(f for f in args.frameworks.split(",") if f)
            cluster = engines.Cluster(args.scheduler) if args.scheduler else None
            try:
                result = campaign(args.seed, start, stop, frameworks, jobs=args.jobs, chunk=args.chunk,
                                  cluster=cluster, sizes=args.size_corners)
            finally:
                if cluster is not None:
                    cluster.close()
    except UsageError as exc:
        print(f"false_alarms.py: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("false_alarms.py: interrupted", file=sys.stderr)
        return 130
    if out is not None:
        write_json(out, result)
    print("\n".join(summary(result)))
    print("time: " + "; ".join(f"cases [{r['start']}, {r['stop']}) in {r['seconds']} s on {r['engine']}"
                               for r in result["runs"]))
    return 1 if result["false_alarms"] else 0


if __name__ == "__main__":
    sys.exit(main())
