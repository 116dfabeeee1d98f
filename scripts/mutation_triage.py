"""The triage of a mutation campaign (scripts/mutation_campaign.py): scores, and a reason for every
mutant that check alone, or the full selection, leaves alive.

Two sources, both read, never guessed:
- ``docs/mutations.md``, section "The cosmic-ray campaign": the table of equivalent mutants (a survivor
  of the full selection gets its reason there) and the table of check's survivors on the path of
  ``gradients`` (each a blind spot of check, or equivalent as far as gradients go). A row names its
  mutants by module, line, operator and occurrence, and quotes the code it changes (`before` → `after`,
  one or more): a row whose line or quotes no longer match the mutant's diff triages nothing.
- ``OUT_OF_REACH`` below: the parts of manual_bp that ``manual-bp check manual_bp:gradients`` cannot
  see by design (it calls ``gradients`` with valid inputs and judges the (dW, db) it returns).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

# (module, qualified-name pattern, reason): check cannot kill a mutant here whatever it does, because
# the mutated code is not what check judges. Read top to bottom; the first match wins.
OUT_OF_REACH: tuple[tuple[str, str, str], ...] = (
    ("optim", r".*", "sgd and train: check judges the gradients, never an update step"),
    ("jacobians", r".*", "the explicit-Jacobian chain rule: a second derivation of the gradients, not on the path "
                         "of manual_bp.gradients"),
    ("losses", r"_half_sse|_mse|_cross_entropy|_bce|_huber|_l1",
     "a loss value J: check judges gradients, not J (loss_value is outside its reach by design)"),
    ("losses", r"get", "the public lookup by name: gradients reads the LOSSES table directly"),
    ("network", r"forward|Network\.forward|loss_value|Network\.loss_value|backward|Network\.backward"
                r"|Network\.(__repr__|__eq__|__hash__|_structure)|Trace|Backward",
     "not what gradients returns: forward's trace, the deltas of backward, J, or how a Network prints and compares"),
    ("activations", r"get|value|derivative|Activation\.(backward|vjp)|_identity_prime|_sigmoid_prime|_relu_prime",
     "the public helpers value/derivative and σ′ forms that the backward pass does not use (it uses each "
     "activation's delta rule)"),
    ("_validate", r".*", "input validation: check calls gradients with valid inputs only; what is rejected, and "
                         "the words of each error, are the tests' (test_manual_bp.py, test_network.py)"),
)

# (module, qualified-name pattern, reason): code on the path of gradients where check, by how it draws
# its cases, cannot see a fault that a test does see. Each is a blind spot of check, whole; a mutant here
# that is equivalent is still read from the equivalence table first.
BLIND_REGIONS: tuple[tuple[str, str, str], ...] = (
    ("_special", r".*",
     "the vectorised erfc serves gelu only on layers of ≥ 1024 entries, which check builds only in its size "
     "corners, with default-regime values: a fault confined to erfc's tail (|z| > 4√2), the exact edges of "
     "Cody's intervals, or a change below check's tolerance at the values drawn goes unseen (tests/test_erfc.py "
     "sees it, on 10⁶ points)"),
)

KILLED, SURVIVED, TIMEOUT = "killed", "survived", "timeout"


def _in(regions: tuple[tuple[str, str, str], ...], row: dict[str, Any]) -> str | None:
    for module, pattern, reason in regions:
        if row["module"] == module and re.fullmatch(pattern, row["function"]):
            return reason
    return None


def _out_of_reach(row: dict[str, Any]) -> str | None:
    return _in(OUT_OF_REACH, row)


# --- the tables of docs/mutations.md ------------------------------------------------------------------

_SECTION = "## The cosmic-ray campaign"
_MUTANT = re.compile(r"(\w+)\s+#(\d+)")


def _cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _quoted(cell: str) -> list[tuple[str, str]] | None:
    """Every `before` → `after` in a cell (a row may name several mutants of one line), or None."""
    found = re.findall(r"`([^`]*)`\s*→\s*`([^`]*)`", cell)
    return found or None


def read_tables(docs: str) -> dict[str, list[dict[str, Any]]]:
    """The rows of each table under the campaign's section, by the table's heading (### …)."""
    tables: dict[str, list[dict[str, Any]]] = {}
    if _SECTION not in docs:
        return tables
    heading = None
    for line in docs.split(_SECTION, 1)[1].split("\n## ", 1)[0].splitlines():
        if line.startswith("### "):
            heading = line[4:].strip()
        elif heading and line.startswith("|") and not set(line) <= set("|-: "):
            cells = _cells(line)
            if len(cells) < 5 or not cells[1].isdigit():
                continue  # the header row
            tables.setdefault(heading, []).append({
                "module": cells[0], "line": int(cells[1]),
                "mutants": [(op, int(n)) for op, n in _MUTANT.findall(cells[2])],
                "change": _quoted(cells[3]), "cells": cells[4:]})
    return tables


def _matches(entry: dict[str, Any], row: dict[str, Any]) -> bool:
    if (entry["module"], entry["line"]) != (row["module"], row["line"]):
        return False
    if (row["operator"], row["occurrence"]) not in entry["mutants"]:
        return False
    if entry["change"] is None or "diff" not in row:
        return False
    removed, added = _changed_lines(row["diff"])
    return any(before in removed and after in added for before, after in entry["change"])


def _changed_lines(diff: str) -> tuple[str, str]:
    lines = diff.splitlines()
    removed = [ln[1:].strip() for ln in lines if ln.startswith("-") and not ln.startswith("---")]
    added = [ln[1:].strip() for ln in lines if ln.startswith("+") and not ln.startswith("+++")]
    return " / ".join(removed), " / ".join(added)


EQUIVALENT_TABLE = "Equivalent mutants"
GRADIENT_PATH_TABLE = "Check's survivors on the path of gradients"


def apply(rows: list[dict[str, Any]], docs: str) -> None:
    """Attach to each row ``triage`` (a survivor of the full selection: its reason, or "untriaged") and
    ``check_triage`` (a mutant check did not kill: why)."""
    tables = read_tables(docs)
    equivalents = tables.get(EQUIVALENT_TABLE, [])
    on_path = tables.get(GRADIENT_PATH_TABLE, [])
    for row in rows:
        if row["outcome"] == SURVIVED:
            entry = next((e for e in equivalents if _matches(e, row)), None)
            row["triage"] = ({"outcome": "equivalent", "reason": entry["cells"][0]} if entry
                             else {"outcome": "untriaged"})
        if row["outcome"] == "pending" or (row["outcome"] == KILLED and row["stage"] in ("check", "import")):
            continue
        reach = _out_of_reach(row)
        if reach is not None:
            row["check_triage"] = {"category": "out of reach", "reason": reach}
            continue
        entry = next((e for e in equivalents if _matches(e, row)), None)
        if entry is not None:
            row["check_triage"] = {"category": "equivalent", "reason": entry["cells"][0]}
            continue
        entry = next((e for e in on_path if _matches(e, row)), None)
        region = _in(BLIND_REGIONS, row)
        if entry is not None:
            row["check_triage"] = {"category": entry["cells"][0], "reason": entry["cells"][1]}
        elif region is not None:
            row["check_triage"] = {"category": "blind spot", "reason": region}
        else:
            row["check_triage"] = {"category": "untriaged"}


# --- the JSON's parts -----------------------------------------------------------------------------------

def _counts(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    by_check = sum(r["outcome"] == KILLED and r["stage"] == "check" for r in rows)
    by_tests = sum(r["outcome"] == KILLED and r["stage"] == "tests" for r in rows)
    at_import = sum(r["outcome"] == KILLED and r["stage"] == "import" for r in rows)
    survived = [r for r in rows if r["outcome"] == SURVIVED]
    equivalent = sum(r.get("triage", {}).get("outcome") == "equivalent" for r in survived)
    timed_out = sum(r["outcome"] == TIMEOUT for r in rows)
    check_equivalent = sum(r.get("check_triage", {}).get("category") == "equivalent" for r in rows)
    check_reach = sum(r.get("check_triage", {}).get("category") == "out of reach" for r in rows)
    out = {"mutants": n, "killed_at_import": at_import, "killed_by_check": by_check, "killed_by_tests": by_tests,
           "survived": len(survived),
           "equivalent": equivalent, "untriaged": len(survived) - equivalent, "timed_out": timed_out,
           "errors": sum(r["outcome"] == "error" for r in rows),
           "pending": sum(r["outcome"] == "pending" for r in rows),
           "check_survivors": {
               "out_of_reach": check_reach, "equivalent": check_equivalent,
               "by_category": dict(Counter(r["check_triage"]["category"] for r in rows if "check_triage" in r))}}
    if n:
        # a mutant that breaks `import manual_bp` fails every command, check's too: it counts for both scores
        out["score_check_alone"] = round((at_import + by_check) / n, 4)
        out["score_full_selection"] = round((at_import + by_check + by_tests) / n, 4)
        if n - equivalent:
            out["score_full_selection_of_non_equivalent"] = round(
                (at_import + by_check + by_tests) / (n - equivalent), 4)
        reachable = n - check_equivalent - check_reach
        if reachable:
            out["score_check_alone_of_reachable_non_equivalent"] = round((at_import + by_check) / reachable, 4)
    return out


def summaries(rows: Sequence[dict[str, Any]], modules: Sequence[str]) -> dict[str, Any]:
    return {"modules": {m: _counts([r for r in rows if r["module"] == m]) for m in modules}, "total": _counts(rows)}


def check_survivors(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every mutant check alone left alive, except those out of its reach (counted, not listed): the
    others with their diff and why."""
    keep = ("module", "line", "function", "operator", "occurrence", "outcome", "stage", "by", "check_triage", "diff")
    return [{k: r[k] for k in keep if k in r} for r in rows
            if "check_triage" in r and r["check_triage"]["category"] != "out of reach"]


TABLE_COLUMNS = ("module", "line", "function", "operator", "occurrence", "outcome", "stage", "by", "seconds")


def table(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every mutant as one row of ``columns``."""
    return {"columns": list(TABLE_COLUMNS), "rows": [[r.get(c) for c in TABLE_COLUMNS] for r in rows]}
