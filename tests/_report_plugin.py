"""``pytest --bp-report DIR``: the accuracy report of the cases the property suite compared.

Every comparison made through ``bpcheck.assertions`` reports its case and margin here. At the end
of the session each distinct case is measured once more by ``bpcheck.report.measure`` (every backend
against the long-double ground truth) and the report is written with
``bpcheck.report.write_report_from_records``, in the same format as ``manual-bp report``. A summary of
the margins the suite saw (worst per comparison) is printed in the terminal summary.
"""

from __future__ import annotations

from typing import Any

import pytest

from bpcheck import assertions


class ReportPlugin:
    MAX_CASES = 400  # each new shape costs a jax compile (~0.3 s): bound the session's extra time

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.cases: dict[str, Any] = {}
        self.margins: dict[str, float] = {}
        assertions.MARGIN_LISTENERS.append(self._listen)

    def _listen(self, label: str, margin: float, case: Any) -> None:
        self.margins[label] = max(self.margins.get(label, 0.0), margin)
        if case is not None and len(self.cases) < self.MAX_CASES:
            key = case.describe() + str(hash(case.x.tobytes()))
            self.cases.setdefault(key, case.copy())

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from bpcheck import report

        records = [report.measure(case, regime="hypothesis") for case in self.cases.values()]
        self.result = report.write_report_from_records(records, self.directory)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("manual-bp accuracy report")
        for label, margin in sorted(self.margins.items()):
            terminalreporter.write_line(f"worst margin (error ÷ tolerance) {label}: {margin:.3g}")
        result = getattr(self, "result", None)
        if result is not None:
            terminalreporter.write_line(f"{len(self.cases)} cases measured; report written to {self.directory} "
                                        f"(exit status {result.exit_status})")
