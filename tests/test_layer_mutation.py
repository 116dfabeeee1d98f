"""The layer mutation catalog (tests/layer_mutants.py): every bug is caught, on a case the strategies
draw (the first failing draw of a fixed-seed search, shrunk), with the output it breaks named; the
correct base the bugs vary is never flagged."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, find, given, settings

from bpcheck.layers.api import call_layer
from bpcheck.layers.cases import LayerCase
from bpcheck.layers.judge import LayerFault, judge_outputs
from bpcheck.layers.strategies import layer_cases
from bpcheck.layers.tolerance import analyse
from tests.layer_mutants import BASE, CATALOG

SEARCH = settings(database=None, derandomize=True, max_examples=2000, suppress_health_check=list(HealthCheck))


def fault_of(case: LayerCase, forward: Any, backward: Any, masked: bool) -> LayerFault | None:
    """How the judge sees this implementation on ``case`` (an exception counts as a fault too)."""
    analysis = analyse(case)
    if case.dtype == np.float32 and analysis.resolution > 1e-2:
        return None   # unresolvable: the suite steers away from it
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            outputs, case = call_layer(case, forward, backward, masked=masked)
    except Exception as err:  # noqa: BLE001 - any exception is a verdict here
        return LayerFault("exception", (), f"{type(err).__name__}: {err}", [])
    return judge_outputs(outputs, analysis)


@pytest.mark.parametrize("name", CATALOG)
def test_each_layer_bug_is_caught_naming_the_output_it_breaks(name: str) -> None:
    bug = CATALOG[name]
    case = find(layer_cases(bug.kind), lambda c: fault_of(c, bug.forward, bug.backward, bug.masked) is not None,
                settings=SEARCH)
    fault = fault_of(case, bug.forward, bug.backward, bug.masked)
    assert fault is not None
    assert fault.kind in bug.faults, (fault, case.describe())
    assert fault.outputs and set(fault.outputs) <= set(bug.breaks), (fault, case.describe())


@pytest.mark.parametrize("kind", BASE)
def test_the_correct_base_of_the_catalog_is_never_flagged(kind: str) -> None:
    forward, backward, masked = BASE[kind]

    @settings(max_examples=max(5, settings.default.max_examples // 3))
    @given(layer_cases(kind))
    def check(case: LayerCase) -> None:
        analysis = analyse(case)
        assume(case.dtype != np.float32 or analysis.resolution <= 1e-2)
        fault = fault_of(case, forward, backward, masked)
        assert fault is None, (fault, case.describe())
    check()
