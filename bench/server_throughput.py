"""tools/call ``echo`` throughput of one reference-server node against the official Python SDK.

One command runs everything: it starts a redis-server of its own (for the Redis mode), starts
each server in turn as a subprocess pinned to one core (``taskset -c 0``), opens MCP sessions
on it, checks that one ``echo`` call really answers with the echoed text, then drives it from
the other core with wrk (a generated Lua script: POST tools/call ``echo``, a unique JSON-RPC id
and a unique text per request, ``Mcp-Session-Id`` and ``MCP-Protocol-Version`` headers, every
response body checked) for a warm-up and then for ``--duration`` seconds, and prints::

    server, req/s, req/cpu-s, p50 ms, p99 ms, non-2xx, socket errors, bad bodies,
    CPU % of the server, of wrk, of redis-server and of everything else, vs SDK, vs json

``vs SDK`` is req/s of that server over req/s of the SDK server with its defaults, the
baseline of the target in docs/architecture.md (ours >= 3x); ``vs json`` is the same against
the SDK server with ``json_response=True``, which answers like ours (application/json rather
than SSE).
``req/cpu-s`` is requests per CPU second of the server process: its efficiency, which holds
even when other processes take part of the server's core (then req/s drops, ``other%`` is
high and the table says that the machine was not quiet).

Usage::

    .venv/bin/python bench/server_throughput.py [--duration 10] [--connections 32]
        [--only {ours,sdk}] [--warmup 3] [--skip-sdk-json] [--json-out results.json]
        [--revision {2025-11-25,2026-07-28}]

``--revision 2026-07-28`` measures the stateless revision instead: no sessions, each request
carries its ``_meta`` (protocol version, client capabilities) and the ``MCP-Protocol-Version``,
``Mcp-Method`` and ``Mcp-Name`` headers; the SDK server is the same process (it serves both
eras on its endpoint and answers 2026-07-28 calls as JSON).

Servers measured:

- ``ours-memory``: ``python -m reference_server --session-store memory --stream-manager memory``
- ``ours-redis``: the same with ``redis`` for both, against the redis-server started here
  (pinned to the client core, so that the server core only runs the node);
- ``sdk``: ``bench/sdk_server.py`` (``mcp`` 2.x ``MCPServer``, stateful Streamable HTTP,
  uvicorn defaults: POST answers as text/event-stream, access log on);
- ``sdk-json``: the same with ``--json-response`` (skipped with ``--skip-sdk-json``).

Requests are spread round-robin over ``--sessions`` MCP sessions (default: one per connection;
wrk has no per-connection hook). The server CPU column near 100% shows the server core was the
bottleneck; the wrk CPU column shows the client core had room to spare.

Every process it starts is stopped on exit, on failure and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.cluster.redis_process import RedisProcess, free_port  # noqa: E402

PROTOCOL_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
REVISIONS = (PROTOCOL_VERSION, MODERN_VERSION)
# The per-request _meta of a 2026-07-28 call, as the Lua script splices it into each body.
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
    "io.modelcontextprotocol/clientInfo": {"name": "mcp-scale-bench", "version": "0.1.0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
MCP_PATH = "/mcp"
ACCEPT = "application/json, text/event-stream"
ECHO_MARKER = "bench-echo-"
HEALTH_TIMEOUT_S = 60.0
# CPU used by processes other than the server, wrk and redis-server (and the kernel's share of
# the loopback traffic) above which the table warns that the machine was not quiet.
OTHER_CPU_WARN_PCT = 25.0


class BenchError(RuntimeError):
    """The benchmark could not be carried out (a server did not start, a check failed)."""


# --------------------------------------------------------------------------------------------
# Processes


@dataclass
class Started:
    """A child process we started, in its own session (so its process group id is its pid)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path | None = None

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass
class Processes:
    """Every process this run started; ``stop_all`` ends them (and only them)."""

    started: list[Started] = field(default_factory=list)

    def spawn(
        self, name: str, args: Sequence[str], log_path: Path | None = None, cwd: Path = REPO
    ) -> Started:
        out: Any = subprocess.DEVNULL
        if log_path is not None:
            out = log_path.open("wb")
        try:
            process = subprocess.Popen(
                list(args),
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            if log_path is not None:
                out.close()
        item = Started(name, process, log_path)
        self.started.append(item)
        return item

    def stop(self, item: Started, timeout: float = 5.0) -> None:
        process = item.process
        if process.poll() is None:
            # Our child leads its own process group: signal that group (its pid), nothing else.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=timeout)
        if item in self.started:
            self.started.remove(item)

    def stop_all(self) -> None:
        for item in reversed(list(self.started)):
            with contextlib.suppress(Exception):
                self.stop(item)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc (0.0 when it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def machine_busy_seconds() -> float:
    """CPU seconds spent busy on all cores since boot (everything but idle and iowait)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    steal_and_guests = sum(values[7:])  # steal, guest, guest_nice: not ours to count
    return (sum(values) - idle - steal_and_guests) / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit_s: float, threshold_pct: float = 15.0) -> bool:
    """Wait (up to ``limit_s``) for one second in which the machine is nearly idle."""
    deadline = time.monotonic() + limit_s
    while True:
        before = machine_busy_seconds()
        time.sleep(1.0)
        if 100.0 * (machine_busy_seconds() - before) <= threshold_pct:
            return True
        if time.monotonic() >= deadline:
            return False


# --------------------------------------------------------------------------------------------
# MCP over HTTP, just enough to open sessions and check one call


def _json_messages(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of a POST answer, whether application/json or an SSE stream."""
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = response.json()
        return body if isinstance(body, list) else [body]
    if content_type.startswith("text/event-stream"):
        messages: list[dict[str, Any]] = []
        data: list[str] = []
        for line in [*response.text.splitlines(), ""]:
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif line == "" and data:
                text = "\n".join(data)
                data = []
                if text.strip():
                    messages.append(json.loads(text))
        return messages
    raise BenchError(f"unexpected content-type {content_type!r}: {response.text[:200]!r}")


def _result_for(response: httpx.Response, request_id: int) -> dict[str, Any]:
    if response.status_code != 200:
        raise BenchError(f"HTTP {response.status_code}: {response.text[:300]!r}")
    for message in _json_messages(response):
        if message.get("id") == request_id:
            if "error" in message:
                raise BenchError(f"JSON-RPC error: {message['error']}")
            result = message.get("result")
            if isinstance(result, dict):
                return result
    raise BenchError(f"no response with id {request_id} in {response.text[:300]!r}")


@dataclass
class Session:
    session_id: str
    protocol_version: str


def open_session(client: httpx.Client, url: str) -> Session:
    """initialize, then notifications/initialized; the session id and negotiated version."""
    headers = {"Accept": ACCEPT, "Content-Type": "application/json"}
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcp-scale-bench", "version": "0.1.0"},
        },
    }
    response = client.post(url, json=init, headers=headers)
    result = _result_for(response, 0)
    session_id = response.headers.get("mcp-session-id")
    if not session_id:
        raise BenchError("initialize answered without an Mcp-Session-Id header")
    version = str(result.get("protocolVersion", PROTOCOL_VERSION))
    headers |= {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": version}
    note = client.post(
        url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
    )
    if note.status_code != 202:
        raise BenchError(f"notifications/initialized answered HTTP {note.status_code}")
    return Session(session_id, version)


def check_echo(client: httpx.Client, url: str, session: Session | None) -> str:
    """One tools/call echo (in 2026-07-28 when ``session`` is None); raises unless the result
    carries the text back. Its content-type."""
    text = f"{ECHO_MARKER}check-{time.monotonic_ns()}"
    headers = {"Accept": ACCEPT, "Content-Type": "application/json"}
    params: dict[str, Any] = {"name": "echo", "arguments": {"text": text}}
    if session is None:
        headers |= {"MCP-Protocol-Version": MODERN_VERSION}
        headers |= {"Mcp-Method": "tools/call", "Mcp-Name": "echo"}
        params["_meta"] = MODERN_META
    else:
        headers |= {"Mcp-Session-Id": session.session_id}
        headers |= {"MCP-Protocol-Version": session.protocol_version}
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    response = client.post(url, json=call, headers=headers)
    result = _result_for(response, 1)
    content = result.get("content") or [{}]
    if result.get("isError") or content[0].get("text") != text:
        raise BenchError(f"echo did not answer {text!r}: {result}")
    return str(response.headers.get("content-type", "")).split(";")[0]


def wait_healthy(item: Started, base_url: str, timeout: float = HEALTH_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if item.process.poll() is not None:
                raise BenchError(
                    f"{item.name} exited with {item.process.returncode}:\n{item.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{base_url}/healthz").status_code == 200:
                    return
            time.sleep(0.1)
    raise BenchError(f"{item.name}: /healthz not 200 within {timeout}s:\n{item.log_tail()}")


# --------------------------------------------------------------------------------------------
# wrk

LUA_TEMPLATE = r"""-- Generated by bench/server_throughput.py.
-- POST tools/call echo with a unique JSON-RPC id per request; check every response body.
local sessions = {%(sessions)s}
local protocol_version = "%(protocol_version)s"
-- 2026-07-28: no sessions; the _meta goes into every body, Mcp-Method and Mcp-Name headers.
local modern_meta = '%(modern_meta)s'
local host_header = "%(host_header)s"
local path = "%(path)s"
local marker = "%(marker)s"

local threads = {}
local next_index = 1

function setup(thread)
  thread:set("thread_index", next_index)
  next_index = next_index + 1
  table.insert(threads, thread)
end

function init(args)
  run_index = tonumber(args[1] or "1")
  counter = 0
  good = 0
  bad = 0
  sample = ""
  headers = {
    ["Host"] = host_header,
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["MCP-Protocol-Version"] = protocol_version,
  }
  if modern_meta ~= "" then
    headers["Mcp-Method"] = "tools/call"
    headers["Mcp-Name"] = "echo"
  end
  -- run, thread and counter make the JSON-RPC id (and the echoed text) unique per request.
  id_prefix = string.format("%%d%%03d", run_index, thread_index)
end

function request()
  counter = counter + 1
  local id = id_prefix .. string.format("%%09d", counter)
  if #sessions > 0 then
    headers["Mcp-Session-Id"] = sessions[((counter + thread_index) %% #sessions) + 1]
  end
  local body = '{"jsonrpc":"2.0","id":' .. id ..
    ',"method":"tools/call","params":{"name":"echo","arguments":{"text":"' ..
    marker .. id .. '"}' .. modern_meta .. '}}'
  return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
  if status >= 200 and status < 300 and body ~= nil
      and string.find(body, marker, 1, true) ~= nil
      and string.find(body, '"isError"%%s*:%%s*true') == nil
      and string.find(body, '"error"%%s*:') == nil then
    good = good + 1
  else
    bad = bad + 1
    if sample == "" then
      sample = tostring(status) .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local good_total, bad_total, first_bad = 0, 0, ""
  for _, thread in ipairs(threads) do
    good_total = good_total + thread:get("good")
    bad_total = bad_total + thread:get("bad")
    local s = thread:get("sample")
    if first_bad == "" and s ~= nil then first_bad = s end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p90_us":%%d,' ..
    '"p99_us":%%d,"max_us":%%d,"mean_us":%%.1f,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"status":%%d,"timeout":%%d,"good":%%d,"bad":%%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write,
    e.status, e.timeout, good_total, bad_total))
  io.write("BENCH_SAMPLE " .. (string.gsub(first_bad, "[\r\n]+", " ")) .. "\n")
end
"""


def write_lua(path: Path, sessions: Sequence[Session], port: int, revision: str) -> None:
    def lua_string(value: str) -> str:
        if not all(c.isprintable() and c not in '"\\' for c in value):
            raise BenchError(f"unexpected characters in {value!r}")
        return f'"{value}"'

    path.write_text(
        LUA_TEMPLATE
        % {
            "sessions": ", ".join(lua_string(s.session_id) for s in sessions),
            "protocol_version": sessions[0].protocol_version if sessions else revision,
            "modern_meta": (
                ',"_meta":' + json.dumps(MODERN_META, separators=(",", ":"))
                if revision == MODERN_VERSION
                else ""
            ),
            "host_header": f"127.0.0.1:{port}",
            "path": MCP_PATH,
            "marker": ECHO_MARKER,
        }
    )


@dataclass
class WrkResult:
    requests: int
    duration_us: int
    p50_us: int
    p90_us: int
    p99_us: int
    max_us: int
    mean_us: float
    connect: int
    read: int
    write: int
    status: int
    timeout: int
    good: int
    bad: int
    sample: str = ""
    client_cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / (self.duration_us / 1e6) if self.duration_us else 0.0

    @property
    def socket_errors(self) -> int:
        return self.connect + self.read + self.write + self.timeout


def run_wrk(
    procs: Processes,
    args: argparse.Namespace,
    lua: Path,
    url: str,
    seconds: float,
    run_index: int,
    log_path: Path,
) -> WrkResult:
    command = [
        "taskset", "-c", str(args.client_cpu),
        "wrk",
        "-t", str(args.wrk_threads),
        "-c", str(args.connections),
        "-d", f"{max(1, round(seconds))}s",
        "--timeout", "5s",
        "-s", str(lua),
        url,
        "--", str(run_index),
    ]  # fmt: skip
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    item = procs.spawn("wrk", command, log_path=log_path)
    try:
        code = item.process.wait(timeout=seconds + 60)
    finally:
        procs.stop(item)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = children_after.ru_utime + children_after.ru_stime
    client_cpu -= children_before.ru_utime + children_before.ru_stime
    output = log_path.read_text(errors="replace")
    if code != 0:
        raise BenchError(f"wrk exited with {code}:\n{output[-2000:]}")
    data: dict[str, Any] | None = None
    sample = ""
    for line in output.splitlines():
        if line.startswith("BENCH_RESULT "):
            data = json.loads(line.removeprefix("BENCH_RESULT "))
        elif line.startswith("BENCH_SAMPLE "):
            sample = line.removeprefix("BENCH_SAMPLE ")
    if data is None:
        raise BenchError(f"wrk printed no result:\n{output[-2000:]}")
    return WrkResult(**data, sample=sample, client_cpu_s=client_cpu)


# --------------------------------------------------------------------------------------------
# One server


@dataclass
class Target:
    name: str
    command: list[str]
    port: int
    uses_redis: bool = False


@dataclass
class Measurement:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    bad_bodies: int
    server_cpu_pct: float
    per_cpu_s: float
    wrk_cpu_pct: float
    redis_cpu_pct: float | None
    other_cpu_pct: float
    content_type: str
    requests: int
    sample_bad: str = ""
    ratio: float | None = None
    ratio_json: float | None = None


def targets(args: argparse.Namespace, redis_url: str | None) -> list[Target]:
    """The servers to measure, in order, each with a fresh port."""
    python = sys.executable
    chosen: list[Target] = []
    if args.only in (None, "sdk"):
        variants: list[tuple[str, list[str]]] = [("sdk", [])]
        if not args.skip_sdk_json:
            variants.append(("sdk-json", ["--json-response"]))
        for name, extra in variants:
            port = free_port()
            sdk = [python, str(REPO / "bench" / "sdk_server.py"), "--host", "127.0.0.1"]
            sdk += ["--port", str(port), "--node-id", name, *extra]
            chosen.append(Target(name, sdk, port))
    if args.only in (None, "ours"):
        modes: list[tuple[str, list[str]]] = [("memory", [])]
        if redis_url is not None:
            modes.append(("redis", ["--redis-url", redis_url]))
        for mode, extra in modes:
            port = free_port()
            command = [python, "-m", "reference_server", "--host", "127.0.0.1"]
            command += ["--port", str(port), "--node-id", f"bench-{mode}"]
            command += ["--session-store", mode, "--stream-manager", mode, *extra]
            chosen.append(Target(f"ours-{mode}", command, port, uses_redis=mode == "redis"))
    return chosen


def measure(
    procs: Processes,
    args: argparse.Namespace,
    target: Target,
    workdir: Path,
    redis_pid: int | None = None,
) -> Measurement:
    port = target.port
    base_url = f"http://127.0.0.1:{port}"
    url = base_url + MCP_PATH
    command = ["taskset", "-c", str(args.server_cpu), *target.command]
    log = workdir / f"{target.name}.log"
    if args.wait_quiet > 0 and not wait_quiet(args.wait_quiet):
        print(f"[{target.name}] the machine is still busy after {args.wait_quiet:g}s; going on")
    print(f"[{target.name}] starting: {' '.join(target.command[1:])}", flush=True)
    server = procs.spawn(target.name, command, log_path=log)
    try:
        wait_healthy(server, base_url)
        modern = args.revision == MODERN_VERSION
        n_sessions = 0 if modern else args.sessions or args.connections
        with httpx.Client(timeout=10.0) as client:
            sessions = [open_session(client, url) for _ in range(n_sessions)]
            content_type = check_echo(client, url, sessions[0] if sessions else None)
        print(
            f"[{target.name}] {args.revision}, {n_sessions} sessions open; echo check ok "
            f"({content_type}); "
            f"warm-up {args.warmup:g}s, then {args.duration:g}s at {args.connections} "
            "connections",
            flush=True,
        )
        lua = workdir / f"{target.name}.lua"
        write_lua(lua, sessions, port, args.revision)
        if args.warmup > 0:
            warm = run_wrk(procs, args, lua, url, args.warmup, 1, workdir / "wrk-warmup.out")
            if warm.bad or warm.status:
                raise BenchError(
                    f"{target.name}: {warm.bad} bad responses in warm-up, e.g. {warm.sample}"
                )
        cpu_before = cpu_seconds(server.process.pid)
        redis_before = cpu_seconds(redis_pid) if redis_pid else 0.0
        busy_before = machine_busy_seconds()
        wall_before = time.monotonic()
        result = run_wrk(procs, args, lua, url, args.duration, 2, workdir / "wrk.out")
        wall = max(1e-9, time.monotonic() - wall_before)
        busy = machine_busy_seconds() - busy_before
        server_cpu = cpu_seconds(server.process.pid) - cpu_before
        redis_cpu = cpu_seconds(redis_pid) - redis_before if redis_pid else 0.0
        other_pct = 100.0 * (busy - server_cpu - redis_cpu - result.client_cpu_s) / wall
        redis_pct = 100.0 * redis_cpu / wall if redis_pid else None
        if server.process.poll() is not None:
            raise BenchError(f"{target.name} died during the run:\n{server.log_tail()}")
        with httpx.Client(timeout=10.0) as client:
            check_echo(client, url, sessions[-1] if sessions else None)
    finally:
        procs.stop(server)
    return Measurement(
        name=target.name,
        rps=result.rps,
        p50_ms=result.p50_us / 1000,
        p99_ms=result.p99_us / 1000,
        non_2xx=result.status,
        socket_errors=result.socket_errors,
        bad_bodies=result.bad,
        server_cpu_pct=100.0 * server_cpu / wall,
        per_cpu_s=result.requests / server_cpu if server_cpu > 0 else 0.0,
        other_cpu_pct=max(0.0, other_pct),
        wrk_cpu_pct=100.0 * result.client_cpu_s / wall,
        redis_cpu_pct=redis_pct,
        content_type=content_type,
        requests=result.requests,
        sample_bad=result.sample,
    )


# --------------------------------------------------------------------------------------------
# Report


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def print_table(rows: Sequence[Measurement], args: argparse.Namespace) -> None:
    columns = (
        ("server", 12), ("req/s", 7), ("req/cpu-s", 9), ("p50 ms", 7), ("p99 ms", 7),
        ("non-2xx", 7), ("sockerr", 7), ("badbody", 7), ("srv%", 5), ("wrk%", 5),
        ("redis%", 6), ("other%", 6), ("vs SDK", 7), ("vs json", 7), ("response", 0),
    )  # fmt: skip
    print()
    print(
        f"tools/call echo ({args.revision}), {args.connections} connections, {args.duration:g}s "
        f"(+{args.warmup:g}s warm-up), server on CPU {args.server_cpu}, wrk on CPU "
        f"{args.client_cpu}; % = CPU use (100% = one core)"
    )
    header = " ".join(
        name.ljust(width) if i == 0 else name.rjust(width)
        for i, (name, width) in enumerate(columns)
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = (
            row.name, f"{row.rps:.0f}", f"{row.per_cpu_s:.0f}",
            f"{row.p50_ms:.2f}", f"{row.p99_ms:.2f}",
            str(row.non_2xx), str(row.socket_errors), str(row.bad_bodies),
            _pct(row.server_cpu_pct), _pct(row.wrk_cpu_pct), _pct(row.redis_cpu_pct),
            _pct(row.other_cpu_pct), _times(row.ratio), _times(row.ratio_json),
            row.content_type,
        )  # fmt: skip
        print(
            " ".join(
                cell.ljust(width) if i == 0 else cell.rjust(width)
                for i, (cell, (_, width)) in enumerate(zip(cells, columns, strict=True))
            )
        )
    for row in rows:
        if row.other_cpu_pct > OTHER_CPU_WARN_PCT:
            print(
                f"{row.name}: other processes used {row.other_cpu_pct:.0f}% of a core during "
                "the run: the machine was not quiet, so measure again"
            )
        if row.sample_bad:
            print(f"{row.name}: first bad response: {row.sample_bad}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="tools/call echo throughput: reference server vs the official Python SDK"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up first")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", choices=["ours", "sdk"], default=None)
    parser.add_argument(
        "--sessions", type=int, default=0, help="MCP sessions to spread requests over "
        "(default: one per connection)"
    )  # fmt: skip
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument(
        "--redis-persistent", action="store_true",
        help="run redis-server with appendonly + fsync always (default: no persistence)",
    )  # fmt: skip
    parser.add_argument(
        "--skip-sdk-json", action="store_true",
        help="do not also measure the SDK server with json_response=True (row sdk-json)",
    )  # fmt: skip
    parser.add_argument(
        "--wait-quiet", type=float, default=0.0, metavar="SECONDS",
        help="before each server, wait up to this long for the machine to be idle",
    )  # fmt: skip
    parser.add_argument(
        "--revision", choices=REVISIONS, default=PROTOCOL_VERSION,
        help="the MCP revision the calls speak (2026-07-28: stateless, no sessions)",
    )  # fmt: skip
    parser.add_argument("--json-out", type=Path, default=None, help="also write results here")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temp dir of logs")
    args = parser.parse_args(argv)
    if args.duration < 1 or args.connections < 1 or args.wrk_threads < 1:
        parser.error("--duration >= 1, --connections >= 1 and --wrk-threads >= 1")
    if args.wrk_threads > args.connections:
        parser.error("--wrk-threads must not exceed --connections")
    return args


@contextlib.contextmanager
def maybe_redis(args: argparse.Namespace) -> Iterator[RedisProcess | None]:
    if args.only == "sdk":
        yield None
        return
    redis = RedisProcess(persistent=args.redis_persistent)
    try:
        redis.start()
        assert redis.pid is not None
        with contextlib.suppress(OSError):
            os.sched_setaffinity(redis.pid, {args.client_cpu})
        yield redis
    finally:
        redis.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for tool, package in (("wrk", "wrk"), ("taskset", "util-linux")):
        if shutil.which(tool) is None:
            print(
                f"error: {tool} is not installed: `make setup` installs it as root, or "
                f"`sudo apt-get install {package}` (Debian)",
                file=sys.stderr,
            )
            return 3
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    procs = Processes()
    workdir = Path(tempfile.mkdtemp(prefix="mcp-scale-bench-"))
    rows: list[Measurement] = []
    code = 0
    try:
        with maybe_redis(args) as redis:
            redis_url = redis.url if redis is not None else None
            for target in targets(args, redis_url):
                try:
                    pid = redis.pid if redis is not None and target.uses_redis else None
                    rows.append(measure(procs, args, target, workdir, pid))
                except BenchError as exc:
                    print(f"[{target.name}] FAILED: {exc}", file=sys.stderr, flush=True)
                    code = 3
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    finally:
        procs.stop_all()
        if args.keep_logs or code == 3:
            print(f"logs: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    sdk = next((row for row in rows if row.name == "sdk"), None)
    sdk_json = next((row for row in rows if row.name == "sdk-json"), None)
    for row in rows:
        if sdk is not None and sdk.rps > 0:
            row.ratio = row.rps / sdk.rps
        if sdk_json is not None and sdk_json.rps > 0:
            row.ratio_json = row.rps / sdk_json.rps
    if rows:
        print_table(rows, args)
    if any(row.non_2xx or row.bad_bodies or row.socket_errors for row in rows):
        print("WARNING: some responses failed; the req/s above counts them", file=sys.stderr)
        code = code or 1
    if args.json_out is not None:
        args.json_out.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
