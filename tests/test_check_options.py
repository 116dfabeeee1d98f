"""How the layout options of ``manual-bp check`` combine (the losses a check draws are those that every
option allows; a combination that allows none is a usage error), and how a counterexample points at an
entry of the candidate's own arrays."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import manual_bp
from bpcheck import tolerance as tol
from bpcheck.cases import Case
from bpcheck.check import check
from bpcheck.check.coverage import scope
from bpcheck.check.explain import convention_note
from bpcheck.check.judge import Fault
from bpcheck.check.layout import Layout
from bpcheck.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("options", "losses"), [
    ({"targets": "labels"}, ("cross_entropy",)),
    ({"targets": "binary"}, ("binary_cross_entropy",)),
    ({"loss_input": "probabilities"}, ("cross_entropy", "binary_cross_entropy")),
    # a softmax classifier on probabilities with integer labels: never a binary cross-entropy case, whose
    # soft targets would reach the candidate as their argmax (before: both losses were drawn)
    ({"loss_input": "probabilities", "targets": "labels"}, ("cross_entropy",)),
    ({"loss_input": "probabilities", "targets": "one-hot"}, ("cross_entropy",)),
    ({"loss_input": "probabilities", "targets": "binary"}, ("binary_cross_entropy",)),
])
def test_the_losses_drawn_are_those_every_option_allows(options: dict[str, str], losses: tuple[str, ...]) -> None:
    layout = Layout(**options)
    assert layout.losses() == losses
    drawn = scope(layout=layout, activations=None, hidden_activations=None, output_activations=None, losses=None,
                  dtypes=("float64",), output_width=None)
    assert drawn.losses == losses



@pytest.mark.parametrize(("options", "words"), [
    # the option's name is spelt as on the command line, the names in the message as they are
    (["--targets", "labels", "--losses", "binary_cross_entropy"],
     "--losses: none of ['binary_cross_entropy'] can be checked"),
    (["--loss-input", "probabilities", "--targets", "labels", "--losses", "binary_cross_entropy"],
     "--losses: none of ['binary_cross_entropy'] can be checked"),
    (["--activations", "relu,leaky_rel"], "--activations: 'leaky_rel' — expected names among identity"),
    (["--output-width", "3", "--max-width", "2"], "--output-width 3 exceeds max_width 2"),
])
def test_a_combination_of_options_that_cannot_be_checked_is_one_line_exit_2(
        options: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "manual_bp:gradients", *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


def _in_out_one_entry_off(params, x, y, activations, loss):
    """x @ W + b with W of shape (n_in, n_out): right, but for dW⁽¹⁾[0, 1] (input 0 → output 1), off by 1."""
    grads = manual_bp.gradients([(W.T, b) for W, b in params], x, y, activations, loss)
    out = [(dW.T.copy(), db) for dW, db in grads]
    if out[0][0].shape[1] > 1:
        out[0][0][0, 1] += 1
    return out


def _columns_one_bias_off(params, x, y, activations, loss):
    """Samples in columns, b and db of shape (n, 1): right, but for db⁽¹⁾[1, 0], off by 1."""
    grads = manual_bp.gradients([(W, b[:, 0]) for W, b in params], x.T, y.T, activations, loss)
    out = [(dW, db[:, None].copy()) for dW, db in grads]
    if out[0][1].shape[0] > 1:
        out[0][1][1, 0] += 1
    return out


@pytest.mark.parametrize(("fn", "options", "param", "entry"), [
    (_in_out_one_entry_off, {"weights": "in_out"}, "W", [0, 1]),   # the contract's orientation says [1, 0]
    (_columns_one_bias_off, {"layout": "columns"}, "b", [1, 0]),   # the contract's b⁽¹⁾ says [1]
])
def test_a_counterexample_names_the_entry_in_the_candidates_own_array(
        fn, options: dict[str, str], param: str, entry: list[int], tmp_path: Path) -> None:
    verdict = check(fn, examples=20, references=["ground_truth"], activations=["identity"], losses=["half_sse"],
                    target=f"{__file__}:{fn.__name__}", **options)  # the repro imports it from this file
    cex = verdict.counterexample
    assert cex is not None and cex.kind == "mismatch"
    assert [(m["layer"], m["param"]) for m in cex.mismatches] == [(1, param)]
    assert f"worst {param}⁽1⁾{entry}:" in cex.message
    row = next(r for r in cex.table if (r["layer"], r["param"], r["reference"]) == (1, param, "ground_truth"))
    assert row["index"] == entry
    script = tmp_path / "repro.py"
    script.write_text(cex.repro, encoding="utf-8")
    ran = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 1 and f"FAILS (mismatch: layer 1: d{param}{entry} is" in ran.stdout, ran.stdout


@pytest.mark.parametrize(("layout", "where"), [("rows", "z⁽¹⁾[0, 1] = 0"), ("columns", "z⁽¹⁾[1, 0] = 0")])
def test_an_exact_kink_is_named_as_in_the_candidates_own_arrays(layout: str, where: str) -> None:
    """One sample, two relu units, z⁽¹⁾ = (½, 0): the kink is sample 0, unit 1; a candidate with
    relu′(0) = 1 reads it as its own z[0, 1] in rows and z[1, 0] in columns."""
    f64 = np.float64
    case = Case([(np.array([[1.0], [0.0]], f64), np.array([0.5, 0.0], f64))], np.array([[1.0]], f64),
                np.array([[0.0, 1.0]], f64), ("relu",), "half_sse")
    how = Layout(samples=layout)
    relu_prime_one = tol.analyse(case, kinks={"relu": 1.0})
    fault = Fault("mismatch", "", [], relu_prime_one.grads, how.truth(tol.analyse(case), case))
    assert convention_note(case, fault, how) == (f"; {where} exactly: your relu′(0) is 1, the contract's is 0 "
                                                 "(torch's)")


def _small_nets_only(params, x, y, activations, loss):
    """Right for tanh and half_sse on networks of at most 2 layers, widths ≤ 2 and batch ≤ 2; refuses
    anything larger (as code written for a fixed small architecture does) and other names."""
    if set(activations) != {"tanh"} or loss != "half_sse":
        raise NotImplementedError(f"tanh and half_sse only, not {activations}, {loss}")
    widths = [x.shape[1]] + [W.shape[0] for W, _ in params]
    if len(params) > 2 or max(widths) > 2 or x.shape[0] > 2:
        raise ValueError(f"this code is for networks of ≤ 2 layers, widths ≤ 2, batch ≤ 2, got {widths}, "
                         f"batch {x.shape[0]}")
    return manual_bp.gradients(params, x, y, activations, loss)


@pytest.mark.parametrize("names", [{"activations": ["tanh"], "losses": ["half_sse"]}, {}], ids=["given", "probed"])
@pytest.mark.parametrize("depth", [1, 2])
def test_the_bounds_hold_for_every_network_built(names: dict[str, list[str]], depth: int) -> None:
    """--max-depth/--max-width/--max-batch bound the corners and the probe too (before, the corners
    were depth 3, widths 3, batch 3 whatever the bounds: a false FAIL beyond the bounds)."""
    verdict = check(_small_nets_only, examples=20, references=["ground_truth"], max_depth=depth, max_width=2,
                    max_batch=2, **names)
    assert verdict.passed, verdict.counterexample and verdict.counterexample.message
    assert (verdict.coverage["activations"], verdict.coverage["losses"]) == (["tanh"], ["half_sse"])
