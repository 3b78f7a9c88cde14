"""fan_out: one pass over a stream of record chunks feeds many consumers at once.

A consumer is any function that takes an iterable of records and returns something (a
checker, the run's metrics, the report's frames), written as a plain loop,
``for record in history: ...``. Each runs in its own greenlet; its iterable hands it the
current chunk and, when the chunk is used up, switches back to the feeder, which reads the
next chunk and hands it to every consumer in turn. So the history is read once and never
held whole, and the consumers need not know.

A consumer that reads only some kinds of records says so (``Selective``): it is handed only
those, so that a checker of notifications or of faults does not loop over every record of a
soak (most of them messages) only to skip it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain, compress
from operator import itemgetter
from typing import Any

from greenlet import greenlet

from harness.history.record import Record
from harness.history.vocabulary import NOT_CLIENTS

Consumer = Callable[[Iterable[Record]], Any]
Reads = Callable[[str, str], bool]  # (f, type) of a record -> whether a consumer reads it
_START = object()
_f, _type, _process = itemgetter("f"), itemgetter("type"), itemgetter("process")


@dataclass(frozen=True)
class Selective:
    """A consumer that reads only the client records whose (f, type) ``reads`` accepts. fan_out
    hands it those, every record of the harness, the nemesis and the monitor (a few), and the
    last record of each chunk, so that the latest time it sees is the history's: the records
    it is not handed must be ones it would have skipped (all it may take from them is their
    time). Called itself, it reads what it is given."""

    consumer: Consumer
    reads: Reads

    def __call__(self, history: Iterable[Record]) -> Any:
        return self.consumer(history)


class _Sieve:
    """The part of each chunk that one Selective consumer reads."""

    def __init__(self, reads: Reads) -> None:
        self.reads = reads
        self.known: dict[_Kind, bool] = {}

    def part(self, kinds: _Kinds) -> list[Record]:
        known = self.known
        for kind in kinds.distinct - known.keys():
            not_client = len(kind) == 3 and kind[2]
            known[kind] = not_client or bool(self.reads(kind[0], kind[1]))
        wanted = frozenset(kind for kind in kinds.distinct if known[kind])
        return kinds.chunk if len(wanted) == len(kinds.distinct) else kinds.part(wanted)


# A record's f and type, and in a chunk with a non-client's record, whether a non-client
# wrote it: (f, type) or (f, type, bool)
_Kind = tuple[Any, ...]


class _Kinds:
    """The kinds of a chunk's records, worked out once for every sieve, by C loops (map,
    zip, compress) rather than a Python step per record; and the parts cut from it, each
    once for the sieves that want the same kinds (survival and liveness both skip the
    messages)."""

    def __init__(self, chunk: list[Record]) -> None:
        self.chunk = chunk
        self.fs = list(map(_f, chunk))
        self._pairs: list[_Kind] | None = None
        if NOT_CLIENTS.isdisjoint(map(_process, chunk)):  # nearly every chunk of a soak
            # zip reuses its tuple for each kind the set already holds: no tuple a record
            self.distinct: set[_Kind] = set(zip(self.fs, map(_type, chunk), strict=True))
        else:
            others = map(NOT_CLIENTS.__contains__, map(_process, chunk))
            self._pairs = list(zip(self.fs, map(_type, chunk), others, strict=True))
            self.distinct = set(self._pairs)
        self._parts: dict[frozenset[_Kind], list[Record]] = {}

    def part(self, wanted: frozenset[_Kind]) -> list[Record]:
        """The records of the ``wanted`` kinds, and the chunk's last record (Selective)."""
        part = self._parts.get(wanted)
        if part is None:
            part = list(compress(self.chunk, self._mask(wanted))) if wanted else []
            if not part or part[-1] is not self.chunk[-1]:
                part.append(self.chunk[-1])
            self._parts[wanted] = part
        return part

    def _mask(self, wanted: frozenset[_Kind]) -> Iterator[bool]:
        """Whether each record is of a wanted kind: by its f alone (a str, whose hash is
        kept), unless some f is wanted with one type and not with another."""
        fs = {kind[0] for kind in wanted}
        if fs.isdisjoint(kind[0] for kind in self.distinct - wanted):
            return map(fs.__contains__, self.fs)
        if self._pairs is None:
            self._pairs = list(zip(self.fs, map(_type, self.chunk), strict=True))
        return map(wanted.__contains__, self._pairs)


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
        # C loops (chain, iter with a sentinel): a generator here would add a Python step
        # per record to every consumer, seconds over a soak.
        return chain.from_iterable(iter(self._feeder.switch, None))


def fan_out(
    chunks: Iterable[list[Record]],
    consumers: Mapping[str, Consumer],
    before_end: Callable[[], object] | None = None,
) -> dict[str, Fed]:
    """Runs every consumer over the records of ``chunks`` in one pass; by name, what each
    returned or raised (a consumer that raises stops; the others go on). ``before_end`` is
    called once the last chunk is handed over, before the consumers are told that the
    stream ended (and compute their results)."""
    feeder = greenlet.getcurrent()
    fed = {name: Fed() for name in consumers}
    live: dict[str, greenlet] = {}
    sieves = {
        name: _Sieve(consumer.reads)
        for name, consumer in consumers.items()
        if isinstance(consumer, Selective)
    }
    for name, consumer in consumers.items():
        live[name] = greenlet(_guarded(consumer, _Feed(feeder), fed[name]), parent=feeder)
        _step(name, live, fed, _START)
    for chunk in chunks:
        if not chunk:
            continue
        kinds = _Kinds(chunk) if sieves else None
        for name in list(live):
            sieve = sieves.get(name)
            _step(name, live, fed, chunk if sieve is None or kinds is None else sieve.part(kinds))
    if before_end is not None:
        before_end()
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
