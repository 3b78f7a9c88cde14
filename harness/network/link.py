"""What a fault does to one link, as plain data, and the fault parameters people write.

A link is one TCP path the fault proxy stands in: the clients' path to a node
(``clients->n2``), or a node's path to Redis (``n1->redis``). Its impairment is one
:class:`LinkImpairment` at a time: a new fault on a link replaces the one before, and a heal
gives the link back clean.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from harness.durations import parse_duration

LinkSide = Literal["clients", "redis"]  # which path of a node: from its clients, or to Redis
LINK_SIDES: tuple[LinkSide, ...] = ("clients", "redis")
Effect = Literal["clean", "delay", "bandwidth", "blackhole", "reset", "refuse"]

MAX_DELAY = 60.0  # seconds: a longer one is a blackhole, and reads better as one
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(bps|kbps|mbps|gbps)\s*$", re.IGNORECASE)
_RATE_BITS = {"bps": 1, "kbps": 1_000, "mbps": 1_000_000, "gbps": 1_000_000_000}


class LinkParamError(ValueError):
    """A fault parameter that cannot be applied; the message says what form is expected."""


@dataclass(frozen=True)
class LinkImpairment:
    """What the proxy does to the bytes of one link, in each direction.

    ``delay`` and ``jitter`` apply to each direction (a round trip gains twice the delay);
    jitter is drawn uniformly in [-jitter, +jitter] and never reorders bytes (TCP does not).
    """

    effect: Effect = "clean"
    delay: float = 0.0  # seconds, each direction
    jitter: float = 0.0
    rate: float = 0.0  # bytes per second, each direction (0: unlimited)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkImpairment:
        return cls(**data)

    def describe(self) -> str:
        if self.effect == "delay":
            return f"delay {self.delay * 1000:g}ms~{self.jitter * 1000:g}ms each way"
        if self.effect == "bandwidth":
            return f"bandwidth {self.rate * 8 / 1000:g}kbps each way"
        return self.effect


CLEAN = LinkImpairment()


def parse_delay(text: str) -> LinkImpairment:
    """``200ms`` or ``200ms~50ms``: the delay of each direction, and its jitter."""
    mean_text, tilde, jitter_text = text.partition("~")
    try:
        delay = parse_duration(mean_text)
        jitter = parse_duration(jitter_text) if tilde else 0.0
    except ValueError as exc:
        raise LinkParamError(f"delay {text!r}: {exc}; write e.g. 200ms~50ms") from None
    if not 0 < delay <= MAX_DELAY:
        raise LinkParamError(
            f"delay {text!r} must be above 0 and at most {MAX_DELAY:g}s (for a link that "
            "carries nothing, use a blackhole fault)"
        )
    if jitter > delay:
        raise LinkParamError(f"delay {text!r}: the jitter must not exceed the delay")
    return LinkImpairment("delay", delay=delay, jitter=jitter)


def parse_bandwidth(text: str) -> LinkImpairment:
    """``64kbps`` (bits per second, bps/kbps/mbps/gbps): each direction's rate."""
    match = _RATE.match(text)
    if match is None:
        raise LinkParamError(f"bandwidth {text!r} is not a rate; write e.g. 64kbps or 2mbps")
    bits = float(match.group(1)) * _RATE_BITS[match.group(2).lower()]
    if bits < 800:
        raise LinkParamError(f"bandwidth {text!r} is below 800bps (100 bytes a second)")
    return LinkImpairment("bandwidth", rate=bits / 8)


def impairment(effect: Effect, param: str | None) -> LinkImpairment:
    """The impairment a fault of ``effect`` with ``param`` (as written in a timeline) makes;
    LinkParamError when the parameter is missing, extra or malformed."""
    if effect == "delay":
        if not param:
            raise LinkParamError("a delay fault needs its delay: write e.g. =200ms~50ms")
        return parse_delay(param)
    if effect == "bandwidth":
        if not param:
            raise LinkParamError("a bandwidth fault needs its rate: write e.g. =64kbps")
        return parse_bandwidth(param)
    if param:
        raise LinkParamError(f"a {effect} fault takes no parameter (got ={param})")
    return LinkImpairment(effect)


def link_name(node: str, side: LinkSide) -> str:
    """How a link is named in records and reports: ``clients->n2``, ``n1->redis``."""
    return f"clients->{node}" if side == "clients" else f"{node}->redis"
