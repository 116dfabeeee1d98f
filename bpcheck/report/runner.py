"""Running a report: every backend's gradient against the extended-precision ground truth.

    manual-bp report [--out DIR] [--baseline FILE] [--sweep quick|default|large] [--quick] [--jobs N]
                     [--scheduler ADDRESS] [--seed S] [--device cpu|cuda] [--allow-tf32] [--no-plots]
                     [--jax-cache DIR] [--activations A,B] [--losses L,M] [--dtypes float32,float64]

Measures manual_bp, torch, jax (and finite_diff on float64 cases) on a deterministic sweep of cases
against the "ground_truth" reference (forward-mode tangents in long double), and writes
``report.json``, ``report.md`` and ``report.html`` into DIR, each atomically. Exit status: 0 all
backends agree and nothing regressed; 1 manual_bp disagrees with torch or jax beyond tolerance, a
backend failed, or a case regressed against ``--baseline``; 2 a usage error or an unreadable
baseline (one line on stderr). docs/report.md describes the figures, the sweeps and the rule.

Python API: ``run_report(...)`` runs a sweep and writes the report; ``measure(case, ...)`` measures one
``bpcheck.cases.Case`` into a record; ``write_report_from_records(records, out_dir, environment)``
writes the same three files from records gathered elsewhere (the property suite's ``--bp-report``).

A record (one element of report.json's "cases") is a dict:

    {"id": "tanh-tanh|half_sse|float32|4-6-5|b3|default",      # stable; the baseline key
     "widths": [4, 6, 5], "batch": 3, "activations": ["tanh", "tanh"], "loss": "half_sse",
     "dtype": "float32", "regime": "default",
     "status": "ok" | "error", "message": str (status "error": the ground truth failed),
     "scale": max |T| over the whole gradient, "resolution": Analysis.resolution,
     "backends": {name: {"status": "ok", "max_abs_err": float, "max_rel_err": float,
                         "margin": float (not for finite_diff),
                         "worst": {"layer": int (1-based), "param": "W" | "b", "index": [int, ...],
                                   "abs_err": |G − T| there, "tau": τ there}}  (the largest margin's entry)
                      | {"status": "skipped", "reason": str} | {"status": "error", "message": str}},
     "agreement": {"torch" | "jax": {"status": "ok", "max_abs_diff": float, "margin": float,
                                     "u_ref": float, "agree": bool, "worst": {...},
                                     "subnormal": bool (only when not agree: |Δ| there < the
                                                   dtype's smallest normal, e.g. a flush-to-zero engine)}
                                   | {"status": "skipped", "reason": str}}}

With ``--device cuda`` report.json also has ``"precision"``, the GPU precision section's figures
(``bpcheck.report.precision``: pinned against TF32 on one fixed float32 case).

Non-finite floats are written as the strings "inf", "-inf", "nan".
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import manual_bp
import references
from bpcheck.cases import Case
from bpcheck.errors import UsageError
from bpcheck.report import baseline as cmp
from bpcheck.report import engines
from bpcheck.report import layers as lyr
from bpcheck.report import measurement as msr
from bpcheck.report.files import dump_report, write_all
from bpcheck.report.precision import measure_precision
from bpcheck.report.render.html import render_html
from bpcheck.report.render.markdown import render_markdown
from bpcheck.report.summary import summarise
from bpcheck.report.sweep import Spec, build_sweep, definition, group_by_signature
from bpcheck.report.sweep import case_id as make_id
from bpcheck.writing import check_output_dir

SCHEMA = 2  # 2: records carry input_digest, the environment its sweep definition and manual_bp's version


class ReportResult(NamedTuple):
    exit_status: int            # 0 pass, 1 disagreement / failure / regression
    report: dict[str, Any]      # what report.json holds
    paths: dict[str, Path]      # the files written


def _validate(out: Path, jobs: int, seed: int, device: str, scheduler: str | None) -> None:
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    if seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {seed}")
    if device not in ("cpu", "cuda"):
        raise UsageError(f"--device must be cpu or cuda, got {device!r}")
    check_output_dir("--out", out)
    if scheduler is not None:
        engines.check_address("--scheduler", scheduler)


def use_jax_cache(directory: str | Path) -> None:
    """Point jax's persistent compilation cache at ``directory``, for this process and its workers.

    Set through jax's environment variables, read when jax is imported (workers are spawned, so
    they import it afresh); a jax already imported here is configured directly.
    """
    path = Path(directory).resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--jax-cache {str(directory)!r}: {exc.strerror or exc}") from None
    settings = {"jax_compilation_cache_dir": str(path), "jax_persistent_cache_min_compile_time_secs": 0,
                "jax_persistent_cache_min_entry_size_bytes": -1}
    for name, value in settings.items():
        os.environ[name.upper()] = str(value)
    jax = sys.modules.get("jax")
    if jax is not None:
        for name, value in settings.items():
            jax.config.update(name, value)


def unavailable_backends(device: str, backends: Sequence[str]) -> dict[str, str]:
    """The backends that cannot run here, each with the reason (run on every worker of a cluster)."""
    return {b: r for b in backends if (r := msr.unavailable(b, device)) is not None}


def _skips(device: str, backends: Sequence[str], cluster: engines.Cluster | None = None) -> dict[str, str]:
    skip = cluster.everywhere(unavailable_backends, device, backends) if cluster is not None \
        else unavailable_backends(device, backends)
    if device == "cuda" and all(b in skip for b in msr.REFERENCES):
        raise UsageError("--device cuda: no CUDA device is available here ("
                     + "; ".join(skip[b] for b in msr.REFERENCES) + ")")
    return skip


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("manual-bp report"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)
    bar.start()
    return bar, bar.add_task("cases", total=total)


def measure_sweep(specs: Sequence[Spec], *, seed: int, device: str, allow_tf32: bool, jobs: int,
                  backends: Sequence[str], skip: dict[str, str],
                  advance: Callable[[int], None] = lambda n: None,
                  cluster: engines.Cluster | None = None,
                  layer_items: Sequence[tuple[str, int, str]] = (), sweep: str = "default",
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The records of ``specs`` and of the layers section's ``layer_items`` (``layers.build``), each in
    their order, measured on ``cluster`` (a Dask scheduler) if given, else in ``jobs`` local processes
    (spawned, not forked); the engine never changes a figure."""
    n = len(specs)
    out: list[dict[str, Any] | None] = [None] * (n + len(layer_items))
    tasks: list[engines.Task] = [(msr.measure_group, (group, seed, device, allow_tf32, backends, skip))
                                 for group in group_by_signature(specs)]
    layer_backends = [b for b in backends if b in lyr.BACKENDS]
    tasks += [(lyr.measure_group, ([(n + i, item) for i, item in group], sweep, seed, device, allow_tf32,
                                   layer_backends, skip))
              for group in (lyr.groups(layer_items) if layer_backends else [])]
    for done in engines.results(tasks, jobs=jobs, cluster=cluster, name="manual-bp-report"):
        for i, record in done:
            out[i] = record
        advance(len(done))
    return [r for r in out[:n] if r is not None], [r for r in out[n:] if r is not None]


def run_report(out_dir: str | Path = "bp-report", *, baseline: str | Path | None = None,
               quick: bool = False, sweep: str | None = None, jobs: int = 1, scheduler: str | None = None,
               seed: int = 0, device: str = "cpu",
               allow_tf32: bool = False, plots: bool = True,
               activations: Iterable[str] | None = None, losses: Iterable[str] | None = None,
               dtypes: Iterable[str] | None = None, backends: Sequence[str] = msr.BACKENDS,
               progress: bool = False, jax_cache: str | Path | None = None,
               allow_different_sweep: bool = False, layers: Iterable[str] | None = None) -> ReportResult:
    """Run a sweep (``sweep``: quick, default or large; ``quick=True`` is ``sweep="quick"``), optionally
    restricted by name, and write the report into ``out_dir``.

    The cases are measured on the Dask scheduler at ``scheduler`` (e.g. "tcp://127.0.0.1:8786") if
    given, else in ``jobs`` local processes; the figures are the same either way. ``layers`` names the
    layer kinds of the layers section (``bpcheck.report.layers.KINDS``; []: none); None means all of
    them, unless ``activations`` or ``losses`` narrow the report to some networks: then none.

    Raises ``bpcheck.errors.UsageError`` for a bad argument, an unreadable baseline, a baseline made
    with another sweep definition (unless ``allow_different_sweep``: then only the cases whose inputs
    are identical are compared), or a scheduler that cannot be reached or whose workers run other
    code, before measuring; and if the cluster loses the run.
    """
    started = time.monotonic()
    out = Path(out_dir)
    _validate(out, jobs, seed, device, scheduler)
    if device == "cuda":  # workers share the GPU and must repeat their figures (inherited by spawned workers)
        references.prepare_gpu_process()
    old = cmp.load_baseline(baseline) if baseline is not None else None
    try:
        specs = build_sweep(sweep=sweep, quick=quick, activations=activations, losses=losses, dtypes=dtypes)
        defined = definition(sweep=sweep, quick=quick, seed=seed, activations=activations, losses=losses,
                             dtypes=dtypes)
        if layers is None and (activations is not None or losses is not None):
            layers = []
        layer_items = lyr.build(layers, defined["sweep"], defined["dtypes"])
        defined["layers"] = lyr.definition(layers, defined["sweep"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    differ = cmp.differences(old, defined) if old is not None else []
    if differ and not allow_different_sweep:
        raise UsageError(f"--baseline {str(baseline)!r} was made with another sweep ({'; '.join(differ)}), so its "
                         "cases are other networks; --allow-different-sweep compares only the cases whose inputs "
                         "are identical")
    if jax_cache is not None and scheduler is not None:
        raise UsageError(f"--jax-cache {str(jax_cache)!r} configures local workers only; with --scheduler, set "
                         "JAX_COMPILATION_CACHE_DIR in the environment of each `dask worker` instead")
    if jax_cache is not None:
        use_jax_cache(jax_cache)
    with contextlib.ExitStack() as stack:
        cluster = stack.enter_context(engines.Cluster(scheduler)) if scheduler is not None else None
        if cluster is not None and device == "cuda":
            cluster.everywhere(references.prepare_gpu_process)
        with engines.deferred_interrupts():  # loads torch and jax here
            skip = _skips(device, backends, cluster) if cluster is not None else _skips(device, backends)
        engine = cluster.describe() if cluster is not None else \
            f"{jobs} local worker processes" if jobs > 1 else "this process"
        bar = _progress_bar(len(specs) + len(layer_items), progress)
        try:
            records, layer_records = measure_sweep(
                specs, seed=seed, device=device, allow_tf32=allow_tf32, jobs=jobs, backends=backends, skip=skip,
                cluster=cluster, advance=(lambda n: bar[0].advance(bar[1], n)) if bar else (lambda n: None),
                layer_items=layer_items, sweep=defined["sweep"])
        finally:
            if bar:
                bar[0].stop()
    ran_refs = any(b in msr.REFERENCES and b not in skip for b in backends)
    extra: dict[str, Any] = {"layers": layer_records}
    if device == "cuda":
        extra["precision"] = measure_precision(device, skip)
    with engines.deferred_interrupts():  # imports torch and jax, if the workers were elsewhere
        here = collect_environment(device)
    env = here | {
        "sweep": defined["sweep"], "seed": seed, "quick": defined["sweep"] == "quick", "definition": defined,
        "allow_tf32": allow_tf32,
        "reduced_precision": bool(allow_tf32 and ran_refs),
        "filters": {"activations": activations and list(activations), "losses": losses and list(losses),
                    "dtypes": dtypes and list(dtypes)},
    }
    return _finish(records, out, env, old, str(baseline) if baseline is not None else None, plots,
                   time.monotonic() - started, extra, different_sweep=bool(differ), engine=engine)


def collect_environment(device: str = "cpu") -> dict[str, Any]:
    """``references.environment(device)`` (versions, precision settings, devices, CPU, BLAS), and the
    version of manual_bp, the subject."""
    return {"manual_bp": manual_bp.__version__, **references.environment(device=device)}


def _finish(records: list[dict[str, Any]], out: Path, env: dict[str, Any], old: dict[str, Any] | None,
            baseline_path: str | None, plots: bool, elapsed: float | None,
            extra: dict[str, Any] | None = None, different_sweep: bool = False,
            engine: str | None = None) -> ReportResult:
    layer_records = (extra or {}).get("layers", [])
    compared = cmp.compare(old, records, env, baseline_path or "", different_sweep=different_sweep,
                           layers=layer_records) if old is not None else None
    report = {"schema": SCHEMA, "environment": env, "summary": summarise(records, compared, layer_records),
              "cases": records}
    report |= extra or {}
    run = {"elapsed_s": None if elapsed is None else round(elapsed, 1), "engine": engine}
    files = {"report.json": dump_report(report), "report.md": render_markdown(report, run),
             "report.html": render_html(report, run, plots=plots)}  # all rendered before any is written
    try:
        paths = write_all(out, files)
    except OSError as exc:
        raise UsageError(f"cannot write the report into {str(out)!r}: {exc.strerror or exc}") from None
    return ReportResult(report["summary"]["exit_status"], report, paths)


def measure(case: Case, *, regime: str = "hypothesis", case_id: str | None = None, device: str = "cpu",
            allow_tf32: bool = False, backends: Sequence[str] = msr.BACKENDS) -> dict[str, Any]:
    """The record of one case, measured now (the format in this module's docstring).

    ``regime`` names where the case came from (a ``bpcheck.cases`` regime, or e.g. "hypothesis");
    the id defaults to ``act…|loss|dtype|widths|bB|regime``.
    """
    cid = case_id or make_id(case.activations, case.loss, str(case.dtype), case.widths, case.batch, regime)
    skip = {b: r for b in backends if (r := msr.unavailable(b, device)) is not None}
    return msr.measure_case(case, case_id=cid, regime=regime, device=device, allow_tf32=allow_tf32,
                            backends=backends, skip=skip)


def _unique_ids(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, int] = {}
    out = []
    for record in records:
        record = dict(record)
        if not isinstance(record.get("id"), str):
            record["id"] = make_id(record["activations"], record["loss"], record["dtype"], record["widths"],
                                   record["batch"], record.get("regime", "hypothesis"))
        n = seen[record["id"]] = seen.get(record["id"], 0) + 1
        if n > 1:
            record["id"] = f"{record['id']}#{n}"
        out.append(record)
    return out


def write_report_from_records(records: Iterable[dict[str, Any]], out_dir: str | Path,
                              environment: dict[str, Any] | None = None, *,
                              baseline: str | Path | None = None, plots: bool = True) -> ReportResult:
    """Write report.json/.md/.html into ``out_dir`` from records gathered elsewhere (e.g. a pytest run).

    Meant for the property suite's ``--bp-report DIR``: each test that measures a case appends
    ``bpcheck.report.measure(case, regime="hypothesis")`` (or a dict in the same format, see the
    module docstring) to a session-wide list, and a ``pytest_sessionfinish`` hook calls this once.
    A repeated id gets "#2", "#3", … in the order given; ids of Hypothesis cases are stable across
    runs only for a derandomized suite. ``environment`` defaults to ``references.environment()``
    with ``"sweep": "records"``. Returns the exit status the command line would give.
    """
    env = dict(environment) if environment is not None else collect_environment() | {"sweep": "records"}
    old = cmp.load_baseline(baseline) if baseline is not None else None
    return _finish(_unique_ids(records), Path(out_dir), env, old,
                   str(baseline) if baseline is not None else None, plots, None)
