"""Pushed authorization requests (RFC 9126) and the FAPI 2.0 rules of the authorization endpoint,
one test per conformance item (shared/reference/oidc-conformance.md, FAPI 2.0 section), over
HTTP against the provider on both store pairs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from click.testing import CliRunner
from joserfc.jwk import ECKey

from idp.cli_clients import clients as clients_cli
from idp.oidc import par, tokens
from idp.settings import Settings
from idp.store import EphemeralStore
from tests.support.fapi import assertion_params, ec_key
from tests.support.live import (
    REDIRECT,
    Browser,
    LiveProvider,
    location_params,
    pkce_pair,
    serve,
)

URN = "urn:ietf:params:oauth:request_uri:"
THUMBPRINT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"  # RFC 7638 3.1's example


@pytest.fixture
def fapi_op(settings: Settings, store: EphemeralStore) -> Iterator[LiveProvider]:
    """The provider with IDP_FAPI2_ONLY on."""
    with serve(replace(settings, fapi2_only=True), store) as live:
        yield live


# --- helpers ---------------------------------------------------------------------------------


def auth_params(client: dict[str, Any], **params: str | None) -> tuple[dict[str, str], str]:
    """An authorization request's parameters with PKCE; returns them and the verifier."""
    verifier, challenge = pkce_pair()
    q: dict[str, str | None] = {
        "response_type": "code", "client_id": client["client_id"],
        "redirect_uri": client["redirect_uri"], "scope": "openid", "state": "st-par",
        "nonce": "n-par", "code_challenge": challenge, "code_challenge_method": "S256"}
    q.update(params)
    return {k: v for k, v in q.items() if v is not None}, verifier


def push(op: LiveProvider, client: dict[str, Any], body: dict[str, str],
         key: ECKey | None = None, aud: str | None = None) -> requests.Response:
    """POST to /par, authenticated with the client's secret (HTTP Basic) or, given its key,
    with private_key_jwt."""
    if key is not None:
        body = {**body, **assertion_params(key, client["client_id"], aud or op.base)}
        return requests.post(f"{op.base}/par", data=body, timeout=10)
    return requests.post(f"{op.base}/par", data=body, timeout=10,
                         auth=(client["client_id"], client["client_secret"]))


def pushed_uri(op: LiveProvider, client: dict[str, Any], key: ECKey | None = None,
               **params: str | None) -> tuple[str, str]:
    """Push a request; returns its request_uri and the PKCE verifier."""
    body, verifier = auth_params(client, **params)
    resp = push(op, client, body, key)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["request_uri"]), verifier


def authorize_url(op: LiveProvider, client_id: str, request_uri: str, **extra: str) -> str:
    return f"{op.base}/authorize?" + urlencode(
        {"client_id": client_id, "request_uri": request_uri, **extra})


def finish(browser: Browser, resp: requests.Response) -> dict[str, str]:
    """Log in as a sandbox persona and consent, if asked; the agency's redirect parameters."""
    if "/interaction/" in resp.url and "/login" in resp.text:
        resp = browser.submit("/login", persona="somchai")
    if resp.status_code == 200 and "/consent" in resp.text:
        resp = browser.submit("/consent", decision="allow")
    return location_params(resp)


def redeem(op: LiveProvider, client: dict[str, Any], code: str, verifier: str
           ) -> requests.Response:
    return op.token(client, grant_type="authorization_code", code=code,
                    redirect_uri=client["redirect_uri"], code_verifier=verifier)


def fapi2_client(op: LiveProvider) -> tuple[dict[str, Any], ECKey]:
    key = ec_key()
    client = op.register(profile="fapi2", token_endpoint_auth_method="private_key_jwt",
                         jwks={"keys": [key.as_dict(private=False)]})
    return client, key


def is_error_page(resp: requests.Response, error: str) -> bool:
    """A page for the person (no redirect anywhere) naming the OAuth error."""
    return resp.status_code == 400 and "Location" not in resp.headers and error in resp.text


def code_record(op: LiveProvider, code: str) -> dict[str, Any] | None:
    return op.app.extensions["idp"].store.get("code:" + tokens.digest(code))


# --- the PAR endpoint ------------------------------------------------------------------------


def test_par_full_code_flow(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    body, verifier = auth_params(client)
    resp = push(op, client, body)
    assert resp.status_code == 201, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    request_uri = resp.json()["request_uri"]
    assert request_uri.startswith(URN) and len(request_uri) >= len(URN) + 22  # >= 128 bits
    got = finish(browser, browser.go(authorize_url(op, client["client_id"], request_uri)))
    assert got["state"] == "st-par" and got["iss"] == op.base
    tokens_resp = redeem(op, client, got["code"], verifier)
    assert tokens_resp.status_code == 200, tokens_resp.text
    assert tokens_resp.json()["id_token"]


def test_par_expires_in_under_600(op: LiveProvider) -> None:
    client = op.register()
    body, _ = auth_params(client)
    answer = push(op, client, body).json()
    assert answer["expires_in"] == par.REQUEST_URI_TTL
    assert 0 < answer["expires_in"] < 600


def test_par_without_client_authentication(op: LiveProvider) -> None:
    client = op.register()
    body, _ = auth_params(client)
    resp = requests.post(f"{op.base}/par", data=body, timeout=10)
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"


def test_par_wrong_secret(op: LiveProvider) -> None:
    client = op.register()
    body, _ = auth_params(client)
    resp = push(op, dict(client, client_secret="not-the-secret"), body)
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"


def test_par_client_id_in_body_must_be_the_authenticated_client(op: LiveProvider) -> None:
    client, other = op.register(), op.register()
    body, _ = auth_params(client, client_id=other["client_id"])
    resp = push(op, client, body)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"


def test_par_redirect_uri_required(op: LiveProvider) -> None:
    client = op.register()
    body, _ = auth_params(client, redirect_uri=None)
    resp = push(op, client, body)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"
    assert "redirect_uri" in resp.json()["error_description"]


def test_par_unregistered_redirect_uri(op: LiveProvider) -> None:
    client = op.register()
    body, _ = auth_params(client, redirect_uri="https://attacker.example/cb")
    resp = push(op, client, body)
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert resp.json()["error"] == "invalid_request"


def test_par_errors_of_authorization_checks_are_json(op: LiveProvider) -> None:
    """The authorization endpoint's own checks run at PAR: same errors, as JSON."""
    client = op.register()
    body, _ = auth_params(client, code_challenge_method="plain")
    resp = push(op, client, body)
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert resp.json() == {"error": "invalid_request",
                           "error_description": "code_challenge_method must be S256"}


def test_par_request_object_refused(op: LiveProvider) -> None:
    client = op.register()
    body, _ = auth_params(client, request="eyJhbGciOiJub25lIn0.e30.")
    resp = push(op, client, body)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"


def test_par_request_uri_inside_refused(op: LiveProvider) -> None:
    client = op.register()
    first, _ = pushed_uri(op, client)
    body, _ = auth_params(client, request_uri=first)
    resp = push(op, client, body)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"


def test_par_repeated_parameter_refused(op: LiveProvider) -> None:
    client = op.register()
    body, _ = auth_params(client)
    pairs = [*body.items(), ("scope", "openid profile")]
    resp = requests.post(f"{op.base}/par", data=pairs, timeout=10,
                         auth=(client["client_id"], client["client_secret"]))
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"


def test_par_too_many_parameters_refused(op: LiveProvider) -> None:
    client = op.register()
    body, _ = auth_params(client)
    body.update({f"x{i}": "1" for i in range(par.MAX_PARAMS)})
    resp = push(op, client, body)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"


def test_par_client_secret_is_not_stored(op: LiveProvider) -> None:
    client = op.register(token_endpoint_auth_method="client_secret_post")
    body, _ = auth_params(client)
    resp = requests.post(f"{op.base}/par", timeout=10,
                         data={**body, "client_secret": client["client_secret"]})
    assert resp.status_code == 201, resp.text
    key = par.STORE_PREFIX + tokens.digest(resp.json()["request_uri"])
    stored = op.app.extensions["idp"].store.get(key)
    assert stored is not None
    assert "client_secret" not in stored["params"]
    assert client["client_secret"] not in json.dumps(stored)


# --- request_uri at the authorization endpoint -----------------------------------------------


def test_request_uri_single_use(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    request_uri, _ = pushed_uri(op, client)
    got = finish(browser, browser.go(authorize_url(op, client["client_id"], request_uri)))
    assert "code" in got
    again = browser.go(authorize_url(op, client["client_id"], request_uri))
    assert is_error_page(again, "invalid_request_uri")


def test_request_uri_expired(op: LiveProvider, browser: Browser,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(par, "REQUEST_URI_TTL", 1)
    client = op.register()
    request_uri, _ = pushed_uri(op, client)
    time.sleep(1.3)
    resp = browser.go(authorize_url(op, client["client_id"], request_uri))
    assert is_error_page(resp, "invalid_request_uri")


def test_request_uri_unknown(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    resp = browser.go(authorize_url(op, client["client_id"], URN + "x" * 43))
    assert is_error_page(resp, "invalid_request_uri")


def test_request_uri_of_another_client(op: LiveProvider, browser: Browser) -> None:
    owner, other = op.register(), op.register()
    request_uri, _ = pushed_uri(op, owner)
    resp = browser.go(authorize_url(op, other["client_id"], request_uri))
    assert is_error_page(resp, "invalid_request_uri")
    # ... and it was not burnt for the client that pushed it.
    got = finish(browser, browser.go(authorize_url(op, owner["client_id"], request_uri)))
    assert "code" in got


def test_request_uri_needs_client_id(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    request_uri, _ = pushed_uri(op, client)
    resp = browser.go(f"{op.base}/authorize?" + urlencode({"request_uri": request_uri}))
    assert is_error_page(resp, "invalid_request")


def test_query_parameters_beside_request_uri_ignored(op: LiveProvider, browser: Browser) -> None:
    client = op.register(redirect_uris=[REDIRECT, "https://agency.example/other"])
    request_uri, verifier = pushed_uri(op, client, scope="openid")
    url = authorize_url(op, client["client_id"], request_uri, scope="openid profile email",
                        redirect_uri="https://agency.example/other", state="from-query",
                        code_challenge="A" * 43, prompt="none")
    resp = browser.go(url)
    if resp.status_code == 200:
        got = finish(browser, resp)
    else:
        got = location_params(resp)
        assert resp.headers["Location"].startswith(REDIRECT + "?")
    assert got["state"] == "st-par"
    answer = redeem(op, client, got["code"], verifier)
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "openid"


def test_post_with_request_uri_redirects_with_303(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    first, _ = pushed_uri(op, client)
    finish(browser, browser.go(authorize_url(op, client["client_id"], first)))  # a session
    request_uri, _ = pushed_uri(op, client)
    resp = browser.http.post(f"{op.base}/authorize", allow_redirects=False, timeout=10,
                             data={"client_id": client["client_id"], "request_uri": request_uri})
    assert resp.status_code == 303
    assert "code" in location_params(resp)


# --- the fapi2 profile -----------------------------------------------------------------------


def test_fapi2_client_without_par_refused(op: LiveProvider, browser: Browser) -> None:
    client, _ = fapi2_client(op)
    url, _ = op.auth_url(client)
    resp = browser.go(url)
    assert is_error_page(resp, "invalid_request")


def test_fapi2_client_through_par_aud_issuer(op: LiveProvider, browser: Browser) -> None:
    client, key = fapi2_client(op)
    request_uri, _ = pushed_uri(op, client, key)
    got = finish(browser, browser.go(authorize_url(op, client["client_id"], request_uri)))
    assert got["code"] and got["iss"] == op.base


def test_private_key_jwt_par_aud_endpoint(op: LiveProvider) -> None:
    """A basic private_key_jwt client may name the PAR endpoint URL as `aud` (RFC 7523 3);
    a fapi2 client names the issuer only (FAPI 2.0 5.3.2.1)."""
    key = ec_key()
    client = op.register(token_endpoint_auth_method="private_key_jwt",
                         jwks={"keys": [key.as_dict(private=False)]})
    body, _ = auth_params(client)
    resp = push(op, client, body, key, aud=f"{op.base}/par")
    assert resp.status_code == 201, resp.text
    fapi2, fapi2_key = fapi2_client(op)
    body, _ = auth_params(fapi2)
    assert push(op, fapi2, body, fapi2_key, aud=f"{op.base}/par").status_code == 401


def test_fapi2_client_par_wrong_aud(op: LiveProvider) -> None:
    client, key = fapi2_client(op)
    body, _ = auth_params(client)
    resp = push(op, client, body, key, aud="https://elsewhere.example")
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"


def test_fapi2_client_par_wrong_key(op: LiveProvider) -> None:
    client, _ = fapi2_client(op)
    body, _ = auth_params(client)
    resp = push(op, client, body, ec_key())  # same kid, another key
    assert resp.status_code == 401


def test_nonce_of_64_characters(op: LiveProvider, browser: Browser) -> None:
    client, key = fapi2_client(op)
    nonce = "n" * 64
    request_uri, _ = pushed_uri(op, client, key, nonce=nonce)
    got = finish(browser, browser.go(authorize_url(op, client["client_id"], request_uri)))
    record = code_record(op, got["code"])
    assert record is not None and record["nonce"] == nonce


def test_no_state_and_no_nonce(op: LiveProvider, browser: Browser) -> None:
    client, key = fapi2_client(op)
    request_uri, _ = pushed_uri(op, client, key, state=None, nonce=None)
    got = finish(browser, browser.go(authorize_url(op, client["client_id"], request_uri)))
    assert got["code"] and "state" not in got


# --- dpop_jkt --------------------------------------------------------------------------------


def test_dpop_jkt_malformed_refused(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    for bad in ("abc", THUMBPRINT + "=", THUMBPRINT[:-1] + "+"):
        body, _ = auth_params(client, dpop_jkt=bad)
        resp = push(op, client, body)
        assert resp.status_code == 400, bad
        assert resp.json()["error"] == "invalid_request"
    url, _ = op.auth_url(client, dpop_jkt="abc")
    assert location_params(browser.go(url))["error"] == "invalid_request"


def test_dpop_jkt_kept_in_code_record(op: LiveProvider, browser: Browser) -> None:
    client, key = fapi2_client(op)
    request_uri, _ = pushed_uri(op, client, key, dpop_jkt=THUMBPRINT)
    got = finish(browser, browser.go(authorize_url(op, client["client_id"], request_uri)))
    record = code_record(op, got["code"])
    assert record is not None and record["dpop_jkt"] == THUMBPRINT


def test_without_dpop_jkt_code_record_has_none(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    got, _ = op.login(browser, client)
    record = code_record(op, got["code"])
    assert record is not None and record["dpop_jkt"] is None


# --- IDP_FAPI2_ONLY --------------------------------------------------------------------------


def test_fapi2_only_refuses_basic_client_at_authorize(fapi_op: LiveProvider) -> None:
    client = fapi_op.register()
    browser = Browser(fapi_op.base)
    url, _ = fapi_op.auth_url(client)
    assert is_error_page(browser.go(url), "unauthorized_client")


def test_fapi2_only_refuses_basic_client_at_par(fapi_op: LiveProvider) -> None:
    client = fapi_op.register()
    body, _ = auth_params(client)
    resp = push(fapi_op, client, body)
    # Refused at client authentication (server.py) or, failing that, by the PAR checks.
    assert resp.status_code in (400, 401)
    assert resp.json()["error"] in ("invalid_client", "unauthorized_client")


def test_fapi2_only_serves_fapi2_clients(fapi_op: LiveProvider) -> None:
    client, key = fapi2_client(fapi_op)
    browser = Browser(fapi_op.base)
    request_uri, _ = pushed_uri(fapi_op, client, key)
    got = finish(browser, browser.go(authorize_url(fapi_op, client["client_id"], request_uri)))
    assert got["code"]


def _cli(database_url: str, fapi2_only: bool, *args: str) -> Any:
    env = {"IDP_DATABASE_URL": database_url, "IDP_FAPI2_ONLY": "1" if fapi2_only else "0"}
    return CliRunner().invoke(clients_cli, list(args), env=env)


def test_fapi2_only_refuses_basic_client_registration(database_url: str, tmp_path: Any
                                                      ) -> None:
    refused = _cli(database_url, True, "add", "--redirect-uri", REDIRECT)
    assert refused.exit_code == 2
    assert "IDP_FAPI2_ONLY" in refused.output
    doc = tmp_path / "fapi2.json"
    doc.write_text(json.dumps({
        "redirect_uris": [REDIRECT], "profile": "fapi2",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [ec_key().as_dict(private=False)]}}))
    accepted = _cli(database_url, True, "add", "--file", str(doc), "--json")
    assert accepted.exit_code == 0, accepted.output
    client_id = json.loads(accepted.stdout)["client_id"]
    back = _cli(database_url, True, "update", client_id, "--profile", "basic")
    assert back.exit_code == 2
    assert _cli(database_url, False, "add", "--redirect-uri", REDIRECT).exit_code == 0


# --- discovery -------------------------------------------------------------------------------


def test_discovery_par_metadata(op: LiveProvider, fapi_op: LiveProvider) -> None:
    doc = requests.get(f"{op.base}/.well-known/openid-configuration", timeout=5).json()
    assert doc["pushed_authorization_request_endpoint"] == f"{op.base}/par"
    assert doc["require_pushed_authorization_requests"] is False
    strict = requests.get(f"{fapi_op.base}/.well-known/openid-configuration", timeout=5).json()
    assert strict["require_pushed_authorization_requests"] is True


# --- RFC 9449 10.1: a DPoP proof sent with the pushed request -------------------------------


def _push_with_proof(op: LiveProvider, client: dict[str, Any], proof: str,
                     **params: str | None) -> tuple[requests.Response, str]:
    body, verifier = auth_params(client, **params)
    resp = requests.post(f"{op.base}/par", data=body, timeout=10, headers={"DPoP": proof},
                         auth=(client["client_id"], client["client_secret"]))
    return resp, verifier


def test_a_proof_at_par_binds_the_code_to_its_key(op: LiveProvider, browser: Browser) -> None:
    from tests.support.dpop import DpopKey

    client = op.register()
    key = DpopKey.ec()
    resp, verifier = _push_with_proof(op, client, key.proof("POST", f"{op.base}/par"))
    assert resp.status_code == 201, resp.text
    assert resp.headers.get("DPoP-Nonce")
    got = finish(browser, browser.go(authorize_url(op, client["client_id"],
                                                   resp.json()["request_uri"])))
    record = code_record(op, got["code"])
    assert record is not None and record["dpop_jkt"] == key.jkt
    # redeemed with another key: refused, and the code is kept for its rightful holder
    other = DpopKey.ec()
    wrong = requests.post(f"{op.base}/token", timeout=10, auth=(client["client_id"],
                                                                client["client_secret"]),
                          headers={"DPoP": other.proof("POST", f"{op.base}/token")},
                          data={"grant_type": "authorization_code", "code": got["code"],
                                "redirect_uri": client["redirect_uri"],
                                "code_verifier": verifier})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant", wrong.text
    right = requests.post(f"{op.base}/token", timeout=10, auth=(client["client_id"],
                                                                client["client_secret"]),
                          headers={"DPoP": key.proof("POST", f"{op.base}/token")},
                          data={"grant_type": "authorization_code", "code": got["code"],
                                "redirect_uri": client["redirect_uri"],
                                "code_verifier": verifier})
    assert right.status_code == 200 and right.json()["token_type"] == "DPoP", right.text


def test_a_bad_proof_at_par_or_one_disagreeing_with_dpop_jkt_is_refused(op: LiveProvider
                                                                         ) -> None:
    from tests.support.dpop import DpopKey

    client = op.register()
    key = DpopKey.ec()
    wrong_url, _ = _push_with_proof(op, client, key.proof("POST", f"{op.base}/token"))
    assert wrong_url.status_code == 400 and wrong_url.json()["error"] == "invalid_dpop_proof"
    other_jkt, _ = _push_with_proof(op, client, key.proof("POST", f"{op.base}/par"),
                                    dpop_jkt=DpopKey.ec().jkt)
    assert other_jkt.status_code == 400 and other_jkt.json()["error"] == "invalid_dpop_proof"
    same_jkt, _ = _push_with_proof(op, client, key.proof("POST", f"{op.base}/par"),
                                   dpop_jkt=key.jkt)
    assert same_jkt.status_code == 201, same_jkt.text
