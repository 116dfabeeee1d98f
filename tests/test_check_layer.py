"""`manual-bp check-layer`: layers in the CS231n API checked like whole networks.

manual_bp's own layers pass for every kind; every bug of the layer catalog (tests/layer_mutants.py)
is caught with a fault kind the catalog allows, naming only outputs it breaks; the examples' layer
pairs pass and fail through the real command line, with the contract's JSON plus "layer", a repro
script that fails until the bug is fixed, and one-line usage errors.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import manual_bp.layers as L
from bpcheck.check.layer import check_layer
from references.layers import KINDS, LAYER_KINDS
from tests import layer_mutants

ROOT = Path(__file__).resolve().parents[1]
MANUAL_BP = str(Path(sys.executable).with_name("manual-bp"))
EXAMPLES = 60


def _manual_bp_layer(kind: str) -> tuple:
    """manual_bp's own functions for ``kind`` (CS231n API)."""
    if KINDS[kind].scalar:
        return (getattr(L, kind), None)
    prefix = {"conv2d": "conv", "max_pool": "max_pool", "affine": "affine"}.get(kind, kind)
    suffix = "_naive" if kind in ("conv2d", "max_pool") else ""
    return getattr(L, f"{prefix}_forward{suffix}"), getattr(L, f"{prefix}_backward{suffix}")


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_manual_bps_own_layers_pass(kind: str) -> None:
    forward, backward = _manual_bp_layer(kind)
    verdict = check_layer(kind, forward, backward, examples=EXAMPLES, references=["ground_truth"])
    assert verdict.passed, verdict.text()
    assert verdict.layer == kind and verdict.examples >= EXAMPLES


def test_the_vectorised_conv_passes_too() -> None:
    assert check_layer("conv2d", L.conv_forward_fast, L.conv_backward_fast, examples=EXAMPLES).passed


@pytest.mark.parametrize("bug", list(layer_mutants.CATALOG.values()), ids=lambda b: b.name)
def test_every_layer_bug_is_caught_naming_what_it_breaks(bug: layer_mutants.LayerBug) -> None:
    verdict = check_layer(bug.kind, bug.forward, bug.backward, examples=EXAMPLES, references=["ground_truth"],
                          masked=bug.masked)
    cex = verdict.counterexample
    assert not verdict.passed and cex is not None, f"{bug.name} was not caught"
    assert cex.kind in bug.faults, f"{bug.name}: {cex.kind} ({cex.message})"
    assert cex.outputs and set(cex.outputs) <= set(bug.breaks), f"{bug.name}: {cex.outputs} not in {bug.breaks}"
    if cex.kind == "mismatch":
        assert {m["output"] for m in cex.mismatches} == set(cex.outputs)


def test_a_convention_difference_at_a_kink_reads_as_one() -> None:
    bug = layer_mutants.CATALOG["relu_prime_at_zero_is_one"]
    cex = check_layer("relu", bug.forward, bug.backward, examples=EXAMPLES).counterexample
    assert cex is not None and "= 0 exactly: your relu′(0) is 1, the contract's is 0 (torch's)" in cex.message


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([MANUAL_BP, "check-layer", *args], cwd=cwd, capture_output=True, text=True, timeout=240)


@pytest.mark.parametrize(("kind", "functions", "broken"), [
    ("affine", ("affine_forward", "affine_backward"), {"db"}),
    ("relu", ("relu_forward", "relu_backward"), {"dx"}),
    ("softmax_loss", ("softmax_loss",), {"out", "dx"}),
    ("svm_loss", ("svm_loss",), {"out"}),
    ("batchnorm", ("batchnorm_forward", "batchnorm_backward"), {"dx"}),
])
def test_the_examples_layers_through_the_command_line(tmp_path: Path, kind: str, functions: tuple[str, ...],
                                                      broken: set[str]) -> None:
    """The fixed layer passes (exit 0); the buggy one fails (exit 1) naming exactly the outputs its bug
    breaks, its JSON is the contract's plus "layer", and its repro fails until the file is fixed."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "examples" / "layers" / "buggy.py", work / "mine.py")
    targets = [f"mine.py:{f}" for f in functions]
    out, repro = tmp_path / "v.json", tmp_path / "r.py"
    failed = _cli(kind, *targets, "--examples", "40", "--references", "ground_truth", "--json", str(out),
                  "--repro", str(repro), cwd=work)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    verdict = json.loads(out.read_text())
    assert verdict["verdict"] == "fail" and verdict["layer"] == kind
    cex = verdict["counterexample"]
    assert cex["kind"] == "mismatch" and {m["output"] for m in cex["mismatches"]} == broken
    assert all(m["max_abs_err"] > m["tolerance"] for m in cex["mismatches"])
    assert f"wrong: {', '.join(m['output'] for m in cex['mismatches'])}" in failed.stdout
    ran = subprocess.run([sys.executable, str(repro)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 1 and ran.stdout.startswith("FAILS (mismatch"), ran.stdout + ran.stderr
    shutil.copy(ROOT / "examples" / "layers" / "fixed.py", work / "mine.py")
    ran = subprocess.run([sys.executable, str(repro)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and ran.stdout.startswith("PASSES"), ran.stdout + ran.stderr
    passed = _cli(kind, *targets, "--examples", "40", "--json", str(out), cwd=work)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert json.loads(out.read_text())["verdict"] == "pass"


@pytest.mark.parametrize(("args", "words"), [
    (["conv2d", "manual_bp.layers:conv_forward_naive"], "give BACKWARD"),
    (["svm_loss", "manual_bp.layers:svm_loss", "manual_bp.layers:svm_loss"], "give no BACKWARD"),
    (["relu", "manual_bp.layers:relu_forward", "manual_bp.layers:relu_backward", "--weights", "out_in"],
     "--weights is affine's option"),
    (["conv3d", "x.py:f", "x.py:g"], "invalid choice: 'conv3d'"),
    (["relu", "missing.py:relu_forward", "missing.py:relu_backward"], "no such file: missing.py"),
    (["relu", "manual_bp.layers:nope", "manual_bp.layers:relu_backward"], "has no attribute 'nope'"),
    (["relu", "manual_bp.layers:relu_forward", "manual_bp.layers:relu_backward", "--seed", "-2"],
     "--seed must be a non-negative integer"),
])
def test_check_layer_usage_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    proc = _cli(*args, cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and words in lines[0], proc.stderr
