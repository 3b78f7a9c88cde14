"""SEP-2243 (2026-07-28): ``Mcp-Name`` and ``Mcp-Param-*`` header values, and which tools'
``x-mcp-header`` annotations are valid.

A server may mark tool parameters with ``x-mcp-header: Name``; a client must then mirror the
argument's value into ``Mcp-Param-Name`` on every tools/call of that tool, and must leave out
(from its tools/list) a tool whose annotations break the rules, so that a load balancer routing
on these headers sees what the server will execute. Written by hand: no maintained Python
library implements this part of the revision yet.
"""

from __future__ import annotations

import base64
import re
from typing import Any

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 tchar: no space, colon, CTL
_PRIMITIVE = frozenset(("string", "integer", "boolean"))
_SAFE_INTEGER = 2**53 - 1
KEYWORD = "x-mcp-header"

# One mirrored parameter: the chain of ``properties`` keys to it, and its header name.
ParamHeader = tuple[tuple[str, ...], str]


class InvalidToolHeaders(ValueError):
    """A tool whose x-mcp-header annotations break SEP-2243; the client must not offer it."""


def encode_value(text: str) -> str:
    """The header value for ``text``: as is when header-safe, else ``=?base64?...?=``."""
    if _header_safe(text):
        return text
    return "=?base64?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def _header_safe(text: str) -> bool:
    if text != text.strip(" \t") or (text.startswith("=?base64?") and text.endswith("?=")):
        return False
    return all(0x20 <= ord(ch) <= 0x7E for ch in text)


def param_text(value: Any) -> str | None:
    """A parameter's string form (None: no header): booleans lowercase, integers in decimal."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return None


def tool_param_headers(tool: Any) -> list[ParamHeader]:
    """The mirrored parameters of a tools/list entry; InvalidToolHeaders says why it is bad."""
    schema = tool.get("inputSchema") if isinstance(tool, dict) else None
    if not isinstance(schema, dict):
        return []
    found: list[ParamHeader] = []
    _reachable(schema, (), found)
    total = _count_annotations(schema)
    if total != len(found):
        raise InvalidToolHeaders(
            f"{total - len(found)} x-mcp-header annotation(s) not reachable through 'properties'"
        )
    seen: set[str] = set()
    for _path, name in found:
        if name.lower() in seen:
            raise InvalidToolHeaders(f"x-mcp-header {name!r} is not unique (case-insensitive)")
        seen.add(name.lower())
    return found


def param_header_block(headers: list[ParamHeader], arguments: dict[str, Any]) -> str:
    """The ``Mcp-Param-*`` lines for one call (a parameter without a value has none)."""
    lines = ""
    for path, name in headers:
        value: Any = arguments
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        text = param_text(value)
        if text is not None:
            lines += f"Mcp-Param-{name}: {encode_value(text)}\r\n"
    return lines


def _reachable(schema: dict[str, Any], path: tuple[str, ...], found: list[ParamHeader]) -> None:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return
    for key, sub in properties.items():
        if not isinstance(sub, dict):
            continue
        if KEYWORD in sub:
            found.append(((*path, key), _checked(sub, key)))
        _reachable(sub, (*path, key), found)


def _checked(prop: dict[str, Any], key: str) -> str:
    name = prop[KEYWORD]
    if not isinstance(name, str) or not name:
        raise InvalidToolHeaders(f"x-mcp-header of {key!r} is empty or not a string")
    if not name.isascii() or not _TOKEN.match(name):
        raise InvalidToolHeaders(f"x-mcp-header {name!r} of {key!r} is not an HTTP token")
    kind = prop.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if not kinds or not all(k in _PRIMITIVE for k in kinds):
        raise InvalidToolHeaders(
            f"x-mcp-header on {key!r} of type {kind!r}: only string, integer, boolean"
        )
    for bound in ("minimum", "maximum"):
        limit = prop.get(bound)
        if isinstance(limit, int | float) and abs(limit) > _SAFE_INTEGER:
            raise InvalidToolHeaders(f"{key!r}: {bound} outside the JavaScript-safe range")
    return name


def _count_annotations(node: Any) -> int:
    if isinstance(node, dict):
        own = 1 if KEYWORD in node else 0
        return own + sum(_count_annotations(v) for k, v in node.items() if k != KEYWORD)
    if isinstance(node, list):
        return sum(_count_annotations(v) for v in node)
    return 0
