"""Bad profiles and flags fail before anything starts, saying what was wrong and what is
allowed (exit 2); a valid profile file and flags merge, flags winning."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.run.profile import ProfileError, load_profile
from tests.support.cli import mcp_scale


def test_profile_file_and_flags_merge_with_flags_winning(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "scenario: sampling\nusers: 40\nduration: 2m\nchaos-every: 15s\nfaults: kill-node\n"
    )
    profile = load_profile(str(path), {"users": 7, "nodes": None})
    assert (profile.scenario, profile.users, profile.duration) == ("sampling", 7, 120.0)
    assert profile.routing == "round_robin"
    assert profile.chaos_every == 15.0
    assert len(profile.fault_schedule()) == 14  # 7 kills, each with its restart


def test_memory_store_routes_sticky_by_default() -> None:
    assert load_profile(None, {"store": "memory"}).routing == "sticky"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("userz: 3\n", "unknown setting 'userz'; known settings: "),
        ("users: many\n", "users must be a whole number"),
        ("duration: forever\n", "is not a duration"),
        ("scenario: nope\n", "unknown scenario 'nope'; scenarios: notifications"),
        ("- a\n- b\n", "must be a mapping"),
        ("store: memory\nchaos: kill-redis@3s\n", "need Redis"),
        ("chaos: kill-node:n7@3s\n", "no node 'n7'"),
        ("defects: [nonsense]\n", "unknown defect 'nonsense'"),
        ("backend: docker\nchaos: delay-node:n1@3s+2s\n", "the docker backend cuts links"),
        ("chaos: delay-node:n1=fast@3s+2s\n", "'fast' is not a duration"),
        ("users: 3\n  bad: [\n", "not valid YAML"),
    ],
)
def test_bad_profiles_say_what_and_where(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ProfileError, match=message.replace("[", r"\[")) as error:
        load_profile(str(path), {})
    assert str(path) in str(error.value), "the message names the file"


def test_cli_exits_2_before_starting_anything(tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = mcp_scale("run", "--duration", "10s", "--chaos", "kill-node:n1@30s", state_dir=state)
    assert result.returncode == 2
    assert "after the run ends" in result.stderr
    assert not (state / "live").exists(), "nothing was started"
    missing = mcp_scale("run", str(tmp_path / "absent.yaml"), state_dir=state)
    assert missing.returncode == 2
    assert "no such file" in missing.stderr


@pytest.mark.parametrize("path", sorted(Path(__file__).parents[2].glob("profiles/*.yaml")))
def test_shipped_profiles_are_valid(path: Path) -> None:
    profile = load_profile(str(path), {})
    assert profile.fault_schedule()
