"""The run directory contract: every file of a run, named once, and the run's manifest.

A run directory is everything a run leaves: what ran (``run.json``, a :class:`RunManifest`),
what happened (``history-*.jsonl``), the load generator's own output and the report. Every
stage that writes or reads one of these files takes its path from :class:`RunFiles`; the
settings of a run travel only in the manifest, so that a run directory copied to another
machine is checked and reported exactly as on the one that ran it.

::

    run.json              RunManifest: what ran (written before the load starts)
    history-<writer>.jsonl   one per writing process: harness, w0..wN, nemesis (FORMAT.md)
    progress.json         the load generator's live counters (the progress line)
    locust.log, locust_*.csv  Locust's own output
    logs/<node>.log       each node's log (local and command backends)
    summary.json, report.md, report.html, junit.xml, charts/   the report
"""

from __future__ import annotations

import dataclasses
import json
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.client.config import LATEST_VERSION
from harness.history import history_files, history_path

MANIFEST_FORMAT = "mcp-scale-run/1"
# The run directory, for processes the run starts (Locust and its workers read the manifest).
RUN_DIR_ENV = "MCP_SCALE_RUN_DIR"


@dataclass(frozen=True)
class RunFiles:
    """The paths of one run directory."""

    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / "run.json"

    @property
    def legacy_profile(self) -> Path:
        """Written by runs before the manifest (wave 1): read, never written."""
        return self.root / "profile.json"

    @property
    def progress(self) -> Path:
        return self.root / "progress.json"

    @property
    def locust_log(self) -> Path:
        return self.root / "locust.log"

    @property
    def locust_csv_prefix(self) -> Path:
        return self.root / "locust"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def history(self, writer: str) -> Path:
        return history_path(self.root, writer)

    def histories(self) -> list[Path]:
        return history_files(self.root)

    def load_histories(self) -> list[Path]:
        """The Locust workers' histories (``history-w<N>.jsonl``): present once load runs."""
        return sorted(self.root.glob("history-w*.jsonl"))


# Report files live in a report directory: the run directory itself, or the directory a
# multi-run report (demo, report of several runs) is written to.
SUMMARY = "summary.json"
MARKDOWN = "report.md"
HTML = "report.html"
JUNIT = "junit.xml"
CHARTS = "charts"

# The writers of a run's history files (the load generator's are w0, w1, ...).
HARNESS_WRITER = "harness"
NEMESIS_WRITER = "nemesis"


class ManifestError(ValueError):
    """A run.json that cannot be read; the message names the file and what is wrong."""


@dataclass
class RunManifest:
    """What ran: the settings every stage after the start reads, as the run resolved them.

    ``profile`` keeps every setting as given (flags merged over the file), to reproduce the
    run; the fields beside it are what the run made of them (node ids, their URLs, the
    routing chosen for the store, the target's actions).
    """

    scenario: str
    backend: str
    store: str
    nodes: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    routing: str = "round_robin"
    users: int = 0
    spawn_rate: float = 1.0
    duration: float = 0.0
    shape: str | None = None
    seed: int = 1
    request_timeout: float = 10.0
    chaos: list[str] = field(default_factory=list)  # the planned faults, e.g. kill-node:n1@20s
    defects: list[str] = field(default_factory=list)
    target_profile: str | None = None
    actions: dict[str, Any] = field(default_factory=dict)  # TargetProfile.to_dict()
    # The command backend's LaunchSpec.to_dict(): how each node was started.
    launch: dict[str, Any] | None = None
    thresholds: list[str] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    protocol: str = LATEST_VERSION  # the MCP revision the load client spoke (--protocol)
    # The static headers' names (the target profile's and --header); never their values.
    header_names: list[str] = field(default_factory=list)
    format: str = MANIFEST_FORMAT

    @property
    def node_names(self) -> dict[str, str]:
        """URL -> node id, for the history's ``node`` field."""
        return dict(zip(self.urls, self.nodes, strict=False))

    def setting(self, name: str, default: Any = None) -> Any:
        """One setting of the profile the run was given (e.g. ``leak_rss``)."""
        return self.profile.get(name, default)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def write(self, files: RunFiles) -> None:
        files.root.mkdir(parents=True, exist_ok=True)
        tmp = files.manifest.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2))
        tmp.replace(files.manifest)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "run.json") -> RunManifest:
        if data.get("format") != MANIFEST_FORMAT:
            raise ManifestError(
                f"{where}: format {data.get('format')!r} is not {MANIFEST_FORMAT!r}; "
                "it was written by another version of mcp-scale"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ManifestError(f"{where}: unknown fields {unknown}; known: {sorted(names)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ManifestError(f"{where}: {exc}") from None

    @classmethod
    def read(cls, run_dir: Path | str) -> RunManifest | None:
        """The manifest of a run directory; None when the run wrote none (it never started).

        Runs written before the manifest existed (a ``profile.json`` and a ``run.json`` of
        scenario settings) are read into one, so that ``mcp-scale report`` still works.
        """
        files = RunFiles(Path(run_dir))
        data = _read_json(files.manifest)
        if data is not None and "format" in data:
            return cls.from_dict(data, str(files.manifest))
        profile = _read_json(files.legacy_profile)
        if profile is None:
            return None
        return _from_legacy(profile, data or {})


def default_run_dir(kind: str) -> Path:
    """Where a run (or a report, a demo) goes when no ``--out`` says: reports/<kind>-<time>."""
    return Path("reports") / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"


def versions() -> dict[str, str]:
    """What a run's results depend on besides its settings."""
    found = {"python": platform.python_version()}
    for package in ("mcp-scale", "locust", "redis", "uvicorn", "starlette"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def _from_legacy(profile: dict[str, Any], run: dict[str, Any]) -> RunManifest:
    urls = [str(u) for u in run.get("targets", [])]
    names = run.get("node_names") or {}
    return RunManifest(
        scenario=str(profile.get("scenario", "")),
        backend=str(profile.get("backend", "local")),
        store=str(profile.get("store", "redis")),
        nodes=[str(names.get(u, u)) for u in urls],
        urls=urls,
        routing=str(run.get("routing") or profile.get("routing") or "round_robin"),
        users=int(profile.get("users", 0)),
        spawn_rate=float(profile.get("spawn_rate", 1.0)),
        duration=float(profile.get("duration", 0.0)),
        shape=profile.get("shape"),
        seed=int(profile.get("seed", 1)),
        request_timeout=float(profile.get("request_timeout", 10.0)),
        chaos=[part.strip() for part in str(profile.get("chaos", "")).split(";") if part.strip()],
        defects=[str(d) for d in profile.get("defects", [])],
        target_profile=profile.get("target_profile"),
        actions=dict(run.get("actions") or {}),
        thresholds=[str(t) for t in profile.get("thresholds", [])],
        profile=profile,
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: a JSON object was expected")
    return data
