"""``server/discover`` and the fields every 2026-07-28 result carries (resultType, caching hints,
the server's identity)."""

from __future__ import annotations

from reference_server.dispatcher import CAPABILITIES, SERVER_INFO
from reference_server.modern.era import ALL_VERSIONS
from reference_server.modern.meta import SERVER_INFO_KEY
from reference_server.protocol import JsonDict

# Results that carry caching hints (server/utilities/caching.mdx, "Cacheable Results").
CACHEABLE = frozenset(
    {
        "server/discover",
        "tools/list",
        "prompts/list",
        "resources/list",
        "resources/templates/list",
        "resources/read",
    }
)
# The catalog is fixed at start-up and the same for every caller: lists may be kept a minute by
# anyone. resources/read is fresh only at once: touch_resource announces updates at any time.
LIST_TTL_MS = 60_000
READ_TTL_MS = 0


def discover_result(node_id: str) -> JsonDict:
    return {
        "supportedVersions": list(ALL_VERSIONS),
        "capabilities": CAPABILITIES,
        "instructions": f"mcp-scale reference server, node {node_id}",
    }


def complete_result(method: str, result: JsonDict) -> JsonDict:
    """A handler's result as 2026-07-28 sends it (a copy: handlers may return shared dicts)."""
    done = {**result, "resultType": result.get("resultType", "complete")}
    if method in CACHEABLE:
        done["ttlMs"] = READ_TTL_MS if method == "resources/read" else LIST_TTL_MS
        done["cacheScope"] = "public"
    return with_server_info(done)


def with_server_info(result: JsonDict) -> JsonDict:
    meta = result.get("_meta")
    return {
        **result,
        "_meta": {**(meta if isinstance(meta, dict) else {}), SERVER_INFO_KEY: SERVER_INFO},
    }
