"""``manual-bp check TARGET [--examples N] [--seed S] [--dtype float32|float64|both] [--json PATH] …``."""

from __future__ import annotations

import argparse
import math

from bpcheck.check import target as _target
from bpcheck.check.search import check
from bpcheck.check.text import format_verdict
from bpcheck.console import say
from bpcheck.errors import UsageError
from bpcheck.isolation.supervisor import DEFAULT_MEMORY_LIMIT_GIB, DEFAULT_TIMEOUT_S
from bpcheck.writing import check_output_file, write_atomic, write_json


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


def _finite_positive(option: str, value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{option} must be a finite number > 0, got {value:g}")
    return value


def main(args: argparse.Namespace) -> int:
    """Validate everything (UsageError, exit 2) before any work; then check, write, print."""
    if args.examples < 1:
        raise UsageError(f"--examples must be ≥ 1, got {args.examples}")
    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    _finite_positive("--timeout", args.timeout)
    _finite_positive("--memory-limit", args.memory_limit)
    json_path = check_output_file("--json", args.json) if args.json else None
    target = _target.parse(args.target)
    repro_path = check_output_file("--repro", args.repro or f"manual-bp-repro-{target.name}.py")
    if args.device == "cuda":
        import references

        references.prepare_gpu_process()
        if not any(references.available(b, "cuda") for b in ("torch", "jax")):
            raise UsageError("--device cuda: neither torch nor jax can use a CUDA device here")
    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    # the candidate is imported in its worker process only, never in this one
    verdict = check(target=target, examples=args.examples, seed=args.seed, dtypes=dtypes, device=args.device,
                    timeout=args.timeout, memory_limit=args.memory_limit)
    written = None
    if verdict.counterexample is not None:
        written = str(repro_path)
        write_atomic(repro_path, verdict.counterexample.repro)
    if json_path is not None:
        write_json(json_path, verdict.to_json(written), indent=2)
    say(format_verdict(verdict, args.target, written))  # last: a closed stdout loses nothing
    return 0 if verdict.passed else 1
