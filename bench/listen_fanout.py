"""One change to many receivers on another node: the subscription bus (2026-07-28 listen
streams) against the stream manager's broadcast (2025-11-25 sessions with open GET streams).

One command runs both sides: it starts a redis-server of its own, two nodes' worth of each
backend in this process (node A sends, node B holds ``--receivers`` receivers), and for
``--rounds`` rounds times how long one change takes from the call on A until every receiver
on B has it:

- ``bus``: ``RedisSubscriptionBus.publish`` on A; B's receivers are ``listen()`` streams.
- ``streams``: ``RedisStreamManager.deliver_many`` on A to every session; B's receivers are
  open streams (one event-log append per session: what a 2025 broadcast does).

It prints, per side, the median and worst round in ms and the bus's speed-up (streams over
bus). Both sides share this process's one event loop, so the numbers are for comparing the
two, not absolute. Every process it starts is stopped on exit.

Usage::

    .venv/bin/python -m bench.listen_fanout [--receivers 1000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import AsyncGenerator, Awaitable, Callable

from harness.cluster.redis_process import RedisProcess
from reference_server.protocol import JsonDict
from reference_server.redis_guard import RedisGuard, connect, connect_subscriber
from reference_server.stats import NodeStats
from reference_server.streams import RedisStreamManager
from reference_server.streams.base import EventLogLimits
from reference_server.subscriptions import Change, listen
from reference_server.subscriptions.redis import RedisSubscriptionBus

TIMEOUT = 1.0
# Bound on one round: a change that does not reach every receiver by then fails the bench.
ROUND_LIMIT = 60.0


def bus_on(url: str, node_id: str) -> RedisSubscriptionBus:
    stats = NodeStats()
    return RedisSubscriptionBus(
        connect(url, TIMEOUT, hang=False),
        connect_subscriber(url, TIMEOUT),
        RedisGuard(stats, hang=False),
        node_id,
        frozenset(),
        stats,
    )


def streams_on(url: str, node_id: str) -> RedisStreamManager:
    stats = NodeStats()
    return RedisStreamManager(
        connect(url, TIMEOUT, hang=False),
        connect_subscriber(url, TIMEOUT),
        RedisGuard(stats, hang=False),
        node_id,
        frozenset(),
        stats,
        EventLogLimits(),
        1800.0,
        30.0,
    )


async def timed_rounds(
    rounds: int, send: Callable[[int], Awaitable[object]], receivers: list[asyncio.Queue[int]]
) -> list[float]:
    """Milliseconds from each send until every receiver has that round's change."""
    times = []
    for round_no in range(rounds):
        start = time.perf_counter()
        await send(round_no)
        for queue in receivers:
            while await asyncio.wait_for(queue.get(), ROUND_LIMIT) != round_no:
                pass
        times.append((time.perf_counter() - start) * 1000)
    return times


async def drain_listen(
    stream: AsyncGenerator[JsonDict | None, None], out: asyncio.Queue[int]
) -> None:
    async for item in stream:
        if item is not None and "method" in item:
            out.put_nowait(int(item["params"]["_meta"]["round"]))


async def bench_bus(url: str, receivers: int, rounds: int) -> list[float]:
    sender, holder = bus_on(url, "a"), bus_on(url, "b")
    await sender.start()
    await holder.start()
    queues: list[asyncio.Queue[int]] = [asyncio.Queue() for _ in range(receivers)]
    wanted = {"notifications": {"toolsListChanged": True}}
    streams = [listen(i, wanted, holder, keepalive=60.0) for i in range(receivers)]
    for stream in streams:
        await anext(stream)  # the acknowledgement: registered with the bus
    readers = [
        asyncio.create_task(drain_listen(s, q)) for s, q in zip(streams, queues, strict=True)
    ]

    async def send(round_no: int) -> None:
        await sender.publish(Change.list_changed("tools", {"round": round_no}))

    try:
        return await timed_rounds(rounds, send, queues)
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await sender.close()
        await holder.close()


async def bench_streams(url: str, receivers: int, rounds: int) -> list[float]:
    sender, holder = streams_on(url, "a"), streams_on(url, "b")
    await sender.start()
    await holder.start()
    sessions = [f"s-{i}" for i in range(receivers)]
    queues: list[asyncio.Queue[int]] = [asyncio.Queue() for _ in range(receivers)]
    opened = [await holder.open_stream(sid, None) for sid in sessions]

    async def drain(index: int) -> None:
        async for event in opened[index].events(60.0):
            if event is not None:
                queues[index].put_nowait(int(event[1].split('"round":')[1].split("}")[0]))

    readers = [asyncio.create_task(drain(i)) for i in range(receivers)]

    async def send(round_no: int) -> None:
        params = {"_meta": {"round": round_no}}
        message = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed", "params": params}
        await sender.deliver_many(sessions, message)

    try:
        return await timed_rounds(rounds, send, queues)
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await sender.close()
        await holder.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--receivers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with RedisProcess(persistent=False) as redis:
        bus = asyncio.run(bench_bus(redis.url, args.receivers, args.rounds))
        streams = asyncio.run(bench_streams(redis.url, args.receivers, args.rounds))
    print(f"{args.receivers} receivers on another node, {args.rounds} rounds")
    print(f"load average: {os.getloadavg()[0]:.2f} (1 min)")
    print(f"{'side':<8} {'median ms':>10} {'worst ms':>10}")
    for name, times in (("bus", bus), ("streams", streams)):
        print(f"{name:<8} {statistics.median(times):>10.1f} {max(times):>10.1f}")
    print(f"bus speed-up (median): {statistics.median(streams) / statistics.median(bus):.1f}x")


if __name__ == "__main__":
    main()
