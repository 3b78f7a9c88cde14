"""The 2026-07-28 revision on real nodes, where the conformance suite does not pin it: both
eras on one /mcp at once, the mirrored headers, what 2026 forbids of GET, DELETE and sessions,
the per-request log level and progress on the request's own stream, listen over HTTP."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from harness.cluster.local import LocalCluster
from reference_server.protocol import HEADER_MISMATCH, UNSUPPORTED_PROTOCOL_VERSION
from tests.support import mcp_modern as modern
from tests.support.mcp_http import McpHttpSession, iter_sse

Factory = Callable[..., LocalCluster]

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def url(make_cluster: Factory) -> Iterator[str]:
    """One Redis-mode node."""
    (only,) = make_cluster(nodes=1, store="redis").urls
    yield only


def test_both_eras_on_one_endpoint_at_once(url: str) -> None:
    """A 2025 session (handshake, server->client sampling) and 2026 requests interleave."""
    legacy = McpHttpSession(url=url)
    try:
        legacy.initialize()
        nonce = uuid.uuid4().hex[:8]
        first = modern.sample(url, nonce)
        state = first.result["requestState"]
        # The 2025 session asks the same tool: a sampling request on the call's stream.
        answered = legacy.call_tool("sample", {"prompt": "p", "nonce": nonce})
        assert answered["structuredContent"] == {"text": f"answer:{nonce}", "nonce": nonce}
        assert "resultType" not in answered  # the 2025 wire is unchanged
        done = modern.sample(url, nonce, state=state, answer="modern")
        assert done.result["structuredContent"]["text"] == "modern"
        assert legacy.request("ping")["result"] == {}
        # In 2026 ping is gone: 404 / -32601.
        assert modern.post(url, "ping").status == 404
    finally:
        legacy.close()


def test_no_get_delete_or_sessions_in_2026(url: str) -> None:
    headers = {"MCP-Protocol-Version": modern.VERSION, "Accept": "text/event-stream"}
    with httpx.Client(timeout=10, trust_env=False) as client:
        assert client.get(url, headers=headers).status_code == 405
        assert client.delete(url, headers=headers).status_code == 405
    # A session id on a 2026 request is ignored, and none is minted.
    answer = modern.post(url, "tools/list", headers={"Mcp-Session-Id": "not-a-session"})
    assert answer.status == 200 and answer.result["tools"]
    assert "mcp-session-id" not in answer.headers


def test_mirrored_headers_are_checked(url: str) -> None:
    params = {"name": "echo", "arguments": {"text": "hi"}}

    def code(headers: dict[str, str | None]) -> tuple[int, int]:
        answer = modern.post(url, "tools/call", params, headers=headers)
        return answer.status, answer.error["code"]

    assert code({"Mcp-Name": "whoami"}) == (400, HEADER_MISMATCH)
    assert code({"Mcp-Name": None}) == (400, HEADER_MISMATCH)
    assert code({"Mcp-Method": None}) == (400, HEADER_MISMATCH)
    assert code({"Mcp-Method": "tools/list"}) == (400, HEADER_MISMATCH)
    assert code({"MCP-Protocol-Version": None}) == (400, HEADER_MISMATCH)
    assert code({"Mcp-Name": "=?base64?not base64!?="}) == (400, HEADER_MISMATCH)
    encoded = "=?base64?" + base64.b64encode(b"echo").decode() + "?="
    ok = modern.post(url, "tools/call", params, headers={"Mcp-Name": encoded})
    assert ok.result["content"][0]["text"] == "hi"


def test_unsupported_version_lists_both_eras(url: str) -> None:
    meta = {**modern.meta(), "io.modelcontextprotocol/protocolVersion": "2099-01-01"}
    answer = modern.post(
        url, "server/discover", {"_meta": meta}, headers={"MCP-Protocol-Version": "2099-01-01"}
    )
    assert answer.status == 400
    assert answer.error["code"] == UNSUPPORTED_PROTOCOL_VERSION
    supported = answer.error["data"]["supported"]
    assert supported[0] == modern.VERSION and "2025-11-25" in supported
    discovered = modern.post(url, "server/discover").result
    assert discovered["supportedVersions"] == supported
    assert discovered["resultType"] == "complete" and discovered["cacheScope"] == "public"
    assert discovered["_meta"]["io.modelcontextprotocol/serverInfo"]["name"]


def test_log_level_is_per_request(url: str) -> None:
    """notifications/message only for a request that set a level, at or above it, and on the
    stream of that request."""

    def logged(level: str, request_level: str | None) -> list[str]:
        arguments = {"level": level, "message": f"{level} message"}
        answer = modern.post(
            url, "tools/call", {"name": "log", "arguments": arguments}, log_level=request_level
        )
        assert answer.result["resultType"] == "complete"
        messages = [m for m in answer.related if m["method"] == "notifications/message"]
        return [m["params"]["data"] for m in messages]

    assert logged("error", "warning") == ["error message"]
    assert logged("info", "warning") == []
    assert logged("emergency", None) == []


def test_progress_goes_on_the_requests_own_stream(url: str) -> None:
    params = {
        "name": "progress",
        "arguments": {"steps": 3},
        "_meta": {**modern.meta(), "progressToken": "tok-1"},
    }
    answer = modern.post(url, "tools/call", params)
    progress = [m["params"] for m in answer.related if m["method"] == "notifications/progress"]
    assert [(p["progressToken"], p["progress"]) for p in progress] == [
        ("tok-1", 1),
        ("tok-1", 2),
        ("tok-1", 3),
    ]
    assert answer.result["structuredContent"] == {"steps": 3}


def test_lists_are_stable_and_cacheable(url: str) -> None:
    first, second = (modern.post(url, "tools/list").result for _ in range(2))
    assert [t["name"] for t in first["tools"]] == [t["name"] for t in second["tools"]]
    for method in ("tools/list", "prompts/list", "resources/list", "resources/templates/list"):
        result = modern.post(url, method).result
        assert result["resultType"] == "complete"
        assert result["ttlMs"] >= 0 and result["cacheScope"] in ("public", "private")
    read = modern.post(url, "resources/read", {"uri": "test://static-text"}).result
    assert read["ttlMs"] == 0 and read["contents"][0]["text"]


def test_listen_over_http_across_nodes(make_cluster: Factory) -> None:
    """subscriptions/listen on n1: the acknowledgement first, then a tools change made through
    n2, tagged with the subscription id; nothing it did not ask for. A bad filter is -32602."""
    n1, n2 = make_cluster(nodes=2, store="redis").urls
    params = {"_meta": modern.meta(), "notifications": {"toolsListChanged": True}}
    body = {"jsonrpc": "2.0", "id": "sub-1", "method": "subscriptions/listen", "params": params}
    headers = modern.headers_for("subscriptions/listen", params)
    received: list[dict[str, Any]] = []
    with (
        httpx.Client(timeout=15, trust_env=False) as client,
        client.stream("POST", n1, json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = iter_sse(response.iter_lines())
        for event in events:
            if event.message is not None:
                received.append(event.message)
                break
        nonce = uuid.uuid4().hex[:8]
        for kind in ("prompts", "tools"):  # the prompts change is not asked for
            arguments = {"kind": kind, "nonce": nonce}
            done = modern.post(n2, "tools/call", {"name": "broadcast", "arguments": arguments})
            assert done.result["resultType"] == "complete"
        for event in events:
            if event.message is not None:
                received.append(event.message)
                break
    ack, change = received
    assert ack["method"] == "notifications/subscriptions/acknowledged"
    assert ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "sub-1"
    assert change["method"] == "notifications/tools/list_changed"
    assert change["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "sub-1"
    assert change["params"]["_meta"]["nonce"] == nonce
    bad = modern.post(n1, "subscriptions/listen", {"notifications": {"toolsListChanged": "yes"}})
    assert bad.status == 200 and bad.error["code"] == -32602
