"""The command line against hostile candidates and bad input, as a new user would meet it.

Every row of the table of faults that once took the tool down, run through the real CLI in a
subprocess: a faulty candidate gets a verdict (exit 1) that says what happened, never our own crash;
a usage error is one line and exit 2, before any work; what the tool writes is escaped, atomic, and
has an ordinary file's mode; an interrupt ends it promptly with 130 and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# every hostile candidate here fails at its first call; the long-double truth alone explains it (no torch,
# no jax to import: seconds per run)
FAST = ["--examples", "20", "--dtype", "float32", "--references", "ground_truth"]


# the installed console script, as a user runs it (``python -m bpcheck`` behaves the same)
MANUAL_BP = str(Path(sys.executable).with_name("manual-bp"))


def _cli(*args: str, cwd: Path, timeout: float = 240, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([MANUAL_BP, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def _module(tmp_path: Path, body: str, name: str = "cand.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return str(path)


CORRECT = """
import manual_bp

def gradients(params, x, y, activations, loss):
    return manual_bp.gradients(params, x, y, activations, loss)
"""


def _one_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


# --- a candidate that takes its process down gets a verdict -------------------------------------------

@pytest.mark.parametrize(("body", "words"), [
    ("import os\ndef gradients(*a):\n    os._exit(0)\n", "exited with status 0"),
    ("import os\ndef gradients(*a):\n    os._exit(3)\n", "exited with status 3"),
    ("import ctypes\ndef gradients(*a):\n    return ctypes.string_at(0)\n",
     "killed by SIGSEGV (at cand.py:3 in gradients)"),
    ("import os, signal\ndef gradients(*a):\n    os.kill(os.getpid(), signal.SIGABRT)\n", "killed by SIGABRT"),
], ids=["exit-0", "exit-3", "segfault", "abort"])
def test_a_candidate_that_ends_its_process_gets_an_exception_verdict(tmp_path: Path, body: str, words: str) -> None:
    out = tmp_path / "v.json"
    proc = _cli("check", f"{_module(tmp_path, body)}:gradients", *FAST, "--json", str(out), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # never our own exit status, never 0
    cex = json.loads(out.read_text())["counterexample"]
    assert cex["kind"] == "exception" and words in cex["message"]
    assert words.split(" (")[0] in proc.stdout and proc.stderr == ""


def test_a_candidate_that_swallows_the_deadline_is_stopped_from_outside(tmp_path: Path) -> None:
    body = """
    import time
    def gradients(*a):
        while True:
            try:
                time.sleep(100)
            except BaseException:
                pass
    """
    out = tmp_path / "v.json"
    proc = _cli("check", f"{_module(tmp_path, body)}:gradients", *FAST, "--timeout", "1.5", "--json", str(out),
                cwd=tmp_path, timeout=120)
    assert proc.returncode == 1
    cex = json.loads(out.read_text())["counterexample"]
    assert cex["kind"] == "exception"
    assert cex["message"].startswith("the call did not return within")  # the real deadline, named
    assert "1.5 s" in cex["message"]


def test_a_candidate_that_allocates_without_bound_runs_out_of_its_memory(tmp_path: Path) -> None:
    body = """
    import numpy as np
    def gradients(*a):
        hoard = []
        while True:
            hoard.append(np.ones(10**7))
    """
    out = tmp_path / "v.json"
    proc = _cli("check", f"{_module(tmp_path, body)}:gradients", *FAST, "--memory-limit", "0.5", "--json",
                str(out), cwd=tmp_path)
    assert proc.returncode == 1
    cex = json.loads(out.read_text())["counterexample"]
    assert cex["kind"] == "exception" and "ran out of memory (limit 0.5 GiB)" in cex["message"]


def test_what_a_candidate_prints_never_reaches_our_output(tmp_path: Path) -> None:
    loud = "    print('LOUD CANDIDATE'); import sys; print('LOUD', file=sys.stderr)\n    return"
    body = CORRECT.replace("    return", loud)
    proc = _cli("check", f"{_module(tmp_path, body)}:gradients", *FAST, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "LOUD" not in proc.stdout + proc.stderr and "PASS" in proc.stdout


# --- nothing the candidate does reaches our own numerics or modules ----------------------------------

@pytest.mark.parametrize("at_import", [
    "import numpy as np\nnp.seterr(all='raise')",
    "import numpy as np\nnp.set_printoptions(precision=1, floatmode='fixed', legacy='1.13')",
    "import numpy as np\nnp.unravel_index = None  # a from-scratch book's init() replaces NumPy functions",
    "import warnings\nwarnings.simplefilter('error')",
    "import os\nos.chdir('/')",
    "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)",
], ids=["seterr", "printoptions", "monkeypatch-numpy", "warnings-as-errors", "chdir", "sigalrm"])
def test_global_state_set_by_the_candidate_changes_nothing_in_our_analysis(tmp_path: Path, at_import: str) -> None:
    """A correct candidate whose module changes global state at import must still pass, with the same
    verdict as without: the state stays in the candidate's own process."""
    body = at_import + "\n" + CORRECT.replace("import manual_bp", "import manual_bp  # noqa")
    out = tmp_path / "v.json"
    proc = _cli("check", f"{_module(tmp_path, body)}:gradients", "--examples", "30", "--json", str(out),
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(out.read_text())["verdict"] == "pass"


@pytest.mark.parametrize("command", [[MANUAL_BP], [sys.executable, "-m", "bpcheck"]], ids=["script", "python-m"])
def test_a_module_of_the_users_named_like_ours_shadows_nothing(tmp_path: Path, command: list[str]) -> None:
    """``references.py`` and ``tolerance.py`` beside the candidate, run from its directory: ours are not
    replaced by them, and the candidate's own ``import tolerance`` gets the user's file, as it would
    without us."""
    (tmp_path / "references.py").write_text("raise ImportError('the user module, imported by the tool')\n")
    (tmp_path / "tolerance.py").write_text("SCALE = 1.0\n")
    body = """
    import tolerance  # the user's own sibling module
    import manual_bp

    def gradients(params, x, y, activations, loss):
        return [(dW * tolerance.SCALE, db) for dW, db in manual_bp.gradients(params, x, y, activations, loss)]
    """
    _module(tmp_path, body)
    proc = subprocess.run([*command, "check", "cand.py:gradients", "--examples", "30"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- usage errors: one line, exit 2, before any work --------------------------------------------------

@pytest.mark.parametrize(("options", "words"), [
    (["--json", "{tmp}"], "is a directory"),
    (["--repro", "{tmp}"], "is a directory"),
    (["--json", "{tmp}/missing/v.json"], "does not exist"),
    (["--json", "/sys/v.json"], "cannot write into /sys"),
    (["--seed", "-1"], "--seed must be a non-negative integer, got -1"),
    (["--seed", "1.5"], "invalid int value: '1.5'"),
    (["--examples", "-3"], "--examples must be ≥ 1"),
    (["--timeout", "0"], "--timeout must be a finite number > 0"),
    (["--timeout", "nan"], "--timeout must be a finite number > 0"),
    (["--memory-limit", "-1"], "--memory-limit must be a finite number > 0"),
    (["--memory-limit", "inf"], "--memory-limit must be a finite number > 0"),
])
def test_bad_check_options_are_one_line_and_exit_2(tmp_path: Path, options: list[str], words: str) -> None:
    options = [o.format(tmp=tmp_path) for o in options]
    proc = _cli("check", "manual_bp:gradients", *options, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert words in _one_line(proc)
    assert proc.stdout == ""


@pytest.mark.parametrize(("options", "words"), [
    (["--seed", "-1"], "--seed must be a non-negative integer"),
    (["--jobs", "0"], "--jobs must be at least 1"),
    (["--out", "/sys/bp-report"], "cannot write into /sys"),
    (["--out", "{tmp}/file.txt"], "exists and is not a directory"),
    (["--out", "{tmp}/file.txt/below"], "which is a file"),
    (["--baseline", "{tmp}/file.txt"], "is not valid JSON"),
])
def test_bad_report_options_are_one_line_and_exit_2_before_measuring(tmp_path: Path, options: list[str],
                                                                     words: str) -> None:
    (tmp_path / "file.txt").write_text("not a report")
    options = [o.format(tmp=tmp_path) for o in options]
    proc = _cli("report", "--quick", "--out", str(tmp_path / "out"), *options, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert words in _one_line(proc)
    assert not (tmp_path / "out").exists()


def test_a_closed_stdout_ends_quietly_with_the_verdicts_status(tmp_path: Path) -> None:
    target = f"{ROOT / 'examples' / 'buggy_backprop.py'}:gradients"
    out = tmp_path / "v.json"
    proc = subprocess.run(f"set -o pipefail; {MANUAL_BP} check {target} --examples 20 "
                          f"--json {out} | head -c 10", shell=True, executable="/bin/bash", cwd=tmp_path,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 1  # the verdict's status, through the pipe
    assert proc.stderr == "" and proc.stdout == "manual-bp "
    assert json.loads(out.read_text())["verdict"] == "fail"  # written before the printing


# --- the repro script: from anywhere, a regression test --------------------------------------------

def test_the_repro_script_runs_from_anywhere_and_passes_once_the_bug_is_fixed(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    buggy = (ROOT / "examples" / "buggy_backprop.py").read_text()
    (work / "mine.py").write_text(buggy)
    repro = tmp_path / "r.py"
    proc = _cli("check", "mine.py:gradients", "--examples", "20", "--references", "ground_truth", "--repro",
                str(repro), cwd=work)
    assert proc.returncode == 1
    lines = repro.read_text().splitlines()
    assert lines[1].startswith("# Run it from any directory: python3 ")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ran = subprocess.run([sys.executable, str(repro)], cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 1 and ran.stdout.startswith("FAILS (mismatch"), ran.stdout + ran.stderr
    (work / "mine.py").write_text((ROOT / "examples" / "fixed_backprop.py").read_text())
    ran = subprocess.run([sys.executable, str(repro)], cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and ran.stdout.startswith("PASSES"), ran.stdout + ran.stderr


def test_the_repro_of_a_crash_reproduces_the_crash(tmp_path: Path) -> None:
    body = "import os\ndef gradients(*a):\n    os._exit(0)\n"  # exit status 0: must still read as a failure
    repro = tmp_path / "r.py"
    proc = _cli("check", f"{_module(tmp_path, body)}:gradients", *FAST, "--repro", str(repro), cwd=tmp_path)
    assert proc.returncode == 1
    ran = subprocess.run([sys.executable, str(repro)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 1 and "FAILS" in ran.stdout


# --- what we write ------------------------------------------------------------------------------------

def test_files_are_written_with_the_users_umask(tmp_path: Path) -> None:
    repro, out = tmp_path / "r.py", tmp_path / "v.json"
    env = dict(os.environ)
    proc = subprocess.run(f"umask 022; exec {MANUAL_BP} check "
                          f"{ROOT / 'examples' / 'buggy_backprop.py'}:gradients --examples 20 --json {out} "
                          f"--repro {repro}", shell=True, cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=240)
    assert proc.returncode == 1
    for path in (repro, out):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_the_verdict_names_the_dtypes_that_ran(tmp_path: Path) -> None:
    proc = _cli("check", "manual_bp:gradients", "--examples", "20", "--dtype", "float64", cwd=tmp_path)
    assert proc.returncode == 0
    assert "no disagreement found with the references in float64." in proc.stdout


# --- baselines: comparable, or refused ----------------------------------------------------------------

def _quick_report(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return _cli("report", "--quick", "--activations", "tanh", "--losses", "mse", "--no-plots", "--jobs", "1",
                "--out", str(out), *extra, cwd=out.parent, timeout=300)


@pytest.fixture(scope="module")
def seed0_report(tmp_path_factory) -> Path:
    """A small quick report (tanh, mse, both dtypes: 2 cases), seed 0: the baseline of the tests below."""
    out = tmp_path_factory.mktemp("seed0") / "s0"
    proc = _quick_report(out)
    assert proc.returncode == 0, proc.stderr
    return out / "report.json"


def test_a_baseline_made_with_another_seed_is_refused_or_compared_only_where_inputs_match(
        tmp_path: Path, seed0_report: Path) -> None:
    baseline = str(seed0_report)
    refused = _quick_report(tmp_path / "s1", "--seed", "1", "--baseline", baseline)
    assert refused.returncode == 2
    assert "seed 0 (baseline) vs 1" in _one_line(refused) and not (tmp_path / "s1").exists()
    allowed = _quick_report(tmp_path / "s1", "--seed", "1", "--baseline", baseline, "--allow-different-sweep")
    assert allowed.returncode == 0, allowed.stderr
    base = json.loads((tmp_path / "s1" / "report.json").read_text())["summary"]["baseline"]
    assert base["matched"] == 0 and len(base["inputs_differ"]) == 2  # the same ids, other networks


def test_strings_copied_from_a_baseline_are_escaped_in_report_md(tmp_path: Path, seed0_report: Path) -> None:
    rep = json.loads(seed0_report.read_text())
    evil = "<script>alert(1)</script>\n# Injected heading\n[click](http://evil.example)"
    rep["environment"]["numpy"] = evil
    rep["cases"].append({"id": evil, "backends": {}})
    (tmp_path / "evil.json").write_text(json.dumps(rep))
    proc = _quick_report(tmp_path / "b", "--baseline", str(tmp_path / "evil.json"))
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "b" / "report.md").read_text()
    assert "<script>" not in md and "\n# Injected" not in md and "[click](" not in md
    assert "\\<script\\>" in md  # shown, as text
    html_text = (tmp_path / "b" / "report.html").read_text()
    assert "<script>" not in html_text


# --- interrupts ----------------------------------------------------------------------------------------

def _interrupt_after(args: list[str], cwd: Path, ready) -> tuple[subprocess.CompletedProcess, list[int]]:
    """Start the command in its own process group, wait until ``ready(process)`` (a psutil.Process),
    send SIGINT to the whole group (as Ctrl-C does), and return the result and the pids of its
    descendants at that moment. Readiness is a state of the processes, not a time: a loaded machine
    may take long to start the workers."""
    import psutil

    with _as_from_a_terminal():
        proc = subprocess.Popen([MANUAL_BP, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    watched = psutil.Process(proc.pid)
    while time.monotonic() < deadline and proc.poll() is None and not ready(watched):
        time.sleep(0.1)
    children = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
    os.killpg(proc.pid, signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:   # still running a minute after Ctrl-C: fail, leaving nothing behind
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"{' '.join(args)} still ran 60 s after SIGINT; stderr: {stderr[-2000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), children


@contextlib.contextmanager
def _as_from_a_terminal() -> Iterator[None]:
    """Start a command inside this to give it SIGINT at its default and unblocked, as a shell does: a
    test runner's worker may ignore or block SIGINT, and a child inherits both (a command started that
    way rightly keeps ignoring Ctrl-C). The worker's own settings are restored at once; no SIGINT is
    sent to it meanwhile (the tests signal the command's own process group)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # reset to SIG_DFL by exec
    blocked = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        signal.signal(signal.SIGINT, previous)


def _after(seconds: float, children: int):
    """Ready once ``seconds`` have passed and the command has at least ``children`` descendants (on a
    loaded machine its workers may take longer than that to start)."""
    started = time.monotonic()

    def ready(process) -> bool:
        return time.monotonic() - started > seconds and len(process.children(recursive=True)) >= children

    return ready


def _all_gone(pids: list[int]) -> bool:
    import psutil

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return True
        time.sleep(0.1)
    return False


def test_ctrl_c_during_a_report_stops_its_workers_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # a quick report takes ~40 s; by 6 s its pool of two workers is measuring
    result, children = _interrupt_after(["report", "--quick", "--jobs", "2", "--out", str(out)], tmp_path,
                                        _after(6, 2))
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip().splitlines() == ["manual-bp report: interrupted"]
    assert not out.exists() or list(out.iterdir()) == []
    assert children and _all_gone(children)


def test_ctrl_c_while_the_command_starts_is_one_line_and_130(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """An interrupt while the command imports its subcommands (NumPy, the checker) is handled too."""
    import bpcheck.cli as cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["check", "mine.py:gradients", "--examples", "5"]) == 130
    assert capsys.readouterr().err.splitlines() == ["manual-bp check: interrupted"]


def test_ctrl_c_during_a_check_stops_the_candidate_and_writes_nothing(tmp_path: Path) -> None:
    body = "import time\ndef gradients(*a):\n    time.sleep(600)\n"
    target = f"{_module(tmp_path, body)}:gradients"
    result, children = _interrupt_after(["check", target, "--json", str(tmp_path / "v.json"), "--timeout", "300"],
                                        tmp_path, _after(4, 1))
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip().splitlines() == ["manual-bp check: interrupted"]
    assert not (tmp_path / "v.json").exists()
    assert children and _all_gone(children)
