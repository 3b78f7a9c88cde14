"""Launch sections and --node-* flags: validated before anything starts, flags over the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cluster.launch import LaunchError, LaunchSpec, parse_launch
from harness.run.profile import ProfileError, launch_of, load_profile
from harness.target_profile import TargetProfileError, load_target_profile

TARGETS = Path(__file__).resolve().parents[2] / "harness" / "targets"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "target.yaml"
    path.write_text(text)
    return str(path)


def test_every_recipe_loads_with_its_launch_section() -> None:
    for name in ("python-sdk", "server-everything", "reference-server-command"):
        profile = load_target_profile(str(TARGETS / f"{name}.yaml"))
        assert profile.launch is not None and "call" in profile.actions


@pytest.mark.parametrize(
    ("launch", "says"),
    [
        ("{}", "launch.command is required"),
        ("{command: x, ready: http}", "tcp or http:/PATH"),
        ("{command: x, sessions: global}", "local, shared"),
        ("{command: x, speed: 3}", "unknown fields speed"),
        ("{command: 'x {prot}'}", "unknown placeholder {prot}"),
        ("{command: 'x {redis_url}'}", "needs the run's Redis"),
        ("{command: x, env: {1A: b}}", "not an environment variable name"),
        ("{command: x, ready_timeout: soon}", "launch.ready_timeout"),
    ],
)
def test_a_bad_launch_section_says_what_where_and_what_is_allowed(
    tmp_path: Path, launch: str, says: str
) -> None:
    path = write(tmp_path, f"actions: {{}}\nlaunch: {launch}\n")
    with pytest.raises(TargetProfileError, match=r"target profile .*target\.yaml") as caught:
        load_target_profile(path)
    assert says in str(caught.value)


def test_a_launch_section_selects_the_command_backend_and_sticky_routing(tmp_path: Path) -> None:
    path = write(tmp_path, "actions: {}\nlaunch: {command: 'srv --port {port}'}\n")
    profile = load_profile(None, {"target_profile": path})
    assert profile.backend == "command" and profile.routing == "sticky"
    assert profile.store == "memory"  # sessions local: a killed node's sessions are expected lost


def test_flags_override_the_launch_section(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "actions: {}\nlaunch: {command: a, env: {A: '1'}, redis: false, sessions: local}\n",
    )
    overrides = {
        "target_profile": path,
        "node_command": "b --port {port} --redis {redis_url}",
        "node_env": ["B=2"],
        "redis": True,
        "sessions": "shared",
    }
    profile = load_profile(None, overrides)
    launch = launch_of(profile)
    assert launch.command == ("b", "--port", "{port}", "--redis", "{redis_url}")
    assert launch.env == {"A": "1", "B": "2"} and launch.redis
    assert profile.routing == "round_robin" and profile.store == "redis"


def test_bad_flags_fail_before_anything_starts() -> None:
    with pytest.raises(ProfileError, match="--node-command"):
        load_profile(None, {"backend": "command"})
    with pytest.raises(ProfileError, match="--node-ready must be tcp or http:/PATH"):
        load_profile(None, {"backend": "command", "node_command": "x", "node_ready": "ping"})
    with pytest.raises(ProfileError, match="need Redis"):
        load_profile(None, {"backend": "command", "node_command": "x", "chaos": "kill-redis@1s"})


def test_placeholders_are_filled_per_node() -> None:
    spec = parse_launch({"command": "srv --port {port} --id {node_id}"}, "here")
    values = {"port": "8001", "node_id": "n1"}
    assert [spec.fill(part, values) for part in spec.command] == [
        "srv",
        "--port",
        "8001",
        "--id",
        "n1",
    ]
    assert LaunchSpec(command=("x",)).ready_path is None
    with pytest.raises(LaunchError):
        parse_launch("srv", "here")
