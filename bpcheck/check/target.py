"""Where a candidate comes from: ``path/to/file.py:function`` or ``package.module:function``.

A ``Target`` is what the user named, resolved once (absolute file path, the directory its import
needs on ``sys.path``); ``load`` imports it and returns the function, ``of_function`` names a
function that the Python API was handed, and ``import_lines`` writes the import that a repro script
uses, so nothing else needs to know how a target was loaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bpcheck.errors import UsageError

# the name a file target's module gets in sys.modules: its own, never a name of ours
_FILE_MODULE_PREFIX = "_manual_bp_target_"


@dataclass(frozen=True)
class Target:
    """A candidate by name. ``path`` (file targets) is absolute; ``module`` names an importable module;
    ``sys_path`` is the directory its import needs first on ``sys.path``."""

    spec: str
    name: str
    path: str | None = None
    module: str | None = None
    sys_path: str | None = None

    @property
    def label(self) -> str:
        """How the verdict names it: the spec as the user wrote it."""
        return self.spec

    def import_lines(self, alias: str = "gradients") -> list[str]:
        """Python lines that import the candidate as ``alias`` from anywhere (for a repro script)."""
        lines = [] if self.sys_path is None else ["import sys", f"sys.path.insert(0, {self.sys_path!r})"]
        if self.path is not None:
            return lines + ["import importlib.util",
                            f"_spec = importlib.util.spec_from_file_location('candidate', {self.path!r})",
                            "_mod = importlib.util.module_from_spec(_spec)",
                            "_spec.loader.exec_module(_mod)",
                            f"{alias} = _mod.{self.name}"]
        if self.module is not None:
            return lines + [f"from {self.module} import {self.name} as {alias}"]
        return lines + [f"raise SystemExit('import the candidate as {alias} here: it was not importable by name')"]


def parse(spec: str, cwd: str | None = None) -> Target:
    """``path/to/file.py:function`` or ``package.module:function`` → a Target; UsageError otherwise.

    Nothing is imported: a file must exist, a module name must look like one.
    """
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name or not name.isidentifier():
        raise UsageError(f"TARGET must be path/to/file.py:function or package.module:function, got {spec!r}")
    base = Path(cwd or os.getcwd())
    if path.endswith(".py") or os.sep in path or "/" in path:
        file = (base / path).resolve()
        if not file.is_file():
            raise UsageError(f"no such file: {path}")
        return Target(spec, name, path=str(file), sys_path=str(file.parent))
    if not all(part.isidentifier() for part in path.split(".")):
        raise UsageError(f"TARGET's module {path!r} is not a Python module name (package.module:function)")
    return Target(spec, name, module=path, sys_path=str(base.resolve()))


def load(target: Target) -> Callable[..., Any]:
    """Import the target in this process and return its function; UsageError if that fails.

    The target's directory goes first on ``sys.path`` (its own sibling modules import as they would
    for the user); whatever its import raises, ``SystemExit`` included, becomes a one-line UsageError.
    """
    if target.sys_path is not None and target.sys_path not in sys.path:
        sys.path.insert(0, target.sys_path)
    if target.path is not None:
        module_name = f"{_FILE_MODULE_PREFIX}{abs(hash(target.path))}"
        spec = importlib.util.spec_from_file_location(module_name, target.path)
        if spec is None or spec.loader is None:
            raise UsageError(f"cannot import {target.path}: not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's module failed to import
            del sys.modules[module_name]
            raise UsageError(f"cannot import {target.path}: {type(exc).__name__}: {exc}") from None
        where = target.path
    else:
        assert target.module is not None
        try:
            module = importlib.import_module(target.module)
        except (Exception, SystemExit) as exc:  # noqa: BLE001
            raise UsageError(f"cannot import module {target.module!r}: {type(exc).__name__}: {exc}") from None
        where = target.module
    if not hasattr(module, target.name):
        raise UsageError(f"{where} has no attribute {target.name!r}")
    fn = getattr(module, target.name)
    if not callable(fn):
        raise UsageError(f"{target.spec} is not callable (it is a {type(fn).__name__})")
    return fn  # type: ignore[no-any-return]


def of_function(fn: Callable[..., Any]) -> Target:
    """A Target naming a function the Python API was given: its module and name where it can be
    imported by them, else its source file; a lambda or closure gets a Target with neither."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", getattr(fn, "__name__", type(fn).__name__))
    nested = "." in qualname or "<" in qualname
    if module and module != "__main__" and not module.startswith(_FILE_MODULE_PREFIX) and not nested:
        return Target(f"{module}:{qualname}", qualname, module=module)
    try:
        source = inspect.getsourcefile(fn)
    except TypeError:
        source = None
    if source is not None and not nested:
        path = str(Path(source).resolve())
        return Target(f"{path}:{qualname}", qualname, path=path, sys_path=str(Path(path).parent))
    return Target(qualname, qualname)
