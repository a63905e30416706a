"""DPoP (RFC 9449) over HTTP, as an agency uses it: tokens bound at /token (code, refresh,
client credentials), used with proofs at userinfo and at the CSC API, refused as Bearer or
with another key, codes bound with dpop_jkt, server nonces, introspection, and unbound
tokens exactly as before."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests

from idp.settings import Settings
from idp.store import EphemeralStore
from tests.support.dpop import DpopKey
from tests.support.live import Browser, LiveProvider, serve

# --- helpers ---------------------------------------------------------------------------------


def token(op: LiveProvider, client: dict[str, Any], key: DpopKey | None,
          nonce: str | None = None, **data: str) -> requests.Response:
    """A token request with a proof of `key` (none when key is None)."""
    headers = {"DPoP": key.proof("POST", f"{op.base}/token", nonce=nonce)} if key else {}
    return requests.post(f"{op.base}/token", data=data, headers=headers, timeout=10,
                         auth=(client["client_id"], client["client_secret"]))


def code_request(op: LiveProvider, browser: Browser, client: dict[str, Any],
                 **params: str) -> dict[str, str]:
    got, verifier = op.login(browser, client, "somchai", True, **params)
    assert "code" in got, got
    return {"grant_type": "authorization_code", "code": got["code"],
            "redirect_uri": client["redirect_uri"], "code_verifier": verifier}


def userinfo(op: LiveProvider, access_token: str, key: DpopKey | None,
             scheme: str = "DPoP", nonce: str | None = None) -> requests.Response:
    url = f"{op.base}/userinfo"
    headers = {"Authorization": f"{scheme} {access_token}"}
    if key is not None:
        headers["DPoP"] = key.proof("GET", url, access_token=access_token, nonce=nonce)
    return requests.get(url, headers=headers, timeout=10)


def introspect(op: LiveProvider, client: dict[str, Any], tok: str) -> dict[str, Any]:
    resp = requests.post(f"{op.base}/introspect", data={"token": tok}, timeout=10,
                         auth=(client["client_id"], client["client_secret"]))
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def bound_tokens(op: LiveProvider, browser: Browser, key: DpopKey
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    client = op.register()
    resp = token(op, client, key, **code_request(op, browser, client))
    assert resp.status_code == 200, resp.text
    return client, dict(resp.json())


# --- bound tokens --------------------------------------------------------------------------


def test_code_flow_and_refresh_are_bound(op: LiveProvider, browser: Browser) -> None:
    key = DpopKey.ec()
    client, tokens = bound_tokens(op, browser, key)
    assert tokens["token_type"] == "DPoP"
    resp = userinfo(op, tokens["access_token"], key)
    assert resp.status_code == 200, resp.text
    assert resp.json()["sub"] and resp.headers.get("DPoP-Nonce")

    resp = token(op, client, key, grant_type="refresh_token",
                 refresh_token=tokens["refresh_token"])
    assert resp.status_code == 200, resp.text
    refreshed = resp.json()
    assert refreshed["token_type"] == "DPoP"
    assert userinfo(op, refreshed["access_token"], key).status_code == 200
    assert userinfo(op, refreshed["access_token"], None, scheme="Bearer").status_code == 401


def test_rsa_and_ed25519_keys_bind_too(op: LiveProvider, browser: Browser) -> None:
    for key in (DpopKey.rsa(), DpopKey.ed25519()):
        _client, tokens = bound_tokens(op, browser, key)
        assert tokens["token_type"] == "DPoP"
        assert userinfo(op, tokens["access_token"], key).status_code == 200


def test_refresh_with_another_key_is_refused_and_burns_nothing(op: LiveProvider,
                                                              browser: Browser) -> None:
    key = DpopKey.ec()
    client, tokens = bound_tokens(op, browser, key)
    for wrong in (DpopKey.ec(), None):
        resp = token(op, client, wrong, grant_type="refresh_token",
                     refresh_token=tokens["refresh_token"])
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant", resp.text
    resp = token(op, client, key, grant_type="refresh_token",
                 refresh_token=tokens["refresh_token"])
    assert resp.status_code == 200, resp.text


def test_client_credentials_bound_and_used_at_the_csc_api(op: LiveProvider) -> None:
    client = op.register(grant_types=["client_credentials"], scope="seal", redirect_uris=[])
    key = DpopKey.ec()
    resp = token(op, client, key, grant_type="client_credentials", scope="seal")
    assert resp.status_code == 200, resp.text
    assert resp.json()["token_type"] == "DPoP"
    access = resp.json()["access_token"]
    url = f"{op.base}/csc/v2/credentials/list"

    as_bearer = requests.post(url, json={}, timeout=10,
                              headers={"Authorization": f"Bearer {access}"})
    assert as_bearer.status_code == 401
    assert as_bearer.json()["error"] == "invalid_token"
    assert as_bearer.headers["WWW-Authenticate"].startswith("DPoP ")

    other = DpopKey.ec()
    with_other = requests.post(url, json={}, timeout=10, headers={
        "Authorization": f"DPoP {access}", "DPoP": other.proof("POST", url, access)})
    assert with_other.status_code == 401
    assert with_other.json()["error"] == "invalid_dpop_proof"

    good = requests.post(url, json={}, timeout=10, headers={
        "Authorization": f"DPoP {access}", "DPoP": key.proof("POST", url, access)})
    assert good.status_code == 200, good.text
    assert good.json()["credentialIDs"] == []
    assert good.headers["DPoP-Nonce"]


def test_bound_token_refused_as_bearer_at_userinfo(op: LiveProvider, browser: Browser) -> None:
    key = DpopKey.ec()
    _client, tokens = bound_tokens(op, browser, key)
    resp = userinfo(op, tokens["access_token"], None, scheme="Bearer")
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_token"
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith("DPoP ") and 'error="invalid_token"' in challenge
    assert "ES256" in challenge


def test_proof_with_another_key_refused_at_userinfo(op: LiveProvider, browser: Browser) -> None:
    _client, tokens = bound_tokens(op, browser, DpopKey.ec())
    resp = userinfo(op, tokens["access_token"], DpopKey.ec())
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_dpop_proof"
    assert 'error="invalid_dpop_proof"' in resp.headers["WWW-Authenticate"]


def test_proof_without_ath_refused_at_userinfo(op: LiveProvider, browser: Browser) -> None:
    key = DpopKey.ec()
    _client, tokens = bound_tokens(op, browser, key)
    url = f"{op.base}/userinfo"
    resp = requests.get(url, timeout=10, headers={
        "Authorization": f"DPoP {tokens['access_token']}", "DPoP": key.proof("GET", url)})
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_dpop_proof"


def test_a_replayed_proof_is_refused_at_token(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    key = DpopKey.ec()
    proof = key.proof("POST", f"{op.base}/token")
    first = requests.post(f"{op.base}/token", data=code_request(op, browser, client),
                          headers={"DPoP": proof}, timeout=10,
                          auth=(client["client_id"], client["client_secret"]))
    assert first.status_code == 200, first.text
    again = requests.post(f"{op.base}/token", data=code_request(op, browser, client),
                          headers={"DPoP": proof}, timeout=10,
                          auth=(client["client_id"], client["client_secret"]))
    assert again.status_code == 400 and again.json()["error"] == "invalid_dpop_proof"


def test_code_bound_with_dpop_jkt(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    key = DpopKey.ec()
    data = code_request(op, browser, client, dpop_jkt=key.jkt)
    for wrong in (DpopKey.ec(), None):
        resp = token(op, client, wrong, **data)
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant", resp.text
    # The refusals took nothing: the client's own key still redeems the code.
    resp = token(op, client, key, **data)
    assert resp.status_code == 200, resp.text
    assert resp.json()["token_type"] == "DPoP"


def test_a_client_registered_for_dpop_must_send_a_proof(op: LiveProvider,
                                                        browser: Browser) -> None:
    client = op.register(dpop_bound_access_tokens=True)
    data = code_request(op, browser, client)
    resp = token(op, client, None, **data)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_dpop_proof"
    resp = token(op, client, DpopKey.ec(), **data)
    assert resp.status_code == 200, resp.text
    assert resp.json()["token_type"] == "DPoP"


def test_introspection_shows_the_binding(op: LiveProvider, browser: Browser) -> None:
    key = DpopKey.ec()
    client, tokens = bound_tokens(op, browser, key)
    body = introspect(op, client, tokens["access_token"])
    assert body["active"] is True and body["token_type"] == "DPoP"
    assert body["cnf"] == {"jkt": key.jkt}


# --- nonces ----------------------------------------------------------------------------------


@pytest.fixture
def nonce_op(settings: Settings, store: EphemeralStore) -> Iterator[LiveProvider]:
    with serve(replace(settings, dpop_nonce_required=True), store) as live:
        yield live


def test_nonce_round_trips(nonce_op: LiveProvider) -> None:
    op, browser, key = nonce_op, Browser(nonce_op.base), DpopKey.ec()
    client = op.register()
    data = code_request(op, browser, client)
    first = token(op, client, key, **data)
    assert first.status_code == 400 and first.json()["error"] == "use_dpop_nonce", first.text
    nonce = first.headers["DPoP-Nonce"]
    # The code survived the round trip.
    resp = token(op, client, key, nonce=nonce, **data)
    assert resp.status_code == 200, resp.text
    access = resp.json()["access_token"]
    assert resp.headers["DPoP-Nonce"]

    without = userinfo(op, access, key)
    assert without.status_code == 401
    assert 'error="use_dpop_nonce"' in without.headers["WWW-Authenticate"]
    assert without.headers["DPoP-Nonce"]
    assert userinfo(op, access, key, nonce=without.headers["DPoP-Nonce"]).status_code == 200
    assert userinfo(op, access, key, nonce="made-up").status_code == 401


# --- unbound tokens stay Bearer ----------------------------------------------------------------


def test_unbound_tokens_unchanged(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    resp = token(op, client, None, **code_request(op, browser, client))
    assert resp.status_code == 200, resp.text
    assert resp.json()["token_type"] == "Bearer"
    assert "DPoP-Nonce" not in resp.headers
    access = resp.json()["access_token"]
    assert userinfo(op, access, None, scheme="Bearer").status_code == 200
    assert userinfo(op, access, DpopKey.ec()).status_code == 401  # DPoP scheme, unbound
    body = introspect(op, client, access)
    assert body["token_type"] == "Bearer" and "cnf" not in body

    # A proof on the refresh of an unbound family leaves it Bearer (RFC 9449 5).
    resp = token(op, client, DpopKey.ec(), grant_type="refresh_token",
                 refresh_token=resp.json()["refresh_token"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["token_type"] == "Bearer"
