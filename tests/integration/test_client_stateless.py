"""The load client in revision 2026-07-28 against two real server processes
(tests/support/stateless_server.py, until the reference server speaks it): an MRTR retry that
lands on the other node, and a listen stream that drops, is reopened and re-lists."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import gevent
import httpx
import pytest

from harness.client import ClientConfig, McpClient
from harness.cluster.redis_process import free_port
from harness.history import Record
from tests.support.conformance import ROOT, stop


@pytest.fixture
def nodes() -> Iterator[list[str]]:
    started: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for node_id in ("n1", "n2"):
            port = free_port()
            command = [sys.executable, "-m", "tests.support.stateless_server"]
            command += ["--port", str(port), "--node-id", node_id, "--drops", "1"]
            process = subprocess.Popen(
                command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
            started.append((process, f"http://127.0.0.1:{port}"))
        for process, base in started:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None and time.monotonic() < deadline, "node not up"
                time.sleep(0.1)
        yield [f"{base}/mcp" for _, base in started]
    finally:
        for process, _ in started:
            stop(process)


def _client(urls: list[str]) -> tuple[McpClient, list[Record]]:
    records: list[Record] = []
    config = ClientConfig(
        urls=urls,
        routing="round_robin",
        protocol_version="2026-07-28",
        node_names={url: f"n{i}" for i, url in enumerate(urls, 1)},
        stream_backoff=0.02,
    )
    return McpClient(config, "p1", records.append), records


def _of(records: list[Record], f: str) -> list[Record]:
    return [r for r in records if r["f"] == f and r["type"] != "invoke"]


@pytest.mark.timeout(60)
def test_an_mrtr_retry_may_land_on_another_node(nodes: list[str]) -> None:
    client, records = _client(nodes)
    try:
        assert client.needs_initialize is False
        done = client.call_tool("ask")
        assert done["type"] == "ok", done
        assert done["rounds"] == 2
        assert done["value"]["minted_by"] != done["value"]["finished_by"]  # round robin
        (asked,) = _of(records, "input_required")
        assert asked["value"]["inputs"] == {"q": "sampling/createMessage"}
        assert asked["node"] == done["value"]["minted_by"] and done["node"] != asked["node"]
        (answered,) = _of(records, "input_response")
        assert answered["value"]["text"].startswith("answer:")
    finally:
        client.close()


@pytest.mark.timeout(60)
def test_a_dropped_listen_stream_is_reopened_and_relisted(nodes: list[str]) -> None:
    client, records = _client(nodes)
    try:
        stream = client.open_stream()
        deadline = time.monotonic() + 20
        while len(_of(records, "stream_break")) < 3 and time.monotonic() < deadline:
            gevent.sleep(0.05)
        breaks = [r["value"]["reason"] for r in _of(records, "stream_break")]
        # Each node drops its first listen (no result), then ends the next one gracefully.
        assert breaks[:3] == ["eof", "eof", "complete"], breaks
        relists = _of(records, "relist")
        assert relists and all(r["type"] == "ok" for r in relists)
        asked = {
            r["value"]["method"] for r in records if r["f"] == "relist" and r["type"] == "invoke"
        }
        assert asked == {"tools/list", "prompts/list", "resources/list"}
        messages: list[Any] = [r["value"] for r in _of(records, "message")]
        methods = [m.get("method") for m in messages]
        assert "notifications/subscriptions/acknowledged" in methods
        assert "notifications/tools/list_changed" in methods
        assert all(r["stream"] == "listen" for r in _of(records, "message"))
        assert stream.opened >= 3
    finally:
        client.close()
