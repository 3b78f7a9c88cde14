"""How the command backend starts one instance of a server: a :class:`LaunchSpec`, as data.

It comes from a target profile's ``launch:`` section and the ``--node-*`` flags (flags win),
and is validated before anything starts. Placeholders in the command, its arguments, env
values and cwd are filled per node::

    {port}       a free 127.0.0.1 port of this node       {node_id}  n1 .. nN
    {index}      1 .. N                                    {run_dir}  the run directory
    {redis_url}  the run's own redis-server (asking for it starts one)
    {python}     the interpreter mcp-scale runs on (for Python servers of this checkout)
    {state_key}  a random key (hex) shared by the run's nodes, e.g. for sealing 2026-07-28
                 requestState (the reference server reads it from MCP_SCALE_STATE_KEY)
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace
from typing import Any

from harness.durations import parse_duration

PLACEHOLDERS = ("port", "node_id", "index", "redis_url", "run_dir", "python", "state_key")
SESSIONS = ("local", "shared")
FIELDS = ("command", "env", "cwd", "ready", "ready_timeout", "redis", "sessions", "path")
# The flags that override each field (mcp-scale run --backend command ...).
FLAGS = {
    "command": "--node-command",
    "env": "--node-env",
    "cwd": "--node-cwd",
    "ready": "--node-ready",
    "ready_timeout": "--node-ready-timeout",
    "redis": "--redis",
    "sessions": "--sessions",
    "path": "--node-path",
}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class LaunchError(ValueError):
    """A launch section or flag that cannot start a server: what, where, what is allowed."""


@dataclass(frozen=True)
class LaunchSpec:
    command: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    ready: str = "tcp"  # "tcp": the port accepts; "http:/PATH": PATH answers below 500
    ready_timeout: float = 30.0
    redis: bool = False
    sessions: str = "local"  # "local": in one process's memory; "shared": any node serves any
    path: str = "/mcp"  # the MCP endpoint's path on each node

    @property
    def ready_path(self) -> str | None:
        """The HTTP path of the readiness probe; None for a TCP probe."""
        return self.ready[len("http:") :] if self.ready.startswith("http:") else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": list(self.command),
            "env": dict(self.env),
            "cwd": self.cwd,
            "ready": self.ready,
            "ready_timeout": self.ready_timeout,
            "redis": self.redis,
            "sessions": self.sessions,
            "path": self.path,
        }

    def fill(self, text: str, values: dict[str, str]) -> str:
        """``text`` with its placeholders replaced by ``values``."""
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def parse_launch(data: Any, where: str) -> LaunchSpec:
    """A ``launch:`` mapping (of a target profile) as a validated LaunchSpec."""
    if not isinstance(data, dict):
        raise LaunchError(f"{where}: launch must be a mapping with {', '.join(FIELDS)}")
    unknown = sorted(str(k) for k in data if str(k).replace("-", "_") not in FIELDS)
    if unknown:
        raise LaunchError(
            f"{where}: launch has unknown fields {', '.join(unknown)}; allowed: {', '.join(FIELDS)}"
        )
    values = {str(k).replace("-", "_"): v for k, v in data.items()}
    if "command" not in values:
        raise LaunchError(f"{where}: launch.command is required (the server's command line)")
    spec = LaunchSpec(command=_command(values["command"], f"{where}: launch.command"))
    return override(spec, values, f"{where}: launch")


def override(spec: LaunchSpec, values: dict[str, Any], where: str) -> LaunchSpec:
    """``spec`` with the fields in ``values`` (None: not given) replaced, each validated."""
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        what = f"{where}.{name}" if where.endswith("launch") else f"{where}: {FLAGS[name]}"
        if name == "command":
            changes["command"] = _command(value, what)
        elif name == "env":
            changes["env"] = {**spec.env, **_env(value, what)}
        elif name == "cwd":
            changes["cwd"] = _text(value, what)
        elif name == "ready":
            changes["ready"] = _ready(value, what)
        elif name == "ready_timeout":
            changes["ready_timeout"] = _timeout(value, what)
        elif name == "redis":
            if not isinstance(value, bool):
                raise LaunchError(f"{what} must be true or false, got {value!r}")
            changes["redis"] = value
        elif name == "sessions":
            if value not in SESSIONS:
                raise LaunchError(f"{what} must be one of {', '.join(SESSIONS)}, got {value!r}")
            changes["sessions"] = value
        elif name == "path":
            if not isinstance(value, str) or not value.startswith("/"):
                raise LaunchError(f"{what} must be a path starting with /, got {value!r}")
            changes["path"] = value
    result = replace(spec, **changes)
    check_placeholders(result, where)
    return result


def check_placeholders(spec: LaunchSpec, where: str) -> None:
    texts = [*spec.command, *spec.env.values(), spec.cwd or ""]
    for text in texts:
        for name in _PLACEHOLDER.findall(text):
            if name not in PLACEHOLDERS:
                allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                raise LaunchError(f"{where}: unknown placeholder {{{name}}}; allowed: {allowed}")
            if name == "redis_url" and not spec.redis:
                raise LaunchError(
                    f"{where}: {{redis_url}} needs the run's Redis: set redis: true (--redis)"
                )


def _command(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            parts = shlex.split(value)
        except ValueError as exc:
            raise LaunchError(f"{where}: cannot be split into arguments: {exc}") from None
    elif isinstance(value, list) and all(isinstance(p, str | int | float) for p in value):
        parts = [str(p) for p in value]
    else:
        raise LaunchError(f"{where} must be a command line (a string or a list), got {value!r}")
    if not parts:
        raise LaunchError(f"{where} is empty; give the server's command line")
    return tuple(parts)


def _env(value: Any, where: str) -> dict[str, str]:
    pairs: list[tuple[str, Any]]
    if isinstance(value, dict):
        pairs = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        pairs = []
        for item in value:
            if not isinstance(item, str) or "=" not in item:
                raise LaunchError(f"{where}: {item!r} is not KEY=VALUE")
            key, _, text = item.partition("=")
            pairs.append((key, text))
    else:
        raise LaunchError(f"{where} must be a mapping (or KEY=VALUE items), got {value!r}")
    env: dict[str, str] = {}
    for key, text in pairs:
        if not _ENV_NAME.match(key):
            raise LaunchError(f"{where}: {key!r} is not an environment variable name")
        if isinstance(text, bool) or not isinstance(text, str | int | float):
            raise LaunchError(f"{where}: {key} must be a string or a number, got {text!r}")
        env[key] = str(text)
    return env


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise LaunchError(f"{where} must be a directory path, got {value!r}")
    return value


def _ready(value: Any, where: str) -> str:
    if value == "tcp" or (
        isinstance(value, str) and value.startswith("http:/") and " " not in value
    ):
        return str(value)
    raise LaunchError(f"{where} must be tcp or http:/PATH (e.g. http:/healthz), got {value!r}")


def _timeout(value: Any, where: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise LaunchError(f"{where}: {exc}") from None
    if not 0 < seconds <= 600:
        raise LaunchError(f"{where} must be between 0 and 10m, got {value!r}")
    return seconds


def command_line(spec: LaunchSpec) -> str:
    return shlex.join(spec.command)
