"""Failover speed: how long sessions are out when a node of a Redis cluster is SIGKILLed.

    .venv/bin/python bench/failover.py [--sessions 200] [--kills 6] [--every 10] [--down 3]
        [--think 0.4] [--warmup 5] [--out DIR] [--timeout 600]

Measures the "Failover" target of DESIGN.md: after SIGKILL of one of 3 nodes, p99 recovery of
the affected sessions under 1 s, no session and no message lost (Redis mode with resume).

1. A 3-node Redis-mode cluster of the reference server (``LocalCluster``, the local backend of
   ``mcp-scale run``), with a redis-server of its own.
2. A load process (gevent monkey-patched, as Locust is) runs ``--sessions`` users of the real
   load client (``McpClient``, one shared Transport, round-robin routing over the nodes, the
   history written by a ``HistoryWriter``). Each user initializes, opens its listening stream,
   then calls without end: ``notify`` (3 numbered messages with a nonce) and ``echo`` in turn,
   ``--think`` seconds apart on average after a success and at once (after
   ``RETRY_PAUSE``) after a failure, so that the first success after an outage comes as soon
   as the cluster can give it.
3. Once every stream is open and ``--warmup`` seconds have passed, the chaos controller (the
   nemesis of ``mcp-scale run``) SIGKILLs a node, restarts it ``--down`` seconds later on the
   same port, and does so again every ``--every`` seconds, ``--kills`` times, going round the
   nodes. Its operations go into the same history.
4. The load stops calling; the streams stay open for ``delivery.LATE_AFTER`` + 1 seconds, so
   that what is still missing then is lost, not merely late; then every client closes.

The merged history is then measured by ``harness.checkers.recovery.measure`` (outage: from a
session's first failed operation or broken stream after a fault to the moment its requests
and its stream both work again, think time excluded; stream gap: a broken listening stream to
the stream open again with Last-Event-ID) and judged by the ``survival`` (sessions lost) and
``delivery`` (messages lost) checkers. It prints one line per kill, then the totals, ending::

    failover: outage p50 X ms p99 Y ms max Z ms; stream gap p99 W ms; sessions lost N; \
messages lost M

The run directory (history, node logs, ``recovery.json``) is kept with ``--out``. Every
process the bench starts is stopped (by PID) on exit, failure, Ctrl-C and after ``--timeout``.
Exit code: 0 target met, 1 target missed, 2 bad usage, 3 error, 130 Ctrl-C.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys

CHILD_FLAG = "--load-child"
if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == CHILD_FLAG:
    # The load process: patch before anything imports socket, ssl or threading (as Locust).
    from gevent import monkey

    monkey.patch_all()

import argparse
import itertools
import json
import math
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from harness.chaos.controller import ChaosController
from harness.chaos.faults import Fault
from harness.checkers import check_history, delivery
from harness.checkers.context import CheckContext
from harness.checkers.recovery import RecoveryReport, Spread, measure
from harness.cluster.local import LocalCluster
from harness.history import HistoryWriter, read_history
from harness.history.writer import history_path

TARGET_P99 = 1.0  # seconds (DESIGN.md, "Failover")
RETRY_PAUSE = 0.02  # seconds a user waits after a failed call before the next one
NOTIFY_COUNT = 3
READY_FILE = "ready.json"
STOP_FILE = "stop"
DONE_FILE = "load.json"


class BenchError(RuntimeError):
    """The bench could not be carried out."""


# --------------------------------------------------------------------------------------------
# The load process (gevent)


def load_child(spec: dict[str, Any]) -> None:
    import gevent
    import gevent.event

    from harness.client import ClientConfig, McpClient, Transport

    run_dir = Path(spec["run_dir"])
    writer = HistoryWriter(history_path(run_dir, "w0"))
    transport = Transport()
    go = gevent.event.Event()
    stopping = gevent.event.Event()
    counts = {"opened": 0, "not_opened": 0, "calls": 0, "failed": 0}
    clients = [
        McpClient(
            ClientConfig(urls=spec["urls"], routing="round_robin", start=number),
            f"w0-u{number}",
            writer.write,
            transport,
        )
        for number in range(1, spec["sessions"] + 1)
    ]

    def user(client: McpClient) -> None:
        gevent.sleep(random.random() * spec["think"])
        if client.initialize()["type"] != "ok" or not client.open_stream().connected.wait(10):
            counts["not_opened"] += 1
            return
        counts["opened"] += 1
        go.wait()
        gevent.sleep(random.random() * spec["think"])
        for number in itertools.count(1):  # bounded by ``stopping``
            if stopping.is_set():
                return
            if number % 2:
                nonce = f"{client.process}-{number}"
                args = {"count": NOTIFY_COUNT, "interval_ms": 10, "nonce": nonce}
                record = client.call_tool("notify", args)
            else:
                record = client.call_tool("echo", {"text": str(number)})
            counts["calls"] += 1
            ok = record["type"] == "ok"
            counts["failed"] += not ok
            think = spec["think"] * (0.5 + random.random())
            stopping.wait(think if ok else RETRY_PAUSE)

    users = [gevent.spawn(user, client) for client in clients]
    while counts["opened"] + counts["not_opened"] < len(clients):
        gevent.sleep(0.1)
    _write_json(run_dir / READY_FILE, counts)
    go.set()
    while not (run_dir / STOP_FILE).exists():
        gevent.sleep(0.1)
    stopping.set()
    gevent.joinall(users, timeout=30)
    gevent.sleep(spec["settle"])  # the streams stay open: a late message still arrives
    gevent.joinall([gevent.spawn(client.close) for client in clients], timeout=30)
    transport.close()
    writer.close()
    _write_json(run_dir / DONE_FILE, counts)


def _write_json(path: Path, data: Any) -> None:
    path.with_suffix(".tmp").write_text(json.dumps(data))
    path.with_suffix(".tmp").replace(path)


# --------------------------------------------------------------------------------------------
# The bench process: cluster, nemesis, measurement


def schedule(args: argparse.Namespace, nodes: Sequence[str]) -> list[Fault]:
    faults = []
    for index in range(args.kills):
        node, at = nodes[index % len(nodes)], index * args.every
        faults += [Fault("kill-node", node, at), Fault("restart-node", node, at + args.down)]
    return faults


def run(args: argparse.Namespace, run_dir: Path, deadline: float) -> dict[str, Any]:
    with LocalCluster(nodes=3, store="redis", log_dir=run_dir / "logs") as cluster:
        print(f"[failover] 3 nodes (redis) up: {', '.join(cluster.urls)}", flush=True)
        spec = {
            "run_dir": str(run_dir),
            "urls": cluster.urls,
            "sessions": args.sessions,
            "think": args.think,
            "settle": delivery.LATE_AFTER + 1.0,
        }
        command = [sys.executable, str(Path(__file__).resolve()), CHILD_FLAG, json.dumps(spec)]
        log = open(run_dir / "load.log", "wb")  # noqa: SIM115 - closed below
        child = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        try:
            ready = _wait_for(run_dir / READY_FILE, child, deadline, run_dir)
            print(f"[failover] {ready['opened']} of {args.sessions} sessions listening", flush=True)
            time.sleep(args.warmup)
            nemesis = HistoryWriter(history_path(run_dir, "nemesis"))
            faults = schedule(args, cluster.node_ids())
            controller = ChaosController(faults, cluster, nemesis.write)
            controller.start(time.time())
            last = max(fault.at for fault in faults)
            _sleep_until(time.monotonic() + last + args.every - args.down, child, deadline)
            controller.stop()
            nemesis.close()
            (run_dir / STOP_FILE).touch()
            done = _wait_for(run_dir / DONE_FILE, child, deadline, run_dir)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(timeout=10)
            log.close()
        return {**done, "faults": [f.describe() for f in controller.applied]}


def _wait_for(path: Path, child: subprocess.Popen[bytes], deadline: float, run_dir: Path) -> Any:
    while not path.exists():
        if child.poll() is not None:
            tail = (run_dir / "load.log").read_text(errors="replace")[-3000:]
            raise BenchError(f"the load process exited with {child.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            raise BenchError(f"out of time waiting for {path.name}")
        time.sleep(0.1)
    return json.loads(path.read_text())


def _sleep_until(until: float, child: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < until:
        if child.poll() is not None:
            raise BenchError(f"the load process exited early with {child.returncode}")
        if time.monotonic() > deadline:
            raise BenchError("out of time")
        time.sleep(0.1)


def _ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.0f}"


def _spread(spread: Spread) -> str:
    return f"p50 {_ms(spread.p50)} ms p99 {_ms(spread.p99)} ms max {_ms(spread.max)} ms"


def print_report(
    report: RecoveryReport, history_len: int, load: dict[str, Any], counts: Any
) -> int:
    survival, messages = counts
    print(
        f"[failover] {load['calls']} calls ({load['failed']} failed), {history_len} records, "
        f"{len(load['faults'])} faults applied"
    )
    starts = sorted({(o.fault_start, o.fault) for o in report.outages})
    zero = starts[0][0] if starts else 0.0
    for start, fault in starts:
        rows = [o for o in report.outages if o.fault_start == start]
        gaps = [g for g in report.gaps if g.fault_start == start]
        outage = Spread.of(o.seconds for o in rows if o.seconds is not None)
        wall = Spread.of(o.wall for o in rows if o.wall is not None)
        gap = Spread.of(g.seconds for g in gaps if g.seconds is not None)
        print(
            f"  {fault} at +{start - zero:4.1f}s: {len(rows)} sessions affected, "
            f"outage {_spread(outage)} (wall clock p99 {_ms(wall.p99)} ms); "
            f"{len(gaps)} stream gaps, p99 {_ms(gap.p99)} ms"
        )
    print(
        f"[failover] affected {len(report.outages)}, never recovered {report.unrecovered}; "
        f"outage {_spread(report.outage)}; stream gaps {report.stream_gap.count}, "
        f"{_spread(report.stream_gap)}, not resumed {report.unresumed}; "
        f"failures no fault explains {report.unattributed}"
    )
    print(f"[failover] survival: {survival.summary}")
    print(f"[failover] delivery: {messages.summary}")
    lost_sessions = int(survival.counts.get("lost", 0))
    lost_messages = int(messages.counts.get("lost", 0))
    print(
        f"failover: outage p50 {_ms(report.outage.p50)} ms p99 {_ms(report.outage.p99)} ms "
        f"max {_ms(report.outage.max)} ms; stream gap p99 {_ms(report.stream_gap.p99)} ms; "
        f"sessions lost {lost_sessions}; messages lost {lost_messages}",
        flush=True,
    )
    met = (
        report.outage.p99 < TARGET_P99
        and not report.unrecovered
        and not lost_sessions
        and not lost_messages
    )
    return 0 if met else 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--kills", type=int, default=6, help="SIGKILLs, going round the nodes")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between kills")
    parser.add_argument("--down", type=float, default=3.0, help="seconds until the restart")
    parser.add_argument("--think", type=float, default=0.4, help="mean seconds between calls")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--out", help="run directory to keep (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    if args.kills < 1 or args.down >= args.every or args.sessions < 1:
        parser.error("need --kills >= 1, --sessions >= 1 and --down < --every")
    return args


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    run_dir = Path(args.out or tempfile.mkdtemp(prefix="mcp-scale-failover-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    if any(run_dir.iterdir()):
        print(f"[failover] error: {run_dir} is not empty: give a new --out", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.timeout
    try:
        load = run(args, run_dir, deadline)
        history = read_history(run_dir)
        recovery = measure(history)
        ctx = CheckContext(store="redis", scenario="failover")
        survival, messages = check_history(history, ctx, names=["survival", "delivery"])
        rows = [asdict(o) for o in recovery.outages]
        gaps = [asdict(g) for g in recovery.gaps]
        _write_json(run_dir / "recovery.json", {"outages": rows, "gaps": gaps})
        return print_report(recovery, len(history), load, (survival, messages))
    except BenchError as exc:
        print(f"[failover] error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    finally:
        if args.out:
            print(f"[failover] run directory: {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == CHILD_FLAG:
        load_child(json.loads(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())
