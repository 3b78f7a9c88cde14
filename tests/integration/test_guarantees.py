"""Cluster guarantees G1-G8 (docs/guarantees.md) against 3 real nodes, a real
redis-server and real SIGKILLs.

Every count is exact: each message is attributed by its nonce, and before counting, a fresh
"settle" notification is sent through the same session and awaited, so that a late duplicate
would already have arrived.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import httpx
import pytest

from harness.cluster.local import LocalCluster
from tests.support.mcp_http import (
    HttpStatusError,
    ListeningStream,
    McpHttpSession,
    answer_sampling,
    notify_seqs,
)

STORE_UNAVAILABLE = -32001  # the server's JSON-RPC error code for a Redis outage
FAIL_FAST_SECONDS = 3.0
WAIT = 10.0

Messages = list[dict[str, Any]]
MakeCluster = Callable[..., LocalCluster]


class Closable(Protocol):
    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# Helpers


@pytest.fixture
def closing() -> Iterator[list[Closable]]:
    """Streams and sessions to close at the end of the test, newest first."""
    things: list[Closable] = []
    yield things
    for thing in reversed(things):
        with contextlib.suppress(Exception):
            thing.close()


def nonce(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def start_session(url: str, closing: list[Closable], **options: Any) -> McpHttpSession:
    session = McpHttpSession(url, **options)
    closing.append(session)
    session.initialize()
    return session


def join_session(
    session: McpHttpSession, closing: list[Closable], **options: Any
) -> McpHttpSession:
    """Another client object on the same MCP session (its own HTTP client and answer hook)."""
    other = McpHttpSession(session.url, session_id=session.session_id, **options)
    closing.append(other)
    return other


def listen(
    session: McpHttpSession,
    url: str,
    closing: list[Closable],
    last_event_id: str | None = None,
    expect_status: int = 200,
) -> ListeningStream:
    stream = ListeningStream(session, url, last_event_id)
    closing.append(stream)
    stream.start()
    assert stream.opened.wait(WAIT), f"GET {url} did not answer"
    assert stream.status == expect_status, f"GET {url}: HTTP {stream.status}"
    return stream


def emit(session: McpHttpSession, url: str, tag: str, count: int = 1, interval_ms: int = 0) -> None:
    arguments = {"count": count, "nonce": tag, "interval_ms": interval_ms}
    result = session.call_tool("notify", arguments, url=url)
    assert result["structuredContent"] == {"emitted": count}


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def seqs(streams: list[ListeningStream], tag: str) -> list[int]:
    return [seq for stream in streams for seq in notify_seqs(stream.messages, tag)]


def settle(session: McpHttpSession, stream: ListeningStream, url: str) -> None:
    """Send one more notification through the session and wait for it on ``stream``."""
    tag = nonce("settle")
    emit(session, url, tag)
    assert stream.wait_for(lambda m: notify_seqs(m, tag) == [1]), f"settle {tag} never arrived"


def assert_exactly(
    streams: list[ListeningStream], tag: str, count: int, session: McpHttpSession, url: str
) -> None:
    """``streams`` together received seq 1..count of ``tag``, each once (and nothing more)."""
    arrived = wait_until(lambda: len(seqs(streams, tag)) >= count)
    assert arrived, f"{tag}: {len(seqs(streams, tag))} of {count} arrived: {seqs(streams, tag)}"
    settle(session, streams[-1], url)
    got = seqs(streams, tag)
    assert sorted(got) == list(range(1, count + 1)), f"{tag}: lost or duplicated: {got}"


def tagged(messages: Messages, method: str, tag: str) -> int:
    return sum(
        1
        for m in messages
        if m.get("method") == method and m.get("params", {}).get("_meta", {}).get("nonce") == tag
    )


def updates(messages: Messages, uri: str) -> int:
    method = "notifications/resources/updated"
    return sum(1 for m in messages if m.get("method") == method and m["params"]["uri"] == uri)


def spread(
    urls: list[str], count: int, closing: list[Closable]
) -> list[tuple[McpHttpSession, ListeningStream, str]]:
    """``count`` sessions created round-robin on the nodes, each streaming on the next node:
    (session, stream, stream's url)."""
    peers = []
    for k in range(count):
        session = start_session(urls[k % 3], closing)
        stream_url = urls[(k + 1) % 3]
        peers.append((session, listen(session, stream_url, closing), stream_url))
    return peers


OUTAGE_PROBES: dict[str, tuple[str, dict[str, Any] | None]] = {
    "initialize": (
        "POST",
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "mcp-scale-tests", "version": "0"},
            },
        },
    ),
    "tools/call": (
        "POST",
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": "x"}},
        },
    ),
    "notification": ("POST", {"jsonrpc": "2.0", "method": "notifications/initialized"}),
    "GET stream": ("GET", None),
}


def probe(session: McpHttpSession, url: str, kind: str) -> tuple[int, dict[str, Any], float]:
    """One OUTAGE_PROBES request on ``session`` (a fresh one for initialize), on its own HTTP
    client: (status, JSON body or {}, seconds). An open SSE answer is not read to its end."""
    verb, message = OUTAGE_PROBES[kind]
    headers = session.headers()
    if kind == "initialize":
        headers = {k: v for k, v in headers.items() if not k.startswith("mcp-")}
    if verb == "GET":
        headers["accept"] = "text/event-stream"
    started = time.monotonic()
    try:
        with (
            httpx.Client(timeout=2 * FAIL_FAST_SECONDS) as http,
            http.stream(verb, url, headers=headers, json=message) as response,
        ):
            status = response.status_code
            text = "" if status == 200 else response.read().decode()
    except httpx.TimeoutException:
        return 0, {"hung": True}, time.monotonic() - started
    elapsed = time.monotonic() - started
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        body = {"unparsable": text}
    return status, body, elapsed


def rpc_error(error: HttpStatusError) -> dict[str, Any]:
    body = json.loads(error.body)
    assert body.get("jsonrpc") == "2.0" and isinstance(body.get("error"), dict), error.body
    return dict(body["error"])


def expect_http_error(call: Callable[[], object], status: int) -> tuple[dict[str, Any], float]:
    """Run ``call``, which must fail with HTTP ``status``: (JSON-RPC error, seconds taken)."""
    started = time.monotonic()
    with pytest.raises(HttpStatusError) as caught:
        call()
    elapsed = time.monotonic() - started
    assert caught.value.status == status, f"expected HTTP {status}, got {caught.value}"
    return rpc_error(caught.value), elapsed


def url_node(cluster: LocalCluster, url: str) -> str:
    return next(node_id for node_id, node in cluster.members.items() if node.url == url)


def whoami(session: McpHttpSession, url: str) -> dict[str, Any]:
    return dict(session.call_tool("whoami", {}, url=url)["structuredContent"])


# ---------------------------------------------------------------------------------------------
# G1: a session created on node A keeps working through any node after A is SIGKILLed


@pytest.mark.timeout(60)
def test_g1_sessions_survive_sigkill_of_their_node(
    make_cluster: MakeCluster, closing: list[Closable]
) -> None:
    cluster = make_cluster(3, "redis")
    urls = cluster.urls
    shared_uri = f"test://g1/{nonce('shared')}"
    sessions = [start_session(urls[0], closing) for _ in range(4)]
    streams = []
    for index, session in enumerate(sessions):
        assert session.request("logging/setLevel", {"level": "warning"})["result"] == {}
        for uri in (shared_uri, f"test://g1/{index}"):
            assert session.request("resources/subscribe", {"uri": uri})["result"] == {}
        streams.append(listen(session, urls[0], closing))

    cluster.node("n1").kill()

    survivors = urls[1:]
    resumed = []
    for index, (session, old) in enumerate(zip(sessions, streams, strict=True)):
        url, other = survivors[index % 2], survivors[(index + 1) % 2]
        old.close()
        assert whoami(session, url) == {
            "node": url_node(cluster, url),
            "session": session.session_id,
        }
        assert session.call_tool("echo", {"text": "still here"}, url=other)["content"] == [
            {"type": "text", "text": "still here"}
        ]
        # The log level set through n1 persists: info is filtered, error passes.
        filtered = session.call_tool("log", {"level": "info", "message": "x"}, url=url)
        assert filtered["structuredContent"] == {"sent": False, "level": "warning"}
        sent = session.call_tool("log", {"level": "error", "message": "y"}, url=other)
        assert sent["structuredContent"] == {"sent": True, "level": "warning"}
        resumed.append(listen(session, url, closing, last_event_id=old.last_event_id))

    # Subscriptions made through n1 persist: the shared URI reaches all four, each own URI one.
    touched = sessions[0].call_tool("touch_resource", {"uri": shared_uri}, url=survivors[0])
    assert touched["structuredContent"] == {"addressed": len(sessions)}
    for index, session in enumerate(sessions):
        own = session.call_tool("touch_resource", {"uri": f"test://g1/{index}"}, url=urls[2])
        assert own["structuredContent"] == {"addressed": 1}
    for index, (session, stream) in enumerate(zip(sessions, resumed, strict=True)):
        assert stream.wait_for(lambda m, i=index: updates(m, f"test://g1/{i}") == 1)
        settle(session, stream, survivors[0])
        assert updates(stream.messages, shared_uri) == 1
        assert updates(stream.messages, f"test://g1/{index}") == 1

    # Once n1 is back, it serves the very same sessions.
    cluster.node("n1").start()
    for session in sessions:
        assert whoami(session, urls[0]) == {"node": "n1", "session": session.session_id}


# ---------------------------------------------------------------------------------------------
# G2: a message emitted on any node reaches the session's open stream on whichever node holds it


@pytest.mark.timeout(60)
def test_g2_messages_from_any_node_reach_the_stream_on_any_node(
    make_cluster: MakeCluster, closing: list[Closable]
) -> None:
    urls = make_cluster(3, "redis").urls
    for holder, emitter in itertools.product(range(3), range(3)):
        session = start_session(urls[(holder + 2) % 3], closing)
        stream = listen(session, urls[holder], closing)
        tag = nonce(f"g2-stream{holder + 1}-emit{emitter + 1}")
        emit(session, urls[emitter], tag, count=5)
        assert_exactly([stream], tag, 5, session, urls[emitter])


# ---------------------------------------------------------------------------------------------
# G3: reconnecting with Last-Event-ID, on any node, replays every missed message once


@pytest.mark.timeout(60)
@pytest.mark.parametrize("resume_on", ["other-node", "restarted-node"])
def test_g3_resume_after_sigkill_of_the_stream_node_loses_nothing(
    make_cluster: MakeCluster, closing: list[Closable], resume_on: str
) -> None:
    cluster = make_cluster(3, "redis")
    urls = cluster.urls
    session = start_session(urls[1], closing)
    first = listen(session, urls[0], closing)
    tag, count = nonce("g3-kill"), 40
    with ThreadPoolExecutor(1) as pool:
        # 40 messages over ~2 s, emitted on n2 while n1 (holding the stream) dies mid-way.
        emitting = pool.submit(emit, session, urls[1], tag, count, 50)
        assert first.wait_for(lambda m: len(notify_seqs(m, tag)) >= 10), "stream got < 10"
        cluster.node("n1").kill()
        assert first.ended.wait(WAIT), "the stream did not end when its node was SIGKILLed"
        time.sleep(0.3)  # ~6 messages emitted while the client has no stream: only the log has them
        before = notify_seqs(first.messages, tag)
        assert 10 <= len(before) < count, f"kill was not mid-way: {len(before)} received"
        if resume_on == "restarted-node":
            cluster.node("n1").start()
            url = urls[0]
        else:
            url = urls[2]
        second = listen(session, url, closing, last_event_id=first.last_event_id)
        emitting.result(timeout=WAIT)
    assert_exactly([first, second], tag, count, session, urls[1])


@pytest.mark.timeout(60)
@pytest.mark.parametrize("same_node", [True, False], ids=["same-node", "other-node"])
def test_g3_resume_without_kill_replays_only_what_was_missed(
    make_cluster: MakeCluster, closing: list[Closable], same_node: bool
) -> None:
    urls = make_cluster(3, "redis").urls
    session = start_session(urls[0], closing)
    first = listen(session, urls[0], closing)
    seen, missed = nonce("g3-seen"), nonce("g3-missed")
    emit(session, urls[1], seen, count=5)
    assert_exactly([first], seen, 5, session, urls[1])
    first.close()
    assert first.ended.is_set(), "the stream did not end on close"
    # Sent while the client has no stream at all: only the event log holds these.
    emit(session, urls[2], missed, count=7)
    second = listen(session, urls[0 if same_node else 1], closing, first.last_event_id)
    assert_exactly([second], missed, 7, session, urls[2])
    assert notify_seqs(second.messages, seen) == [], "replayed what the client already had"
    assert notify_seqs(first.messages, missed) == []


# ---------------------------------------------------------------------------------------------
# G4: a sampling request issued on node B is answered via any node and reaches B; server->client
# request ids never collide on one session


class RequestLog:
    """An on_request hook that records what each server->client request looked like."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.seen: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.seen.append(request)
        time.sleep(self.delay)  # keeps many requests pending at once on the server
        return answer_sampling(request)

    @property
    def ids(self) -> list[Any]:
        with self._lock:
            return [request["id"] for request in self.seen]


def sample(session: McpHttpSession, url: str, tag: str) -> None:
    result = session.call_tool("sample", {"prompt": "say it", "nonce": tag}, url=url)
    assert result["structuredContent"] == {"text": f"answer:{tag}", "nonce": tag}, result


@pytest.mark.timeout(60)
def test_g4_sampling_answered_via_another_node_reaches_the_asking_node(
    make_cluster: MakeCluster, closing: list[Closable]
) -> None:
    urls = make_cluster(3, "redis").urls
    requests = RequestLog()
    session = start_session(urls[0], closing, on_request=requests)
    for asker, answerer in itertools.product(range(3), range(3)):
        session.answer_url = urls[answerer]
        tag = nonce(f"g4-ask{asker + 1}-answer{answerer + 1}")
        sample(session, urls[asker], tag)
        assert requests.seen[-1]["method"] == "sampling/createMessage"
        assert requests.seen[-1]["params"]["_meta"]["nonce"] == tag
    assert len(set(map(json.dumps, requests.ids))) == 9, f"request ids collide: {requests.ids}"


@pytest.mark.timeout(60)
def test_g4_concurrent_sampling_on_one_session_from_all_nodes(
    make_cluster: MakeCluster, closing: list[Closable]
) -> None:
    urls = make_cluster(3, "redis").urls
    owner = start_session(urls[0], closing)
    calls = 18
    # One client object per thread on the same session: its own HTTP client, its own
    # JSON-RPC id range (ids must not repeat on a session), its own answer node and hook.
    clients = [
        join_session(
            owner,
            closing,
            _ids=itertools.count(1000 * (k + 1)),
            answer_url=urls[(k + 1) % 3],
            on_request=RequestLog(delay=0.3),
        )
        for k in range(calls)
    ]
    tags = [nonce(f"g4-par{k}") for k in range(calls)]
    with ThreadPoolExecutor(calls) as pool:
        futures = [
            pool.submit(sample, client, urls[k % 3], tags[k]) for k, client in enumerate(clients)
        ]
        for future in futures:
            future.result(timeout=30)
    ids: list[Any] = []
    for client, tag in zip(clients, tags, strict=True):
        log = client.on_request
        assert isinstance(log, RequestLog)
        # Each call's POST stream carried exactly its own request, never another call's.
        assert [r["params"]["_meta"]["nonce"] for r in log.seen] == [tag]
        ids += log.ids
    assert len(set(map(json.dumps, ids))) == calls, f"request ids collide: {sorted(map(str, ids))}"


# ---------------------------------------------------------------------------------------------
# G5: broadcasts and resource updates reach every live (or subscribed) session in the cluster


@pytest.mark.timeout(60)
def test_g5_broadcast_reaches_every_session_on_every_node_once(
    make_cluster: MakeCluster, closing: list[Closable]
) -> None:
    urls = make_cluster(3, "redis").urls
    peers = spread(urls, 6, closing)
    for index, kind in enumerate(("tools", "resources", "prompts")):
        tag, method = nonce(f"g5-{kind}"), f"notifications/{kind}/list_changed"
        sender = peers[index][0]
        result = sender.call_tool("broadcast", {"kind": kind, "nonce": tag}, url=urls[index])
        assert result["structuredContent"] == {"addressed": len(peers)}
        for session, stream, url in peers:
            assert stream.wait_for(lambda m, t=tag, me=method: tagged(m, me, t) >= 1), (
                f"{kind} broadcast from n{index + 1} never reached the stream on {url}"
            )
            settle(session, stream, url)
            assert tagged(stream.messages, method, tag) == 1


@pytest.mark.timeout(60)
def test_g5_broadcast_reaches_a_session_whose_stream_is_closed_on_resume(
    make_cluster: MakeCluster, closing: list[Closable]
) -> None:
    urls = make_cluster(3, "redis").urls
    online = spread(urls, 3, closing)
    away = start_session(urls[0], closing)
    before = listen(away, urls[0], closing)
    warmup = nonce("g5-warmup")
    emit(away, urls[2], warmup, count=2)
    assert_exactly([before], warmup, 2, away, urls[2])
    before.close()
    tag, method = nonce("g5-away"), "notifications/tools/list_changed"
    result = online[0][0].call_tool("broadcast", {"kind": "tools", "nonce": tag}, url=urls[1])
    assert result["structuredContent"] == {"addressed": len(online) + 1}
    after = listen(away, urls[2], closing, last_event_id=before.last_event_id)
    for session, stream, url in [*online, (away, after, urls[2])]:
        assert stream.wait_for(lambda m: tagged(m, method, tag) >= 1), f"not on {url}"
        settle(session, stream, url)
        assert tagged(stream.messages, method, tag) == 1
    assert tagged(before.messages, method, tag) == 0
    assert notify_seqs(after.messages, warmup) == [], "replayed what the client already had"


@pytest.mark.timeout(60)
def test_g5_resource_updates_reach_subscribers_on_all_nodes_only(
    make_cluster: MakeCluster, closing: list[Closable]
) -> None:
    urls = make_cluster(3, "redis").urls
    peers = spread(urls, 6, closing)
    uri = f"test://g5/{nonce('res')}"
    subscribers = peers[::2]  # their streams are on n2, n1, n3
    for index, (session, _, _) in enumerate(subscribers):
        answer = session.request("resources/subscribe", {"uri": uri}, url=urls[(index + 2) % 3])
        assert answer["result"] == {}
    result = peers[1][0].call_tool("touch_resource", {"uri": uri}, url=urls[1])
    assert result["structuredContent"] == {"addressed": len(subscribers)}
    for _, stream, url in subscribers:
        assert stream.wait_for(lambda m: updates(m, uri) >= 1), f"update missed on {url}"
    for k, (session, stream, url) in enumerate(peers):
        settle(session, stream, url)
        expected = 1 if k % 2 == 0 else 0
        assert updates(stream.messages, uri) == expected, f"session {k}, stream on {url}"


# ---------------------------------------------------------------------------------------------
# G6: Redis down -> fast 503 with a JSON-RPC error, never a hang; Redis back -> sessions continue


@pytest.mark.timeout(90)
def test_g6_redis_outage_fails_fast_and_sessions_continue_after_restart(
    make_cluster: MakeCluster, closing: list[Closable]
) -> None:
    cluster = make_cluster(3, "redis")
    urls = cluster.urls
    assert cluster.redis is not None and cluster.redis.persistent
    peers = spread(urls, 3, closing)
    before = nonce("g6-before")
    for session, stream, url in peers:
        emit(session, url, before, count=3)
        assert_exactly([stream], before, 3, session, url)

    cluster.redis.kill()

    for url in urls:
        for kind in OUTAGE_PROBES:
            status, body, elapsed = probe(peers[0][0], url, kind)
            what = f"{kind} on {url_node(cluster, url)} with Redis down"
            assert elapsed < FAIL_FAST_SECONDS, f"{what} took {elapsed:.2f}s"
            assert status == 503, f"{what}: HTTP {status} {body!r}"
            assert body.get("jsonrpc") == "2.0", f"{what}: {body!r}"
            assert body.get("error", {}).get("code") == STORE_UNAVAILABLE, f"{what}: {body!r}"

    cluster.redis.start()  # same port, same data directory (appendonly)

    started = time.monotonic()
    for url in urls:
        assert wait_until(lambda u=url: echo_ok(peers[0][0], u)), f"{url} did not recover"
    recovery = time.monotonic() - started
    assert recovery < 5.0, f"nodes took {recovery:.1f}s to recover"
    for session, _, _ in peers:
        for url in urls:
            assert whoami(session, url)["session"] == session.session_id
    # Streams opened before the outage end once their node is back on Redis (forwarded events
    # may have been lost meanwhile); clients resume from the log, on another node here.
    for _, stream, _ in peers:
        stream.ended.wait(WAIT)
        stream.close()
    after = nonce("g6-after")
    for index, (session, stream, _) in enumerate(peers):
        resumed = listen_after_outage(session, urls[(index + 1) % 3], closing, stream)
        emit(session, urls[(index + 2) % 3], after, count=5)
        assert_exactly([resumed], after, 5, session, urls[index])
        assert sorted(seqs([stream, resumed], before)) == [1, 2, 3]


def listen_after_outage(
    session: McpHttpSession, url: str, closing: list[Closable], broken: ListeningStream
) -> ListeningStream:
    """Resumes ``broken`` on ``url``. A node back on Redis refuses new streams (503) until it
    has subscribed to pub/sub again, which can come a moment after its requests work."""
    deadline = time.monotonic() + WAIT
    while True:
        stream = ListeningStream(session, url, broken.last_event_id)
        closing.append(stream)
        stream.start()
        assert stream.opened.wait(WAIT), f"GET {url} did not answer"
        if stream.status != 503 or time.monotonic() > deadline:
            assert stream.status == 200, f"GET {url}: HTTP {stream.status}"
            return stream
        stream.close()
        time.sleep(0.1)


def echo_ok(session: McpHttpSession, url: str) -> bool:
    try:
        session.call_tool("echo", {"text": "back?"}, url=url)
    except HttpStatusError as error:
        assert error.status == 503, f"during recovery: {error}"
        return False
    return True


# ---------------------------------------------------------------------------------------------
# G7: in-memory mode is honest: a killed node's sessions answer 404, and clients re-initialize


@pytest.mark.timeout(60)
def test_g7_memory_mode_killed_node_sessions_answer_404_and_reinitialize(
    make_cluster: MakeCluster, closing: list[Closable]
) -> None:
    cluster = make_cluster(3, "memory")
    urls = cluster.urls
    sessions = [start_session(urls[0], closing) for _ in range(3)]
    old_ids = {session.session_id for session in sessions}
    for session in sessions:
        assert whoami(session, urls[0])["session"] == session.session_id

    cluster.node("n1").kill()
    cluster.node("n1").start()

    for session in sessions:
        for url in urls:  # the restarted node and the others: nobody knows the session
            expect_http_error(lambda s=session, u=url: whoami(s, u), 404)
            listen(session, url, closing, expect_status=404)
        session.initialize(urls[1])
        assert session.session_id not in old_ids
        assert whoami(session, urls[1]) == {"node": "n2", "session": session.session_id}
        stream = listen(session, urls[1], closing)
        tag = nonce("g7")
        emit(session, urls[1], tag, count=3)
        assert_exactly([stream], tag, 3, session, urls[1])


# ---------------------------------------------------------------------------------------------
# G8: a message for session A is never seen on session B

# 20 sessions x 100 messages: enough to catch even a rare misroute (1 in 1,000) most runs.
SESSIONS, PER_SESSION = 20, 100


@pytest.mark.timeout(60)
def test_g8_concurrent_notifications_never_cross_sessions(
    make_cluster: MakeCluster, closing: list[Closable]
) -> None:
    urls = make_cluster(3, "redis").urls
    peers = spread(urls, SESSIONS, closing)
    tags = [nonce(f"g8-s{k}") for k in range(len(peers))]
    with ThreadPoolExecutor(len(peers)) as pool:
        futures = [
            pool.submit(emit, session, urls[(k + 2) % 3], tags[k], PER_SESSION)
            for k, (session, _, _) in enumerate(peers)
        ]
        for future in futures:
            future.result(timeout=30)
    for k, (_, stream, _) in enumerate(peers):
        stream.wait_for(lambda m, t=tags[k]: len(notify_seqs(m, t)) >= PER_SESSION)
    crossed = {k: foreign(stream, tags[k]) for k, (_, stream, _) in enumerate(peers)}
    assert not any(crossed.values()), f"sessions saw other sessions' messages: {crossed}"
    for k, (session, stream, url) in enumerate(peers):
        assert_exactly([stream], tags[k], PER_SESSION, session, url)


def foreign(stream: ListeningStream, own: str) -> list[str]:
    """Nonces of notify messages on ``stream`` that are neither ``own`` nor a settle marker."""
    return sorted(
        {
            m["params"]["data"]["nonce"]
            for m in stream.messages
            if m.get("method") == "notifications/message"
            and isinstance(m["params"].get("data"), dict)
            and m["params"]["data"]["nonce"] != own
            and not m["params"]["data"]["nonce"].startswith("settle-")
        }
    )
