"""Property-based fuzzing of /mcp on a real node (Redis store, then memory store).

Every method and tool, hostile headers, malformed and huge bodies, raw HTTP framing and
answers to server->client requests. Whatever comes in, the node answers within a bound, never
with a 5xx (503 is for a store outage, which these tests do not cause), with the status and
JSON-RPC error a correct server gives, and it keeps serving: each example ends by checking the
node answers a ping and logged no traceback.

Reproducible: examples are derandomized (the same ones every run) and failures shrink.
``MCP_SCALE_FUZZ_EXAMPLES`` (default 100) sets the examples of each property in the default
run; the ``slow`` variants run ``MCP_SCALE_FUZZ_LONG_EXAMPLES`` (default 1000);
``MCP_SCALE_FUZZ_SEED=N`` draws other examples, those of seed N.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from harness.cluster.local import LocalCluster
from harness.cluster.node_process import NodeProcess
from tests.support.mcp_fuzz import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    METHODS,
    SERVER_REQUEST_TOOLS,
    TOOLS,
    Body,
    Call,
    Headers,
    Message,
    accepts_json,
    accepts_sse,
    answer_is_valid,
    answers,
    header_sets,
    hostile_bodies,
    media_types,
    messages,
    mistyped_calls,
    origin_allowed,
    raw_header_bytes,
    valid_calls,
)
from tests.support.mcp_http import iter_sse

pytestmark = pytest.mark.timeout(900)

EXAMPLES = int(os.environ.get("MCP_SCALE_FUZZ_EXAMPLES", "100"))
LONG_EXAMPLES = int(os.environ.get("MCP_SCALE_FUZZ_LONG_EXAMPLES", "1000"))
SEED = os.environ.get("MCP_SCALE_FUZZ_SEED")
BUDGETS = [
    pytest.param(EXAMPLES, id="ci"),
    pytest.param(LONG_EXAMPLES, id="long", marks=pytest.mark.slow),
]
# The bound on every request: a node that has not answered by then hangs.
REQUEST_BOUND = 5.0
MAX_BODY = 1_000_000
ACCEPT_BOTH = b"application/json, text/event-stream"


def fuzz_settings(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The same examples every run; or, with MCP_SCALE_FUZZ_SEED, those of that seed (to
    explore further; a failure then names the seed to run again)."""

    def apply(test: Callable[..., None]) -> Callable[..., None]:
        # No deadline: the bound that matters is REQUEST_BOUND on each request, and a
        # per-example deadline would be a timing assert on a shared 2-core machine.
        test = settings(
            max_examples=examples,
            deadline=None,
            derandomize=SEED is None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )(test)
        return test if SEED is None else seed(int(SEED))(test)

    return apply


def strict_json(data: bytes | str) -> Any:
    """JSON as RFC 8259 has it: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(data, parse_constant=refuse)


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes
    session_id: str | None
    # The JSON-RPC messages of the body: one for JSON, each event's for SSE.
    messages: list[Any] = field(default_factory=list)

    @property
    def final(self) -> Any:
        return self.messages[-1] if self.messages else None

    def describe(self) -> str:
        return f"HTTP {self.status} {self.content_type}: {self.body[:300]!r}"


@dataclass
class FuzzNode:
    """One node under fuzz, a session on it, and the checks made after every example."""

    store: str
    process: NodeProcess
    http: httpx.Client
    session_id: str = ""
    log_offset: int = 0

    @property
    def url(self) -> str:
        return self.process.url

    def session(self) -> str:
        if not self.session_id:
            self.session_id = self.initialize({})
        return self.session_id

    def initialize(self, capabilities: dict[str, Any]) -> str:
        init = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": capabilities,
                "clientInfo": {"name": "fuzz", "version": "0"},
            },
        }
        reply = self.send("POST", None, json.dumps(init).encode())
        assert reply.status == 200 and reply.session_id, reply.describe()
        return reply.session_id

    def headers(self, session_id: str | None = None) -> dict[str, bytes]:
        return {
            "accept": ACCEPT_BOTH,
            "content-type": b"application/json",
            "mcp-session-id": (session_id or self.session()).encode(),
            "mcp-protocol-version": b"2025-11-25",
        }

    def send(self, verb: str, headers: dict[str, bytes] | None, body: bytes | None = None) -> Reply:
        """One request, its answer read in full (an SSE GET only up to its headers)."""
        if headers is None:
            headers = {"accept": ACCEPT_BOTH, "content-type": b"application/json"}
        try:
            sent = {name.encode(): value for name, value in headers.items()}
            with self.http.stream(verb, self.url, headers=sent, content=body) as response:
                content_type = response.headers.get("content-type", "")
                streaming = verb == "GET" and content_type.startswith("text/event-stream")
                data = b"" if streaming else response.read()
                reply = Reply(
                    response.status_code,
                    content_type,
                    data,
                    response.headers.get("mcp-session-id"),
                )
        except httpx.TimeoutException as exc:
            raise AssertionError(f"{verb}: no answer in {REQUEST_BOUND}s (hang): {exc!r}") from exc
        assert reply.status < 500, f"{reply.describe()}\nnode log:\n{self.log_tail()}"
        if verb == "HEAD":
            return reply
        if content_type.startswith("application/json"):
            reply.messages = [strict_json(reply.body)]
        elif content_type.startswith("text/event-stream") and reply.body:
            lines = iter(reply.body.decode().splitlines())
            reply.messages = [strict_json(e.data) for e in iter_sse(lines) if e.data.strip()]
        for message in reply.messages:
            check_jsonrpc(message)
        return reply

    def check_healthy(self) -> None:
        """The node is up, logged no traceback, and serves the next valid request."""
        assert self.process.alive(), f"the node died; log: {self.log_tail()}"
        ping = json.dumps({"jsonrpc": "2.0", "id": "health", "method": "ping"}).encode()
        reply = self.send("POST", self.headers(), ping)
        if reply.status == 404:  # the example deleted our session
            self.session_id = ""
            reply = self.send("POST", self.headers(), ping)
        assert reply.status == 200, reply.describe()
        assert reply.final == {"jsonrpc": "2.0", "id": "health", "result": {}}, reply.describe()
        new_log = self.log_tail()
        assert "Traceback" not in new_log, f"the node logged an error:\n{new_log}"

    def skip_log(self) -> None:
        """What the node logged so far is not the next example's doing."""
        self.log_tail()

    def full_log(self) -> str:
        return self.process.log_path.read_text(errors="replace")

    def log_tail(self) -> str:
        with open(self.process.log_path, "rb") as log:
            log.seek(self.log_offset)
            data = log.read()
        self.log_offset += len(data)
        return data.decode(errors="replace")


def check_jsonrpc(message: Any) -> None:
    """A server's JSON-RPC message is well formed (the shape, not the meaning)."""
    assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", message
    if "method" in message:
        assert isinstance(message["method"], str), message
        return
    assert ("result" in message) != ("error" in message), message
    request_id = message.get("id", "missing")
    assert request_id is None or isinstance(request_id, str | int), message
    assert not isinstance(request_id, bool), message
    if "error" in message:
        error = message["error"]
        assert isinstance(error.get("code"), int) and isinstance(error.get("message"), str)
    else:
        assert isinstance(message["result"], dict), message


def rpc(method: str, params: dict[str, Any] | None, request_id: Any = 1) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def answer_to(reply: Reply, request_id: Any) -> dict[str, Any]:
    """The response to ``request_id`` in ``reply``: the JSON body, or the SSE stream's last."""
    assert reply.status in (200, 400), reply.describe()
    final = reply.final
    assert isinstance(final, dict) and "method" not in final, reply.describe()
    assert final.get("id") == request_id and type(final.get("id")) is type(request_id), final
    return final


@pytest.fixture(scope="module", params=["redis", "memory"])
def node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzNode]:
    store = str(request.param)
    cluster = LocalCluster(
        nodes=1,
        store=store,
        log_dir=tmp_path_factory.mktemp(f"fuzz-{store}"),
        node_args=("--max-body-bytes", str(MAX_BODY)),
    )
    cluster.start()
    limits = httpx.Limits(max_keepalive_connections=0)  # no example rides on another's socket
    try:
        with httpx.Client(timeout=REQUEST_BOUND, limits=limits) as http:
            del http.headers["accept"]  # send no Accept unless an example does
            yield FuzzNode(store, cluster.node("n1"), http)
    finally:
        cluster.close()


# --- the properties ------------------------------------------------------------------------


def test_the_fuzzed_tools_are_the_served_tools(node: FuzzNode) -> None:
    reply = node.send("POST", node.headers(), rpc("tools/list", None))
    served = {tool["name"] for tool in reply.final["result"]["tools"]}
    assert served == set(TOOLS), "fuzz every tool: update tests/support/mcp_fuzz.TOOLS"


@pytest.mark.parametrize("examples", BUDGETS)
def test_valid_calls_get_results(node: FuzzNode, examples: int) -> None:
    node.skip_log()

    @fuzz_settings(examples)
    @given(call=valid_calls())
    def valid_call_gets_a_result(call: Call) -> None:
        reply = node.send("POST", node.headers(), rpc(call.method, call.params, "v"))
        assert reply.status == 200, reply.describe()
        assert "result" in answer_to(reply, "v"), reply.describe()
        if call.method == "initialize":
            assert reply.session_id, reply.describe()
        node.check_healthy()

    valid_call_gets_a_result()


@pytest.mark.parametrize("examples", BUDGETS)
def test_wrong_types_are_invalid_params(node: FuzzNode, examples: int) -> None:
    node.skip_log()

    @fuzz_settings(examples)
    @given(call=mistyped_calls())
    def wrong_type_is_invalid_params(call: Call) -> None:
        reply = node.send("POST", node.headers(), rpc(call.method, call.params, 9))
        final = answer_to(reply, 9)
        assert final.get("error", {}).get("code") == INVALID_PARAMS, reply.describe()
        assert reply.status == (400 if call.method == "initialize" else 200), reply.describe()
        node.check_healthy()

    wrong_type_is_invalid_params()


@pytest.mark.parametrize("examples", BUDGETS)
def test_any_message_gets_its_answer(node: FuzzNode, examples: int) -> None:
    node.skip_log()

    stateless = {"accept": b"application/json", "content-type": b"application/json"}

    @fuzz_settings(examples)
    @given(message=messages(), with_session=st.booleans())
    def message_gets_its_answer(message: Message, with_session: bool) -> None:
        body = json.dumps(message.value).encode()
        reply = node.send("POST", node.headers() if with_session else stateless, body)
        if message.kind in ("notification", "response"):
            assert (reply.status, reply.body) == (202, b""), reply.describe()
        elif message.kind == "invalid":
            assert reply.status == 400, reply.describe()
            assert reply.final["error"]["code"] == INVALID_REQUEST, reply.describe()
        else:
            final = answer_to(reply, message.id)
            if reply.status == 400:
                assert message.value["method"] == "initialize", reply.describe()
                assert final["error"]["code"] == INVALID_PARAMS, reply.describe()
            if "error" in final and final["error"]["code"] == METHOD_NOT_FOUND:
                assert message.value["method"] not in METHODS, reply.describe()
        node.check_healthy()

    message_gets_its_answer()


def expected_statuses(verb: str, headers: Headers) -> set[int]:
    """The statuses a correct server may answer: those of every rule the request breaks,
    or success when it breaks none."""
    broken: set[int] = set()
    if not origin_allowed(headers.origin):
        broken.add(403)
    if verb in ("PUT", "PATCH", "OPTIONS"):
        return {405}
    if verb == "HEAD":
        return broken | {405}
    types = media_types(headers.accept)
    stateful = verb != "POST" or "text/event-stream" in types
    if verb == "POST":
        if not accepts_json(types):
            broken.add(406)
        ctype = (headers.content_type or b"").decode("latin-1").split(";")[0]
        if ctype.strip().lower() != "application/json":
            broken.add(415)
    if verb == "GET" and not accepts_sse(types):
        broken.add(406)
    if stateful:
        broken |= headers.session_statuses()
    return broken or {200, 202}


@pytest.mark.parametrize("examples", BUDGETS)
def test_hostile_headers(node: FuzzNode, examples: int) -> None:
    node.skip_log()

    @fuzz_settings(examples)
    @given(
        verb=st.sampled_from(["POST", "GET", "DELETE", "HEAD", "PUT"]),
        headers=header_sets,
        body=st.sampled_from(
            [
                rpc("ping", None, 5),
                rpc("tools/list", None, "t"),
                json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode(),
            ]
        ),
    )
    def hostile_headers_get_the_right_status(verb: str, headers: Headers, body: bytes) -> None:
        sent = headers.build(node.session())
        reply = node.send(verb, sent, body if verb == "POST" else None)
        allowed = expected_statuses(verb, headers)
        assert reply.status in allowed, (allowed, sent, reply.describe())
        if reply.status >= 400 and reply.status != 405 and verb != "HEAD":
            assert reply.final["error"]["code"] == INVALID_REQUEST, reply.describe()
        if verb == "DELETE" and reply.status == 200:
            node.session_id = ""
        node.check_healthy()

    hostile_headers_get_the_right_status()


@pytest.mark.parametrize("examples", BUDGETS)
def test_hostile_bodies(node: FuzzNode, examples: int) -> None:
    node.skip_log()

    @fuzz_settings(examples)
    @given(body=hostile_bodies(MAX_BODY))
    def hostile_body_gets_the_right_status(body: Body) -> None:
        reply = node.send("POST", node.headers(), body.data)
        assert reply.status in body.statuses, (body.family, reply.describe())
        if reply.status == 200:
            assert "result" in reply.final, reply.describe()
        elif body.codes:
            assert reply.final["error"]["code"] in body.codes, reply.describe()
        node.check_healthy()

    hostile_body_gets_the_right_status()


def raw_exchange(port: int, data: bytes, hang_up: bool = False) -> bytes:
    """Send ``data`` on a fresh socket, end our side, read until the server closes (or, to
    hang up, close at once without reading)."""
    chunks: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=REQUEST_BOUND) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_RDWR if hang_up else socket.SHUT_WR)
        except OSError:  # the server may answer and close before it has read it all
            pass
        if hang_up:
            return b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError as exc:
                if chunks:
                    break
                raise AssertionError(f"no answer in {REQUEST_BOUND}s (hang)") from exc
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


# Calls answered on an SSE stream that takes a while: a client may hang up in the middle.
STREAMED_CALLS = [
    rpc("tools/call", {"name": "test_tool_with_logging"}),
    rpc("tools/call", {"name": "progress", "arguments": {"steps": 5, "interval_ms": 20}}),
    rpc("tools/call", {"name": "sample", "arguments": {"prompt": "p", "nonce": "n"}}),
]


@st.composite
def raw_requests(draw: st.DrawFn, session_id: str) -> tuple[bytes, bool]:
    """A POST of a ping with one thing wrong in its HTTP framing or header bytes; or a call
    answered on a stream whose client hangs up (the bool) as soon as it has sent it."""
    body = rpc("ping", None)
    line = b"POST /mcp HTTP/1.1"
    headers = {
        b"Host": b"127.0.0.1",
        b"Accept": ACCEPT_BOTH,
        b"Content-Type": b"application/json",
        b"Mcp-Session-Id": session_id.encode(),
        b"Content-Length": str(len(body)).encode(),
    }
    fault = draw(st.sampled_from(["header", "length", "chunked", "truncated", "line", "hang-up"]))
    if fault == "hang-up":
        body = draw(st.sampled_from(STREAMED_CALLS))
        headers[b"Content-Length"] = str(len(body)).encode()
    elif fault == "header":
        name = draw(
            st.sampled_from(
                [
                    b"Mcp-Session-Id",
                    b"MCP-Protocol-Version",
                    b"Origin",
                    b"Last-Event-ID",
                    b"Accept",
                    b"Content-Type",
                    b"X-\xff",
                    b"Bad Name",
                    b"",
                ]
            )
        )
        headers[name] = draw(raw_header_bytes)
    elif fault == "length":
        lengths = [b"-1", b"abc", b"1e3", b"9" * 30, b"9" * 5000, b"", b" 5", b"0x10", b"0"]
        headers[b"Content-Length"] = draw(
            st.sampled_from(lengths) | st.integers(0, 2 * len(body)).map(lambda n: str(n).encode())
        )
    elif fault == "chunked":
        del headers[b"Content-Length"]
        headers[b"Transfer-Encoding"] = draw(st.sampled_from([b"chunked", b"gzip, chunked", b"x"]))
        size = draw(st.integers(0, len(body)))
        hex_size = draw(st.just(f"{size:x}".encode()) | st.sampled_from([b"zz", b"-1", b"f" * 20]))
        end = draw(st.sampled_from([b"0\r\n\r\n", b""]))
        body = hex_size + b"\r\n" + body[:size] + b"\r\n" + end
    elif fault == "truncated":
        body = body[: draw(st.integers(0, len(body) - 1))]
    else:
        line = draw(
            st.sampled_from(
                [
                    b"POST /mcp HTTP/1.0",
                    b"POST /mcp?x=%ff HTTP/1.1",
                    b"POST //mcp HTTP/1.1",
                    b"POST /mcp HTTP/9.9",
                    b"post /mcp HTTP/1.1",
                    b"POST /mcp\x00 HTTP/1.1",
                    b"POST " + b"/mcp" * 3000 + b" HTTP/1.1",
                ]
            )
        )
    head = b"\r\n".join([line, *(name + b": " + value for name, value in headers.items())])
    return head + b"\r\n\r\n" + body, fault == "hang-up"


@pytest.mark.parametrize("examples", BUDGETS)
def test_raw_http_framing(node: FuzzNode, examples: int) -> None:
    node.skip_log()

    @fuzz_settings(examples)
    @given(data=st.data())
    def broken_framing_is_no_server_error(data: st.DataObject) -> None:
        request, hang_up = data.draw(raw_requests(node.session()), label="request")
        answer = raw_exchange(node.process.port, request, hang_up)
        if answer:
            status_line = answer.split(b"\r\n", 1)[0]
            assert status_line.startswith(b"HTTP/1.1 "), answer[:200]
            assert int(status_line.split()[1]) < 500, answer[:500]
        node.check_healthy()

    broken_framing_is_no_server_error()


@pytest.mark.parametrize("examples", BUDGETS)
def test_answers_to_server_requests(node: FuzzNode, examples: int) -> None:
    asking = node.initialize({"sampling": {}, "elicitation": {}})

    node.skip_log()

    @fuzz_settings(examples)
    @given(tool=st.sampled_from(sorted(SERVER_REQUEST_TOOLS)), data=st.data())
    def any_answer_leaves_the_call_answered(tool: str, data: st.DataObject) -> None:
        call = rpc("tools/call", {"name": tool, "arguments": SERVER_REQUEST_TOOLS[tool]}, "c")
        headers = {name.encode(): value for name, value in node.headers(asking).items()}
        with node.http.stream("POST", node.url, headers=headers, content=call) as response:
            assert response.status_code == 200, response.read()
            events = (e for e in iter_sse(response.iter_lines()) if e.data.strip())
            asked = strict_json(next(events).data)
            assert "method" in asked and "id" in asked, asked
            if data.draw(st.integers(0, 9), label="hang up") == 0:
                final = None  # the client leaves the call waiting for an answer
            else:
                answer_once(asked, data)
                final = strict_json(next(events).data)
        if final is not None:
            check_jsonrpc(final)
            assert final["id"] == "c" and "method" not in final, final
        node.check_healthy()

    def answer_once(asked: dict[str, Any], data: st.DataObject) -> None:
        """POST a fuzzed answer to ``asked``, then a proper one if that was not taken."""
        headers = node.headers(asking)
        answer = data.draw(answers(asked["id"]), label="answer")
        posted = node.send("POST", headers, json.dumps(answer).encode())
        assert posted.status == (202 if answer_is_valid(answer) else 400), posted.describe()
        if not (answer_is_valid(answer) and answer["id"] == asked["id"]):
            proper = {"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "decline"}}
            assert node.send("POST", headers, json.dumps(proper).encode()).status == 202

    any_answer_leaves_the_call_answered()


def test_node_is_still_up(node: FuzzNode) -> None:
    """After all of it (this test runs last for each node): alive, serving, and no error in
    its whole log (one logged after an example had been checked, too)."""
    node.check_healthy()
    assert node.process.alive()
    assert "Traceback" not in node.full_log(), node.full_log()[-3000:]
