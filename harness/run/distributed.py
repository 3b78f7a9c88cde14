"""Load from many machines on Locust's own master/worker protocol, one history at the master.

``mcp-scale run --master-bind HOST:PORT --expect-workers N`` runs Locust as a master that
waits for N workers; ``mcp-scale worker --master HOST:PORT`` starts one (``locust -f -``:
the scenario comes from the master). Over Locust's custom messages:

- a remote worker (a worker without a run directory) asks for the run's manifest
  (``mcp_manifest``) before its users start, and ships its history records in batches
  (``mcp_history``, JSON lines, at least every ``SHIP_EVERY`` seconds);
- the master appends each worker's lines to ``history-w<index>.jsonl`` in the run directory,
  so the checkers read one history as from any run. When Locust reports a worker missing
  (no heartbeat), its records until then stay, and the master records the loss: a
  ``worker-lost`` record (process ``harness``) and, for each listening stream the worker
  held, a ``stream_break`` "closed by client" at its last record: after that nothing it
  received is known, so messages due later are censored, not lost.

Workers started by ``--processes`` on the harness's machine write their own files as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import gevent.event
from locust.env import Environment
from locust.rpc.protocol import Message
from locust.runners import MasterRunner, WorkerRunner

from harness.client.locust_user import LocustHook, ProcessState, _states
from harness.client.transport import Transport
from harness.history import HARNESS, Record, make_record
from harness.history._json import dumps_line, loads
from harness.run.directory import RunFiles, RunManifest

HISTORY_MESSAGE = "mcp_history"
MANIFEST_MESSAGE = "mcp_manifest"
SHIP_EVERY = 0.1  # seconds: what a SIGKILLed worker can lose, as a HistoryWriter's flush
WORKER_LOST = "worker-lost"
CLIENT_CLOSED = "closed by client"  # a stream_break reason (harness/history/FORMAT.md)


class ShippingHook(LocustHook):
    """A worker's client hook: each record is queued for the master, then counted by Locust."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment, None)
        self.lines: list[bytes] = []

    def __call__(self, record: Record) -> None:
        self.lines.append(dumps_line(record))
        super().__call__(record)

    def ship(self, runner: WorkerRunner) -> None:
        if self.lines:
            lines, self.lines = self.lines, []
            runner.send_message(HISTORY_MESSAGE, {"lines": b"".join(lines).decode()})


# The manifest a remote worker got from its master (set once, before its users start).
received = gevent.event.AsyncResult()


def setup_worker(environment: Environment, configure: Callable[[RunManifest], None]) -> None:
    """On a remote worker: ask the master for the manifest (``configure`` applies it) and
    ship every record the users make to the master."""
    runner = environment.runner
    assert isinstance(runner, WorkerRunner)

    def on_manifest(msg: Message, **_: Any) -> None:
        manifest = RunManifest.from_dict(dict(msg.data), "the master's run.json")
        configure(manifest)
        received.set(manifest)

    runner.register_message(MANIFEST_MESSAGE, on_manifest)
    runner.send_message(MANIFEST_MESSAGE, None)
    hook = ShippingHook(environment)

    def start(**_: Any) -> None:
        if environment not in _states:
            worker = f"w{runner.worker_index}"
            _states[environment] = ProcessState(worker, Transport(), hook, None)
        gevent.spawn(ship_loop)

    def ship_loop() -> None:
        # Bounded by the worker's life: it ends with the process.
        while True:
            hook.ship(runner)
            gevent.sleep(SHIP_EVERY)

    on_start: Callable[..., Any] = environment.events.test_start.add_listener
    on_stop: Callable[..., Any] = environment.events.test_stop.add_listener
    on_start(start)
    on_stop(lambda **_: hook.ship(runner))


@dataclass
class WorkerHistory:
    """What the master knows of one remote worker's history: its file and open streams."""

    path: Path
    last_time: float | None = None
    records: int = 0
    streams: dict[str, str] = field(default_factory=dict)  # session -> stream process

    def append(self, text: str) -> None:
        with self.path.open("ab") as file:
            file.write(text.encode())
        for line in text.splitlines():
            record = loads(line)
            self.records += 1
            self.last_time = float(record["time"])
            session = record.get("session")
            if record["f"] == "stream_open" and record["type"] == "ok" and session:
                self.streams[session] = str(record["process"])
            elif record["f"] == "stream_break" and session:
                self.streams.pop(session, None)

    def lost(self, worker: str) -> None:
        """The worker stopped answering: its streams closed at its last record, and why."""
        at = self.last_time
        lines = []
        for session, process in sorted(self.streams.items()) if at is not None else []:
            value: dict[str, Any] = {"reason": CLIENT_CLOSED, "last_event_id": None}
            value["worker_lost"] = worker
            record = make_record("ok", process, "stream_break", value, session=session)
            lines.append(_at(record, at))
        lost: dict[str, Any] = {"worker": worker, "last_record": at, "records": self.records}
        lost["streams_closed"] = len(lines)
        lines.append(make_record("info", HARNESS, WORKER_LOST, lost, error="no heartbeat"))
        with self.path.open("ab") as file:
            file.writelines(dumps_line(line) for line in lines)
        self.streams.clear()


def _at(record: Record, time: float | None) -> Record:
    if time is not None:
        record["time"] = time
    return record


def setup_master(environment: Environment, run_dir: Path) -> None:
    """On the master: write what remote workers ship, and record the ones that go missing."""
    runner = environment.runner
    assert isinstance(runner, MasterRunner)
    files = RunFiles(run_dir)
    workers: dict[str, WorkerHistory] = {}
    lost: set[str] = set()

    def history_of(client_id: str) -> WorkerHistory:
        if client_id not in workers:
            name = f"w{_index(runner, client_id)}"
            workers[client_id] = WorkerHistory(files.history(name))
        return workers[client_id]

    def on_history(msg: Message, **_: Any) -> None:
        if msg.node_id not in lost:
            history_of(msg.node_id).append(str(msg.data["lines"]))

    def on_manifest(msg: Message, **_: Any) -> None:
        manifest = RunManifest.read(run_dir)
        data = manifest.to_dict() if manifest else None
        runner.send_message(MANIFEST_MESSAGE, data, client_id=msg.node_id)

    def watch() -> None:
        # Bounded by the master's life: it ends with the process.
        while True:
            for client in runner.clients.missing:
                if client.id not in lost and client.id in workers:
                    lost.add(client.id)
                    workers[client.id].lost(f"w{_index(runner, client.id)}")
            gevent.sleep(1.0)

    runner.register_message(HISTORY_MESSAGE, on_history)
    runner.register_message(MANIFEST_MESSAGE, on_manifest)
    gevent.spawn(watch)


def _index(runner: MasterRunner, client_id: str) -> int:
    index: int = runner.get_worker_index(client_id)  # type: ignore[no-untyped-call]
    return index
