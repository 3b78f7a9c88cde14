"""Network faults as data: their parameters, schedules, records, episodes and the backends
that accept them (no process is started here)."""

from __future__ import annotations

import pytest

from harness.chaos.episodes import episodes_of
from harness.chaos.faults import FAULTS, LINK_ACTIONS, Fault
from harness.chaos.schedule import ScheduleError, parse_timeline, periodic_schedule
from harness.network.link import LinkParamError, parse_bandwidth, parse_delay
from harness.network.links import links_needed
from harness.run.profile import ProfileError, load_profile

NODES = ["n1", "n2", "n3"]


def test_delays_and_rates_are_parsed() -> None:
    delay = parse_delay("200ms~50ms")
    assert (delay.effect, delay.delay, delay.jitter) == ("delay", 0.2, 0.05)
    assert parse_delay("1s").jitter == 0.0
    assert parse_bandwidth("64kbps").rate == 8000.0
    assert parse_bandwidth("2Mbps").rate == 250_000.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fast", "is not a duration"),
        ("0ms", "must be above 0"),
        ("2m", "at most 60s"),
        ("100ms~200ms", "jitter must not exceed"),
    ],
)
def test_a_bad_delay_says_what_to_write(text: str, message: str) -> None:
    with pytest.raises(LinkParamError, match=message):
        parse_delay(text)


@pytest.mark.parametrize(("text", "message"), [("64", "not a rate"), ("10bps", "below 800bps")])
def test_a_bad_rate_says_what_to_write(text: str, message: str) -> None:
    with pytest.raises(LinkParamError, match=message):
        parse_bandwidth(text)


def test_a_timeline_carries_parameters_and_heals_each_link() -> None:
    faults = parse_timeline(
        "delay-node:n2=200ms~50ms@5s+3s; blackhole-redis:n1@6s+2s; bandwidth-node:n3@7s+1s",
        NODES,
        20.0,
    )
    assert [fault.describe() for fault in faults] == [
        "delay-node:n2=200ms~50ms@5s",
        "blackhole-redis:n1@6s",
        "bandwidth-node:n3=64kbps@7s",  # the default rate, written into the schedule
        "heal-node-link:n2@8s",
        "heal-redis-link:n1@8s",
        "heal-node-link:n3@8s",
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("delay-node:n2=fast@5s", r"delay-node: delay 'fast'.* write e.g. 200ms~50ms"),
        ("reset-node:n2=1s@5s", r"a reset fault takes no parameter \(got =1s\)"),
        ("kill-node:n2=1s@5s", r"kill-node takes no parameter"),
        ("delay-redis@5s", "delay-redis needs a node"),
        ("bandwidth-node:n9=64kbps@5s", "no node 'n9'"),
    ],
)
def test_a_bad_network_fault_is_refused_with_its_entry(entry: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_timeline(entry, NODES, 20.0)


def test_chaos_every_draws_network_faults_with_their_parameters() -> None:
    faults = periodic_schedule(5.0, ["delay-node=100ms", "reset-redis"], NODES, 40.0, 2.0, seed=3)
    names = {fault.name for fault in faults}
    assert names <= {"delay-node", "reset-redis", "heal-node-link", "heal-redis-link"}
    assert all(f.param == "100ms" for f in faults if f.name == "delay-node")
    with pytest.raises(ScheduleError, match="jitter must not exceed"):
        periodic_schedule(5.0, ["delay-node=1ms~2ms"], NODES, 40.0, 2.0)


def test_only_runs_with_a_network_fault_proxy_a_link() -> None:
    assert links_needed([Fault("kill-node", "n1", 1.0), Fault("kill-redis", None, 2.0)]) == set()
    assert links_needed([Fault("delay-node", "n1", 1.0)]) == {"clients"}
    assert links_needed([Fault("partition-redis", "n1", 1.0)], ["isolate-node"]) == {
        "clients",
        "redis",
    }
    assert load_profile(None, {"chaos": "kill-node:n1@5s+2s"}).proxied_links() == set()
    profile = load_profile(None, {"chaos_every": "5s", "faults": ["kill-node", "reset-redis"]})
    assert profile.proxied_links() == {"redis"}


def test_local_and_command_accept_network_faults_docker_only_cuts() -> None:
    chaos = "delay-node:n1@5s+2s; partition-redis:n2@6s+2s"
    assert load_profile(None, {"chaos": chaos}).backend == "local"
    assert load_profile(None, {"chaos": "isolate-node:n1@5s+2s", "backend": "docker"})
    with pytest.raises(ProfileError, match=r"docker backend cuts links .* use --backend local"):
        load_profile(None, {"chaos": chaos, "backend": "docker"})
    with pytest.raises(ProfileError, match="need Redis"):
        load_profile(None, {"chaos": "blackhole-redis:n1@5s+2s", "store": "memory"})
    assert load_profile(None, {"chaos": "blackhole-node:n1@5s+2s", "store": "memory"})


def test_the_nemesis_records_the_link_and_parameter() -> None:
    from harness.chaos.controller import ChaosController

    records: list[dict[str, object]] = []

    class Target:
        def node_ids(self) -> list[str]:
            return NODES

        def apply_fault(self, name: str, target: str | None, param: str | None = None) -> str:
            return f"{name} {target} {param}"

    controller = ChaosController([], Target(), records.append)
    controller.apply(Fault("delay-redis", "n1", 1.0, "50ms~10ms"))
    controller.apply(Fault("kill-node", "n2", 2.0))
    assert records[1]["link"] == "n1->redis" and records[1]["param"] == "50ms~10ms"
    assert records[1]["detail"] == "delay-redis n1 50ms~10ms"
    assert "link" not in records[3] and "param" not in records[3]


def _op(name: str, target: str, time: float) -> list[dict[str, object]]:
    return [
        {"process": "nemesis", "f": name, "value": target, "time": time, "type": kind}
        for kind in ("invoke", "ok")
    ]


def test_a_restart_ends_process_faults_not_a_link_fault() -> None:
    records = [
        *_op("delay-node", "n1", 10.0),
        *_op("kill-node", "n1", 11.0),
        *_op("restart-node", "n1", 12.0),
        *_op("heal-node-link", "n1", 15.0),
    ]
    faults = {op.name: op for op in episodes_of(records) if not op.is_heal}
    assert faults["kill-node"].end == 12.0
    assert faults["delay-node"].end == 15.0 and faults["delay-node"].link == "clients->n1"


def test_every_link_fault_has_a_heal_of_its_own_link() -> None:
    for kind in FAULTS.values():
        if kind.action in LINK_ACTIONS and kind.heal:
            assert FAULTS[kind.heal].link == kind.link, kind.name


def test_network_faults_are_bands_with_a_colour_of_their_own_on_the_charts() -> None:
    from harness.report.charts.kit import fault_color

    records = [*_op("blackhole-node", "n1", 10.0), *_op("heal-node-link", "n1", 15.0)]
    (fault,) = [op for op in episodes_of(records) if not op.is_heal]
    assert fault.lasting and (fault.start, fault.end) == (10.0, 15.0)
    colours = {fault_color(name) for name in FAULTS if FAULTS[name].action == "impair-link"}
    assert len(colours) == 4  # delay, bandwidth, blackhole, reset: one each, node or Redis
    assert fault_color("kill-redis") != fault_color("blackhole-redis")


def test_a_shared_cluster_proxies_the_links_its_runs_fault() -> None:
    from pathlib import Path

    from harness.testing import McpCluster, cluster_profile, run_profile

    chaos = {"chaos": "delay-node:n1@5s+2s"}
    plain = McpCluster(cluster_profile({"nodes": 3}), None, Path("unused"))  # type: ignore[arg-type]
    with pytest.raises(ProfileError, match=r"give the cluster network_links=\['clients'\]"):
        run_profile(plain, chaos)
    settings = cluster_profile({"nodes": 3, "network_links": ["clients", "redis"]})
    proxied = McpCluster(settings, None, Path("unused"))  # type: ignore[arg-type]
    assert run_profile(proxied, chaos).proxied_links() == {"clients", "redis"}
    assert run_profile(proxied, {}).proxied_links() == {"clients", "redis"}
    with pytest.raises(ProfileError, match="unknown link 'client'"):
        cluster_profile({"network_links": ["client"]})
