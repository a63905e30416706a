"""Encrypted ID tokens and userinfo (OIDC Core 10.2, 5.3.2; Registration 2), and the rule that
the national ID number only travels encrypted (IDP_NATIONAL_ID_NEEDS_ENCRYPTION), over HTTP as
an agency sees them: each response is decrypted with the agency's own private key and the JWT
inside verified with the provider's published keys."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey

from idp.oidc.encryption import EncryptionKeyError, choose_recipient_key
from idp.settings import Settings
from idp.store import EphemeralStore
from tests.support.encryption import (
    decrypt,
    encrypted_metadata,
    encryption_key,
    is_jwe,
    open_nested,
    provider_keys,
)
from tests.support.ida import assert_valid
from tests.support.jwks_server import jwks_server, point_jwks_uri
from tests.support.live import Browser, LiveProvider, location_params, serve

SOMCHAI_CID = "1345951597671"


def cid(op: LiveProvider) -> str:
    return f"{op.base}/claims/th_citizen_id"


def citizen_request(op: LiveProvider) -> dict[str, Any]:
    """The national ID (and a name) asked for inside verified_claims, in both targets."""
    element = {"verification": {"trust_framework": None},
               "claims": {"given_name": None, cid(op): None}}
    return {"id_token": {"verified_claims": element}, "userinfo": {"verified_claims": element}}


def get_userinfo(op: LiveProvider, access_token: str) -> requests.Response:
    return requests.get(f"{op.base}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {access_token}"})


def plain_claims(op: LiveProvider, id_token: str) -> dict[str, Any]:
    return dict(jwt.decode(id_token, provider_keys(op.base)).claims)


def consent_lines(html: str) -> str:
    """The part of the consent page that lists what the agency receives (before the notes
    under the list and the form)."""
    return html.split("<form")[0].split('<p class="help"')[0]


def to_consent(op: LiveProvider, browser: Browser, client: dict[str, Any],
               claims: dict[str, Any]) -> tuple[requests.Response, str]:
    """Log somchai in and stop on the consent page; it and the PKCE verifier."""
    url, verifier = op.auth_url(client, claims=json.dumps(claims), ui_locales="en")
    page = browser.go(url)
    if "/login" in page.text:
        page = browser.submit("/login", persona="somchai")
    assert page.status_code == 200 and "/consent" in page.text, page.text[:500]
    return page, verifier


def allow(op: LiveProvider, browser: Browser, client: dict[str, Any],
          verifier: str) -> requests.Response:
    got = location_params(browser.submit("/consent", decision="allow"))
    resp = op.token(client, grant_type="authorization_code", code=got["code"],
                    redirect_uri=client["redirect_uri"], code_verifier=verifier)
    assert resp.status_code == 200, resp.text
    return resp


# --- ID tokens ---------------------------------------------------------------------------------

@pytest.mark.parametrize("enc", ["A256GCM", "A256CBC-HS512"])
def test_id_token_encrypted_with_each_enc(op: LiveProvider, browser: Browser, enc: str) -> None:
    key = encryption_key()
    client = op.register(**encrypted_metadata(key, enc, userinfo=False))
    tokens = op.code_flow(browser, client)
    assert is_jwe(tokens["id_token"])
    header, inner = decrypt(tokens["id_token"], key)
    assert header["alg"] == "ECDH-ES+A256KW" and header["enc"] == enc
    assert header["cty"] == "JWT" and header["kid"] == key.kid
    claims = dict(jwt.decode(inner, provider_keys(op.base)).claims)
    assert claims["iss"] == op.base and claims["aud"] == client["client_id"]
    assert claims["sub"] and claims["nonce"]
    # another key cannot open it
    with pytest.raises(Exception):  # noqa: B017 (joserfc's error classes vary by cause)
        decrypt(tokens["id_token"], encryption_key())
    # userinfo was not asked to be encrypted: plain JSON
    resp = get_userinfo(op, tokens["access_token"])
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json()["sub"] == claims["sub"]


def test_refreshed_id_token_is_encrypted_too(op: LiveProvider, browser: Browser) -> None:
    key = encryption_key()
    client = op.register(**encrypted_metadata(key, userinfo=False))
    first = op.code_flow(browser, client)
    resp = op.token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert resp.status_code == 200, resp.text
    again = open_nested(resp.json()["id_token"], key, op.base)
    assert again["sub"] == open_nested(first["id_token"], key, op.base)["sub"]


def test_encryption_key_from_jwks_uri_honours_kid(op: LiveProvider, browser: Browser) -> None:
    """The recipient is the agency's EC key marked for encryption; its kid is in the header."""
    signing = ECKey.generate_key("P-256", parameters={"kid": "sig", "use": "sig"})
    key = encryption_key("enc-2026")
    with jwks_server() as agency:
        client = op.register(jwks_uri="https://agency.example/jwks.json",
                             **{k: v for k, v in encrypted_metadata(key).items() if k != "jwks"})
        point_jwks_uri(op, client["client_id"], agency.publish({"keys": [
            signing.as_dict(private=False), key.as_dict(private=False)]}))
        tokens = op.code_flow(browser, client)
    header, _ = decrypt(tokens["id_token"], key)
    assert header["kid"] == "enc-2026"


# --- userinfo ----------------------------------------------------------------------------------

@pytest.mark.parametrize("enc", ["A256GCM", "A256CBC-HS512"])
def test_userinfo_encrypted(op: LiveProvider, browser: Browser, enc: str) -> None:
    key = encryption_key()
    client = op.register(**encrypted_metadata(key, enc, id_token=False))
    tokens = op.code_flow(browser, client, scope="openid profile")
    id_claims = plain_claims(op, tokens["id_token"])  # ID tokens stay signed only
    resp = get_userinfo(op, tokens["access_token"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "application/jwt"
    assert resp.headers["Cache-Control"] == "no-store"
    header, _ = decrypt(resp.text, key)
    assert header["enc"] == enc and header["cty"] == "JWT"
    claims = open_nested(resp.text, key, op.base)
    assert claims["iss"] == op.base and claims["aud"] == client["client_id"]
    assert claims["sub"] == id_claims["sub"]
    assert claims["given_name"] == "Somchai"


# --- the national ID only travels encrypted ------------------------------------------------------

def test_national_id_withheld_from_an_unencrypted_client(op: LiveProvider,
                                                         browser: Browser) -> None:
    """Not offered on the consent page, not in the ID token, not in userinfo; the rest of
    what was asked is."""
    client = op.register()
    page, verifier = to_consent(op, browser, client, citizen_request(op))
    assert cid(op) not in consent_lines(page.text)
    assert "national ID" not in consent_lines(page.text)
    # ... and the page says why it is not on the list.
    assert 'id="national-id-withheld"' in page.text
    assert "has not registered a key to encrypt it with" in page.text
    tokens = allow(op, browser, client, verifier).json()
    id_claims = plain_claims(op, tokens["id_token"])
    info = get_userinfo(op, tokens["access_token"]).json()
    assert SOMCHAI_CID not in json.dumps([id_claims, info])
    assert assert_valid(id_claims["verified_claims"])["claims"] == {"given_name": "Somchai"}
    assert assert_valid(info["verified_claims"])["claims"] == {"given_name": "Somchai"}


def test_national_id_present_when_encrypted(op: LiveProvider, browser: Browser) -> None:
    key = encryption_key()
    client = op.register(**encrypted_metadata(key))
    page, verifier = to_consent(op, browser, client, citizen_request(op))
    assert cid(op) in consent_lines(page.text)
    assert "Your national ID number" in consent_lines(page.text)
    assert 'id="national-id-withheld"' not in page.text
    resp = allow(op, browser, client, verifier)
    tokens = resp.json()
    assert SOMCHAI_CID not in resp.text
    id_claims = open_nested(tokens["id_token"], key, op.base)
    assert assert_valid(id_claims["verified_claims"])["claims"][cid(op)] == SOMCHAI_CID
    raw = get_userinfo(op, tokens["access_token"])
    assert SOMCHAI_CID not in raw.text
    info = open_nested(raw.text, key, op.base)
    assert assert_valid(info["verified_claims"])["claims"][cid(op)] == SOMCHAI_CID


def test_national_id_follows_each_target(op: LiveProvider, browser: Browser) -> None:
    """ID tokens encrypted, userinfo not: the number is offered and goes in the ID token only."""
    key = encryption_key()
    client = op.register(**encrypted_metadata(key, userinfo=False))
    tokens = op.code_flow(browser, client, claims=json.dumps(citizen_request(op)))
    id_claims = open_nested(tokens["id_token"], key, op.base)
    assert assert_valid(id_claims["verified_claims"])["claims"][cid(op)] == SOMCHAI_CID
    info = get_userinfo(op, tokens["access_token"]).json()
    assert assert_valid(info["verified_claims"])["claims"] == {"given_name": "Somchai"}


def test_national_id_unencrypted_when_the_policy_is_off(settings: Settings,
                                                       store: EphemeralStore) -> None:
    with serve(replace(settings, national_id_needs_encryption=False), store) as op:
        client = op.register()
        tokens = op.code_flow(Browser(op.base), client, claims=json.dumps(citizen_request(op)))
        id_claims = plain_claims(op, tokens["id_token"])
        assert assert_valid(id_claims["verified_claims"])["claims"][cid(op)] == SOMCHAI_CID


# --- never plaintext when the key cannot be had -------------------------------------------

def test_unreadable_jwks_uri_fails_the_token_response(op: LiveProvider,
                                                      browser: Browser) -> None:
    """The token response fails with a clear error and no token; the code is not used up, so
    once the agency publishes its key again the same code works."""
    key = encryption_key()
    meta = {k: v for k, v in encrypted_metadata(key).items() if k != "jwks"}
    client = op.register(jwks_uri="https://agency.example/jwks.json", **meta)
    with jwks_server() as agency:
        point_jwks_uri(op, client["client_id"], agency.publish({"error": "down"}, 500))
        got, verifier = op.login(browser, client, claims=json.dumps(citizen_request(op)))
        form = {"grant_type": "authorization_code", "code": got["code"],
                "redirect_uri": client["redirect_uri"], "code_verifier": verifier}
        resp = op.token(client, **form)
        assert resp.status_code == 500, resp.text
        body = resp.json()
        assert body["error"] == "server_error"
        assert "invalid_client_metadata" in body["error_description"]
        assert "id_token" not in body and "access_token" not in body
        assert SOMCHAI_CID not in resp.text

        point_jwks_uri(op, client["client_id"],
                       agency.publish({"keys": [key.as_dict(private=False)]}))
        resp = op.token(client, **form)
        assert resp.status_code == 200, resp.text
        open_nested(resp.json()["id_token"], key, op.base)


def test_unusable_key_fails_userinfo(op: LiveProvider, browser: Browser) -> None:
    key = encryption_key()
    meta = {k: v for k, v in encrypted_metadata(key, id_token=False).items() if k != "jwks"}
    client = op.register(jwks_uri="https://agency.example/jwks.json", **meta)
    tokens = None
    with jwks_server() as agency:
        point_jwks_uri(op, client["client_id"],
                       agency.publish({"keys": [key.as_dict(private=False)]}))
        tokens = op.code_flow(browser, client, claims=json.dumps(citizen_request(op)))
        # the agency now publishes only a signing key: nothing to encrypt to
        signing = ECKey.generate_key("P-256", parameters={"use": "sig"})
        point_jwks_uri(op, client["client_id"],
                       agency.publish({"keys": [signing.as_dict(private=False)]}))
        resp = get_userinfo(op, tokens["access_token"])
    assert resp.status_code == 500
    assert resp.json()["error"] == "server_error"
    assert "invalid_client_metadata" in resp.json()["error_description"]
    assert "Somchai" not in resp.text and SOMCHAI_CID not in resp.text


# --- choosing the key (pure) --------------------------------------------------------------------

def test_recipient_key_choice() -> None:
    sig = ECKey.generate_key("P-256", parameters={"kid": "s", "use": "sig"}).as_dict(
        private=False)
    bare = ECKey.generate_key("P-256", parameters={"kid": "b"}).as_dict(private=False)
    enc = ECKey.generate_key("P-384", parameters={"kid": "e", "use": "enc"}).as_dict(
        private=False)
    assert choose_recipient_key({"keys": [sig, bare, enc]}).kid == "e"
    assert choose_recipient_key({"keys": [sig, bare]}).kid == "b"
    pinned = dict(bare, alg="ECDH-ES")
    unusable: list[dict[str, Any]] = [{"keys": [sig]}, {"keys": [pinned]}, {"keys": []}, {}]
    for jwks in unusable:
        with pytest.raises(EncryptionKeyError, match="invalid_client_metadata"):
            choose_recipient_key(jwks)


# --- discovery ---------------------------------------------------------------------------------

def test_discovery_lists_encryption(op: LiveProvider) -> None:
    meta = requests.get(f"{op.base}/.well-known/openid-configuration", timeout=5).json()
    for target in ("id_token", "userinfo"):
        assert meta[f"{target}_encryption_alg_values_supported"] == ["ECDH-ES+A256KW"]
        assert meta[f"{target}_encryption_enc_values_supported"] == ["A256GCM",
                                                                      "A256CBC-HS512"]
