"""A process's resources from /proc: cheap enough to read every second for many processes
(no psutil net_connections, which costs over a core with thousands of sockets)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK")


def process_resources(pid: int) -> dict[str, Any] | None:
    """RSS (bytes), CPU (user + system seconds), open fds and threads; None if it is gone."""
    base = Path(f"/proc/{pid}")
    try:
        stat = (base / "stat").read_text().rsplit(")", 1)[1].split()
        status = (base / "status").read_text()
        fds = len(os.listdir(base / "fd"))
    except (OSError, IndexError):
        return None
    if stat[0] in ("Z", "X"):  # exited, not yet reaped: nothing left to measure
        return None
    rss = 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
            break
    # Fields after the command name: state is [0], utime [11], stime [12], threads [17].
    cpu = (int(stat[11]) + int(stat[12])) / _TICKS
    return {"pid": pid, "rss": rss, "cpu": cpu, "fds": fds, "threads": int(stat[17])}


def group_resources(pgid: int) -> dict[str, Any] | None:
    """The same, summed over a process group (Locust's master and its worker processes)."""
    total: dict[str, Any] = {"pid": pgid, "rss": 0, "cpu": 0.0, "fds": 0, "threads": 0}
    found = False
    for pid in group_pids(pgid):
        one = process_resources(pid)
        if one is not None:
            found = True
            for key in ("rss", "cpu", "fds", "threads"):
                total[key] += one[key]
    return total if found else None


def group_pss(pgid: int) -> int:
    """The proportional set size (bytes) summed over a process group: memory a forked
    child still shares with its parent counts once, where summed RSS counts it in both."""
    total = 0
    for pid in group_pids(pgid):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
                break
    return total


def group_pids(pgid: int) -> list[int]:
    """The processes of a process group."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids
