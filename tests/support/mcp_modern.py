"""A small synchronous client of the 2026-07-28 revision (stateless, per-request ``_meta``)
for the server's own tests: one POST per request, the answer read from JSON or SSE."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.mcp_http import ACCEPT_BOTH, iter_sse

VERSION = "2026-07-28"
CLIENT_INFO = {"name": "mcp-scale-tests", "version": "0"}
_ids = itertools.count(1)


@dataclass
class Answer:
    """One request's HTTP status, its JSON-RPC answer and the messages sent before it."""

    status: int
    body: dict[str, Any] | None
    related: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def result(self) -> dict[str, Any]:
        assert self.body is not None and "result" in self.body, f"no result: {self.body}"
        result: dict[str, Any] = self.body["result"]
        return result

    @property
    def error(self) -> dict[str, Any]:
        assert self.body is not None and "error" in self.body, f"no error: {self.body}"
        error: dict[str, Any] = self.body["error"]
        return error


def meta(capabilities: dict[str, Any] | None = None, log_level: str | None = None) -> Any:
    found: dict[str, Any] = {
        "io.modelcontextprotocol/protocolVersion": VERSION,
        "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
        "io.modelcontextprotocol/clientCapabilities": capabilities or {},
    }
    if log_level is not None:
        found["io.modelcontextprotocol/logLevel"] = log_level
    return found


def headers_for(method: str, params: dict[str, Any]) -> dict[str, str]:
    headers = {
        "Accept": ACCEPT_BOTH,
        "Content-Type": "application/json",
        "MCP-Protocol-Version": VERSION,
        "Mcp-Method": method,
    }
    name = params.get("name", params.get("uri"))
    if method in ("tools/call", "prompts/get", "resources/read") and isinstance(name, str):
        headers["Mcp-Name"] = name
    return headers


def post(
    url: str,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    capabilities: dict[str, Any] | None = None,
    log_level: str | None = None,
    headers: dict[str, str | None] | None = None,
    timeout: float = 15.0,
) -> Answer:
    """``method`` with ``params`` (their ``_meta`` filled in unless given) and the standard
    headers; ``headers`` overrides them (None removes one)."""
    params = dict(params or {})
    params.setdefault("_meta", meta(capabilities, log_level))
    sent = headers_for(method, params)
    for name, value in (headers or {}).items():
        sent = {k: v for k, v in sent.items() if k.lower() != name.lower()}
        if value is not None:
            sent[name] = value
    request_id = next(_ids)
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    with (
        httpx.Client(timeout=timeout, trust_env=False) as client,
        client.stream("POST", url, json=body, headers=sent) as response,
    ):
        kind = response.headers.get("content-type", "")
        answer = Answer(response.status_code, None, headers=dict(response.headers))
        if "text/event-stream" not in kind:
            response.read()
            answer.body = response.json() if response.content else None
            return answer
        for event in iter_sse(response.iter_lines()):
            message = event.message
            if message is None:
                continue
            if message.get("id") == request_id and "method" not in message:
                answer.body = message
                return answer
            answer.related.append(message)
    return answer


def sampling_answer(text: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": {"type": "text", "text": text},
        "model": "mcp-scale-tests",
        "stopReason": "endTurn",
    }


def sample(url: str, nonce: str, *, state: str | None = None, answer: str | None = None) -> Answer:
    """A round of the ``sample`` tool: the first call without ``state``; the retry brings the
    requestState and the sampling answer."""
    params: dict[str, Any] = {"name": "sample", "arguments": {"prompt": "say hi", "nonce": nonce}}
    if state is not None:
        params["requestState"] = state
    if answer is not None:
        params["inputResponses"] = {"sample": sampling_answer(answer)}
    return post(url, "tools/call", params, capabilities={"sampling": {}})
