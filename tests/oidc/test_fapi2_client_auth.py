"""Client authentication for the high-assurance profile (FAPI 2.0 Security Profile 5.3.2.1 and
5.4), over HTTP at the token endpoint as an agency calls it: a fapi2 client authenticates with
private_key_jwt only, signs with PS256, ES256 or EdDSA (never RS256 or HS256), with a key of
at least 2048 (RSA) or 224 (EC) bits, and names the issuer alone as `aud`. Weak keys are
refused for every client, at registration and when read from a jwks_uri. With IDP_FAPI2_ONLY a
basic client cannot authenticate anywhere.

Requests use the client credentials grant: client authentication is checked before anything
else, and no person's login is needed to see it. A fapi2 client's tokens are DPoP-bound, so
accepted requests carry a DPoP proof."""

from __future__ import annotations

import json
import secrets
import time
import warnings
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests
from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from idp.clients import ClientMetadataError, validate_metadata
from idp.settings import Settings
from idp.store import EphemeralStore
from tests.support.dpop import DpopKey
from tests.support.jwks_server import JwksServer, jwks_server, point_jwks_uri
from tests.support.live import LiveProvider, serve

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ANY_ALG = jws.JWSRegistry(algorithms=["HS256", "RS256", "PS256", "ES256", "EdDSA"])

Key = ECKey | RSAKey | OKPKey


def rsa_key(bits: int, kid: str = "sig-1") -> RSAKey:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # 1024 bits is the point of some tests
        return RSAKey.generate_key(bits, parameters={"kid": kid, "use": "sig"})


def ec_key(kid: str = "sig-1") -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig"})


def ed_key(kid: str = "sig-1") -> OKPKey:
    return OKPKey.generate_key("Ed25519", parameters={"kid": kid, "use": "sig"})


def assertion(key: Key | OctKey, client_id: str, aud: str, alg: str) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud,
              "jti": secrets.token_urlsafe(16), "iat": now, "exp": now + 60}
    header: dict[str, Any] = {"alg": alg}
    if key.kid:
        header["kid"] = key.kid
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        return jws.serialize_compact(header, _json(claims), key, registry=_ANY_ALG)


def _json(claims: dict[str, Any]) -> bytes:
    return json.dumps(claims, separators=(",", ":")).encode()


def register(op: LiveProvider, key: Key | None, *, fapi2: bool, **meta: Any) -> dict[str, Any]:
    """A client-credentials client authenticating with private_key_jwt (fapi2 or basic)."""
    meta.setdefault("grant_types", ["client_credentials"])
    meta.setdefault("redirect_uris", [])
    meta.setdefault("scope", "agency:read")
    meta.setdefault("token_endpoint_auth_method", "private_key_jwt")
    if key is not None:
        meta.setdefault("jwks", {"keys": [key.as_dict(private=False)]})
    if fapi2:
        meta["profile"] = "fapi2"
    return op.register(**meta)


def token(op: LiveProvider, client: dict[str, Any], signed: str | None, *,
          dpop: bool = True, **extra: Any) -> requests.Response:
    data = {"grant_type": "client_credentials", "client_id": client["client_id"]}
    if signed is not None:
        data |= {"client_assertion_type": ASSERTION_TYPE, "client_assertion": signed}
    headers = {"DPoP": DpopKey.ec().proof("POST", f"{op.base}/token")} if dpop else {}
    return requests.post(f"{op.base}/token", data=data, headers=headers, timeout=10, **extra)


def refused(resp: requests.Response, words: str | None = None) -> None:
    assert resp.status_code in (400, 401), (resp.status_code, resp.text)
    assert resp.json()["error"] == "invalid_client", resp.text
    if words is not None:
        assert words in resp.json().get("error_description", ""), resp.text


@pytest.fixture
def agency_jwks() -> Iterator[JwksServer]:
    with jwks_server() as server:
        yield server


# --- only private_key_jwt ----------------------------------------------------------------------

def test_fapi2_client_presenting_a_secret_is_refused(op: LiveProvider) -> None:
    key = ec_key()
    client = register(op, key, fapi2=True)
    refused(token(op, client, None, auth=(client["client_id"], "a-guessed-secret")))
    resp = requests.post(f"{op.base}/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": client["client_id"],
        "client_secret": "a-guessed-secret"})
    refused(resp)


def test_fapi2_client_presenting_nothing_is_refused(op: LiveProvider) -> None:
    client = register(op, ec_key(), fapi2=True)
    refused(token(op, client, None))


def test_fapi2_profile_cannot_be_registered_with_a_secret() -> None:
    with pytest.raises(ClientMetadataError, match="private_key_jwt"):
        validate_metadata({"profile": "fapi2", "grant_types": ["client_credentials"],
                           "token_endpoint_auth_method": "client_secret_basic"})


# --- algorithms ----------------------------------------------------------------------------------

def test_fapi2_rs256_assertion_is_refused(op: LiveProvider) -> None:
    key = rsa_key(2048)
    client = register(op, key, fapi2=True)
    refused(token(op, client, assertion(key, client["client_id"], op.base, "RS256")),
            "PS256")
    # the same key signing with PS256 is fine
    resp = token(op, client, assertion(key, client["client_id"], op.base, "PS256"))
    assert resp.status_code == 200, resp.text


def test_rs256_still_accepted_for_a_basic_client(op: LiveProvider) -> None:
    key = rsa_key(2048)
    client = register(op, key, fapi2=False)
    resp = token(op, client, assertion(key, client["client_id"], op.base, "RS256"), dpop=False)
    assert resp.status_code == 200, resp.text


def test_hs256_assertion_is_refused(op: LiveProvider) -> None:
    """HS256 (client_secret_jwt) is never accepted: a fapi2 client has no secret, and a
    symmetric key guessed or made up must not authenticate it."""
    client = register(op, ec_key(), fapi2=True)
    made_up = OctKey.import_key(secrets.token_bytes(32), parameters={"kid": "sig-1"})
    refused(token(op, client, assertion(made_up, client["client_id"], op.base, "HS256")))
    basic = register(op, ec_key(), fapi2=False)
    refused(token(op, basic, assertion(made_up, basic["client_id"], op.base, "HS256"),
                  dpop=False))


def test_assertion_alg_must_be_the_registered_one(op: LiveProvider) -> None:
    key = rsa_key(2048)
    client = register(op, key, fapi2=True, token_endpoint_auth_signing_alg="ES256")
    refused(token(op, client, assertion(key, client["client_id"], op.base, "PS256")), "ES256")


# --- key strength --------------------------------------------------------------------------------

def test_rsa_1024_key_refused_at_registration() -> None:
    weak = rsa_key(1024)
    for profile in ("fapi2", "basic"):
        with pytest.raises(ClientMetadataError, match="2048"):
            validate_metadata({"profile": profile, "grant_types": ["client_credentials"],
                               "token_endpoint_auth_method": "private_key_jwt",
                               "jwks": {"keys": [weak.as_dict(private=False)]}})


@pytest.mark.parametrize("jwk", [
    {"kty": "EC", "crv": "P-192", "x": "AAAA", "y": "AAAA"},
    {"kty": "OKP", "crv": "Ed1", "x": "AAAA"},
    {"kty": "oct-ish"},
], ids=["small-curve", "unknown-okp", "unknown-kty"])
def test_keys_that_cannot_be_judged_are_refused_at_registration(jwk: dict[str, Any]) -> None:
    with pytest.raises(ClientMetadataError, match=r"jwks\.keys\[0\]"):
        validate_metadata({"grant_types": ["client_credentials"],
                           "token_endpoint_auth_method": "private_key_jwt",
                           "jwks": {"keys": [jwk]}})


def test_rsa_1024_key_refused_at_assertion_time_via_jwks_uri(
        op: LiveProvider, agency_jwks: JwksServer) -> None:
    """A jwks_uri can change after registration: the key is judged again when used."""
    weak = rsa_key(1024)
    client = register(op, None, fapi2=False, jwks_uri="https://agency.example/jwks.json")
    point_jwks_uri(op, client["client_id"],
                   agency_jwks.publish({"keys": [weak.as_dict(private=False)]}))
    refused(token(op, client, assertion(weak, client["client_id"], op.base, "PS256"),
                  dpop=False), "2048")
    # a strong key published in its place works
    strong = rsa_key(2048)
    point_jwks_uri(op, client["client_id"],
                   agency_jwks.publish({"keys": [strong.as_dict(private=False)]}))
    resp = token(op, client, assertion(strong, client["client_id"], op.base, "PS256"),
                 dpop=False)
    assert resp.status_code == 200, resp.text


def test_unreadable_jwks_uri_is_invalid_client(op: LiveProvider,
                                                agency_jwks: JwksServer) -> None:
    key = ec_key()
    client = register(op, None, fapi2=False, jwks_uri="https://agency.example/jwks.json")
    point_jwks_uri(op, client["client_id"], agency_jwks.publish({"error": "down"}, 503))
    refused(token(op, client, assertion(key, client["client_id"], op.base, "ES256"),
                  dpop=False), "jwks_uri")


@pytest.mark.parametrize(("make", "alg"), [(ec_key, "ES256"), (ed_key, "EdDSA"),
                                           (lambda: rsa_key(2048), "PS256")],
                         ids=["ec-p256", "ed25519", "rsa-2048"])
def test_fapi2_strong_keys_are_accepted(op: LiveProvider, make: Any, alg: str) -> None:
    key = make()
    client = register(op, key, fapi2=True)
    resp = token(op, client, assertion(key, client["client_id"], op.base, alg))
    assert resp.status_code == 200, resp.text
    assert resp.json()["token_type"] == "DPoP"


# --- audience -----------------------------------------------------------------------------------

def test_aud_token_endpoint_refused_for_fapi2(op: LiveProvider) -> None:
    key = ec_key()
    client = register(op, key, fapi2=True)
    refused(token(op, client, assertion(key, client["client_id"], f"{op.base}/token", "ES256")),
            "issuer")


def test_aud_as_an_array_refused_for_fapi2(op: LiveProvider) -> None:
    """FAPI 2.0 5.3.2.1: the issuer identifier as a string, not inside an array."""
    key = ec_key()
    client = register(op, key, fapi2=True)
    now = int(time.time())
    claims = {"iss": client["client_id"], "sub": client["client_id"], "aud": [op.base],
              "jti": secrets.token_urlsafe(16), "iat": now, "exp": now + 60}
    signed = jws.serialize_compact({"alg": "ES256", "kid": key.kid}, _json(claims), key)
    refused(token(op, client, signed), "issuer")


def test_aud_token_endpoint_accepted_for_basic(op: LiveProvider) -> None:
    key = ec_key()
    client = register(op, key, fapi2=False)
    resp = token(op, client, assertion(key, client["client_id"], f"{op.base}/token", "ES256"),
                 dpop=False)
    assert resp.status_code == 200, resp.text


# --- IDP_FAPI2_ONLY -----------------------------------------------------------------------------

def test_fapi2_only_refuses_a_basic_client(settings: Settings, store: EphemeralStore) -> None:
    with serve(replace(settings, fapi2_only=True), store) as op:
        basic = op.register(grant_types=["client_credentials"], redirect_uris=[],
                            scope="agency:read")
        auth = (basic["client_id"], basic["client_secret"])
        resp = requests.post(f"{op.base}/token", data={"grant_type": "client_credentials"},
                             auth=auth, timeout=10)
        refused(resp, "fapi2")
        assert resp.status_code == 401
        for endpoint in ("revoke", "introspect"):
            resp = requests.post(f"{op.base}/{endpoint}", data={"token": "x" * 43},
                                 auth=auth, timeout=10)
            refused(resp, "fapi2")
        # a fapi2 client still gets in
        key = ec_key()
        client = register(op, key, fapi2=True)
        resp = token(op, client, assertion(key, client["client_id"], op.base, "ES256"))
        assert resp.status_code == 200, resp.text


def test_discovery_lists_the_accepted_assertion_algorithms(op: LiveProvider) -> None:
    meta = requests.get(f"{op.base}/.well-known/openid-configuration", timeout=5).json()
    algs = meta["token_endpoint_auth_signing_alg_values_supported"]
    assert set(algs) == {"ES256", "PS256", "RS256", "EdDSA"}
    assert "HS256" not in algs and "none" not in algs
