"""HTTP/1.1 exchanges on pooled geventhttpclient connections, with the stage of each tracked.

One Transport may be shared by every client of a process: it keeps, per endpoint, a pool for
requests and a pool for long-lived SSE streams (whose sockets get the idle timeout of a
stream). The exchange's stage tells the error boundary (errors.outcome) whether a failure
happened before the request could have reached the server.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import gevent.socket
from geventhttpclient.connectionpool import ConnectionPool, SSLConnectionPool
from geventhttpclient.response import HTTPSocketPoolResponse

from harness.client.errors import Stage

Response = HTTPSocketPoolResponse
UNBOUNDED = 1_000_000  # pool size: sockets are opened on demand and never waited for


class Exchange:
    """The progress of one HTTP exchange, read by the error boundary."""

    __slots__ = ("node", "stage")

    def __init__(self) -> None:
        self.stage = Stage.CONNECT
        self.node: str | None = None  # the endpoint URL it went to


class _Pool(ConnectionPool):
    """A pool that drops sockets idle for longer than ``max_idle`` seconds.

    Servers close idle keep-alive connections (uvicorn after 5 s); reusing one that the server
    is closing at that moment loses the request with an ambiguous outcome, so we never try.
    """

    def __init__(self, *args: Any, max_idle: float, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.max_idle = max_idle
        self._idle_since: dict[int, float] = {}

    def get_socket(self) -> gevent.socket.socket:
        self._semaphore.acquire()
        try:
            if self._closed:
                raise RuntimeError("connection pool closed")
            now = time.monotonic()
            while not self._socket_queue.empty():
                sock = self._socket_queue.get(block=False)
                since = self._idle_since.pop(id(sock), 0.0)
                if now - since < self.max_idle and self._is_socket_alive(sock):
                    return sock
                sock.close()
            return self._create_socket()
        except BaseException:
            self._semaphore.release()
            raise

    def return_socket(self, sock: gevent.socket.socket) -> None:
        self._idle_since[id(sock)] = time.monotonic()
        super().return_socket(sock)


class _SslPool(_Pool, SSLConnectionPool):
    pass


@dataclass
class _Endpoint:
    path: str
    host_header: str
    requests: _Pool
    streams: _Pool


class Transport:
    """Pooled HTTP/1.1 to any number of endpoint URLs; use from any greenlet of one process."""

    def __init__(
        self,
        connect_timeout: float = 3.0,
        network_timeout: float = 60.0,
        stream_idle_timeout: float = 30.0,
        max_idle: float = 3.0,
        block_size: int = 16384,
        insecure: bool = False,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.network_timeout = network_timeout
        self.stream_idle_timeout = stream_idle_timeout
        self.max_idle = max_idle
        self.block_size = block_size
        self.insecure = insecure
        self._endpoints: dict[str, _Endpoint] = {}

    def open(
        self,
        method: str,
        url: str,
        headers: str,
        body: bytes = b"",
        exchange: Exchange | None = None,
        stream: bool = False,
    ) -> Response:
        """Send one request and return its response once the headers are read.

        ``headers`` is the preformatted header block ("Name: value\\r\\n" lines, without Host
        and Content-Length). The caller reads the body and must ``release()`` the response.
        """
        exchange = exchange or Exchange()
        endpoint = self._endpoints.get(url) or self._add(url)
        pool = endpoint.streams if stream else endpoint.requests
        head = f"{method} {endpoint.path} HTTP/1.1\r\nHost: {endpoint.host_header}\r\n{headers}"
        if body or method == "POST":
            head += f"Content-Length: {len(body)}\r\n"
        exchange.stage = Stage.CONNECT
        sock = pool.get_socket()
        exchange.stage = Stage.SEND
        try:
            sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        except BaseException:
            pool.release_socket(sock)
            raise
        exchange.stage = Stage.RESPONSE
        response = Response(sock, pool, block_size=self.block_size, method=method)
        exchange.stage = Stage.BODY
        return response

    def close(self) -> None:
        for endpoint in self._endpoints.values():
            endpoint.requests.close()
            endpoint.streams.close()
        self._endpoints.clear()

    def _add(self, url: str) -> _Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) endpoint URL: {url!r}")
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        host = parts.hostname
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = host if ":" not in host else f"[{host}]"
        if parts.port:
            host_header += f":{port}"
        endpoint = _Endpoint(
            path,
            host_header,
            self._pool(host, port, secure, self.network_timeout),
            self._pool(host, port, secure, self.stream_idle_timeout),
        )
        self._endpoints[url] = endpoint
        return endpoint

    def _pool(self, host: str, port: int, secure: bool, network_timeout: float) -> _Pool:
        options: dict[str, Any] = {
            "size": UNBOUNDED,
            "connection_timeout": self.connect_timeout,
            "network_timeout": network_timeout,
            "max_idle": self.max_idle,
        }
        if secure:
            return _SslPool(host, port, host, port, insecure=self.insecure, **options)
        return _Pool(host, port, host, port, **options)
