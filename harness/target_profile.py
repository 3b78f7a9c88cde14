"""Target profiles: how each scenario action maps onto a server's own tools.

A scenario asks for an *action* (``notify``, ``sample``...); the profile says which tool of the
target implements it and with what arguments. A string argument that is exactly ``"{name}"``
takes the action's value of that name with its type; other strings are formatted. An action the
profile lacks is skipped and reported as not tested, never counted as passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.client.headers import HeaderError, check_name, parse_header
from harness.cluster.launch import LaunchError, LaunchSpec, parse_launch

ACTIONS = ("echo", "slow", "whoami", "notify", "broadcast", "sample", "touch", "log", "call")
KEYS = ("name", "actions", "launch", "headers")
TARGETS_DIR = Path(__file__).resolve().parent / "targets"
REFERENCE_PROFILE = TARGETS_DIR / "reference-server.yaml"


class TargetProfileError(ValueError):
    """A target profile that cannot be used; says what and where."""


@dataclass(frozen=True)
class ActionMap:
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class TargetProfile:
    name: str
    actions: dict[str, ActionMap]
    launch: LaunchSpec | None = None  # how the command backend starts it (``launch:``)
    # ``headers:`` name -> value, unexpanded (``${VAR}``: harness.client.headers); only the
    # names leave this object (to_dict), the values go to the load generator's environment.
    headers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "actions": {
                k: {"tool": v.tool, "arguments": v.arguments} for k, v in self.actions.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetProfile:
        return cls(
            str(data["name"]),
            {
                k: ActionMap(str(v["tool"]), dict(v.get("arguments") or {}))
                for k, v in data["actions"].items()
            },
        )

    def untested(self) -> list[str]:
        return [action for action in ACTIONS if action not in self.actions]


def render_arguments(template: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    return {key: _render(value, values) for key, value in template.items()}


def _render(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in values:
            return values[value[1:-1]]
        return value.format(**values)
    if isinstance(value, dict):
        return render_arguments(value, values)
    if isinstance(value, list):
        return [_render(item, values) for item in value]
    return value


def load_target_profile(path: str | None, backend: str = "local") -> TargetProfile:
    """The profile at ``path``; the reference server's when none is given."""
    if path is None:
        if backend == "external":
            raise TargetProfileError(
                "an external target needs --target-profile FILE mapping actions to its tools; "
                f"examples in {TARGETS_DIR}"
            )
        path = str(REFERENCE_PROFILE)
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text())
    except OSError as exc:
        raise TargetProfileError(f"target profile {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise TargetProfileError(f"target profile {path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("actions"), dict):
        raise TargetProfileError(f"target profile {path}: needs a mapping 'actions:'")
    unknown = sorted(str(key) for key in data if key not in KEYS)
    if unknown:
        raise TargetProfileError(
            f"target profile {path}: unknown keys {', '.join(unknown)}; allowed: {', '.join(KEYS)}"
        )
    headers = _headers(data.get("headers"), path)
    launch = None
    if data.get("launch") is not None:
        try:
            launch = parse_launch(data["launch"], f"target profile {path}")
        except LaunchError as exc:
            raise TargetProfileError(str(exc)) from None
    actions: dict[str, ActionMap] = {}
    for action, spec in data["actions"].items():
        if action not in ACTIONS:
            raise TargetProfileError(
                f"target profile {path}: unknown action {action!r}; actions: {', '.join(ACTIONS)}"
            )
        if not isinstance(spec, dict) or not isinstance(spec.get("tool"), str):
            raise TargetProfileError(f"target profile {path}: action {action!r} needs 'tool: NAME'")
        arguments = spec.get("arguments") or {}
        if not isinstance(arguments, dict):
            raise TargetProfileError(f"target profile {path}: {action}.arguments must be a mapping")
        actions[action] = ActionMap(spec["tool"], arguments)
    return TargetProfile(str(data.get("name", file.stem)), actions, launch, headers)


def _headers(data: Any, path: str) -> dict[str, str]:
    """``headers:`` as a mapping NAME: VALUE (or a list of "NAME: VALUE" strings)."""
    if data is None:
        return {}
    where = f"target profile {path}: headers"
    try:
        if isinstance(data, dict):
            for name in data:
                check_name(str(name), where)
            return {str(name): str(value) for name, value in data.items()}
        if isinstance(data, list):
            return dict(parse_header(str(item), where) for item in data)
    except HeaderError as exc:
        raise TargetProfileError(str(exc)) from None
    raise TargetProfileError(f"{where} must map header names to values")
