"""Static headers (credentials) on a real run: on every request and stream, in no record.

A run of the notifications scenario (POSTs, listening GET streams, sampling answers) against
two reference-server nodes, each behind a small capturing TCP proxy of this test, with one
header from ``--header`` and one from the target profile's ``headers:``, both values read from
the environment (``${VAR}``). The proxies see both headers on every POST, GET and DELETE; the
run directory (history, run.json, Locust's log and CSVs, node logs, the report) holds neither
value, and run.json names both headers.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from harness.cluster.local import LocalCluster
from harness.cluster.redis_process import free_port
from harness.history import read_history
from harness.run.directory import RunManifest
from harness.target_profile import REFERENCE_PROFILE
from tests.support.cli import mcp_scale

# A request line of the MCP endpoint and its head (a JSON body never holds this line).
REQUEST_HEAD = re.compile(rb"(POST|GET|DELETE) /mcp HTTP/1\.1\r\n(.*?)\r\n\r\n", re.DOTALL)


class CaptureProxy:
    """127.0.0.1:port -> a node; keeps every byte clients sent (per connection)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", free_port()))
        self.port = self.listener.getsockname()[1]
        self.sent: list[bytearray] = []
        self._sockets: list[socket.socket] = [self.listener]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def heads(self) -> list[tuple[bytes, bytes]]:
        with self._lock:
            data = [bytes(b) for b in self.sent]
        return [(m.group(1), m.group(2)) for chunk in data for m in REQUEST_HEAD.finditer(chunk)]

    def close(self) -> None:
        with self._lock:
            for sock in self._sockets:
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            buffer = bytearray()
            with self._lock:
                self.sent.append(buffer)
                self._sockets += [client, upstream]
            threading.Thread(
                target=self._pipe, args=(client, upstream, buffer), daemon=True
            ).start()
            threading.Thread(target=self._pipe, args=(upstream, client, None), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, keep: bytearray | None) -> None:
        while True:
            try:
                data = src.recv(65536)
                if not data:
                    break
                if keep is not None:
                    with self._lock:
                        keep += data
                dst.sendall(data)
            except OSError:
                break
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxies(make_cluster: Callable[..., LocalCluster]) -> Iterator[list[CaptureProxy]]:
    cluster = make_cluster(nodes=2, store="redis")
    started = [CaptureProxy(_address(url)) for url in cluster.urls]
    try:
        yield started
    finally:
        for proxy in started:
            proxy.close()


def _address(url: str) -> tuple[str, int]:
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    return host, int(port)


@pytest.mark.timeout(240)
def test_static_headers_on_every_request_and_in_no_record(
    proxies: list[CaptureProxy], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_secret, profile_secret = (f"s3cr3t-{secrets.token_hex(12)}" for _ in range(2))
    monkeypatch.setenv("MCP_SCALE_TEST_RUN_TOKEN", run_secret)
    monkeypatch.setenv("MCP_SCALE_TEST_PROFILE_TOKEN", profile_secret)
    target = yaml.safe_load(REFERENCE_PROFILE.read_text())
    target["headers"] = {"X-Profile-Token": "${MCP_SCALE_TEST_PROFILE_TOKEN}"}
    target_file = tmp_path / "target.yaml"
    target_file.write_text(yaml.safe_dump(target))
    out = tmp_path / "run"
    result = mcp_scale(
        "run",
        "--target", ",".join(p.url for p in proxies),
        "--target-profile", str(target_file),
        "--scenario", "notifications",
        "--users", "4",
        "--spawn-rate", "4",
        "--duration", "60s",
        "--until-requests", "80",
        "--header", "Authorization: Bearer ${MCP_SCALE_TEST_RUN_TOKEN}",
        "--out", str(out),
        state_dir=tmp_path / "state",
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stdout + result.stderr

    heads = [head for proxy in proxies for head in proxy.heads()]
    methods = {method for method, _ in heads}
    assert {b"POST", b"GET"} <= methods, f"expected POSTs and GET streams, saw {methods}"
    wanted = (
        f"Authorization: Bearer {run_secret}\r\n".encode(),
        f"X-Profile-Token: {profile_secret}\r\n".encode(),
    )
    # The external backend's reachability probe (httpx, before the run) is not the load
    # client's: any answer, even a 401, proves a server listens.
    heads = [(m, h) for m, h in heads if b"User-Agent: python-httpx" not in h]
    missing = [(m, h[:300]) for m, h in heads if not all(w in h + b"\r\n" for w in wanted)]
    assert not missing, f"{len(missing)} of {len(heads)} requests lacked a header: {missing[:3]}"
    history = list(read_history(out))
    assert any(r["f"] == "stream_open" and r["type"] == "ok" for r in history)

    for path in [p for p in out.rglob("*") if p.is_file()]:
        data = path.read_bytes()
        for secret in (run_secret, profile_secret):
            assert secret.encode() not in data, f"a header value is in {path}"
    assert secrets_absent(result.stdout + result.stderr, run_secret, profile_secret)
    manifest = RunManifest.read(out)
    assert manifest is not None
    assert sorted(manifest.header_names) == ["Authorization", "X-Profile-Token"]
    assert manifest.profile["headers"] == ["Authorization"]


def secrets_absent(text: str, *values: str) -> bool:
    return not any(value in text for value in values)
