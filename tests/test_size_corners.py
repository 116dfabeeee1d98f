"""The size corners of ``check``: which large networks it judges, in which regimes and dtypes.

Catching a bug behind a size threshold is tested through the catalog (tests/test_mutation.py: bugs
30–33); this module pins the list the search walks, which those bugs only sample.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from bpcheck.cases import ACTIVATIONS
from bpcheck.check.coverage import Scope
from bpcheck.check.search import EXTREME_SIZE_ENTRIES, SIZE_SHAPES, size_cases


def _largest_z(widths: tuple[int, ...], batch: int) -> int:
    """The entries of the largest batch of pre-activations, B × n_l."""
    return max(batch * n for n in widths[1:])


def test_every_shape_meets_every_activation_in_the_default_regime_and_the_large_ones_in_the_extreme() -> None:
    cases = size_cases(seed=0)
    by_shape: Counter[tuple[tuple[int, ...], int, str]] = Counter()
    for case, regime in cases:
        by_shape[(tuple(case.widths), case.batch, regime)] += 1
        assert case.activations[0] in ACTIVATIONS and len(set(case.activations)) == 1
    for widths, batch in SIZE_SHAPES:
        assert by_shape[(widths, batch, "default")] == len(ACTIVATIONS)
        large = _largest_z(widths, batch) >= EXTREME_SIZE_ENTRIES
        assert by_shape[(widths, batch, "extreme")] == (len(ACTIVATIONS) if large else 0), (widths, batch)
    assert sum(_largest_z(w, b) >= EXTREME_SIZE_ENTRIES for w, b in SIZE_SHAPES) >= 2  # the rule selects something


def test_the_default_size_corners_alternate_dtypes_and_the_extreme_ones_are_float64() -> None:
    cases = size_cases(seed=3)
    default = Counter(str(case.dtype) for case, regime in cases if regime == "default")
    assert set(default) == {"float32", "float64"}
    assert {str(case.dtype) for case, regime in cases if regime == "extreme"} == {"float64"}
    only32 = size_cases(seed=3, scope=Scope(dtypes=("float32",)))
    assert {str(case.dtype) for case, _ in only32} == {"float32"} and any(r == "extreme" for _, r in only32)


def test_the_extreme_size_corners_reach_values_the_default_ones_never_do() -> None:
    """What the second pass is for: pre-activations far into the saturated tails (|z| ≫ 10)."""
    def largest_z(case) -> float:
        a, worst = np.asarray(case.x, np.float64), 0.0
        for W, b in case.params:
            a = a @ np.asarray(W, np.float64).T + b  # the identity is enough to measure the scale
            worst = max(worst, float(np.max(np.abs(a))))
        return worst

    cases = size_cases(seed=0, scope=Scope(hidden=("identity",), output=("identity",)))
    default = max(largest_z(c) for c, r in cases if r == "default")
    extreme = min(largest_z(c) for c, r in cases if r == "extreme")
    assert default < 50 < extreme


@pytest.mark.parametrize("seed", [0, 1])
def test_the_size_corners_are_a_function_of_the_seed(seed: int) -> None:
    first, second = size_cases(seed=seed), size_cases(seed=seed)
    assert [c.digest() for c, _ in first] == [c.digest() for c, _ in second]
    assert [c.digest() for c, _ in first] != [c.digest() for c, _ in size_cases(seed=seed + 2)]


def test_the_false_alarm_campaign_judges_the_size_corners_in_order(tmp_path) -> None:
    """`scripts/false_alarms.py --size-corners`: case i is corner i mod K of check seed SEED + i div K, so a
    range of cases picks the regimes it says (the default corners come first, then a large shape's extreme)."""
    from scripts import false_alarms

    regimes = [r for _, r in size_cases(seed=4)]
    first_extreme = regimes.index("extreme")
    ranges = {"default": (first_extreme - 1, first_extreme), "extreme": (first_extreme, first_extreme + 1)}
    for regime, (start, stop) in ranges.items():
        out = tmp_path / f"{regime}.json"
        status = false_alarms.main(["--size-corners", "--seed", "4", "--start", str(start), "--stop", str(stop),
                                    "--out", str(out)])
        result = json.loads(out.read_text())
        assert status == 0 and result["cases_from"] == "size corners" and not result["false_alarms"]
        assert [key.split("/")[1] for key in result["worst_margin"]] == [regime]
