"""What a report is made of: one ``RunData`` per run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.checkers.result import CheckResult
from harness.gates import ThresholdResult
from harness.history import Record, read_history
from harness.report.frames import RunFrames, frames_of
from harness.run.directory import RunManifest
from harness.verdict import Verdict, verdict_of


@dataclass
class RunData:
    """One run as the report sees it: its history and what the checkers and gates said.

    ``frames`` are the history as the report needs it (harness.report.frames); a run
    analysed in one streamed pass has them and no ``history`` list, a small one may give
    the list instead. ``gates`` are the thresholds' results. ``manifest`` is what ran (None
    when the run wrote none). Several RunData in one report are shown side by side, named
    by ``label``.
    """

    label: str
    run_dir: Path
    history: list[Record] | None = None
    results: list[CheckResult] = field(default_factory=list)
    gates: list[ThresholdResult] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    manifest: RunManifest | None = None
    verdict: Verdict = "unknown"
    frames: RunFrames | None = None

    def frames_or_build(self) -> RunFrames:
        """The run's frames, built from its history list when it came without them."""
        if self.frames is None:
            self.frames = frames_of(self.history or [])
        return self.frames


def load_run(
    run_dir: Path,
    *,
    label: str | None = None,
    results: list[CheckResult] | None = None,
    gates: list[ThresholdResult] | None = None,
    metrics: dict[str, float] | None = None,
    history: list[Record] | None = None,
    manifest: RunManifest | None = None,
    frames: RunFrames | None = None,
) -> RunData:
    """A RunData from a run directory (its history and manifest), verdict computed; the
    history is read (whole) only when neither it nor its frames are given."""
    run_dir = Path(run_dir)
    results = list(results or [])
    gates = list(gates or [])
    return RunData(
        label=label or run_dir.name,
        run_dir=run_dir,
        history=read_history(run_dir) if history is None and frames is None else history,
        results=results,
        gates=gates,
        metrics=dict(metrics or {}),
        manifest=manifest if manifest is not None else RunManifest.read(run_dir),
        verdict=verdict_of(results, gates),
        frames=frames,
    )
