"""``manual-bp check-layer KIND FORWARD [BACKWARD] [--examples N] [--seed S] [--dtype …] [--json PATH] …``."""

from __future__ import annotations

import argparse

from bpcheck.check import target as _target
from bpcheck.check.cli import check_references, finite_positive, names
from bpcheck.check.layer.search import WEIGHTS, check_layer
from bpcheck.console import say
from bpcheck.errors import UsageError
from bpcheck.isolation.supervisor import DEFAULT_MEMORY_LIMIT_GIB, DEFAULT_TIMEOUT_S
from bpcheck.writing import check_output_file, write_atomic, write_json
from references.layers import KINDS, LAYER_KINDS


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", metavar="KIND", choices=LAYER_KINDS,
                        help=f"the layer: {', '.join(LAYER_KINDS)}")
    parser.add_argument("forward", metavar="FORWARD",
                        help="path/to/file.py:function or package.module:function: KIND_forward, or the loss")
    parser.add_argument("backward", metavar="BACKWARD", nargs="?",
                        help="the same for KIND_backward (every kind but the losses)")
    parser.add_argument("--examples", type=int, default=300, metavar="N",
                        help="random cases to try after the corners (default 300)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the search (default 0)")
    parser.add_argument("--dtype", choices=("float32", "float64", "both"), default="both",
                        help="dtypes to try (default both)")
    parser.add_argument("--weights", choices=WEIGHTS, default="in_out",
                        help="affine's w: in_out (D, M), the CS231n API's (default), or out_in (M, D)")
    parser.add_argument("--json", metavar="PATH", help="write the verdict as JSON to PATH")
    parser.add_argument("--repro", metavar="PATH", help="where to write the repro script of a counterexample "
                                                        "(default manual-bp-repro-KIND.py in the current directory)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where the torch and jax references run when explaining a counterexample")
    parser.add_argument("--references", type=names, metavar="R,S",
                        help="the references that explain a counterexample (default: ground_truth, torch, jax, "
                             "those installed)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help=f"each call's deadline (default {DEFAULT_TIMEOUT_S:g} s)")
    parser.add_argument("--memory-limit", type=float, default=DEFAULT_MEMORY_LIMIT_GIB, metavar="GiB",
                        help=f"the candidate process's memory limit (default {DEFAULT_MEMORY_LIMIT_GIB:g} GiB)")
    parser.set_defaults(run=main)


def main(args: argparse.Namespace) -> int:
    """Validate everything (UsageError, exit 2) before any work; then check, write, print."""
    if args.examples < 1:
        raise UsageError(f"--examples must be ≥ 1, got {args.examples}")
    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    finite_positive("--timeout", args.timeout)
    finite_positive("--memory-limit", args.memory_limit)
    scalar = KINDS[args.kind].scalar
    if scalar and args.backward is not None:
        raise UsageError(f"{args.kind} is checked as one function, loss(x, y) -> (loss, dx): give no BACKWARD")
    if not scalar and args.backward is None:
        raise UsageError(f"a {args.kind} layer is checked through its forward and its backward: give BACKWARD")
    if args.weights != "in_out" and args.kind != "affine":
        raise UsageError(f"--weights is affine's option, not {args.kind}'s")
    json_path = check_output_file("--json", args.json) if args.json else None
    repro_path = check_output_file("--repro", args.repro or f"manual-bp-repro-{args.kind}.py")
    forward = _target.parse(args.forward)
    backward = _target.parse(args.backward) if args.backward is not None else None
    if args.device == "cuda":
        import references

        references.prepare_gpu_process()
        if not any(references.available(b, "cuda") for b in ("torch", "jax")):
            raise UsageError("--device cuda: neither torch nor jax can use a CUDA device here")
    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    check_references(args.references)
    verdict = check_layer(args.kind, forward_target=forward, backward_target=backward, examples=args.examples,
                          references=args.references,
                          seed=args.seed, dtypes=dtypes, device=args.device, weights=args.weights,
                          timeout=args.timeout, memory_limit=args.memory_limit)
    verdict.target = " ".join(t for t in (args.forward, args.backward) if t)
    if verdict.counterexample is not None:
        verdict.repro_path = str(repro_path)
        write_atomic(repro_path, verdict.counterexample.repro)
    if json_path is not None:
        write_json(json_path, verdict.to_json(), indent=2)
    say(verdict.text())
    return 0 if verdict.passed else 1
