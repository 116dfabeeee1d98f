"""Printing for the command line: a reader that closes stdout early (``manual-bp … | head -1``) ends
the output, quietly, never the command: files are written and the exit status is kept."""

from __future__ import annotations

import contextlib
import os
import sys


def quiet_stdout() -> None:
    """Send the rest of stdout nowhere (its reader is gone), so that no later flush raises."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def say(text: str) -> None:
    """``print(text)``, flushed; a closed stdout silences it and the rest of the run's output."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        quiet_stdout()
