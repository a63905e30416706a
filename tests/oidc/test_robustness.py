"""Bad input gets a clear error, never a 500; a store going away gets a 503 and loses nothing."""

from __future__ import annotations

import base64

import pytest
import requests

from idp.store import EphemeralStore, StoreUnavailableError
from tests.support.live import Browser, LiveProvider

GARBAGE = ["", "x" * 5000, "\x00", "%ff%fe", "{\"a\":", "[]", "null", "ไทย", "' OR 1=1 --"]


@pytest.mark.parametrize("value", GARBAGE)
def test_authorize_never_fails_with_a_server_error(op: LiveProvider, value: str) -> None:
    client = op.register()
    for name in ("client_id", "redirect_uri", "response_type", "scope", "prompt", "max_age",
                 "claims", "id_token_hint", "code_challenge", "code_challenge_method",
                 "acr_values", "ui_locales", "nonce", "state", "display", "request"):
        url, _ = op.auth_url(client, **{name: value})
        resp = requests.get(url, allow_redirects=False, timeout=10)
        assert resp.status_code < 500, (name, value, resp.status_code)
        assert "Traceback" not in resp.text


@pytest.mark.parametrize("value", GARBAGE)
def test_token_endpoint_never_fails_with_a_server_error(op: LiveProvider, value: str) -> None:
    client = op.register()
    for form in ({"grant_type": value}, {"grant_type": "authorization_code", "code": value},
                 {"grant_type": "refresh_token", "refresh_token": value},
                 {"grant_type": "authorization_code", "code": value, "code_verifier": value}):
        resp = op.token(client, **form)
        assert 400 <= resp.status_code < 500, (form, resp.status_code, resp.text[:200])
        assert "error" in resp.json()
    basic = base64.b64encode(f"{value or 'x'}:{value or 'y'}".encode()).decode()
    resp = requests.post(f"{op.base}/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": f"Basic {basic}"}, timeout=10)
    assert resp.status_code in (400, 401)


@pytest.mark.parametrize("value", GARBAGE)
def test_other_endpoints_never_fail_with_a_server_error(op: LiveProvider, value: str) -> None:
    client = op.register()
    auth = (client["client_id"], client["client_secret"])
    checks = [
        requests.get(f"{op.base}/userinfo", headers={"Authorization": f"Bearer {value}x".encode()},
                     timeout=10),
        requests.post(f"{op.base}/userinfo", data={"access_token": value}, timeout=10),
        requests.post(f"{op.base}/revoke", data={"token": value}, auth=auth, timeout=10),
        requests.post(f"{op.base}/introspect", data={"token": value}, auth=auth, timeout=10),
        requests.get(f"{op.base}/logout", params={"id_token_hint": value,
                                                 "post_logout_redirect_uri": value},
                     allow_redirects=False, timeout=10),
        requests.get(f"{op.base}/interaction/{value or 'x'}", timeout=10),
        requests.post(f"{op.base}/interaction/{value or 'x'}/login", data={"persona": value},
                      timeout=10),
    ]
    for resp in checks:
        assert resp.status_code < 500, (resp.request.url, resp.status_code)
        assert "Traceback" not in resp.text


def test_oversized_request_is_refused_with_413(op: LiveProvider) -> None:
    resp = requests.post(f"{op.base}/token", data={"x": "y" * 200_000}, timeout=10)
    assert resp.status_code == 413
    assert resp.json()["error"] == "invalid_request"


def test_healthz_reports_both_stores(op: LiveProvider) -> None:
    resp = requests.get(f"{op.base}/healthz", timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "store": True, "database": True}


class FlakyStore:
    """Wraps a real store; fails every call while `down` is set."""

    def __init__(self, inner: EphemeralStore) -> None:
        self.inner = inner
        self.down = False

    def __getattr__(self, name: str) -> object:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*args: object, **kwargs: object) -> object:
            if self.down:
                if name == "ping":
                    return False
                raise StoreUnavailableError("ephemeral store unavailable")
            return attr(*args, **kwargs)
        return call


def test_store_going_away_mid_flow_is_a_503_and_loses_nothing(settings, store) -> None:  # type: ignore[no-untyped-def]
    from tests.support.live import serve

    flaky = FlakyStore(store)
    with serve(settings, flaky) as op:  # type: ignore[arg-type]
        client = op.register()
        browser = Browser(op.base)
        tokens = op.code_flow(browser, client, scope="openid profile offline_access")
        flaky.down = True
        url, _ = op.auth_url(client)
        page = browser.go(url)
        assert page.status_code == 503
        assert page.headers["Retry-After"]
        refresh = op.token(client, grant_type="refresh_token",
                           refresh_token=tokens["refresh_token"])
        assert refresh.status_code < 500 or refresh.status_code == 503
        assert requests.get(f"{op.base}/healthz", timeout=5).status_code == 503
        flaky.down = False
        # Nothing durable was lost: the tokens still work once the store is back.
        info = requests.get(f"{op.base}/userinfo", timeout=5,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert info.status_code == 200
        again = op.code_flow(browser, client)
        assert again["access_token"]
