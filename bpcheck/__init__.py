"""bpcheck: prove that a hand-written backpropagation is right.

    bpcheck.check.check(fn)             search for a counterexample (``manual-bp check``)
    bpcheck.assert_backprop(fn, case)   the same judgement of one case, for your own property tests
    bpcheck.strategies.cases()          the Hypothesis strategy of cases
    bpcheck.report.run_report()         the accuracy report (``manual-bp report``)

Importing the package imports nothing else: the isolated worker process imports
``bpcheck.isolation.worker`` alone, so ``assert_backprop`` is looked up on first use.
"""

from typing import Any

__all__ = ["assert_backprop"]


def __getattr__(name: str) -> Any:
    if name == "assert_backprop":
        from bpcheck.assertions import assert_backprop

        return assert_backprop
    raise AttributeError(f"module 'bpcheck' has no attribute {name!r}")
