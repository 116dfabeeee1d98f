"""`manual-bp check` from the outside: exit codes, the JSON format of the contract, the repro script,
usage errors, and faulty candidates that get a verdict instead of crashing the tool."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bpcheck.check import check
from bpcheck.cli import main

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_KEYS = {"verdict", "examples", "seed", "coverage", "counterexample"}
CEX_KEYS = {"widths", "activations", "loss", "dtype", "batch", "kind", "message", "mismatches", "repro"}
MISMATCH_KEYS = {"layer", "param", "reference", "max_abs_err", "tolerance"}


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpcheck.cli", "check", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_correct_target_passes_with_exit_0_and_contract_json(tmp_path: Path) -> None:
    out = tmp_path / "v.json"
    assert main(["check", "manual_bp:gradients", "--examples", "50", "--json", str(out)]) == 0
    verdict = json.loads(out.read_text())
    assert set(verdict) == CONTRACT_KEYS
    assert verdict["verdict"] == "pass" and verdict["counterexample"] is None
    assert verdict["examples"] >= 50 and verdict["seed"] == 0


def test_buggy_example_fails_with_exit_1_and_points_at_the_bias(tmp_path: Path) -> None:
    out = tmp_path / "v.json"
    proc = _run(str(ROOT / "examples/buggy_backprop.py:gradients"), "--json", str(out), "--seed", "3", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "FAIL" in proc.stdout and "wrong: b⁽" in proc.stdout
    verdict = json.loads(out.read_text())
    cex = verdict["counterexample"]
    assert verdict["verdict"] == "fail" and verdict["seed"] == 3
    assert CEX_KEYS <= set(cex)
    assert cex["kind"] == "mismatch" and cex["dtype"] in ("float32", "float64")
    assert cex["mismatches"] and all(set(m) == MISMATCH_KEYS for m in cex["mismatches"])
    assert {m["param"] for m in cex["mismatches"]} == {"b"}
    assert all(m["max_abs_err"] > m["tolerance"] for m in cex["mismatches"])
    assert len(cex["widths"]) == len(cex["activations"]) + 1
    # the repro script runs with NumPy and the candidate only, and shows the same disagreement
    repro = Path(cex["repro"])
    assert repro.is_file() and repro.read_text() == cex["repro_script"]
    ran = subprocess.run([sys.executable, str(repro)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert ran.returncode == 1, ran.stderr  # it reproduces: a regression test that fails
    assert "FAILS (mismatch: layer 1: db[0]" in ran.stdout


def test_fixed_example_passes(tmp_path: Path) -> None:
    assert _run(str(ROOT / "examples/fixed_backprop.py:gradients"), "--examples", "100", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(("target", "options", "message"), [
    ("missing.py:gradients", [], "no such file: missing.py"),
    ("{root}/examples/buggy_backprop.py:nope", [], "has no attribute 'nope'"),
    ("manual_bp:ACTIVATIONS", [], "is not callable"),
    ("no_such_module_xyz:gradients", [], "cannot import module 'no_such_module_xyz'"),
    ("gradients", [], "TARGET must be path/to/file.py:function or package.module:function"),
    ("manual_bp:gradients", ["--examples", "0"], "--examples must be ≥ 1"),
    ("manual_bp:gradients", ["--dtype", "float16"], "invalid choice: 'float16'"),
    ("manual_bp:gradients", ["--seed", "abc"], "invalid int value: 'abc'"),
    ("manual_bp:gradients", ["--json", "/no/such/dir/v.json"], "directory /no/such/dir does not exist"),
])
def test_usage_errors_exit_2_with_one_line(tmp_path: Path, target: str, options: list[str], message: str) -> None:
    proc = _run(target.format(root=ROOT), *options, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_target_whose_import_fails_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.py"
    bad.write_text("import numpy as np\nraise RuntimeError('boom at import')\n")
    proc = _run(f"{bad}:gradients", cwd=tmp_path)
    assert proc.returncode == 2 and "boom at import" in proc.stderr and "Traceback" not in proc.stderr


def _raises(params, x, y, activations, loss):
    return helper_that_fails(x)


def helper_that_fails(x):
    raise ZeroDivisionError("division by zero in my backprop")


def _returns_nan(params, x, y, activations, loss):
    import manual_bp

    return [(dW * np.nan, db) for dW, db in manual_bp.gradients(params, x, y, activations, loss)]


def _returns_list_of_lists(params, x, y, activations, loss):
    return [[W.tolist(), b.tolist()] for W, b in params]


def _returns_none(params, x, y, activations, loss):
    return None


def _exits(params, x, y, activations, loss):
    raise SystemExit(3)


@pytest.mark.parametrize("isolate", [True, False])
def test_a_candidate_that_never_returns_gets_a_verdict(isolate: bool) -> None:
    def spins(params, x, y, activations, loss):
        while True:
            pass

    verdict = check(spins, examples=5, references=["ground_truth"], timeout=0.2, isolate=isolate)
    assert not verdict.passed and verdict.counterexample.kind == "exception"
    assert "did not return within 0.2 s" in verdict.counterexample.message


@pytest.mark.parametrize(("fn", "kind", "words"), [
    (_raises, "exception", "ZeroDivisionError: division by zero in my backprop"),
    (_returns_nan, "non_finite", "nan"),
    (_returns_list_of_lists, "shape", "expected a numpy array"),
    (_returns_none, "shape", "got NoneType"),
    (_exits, "exception", "SystemExit: 3"),
])
def test_faulty_candidates_get_a_verdict_not_a_crash(fn, kind: str, words: str) -> None:
    verdict = check(fn, examples=20, references=["ground_truth"])
    assert not verdict.passed
    assert verdict.counterexample.kind == kind
    assert words in verdict.counterexample.message
    if fn is _raises:
        assert "helper_that_fails" in verdict.counterexample.message  # the candidate's own traceback, summarised
    assert verdict.counterexample.case.depth == 1  # shrunk to the smallest network


def test_the_api_and_the_command_line_agree(tmp_path: Path) -> None:
    out = tmp_path / "v.json"
    target = f"{ROOT / 'tests' / 'mutants.py'}:forgot_half"
    assert main(["check", target, "--json", str(out), "--repro", str(tmp_path / "r.py")]) == 1
    from tests import mutants

    api = check(mutants.MUTANTS["forgot_half"], references=["ground_truth", "torch", "jax"])
    cli = json.loads(out.read_text())["counterexample"]
    assert cli["kind"] == api.counterexample.kind
    assert cli["widths"] == api.counterexample.case.widths
    assert [(m["layer"], m["param"]) for m in cli["mismatches"]] == \
        [(m["layer"], m["param"]) for m in api.counterexample.mismatches]


def test_dtype_option_restricts_the_search() -> None:
    from tests import mutants

    verdict = check(mutants.MUTANTS["gelu_coarse_erf"], examples=200, dtypes=["float32"], references=["ground_truth"])
    assert verdict.passed  # a 1.5e-7 erf is below float32's resolution: no false alarm, no claim
    verdict = check(mutants.MUTANTS["gelu_coarse_erf"], examples=200, dtypes=["float64"], references=["ground_truth"])
    assert not verdict.passed and verdict.counterexample.case.dtype == np.float64


def test_a_bug_only_on_large_saturated_layers_is_found_and_kept_large(tmp_path: Path) -> None:
    """Through the command line: a softplus that overflows only on arrays of over 1024 entries passes every
    small case and the default-regime size corners, fails the extreme pass, and its counterexample is
    shrunk no further than the threshold (a layer's batch × width still above 1024)."""
    out = tmp_path / "v.json"
    proc = _run(str(ROOT / "tests/mutants.py:large_array_softplus_overflows"), "--activations", "softplus",
                "--losses", "half_sse", "--examples", "50", "--references", "ground_truth", "--json", str(out),
                cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    cex = json.loads(out.read_text())["counterexample"]
    assert cex["kind"] == "non_finite" and cex["dtype"] == "float64"
    assert max(cex["batch"] * n for n in cex["widths"][1:]) > 1024, cex["widths"]
