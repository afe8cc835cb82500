"""The gunicorn worker ``ruta serve`` runs: gthread, but a request reaches a thread only once it has
fully arrived.

gthread hands a connection to one of its threads as soon as the first bytes come, and the thread then
blocks reading the rest. A client sending a byte every two seconds holds a thread for as long as it
likes: about 23 of them held every thread of three workers and no phone could submit. Here the worker's
own event loop reads each request, headers and body (``Content-Length`` or chunked), without a thread;
bodies over ``MEMORY_BYTES`` are spooled to a temporary file. A thread then parses it from that buffer
and runs the app, so a slow client costs a socket and its buffer, never a thread. A connection that
sends nothing for ``IDLE_SECONDS`` while its request is incomplete is closed.

What still holds a thread: a request with ``Expect: 100-continue`` (the client waits for the thread's
"100 Continue" before sending its body), a chunk of a resumable upload (``Content-Range``: the bytes that
arrive before a cut are kept, so the app must read them as they come), TLS (``ruta serve`` speaks plain
HTTP; TLS ends at a proxy), and pipelined requests. Connections per worker are capped by gunicorn's
``worker_connections`` (1000); against many thousands of slow clients from the internet, put a
buffering proxy in front (README: "Slow clients").
"""

from __future__ import annotations

import contextlib
import errno
import re
import selectors
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any, BinaryIO

from gunicorn import http
from gunicorn.workers.gthread import TConn, ThreadWorker

MEMORY_BYTES = 1024 * 1024  # a request body up to this stays in memory; larger ones go to a temp file
IDLE_SECONDS = 60.0  # an incomplete request with no byte for this long is dropped
HEADER_BYTES = 64 * 1024  # past this without the end of the headers, gunicorn's parser answers it
_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*(\d+)[ \t]*\r?$", re.I | re.M)
_CHUNKED = re.compile(rb"^transfer-encoding:[^\r\n]*chunked", re.I | re.M)
_EXPECT = re.compile(rb"^expect:", re.I | re.M)
_CONTENT_RANGE = re.compile(rb"^content-range:", re.I | re.M)


class RequestBuffer:
    """Bytes of one request as they arrive; ``complete`` once the headers and the whole body are in."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.body: Any = tempfile.SpooledTemporaryFile(max_size=MEMORY_BYTES)  # noqa: SIM115
        self.header_end: int | None = None
        self.length: int | None = None  # body length; None: chunked (look for the last chunk)
        self.received = 0
        self.tail = b""  # the last bytes of a chunked body, to spot its end
        self.done = False
        self.last_byte = time.monotonic()

    def feed(self, data: bytes) -> None:
        self.last_byte = time.monotonic()
        if self.header_end is None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                self.done = len(self.head) > HEADER_BYTES  # let the parser refuse it
                return
            self.header_end = end + 4
            head = bytes(self.head[: self.header_end])
            data = bytes(self.head[self.header_end :])
            del self.head[self.header_end :]
            if _EXPECT.search(head):
                self.done = True  # the client waits for "100 Continue" from the thread
            elif _CONTENT_RANGE.search(head):
                # A resumable upload's chunk (a hub on a 2G link): the app keeps whatever part arrives
                # before a cut, which it can only do if it reads the body as it comes.
                self.done = True
            elif _CHUNKED.search(head):
                self.length = None
            else:
                found = _CONTENT_LENGTH.search(head)
                self.length = int(found.group(1)) if found else 0
        self.body.write(data)
        self.received += len(data)
        if self.length is None:  # chunked: done at the last chunk (a trailer, rare, is read by the thread)
            window = self.tail + data
            self.done = self.done or window.endswith(b"\r\n0\r\n\r\n") or window == b"0\r\n\r\n"
            self.tail = window[-7:]
        else:
            self.done = self.done or self.received >= self.length

    def source(self, sock: Any) -> _BufferedSocket:
        self.body.seek(0)
        return _BufferedSocket(bytes(self.head), self.body, sock)


class _BufferedSocket:
    """What gunicorn's parser reads from: the buffered request, then the live socket (for whatever the
    client sends after it)."""

    def __init__(self, head: bytes, body: BinaryIO, sock: Any) -> None:
        self.head = head
        self.body: BinaryIO | None = body
        self.sock = sock

    def recv(self, size: int) -> bytes:
        if self.head:
            out, self.head = self.head[:size], self.head[size:]
            return out
        if self.body is not None:
            out = self.body.read(size)
            if out:
                return out
            self.body.close()
            self.body = None
        data: bytes = self.sock.recv(size)
        return data

    def leftover(self) -> bytes:
        """Bytes buffered but not read by the parser (the start of a pipelined request)."""
        rest = self.head
        if self.body is not None:
            rest += self.body.read()
            self.body.close()
            self.body = None
        self.head = b""
        return rest


class BufferingThreadWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.buffering: dict[TConn, RequestBuffer] = {}
        self.ruta_last_sweep = time.monotonic()

    def accept(self, listener: Any) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())  # non-blocking
        if self.cfg.is_ssl:
            self.enqueue_req(conn)
            return
        self._start_buffering(conn)

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        """A kept-alive connection's next request is coming: buffer it too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._start_buffering(conn)

    def _start_buffering(self, conn: TConn) -> None:
        self.buffering[conn] = RequestBuffer()
        callback: Callable[[Any], None] = partial(self._on_bytes, conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, callback)

    def _on_bytes(self, conn: TConn, sock: Any) -> None:
        try:
            data = sock.recv(256 * 1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._drop(conn)
            return
        buffer = self.buffering[conn]
        buffer.feed(data)
        if buffer.done:
            self.poller.unregister(conn.sock)
            del self.buffering[conn]
            conn.ruta_buffer = buffer
            self.enqueue_req(conn)

    def _drop(self, conn: TConn) -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        self.buffering.pop(conn, None)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        if not self.alive:  # stopping: requests that have not arrived are not waited for
            for conn in list(self.buffering):
                self._drop(conn)
            return
        if now - self.ruta_last_sweep < 1.0:
            return
        self.ruta_last_sweep = now
        for conn, buffer in list(self.buffering.items()):
            if now - buffer.last_byte > IDLE_SECONDS:
                self._drop(conn)

    def handle(self, conn: TConn) -> Any:
        buffer: RequestBuffer | None = getattr(conn, "ruta_buffer", None)
        if buffer is not None:
            conn.ruta_buffer = None
            conn.sock.setblocking(True)
            conn.initialized = conn.data_ready = True
            conn.ruta_source = buffer.source(conn.sock)
            conn.parser = http.get_parser(self.cfg, conn.ruta_source, conn.client)
        return super().handle(conn)

    def finish_request(self, conn: TConn, fs: Any) -> None:
        source: _BufferedSocket | None = getattr(conn, "ruta_source", None)
        if source is not None and conn.parser is not None:
            rest = source.leftover()
            if rest:  # pipelined: gunicorn sees buffered bytes and hands them to a thread at once
                conn.parser.unreader.unread(rest)
        super().finish_request(conn, fs)
