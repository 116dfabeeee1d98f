"""Every third-party module the packages and the tests import is declared in pyproject.toml, so the
README's install (`pip install -c constraints.txt -e '.[all]'`) on a fresh machine brings it, and
constraints.txt pins it."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("manual_bp", "references", "bpcheck", "tests")  # what the README's two commands run
FIRST_PARTY = {"scripts", "benchmarks"}  # this repository's folders that the tests may import from


def _imports(node: ast.AST, optional: bool = False) -> Iterator[tuple[str, bool]]:
    """(top-level module name, whether the import is optional) for every import in ``node``, inside
    functions too; optional: inside the body of a ``try`` that catches ImportError."""
    if isinstance(node, ast.Import):
        yield from ((alias.name.split(".")[0], optional) for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        yield node.module.split(".")[0], optional
    guarded = isinstance(node, ast.Try) and any(
        isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") for h in node.handlers)
    for field, value in ast.iter_fields(node):
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, ast.AST):
                yield from _imports(child, optional or (guarded and field == "body"))


def _imported_top_level_modules() -> set[str]:
    """Every third-party module the packages and tests need (imported other than optionally), by
    top-level name."""
    needed = set()
    for path in [ROOT / "conftest.py", *(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))]:
        needed |= {m for m, optional in _imports(ast.parse(path.read_text(encoding="utf-8"))) if not optional}
    return needed - set(sys.stdlib_module_names) - set(PACKAGES) - FIRST_PARTY


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_imported_distribution_is_declared_and_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_requirement_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        declared |= {_requirement_name(r) for r in extra if not r.startswith("manual-bp")}
    pinned = {_requirement_name(line) for line in (ROOT / "constraints.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    distributions = importlib.metadata.packages_distributions()
    modules = _imported_top_level_modules()
    assert {"cloudpickle", "psutil", "numpy"} <= modules  # the scan sees imports inside functions too
    for module in sorted(modules):
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        assert names & declared, f"{module} is imported but none of {sorted(names)} is declared in pyproject.toml"
        assert names & pinned, f"{module} is imported but none of {sorted(names)} is pinned in constraints.txt"
