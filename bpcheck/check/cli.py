"""``manual-bp check TARGET [--examples N] [--seed S] [--dtype float32|float64|both] [--json PATH] …``."""

from __future__ import annotations

import argparse
from pathlib import Path

from bpcheck.check import target as _target
from bpcheck.check.search import check
from bpcheck.check.text import format_verdict
from bpcheck.errors import UsageError
from bpcheck.isolation.supervisor import DEFAULT_MEMORY_LIMIT_GIB, DEFAULT_TIMEOUT_S
from bpcheck.writing import write_atomic, write_json


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
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help=f"each call's deadline (default {DEFAULT_TIMEOUT_S:g} s): a call past it is a fault")
    parser.add_argument("--memory-limit", type=float, default=DEFAULT_MEMORY_LIMIT_GIB, metavar="GiB",
                        help=f"the candidate process's memory limit (default {DEFAULT_MEMORY_LIMIT_GIB:g} GiB)")
    parser.set_defaults(run=main)


def main(args: argparse.Namespace) -> int:
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
    target = _target.parse(args.target)
    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    # the candidate is imported in its worker process only, never in this one
    verdict = check(target=target, examples=args.examples, seed=args.seed, dtypes=dtypes, device=args.device,
                    timeout=args.timeout, memory_limit=args.memory_limit)
    repro_path = None
    if verdict.counterexample is not None:
        repro_path = str(Path(args.repro or f"manual-bp-repro-{target.name}.py").resolve())
        write_atomic(repro_path, verdict.counterexample.repro)
    print(format_verdict(verdict, args.target, repro_path))
    if args.json:
        write_json(args.json, verdict.to_json(repro_path), indent=2)
    return 0 if verdict.passed else 1
