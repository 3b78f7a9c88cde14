"""The streamed analysis (iter_history + fan_out) decides exactly what the list path does."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from bench.analysis_speed import generate
from harness import analysis
from harness.analysis import analyze_run, checker_names, checker_options
from harness.capacity.search import OpCounts, op_counts
from harness.checkers import CheckContext, CheckResult, check_history
from harness.gates import compute_metrics
from harness.history import (
    HistoryDisorder,
    HistoryError,
    HistoryWriter,
    Reading,
    Record,
    for_each_pass,
    history_path,
    iter_history,
    read_history,
    stream,
)
from harness.history.fanout import Selective, fan_out
from harness.report import RunData, load_run
from harness.report.render import render_report
from tests.support.histories import fault, init, listen, note, notify, op


def _write(run_dir: Path, records: Iterable[dict[str, Any]], swap_every: int = 0) -> None:
    """By writer as analysis_speed does; every ``swap_every``-th pair of neighbours in a file
    swapped (threads of one writer stamp and append in either order)."""
    files: dict[str, list[dict[str, Any]]] = {}
    for record in sorted(records, key=lambda r: r["time"]):
        process = record["process"]
        worker = "harness" if process == "nemesis" else process.split("-", 1)[0]
        files.setdefault(worker, []).append(record)
    for worker, lines in files.items():
        if swap_every:
            for i in range(0, len(lines) - 1, swap_every):
                lines[i], lines[i + 1] = lines[i + 1], lines[i]
        with HistoryWriter(history_path(run_dir, worker), 0) as writer:
            for line in lines:
                writer.write(line)


def _losses() -> list[Record]:
    """A session lost to a fault (404, reinit), a lost and a duplicated notify message."""
    parts: list[Record] = []
    for chunk in (
        init(100.0, "w9-u1", "s-lost"),
        listen(100.1, "w9-u1", "s-lost"),
        notify(101.0, "w9-u1", "s-lost", "w9-u1-n1", 3),
        [note(101.05, "w9-u1", "s-lost", "w9-u1-n1", 1)],
        [note(101.06, "w9-u1", "s-lost", "w9-u1-n1", 1)],
        [note(101.07, "w9-u1", "s-lost", "w9-u1-n1", 3)],
        fault(102.0, "kill-node", "n2"),
        op(103.0, "w9-u1", "s-lost", "fail", status=404, error="HTTP 404: session not found"),
        fault(110.0, "restart-node", "n2"),
    ):
        parts += chunk
    return parts


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("streamed")
    rng = random.Random(3)
    records = [r for r in generate(20_000, 60, seed=2) if rng.random() > 0.01]  # losses
    _write(directory, records + [dict(r) for r in _losses()], swap_every=50)
    return directory


def _plain(results: list[CheckResult]) -> list[tuple[Any, ...]]:
    """What a result says; NaN as text, as a NaN equals only itself (a pickled one is new)."""
    plain = []
    for r in results:
        counts = {name: repr(value) for name, value in r.counts.items()}
        plain.append((r.name, r.valid, r.summary, counts, r.examples, repr(r.table)))
    return plain


def _summary(out: Path, run: RunData) -> dict[str, Any]:
    render_report(out, [run])
    summary = json.loads((out / "summary.json").read_text())
    summary.pop("generated_at")
    for checker in summary["runs"][0]["checkers"]:
        checker["details"].pop("seconds", None)
    return summary


def test_the_streamed_history_is_read_historys(run_dir: Path) -> None:
    listed = read_history(run_dir)
    for chunk in (1, 7, 5000):
        streamed = for_each_pass(
            lambda reading, chunk=chunk: [
                r
                for part in iter_history(run_dir, reading.window, chunk, reading.on_disk)
                for r in part
            ],
            window=0.0,
        )
        assert streamed == listed  # the same records, order and index


def test_a_record_out_of_order_beyond_the_window_is_read_again(tmp_path: Path) -> None:
    records = [{"time": float(t), "type": "ok", "process": "w0-u1", "f": "ping"} for t in range(9)]
    records[2], records[7] = records[7], records[2]
    with HistoryWriter(history_path(tmp_path, "w0"), 0) as writer:
        for record in records:
            writer.write(record)
    with pytest.raises(HistoryDisorder):
        list(iter_history(tmp_path, window=1.0, chunk=2))
    read = for_each_pass(lambda w: [r for p in iter_history(tmp_path, w.window, 2) for r in p], 1.0)
    assert read == read_history(tmp_path)


def test_a_file_far_out_of_order_is_sorted_on_disk_into_read_historys_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wall clock stepped back by more than MAX_WINDOW (here a second run appended to the
    file): the file is sorted on disk, a few records at a time, not held in a window."""
    monkeypatch.setattr(stream, "SPILL_RECORDS", 4)
    spill = tmp_path / "spill"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    step = stream.MAX_WINDOW * 3

    def pings(process: str, times: Iterable[float]) -> list[dict[str, Any]]:
        return [{"time": t, "type": "ok", "process": process, "f": "ping"} for t in times]

    files = {
        "w0": pings("w0-u1", range(30)) + pings("w0-u2", (t - step for t in range(30, 40))),
        "w1": pings("w1-u1", (t / 2 for t in range(-10, 60))),  # ties with w0's times
    }
    for worker, records in files.items():
        with HistoryWriter(history_path(tmp_path, worker), 0) as writer:
            for record in records:
                writer.write(record)
    used: list[Reading] = []

    def read(reading: Reading) -> list[Record]:
        used.append(reading)
        return [
            r for part in iter_history(tmp_path, reading.window, 3, reading.on_disk) for r in part
        ]

    assert for_each_pass(read) == read_history(tmp_path)
    assert used[-1].on_disk == {history_path(tmp_path, "w0")}
    assert used[-1].window <= stream.MAX_WINDOW
    assert not list(spill.iterdir())  # the sorted copies are gone


def test_a_capacity_step_counts_a_history_far_out_of_order(tmp_path: Path) -> None:
    ops = 5000  # two chunks' worth of records after the step, so that a chunk sees it
    late = [
        {
            "time": start + i / 100,
            "type": kind,
            "process": "w0-u1",
            "f": "call:echo",
            "latency": 0.5,
        }
        for start in (100.0, 20.0)  # the clock stepped back 80 s
        for i in range(ops)
        for kind in ("invoke", "ok")
    ]
    with HistoryWriter(history_path(tmp_path, "w0"), 0) as writer:
        for record in late:
            writer.write(record)
    last = 100.0 + (ops - 1) / 100
    assert op_counts(tmp_path, "call_echo") == OpCounts(2 * ops, 2 * ops / (last - 19.5))


def test_a_torn_last_line_is_dropped_and_a_bad_line_named_as_read_history_does(
    tmp_path: Path,
) -> None:
    good = '{"time": 1.0, "type": "ok", "process": "w0-u1", "f": "ping"}\n'
    (tmp_path / "history-w0.jsonl").write_text(good + "\n" + good + '{"time": 2.0, "ty')
    read = [r for part in iter_history(tmp_path) for r in part]
    assert read == read_history(tmp_path) and len(read) == 2
    (tmp_path / "history-w1.jsonl").write_text(good + "not json\n" + good)
    with pytest.raises(HistoryError, match=r"history-w1\.jsonl:2: not JSON"):
        list(iter_history(tmp_path))


def test_a_line_that_is_not_utf8_is_read_as_read_history_reads_it(tmp_path: Path) -> None:
    bad = b'{"time": 1.5, "type": "ok", "process": "w0-u1", "f": "echo", "value": "a\xffb"}\n'
    good = b'{"time": 1.0, "type": "ok", "process": "w0-u1", "f": "ping"}\n'
    (tmp_path / "history-w0.jsonl").write_bytes(good + bad + good.replace(b"1.0", b"2.0"))
    read = [r for part in iter_history(tmp_path) for r in part]
    assert read == read_history(tmp_path) and read[1]["value"] == "a\ufffdb"


def test_fan_out_feeds_every_consumer_once_and_keeps_each_ones_failure() -> None:
    chunks = [[{"time": float(i)} for i in range(j, j + 3)] for j in (0, 3, 6)]

    def crashes(history: Iterable[Any]) -> None:
        for record in history:
            if record["time"] == 4.0:
                raise KeyError("boom")

    def twice(history: Iterable[Any]) -> int:
        return len(list(history)) + len(list(history))

    fed = fan_out(
        iter(chunks),
        {
            "count": lambda history: sum(1 for _ in history),
            "first": lambda history: next(iter(history))["time"],
            "none": lambda history: "did not read",
            "crashes": crashes,
            "twice": twice,
        },
    )
    assert fed["count"].result() == 9
    assert fed["first"].result() == 0.0
    assert fed["none"].result() == "did not read"
    assert isinstance(fed["crashes"].error, KeyError)
    assert isinstance(fed["twice"].error, RuntimeError)


def test_fan_out_calls_before_end_once_every_record_is_read_and_no_result_is_made() -> None:
    seen: list[int] = []
    returned: list[int] = []
    calls: list[tuple[int, int]] = []

    def count(history: Iterable[Any]) -> int:
        for _ in history:
            seen.append(1)
        returned.append(len(seen))
        return len(seen)

    chunks = [[{"time": 0.0}, {"time": 1.0}], [{"time": 2.0}]]
    fed = fan_out(
        iter(chunks),
        {"count": count},
        before_end=lambda: calls.append((len(seen), len(returned))),
    )
    assert calls == [(3, 0)]  # after the last record, before the consumer returned
    assert fed["count"].result() == 3


def test_a_selective_consumer_gets_its_records_the_non_clients_and_each_chunks_last() -> None:
    def rec(t: float, process: str, f: str, kind: str = "ok") -> dict[str, Any]:
        return {"time": t, "type": kind, "process": process, "f": f}

    chunks = [
        [rec(0, "w0-u1", "call:echo"), rec(1, "nemesis", "kill-node"), rec(2, "w0-u1", "message")],
        [rec(3, "w0-u1/stream", "message", "invoke"), rec(4, "w0-u1", "message")],
        [rec(5, "w0-u1", "message"), rec(6, "monitor", "sample")],
        [rec(7, "w0-u1", "call:echo"), rec(8, "w0-u1", "call:echo")],
        # clients only: a sieve by f alone, and one that must look at the type too
        [
            rec(9, "w0-u1", "call:echo", "invoke"),
            rec(10, "w0-u1", "call:echo"),
            rec(11, "u", "message"),
        ],
    ]

    def times(history: Iterable[Any]) -> list[float]:
        return [record["time"] for record in history]

    fed = fan_out(
        iter(chunks),
        {
            "all": times,
            "no_messages": Selective(times, lambda f, kind: f != "message" or kind == "invoke"),
            "nothing": Selective(times, lambda f, kind: False),
            "invokes": Selective(times, lambda f, kind: kind == "invoke"),
            # the same parts as no_messages but where a message is an invoke (3)
            "not_a_message": Selective(times, lambda f, kind: f != "message"),
        },
    )
    assert fed["all"].result() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    # the messages are left out, but for the last record of a chunk (2, 4 and 11)
    assert fed["no_messages"].result() == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]
    assert fed["not_a_message"].result() == [0, 1, 2, 4, 6, 7, 8, 9, 10, 11]
    assert fed["nothing"].result() == [1, 2, 4, 6, 8, 11]
    assert fed["invokes"].result() == [1, 2, 3, 4, 6, 8, 9, 11]
    assert Selective(times, lambda f, kind: False)(chunks[0]) == [0, 1, 2]  # called: all


def test_streamed_and_listed_analysis_agree(run_dir: Path, tmp_path: Path) -> None:
    history = read_history(run_dir)
    ctx = CheckContext.from_manifest(None)
    results = check_history(history, ctx, checker_names(None, ctx), checker_options(None))
    metrics = compute_metrics(history, results)
    assert any(r.valid is False for r in results), "the history has losses to find"
    listed = load_run(run_dir, label="run", results=results, metrics=metrics, history=history)

    streamed = analyze_run(run_dir, label="run")

    assert _plain(streamed.results) == _plain(results)
    assert streamed.metrics == metrics
    assert streamed.history is None and streamed.frames is not None
    assert _summary(tmp_path / "streamed", streamed) == _summary(tmp_path / "listed", listed)


def test_a_history_read_once_per_group_of_consumers_is_analysed_alike(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    once = analyze_run(run_dir, label="run")
    consumers = dict.fromkeys(["delivery", analysis.FRAMES, "drift", "survival", "routing"])
    # 12 GiB of history: delivery's state alone is over the budget, the others fit two by
    # two; the largest placed first, each in the lightest group with room for it
    assert [list(group) for group in analysis.consumer_groups(consumers, 12 << 30)] == [
        ["delivery"],
        ["routing", "drift"],
        [analysis.FRAMES, "survival"],
    ]
    assert len(analysis.consumer_groups(consumers, 1 << 20)) == 1
    assert len(analysis.consumer_groups(consumers, 1 << 20, workers=2)) == 2
    monkeypatch.setattr(analysis, "STATE_BUDGET", 1)  # a pass for each consumer

    several = analyze_run(run_dir, label="run")

    assert _plain(several.results) == _plain(once.results)
    assert several.metrics == once.metrics
    assert _summary(tmp_path / "several", several) == _summary(tmp_path / "once", once)


def test_passes_run_at_once_in_forked_processes_analyse_alike(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    once = analyze_run(run_dir, label="run")
    _fork_passes(monkeypatch)

    forked = analyze_run(run_dir, label="run")

    assert _plain(forked.results) == _plain(once.results)
    assert forked.metrics == once.metrics
    assert _summary(tmp_path / "forked", forked) == _summary(tmp_path / "once", once)


def test_what_a_forked_pass_raised_comes_back_named(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Local(Exception):  # a class of a function's own does not pickle
        pass

    def crashes(history: Iterable[Record]) -> None:
        raise Local("no such field")

    def counts(history: Iterable[Record]) -> int:
        return sum(1 for _ in history)

    _fork_passes(monkeypatch)
    fed = analysis.streamed_pass(run_dir, {"crashes": crashes, "counts": counts})

    assert fed["counts"].result() == len(read_history(run_dir))
    with pytest.raises(RuntimeError, match="Local: no such field"):
        fed["crashes"].result()


def test_a_forked_pass_that_dies_or_reads_a_bad_line_is_an_error_not_a_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def dies(history: Iterable[Record]) -> None:
        for _ in history:
            os._exit(9)  # as the kernel's OOM killer would end it: no result, no goodbye

    def counts(history: Iterable[Record]) -> int:
        return sum(1 for _ in history)

    good = '{"time": 1.0, "type": "ok", "process": "w0-u1", "f": "ping"}\n'
    (tmp_path / "history-w0.jsonl").write_text(good * 3)
    _fork_passes(monkeypatch)
    with pytest.raises(RuntimeError, match=r"pass of dies ended without a result \(exit code 9\)"):
        analysis.streamed_pass(tmp_path, {"dies": dies, "counts": counts})

    (tmp_path / "history-w0.jsonl").write_text(good + "not json\n" + good)
    with pytest.raises(HistoryError, match=r"history-w0\.jsonl:2: not JSON"):
        analysis.streamed_pass(tmp_path, {"counts": counts, "again": counts})


def _fork_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passes forked however small the history, even from this process, which an earlier
    test may have left with a thread (the passes here take no lock one could hold)."""
    monkeypatch.setattr(analysis, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(analysis, "WORKERS", 2)
    monkeypatch.setattr(analysis, "_fork_safe", lambda: True)


def test_the_analysis_does_not_fork_beside_another_thread() -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait, args=(10,))
    other.start()
    try:
        assert not analysis._fork_safe()
    finally:
        release.set()
        other.join(timeout=10)


def test_the_speed_bench_will_not_write_a_second_history_into_a_kept_one(tmp_path: Path) -> None:
    """Its writers append: a second history would follow the first, out of time order."""
    kept = history_path(tmp_path, "w0")
    kept.write_bytes(b'{"time":1.0,"type":"ok","process":"w0-u1","f":"note"}\n')
    command = [sys.executable, "-m", "bench.analysis_speed", "--records", "10"]
    done = subprocess.run(
        [*command, "--keep", str(tmp_path)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"--keep {tmp_path}: it already holds a history" in done.stderr
    assert "--again" in done.stderr
    assert kept.read_bytes() == b'{"time":1.0,"type":"ok","process":"w0-u1","f":"note"}\n'
