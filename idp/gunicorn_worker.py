"""Gunicorn workers that bound how long a client may take to send its request.

Gunicorn's gthread worker waits a few seconds for a new connection's first byte without
holding a thread, but once a byte has come it reads the request line, the headers and the
body on a blocking socket with no timeout. A client that sends one byte a second (slowloris),
or a body that stalls, then holds one of the worker's few threads for as long as it likes;
a handful of such clients hold them all. The sync worker is no better until the master kills
the whole process after `timeout`.

Here every connection's socket is a :class:`DeadlineSocket`. Whenever gunicorn puts the
socket in blocking mode to serve a request, a deadline starts: the request line and headers
must arrive within IDP_READ_TIMEOUT seconds, and every byte received after that moves the
deadline on by 1/MIN_RATE seconds, so a body is bounded by a minimum average rate (an upload
that keeps coming at MIN_RATE or faster is never cut off, however large). Past the deadline,
data already in the kernel's buffer is still read for another IDP_READ_TIMEOUT seconds, so a
request whose client was quick is not refused because the application read its body late.

A client that misses the deadline is treated as one that went away: its reads end (EOF) from
then on, so gunicorn drops a request still in its headers without a word (as for any client
that disconnects), and a body cut short is the application's 400 (Werkzeug's
ClientDisconnected); either way the connection is closed and the thread freed. Raising a
timeout instead would reach the application as an unhandled error (a 500) and gunicorn's log
as a traceback. Sending a response is bounded too (IDP_READ_TIMEOUT plus the response's size
at MIN_RATE), so a client that never reads cannot hold a thread either.

TLS is not covered: it ends at the proxy in front of the provider (docs/operator-guide.md);
gunicorn's own TLS replaces the socket with an SSL socket, which keeps gunicorn's behaviour.

Wired in idp/gunicorn_conf.py: ``worker_class = "idp.gunicorn_worker.ThreadWorker"`` (or
``SyncWorker`` with IDP_THREADS=1).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from gunicorn import util
from gunicorn.workers import gthread, sync

from idp.settings import Settings, _int

#: Bytes per second a request body must keep up on average, after the first IDP_READ_TIMEOUT
#: seconds: 8 KiB/s lets a 20 MB PDF come over a poor mobile link (about 40 minutes), while
#: a trickle of a few bytes a second still ends at the deadline.
MIN_RATE = 8 * 1024

#: The shortest wait for bytes once a deadline has passed: data already in the buffer is
#: read; nothing more is waited for.
_LAST_LOOK = 0.001

_log = logging.getLogger("idp.serving")


def read_timeout_from_env(environ: Any = None) -> int:
    """IDP_READ_TIMEOUT (seconds), parsed by the rule of every IDP_* number (idp.settings,
    SettingsError for a bad value), without reading the other settings: the worker needs
    this one before the application exists."""
    env = os.environ if environ is None else environ
    return _int(env, "IDP_READ_TIMEOUT", Settings.read_timeout)


class DeadlineSocket(socket.socket):
    """A connection whose reads in blocking mode end at a deadline (see the module's
    docstring). Gunicorn only ever calls `setblocking(True)` when a worker thread starts
    serving a request on the connection, so that call (re)starts the deadline."""

    read_timeout: float
    _deadline: float | None
    _caller_timeout: float | None
    _expired: bool

    @classmethod
    def adopt(cls, sock: socket.socket, read_timeout: float) -> DeadlineSocket:
        """The same connection (file descriptor) as a DeadlineSocket; `sock` is detached."""
        blocking = sock.getblocking()
        family, kind, proto = sock.family, sock.type, sock.proto
        adopted = cls(family, kind, proto, fileno=sock.detach())
        adopted.read_timeout = float(read_timeout)
        adopted._deadline = None
        adopted._caller_timeout = None
        adopted._expired = False
        socket.socket.setblocking(adopted, blocking)
        return adopted

    # --- modes ---------------------------------------------------------------------------------

    def setblocking(self, flag: bool) -> None:
        if flag:
            if self._expired:  # a client that was too slow gets no new deadline
                super().settimeout(_LAST_LOOK)
                return
            self._deadline = time.monotonic() + self.read_timeout
            self._caller_timeout = None
            super().settimeout(self.read_timeout)
        else:
            self._deadline = None
            self._caller_timeout = None
            super().setblocking(False)

    def settimeout(self, value: float | None) -> None:
        """A caller's own bound (gunicorn's drain of an unread body): the shorter wins."""
        self._caller_timeout = value
        super().settimeout(value)

    def _bound_wait(self) -> bool:
        """Set the wait for the next read; False when the client has run out of time even
        for bytes already buffered (IDP_READ_TIMEOUT past the deadline: a client that keeps
        a byte waiting at every read must not hold the thread for ever either)."""
        if self._deadline is None:
            return True
        now = time.monotonic()
        if now > self._deadline + self.read_timeout:
            self._cut_off()
            return False
        wait = max(self._deadline - now, _LAST_LOOK)
        if self._caller_timeout is not None:
            wait = min(wait, self._caller_timeout)
        super().settimeout(wait)
        return True

    def _earned(self, received: int) -> None:
        if self._deadline is not None and received > 0:
            self._deadline += received / MIN_RATE

    # --- reading -------------------------------------------------------------------------------

    def _too_slow(self) -> bool:
        """After a timed-out read: whether it was our deadline (then the client is cut off
        for good) rather than a shorter bound the caller set (then the timeout is theirs)."""
        if self._deadline is None or time.monotonic() < self._deadline - 0.005:
            return False
        self._cut_off()
        return True

    def _cut_off(self) -> None:
        if not self._expired:
            _log.info("a client was too slow sending its request; connection closed")
        self._expired = True

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if self._expired or not self._bound_wait():
            return b""
        try:
            data = super().recv(bufsize, flags)
        except TimeoutError:
            if self._too_slow():
                return b""
            raise
        self._earned(len(data))
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        if self._expired or not self._bound_wait():
            return 0
        try:
            received = super().recv_into(buffer, nbytes, flags)
        except TimeoutError:
            if self._too_slow():
                return 0
            raise
        self._earned(received)
        return received

    # --- writing -------------------------------------------------------------------------------

    def sendall(self, data: Any, flags: int = 0) -> None:
        if self._deadline is not None:
            super().settimeout(self.read_timeout + len(memoryview(data)) / MIN_RATE)
        super().sendall(data, flags)

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        if self._deadline is not None:
            super().settimeout(self.read_timeout)  # per wait for the client to take more
        return super().sendfile(file, offset, count)


class ThreadWorker(gthread.ThreadWorker):  # type: ignore[misc]
    """gthread with a DeadlineSocket for every connection."""

    def init_process(self) -> None:
        self.read_timeout = read_timeout_from_env()
        super().init_process()

    def enqueue_req(self, conn: Any) -> None:
        if not isinstance(conn.sock, DeadlineSocket) and not conn.initialized:
            conn.sock = DeadlineSocket.adopt(conn.sock, self.read_timeout)
        super().enqueue_req(conn)


class SyncWorker(sync.SyncWorker):  # type: ignore[misc]
    """The sync worker (IDP_THREADS=1) with a DeadlineSocket for every connection."""

    def init_process(self) -> None:
        self.read_timeout = read_timeout_from_env()
        super().init_process()

    def accept(self, listener: Any) -> None:
        client, addr = listener.accept()
        client = DeadlineSocket.adopt(client, self.read_timeout)
        client.setblocking(True)
        util.close_on_exec(client)
        self.handle(listener, client, addr)


__all__ = ["MIN_RATE", "DeadlineSocket", "SyncWorker", "ThreadWorker", "read_timeout_from_env"]
