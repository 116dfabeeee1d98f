"""``manual-bp check TARGET [--examples N] [--seed S] [--dtype float32|float64|both] [--json PATH] …``."""

from __future__ import annotations

import argparse
import math
import re

from bpcheck.check import target as _target
from bpcheck.check.coverage import scope
from bpcheck.check.layout import LOSS_INPUTS, REDUCTIONS, SAMPLES, TARGETS, WEIGHTS, Layout
from bpcheck.check.search import check
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
    parser.add_argument("--references", type=names, metavar="R,S",
                        help="the references that explain a counterexample (default: ground_truth, torch, jax, "
                             "those installed; ground_truth alone imports neither torch nor jax)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help=f"each call's deadline (default {DEFAULT_TIMEOUT_S:g} s): a call past it is a fault")
    parser.add_argument("--memory-limit", type=float, default=DEFAULT_MEMORY_LIMIT_GIB, metavar="GiB",
                        help=f"the candidate process's memory limit (default {DEFAULT_MEMORY_LIMIT_GIB:g} GiB)")
    scope = parser.add_argument_group("what the candidate implements (default: all, or what a probe finds: "
                                      "NotImplementedError marks a name unsupported)")
    scope.add_argument("--activations", type=names, metavar="A,B", help="activations of every layer")
    scope.add_argument("--hidden-activations", type=names, metavar="A,B", help="activations of the hidden layers")
    scope.add_argument("--output-activations", type=names, metavar="A,B", help="activations of the output layer")
    scope.add_argument("--losses", type=names, metavar="L,M", help="losses")
    scope.add_argument("--output-width", type=int, metavar="N",
                       help="fix the output width n_L (1: a binary classifier)")
    sizes = parser.add_argument_group("sizes (default: random networks of depth ≤ 6, widths ≤ 32, batch ≤ 32, and "
                                      "size corners up to depth 12, width 1030, batch 75)")
    sizes.add_argument("--max-depth", type=int, metavar="L", help="the deepest network to build")
    sizes.add_argument("--max-width", type=int, metavar="N", help="the widest layer to build")
    sizes.add_argument("--max-batch", type=int, metavar="B", help="the largest batch to build")
    how = parser.add_argument_group("how the candidate's code is written (default: the contract's)")
    how.add_argument("--layout", choices=SAMPLES, default="rows",
                     help="rows: x (B, n0), b (n,); columns: x (n0, B), y (nL, B), b and db (n, 1)")
    how.add_argument("--weights", choices=WEIGHTS, default="out_in",
                     help="out_in: W (n_out, n_in), z = a W^T + b; in_out: W (n_in, n_out), z = a @ W + b")
    how.add_argument("--targets", choices=TARGETS, default="probabilities",
                     help="cross_entropy: probabilities, one-hot rows, or labels (int class indices, shape (B,)); "
                          "binary_cross_entropy: binary {0, 1}")
    how.add_argument("--reduction", choices=REDUCTIONS, default="mean",
                     help="the loss averaged or summed over the batch")
    how.add_argument("--l2", type=float, default=0.0, metavar="LAMBDA",
                     help="the gradient includes (λ/2) Σ ||W||² (biases not regularised)")
    how.add_argument("--loss-input", choices=LOSS_INPUTS, default="logits",
                     help="probabilities: the output layer applies softmax/sigmoid and the loss is -Σ y log a")
    parser.set_defaults(run=main)


def names(text: str) -> list[str]:
    """A comma-separated option's names."""
    return [t.strip() for t in text.split(",") if t.strip()]


EXPLAINING = ("ground_truth", "torch", "jax")


def check_references(given: list[str] | None) -> None:
    """--references: names among ``EXPLAINING`` (UsageError otherwise)."""
    if given is not None:
        unknown = [r for r in given if r not in EXPLAINING]
        if unknown or not given:
            raise UsageError(f"--references: {', '.join(unknown) or 'none given'}; expected names among "
                             f"{', '.join(EXPLAINING)}")


def finite_positive(option: str, value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{option} must be a finite number > 0, got {value:g}")
    return value


def main(args: argparse.Namespace) -> int:
    """Validate everything (UsageError, exit 2) before any work; then check, write, print."""
    if args.examples < 1:
        raise UsageError(f"--examples must be ≥ 1, got {args.examples}")
    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    finite_positive("--timeout", args.timeout)
    finite_positive("--memory-limit", args.memory_limit)
    if not math.isfinite(args.l2) or args.l2 < 0:
        raise UsageError(f"--l2 must be a finite number ≥ 0, got {args.l2:g}")
    if args.output_width is not None and args.output_width < 1:
        raise UsageError(f"--output-width must be ≥ 1, got {args.output_width}")
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
    restricted = {"activations": args.activations, "hidden_activations": args.hidden_activations,
             "output_activations": args.output_activations, "losses": args.losses}
    sizes = {"max_depth": args.max_depth, "max_width": args.max_width, "max_batch": args.max_batch}
    how = {"layout": args.layout, "weights": args.weights, "targets": args.targets, "reduction": args.reduction,
           "l2": args.l2, "loss_input": args.loss_input}
    try:  # the options' combination, before any work: a bad one is a usage error
        scope(layout=Layout(samples=how["layout"], **{k: v for k, v in how.items() if k != "layout"}),
              dtypes=dtypes, output_width=args.output_width, **restricted, **sizes)
    except (ValueError, TypeError) as exc:  # each message starts with the keyword: show it as the option
        raise UsageError("--" + re.sub(r"^\w+", lambda m: m.group().replace("_", "-"), str(exc))) from None
    check_references(args.references)
    verdict = check(target=target, examples=args.examples, seed=args.seed, dtypes=dtypes, device=args.device,
                    references=args.references,
                    timeout=args.timeout, memory_limit=args.memory_limit, output_width=args.output_width,
                    **restricted, **how, **sizes)
    verdict.target = args.target
    if verdict.counterexample is not None:
        verdict.repro_path = str(repro_path)
        write_atomic(repro_path, verdict.counterexample.repro)
    if json_path is not None:
        write_json(json_path, verdict.to_json(), indent=2)
    say(verdict.text())  # last: a closed stdout loses nothing
    return 0 if verdict.passed else 1
