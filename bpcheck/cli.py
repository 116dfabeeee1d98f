"""The ``manual-bp`` command line: ``manual-bp check TARGET``, ``manual-bp check-layer KIND FORWARD
[BACKWARD]`` and ``manual-bp report``.

Exit status (docs/contract.md): 0 no disagreement, 1 a counterexample / disagreement /
regression, 2 a usage error (one clear line on stderr, never a traceback), 130 an interrupt, 70 an
internal error (a bug of manual-bp: its traceback, then one line).
"""

from __future__ import annotations

import argparse
import sys
import traceback

from bpcheck.console import quiet_stdout
from bpcheck.errors import UsageError

INTERNAL_ERROR = 70  # EX_SOFTWARE: neither a verdict (0, 1) nor a usage error (2)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 already; keep it to one line
        self.exit(2, f"manual-bp: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser. It imports the subcommands (and with them NumPy and the rest), so
    ``main`` calls it inside its handling of Ctrl-C: an interrupt while a command starts is one line too."""
    from bpcheck.check import cli as check_cli
    from bpcheck.check.layer import cli as layer_cli
    from bpcheck.report import cli as report_cli

    parser = _Parser(prog="manual-bp", description="Prove that a hand-written backpropagation is right.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check_cli.configure_parser(sub.add_parser(
        "check", help="check a gradient function against the references",
        description="Check a hand-written gradients(params, x, y, activations, loss) against the references."))
    layer_cli.configure_parser(sub.add_parser(
        "check-layer", help="check one layer's forward and backward (CS231n API) against the references",
        description="Check a hand-written layer, KIND_forward(...) -> (out, cache) and KIND_backward(dout, cache), "
                    "or a loss(x, y) -> (loss, dx), against the references."))
    report_cli.configure_parser(sub.add_parser(
        "report", help="the accuracy regression report of every backend",
        description="Measure every backend against the extended-precision ground truth."))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; its exit status (docs/contract.md): a usage error is one line on stderr and 2,
    an interrupt one line and 130, a closed stdout ends quietly with the command's own status."""
    try:
        parser = build_parser()
    except KeyboardInterrupt:
        words = argv if argv is not None else sys.argv[1:]
        command = next((w for w in words if not w.startswith("-")), None)
        print(f"manual-bp{' ' + command if command else ''}: interrupted", file=sys.stderr)
        return 130
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except UsageError as exc:
        print(f"manual-bp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"manual-bp {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        quiet_stdout()
        return 0
    except Exception as exc:  # a bug of ours: never exit 0 or 1, which speak of the candidate
        traceback.print_exc()
        print(f"manual-bp {args.command}: internal error (a bug in manual-bp, not in the code it checks): "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return INTERNAL_ERROR


def run() -> None:
    """The console script: ``main``, then its status; a stdout closed at exit is no error either."""
    status = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_stdout()
    sys.exit(status)


if __name__ == "__main__":
    run()
