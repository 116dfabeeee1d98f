"""``manual-bp check``: search for a case where a hand-written gradient breaks the contract.

    from bpcheck.check import check
    verdict = check(my_gradients, examples=500, seed=0)

How a case flows, module by module (docs/architecture.md has the picture):

| module | what it does |
|---|---|
| ``search`` | ``check``: the corner sweep, then Hypothesis' search and shrinking |
| ``judge`` | one case: calls the candidate and returns the first ``Fault`` (every kind), with its evidence |
| ``explain`` | the minimal case against every reference, layer by layer |
| ``repro`` | the standalone repro script |
| ``verdict`` | ``Verdict`` and ``Counterexample``, and the contract's JSON |
| ``target`` | ``path/file.py:function`` / ``package.module:function``: parsed, loaded, named in a repro |
| ``text`` | the verdict as the command line prints it |
| ``cli`` | the command line |
"""

from bpcheck.check.judge import KINDS, Fault
from bpcheck.check.search import check as check
from bpcheck.check.search import corner_cases
from bpcheck.check.verdict import Counterexample, Verdict

__all__ = ["KINDS", "Counterexample", "Fault", "Verdict", "check", "corner_cases"]
