"""Interoperability of the high-assurance profile with openid-client (panva's certified Node.js
relying-party library): a `fapi2` client pushes its authorization request (PAR) authenticated
by private_key_jwt with a DPoP proof, the person logs in and consents in the browser, the code
is redeemed with private_key_jwt and DPoP, the ID token arrives encrypted (ECDH-ES+A256KW,
A256GCM) and openid-client decrypts and validates it, then fetches userinfo and refreshes with
the DPoP-bound tokens. fapi2_rp.mjs is the agency's back end; this test is the browser.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from joserfc.jwk import ECKey

from tests.interop.test_openid_client import callback_url, rp
from tests.support.live import Browser, LiveProvider

pytestmark = pytest.mark.interop

FAPI2_RP = Path(__file__).resolve().parent / "fapi2_rp.mjs"


def _key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid}, private=True)


def test_openid_client_par_dpop_private_key_jwt_and_encrypted_id_token(
        op: LiveProvider, browser: Browser, node: str, tmp_path: Path) -> None:
    signing, encryption, dpop = _key("agency-sig"), _key("agency-enc"), _key("agency-dpop")
    client = op.register(
        profile="fapi2", token_endpoint_auth_method="private_key_jwt",
        token_endpoint_auth_signing_alg="ES256", id_token_signed_response_alg="ES256",
        id_token_encrypted_response_alg="ECDH-ES+A256KW",
        id_token_encrypted_response_enc="A256GCM", scope="openid profile offline_access",
        jwks={"keys": [{**signing.as_dict(private=False), "use": "sig", "alg": "ES256"},
                       {**encryption.as_dict(private=False), "use": "enc",
                        "alg": "ECDH-ES+A256KW"}]})
    setup = tmp_path / "setup.json"
    setup.write_text(json.dumps({
        "issuer": op.base, "client_id": client["client_id"],
        "redirect_uri": client["redirect_uri"],
        "signing_jwk": signing.as_dict(private=True),
        "encryption_jwk": encryption.as_dict(private=True),
        "dpop_jwk": dpop.as_dict(private=True)}))

    started = rp(node, "start", str(setup), script=FAPI2_RP)
    discovery = started["discovery"]
    assert discovery["pushed_authorization_request_endpoint"] == f"{op.base}/par"
    assert "ES256" in discovery["dpop_signing_alg_values_supported"]
    assert "ECDH-ES+A256KW" in discovery["id_token_encryption_alg_values_supported"]
    # only a reference to the pushed request travels through the browser
    assert started["query_keys"] == ["client_id", "request_uri"]

    callback = callback_url(op, browser, started["url"])
    done = rp(node, "finish", str(setup), callback, started["state"],
              started["code_verifier"], started["nonce"], script=FAPI2_RP)

    assert done["token"]["token_type"].lower() == "dpop", done["token"]
    assert done["id_token_header"]["alg"] == "ECDH-ES+A256KW"  # encrypted on the wire
    assert done["id_token_header"]["enc"] == "A256GCM"
    claims = done["claims"]  # decrypted and validated by openid-client
    assert claims["iss"] == op.base and claims["nonce"] == started["nonce"]
    assert claims["aud"] in (client["client_id"], [client["client_id"]])
    assert done["userinfo"]["sub"] == claims["sub"]
    assert done["refresh"]["token_type"].lower() == "dpop"
    assert done["userinfo_after_refresh"]["sub"] == claims["sub"]
    # every call to the token and userinfo endpoints carried a DPoP proof
    calls = [e for e in done["exchanges"] if e["url"].endswith(("/token", "/userinfo", "/par"))]
    assert calls and all(e["dpop"] for e in calls), calls
