"""``manual-bp check-layer KIND FORWARD [BACKWARD]``: one layer, written in the CS231n API, checked
like a whole network (corners, random search, size corners, shrinking, every reference, a repro).

| module | what it does |
|---|---|
| ``search`` | ``check_layer``: the corners, the Hypothesis search, the size corners, shrinking |
| ``judge`` | one layer case: forward and backward in the worker, the first fault, with its evidence |
| ``explain`` | the minimal case against every reference, a convention note, the repro script |
| ``cli`` | the command line |

The numerics underneath (cases, strategies, the tolerance model of every layer kind) are
``bpcheck.layers``; the oracles are ``references.layers``.
"""

from bpcheck.check.layer.search import check_layer

__all__ = ["check_layer"]
