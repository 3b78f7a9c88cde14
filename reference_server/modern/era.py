"""Which era serves a request, chosen per request (versioning.mdx, "A dual-era server selects
its behavior from how the client opens"): a request carrying the 2026 ``_meta`` is modern, and
so is one with a 2026-07-28 MCP-Protocol-Version header outside a 2025 session; everything
else (``initialize``, a session's requests, 2025 headers) keeps the 2025 rules unchanged."""

from __future__ import annotations

from collections.abc import Mapping

from reference_server.protocol import SUPPORTED_VERSIONS, JsonDict

MODERN_VERSIONS = ("2026-07-28",)
# What server/discover and UnsupportedProtocolVersionError list: both eras, newest first.
ALL_VERSIONS = (*MODERN_VERSIONS, *reversed(SUPPORTED_VERSIONS))
PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
VERSION_HEADER = "mcp-protocol-version"
SESSION_HEADER = "mcp-session-id"


def is_modern(headers: Mapping[str, str], message: JsonDict | None) -> bool:
    """True when the 2026-07-28 rules apply. The ``_meta`` decides first (then a missing or
    unknown version header is the modern error); a 2026 header without it decides too, except
    beside a session id: that is a 2025 session's request with a wrong header, refused by the
    2025 rules as it always was."""
    params = message.get("params") if message is not None else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    if isinstance(meta, dict) and PROTOCOL_VERSION_KEY in meta:
        return True
    return headers.get(VERSION_HEADER) in MODERN_VERSIONS and SESSION_HEADER not in headers
