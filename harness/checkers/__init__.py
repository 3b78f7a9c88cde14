"""Checkers: each reads a run's merged history and says what was lost, crossed or hung.

A checker is a function ``check(history, ctx) -> CheckResult`` (Jepsen's shape: valid is
True, False or "unknown", with counts and the first offending records as examples). Each
makes one pass over the history, keeping dicts keyed by session, process or nonce.

    results = check_history(read_history(run_dir), CheckContext.from_run_dir(run_dir))
    verdict = merge_validity(results)

A history too big to hold is checked in one streamed pass instead (harness.analysis):
``checker_consumers`` fed by ``harness.history.fanout.fan_out``, then ``checker_results``.

``CHECKERS`` maps each name to its function, ``COUNTS`` each name to the counts it reports
(the gates validate ``<checker>.<count>`` metric names against them), ``READS`` each name to
the records it reads (``reads(ctx)``: a streamed pass hands it only those).
"""

from __future__ import annotations

import gc
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any

from harness.checkers import (
    broadcast,
    delivery,
    drift,
    isolation,
    leak,
    listen,
    liveness,
    metadata,
    mrtr,
    routing,
    survival,
)
from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult, Validity, merge_validity
from harness.history import Record
from harness.history.fanout import Consumer, Fed, Reads, Selective

Checker = Callable[[Iterable[Record], CheckContext], CheckResult]

_MODULES = (
    survival,
    delivery,
    routing,
    isolation,
    broadcast,
    metadata,
    listen,
    mrtr,
    liveness,
    leak,
    drift,
)
CHECKERS: dict[str, Checker] = {module.NAME: module.check for module in _MODULES}
COUNTS: dict[str, tuple[str, ...]] = {module.NAME: module.COUNTS for module in _MODULES}
# Which records each reads in a streamed pass (None: all of them)
READS: dict[str, Callable[[CheckContext], Reads | None]] = {
    module.NAME: module.reads for module in _MODULES
}


def check_history(
    history: list[Record],
    ctx: CheckContext | None = None,
    names: Iterable[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[CheckResult]:
    """Runs the named checkers (all by default) in CHECKERS order; a checker that raises
    yields valid "unknown" with the exception in its summary, never a crashed run.

    ``options`` gives a checker its keyword options by name, e.g.
    ``{"delivery": {"late_after": 2.0}}``. ``seconds`` of each result says how long its
    checker took.
    """
    ctx = ctx or CheckContext()
    with _no_gc():
        return [
            run_checker(name, checker, history, ctx)
            for name, checker in _wanted(names, options).items()
        ]


def checker_consumers(
    ctx: CheckContext | None = None,
    names: Iterable[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Consumer]:
    """The named checkers (all by default) as consumers of one streamed pass
    (harness.history.fanout); each returns its CheckResult. Collect them with
    :func:`checker_results`."""
    ctx = ctx or CheckContext()
    consumers: dict[str, Consumer] = {}
    for name, checker in _wanted(names, options).items():
        consumer = partial(_guarded, name, checker, ctx)
        reads = READS[name](ctx)
        consumers[name] = consumer if reads is None else Selective(consumer, reads)
    return consumers


def checker_results(fed: Mapping[str, Fed]) -> list[CheckResult]:
    """The results of checker_consumers after a pass, in their order, each with ``seconds``
    of its own work."""
    results = []
    for fed_one in fed.values():
        result: CheckResult = fed_one.result()
        result.seconds = round(fed_one.seconds, 4)
        results.append(result)
    return results


def _wanted(
    names: Iterable[str] | None, options: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, Checker]:
    wanted = list(CHECKERS) if names is None else list(names)
    unknown = [name for name in wanted if name not in CHECKERS]
    if unknown:
        raise ValueError(f"unknown checkers {unknown}; known: {', '.join(CHECKERS)}")
    options = options or {}
    return {name: partial(CHECKERS[name], **options.get(name, {})) for name in wanted}


def _guarded(
    name: str, checker: Checker, ctx: CheckContext, history: Iterable[Record]
) -> CheckResult:
    try:
        return checker(history, ctx)
    except Exception as exc:
        return _crashed(name, exc)


def _crashed(name: str, exc: Exception) -> CheckResult:
    summary = f"checker crashed: {type(exc).__name__}: {exc}"
    return CheckResult(name, "unknown", summary, traceback=traceback.format_exc(limit=8))


def run_checker(
    name: str, checker: Checker, history: Iterable[Record], ctx: CheckContext
) -> CheckResult:
    """One checker, timed, with its exceptions turned into an "unknown" result."""
    started = time.perf_counter()
    try:
        result = checker(history, ctx)
    except Exception as exc:
        result = _crashed(name, exc)
    result.seconds = round(time.perf_counter() - started, 4)
    return result


@contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic GC would rescan the history's millions of dicts again and again while the
    checkers allocate their indexes (half their time at a million records): pause it, and
    freeze what exists (the history: plain acyclic dicts that live as long as the analysis)
    so that no later collection walks it either (a full one takes seconds at 1M records)."""
    enabled = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


__all__ = [
    "CHECKERS",
    "COUNTS",
    "CheckContext",
    "CheckResult",
    "Checker",
    "Validity",
    "check_history",
    "checker_consumers",
    "checker_results",
    "merge_validity",
    "run_checker",
]
