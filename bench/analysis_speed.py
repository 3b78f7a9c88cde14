"""How long the analysis of a big history takes, and its peak memory: the checkers that
analyze_run runs for a soak of the mixed scenario in the 2025-11-25 revision (the
scenario's, then leak and drift), the run's metrics and the report's frames, in the
streamed pass that analyze_run makes (one pass per group of consumers when their state
would exceed harness.analysis.STATE_BUDGET).

Generates a synthetic history of ``--records`` records (default 1,000,000) with the shape of a
real run (users with sessions and listening streams; notify calls and their numbered messages,
echo calls, sampling requests and answers, broadcasts to every session, resource touches to
subscribers; a node killed and restarted, with broken streams that resume, failed calls and
re-initialized sessions), written as JSON lines into a temporary run directory split over
several worker files (a batch of users at a time, so that ten million records fit), then
analyses it in a fresh process and prints its time and peak RSS against the targets (60 s
and 1 GiB for 10,000,000 records). ``--list`` analyses the old way instead: read_history's
list, each checker a pass over it, compute_metrics and frames_of on it::

    .venv/bin/python bench/analysis_speed.py [--records 1000000] [--users 2000] [--keep DIR]
        [--list] [--analyze RUN_DIR] [--again RUN_DIR]

``--again DIR`` measures the analysis of a history that ``--keep DIR`` kept, as a generated
one is measured (a fresh process, its peak memory), without generating it again.
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

from harness.analysis import FRAMES, LONGEVITY, METRICS, streamed_pass
from harness.checkers import (
    CheckContext,
    check_history,
    checker_consumers,
    checker_results,
    merge_validity,
)
from harness.gates import compute_metrics, run_metrics, with_checker_counts
from harness.history import HistoryWriter, history_files, history_path, read_history
from harness.history._json import dumps_line, loads
from harness.monitor.proc import group_pss, group_resources
from harness.report.frames import frames_of
from scenarios.registry import SCENARIOS

TARGET_SECONDS = 60.0  # for TARGET_RECORDS
TARGET_RSS_MIB = 1024.0
TARGET_RECORDS = 10_000_000
# Seconds between samples of the analysis's memory. Reading a process's PSS walks its pages
# (3 ms for 1 GB): every 0.1 s, the sampler took 7.6 s of CPU from the analysis's two cores
# over a 60 s analysis of 10M records; every 0.25 s, 4 s. A pass's end, where its memory
# peaks, took 0.6 to 2.1 s there.
SAMPLE_EVERY = 0.25
BATCH_USERS = 100  # users generated (and sorted) at a time by write_generated
NODES = ("n1", "n2", "n3")
PROTOCOL = "2025-11-25"  # the revision of the generated sessions (initialize)


class Synth:
    """Builds records user by user, each user's operations one after the other in time."""

    def __init__(self, users: int, duration: float, seed: int) -> None:
        self.rng = random.Random(seed)
        self.users = users
        self.duration = duration
        self.kill_at, self.restart_at = duration / 3, duration / 3 + 10.0
        self.records: list[dict[str, Any]] = []
        self.flushed = 0  # records already handed over by take()
        self.live: list[tuple[str, str]] = []  # (user, session) with an open stream
        self.ids = 0

    def add(self, t: float, kind: str, process: str, f: str, value: Any, **extra: Any) -> None:
        record = {"time": t, "type": kind, "process": process, "f": f, "value": value}
        record.update(extra)
        self.records.append(record)

    def take(self) -> list[dict[str, Any]]:
        """The records made so far, sorted by time; the next ones start afresh."""
        taken, self.records = self.records, []
        self.flushed += len(taken)
        taken.sort(key=itemgetter("time"))
        return taken

    def session_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def faults(self) -> None:
        for at, name in ((self.kill_at, "kill-node"), (self.restart_at, "restart-node")):
            self.add(at, "invoke", "nemesis", name, "n1")
            self.add(at + 0.02, "ok", "nemesis", name, "n1", detail="pid")

    def user(self, number: int, limit: int) -> None:
        rng, user = self.rng, f"w{number % 4}-u{number}"
        stream = f"{user}/stream"
        t = rng.uniform(0.0, 5.0)
        node = NODES[number % 3]
        session = self.initialize(t, user, node, "initialize", {"protocolVersion": PROTOCOL})
        self.open_stream(t + 0.01, stream, session, None)
        uri = f"mcp-scale://resource/{number}"  # its own: touches update only this user
        self.call(t + 0.02, user, session, "subscribe", {"uri": uri}, {}, node)
        event = 0
        broke = False
        t += 0.05
        while t < self.duration - 2 and self.flushed + len(self.records) < limit:
            if not broke and node == "n1" and t > self.kill_at:
                broke = True
                self.add(
                    self.kill_at + 0.01,
                    "fail",
                    stream,
                    "stream_break",
                    {"reason": "error", "last_event_id": f"{event}-0"},
                    session=session,
                    node=node,
                    latency=1.0,
                    error="HTTPParseError: Incomplete response.",
                )
                node = NODES[1 + number % 2]
                self.open_stream(self.kill_at + 0.05, stream, session, f"{event}-0")
            choice = rng.random()
            served = rng.choice(NODES)
            if served == "n1" and self.kill_at <= t < self.restart_at:
                self.call(
                    t,
                    user,
                    session,
                    "call:echo",
                    {"text": "x"},
                    None,
                    served,
                    kind="fail",
                    error="ConnectionRefusedError(ECONNREFUSED)",
                )
            elif choice < 0.55:
                event = self.notify(t, user, session, served, event)
            elif choice < 0.80:
                self.call(t, user, session, "call:echo", {"text": "x"}, "x", served)
            elif choice < 0.97:
                self.sample(t, user, session, served)
            else:
                self.touch(t, user, session, served, uri)
            t += rng.uniform(0.5, 1.5)
        self.add(
            t,
            "ok",
            stream,
            "stream_break",
            {"reason": "closed by client", "last_event_id": f"{event}-0"},
            session=session,
            node=node,
            latency=t,
        )
        self.call(t + 0.001, user, session, "delete", {"session": session}, None, node, status=200)

    def initialize(self, t: float, user: str, node: str, f: str, value: dict[str, Any]) -> str:
        session = self.session_id()
        self.add(t, "invoke", user, f, value, session=None)
        done = {**value, "session": session, "protocolVersion": "2025-11-25"}
        self.add(t + 0.003, "ok", user, f, done, session=session, node=node, latency=0.003)
        return session

    def open_stream(self, t: float, stream: str, session: str, last: str | None) -> None:
        value = {"last_event_id": last}
        self.add(t, "invoke", stream, "stream_open", value, session=session)
        self.add(t + 0.002, "ok", stream, "stream_open", value, session=session, latency=0.002)

    def call(
        self,
        t: float,
        user: str,
        session: str,
        f: str,
        value: Any,
        result: Any,
        node: str,
        kind: str = "ok",
        **extra: Any,
    ) -> None:
        self.add(t, "invoke", user, f, value, session=session)
        self.add(
            t + 0.002, kind, user, f, result, session=session, node=node, latency=0.002, **extra
        )

    def notify(self, t: float, user: str, session: str, node: str, event: int) -> int:
        nonce = f"{user}-{self.rng.getrandbits(48):012x}"
        self.add(
            t,
            "invoke",
            user,
            "call:notify",
            {"count": 5, "interval_ms": 20, "nonce": nonce},
            session=session,
        )
        for seq in range(1, 6):
            event += 1
            sent = t + 0.02 * seq
            data = {"nonce": nonce, "seq": seq, "sent_at": sent}
            message = {
                "jsonrpc": "2.0",
                "method": "notifications/message",
                "params": {"level": "info", "logger": "notify", "data": data},
            }
            self.add(
                sent + 0.002,
                "ok",
                f"{user}/stream",
                "message",
                message,
                session=session,
                node=node,
                stream="get",
                event_id=f"{event}-0",
            )
        self.add(
            t + 0.105,
            "ok",
            user,
            "call:notify",
            {"emitted": 5},
            session=session,
            node=node,
            latency=0.105,
        )
        return event

    def sample(self, t: float, user: str, session: str, node: str) -> None:
        nonce = f"{user}-{self.rng.getrandbits(48):012x}"
        self.ids += 1
        rpc_id = f"{node}-{self.ids}"
        self.add(
            t, "invoke", user, "call:sample", {"prompt": "hi", "nonce": nonce}, session=session
        )
        params = {
            "messages": [],
            "maxTokens": 64,
            "metadata": {"nonce": nonce},
            "_meta": {"nonce": nonce},
        }
        request = {
            "jsonrpc": "2.0",
            "id": rpc_id,
            "method": "sampling/createMessage",
            "params": params,
        }
        self.add(
            t + 0.002, "ok", user, "message", request, session=session, node=node, stream="post"
        )
        answer = {"id": rpc_id, "method": "sampling/createMessage", "text": f"answer:{nonce}"}
        self.add(t + 0.003, "ok", user, "answer", answer, session=session, node=node, latency=0.001)
        self.add(
            t + 0.005,
            "ok",
            user,
            "call:sample",
            {"text": f"answer:{nonce}", "nonce": nonce},
            session=session,
            node=node,
            latency=0.005,
        )

    def touch(self, t: float, user: str, session: str, node: str, uri: str) -> None:
        self.add(t, "invoke", user, "call:touch_resource", {"uri": uri}, session=session)
        message = {
            "jsonrpc": "2.0",
            "method": "notifications/resources/updated",
            "params": {"uri": uri, "_meta": {"sent_at": t + 0.001}},
        }
        self.add(
            t + 0.002,
            "ok",
            f"{user}/stream",
            "message",
            message,
            session=session,
            node=node,
            stream="get",
        )
        self.add(
            t + 0.003,
            "ok",
            user,
            "call:touch_resource",
            {"addressed": 1},
            session=session,
            node=node,
            latency=0.003,
        )

    def broadcasts(self, every: float, sessions: list[tuple[str, str]]) -> None:
        """A broadcast from the first user every ``every`` seconds, reaching every session."""
        at = 10.0
        while at < self.duration - 10:
            nonce = f"w0-u0-{self.rng.getrandbits(48):012x}"
            self.add(
                at,
                "invoke",
                "w0-u0",
                "call:broadcast",
                {"kind": "tools", "nonce": nonce},
                session="bcast",
            )
            message = {
                "jsonrpc": "2.0",
                "method": "notifications/tools/list_changed",
                "params": {"_meta": {"nonce": nonce, "sent_at": at}},
            }
            for user, session in sessions:
                self.add(
                    at + 0.01,
                    "ok",
                    f"{user}/stream",
                    "message",
                    message,
                    session=session,
                    stream="get",
                )
            self.add(
                at + 0.02,
                "ok",
                "w0-u0",
                "call:broadcast",
                {"addressed": len(sessions)},
                session="bcast",
                node="n2",
                latency=0.02,
            )
            at += every


RECORDS_PER_OP = 5.1  # the operation mix below makes about this many records per operation


def generate(records: int, users: int, seed: int) -> list[dict[str, Any]]:
    """About 90% user operations over a duration sized to fill them, 10% broadcasts."""
    duration = max(60.0, records * 0.9 / (users * RECORDS_PER_OP))
    synth = Synth(users, duration=duration, seed=seed)
    synth.faults()
    sessions_before = len(synth.records)
    for number in range(1, users + 1):
        synth.user(number, limit=int(records * 0.9 * number / users) + sessions_before)
    sessions = [
        (r["process"], r["session"])
        for r in synth.records
        if r["f"] == "initialize" and r["type"] == "ok"
    ]
    room = max(0, records - len(synth.records))
    count = max(1, room // max(1, len(sessions) + 2))
    synth.broadcasts(max(1.0, (synth.duration - 20) / count), sessions)
    return synth.records[:records]


def write_generated(run_dir: Path, records: int, users: int, seed: int) -> int:
    """generate()'s history written without holding it: each batch of users sorted into a
    temporary file, then the batches merged by time into the worker files. The count."""
    duration = max(60.0, records * 0.9 / (users * RECORDS_PER_OP))
    synth = Synth(users, duration=duration, seed=seed)
    synth.faults()
    sessions_before = len(synth.records)
    batches: list[Path] = []
    sessions: list[tuple[str, str]] = []
    run_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="batches-", dir=run_dir) as spill:
        for number in range(1, users + 1):
            synth.user(number, limit=int(records * 0.9 * number / users) + sessions_before)
            if number % BATCH_USERS == 0 or number == users:
                batch = synth.take()
                sessions += [
                    (r["process"], r["session"])
                    for r in batch
                    if r["f"] == "initialize" and r["type"] == "ok"
                ]
                batches.append(_spill(Path(spill) / f"{number}.jsonl", batch))
        room = max(0, records - synth.flushed)
        count = max(1, room // max(1, len(sessions) + 2))
        synth.broadcasts(max(1.0, (synth.duration - 20) / count), sessions)
        batches.append(_spill(Path(spill) / "broadcasts.jsonl", synth.take()))
        streams = [_read_lines(path) for path in batches]
        merged = heapq.merge(*streams, key=itemgetter("time"))
        return write(run_dir, (r for _, r in zip(range(records), merged, strict=False)))


def _spill(path: Path, records: list[dict[str, Any]]) -> Path:
    with open(path, "wb") as file:
        file.writelines(map(dumps_line, records))
    return path


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as file:
        for line in file:
            yield loads(line)


def write(run_dir: Path, records: Iterable[dict[str, Any]]) -> int:
    files: dict[str, HistoryWriter] = {}
    count = 0
    ordered = records if not isinstance(records, list) else sorted(records, key=itemgetter("time"))
    for record in ordered:
        count += 1
        process = record["process"]
        worker = "harness" if process == "nemesis" else process.split("-", 1)[0]
        writer = files.get(worker)
        if writer is None:
            writer = files[worker] = HistoryWriter(history_path(run_dir, worker), 0)
        writer.write(record)
    for writer in files.values():
        writer.close()
    return count


def timed(label: str, action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - started
    print(f"{label:<26}{seconds:8.2f} s", flush=True)
    return result, seconds


def analyze(run_dir: Path, listed: bool) -> None:
    """The analysis alone, in this process: its stages, time and peak RSS."""
    ctx = CheckContext(store="redis", scenario="mixed", protocol=PROTOCOL)
    # what analyze_run runs for a soak of this scenario: its checkers, then leak and drift
    names = [*SCENARIOS[ctx.scenario].checkers_in(ctx.protocol), *LONGEVITY]
    if listed:
        history, read_s = timed("read_history", lambda: read_history(run_dir))
        results, check_s = timed("check_history", lambda: check_history(history, ctx, names=names))
        _, metrics_s = timed("compute_metrics", lambda: compute_metrics(history, results))
        frames, frames_s = timed("frames_of", lambda: frames_of(history))
        total = read_s + check_s + metrics_s + frames_s
    else:
        consumers = {**checker_consumers(ctx, names), METRICS: run_metrics, FRAMES: frames_of}
        fed, total = timed("streamed pass", lambda: streamed_pass(run_dir, consumers))
        for name in (METRICS, FRAMES):
            print(f"  {name:<24}{fed[name].seconds:8.2f} s")
        run, frames = fed.pop(METRICS).result(), fed.pop(FRAMES).result()
        results = checker_results(fed)
        with_checker_counts(run, results)
    for result in results:
        print(
            f"  {result.name:<24}{result.seconds or 0.0:8.2f} s  "
            f"{result.valid!s:<8}{result.summary[:70]}"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(
        f"analysed {frames.records:,} records in {total:.1f} s, peak RSS {rss:.0f} MiB here "
        f"({'list' if listed else 'streamed'}; verdict {merge_validity(results)})"
    )


def _peak_group_memory(command: list[str], cwd: Path) -> tuple[float, float]:
    """Runs ``command`` in a process group of its own until it ends; the peaks, in MiB, of
    the memory of the group (the analysis and the passes it forks), sampled every
    SAMPLE_EVERY seconds: the proportional set size, in which a page a forked pass shares
    with the analysis counts once, and the RSS (in which it counts in each)."""
    child = subprocess.Popen(command, cwd=cwd, start_new_session=True)
    pss = rss = 0
    try:
        while child.poll() is None:
            now = group_resources(child.pid)
            rss = max(rss, now["rss"] if now else 0)
            pss = max(pss, group_pss(child.pid))
            time.sleep(SAMPLE_EVERY)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, command)
    return pss / (1 << 20), rss / (1 << 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="write the run dir here and keep it")
    parser.add_argument("--list", action="store_true", help="analyse the old way (a list)")
    parser.add_argument("--analyze", type=Path, help="only analyse this run dir, here")
    parser.add_argument(
        "--again", type=Path, help="measure the analysis of a history kept by --keep"
    )
    args = parser.parse_args()
    if args.analyze:
        analyze(args.analyze, args.list)
        return
    if args.again:
        measure(args.again, _records_in(args.again))
        return
    if args.keep is not None and history_files(args.keep):
        # The writers append: a second history would follow the first in every file, out of
        # time order, and the analysis would read both.
        parser.error(
            f"--keep {args.keep}: it already holds a history ({history_files(args.keep)[0].name}"
            "...); measure it with --again, or give a new or empty directory"
        )
    run_dir = args.keep or Path(tempfile.mkdtemp(prefix="mcp-scale-bench-"))
    try:
        started = time.perf_counter()
        count = write_generated(run_dir, args.records, args.users, args.seed)
        size = sum(p.stat().st_size for p in run_dir.glob("history-*.jsonl")) / 1e6
        print(
            f"generated {count:,} records ({size:.0f} MB) in "
            f"{time.perf_counter() - started:.1f} s: {run_dir}",
            flush=True,
        )
        measure(run_dir, args.records, args.list)
    finally:
        if args.keep is None:
            shutil.rmtree(run_dir, ignore_errors=True)


def measure(run_dir: Path, records: int, listed: bool = False) -> None:
    """The analysis of ``run_dir`` in a fresh process, timed, with the peak memory of it and
    the passes it forks, against the targets scaled to ``records``."""
    command = [sys.executable, "-m", "bench.analysis_speed", "--analyze", str(run_dir)]
    started = time.perf_counter()
    root = Path(__file__).resolve().parents[1]
    pss, rss = _peak_group_memory(command + (["--list"] if listed else []), root)
    seconds = time.perf_counter() - started
    scale = records / TARGET_RECORDS
    print(
        f"analysis: {seconds:.1f} s (process included), peak memory {pss:.0f} MiB (PSS "
        f"summed over its processes; RSS {rss:.0f} MiB); target "
        f"{TARGET_SECONDS * scale:.1f} s and {TARGET_RSS_MIB:g} MiB at {records:,} "
        f"records ({TARGET_SECONDS:g} s at {TARGET_RECORDS:,})"
    )


def _records_in(run_dir: Path) -> int:
    """The number of lines of the run's history files (a record each)."""
    count = 0
    for path in run_dir.glob("history-*.jsonl"):
        with open(path, "rb") as file:
            count += sum(block.count(b"\n") for block in iter(lambda: file.read(1 << 24), b""))
    return count


if __name__ == "__main__":
    main()
