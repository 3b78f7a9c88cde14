"""The history record format: writer, reader, merge, crash tolerance."""

from __future__ import annotations

import json
from pathlib import Path

import gevent
import pytest

from harness.history import (
    HistoryError,
    HistoryWriter,
    Record,
    history_files,
    history_path,
    make_record,
    read_history,
    read_history_file,
)


def op(t: float, type_: str = "ok", process: str = "w1-u1", f: str = "call:echo") -> Record:
    return {"time": t, "type": type_, "process": process, "f": f, "value": t}  # type: ignore[typeddict-item]


def test_records_round_trip_as_json_lines(tmp_path: Path) -> None:
    path = history_path(tmp_path, "w1")
    assert path.name == "history-w1.jsonl"
    record = make_record("invoke", "w1-u1", "call:echo", {"text": "é"}, session="s1")
    with HistoryWriter(path) as writer:
        writer.write(record)
        writer.write(op(2.0))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0]) == record
    assert set(record) >= {"time", "type", "process", "f", "value"}


def test_records_reach_the_file_while_the_writer_is_open(tmp_path: Path) -> None:
    path = history_path(tmp_path, "w1")
    writer = HistoryWriter(path, flush_interval=0.02)
    try:
        writer.write(op(1.0))
        gevent.sleep(0.2)  # the daemon flusher hands the buffer to the OS
        assert len(read_history_file(path)) == 1
    finally:
        writer.close()
    unbuffered = HistoryWriter(history_path(tmp_path, "w2"), flush_interval=0)
    unbuffered.write(op(1.0))
    assert len(read_history_file(history_path(tmp_path, "w2"))) == 1
    unbuffered.close()


def test_many_greenlets_write_whole_lines(tmp_path: Path) -> None:
    path = history_path(tmp_path, "w1")
    with HistoryWriter(path) as writer:

        def work(n: int) -> None:
            for i in range(200):
                writer.write(op(n + i / 1000, process=f"w1-u{n}"))
                if i % 50 == 0:
                    gevent.sleep(0)

        gevent.joinall([gevent.spawn(work, n) for n in range(20)], timeout=30)
    records = read_history_file(path)
    assert len(records) == 4000
    assert writer.count == 4000


def test_read_history_merges_files_by_time_and_numbers_them(tmp_path: Path) -> None:
    with HistoryWriter(history_path(tmp_path, "w1")) as one:
        for t in (1.0, 3.0, 5.0):
            one.write(op(t, process="w1-u1"))
    with HistoryWriter(history_path(tmp_path, "w2")) as two:
        for t in (2.0, 4.0, 4.0):
            two.write(op(t, process="w2-u1"))
    (tmp_path / "other.jsonl").write_text("not a history file\n")
    assert [p.name for p in history_files(tmp_path)] == ["history-w1.jsonl", "history-w2.jsonl"]
    records = read_history(tmp_path)
    assert [r["time"] for r in records] == [1.0, 2.0, 3.0, 4.0, 4.0, 5.0]
    assert [r["index"] for r in records] == list(range(6))
    assert read_history(tmp_path / "missing") == []


def test_a_truncated_last_line_is_dropped(tmp_path: Path) -> None:
    path = history_path(tmp_path, "w1")
    with HistoryWriter(path) as writer:
        writer.write(op(1.0))
        writer.write(op(2.0))
    with open(path, "ab") as file:
        file.write(b'{"time": 3.0, "type": "ok", "proc')  # a crash mid-write
    assert [r["time"] for r in read_history(tmp_path)] == [1.0, 2.0]


def test_a_torn_line_elsewhere_is_an_error(tmp_path: Path) -> None:
    path = history_path(tmp_path, "w1")
    path.write_bytes(b'{"time": 1.0, "type": "ok", "process": "p", "f": "x"}\n{"time": 2\n{}\n')
    with pytest.raises(ValueError, match=":2:"):
        read_history_file(path)


@pytest.mark.parametrize(
    "foreign",
    [
        b"[1, 2]",
        b'{"a": 1}',
        b'{"time": "noon", "type": "ok", "process": "p", "f": "x"}',
        b'{"time": 2.0, "type": "done", "process": "p", "f": "x"}',
        b"42",
    ],
)
def test_a_foreign_line_is_an_error_naming_file_and_line(tmp_path: Path, foreign: bytes) -> None:
    path = history_path(tmp_path, "w1")
    good = b'{"time": 1.0, "type": "ok", "process": "p", "f": "x"}\n'
    content = good + foreign + b"\n" + good
    path.write_bytes(content)
    with pytest.raises(HistoryError, match=f"{path}:2: not a history record"):
        read_history(tmp_path)
    assert path.read_bytes() == content, "reading changes nothing"


def test_reopening_after_a_crash_cuts_the_torn_tail(tmp_path: Path) -> None:
    path = history_path(tmp_path, "w1")
    path.write_bytes(b'{"time": 1.0, "type": "ok", "process": "p", "f": "x", "value": 1}\n{"ti')
    with HistoryWriter(path) as writer:
        writer.write(op(2.0))
    assert [r["time"] for r in read_history_file(path)] == [1.0, 2.0]
    no_newline = history_path(tmp_path, "w2")
    no_newline.write_bytes(b'{"ti')
    with HistoryWriter(no_newline) as writer:
        writer.write(op(3.0))
    assert [r["time"] for r in read_history_file(no_newline)] == [3.0]


def test_write_after_close_is_ignored(tmp_path: Path) -> None:
    writer = HistoryWriter(history_path(tmp_path, "w1"))
    writer.close()
    writer.write(op(1.0))
    writer.close()
    assert read_history(tmp_path) == []
