"""What each MCP method does, given a parsed request and the call's context (no HTTP here)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reference_server.defects import Defect
from reference_server.errors import StoreUnavailable
from reference_server.mrtr.rounds import InputRequired, InputRound
from reference_server.node import Node
from reference_server.protocol import (
    INVALID_PARAMS,
    LATEST_VERSION,
    LOG_LEVELS,
    METHOD_NOT_FOUND,
    SUPPORTED_VERSIONS,
    JsonDict,
    RequestId,
    RpcError,
    is_valid_id,
)
from reference_server.sessions.base import SessionRecord
from reference_server.tools.base import ToolContext, text_result

if TYPE_CHECKING:
    from reference_server.modern.meta import RequestMeta

SERVER_INFO = {"name": "mcp-scale-reference", "version": "0.1.0"}
CAPABILITIES: JsonDict = {
    "tools": {"listChanged": True},
    "resources": {"subscribe": True, "listChanged": True},
    "prompts": {"listChanged": True},
    "logging": {},
    "completions": {},
}
RESOURCE_NOT_FOUND = -32002


@dataclass
class Call:
    """The context of one request: its session and, on an SSE answer, a way to talk back."""

    request_id: RequestId
    session: SessionRecord | None
    send_related: Callable[[JsonDict], Awaitable[None]]
    ask_client: Callable[[str, JsonDict], Awaitable[JsonDict]]
    # Only in 2026-07-28: the request's _meta (in place of a session) and its MRTR round.
    meta: RequestMeta | None = None
    input_round: InputRound | None = None

    @property
    def capabilities(self) -> JsonDict | None:
        if self.meta is not None:
            return self.meta.capabilities
        return self.session.capabilities if self.session is not None else None

    @property
    def log_level(self) -> str | None:
        if self.meta is not None:
            return self.meta.log_level
        return self.session.log_level if self.session is not None else "debug"


def negotiate_version(params: JsonDict) -> str:
    requested = params.get("protocolVersion")
    return requested if requested in SUPPORTED_VERSIONS else LATEST_VERSION


def initialize_result(version: str, node_id: str) -> JsonDict:
    return {
        "protocolVersion": version,
        "capabilities": CAPABILITIES,
        "serverInfo": SERVER_INFO,
        "instructions": f"mcp-scale reference server, node {node_id}",
    }


class Dispatcher:
    def __init__(self, node: Node) -> None:
        self._node = node
        catalog = node.catalog
        self._tools_list = {"tools": [tool.describe() for tool in catalog.tools.values()]}
        self._handlers: dict[str, Callable[[JsonDict, Call], Awaitable[JsonDict]]] = {
            "ping": self._ping,
            "tools/list": self._list_tools,
            "tools/call": self._call_tool,
            "resources/list": self._list_resources,
            "resources/templates/list": self._list_templates,
            "resources/read": self._read_resource,
            "resources/subscribe": self._subscribe,
            "resources/unsubscribe": self._unsubscribe,
            "prompts/list": self._list_prompts,
            "prompts/get": self._get_prompt,
            "logging/setLevel": self._set_level,
            "completion/complete": self._complete,
        }

    def tool_streams(self, message: JsonDict) -> bool:
        """Whether this request's answer should be an SSE stream (it sends related messages)."""
        if message.get("method") != "tools/call":
            return False
        tool = self._node.catalog.tools.get(str(message.get("params", {}).get("name")))
        return tool is not None and tool.streams

    async def handle(self, message: JsonDict, call: Call) -> JsonDict:
        handler = self._handlers.get(message["method"])
        if handler is None:
            raise RpcError(METHOD_NOT_FOUND, f"method not found: {message['method']}")
        if Defect.LEAK in self._node.config.defects:
            self._node.leaked.append(bytes(4096))
        return await handler(message.get("params") or {}, call)

    async def _ping(self, params: JsonDict, call: Call) -> JsonDict:
        return {}

    async def _list_tools(self, params: JsonDict, call: Call) -> JsonDict:
        return self._tools_list

    async def _call_tool(self, params: JsonDict, call: Call) -> JsonDict:
        name = params.get("name")
        tool = self._node.catalog.tools.get(name) if isinstance(name, str) else None
        if tool is None:
            raise RpcError(INVALID_PARAMS, f"unknown tool: {name}")
        arguments = params.get("arguments", {})
        if not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, "arguments must be an object")
        meta = params.get("_meta", {})
        if not isinstance(meta, dict):
            raise RpcError(INVALID_PARAMS, "_meta must be an object")
        token = meta.get("progressToken")
        if "progressToken" in meta and not is_valid_id(token):
            raise RpcError(INVALID_PARAMS, "progressToken must be a string or an integer")
        ctx = ToolContext(
            node_id=self._node.config.node_id,
            session=call.session,
            request_id=call.request_id,
            progress_token=token,
            store=self._node.store,
            streams=self._node.streams,
            defects=self._node.config.defects,
            send_related=call.send_related,
            ask_client=call.ask_client,
            capabilities=call.capabilities,
            log_level=call.log_level,
            input_round=call.input_round,
            bus=self._node.bus,
        )
        try:
            return await tool.handler(arguments, ctx)
        except (RpcError, StoreUnavailable, InputRequired):
            raise
        except Exception as exc:  # a tool's own failure is a tool result, not a protocol error
            return text_result(f"{type(exc).__name__}: {exc}", is_error=True)

    async def _list_resources(self, params: JsonDict, call: Call) -> JsonDict:
        return {"resources": [r.describe() for r in self._node.catalog.resources.values()]}

    async def _list_templates(self, params: JsonDict, call: Call) -> JsonDict:
        return {"resourceTemplates": [t.describe() for t in self._node.catalog.templates]}

    async def _read_resource(self, params: JsonDict, call: Call) -> JsonDict:
        uri = _uri(params)
        resource = self._node.catalog.resources.get(uri)
        if resource is not None:
            return {"contents": [resource.contents()]}
        for template in self._node.catalog.templates:
            if template.matches(uri):
                return {"contents": [template.read(uri)]}
        # 2026-07-28 moved this error from -32002 to Invalid Params (changelog, minor 6).
        code = INVALID_PARAMS if call.meta is not None else RESOURCE_NOT_FOUND
        raise RpcError(code, f"resource not found: {uri}", {"uri": uri})

    async def _subscribe(self, params: JsonDict, call: Call) -> JsonDict:
        if call.session is not None:
            await self._node.store.subscribe(call.session.session_id, _uri(params))
        return {}

    async def _unsubscribe(self, params: JsonDict, call: Call) -> JsonDict:
        if call.session is not None:
            await self._node.store.unsubscribe(call.session.session_id, _uri(params))
        return {}

    async def _list_prompts(self, params: JsonDict, call: Call) -> JsonDict:
        return {"prompts": [p.describe() for p in self._node.catalog.prompts.values()]}

    async def _get_prompt(self, params: JsonDict, call: Call) -> JsonDict:
        name = params.get("name")
        prompt = self._node.catalog.prompts.get(name) if isinstance(name, str) else None
        if prompt is None:
            raise RpcError(INVALID_PARAMS, f"unknown prompt: {name}")
        arguments = params.get("arguments", {})
        if not isinstance(arguments, dict) or not all(map(_is_str, arguments.values())):
            raise RpcError(INVALID_PARAMS, "prompt arguments must be an object of strings")
        missing = [
            a["name"] for a in prompt.arguments if a.get("required") and a["name"] not in arguments
        ]
        if missing:
            raise RpcError(INVALID_PARAMS, f"missing prompt arguments: {', '.join(missing)}")
        if prompt.elicit is not None and call.input_round is not None:
            # The prompt asks the user for what it needs; accepted strings fill its arguments.
            answers = call.input_round.answers(prompt.elicit, call.capabilities or {})
            for answer in answers.values():
                content = answer.get("content")
                if answer.get("action") == "accept" and isinstance(content, dict):
                    arguments = {**arguments, **{k: v for k, v in content.items() if _is_str(v)}}
        return {"description": prompt.description, "messages": prompt.render(arguments)}

    async def _set_level(self, params: JsonDict, call: Call) -> JsonDict:
        level = params.get("level")
        if level not in LOG_LEVELS:
            raise RpcError(INVALID_PARAMS, f"level must be one of {', '.join(LOG_LEVELS)}")
        if call.session is not None:
            session_id = call.session.session_id
            if Defect.FORGET_LOG_LEVEL in self._node.config.defects:
                self._node.local_log_levels[session_id] = str(level)
            else:
                await self._node.store.set_log_level(session_id, str(level))
        return {}

    async def _complete(self, params: JsonDict, call: Call) -> JsonDict:
        ref, argument = params.get("ref"), params.get("argument")
        if not isinstance(ref, dict) or not isinstance(argument, dict):
            raise RpcError(INVALID_PARAMS, "ref and argument must be objects")
        name, value = argument.get("name"), argument.get("value")
        if not isinstance(name, str) or not isinstance(value, str):
            raise RpcError(INVALID_PARAMS, "argument must have a string name and value")
        kind = ref.get("type")
        named_by = "name" if kind == "ref/prompt" else "uri" if kind == "ref/resource" else None
        if named_by is None or not isinstance(ref.get(named_by), str):
            raise RpcError(
                INVALID_PARAMS, "ref must be a ref/prompt with a name or a ref/resource with a uri"
            )
        values: list[str] = []
        for completer in self._node.catalog.completers:
            values.extend(completer(ref, name, value))
        return {"completion": {"values": values[:100], "total": len(values), "hasMore": False}}


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _uri(params: JsonDict) -> str:
    uri = params.get("uri")
    if not isinstance(uri, str):
        raise RpcError(INVALID_PARAMS, "uri must be a string")
    return uri
