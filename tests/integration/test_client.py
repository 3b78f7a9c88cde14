"""The load client: units (SSE, error boundary, routing, answers), then real reference nodes."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import geventhttpclient.client
import geventhttpclient.connectionpool
import geventhttpclient.response
import pytest

from harness.client import (
    TRANSPORT_EXCEPTIONS,
    ClientConfig,
    ClientError,
    HttpStatusError,
    ListeningStream,
    ListenStream,
    McpClient,
    Recorder,
    Session,
    SseParser,
    Stage,
    make_router,
    nonce_of,
    outcome,
    reply_to,
)
from harness.client.errors import is_mapped
from harness.cluster.local import LocalCluster
from harness.cluster.redis_process import free_port
from harness.history import Record, read_history
from tests.support.cli import invocations_with_completions

MakeCluster = Callable[..., LocalCluster]

# ---- SSE ---------------------------------------------------------------------------------


def feed(parser: SseParser, text: bytes) -> list[tuple[bytes, str, str | None]]:
    events = []
    for line in text.splitlines(keepends=True):
        event = parser.feed(line)
        if event is not None:
            events.append((event.data, event.event, event.id))
    return events


def test_sse_events_ids_comments_and_line_endings() -> None:
    parser = SseParser()
    stream = (
        b": keepalive\r\n\r\n"
        b'id: 7\r\nevent: message\r\ndata: {"a":1}\r\n\r\n'
        b"data:line one\ndata: line two\n\n"
        b"id: 8\nretry: 1500\ndata: x\n\n"
    )
    assert feed(parser, stream) == [
        (b'{"a":1}', "message", "7"),
        (b"line one\nline two", "message", "7"),
        (b"x", "message", "8"),
    ]
    assert parser.retry_ms == 1500


def test_sse_priming_event_sets_the_resume_id_but_is_not_dispatched() -> None:
    parser = SseParser()
    assert feed(parser, b"id: 0-0\nretry: 1000\ndata: \n\n") == []
    assert feed(parser, b"id: 5-0\ndata:\n\n") == []
    assert parser.last_event_id == "5-0"
    assert feed(parser, b"id: a\x00b\ndata: y\n\n") == [(b"y", "message", "5-0")]
    assert feed(parser, b"retry: soon\nevent: custom\ndata: z\n\n") == [(b"z", "custom", "5-0")]
    assert parser.retry_ms == 1000


# ---- the fail / unknown boundary ---------------------------------------------------------


def _exception_classes() -> set[type[BaseException]]:
    """Every exception a transport can raise: the HTTP library's, sockets', gevent's, ours."""
    found: set[type[BaseException]] = {gevent.Timeout, json.JSONDecodeError, UnicodeDecodeError}
    modules = [geventhttpclient.response, geventhttpclient.client, geventhttpclient.connectionpool]
    for module in modules:
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("geventhttp"):
                found.add(value)
    import builtins
    import socket
    import ssl

    for module_ in (builtins, socket, ssl):
        for _, value in inspect.getmembers(module_, inspect.isclass):
            if issubclass(value, OSError):
                found.add(value)
    pending: list[type[BaseException]] = [ClientError]
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending += cls.__subclasses__()
    return found


def test_every_transport_exception_type_is_mapped() -> None:
    unmapped = sorted(c.__qualname__ for c in _exception_classes() if not is_mapped(c))
    assert unmapped == []


def test_fail_before_the_request_is_sent_unknown_after() -> None:
    for exc_type in _exception_classes():
        if exc_type is gevent.Timeout:
            exc: BaseException = gevent.Timeout(1.0)
        elif issubclass(exc_type, UnicodeDecodeError):
            exc = UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad")
        elif issubclass(exc_type, json.JSONDecodeError):
            exc = json.JSONDecodeError("bad", "x", 0)
        elif issubclass(exc_type, HttpStatusError):
            exc = exc_type(503)
        else:
            exc = exc_type("boom")
        for stage in (Stage.CONNECT, Stage.SEND):
            assert outcome(exc, stage)[0] == "fail", (exc_type, stage)
        expected = "fail" if exc_type is ConnectionRefusedError else "info"
        if isinstance(exc, HttpStatusError) or exc_type.__name__ == "gaierror":
            expected = "fail"
        assert outcome(exc, Stage.RESPONSE)[0] == expected, exc_type
    assert outcome(gevent.Timeout(2.0), Stage.BODY) == ("info", "timeout after 2.0s")
    assert outcome(ConnectionResetError(104, "reset"), Stage.BODY)[0] == "info"
    assert outcome(KeyError("unexpected"), Stage.BODY)[0] == "info"
    assert outcome(KeyError("unexpected"), Stage.CONNECT)[0] == "fail"
    assert outcome(HttpStatusError(404, "gone"), Stage.BODY) == ("fail", "HTTP 404: gone")
    assert set(TRANSPORT_EXCEPTIONS.values()) == {"fail", "info"}


def test_the_public_names_exist() -> None:
    import harness.client
    import harness.history

    for module in (harness.client, harness.history):
        assert sorted(module.__all__) == sorted(set(module.__all__))
        assert all(hasattr(module, name) for name in module.__all__)


# ---- the listening stream and its host ---------------------------------------------------


def test_the_listening_stream_imports_nothing_of_the_client() -> None:
    import ast

    import harness.client.stream

    tree = ast.parse(Path(harness.client.stream.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "harness.client.client" not in imported


class FakeHost:
    """A StreamHost whose GETs answer 404 for the first session and 405 for the next."""

    def __init__(self) -> None:
        self.session: Session | None = Session("old", "2025-11-25", "http://h/mcp")
        self.calls: list[tuple[str, str | None]] = []

    def open_get(
        self, process: str, session: Session, last_event_id: str | None
    ) -> tuple[Record, None, None]:
        self.calls.append(("open_get", session.id))
        status = 404 if session.id == "old" else 405
        return {"type": "fail", "status": status}, None, None  # type: ignore[typeddict-item]

    def reinitialize(self, stale: str, process: str) -> None:
        self.calls.append(("reinitialize", stale))
        self.session = Session("new", "2025-11-25", "http://h/mcp")

    def deliver(
        self, message: Any, url: str, event_id: str | None, process: str, session: Session
    ) -> None:
        self.calls.append(("deliver", session.id))


def test_a_stream_asks_its_host_to_reinitialize_after_a_404() -> None:
    host = FakeHost()
    stream = ListeningStream(host, ClientConfig(urls=["http://h/mcp"]), Recorder(None), "p/s")
    stream.start()
    assert wait_for(lambda: not stream.running, 5)
    assert host.calls == [("open_get", "old"), ("reinitialize", "old"), ("open_get", "new")]


class CannedStream:
    """An open SSE response that yields ``body`` line by line, then ends cleanly."""

    message_complete = True

    def __init__(self, body: bytes) -> None:
        self._lines = body.splitlines(keepends=True)

    def readline(self, sep: bytes) -> bytes:
        return self._lines.pop(0) if self._lines else b""

    def release(self) -> None:
        pass


BAD_THEN_GOOD = (
    b'data: {"jsonrpc": "2.0", "meth\n\n'  # cut short
    b'data: {"jsonrpc":"2.0","method":"notifications/tools/list_changed"}\n\n'
)


class CannedHost:
    """A StreamHost and ListenHost whose first stream is ``BAD_THEN_GOOD``; the next open is
    answered 405 (no such stream), which ends either loop."""

    def __init__(self) -> None:
        self.session: Session | None = Session("s", "2025-11-25", "http://h/mcp")
        self.opens = 0
        self.delivered: list[Any] = []

    def _open(self) -> tuple[Record, CannedStream | None, str | None]:
        self.opens += 1
        if self.opens > 1:
            return {"type": "fail", "status": 405}, None, None  # type: ignore[typeddict-item]
        return {"type": "ok"}, CannedStream(BAD_THEN_GOOD), "http://h/mcp"  # type: ignore[typeddict-item]

    def open_get(
        self, process: str, session: Session, last_event_id: str | None
    ) -> tuple[Record, CannedStream | None, str | None]:
        return self._open()

    def open_listen(
        self, process: str, notifications: dict[str, Any]
    ) -> tuple[Record, CannedStream | None, str | None, int | None]:
        return (*self._open(), 1)

    def reinitialize(self, stale: str, process: str) -> None:
        raise AssertionError("no 404 here")

    def relist(self, process: str, method: str) -> Record:
        raise AssertionError("no reopen here")

    def deliver(
        self, message: Any, url: str, event_id: str | None, process: str, session: Session
    ) -> None:
        self.delivered.append(message)

    def deliver_listen(self, message: Any, url: str, process: str) -> None:
        self.delivered.append(message)


@pytest.mark.parametrize("kind", ["get", "listen"])
def test_an_event_that_is_not_json_is_a_failed_message_and_the_stream_reads_on(
    kind: str,
) -> None:
    host, records = CannedHost(), []
    config, recorder = ClientConfig(urls=["http://h/mcp"]), Recorder(records.append)
    stream = (
        ListeningStream(host, config, recorder, "p/s")
        if kind == "get"
        else ListenStream(host, config, recorder, "p/s", {"toolsListChanged": True})
    )
    stream.start()
    assert wait_for(lambda: not stream.running, 5)
    bad = [r for r in records if r["f"] == "message"]
    assert [(r["type"], r["stream"], r["value"]) for r in bad] == [
        ("fail", kind, '{"jsonrpc": "2.0", "meth')
    ]
    assert bad[0]["error"].startswith("JSONDecodeError"), bad[0]
    assert host.delivered == [{"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}]
    ends = [r for r in records if r["f"] == "stream_break"]
    assert [(r["type"], r["value"]["reason"]) for r in ends] == [("ok", "eof")], ends


# ---- routing and answers -----------------------------------------------------------------


def test_routing_policies() -> None:
    urls = ["a", "b", "c"]
    round_robin = make_router("round_robin", urls, start=1)
    assert [round_robin.pick() for _ in range(4)] == ["b", "c", "a", "b"]
    sticky = make_router("sticky", urls, start=2)
    assert [sticky.pick() for _ in range(2)] == ["c", "c"]
    sticky.failed("a")
    assert sticky.pick() == "c"
    sticky.failed("c")
    assert sticky.pick() == "a"
    single = make_router("single", urls)
    single.failed("a")
    assert {single.pick() for _ in range(5)} == {"a"}
    one = make_router("random", urls, seed=3)
    two = make_router("random", urls, seed=3)
    assert [one.pick() for _ in range(20)] == [two.pick() for _ in range(20)]
    with pytest.raises(ValueError, match="unknown routing policy"):
        make_router("sideways", urls)
    with pytest.raises(ValueError):
        make_router("round_robin", [])


def test_sampling_answers_are_derived_from_the_nonce() -> None:
    request = {
        "jsonrpc": "2.0",
        "id": "n1-4",
        "method": "sampling/createMessage",
        "params": {"messages": [], "metadata": {"nonce": "abc"}},
    }
    reply = reply_to(request)
    assert reply["id"] == "n1-4"
    assert reply["result"]["content"] == {"type": "text", "text": "answer:abc"}
    text_only = {"messages": [{"role": "user", "content": {"type": "text", "text": "nonce=q-7"}}]}
    assert nonce_of(text_only) == "q-7"
    assert nonce_of({"_meta": {"nonce": "m"}, "metadata": {"nonce": "x"}}) == "m"
    unknown = reply_to({"jsonrpc": "2.0", "id": 3, "method": "nope/never"})
    assert unknown["error"]["code"] == -32601
    assert reply_to({"jsonrpc": "2.0", "id": 4, "method": "roots/list"})["result"] == {"roots": []}


# ---- against real reference-server nodes -------------------------------------------------


@pytest.fixture
def clients() -> Iterator[Callable[..., tuple[McpClient, list[Record]]]]:
    made: list[McpClient] = []

    def make(urls: list[str], **options: Any) -> tuple[McpClient, list[Record]]:
        records: list[Record] = []
        client = McpClient(ClientConfig(urls=urls, **options), "t-u1", records.append)
        made.append(client)
        return client, records

    yield make
    for client in made:
        client.close()


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        gevent.sleep(0.02)
    return False


def completions(records: list[Record], f: str) -> list[Record]:
    return [r for r in records if r["f"] == f and r["type"] != "invoke"]


def seqs(records: list[Record], nonce: str) -> list[int]:
    found = []
    for record in completions(records, "message"):
        data = record["value"].get("params", {}).get("data")
        if isinstance(data, dict) and data.get("nonce") == nonce:
            found.append(data["seq"])
    return found


def node_of(cluster: LocalCluster, name: str | None) -> str:
    return next(n.node_id for n in cluster.members.values() if name == f"127.0.0.1:{n.port}")


@pytest.mark.timeout(60)
def test_initialize_echo_and_whoami(make_cluster: MakeCluster, clients: Any) -> None:
    cluster = make_cluster(nodes=1, store="memory")
    client, records = clients(cluster.urls)
    init = client.initialize()
    assert init["type"] == "ok"
    assert init["value"]["protocolVersion"] == "2025-11-25"
    assert init["session"] == client.session_id is not None
    echo = client.call_tool("echo", {"text": "héllo"})
    assert (echo["type"], echo["value"], echo["f"]) == ("ok", "héllo", "call:echo")
    assert echo["latency"] > 0
    who = client.call_tool("whoami")
    assert who["value"] == {"node": "n1", "session": client.session_id}
    assert client.ping()["type"] == "ok"
    assert client.set_level("warning")["type"] == "ok"
    missing = client.call_tool("no_such_tool")
    assert missing["type"] == "fail" and missing["error"]
    assert [r["type"] for r in records if r["f"] == "call:echo"] == ["invoke", "ok"]
    assert all(r["process"] == "t-u1" for r in records)
    deleted = client.delete()
    assert (deleted["type"], deleted["status"], client.session) == ("ok", 200, None)


@pytest.mark.timeout(60)
def test_connection_refused_is_a_fail(clients: Any) -> None:
    client, _ = clients([f"http://127.0.0.1:{free_port()}/mcp"])
    init = client.initialize()
    assert init["type"] == "fail"
    assert "ECONNREFUSED" in init["error"]


@pytest.mark.timeout(60)
def test_a_refused_connection_goes_to_the_next_node(
    make_cluster: MakeCluster, clients: Any
) -> None:
    """What a load balancer does for a dead backend: the request surely never arrived, so it
    is sent to the next node, and the record names the node that refused it."""
    cluster = make_cluster(nodes=2, store="redis")
    dead = cluster.node("n2")
    client, _ = clients(
        cluster.urls,
        routing="round_robin",
        node_names={node.url: node.node_id for node in cluster.members.values()},
    )
    assert client.initialize()["type"] == "ok"
    dead.kill()
    calls = [client.call_tool("echo", {"text": str(i)}) for i in range(4)]
    assert [c["type"] for c in calls] == ["ok"] * 4
    assert {c["node"] for c in calls} == {"n1"}
    assert any(c.get("failed_over") == ["n2"] for c in calls)


@contextlib.contextmanager
def a_node_that_dies_mid_request() -> Iterator[str]:
    """A URL whose server reads each whole request, then closes without a word: a node
    killed just after an answer reached it."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():  # bounded: the test's end sets done
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                received = b""
                while b"\r\n\r\n" not in received:  # bounded: a client's headers end
                    received += connection.recv(65536) or b"\r\n\r\n"
                head, _, body = received.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                while length and len(body) < int(length[1]):  # bounded: the declared length
                    body += connection.recv(65536) or b"x" * int(length[1])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
    finally:
        done.set()
        thread.join(5)
        listener.close()


@pytest.mark.timeout(60)
def test_an_answer_cut_by_a_dying_node_is_sent_to_another(
    make_cluster: MakeCluster, clients: Any
) -> None:
    """A sampling answer may be sent twice (the server ignores a second answer to an id), so
    one whose connection broke goes to the next node, and the waiting call gets it."""
    cluster = make_cluster(nodes=2, store="redis")
    with a_node_that_dies_mid_request() as dying:
        names = {node.url: node.node_id for node in cluster.members.values()} | {dying: "nx"}
        # Round robin: initialize and initialized on n1, the call on n2, its answer to the
        # dying node, then to n1 again.
        n1, n2 = cluster.urls
        client, records = clients([n1, n1, n2, dying], routing="round_robin", node_names=names)
        assert client.initialize()["type"] == "ok"
        sample = client.call_tool("sample", {"prompt": "say it", "nonce": "s-cut"})
    assert (sample["type"], sample["node"]) == ("ok", "n2")
    assert sample["value"]["text"] == "answer:s-cut"
    [answer] = completions(records, "answer")
    assert (answer["type"], answer["failed_over"], answer["node"]) == ("ok", ["nx"], "n1")


@pytest.mark.timeout(60)
def test_notifications_arrive_on_the_listening_stream(
    make_cluster: MakeCluster, clients: Any
) -> None:
    cluster = make_cluster(nodes=1, store="memory")
    client, records = clients(cluster.urls)
    assert client.initialize()["type"] == "ok"
    stream = client.open_stream()
    assert stream.connected.wait(5)
    assert client.call_tool("notify", {"count": 25, "nonce": "n-a"})["value"] == {"emitted": 25}
    assert (
        client.call_tool("notify", {"count": 5, "interval_ms": 5, "nonce": "n-b"})["type"] == "ok"
    )
    assert wait_for(lambda: len(seqs(records, "n-a")) + len(seqs(records, "n-b")) >= 30)
    gevent.sleep(0.1)
    assert seqs(records, "n-a") == list(range(1, 26))
    assert seqs(records, "n-b") == list(range(1, 6))
    messages = completions(records, "message")
    assert {r["process"] for r in messages} == {"t-u1/stream"}
    assert {r["stream"] for r in messages} == {"get"}
    assert all(r["event_id"] and r["session"] == client.session_id for r in messages)
    assert stream.last_event_id == messages[-1]["event_id"]


@pytest.mark.timeout(60)
def test_sampling_requests_are_answered(make_cluster: MakeCluster, clients: Any) -> None:
    cluster = make_cluster(nodes=1, store="memory")
    client, records = clients(cluster.urls)
    assert client.initialize()["type"] == "ok"
    for nonce in ("s-1", "s-2"):
        sample = client.call_tool("sample", {"prompt": "say it", "nonce": nonce})
        assert sample["type"] == "ok"
        assert sample["value"]["text"] == f"answer:{nonce}"
    requests = [
        r
        for r in completions(records, "message")
        if r["value"]["method"] == "sampling/createMessage"
    ]
    assert [r["stream"] for r in requests] == ["post", "post"]
    answers = completions(records, "answer")
    assert [(a["type"], a["value"]["text"]) for a in answers] == [
        ("ok", "answer:s-1"),
        ("ok", "answer:s-2"),
    ]
    progress = client.call_tool("progress", {"steps": 3}, progress_token="tok")
    assert progress["type"] == "ok"
    assert [
        r["value"]["params"]["progress"]
        for r in completions(records, "message")
        if r["value"]["method"] == "notifications/progress"
    ] == [1, 2, 3]


@pytest.mark.timeout(60)
def test_concurrent_requests_get_unique_ids(make_cluster: MakeCluster, clients: Any) -> None:
    cluster = make_cluster(nodes=1, store="memory")
    client, _ = clients(cluster.urls)
    assert client.initialize()["type"] == "ok"
    calls = [gevent.spawn(client.call_tool, "slow", {"ms": 300}) for _ in range(20)]
    started = time.monotonic()
    gevent.joinall(calls, timeout=20)
    assert [c.value["type"] for c in calls] == ["ok"] * 20
    assert time.monotonic() - started < 5  # concurrent, not one after the other


@pytest.mark.timeout(60)
def test_a_timeout_is_unknown_and_the_client_goes_on(
    make_cluster: MakeCluster, clients: Any
) -> None:
    cluster = make_cluster(nodes=1, store="memory")
    client, _ = clients(cluster.urls)
    assert client.initialize()["type"] == "ok"
    slow = client.call_tool("slow", {"ms": 3000}, timeout=0.3)
    assert slow["type"] == "info"
    assert slow["error"] == "timeout after 0.3s"
    assert 0.3 <= slow["latency"] < 1.0
    assert client.call_tool("echo", {"text": "after"})["value"] == "after"


@pytest.mark.timeout(60)
def test_http_errors_are_fails_and_404_reinitializes(
    make_cluster: MakeCluster, clients: Any
) -> None:
    cluster = make_cluster(nodes=1, store="memory")
    client, records = clients(cluster.urls)
    assert client.initialize()["type"] == "ok"
    real = client.session
    assert real is not None
    client.session = Session(real.id, "1999-01-01", real.node)
    bad_version = client.call_tool("echo", {"text": "x"})
    assert (bad_version["type"], bad_version["status"]) == ("fail", 400)
    client.session = Session("no-such-session", real.protocol_version, real.node)
    gone = client.call_tool("echo", {"text": "x"})
    assert (gone["type"], gone["status"]) == ("fail", 404)
    reinit = completions(records, "reinit")
    assert [r["type"] for r in reinit] == ["ok"]
    assert reinit[0]["value"]["old_session"] == "no-such-session"
    assert reinit[0]["session"] == client.session_id not in (None, real.id)
    assert client.call_tool("echo", {"text": "y"})["type"] == "ok"


@pytest.mark.timeout(60)
def test_a_reinit_restarts_the_listening_stream(make_cluster: MakeCluster, clients: Any) -> None:
    cluster = make_cluster(nodes=1, store="memory")
    client, records = clients(cluster.urls)
    assert client.initialize()["type"] == "ok"
    real = client.session
    assert real is not None and client.open_stream().connected.wait(5)
    client.session = Session("no-such-session", real.protocol_version, real.node)
    assert client.call_tool("echo", {"text": "x"})["status"] == 404
    new = client.session_id
    assert new not in (None, real.id, "no-such-session")
    assert wait_for(lambda: completions(records, "stream_open")[-1]["session"] == new)
    assert wait_for(lambda: bool(client.stream and client.stream.connected.is_set()))
    assert client.call_tool("notify", {"count": 2, "nonce": "fresh"})["type"] == "ok"
    assert wait_for(lambda: seqs(records, "fresh") == [1, 2])
    fresh = [r for r in completions(records, "message") if r["session"] == new]
    assert len(fresh) == 2


@pytest.mark.timeout(90)
def test_a_killed_memory_node_means_404_then_a_new_session(
    make_cluster: MakeCluster, clients: Any
) -> None:
    cluster = make_cluster(nodes=2, store="memory")
    client, records = clients(cluster.urls, routing="sticky", stream_backoff=0.02)
    assert client.initialize()["type"] == "ok"
    first = client.session_id
    assert client.call_tool("whoami")["value"]["node"] == "n1"
    assert client.open_stream().connected.wait(5)
    cluster.node("n1").kill()
    assert wait_for(lambda: client.session_id != first, 15)  # the stream saw the 404 first
    results = [client.call_tool("echo", {"text": str(i)})["type"] for i in range(3)]
    assert results[-1] == "ok"
    assert client.call_tool("whoami")["value"] == {"node": "n2", "session": client.session_id}
    reinits = [r for r in completions(records, "reinit") if r["type"] == "ok"]
    assert len(reinits) == 1 and reinits[0]["value"]["old_session"] == first
    assert any(r["status"] == 404 for r in records if r["type"] == "fail" and "status" in r)
    assert wait_for(lambda: bool(client.stream and client.stream.connected.is_set()), 10)
    assert client.call_tool("notify", {"count": 3, "nonce": "after-kill"})["type"] == "ok"
    assert wait_for(lambda: seqs(records, "after-kill") == [1, 2, 3], 10)


@pytest.mark.timeout(120)
def test_resume_with_last_event_id_across_nodes_loses_nothing(
    make_cluster: MakeCluster, clients: Any
) -> None:
    cluster = make_cluster(nodes=3, store="redis")
    client, records = clients(cluster.urls, routing="round_robin", stream_backoff=0.02)
    assert client.initialize()["type"] == "ok"
    stream = client.open_stream()
    assert stream.connected.wait(5)
    victim = node_of(cluster, completions(records, "stream_open")[-1]["node"])
    survivors = [n.url for n in cluster.members.values() if n.node_id != victim]
    client.router = make_router("round_robin", survivors)
    args = {"count": 60, "interval_ms": 20, "nonce": "resume"}
    burst = gevent.spawn(client.call_tool, "notify", args, 30)
    assert wait_for(lambda: len(seqs(records, "resume")) >= 10, 10)
    cluster.node(victim).kill()
    burst.join(40)
    assert burst.value["type"] == "ok"
    assert wait_for(lambda: len(seqs(records, "resume")) >= 60, 15)
    gevent.sleep(0.3)
    assert seqs(records, "resume") == list(range(1, 61))  # none lost, none twice
    resumed = [
        r
        for r in completions(records, "stream_open")
        if r["type"] == "ok" and r["value"]["last_event_id"]
    ]
    assert resumed and node_of(cluster, resumed[0]["node"]) != victim
    breaks = completions(records, "stream_break")
    assert breaks and node_of(cluster, breaks[0]["node"]) == victim


# ---- the Locust user, end to end in its own process (Locust monkey-patches everything) ---

LOCUSTFILE = """
from locust import constant, task
from harness.client.locust_user import McpUser

class Notified(McpUser):
    wait_time = constant(0.2)

    @task
    def echo(self) -> None:
        self.client.call_tool("echo", {"text": "hi"})

    @task
    def notify(self) -> None:
        self.client.call_tool("notify", {"count": 2, "nonce": self.nonce()})
"""


@pytest.mark.timeout(120)
def test_locust_user_records_history_and_fires_request_events(
    make_cluster: MakeCluster, tmp_path: Path
) -> None:
    cluster = make_cluster(nodes=2, store="redis")
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(textwrap.dedent(LOCUSTFILE))
    run_dir = tmp_path / "run"
    env = {**os.environ, "MCP_SCALE_RUN_DIR": str(run_dir), "PYTHONPATH": os.getcwd()}
    command = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "3", "-r", "10",
        "-t", "3s", "--host", ",".join(cluster.urls), "--only-summary", "--stop-timeout", "5",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("call:echo", "call:notify", "initialize", "stream_open", "notifications/message"):
        assert name in done.stderr + done.stdout, name
    records = read_history(run_dir)
    processes = {r["process"] for r in records if r["f"] == "initialize" and r["type"] == "ok"}
    assert processes == {"w0-u1", "w0-u2", "w0-u3"}
    assert completions(records, "message")
    echoes = [r for r in completions(records, "call:echo") if "interrupted" not in r]
    assert echoes and {r["type"] for r in echoes} == {"ok"}  # a call cut by the stop is info
    assert [r["index"] for r in records] == list(range(len(records)))


SLOW_LOCUSTFILE = """
from locust import constant, task
from harness.client.locust_user import McpUser

class Slow(McpUser):
    wait_time = constant(0)

    @task
    def slow(self) -> None:
        self.client.call_tool("slow", {"ms": 700})
"""


@pytest.mark.timeout(120)
def test_locust_stopped_by_sigterm_records_the_calls_it_had_in_flight(
    make_cluster: MakeCluster, tmp_path: Path
) -> None:
    """SIGTERM is how a run ends on --until-requests: each call in flight then still gets
    its completion in the history (done within --stop-timeout, else interrupted)."""
    cluster = make_cluster(nodes=1, store="memory")
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(textwrap.dedent(SLOW_LOCUSTFILE))
    run_dir = tmp_path / "run"
    env = {**os.environ, "MCP_SCALE_RUN_DIR": str(run_dir), "PYTHONPATH": os.getcwd()}
    command = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "3", "-r", "10",
        "-t", "60s", "--host", cluster.urls[0], "--only-summary", "--stop-timeout", "5",
    ]  # fmt: skip
    quiet = subprocess.DEVNULL
    locust = subprocess.Popen(command, env=env, stdout=quiet, stderr=quiet)
    try:
        history = run_dir / "history-w0.jsonl"
        # flushed once a second: some calls done, and (no wait between) three in flight
        assert wait_for(
            lambda: history.exists() and history.read_text().count("call:slow") >= 9, 30
        )
        locust.send_signal(signal.SIGTERM)
        assert locust.wait(timeout=30) is not None
    finally:
        if locust.poll() is None:
            locust.kill()
            locust.wait()
    records = read_history(run_dir)
    invoked = [r for r in records if r["f"] == "call:slow" and r["type"] == "invoke"]
    pairs = invocations_with_completions(records, "call:slow")
    assert len(invoked) >= 6
    assert len(pairs) == len(invoked), "a call in flight at SIGTERM has no completion"
    assert {d["type"] for _, d in pairs} == {"ok"}  # 700 ms: each finished within 5 s
