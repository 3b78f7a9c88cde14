"""read_history: every history file of a run merged into one time-ordered list."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any

from harness.history._json import DecodeError, loads
from harness.history.record import OP_TYPES, Record
from harness.history.writer import FILE_PREFIX, FILE_SUFFIX

_by_time = itemgetter("time")


def history_files(run_dir: str | os.PathLike[str]) -> list[Path]:
    """The run's history files, ``history-*.jsonl``, sorted by name."""
    return sorted(Path(run_dir).glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"))


class HistoryError(ValueError):
    """A history line that is not a record; the message names the file and the line."""


def read_history_file(path: str | os.PathLike[str]) -> list[Record]:
    """One file's records in file order; a last line cut short by a crash is dropped.

    A line that does not parse anywhere else is an error, and so is one that parses but is
    not a record (a foreign line): only a crash can cut the last one. The file is never
    changed by reading it.
    """
    with open(path, encoding="utf-8", errors="replace") as file:
        lines = file.read().split("\n")
    if lines and not lines[-1]:
        lines.pop()
    with _no_gc():
        try:
            records = list(map(loads, lines))  # the fast path: every line parses
        except DecodeError:
            return _parse_carefully(lines, path)
    bad = first_not_a_record(records)
    if bad is not None:
        raise _not_a_record(path, bad + 1, lines[bad])
    return records


def read_history(run_dir: str | os.PathLike[str]) -> list[Record]:
    """Every record of the run, ordered by time (stable), each given its ``index`` in order."""
    records: list[Record] = []
    for path in history_files(run_dir):
        records += read_history_file(path)
    records.sort(key=_by_time)
    for index, record in enumerate(records):
        record["index"] = index
    return records


def _parse_carefully(lines: list[str], path: str | os.PathLike[str]) -> list[Record]:
    records: list[Record] = []
    last = len(lines) - 1
    for number, line in enumerate(lines):
        if not line:
            continue
        try:
            record = loads(line)
        except DecodeError:
            if number < last:
                raise HistoryError(
                    f"{path}:{number + 1}: not JSON, so not a history record: {line[:80]!r}"
                ) from None
            continue
        if not _is_record(record):
            raise _not_a_record(path, number + 1, line)
        records.append(record)
    return records


def first_not_a_record(records: list[Any]) -> int | None:
    """The position of the first parsed line that is not a record, if any. Checked a field
    at a time over the whole list by C loops (map, set) first: a record at a time took
    as long as parsing the lines."""
    try:
        fine = (
            set(map(type, records)) <= _DICT
            and set(map(type, map(_time, records))) <= _NUMBERS
            and set(map(_type, records)) <= OP_TYPES
            and set(map(type, map(_process, records))) <= _STR
            and set(map(type, map(_f, records))) <= _STR
        )
    except (KeyError, TypeError):  # a missing field, a list, an unhashable type...
        fine = False
    if fine:
        return None
    return next((i for i, record in enumerate(records) if not _is_record(record)), None)


_DICT, _STR = frozenset((dict,)), frozenset((str,))
_NUMBERS = frozenset((int, float, bool))  # what isinstance(_, int | float) accepts of JSON
_time, _type, _process, _f = (
    itemgetter("time"),
    itemgetter("type"),
    itemgetter("process"),
    itemgetter("f"),
)


def _is_record(record: object) -> bool:
    return (
        type(record) is dict
        and isinstance(record.get("time"), int | float)
        and record.get("type") in OP_TYPES
        and isinstance(record.get("process"), str)
        and isinstance(record.get("f"), str)
    )


def _not_a_record(path: str | os.PathLike[str], number: int, line: str) -> HistoryError:
    return HistoryError(
        f"{path}:{number}: not a history record (a JSON object with a numeric time, a type "
        f"of {', '.join(sorted(OP_TYPES))}, and string process and f; see "
        f"harness/history/FORMAT.md): {line[:80]!r}"
    )


@contextmanager
def _no_gc() -> Iterator[None]:
    """Millions of new dicts make the cyclic GC rescan them again and again: pause it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
