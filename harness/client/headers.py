"""Static request headers (credentials for servers that need them), validated and expanded.

A run gives them as ``Name: value`` (``--header``, repeatable, or ``headers:`` in a target
profile); ``${VAR}`` in a value is read from the environment when the run starts, so that a
secret lives in neither a file nor the shell history. Only the names are ever recorded (the
run manifest, reports); the values travel to the load generator in its environment
(``HEADERS_ENV``) and go on the wire, nowhere else.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping

# The load generator reads the expanded headers from here (JSON object name -> value).
HEADERS_ENV = "MCP_SCALE_HEADERS"

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field-name (tchar)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# The client sets these itself: a static header with one of these names would contradict it.
RESERVED = frozenset(
    name.lower()
    for name in (
        "Host",
        "Content-Length",
        "Content-Type",
        "Accept",
        "Transfer-Encoding",
        "Connection",
        "Mcp-Session-Id",
        "MCP-Protocol-Version",
        "Last-Event-ID",
        "Mcp-Method",
        "Mcp-Name",
    )
)


class HeaderError(ValueError):
    """A static header that cannot be sent; the message says which and why."""


def parse_header(text: str, where: str = "--header") -> tuple[str, str]:
    """``"Name: value"`` -> (name, value), the value still unexpanded."""
    name, colon, value = text.partition(":")
    name = name.strip()
    if not colon or not name:
        raise HeaderError(f"{where} {_shown(text)}: expected 'Name: value'")
    check_name(name, where)
    return name, value.strip()


def check_name(name: str, where: str) -> None:
    if not _TOKEN.match(name):
        raise HeaderError(f"{where}: {_shown(name)} is not a valid HTTP header name")
    if name.lower() in RESERVED or name.lower().startswith("mcp-param-"):
        raise HeaderError(f"{where}: {name} is set by the client itself; it cannot be given")


def expand(value: str, name: str, environ: Mapping[str, str] | None = None) -> str:
    """``${VAR}`` replaced from the environment; a missing variable is an error (naming only
    the variable, never the value around it)."""
    env = os.environ if environ is None else environ

    def lookup(match: re.Match[str]) -> str:
        var = match.group(1)
        if var not in env:
            raise HeaderError(f"header {name}: environment variable {var} is not set")
        return env[var]

    expanded = _ENV_REF.sub(lookup, value)
    if any(ch in expanded for ch in "\r\n\0"):
        raise HeaderError(f"header {name}: the value contains a line break or NUL")
    return expanded


def resolve(
    headers: Iterable[tuple[str, str]], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Names and unexpanded values -> the values to send (later names win, case-insensitive)."""
    resolved: dict[str, str] = {}
    for name, value in headers:
        for known in [k for k in resolved if k.lower() == name.lower()]:
            del resolved[known]
        resolved[name] = expand(value, name)
    return resolved


def header_block(headers: Mapping[str, str]) -> str:
    """The preformatted ``Name: value\\r\\n`` lines (see Transport.open)."""
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items())


def to_env(headers: Mapping[str, str]) -> str:
    return json.dumps(dict(headers))


def from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The headers a run handed to this load-generator process (none when unset)."""
    raw = (os.environ if environ is None else environ).get(HEADERS_ENV)
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise HeaderError(f"{HEADERS_ENV} must be a JSON object of header names to values")
    return {str(k): str(v) for k, v in data.items()}


def _shown(text: str) -> str:
    """Its first word only: a malformed header (no colon) may still hold a secret."""
    words = text.partition(":")[0].split()
    return repr(words[0][:40] + " ..." if words else "")
