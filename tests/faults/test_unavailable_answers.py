"""Every way a store outage can surface gives the documented 503, never a 500.

The load test meets the common ways (a view's query or Redis call fails). These are the rarer
ones it cannot force: the connection pool running dry (SQLAlchemy's own TimeoutError, not a
driver error), and an outage raised outside a view, in an after_request hook, which Flask hands
to the 500 handler wrapped in InternalServerError instead of to the handler of its type.
"""

from __future__ import annotations

import json

import pytest
from flask import Flask, Response, request
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from idp.app import create_app
from idp.settings import Settings
from idp.store import EphemeralStore, StoreUnavailableError


@pytest.fixture
def app(settings: Settings, store: EphemeralStore) -> Flask:
    app = create_app(settings, store)

    def pool_dry() -> str:
        raise PoolTimeoutError("QueuePool limit reached")

    def fine() -> str:
        return "ok"

    def after(response: Response) -> Response:
        if request.path.startswith("/faults/after-"):
            cause = request.path.removeprefix("/faults/after-")
            if cause == "redis":
                raise StoreUnavailableError("ephemeral store unavailable")
            if cause == "db":
                raise OperationalError("SELECT 1", None, ConnectionError("closed"))
            raise RuntimeError("a plain bug")
        return response

    app.add_url_rule("/api/faults/pool", "pool_dry", pool_dry)
    app.add_url_rule("/faults/pool", "pool_dry_page", pool_dry)
    for name in ("redis", "db", "bug"):
        app.add_url_rule(f"/faults/after-{name}", f"after_{name}", fine)
    app.after_request(after)
    return app


def assert_503(resp: object, as_json: bool) -> None:
    status = resp.status_code  # type: ignore[attr-defined]
    body = resp.get_data(as_text=True)  # type: ignore[attr-defined]
    assert status == 503, body[:500]
    assert resp.headers["Retry-After"] == "5"  # type: ignore[attr-defined]
    assert "Traceback" not in body and "QueuePool" not in body
    if as_json:
        assert json.loads(body)["error"] == "temporarily_unavailable"
    else:
        assert resp.mimetype == "text/html"  # type: ignore[attr-defined]
        assert "temporarily_unavailable" in body


def test_a_dry_connection_pool_is_unavailable_not_a_bug(app: Flask) -> None:
    client = app.test_client()
    assert_503(client.get("/api/faults/pool"), as_json=True)
    assert_503(client.get("/faults/pool", headers={"Accept": "text/html"}), as_json=False)


@pytest.mark.parametrize("cause", ["redis", "db"])
def test_an_outage_outside_the_view_is_still_a_503(app: Flask, cause: str) -> None:
    resp = app.test_client().get(f"/faults/after-{cause}", headers={"Accept": "text/html"})
    assert_503(resp, as_json=False)


def test_a_real_bug_outside_the_view_stays_a_plain_500(app: Flask) -> None:
    resp = app.test_client().get("/faults/after-bug", headers={"Accept": "application/json"})
    assert resp.status_code == 500
    assert resp.get_json()["error"] == "server_error"
    assert "Traceback" not in resp.get_data(as_text=True)
