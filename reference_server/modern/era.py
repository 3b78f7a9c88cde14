"""Which era serves a request, chosen per request (versioning.mdx, "A dual-era server selects
its behavior from how the client opens"): a 2026 header or 2026 ``_meta`` is modern; an
``initialize``, a session or a 2025 header is legacy."""

from __future__ import annotations

from collections.abc import Mapping

from reference_server.protocol import SUPPORTED_VERSIONS, JsonDict

MODERN_VERSIONS = ("2026-07-28",)
# What server/discover and UnsupportedProtocolVersionError list: both eras, newest first.
ALL_VERSIONS = (*MODERN_VERSIONS, *reversed(SUPPORTED_VERSIONS))
PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
VERSION_HEADER = "mcp-protocol-version"


def is_modern(headers: Mapping[str, str], message: JsonDict | None) -> bool:
    """True when the 2026-07-28 rules apply: a MCP-Protocol-Version header that names no 2025
    revision (an unknown one gets the modern UnsupportedProtocolVersionError), or, without the
    header, a ``_meta`` carrying the protocol version (then the missing header is the error)."""
    header = headers.get(VERSION_HEADER)
    if header is not None:
        return header not in SUPPORTED_VERSIONS
    params = message.get("params") if message is not None else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and PROTOCOL_VERSION_KEY in meta
