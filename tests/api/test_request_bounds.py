"""Oversized and slow requests are bounded.

- A body over an endpoint's limit is a JSON 413, whoever sends it (good credentials or none),
  and a declared Content-Length over the limit is refused before one byte of the body is
  read: the test sends the headers only and gets its answer.
- An OAuth endpoint reached over plain http on another host (authlib's "insecure transport")
  is a JSON 400, not a 500.
- Under gunicorn (idp/gunicorn_conf.py with idp/gunicorn_worker.py), a client that sends its
  headers a byte at a time, or its body too slowly, is cut off after IDP_READ_TIMEOUT (2 s
  here) instead of holding a worker thread, while normal requests are still served; on the
  gthread worker and on the sync worker (IDP_THREADS=1).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from idp.migrate import upgrade
from idp.settings import Settings
from idp.store import EphemeralStore
from tests.conftest import TEST_KEK
from tests.support.live import LiveProvider, serve
from tests.support.private_services import gunicorn_provider

FORM = "application/x-www-form-urlencoded"
LIMIT = 64 * 1024  # IDP_MAX_REQUEST_BYTES, the default
UPLOAD_LIMIT = 256 * 1024  # what these tests allow a PDF to verify


@pytest.fixture
def op(settings: Settings, store: EphemeralStore) -> Iterator[LiveProvider]:
    with serve(replace(settings, verify_max_bytes=UPLOAD_LIMIT), store) as live:
        yield live


def _client(op: LiveProvider) -> tuple[dict[str, Any], str]:
    """A registered client and one of its access tokens: the refusal must not depend on bad
    credentials (a 401 is not what is tested)."""
    client = op.register(grant_types=["client_credentials"], scope="issue seal",
                         redirect_uris=[])
    resp = op.token(client, grant_type="client_credentials", scope="seal")
    assert resp.status_code == 200, resp.text
    return client, str(resp.json()["access_token"])


def _assert_json_413(resp: requests.Response) -> None:
    assert resp.status_code == 413, (resp.status_code, resp.text[:300])
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["error_description"], str) and body["error_description"].isascii()


@pytest.mark.parametrize("path", ["/token", "/par", "/introspect", "/revoke", "/userinfo"])
def test_oversized_forms_are_a_json_413(op: LiveProvider, path: str) -> None:
    client, _token = _client(op)
    body = "token=" + "x" * (LIMIT + 1)
    for auth in ((client["client_id"], client["client_secret"]), None):
        resp = requests.post(op.base + path, data=body, headers={"Content-Type": FORM},
                             auth=auth, timeout=10)
        _assert_json_413(resp)


@pytest.mark.parametrize("path", ["/csc/v2/credentials/list", "/csc/v2/signatures/signHash",
                                  "/api/v1/registry/documents"])
def test_oversized_json_is_a_json_413(op: LiveProvider, path: str) -> None:
    _unused, token = _client(op)
    body = json.dumps({"credentialID": "x", "pad": "x" * (LIMIT + 1)})
    for headers in ({"Authorization": f"Bearer {token}"}, {}):
        resp = requests.post(op.base + path, data=body, timeout=10,
                             headers={"Content-Type": "application/json", **headers})
        _assert_json_413(resp)


def test_an_oversized_pdf_to_verify_is_a_json_413(op: LiveProvider) -> None:
    pdf = b"%PDF-1.7\n" + b"x" * UPLOAD_LIMIT
    resp = requests.post(op.base + "/api/v1/verify", data=pdf, timeout=30,
                         headers={"Content-Type": "application/pdf"})
    _assert_json_413(resp)
    assert resp.json()["error"] == "too_large" and resp.json()["refusal"] == "too_large"
    resp = requests.post(op.base + "/api/v1/verify", files={"file": ("a.pdf", pdf)},
                         timeout=30)
    _assert_json_413(resp)


def _raw(base: str, head: str, wait: float = 5.0) -> tuple[float, bytes]:
    """Send `head` (a request line and headers, no body) and read the answer; returns how
    long it took and what came back (the server closes the connection after a refusal)."""
    host, port = base.split("//", 1)[1].split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(head.encode())
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            pass
    return time.monotonic() - started, answer


@pytest.mark.parametrize(("path", "content_type"), [
    ("/token", FORM), ("/par", FORM), ("/introspect", FORM), ("/revoke", FORM),
    ("/userinfo", FORM), ("/api/v1/verify", "application/pdf"),
    ("/csc/v2/credentials/list", "application/json"),
    ("/csc/v2/signatures/signDoc", "application/json"),
    ("/api/v1/registry/documents", "application/json"),
])
def test_a_declared_length_over_the_limit_is_refused_before_the_body(
        op: LiveProvider, path: str, content_type: str) -> None:
    """Only the headers are sent: an answer means the server did not wait for the body (it
    would wait forever). 1 GB is over every limit, uploads included."""
    client, _token = _client(op)
    basic = requests.auth._basic_auth_str(client["client_id"], client["client_secret"])
    took, answer = _raw(op.base, f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 f"Authorization: {basic}\r\nContent-Type: {content_type}\r\n"
                                 f"Content-Length: {10**9}\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"application/json" in head.lower()
    assert json.loads(body)["error"]
    assert took < 3


@pytest.mark.parametrize("path", ["/token", "/par", "/introspect", "/revoke"])
def test_plain_http_on_another_host_is_an_oauth_error_not_a_500(op: LiveProvider,
                                                                 path: str) -> None:
    client, _token = _client(op)
    resp = requests.post(op.base + path, data={"grant_type": "client_credentials",
                                               "token": "x", "scope": "seal"},
                         auth=(client["client_id"], client["client_secret"]),
                         headers={"Host": "idp.example.go.th"}, timeout=10)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "invalid_request"


# --- slow clients under gunicorn ----------------------------------------------------------------

READ_TIMEOUT = 2


@dataclass
class Gunicorn:
    base: str
    port: int
    stderr: Path


@pytest.fixture(params=["gthread", "sync"])
def gunicorn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gunicorn]:
    """One gunicorn worker with IDP_READ_TIMEOUT=2: two threads (gthread) or one (sync), so a
    few slow clients would be enough to hold every thread it has."""
    url = f"sqlite:///{tmp_path / 'idp.db'}"
    upgrade(url)
    stderr = tmp_path / "gunicorn.err"
    with gunicorn_provider({
        "IDP_DATABASE_URL": url, "IDP_SECRET_KEY": "test-secret-key-" + "x" * 32,
        "IDP_KEK": TEST_KEK, "IDP_READ_TIMEOUT": str(READ_TIMEOUT),
    }, stderr, workers=1, threads=2 if request.param == "gthread" else 1) as base:
        yield Gunicorn(base, urlsplit(base).port or 0, stderr)
    # Cutting a slow client off is routine: no traceback in the log for it.
    assert "Traceback" not in stderr.read_text(), stderr.read_text()[-3000:]


class SlowClient(threading.Thread):
    """Sends `head` and then `trickle` one byte every `pause` seconds, for at most `limit`
    seconds; records when the server answered or closed the connection (None: never)."""

    def __init__(self, port: int, head: bytes, trickle: bytes, pause: float = 0.25,
                 limit: float = 15.0) -> None:
        super().__init__(daemon=True)
        self.port, self.head, self.trickle = port, head, trickle
        self.pause, self.limit = pause, limit
        self.cut_after: float | None = None
        self.answer = b""

    def run(self) -> None:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.settimeout(self.pause)
            try:
                sock.sendall(self.head)
                for byte in self.trickle:
                    if time.monotonic() - started > self.limit:
                        return
                    sock.sendall(bytes([byte]))
                    try:
                        chunk = sock.recv(4096)
                    except TimeoutError:
                        continue
                    self.answer += chunk
                    self.cut_after = time.monotonic() - started
                    return
            except OSError:  # reset or broken pipe: the server closed it
                self.cut_after = time.monotonic() - started


def _served_meanwhile(base: str) -> float:
    started = time.monotonic()
    resp = requests.get(f"{base}/livez", timeout=15)
    assert resp.status_code == 200
    return time.monotonic() - started


def test_slow_headers_are_cut_off_and_do_not_hold_the_worker(gunicorn: Gunicorn) -> None:
    # More slow clients than the worker has threads.
    slow = [SlowClient(gunicorn.port, b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                       b"X-Slow: " + b"a" * 200) for _ in range(3)]
    for client in slow:
        client.start()
    time.sleep(0.5)  # every thread is now inside a slow request
    took = _served_meanwhile(gunicorn.base)
    for client in slow:
        client.join(20)
    cut = [client.cut_after for client in slow]
    assert all(after is not None for after in cut), cut
    # Each is cut off READ_TIMEOUT after it got a thread; the last waited for one.
    assert max(a for a in cut if a is not None) < 3 * READ_TIMEOUT + 4, cut
    assert took < 3 * READ_TIMEOUT + 4
    assert not any(client.answer.startswith(b"HTTP/1.1 200") for client in slow)
    assert _served_meanwhile(gunicorn.base) < 3  # and nothing is left holding a thread


def test_a_slow_body_is_cut_off(gunicorn: Gunicorn) -> None:
    head = (b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + FORM.encode()
            + b"\r\nContent-Length: 400\r\n\r\n")
    slow = SlowClient(gunicorn.port, head, b"grant_type=client_credentials&" + b"a" * 370)
    slow.start()
    slow.join(20)
    assert slow.cut_after is not None and slow.cut_after < READ_TIMEOUT + 3, slow.cut_after
    # Cut short, the body is what the application could read: a 400, or no answer at all.
    assert slow.answer == b"" or slow.answer.startswith(b"HTTP/1.1 400"), slow.answer[:200]
    assert _served_meanwhile(gunicorn.base) < 3


def test_a_steady_upload_is_not_cut_off(gunicorn: Gunicorn) -> None:
    """A client that keeps sending faster than the minimum rate gets its answer, even when
    the whole request takes longer than IDP_READ_TIMEOUT."""
    host = ("127.0.0.1", gunicorn.port)
    body = b"%PDF-1.7\n" + b"x" * (60 * 1024)
    started = time.monotonic()
    with socket.create_connection(host, timeout=15) as sock:
        sock.sendall(b"POST /api/v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     b"application/pdf\r\nContent-Length: " + str(len(body)).encode()
                     + b"\r\nConnection: close\r\n\r\n")
        step = 4 * 1024  # 16 KiB/s, twice the minimum rate; about 4 s in all
        for offset in range(0, len(body), step):
            sock.sendall(body[offset:offset + step])
            time.sleep(0.25)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert time.monotonic() - started > READ_TIMEOUT + 1
    assert answer.startswith(b"HTTP/1.1 422"), answer[:300]  # judged: not a real PDF
    assert b'"not_pdf"' in answer or b'"damaged"' in answer


def test_a_declared_length_over_the_limit_is_refused_under_gunicorn(gunicorn: Gunicorn) -> None:
    """The same refusal on the production server: headers only, the answer comes at once."""
    took, answer = _raw(gunicorn.base, "POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       f"Content-Type: {FORM}\r\nContent-Length: {10**9}\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    assert json.loads(body)["error"] == "invalid_request"
    assert took < 3
    assert _served_meanwhile(gunicorn.base) < 3
