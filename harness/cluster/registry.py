"""A record, outside any run directory, of every process a run started, by PID.

If the harness itself is SIGKILLed its children live on (they run in their own sessions so
that a Ctrl-C reaches the harness, not them). The next run, or ``mcp-scale cleanup``, reads
these records and stops what a dead harness left, after checking that each PID still runs the
program it recorded (a PID can be reused).

A process is recorded with a fragment of its command line. A whole process group (a node of
the command backend: a wrapper and its children) is recorded by its group id with a
``group-env:NAME=VALUE`` match (:func:`group_match`): the group is SIGKILLed when one of its
processes still has that variable in its environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path


def state_dir() -> Path:
    return Path(os.environ.get("MCP_SCALE_STATE_DIR", Path.home() / ".mcp-scale")) / "live"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


GROUP_ENV = "group-env:"
# Inherited by every process a run starts: the registry finds them by it after a crash.
RUN_ENV = "MCP_SCALE_RUN"


def group_match(name: str, value: str) -> str:
    """The registry match of a process group whose processes have ``name=value`` in their
    environment."""
    return f"{GROUP_ENV}{name}={value}"


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of group ``pgid``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def _environ(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _marked_group(pgid: int, variable: str) -> bool:
    """Whether a process of group ``pgid`` still carries ``variable`` (NAME=VALUE)."""
    return any(variable in _environ(pid) for pid in group_members(pgid))


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


class ProcessRegistry:
    """The live record of one run, kept up to date as processes start and restart.

    Every process the run starts inherits ``MCP_SCALE_RUN=<run id>`` (see :meth:`marked`), and
    the record names that marker from its first write on: a process started but not yet
    recorded when the harness died (Locust a moment after its start, a node mid-start) is
    still found by it, in its own environment, never by its name.
    """

    def __init__(self, run_id: str, directory: Path | None = None) -> None:
        self.directory = directory or state_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / f"{run_id}.json"
        self.marker = f"{RUN_ENV}={run_id}"

    @contextlib.contextmanager
    def marked(self) -> Iterator[None]:
        """While inside, the processes this one starts carry the run's marker."""
        before = os.environ.get(RUN_ENV)
        os.environ[RUN_ENV] = self.marker.partition("=")[2]
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(RUN_ENV, None)
            else:
                os.environ[RUN_ENV] = before

    def record(self, processes: dict[str, tuple[int, str]], groups: tuple[int, ...] = ()) -> None:
        """``processes``: name -> (pid, a fragment of its command line that proves it is ours)."""
        data = {
            "harness_pid": os.getpid(),
            "marker": self.marker,
            "updated": time.time(),
            "processes": {
                name: {"pid": pid, "match": match} for name, (pid, match) in processes.items()
            },
            "groups": list(groups),
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def cleanup_orphans(directory: Path | None = None, include_live: bool = False) -> list[str]:
    """Stop what runs whose harness is gone left behind; returns what was stopped."""
    stopped: list[str] = []
    folder = directory or state_dir()
    if not folder.is_dir():
        return stopped
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            continue
        harness_pid = int(data.get("harness_pid", 0))
        if harness_pid != os.getpid() and _alive(harness_pid) and not include_live:
            continue
        for name, entry in data.get("processes", {}).items():
            pid, match = int(entry["pid"]), str(entry["match"])
            if match.startswith(GROUP_ENV):
                if _marked_group(pid, match[len(GROUP_ENV) :]):
                    _kill_group(pid)
                    stopped.append(f"{name} (process group {pid}) of {path.stem}")
                continue
            if _alive(pid) and match in _cmdline(pid):
                _kill(pid)
                stopped.append(f"{name} (pid {pid}) of {path.stem}")
        for group in data.get("groups", []):
            if _group_runs(int(group), "locust"):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(int(group), signal.SIGKILL)
                    stopped.append(f"process group {group} of {path.stem}")
        marker = data.get("marker")
        if isinstance(marker, str) and marker.startswith(f"{RUN_ENV}="):
            for pid in _carrying(marker):
                _kill(pid)
                stopped.append(f"pid {pid} (started by {path.stem}, not yet recorded)")
        path.unlink(missing_ok=True)
    return stopped


def _carrying(marker: str) -> list[int]:
    """Live processes (not this one) whose environment holds ``marker`` (NAME=VALUE)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid != os.getpid() and marker in _environ(pid) and _running(pid):
            found.append(pid)
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (not a zombie waiting for its parent)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _group_runs(pgid: int, match: str) -> bool:
    """Whether a process of group ``pgid`` runs ``match`` (a group id can be reused too)."""
    return any(match in _cmdline(pid) for pid in group_members(pgid))


def _kill_group(pgid: int) -> None:
    for sig in (signal.SIGCONT, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
