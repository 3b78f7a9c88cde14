"""Fault-proxy overhead with no fault active: what standing in a node's client link costs.

    .venv/bin/python bench/proxy_overhead.py [--requests 2000] [--repeats 3] [--timeout 300]

One reference-server node (memory store) started as ``mcp-scale run`` starts it when a run has
a client-link fault: the fault proxy (harness.network) in front of it, its link clean. One
MCP session over a keep-alive connection sends ``ping`` requests one after another, in
alternating blocks of ``--requests``: straight to the node, then through the proxy.

Prints, as medians over the blocks: latency p50 and p99 direct and proxied, the latency the
proxy adds and the ratio; the proxy process's CPU per 1,000 requests (user + system, from
/proc) and that as a share of the node's own CPU for the same requests. Every process it
starts is stopped on exit, failure, Ctrl-C and --timeout. Exit code 0, or 3 on error.
"""

# ruff: noqa: E402
from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx

from harness.cluster.local import LocalCluster

TICK = os.sysconf("SC_CLK_TCK")
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def session(http: httpx.Client, url: str) -> dict[str, str]:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        },
    }
    answer = http.post(url, json=body, headers=HEADERS)
    answer.raise_for_status()
    headers = {**HEADERS, "mcp-session-id": answer.headers["mcp-session-id"]}
    headers["mcp-protocol-version"] = "2025-11-25"
    http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    return headers


def block(http: httpx.Client, url: str, headers: dict[str, str], n: int) -> list[float]:
    """``n`` pings, one after another; each one's latency in seconds."""
    latencies = []
    for i in range(n):  # bounded by n
        started = time.perf_counter()
        answer = http.post(
            url, json={"jsonrpc": "2.0", "id": i + 2, "method": "ping"}, headers=headers
        )
        latencies.append(time.perf_counter() - started)
        answer.raise_for_status()
    return latencies


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"gave up after --timeout {args.timeout:g}s")

    signal.signal(signal.SIGALRM, expire)
    signal.alarm(int(args.timeout))
    cluster = LocalCluster(nodes=1, store="memory", proxied=frozenset({"clients"}))
    try:
        cluster.start()
        node = cluster.members["n1"]
        assert cluster.links is not None and node.pid is not None
        proxy_pid = cluster.links.proxy.pid
        assert proxy_pid is not None
        routes = {"direct": node.url, "proxied": cluster.urls[0]}
        p50: dict[str, list[float]] = {"direct": [], "proxied": []}
        p99: dict[str, list[float]] = {"direct": [], "proxied": []}
        proxy_cpu, node_cpu = [], []
        with httpx.Client(timeout=10.0) as http:
            headers = {route: session(http, url) for route, url in routes.items()}
            for route, url in routes.items():  # warm-up: connections, caches
                block(http, url, headers[route], 200)
            for _ in range(args.repeats):
                for route, url in routes.items():
                    before_proxy, before_node = cpu_seconds(proxy_pid), cpu_seconds(node.pid)
                    latencies = block(http, url, headers[route], args.requests)
                    p50[route].append(quantile(latencies, 0.5))
                    p99[route].append(quantile(latencies, 0.99))
                    if route == "proxied":
                        per_k = 1000 / args.requests
                        proxy_cpu.append((cpu_seconds(proxy_pid) - before_proxy) * per_k)
                        node_cpu.append((cpu_seconds(node.pid) - before_node) * per_k)
    except Exception as exc:
        print(f"proxy_overhead: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    finally:
        signal.alarm(0)
        cluster.close()
    med = statistics.median
    print(f"load: {os.getloadavg()[0]:.2f} (1 min), {args.repeats} x {args.requests} pings each")
    for name, values in (("p50", p50), ("p99", p99)):
        direct, proxied = med(values["direct"]) * 1000, med(values["proxied"]) * 1000
        print(
            f"latency {name}: direct {direct:.3f} ms, proxied {proxied:.3f} ms, "
            f"added {proxied - direct:.3f} ms (x{proxied / direct:.2f})"
        )
    proxy, own = med(proxy_cpu) * 1000, med(node_cpu) * 1000
    print(
        f"proxy CPU per 1,000 requests: {proxy:.0f} ms "
        f"({proxy / own:.2f} of the node's own {own:.0f} ms for them)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
