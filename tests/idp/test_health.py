"""Liveness and readiness: /readyz is 200 only when the database and the store answer, and a
store or database that cannot be reached gives a quick 503 naming it, never a 500."""

from __future__ import annotations

import socket
import time
from dataclasses import replace

import pytest
from flask.testing import FlaskClient

import idp.app as app_module
from idp.app import create_app
from idp.db import Database
from idp.settings import Settings
from idp.store import EphemeralStore, RedisStore


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client_for(settings: Settings, store: EphemeralStore) -> FlaskClient:
    return create_app(settings, store).test_client()


def test_ready_when_both_services_answer(settings: Settings, store: EphemeralStore) -> None:
    resp = client_for(settings, store).get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ready", "checks": {"database": "ok", "store": "ok"}}


def test_liveness_checks_nothing(settings: Settings, store: EphemeralStore) -> None:
    app = create_app(settings, store)
    app.extensions["idp"].db = Database(f"postgresql://postgres@127.0.0.1:{closed_port()}/x")
    resp = app.test_client().get("/livez")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}


def test_unreachable_database_is_a_quick_503(settings: Settings, store: EphemeralStore) -> None:
    port = closed_port()
    app = create_app(settings, store)
    app.extensions["idp"].db = Database(f"postgresql://postgres:pw@127.0.0.1:{port}/idp")
    started = time.monotonic()
    resp = app.test_client().get("/readyz")
    assert time.monotonic() - started < app_module.READY_TIMEOUT + 1
    assert resp.status_code == 503
    assert resp.headers["Retry-After"]
    assert resp.get_json() == {"status": "unavailable",
                               "checks": {"database": "unavailable", "store": "ok"}}
    body = resp.get_data(as_text=True)
    assert "postgresql" not in body and str(port) not in body and "pw" not in body


def test_unreachable_redis_is_a_quick_503(settings: Settings) -> None:
    port = closed_port()
    client = client_for(settings, RedisStore(f"redis://127.0.0.1:{port}/0"))
    started = time.monotonic()
    resp = client.get("/readyz")
    assert time.monotonic() - started < app_module.READY_TIMEOUT + 1
    assert resp.status_code == 503
    assert resp.get_json()["checks"] == {"database": "ok", "store": "unavailable"}
    assert str(port) not in resp.get_data(as_text=True)
    # The rest of the provider says 503 too, not 500.
    assert client.get("/authorize?client_id=x").status_code == 503


def test_unreachable_database_and_redis_both_named(settings: Settings) -> None:
    app = create_app(settings, RedisStore(f"redis://127.0.0.1:{closed_port()}/0"))
    app.extensions["idp"].db = Database(f"postgresql://postgres@127.0.0.1:{closed_port()}/x")
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["checks"] == {"database": "unavailable", "store": "unavailable"}


class HangingDatabase:
    """A database whose ping hangs, like a connection to a host that drops packets."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0

    def ping(self) -> bool:
        self.calls += 1
        time.sleep(self.seconds)
        return True


def test_a_hanging_check_times_out_and_is_not_piled_up(
        settings: Settings, store: EphemeralStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "READY_TIMEOUT", 0.2)
    app = create_app(settings, store)
    hanging = HangingDatabase(1.5)
    app.extensions["idp"].db = hanging
    client = app.test_client()
    for _ in range(3):
        started = time.monotonic()
        resp = client.get("/readyz")
        assert time.monotonic() - started < 1.0
        assert resp.status_code == 503
        assert resp.get_json()["checks"] == {"database": "timeout", "store": "ok"}
    assert hanging.calls == 1  # probes while it hangs do not start another one


def test_healthz_keeps_its_answer(settings: Settings, store: EphemeralStore) -> None:
    resp = client_for(replace(settings), store).get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "store": True, "database": True}
