"""Tools, resources and prompts as plain data, and the context handed to a running tool.

Extension point. A tool is a name, a JSON schema and an async handler::

    async def echo(args: JsonDict, ctx: ToolContext) -> JsonDict:
        return text_result(args["text"])

    catalog.add_tool(Tool("echo", "Returns its text.", {"type": "object", ...}, echo))

A tool that sends notifications or requests related to its call (progress, logging,
sampling) sets ``streams=True`` so that its answer is an SSE stream on which those messages
travel before the result; every other call is answered with plain JSON.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from reference_server.defects import Defect
from reference_server.mrtr.rounds import InputRound, missing_capabilities
from reference_server.protocol import INVALID_PARAMS, JsonDict, RequestId, RpcError
from reference_server.sessions.base import SessionRecord, SessionStore
from reference_server.streams.base import StreamManager
from reference_server.subscriptions.base import SubscriptionBus


@dataclass
class ToolContext:
    """What a tool may use while it runs for one tools/call."""

    node_id: str
    session: SessionRecord | None
    request_id: RequestId
    progress_token: str | int | None
    store: SessionStore
    streams: StreamManager
    defects: frozenset[Defect]
    # Sends a notification on the stream of the POST that called the tool.
    send_related: Callable[[JsonDict], Awaitable[None]]
    # Sends a server->client request (sampling, elicitation, roots) and awaits its result
    # (2025 revisions; the 2026-07-28 revision asks through gather_input instead).
    ask_client: Callable[[str, JsonDict], Awaitable[JsonDict]]
    # The client's declared capabilities: the session's, or the request's _meta in 2026-07-28;
    # None when unknown (a 2025 call without a session).
    capabilities: JsonDict | None = None
    # The least level of notifications/message to send for this call; None: send none
    # (2026-07-28 without io.modelcontextprotocol/logLevel).
    log_level: str | None = "debug"
    # Only in 2026-07-28: what the client brought to this round of a multi round-trip request.
    input_round: InputRound | None = None
    # Where changes go to the subscriptions/listen streams of every node (2026-07-28). None
    # until the dispatcher passes the node's bus (``bus=node.bus``): then nothing is published.
    bus: SubscriptionBus | None = None


class ClientLacksCapability(Exception):
    """A 2025 session's client cannot be asked what a tool needs (it did not declare it)."""


async def gather_input(
    ctx: ToolContext,
    requests: JsonDict,
    state: JsonDict | None = None,
    needs_state: bool = False,
) -> JsonDict:
    """The client's answer to each of ``requests`` ({key: {"method", "params"}}), in either era.

    2025 revisions: each is sent as a server->client request on the call's stream. 2026-07-28:
    the answers come in the retry's ``inputResponses`` (InputRound.answers).
    """
    if ctx.input_round is None:
        lacking = missing_capabilities(requests, ctx.capabilities or {})
        if ctx.capabilities is not None and lacking:
            # 2025 has no -32021: the call ends as a tool error result, like sample's.
            raise ClientLacksCapability(f"the client did not declare {', '.join(lacking)}")
        return {key: await ctx.ask_client(r["method"], r["params"]) for key, r in requests.items()}
    return ctx.input_round.answers(requests, ctx.capabilities or {}, state, needs_state)


ToolHandler = Callable[[JsonDict, ToolContext], Awaitable[JsonDict]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_schema: JsonDict
    handler: ToolHandler
    streams: bool = False
    output_schema: JsonDict | None = None

    def describe(self) -> JsonDict:
        info: JsonDict = {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
        }
        if self.output_schema is not None:
            info["outputSchema"] = self.output_schema
        return info


@dataclass(frozen=True)
class Resource:
    uri: str
    name: str
    mime_type: str
    text: str | None = None
    blob: str | None = None  # base64
    description: str = ""

    def describe(self) -> JsonDict:
        info: JsonDict = {"uri": self.uri, "name": self.name, "mimeType": self.mime_type}
        if self.description:
            info["description"] = self.description
        return info

    def contents(self) -> JsonDict:
        content: JsonDict = {"uri": self.uri, "mimeType": self.mime_type}
        if self.blob is not None:
            content["blob"] = self.blob
        else:
            content["text"] = self.text or ""
        return content


@dataclass(frozen=True)
class ResourceTemplate:
    """A parameterised resource: ``read`` receives the concrete URI and returns its contents."""

    uri_template: str
    name: str
    mime_type: str
    matches: Callable[[str], bool]
    read: Callable[[str], JsonDict]
    description: str = ""

    def describe(self) -> JsonDict:
        info: JsonDict = {
            "uriTemplate": self.uri_template,
            "name": self.name,
            "mimeType": self.mime_type,
        }
        if self.description:
            info["description"] = self.description
        return info


@dataclass(frozen=True)
class Prompt:
    """``render`` turns the prompt's arguments into its list of messages."""

    name: str
    description: str
    arguments: list[JsonDict]
    render: Callable[[dict[str, str]], list[JsonDict]]
    # 2026-07-28 only: input requests ({key: {"method", "params"}}) asked before rendering; the
    # strings of an accepted elicitation become arguments.
    elicit: JsonDict | None = None

    def describe(self) -> JsonDict:
        return {"name": self.name, "description": self.description, "arguments": self.arguments}


# Completion provider: (ref, argument name, partial value) -> candidate values.
Completer = Callable[[JsonDict, str, str], list[str]]


@dataclass
class Catalog:
    """Everything the server lists and serves; built once at start-up."""

    tools: dict[str, Tool] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    templates: list[ResourceTemplate] = field(default_factory=list)
    prompts: dict[str, Prompt] = field(default_factory=dict)
    completers: list[Completer] = field(default_factory=list)

    def add_tool(self, tool: Tool) -> None:
        self.tools[tool.name] = tool

    def add_resource(self, resource: Resource) -> None:
        self.resources[resource.uri] = resource

    def add_template(self, template: ResourceTemplate) -> None:
        self.templates.append(template)

    def add_prompt(self, prompt: Prompt) -> None:
        self.prompts[prompt.name] = prompt

    def add_completer(self, completer: Completer) -> None:
        self.completers.append(completer)


def text_result(text: str, structured: JsonDict | None = None, is_error: bool = False) -> JsonDict:
    result: JsonDict = {"content": [{"type": "text", "text": text}]}
    if structured is not None:
        result["structuredContent"] = structured
    if is_error:
        result["isError"] = True
    return result


def require(args: JsonDict, name: str, kind: type | tuple[type, ...]) -> Any:
    """The argument ``name`` of type ``kind``; raises the -32602 error when it is not."""
    value = args.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise RpcError(INVALID_PARAMS, f"argument {name!r} is missing or not of the right type")
    if isinstance(value, float) and not math.isfinite(value):
        raise RpcError(INVALID_PARAMS, f"argument {name!r} must be a finite number")
    return value


def optional(args: JsonDict, name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    """The argument ``name`` if given (checked like ``require``), else ``default``."""
    return require(args, name, kind) if name in args else default


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)
