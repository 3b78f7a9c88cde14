"""The Streamable HTTP and JSON-RPC error rules of one node, with plain httpx.

Every wrong request gets the documented HTTP status and JSON-RPC error code, never a 500.
Session rules run against both the in-memory and the Redis implementations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.cluster.local import LocalCluster

pytestmark = pytest.mark.timeout(60)

ACCEPT_BOTH = "application/json, text/event-stream"
VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
LATEST = "2025-11-25"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602


def _cluster(store: str, log_dir: Path) -> Iterator[str]:
    cluster = LocalCluster(nodes=1, store=store, log_dir=log_dir)
    try:
        yield cluster.start().urls[0]
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def memory_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _cluster("memory", tmp_path_factory.mktemp("memory-node"))


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _cluster("redis", tmp_path_factory.mktemp("redis-node"))


@pytest.fixture(params=["memory", "redis"])
def url(request: pytest.FixtureRequest) -> str:
    """The /mcp URL of a node of each store kind (session rules must hold for both)."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


def headers(
    session_id: str | None = None, version: str | None = LATEST, accept: str = ACCEPT_BOTH
) -> dict[str, str]:
    result = {"accept": accept, "content-type": "application/json"}
    if session_id is not None:
        result["mcp-session-id"] = session_id
        if version is not None:
            result["mcp-protocol-version"] = version
    return result


def rpc(method: str, params: dict[str, Any] | None = None, id: int | str = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def init_message(version: str = LATEST) -> dict[str, Any]:
    return rpc(
        "initialize",
        {
            "protocolVersion": version,
            "capabilities": {"sampling": {}},
            "clientInfo": {"name": "protocol-error-tests", "version": "0"},
        },
    )


def initialize(http: httpx.Client, url: str, version: str = LATEST) -> str:
    """A fresh initialized session; its id."""
    response = http.post(url, headers=headers(), json=init_message(version))
    assert response.status_code == 200, response.text
    session_id = response.headers["mcp-session-id"]
    done = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert http.post(url, headers=headers(session_id), json=done).status_code == 202
    return session_id


def expect_error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    """A JSON-RPC error body with ``code`` under HTTP ``status``; returns the body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["jsonrpc"] == "2.0"
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body)


@pytest.fixture
def session(http: httpx.Client, url: str) -> str:
    return initialize(http, url)


# --- parsing and JSON-RPC validation --------------------------------------------------------


def _ping_with(value: bytes) -> bytes:
    return b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":' + value + b"}}"


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"not json",
        b"",
        b'{"jsonrpc": "2.0", "id": 1,',
        b"\xff\xfe\x00",
        b"{'a': 1}",
        _ping_with(b"NaN"),
        _ping_with(b"-Infinity"),
        _ping_with(b"1e999"),
        _ping_with(b'"\\ud800"'),
        b'{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"\\udc00"}}',
        json.dumps(rpc("ping")).encode("utf-16"),
        b"[" * 5000 + b"]" * 5000,
        _ping_with(b"[" * 127 + b"]" * 127),
    ],
    ids=[
        "open-brace",
        "words",
        "empty",
        "truncated",
        "bad-utf8",
        "single-quotes",
        "nan",
        "infinity",
        "overflowing-number",
        "lone-surrogate",
        "lone-surrogate-uri",
        "utf-16",
        "nested-5000-deep",
        "nested-129-deep",
    ],
)
def test_malformed_json_is_parse_error(http: httpx.Client, url: str, body: bytes) -> None:
    """Only strict JSON (RFC 8259), and not nested deeper than a message ever needs: what
    the server could not echo, store in Redis or forward as valid JSON is refused up front."""
    session_id = initialize(http, url)
    response = http.post(url, headers=headers(session_id), content=body)
    expect_error(response, 400, PARSE_ERROR)


@pytest.mark.parametrize("big", [2**64, -(2**63) - 1, 10**40], ids=["2^64", "-2^63-1", "10^40"])
def test_integers_past_64_bits_stay_integers(
    http: httpx.Client, url: str, session: str, big: int
) -> None:
    """A JSON-RPC id or error code is any integer: one past 64 bits is not read as a float."""
    response = http.post(url, headers=headers(session), json=rpc("ping", id=big))
    assert response.json() == {"jsonrpc": "2.0", "id": big, "result": {}}
    answer = {"jsonrpc": "2.0", "id": big, "error": {"code": big, "message": "no"}}
    assert http.post(url, headers=headers(session), json=answer).status_code == 202


def test_deep_but_bounded_nesting_is_served(http: httpx.Client, url: str, session: str) -> None:
    deep = _ping_with(b"[" * 126 + b"]" * 126)  # 128 levels: message, params, 126 arrays
    response = http.post(url, headers=headers(session), content=deep)
    assert response.json() == {"jsonrpc": "2.0", "id": 1, "result": {}}


@pytest.mark.parametrize(
    "message",
    [
        [],
        [{"jsonrpc": "2.0", "id": 1, "method": "ping"}],
        "ping",
        42,
        None,
        {"id": 1, "method": "ping"},
        {"jsonrpc": "1.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1, "method": 7},
        {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1, 2]},
        {"jsonrpc": "2.0", "id": 1.5, "method": "ping"},
        {"jsonrpc": "2.0", "id": True, "method": "ping"},
        {"jsonrpc": "2.0", "id": None, "method": "ping"},
        {"jsonrpc": "2.0"},
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "2.0", "id": 1, "result": {}, "error": {"code": 1, "message": "x"}},
        {"jsonrpc": "2.0", "id": 1, "error": "declined"},
        {"jsonrpc": "2.0", "id": 1, "error": {"code": "1", "message": "x"}},
        {"jsonrpc": "2.0", "id": 1, "error": {"code": True, "message": "x"}},
        {"jsonrpc": "2.0", "id": 1, "error": {"code": 1}},
        {"jsonrpc": "2.0", "id": 1, "error": {"code": 1, "message": None}},
    ],
    ids=[
        "empty-batch",
        "batch",
        "string",
        "number",
        "null",
        "no-jsonrpc",
        "jsonrpc-1.0",
        "method-not-string",
        "params-array",
        "id-float",
        "id-bool",
        "id-null",
        "nothing",
        "response-without-result",
        "response-with-both",
        "error-not-object",
        "error-code-string",
        "error-code-bool",
        "error-without-message",
        "error-message-null",
    ],
)
def test_invalid_jsonrpc_is_invalid_request(
    http: httpx.Client, memory_url: str, message: Any
) -> None:
    response = http.post(memory_url, headers=headers(), content=json.dumps(message))
    expect_error(response, 400, INVALID_REQUEST)


def test_invalid_request_echoes_a_valid_id(http: httpx.Client, memory_url: str) -> None:
    message = {"jsonrpc": "2.0", "id": "abc", "method": "ping", "params": "nope"}
    body = expect_error(http.post(memory_url, headers=headers(), json=message), 400, -32600)
    assert body["id"] == "abc"


@pytest.mark.parametrize("bad_id", [0.5, True, [1], {"a": 1}], ids=str)
def test_invalid_request_never_echoes_an_invalid_id(
    http: httpx.Client, memory_url: str, bad_id: Any
) -> None:
    """An id that is not a string or an integer cannot be echoed: the error's id is null."""
    for message in ({**rpc("ping"), "id": bad_id}, {"jsonrpc": "2.0", "id": bad_id}):
        response = http.post(memory_url, headers=headers(), json=message)
        assert expect_error(response, 400, INVALID_REQUEST)["id"] is None


def test_unknown_method(http: httpx.Client, url: str, session: str) -> None:
    response = http.post(url, headers=headers(session), json=rpc("tools/frobnicate", id=7))
    body = expect_error(response, 200, METHOD_NOT_FOUND)
    assert body["id"] == 7


PROMPT_REF = {"type": "ref/prompt", "name": "test_prompt_with_arguments"}
ARGUMENT = {"name": "arg1", "value": "pa"}
ARGUMENT_VALUES = {"arg1": "a", "arg2": "b"}
# 10,000 notifications two minutes apart: a call of two weeks.
NOTIFY_FOR_DAYS = {"count": 10_000, "interval_ms": 120_000, "nonce": "n"}


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("tools/call", {"name": "no-such-tool", "arguments": {}}),
        ("tools/call", {"arguments": {}}),
        ("tools/call", {"name": "echo", "arguments": [1]}),
        ("tools/call", {"name": "echo", "arguments": {}}),
        ("tools/call", {"name": "echo", "arguments": {"text": 5}}),
        ("logging/setLevel", {"level": "loud"}),
        ("logging/setLevel", {}),
        ("resources/read", {}),
        ("prompts/get", {"name": "no-such-prompt"}),
        ("tools/call", {"name": "whoami", "arguments": None}),
        ("tools/call", {"name": "whoami", "arguments": []}),
        ("tools/call", {"name": "whoami", "_meta": None}),
        ("tools/call", {"name": "whoami", "_meta": {"progressToken": {"a": 1}}}),
        ("tools/call", {"name": "whoami", "_meta": {"progressToken": True}}),
        ("tools/call", {"name": "whoami", "_meta": {"progressToken": 1.5}}),
        ("tools/call", {"name": "json_schema_2020_12_tool", "arguments": {"name": 5}}),
        ("tools/call", {"name": "json_schema_2020_12_tool", "arguments": {"address": "x"}}),
        (
            "tools/call",
            {"name": "json_schema_2020_12_tool", "arguments": {"address": {"city": [1]}}},
        ),
        ("tools/call", {"name": "json_schema_2020_12_tool", "arguments": {"extra": 1}}),
        ("prompts/get", {"name": "test_prompt_with_arguments", "arguments": 5}),
        ("prompts/get", {"name": "test_prompt_with_arguments", "arguments": ["arg1", "arg2"]}),
        ("prompts/get", {"name": "test_prompt_with_arguments", "arguments": {"arg1": 1}}),
        ("prompts/get", {"name": "test_simple_prompt", "arguments": {"x": None}}),
        ("completion/complete", {"ref": PROMPT_REF, "argument": {"name": 1, "value": "a"}}),
        ("completion/complete", {"ref": PROMPT_REF, "argument": {"name": "arg1"}}),
        ("completion/complete", {"ref": {"type": "ref/other"}, "argument": ARGUMENT}),
        ("completion/complete", {"ref": {"type": "ref/prompt"}, "argument": ARGUMENT}),
        ("completion/complete", {"ref": {"type": "ref/resource", "uri": 5}, "argument": ARGUMENT}),
        ("tools/call", {"name": "notify", "arguments": NOTIFY_FOR_DAYS}),
    ],
    ids=[
        "unknown-tool",
        "tool-without-name",
        "arguments-not-object",
        "missing-argument",
        "argument-wrong-type",
        "bad-log-level",
        "no-log-level",
        "resource-without-uri",
        "unknown-prompt",
        "arguments-null",
        "arguments-empty-array",
        "meta-null",
        "progress-token-object",
        "progress-token-bool",
        "progress-token-fraction",
        "schema-tool-name-not-string",
        "schema-tool-address-not-object",
        "schema-tool-city-not-string",
        "schema-tool-unknown-argument",
        "prompt-arguments-number",
        "prompt-arguments-array",
        "prompt-argument-not-string",
        "prompt-extra-argument-null",
        "completion-name-not-string",
        "completion-without-value",
        "completion-unknown-ref-type",
        "completion-ref-without-name",
        "completion-ref-uri-not-string",
        "notify-for-days",
    ],
)
def test_invalid_params(
    http: httpx.Client, url: str, session: str, method: str, params: dict[str, Any]
) -> None:
    response = http.post(url, headers=headers(session), json=rpc(method, params, id="p"))
    body = expect_error(response, 200, INVALID_PARAMS)
    assert body["id"] == "p"


def test_progress_for_minutes_is_invalid_params(http: httpx.Client, url: str) -> None:
    arguments = {"steps": 10_000, "interval_ms": 13}  # 130 s of pauses
    call = rpc("tools/call", {"name": "progress", "arguments": arguments}, id="p")
    response = http.post(url, headers=headers(accept="application/json"), json=call)
    assert expect_error(response, 200, INVALID_PARAMS)["id"] == "p"


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("tools/call", {"name": "json_schema_2020_12_tool", "arguments": {}}),
        (
            "tools/call",
            {
                "name": "json_schema_2020_12_tool",
                "arguments": {"name": "n", "address": {"street": "s", "city": "c", "zip": 1}},
            },
        ),
        ("tools/call", {"name": "whoami", "_meta": {"progressToken": "t"}}),
        ("prompts/get", {"name": "test_prompt_with_arguments", "arguments": ARGUMENT_VALUES}),
        ("completion/complete", {"ref": PROMPT_REF, "argument": ARGUMENT}),
        (
            "completion/complete",
            {
                "ref": {"type": "ref/resource", "uri": "test://template/{id}/data"},
                "argument": ARGUMENT,
            },
        ),
    ],
    ids=[
        "schema-tool-empty",
        "schema-tool-full",
        "progress-token",
        "prompt",
        "complete-prompt",
        "complete-resource",
    ],
)
def test_well_typed_params_get_results(
    http: httpx.Client, url: str, session: str, method: str, params: dict[str, Any]
) -> None:
    response = http.post(url, headers=headers(session), json=rpc(method, params, id="ok"))
    assert response.status_code == 200, response.text
    assert "result" in response.json(), response.text


@pytest.mark.parametrize(
    "params",
    [
        {"protocolVersion": 20250618, "capabilities": {}, "clientInfo": {}},
        {"protocolVersion": ["2025-06-18"]},
        {"protocolVersion": None},
        {"capabilities": "all"},
        {"clientInfo": ["me"]},
    ],
    ids=["version-number", "version-array", "version-null", "capabilities", "client-info"],
)
def test_initialize_with_mistyped_params_is_invalid_params(
    http: httpx.Client, memory_url: str, params: dict[str, Any]
) -> None:
    response = http.post(memory_url, headers=headers(), json=rpc("initialize", params, id="i"))
    body = expect_error(response, 400, INVALID_PARAMS)
    assert body["id"] == "i"
    assert "mcp-session-id" not in response.headers


def test_ping_answers_empty_object(http: httpx.Client, url: str, session: str) -> None:
    response = http.post(url, headers=headers(session), json=rpc("ping", id=3))
    assert response.status_code == 200
    assert response.json() == {"jsonrpc": "2.0", "id": 3, "result": {}}


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}},
        {"jsonrpc": "2.0", "method": "notifications/no-such-thing"},
        {"jsonrpc": "2.0", "id": "nobody-asked", "result": {}},
        {"jsonrpc": "2.0", "id": 12, "error": {"code": -1, "message": "declined"}},
    ],
    ids=["initialized", "cancelled", "unknown-notification", "result", "error"],
)
def test_notifications_and_responses_get_202(
    http: httpx.Client, url: str, session: str, message: dict[str, Any]
) -> None:
    response = http.post(url, headers=headers(session), json=message)
    assert response.status_code == 202
    assert response.content == b""


def test_malformed_answer_to_a_server_request_is_refused(
    http: httpx.Client, url: str, session: str
) -> None:
    """An answer whose error is not {code, message} is a 400: it neither crashes the waiting
    tool nor counts as its answer, and a proper answer afterwards still completes the call."""
    call = rpc("tools/call", {"name": "sample", "arguments": {"prompt": "p", "nonce": "n"}}, "s")
    with http.stream("POST", url, headers=headers(session), json=call) as stream:
        lines = stream.iter_lines()
        asked = json.loads(_read_event(lines)["data"])
        assert asked["method"] == "sampling/createMessage"
        for error in ("declined", {"code": "1", "message": "x"}, {"code": 1}):
            bad = {"jsonrpc": "2.0", "id": asked["id"], "error": error}
            expect_error(http.post(url, headers=headers(session), json=bad), 400, INVALID_REQUEST)
        answer = {"jsonrpc": "2.0", "id": asked["id"], "result": {"content": {"text": "ok"}}}
        assert http.post(url, headers=headers(session), json=answer).status_code == 202
        final = json.loads(_read_event(lines)["data"])
    assert final["id"] == "s"
    assert final["result"]["content"][0]["text"] == "ok", final


# --- body size -------------------------------------------------------------------------------


@pytest.fixture
def small_body_url(make_cluster: Callable[..., LocalCluster]) -> str:
    cluster = make_cluster(nodes=1, store="memory", node_args=("--max-body-bytes", "1000"))
    return cluster.urls[0]


def test_body_over_limit_is_413(http: httpx.Client, small_body_url: str) -> None:
    session = initialize(http, small_body_url)
    fits = rpc("tools/call", {"name": "echo", "arguments": {"text": "x" * 800}})
    response = http.post(small_body_url, headers=headers(session), json=fits)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["content"][0]["text"] == "x" * 800

    too_big = rpc("tools/call", {"name": "echo", "arguments": {"text": "x" * 1200}})
    response = http.post(small_body_url, headers=headers(session), json=too_big)
    expect_error(response, 413, INVALID_REQUEST)

    # Without Content-Length (chunked): the limit holds while the body is read.
    body = json.dumps(too_big).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 256):
            yield body[start : start + 256]

    response = http.post(small_body_url, headers=headers(session), content=chunks())
    expect_error(response, 413, INVALID_REQUEST)
    # The node is still fine afterwards.
    response = http.post(small_body_url, headers=headers(session), json=rpc("ping"))
    assert response.json()["result"] == {}


# --- HTTP header rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "https://localhost.evil.example",
        "null",
        "http://10.0.0.1:8000",
        "http://[",
        "http://[::1",
        "",
    ],
)
def test_foreign_origin_is_403(http: httpx.Client, memory_url: str, origin: str) -> None:
    response = http.post(memory_url, headers={**headers(), "origin": origin}, json=init_message())
    expect_error(response, 403, INVALID_REQUEST)
    assert "mcp-session-id" not in response.headers


@pytest.mark.parametrize(
    "origin", ["http://localhost:1234", "http://127.0.0.1:8080", "http://[::1]:3000"]
)
def test_loopback_origin_is_allowed(http: httpx.Client, memory_url: str, origin: str) -> None:
    response = http.post(memory_url, headers={**headers(), "origin": origin}, json=init_message())
    assert response.status_code == 200, response.text
    assert response.headers["mcp-session-id"]


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "text/plain",
        "",
        "application/jsonl",
        "application/json-seq",
        "text/event-stream",
    ],
)
def test_post_with_wrong_accept_is_406(
    http: httpx.Client, url: str, session: str, accept: str
) -> None:
    response = http.post(url, headers=headers(session, accept=accept), json=rpc("ping"))
    expect_error(response, 406, INVALID_REQUEST)


@pytest.mark.parametrize("accept", ["application/json", "text/html", "", "text/event-streams"])
def test_get_without_event_stream_is_406(
    http: httpx.Client, url: str, session: str, accept: str
) -> None:
    response = http.get(url, headers=headers(session, accept=accept))
    expect_error(response, 406, INVALID_REQUEST)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/jsonx", "application/json-rpc", "json", ""]
)
def test_wrong_content_type_is_415(http: httpx.Client, memory_url: str, content_type: str) -> None:
    hdrs = {**headers(), "content-type": content_type}
    response = http.post(memory_url, headers=hdrs, content=json.dumps(init_message()))
    expect_error(response, 415, INVALID_REQUEST)


def test_media_types_are_case_insensitive_and_may_have_parameters(
    http: httpx.Client, url: str, session: str
) -> None:
    post = {
        **headers(session),
        "accept": "Application/JSON;q=1, TEXT/EVENT-STREAM",
        "content-type": "Application/Json; charset=utf-8",
    }
    response = http.post(url, headers=post, json=rpc("ping"))
    assert response.status_code == 200, response.text
    get_headers = {**headers(session), "accept": "Text/Event-Stream; q=0.5"}
    with http.stream("GET", url, headers=get_headers) as stream:
        assert stream.status_code == 200, stream.read()


def test_unsupported_method_is_405(http: httpx.Client, memory_url: str) -> None:
    assert http.put(memory_url, headers=headers(), json=rpc("ping")).status_code == 405


@pytest.mark.parametrize("version", ["2024-11-05", "2026-07-28", "garbage", ""])
def test_unsupported_protocol_version_header_is_400(
    http: httpx.Client, url: str, session: str, version: str
) -> None:
    response = http.post(url, headers=headers(session, version=version), json=rpc("ping"))
    expect_error(response, 400, INVALID_REQUEST)
    response = http.get(url, headers=headers(session, version=version, accept="text/event-stream"))
    expect_error(response, 400, INVALID_REQUEST)


def test_missing_protocol_version_header_is_accepted(
    http: httpx.Client, url: str, session: str
) -> None:
    response = http.post(url, headers=headers(session, version=None), json=rpc("ping"))
    assert response.status_code == 200
    assert response.json()["result"] == {}


# --- sessions ------------------------------------------------------------------------------


def test_missing_session_id_is_400(http: httpx.Client, url: str, session: str) -> None:
    expect_error(http.post(url, headers=headers(), json=rpc("ping")), 400, INVALID_REQUEST)
    response = http.get(url, headers={"accept": "text/event-stream"})
    expect_error(response, 400, INVALID_REQUEST)
    expect_error(http.delete(url, headers=headers()), 400, INVALID_REQUEST)


@pytest.mark.parametrize("session_id", ["0" * 32, "no-such-session", "x"])
def test_unknown_session_is_404(http: httpx.Client, url: str, session_id: str) -> None:
    response = http.post(url, headers=headers(session_id), json=rpc("ping"))
    expect_error(response, 404, INVALID_REQUEST)
    response = http.get(url, headers=headers(session_id, accept="text/event-stream"))
    expect_error(response, 404, INVALID_REQUEST)
    expect_error(http.delete(url, headers=headers(session_id)), 404, INVALID_REQUEST)


def test_deleted_session_is_404(http: httpx.Client, url: str, session: str) -> None:
    assert http.post(url, headers=headers(session), json=rpc("ping")).status_code == 200
    assert http.delete(url, headers=headers(session)).status_code == 200
    response = http.post(url, headers=headers(session), json=rpc("ping"))
    expect_error(response, 404, INVALID_REQUEST)
    response = http.get(url, headers=headers(session, accept="text/event-stream"))
    expect_error(response, 404, INVALID_REQUEST)
    expect_error(http.delete(url, headers=headers(session)), 404, INVALID_REQUEST)
    # The client re-initializes without an id and carries on.
    fresh = initialize(http, url)
    assert fresh != session
    assert http.post(url, headers=headers(fresh), json=rpc("ping")).status_code == 200


def test_session_ids_are_visible_ascii_and_unique(http: httpx.Client, url: str) -> None:
    ids = {initialize(http, url) for _ in range(20)}
    assert len(ids) == 20
    for session_id in ids:
        assert len(session_id) >= 16
        assert all(0x21 <= ord(char) <= 0x7E for char in session_id)


def test_stateless_client(http: httpx.Client, url: str) -> None:
    """Accept: application/json only: no session is created, and calls need none."""
    json_only = headers(accept="application/json")
    response = http.post(url, headers=json_only, json=init_message())
    assert response.status_code == 200, response.text
    assert "mcp-session-id" not in response.headers
    assert response.json()["result"]["protocolVersion"] == LATEST
    call = rpc("tools/call", {"name": "echo", "arguments": {"text": "stateless"}}, id=2)
    response = http.post(url, headers=json_only, json=call)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["result"]["content"][0]["text"] == "stateless"
    assert http.post(url, headers=json_only, json=rpc("ping", id=3)).json()["result"] == {}


@pytest.mark.parametrize(
    "last_event_id",
    [
        b"99999999999999999999999-0",
        b"1-99999999999999999999999",
        b"18446744073709551615-18446744073709551615",
        b"18446744073709551616-0",
        b"9" * 5000 + b"-0",
        b"\xb2-0",  # "2-0" with a superscript two: str.isdigit() takes it, int() does not
        b"-1-0",
        b"x",
    ],
    ids=[
        "ms-overflow",
        "seq-overflow",
        "largest",
        "ms-2^64",
        "5000-digits",
        "superscript",
        "neg",
        "x",
    ],
)
def test_any_last_event_id_opens_a_stream(
    http: httpx.Client, url: str, session: str, last_event_id: bytes
) -> None:
    """A Last-Event-ID that cannot be one of ours resumes nothing; it is never a 500."""
    get_headers = {**headers(session, accept="text/event-stream"), "last-event-id": last_event_id}
    with http.stream("GET", url, headers=get_headers) as stream:
        assert stream.status_code == 200, stream.read()
        assert stream.headers["content-type"].startswith("text/event-stream")


# --- version negotiation and the listening stream ------------------------------------------


@pytest.mark.parametrize(
    ("requested", "negotiated"),
    [*((v, v) for v in VERSIONS), ("2024-11-05", LATEST), ("2099-01-01", LATEST), (None, LATEST)],
)
def test_version_negotiation(
    http: httpx.Client, url: str, requested: str | None, negotiated: str
) -> None:
    message = init_message()
    if requested is None:
        del message["params"]["protocolVersion"]
    else:
        message["params"]["protocolVersion"] = requested
    response = http.post(url, headers=headers(), json=message)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["protocolVersion"] == negotiated
    assert result["serverInfo"]["name"]
    assert "tools" in result["capabilities"]
    session_id = response.headers["mcp-session-id"]
    ping = http.post(url, headers=headers(session_id, version=negotiated), json=rpc("ping"))
    assert ping.status_code == 200


def _read_event(lines: Iterator[str]) -> dict[str, str]:
    """The fields of the next SSE event, skipping comments (keepalives)."""
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if fields:
                return fields
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        fields[name] = fields[name] + "\n" + value if name in fields else value
    raise AssertionError(f"stream ended before an event: {fields}")


@pytest.mark.parametrize("version", VERSIONS)
def test_priming_event_only_for_2025_11_25(http: httpx.Client, url: str, version: str) -> None:
    session_id = initialize(http, url, version)
    get_headers = headers(session_id, version=version, accept="text/event-stream")
    with (
        httpx.Client(timeout=httpx.Timeout(10.0)) as reader,
        reader.stream("GET", url, headers=get_headers) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        notify = rpc("tools/call", {"name": "notify", "arguments": {"count": 1, "nonce": "pr"}})
        assert http.post(url, headers=headers(session_id, version), json=notify).status_code == 200
        lines = stream.iter_lines()
        first = _read_event(lines)
        if version == "2025-11-25":
            assert first.get("id"), first
            assert first.get("data") == "", first
            assert int(first["retry"]) > 0, first
            first = _read_event(lines)
        else:
            assert "retry" not in first, first
        assert first.get("id"), first
        message = json.loads(first["data"])
        assert message["method"] == "notifications/message"
        assert message["params"]["data"]["nonce"] == "pr"


# --- no input ever gets a 500 ----------------------------------------------------------------


ODD_BODIES: list[Any] = [
    rpc("tools/call", {"name": 5}),
    rpc("tools/call", {"name": "echo", "arguments": None}),
    rpc("tools/call", {"name": "notify", "arguments": {"count": -1, "nonce": "n"}}),
    rpc("tools/call", {"name": "notify", "arguments": {"count": "many", "nonce": "n"}}),
    rpc("tools/call", {"name": "slow", "arguments": {"ms": -5}}),
    rpc("tools/call", {"name": "broadcast", "arguments": {"kind": "nope", "nonce": "n"}}),
    rpc("tools/call", {"name": "sample", "arguments": {}}),
    rpc("tools/call", {"name": "log", "arguments": {"level": "loud", "message": "m"}}),
    rpc("resources/read", {"uri": "nowhere://at/all"}),
    rpc("resources/read", {"uri": 5}),
    rpc("resources/subscribe", {"uri": None}),
    rpc("prompts/get", {"name": None}),
    rpc("completion/complete", {"ref": None, "argument": None}),
    rpc("completion/complete", {"ref": {"type": "ref/prompt"}, "argument": {"name": [1]}}),
    rpc("completion/complete", {"ref": {"type": "ref/prompt"}, "argument": "y"}),
    rpc("completion/complete", {"ref": "x", "argument": {"name": "a", "value": "b"}}),
    rpc("tools/call", {"name": "slow", "arguments": {"ms": float("nan")}}),
    rpc("initialize", {"protocolVersion": [1], "capabilities": "none", "clientInfo": "x"}),
    rpc("initialize", {"protocolVersion": 5, "capabilities": "none"}),
    rpc("ping", id=2**70),
    rpc("ping", id=""),
    rpc("", id=1),
    {"jsonrpc": "2.0", "method": "ping", "params": None},
    {"jsonrpc": "2.0", "id": 1, "method": "ping", "extra": {"deep": [[[[]]]]}},
    [rpc("ping")] * 3,
]


@pytest.mark.parametrize("message", ODD_BODIES, ids=[str(i) for i in range(len(ODD_BODIES))])
def test_never_a_500(http: httpx.Client, url: str, session: str, message: Any) -> None:
    response = http.post(url, headers=headers(session), content=json.dumps(message))
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code != 202:
        body = response.json() if "json" in response.headers["content-type"] else None
        assert body is None or body.get("jsonrpc") == "2.0", response.text
    # The session still works.
    assert http.post(url, headers=headers(session), json=rpc("ping")).status_code == 200
