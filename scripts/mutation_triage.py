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

One class of equivalent mutant is recognised by a proof rather than a row: a change inside an annotation
of a module that starts with ``from __future__ import annotations`` (``annotation_only``). Such an
annotation is kept as a string and never evaluated, so the mutant runs the very code the original runs.
"""

from __future__ import annotations

import ast
import functools
import re
from collections import Counter
from collections.abc import Mapping, Sequence
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

KILLED, SURVIVED, TIMEOUT = "killed", "survived", "timeout"

ANNOTATION_REASON = ("a change inside an annotation, which `from __future__ import annotations` keeps a string that "
                     "is never evaluated: the module's code without its annotations is the same (scripts/"
                     "mutation_triage.py, `annotation_only`)")


# --- equivalent by proof: a change inside an annotation ----------------------------------------------------

def mutated_source(source: str, diff: str) -> str | None:
    """``source`` with the hunks of the unified ``diff`` applied, or None where the diff's context or removed
    lines are not those of ``source`` (the diff was made on another version)."""
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    at = 0  # the next line of ``source`` to copy
    body = diff.splitlines(keepends=True)
    i = 0
    while i < len(body):
        header = re.match(r"@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@", body[i])
        i += 1
        if not header:
            continue
        start = int(header.group(1)) - 1
        if start < at:
            return None
        out += lines[at:start]
        at = start
        while i < len(body) and not body[i].startswith("@@"):
            tag, text = body[i][:1], body[i][1:]
            if tag in (" ", "-"):
                if at >= len(lines) or lines[at].rstrip("\n") != text.rstrip("\n"):
                    return None
                if tag == " ":
                    out.append(lines[at])
                at += 1
            elif tag == "+":
                out.append(text if text.endswith("\n") else text + "\n")
            i += 1
    return "".join(out + lines[at:])


class _WithoutAnnotations(ast.NodeTransformer):
    """Drops every annotation whose evaluation the future import defers for good: those of arguments and
    return values, and those of assignments in function bodies (a class body's, which a NamedTuple or a
    dataclass reads, is kept)."""

    def __init__(self) -> None:
        self.depth = 0

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.annotation = None
        return node

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        node.returns = None
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        depth, self.depth = self.depth, 0  # a class body's own annotations are read at run time
        self.generic_visit(node)
        self.depth = depth
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if self.depth:
            node.annotation = ast.Constant(value=None)
        return self.generic_visit(node)


def _defers_annotations(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
               and any(alias.name == "annotations" for alias in node.names) for node in tree.body)


@functools.lru_cache(maxsize=16)
def _code_of(source: str) -> str | None:
    """The module's tree without the annotations that are never evaluated, dumped; None if it does not
    parse or does not defer its annotations."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    return ast.dump(_WithoutAnnotations().visit(tree)) if _defers_annotations(tree) else None


def annotation_only(source: str, diff: str) -> bool:
    """Whether the mutant that ``diff`` makes of ``source`` differs from it only inside annotations that
    are never evaluated: both parse, the module defers its annotations, and the two trees are the same
    once those annotations are dropped."""
    mutant = mutated_source(source, diff)
    if mutant is None or mutant == source:
        return False
    before = _code_of(source)
    return before is not None and before == _code_of(mutant)


def _out_of_reach(row: dict[str, Any]) -> str | None:
    for module, pattern, reason in OUT_OF_REACH:
        if row["module"] == module and re.fullmatch(pattern, row["function"]):
            return reason
    return None


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


def apply(rows: list[dict[str, Any]], docs: str, sources: Mapping[str, str] | None = None) -> None:
    """Attach to each row ``triage`` (a survivor of the full selection: its reason, or "untriaged") and
    ``check_triage`` (a mutant check did not kill: why). ``sources``: each module's source as it was
    mutated, for ``annotation_only`` (without it, only the docs' rows triage)."""
    tables = read_tables(docs)
    equivalents = tables.get(EQUIVALENT_TABLE, [])
    on_path = tables.get(GRADIENT_PATH_TABLE, [])
    sources = sources or {}

    def equivalent(row: dict[str, Any]) -> str | None:
        if row["module"] in sources and "diff" in row and annotation_only(sources[row["module"]], row["diff"]):
            return ANNOTATION_REASON
        entry = next((e for e in equivalents if _matches(e, row)), None)
        return None if entry is None else entry["cells"][0]

    for row in rows:
        if row["outcome"] == SURVIVED:
            reason = equivalent(row)
            row["triage"] = {"outcome": "equivalent", "reason": reason} if reason else {"outcome": "untriaged"}
        if row["outcome"] == "pending" or (row["outcome"] == KILLED and row["stage"] in ("check", "import")):
            continue
        reach = _out_of_reach(row)
        if reach is not None:
            row["check_triage"] = {"category": "out of reach", "reason": reach}
            continue
        reason = equivalent(row)
        if reason is not None:
            row["check_triage"] = {"category": "equivalent", "reason": reason}
            continue
        entry = next((e for e in on_path if _matches(e, row)), None)
        row["check_triage"] = ({"category": entry["cells"][0], "reason": entry["cells"][1]} if entry is not None
                               else {"category": "untriaged"})


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
