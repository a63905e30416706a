"""The OpenID Foundation's Basic OP test plan, one test per module (named after it), run over
HTTP against the provider on both store pairs. See shared/reference/oidc-conformance.md."""

from __future__ import annotations

import time
from typing import Any

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.live import REDIRECT, Browser, LiveProvider, location_params


def verify_id_token(op: LiveProvider, token: str, client: dict[str, Any]) -> dict[str, Any]:
    jwks = KeySet.import_key_set(requests.get(f"{op.base}/jwks", timeout=5).json())
    decoded = jwt.decode(token, jwks, algorithms=["ES256", "RS256"])
    claims = dict(decoded.claims)
    assert decoded.header["kid"] in {k.kid for k in jwks.keys}
    assert claims["iss"] == op.base
    assert claims["aud"] == client["client_id"]
    assert claims["exp"] > time.time() > claims["iat"] - 5
    assert claims["sub"]
    return claims


def userinfo(op: LiveProvider, access_token: str, how: str = "get") -> requests.Response:
    if how == "get":
        return requests.get(f"{op.base}/userinfo", timeout=5,
                            headers={"Authorization": f"Bearer {access_token}"})
    if how == "post-header":
        return requests.post(f"{op.base}/userinfo", timeout=5,
                             headers={"Authorization": f"Bearer {access_token}"})
    return requests.post(f"{op.base}/userinfo", data={"access_token": access_token}, timeout=5)


def test_oidcc_server(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    got, verifier = op.login(browser, client, nonce="n-0S6_WzA2Mj", state="st8")
    assert got["state"] == "st8"
    assert got["iss"] == op.base
    tokens = op.token(client, grant_type="authorization_code", code=got["code"],
                      redirect_uri=REDIRECT, code_verifier=verifier).json()
    claims = verify_id_token(op, tokens["id_token"], client)
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert tokens["token_type"] == "Bearer"


def test_oidcc_response_type_missing(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    url, _ = op.auth_url(client, response_type="")
    resp = browser.go(url)
    params = location_params(resp)
    assert params["error"] == "invalid_request"
    assert params["iss"] == op.base


def test_oidcc_idtoken_signature(op: LiveProvider, browser: Browser) -> None:
    client = op.register(id_token_signed_response_alg="RS256")
    tokens = op.code_flow(browser, client)
    header = jwt.decode(tokens["id_token"], KeySet.import_key_set(
        requests.get(f"{op.base}/jwks", timeout=5).json())).header
    assert header["alg"] == "RS256"
    assert header["kid"]


def test_oidcc_idtoken_unsigned(op: LiveProvider) -> None:
    doc = requests.get(f"{op.base}/.well-known/openid-configuration", timeout=5).json()
    assert "none" not in doc["id_token_signing_alg_values_supported"]
    client = op.register()
    # A client cannot register alg=none either.
    try:
        op.register(id_token_signed_response_alg="none")
    except ValueError:
        pass
    else:
        raise AssertionError("alg=none was accepted")
    assert client["client_id"]


def test_oidcc_userinfo_get(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    tokens = op.code_flow(browser, client, scope="openid profile")
    resp = userinfo(op, tokens["access_token"], "get")
    assert resp.status_code == 200
    body = resp.json()
    assert body["sub"] == verify_id_token(op, tokens["id_token"], client)["sub"]
    assert body["name"]


def test_oidcc_userinfo_post_header(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    tokens = op.code_flow(browser, client, scope="openid profile")
    assert userinfo(op, tokens["access_token"], "post-header").json()["name"]


def test_oidcc_userinfo_post_body(op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    tokens = op.code_flow(browser, client, scope="openid profile")
    assert userinfo(op, tokens["access_token"], "post-body").json()["name"]


def test_oidcc_ensure_request_without_nonce_succeeds_for_code_flow(
        op: LiveProvider, browser: Browser) -> None:
    client = op.register()
    tokens = op.code_flow(browser, client, nonce=None)  # type: ignore[arg-type]
    assert "nonce" not in verify_id_token(op, tokens["id_token"], client)


def _scope_test(op: LiveProvider, browser: Browser, scope: str, expected: list[str]) -> None:
    client = op.register()
    tokens = op.code_flow(browser, client, scope=scope)
    body = userinfo(op, tokens["access_token"]).json()
    for claim in expected:
        assert claim in body, (claim, body)


def test_oidcc_scope_profile(op: LiveProvider, browser: Browser) -> None:
    _scope_test(op, browser, "openid profile", ["name", "given_name", "family_name",
                                                 "birthdate", "name#th"])


def test_oidcc_scope_email(op: LiveProvider, browser: Browser) -> None:
    _scope_test(op, browser, "openid email", ["email", "email_verified"])


def test_oidcc_scope_address(op: LiveProvider, browser: Browser) -> None:
    _scope_test(op, browser, "openid address", ["address"])


def test_oidcc_scope_phone(op: LiveProvider, browser: Browser) -> None:
    _scope_test(op, browser, "openid phone", ["phone_number", "phone_number_verified"])


def test_oidcc_scope_all(op: LiveProvider, browser: Browser) -> None:
    _scope_test(op, browser, "openid profile email address phone",
                ["name", "email", "address", "phone_number"])
