"""idp.gunicorn_worker.DeadlineSocket on a socket pair: the rules of the read deadline without
a server (tests/api/test_request_bounds.py has them under gunicorn)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from idp import gunicorn_worker
from idp.gunicorn_worker import DeadlineSocket, read_timeout_from_env
from idp.settings import Settings, SettingsError


@pytest.fixture
def pair() -> Iterator[tuple[DeadlineSocket, socket.socket]]:
    ours, theirs = socket.socketpair()
    server = DeadlineSocket.adopt(ours, 0.3)
    try:
        yield server, theirs
    finally:
        server.close()
        theirs.close()


def test_a_silent_client_reads_as_gone_after_the_deadline(
        pair: tuple[DeadlineSocket, socket.socket]) -> None:
    server, _client = pair
    server.setblocking(True)
    started = time.monotonic()
    assert server.recv(10) == b""
    assert 0.25 < time.monotonic() - started < 1.0
    # For good: a new request on this connection gets no new deadline.
    server.setblocking(True)
    assert server.recv(10) == b""
    assert server.recv_into(bytearray(4)) == 0


def test_a_trickle_is_cut_off_at_the_deadline(pair: tuple[DeadlineSocket, socket.socket]
                                              ) -> None:
    """The server waits for bytes that come one every 50 ms (slowloris): each comes in time
    for its own read, but the request as a whole does not."""
    server, client = pair
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(0.05):
            try:
                client.send(b"x")
            except OSError:
                return

    sender = threading.Thread(target=trickle, daemon=True)
    server.setblocking(True)
    started, got = time.monotonic(), b""
    sender.start()
    try:
        while time.monotonic() - started < 3:
            chunk = server.recv(10)
            if not chunk:
                break
            got += chunk
    finally:
        stop.set()
        sender.join()
    assert 0.25 < time.monotonic() - started < 1.0
    assert got  # what came in time was read


def test_a_client_that_keeps_a_byte_waiting_is_cut_off_too(
        pair: tuple[DeadlineSocket, socket.socket]) -> None:
    """Bytes already buffered are read past the deadline, but only for another timeout."""
    server, client = pair
    server.setblocking(True)
    started = time.monotonic()
    while time.monotonic() - started < 3:
        client.send(b"x")
        if not server.recv(10):
            break
        time.sleep(0.05)
    assert 0.55 < time.monotonic() - started < 1.2


def test_bytes_already_sent_are_read_after_the_deadline(
        pair: tuple[DeadlineSocket, socket.socket]) -> None:
    server, client = pair
    server.setblocking(True)
    client.sendall(b"the whole body")
    time.sleep(0.4)  # the application reads late
    assert server.recv(100) == b"the whole body"


def test_a_steady_sender_earns_time(pair: tuple[DeadlineSocket, socket.socket],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    server, client = pair
    monkeypatch.setattr(gunicorn_worker, "MIN_RATE", 1024)  # bytes a second
    server.setblocking(True)
    started = time.monotonic()
    for _ in range(8):  # 512 bytes every 0.1 s: 5 KiB/s, over the minimum rate
        client.sendall(b"x" * 512)
        assert len(server.recv(4096)) == 512
        time.sleep(0.1)
    assert time.monotonic() - started > 0.6  # well past the 0.3 s deadline


def test_a_shorter_bound_of_the_caller_is_a_timeout(
        pair: tuple[DeadlineSocket, socket.socket]) -> None:
    """gunicorn bounds its drain of an unread body itself: that timeout stays its own."""
    server, client = pair
    server.setblocking(True)
    server.settimeout(0.05)
    with pytest.raises(TimeoutError):
        server.recv(10)
    client.sendall(b"ok")
    assert server.recv(10) == b"ok"


def test_non_blocking_mode_has_no_deadline(pair: tuple[DeadlineSocket, socket.socket]) -> None:
    server, client = pair
    server.setblocking(False)
    with pytest.raises(BlockingIOError):
        server.recv(10)
    time.sleep(0.4)
    client.sendall(b"later")
    assert server.recv(10) == b"later"


def test_the_setting() -> None:
    assert read_timeout_from_env({}) == Settings.read_timeout == Settings().read_timeout
    assert read_timeout_from_env({"IDP_READ_TIMEOUT": "2"}) == 2
    assert Settings.from_env({"IDP_READ_TIMEOUT": "7"}).read_timeout == 7
    for bad in ("0", "-1", "soon"):
        with pytest.raises(SettingsError):
            read_timeout_from_env({"IDP_READ_TIMEOUT": bad})
