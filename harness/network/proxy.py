"""The fault proxy: one asyncio TCP relay per link, whose impairment changes while it runs.

It runs as its own process (``python -m harness.network.proxy``), started and owned by the
harness (harness.network.process), and takes its orders as JSON lines on stdin, answering
each on stdout; when stdin closes (the harness is gone) it exits, so it never outlives its run.

Written by hand on purpose: no maintained Python library is a per-link, fault-injecting TCP
proxy whose faults change at run time (Toxiproxy is a Go server, not installable from the
registries here; the small asyncio "chaos proxies" on PyPI are alpha, configured once at
start, and have no half-open blackhole, RST resets or refusal). What it needs is small:
relay bytes, hold them (blackhole), pace them (delay, bandwidth), RST sockets (reset), close
the listener (refuse).

Bounded: each direction of a connection holds at most ``QUEUE_CHUNKS`` reads of ``CHUNK``
bytes; a full queue stops reading, and TCP's own flow control pushes back on the sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import struct
import sys
from dataclasses import dataclass, field
from typing import Any

from harness.network.link import CLEAN, LinkImpairment

CHUNK = 65536
QUEUE_CHUNKS = 16
CONNECT_TIMEOUT = 5.0
PACE_SLICE = 0.05  # seconds of bytes a bandwidth limit writes at once


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST, not a FIN: SO_LINGER 0 makes the kernel drop the connection."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass(eq=False)
class _Connection:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    task: asyncio.Task[None] | None = None

    def reset(self) -> None:
        if self.task is not None:
            self.task.cancel()
        _reset(self.client)
        _reset(self.upstream)


@dataclass(eq=False)
class Link:
    """One relay: ``listen`` on 127.0.0.1 to ``upstream`` on 127.0.0.1."""

    name: str
    upstream: int
    listen: int = 0
    impairment: LinkImpairment = CLEAN
    connections: set[_Connection] = field(default_factory=set)
    server: asyncio.Server | None = None
    flowing: asyncio.Event = field(default_factory=asyncio.Event)
    rng: random.Random = field(default_factory=random.Random)

    async def open(self) -> int:
        self.flowing.set()
        self.server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.listen, reuse_address=True
        )
        self.listen = int(self.server.sockets[0].getsockname()[1])
        return self.listen

    async def impair(self, how: LinkImpairment) -> str:
        """Switch to ``how``; returns what it did, for the fault's record."""
        self.impairment = how
        touched = len(self.connections)
        if how.effect in ("reset", "refuse"):
            for connection in list(self.connections):
                connection.reset()
            self.connections.clear()
        if how.effect == "blackhole":
            self.flowing.clear()
        else:
            self.flowing.set()
        if how.effect == "refuse" and self.server is not None:
            # close() stops listening at once; waiting for it to close would also wait for
            # handlers still connecting upstream, holding up the nemesis for nothing.
            self.server.close()
            self.server = None
        elif how.effect != "refuse" and self.server is None:
            await self.open()
        return f"{self.name}: {how.describe()} (port {self.listen}, {touched} connections open)"

    async def _accept(self, client_r: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        if self.impairment.effect in ("reset", "refuse"):
            _reset(client)
            return
        try:
            upstream_r, upstream = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.upstream), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError):
            _reset(client)  # what a client of an unreachable server sees: a reset
            return
        if self.impairment.effect in ("reset", "refuse"):  # cut while this one connected
            _reset(client)
            _reset(upstream)
            return
        connection = _Connection(client, upstream)
        self.connections.add(connection)
        connection.task = asyncio.current_task()
        try:
            await asyncio.gather(self._carry(client_r, upstream), self._carry(upstream_r, client))
        except asyncio.CancelledError:
            return  # a reset: the sockets are already gone
        except (OSError, ConnectionError):
            _reset(client)
            _reset(upstream)
        else:
            client.close()
            upstream.close()
        finally:
            self.connections.discard(connection)

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One direction: read into a bounded queue, write each chunk when its fault lets.

        The reader runs ahead of the writer so that a delay holds each chunk from when it
        arrived (a stream of chunks is delayed, not slowed to one chunk per delay)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes | Exception]] = asyncio.Queue(QUEUE_CHUNKS)

        async def read() -> None:
            try:
                while True:  # bounded by the connection: it ends with EOF or an error
                    data = await reader.read(CHUNK)
                    await queue.put((loop.time(), data))
                    if not data:
                        return
            except (OSError, ConnectionError) as exc:
                await queue.put((loop.time(), exc))

        reading = asyncio.create_task(read())
        last_due = 0.0
        try:
            while True:  # bounded: ends at the EOF or error the reader queues
                arrived, data = await queue.get()
                if isinstance(data, Exception):
                    raise data
                if not self.flowing.is_set():
                    await self.flowing.wait()  # a blackhole holds the bytes until healed
                how = self.impairment
                if how.delay:
                    jitter = self.rng.uniform(-how.jitter, how.jitter) if how.jitter else 0.0
                    last_due = max(arrived + how.delay + jitter, last_due)
                    await asyncio.sleep(max(0.0, last_due - loop.time()))
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                await _write(writer, data, how.rate)
        finally:
            reading.cancel()


async def _write(writer: asyncio.StreamWriter, data: bytes, rate: float) -> None:
    if not rate:
        writer.write(data)
        await writer.drain()
        return
    step = max(1, int(rate * PACE_SLICE))
    for start in range(0, len(data), step):  # bounded by the chunk's size
        piece = data[start : start + step]
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(len(piece) / rate)


class Proxy:
    """Every link of one run, driven by commands: ``open``, ``impair``, ``stats``."""

    def __init__(self) -> None:
        self.links: dict[str, Link] = {}

    async def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        op = command.get("op")
        if op == "open":
            name = str(command["link"])
            link = Link(name, int(command["upstream"]), int(command.get("listen", 0)))
            self.links[name] = link
            return {"ok": True, "port": await link.open()}
        if op == "impair":
            link = self.links[str(command["link"])]
            how = LinkImpairment.from_dict(command["impairment"])
            return {"ok": True, "detail": await link.impair(how)}
        if op == "stats":
            return {
                "ok": True,
                "connections": {n: len(k.connections) for n, k in self.links.items()},
            }
        return {"ok": False, "error": f"unknown op {op!r}"}


async def serve() -> None:
    """Answer commands on stdin until it closes."""
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    proxy = Proxy()
    while True:  # bounded by the harness: it ends when stdin closes
        line = await stdin.readline()
        if not line:
            return
        try:
            answer = await proxy.handle(json.loads(line))
        except Exception as exc:  # an answer, never a dead proxy: the harness reports it
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def main() -> None:
    """Run on uvloop where it is installed (it comes with uvicorn[standard], as for the
    nodes): it roughly halves the proxy's CPU per relayed chunk."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve())
    else:
        uvloop.run(serve())


if __name__ == "__main__":
    main()
