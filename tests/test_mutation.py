"""The mutation test of the suite: every bug of the catalog (tests/mutants.py) is caught by
``manual-bp check`` with the right kind, and ``mismatches`` names exactly the wrong layer/param pairs;
the correct base and the correct implementations in other styles pass."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

import manual_bp
from bpcheck import tolerance as tol
from bpcheck.check import check
from bpcheck.strategies import cases
from tests import mutants, styles

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = 300  # random cases after the corner sweep; the corner sweep alone catches most of the catalog


def test_the_catalog_names_are_unique_and_each_is_a_mutant() -> None:
    assert len({b.name for b in mutants.CATALOG}) == len(mutants.CATALOG)
    assert set(mutants.MUTANTS) == {b.name for b in mutants.CATALOG}


@pytest.mark.parametrize("bug", mutants.CATALOG, ids=lambda b: b.name)
def test_every_bug_is_caught_with_its_kind(bug: mutants.Bug) -> None:
    verdict = check(mutants.MUTANTS[bug.name], examples=EXAMPLES, seed=0, references=["ground_truth"])
    assert not verdict.passed, f"{bug.name} ({bug.what}) was not caught"
    cex = verdict.counterexample
    assert cex.kind == bug.kind, f"{bug.name}: kind {cex.kind!r}, expected {bug.kind!r}: {cex.message}"
    if cex.kind == "mismatch":
        # exactly the pairs where the mutant differs from the correct implementation beyond tolerance
        case = cex.case
        analysis = tol.analyse(case)
        wrong = mutants.MUTANTS[bug.name](*case.copy()[:3], list(case.activations), case.loss)
        right = mutants.gradients(*case.copy()[:3], list(case.activations), case.loss)
        expected = set()
        for l, (pw, pr, pe) in enumerate(zip(wrong, right, analysis.grad_bounds, strict=True), start=1):
            for p, gw, gr, e in zip("Wb", pw, pr, pe, strict=True):
                ok, *_ = tol.compare_arrays(gw, gr, tol.tolerance(e, analysis.u, analysis.u))
                if not ok:
                    expected.add((l, p))
        got = {(m["layer"], m["param"]) for m in cex.mismatches}
        assert got == expected, f"{bug.name}: mismatches {sorted(got)}, the wrong pairs are {sorted(expected)}"


@pytest.mark.parametrize("name", ["bias_not_summed_over_batch", "bias_grad_from_next_layer"])
def test_bias_only_bugs_point_at_biases_only(name: str) -> None:
    cex = check(mutants.MUTANTS[name], examples=EXAMPLES, seed=0, references=["ground_truth"]).counterexample
    assert cex is not None and cex.mismatches and {m["param"] for m in cex.mismatches} == {"b"}


@pytest.mark.parametrize("fn", [manual_bp.gradients, mutants.gradients, *styles.STYLES.values()],
                         ids=["manual_bp", "mutant_base", *styles.STYLES])
def test_correct_implementations_pass(fn) -> None:
    verdict = check(fn, examples=EXAMPLES, seed=1, references=["ground_truth"])
    assert verdict.passed, verdict.counterexample and verdict.counterexample.message
    assert verdict.examples >= EXAMPLES


def test_float32_only_candidate_passes_in_float32() -> None:
    """A candidate that computes internally in float32 whatever it is given: correct in float32."""
    def f32(params, x, y, activations, loss):
        cast = [(W.astype(np.float32), b.astype(np.float32)) for W, b in params]
        grads = manual_bp.gradients(cast, x.astype(np.float32), y.astype(np.float32), activations, loss)
        return [(dW.astype(x.dtype), db.astype(x.dtype)) for dW, db in grads]

    assert check(f32, examples=100, seed=2, dtypes=["float32"], references=["ground_truth"]).passed
    failing = check(f32, examples=100, seed=2, dtypes=["float64"], references=["ground_truth"])
    assert not failing.passed and failing.counterexample.kind == "mismatch"  # float32 precision is not float64's


def _doc_rows() -> dict[str, list[str]]:
    """docs/mutations.md's catalog table: name → [what, where it hides, kind]."""
    rows = {}
    for line in (ROOT / "docs" / "mutations.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) == 5 and cells[0].isdigit():
            rows[cells[1].strip("`")] = [cells[2], cells[3], cells[4].strip("`")]
    return rows


def test_the_catalog_is_documented_exactly() -> None:
    """docs/mutations.md's table is the catalog: the same bugs, descriptions, hiding places and kinds;
    and the README's count is the catalog's."""
    assert _doc_rows() == {b.name: [b.what, b.hides_at, b.kind] for b in mutants.CATALOG}
    n = len(mutants.CATALOG)
    assert f"**{n} of {n}**" in (ROOT / "README.md").read_text(encoding="utf-8")


HIDDEN = [b for b in mutants.CATALOG if b.hidden_by is not None]


@pytest.mark.parametrize("bug", HIDDEN, ids=lambda b: b.name)
def test_each_bug_hides_where_the_catalog_says(bug: mutants.Bug) -> None:
    """On the restriction ``hidden_by`` the mutant's gradients equal the correct ones within the
    tolerance model: the hiding place the catalog claims is real (so the search must leave it)."""

    @settings(max_examples=25)
    @given(cases(**bug.hidden_by))
    def invisible(case) -> None:
        wrong = mutants.MUTANTS[bug.name](*case.copy()[:3], list(case.activations), case.loss)
        right = mutants.gradients(*case.copy()[:3], list(case.activations), case.loss)
        analysis = tol.analyse(case)
        mismatches, _ = tol.compare(wrong, right, analysis, u_ref=analysis.u)
        assert [(dW.dtype, db.dtype) for dW, db in wrong] == [(dW.dtype, db.dtype) for dW, db in right]
        assert not mismatches, f"{bug.name} is visible on {case.describe()}: {mismatches[0]}"

    invisible()


@pytest.mark.parametrize(("name", "words"), [
    ("leaky_prime_at_zero_is_one", "= 0 exactly: your leaky_relu′(0) is 1, the contract's is 0.01 (torch's)"),
    ("relu_prime_at_zero_is_one", "= 0 exactly: your relu′(0) is 1, the contract's is 0 (torch's)"),
    ("l1_sign_zero_is_one", "exactly: your l1 sign(0) is 1, the contract's is 0 (torch's)"),
    ("forgot_half", None),
])
def test_a_convention_difference_at_an_exact_kink_reads_as_one(name: str, words: str | None) -> None:
    cex = check(mutants.MUTANTS[name], examples=EXAMPLES, seed=0, references=["ground_truth"]).counterexample
    message = cex.message
    if words is None:
        assert "exactly: your" not in message  # a wrong formula is not dressed up as a convention
    else:
        assert words in message
