"""One strict conftest: Hypothesis profiles, and the --bp-report option.

Profiles (select with ``--hypothesis-profile NAME``; the README's test command uses ``ci``):

| profile | examples per property | for |
|---|---|---|
| ``dev`` | 20 | quick local runs (the default without the flag) |
| ``ci`` | 60, derandomized | the README's test command and .ci/run: the same examples every run |
| ``thorough`` | 2000 | long runs, e.g. ``pytest -n auto --hypothesis-profile thorough`` |
| ``mutation`` | 20, derandomized, no database | scripts/mutation_campaign.py's tests: the same examples per mutant |

No deadline (a jit compile or a long-double ground truth would trip one), and a failure prints the
reproduction blob (``@reproduce_failure``). ``--bp-report DIR`` writes the accuracy report of the
comparisons the property tests made (``bpcheck.report`` format) to DIR at the end of the session.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=20, **_COMMON)
settings.register_profile("ci", max_examples=60, derandomize=True, **_COMMON)
settings.register_profile("thorough", max_examples=2000, **_COMMON)
settings.register_profile("mutation", max_examples=20, derandomize=True, database=None, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--bp-report", metavar="DIR", default=None,
                     help="write the accuracy report (report.json/.md/.html) of the property tests to DIR")


def pytest_configure(config: pytest.Config) -> None:
    directory = config.getoption("--bp-report")
    if directory:
        from tests._report_plugin import ReportPlugin

        config.pluginmanager.register(ReportPlugin(directory), "bp-report")
