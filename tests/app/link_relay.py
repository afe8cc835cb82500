"""A TCP relay on 127.0.0.1 shaped like a 2G link, for the hub-link tests and benchmark.

- rate: each direction is one pipe of ``rate`` bytes/s shared by all connections (the radio link);
- latency: every byte arrives ``rtt / 2`` after it left the pipe;
- loss: TCP hides loss as delay, so each 1460-byte segment is, with probability ``loss``, delivered one
  ``rtt`` late (a fast retransmit), holding up what follows on its connection;
- a small window (``window`` bytes in flight per connection) so a sender sees back-pressure as on a
  real link instead of handing everything to the relay at once;
- outages: ``outage(seconds)`` cuts every open connection and, for that long, accepts new ones but
  forwards nothing (then closes them): a link that is down;
- ``cut_after(n)``: cut every open connection once ``n`` more bytes went upstream.

``up`` and ``down`` count the payload bytes sent into the link each way, delivered or lost in a cut
(TCP/IP headers are not counted, for either of the things compared).
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections import deque

SEGMENT = 1460


class _Pipe:
    """One direction of the link: hands out departure times at ``rate`` bytes/s."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.free_at = 0.0
        self.lock = threading.Lock()

    def depart(self, nbytes: int) -> float:
        with self.lock:
            start = max(time.monotonic(), self.free_at)
            self.free_at = start + nbytes / self.rate
            return self.free_at


class ShapedLink:
    def __init__(
        self,
        upstream_port: int,
        *,
        rate: float = 8000.0,
        rtt: float = 0.3,
        loss: float = 0.03,
        window: int = 16 * 1024,
        seed: int = 22,
    ) -> None:
        self.upstream = upstream_port
        self.rtt, self.loss, self.window = rtt, loss, window
        self.pipes = {True: _Pipe(rate), False: _Pipe(rate)}
        self.rng = random.Random(seed)
        self.up = 0
        self.down = 0
        self.cuts = 0
        self.down_until = 0.0
        self._cut_at: int | None = None
        self.lock = threading.Lock()
        self.conns: set[socket.socket] = set()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    # --- control -----------------------------------------------------------------------------------

    def outage(self, seconds: float) -> None:
        self.down_until = time.monotonic() + seconds
        self._cut_all()

    def cut_after(self, nbytes: int) -> None:
        with self.lock:
            self._cut_at = self.up + nbytes

    def counts(self) -> int:
        return self.up + self.down

    def close(self) -> None:
        self.server.close()
        self._cut_all(count=False)

    # --- plumbing ----------------------------------------------------------------------------------

    def _is_down(self) -> bool:
        return time.monotonic() < self.down_until

    def _cut_all(self, count: bool = True) -> None:
        with self.lock:
            conns = list(self.conns)
            self.cuts += count
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._open, args=(client,), daemon=True).start()

    def _open(self, client: socket.socket) -> None:
        if self._is_down():  # a dead link: the connection goes nowhere, then drops
            while self._is_down():
                time.sleep(0.05)
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
        except OSError:
            client.close()
            return
        with self.lock:
            self.conns |= {client, upstream}
        for src, dst, up in ((client, upstream, True), (upstream, client, False)):
            _Flow(self, src, dst, up).start()

    def _sent(self, up: bool, nbytes: int) -> None:
        with self.lock:
            if up:
                self.up += nbytes
                cut = self._cut_at is not None and self.up >= self._cut_at
                if cut:
                    self._cut_at = None
            else:
                self.down += nbytes
                cut = False
        if cut:
            threading.Thread(target=self._cut_all, daemon=True).start()

    def _forget(self, *socks: socket.socket) -> None:
        with self.lock:
            self.conns -= set(socks)


class _Flow:
    """One direction of one connection: a reader that queues segments with their arrival times (never
    more than the window ahead) and a writer that delivers them in order when they arrive."""

    def __init__(self, link: ShapedLink, src: socket.socket, dst: socket.socket, up: bool) -> None:
        self.link, self.src, self.dst, self.up = link, src, dst, up
        self.queue: deque[tuple[float, bytes]] = deque()
        self.queued = 0
        self.done = False
        self.cond = threading.Condition()
        self.last_arrival = 0.0

    def start(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._write, daemon=True).start()

    def _read(self) -> None:
        link = self.link
        try:
            while data := self.src.recv(SEGMENT):
                link._sent(self.up, len(data))
                arrival = link.pipes[self.up].depart(len(data)) + link.rtt / 2
                if link.rng.random() < link.loss:
                    arrival += link.rtt
                self.last_arrival = arrival = max(arrival, self.last_arrival)
                with self.cond:
                    while self.queued >= link.window and not self.done:
                        self.cond.wait(0.1)
                    if self.done:
                        break
                    self.queue.append((arrival, data))
                    self.queued += len(data)
                    self.cond.notify_all()
        except OSError:
            pass
        with self.cond:
            self.queue.append((0.0, b""))  # end of stream, after what is queued
            self.cond.notify_all()

    def _write(self) -> None:
        try:
            while True:
                with self.cond:
                    while not self.queue:
                        self.cond.wait(0.1)
                    arrival, data = self.queue[0]
                if not data:
                    break
                delay = arrival - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.dst.sendall(data)
                with self.cond:
                    self.queue.popleft()
                    self.queued -= len(data)
                    self.cond.notify_all()
        except OSError:
            pass
        with self.cond:
            self.done = True
            self.cond.notify_all()
        for s in (self.src, self.dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()
        self.link._forget(self.src, self.dst)
