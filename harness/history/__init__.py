"""The append-only history of a run: one JSON line per record, Jepsen's op shape.

See FORMAT.md beside this file for the record fields and the rules that tie them together.
"""

from harness.history.reader import history_files, read_history, read_history_file
from harness.history.record import (
    COMPLETIONS,
    EVENT_FS,
    OP_TYPES,
    OpType,
    Record,
    make_record,
)
from harness.history.writer import HistoryWriter, history_path

__all__ = [
    "COMPLETIONS",
    "EVENT_FS",
    "OP_TYPES",
    "HistoryWriter",
    "OpType",
    "Record",
    "history_files",
    "history_path",
    "make_record",
    "read_history",
    "read_history_file",
]
