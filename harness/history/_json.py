"""The JSON codec of history files: orjson when it is installed, the standard library else."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

try:  # pragma: no cover - depends on the environment
    import orjson

    def _orjson_line(record: Any) -> bytes:
        return cast(bytes, orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE, default=str))

    dumps_line: Callable[[Any], bytes] = _orjson_line
    loads: Callable[[bytes | str], Any] = orjson.loads
except ImportError:
    _encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode

    def _json_line(record: Any) -> bytes:
        return (_encode(record) + "\n").encode("utf-8")

    dumps_line = _json_line
    loads = json.loads

DecodeError: type[ValueError] = ValueError  # json.JSONDecodeError and orjson's both derive it
