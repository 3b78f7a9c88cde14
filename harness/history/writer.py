"""HistoryWriter: appends records as JSON lines to one file, flushed as the run goes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import IO, Any

from harness.history._json import dumps_line
from harness.history.record import Record

FILE_PREFIX = "history-"
FILE_SUFFIX = ".jsonl"


def history_path(run_dir: str | os.PathLike[str], worker: str) -> Path:
    """Where the worker named ``worker`` writes: ``<run_dir>/history-<worker>.jsonl``."""
    return Path(run_dir) / f"{FILE_PREFIX}{worker}{FILE_SUFFIX}"


class HistoryWriter:
    """Appends records to one file; safe from many greenlets (and threads) of one process.

    Each ``write`` encodes one record and appends it to a buffer that is handed to the
    operating system at least every ``flush_interval`` seconds (0 flushes every record), by
    the writing call or by a small daemon flusher, so a SIGKILLed run loses at most that much.
    Nothing inside ``write`` switches greenlets, so lines never interleave.
    """

    def __init__(self, path: str | os.PathLike[str], flush_interval: float = 0.1) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.flush_interval = flush_interval
        self.count = 0
        _cut_torn_tail(self.path)
        self._file: IO[bytes] | None = open(self.path, "ab")  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()
        self._dirty = False
        self._last_flush = time.monotonic()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        if flush_interval > 0:
            self._flusher = threading.Thread(
                target=self._flush_loop, name="history-flusher", daemon=True
            )
            self._flusher.start()

    def write(self, record: Record | dict[str, Any]) -> None:
        line = dumps_line(record)
        with self._lock:
            if self._file is None:
                return
            self._file.write(line)
            self.count += 1
            self._dirty = True
            if time.monotonic() - self._last_flush >= self.flush_interval:
                self._flush_locked()

    __call__ = write

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._file is None:
                return
            self._flush_locked()
            self._file.close()
            self._file = None
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join(timeout=2)

    def _flush_locked(self) -> None:
        if self._file is not None and self._dirty:
            self._file.flush()
            self._dirty = False
        self._last_flush = time.monotonic()

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.flush_interval):
            if self._dirty:
                self.flush()

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cut_torn_tail(path: Path) -> None:
    """Drop a last line that a crash cut short, so that appending never glues onto it."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "rb+") as file:
        file.seek(size - 1)
        if file.read(1) == b"\n":
            return
        keep = size
        while keep > 0:
            step = min(keep, 65536)
            file.seek(keep - step)
            block = file.read(step)
            cut = block.rfind(b"\n")
            if cut >= 0:
                keep = keep - step + cut + 1
                break
            keep -= step
        file.truncate(keep)
