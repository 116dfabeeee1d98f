"""The record of the cosmic-ray campaign (benchmarks/results/mutation.json) and its triage
(docs/mutations.md) agree: every survivor has a reason, read from the docs as the campaign reads it,
and no row of the docs' tables is stale. Reads two files; runs no mutant."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from scripts import mutation_campaign as campaign
from scripts import mutation_triage as triage

ROOT = Path(__file__).resolve().parents[1]
CHECK_CATEGORIES = {"blind spot", "equivalent for gradients"}


@pytest.fixture(scope="module")
def record() -> dict:
    return json.loads((ROOT / "benchmarks/results/mutation.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tables() -> dict:
    return triage.read_tables((ROOT / "docs/mutations.md").read_text(encoding="utf-8"))


def test_the_triage_tables_parse(tables: dict) -> None:
    assert set(tables) == {triage.EQUIVALENT_TABLE, triage.GRADIENT_PATH_TABLE}
    for heading, rows in tables.items():
        assert rows, heading
        for row in rows:
            assert row["module"] in campaign.SUBJECT, row
            assert row["mutants"], f"{heading}: a row that names no mutant: {row}"
            assert row["change"] is not None, f"{heading}: a row without `before` → `after`: {row}"
            assert all(cell for cell in row["cells"]), f"{heading}: an empty reason: {row}"
            if heading == triage.GRADIENT_PATH_TABLE:
                assert row["cells"][0] in CHECK_CATEGORIES, row


@pytest.fixture(scope="module")
def sources(record: dict) -> dict[str, str]:
    """Each module's source as the campaign mutated it: the file itself while it is unchanged, else the
    version git keeps under the id the record names."""
    out = {}
    for module, blob in record["sources_git_blob"].items():
        path = ROOT / campaign._module_path(module)
        if campaign.git_blob_id(path.read_bytes()) == blob:
            out[module] = path.read_text(encoding="utf-8")
            continue
        shown = subprocess.run(["git", "cat-file", "blob", blob], cwd=ROOT, capture_output=True, check=False)
        assert shown.returncode == 0, (f"{path} changed since the campaign, and git has no version {blob}: "
                                       "run the campaign again (it resumes) and commit its record")
        out[module] = shown.stdout.decode("utf-8")
    return out


def _again(rows: list[dict], sources: dict[str, str]) -> list[dict]:
    """The rows as the campaign's report triages them, from the docs as they are now."""
    fresh = [{k: v for k, v in r.items() if k not in ("triage", "check_triage")} for r in rows]
    triage.apply(fresh, (ROOT / "docs/mutations.md").read_text(encoding="utf-8"), sources)
    return fresh


def test_the_record_names_the_source_of_every_module(record: dict) -> None:
    assert set(record["sources_git_blob"]) == set(record["modules"]) == set(record["sources_sha256"])


def test_every_survivor_has_the_triage_the_docs_give_it(record: dict, sources: dict[str, str]) -> None:
    survivors = record["survivors"]
    assert len(survivors) == record["total"]["survived"]
    assert record["total"]["untriaged"] == 0
    for stored, fresh in zip(survivors, _again(survivors, sources), strict=True):
        assert fresh["triage"]["outcome"] == "equivalent", f"untriaged survivor: {stored['diff']}"
        assert fresh["triage"] == stored["triage"], stored["diff"]


def test_every_mutant_check_leaves_alive_on_its_path_has_a_reason(record: dict, sources: dict[str, str]) -> None:
    check_survivors = record["check_survivors"]
    fresh = _again(check_survivors, sources)
    for stored, again in zip(check_survivors, fresh, strict=True):
        assert again["check_triage"]["category"] in {"equivalent", *CHECK_CATEGORIES}, stored["diff"]
        assert again["check_triage"] == stored["check_triage"], stored["diff"]


def test_no_row_of_the_docs_triages_nothing(record: dict, tables: dict) -> None:
    rows = record["check_survivors"] + record["survivors"]
    for heading, entries in tables.items():
        for entry in entries:
            assert any(triage._matches(entry, r) for r in rows), f"{heading}: a stale row: {entry}"


def test_the_totals_add_up(record: dict) -> None:
    total, columns = record["total"], record["mutants"]["columns"]
    rows = [dict(zip(columns, r, strict=True)) for r in record["mutants"]["rows"]]
    expected = record["sample"]["size"] if record["sample"] else record["population"]["mutants"]
    assert len(rows) == total["mutants"] == expected
    outcome = [(r["outcome"], r["stage"]) for r in rows]
    assert outcome.count(("killed", "import")) == total["killed_at_import"]
    assert outcome.count(("killed", "check")) == total["killed_by_check"]
    assert outcome.count(("killed", "tests")) == total["killed_by_tests"]
    assert [o for o, _ in outcome].count("survived") == total["survived"]
    assert total["pending"] == total["errors"] == 0


def test_the_sample_is_stratified_and_a_larger_one_keeps_a_smaller_one() -> None:
    sizes = {"network": 151, "activations": 720, "losses": 376, "_validate": 894}
    quota = campaign.allocate(sizes, 300)
    assert sum(quota.values()) == 300
    assert all(abs(quota[m] - 300 * k / sum(sizes.values())) < 1 for m, k in sizes.items())
    population = {m: [(line, 0, "op", 0, f"{m}-{line}") for line in range(k)] for m, k in sizes.items()}
    small, large = campaign.choose_sample(population, 300, 0), campaign.choose_sample(population, 400, 0)
    assert {m: len(ids) for m, ids in small.items()} == quota
    assert all(small[m] <= large[m] for m in sizes)
    assert campaign.choose_sample(population, 300, 1) != small  # the seed matters
    assert campaign.allocate({"a": 2, "b": 1}, 10) == {"a": 2, "b": 1}  # never more than a module has


# --- the annotation rule: equivalent by proof ---------------------------------------------------------

_SOURCE = '''from __future__ import annotations

from typing import NamedTuple


class Pair(NamedTuple):
    left: int | None


def f(x: int | None = None) -> int | None:
    y: list[int | str] = [1]
    return x if x is not None else y[0] + 1


F = f
'''


def _diff(line: int, before: str, after: str) -> str:
    """A one-line unified diff of _SOURCE, with a line of context each side, as cosmic-ray writes them."""
    lines = _SOURCE.splitlines()
    assert lines[line - 1] == before
    return (f"--- a/m.py\n+++ b/m.py\n@@ -{line - 1},3 +{line - 1},3 @@\n {lines[line - 2]}\n-{before}\n"
            f"+{after}\n {lines[line]}\n")


@pytest.mark.parametrize(("line", "before", "after"), [
    (10, "def f(x: int | None = None) -> int | None:", "def f(x: int / None = None) -> int | None:"),
    (10, "def f(x: int | None = None) -> int | None:", "def f(x: int | None = None) -> int ^ None:"),
    (11, "    y: list[int | str] = [1]", "    y: list[int >> str] = [1]"),
])
def test_a_change_inside_a_deferred_annotation_is_equivalent(line: int, before: str, after: str) -> None:
    assert triage.mutated_source(_SOURCE, _diff(line, before, after)) == _SOURCE.replace(before, after)
    assert triage.annotation_only(_SOURCE, _diff(line, before, after))


@pytest.mark.parametrize(("line", "before", "after", "why"), [
    (12, "    return x if x is not None else y[0] + 1", "    return x if x is not None else y[0] - 1", "code"),
    (10, "def f(x: int | None = None) -> int | None:", "def f(x: int | None = 1) -> int | None:", "a default"),
    (7, "    left: int | None", "    left: int / None", "a class body's annotation, read at run time"),
])
def test_any_other_change_is_not(line: int, before: str, after: str, why: str) -> None:
    assert not triage.annotation_only(_SOURCE, _diff(line, before, after)), why


def test_the_rule_needs_the_future_import_and_the_very_source_mutated() -> None:
    diff = _diff(10, "def f(x: int | None = None) -> int | None:", "def f(x: int / None = None) -> int | None:")
    eager = _SOURCE.replace("from __future__ import annotations", "import os")
    assert not triage.annotation_only(eager, diff)  # annotations evaluated when the function is defined
    moved = "# a new first line\n" + _SOURCE
    assert triage.mutated_source(moved, diff) is None and not triage.annotation_only(moved, diff)
