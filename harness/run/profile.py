"""A run's profile: YAML file and CLI flags merged, validated before anything starts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.chaos.faults import FAULTS, LINK_ACTIONS, NETWORK_ACTIONS, Fault
from harness.chaos.schedule import (
    ScheduleError,
    fault_kind_of,
    parse_timeline,
    periodic_schedule,
    redis_restart_schedule,
    rolling_restart_schedule,
)
from harness.client.config import LATEST_VERSION, VERSIONS
from harness.client.headers import HeaderError, parse_header, resolve
from harness.cluster.launch import LaunchError, LaunchSpec, override
from harness.durations import parse_duration
from harness.gates import ThresholdError, parse_thresholds
from harness.network.link import LINK_SIDES, LinkSide
from harness.network.links import links_needed
from harness.sizes import parse_count_rate, parse_fraction, parse_size
from harness.target_profile import load_target_profile
from reference_server.defects import parse_defects
from scenarios.registry import SCENARIOS, SHAPES

STORES = ("memory", "redis")
BACKENDS = ("local", "command", "external", "docker")
ROUTINGS = ("round_robin", "sticky", "random", "single")
MIB = 1024 * 1024
MAX_ARRIVAL_RATE = 100_000.0
# What `mcp-scale soak` assumes where neither the profile nor a flag says otherwise.
SOAK_DEFAULTS: dict[str, Any] = {"shape": "soak", "duration": 3600.0}


class ProfileError(ValueError):
    """A profile or flag that cannot run; says what was wrong, where, and what is allowed."""


@dataclass
class RunProfile:
    scenario: str = "notifications"
    backend: str = "local"
    nodes: int = 3
    store: str = "redis"
    users: int = 50
    spawn_rate: float = 20.0
    duration: float = 60.0
    # End once every planned fault is done and the load has made this many more requests
    # (Locust's count: operations and messages received); ``duration`` stays the bound. Lets
    # a test ask for enough work after the faults, not for enough time.
    until_requests: int | None = None
    shape: str | None = None
    # The arrivals scenario (an open model): tools/call requests a second, each due at its
    # own intended start; ``users`` is then the number of sessions that send them.
    arrival_rate: float | None = None
    processes: int = 1
    # Load from many machines: Locust's master binds HOST:PORT and waits for this many
    # workers (``mcp-scale worker --master HOST:PORT``), who ship their records to it.
    master_bind: str | None = None
    expect_workers: int | None = None
    # None: sticky in memory mode (a session lives on one node), else round-robin per request.
    routing: str | None = None
    chaos: str = ""
    chaos_every: float | None = None
    chaos_seed: int | None = None
    faults: list[str] = field(default_factory=lambda: ["kill-node"])
    chaos_heal_after: float = 5.0
    # Links the local and command backends put the fault proxy in, beside those the schedule's
    # network faults touch: for a cluster that several runs share (the pytest plugin).
    network_links: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    target: list[str] = field(default_factory=list)
    target_profile: str | None = None
    # The command backend: how each node starts (over the target profile's ``launch:``).
    node_command: str | None = None
    node_env: list[str] = field(default_factory=list)  # KEY=VALUE
    node_cwd: str | None = None
    node_ready: str | None = None  # tcp, or http:/PATH
    node_ready_timeout: str | None = None
    node_path: str | None = None  # the MCP endpoint's path (default /mcp)
    redis: bool | None = None  # start a redis-server for {redis_url}
    sessions: str | None = None  # local (sticky routing by default) or shared
    thresholds: list[str] = field(default_factory=list)
    out: str | None = None
    seed: int = 1
    request_timeout: float = 10.0
    sample_every: float = 1.0  # resource samples (RSS, CPU, fds, Redis memory) interval
    # Longevity. Restarts: one node killed and started again (down for chaos_heal_after)
    # every rolling_restart_every seconds, in turn n1, n2, ...; Redis likewise.
    rolling_restart_every: float | None = None
    redis_restart_every: float | None = None
    # Leak check: a series leaks when the 95 % lower bound of its slope (per hour) is above
    # its threshold; the time to memory_limit (bytes) is projected from the slope.
    memory_limit: float = 1024.0 * MIB
    leak_rss: float = 50.0 * MIB  # node RSS, bytes per hour
    leak_fds: float = 200.0  # node open fds per hour
    leak_redis: float = 50.0 * MIB  # Redis used memory, bytes per hour
    leak_warmup: float | None = None  # samples left out at the start (None: 25 %, at most 60 s)
    # Latency drift (soak runs): fail when an operation's p99 grows, first window to last,
    # by more than drift_p99 (a fraction) and by at least drift_min seconds.
    drift_p99: float = 0.5
    drift_min: float = 0.02
    # The load client: the protocol revision it speaks, static headers on every request and
    # stream ("Name: value", ${VAR} read from the environment at the start; credentials).
    protocol: str = LATEST_VERSION
    headers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Every setting, except header values: only their names are ever written down."""
        values = dataclasses.asdict(self)
        values["headers"] = self.header_names()
        return values

    def header_names(self) -> list[str]:
        return [parse_header(h, "header")[0] for h in self.headers]

    def node_ids(self) -> list[str]:
        return [f"n{i}" for i in range(1, self.nodes + 1)]

    def proxied_links(self) -> frozenset[LinkSide]:
        """The node links the run's network faults touch, where the local and command
        backends put the fault proxy (empty: the run starts no proxy)."""
        drawn = [fault_kind_of(item) for item in self.faults] if self.chaos_every else []
        given = frozenset(side for side in LINK_SIDES if side in self.network_links)
        return links_needed(self.fault_schedule(), drawn) | given

    def fault_schedule(self) -> list[Fault]:
        """The nemesis's schedule (the timeline and the periodic part together)."""
        faults = parse_timeline(self.chaos, self.node_ids(), self.duration) if self.chaos else []
        if self.chaos_every:
            faults += periodic_schedule(
                self.chaos_every,
                self.faults,
                self.node_ids(),
                self.duration,
                self.chaos_heal_after,
                self.chaos_seed,
            )
        if self.rolling_restart_every:
            faults += rolling_restart_schedule(
                self.rolling_restart_every, self.node_ids(), self.duration, self.chaos_heal_after
            )
        if self.redis_restart_every:
            # Half a rolling period later than the node restarts, so that the two never coincide.
            offset = self.rolling_restart_every / 2 if self.rolling_restart_every else 0.0
            faults += redis_restart_schedule(
                self.redis_restart_every,
                self.duration,
                self.chaos_heal_after,
                start=self.redis_restart_every + offset,
            )
        return sorted(faults, key=lambda f: f.at)


_FIELDS = {f.name: f for f in dataclasses.fields(RunProfile)}


def load_profile(
    path: str | None, overrides: dict[str, Any], defaults: dict[str, Any] | None = None
) -> RunProfile:
    """The profile in ``path`` (if any) with ``overrides`` (flags given) on top, validated;
    ``defaults`` (e.g. SOAK_DEFAULTS) replace RunProfile's own where neither says."""
    values: dict[str, Any] = {}
    where = "flags"
    if path:
        values = _read_yaml(path)
        where = path
    given = {k: v for k, v in overrides.items() if v is not None and v != []}
    merged = {**(defaults or {}), **values, **given}
    if "backend" not in merged and not merged.get("target") and _launches(merged):
        merged["backend"] = "command"  # a target profile that says how to start the server
    profile = RunProfile()
    for key, value in merged.items():
        setattr(profile, key, _coerce(key, value, where))
    if not path:
        validate(profile)
        return profile
    try:
        validate(profile)
    except ProfileError as exc:
        raise ProfileError(f"profile {path} (with the flags given): {exc}") from None
    return profile


def _launches(values: dict[str, Any]) -> bool:
    """Whether the settings say how to start a server (a launch section or --node-command)."""
    if values.get("node_command"):
        return True
    path = values.get("target_profile")
    return bool(path) and load_target_profile(str(path)).launch is not None


def launch_of(profile: RunProfile) -> LaunchSpec:
    """The command backend's launch: the target profile's ``launch:`` with the flags over it."""
    target = load_target_profile(profile.target_profile) if profile.target_profile else None
    flags = {
        "command": profile.node_command,
        "env": profile.node_env or None,
        "cwd": profile.node_cwd,
        "ready": profile.node_ready,
        "ready_timeout": profile.node_ready_timeout,
        "path": profile.node_path,
        "redis": profile.redis,
        "sessions": profile.sessions,
    }
    base = target.launch if target is not None else None
    if base is None:
        if not profile.node_command:
            lacks = f" ({profile.target_profile} has no launch: section)" if target else ""
            raise ProfileError(
                "the command backend needs --node-command 'CMD ARGS...' or a target profile "
                f"with a launch: section{lacks}"
            )
        base = LaunchSpec(command=())  # the flags give the command
        if profile.redis and profile.sessions is None:
            flags["sessions"] = "shared"
    try:
        return override(base, flags, "flags")
    except LaunchError as exc:
        raise ProfileError(str(exc)) from None


def _read_yaml(path: str) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise ProfileError(f"profile {path}: no such file")
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        raise ProfileError(f"profile {path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProfileError(
            f"profile {path}: must be a mapping of settings, got {type(data).__name__}"
        )
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in _FIELDS:
            allowed = ", ".join(sorted(k.replace("_", "-") for k in _FIELDS))
            raise ProfileError(
                f"profile {path}: unknown setting {key!r}; known settings: {allowed}"
            )
        values[name] = value
    return values


def _coerce(key: str, value: Any, where: str) -> Any:
    def fail(expected: str) -> ProfileError:
        return ProfileError(f"{where}: {key.replace('_', '-')} must be {expected}, got {value!r}")

    try:
        if key in ("duration", "chaos_heal_after", "request_timeout", "sample_every"):
            return parse_duration(value)
        if key in ("chaos_every", "rolling_restart_every", "redis_restart_every"):
            return None if value in (None, "", 0) else parse_duration(value)
        if key == "leak_warmup":
            return None if value in (None, "") else parse_duration(value)
        if key == "drift_min":
            return parse_duration(value)
        if key in ("memory_limit", "leak_rss", "leak_redis"):
            return parse_size(value)
        if key == "leak_fds":
            return parse_count_rate(value)
        if key == "drift_p99":
            return parse_fraction(value)
    except ValueError as exc:
        raise ProfileError(f"{where}: {key.replace('_', '-')}: {exc}") from None
    if key == "until_requests" and value in (None, "", 0):
        return None
    if key == "expect_workers" and value in (None, "", 0):
        return None
    if key in (
        "nodes",
        "users",
        "processes",
        "seed",
        "chaos_seed",
        "until_requests",
        "expect_workers",
    ):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise fail("a whole number")
        try:
            return int(value)
        except ValueError:
            raise fail("a whole number") from None
    if key == "arrival_rate" and value in (None, "", 0):
        return None
    if key in ("spawn_rate", "arrival_rate"):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise fail("a number") from None
    if key == "redis":
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if key == "headers":
        # Not comma-split: a header's value may hold commas.
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [str(part) for part in value]
        raise fail("a list of 'Name: value' strings")
    if key in ("faults", "defects", "target", "thresholds", "node_env", "network_links"):
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            return [str(part) for part in value]
        raise fail("a list (or a comma-separated string)")
    return value if value is None else str(value)


def master_address(profile: RunProfile) -> tuple[str, int] | None:
    """--master-bind as (host, port); None when the load runs on this machine only."""
    if profile.master_bind is None:
        return None
    host, _, port = profile.master_bind.rpartition(":")
    return host, int(port)


def _validate_distributed(profile: RunProfile) -> None:
    if profile.master_bind is None and profile.expect_workers is None:
        return
    if profile.master_bind is None or profile.expect_workers is None:
        raise ProfileError("--master-bind HOST:PORT and --expect-workers N go together")
    host, _, port = profile.master_bind.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ProfileError(
            f"master-bind must be HOST:PORT, e.g. 0.0.0.0:5557, got {profile.master_bind!r}"
        )
    if not 1 <= profile.expect_workers <= 1000:
        raise ProfileError("expect-workers must be between 1 and 1000")
    if profile.processes != 1:
        raise ProfileError("--processes and --master-bind: start more workers instead")


def validate(profile: RunProfile) -> None:
    def check(ok: bool, message: str) -> None:
        if not ok:
            raise ProfileError(message)

    check(
        profile.scenario in SCENARIOS,
        f"unknown scenario {profile.scenario!r}; scenarios: {', '.join(SCENARIOS)}",
    )
    check(
        profile.shape is None or profile.shape in SHAPES,
        f"unknown shape {profile.shape!r}; shapes: {', '.join(SHAPES)}",
    )
    check(
        profile.backend in BACKENDS,
        f"unknown backend {profile.backend!r}; backends: {', '.join(BACKENDS)}",
    )
    check(profile.store in STORES, f"store must be one of {', '.join(STORES)}")
    launch = launch_of(profile) if profile.backend == "command" else None
    if launch is not None:
        # What checkers know of the server: sessions in one process are lost with it (G7).
        profile.store = "memory" if launch.sessions == "local" else "redis"
    has_redis = launch.redis if launch is not None else profile.store == "redis"
    if profile.routing is None:
        profile.routing = "sticky" if profile.store == "memory" else "round_robin"
    check(profile.routing in ROUTINGS, f"routing must be one of {', '.join(ROUTINGS)}")
    check(1 <= profile.nodes <= 16, "nodes must be between 1 and 16")
    check(
        profile.protocol in VERSIONS,
        f"protocol {profile.protocol!r} is not one the load client speaks: {', '.join(VERSIONS)}",
    )
    refusal = SCENARIOS[profile.scenario].refusal(profile.protocol)
    check(refusal is None, str(refusal))
    try:
        resolve(parse_header(h, "header") for h in profile.headers)
    except HeaderError as exc:
        raise ProfileError(str(exc)) from None
    check(
        profile.until_requests is None or profile.until_requests > 0,
        "until-requests must be a positive number of requests",
    )
    check(1 <= profile.users <= 100_000, "users must be between 1 and 100000")
    check(profile.spawn_rate > 0, "spawn-rate must be positive")
    check(
        (profile.scenario == "arrivals") == (profile.arrival_rate is not None),
        "the arrivals scenario and --arrival-rate go together (calls a second, e.g. 50)",
    )
    check(
        profile.arrival_rate is None or 0 < profile.arrival_rate <= MAX_ARRIVAL_RATE,
        f"arrival-rate must be above 0 and at most {MAX_ARRIVAL_RATE} calls a second",
    )
    check(
        profile.arrival_rate is None or (profile.processes == 1 and profile.master_bind is None),
        "--arrival-rate runs in one Locust process (no --processes, no --master-bind)",
    )
    check(0 < profile.duration <= 7 * 24 * 3600, "duration must be positive and at most 7 days")
    check(1 <= profile.processes <= 64, "processes must be between 1 and 64")
    _validate_distributed(profile)
    check(0.1 <= profile.sample_every <= 3600, "sample-every must be between 100ms and 1h")
    check(profile.memory_limit > 0, "memory-limit must be positive, e.g. 1GiB")
    check(
        profile.leak_warmup is None or profile.leak_warmup < profile.duration,
        "leak-warmup must be shorter than the run's duration",
    )
    if profile.redis_restart_every:
        check(has_redis, "redis-restart-every needs Redis; this run uses --store memory")
    for side in profile.network_links:
        check(
            side in LINK_SIDES,
            f"network-links: unknown link {side!r}; links: {', '.join(LINK_SIDES)}",
        )
    if profile.network_links:
        check(
            profile.backend in ("local", "command"),
            "network-links: the fault proxy stands in links of the local and command backends",
        )
    for item in profile.faults:
        fault = fault_kind_of(item)
        check(fault in FAULTS, f"unknown fault {fault!r} in faults; faults: {', '.join(FAULTS)}")
    try:
        parse_defects(profile.defects)
    except ValueError as exc:
        raise ProfileError(str(exc)) from None
    if profile.backend == "external" or profile.target:
        profile.backend = "external"
        check(bool(profile.target), "the external backend needs --target URL[,URL...]")
        for url in profile.target:
            check(url.startswith(("http://", "https://")), f"target {url!r} is not an http(s) URL")
        check(not profile.defects, "--defect applies to nodes mcp-scale starts, not to --target")
        check(
            not (
                profile.chaos
                or profile.chaos_every
                or profile.rolling_restart_every
                or profile.redis_restart_every
            ),
            "process faults (--chaos) need a backend that started the processes; an external "
            "target's processes are not ours to kill: drop --chaos or use the local backend",
        )
        profile.nodes = len(profile.target)
    elif profile.backend == "docker":
        check(
            not profile.defects,
            "--defect: docker nodes are started by compose; add it to a "
            "node's command in a docker-compose.override.yml",
        )
    elif profile.backend == "command":
        check(
            not profile.defects,
            "--defect is a flag of the reference server the local backend starts; with the "
            "command backend put it in --node-command",
        )
    if not has_redis and profile.backend in ("local", "command"):
        for item in profile.faults if profile.chaos_every else []:
            fault = fault_kind_of(item)
            needs_redis = not FAULTS[fault].on_node or FAULTS[fault].link == "redis"
            check(not needs_redis, f"fault {fault} needs Redis; this run uses --store memory")
    try:
        parse_thresholds(profile.thresholds)
    except ThresholdError as exc:
        raise ProfileError(f"thresholds: {exc}") from None
    try:
        schedule = profile.fault_schedule()
    except ScheduleError as exc:
        raise ProfileError(f"chaos: {exc}") from None
    if profile.backend == "docker":
        # Docker cuts links with firewall rules; impairing them needs the fault proxy.
        impaired = [f.describe() for f in schedule if FAULTS[f.name].action in LINK_ACTIONS]
        check(
            not impaired,
            f"chaos: {', '.join(impaired)}: the docker backend cuts links (partition-redis, "
            "isolate-node) but has no fault proxy for latency, bandwidth, blackholes or resets: "
            "use --backend local or command",
        )
    else:
        network = [
            f.describe()
            for f in schedule
            if FAULTS[f.name].action in NETWORK_ACTIONS | LINK_ACTIONS
        ]
        check(
            not network or profile.backend in ("local", "command"),
            f"chaos: {', '.join(network)}: network faults need --backend local, command or docker",
        )
    if not has_redis:
        redis_faults = [
            f.describe()
            for f in schedule
            if not FAULTS[f.name].on_node or FAULTS[f.name].link == "redis"
        ]
        without = "launch.redis is false (--no-redis)" if launch else "this run uses --store memory"
        check(not redis_faults, f"chaos: {', '.join(redis_faults)} need Redis; {without}")


def run_headers(profile: RunProfile) -> dict[str, str]:
    """The static headers of a run, expanded: the target profile's, the run's over them."""
    target = load_target_profile(profile.target_profile, profile.backend)
    given = [*target.headers.items(), *(parse_header(h, "header") for h in profile.headers)]
    try:
        return resolve(given)
    except HeaderError as exc:
        raise ProfileError(str(exc)) from None
