"""The docker backend: Redis and reference-server nodes that ``docker compose`` started, found
through the Docker API by their labels and faulted through it.

Nothing here starts or removes a container: compose owns the cluster's life. What the backend
may touch is decided by labels only, never by container name: a container is ours when it
carries both ``com.docker.compose.project=<project>`` and ``com.mcp-scale.project=mcp-scale``
(docker-compose.yml puts the second on every service). Its role (``node`` or ``redis``) and a
node's id come from the ``com.mcp-scale.role`` and ``com.mcp-scale.node-id`` labels, and every
fault acts on the container object (by id) picked from that label-filtered list.

Network faults (``partition-redis``, ``isolate-node``) are firewall rules inside the node
container's own network namespace, added and removed by a short-lived helper container of the
node's own image that joins that namespace (``network_mode=container:<id>``, NET_ADMIN, as
root): nothing on the host's network or any other container changes. A restarted container
gets a fresh namespace, so a restart heals them too.

The monitor samples each node and Redis container from the engine's stats (memory less page
cache, CPU seconds, pids), and a node's /metrics gauges through its published port.

The ``docker`` package (the Docker SDK for Python) is imported only when a client is needed, so
this module imports without it.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from harness.chaos.faults import FaultSubject, Scope, apply_fault
from harness.cluster.base import ClusterStartError
from harness.monitor import SampleTarget

PROJECT_LABEL = "com.mcp-scale.project"
PROJECT_VALUE = "mcp-scale"
ROLE_LABEL = "com.mcp-scale.role"
NODE_ID_LABEL = "com.mcp-scale.node-id"
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"
# The port a node listens on inside its container (docker-compose.yml: --port 8000).
NODE_PORT = 8000
REDIS_PORT = 6379
# Firewall rules of the network faults, in the node container's namespace (iptables syntax);
# the comment marks them as ours.
NETWORK_RULES = {
    "redis": ["OUTPUT", "-p", "tcp", "--dport", str(REDIS_PORT)],
    "clients": ["INPUT", "-p", "tcp", "--dport", str(NODE_PORT)],
}
RULE_COMMENT = "mcp-scale-fault"


class DockerUnavailable(ClusterStartError):
    """The docker package is missing or no Docker engine answers."""


class ClusterNotFound(ClusterStartError):
    """The compose project has no containers this backend may use, or they are inconsistent."""


class ContainerUnhealthy(RuntimeError):
    """A container did not become healthy in time after a restart."""


class ContainerLike(Protocol):
    """What this module uses of ``docker.models.containers.Container``."""

    @property
    def id(self) -> str: ...

    @property
    def labels(self) -> dict[str, str]: ...

    @property
    def status(self) -> str: ...

    @property
    def attrs(self) -> dict[str, Any]: ...

    def reload(self) -> object: ...

    def kill(self) -> object: ...

    def stop(self, timeout: int = ...) -> object: ...

    def pause(self) -> object: ...

    def unpause(self) -> object: ...

    def restart(self, timeout: int = ...) -> object: ...

    def start(self) -> object: ...

    def stats(self, **kwargs: Any) -> Any: ...


class ContainerCollectionLike(Protocol):
    """What this module uses of ``docker.models.containers.ContainerCollection``."""

    def list(
        self, all: bool = ..., filters: dict[str, Any] | None = ...
    ) -> Sequence[ContainerLike]: ...

    def get(self, container_id: str) -> ContainerLike: ...

    def run(self, image: str, command: Sequence[str], **kwargs: Any) -> Any: ...


class DockerClientLike(Protocol):
    """What this module uses of ``docker.DockerClient``."""

    @property
    def containers(self) -> ContainerCollectionLike: ...

    def ping(self) -> object: ...

    def close(self) -> object: ...


def connect() -> DockerClientLike:
    """A client for the engine that DOCKER_HOST (or /var/run/docker.sock) names, pinged."""
    try:
        sdk: Any = importlib.import_module("docker")
    except ImportError:
        sdk = None
    # Look for the SDK's entry point, not just the name: a stray folder named docker on the
    # path would import as an empty namespace package.
    from_env = getattr(sdk, "from_env", None)
    if from_env is None:
        raise DockerUnavailable(
            "the docker backend needs the Docker SDK for Python: pip install 'docker>=7'"
        )
    try:
        client = from_env()
        client.ping()
    except Exception as exc:  # docker.errors.DockerException, requests' connection errors
        raise DockerUnavailable(f"no Docker engine answers: {exc}") from exc
    return cast(DockerClientLike, client)


def default_project(directory: Path | None = None) -> str:
    """The compose project name ``docker compose`` uses by default: $COMPOSE_PROJECT_NAME, else
    the name of the directory (of docker-compose.yml), lower-cased, other characters dropped."""
    name = os.environ.get("COMPOSE_PROJECT_NAME") or (directory or Path.cwd()).resolve().name
    return re.sub(r"[^a-z0-9_-]", "", name.lower()).lstrip("_-")


def short_id(container: ContainerLike) -> str:
    return container.id[:12]


def label_filters(project: str) -> dict[str, Any]:
    """The Docker API filter for one compose project's mcp-scale containers (labels ANDed)."""
    return {"label": [f"{COMPOSE_PROJECT_LABEL}={project}", f"{PROJECT_LABEL}={PROJECT_VALUE}"]}


def _node_key(node_id: str) -> tuple[str, int, str]:
    """Sort n2 before n10."""
    match = re.fullmatch(r"(\D*)(\d+)", node_id)
    return (match.group(1), int(match.group(2)), "") if match else (node_id, 0, node_id)


@dataclass
class DockerCluster:
    """The containers of one compose project, as a FaultTarget (see harness.chaos.faults).

    ``address`` says how URLs are built: ``host`` from the ports a node publishes on the host
    (a harness running on the host), ``network`` from compose service names (a harness running
    in a container of the same compose network).
    """

    project: str
    client: DockerClientLike | None = None
    address: str = "host"
    health_timeout: float = 30.0
    stop_timeout: int = 10
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _urls: dict[str, str] = field(default_factory=dict, repr=False)
    _own_client: bool = field(default=False, repr=False)
    _feeds: list[_StatsFeed] = field(default_factory=list, repr=False)
    _feeds_stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        if self.address not in ("host", "network"):
            raise ValueError(f"address must be 'host' or 'network', got {self.address!r}")

    # Lifecycle: compose starts and removes the containers; we only check they are there.

    def start(self) -> DockerCluster:
        if self.client is None:
            self.client = connect()
            self._own_client = True
        nodes = self._nodes()
        if not nodes:
            raise ClusterNotFound(
                f"no reference-server containers in compose project {self.project!r} (labels "
                f"{COMPOSE_PROJECT_LABEL}={self.project}, {PROJECT_LABEL}={PROJECT_VALUE}, "
                f"{ROLE_LABEL}=node): start them first, e.g. "
                f"`docker compose -p {self.project} up -d lb`"
            )
        self._urls = {node_id: self._url(container) for node_id, container in nodes.items()}
        return self

    def close(self) -> None:
        """Leaves every container as it is (compose owns them); releases our API client."""
        self._feeds_stop.set()
        for feed in self._feeds:
            feed.join(timeout=2.0)
        if self._own_client and self.client is not None:
            self.client.close()
            self.client = None
            self._own_client = False

    def __enter__(self) -> DockerCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def node_ids(self) -> list[str]:
        return sorted(self._urls, key=_node_key)

    @property
    def urls(self) -> list[str]:
        return [self._urls[node_id] for node_id in self.node_ids()]

    def lb_url(self) -> str:
        """The load balancer's /mcp URL, in the same addressing as ``urls``."""
        balancers = self._owned(role="lb")
        if len(balancers) != 1:
            raise ClusterNotFound(
                f"compose project {self.project!r} has {len(balancers)} load-balancer "
                f"containers ({ROLE_LABEL}=lb); expected one"
            )
        return self._url(balancers[0])

    def processes(self) -> dict[str, tuple[int, str]]:
        """Nothing for the PID registry: containers are not ours by PID, and compose (not a
        crashed harness) is what cleans them up."""
        return {}

    # Faults.

    def apply_fault(self, name: str, target: str | None, param: str | None = None) -> str:
        """Apply a nemesis fault to a container of this project; see harness.chaos.faults."""
        return apply_fault(self.subject, name, target, param)

    def subject(self, scope: Scope, target: str | None) -> FaultSubject:
        if scope == "redis":
            return _ContainerSubject(self, self._redis(), "redis")
        return _ContainerSubject(self, self._node(target), str(target))

    def sample_targets(self) -> list[SampleTarget]:
        """Each node and the Redis container, from the engine's stats (by container id; a
        restarted container keeps its id), plus a node's /metrics gauges."""
        targets = [
            SampleTarget(
                node_id,
                "node",
                lambda: None,
                metrics_url=self._url(container).removesuffix("/mcp") + "/metrics",
                stats=self._stats_of(container.id),
            )
            for node_id, container in self._nodes().items()
        ]
        targets += [
            SampleTarget("redis", "redis", lambda: None, stats=self._stats_of(container.id))
            for container in self._owned(role="redis")
        ]
        return targets

    def _stats_of(self, container_id: str) -> Callable[[], dict[str, Any] | None]:
        feed = _StatsFeed(self._client, container_id, self._feeds_stop)
        self._feeds.append(feed)
        return feed

    def run_firewall(self, container: ContainerLike, script: str) -> str:
        """Run ``script`` (sh) as root with NET_ADMIN in ``container``'s network namespace, in
        a throwaway container of the same image; returns its output."""
        image = str(container.attrs.get("Image") or container.attrs["Config"]["Image"])
        labels = {
            COMPOSE_PROJECT_LABEL: self.project,
            PROJECT_LABEL: PROJECT_VALUE,
            ROLE_LABEL: "network-fault",
        }
        output = self._client().containers.run(
            image,
            ["sh", "-c", script],
            network_mode=f"container:{container.id}",
            cap_add=["NET_ADMIN"],
            user="root",
            entrypoint=[],
            healthcheck={"test": ["NONE"]},
            labels=labels,
            remove=True,
        )
        return output.decode(errors="replace").strip() if isinstance(output, bytes) else ""

    def wait_healthy(self, container: ContainerLike) -> float:
        """Until Docker reports the container running and (if it has a health check) healthy."""
        began = self.clock()
        deadline = began + self.health_timeout
        seen = "unknown"
        while self.clock() < deadline:
            container.reload()
            state: dict[str, Any] = container.attrs.get("State") or {}
            health = (state.get("Health") or {}).get("Status")
            seen = f"{state.get('Status')}, health {health}"
            if state.get("Running") and health in (None, "healthy"):
                return self.clock() - began
            if state.get("Status") in ("exited", "dead"):
                raise ContainerUnhealthy(
                    f"container {short_id(container)} exited with {state.get('ExitCode')} "
                    "after its restart"
                )
            self.sleep(0.2)
        raise ContainerUnhealthy(
            f"container {short_id(container)} not healthy {self.health_timeout:g}s after its "
            f"restart ({seen})"
        )

    # Selection: only from the label-filtered list, re-read for each fault.

    def _client(self) -> DockerClientLike:
        if self.client is None:
            raise ClusterNotFound("the docker backend is not started (call start() first)")
        return self.client

    def owns(self, container: ContainerLike) -> bool:
        labels = container.labels or {}
        return (
            labels.get(COMPOSE_PROJECT_LABEL) == self.project
            and labels.get(PROJECT_LABEL) == PROJECT_VALUE
        )

    def _owned(self, role: str | None = None) -> list[ContainerLike]:
        """This project's containers (stopped ones too), each checked again for both labels:
        a container without them is never ours, whatever the engine's filter returned."""
        listed = self._client().containers.list(all=True, filters=label_filters(self.project))
        owned = [container for container in listed if self.owns(container)]
        if role is None:
            return owned
        return [c for c in owned if (c.labels or {}).get(ROLE_LABEL) == role]

    def _nodes(self) -> dict[str, ContainerLike]:
        nodes: dict[str, ContainerLike] = {}
        for container in self._owned(role="node"):
            node_id = (container.labels or {}).get(NODE_ID_LABEL)
            if not node_id:
                raise ClusterNotFound(
                    f"node container {short_id(container)} has no {NODE_ID_LABEL} label"
                )
            if node_id in nodes:
                raise ClusterNotFound(
                    f"containers {short_id(nodes[node_id])} and {short_id(container)} both "
                    f"claim node {node_id!r} in compose project {self.project!r} (scaled?)"
                )
            nodes[node_id] = container
        return nodes

    def _node(self, node_id: str | None) -> ContainerLike:
        nodes = self._nodes()
        if node_id not in nodes:
            known = ", ".join(sorted(nodes, key=_node_key)) or "none"
            raise ValueError(
                f"no node {node_id!r} in compose project {self.project!r} (nodes: {known})"
            )
        return nodes[node_id]

    def _redis(self) -> ContainerLike:
        found = self._owned(role="redis")
        if len(found) != 1:
            raise ValueError(
                f"compose project {self.project!r} has {len(found)} Redis containers "
                f"({ROLE_LABEL}=redis); a Redis fault needs exactly one"
            )
        return found[0]

    def _url(self, container: ContainerLike) -> str:
        if self.address == "network":
            service = (container.labels or {}).get(COMPOSE_SERVICE_LABEL)
            if not service:
                raise ClusterNotFound(
                    f"container {short_id(container)} has no {COMPOSE_SERVICE_LABEL} label"
                )
            return f"http://{service}:{NODE_PORT}/mcp"
        bindings = (container.attrs.get("HostConfig") or {}).get("PortBindings") or {}
        published = bindings.get(f"{NODE_PORT}/tcp") or []
        if not published or not published[0].get("HostPort"):
            raise ClusterNotFound(
                f"container {short_id(container)} publishes no host port for {NODE_PORT}/tcp: "
                "publish one (docker-compose.yml does) or use address='network' from inside "
                "the compose network"
            )
        host = published[0].get("HostIp") or "127.0.0.1"
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{published[0]['HostPort']}/mcp"


def container_resources(
    raw: dict[str, Any], container_id: str = "", pid: int | None = None
) -> dict[str, Any] | None:
    """The engine's one-shot stats as sample values: ``rss`` (memory usage less the page
    cache, as ``docker stats`` shows it), ``cpu`` (seconds), ``threads`` (the cgroup's pids,
    which counts threads), and ``pid``, the host PID of the container's first process (a
    restart changes it: the charts start a new line, as for a restarted local node). None
    when the engine has nothing (a stopped container)."""
    memory = raw.get("memory_stats") or {}
    cpu = (raw.get("cpu_stats") or {}).get("cpu_usage") or {}
    if "usage" not in memory or "total_usage" not in cpu:
        return None
    detail = memory.get("stats") or {}
    cache = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    value: dict[str, Any] = {
        "pid": pid,
        "container": container_id[:12],
        "rss": max(0, int(memory["usage"]) - int(cache)),
        "cpu": int(cpu["total_usage"]) / 1e9,
    }
    pids = (raw.get("pids_stats") or {}).get("current")
    if pids is not None:
        value["threads"] = int(pids)
    return value


class _StatsFeed:
    """One container's stats as the engine streams them (about one a second), read by a daemon
    thread; calling the feed returns the latest, or None if there is none from the last few
    seconds. (A one-shot stats call takes the engine up to a second per container, which a
    sweep over every container every second cannot afford.) The thread ends when the
    container stops, and starts again at the next call after it runs again."""

    FRESH = 3.0

    def __init__(
        self, client: Callable[[], DockerClientLike], container_id: str, stop: threading.Event
    ) -> None:
        self._client = client
        self._id = container_id
        self._stop = stop
        self._latest: tuple[float, dict[str, Any]] | None = None
        self._thread: threading.Thread | None = None

    def __call__(self) -> dict[str, Any] | None:
        if not self._stop.is_set() and (self._thread is None or not self._thread.is_alive()):
            self._thread = threading.Thread(
                target=self._run, name=f"stats-{self._id[:12]}", daemon=True
            )
            self._thread.start()
        latest = self._latest
        if latest is None or time.monotonic() - latest[0] > self.FRESH:
            return None
        return latest[1]

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            container = self._client().containers.get(self._id)
            if container.status not in ("running", "paused"):
                return
            pid = (container.attrs.get("State") or {}).get("Pid")
            for raw in container.stats(stream=True, decode=True):  # bounded: ends with it
                if self._stop.is_set():
                    return
                value = container_resources(raw, self._id, pid)
                if value is not None:
                    self._latest = (time.monotonic(), value)
        except Exception:  # the engine's errors, a container gone: no samples until next call
            return


def _rule(link: str, verb: str) -> str:
    chain, *match = NETWORK_RULES[link]
    words = ["iptables", "-w", verb, chain, *match, "-m", "comment", "--comment", RULE_COMMENT]
    return " ".join([*words, "-j", "DROP"])


def cut_script(link: str) -> str:
    """Add the DROP rule for ``link`` unless it is there (sh, prints what it did)."""
    check, add = _rule(link, "-C"), _rule(link, "-A")
    return f"{check} 2>/dev/null && echo already || {{ {add} && echo cut; }}"


def heal_script(link: str) -> str:
    """Remove every copy of the DROP rule for ``link`` (sh, prints how many)."""
    return f"n=0; while {_rule(link, '-D')} 2>/dev/null; do n=$((n+1)); done; echo $n"


@dataclass(frozen=True)
class _ContainerSubject:
    """A container of the project as faults see it: Docker's own kill, stop, pause, unpause
    and restart, on the container object picked by label (by id, never by name)."""

    cluster: DockerCluster
    container: ContainerLike
    who: str

    @property
    def what(self) -> str:
        return f"{self.who} container {short_id(self.container)}"

    def _signal(self, act: Callable[[], object]) -> str:
        status = self.container.status
        if status not in ("running", "paused"):
            return f"{self.what} (not running: {status})"
        if status == "paused":
            self.container.unpause()  # as NodeProcess sends SIGCONT before a signal
        act()
        return self.what

    def kill(self) -> str:
        return self._signal(self.container.kill)

    def stop(self) -> str:
        return self._signal(lambda: self.container.stop(timeout=self.cluster.stop_timeout))

    def pause(self) -> str:
        status = self.container.status
        if status != "running":
            return f"{self.what} (not running: {status})"
        self.container.pause()
        return self.what

    def resume(self) -> str:
        status = self.container.status
        if status != "paused":
            return f"{self.what} (not paused: {status})"
        self.container.unpause()
        return self.what

    def restart(self) -> str:
        """Like NodeProcess.restart: SIGKILL if it runs, start again, wait until healthy."""
        status = self.container.status
        if status == "paused":
            self.container.unpause()
        if status in ("running", "paused", "restarting"):
            self.container.restart(timeout=0)
            how = "restarted"
        else:
            self.container.start()
            how = f"started from {status}"
        took = self.cluster.wait_healthy(self.container)
        return f"{self.what} {how}, healthy after {took:.1f}s"

    # Network faults: DROP rules in the container's own namespace.

    def _cut(self, link: str, what: str) -> str:
        status = self.container.status
        if status != "running":
            raise ValueError(f"{self.what} is {status}: cannot cut its {what} link")
        done = self.cluster.run_firewall(self.container, cut_script(link))
        return f"{self.what}: {what} link {'already cut' if done == 'already' else 'cut'}"

    def _heal(self, link: str, what: str) -> str:
        status = self.container.status
        if status != "running":
            return f"{self.what} (not running: {status}; a restart heals it anyway)"
        removed = self.cluster.run_firewall(self.container, heal_script(link))
        return f"{self.what}: {what} link healed ({removed} rule(s) removed)"

    def partition_redis(self) -> str:
        return self._cut("redis", "Redis")

    def heal_partition_redis(self) -> str:
        return self._heal("redis", "Redis")

    def isolate(self) -> str:
        return self._cut("clients", "client")

    def rejoin(self) -> str:
        return self._heal("clients", "client")
