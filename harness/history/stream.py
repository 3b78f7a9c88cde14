"""iter_history: the merged history of a run as a stream of time-ordered chunks.

The same records in the same order, with the same ``index``, as ``read_history``, but never
more than a few chunks per file in memory: an 8-hour soak's millions of records are read
once, chunk by chunk, while the analysis consumes them.

Each file is nearly time-ordered (a writer stamps a record and appends it at once; threads of
one writer may swap neighbours). Each file's chunks are sorted within a reorder window of
``window`` seconds; a record further out of order than that raises ``HistoryDisorder``
(``for_each_pass`` then reads again with a window wide enough, or, past MAX_WINDOW, with that
file sorted on disk first). The files' sorted chunks are merged, ties going to the file that
comes first by name, as read_history's stable sort does.
"""

from __future__ import annotations

import heapq
import math
import os
import tempfile
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import TypeVar

from harness import allocator
from harness.history._json import DecodeError, dumps_line, loads
from harness.history.reader import (
    HistoryError,
    _not_a_record,
    first_not_a_record,
    history_files,
)
from harness.history.record import Record

CHUNK_RECORDS = 8192
# Seconds a record may come after a later-stamped one in its file. Threads of one writer swap
# neighbours by at most a GIL switch (5 ms) or so; a wider window only holds more records back,
# out of the CPU's cache by the time they are merged (2 s, at 11,000 records a second, made
# reading a fifth slower). A file out of order by more is read again (for_each_pass).
WINDOW = 0.25
# Bytes read at a time: each file holds a block's records while they are merged. Under half
# the size from which the analysis's passes map a block apart (allocator.BIG_BLOCK), so that
# a block read, and the block it is joined into, come from the heap and its pages are reused:
# mapped apart, each was faulted in anew, 10x the page faults (193,000 a million records
# against 15,000): bench/analysis_speed's 10M records took 67.2 s that way, 58.8 s this way.
BLOCK = allocator.BIG_BLOCK // 2
# The widest reorder window: it holds every file's records within it (at 10,000 records a
# second, 100,000 of them). A file further out of order (a wall clock stepped back mid-run)
# is sorted on disk instead, SPILL_RECORDS at a time, so memory stays bounded.
MAX_WINDOW = 10.0
SPILL_RECORDS = 50_000
_by_time = itemgetter("time")
T = TypeVar("T")


class HistoryDisorder(ValueError):
    """A record further out of time order in its file than the reorder window allowed."""

    def __init__(self, path: Path, line: int, behind: float) -> None:
        super().__init__(f"{path}:{line}: {behind:.3f} s earlier than a record before it")
        self.path, self.behind = path, behind


@dataclass(frozen=True)
class Reading:
    """How iter_history sorts each file: within a reorder window of ``window`` seconds, or,
    for the files in ``on_disk``, on disk first (for_each_pass decides)."""

    window: float = WINDOW
    on_disk: frozenset[Path] = frozenset()


def iter_history(
    run_dir: str | os.PathLike[str],
    window: float = WINDOW,
    chunk: int = CHUNK_RECORDS,
    on_disk: Collection[Path] = (),
) -> Iterator[list[Record]]:
    """The run's records as read_history orders and indexes them, a list at a time."""
    sources = [
        _sorted_on_disk(path, chunk) if path in on_disk else _sorted_chunks(path, window, chunk)
        for path in history_files(run_dir)
    ]
    index = 0
    for part in _merge(sources):
        for record in part:
            record["index"] = index
            index += 1
        yield part


def for_each_pass(run: Callable[[Reading], T], window: float = WINDOW) -> T:
    """``run(reading)``, read again while a file is out of order beyond the reading's window:
    with a window wide enough, up to MAX_WINDOW, and past it with that file sorted on disk.
    Bounded: each pass again widens the window (a few times at most) or puts one more of the
    run's files on disk, where it cannot be out of order."""
    reading = Reading(window)
    while True:
        try:
            return run(reading)
        except HistoryDisorder as disorder:
            wider = max(reading.window * 4, disorder.behind * 2)
            if wider <= MAX_WINDOW:
                reading = Reading(wider, reading.on_disk)
            else:
                reading = Reading(reading.window, reading.on_disk | {disorder.path})


def _merge(sources: list[Iterator[list[Record]]]) -> Iterator[list[Record]]:
    """One time-ordered list per step: every record earlier than the latest record that each
    unfinished file has handed over (the others wait for the next step)."""
    pending: list[list[Record]] = [[] for _ in sources]
    live = set(range(len(sources)))
    limit = -math.inf
    while True:
        for i in sorted(live):
            while not pending[i] or pending[i][-1]["time"] <= limit:
                more = next(sources[i], None)
                if more is None:
                    live.discard(i)
                    break
                pending[i] += more
        limit = min((pending[i][-1]["time"] for i in live), default=math.inf)
        out: list[Record] = []
        for i, records in enumerate(pending):
            cut = bisect_left(records, limit, key=_by_time)
            if cut:
                out += records[:cut]
                pending[i] = records[cut:]
        if out:
            out.sort(key=_by_time)  # stable: equal times keep the files' order
            yield out
        if not live:
            return


def _sorted_chunks(path: Path, window: float, chunk: int) -> Iterator[list[Record]]:
    """One file's records sorted by time (stable), holding back the last ``window`` seconds
    of each chunk until the next one shows that nothing earlier follows."""
    held: list[Record] = []
    emitted = float("-inf")
    for first_line, records in _file_chunks(path, chunk):
        ordered = sorted(records, key=_by_time)
        earliest = ordered[0]["time"]
        if earliest < emitted:
            line = first_line + next(i for i, r in enumerate(records) if r["time"] < emitted)
            raise HistoryDisorder(path, line, emitted - earliest)
        # Sorting only what is new: held back records are sorted, and mostly all earlier.
        disordered = bool(held) and earliest < held[-1]["time"]
        held += ordered
        if disordered:
            held.sort(key=_by_time)
        cut = bisect_left(held, held[-1]["time"] - window, key=_by_time)
        if cut:
            emitted = held[cut - 1]["time"]
            yield held[:cut]
            held = held[cut:]
    if held:
        yield held


def _sorted_on_disk(path: Path, chunk: int) -> Iterator[list[Record]]:
    """One file's records sorted by time (stable), however far out of order: SPILL_RECORDS
    at a time sorted into a run in a temporary directory, then the runs merged (heapq.merge
    takes equal times from the earlier run first, so ties keep the file's order). Holds
    SPILL_RECORDS records while it sorts, then one record per run; writes a copy of the file
    in the temporary directory (tempfile's), which it removes when done or closed."""
    with tempfile.TemporaryDirectory(prefix="mcp-scale-history-") as spill:
        runs: list[Path] = []
        held: list[Record] = []
        for _, records in _file_chunks(path, chunk):
            held += records
            if len(held) >= SPILL_RECORDS:
                runs.append(_spilled(Path(spill) / f"{len(runs)}.jsonl", held))
                held = []
        if held:
            runs.append(_spilled(Path(spill) / f"{len(runs)}.jsonl", held))
        merged = heapq.merge(*map(_run_records, runs), key=_by_time)
        while part := list(islice(merged, chunk)):
            yield part


def _spilled(path: Path, records: list[Record]) -> Path:
    records.sort(key=_by_time)
    with open(path, "wb") as file:
        file.writelines(map(dumps_line, records))
    return path


def _run_records(path: Path) -> Iterator[Record]:
    """A run's records one at a time, through a small buffer: a 2.8 GB history's largest file
    makes 50 runs, each open while they are merged."""
    with open(path, "rb") as file:
        yield from map(loads, file)


def _file_chunks(path: Path, chunk: int) -> Iterator[tuple[int, list[Record]]]:
    """(number of the first line, records) of ``chunk`` records at a time, checked as
    read_history_file checks them: only the file's last line may be cut short."""
    number = 1  # of the block's first line
    for lines, last in _lines(path):
        try:
            records = list(map(loads, lines))  # the fast path: every line parses
            numbers: Sequence[int] = range(number, number + len(lines))
        except DecodeError:
            records, numbers = _parse_carefully(path, lines, number, last)
        bad = first_not_a_record(records)
        if bad is not None:
            line = lines[numbers[bad] - number].decode("utf-8", errors="replace")
            raise _not_a_record(path, numbers[bad], line)
        for start in range(0, len(records), chunk):
            yield numbers[start], records[start : start + chunk]
        number += len(lines)


def _parse_carefully(
    path: Path, lines: list[bytes], number: int, last: bool
) -> tuple[list[Record], list[int]]:
    """The records of a block with a line that is not JSON (an error unless it is the
    file's last line, cut by a crash; blank lines are skipped), and their line numbers. A
    line that is not UTF-8 is read with the bad bytes replaced, as read_history reads it."""
    records, numbers = [], []
    for offset, line in enumerate(lines):
        if not line:
            continue
        text = line.decode("utf-8", errors="replace")
        try:
            records.append(loads(text))
        except DecodeError:
            if last and offset == len(lines) - 1:
                continue
            raise HistoryError(
                f"{path}:{number + offset}: not JSON, so not a history record: {text[:80]!r}"
            ) from None
        numbers.append(number + offset)
    return records, numbers


def _lines(path: Path) -> Iterator[tuple[list[bytes], bool]]:
    """The file's lines a block at a time, True with the last block. Each block keeps its
    last complete line for the next: only the file's last line may be cut short. Lines stay
    bytes: orjson parses bytes a third faster than the same line decoded to str."""
    rest = b""
    with open(path, "rb") as file:
        while block := file.read(BLOCK):
            block = rest + block
            end = block.rfind(b"\n")
            cut = block.rfind(b"\n", 0, end) + 1 if end > 0 else 0
            rest = block[cut:]
            if cut:
                yield block[: cut - 1].split(b"\n"), False
    lines = rest.split(b"\n") if rest else []
    if lines and not lines[-1]:
        lines.pop()
    yield lines, True
