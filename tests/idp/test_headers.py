"""Every response carries the security headers: pages, JSON, errors, static files, 404, 405,
413, 429 and 503. Walks every rule of the real application's URL map, with every method."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from idp import web
from idp.app import HSTS, create_app
from idp.settings import Settings
from idp.store import EphemeralStore, RedisStore
from tests.idp.test_health import closed_port

HTTPS = "https://id.example.go.th"


def assert_secure(resp: TestResponse, what: str, hsts: bool = True) -> None:
    headers = resp.headers
    assert headers.get("Content-Security-Policy"), what
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") == "no-referrer", what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("X-Request-ID"), what
    if hsts:
        assert headers.get("Strict-Transport-Security") == HSTS, what
    else:
        assert "Strict-Transport-Security" not in headers, what


@pytest.fixture
def app(settings: Settings, store: EphemeralStore) -> Flask:
    return create_app(replace(settings, issuer=HTTPS), store)


def sample_path(rule: Rule) -> str:
    """The rule with each variable filled by a harmless value of the right type."""
    values = {name: (1 if type(conv).__name__ in ("IntegerConverter", "NumberConverter")
                     else "x")
              for name, conv in rule._converters.items()}
    return str(rule.build(values, append_unknown=False)[1])  # type: ignore[index]


def test_every_route_and_method_carries_the_headers(app: Flask) -> None:
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        path = sample_path(rule)
        for method in sorted((rule.methods or set()) | {"OPTIONS"}):
            what = f"{method} {rule.rule}"
            if method == "POST":
                resp = client.post(path, data={"x": "y"}, base_url=HTTPS)
            else:
                resp = client.open(path, method=method, base_url=HTTPS)
            assert resp.status_code != 500, what
            assert_secure(resp, what)
            checked += 1
    assert checked > 100


def static_file(app: Flask) -> str:
    assert app.static_folder
    return next(p.name for p in sorted(Path(app.static_folder).iterdir()) if p.is_file())


def test_errors_static_and_limits_carry_the_headers(settings: Settings,
                                                    store: EphemeralStore) -> None:
    app = create_app(replace(settings, issuer=HTTPS, rate_authorize_per_address=1), store)
    client = app.test_client()
    cases = {
        "404": client.get("/no/such/page"),
        "405": client.delete("/token"),
        "413": client.post("/token", data={"x": "y" * 200_000}),
        "static": client.get("/static/" + static_file(app)),
        "json": client.get("/.well-known/openid-configuration"),
        "page": client.get("/verify"),
        "metrics": client.get("/metrics"),
        "metrics-404": client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}),
        "readyz": client.get("/readyz"),
    }
    client.get("/authorize")
    cases["429"] = client.get("/authorize")
    assert cases["404"].status_code == 404 and cases["405"].status_code == 405
    assert cases["413"].status_code == 413 and cases["429"].status_code == 429
    assert cases["static"].status_code == 200 and cases["metrics-404"].status_code == 404
    for what, resp in cases.items():
        assert_secure(resp, what)
    # A static file is cacheable; everything else is no-store.
    assert cases["static"].headers["Cache-Control"] != "no-store"
    assert cases["page"].headers["Cache-Control"] == "no-store"


def test_store_outage_503_carries_the_headers(settings: Settings) -> None:
    app = create_app(replace(settings, issuer=HTTPS),
                     RedisStore(f"redis://127.0.0.1:{closed_port()}/0"))
    client = app.test_client()
    for path in ("/authorize?client_id=x", "/readyz"):
        resp = client.get(path)
        assert resp.status_code == 503, path
        assert_secure(resp, path)


def test_no_hsts_for_an_http_issuer(settings: Settings, store: EphemeralStore) -> None:
    client = create_app(settings, store).test_client()
    for path in ("/verify", "/no/such/page", "/healthz"):
        assert_secure(client.get(path), path, hsts=False)


def test_csp_is_the_strict_default(app: Flask) -> None:
    resp = app.test_client().get("/verify")
    assert resp.headers["Content-Security-Policy"] == web.CSP
