"""Rate limits per client at /token and per address on /authorize, /par, /token and the login
POSTs, counted in the shared store so they hold across workers and nodes."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp import limits
from idp.app import create_app
from idp.clients import create_client
from idp.settings import Settings, SettingsError
from idp.store import EphemeralStore

REDIRECT = "https://agency.example/cb"


def app_with(settings: Settings, store: EphemeralStore, **changes: Any) -> Flask:
    return create_app(replace(settings, **changes), store)


def register(app: Flask) -> tuple[str, str]:
    with app.extensions["idp"].db.session() as s:
        client, secret = create_client(s, {
            "redirect_uris": [REDIRECT], "client_name#en": "Limits test",
            "grant_types": ["authorization_code", "client_credentials"],
            "scope": "openid"})
        return client.client_id, str(secret)


def token(client: FlaskClient, client_id: str, secret: str, address: str = "127.0.0.1"
          ) -> Any:
    return client.post("/token", data={"grant_type": "authorization_code", "code": "nope",
                                       "redirect_uri": REDIRECT, "code_verifier": "v" * 43},
                       auth=(client_id, secret), environ_base={"REMOTE_ADDR": address})


def test_a_client_hammering_token_gets_429_with_retry_after(
        settings: Settings, store: EphemeralStore) -> None:
    app = app_with(settings, store, rate_token_per_client=3)
    client_id, secret = register(app)
    client = app.test_client()
    # Different addresses: only the per-client limit is in play.
    for n in range(3):
        assert token(client, client_id, secret, f"192.0.2.{n}").status_code == 400
    resp = token(client, client_id, secret, "192.0.2.9")
    resp_again = token(client, client_id, secret, "192.0.2.10")
    for limited in (resp, resp_again):
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= settings.rate_window
        assert limited.get_json()["error"] == "too_many_requests"
    # Another client is not affected.
    other_id, other_secret = register(app)
    assert token(client, other_id, other_secret).status_code == 400


def test_failed_authentication_does_not_spend_the_clients_budget(
        settings: Settings, store: EphemeralStore) -> None:
    """client_ids are public: bogus requests naming one must not lock the agency out."""
    app = app_with(settings, store, rate_token_per_client=2)
    client_id, secret = register(app)
    client = app.test_client()
    for n in range(10):
        assert token(client, client_id, "wrong", f"198.51.100.{n}").status_code == 401
    assert token(client, client_id, secret).status_code == 400


def test_token_is_limited_per_address(settings: Settings, store: EphemeralStore) -> None:
    app = app_with(settings, store, rate_token_per_address=2)
    client_id, secret = register(app)
    client = app.test_client()
    assert token(client, client_id, "wrong").status_code == 401
    assert token(client, client_id, secret).status_code == 400
    resp = token(client, client_id, secret)
    assert resp.status_code == 429 and resp.headers["Retry-After"]
    assert resp.get_json()["error"] == "too_many_requests"
    assert token(client, client_id, secret, "203.0.113.1").status_code == 400


def test_authorize_is_limited_per_address_with_a_page(
        settings: Settings, store: EphemeralStore) -> None:
    client = app_with(settings, store, rate_authorize_per_address=2).test_client()
    for _ in range(2):
        assert client.get("/authorize?client_id=x").status_code != 429
    resp = client.get("/authorize?client_id=x", headers={"Accept": "text/html"})
    assert resp.status_code == 429 and resp.headers["Retry-After"]
    assert resp.mimetype == "text/html"
    other = client.get("/authorize?client_id=x", environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert other.status_code != 429


def test_par_is_limited_per_address_with_json(settings: Settings, store: EphemeralStore) -> None:
    client = app_with(settings, store, rate_token_per_address=1).test_client()
    assert client.post("/par", data={"client_id": "x"}).status_code != 429
    resp = client.post("/par", data={"client_id": "x"}, headers={"Accept": "*/*"})
    assert resp.status_code == 429
    assert resp.get_json()["error"] == "too_many_requests"


def test_login_posts_share_one_counter_per_address(
        settings: Settings, store: EphemeralStore) -> None:
    client = app_with(settings, store, rate_login_per_address=2).test_client()
    assert client.post("/interaction/x/login", data={"persona": "a"}).status_code != 429
    assert client.post("/interaction/x/ndid", data={"id": "a"}).status_code != 429
    assert client.post("/interaction/x/upstream/thaid").status_code == 429
    # GET pages of the same interaction are not counted.
    assert client.get("/interaction/x").status_code != 429


def test_limits_hold_across_nodes_sharing_the_store(
        settings: Settings, store: EphemeralStore) -> None:
    node_a = app_with(settings, store, rate_token_per_client=2)
    node_b = app_with(settings, store, rate_token_per_client=2)
    client_id, secret = register(node_a)
    assert token(node_a.test_client(), client_id, secret).status_code == 400
    assert token(node_b.test_client(), client_id, secret).status_code == 400
    assert token(node_a.test_client(), client_id, secret).status_code == 429
    assert token(node_b.test_client(), client_id, secret).status_code == 429


def test_rate_limits_off_for_benchmarks(settings: Settings, store: EphemeralStore) -> None:
    app = app_with(settings, store, rate_limits=False, rate_token_per_client=1,
                   rate_token_per_address=1, rate_authorize_per_address=1)
    client_id, secret = register(app)
    client = app.test_client()
    for _ in range(5):
        assert token(client, client_id, secret).status_code == 400
        assert client.get("/authorize?client_id=x").status_code != 429


def test_proxies_give_each_client_address_its_own_counter(
        settings: Settings, store: EphemeralStore) -> None:
    def authorize(client: FlaskClient, forwarded: str) -> int:
        return client.get("/authorize?client_id=x", environ_base={"REMOTE_ADDR": "10.0.0.2"},
                          headers={"X-Forwarded-For": forwarded}).status_code

    behind = app_with(settings, store, rate_authorize_per_address=1, trusted_proxies=1)
    client = behind.test_client()
    assert authorize(client, "192.0.2.1") != 429
    assert authorize(client, "192.0.2.2") != 429  # another person behind the same proxy
    assert authorize(client, "192.0.2.1") == 429
    # A client cannot pick its own address by adding to the header: the proxy appends.
    assert authorize(client, "192.0.2.77, 192.0.2.1") == 429
    # Without IDP_TRUSTED_PROXIES the header is ignored: all share the proxy's address.
    direct = app_with(settings, store, rate_authorize_per_address=1).test_client()
    assert authorize(direct, "198.51.100.1") != 429
    assert authorize(direct, "198.51.100.2") == 429


def _assertion(sub: str) -> str:
    def part(obj: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'ES256'})}.{part({'iss': sub, 'sub': sub})}.c2ln"


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"headers": {"Authorization": "Basic " + base64.b64encode(b"agency%3A1:pw").decode()}},
     "agency:1"),
    ({"data": {"client_id": "form-client"}}, "form-client"),
    ({"data": {"client_assertion": _assertion("jwt-client"),
               "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:"
                                        "jwt-bearer"}}, "jwt-client"),
    ({"data": {"client_assertion": "not.a.jwt"}}, None),
    ({"data": {"client_assertion": "x" * 20_000}}, None),
    ({}, None),
])
def test_token_client_id_sources(kwargs: dict[str, Any], expected: str | None) -> None:
    app = Flask("limits_client_id_test")
    with app.test_request_context("/token", method="POST", **kwargs):
        assert limits.token_client_id() == expected


def test_settings_of_limits_and_proxies() -> None:
    s = Settings.from_env({"IDP_RATE_LIMITS": "0", "IDP_TRUSTED_PROXIES": "2",
                           "IDP_RATE_TOKEN_PER_CLIENT": "50",
                           "IDP_METRICS_ALLOW": "10.0.0.0/8, ::1"})
    assert not s.rate_limits and s.trusted_proxies == 2 and s.rate_token_per_client == 50
    assert s.metrics_allow == ("10.0.0.0/8", "::1")
    defaults = Settings.from_env({})
    assert defaults.rate_limits and defaults.trusted_proxies == 0
    assert defaults.metrics_allow == ("127.0.0.1", "::1")
    assert Settings.from_env({"IDP_TRUSTED_PROXIES": "0"}).trusted_proxies == 0
    for env, name in (({"IDP_TRUSTED_PROXIES": "-1"}, "IDP_TRUSTED_PROXIES"),
                      ({"IDP_METRICS_ALLOW": "localhost"}, "IDP_METRICS_ALLOW"),
                      ({"IDP_RATE_TOKEN_PER_CLIENT": "0"}, "IDP_RATE_TOKEN_PER_CLIENT")):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env(env)
