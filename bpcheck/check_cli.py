"""``manual-bp check TARGET [--examples N] [--seed S] [--dtype float32|float64|both] [--json PATH]``."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bpcheck.errors import UsageError


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="TARGET",
                        help="path/to/file.py:function or package.module:function")
    parser.add_argument("--examples", type=int, default=500, metavar="N",
                        help="random cases to try after the corner sweep (default 500)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the search (default 0)")
    parser.add_argument("--dtype", choices=("float32", "float64", "both"), default="both",
                        help="dtypes to try (default both)")
    parser.add_argument("--json", metavar="PATH", help="write the verdict as JSON to PATH")
    parser.add_argument("--repro", metavar="PATH",
                        help="where to write the repro script of a counterexample "
                             "(default manual-bp-repro-FUNCTION.py in the current directory)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where the torch and jax references run when explaining a counterexample")
    parser.set_defaults(run=main)


def load_target(spec: str) -> Callable[..., Any]:
    """``path/to/file.py:function`` or ``package.module:function`` → the function; UsageError otherwise."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise UsageError(f"TARGET must be path/to/file.py:function or package.module:function, got {spec!r}")
    if path.endswith(".py") or os.sep in path or "/" in path:
        file = Path(path)
        if not file.is_file():
            raise UsageError(f"no such file: {path}")
        module_name = f"_manual_bp_target_{abs(hash(str(file.resolve())))}"
        spec_obj = importlib.util.spec_from_file_location(module_name, file)
        if spec_obj is None or spec_obj.loader is None:
            raise UsageError(f"cannot import {path}: not a Python file")
        module = importlib.util.module_from_spec(spec_obj)
        sys.path.insert(0, str(file.resolve().parent))
        try:
            sys.modules[module_name] = module
            spec_obj.loader.exec_module(module)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's module failed to import
            raise UsageError(f"cannot import {path}: {type(exc).__name__}: {exc}") from None
    else:
        sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(path)
        except (Exception, SystemExit) as exc:  # noqa: BLE001
            raise UsageError(f"cannot import module {path!r}: {type(exc).__name__}: {exc}") from None
    if not hasattr(module, name):
        raise UsageError(f"{path} has no attribute {name!r}")
    fn = getattr(module, name)
    if not callable(fn):
        raise UsageError(f"{spec} is not callable (it is a {type(fn).__name__})")
    return fn  # type: ignore[no-any-return]


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(args: argparse.Namespace) -> int:
    from bpcheck.check import check
    from bpcheck.check_text import format_verdict

    if args.examples < 1:
        raise UsageError(f"--examples must be ≥ 1, got {args.examples}")
    if args.json:
        parent = Path(args.json).resolve().parent
        if not parent.is_dir():
            raise UsageError(f"--json: directory {parent} does not exist")
    if args.device == "cuda":
        import references

        references.prepare_gpu_process()
        if not any(references.available(b, "cuda") for b in ("torch", "jax")):
            raise UsageError("--device cuda: neither torch nor jax can use a CUDA device here")
    fn = load_target(args.target)
    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    verdict = check(fn, examples=args.examples, seed=args.seed, dtypes=dtypes, target=args.target,
                    device=args.device)
    repro_path = None
    if verdict.counterexample is not None:
        name = args.target.rpartition(":")[2]
        repro_path = str(Path(args.repro or f"manual-bp-repro-{name}.py").resolve())
        write_atomic(repro_path, verdict.counterexample.repro)
    print(format_verdict(verdict, args.target, repro_path))
    if args.json:
        write_atomic(args.json, json.dumps(verdict.to_json(repro_path), indent=2) + "\n")
    return 0 if verdict.passed else 1
