"""From a run directory to a verdict: history -> checkers -> metrics -> gates -> report.

Reads only what the run wrote (its manifest and history files), so it works the same
on a run that just finished, one that crashed, and one copied from another machine.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import pickle
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Lock
from pathlib import Path
from typing import Any, cast

from harness import allocator
from harness.checkers import CHECKERS, CheckContext, checker_consumers, checker_results, leak
from harness.gates import evaluate, parse_thresholds, run_metrics, with_checker_counts
from harness.history import Reading, for_each_pass, history_files, iter_history
from harness.history.fanout import Consumer, Fed, fan_out
from harness.report import RunData, load_run
from harness.report.frames import frames_of
from harness.run.directory import RunManifest
from scenarios.registry import SCENARIOS

# Trends need steady load and time: leak (resource slopes) and drift (first window against
# the last) judge soak runs of at least this long. A short run's Redis memory still grows
# while the per-session event logs fill, which is not a leak but would read as one.
LEAK_MIN_DURATION = 40.0
LONGEVITY_SHAPES = ("soak",)
LONGEVITY = ("leak", "drift")  # checkers added by shape and duration, not by scenario
METRICS, FRAMES = "metrics (run)", "frames (report)"  # beside the checkers in the pass
# Passes run at once, each in a process of its own (forked, so the consumers need not be
# pickled, only their results), for a history of at least PARALLEL_BYTES: one per core, as
# the passes are CPU-bound, and two at most, as each holds its group's state. A smaller
# history is read in this process, where starting processes would cost more than it saves.
WORKERS = max(1, min(2, len(os.sched_getaffinity(0))))
PARALLEL_BYTES = 64 << 20
# Bytes of state a consumer holds per byte of history: tracemalloc's peak over a pass of the
# consumer alone, less the pass's own, over bench/analysis_speed's 1M-record history, times
# 1.3 for what the allocator holds beyond it (RSS); DEFAULT_STATE for a consumer not
# measured (listen and mrtr's stateless histories: more than most, to be safe).
STATE_PER_BYTE = {
    "delivery": 0.11,
    FRAMES: 0.066,
    "routing": 0.065,
    "isolation": 0.06,
    "broadcast": 0.045,
    "survival": 0.02,
    "drift": 0.02,
    METRICS: 0.007,
    "liveness": 0.005,
    "metadata": 0.001,
    "leak": 0.001,
}
DEFAULT_STATE = 0.03
# The state all the passes running at once may hold, by STATE_PER_BYTE. The table's peaks
# are each consumer's alone and at its end, so passes that hold this much by it hold less
# at once: at bench/analysis_speed's 10M records (2.8 GB), two passes holding 1,124 MB by
# the table peaked at 897-964 MiB PSS in all, the analysis's own 192 MiB included.
STATE_BUDGET = 1200 << 20


def analyze_run(run_dir: Path, label: str | None = None) -> RunData:
    """The run's checkers (those its scenario can decide), metrics and threshold results.

    The history is read once, streamed chunk by chunk into every checker, the metrics and
    the report's frames at once (harness.history.fanout), so a day-long soak is analysed in
    bounded memory.
    """
    manifest = RunManifest.read(run_dir)
    ctx = CheckContext.from_manifest(manifest)
    consumers = {
        **checker_consumers(ctx, checker_names(manifest, ctx), checker_options(manifest)),
        METRICS: run_metrics,
        FRAMES: frames_of,
    }

    fed = streamed_pass(run_dir, consumers)
    run, frames = fed.pop(METRICS).result(), fed.pop(FRAMES).result()
    results = checker_results(fed)
    metrics = with_checker_counts(run, results)
    thresholds = manifest.thresholds if manifest else []
    gates = evaluate(parse_thresholds(thresholds), metrics)
    return load_run(
        run_dir,
        label=label,
        results=results,
        gates=gates,
        metrics=metrics,
        manifest=manifest,
        frames=frames,
    )


def checker_names(manifest: RunManifest | None, ctx: CheckContext) -> list[str]:
    """The checkers the run's scenario can decide, and leak and drift for a long soak."""
    scenario = SCENARIOS.get(ctx.scenario)
    names = (
        list(scenario.checkers_in(ctx.protocol))
        if scenario
        else [n for n in CHECKERS if n not in LONGEVITY]
    )
    soak = manifest is not None and manifest.shape in LONGEVITY_SHAPES
    if soak and ctx.duration >= LEAK_MIN_DURATION:
        names += LONGEVITY
    return names


def streamed_pass(run_dir: Path, consumers: Mapping[str, Consumer]) -> dict[str, Fed]:
    """Every consumer fed from a streamed pass over the run's history (read again with a
    wider reorder window if a file is further out of order than the default).

    What the consumers keep grows with the history (per notify, per message...): when all
    of it would exceed STATE_BUDGET, the history is read once for each of several groups of
    consumers (consumer_groups), so that only some groups' state is held at a time; the
    report's frames, whose result is the largest, come last. A history of PARALLEL_BYTES or
    more is read by WORKERS passes at once, each group holding at most STATE_BUDGET /
    WORKERS (a consumer that needs more has a group of its own)."""
    size = sum(path.stat().st_size for path in history_files(run_dir))
    workers = WORKERS if size >= PARALLEL_BYTES and _fork_safe() else 1
    groups = consumer_groups(consumers, size, workers)
    if workers == 1 or len(groups) == 1:
        fed: dict[str, Fed] = {}
        for group in groups:
            fed.update(_group_pass(run_dir, group))
    else:
        fed = _parallel_passes(run_dir, groups, workers)
    return {name: fed[name] for name in consumers}


def _group_pass(
    run_dir: Path, group: Mapping[str, Consumer], before_end: Callable[[], object] | None = None
) -> dict[str, Fed]:
    def one_pass(reading: Reading) -> dict[str, Fed]:
        with _no_gc():
            history = iter_history(run_dir, reading.window, on_disk=reading.on_disk)
            return fan_out(history, group, before_end)

    return for_each_pass(one_pass)


# What a forked pass reads: the run, the groups, and the lock that a pass holds from its
# last record until it has sent its results (_forked_pass)
_FORKED: tuple[Path, list[dict[str, Consumer]], Lock] | None = None


def _parallel_passes(
    run_dir: Path, groups: list[dict[str, Consumer]], workers: int
) -> dict[str, Fed]:
    """The groups' passes, ``workers`` at a time, each in a new forked process (one that had
    held a group's state would keep its memory into the next). A pass that dies without a
    result (killed, out of memory) is an error, not a wait for ever: its pipe ends."""
    global _FORKED
    context = multiprocessing.get_context("fork")
    _FORKED = (run_dir, groups, context.Lock())
    waiting = list(range(len(groups)))
    running: dict[Connection, tuple[int, BaseProcess]] = {}
    fed: dict[str, Fed] = {}
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                number = waiting.pop(0)
                receive, send = context.Pipe(duplex=False)
                child = context.Process(target=_forked_pass, args=(number, send), daemon=True)
                child.start()
                send.close()
                running[receive] = (number, child)
            for ready in wait(list(running)):
                number, process = running.pop(cast(Connection, ready))
                fed.update(_received(cast(Connection, ready), process, groups[number]))
    finally:
        _FORKED = None
        for pipe, (_, process) in running.items():
            process.kill()
            process.join()
            pipe.close()
    return fed


def _received(
    pipe: Connection, process: BaseProcess, group: Mapping[str, Consumer]
) -> dict[str, Fed]:
    """What a forked pass sent: its consumers' results, or what it raised (raised here).
    Unpickled as it streams from the pipe: a soak's frames are hundreds of MB, which
    Connection.recv would first gather whole into a buffer, then copy into objects."""
    try:
        with open(pipe.fileno(), "rb", closefd=False) as stream:
            outcome, value = pickle.load(stream)
    except (EOFError, pickle.UnpicklingError):
        process.join()
        raise RuntimeError(
            f"the analysis's pass of {', '.join(group)} ended without a result "
            f"(exit code {process.exitcode})"
        ) from None
    finally:
        pipe.close()
    process.join()
    if outcome == "raised":
        raise value
    return cast(dict[str, Fed], value)


def _forked_pass(number: int, pipe: Connection) -> None:
    """One group's pass, in a forked process. What a consumer raised goes back as itself if
    it pickles, else as a RuntimeError naming it (the checkers turn theirs into results
    with the traceback as text beforehand); so does what the pass itself raised. Pickled
    straight into the pipe, never whole in memory (see _received).

    The passes end one at a time: a consumer's end (delivery's tally, the frames' tables)
    takes a hundred MB more for a moment, and the results grow the parent by as much. The
    passes that run at once take about as long, so they would end together, and their ends
    added up. The other pass waits at its last record, for the seconds this one takes to
    end, and this one gives back what its consumers freed before it sends its results."""
    if _FORKED is None:
        raise RuntimeError("a forked pass runs only under _parallel_passes")
    run_dir, groups, ending = _FORKED
    allocator.map_big_blocks_apart()
    holding: list[bool] = []
    try:
        sent: tuple[str, Any] = (
            "fed",
            _group_pass(run_dir, groups[number], lambda: holding.append(ending.acquire())),
        )
    except Exception as exc:
        sent = ("raised", _picklable(exc))
    else:
        for one in sent[1].values():
            if one.error is not None:
                one.error = _picklable(one.error)
    allocator.give_back_freed_memory()
    with open(pipe.fileno(), "wb", closefd=False) as stream:
        pickle.dump(sent, stream, protocol=pickle.HIGHEST_PROTOCOL)
    if holding:
        ending.release()


def _picklable(exc: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _fork_safe() -> bool:
    """A forked child gets only the thread that forked: a lock another thread held then (a
    capacity search's cluster threads, logging) would stay held in it for ever. So fork only
    from a process of one thread, not monkey-patched by gevent (a Locust process)."""
    monkey = sys.modules.get("gevent.monkey")
    patched = monkey is not None and monkey.is_anything_patched()
    return threading.active_count() == 1 and not patched


def consumer_groups(
    consumers: Mapping[str, Consumer], size: int, workers: int = 1
) -> list[dict[str, Consumer]]:
    """The consumers of a history of ``size`` bytes in as few groups as hold at most
    STATE_BUDGET / ``workers`` each (by STATE_PER_BYTE), and at least ``workers``, so that
    every core reads; the group with the report's frames last. The largest first, each goes
    to the lightest group with room for it, so that the passes that run at once hold about
    as much; a consumer with room in no group makes one more group, and the placing starts
    again."""
    cap = STATE_BUDGET / workers
    state = {name: size * STATE_PER_BYTE.get(name, DEFAULT_STATE) for name in consumers}
    largest = sorted(consumers, key=lambda name: -state[name])
    # a consumer over the cap fills a group of its own, and no more than one
    least = math.ceil(sum(min(held, cap) for held in state.values()) / cap)
    for count in range(max(1, min(len(consumers), max(workers, least))), len(consumers) + 1):
        groups = _placed(largest, state, cap, count)
        if groups is not None:
            break
    else:  # a consumer a group: each holds what it must, however much
        groups = [[name] for name in largest]
    ordered = [{name: consumers[name] for name in group} for group in groups if group]
    ordered.sort(key=lambda group: FRAMES in group)
    return ordered


def _placed(
    largest: list[str], state: Mapping[str, float], cap: float, count: int
) -> list[list[str]] | None:
    """``largest`` in ``count`` groups, each to the lightest with room for its state (an
    empty group has room for anything); None if one has room in none."""
    groups: list[list[str]] = [[] for _ in range(count)]
    held = [0.0] * count
    for name in largest:
        room = [i for i in range(count) if not groups[i] or held[i] + state[name] <= cap]
        if not room:
            return None
        lightest = min(room, key=held.__getitem__)
        groups[lightest].append(name)
        held[lightest] += state[name]
    return groups


@contextmanager
def _no_gc() -> Iterator[None]:
    """The records are plain acyclic dicts, freed as soon as every consumer has seen them;
    the cyclic GC would only rescan the checkers' growing indexes again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def checker_options(manifest: RunManifest | None) -> dict[str, dict[str, Any]]:
    """The leak and drift checks' settings, as the run was given them (RunProfile)."""
    if manifest is None:
        return {}
    leak_thresholds = {
        metric: float(value)
        for metric, key in leak.PROFILE_KEYS.items()
        if (value := manifest.setting(key)) is not None
    }
    return {
        "leak": {
            "thresholds": leak_thresholds,
            "warmup": manifest.setting("leak_warmup"),
            "memory_limit": manifest.setting("memory_limit"),
        },
        "drift": {
            "p99_growth": manifest.setting("drift_p99"),
            "min_growth": manifest.setting("drift_min"),
        },
    }
