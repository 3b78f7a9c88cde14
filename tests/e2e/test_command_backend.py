"""The command backend with real processes and real SIGKILLs: each recipe of harness/targets
under kill-node and restart-node, the reference server compared with the local backend, and
node commands that exit at once, never get ready or ignore SIGTERM (reported, cleaned up, also
after the harness's own SIGKILL and ``mcp-scale cleanup``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import mcp_scale

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ROOT / "harness" / "targets"
EVERYTHING = ROOT / ".targets" / "everything" / "run"
CHAOS = "kill-node:n1@5s; restart-node:n1@9s"


def ours(state_dir: Path) -> list[int]:
    """Live processes started under this test's state dir (nodes inherit the harness's env)."""
    marker = f"MCP_SCALE_STATE_DIR={state_dir}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ and state != "Z" and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def no_orphans(state_dir: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while ours(state_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not ours(state_dir), f"processes outlived the run: {ours(state_dir)}"


def verdicts(run_dir: Path) -> dict[str, Any]:
    summary = json.loads((run_dir / "summary.json").read_text())
    (run,) = summary["runs"]
    return {c["name"]: c for c in run["checkers"]}


def run_recipe(recipe: str, scenario: str, out: Path, state_dir: Path, *extra: str) -> Any:
    return mcp_scale(
        "run", "--target-profile", str(TARGETS / recipe), "--nodes", "3", "--scenario", scenario,
        "--users", "10", "--duration", "16s", "--seed", "3", "--chaos", CHAOS, "--out", str(out),
        *extra, state_dir=state_dir,
    )  # fmt: skip


def test_python_sdk_recipe_loses_the_killed_nodes_sessions_as_expected(
    tmp_path: Path, state_dir: Path
) -> None:
    done = run_recipe("python-sdk.yaml", "standard", tmp_path / "run", state_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())
    assert manifest["backend"] == "command" and manifest["routing"] == "sticky"
    assert manifest["store"] == "memory" and manifest["launch"]["sessions"] == "local"
    survival = verdicts(tmp_path / "run")["survival"]
    assert survival["expected"] and survival["counts"]["lost_expected"] > 0, survival
    history = "".join(p.read_text() for p in (tmp_path / "run").glob("history-*.jsonl"))
    records = [json.loads(line) for line in history.splitlines()]
    assert any(r["f"] == "reinit" and r["type"] == "ok" for r in records)
    assert any(r["f"] == "kill-node" and r["type"] == "ok" for r in records)
    no_orphans(state_dir)


@pytest.mark.skipif(not EVERYTHING.exists(), reason="run scripts/install_everything.sh first")
def test_server_everything_recipe_under_kill_and_restart(tmp_path: Path, state_dir: Path) -> None:
    done = run_recipe("server-everything.yaml", "sampling", tmp_path / "run", state_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    checks = verdicts(tmp_path / "run")
    assert checks["routing"]["valid"] is True, checks["routing"]
    assert checks["survival"]["counts"]["lost"] > 0  # its sessions live in one process
    # It answers an unknown session id with 400, not 404: its clients never re-initialize.
    log = "".join(p.read_text() for p in (tmp_path / "run").glob("history-w*.jsonl"))
    assert "No valid session ID provided" in log
    no_orphans(state_dir)


def test_reference_server_through_the_command_backend_matches_the_local_backend(
    tmp_path: Path, state_dir: Path
) -> None:
    done = run_recipe("reference-server-command.yaml", "notifications", tmp_path / "cmd", state_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    local = mcp_scale(
        "run", "--nodes", "3", "--scenario", "notifications", "--users", "10", "--duration",
        "16s", "--seed", "3", "--chaos", CHAOS, "--out", str(tmp_path / "local"),
        state_dir=state_dir,
    )  # fmt: skip
    assert local.returncode == 0, local.stdout + local.stderr
    by_command = {name: c["valid"] for name, c in verdicts(tmp_path / "cmd").items()}
    by_local = {name: c["valid"] for name, c in verdicts(tmp_path / "local").items()}
    assert by_command == by_local and set(by_command.values()) == {True}, (by_command, by_local)
    no_orphans(state_dir)


def bad_node(tmp_path: Path, state_dir: Path, code: str, *extra: str) -> Any:
    command = f"{sys.executable} -c {json.dumps(code)}"
    return mcp_scale(
        "run", "--backend", "command", "--node-command", command, "--nodes", "2",
        "--scenario", "standard", "--users", "2", "--duration", "3s", "--request-timeout", "1s",
        "--out", str(tmp_path / "run"), *extra, state_dir=state_dir, timeout=90,
    )  # fmt: skip


def test_a_node_that_exits_at_once_fails_the_run_with_its_log(
    tmp_path: Path, state_dir: Path
) -> None:
    done = bad_node(tmp_path, state_dir, "print('no config here'); raise SystemExit(3)")
    assert done.returncode == 3, done.stderr
    assert "exited with code 3 at start" in done.stderr and "no config here" in done.stderr
    no_orphans(state_dir)


def test_a_node_that_never_gets_ready_fails_the_run_and_is_stopped(
    tmp_path: Path, state_dir: Path
) -> None:
    code = "import subprocess, sys, time; print('booting', flush=True); " + (
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); time.sleep(300)"
    )
    done = bad_node(tmp_path, state_dir, code, "--node-ready-timeout", "2s")
    assert done.returncode == 3, done.stderr
    assert "not ready within 2s" in done.stderr and "booting" in done.stderr
    no_orphans(state_dir)  # the node and the child it started


IGNORES_TERM = (
    "import signal, socket, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
    "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); print('stubborn', flush=True); "
    "time.sleep(300)"
)


def test_a_node_that_ignores_sigterm_is_reported_and_killed(
    tmp_path: Path, state_dir: Path
) -> None:
    command = f"{sys.executable} -c {json.dumps(IGNORES_TERM)} {{port}}"
    done = mcp_scale(
        "run", "--backend", "command", "--node-command", command, "--node-ready", "tcp",
        "--nodes", "1", "--scenario", "standard", "--users", "1", "--duration", "2s",
        "--request-timeout", "1s", "--out", str(tmp_path / "run"), state_dir=state_dir,
        timeout=90,
    )  # fmt: skip
    assert "ignored SIGTERM" in done.stderr and "stubborn" in done.stderr, done.stderr
    no_orphans(state_dir)


def sigint_as_in_a_terminal() -> None:
    """Run in the child before exec: SIGINT at its default, as a shell starts a foreground
    command. A pytest started in the background of a script (``cmd &`` without job control)
    has SIGINT ignored, its children inherit that, and Python then keeps it ignored: the
    Ctrl-C under test would be lost and the harness would run its whole duration."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_wrapped_nodes(tmp_path: Path, state_dir: Path) -> subprocess.Popen[bytes]:
    """A harness running 2 command nodes behind a shell wrapper (the whole group must go),
    returned once its run has begun."""
    command = f"sh -c '{sys.executable} -m http.server {{port}} --bind 127.0.0.1; true'"
    env = {**os.environ, "MCP_SCALE_STATE_DIR": str(state_dir)}
    args = [
        sys.executable, "-m", "harness.cli", "run", "--backend", "command", "--node-command",
        command, "--node-ready", "http:/", "--nodes", "2", "--scenario", "standard", "--users",
        "2", "--duration", "60s", "--out", str(tmp_path / "run"),
    ]  # fmt: skip
    harness = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=sigint_as_in_a_terminal,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "run" / "run.json").exists() and time.monotonic() < deadline:
        assert harness.poll() is None, harness.stderr.read() if harness.stderr else ""
        time.sleep(0.2)
    return harness


def test_ctrl_c_stops_every_node_group(tmp_path: Path, state_dir: Path) -> None:
    harness = start_wrapped_nodes(tmp_path, state_dir)
    harness.send_signal(signal.SIGINT)
    _, stderr = harness.communicate(timeout=60)
    assert harness.returncode == 3, stderr
    assert b"interrupted" in stderr
    no_orphans(state_dir)


def test_after_the_harness_is_sigkilled_cleanup_stops_the_node_groups(
    tmp_path: Path, state_dir: Path
) -> None:
    harness = start_wrapped_nodes(tmp_path, state_dir)
    assert len(ours(state_dir)) >= 5  # 2 nodes x (sh + python), Locust
    harness.send_signal(signal.SIGKILL)
    harness.wait(timeout=10)
    assert len(ours(state_dir)) >= 4  # the nodes live on without their harness
    cleaned = mcp_scale("cleanup", state_dir=state_dir, timeout=60)
    assert "process group" in cleaned.stdout, cleaned.stdout
    no_orphans(state_dir)


def test_network_faults_through_the_command_backend(tmp_path: Path, state_dir: Path) -> None:
    """The fault proxy in front of command-backend nodes (clients) and of their Redis: the
    faults are applied and healed, the clean server keeps every guarantee, and the proxy is
    gone with the run."""
    chaos = "reset-node:n2@4s+3s; partition-redis:n1@8s+3s; delay-node:n3=100ms@12s+2s"
    done = mcp_scale(
        "run", "--target-profile", str(TARGETS / "reference-server-command.yaml"),
        "--nodes", "3", "--scenario", "notifications", "--users", "10", "--duration", "60s",
        "--until-requests", "300", "--chaos", chaos, "--out", str(tmp_path / "run"),
        state_dir=state_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    history = "".join(p.read_text() for p in (tmp_path / "run").glob("history-*.jsonl"))
    records = [json.loads(line) for line in history.splitlines()]
    applied = [
        (r["f"], r.get("link")) for r in records if r["process"] == "nemesis" and r["type"] == "ok"
    ]
    assert applied == [
        ("reset-node", "clients->n2"),
        ("heal-node-link", "clients->n2"),
        ("partition-redis", "n1->redis"),
        ("heal-partition-redis", "n1->redis"),
        ("delay-node", "clients->n3"),
        ("heal-node-link", "clients->n3"),
    ]
    assert set(c["valid"] for c in verdicts(tmp_path / "run").values()) == {True}
    no_orphans(state_dir)
