"""The load client's per-revision wire, SEP-2243 headers and static headers, without a network
(the conformance suite and tests/integration/test_static_headers.py take them on the wire)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from harness.client.answers import elicitation_defaults
from harness.client.errors import HttpStatusError
from harness.client.headers import HeaderError, expand, header_block, parse_header, resolve
from harness.client.param_headers import (
    InvalidToolHeaders,
    encode_value,
    param_header_block,
    tool_param_headers,
)
from harness.client.wire import StatelessWire
from harness.run.profile import ProfileError, load_profile


@pytest.mark.parametrize(
    ("value", "header"),
    [
        ("us-west1", "us-west1"),
        ("us west 1", "us west 1"),
        ("", ""),
        ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
        (" padded ", "=?base64?IHBhZGRlZCA=?="),
        ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?="),
        ("\tindented", "=?base64?CWluZGVudGVk?="),
        ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
    ],
)
def test_header_values_are_encoded_as_the_spec_table_says(value: str, header: str) -> None:
    assert encode_value(value) == header


def _tool(properties: dict[str, Any]) -> dict[str, Any]:
    return {"name": "t", "inputSchema": {"type": "object", "properties": properties}}


def _string(header: str) -> dict[str, Any]:
    return {"type": "string", "x-mcp-header": header}


def test_mirrored_parameters_and_their_headers() -> None:
    tool = _tool(
        {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "n": {"type": "integer", "x-mcp-header": "N"},
            "flag": {"type": "boolean", "x-mcp-header": "Flag"},
            "nested": {
                "type": "object",
                "properties": {"zone": {"type": "string", "x-mcp-header": "Zone"}},
            },
            "query": {"type": "string"},
        }
    )
    mirrored = tool_param_headers(tool)
    arguments = {"region": "eu", "n": 42, "flag": False, "nested": {"zone": " z"}, "query": "q"}
    assert param_header_block(mirrored, arguments) == (
        "Mcp-Param-Region: eu\r\nMcp-Param-N: 42\r\nMcp-Param-Flag: false\r\n"
        "Mcp-Param-Zone: =?base64?IHo=?=\r\n"
    )
    assert param_header_block(mirrored, {"region": None, "n": 1}) == "Mcp-Param-N: 1\r\n"


@pytest.mark.parametrize(
    "properties",
    [
        {"v": {"type": "string", "x-mcp-header": ""}},
        {"v": {"type": "object", "x-mcp-header": "Data"}},
        {"v": {"type": "array", "items": {"type": "string"}, "x-mcp-header": "Items"}},
        {"v": {"type": "null", "x-mcp-header": "Nil"}},
        {"v": {"type": "number", "x-mcp-header": "Score"}},
        {
            "a": {"type": "string", "x-mcp-header": "R"},
            "b": {"type": "string", "x-mcp-header": "R"},
        },
        {
            "a": {"type": "string", "x-mcp-header": "My"},
            "b": {"type": "string", "x-mcp-header": "my"},
        },
        {"v": {"type": "string", "x-mcp-header": "My Region"}},
        {"v": {"type": "string", "x-mcp-header": "Region:Primary"}},
        {"v": {"type": "string", "x-mcp-header": "Région"}},
        {"v": {"type": "string", "x-mcp-header": "Region\t1"}},
        {"v": {"type": "array", "items": {"type": "string", "x-mcp-header": "Deep"}}},
    ],
)
def test_invalid_annotations_reject_the_tool(properties: dict[str, Any]) -> None:
    with pytest.raises(InvalidToolHeaders):
        tool_param_headers(_tool(properties))


def test_static_headers_parse_expand_and_refuse_what_they_must(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert parse_header("Authorization: Bearer ${T}") == ("Authorization", "Bearer ${T}")
    assert expand("Bearer ${T}", "Authorization", {"T": "abc"}) == "Bearer abc"
    with pytest.raises(HeaderError, match="environment variable T is not set"):
        expand("Bearer ${T}", "Authorization", {})
    for bad in ("no colon", "Bad Name: x", "Mcp-Session-Id: x", "Mcp-Param-X: y"):
        with pytest.raises(HeaderError):
            parse_header(bad)
    with pytest.raises(HeaderError) as error:
        parse_header("Authorization Bearer s3cret-value")
    assert "s3cret" not in str(error.value)
    assert header_block(resolve([("A", "1"), ("a", "2")])) == "a: 2\r\n"


def test_the_profile_records_header_names_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_SCALE_UNIT_TOKEN", "s3cret")
    profile = load_profile(
        None, {"headers": ["Authorization: Bearer ${MCP_SCALE_UNIT_TOKEN}", "X-Plain: lit3ral"]}
    )
    recorded = json.dumps(profile.to_dict())
    assert "s3cret" not in recorded and "lit3ral" not in recorded and "${" not in recorded
    assert profile.to_dict()["headers"] == ["Authorization", "X-Plain"]
    with pytest.raises(ProfileError, match="NO_SUCH_VAR"):
        load_profile(None, {"headers": ["Authorization: ${NO_SUCH_VAR}"]})
    with pytest.raises(ProfileError, match="protocol"):
        load_profile(None, {"protocol": "2024-01-01"})


class FakeServer:
    """Answers the stateless wire's posts from a script; keeps what was sent."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.sent: list[tuple[dict[str, Any], str]] = []

    def post(self, body: bytes, rpc_id: int, headers: str | None) -> dict[str, Any]:
        self.sent.append((json.loads(body), headers or ""))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return {"jsonrpc": "2.0", "id": rpc_id, "result": answer}


def _wire() -> StatelessWire:
    capabilities = {"sampling": {}, "roots": {"listChanged": True}, "elicitation": {}}
    return StatelessWire(
        "2026-07-28", itertools.count(1), "Accept: x\r\n", capabilities, {"name": "c"}, 3
    )


def test_mrtr_rounds_echo_the_state_with_new_ids() -> None:
    asked = {
        "resultType": "input_required",
        "inputRequests": {
            "s": {"method": "sampling/createMessage", "params": {"_meta": {"nonce": "n1"}}},
            "e": {
                "method": "elicitation/create",
                "params": {"requestedSchema": {"properties": {"ok": {"default": True}}}},
            },
        },
        "requestState": "opaque-1",
    }
    server = FakeServer([asked, {"resultType": "complete", "content": []}])
    notes: list[tuple[str, Any]] = []
    message, extras = _wire().call(
        server.post, lambda f, v: notes.append((f, v)), "tools/call", {"name": "t", "arguments": {}}
    )
    assert message is not None and message["result"]["resultType"] == "complete"
    assert extras == {"rounds": 2}
    first, retry = (body for body, _ in server.sent)
    assert first["id"] != retry["id"]
    assert retry["params"]["requestState"] == "opaque-1"
    assert retry["params"]["inputResponses"]["s"]["content"]["text"] == "answer:n1"
    assert retry["params"]["inputResponses"]["e"] == {"action": "accept", "content": {"ok": True}}
    assert "requestState" not in first["params"] and "inputResponses" not in first["params"]
    meta = retry["params"]["_meta"]
    assert meta["io.modelcontextprotocol/protocolVersion"] == "2026-07-28"
    assert meta["io.modelcontextprotocol/clientCapabilities"]["roots"] == {}
    headers = server.sent[1][1]
    assert "MCP-Protocol-Version: 2026-07-28\r\n" in headers
    assert "Mcp-Method: tools/call\r\nMcp-Name: t\r\n" in headers
    assert [f for f, _ in notes] == ["input_required", "input_response", "input_response"]


def test_unsupported_version_is_retried_once_with_a_common_one() -> None:
    error = {"code": -32022, "message": "x", "data": {"supported": ["2026-07-28"]}}
    rejected = HttpStatusError(400, "x", error)
    server = FakeServer([rejected, {"tools": []}])
    message, _ = _wire().call(server.post, lambda f, v: None, "tools/list", {})
    assert message is not None and len(server.sent) == 2
    server = FakeServer([rejected, rejected])
    with pytest.raises(HttpStatusError):
        _wire().call(server.post, lambda f, v: None, "tools/list", {})
    elsewhere = HttpStatusError(400, "x", {**error, "data": {"supported": ["2025-11-25"]}})
    with pytest.raises(HttpStatusError):
        _wire().call(FakeServer([elsewhere]).post, lambda f, v: None, "tools/list", {})


def test_rounds_are_bounded() -> None:
    asked = {"resultType": "input_required", "requestState": "again"}
    server = FakeServer([asked] * 10)
    _, extras = _wire().call(server.post, lambda f, v: None, "tools/call", {"name": "t"})
    assert "error" in extras and len(server.sent) == 4


def test_elicitation_defaults_fill_required_fields_plainly() -> None:
    schema = {
        "properties": {
            "name": {"type": "string", "default": "John"},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "n": {"type": "integer"},
            "opt": {"type": "string"},
        },
        "required": ["kind", "n"],
    }
    assert elicitation_defaults(schema) == {"name": "John", "kind": "a", "n": 0}
