"""Containers: the compose file, the HAProxy config, and the docker backend.

Offline (always): the compose file validates with docker-compose and starts each node exactly as
the local backend does; haproxy.cfg is valid and, pointed at real local nodes, balances MCP
sessions across them; DockerCluster's selection and fault mapping, against plain Python fakes
of the Docker SDK's client and containers; the chaos entry point end to end on such fakes.
With a Docker engine only (skipped, saying so, without one): the same against real containers.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.chaos.controller import ChaosController
from harness.chaos.faults import FAULTS, Fault
from harness.cluster import docker_chaos
from harness.cluster.docker_backend import (
    COMPOSE_PROJECT_LABEL,
    COMPOSE_SERVICE_LABEL,
    NODE_ID_LABEL,
    PROJECT_LABEL,
    ROLE_LABEL,
    ClusterNotFound,
    ContainerUnhealthy,
    DockerCluster,
    DockerUnavailable,
    connect,
    default_project,
    label_filters,
)
from harness.cluster.local import LocalCluster
from harness.cluster.node_process import NodeProcess
from harness.history import read_history
from harness.run.directory import RunManifest
from tests.support.mcp_http import ListeningStream, McpHttpSession, notify_seqs

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
PROJECT = "mcpscale-unit"
NODE_IDS = ["n1", "n2", "n3"]


def compose_services() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    return dict(data["services"])


def compose_command() -> list[str] | None:
    """docker-compose (Debian's 1.29 validates offline), else the `docker compose` plugin."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


# ---------------------------------------------------------------------------------------------
# The compose file


def test_compose_file_validates_offline() -> None:
    command = compose_command()
    if command is None:
        pytest.skip(
            "neither docker-compose nor the docker compose plugin is installed "
            "(Debian: apt-get install docker-compose)"
        )
    result = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "--profile", "chaos", "config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == {
        "redis",
        "node1",
        "node2",
        "node3",
        "lb",
        "locust-master",
        "locust-worker",
        "chaos",
    }


def local_start(node_id: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], dict[str, str]]:
    """The command line and the environment additions with which the local backend starts a
    Redis-mode node (its Popen intercepted: nothing is started)."""
    seen: dict[str, Any] = {}

    class FakePopen:
        pid = 1

        def __init__(self, args: list[str], **kwargs: Any) -> None:
            seen["args"], seen["env"] = args, kwargs["env"]

    for key in list(os.environ):  # so that the environment it builds is only what it adds
        monkeypatch.delenv(key)
    monkeypatch.setattr("harness.cluster.node_process.subprocess.Popen", FakePopen)
    monkeypatch.setattr(NodeProcess, "wait_healthy", lambda self, timeout: None)
    NodeProcess(node_id, "redis", redis_url="redis://127.0.0.1:6399/0", port=8123).start()
    return list(seen["args"]), dict(seen["env"])


def without_values(args: list[str], flags: tuple[str, ...]) -> list[str]:
    """``args`` with the values of ``flags`` blanked (they legitimately differ)."""
    out = list(args)
    for index, arg in enumerate(out[:-1]):
        if arg in flags:
            out[index + 1] = "<value>"
    return out


@pytest.mark.parametrize("node_id", NODE_IDS)
def test_nodes_start_like_the_local_backend(node_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    local_args, local_env = local_start(node_id, monkeypatch)
    services = compose_services()
    [service] = [s for s in services.values() if s.get("labels", {}).get(NODE_ID_LABEL) == node_id]
    command = [str(part) for part in service["command"]]
    # Same program and flags, in the same order; only where it listens and where Redis is differ.
    varying = ("--host", "--port", "--redis-url")
    assert command[0] == "python" and local_args[0] == sys.executable
    assert without_values(command[1:], varying) == without_values(local_args[1:], varying)
    values = dict(zip(command[1::2], command[2::2], strict=False))
    assert values["--host"] == "0.0.0.0" and values["--port"] == "8000"
    assert values["--redis-url"] == "redis://redis:6379/0"
    assert values["--node-id"] == node_id
    # Every variable the local backend adds to the inherited environment, with its value.
    environment = {k: str(v) for k, v in service["environment"].items()}
    assert local_env, "the local backend adds nothing to the environment? (test out of date)"
    assert environment.items() >= local_env.items()


def test_every_service_is_labelled_and_wired() -> None:
    services = compose_services()
    roles = {name: s["labels"][ROLE_LABEL] for name, s in services.items()}
    assert roles == {
        "redis": "redis",
        "node1": "node",
        "node2": "node",
        "node3": "node",
        "lb": "lb",
        "locust-master": "locust",
        "locust-worker": "locust",
        "chaos": "chaos",
    }
    for name, service in services.items():
        assert service["labels"][PROJECT_LABEL] == "mcp-scale", name
        assert "container_name" not in service, f"{name}: selection is by label, never by name"
    assert [services[f"node{i}"]["labels"][NODE_ID_LABEL] for i in (1, 2, 3)] == NODE_IDS
    redis = services["redis"]
    # Base images: the official ones unless a variable names a stand-in.
    assert redis["image"] == "${MCP_SCALE_REDIS_IMAGE:-redis:7}"
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert "test" in redis["healthcheck"]
    assert any(v.startswith("redis-data:") for v in redis["volumes"])
    lb = services["lb"]
    assert lb["image"] == "${MCP_SCALE_HAPROXY_IMAGE:-haproxy:2.6}"
    build_args = services["node1"]["build"]["args"]
    assert build_args["PYTHON_IMAGE"] == "${MCP_SCALE_PYTHON_IMAGE:-python:3.11-slim-bookworm}"
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in (ROOT / "Dockerfile").read_text()
    assert any(v.startswith("./deploy/haproxy.cfg:") for v in lb["volumes"])
    worker = services["locust-worker"]
    assert "ports" not in worker, "a scaled service cannot publish fixed ports"
    for name in ("locust-master", "locust-worker", "chaos"):
        assert "./reports:/reports" in services[name]["volumes"], name
        assert services[name]["healthcheck"] == {"disable": True}, name
        assert services[name]["environment"]["MCP_SCALE_RUN_DIR"].startswith("/reports/")
    chaos = services["chaos"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in chaos["volumes"]
    assert chaos["profiles"] == ["chaos"]
    assert "MCP_SCALE_CHAOS" in chaos["environment"]
    assert services["locust-master"]["environment"]["MCP_SCALE_HOST"] == "http://lb:8000/mcp"


def test_compose_chaos_default_timeline_parses() -> None:
    """The default timeline of the chaos service is valid for the compose nodes and run."""
    from harness.chaos.schedule import parse_timeline
    from harness.durations import parse_duration

    env = compose_services()["chaos"]["environment"]
    default = str(env["MCP_SCALE_CHAOS"]).split(":-", 1)[1].rstrip("}")
    duration = parse_duration(str(env["MCP_SCALE_DURATION"]).split(":-", 1)[1].rstrip("}"))
    assert parse_timeline(default, NODE_IDS, duration)


# ---------------------------------------------------------------------------------------------
# HAProxy


def test_haproxy_config_is_valid() -> None:
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (Debian: apt-get install haproxy)")
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line.split("#")[0].strip() for line in HAPROXY_CFG.read_text().splitlines()]
    text = "\n".join(line for line in lines if line)
    assert "balance roundrobin" in text and "option httpchk GET /healthz" in text
    assert "cookie" not in text and "stick" not in text, "no stickiness"


def compose_env() -> dict[str, str]:
    """The environment for docker compose here: base images (stand-ins where no registry
    answers, scripts/build_base_images.sh) and open-file limits the engine allows."""
    env = dict(os.environ)
    images = subprocess.run(
        [str(ROOT / "scripts" / "build_base_images.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    env.update(line.split("=", 1) for line in images.stdout.split())
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY:
        env["MCP_SCALE_NOFILE"] = str(min(hard, 65536))
        env["MCP_SCALE_LB_NOFILE"] = str(min(hard, 200000))
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def local_lb(
    tmp_path: Path, make_cluster: Callable[..., LocalCluster]
) -> Iterator[tuple[str, LocalCluster]]:
    """deploy/haproxy.cfg in front of three real local nodes: the servers' addresses rewritten
    to theirs (no Docker DNS here), everything else as shipped."""
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (Debian: apt-get install haproxy)")
    cluster = make_cluster(3, "redis")
    port = free_port()
    text = HAPROXY_CFG.read_text().replace("bind :8000", f"bind 127.0.0.1:{port}")
    text = text.replace(" resolvers docker", "")
    for index, node in enumerate(cluster.members.values(), start=1):
        text = text.replace(f"node{index}:8000", f"127.0.0.1:{node.port}")
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    log = tmp_path / "haproxy.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        time.sleep(2.5)  # rise 2 at inter 1s: every node is up
        assert process.poll() is None, f"haproxy exited: {log.read_text()[-2000:]}"
        yield f"http://127.0.0.1:{port}/mcp", cluster
    finally:
        process.kill()
        process.wait(timeout=10)


def test_haproxy_balances_sessions_and_streams_across_nodes(
    local_lb: tuple[str, LocalCluster],
) -> None:
    url, cluster = local_lb
    session = McpHttpSession(url)
    stream: ListeningStream | None = None
    try:
        session.initialize()
        stream = session.open_stream()
        assert stream.opened.wait(10) and stream.status == 200
        served = {session.call_tool("whoami", {})["structuredContent"]["node"] for _ in range(6)}
        assert served == set(NODE_IDS), "round-robin per request, no stickiness"
        tag = f"lb-{secrets.token_hex(4)}"
        session.call_tool("notify", {"count": 5, "nonce": tag, "interval_ms": 0})
        assert stream.wait_for(lambda m: notify_seqs(m, tag) == [1, 2, 3, 4, 5])
        # A dead node: health checks take it out, and a refused connection is redispatched.
        cluster.node("n2").kill()
        answers = [session.call_tool("echo", {"text": "x"}) for _ in range(10)]
        assert len(answers) == 10
    finally:
        if stream is not None:
            stream.close()
        session.close()


# ---------------------------------------------------------------------------------------------
# DockerCluster against fakes of the Docker SDK


class FakeContainer:
    """A docker.models.containers.Container, as far as DockerCluster uses it."""

    def __init__(
        self,
        container_id: str,
        labels: dict[str, str],
        status: str = "running",
        host_port: int | None = None,
        becomes_healthy: bool = True,
    ) -> None:
        self.id = container_id
        self.labels = labels
        self.status = status
        self.calls: list[str] = []
        self.becomes_healthy = becomes_healthy
        bindings = {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(host_port)}]}
        self.attrs: dict[str, Any] = {
            "Image": "sha256:mcp-scale-image",
            "State": {"Status": status, "Running": status == "running", "Pid": 4242},
            "HostConfig": {"PortBindings": bindings if host_port else {}},
        }
        self.rules: list[str] = []  # the DROP rules in its network namespace, by link
        self.stats_calls: list[dict[str, Any]] = []

    def _set(self, status: str, health: str | None = None) -> None:
        self.status = status
        running = status in ("running", "paused")
        self.attrs["State"] = {"Status": status, "Running": running, "Pid": 4242 if running else 0}
        if health:
            self.attrs["State"]["Health"] = {"Status": health}

    def reload(self) -> None:
        if self.status == "running":
            health = "healthy" if self.becomes_healthy else "starting"
            self.attrs["State"]["Health"] = {"Status": health}

    def kill(self) -> None:
        self.calls.append("kill")
        self._set("exited")

    def stop(self, timeout: int = 10) -> None:
        self.calls.append(f"stop(timeout={timeout})")
        self._set("exited")

    def pause(self) -> None:
        self.calls.append("pause")
        self._set("paused")

    def unpause(self) -> None:
        self.calls.append("unpause")
        self._set("running")

    def restart(self, timeout: int = 10) -> None:
        self.calls.append(f"restart(timeout={timeout})")
        self._set("running", "starting")

    def start(self) -> None:
        self.calls.append("start")
        self._set("running", "starting")

    def stats(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """The engine's stats stream: one now, then none (as if the container stopped)."""
        self.stats_calls.append(kwargs)
        yield {
            "memory_stats": {"usage": 50_000_000, "stats": {"total_inactive_file": 8_000_000}},
            "cpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000}},
            "pids_stats": {"current": 7},
        }

    def firewall(self, script: str) -> bytes:
        """What the helper container's iptables script does to this namespace."""
        link = "redis" if "--dport 6379" in script else "clients"
        if script.startswith("n=0; while"):
            self.calls.append(f"heal {link}")
            removed = self.rules.count(link)
            self.rules = [rule for rule in self.rules if rule != link]
            return f"{removed}\n".encode()
        self.calls.append(f"cut {link}")
        if link in self.rules:
            return b"already\n"
        self.rules.append(link)
        return b"cut\n"


class FakeContainers:
    """client.containers: ``list`` honours label filters unless told to ignore them (a
    misbehaving engine, or a filter typo), to prove that selection checks labels itself."""

    def __init__(self, containers: list[FakeContainer], honour_filters: bool = True) -> None:
        self.containers = containers
        self.honour_filters = honour_filters
        self.list_calls: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []

    def list(
        self, all: bool = False, filters: dict[str, Any] | None = None
    ) -> Sequence[FakeContainer]:
        self.list_calls.append({"all": all, "filters": filters})
        found = [c for c in self.containers if all or c.status == "running"]
        if not self.honour_filters or not filters:
            return found
        wanted = [str(label).split("=", 1) for label in filters.get("label", [])]
        return [c for c in found if all_labels(c, wanted)]

    def get(self, container_id: str) -> FakeContainer:
        for container in self.containers:
            if container.id.startswith(container_id):
                return container
        raise LookupError(f"no such container: {container_id}")

    def run(self, image: str, command: Sequence[str], **kwargs: Any) -> bytes:
        """A throwaway container: only ever one that joins a container's network namespace."""
        self.runs.append({"image": image, "command": list(command), **kwargs})
        mode = str(kwargs["network_mode"])
        assert mode.startswith("container:"), mode
        return self.get(mode.removeprefix("container:")).firewall(command[-1])


def all_labels(container: FakeContainer, wanted: list[list[str]]) -> bool:
    return all(container.labels.get(key) == value for key, value in wanted)


class FakeClient:
    def __init__(self, containers: list[FakeContainer], honour_filters: bool = True) -> None:
        self.containers = FakeContainers(containers, honour_filters)
        self.closed = False

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


_ids = itertools.count(1)


def ours(role: str, service: str, node_id: str | None = None, **options: Any) -> FakeContainer:
    labels = {
        COMPOSE_PROJECT_LABEL: PROJECT,
        COMPOSE_SERVICE_LABEL: service,
        PROJECT_LABEL: "mcp-scale",
        ROLE_LABEL: role,
    }
    if node_id:
        labels[NODE_ID_LABEL] = node_id
    return FakeContainer(f"{next(_ids):012x}{secrets.token_hex(26)}", labels, **options)


def fake_project(**options: Any) -> dict[str, FakeContainer]:
    """A compose project as docker-compose.yml makes it, by service name."""
    made = {
        f"node{i}": ours("node", f"node{i}", f"n{i}", host_port=8000 + i, **options)
        for i in (1, 2, 3)
    }
    made["redis"] = ours("redis", "redis")
    made["lb"] = ours("lb", "lb", host_port=8000)
    made["chaos"] = ours("chaos", "chaos")
    return made


def impostors() -> list[FakeContainer]:
    """Containers that claim node n1 or Redis but are not this project's mcp-scale ones."""
    other_project = ours("node", "node1", "n1")
    other_project.labels[COMPOSE_PROJECT_LABEL] = "someone-else"
    unlabelled = ours("node", "node1", "n1")
    del unlabelled.labels[PROJECT_LABEL]
    wrong_value = ours("redis", "redis")
    wrong_value.labels[PROJECT_LABEL] = "not-mcp-scale"
    not_compose = ours("node", "node1", "n1")
    del not_compose.labels[COMPOSE_PROJECT_LABEL]
    return [other_project, unlabelled, wrong_value, not_compose]


def started(
    containers: list[FakeContainer], honour_filters: bool = True, **options: Any
) -> tuple[DockerCluster, FakeClient]:
    client = FakeClient(containers, honour_filters)
    cluster = DockerCluster(PROJECT, client=client, sleep=lambda _: None, **options)
    return cluster.start(), client


def test_discovery_uses_both_label_filters_and_stopped_containers_too() -> None:
    project = fake_project()
    cluster, client = started(list(project.values()))
    expected = {"label": [f"{COMPOSE_PROJECT_LABEL}={PROJECT}", "com.mcp-scale.project=mcp-scale"]}
    assert label_filters(PROJECT) == expected
    assert client.containers.list_calls
    for call in client.containers.list_calls:
        assert call == {"all": True, "filters": expected}
    assert cluster.node_ids() == NODE_IDS
    assert cluster.urls == [f"http://127.0.0.1:{8000 + i}/mcp" for i in (1, 2, 3)]
    assert cluster.processes() == {}


def test_network_addressing_uses_compose_service_names() -> None:
    cluster, _ = started(list(fake_project().values()), address="network")
    assert cluster.urls == [f"http://node{i}:8000/mcp" for i in (1, 2, 3)]
    assert cluster.lb_url() == "http://lb:8000/mcp"


def test_default_project_is_what_compose_would_name_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    assert default_project(Path("/src/MCP.Scale_2")) == "mcpscale_2"
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "load-a")
    assert default_project(Path("/src/elsewhere")) == "load-a"


def test_node_ids_sort_naturally() -> None:
    nodes = [ours("node", f"node{i}", f"n{i}", host_port=9000 + i) for i in (10, 2, 1)]
    cluster, _ = started(nodes)
    assert cluster.node_ids() == ["n1", "n2", "n10"]


@pytest.mark.parametrize("honour_filters", [True, False])
def test_containers_without_our_labels_are_never_touched(honour_filters: bool) -> None:
    project = fake_project()
    strangers = impostors()
    cluster, _ = started([*strangers, *project.values()], honour_filters=honour_filters)
    assert cluster.node_ids() == NODE_IDS
    cluster.apply_fault("kill-node", "n1")
    cluster.apply_fault("kill-redis", None)
    assert project["node1"].calls == ["kill"]
    assert project["redis"].calls == ["kill"]
    for stranger in strangers:
        assert stranger.calls == [], stranger.labels


def test_a_project_of_strangers_only_is_refused() -> None:
    for honour_filters in (True, False):
        with pytest.raises(ClusterNotFound, match="no reference-server containers"):
            started(impostors(), honour_filters=honour_filters)


def test_two_containers_claiming_one_node_are_refused() -> None:
    project = fake_project()
    twin = ours("node", "node1", "n1")
    with pytest.raises(ClusterNotFound, match="both claim node 'n1'"):
        started([*project.values(), twin])


# fault, node or None, status before -> calls on the target container, status after
MAPPING = [
    ("kill-node", "n2", "running", ["kill"], "exited"),
    ("kill-node", "n2", "paused", ["unpause", "kill"], "exited"),
    ("kill-node", "n2", "exited", [], "exited"),
    ("stop-node", "n2", "running", ["stop(timeout=10)"], "exited"),
    ("stop-node", "n2", "paused", ["unpause", "stop(timeout=10)"], "exited"),
    ("pause-node", "n2", "running", ["pause"], "paused"),
    ("pause-node", "n2", "exited", [], "exited"),
    ("resume-node", "n2", "paused", ["unpause"], "running"),
    ("resume-node", "n2", "running", [], "running"),
    ("restart-node", "n2", "running", ["restart(timeout=0)"], "running"),
    ("restart-node", "n2", "paused", ["unpause", "restart(timeout=0)"], "running"),
    ("restart-node", "n2", "exited", ["start"], "running"),
    ("kill-redis", None, "running", ["kill"], "exited"),
    ("restart-redis", None, "exited", ["start"], "running"),
    ("restart-redis", None, "running", ["restart(timeout=0)"], "running"),
    ("partition-redis", "n2", "running", ["cut redis"], "running"),
    ("heal-partition-redis", "n2", "running", ["heal redis"], "running"),
    ("heal-partition-redis", "n2", "exited", [], "exited"),
    ("isolate-node", "n2", "running", ["cut clients"], "running"),
    ("rejoin-node", "n2", "running", ["heal clients"], "running"),
]


@pytest.mark.parametrize(("fault", "target", "before", "calls", "after"), MAPPING)
def test_each_fault_maps_to_the_right_container_method(
    fault: str, target: str | None, before: str, calls: list[str], after: str
) -> None:
    project = fake_project()
    victim = project["node2"] if target else project["redis"]
    victim._set(before)
    cluster, _ = started(list(project.values()))
    detail = cluster.apply_fault(fault, target)
    assert victim.calls == calls
    assert victim.status == after
    assert victim.id[:12] in detail
    assert detail.startswith(f"{target or 'redis'} container {victim.id[:12]}")
    if fault.startswith("restart"):
        assert "healthy after" in detail
    for name, other in project.items():
        if other is not victim:
            assert other.calls == [], f"{fault} touched {name}"


def test_every_fault_the_nemesis_knows_is_mapped() -> None:
    from harness.chaos.faults import LINK_ACTIONS

    cuts = {name for name, kind in FAULTS.items() if kind.action not in LINK_ACTIONS}
    assert {fault for fault, *_ in MAPPING} == cuts


def test_link_impairments_need_the_fault_proxy() -> None:
    from harness.chaos.faults import FaultNotSupported

    cluster, client = started(list(fake_project().values()))
    for fault in ("delay-node", "blackhole-redis", "heal-node-link"):
        with pytest.raises(FaultNotSupported, match="needs the fault proxy"):
            cluster.apply_fault(fault, "n1")
    assert client.containers.runs == []


def test_unknown_faults_nodes_and_a_missing_redis_are_errors() -> None:
    cluster, _ = started(list(fake_project().values()))
    with pytest.raises(ValueError, match="unknown fault 'partition-node'"):
        cluster.apply_fault("partition-node", "n1")
    with pytest.raises(ValueError, match=r"no node 'n9' .*nodes: n1, n2, n3"):
        cluster.apply_fault("kill-node", "n9")
    without_redis = [c for name, c in fake_project().items() if name != "redis"]
    cluster, _ = started(without_redis)
    with pytest.raises(ValueError, match="0 Redis containers"):
        cluster.apply_fault("kill-redis", None)


def test_network_faults_are_rules_in_the_nodes_own_namespace() -> None:
    project = fake_project()
    cluster, client = started(list(project.values()))
    node1 = project["node1"]
    assert "Redis link cut" in cluster.apply_fault("partition-redis", "n1")
    assert "already cut" in cluster.apply_fault("partition-redis", "n1")
    assert "client link cut" in cluster.apply_fault("isolate-node", "n1")
    assert node1.rules == ["redis", "clients"]
    assert "1 rule(s) removed" in cluster.apply_fault("heal-partition-redis", "n1")
    assert "1 rule(s) removed" in cluster.apply_fault("rejoin-node", "n1")
    assert "0 rule(s) removed" in cluster.apply_fault("rejoin-node", "n1")
    assert node1.rules == []
    for run in client.containers.runs:
        # The node's own image, in the node's namespace only, removed when done.
        assert run["network_mode"] == f"container:{node1.id}"
        assert run["image"] == node1.attrs["Image"]
        assert run["cap_add"] == ["NET_ADMIN"] and run["user"] == "root"
        assert run["remove"] is True and "privileged" not in run
        assert run["labels"][COMPOSE_PROJECT_LABEL] == PROJECT
        assert run["labels"][ROLE_LABEL] == "network-fault"
    scripts = [run["command"][-1] for run in client.containers.runs]
    assert "-A OUTPUT -p tcp --dport 6379" in scripts[0]
    assert "-A INPUT -p tcp --dport 8000" in scripts[2]
    assert all("-j DROP" in script for script in scripts)
    for name, other in project.items():
        if name != "node1":
            assert other.calls == [] and other.rules == [], name


def test_a_stopped_node_cannot_be_cut() -> None:
    project = fake_project()
    project["node2"]._set("exited")
    cluster, client = started(list(project.values()))
    with pytest.raises(ValueError, match="is exited: cannot cut its Redis link"):
        cluster.apply_fault("partition-redis", "n2")
    assert client.containers.runs == []


def test_network_faults_elsewhere_are_not_supported() -> None:
    from harness.chaos.faults import FaultNotSupported, apply_fault

    class ProcessOnly:
        def kill(self) -> str:
            return "killed"

    with pytest.raises(FaultNotSupported, match="need a backend that can reach a node's links"):
        apply_fault(lambda scope, target: ProcessOnly(), "isolate-node", "n1")  # type: ignore[arg-type, return-value]


def test_network_faults_heal_after_their_duration() -> None:
    from harness.chaos.schedule import parse_timeline

    faults = parse_timeline("partition-redis:n1@5s+3s; isolate-node:n2@6s+2s", NODE_IDS, 20.0)
    assert [fault.describe() for fault in faults] == [
        "partition-redis:n1@5s",
        "isolate-node:n2@6s",
        "heal-partition-redis:n1@8s",
        "rejoin-node:n2@8s",
    ]


def test_containers_are_sampled_from_the_engines_stats() -> None:
    from harness.monitor.sampler import ResourceSampler

    project = fake_project()
    project["node3"]._set("exited")
    cluster, _ = started(list(project.values()))
    targets = {target.name: target for target in cluster.sample_targets()}
    assert set(targets) == {"n1", "n2", "n3", "redis"}
    assert targets["n1"].metrics_url == "http://127.0.0.1:8001/metrics"
    assert targets["redis"].kind == "redis" and targets["redis"].metrics_url is None
    sampler = ResourceSampler([], lambda record: None)
    try:
        value = None
        deadline = time.monotonic() + 5
        while value is None and time.monotonic() < deadline:  # the feed's first stats
            value = sampler.sample(targets["redis"])
            time.sleep(0.01)
        assert sampler.sample(targets["n3"]) is None, "a stopped container has nothing to sample"
    finally:
        sampler.stop()
        cluster.close()
    assert value == {
        "target": "redis",
        "kind": "redis",
        "pid": 4242,
        "container": project["redis"].id[:12],
        "rss": 42_000_000,
        "cpu": 2.5,
        "threads": 7,
    }
    assert project["redis"].stats_calls[0] == {"stream": True, "decode": True}
    assert project["node3"].stats_calls == []


def test_container_resources_reads_cgroup_v1_and_v2_stats() -> None:
    from harness.cluster.docker_backend import container_resources

    cpu = {"cpu_usage": {"total_usage": 1_000_000_000}}
    v2 = {"memory_stats": {"usage": 3000, "stats": {"inactive_file": 1000}}, "cpu_stats": cpu}
    assert container_resources(v2) == {"pid": None, "container": "", "rss": 2000, "cpu": 1.0}
    assert container_resources({"memory_stats": {}, "cpu_stats": {}}) is None


def test_a_restart_that_never_becomes_healthy_fails_in_bounded_time() -> None:
    project = fake_project(becomes_healthy=False)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    client = FakeClient(list(project.values()))
    cluster = DockerCluster(
        PROJECT, client=client, health_timeout=5.0, sleep=sleep, clock=lambda: now[0]
    ).start()
    with pytest.raises(ContainerUnhealthy, match="not healthy 5s after its restart"):
        cluster.apply_fault("restart-node", "n1")
    assert 5.0 <= now[0] < 6.0


def test_faults_are_recorded_in_the_history_like_the_local_backend() -> None:
    project = fake_project()
    cluster, _ = started(list(project.values()))
    records: list[dict[str, Any]] = []
    controller = ChaosController(
        [Fault("kill-node", "n1", 0.0), Fault("kill-node", "n9", 0.0)], cluster, records.append
    )
    for fault in controller.schedule:
        controller.apply(fault)
    assert [(r["type"], r["f"], r["value"]) for r in records] == [
        ("invoke", "kill-node", "n1"),
        ("ok", "kill-node", "n1"),
        ("invoke", "kill-node", "n9"),
        ("fail", "kill-node", "n9"),
    ]
    assert records[1]["process"] == "nemesis"
    assert records[1]["detail"] == f"n1 container {project['node1'].id[:12]}"
    assert "no node 'n9'" in records[3]["error"]


def test_close_leaves_the_containers_alone() -> None:
    project = fake_project()
    cluster, client = started(list(project.values()))
    cluster.close()
    assert all(c.calls == [] for c in project.values())
    assert not client.closed, "a client given to the backend is the caller's to close"


def test_the_module_imports_without_the_docker_package() -> None:
    code = (
        "import sys; sys.modules['docker'] = None\n"  # as if the SDK were not installed
        "import harness.cluster.docker_backend as b, harness.cluster.docker_chaos\n"
        "try:\n    b.connect()\nexcept b.DockerUnavailable as e:\n    print(e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'docker>=7'" in result.stdout


# ---------------------------------------------------------------------------------------------
# The chaos service's entry point, on fakes


def test_docker_chaos_runs_a_timeline_into_the_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = fake_project()
    client = FakeClient(list(project.values()))
    monkeypatch.setattr(docker_chaos, "connect", lambda: client)
    monkeypatch.setattr(socket, "gethostname", lambda: project["chaos"].id[:12])
    monkeypatch.setattr(docker_chaos, "_stop_on_signals", lambda stop: None)
    run_dir = tmp_path / "run"
    code = docker_chaos.main(
        [
            "--chaos",
            "kill-node:n1@100ms+200ms; pause-node:n3@150ms",
            "--duration",
            "600ms",
            "--out",
            str(run_dir),
            "--scenario",
            "sampling",
        ]
    )
    assert code == 0
    assert project["node1"].calls == ["kill", "start"]
    assert project["node3"].calls == ["pause"]
    history = read_history(run_dir)
    faults = [(r["type"], r["f"], r.get("value")) for r in history if r["process"] == "nemesis"]
    assert faults == [
        ("invoke", "kill-node", "n1"),
        ("ok", "kill-node", "n1"),
        ("invoke", "pause-node", "n3"),
        ("ok", "pause-node", "n3"),
        ("invoke", "restart-node", "n1"),
        ("ok", "restart-node", "n1"),
    ]
    assert [r["f"] for r in history if r["process"] == "harness"] == ["run-start", "run-end"]
    manifest = RunManifest.read(run_dir)
    assert manifest is not None
    assert manifest.backend == "docker" and manifest.scenario == "sampling"
    assert manifest.nodes == ["n1", "n2", "n3"] and manifest.store == "redis"


def test_docker_chaos_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient(list(fake_project().values()))
    monkeypatch.setattr(docker_chaos, "connect", lambda: client)
    out = ["--out", str(tmp_path / "r"), "--project", PROJECT, "--duration", "1s"]
    assert docker_chaos.main([*out, "--chaos", "kill-node:n7@0s"]) == 2
    assert docker_chaos.main([*out, "--chaos", "kill-node:n1@5s"]) == 2  # after the end
    assert docker_chaos.main([*out, "--chaos", "delay-node:n1@0s"]) == 2  # needs the proxy
    monkeypatch.setattr(socket, "gethostname", lambda: "not-a-container")
    assert docker_chaos.main(["--out", str(tmp_path / "r"), "--chaos", ""]) == 3

    def no_engine() -> FakeClient:
        raise DockerUnavailable("no Docker engine answers")

    monkeypatch.setattr(docker_chaos, "connect", no_engine)
    assert docker_chaos.main([*out, "--chaos", ""]) == 3


def test_docker_chaos_waits_for_the_load_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = FakeClient(list(fake_project().values()))
    monkeypatch.setattr(docker_chaos, "connect", lambda: client)
    monkeypatch.setattr(docker_chaos, "_stop_on_signals", lambda stop: None)
    args = ["--project", PROJECT, "--out", str(tmp_path / "r"), "--duration", "200ms"]
    assert docker_chaos.main([*args, "--wait-for-load", "300ms"]) == 3
    (tmp_path / "r" / "history-w0.jsonl").write_text("")
    assert docker_chaos.main([*args, "--wait-for-load", "5s"]) == 0


# ---------------------------------------------------------------------------------------------
# With a Docker engine


@pytest.fixture(scope="module")
def docker_client() -> Iterator[Any]:
    """The engine's client (docker.from_env(), pinged), or a skip that says why there is none."""
    try:
        client = connect()
    except DockerUnavailable as exc:
        pytest.skip(f"needs a running Docker engine: {exc}")
    yield client
    client.close()


def test_an_absent_project_is_reported_with_a_clear_message(docker_client: Any) -> None:
    project = f"mcpscale-absent-{secrets.token_hex(4)}"
    with pytest.raises(ClusterNotFound, match=f"docker compose -p {project} up -d lb"):
        DockerCluster(project, client=docker_client).start()


@pytest.mark.slow
def test_faults_on_a_real_compose_cluster(docker_client: Any) -> None:
    command = compose_command()
    if command is None:
        pytest.skip("no docker compose / docker-compose to start the cluster with")
    project = f"mcpscale-test-{secrets.token_hex(3)}"
    env = {
        **compose_env(),
        "MCP_SCALE_LB_PORT": str(free_port()),
        **{f"MCP_SCALE_NODE{i}_PORT": str(free_port()) for i in (1, 2, 3)},
    }
    compose = [*command, "-f", str(COMPOSE_FILE), "-p", project]
    up = subprocess.run(
        [*compose, "up", "-d", "--build", "lb"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        cluster = DockerCluster(project, client=docker_client).start()
        assert cluster.node_ids() == NODE_IDS
        for url in cluster.urls:
            session = McpHttpSession(url)
            session.initialize()
            session.close()

        def status(node: str) -> str:
            [container] = docker_client.containers.list(
                all=True,
                filters={
                    "label": [f"{COMPOSE_PROJECT_LABEL}={project}", f"{NODE_ID_LABEL}={node}"]
                },
            )
            return str(container.status)

        cluster.apply_fault("kill-node", "n1")
        assert status("n1") == "exited"
        assert "healthy after" in cluster.apply_fault("restart-node", "n1")
        assert status("n1") == "running"
        cluster.apply_fault("pause-node", "n2")
        assert status("n2") == "paused"
        cluster.apply_fault("resume-node", "n2")
        assert status("n2") == "running"
        cluster.apply_fault("kill-redis", None)
        assert "healthy after" in cluster.apply_fault("restart-redis", None)
        # Network faults: n1 cut from Redis answers 503 at once; healed, it serves again.
        time.sleep(3)
        n1 = cluster.urls[0]
        assert "Redis link cut" in cluster.apply_fault("partition-redis", "n1")
        began = time.monotonic()
        with pytest.raises(Exception, match="503"):
            McpHttpSession(n1).initialize()
        assert time.monotonic() - began < 5
        assert "1 rule(s) removed" in cluster.apply_fault("heal-partition-redis", "n1")
        McpHttpSession(n1).initialize()
        assert "client link cut" in cluster.apply_fault("isolate-node", "n1")
        with pytest.raises(Exception):  # noqa: B017 - a timeout, whatever the client calls it
            McpHttpSession(n1, timeout=2.0).initialize()
        assert "1 rule(s) removed" in cluster.apply_fault("rejoin-node", "n1")
        McpHttpSession(n1).initialize()
        time.sleep(3)  # HAProxy's health checks see n1 back
        session = McpHttpSession(cluster.lb_url())
        session.initialize()
        served = {session.call_tool("whoami", {})["structuredContent"]["node"] for _ in range(6)}
        session.close()
        assert served == set(NODE_IDS)
    finally:
        subprocess.run(
            [*compose, "down", "-v", "--remove-orphans"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )


# ---------------------------------------------------------------------------------------------
# make compose-smoke


def test_compose_smoke_without_an_engine_says_why(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
        "MCP_SCALE_SMOKE_OUT": str(tmp_path / "out"),
        "PYTHON": sys.executable,
    }
    result = subprocess.run(
        [str(ROOT / "scripts" / "compose_smoke.sh"), "run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert result.stderr.strip() == (
        "compose-smoke: no Docker engine answers (scripts/docker_engine.sh start, as root, "
        "starts one)"
    )


@pytest.mark.slow
def test_make_compose_smoke(docker_client: Any, tmp_path: Path) -> None:
    """The compose cluster built, started, attacked from the host, reported and removed."""
    if compose_command() is None:
        pytest.skip("no docker compose / docker-compose to start the cluster with")
    out = tmp_path / "smoke"
    env = {**os.environ, "MCP_SCALE_SMOKE_OUT": str(out), "PYTHON": sys.executable}
    result = subprocess.run(
        ["make", "--no-print-directory", "compose-smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "ok: run: sessions survive, Redis outage answered 503" in result.stderr
    timings = (out / "timings.txt").read_text()
    for step in ("image build", "run: cluster start", "run: teardown"):
        assert step in timings
    assert (out / "run" / "charts" / "survival.png").exists()
    left = docker_client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}=mcp-scale"})
    assert [c.name for c in left if "smoke" in str(c.name)] == []
