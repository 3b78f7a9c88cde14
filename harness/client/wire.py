"""How one request goes on the wire, per protocol revision: a strategy chosen by the config.

``SessionWire`` (2025-11-25 and the revisions before it): an ``initialize`` handshake makes a
session whose headers every request carries; server->client requests arrive on SSE streams and
are answered with POSTs; streams resume with Last-Event-ID. One POST per request.

``StatelessWire`` (2026-07-28): no handshake and no session. Every request carries the
revision, the client's capabilities and identity in ``params._meta`` and in headers
(``MCP-Protocol-Version``, ``Mcp-Method``, ``Mcp-Name``, ``Mcp-Param-*`` for the tool's
``x-mcp-header`` parameters). A request may take several rounds (MRTR): an ``input_required``
result is fulfilled and the request sent again with a new id, the answers and the unchanged
``requestState``; each round is routed like any request, so it may land on another node.
An ``UnsupportedProtocolVersion`` (-32022) answer is retried once with a version both speak.

The client (McpClient) owns the transport, routing and records; a wire only says what to send
and when to send again, through ``Post`` and ``Note``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from harness.client import answers, jsonrpc
from harness.client.config import SESSION_VERSIONS, STATELESS_VERSION, ClientConfig
from harness.client.errors import HttpStatusError
from harness.client.jsonrpc import JsonDict
from harness.client.param_headers import (
    InvalidToolHeaders,
    ParamHeader,
    encode_value,
    param_header_block,
    tool_param_headers,
)

STATELESS_VERSIONS = (STATELESS_VERSION,)  # the revisions StatelessWire speaks, newest first
UNSUPPORTED_VERSION = -32022
META_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT = "io.modelcontextprotocol/clientInfo"
# Requests whose Mcp-Name header mirrors params.name (or params.uri).
_NAMED = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_NAME_CACHE = 4096  # encoded Mcp-Name values kept per client

# post(body, rpc_id, header block or None for the session's own) -> the JSON-RPC response.
Post = Callable[[bytes, int, "str | None"], "JsonDict | None"]
# note(f, value): an event of this request to record (EVENT_FS: input_required, ...).
Note = Callable[[str, Any], None]


class Wire(Protocol):
    version: str
    stateful: bool  # initialize, sessions, GET streams, server->client requests on streams

    def call(
        self, post: Post, note: Note, method: str, params: JsonDict | None
    ) -> tuple[JsonDict | None, dict[str, Any]]:
        """Sends one request (in as many rounds as it takes): its final response, and fields
        for its completion record (``rounds``...)."""
        ...

    def learn_tools(self, result: Any) -> tuple[Any, list[JsonDict]]:
        """A tools/list result as the client offers it, and the tools it left out (why)."""
        ...

    def encode(self, rpc_id: int, method: str, params: JsonDict) -> tuple[bytes, str | None]:
        """One request's body and header block (None: the session's), for a caller that
        reads the answer itself (a listen stream)."""
        ...


class SessionWire:
    """2025-11-25 and earlier: the session's headers, one POST."""

    stateful = True

    def __init__(self, version: str, ids: Iterator[int]) -> None:
        self.version = version
        self._ids = ids

    def call(
        self, post: Post, note: Note, method: str, params: JsonDict | None
    ) -> tuple[JsonDict | None, dict[str, Any]]:
        rpc_id = next(self._ids)
        return post(jsonrpc.request(rpc_id, method, params), rpc_id, None), {}

    def learn_tools(self, result: Any) -> tuple[Any, list[JsonDict]]:
        return result, []

    def encode(self, rpc_id: int, method: str, params: JsonDict) -> tuple[bytes, str | None]:
        return jsonrpc.request(rpc_id, method, params), None


class StatelessWire:
    """2026-07-28: ``_meta`` and mirrored headers on every request, MRTR rounds, -32022."""

    stateful = False

    def __init__(
        self,
        version: str,
        ids: Iterator[int],
        accept: str,
        capabilities: JsonDict,
        client_info: JsonDict,
        max_rounds: int = 8,
    ) -> None:
        self._ids = ids
        self._accept = accept  # Content-Type, Accept and the static headers
        # Roots' listChanged notification is gone in this revision: roots is an empty object.
        self._capabilities = {k: ({} if k == "roots" else v) for k, v in capabilities.items()}
        self._client_info = client_info
        self.max_rounds = max_rounds
        self.tool_headers: dict[str, list[ParamHeader]] = {}
        # The params of the last MRTR retry sent (answers and requestState): what a scenario
        # replays on purpose to show that a state is single-use.
        self.last_retry: JsonDict | None = None
        self._use(version)

    def _use(self, version: str) -> None:
        self.version = version
        self._meta = {
            META_VERSION: version,
            META_CAPABILITIES: self._capabilities,
            META_CLIENT: self._client_info,
        }
        self._headers = f"{self._accept}MCP-Protocol-Version: {version}\r\n"
        # Encoded once: the same _meta goes into every request's body (see _body).
        self._meta_json = jsonrpc.dumps(self._meta).decode("utf-8")
        self._names: dict[str, str] = {}  # Mcp-Name header value per name, encoded
        self._method_headers: dict[str, str] = {}

    def call(
        self, post: Post, note: Note, method: str, params: JsonDict | None
    ) -> tuple[JsonDict | None, dict[str, Any]]:
        base = params or {}  # never changed: each round's params are a new dict
        sent = base
        negotiated = False
        round_ = 0
        while True:  # bounded: max_rounds rounds, one version retry
            round_ += 1
            rpc_id = next(self._ids)
            try:
                message = post(self._body(rpc_id, method, sent), rpc_id, self.headers(method, sent))
            except HttpStatusError as exc:
                if negotiated or not self._renegotiate(exc, note):
                    raise
                negotiated = True
                continue
            result = message.get("result") if message else None
            if not isinstance(result, dict) or result.get("resultType") != "input_required":
                extras: dict[str, Any] = {"rounds": round_} if round_ > 1 else {}
                if method == "tools/list" and message is not None and isinstance(result, dict):
                    kept, rejected = self.learn_tools(result)
                    if rejected:
                        note("tools_rejected", rejected)
                        message = {**message, "result": kept}
                return message, extras
            if round_ > self.max_rounds:
                return message, {"rounds": round_, "error": f"still input_required after {round_}"}
            sent = self._retry(base, result, rpc_id, round_, note)

    def headers(self, method: str, params: JsonDict) -> str:
        headers = self._method_headers.get(method)
        if headers is None:
            headers = self._method_headers[method] = f"{self._headers}Mcp-Method: {method}\r\n"
        field = _NAMED.get(method)
        if field is not None:
            name = params.get(field)
            if isinstance(name, str):
                encoded = self._names.get(name)
                if encoded is None:
                    encoded = f"Mcp-Name: {encode_value(name)}\r\n"
                    if len(self._names) < _NAME_CACHE:  # resource URIs are unbounded
                        self._names[name] = encoded
                headers += encoded
            if method == "tools/call":
                mirrored = self.tool_headers.get(str(name))
                arguments = params.get("arguments")
                if mirrored and isinstance(arguments, dict):
                    headers += param_header_block(mirrored, arguments)
        return headers

    def learn_tools(self, result: Any) -> tuple[Any, list[JsonDict]]:
        """Keeps each tool's mirrored parameters; leaves out a tool with invalid ones."""
        tools = result.get("tools") if isinstance(result, dict) else None
        if not isinstance(tools, list):
            return result, []
        kept: list[Any] = []
        rejected: list[JsonDict] = []
        for tool in tools:
            name = str(tool.get("name")) if isinstance(tool, dict) else ""
            try:
                mirrored = tool_param_headers(tool)
            except InvalidToolHeaders as exc:
                self.tool_headers.pop(name, None)
                rejected.append({"tool": name, "reason": str(exc)})
                continue
            if mirrored:
                self.tool_headers[name] = mirrored
            else:
                self.tool_headers.pop(name, None)
            kept.append(tool)
        return {**result, "tools": kept}, rejected

    def encode(self, rpc_id: int, method: str, params: JsonDict) -> tuple[bytes, str | None]:
        return self._body(rpc_id, method, params), self.headers(method, params)

    def _body(self, rpc_id: int, method: str, params: JsonDict) -> bytes:
        own = params.get("_meta")
        if own is not None:
            meta = {**self._meta, **own} if isinstance(own, dict) else self._meta
            return jsonrpc.request(rpc_id, method, {**params, "_meta": meta})
        # The pre-encoded _meta spliced in front of the params: the same bytes as encoding
        # {"_meta": meta, **params}, without encoding the meta again for every request.
        rest = jsonrpc.encode(params)[1:]
        return (
            f'{{"jsonrpc":"2.0","id":{jsonrpc.encode(rpc_id)},"method":{jsonrpc.encode(method)},'
            f'"params":{{"_meta":{self._meta_json}{"," if rest != "}" else ""}{rest}}}'
        ).encode()

    def _retry(
        self, base: JsonDict, result: JsonDict, rpc_id: int, round_: int, note: Note
    ) -> JsonDict:
        """The next round's params: the original ones, the answers, the state as received."""
        requests = result.get("inputRequests")
        requests = requests if isinstance(requests, dict) else {}
        note(
            "input_required",
            {
                "round": round_,
                "id": rpc_id,
                "inputs": {k: _method(v) for k, v in requests.items()},
                "state": "requestState" in result,
            },
        )
        responses: JsonDict = {}
        for key, request in requests.items():
            method = _method(request)
            params = request.get("params") if isinstance(request, dict) else None
            response = answers.input_response(method, params)
            value: JsonDict = {"key": key, "method": method, "round": round_}
            if response is None:
                note("input_response", {**value, "error": f"unsupported input request {method}"})
                continue
            text = answers.text_of(response)
            if text is not None:
                value["text"] = text
            note("input_response", value)
            responses[key] = response
        retry = dict(base)
        if requests:
            retry["inputResponses"] = responses
        if "requestState" in result:
            retry["requestState"] = result["requestState"]
        self.last_retry = retry
        return retry

    def _renegotiate(self, exc: HttpStatusError, note: Note) -> bool:
        """On -32022: switch to a version the server lists and this wire speaks."""
        error = exc.error
        if not isinstance(error, dict) or error.get("code") != UNSUPPORTED_VERSION:
            return False
        data = error.get("data")
        offered = data.get("supported") if isinstance(data, dict) else None
        if not isinstance(offered, list):
            return False
        common = [v for v in STATELESS_VERSIONS if v in offered]
        note("version", {"from": self.version, "offered": offered, "to": common[:1]})
        if not common:
            return False
        self._use(common[0])
        return True


def _method(request: Any) -> str:
    return str(request.get("method")) if isinstance(request, dict) else ""


def make_wire(config: ClientConfig, ids: Iterator[int], accept: str) -> Wire:
    """The wire of ``config.protocol_version`` (ClientConfig checked that it is one we speak);
    ``accept`` is the header block of a request outside any session (static headers in)."""
    version = config.protocol_version
    if version in SESSION_VERSIONS:
        return SessionWire(version, ids)
    client_info = {"name": config.client_name, "version": config.client_version}
    return StatelessWire(
        version, ids, accept, config.capabilities, client_info, config.mrtr_max_rounds
    )
