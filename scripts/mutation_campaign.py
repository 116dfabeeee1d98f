"""Mutation testing of manual_bp with cosmic-ray: every mutant of the subject, and what kills it.

    pip install -c constraints.txt -e '.[all,mutation]'       # cosmic-ray, pinned (not part of '.[all]')
    python scripts/mutation_campaign.py run [--workers 2] [--modules network,losses] [--retest survivors]
    python scripts/mutation_campaign.py run --workers 1 --sample 200 --sample-seed 0   # a stated random sample
    python scripts/mutation_campaign.py report                  # benchmarks/results/mutation.json again

The engine, cosmic-ray, rewrites one operator of one module of ``manual_bp/`` at a time (the
modules of ``SUBJECT``) and runs a test command; a non-zero exit kills the mutant. The command here
is this script's ``kill`` stage, which runs, in this order, stopping at the first that fails:

1. ``manual-bp check manual_bp:gradients`` exactly as a user runs it by default (500 random examples
   after the corner sweep, then the size corners, seed 0), with ``--references ground_truth`` (a
   counterexample is explained by the long-double truth alone: no torch or jax import) and the repro
   and verdict JSON written to a temporary directory. A mutant is killed by check only if check
   gave a failing verdict.
2. Only if check passed: ``pytest -x -q -p no:cacheprovider --hypothesis-profile=mutation`` on the
   test files that cover the mutated module (``TESTS``, below; never the whole suite).

A mutant that makes ``import manual_bp`` fail (check then gives no verdict; a probe import says why)
is killed at import: every command fails on it, check's and the tests' alike, so it counts for both
scores, and the JSON counts it apart (``killed_at_import``).

Each stage has its own deadline (``CHECK_LIMIT_S``, ``TESTS_LIMIT_S``); past it the mutant counts as
timed out, not killed. The stage's verdict goes back in the engine's record of the run (the line
after ``MARKER``), so both scores can be stated: check alone (what a user's code gets) and the full
selection (check, then the mapped tests).

Sessions (cosmic-ray's SQLite work databases, one per module) live in
``benchmarks/results/mutation-sessions/`` (ignored by git): ``run`` resumes whatever is pending in
them, and re-initialises a module's session only when its source changed. ``--retest survivors``
runs the survivors again (after new tests). ``--sample N --sample-seed S`` runs a seeded random
sample of N mutants instead of all, stratified by module (each module's share of N in proportion to
its share of the mutants, largest remainders first; within a module the front of its mutants, in
source order, shuffled by ``random.Random(f"{S}:{module}")``, so a larger sample keeps a smaller
one's); the others are marked as skipped in the sessions (cosmic-ray's own outcome for a mutant not
run), and the JSON states the sample, its seed and the population. Work is spread over ``--workers``
cosmic-ray HTTP workers, bound to 127.0.0.1, each in its own copy of the working tree (under ``--work-dir``), so
that a mutant applied by one never shows in another; the repository itself is never mutated.

The JSON (``benchmarks/results/mutation.json``, written atomically): the engine, its version, the
date, the machine, the commands, per module and in total the mutants, killed by check, killed by
the tests, survived and timed out, every mutant in one row, and each survivor with its diff and its
triage (docs/mutations.md, "The cosmic-ray campaign", holds the equivalence table it is read from).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime as _dt
import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SUBJECT = ("network", "activations", "losses", "optim", "jacobians", "_special", "_validate")

# The tests that cover each module, cheapest first (pytest -x stops at the first failure). Chosen by
# what each module is used for: test_properties.py contributes only its tests that reach the module
# without going through torch or jax, except for optim, whose oracles are torch.optim.SGD and a JAX update.
_PROPS = "tests/test_properties.py::"
TESTS: dict[str, tuple[str, ...]] = {
    "network": ("tests/test_manual_bp.py", "tests/test_network.py",
                _PROPS + "test_manual_bp_matches_ground_truth", _PROPS + "test_manual_bp_matches_finite_differences"),
    "activations": ("tests/test_manual_bp.py", "tests/test_erfc.py", _PROPS + "test_manual_bp_matches_ground_truth",
                    _PROPS + "test_manual_bp_matches_finite_differences",
                    _PROPS + "test_backprop_equals_explicit_jacobian_product"),
    "losses": ("tests/test_manual_bp.py",
               _PROPS + "test_manual_bp_matches_ground_truth", _PROPS + "test_manual_bp_matches_finite_differences"),
    "optim": ("tests/test_manual_bp.py", _PROPS + "test_gradient_descent_decreases_the_loss",
              _PROPS + "test_sgd_follows_torch_optim_sgd", _PROPS + "test_training_follows_a_plain_jax_update"),
    "jacobians": ("tests/test_manual_bp.py", _PROPS + "test_backprop_equals_explicit_jacobian_product",
                  _PROPS + "test_chain_rule_on_tensors"),
    "_special": ("tests/test_erfc.py", "tests/test_manual_bp.py"),
    "_validate": ("tests/test_manual_bp.py", "tests/test_network.py"),
}

CHECK = ("-m", "bpcheck.cli", "check", "manual_bp:gradients", "--references", "ground_truth",
         "--examples", "500", "--seed", "0")
PYTEST = ("-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--hypothesis-profile=mutation")
CHECK_LIMIT_S = 150.0
TESTS_LIMIT_S = 120.0
ENGINE_TIMEOUT_S = 285.0  # a backstop past both stages; below aiohttp's 300 s for a worker's answer
MARKER = "mutation-campaign-result:"

SESSIONS = ROOT / "benchmarks" / "results" / "mutation-sessions"
RESULT = ROOT / "benchmarks" / "results" / "mutation.json"
DOCS = ROOT / "docs" / "mutations.md"


# --- the kill stage: what cosmic-ray runs for every mutant, in a worker's copy ----------------------

def _run_limited(argv: Sequence[str], limit: float) -> tuple[int | None, str, float]:
    """(exit status or None past ``limit`` seconds, stdout and stderr, seconds); the whole process group
    is killed at the deadline (check's forkserver and worker included)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=limit)
        status: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        status = None
    return status, out.decode("utf-8", "replace"), time.monotonic() - t0


def _first_failure(pytest_output: str) -> str | None:
    """The node id of the first test that failed or errored, from pytest's short summary (-ra)."""
    found = re.search(r"^(?:FAILED|ERROR) (\S+)", pytest_output, re.MULTILINE)
    return found.group(1) if found else None


def kill(module: str) -> int:
    """Check, then (only if check passes) the module's tests; prints the verdict after MARKER.
    Exit status 1: killed or timed out (the engine's "killed"); 0: survived. Any non-zero exit of
    pytest kills: failures (1), and a run the mutant stopped from starting (2: collection, 3 and 4: a
    conftest that no longer imports, e.g. a SyntaxWarning made an error), since ``baseline`` ran the
    same command on the unmutated code and it passed."""
    result: dict[str, Any] = {"module": module}
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        verdict_path = Path(tmp, "verdict.json")
        status, out, seconds = _run_limited(
            [sys.executable, *CHECK, "--json", str(verdict_path), "--repro", str(Path(tmp, "repro.py"))],
            CHECK_LIMIT_S)
        verdict = json.loads(verdict_path.read_text()) if verdict_path.exists() else None
        kind = verdict["counterexample"]["kind"] if verdict and verdict["verdict"] == "fail" else None
        result["check"] = {"exit": status, "verdict": verdict and verdict["verdict"], "kind": kind,
                           "seconds": round(seconds, 2)}
        tail = out[-1500:]
    broken = None
    if status not in (None, 0) and kind is None:  # no verdict: did the mutant break `import manual_bp`?
        probe = subprocess.run([sys.executable, "-c", "import manual_bp"], capture_output=True, text=True)
        if probe.returncode:
            broken = (probe.stderr.strip().splitlines() or ["?"])[-1]
    if status is None:
        result["outcome"], result["stage"] = "timeout", "check"
    elif kind is not None:
        result["outcome"], result["stage"] = "killed", "check"
    elif broken is not None:  # every command that imports manual_bp fails, check and the tests alike
        result["outcome"], result["stage"], result["import"] = "killed", "import", {"error": broken}
    else:
        if status != 0:  # no verdict, yet manual_bp imports: check itself could not run; the tests decide
            result["check"]["output"] = tail
        status, out, seconds = _run_limited([sys.executable, *PYTEST, *TESTS[module]], TESTS_LIMIT_S)
        result["tests"] = {"exit": status, "failed": _first_failure(out) if status else None,
                           "seconds": round(seconds, 2)}
        tail = out[-1500:]
        if status is None:
            result["outcome"], result["stage"] = "timeout", "tests"
        else:
            result["outcome"], result["stage"] = ("survived", None) if status == 0 else ("killed", "tests")
            if status not in (0, 1):  # no test failed: the run did not start; say why
                result["tests"]["failed"] = f"pytest exit {status}: " + (out.strip().splitlines() or ["?"])[-1][:200]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu_seconds"] = round(children.ru_utime + children.ru_stime, 2)
    if result["outcome"] != "survived":
        print(tail)
    print(MARKER, json.dumps(result))
    return 0 if result["outcome"] == "survived" else 1


# --- the worker: cosmic-ray's own HTTP handler, on the loopback interface only ------------------------

def worker(port: int) -> None:
    from aiohttp import web
    from cosmic_ray.distribution.http import handle_mutate_and_test

    app = web.Application()
    app.add_routes([web.post("/", handle_mutate_and_test)])
    web.run_app(app, host="127.0.0.1", port=port, print=None)


# --- the campaign -------------------------------------------------------------------------------------

def _module_path(module: str) -> str:
    return f"manual_bp/{module}.py"


def _source_digest(module: str, root: Path = ROOT) -> str:
    return hashlib.sha256((root / _module_path(module)).read_bytes()).hexdigest()


def _module_source(module: str, root: Path = ROOT) -> str:
    return (root / _module_path(module)).read_text(encoding="utf-8")


def git_blob_id(content: bytes) -> str:
    """The id git gives a file of this content (``git hash-object``)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _config(module: str, urls: Sequence[str]) -> str:
    command = f"{sys.executable} scripts/mutation_campaign.py kill --module {module}"
    return "\n".join([
        "[cosmic-ray]", f'module-path = "{_module_path(module)}"', f"timeout = {ENGINE_TIMEOUT_S}",
        "excluded-modules = []", f"test-command = {json.dumps(command)}", "",
        "[cosmic-ray.distributor]", 'name = "http"', "",
        "[cosmic-ray.distributor.http]", f"worker-urls = {json.dumps(list(urls))}", ""])


def _cosmic_ray(*args: str, cwd: Path = ROOT) -> None:
    subprocess.run([sys.executable, "-m", "cosmic_ray.cli", *args], cwd=cwd, check=True)


def _log_path(sessions: Path) -> Path:
    return sessions / "campaign.json"


def _read_log(sessions: Path) -> dict[str, Any]:
    path = _log_path(sessions)
    return json.loads(path.read_text()) if path.exists() else {"sources": {}, "runs": []}


def _write_log(sessions: Path, log: dict[str, Any]) -> None:
    from bpcheck.writing import write_json

    write_json(_log_path(sessions), log)


def prepare_sessions(modules: Sequence[str], sessions: Path, retest: str) -> dict[str, Any]:
    """A session per module, initialised when missing or when the module's source changed since; with
    ``retest`` "survivors" the results of the survivors, timeouts and errors are dropped (so that they
    run again), with "check-survivors" also those of the mutants the tests killed after check had passed
    them (after a change to check), with "all" every result."""
    sessions.mkdir(parents=True, exist_ok=True)
    log = _read_log(sessions)
    for module in modules:
        db = sessions / f"{module}.sqlite"
        digest = _source_digest(module)
        if not db.exists() or log["sources"].get(module) != digest:
            (sessions / f"{module}.toml").write_text(_config(module, ["http://127.0.0.1:1"]))
            _cosmic_ray("init", "--force", str(sessions / f"{module}.toml"), str(db))
            log["sources"][module] = digest
            print(f"{module}: session initialised, {_count(db, 'work_items')} mutants")
        elif retest != "none":
            again = [row["job_id"] for row in _results(db) if row["outcome"] != "skipped"
                     and (retest == "all" or row["outcome"] != "killed"
                          or retest == "check-survivors" and row.get("stage") == "tests")]
            with contextlib.closing(sqlite3.connect(db)) as con, con:
                con.executemany("DELETE FROM work_results WHERE job_id = ?", [(j,) for j in again])
            print(f"{module}: {len(again)} results dropped, to run again ({retest})")
    _write_log(sessions, log)
    return log


# --- the sample: which mutants run ------------------------------------------------------------------------

NOT_SAMPLED = "not in the sample"


def _population(sessions: Path, modules: Sequence[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every mutant of each module's session as (line, column, operator, occurrence, job id), in source order:
    the order does not depend on the engine's job ids (random), so a seed names one sample."""
    from cosmic_ray.work_db import WorkDB, use_db

    out = {}
    for module in modules:
        with use_db(str(sessions / f"{module}.sqlite"), WorkDB.Mode.open) as work_db:
            keys = []
            for item in work_db.work_items:
                (spec,) = item.mutations
                keys.append((spec.start_pos[0], spec.start_pos[1], spec.operator_name, spec.occurrence, item.job_id))
        out[module] = sorted(keys)
    return out


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """``n`` shared among the modules in proportion to ``sizes`` (largest remainders first, ties in the
    order given), never more than a module has."""
    total = sum(sizes.values())
    n = min(n, total)
    exact = {m: n * k / total for m, k in sizes.items()}
    quota = {m: int(x) for m, x in exact.items()}
    order = sorted(sizes, key=lambda m: -(exact[m] - quota[m]))
    for m in order[: n - sum(quota.values())]:
        quota[m] += 1
    return quota


def choose_sample(population: dict[str, list[tuple[Any, ...]]], n: int, seed: int) -> dict[str, set[str]]:
    """The job ids of a stratified random sample of ``n`` mutants: each module's quota taken from the front of
    its mutants shuffled by ``random.Random(f"{seed}:{module}")``, so that a larger sample of the same seed
    keeps the mutants of a smaller one (and their results)."""
    quota = allocate({m: len(keys) for m, keys in population.items()}, n)
    chosen = {}
    for module, keys in population.items():
        order = list(keys)
        random.Random(f"{seed}:{module}").shuffle(order)
        chosen[module] = {key[-1] for key in order[: quota[module]]}
    return chosen


def apply_sample(sessions: Path, modules: Sequence[str], n: int | None, seed: int) -> dict[str, Any] | None:
    """Mark every mutant of ``modules`` outside the sample as skipped, and give back to the pending any mutant
    of the sample that an earlier, other sample had skipped; with ``n`` None every mutant is in. The sample is
    drawn from every module that has a session, whichever ``modules`` this run takes (a run of some modules
    keeps the campaign's sample). The sample's description."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    every = [m for m in SUBJECT if m in modules or (sessions / f"{m}.sqlite").exists()]
    population = _population(sessions, every)
    chosen = (choose_sample(population, n, seed) if n is not None
              else {m: {key[-1] for key in keys} for m, keys in population.items()})
    for module in modules:
        with use_db(str(sessions / f"{module}.sqlite"), WorkDB.Mode.open) as work_db:
            done = {item.job_id: result for item, result in work_db.completed_work_items}
        skipped = {j for j, r in done.items() if r.worker_outcome == WorkerOutcome.SKIPPED}
        back = [(j,) for j in skipped & chosen[module]]
        out = [key[-1] for key in population[module] if key[-1] not in chosen[module] and key[-1] not in skipped]
        with contextlib.closing(sqlite3.connect(sessions / f"{module}.sqlite")) as con, con:
            con.executemany("DELETE FROM work_results WHERE job_id = ?", back)
        if out:
            with use_db(str(sessions / f"{module}.sqlite"), WorkDB.Mode.open) as work_db:
                work_db.set_multiple_results(out, WorkResult(worker_outcome=WorkerOutcome.SKIPPED,
                                                             output=f"{NOT_SAMPLED} (seed {seed}, size {n})"))
    if n is None:
        return None
    return {"size": sum(len(c) for c in chosen.values()), "seed": seed,
            "method": "stratified by module: each module's share in proportion to its mutants (largest "
                      "remainders); within a module, the first of its mutants (in source order: line, column, "
                      "operator, occurrence) shuffled by random.Random(f'{seed}:{module}')",
            "population": {m: len(keys) for m, keys in population.items()},
            "sampled": {m: len(chosen[m]) for m in every}}


def _results(db: Path) -> list[dict[str, Any]]:
    """Each completed mutant of a session: its job id and what the kill stage said of it."""
    from cosmic_ray.work_db import WorkDB, use_db

    with use_db(str(db), WorkDB.Mode.open) as work_db:
        return [{"job_id": item.job_id, **_outcome(result)} for item, result in work_db.completed_work_items]


def _count(db: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(db)) as con:
        return int(con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _tree_files() -> list[str]:
    """The working tree as git sees it: tracked files and untracked ones not ignored."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         check=True, capture_output=True).stdout.decode()
    return [f for f in out.split("\0") if f and (ROOT / f).is_file()]


def make_copies(work_dir: Path, n: int) -> list[Path]:
    """``n`` fresh copies of the working tree, one per worker (a copy left mutated by an interrupted
    run is replaced)."""
    files = _tree_files()
    copies = []
    for i in range(n):
        copy = work_dir / f"worker-{i}"
        shutil.rmtree(copy, ignore_errors=True)
        for f in files:
            (copy / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, copy / f)
        copies.append(copy)
    return copies


def worker_env(copy: Path) -> dict[str, str]:
    """The copy's packages first on sys.path, no bytecode written (a mutant and its restored original may
    share a second of mtime), one thread per library: each worker is one process on one core."""
    env = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    return env


def baseline(copy: Path, modules: Sequence[str]) -> None:
    """The unmutated code passes every stage, or nothing can be killed honestly."""
    env = worker_env(copy)
    for module in modules:
        proc = subprocess.run([sys.executable, "scripts/mutation_campaign.py", "kill", "--module", module],
                              cwd=copy, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"baseline failed for {module}: the unmutated code does not pass its stages\n"
                     f"{proc.stdout[-3000:]}")
        print(f"baseline {module}: passes ({_marker(proc.stdout)})")


def _marker(output: str | None) -> dict[str, Any] | None:
    for line in reversed((output or "").splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def workers(copies: Sequence[Path]) -> Iterator[list[str]]:
    """One cosmic-ray HTTP worker per copy, listening on 127.0.0.1; their URLs."""
    procs, urls = [], []
    try:
        for copy in copies:
            port = _free_port()
            procs.append(subprocess.Popen([sys.executable, "scripts/mutation_campaign.py", "worker", "--port",
                                           str(port)], cwd=copy, env=worker_env(copy), start_new_session=True))
            urls.append(f"http://127.0.0.1:{port}")
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                if time.monotonic() > deadline or procs[-1].poll() is not None:
                    raise RuntimeError(f"the worker in {copy} did not start")
                time.sleep(0.2)
        yield urls
    finally:
        for proc in procs:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _progress(sessions: Path, modules: Sequence[str], stop: threading.Event, t0: float) -> None:
    while not stop.wait(60):
        left = sum(_count(sessions / f"{m}.sqlite", "work_items") - _count(sessions / f"{m}.sqlite", "work_results")
                   for m in modules)
        print(f"[{(time.monotonic() - t0) / 60:.0f} min] {left} mutants pending, "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)


def run(modules: Sequence[str], n_workers: int, work_dir: Path, sessions: Path, retest: str,
        sample: int | None = None, sample_seed: int = 0, all_mutants: bool = False) -> None:
    """Run what is pending; ``sample`` None keeps the sessions' last sample, unless ``all_mutants``."""
    log = prepare_sessions(modules, sessions, retest)
    if sample is None and log.get("sample") and not all_mutants:
        sample, sample_seed = log["sample"]["size"], log["sample"]["seed"]
    log["sample"] = apply_sample(sessions, modules, sample, sample_seed)
    _write_log(sessions, log)
    pending = {m: _count(sessions / f"{m}.sqlite", "work_items") - _count(sessions / f"{m}.sqlite", "work_results")
               for m in modules}
    if not any(pending.values()):
        print("nothing pending")
        return
    copies = make_copies(work_dir, n_workers)
    baseline(copies[0], [m for m in modules if pending[m]])
    record: dict[str, Any] = {"started": _now(), "command": "python " + " ".join(sys.argv), "workers": n_workers,
                              "mutants_run": sum(pending.values()), "load_average_start": os.getloadavg()}
    t0 = time.monotonic()
    stop = threading.Event()
    threading.Thread(target=_progress, args=(sessions, modules, stop, t0), daemon=True).start()
    loads = []
    try:
        with workers(copies) as urls:
            for module in modules:
                if pending[module]:
                    config = sessions / f"{module}.toml"
                    config.write_text(_config(module, urls))
                    m0 = time.monotonic()
                    _cosmic_ray("exec", str(config), str(sessions / f"{module}.sqlite"))
                    loads.append(os.getloadavg())
                    print(f"{module}: {pending[module]} mutants in {(time.monotonic() - m0) / 60:.1f} min", flush=True)
    finally:
        stop.set()
        record.update(ended=_now(), wall_seconds=round(time.monotonic() - t0, 1),
                      load_average_end=os.getloadavg(), load_average_after_each_module=loads)
        log = _read_log(sessions)
        log["runs"].append(record)
        _write_log(sessions, log)
    report(sessions)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


# --- the report -----------------------------------------------------------------------------------------

def _qualified_names(source: str) -> dict[int, str]:
    """Line number → the qualified name of the innermost function or class around it (module level: "")."""
    names: dict[int, str] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                for line in range(start, (child.end_lineno or child.lineno) + 1):
                    names[line] = name
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return names


def mutants(sessions: Path, modules: Sequence[str]) -> list[dict[str, Any]]:
    """Every mutant of the sessions, with what the kill stage said of it."""
    from cosmic_ray.work_db import WorkDB, use_db

    out = []
    for module in modules:
        db = sessions / f"{module}.sqlite"
        if not db.exists():
            continue
        names = _qualified_names((ROOT / _module_path(module)).read_text())
        with use_db(str(db), WorkDB.Mode.open) as work_db:
            results = {item.job_id: result for item, result in work_db.completed_work_items}
            for item in work_db.work_items:
                (spec,) = item.mutations
                row: dict[str, Any] = {"module": module, "operator": spec.operator_name.removeprefix("core/"),
                                       "occurrence": spec.occurrence, "line": spec.start_pos[0],
                                       "function": names.get(spec.start_pos[0], "")}
                result = results.get(item.job_id)
                row.update(_outcome(result))
                if result is not None and result.diff:
                    row["diff"] = result.diff
                out.append(row)
    out.sort(key=lambda r: (SUBJECT.index(r["module"]), r["line"], r["operator"], r["occurrence"]))
    return out


def _outcome(result: Any) -> dict[str, Any]:
    if result is None:
        return {"outcome": "pending"}
    if result.worker_outcome.value == "skipped":
        return {"outcome": "skipped"}
    marker = _marker(result.output)
    if result.worker_outcome.value != "normal" or marker is None:
        timed_out = result.output == "timeout"
        return {"outcome": "timeout" if timed_out else "error", "stage": None,
                "detail": f"{result.worker_outcome.value}: {(result.output or '')[-300:]}"}
    row = {"outcome": marker["outcome"], "stage": marker.get("stage"),
           "seconds": round(sum(marker.get(s, {}).get("seconds", 0) for s in ("check", "tests")), 2),
           "cpu_seconds": marker.get("cpu_seconds")}
    if marker["outcome"] == "killed":
        row["by"] = {"check": lambda: marker["check"]["kind"], "import": lambda: marker["import"]["error"],
                     "tests": lambda: marker["tests"]["failed"]}[marker["stage"]]()
    if marker["check"].get("output"):
        row["check_output"] = marker["check"]["output"]
    return row


def report(sessions: Path = SESSIONS, out: Path = RESULT) -> dict[str, Any]:
    from bpcheck.writing import write_json
    from scripts import mutation_triage as triage

    modules = [m for m in SUBJECT if (sessions / f"{m}.sqlite").exists()]
    everything = mutants(sessions, modules)
    rows = [r for r in everything if r["outcome"] != "skipped"]
    log = _read_log(sessions)
    # the annotation rule reads each module as it was mutated: only a source the session was made from
    sources = {m: _module_source(m) for m in modules if log["sources"].get(m) == _source_digest(m)}
    triage.apply(rows, DOCS.read_text(encoding="utf-8"), sources)
    population = {m: sum(r["module"] == m for r in everything) for m in modules}
    data = {
        "kind": "manual-bp mutation campaign", "schema": 1,
        "engine": {"name": "cosmic-ray", "version": _version("cosmic-ray"), "parser": f"parso {_version('parso')}",
                   "operators": "all of cosmic-ray's core operators that take no arguments"},
        "date": _now(), "machine": _machine(),
        "population": {"mutants": sum(population.values()), "by_module": population},
        "sample": log.get("sample"),
        "commands": {"campaign": [run["command"] for run in log["runs"]],
                     "check_stage": "python " + " ".join(CHECK),
                     "tests_stage": "python " + " ".join(PYTEST) + " FILES",
                     "tests_per_module": {m: list(TESTS[m]) for m in modules},
                     "limits_seconds": {"check": CHECK_LIMIT_S, "tests": TESTS_LIMIT_S, "engine": ENGINE_TIMEOUT_S}},
        "sources_sha256": log["sources"],
        # git's id of each module's source, so that the triage can be read again once the source moves on
        "sources_git_blob": {m: git_blob_id((ROOT / _module_path(m)).read_bytes()) for m in sources},
        "runs": log["runs"],
        **triage.summaries(rows, modules),
        "survivors": [r for r in rows if r["outcome"] == "survived"],
        "check_survivors": triage.check_survivors(rows),
        "mutants": triage.table(rows),
    }
    write_json(out, data)
    total = data["total"]
    print(f"{total['mutants']} mutants: {total['killed_by_check']} killed by check, {total['killed_by_tests']} by "
          f"the tests, {total['survived']} survived ({total['untriaged']} untriaged), {total['timed_out']} timed out, "
          f"{total['errors']} errors, {total['pending']} pending → {out}")
    return data


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def _machine() -> dict[str, Any]:
    import platform

    from references.environment import cpu_model

    return {"cpu_model": cpu_model(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": _version("numpy"), "hypothesis": _version("hypothesis")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run every pending mutant (resuming), then write the JSON")
    p.add_argument("--workers", type=int, default=2, help="cosmic-ray HTTP workers, one per core (default 2)")
    p.add_argument("--modules", default=",".join(SUBJECT), help=f"comma-separated, of {', '.join(SUBJECT)}")
    p.add_argument("--retest", choices=("none", "survivors", "check-survivors", "all"), default="none",
                   help="run again the survivors (and timeouts, errors); also what check passed and the tests "
                        "killed (check-survivors, after a change to check); or every mutant; of unchanged modules")
    p.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "manual-bp-mutation",
                   help="where the workers' copies of the working tree go")
    p.add_argument("--sessions", type=Path, default=SESSIONS, help="the sessions' directory")
    p.add_argument("--sample", type=int, default=None, metavar="N",
                   help="run a seeded random sample of N mutants, stratified by module (default: the sessions' "
                        "last sample, or every mutant)")
    p.add_argument("--sample-seed", type=int, default=0, metavar="S", help="the sample's seed (default 0)")
    p.add_argument("--all-mutants", action="store_true",
                   help="drop the sessions' sample: every mutant (without it, and without --sample, a run keeps "
                        "the sample the sessions were last given, e.g. for --retest survivors)")
    p = sub.add_parser("report", help="write the JSON from the sessions")
    p.add_argument("--sessions", type=Path, default=SESSIONS)
    p = sub.add_parser("kill", help="(run by cosmic-ray in a worker's copy) check, then the module's tests")
    p.add_argument("--module", choices=SUBJECT, required=True)
    p = sub.add_parser("worker", help="(started by run) one cosmic-ray HTTP worker on 127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command == "kill":
        return kill(args.module)
    if args.command == "worker":
        worker(args.port)
        return 0
    if args.command == "report":
        report(args.sessions)
        return 0
    modules = [m.strip() for m in args.modules.split(",") if m.strip()]
    unknown = sorted(set(modules) - set(SUBJECT))
    if unknown or args.workers < 1 or (args.sample is not None and args.sample < 1):
        parser.error(f"unknown modules {unknown}" if unknown else "--workers and --sample must be ≥ 1")
    if args.all_mutants and args.sample is not None:
        parser.error("--all-mutants and --sample exclude each other")
    run([m for m in SUBJECT if m in modules], args.workers, args.work_dir, args.sessions, args.retest,
        args.sample, args.sample_seed, args.all_mutants)
    return 0


if __name__ == "__main__":
    sys.exit(main())
