"""Validation of a 2026-07-28 request: the mirrored headers and the required ``_meta``.

Order (basic/index.mdx, streamable-http.mdx "Server Validation", versioning.mdx): the version
header must be there (-32020); ``_meta`` must carry the version and the client's capabilities
(-32602); header and ``_meta`` must agree (-32020); the version must be one this server speaks
(-32022, listing those it does); ``Mcp-Method`` and, where required, ``Mcp-Name`` must match the
body (-32020). Every rejection is HTTP 400.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reference_server.http_wire import HttpError
from reference_server.modern.era import (
    ALL_VERSIONS,
    MODERN_VERSIONS,
    PROTOCOL_VERSION_KEY,
    VERSION_HEADER,
)
from reference_server.protocol import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    LOG_LEVELS,
    UNSUPPORTED_PROTOCOL_VERSION,
    JsonDict,
)

CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
# Methods whose Mcp-Name header mirrors params.name or params.uri.
NAMED_BY = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_BASE64_SENTINEL = ("=?base64?", "?=")


@dataclass(frozen=True)
class RequestMeta:
    """What a 2026-07-28 request says about its client, in place of a session."""

    protocol_version: str
    capabilities: JsonDict
    client_info: JsonDict | None
    log_level: str | None


def validate_request(headers: Mapping[str, str], message: JsonDict) -> RequestMeta:
    """The request's metadata, or HttpError (400) naming what is missing or wrong."""
    request_id = message.get("id")

    def reject(code: int, text: str, data: Any = None) -> HttpError:
        return HttpError(400, code, text, request_id, data)

    header = headers.get(VERSION_HEADER)
    if header is None:
        raise reject(HEADER_MISMATCH, "MCP-Protocol-Version header is required")
    params = message.get("params") or {}
    meta = params.get("_meta")
    if not isinstance(meta, dict):
        raise reject(
            INVALID_PARAMS,
            f"params._meta is required with {PROTOCOL_VERSION_KEY} and {CAPABILITIES_KEY}",
        )
    missing = [key for key in (PROTOCOL_VERSION_KEY, CAPABILITIES_KEY) if key not in meta]
    if missing:
        raise reject(INVALID_PARAMS, f"params._meta lacks {', '.join(missing)}")
    version, capabilities = meta[PROTOCOL_VERSION_KEY], meta[CAPABILITIES_KEY]
    client_info, log_level = meta.get(CLIENT_INFO_KEY), meta.get(LOG_LEVEL_KEY)
    if not isinstance(version, str):
        raise reject(INVALID_PARAMS, f"{PROTOCOL_VERSION_KEY} must be a string")
    if not isinstance(capabilities, dict):
        raise reject(INVALID_PARAMS, f"{CAPABILITIES_KEY} must be an object")
    if client_info is not None and not isinstance(client_info, dict):
        raise reject(INVALID_PARAMS, f"{CLIENT_INFO_KEY} must be an object")
    if log_level is not None and log_level not in LOG_LEVELS:
        raise reject(INVALID_PARAMS, f"{LOG_LEVEL_KEY} must be one of {', '.join(LOG_LEVELS)}")
    if header != version:
        raise reject(
            HEADER_MISMATCH,
            f"Header mismatch: MCP-Protocol-Version {header!r} but _meta says {version!r}",
        )
    if version not in MODERN_VERSIONS:
        raise reject(
            UNSUPPORTED_PROTOCOL_VERSION,
            "Unsupported protocol version",
            {"supported": list(ALL_VERSIONS), "requested": version},
        )
    _check_mirrored(headers, message, params, reject)
    return RequestMeta(version, capabilities, client_info, log_level)


def _check_mirrored(
    headers: Mapping[str, str], message: JsonDict, params: JsonDict, reject: Any
) -> None:
    method = message["method"]
    mirrored = headers.get("mcp-method")
    if mirrored is None:
        raise reject(HEADER_MISMATCH, "Mcp-Method header is required")
    if mirrored != method:
        raise reject(
            HEADER_MISMATCH, f"Header mismatch: Mcp-Method {mirrored!r} but method is {method!r}"
        )
    field = NAMED_BY.get(method)
    if field is None:
        return
    name = headers.get("mcp-name")
    if name is None:
        raise reject(HEADER_MISMATCH, f"Mcp-Name header is required for {method}")
    decoded = _decode(name)
    if decoded is None:
        raise reject(HEADER_MISMATCH, "Mcp-Name header has invalid base64 encoding")
    if decoded != params.get(field):
        raise reject(
            HEADER_MISMATCH,
            f"Header mismatch: Mcp-Name {decoded!r} but params.{field} is {params.get(field)!r}",
        )


def _decode(value: str) -> str | None:
    """A header value with the ``=?base64?...?=`` sentinel decoded; None if it is malformed."""
    start, end = _BASE64_SENTINEL
    if not (value.startswith(start) and value.endswith(end) and len(value) >= 11):
        return value
    try:
        return base64.b64decode(value[len(start) : -len(end)], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
