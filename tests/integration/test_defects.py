"""Every ``--defect`` switch makes a real Redis-mode cluster wrong in the way it names.

Each test runs the same steps twice, on a clean cluster and on one started with the defect,
and asserts that the wrong behaviour shows exactly when the defect is on. So each test can
fail both ways: a defect that stopped injecting its fault, or a clean server that has it.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any

import httpx
import pytest

from harness.cluster.local import LocalCluster
from harness.cluster.redis_process import RedisProcess
from reference_server.config import ServerConfig
from reference_server.defects import Defect, parse_defects
from reference_server.node import build_node
from reference_server.protocol import INVALID_PARAMS, JsonDict
from reference_server.subscriptions import Change, listen
from tests.support import mcp_modern as modern
from tests.support.mcp_http import (
    ListeningStream,
    McpHttpSession,
    answer_sampling,
    notify_seqs,
)

Factory = Callable[..., LocalCluster]

# How long to keep watching for something that must not arrive, after a positive control
# (something sent later through the same path) has arrived.
QUIET_SECONDS = 1.0


def _nonce() -> str:
    return uuid.uuid4().hex[:12]


def _start(make_cluster: Factory, defect: str | None, nodes: int = 2) -> LocalCluster:
    if defect is not None:
        Defect(defect)  # a misspelt defect fails here, not silently on the nodes
    return make_cluster(nodes=nodes, store="redis", defects=(defect,) if defect else ())


@pytest.fixture
def sessions() -> Iterator[Callable[..., McpHttpSession]]:
    """Sessions opened by a test; every one is closed afterwards."""
    opened: list[McpHttpSession] = []

    def open_session(url: str, **options: Any) -> McpHttpSession:
        session = McpHttpSession(url=url, **options)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.close()


def _defect_param(name: str) -> Any:
    return pytest.mark.parametrize("defect", [None, name], ids=["clean", name])


def _shut(cluster: LocalCluster, streams: list[ListeningStream]) -> None:
    """End the test's listening streams: stop the nodes first, because closing a stream
    whose reader is blocked in a read waits out the reader's 5 s join timeout."""
    cluster.close()
    for stream in streams:
        stream.close()


def test_every_defect_has_a_test() -> None:
    """Each defect is tied to the test of this module that runs it (parametrized with it)."""
    shown_by: dict[Defect, str] = {}
    for name, test in globals().items():
        for mark in getattr(test, "pytestmark", []) if name.startswith("test_") else []:
            if mark.name == "parametrize" and mark.args[0] == "defect":
                shown_by |= {Defect(value): name for value in mark.args[1] if value is not None}
    assert set(shown_by) == set(Defect), f"no test for {set(Defect) - set(shown_by)}"


def _has_broadcast(nonce: str) -> Callable[[list[dict[str, Any]]], bool]:
    def check(messages: list[dict[str, Any]]) -> bool:
        return any(
            m.get("method") == "notifications/tools/list_changed"
            and m.get("params", {}).get("_meta", {}).get("nonce") == nonce
            for m in messages
        )

    return check


@pytest.mark.timeout(60)
@_defect_param("local-broadcast")
def test_local_broadcast(make_cluster: Factory, sessions: Any, defect: str | None) -> None:
    """G5: a broadcast sent through n2 reaches a session whose stream is on n1."""
    cluster = _start(make_cluster, defect)
    n1, n2 = cluster.urls
    on_n1 = sessions(n1)
    on_n1.initialize()
    on_n2 = sessions(n2)
    on_n2.initialize()
    far = on_n1.open_stream(n1)
    near = on_n2.open_stream(n2)
    try:
        assert far.opened.wait(5) and far.status == 200
        assert near.opened.wait(5) and near.status == 200
        sender = sessions(n2)
        sender.initialize()
        nonce = _nonce()
        result = sender.call_tool("broadcast", {"kind": "tools", "nonce": nonce}, url=n2)
        addressed = result["structuredContent"]["addressed"]
        # The session streaming on the sending node gets it either way (positive control).
        assert near.wait_for(_has_broadcast(nonce), timeout=5)
        reached_far = far.wait_for(
            _has_broadcast(nonce), timeout=5 if not defect else QUIET_SECONDS
        )
        if defect:
            assert not reached_far, "local-broadcast: the broadcast crossed nodes anyway"
            assert addressed == 1
        else:
            assert reached_far, "broadcast from n2 did not reach the session streaming on n1"
            assert addressed == 3  # the three sessions of this cluster's fresh Redis
    finally:
        _shut(cluster, [far, near])


@pytest.mark.timeout(60)
@_defect_param("reuse-request-ids")
def test_reuse_request_ids(make_cluster: Factory, sessions: Any, defect: str | None) -> None:
    """G4: two sampling requests in flight on one session, issued by n1 and n2 at once, carry
    distinct ids, and each node gets the answer to its own request although every answer is
    POSTed to the other node."""
    cluster = _start(make_cluster, defect)
    n1, n2 = cluster.urls
    owner = sessions(n1)
    owner.initialize()
    assert owner.session_id is not None

    both_asked = threading.Barrier(2, timeout=10)
    seen: dict[str, Any] = {}
    outcome: dict[str, str] = {}

    def hook(server_request: dict[str, Any]) -> dict[str, Any]:
        nonce = server_request["params"]["_meta"]["nonce"]
        seen[nonce] = server_request["id"]
        # Answer only once both nodes have sent their request, so both are in flight.
        both_asked.wait()
        return answer_sampling(server_request)

    def call(url: str, nonce: str, answer_url: str) -> None:
        # A short read timeout: an answer that went to the wrong node is never delivered.
        client = sessions(
            url, session_id=owner.session_id, on_request=hook, timeout=4.0, answer_url=answer_url
        )
        try:
            result = client.call_tool("sample", {"prompt": "p", "nonce": nonce}, url=url)
            outcome[nonce] = result["structuredContent"]["text"]
        except (httpx.HTTPError, AssertionError) as exc:
            outcome[nonce] = f"failed: {type(exc).__name__}"

    nonces = {n1: _nonce(), n2: _nonce()}
    other = {n1: n2, n2: n1}
    threads = [
        threading.Thread(target=call, args=(url, nonce, other[url]))
        for url, nonce in nonces.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(seen) == 2, f"both nodes should have asked the client: {seen}"
    ids = list(seen.values())
    routed_right = all(outcome.get(nonce) == f"answer:{nonce}" for nonce in nonces.values())
    if defect:
        assert ids[0] == ids[1] == 1, f"reuse-request-ids: ids did not collide: {ids}"
        assert not routed_right, f"reuse-request-ids: answers still reached their askers: {outcome}"
    else:
        assert ids[0] != ids[1], f"server->client request ids collided: {ids}"
        assert routed_right, f"answers crossed or were lost: {outcome}"


@pytest.mark.timeout(60)
@_defect_param("drop-on-resume")
def test_drop_on_resume(make_cluster: Factory, sessions: Any, defect: str | None) -> None:
    """G3: a client that resumes on another node with Last-Event-ID gets what it missed.

    The client saw three messages on n1, then (as far as it knows) lost the rest of that
    stream; it resumes on n2 from the last id it saw."""
    cluster = _start(make_cluster, defect)
    n1, n2 = cluster.urls
    session = sessions(n1)
    session.initialize()
    streams: list[ListeningStream] = []
    try:
        first = session.open_stream(n1)
        streams.append(first)
        assert first.opened.wait(5) and first.status == 200
        seen, missed = _nonce(), _nonce()
        session.call_tool("notify", {"count": 3, "nonce": seen}, url=n1)
        assert first.wait_for(lambda m: len(notify_seqs(m, seen)) == 3, timeout=5)
        session.call_tool("notify", {"count": 5, "nonce": missed}, url=n1)
        assert first.wait_for(lambda m: len(notify_seqs(m, missed)) == 5, timeout=5)
        seen_ids = [e.id for e in first.events if notify_seqs([e.message or {}], seen)]
        assert len(seen_ids) == 3 and all(seen_ids), first.events
        last_seen_id = seen_ids[-1]

        resumed = session.open_stream(n2, last_event_id=last_seen_id)
        streams.append(resumed)
        assert resumed.opened.wait(5) and resumed.status == 200
        # Live delivery after the resume works either way (positive control).
        live = _nonce()
        session.call_tool("notify", {"count": 1, "nonce": live}, url=n2)
        assert resumed.wait_for(lambda m: notify_seqs(m, live) == [1], timeout=5)
        replayed = notify_seqs(resumed.messages, missed)
        if defect:
            assert replayed == [], f"drop-on-resume: events were replayed: {replayed}"
        else:
            assert replayed == [1, 2, 3, 4, 5]
            assert notify_seqs(resumed.messages, seen) == [], "replayed what was already seen"
    finally:
        _shut(cluster, streams)


@pytest.mark.timeout(60)
@_defect_param("hang-on-redis-down")
def test_hang_on_redis_down(make_cluster: Factory, sessions: Any, defect: str | None) -> None:
    """G6: with Redis SIGKILLed, a request fails fast with HTTP 503 and a JSON-RPC error."""
    cluster = _start(make_cluster, defect)
    n1 = cluster.urls[0]
    session = sessions(n1)
    session.initialize()
    assert session.call_tool("echo", {"text": "up"})["content"][0]["text"] == "up"
    assert cluster.redis is not None
    cluster.redis.kill()

    message = {"jsonrpc": "2.0", "id": 99, "method": "tools/call"}
    message["params"] = {"name": "echo", "arguments": {"text": "down"}}
    started = time.monotonic()
    try:
        response = httpx.post(n1, headers=session.headers(), json=message, timeout=3.0)
    except httpx.TimeoutException:
        response = None
    elapsed = time.monotonic() - started
    if defect:
        assert response is None, f"hang-on-redis-down: answered in {elapsed:.2f}s: {response}"
    else:
        assert response is not None, "no answer within 3 s while Redis is down"
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == -32001
        assert elapsed < 3.0


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


LEAK_REQUESTS = 3000
# The leak keeps 4 KB per request (about 12 MB for 3,000); a clean node grows by ~0 MB.
LEAK_THRESHOLD_MB = 6.0


@pytest.mark.timeout(90)
@_defect_param("leak")
def test_leak(make_cluster: Factory, sessions: Any, defect: str | None) -> None:
    """A node's RSS stays flat over thousands of requests (leak slope)."""
    cluster = _start(make_cluster, defect)
    n1 = cluster.urls[0]
    pid = cluster.node("n1").pid
    assert pid is not None
    session = sessions(n1)
    session.initialize()
    headers = session.headers()

    def pings(count: int) -> None:
        for index in range(count):
            ping = {"jsonrpc": "2.0", "id": index, "method": "ping"}
            response = session.http.post(n1, headers=headers, json=ping)
            assert response.status_code == 200, response.text

    pings(500)  # warm up: allocator arenas, connection pools, code paths
    before = _rss_mb(pid)
    pings(LEAK_REQUESTS)
    grown = _rss_mb(pid) - before
    if defect:
        assert grown > LEAK_THRESHOLD_MB, f"leak: RSS grew only {grown:.1f} MB"
    else:
        assert grown < LEAK_THRESHOLD_MB, f"RSS grew {grown:.1f} MB over {LEAK_REQUESTS} pings"


CROSS_SESSIONS = 5
CROSS_PER_SESSION = 2000  # 10,000 notifications at a 1/1,000 misroute rate: P(none) ~ 5e-5


@pytest.mark.timeout(90)
@_defect_param("cross-session")
def test_cross_session(make_cluster: Factory, sessions: Any, defect: str | None) -> None:
    """G8: a notification for session A is never seen on session B."""
    cluster = _start(make_cluster, defect)
    n1 = cluster.urls[0]
    members = [sessions(n1) for _ in range(CROSS_SESSIONS)]
    streams = []
    nonces = [_nonce() for _ in members]
    try:
        for session in members:
            session.initialize()
            stream = session.open_stream(n1)
            assert stream.opened.wait(5) and stream.status == 200
            streams.append(stream)

        def emit(session: McpHttpSession, nonce: str) -> None:
            session.call_tool("notify", {"count": CROSS_PER_SESSION, "nonce": nonce}, url=n1)

        threads = [
            threading.Thread(target=emit, args=pair) for pair in zip(members, nonces, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        total = CROSS_SESSIONS * CROSS_PER_SESSION

        def received() -> int:
            return sum(len(notify_seqs(s.messages, n)) for s in streams for n in nonces)

        deadline = time.monotonic() + 20
        while received() < total and time.monotonic() < deadline:
            time.sleep(0.05)
        assert received() == total, f"received {received()} of {total} notifications"
        foreign = {
            own: {n: len(notify_seqs(s.messages, n)) for n in nonces if n != own}
            for s, own in zip(streams, nonces, strict=True)
        }
        crossed = sum(sum(counts.values()) for counts in foreign.values())
        if defect:
            assert crossed > 0, "cross-session: no notification reached another session"
        else:
            assert crossed == 0, f"notifications reached other sessions: {foreign}"
    finally:
        _shut(cluster, streams)


@pytest.mark.timeout(60)
@_defect_param("forget-log-level")
def test_forget_log_level(make_cluster: Factory, sessions: Any, defect: str | None) -> None:
    """A log level set through n1 holds on n2: logging/setLevel is session state."""
    cluster = _start(make_cluster, defect)
    n1, n2 = cluster.urls
    session = sessions(n1)
    session.initialize()
    assert session.request("logging/setLevel", {"level": "error"}, url=n1)["result"] == {}

    def log(url: str, level: str) -> bool:
        session.related.clear()
        result = session.call_tool("log", {"level": level, "message": f"{level} via {url}"}, url)
        sent = bool(result["structuredContent"]["sent"])
        # What the tool says matches what actually arrived on the call's stream.
        arrived = [m for m in session.related if m.get("method") == "notifications/message"]
        assert bool(arrived) == sent, (result, session.related)
        return sent

    # On the node that was told, the level holds either way (control).
    assert not log(n1, "info")
    assert log(n1, "error")
    assert log(n2, "error")
    sent_on_n2 = log(n2, "info")
    if defect:
        assert sent_on_n2, "forget-log-level: n2 still filtered by the level set on n1"
    else:
        assert not sent_on_n2, "n2 sent an info message below the session's error level"


@pytest.mark.timeout(60)
@_defect_param("node-local-state-key")
def test_node_local_state_key(make_cluster: Factory, defect: str | None) -> None:
    """2026-07-28 MRTR: a requestState sealed by n1 opens on n2 (one key for the cluster)."""
    cluster = _start(make_cluster, defect)
    n1, n2 = cluster.urls
    nonce = _nonce()
    state = modern.sample(n1, nonce).result["requestState"]
    on_n2 = modern.sample(n2, nonce, state=state, answer="from n2")
    if defect:
        assert on_n2.error["code"] == INVALID_PARAMS, on_n2.body
        assert "failed verification" in on_n2.error["message"]
        # Control: the node that sealed it still opens it.
        on_n1 = modern.sample(n1, nonce, state=state, answer="from n1")
        assert on_n1.result["structuredContent"]["answered_by"] == "n1"
    else:
        assert on_n2.result["structuredContent"]["answered_by"] == "n2", on_n2.body


@pytest.mark.timeout(60)
@_defect_param("replayable-state")
def test_replayable_state(make_cluster: Factory, defect: str | None) -> None:
    """2026-07-28 MRTR: each requestState is accepted once in the cluster; a replay of the
    same retry on the other node is refused."""
    cluster = _start(make_cluster, defect)
    n1, n2 = cluster.urls
    nonce = _nonce()
    state = modern.sample(n1, nonce).result["requestState"]
    first = modern.sample(n2, nonce, state=state, answer="first")
    assert first.result["resultType"] == "complete", first.body  # control
    replay = modern.sample(n1, nonce, state=state, answer="replayed")
    if defect:
        assert replay.result["structuredContent"]["text"] == "replayed", replay.body
    else:
        assert replay.error["code"] == INVALID_PARAMS, replay.body
        assert "already used" in replay.error["message"]


@pytest.mark.timeout(60)
@_defect_param("local-listen")
def test_local_listen(redis_server: RedisProcess, defect: str | None) -> None:
    """A change published on n1 reaches the listen stream on n2 unless the defect is on.

    Two nodes as ``build_node`` assembles them, on one real Redis, in this process: the
    listen streams are read from ``reference_server.subscriptions.listen`` directly, since
    serving subscriptions/listen over HTTP belongs to the 2026-07-28 request path.
    """

    async def scenario() -> bool:
        defects = parse_defects([defect] if defect else [])
        nodes = [
            build_node(
                ServerConfig(
                    node_id=node_id,
                    session_store="redis",
                    stream_manager="redis",
                    redis_url=redis_server.url,
                    defects=defects,
                )
            )
            for node_id in ("n1", "n2")
        ]
        for node in nodes:
            await node.start()
        try:
            wanted = {"_meta": {}, "notifications": {"toolsListChanged": True}}
            on_n1, on_n2 = (listen(1, wanted, node.bus, keepalive=60.0) for node in nodes)
            for stream in (on_n1, on_n2):
                await asyncio.wait_for(anext(stream), 5)
            await nodes[0].bus.publish(Change.list_changed("tools", {"nonce": "from-n1"}))
            # The publisher's own stream gets it either way.
            assert await _next_nonce(on_n1) == "from-n1"
            # Positive control, published after: on n2 it comes second if the first crossed.
            await nodes[1].bus.publish(Change.list_changed("tools", {"nonce": "from-n2"}))
            crossed = await _next_nonce(on_n2) == "from-n1"
            for stream in (on_n1, on_n2):
                await stream.aclose()
            return crossed
        finally:
            for node in nodes:
                await node.close()

    crossed = asyncio.run(scenario())
    assert crossed == (defect is None)


async def _next_nonce(stream: AsyncGenerator[JsonDict | None, None]) -> str:
    async def first_message() -> JsonDict:
        async for item in stream:
            if item is not None:
                return item
        raise AssertionError("the listen stream ended")

    message = await asyncio.wait_for(first_message(), 5)
    return str(message["params"]["_meta"]["nonce"])
