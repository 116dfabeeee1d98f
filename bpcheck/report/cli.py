"""``manual-bp report [--out DIR] [--baseline FILE] [--sweep NAME] [--scheduler ADDRESS] …``: the command
line of the report.

Its options map one to one onto ``bpcheck.report.runner.run_report``; a usage error raises
``bpcheck.errors.UsageError``, which ``bpcheck.cli`` prints as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from bpcheck.console import say
from bpcheck.report.runner import run_report
from bpcheck.report.sweep import SWEEPS


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """The options of ``manual-bp report``; ``args.run(args)`` runs it."""
    parser.add_argument("--out", default="bp-report", metavar="DIR",
                        help="where to write (default bp-report/)")
    parser.add_argument("--baseline", metavar="FILE",
                        help="an earlier report.json to find regressions against")
    parser.add_argument("--allow-different-sweep", action="store_true",
                        help="compare with a baseline made with another sweep or seed: only the cases whose "
                             "inputs are identical")
    parser.add_argument("--sweep", choices=SWEEPS, default=None,
                        help="which cases: quick (132, one small shape), default (792: four shapes, three "
                             "regimes), large (132 on shapes past common size thresholds: depth 8 and 12, "
                             "widths 72, 136 and 1040, batch 97)")
    parser.add_argument("--quick", action="store_true", help="the same as --sweep quick")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="local worker processes (default: the CPU count; the figures do not depend on it)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="measure on the workers of this Dask scheduler (e.g. tcp://127.0.0.1:8786) "
                             "instead of local processes; the figures are the same")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="the sweep's seed (default 0)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where torch and jax run (default cpu)")
    parser.add_argument("--allow-tf32", action="store_true",
                        help="allow TF32 in the references' float32 matmuls (torch: on; jax: its default)")
    parser.add_argument("--no-plots", action="store_true", help="an HTML report without the plots (faster)")
    parser.add_argument("--jax-cache", metavar="DIR",
                        help="keep jax's compiled gradients in DIR (a persistent XLA cache): a repeated "
                             "sweep skips most of its compile time; the figures are the same")
    parser.add_argument("--activations", type=_names, metavar="A,B", help="only these activations")
    parser.add_argument("--losses", type=_names, metavar="L,M", help="only these losses")
    parser.add_argument("--dtypes", type=_names, metavar="D,E", help="only these dtypes")
    parser.add_argument("--layers", type=_layer_names, metavar="K,L|none",
                        help="the layers section's kinds (default all: conv2d, max_pool, batchnorm, layernorm, "
                             "dropout); none leaves the section out")
    parser.set_defaults(run=main)


def _layer_names(text: str) -> list[str]:
    names = _names(text)
    return [] if names == ["none"] else names


def main(args: argparse.Namespace) -> int:
    """Run ``manual-bp report`` from parsed arguments; returns the exit status (UsageError: see above)."""
    result = run_report(args.out, baseline=args.baseline, quick=args.quick, sweep=args.sweep, jobs=args.jobs,
                        scheduler=args.scheduler,
                        seed=args.seed, device=args.device, allow_tf32=args.allow_tf32,
                        plots=not args.no_plots, activations=args.activations, losses=args.losses,
                        dtypes=args.dtypes, progress=sys.stderr.isatty(), jax_cache=args.jax_cache,
                        allow_different_sweep=args.allow_different_sweep, layers=args.layers)
    s = result.report["summary"]
    layer_cases = s["layers"]["cases"]
    say(f"manual-bp report: {s['verdict']} — {s['cases']} cases"
          f"{f' and {layer_cases} layer cases' if layer_cases else ''}, {len(s['disagreements'])} disagreements, "
          f"{len(s['errors'])} errors, {len(s['regressions'])} regressions; wrote "
          f"{', '.join(str(p) for p in result.paths.values())}")
    return result.exit_status
