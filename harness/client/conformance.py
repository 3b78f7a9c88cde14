"""The load client under the official conformance suite's client scenarios.

``conformance client --command "python -m harness.client.conformance"`` starts a test server
per scenario and runs this with the server's URL appended, the scenario's name in
``MCP_CONFORMANCE_SCENARIO``, its revision in ``MCP_CONFORMANCE_PROTOCOL_VERSION`` and its
inputs (if any) in ``MCP_CONFORMANCE_CONTEXT``. This only says which client calls each
scenario makes; everything the suite checks (headers, ``_meta``, MRTR, retry timing,
Last-Event-ID, x-mcp-header) is the behaviour of McpClient itself, the code Locust runs.

Every record the client writes goes to stderr as a JSON line (the suite keeps it with the
scenario's results). Exit code: 0 when every operation succeeded, 1 otherwise, 2 for an
unknown scenario or bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from harness.client.client import McpClient
from harness.client.config import LATEST_VERSION, ClientConfig
from harness.client.headers import HeaderError, parse_header, resolve
from harness.history import Record

SCENARIO_ENV = "MCP_CONFORMANCE_SCENARIO"
VERSION_ENV = "MCP_CONFORMANCE_PROTOCOL_VERSION"
CONTEXT_ENV = "MCP_CONFORMANCE_CONTEXT"
# Declared so that the scenarios' servers may ask for each (elicitation, sampling, roots).
CAPABILITIES: dict[str, Any] = {"sampling": {}, "roots": {}, "elicitation": {}}


class Failures:
    """A hook: every record to stderr; the failed operations counted."""

    def __init__(self) -> None:
        self.failed: list[Record] = []

    def __call__(self, record: Record) -> None:
        sys.stderr.write(json.dumps(record, default=str) + "\n")
        if record["type"] in ("fail", "info") and record["f"] not in ("stream_break",):
            self.failed.append(record)


Scenario = Callable[[McpClient, dict[str, Any]], None]


def _tools(client: McpClient) -> list[dict[str, Any]]:
    """tools/list as the client offers it (a tool with invalid x-mcp-header left out)."""
    value = client.list_tools()["value"]
    tools = value.get("tools") if isinstance(value, dict) else None
    return [t for t in tools or [] if isinstance(t, dict)]


def _plain_arguments(tool: dict[str, Any]) -> dict[str, Any]:
    """A value of the right type for each required parameter."""
    schema = tool.get("inputSchema") or {}
    properties = schema.get("properties") or {}
    plain = {"string": "test", "integer": 1, "number": 1, "boolean": True, "array": []}
    return {
        name: plain.get(str((properties.get(name) or {}).get("type")), {})
        for name in schema.get("required") or []
    }


def _call_listed(client: McpClient, context: dict[str, Any]) -> None:
    """List the tools, call each one the client keeps (with plain arguments)."""
    for tool in _tools(client):
        client.call_tool(str(tool["name"]), _plain_arguments(tool))


def _listening_then_call(client: McpClient, context: dict[str, Any]) -> None:
    """As a Locust user does: the listening stream open first (where the server asks)."""
    client.open_stream().connected.wait(client.config.timeout)
    _call_listed(client, context)


def _tools_call(client: McpClient, context: dict[str, Any]) -> None:
    for tool in _tools(client):
        if tool["name"] == "add_numbers":
            client.call_tool("add_numbers", {"a": 5, "b": 3})


def _list_only(client: McpClient, context: dict[str, Any]) -> None:
    _tools(client)


def _context_calls(client: McpClient, context: dict[str, Any]) -> None:
    """The calls the scenario's context asks for (after tools/list: x-mcp-header needs it)."""
    _tools(client)
    for call in context.get("toolCalls") or []:
        client.call_tool(str(call["name"]), dict(call.get("arguments") or {}))


def _standard_headers(client: McpClient, context: dict[str, Any]) -> None:
    """One of each request that has Mcp-Method (and Mcp-Name) to mirror."""
    _call_listed(client, context)
    resources = client.request("resources/list", {}, f="list_resources")["value"] or {}
    for resource in resources.get("resources") or []:
        client.request("resources/read", {"uri": resource["uri"]}, f="read_resource")
    prompts = client.request("prompts/list", {}, f="list_prompts")["value"] or {}
    for prompt in prompts.get("prompts") or []:
        client.request("prompts/get", {"name": prompt["name"]}, f="get_prompt")


def _schema_echo(client: McpClient, context: dict[str, Any]) -> None:
    """Hand the rich tool's inputSchema, as the client received it, to the echo tool."""
    tools = _tools(client)
    echo = next((t for t in tools if t["name"] == "json_schema_echo"), None)
    for tool in tools:
        if echo is not None and tool is not echo:
            client.call_tool("json_schema_echo", {"schema": tool.get("inputSchema")})


SCENARIOS: dict[str, Scenario] = {
    "initialize": _list_only,
    "tools_call": _tools_call,
    "elicitation-sep1034-client-defaults": _listening_then_call,
    "sse-retry": _call_listed,
    "request-metadata": _call_listed,
    "sep-2322-client-request-state": _call_listed,
    "http-standard-headers": _standard_headers,
    "http-custom-headers": _context_calls,
    "http-invalid-tool-headers": _call_listed,
    "json-schema-ref-no-deref": _list_only,
    "json-schema-2020-12-preservation": _schema_echo,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.client.conformance",
        description="Run one conformance-suite client scenario with the load client.",
    )
    parser.add_argument("url", help="the scenario server's MCP endpoint")
    parser.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'")
    args = parser.parse_args(argv)
    name = os.environ.get(SCENARIO_ENV, "")
    scenario = SCENARIOS.get(name)
    if scenario is None:
        known = ", ".join(sorted(SCENARIOS))
        print(f"unknown scenario {name!r} (in {SCENARIO_ENV}); known: {known}", file=sys.stderr)
        return 2
    try:
        headers = resolve(parse_header(h) for h in args.header)
    except HeaderError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    context = json.loads(os.environ.get(CONTEXT_ENV) or "{}")
    config = ClientConfig(
        urls=[args.url],
        routing="single",
        protocol_version=os.environ.get(VERSION_ENV) or LATEST_VERSION,
        capabilities=dict(CAPABILITIES),
        headers=headers,
        timeout=20.0,
        client_name="mcp-scale-conformance",
    )
    hook = Failures()
    client = McpClient(config, "conformance", hook)
    try:
        if client.needs_initialize and client.initialize()["type"] != "ok":
            return 1
        scenario(client, context)
    finally:
        client.close()
    return 1 if hook.failed else 0


if __name__ == "__main__":
    sys.exit(main())
