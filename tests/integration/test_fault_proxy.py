"""The fault proxy against a real echo server on 127.0.0.1: each impairment does to the bytes
what its fault promises, and healing gives the link back (real sockets, a real proxy process).

Times are only ever lower bounds (a delay is at least its delay): no test waits for speed.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from harness.network.link import CLEAN, LinkImpairment, parse_bandwidth, parse_delay
from harness.network.process import FaultProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echo() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    running = FaultProxy().start()
    yield running
    running.close()
    assert running.process is not None and running.process.poll() is not None


def _connect(port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def _round_trip(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):  # bounded by the socket's timeout
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def test_a_clean_link_relays_both_ways(echo: int, proxy: FaultProxy) -> None:
    port = proxy.open("clients->n1", echo)
    with _connect(port) as sock:
        for size in (1, 1000, 200_000):
            payload = bytes(range(256)) * (size // 256 + 1)
            assert _round_trip(sock, payload[:size]) == payload[:size]
        assert proxy.connections() == {"clients->n1": 1}


def test_delay_holds_each_direction_at_least_its_delay(echo: int, proxy: FaultProxy) -> None:
    port = proxy.open("n1->redis", echo)
    detail = proxy.impair("n1->redis", parse_delay("100ms~20ms"))
    assert "delay 100ms~20ms each way" in detail
    with _connect(port) as sock:
        started = time.monotonic()
        assert _round_trip(sock, b"ping") == b"ping"
        assert time.monotonic() - started >= 2 * 0.08  # both directions, jitter at most 20ms
        proxy.impair("n1->redis", CLEAN)
        assert _round_trip(sock, b"again") == b"again"


def test_bandwidth_paces_the_bytes(echo: int, proxy: FaultProxy) -> None:
    port = proxy.open("clients->n1", echo)
    proxy.impair("clients->n1", parse_bandwidth("80kbps"))  # 10,000 bytes a second
    with _connect(port) as sock:
        started = time.monotonic()
        assert _round_trip(sock, b"x" * 5000) == b"x" * 5000
        assert time.monotonic() - started >= 0.5 * 0.9  # 5,000 bytes each way, paced


def test_a_blackhole_holds_everything_until_healed(echo: int, proxy: FaultProxy) -> None:
    port = proxy.open("clients->n1", echo)
    with _connect(port, timeout=0.5) as sock:
        assert _round_trip(sock, b"before") == b"before"
        proxy.impair("clients->n1", LinkImpairment("blackhole"))
        sock.sendall(b"held")
        with pytest.raises(TimeoutError):
            sock.recv(16)  # nothing comes back: the half-open link
        with _connect(port, timeout=0.5) as new:  # new connections are accepted, and hang
            new.sendall(b"x")
            with pytest.raises(TimeoutError):
                new.recv(16)
        proxy.impair("clients->n1", CLEAN)
        sock.settimeout(10.0)
        assert sock.recv(16) == b"held"  # TCP delivers what was held, in order


def test_a_reset_resets_open_and_new_connections(echo: int, proxy: FaultProxy) -> None:
    port = proxy.open("clients->n2", echo)
    with _connect(port) as sock:
        assert _round_trip(sock, b"hello") == b"hello"
        detail = proxy.impair("clients->n2", LinkImpairment("reset"))
        assert "1 connections open" in detail
        with pytest.raises(ConnectionError):  # reset (or, writing after the RST, a broken pipe)
            _round_trip(sock, b"after")
    # A new connection is reset as soon as the proxy accepts it: at connect() already, or at
    # the first read.
    with pytest.raises(ConnectionError), _connect(port) as sock:
        _round_trip(sock, b"new")
    proxy.impair("clients->n2", CLEAN)
    with _connect(port) as sock:
        assert _round_trip(sock, b"healed") == b"healed"


def test_refuse_closes_the_port_until_healed(echo: int, proxy: FaultProxy) -> None:
    port = proxy.open("clients->n3", echo)
    open_sock = _connect(port)
    assert _round_trip(open_sock, b"open") == b"open"  # accepted and relayed
    proxy.impair("clients->n3", LinkImpairment("refuse"))
    with pytest.raises(ConnectionRefusedError):
        _connect(port)
    with open_sock, pytest.raises(ConnectionError):
        _round_trip(open_sock, b"cut")
    proxy.impair("clients->n3", CLEAN)
    with _connect(port) as sock:  # the same port again
        assert _round_trip(sock, b"back") == b"back"


def test_a_bad_command_is_an_error_not_a_dead_proxy(echo: int, proxy: FaultProxy) -> None:
    from harness.network.process import ProxyError

    with pytest.raises(ProxyError, match="refused impair"):
        proxy.impair("no-such-link", CLEAN)
    assert proxy.open("clients->n1", echo) > 0
