"""Fault schedules as pure functions: a timeline, periodic, seeded random, or rolling restarts
(no I/O here)."""

from __future__ import annotations

import random

from harness.chaos.faults import FAULTS, Fault
from harness.durations import parse_duration


class ScheduleError(ValueError):
    """A schedule that cannot be carried out; the message says what and what is allowed."""


def parse_timeline(text: str, nodes: list[str], duration: float) -> list[Fault]:
    """``"kill-node:n1@20s; kill-redis@40s+3s; delay-node:n2=200ms~50ms@5s+10s"``.

    ``+D`` after the time heals the fault D later (kill-node -> restart-node, pause-node ->
    resume-node, kill-redis -> restart-redis, delay-node -> heal-node-link). ``=P`` after the
    target is the fault's parameter (a delay, a rate).
    """
    faults: list[Fault] = []
    for raw in text.replace("\n", ";").split(";"):
        entry = raw.strip()
        if not entry:
            continue
        what, at_sign, when = entry.partition("@")
        if not at_sign:
            raise ScheduleError(f"chaos entry {entry!r} has no time: write e.g. kill-node:n1@20s")
        head, _, param = what.strip().partition("=")
        name, _, target = head.partition(":")
        at_text, plus, heal_text = when.partition("+")
        at = _duration(at_text, entry)
        fault = _fault(name.strip(), target.strip() or None, at, nodes, entry, param.strip())
        faults.append(fault)
        if plus:
            faults.append(_healing(fault, at + _duration(heal_text, entry), entry))
    _check_within(faults, duration)
    return sorted(faults, key=lambda f: f.at)


def periodic_schedule(
    every: float,
    kinds: list[str],
    nodes: list[str],
    duration: float,
    heal_after: float,
    seed: int | None = None,
    start: float | None = None,
) -> list[Fault]:
    """A fault every ``every`` seconds, kind and node drawn from a seeded generator, each
    healed ``heal_after`` later; reproducible for a given seed."""
    if every <= 0:
        raise ScheduleError("--chaos-every must be positive")
    rng = random.Random(seed)
    drawn = [_drawn(kind, f"--faults {','.join(kinds)}") for kind in kinds]
    faults: list[Fault] = []
    at = every if start is None else start
    while at + heal_after < duration:
        kind, param = rng.choice(drawn)
        target = rng.choice(nodes) if FAULTS[kind].on_node else None
        fault = Fault(kind, target, at, param)
        faults.append(fault)
        if FAULTS[kind].heal:
            faults.append(_healing(fault, at + heal_after, kind))
        at += every
    return sorted(faults, key=lambda f: f.at)


def rolling_restart_schedule(
    every: float,
    nodes: list[str],
    duration: float,
    down: float,
    start: float | None = None,
) -> list[Fault]:
    """Rolling restarts: every ``every`` seconds one node is killed (SIGKILL) and started
    again ``down`` seconds later, cycling through ``nodes`` in order (n1, n2, n3, n1, ...).
    The first at ``start`` (default ``every``); none whose restart would fall after the run."""
    return _restarts(every, list(nodes), duration, down, start, "--rolling-restart-every")


def redis_restart_schedule(
    every: float, duration: float, down: float, start: float | None = None
) -> list[Fault]:
    """Redis killed (SIGKILL) every ``every`` seconds and started again (same port and data)
    ``down`` seconds later; the first at ``start`` (default ``every``)."""
    return _restarts(every, [None], duration, down, start, "--redis-restart-every")


def _restarts(
    every: float,
    targets: list[str | None],
    duration: float,
    down: float,
    start: float | None,
    flag: str,
) -> list[Fault]:
    if every <= 0:
        raise ScheduleError(f"{flag} must be positive")
    if down < 0:
        raise ScheduleError(f"{flag}: the downtime must not be negative")
    if every <= down:
        raise ScheduleError(
            f"{flag} ({every:g}s) must be longer than the downtime of each restart "
            f"({down:g}s, --chaos-heal-after), or two would overlap"
        )
    if not targets:
        raise ScheduleError(f"{flag} needs at least one node")
    faults: list[Fault] = []
    at = every if start is None else start
    turn = 0
    while at + down < duration:  # bounded: at grows by every > 0
        target = targets[turn % len(targets)]
        kill, heal = ("kill-node", "restart-node") if target else ("kill-redis", "restart-redis")
        faults += [Fault(kill, target, at), Fault(heal, target, at + down)]
        at += every
        turn += 1
    return sorted(faults, key=lambda f: f.at)


def fault_kind_of(item: str) -> str:
    """The fault's name in a --faults item (``delay-node=200ms~50ms`` -> ``delay-node``)."""
    return item.partition("=")[0].strip()


def _drawn(item: str, entry: str) -> tuple[str, str | None]:
    """A --faults item as (name, parameter), checked."""
    name, _, param = (part.strip() for part in item.partition("="))
    _kind(name, entry)
    _param(name, param or None, entry)
    return name, param or FAULTS[name].default_param


def _param(name: str, param: str | None, entry: str) -> None:
    try:
        FAULTS[name].check_param(param)
    except ValueError as exc:
        raise ScheduleError(f"in {entry!r}: {name}: {exc}") from None


def _kind(name: str, entry: str) -> None:
    if name not in FAULTS:
        raise ScheduleError(
            f"unknown fault {name!r} in {entry!r}; known faults: {', '.join(FAULTS)}"
        )


def _fault(
    name: str, target: str | None, at: float, nodes: list[str], entry: str, param: str = ""
) -> Fault:
    _kind(name, entry)
    _param(name, param or None, entry)
    if FAULTS[name].on_node:
        if target is None:
            raise ScheduleError(f"{name} needs a node in {entry!r}: e.g. {name}:{nodes[0]}@10s")
        if target not in nodes:
            raise ScheduleError(
                f"no node {target!r} in {entry!r}; this cluster has {', '.join(nodes)}"
            )
    elif target is not None:
        raise ScheduleError(f"{name} takes no node in {entry!r}: write {name}@10s")
    return Fault(name, target, at, param or FAULTS[name].default_param)


def _healing(fault: Fault, at: float, entry: str) -> Fault:
    heal = FAULTS[fault.name].heal
    if heal is None:
        raise ScheduleError(f"{fault.name} cannot be healed with +duration in {entry!r}")
    return Fault(heal, fault.target, at)


def _duration(text: str, entry: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ScheduleError(f"in chaos entry {entry!r}: {exc}") from None


def _check_within(faults: list[Fault], duration: float) -> None:
    late = [f.describe() for f in faults if f.at >= duration]
    if late:
        raise ScheduleError(
            f"faults scheduled after the run ends ({duration:g}s): {', '.join(late)}"
        )
