"""``manual-bp report``: every backend's gradient against the extended-precision ground truth.

How a report is made, module by module (docs/architecture.md has the picture):

| module | what it does |
|---|---|
| ``sweep`` | which cases: ``Spec`` names one (activation, loss, dtype, widths, batch, regime) and draws it |
| ``measurement`` | one case: every backend against the long-double ground truth; one report record |
| ``runner`` | the whole run: the sweep measured in worker processes, then the files written |
| ``baseline`` | reading an earlier report.json and finding regressions against it |
| ``summary`` | accuracy per backend and dtype, worst margins, the verdict and exit status |
| ``precision`` | the GPU precision section (pinned against TF32), ``--device cuda`` only |
| ``render`` | report.md and report.html (``sections``: the shared text; ``markdown``, ``html``, ``plots``) |
| ``files`` | the three files, each written atomically |
| ``cli`` | the command line |
"""

from bpcheck.report.files import FILES
from bpcheck.report.runner import (
    SCHEMA,
    ReportResult,
    collect_environment,
    measure,
    measure_sweep,
    run_report,
    use_jax_cache,
    write_report_from_records,
)

__all__ = ["FILES", "SCHEMA", "ReportResult", "collect_environment", "measure", "measure_sweep", "run_report",
           "use_jax_cache", "write_report_from_records"]
