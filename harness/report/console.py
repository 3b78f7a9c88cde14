"""The verdict as a person reads it at the end of a command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from harness.report.model import RunData

_STATUS = {True: "valid", False: "INVALID", "unknown": "unknown"}


def print_verdict(runs: list[RunData], out_dir: Path, out: TextIO = sys.stdout) -> None:
    for run in runs:
        out.write(f"{run.label}: verdict {run.verdict.upper()}\n")
        for result in run.results:
            expected = " (expected for this store)" if result.expected else ""
            out.write(f"  {result.name:10s} {_STATUS[result.valid]}{expected}: {result.summary}\n")
        for gate in run.gates:
            out.write(f"  threshold {gate.threshold.text}: {'ok' if gate.passed else 'FAILED'}\n")
    out.write(f"report: {out_dir / 'report.html'} (also report.md, summary.json, junit.xml)\n")
