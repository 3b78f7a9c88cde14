"""Reports: a run's history and verdicts as summary.json, report.md, report.html (one
self-contained file), junit.xml and charts; and two reports compared for regressions.

    run = load_run(run_dir, results=check_history(history, ctx), gates=gates)
    render_report(run_dir / "report", [run])
    compare_runs(load_summary(dir_a), load_summary(dir_b)).has_regressions
"""

from harness.report.compare import Comparison, Row, compare_runs
from harness.report.model import RunData, load_run
from harness.report.render import load_summary, render_report

__all__ = [
    "Comparison",
    "Row",
    "RunData",
    "compare_runs",
    "load_run",
    "load_summary",
    "render_report",
]
