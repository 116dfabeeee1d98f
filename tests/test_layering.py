"""The architecture, checked from the source: who may import whom, and no import cycles.

    manual_bp  ←  references  ←  bpcheck        (an arrow: "may be imported by")

``manual_bp`` imports NumPy and itself only; ``references`` never imports ``manual_bp`` or ``bpcheck``
(an oracle that shares code with its subject proves nothing); ``bpcheck`` may import both. Within
and across the three, no module imports itself back through others: every import statement counts,
the ones inside functions too (a lazy import that dodges a cycle is still the cycle).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("manual_bp", "references", "bpcheck")
# what each package may import of the project's packages
ALLOWED = {"manual_bp": {"manual_bp"}, "references": {"references"},
           "bpcheck": {"bpcheck", "references", "manual_bp"}}
# third-party imports allowed in manual_bp (the subject imports nothing heavier than NumPy)
MANUAL_BP_THIRD_PARTY = {"numpy"}


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(imported name, line) for every import in the file that runs (``if TYPE_CHECKING:`` blocks are
    annotations only), relative ones resolved; for ``from X import Y`` the name is X.Y when that is a
    module of ours, else X."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and getattr(block.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue  # imports for annotations only: never run, so no cycle
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (sub if sub in MODULES else base), node.lineno


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for name, _ in _imports(module, path):
            while name and name not in MODULES and "." in name:
                name = name.rpartition(".")[0]  # import a.b.c of a non-module attribute: its module
            if name in MODULES and name != module:
                graph[module].add(name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_the_known_edges() -> None:
    """The parser itself: edges that exist must be found (so an empty result means something)."""
    graph = _graph()
    assert "manual_bp.activations" in graph["manual_bp.network"]
    assert "bpcheck.tolerance" in graph["bpcheck.check.judge"]
    assert "bpcheck.check.judge" in graph["bpcheck.check.search"]  # `from bpcheck.check import judge as _judge`


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = _graph() | {"x.a": {"x.b"}, "x.b": {"x.c"}, "x.c": {"x.a"}}
    assert ["x.a", "x.b", "x.c"] in _cycles(graph)


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_against_the_layering(package: str) -> None:
    wrong = []
    for module, path in MODULES.items():
        if module.split(".")[0] != package:
            continue
        for name, line in _imports(module, path):
            top = name.split(".")[0]
            if top in PACKAGES and top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not wrong, "imports against manual_bp ← references ← bpcheck:\n" + "\n".join(wrong)


def test_manual_bp_imports_nothing_heavier_than_numpy() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    heavy = []
    for module, path in MODULES.items():
        if module.split(".")[0] != "manual_bp":
            continue
        for name, line in _imports(module, path):
            top = name.split(".")[0]
            if top not in stdlib and top not in PACKAGES and top not in MANUAL_BP_THIRD_PARTY:
                heavy.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not heavy, "\n".join(heavy)


def test_no_module_is_named_with_a_prefix_standing_for_a_package() -> None:
    """``_report_measure.py`` beside a report package: the package is made instead, and the module
    moves into it."""
    packages = {m.rpartition(".")[2] for m, path in MODULES.items() if path.name == "__init__.py"}
    prefixed = [m for m in MODULES
                if any(m.rpartition(".")[2].lstrip("_").startswith(f"{p}_") for p in packages)]
    assert "report" in packages and "check" in packages
    assert prefixed == []


def test_the_contract_names_agree_across_the_independent_packages() -> None:
    """The 11 activation and 6 loss names are spelled in manual_bp and, independently, in references
    (which must not import manual_bp); bpcheck takes them from references. All must be equal."""
    import manual_bp
    import references
    from bpcheck import cases

    assert manual_bp.ACTIVATIONS == references.ACTIVATIONS == cases.ACTIVATIONS
    assert manual_bp.LOSSES == references.LOSSES == cases.LOSSES
    assert len(references.ACTIVATIONS) == 11 and len(references.LOSSES) == 6
