"""fan_out: one pass over a stream of record chunks feeds many consumers at once.

A consumer is any function that takes an iterable of records and returns something (a
checker, the run's metrics, the report's frames), written as a plain loop,
``for record in history: ...``. Each runs in its own greenlet; its iterable hands it the
current chunk and, when the chunk is used up, switches back to the feeder, which reads the
next chunk and hands it to every consumer in turn. So the history is read once and never
held whole, and the consumers need not know.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from greenlet import greenlet

from harness.history.record import Record

Consumer = Callable[[Iterable[Record]], Any]
_START = object()


@dataclass
class Fed:
    """What a consumer returned, or the exception it raised; ``seconds`` of its own work."""

    value: Any = None
    error: Exception | None = None
    seconds: float = 0.0

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class _Feed:
    """The iterable a consumer loops over: chunks, asked of the feeder one at a time."""

    def __init__(self, feeder: greenlet) -> None:
        self._feeder = feeder
        self._used = False

    def __iter__(self) -> Iterator[Record]:
        if self._used:
            raise RuntimeError("a streamed history can be iterated only once")
        self._used = True
        while (chunk := self._feeder.switch()) is not None:
            yield from chunk


def fan_out(chunks: Iterable[list[Record]], consumers: Mapping[str, Consumer]) -> dict[str, Fed]:
    """Runs every consumer over the records of ``chunks`` in one pass; by name, what each
    returned or raised (a consumer that raises stops; the others go on)."""
    feeder = greenlet.getcurrent()
    fed = {name: Fed() for name in consumers}
    live: dict[str, greenlet] = {}
    for name, consumer in consumers.items():
        live[name] = greenlet(_guarded(consumer, _Feed(feeder), fed[name]), parent=feeder)
        _step(name, live, fed, _START)
    for chunk in chunks:
        for name in list(live):
            _step(name, live, fed, chunk)
    for name in list(live):
        _step(name, live, fed, None)
    return fed


def _step(name: str, live: dict[str, greenlet], fed: dict[str, Fed], chunk: Any) -> None:
    """Switches into one consumer with ``chunk`` (_START: start it; None: the stream ended)."""
    started = time.perf_counter()
    consumer = live[name]
    consumer.switch() if chunk is _START else consumer.switch(chunk)
    fed[name].seconds += time.perf_counter() - started
    if consumer.dead:
        del live[name]


def _guarded(consumer: Consumer, feed: _Feed, into: Fed) -> Callable[[], None]:
    def run() -> None:
        try:
            into.value = consumer(feed)
        except Exception as exc:
            into.error = exc

    return run
