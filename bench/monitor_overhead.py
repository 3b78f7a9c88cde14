"""Resource-monitor overhead: what sampling every second costs with 3 nodes and 2,000 streams.

    .venv/bin/python bench/monitor_overhead.py [--streams 2000] [--nodes 3] [--interval 1s]
        [--seconds 30] [--repeats 2] [--timeout 600]

A local cluster (Redis store, ``--nodes`` reference-server nodes, as ``mcp-scale run`` starts
it) and a holder process (gevent, the harness's own MCP client) that opens ``--streams``
sessions, each with its listening GET stream, spread over the nodes, and holds them. Then, in
alternation (``--repeats`` times each, ``--seconds`` each):

- baseline: nothing samples; the nodes' and Redis's CPU is measured;
- sampling: a child process runs the harness's ResourceSampler exactly as a run does (the
  three nodes with their /metrics, Redis's INFO, the holder as the load generator's process
  group; records written to a HistoryWriter) at ``--interval``. Its own CPU (getrusage, from
  its first sweep to its last) is the monitor's cost; the nodes' and Redis's extra CPU over
  the baseline is what the scrapes cost the system under test.

Also, in this process: the cost of reading the two gauges out of a node's /metrics with the
monitor's line scan against prometheus_client's parser (the monitor's earlier way).

Prints medians. Every process it starts is stopped on exit, failure, Ctrl-C and --timeout.
Exit code 0, or 3 on error.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys

HOLD_FLAG, SAMPLE_FLAG = "--hold-child", "--sample-child"
if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == HOLD_FLAG:
    from gevent import monkey

    monkey.patch_all()

import argparse
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from harness.durations import parse_duration

READY = "READY "
RESULT = "RESULT "


# ---- children -----------------------------------------------------------------------------


def hold_child(spec: dict[str, Any]) -> int:
    """Opens the sessions and their streams, prints READY <connected>, holds until killed."""
    import gevent
    import gevent.lock

    from harness.client import ClientConfig, McpClient, Transport

    _raise_fd_limit(spec["streams"] + 200)
    urls: list[str] = spec["urls"]
    transport = Transport()
    clients: list[Any] = []
    gate = gevent.lock.BoundedSemaphore(50)

    def open_one(index: int) -> None:
        with gate:
            config = ClientConfig(urls=[urls[index % len(urls)]], routing="single", timeout=30)
            client = McpClient(config, f"h{index}", None, transport)
            if client.initialize()["type"] != "ok":
                return
            client.open_stream()
            clients.append(client)

    gevent.joinall([gevent.spawn(open_one, i) for i in range(spec["streams"])], timeout=300)
    deadline = time.monotonic() + 60
    connected = 0
    while time.monotonic() < deadline:
        connected = sum(1 for c in clients if c.stream is not None and c.stream.connected.is_set())
        if connected >= spec["streams"]:
            break
        gevent.sleep(0.2)
    print(f"{READY}{connected}", flush=True)
    while True:  # held until the bench kills this process group
        gevent.sleep(3600)


def sample_child(spec: dict[str, Any]) -> int:
    """The harness's sampler, as a run uses it, for ``seconds``; prints RESULT <json>."""
    from harness.history import HistoryWriter
    from harness.monitor import ResourceSampler, SampleTarget

    def fixed(pid: int) -> Any:
        return lambda: pid

    targets = [SampleTarget("loadgen", "loadgen", fixed(spec["holder_pid"]))]
    for node in spec["nodes"]:
        targets.append(
            SampleTarget(node["id"], "node", fixed(node["pid"]), metrics_url=node["metrics"])
        )
    targets.append(
        SampleTarget("redis", "redis", fixed(spec["redis_pid"]), redis_url=spec["redis_url"])
    )
    writer = HistoryWriter(Path(spec["workdir"]) / "history-monitor.jsonl")
    last: dict[str, Any] = {}

    def record(value: dict[str, Any]) -> None:
        writer.write(value)
        last[value["value"]["target"]] = value["value"]

    sampler = ResourceSampler(targets, record, spec["interval"])
    before, wall = _own_cpu(), time.monotonic()
    print("START", flush=True)
    sampler.start()
    time.sleep(spec["seconds"])
    sampler.stop()
    cpu, wall = _own_cpu() - before, time.monotonic() - wall
    writer.close()
    result = {"cpu_s": cpu, "wall_s": wall, "stats": sampler.stats(), "last": last}
    print(RESULT + json.dumps(result), flush=True)
    return 0


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, needed), hard) if hard != resource.RLIM_INFINITY else max(soft, needed)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# ---- the bench ----------------------------------------------------------------------------


class Children:
    """Child processes, each leading its own process group; ``stop_all`` ends them."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[str]] = []

    def spawn(self, args: list[str]) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
            cwd=REPO,
        )
        self.started.append(child)
        return child

    def stop(self, child: subprocess.Popen[str]) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if child.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)
        if child in self.started:
            self.started.remove(child)

    def stop_all(self) -> None:
        for child in reversed(list(self.started)):
            with contextlib.suppress(Exception):
                self.stop(child)


def wait_line(child: subprocess.Popen[str], prefix: str, timeout: float) -> str:
    """The child's first output line starting with ``prefix`` (its other lines are echoed)."""
    assert child.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # bounded by the deadline and by the child's output
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(f"the child exited ({child.poll()}) before printing {prefix!r}")
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
        print(f"  [child] {line.rstrip()}")
    raise RuntimeError(f"no {prefix!r} from the child within {timeout:g}s")


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_cost(metrics_url: str, rounds: int = 2000) -> tuple[float, float]:
    """Microseconds to read the two gauges from one /metrics text: line scan, full parser."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from harness.monitor.sampler import node_gauges

    text = httpx.get(metrics_url, timeout=5).text

    def full(text: str) -> dict[str, float]:
        wanted = {"mcp_open_streams": "open_streams", "mcp_sessions": "sessions"}
        return {
            wanted[f.name]: f.samples[0].value
            for f in text_string_to_metric_families(text)
            if f.name in wanted and f.samples
        }

    assert node_gauges(text) == full(text), (node_gauges(text), full(text))
    costs = []
    for parse in (node_gauges, full):
        started = time.perf_counter()
        for _ in range(rounds):
            parse(text)
        costs.append((time.perf_counter() - started) / rounds * 1e6)
    return costs[0], costs[1]


def run(args: argparse.Namespace) -> int:
    from harness.cluster.local import LocalCluster

    _raise_fd_limit(args.streams + 500)
    workdir = Path(tempfile.mkdtemp(prefix="monitor-overhead-"))
    children = Children()
    cluster = LocalCluster(nodes=args.nodes, store="redis", log_dir=workdir / "logs")
    me = [sys.executable, str(Path(__file__).resolve())]
    try:
        cluster.start()
        assert cluster.redis is not None and cluster.redis.pid is not None
        nodes: list[dict[str, Any]] = [
            {"id": n.node_id, "pid": n.pid, "metrics": f"{n.base_url}/metrics"}
            for n in cluster.members.values()
        ]
        print(f"{args.nodes} nodes and Redis up; opening {args.streams} streams...", flush=True)
        hold_spec = {"urls": cluster.urls, "streams": args.streams}
        holder = children.spawn([*me, HOLD_FLAG, json.dumps(hold_spec)])
        connected = int(wait_line(holder, READY, 400))
        print(f"{connected} streams open; settling 3 s", flush=True)
        time.sleep(3)
        server_pids = [int(n["pid"]) for n in nodes] + [cluster.redis.pid]
        sample_spec = {
            "holder_pid": holder.pid,
            "nodes": nodes,
            "redis_pid": cluster.redis.pid,
            "redis_url": cluster.redis.url,
            "interval": args.interval,
            "seconds": args.seconds,
            "workdir": str(workdir),
        }
        baseline, sampled, monitor, sweeps, last = [], [], [], [], {}
        for round_no in range(1, args.repeats + 1):
            before, wall = sum(cpu_seconds(p) for p in server_pids), time.monotonic()
            time.sleep(args.seconds)
            idle = sum(cpu_seconds(p) for p in server_pids) - before
            baseline.append(100 * idle / (time.monotonic() - wall))
            child = children.spawn([*me, SAMPLE_FLAG, json.dumps(sample_spec)])
            wait_line(child, "START", 60)
            before, wall = sum(cpu_seconds(p) for p in server_pids), time.monotonic()
            result = json.loads(wait_line(child, RESULT, args.seconds + 60))
            busy = sum(cpu_seconds(p) for p in server_pids) - before
            sampled.append(100 * busy / (time.monotonic() - wall))
            children.stop(child)
            monitor.append(100 * result["cpu_s"] / result["wall_s"])
            sweeps.append(result["stats"])
            last = result["last"]
            print(
                f"round {round_no}: monitor {monitor[-1]:.2f}% of a core, servers "
                f"{baseline[-1]:.2f}% idle -> {sampled[-1]:.2f}% sampled",
                flush=True,
            )
        streams = sum(int(last.get(n["id"], {}).get("open_streams", 0)) for n in nodes)
        fds = sum(int(last.get(n["id"], {}).get("fds", 0)) for n in nodes)
        line_us, parser_us = parse_cost(str(nodes[0]["metrics"]))
        print_table(args, connected, streams, fds, monitor, baseline, sampled, sweeps)
        print(
            f"reading the 2 gauges from one /metrics text: line scan {line_us:.1f} us, "
            f"prometheus_client parser {parser_us:.1f} us ({parser_us / line_us:.1f}x)"
        )
        return 0
    finally:
        children.stop_all()
        cluster.close()


def print_table(
    args: argparse.Namespace,
    connected: int,
    streams: int,
    fds: int,
    monitor: list[float],
    baseline: list[float],
    sampled: list[float],
    sweeps: list[dict[str, Any]],
) -> None:
    med = statistics.median
    per_sweep = med(s["cpu_ms_per_sweep"] for s in sweeps)
    print()
    every = f"every {args.interval:g} s"
    print(f"Monitor overhead: {args.nodes} nodes + Redis + load generator, {every}")
    print(f"  streams held: {connected} (the nodes' /metrics: {streams}; their fds: {fds})")
    print(f"  rounds: {args.repeats} x {args.seconds:g} s of each, medians")
    print(f"  {'monitor process CPU':34} {med(monitor):6.2f} % of one core")
    print(f"  {'  sampler thread, per sweep':34} {per_sweep:6.2f} ms CPU")
    print(f"  {'  sweep wall time p50 / max':34} {med(s['sweep_ms_p50'] for s in sweeps):6.2f} / "
          f"{max(s['sweep_ms_max'] for s in sweeps):.2f} ms")  # fmt: skip
    added = med(sampled) - med(baseline)
    print(f"  {'nodes + Redis CPU, not sampled':34} {med(baseline):6.2f} % of one core")
    print(f"  {'nodes + Redis CPU, sampled':34} {med(sampled):6.2f} % ({added:+.2f})")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--interval", type=parse_duration, default=1.0)
    parser.add_argument("--seconds", type=parse_duration, default=30.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout", type=parse_duration, default=600.0)
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGALRM, _interrupt)
    signal.alarm(int(args.timeout))
    try:
        return run(args)
    except KeyboardInterrupt as exc:
        print(f"interrupted: {exc}", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    finally:
        signal.alarm(0)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == HOLD_FLAG:
        sys.exit(hold_child(json.loads(sys.argv[2])))
    if len(sys.argv) > 2 and sys.argv[1] == SAMPLE_FLAG:
        sys.exit(sample_child(json.loads(sys.argv[2])))
    sys.exit(main())
