"""Campaigns on a real Dask cluster, and the large sweep's shapes.

A real ``dask scheduler`` and ``dask worker`` (the ``dask`` command line, in subprocesses of their own
process group, bound to 127.0.0.1 on ephemeral ports, no dashboard) serve the module; every process
is killed when it ends. The report and the false-alarm script run through the real command lines,
and their figures are compared with a local run's, case by case. The large sweep is checked on its
list of cases, without measuring it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from bpcheck import report
from bpcheck.cases import ACTIVATIONS, DTYPES, LOSSES
from bpcheck.report.baseline import differences
from bpcheck.report.sweep import LARGE_SHAPES, build_sweep, definition

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MANUAL_BP, DASK = str(BIN / "manual-bp"), str(BIN / "dask")
LOOPBACK = "127.0.0.1"
# the quick sweep cut down to 4 cases (2 activations × 1 loss × 2 dtypes), 4 tasks
SMALL = ["--quick", "--losses", "mse", "--no-plots"]


class Cluster(NamedTuple):
    address: str
    client: distributed.Client
    directory: Path


def _start(args: list[str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:  # a process group of its own, so that its children die with it
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    """A scheduler and one ``dask worker`` running two single-threaded worker processes, each under a
    nanny that restarts it if it dies."""
    directory = tmp_path_factory.mktemp("dask")
    scheduler_file = directory / "scheduler.json"
    local = ["--no-dashboard", "--dashboard-address", f"{LOOPBACK}:0"]
    procs: list[subprocess.Popen] = []
    client = None
    try:
        procs.append(_start([DASK, "scheduler", "--host", LOOPBACK, "--port", "0", *local,
                             "--scheduler-file", str(scheduler_file)], directory / "scheduler.log"))
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline and procs[0].poll() is None:
            time.sleep(0.05)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith(f"tcp://{LOOPBACK}:"), address
        procs.append(_start([DASK, "worker", address, "--host", LOOPBACK, *local, "--nworkers", "2",
                             "--nthreads", "1", "--local-directory", str(directory / "work")],
                            directory / "worker.log"))
        client = distributed.Client(address, timeout=30, set_as_default=False)
        client.wait_for_workers(2, timeout=60)
        yield Cluster(address, client, directory)
    finally:
        if client is not None:
            client.close(timeout=5)
        for proc in reversed(procs):
            _kill_group(proc)


def _cli(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([MANUAL_BP, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _cases(out: Path) -> list[dict]:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))["cases"]


def test_a_report_on_a_dask_cluster_has_the_figures_of_a_local_pool(cluster: Cluster, tmp_path: Path) -> None:
    names = ["--activations", "tanh,relu"]
    pool = _cli("report", *SMALL, *names, "--jobs", "2", "--out", str(tmp_path / "pool"), cwd=tmp_path)
    dask = _cli("report", *SMALL, *names, "--scheduler", cluster.address, "--out", str(tmp_path / "dask"),
                cwd=tmp_path)
    assert pool.returncode == 0 and dask.returncode == 0, pool.stderr + dask.stderr
    cases = _cases(tmp_path / "dask")
    assert [c["id"] for c in cases] == [s.id for s in build_sweep(sweep="quick", activations=["tanh", "relu"],
                                                                  losses=["mse"])]
    assert cases == _cases(tmp_path / "pool")  # every figure, every case, in the same order
    assert f"on Dask scheduler {cluster.address} (2 workers" in (tmp_path / "dask" / "report.md").read_text()


def _processing(cluster: Cluster, worker: str) -> list[str]:
    return [k for k in cluster.client.processing(workers=[worker]).get(worker, ()) if "manual-bp-report" in str(k)]


def test_a_worker_killed_mid_run_is_replaced_and_the_figures_do_not_change(cluster: Cluster, tmp_path: Path) -> None:
    names = ["--activations", "sigmoid,gelu"]  # not the cases above: jax compiles afresh, tasks take a while
    expected = report.run_report(tmp_path / "here", quick=True, activations=["sigmoid", "gelu"], losses=["mse"],
                                 plots=False, jobs=1)
    pids = cluster.client.run(os.getpid)
    victim = sorted(pids)[0]
    run = subprocess.Popen([MANUAL_BP, "report", *SMALL, *names, "--scheduler", cluster.address,
                            "--out", str(tmp_path / "dask")], cwd=tmp_path, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    killed: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while not killed and run.poll() is None and time.monotonic() < deadline:
            if _processing(cluster, victim):
                os.kill(pids[victim], signal.SIGSTOP)  # frozen: it cannot finish what it holds
                time.sleep(0.3)                          # let any message it had sent arrive
                held = _processing(cluster, victim)
                if held:
                    os.kill(pids[victim], signal.SIGKILL)
                    killed = held
                else:
                    os.kill(pids[victim], signal.SIGCONT)
            time.sleep(0.01)
        stdout, stderr = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
    assert killed, "the worker never held a task of the run"
    assert run.returncode == 0, stderr
    assert _cases(tmp_path / "dask") == expected.report["cases"]


@pytest.mark.parametrize(("address", "words"), [
    ("tcp://127.0.0.1:1", "cannot reach a Dask scheduler there within 5 s"),  # nothing listens on port 1
    ("127.0.0.1:port", "is not a scheduler address"),
])
def test_a_scheduler_that_cannot_be_used_is_one_line_and_exit_2_before_any_work(tmp_path: Path, address: str,
                                                                               words: str) -> None:
    proc = _cli("report", "--quick", "--scheduler", address, "--out", str(tmp_path / "out"), cwd=tmp_path,
                timeout=60)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"manual-bp report: error: --scheduler {address!r}") and words in lines[0]
    assert not (tmp_path / "out").exists()


def test_false_alarm_campaigns_merge_the_same_from_any_engine_and_any_parts(cluster: Cluster,
                                                                         tmp_path: Path) -> None:
    script = [sys.executable, str(ROOT / "scripts" / "false_alarms.py"), "--seed", "5"]

    def campaign(name: str, *args: str) -> dict:
        proc = subprocess.run([*script, *args, "--out", str(tmp_path / name)], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads((tmp_path / name).read_text())

    whole = campaign("whole.json", "--cases", "24", "--chunk", "5")
    campaign("a.json", "--start", "10", "--stop", "24", "--scheduler", cluster.address, "--chunk", "3")
    campaign("b.json", "--start", "0", "--stop", "10")
    merged = campaign("merged.json", "--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert whole["ranges"] == merged["ranges"] == [[0, 24]]
    assert {k: v for k, v in merged.items() if k != "runs"} == {k: v for k, v in whole.items() if k != "runs"}
    assert [r["start"] for r in merged["runs"]] == [0, 10]
    overlap = subprocess.run([*script, "--merge", str(tmp_path / "whole.json"), str(tmp_path / "a.json")],
                             capture_output=True, text=True, timeout=60)
    assert overlap.returncode == 2 and "case ranges overlap" in overlap.stderr
    # check's size corners too, across the boundary between two checks' corners, on the workers
    corners = ["--size-corners", "--start", "84", "--stop", "92"]
    local = campaign("corners.json", *corners)
    spread = campaign("corners-dask.json", *corners, "--scheduler", cluster.address, "--chunk", "3")
    assert local["cases_from"] == "size corners" and local["ranges"] == [[84, 92]]
    assert {k: v for k, v in spread.items() if k != "runs"} == {k: v for k, v in local.items() if k != "runs"}
    older = {k: v for k, v in spread.items() if k != "cases_from"}  # a part written before cases_from existed
    (tmp_path / "older.json").write_text(json.dumps(older))
    for other in ("corners.json", "older.json"):
        mixed = subprocess.run([*script, "--merge", str(tmp_path / "a.json"), str(tmp_path / other)],
                               capture_output=True, text=True, timeout=60)
        assert mixed.returncode == 2 and "has another cases_from" in mixed.stderr, mixed.stderr
        assert "Traceback" not in mixed.stderr


# --- the large sweep, by its list of cases ------------------------------------------------------------

def test_the_large_sweep_crosses_the_size_thresholds_in_every_pair_and_both_dtypes() -> None:
    specs = build_sweep(sweep="large")
    assert len(specs) == len(ACTIVATIONS) * len(LOSSES) * len(DTYPES) == 132
    assert {(s.activation, s.loss, s.dtype) for s in specs} == \
        {(a, x, d) for a in ACTIVATIONS for x in LOSSES for d in DTYPES}
    assert {s.regime for s in specs} == {"default"} and len({s.id for s in specs}) == 132
    shapes = {(s.widths, s.batch) for s in specs}
    assert shapes == set(LARGE_SHAPES)
    depths = {len(w) - 1 for w, _ in shapes}
    assert min(depths) <= 8 and max(depths) >= 12 and all(d <= 12 for d in depths)
    hidden = [n for w, _ in shapes for n in w]
    assert any(64 < n <= 128 for n in hidden) and any(128 < n < 1024 for n in hidden) and max(hidden) >= 1024
    assert any(b > 64 and b % 16 for _, b in shapes)
    sizes = [n * m for w, b in shapes for n, m in [*zip(w[:-1], w[1:], strict=True), (b, w[0])]]  # W⁽ˡ⁾ and x
    assert any(1024 <= s < 4096 for s in sizes) and any(s >= 4096 for s in sizes)
    for act in ACTIVATIONS:  # every activation meets every shape, and so does every loss
        assert {(s.widths, s.batch) for s in specs if s.activation == act} == shapes
    for loss in LOSSES:
        assert {(s.widths, s.batch) for s in specs if s.loss == loss} == shapes
    twins = {s.id.replace("float32", "float64") for s in specs if s.dtype == "float32"}
    assert twins == {s.id for s in specs if s.dtype == "float64"}


def test_the_large_sweep_is_defined_apart_from_the_others() -> None:
    large = definition(sweep="large", seed=0)
    assert large["sweep"] == "large" and large["shapes"] == [[list(w), b, ["default"]] for w, b in LARGE_SHAPES]
    assert "pairing" in large and definition(quick=True, seed=0) == definition(sweep="quick", seed=0)
    baseline = {"environment": {"definition": definition(sweep="default", seed=0)}}
    assert differences(baseline, large)[0].startswith("sweep \"default\" (baseline) vs \"large\"")
    assert differences({"environment": {"definition": large}}, large) == []
    with pytest.raises(ValueError, match="cannot be combined"):
        build_sweep(sweep="large", quick=True)
    subset = build_sweep(sweep="large", activations=["gelu"], losses=["l1"])
    assert {s.id for s in subset} <= {s.id for s in build_sweep(sweep="large")} and len(subset) == 2
