"""The append-only history of a run: one JSON line per record, Jepsen's op shape.

See FORMAT.md beside this file for the record fields and the rules that tie them together.
"""

from harness.history.reader import (
    HistoryError,
    history_files,
    read_history,
    read_history_file,
)
from harness.history.record import (
    COMPLETIONS,
    OP_TYPES,
    OpType,
    Record,
    make_record,
)
from harness.history.stream import HistoryDisorder, Reading, for_each_pass, iter_history
from harness.history.vocabulary import (
    EVENT_FS,
    HARNESS,
    MONITOR,
    NEMESIS,
    NOT_CLIENTS,
    RUN_END,
    RUN_START,
    SAMPLE,
    STREAM_SUFFIX,
    is_client,
    is_client_op,
    is_run_end,
    is_run_start,
)
from harness.history.writer import HistoryWriter, history_path

__all__ = [
    "COMPLETIONS",
    "EVENT_FS",
    "HARNESS",
    "MONITOR",
    "NEMESIS",
    "NOT_CLIENTS",
    "OP_TYPES",
    "RUN_END",
    "RUN_START",
    "SAMPLE",
    "STREAM_SUFFIX",
    "HistoryDisorder",
    "HistoryError",
    "HistoryWriter",
    "OpType",
    "Reading",
    "Record",
    "for_each_pass",
    "history_files",
    "history_path",
    "is_client",
    "is_client_op",
    "is_run_end",
    "is_run_start",
    "iter_history",
    "make_record",
    "read_history",
    "read_history_file",
]
