"""The OpenID Foundation's Config OP test plan (discovery), run over HTTP against the provider on
both store pairs. See shared/reference/oidc-conformance.md."""

from __future__ import annotations

import re
from typing import Any

import requests
from joserfc.jwk import KeySet, import_key

from tests.support.live import LiveProvider

# Every member registered for provider metadata by the specifications this provider follows.
OIDC_DISCOVERY = {  # OpenID Connect Discovery 1.0, section 3
    "issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
    "registration_endpoint", "scopes_supported", "response_types_supported",
    "response_modes_supported", "grant_types_supported", "acr_values_supported",
    "subject_types_supported", "id_token_signing_alg_values_supported",
    "id_token_encryption_alg_values_supported", "id_token_encryption_enc_values_supported",
    "userinfo_signing_alg_values_supported", "userinfo_encryption_alg_values_supported",
    "userinfo_encryption_enc_values_supported", "request_object_signing_alg_values_supported",
    "request_object_encryption_alg_values_supported",
    "request_object_encryption_enc_values_supported", "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported", "display_values_supported",
    "claim_types_supported", "claims_supported", "service_documentation",
    "claims_locales_supported", "ui_locales_supported", "claims_parameter_supported",
    "request_parameter_supported", "request_uri_parameter_supported",
    "require_request_uri_registration", "op_policy_uri", "op_tos_uri",
}
RFC_8414 = {  # OAuth 2.0 Authorization Server Metadata, section 2
    "revocation_endpoint", "revocation_endpoint_auth_methods_supported",
    "revocation_endpoint_auth_signing_alg_values_supported", "introspection_endpoint",
    "introspection_endpoint_auth_methods_supported",
    "introspection_endpoint_auth_signing_alg_values_supported",
    "code_challenge_methods_supported", "signed_metadata",
}
RFC_9207 = {"authorization_response_iss_parameter_supported"}
RFC_9126 = {"pushed_authorization_request_endpoint", "require_pushed_authorization_requests"}
RFC_9449 = {"dpop_signing_alg_values_supported"}
BACK_CHANNEL_LOGOUT = {"backchannel_logout_supported", "backchannel_logout_session_supported"}
RP_INITIATED_LOGOUT = {"end_session_endpoint"}
# OpenID Connect Front-Channel Logout 1.0, section 3: registered in the same IANA registry.
# Listed because advertising `frontchannel_logout_supported: false` states a fact an RP may
# look for; it is not a member this provider made up.
FRONT_CHANNEL_LOGOUT = {"frontchannel_logout_supported", "frontchannel_logout_session_supported"}
# OpenID Connect for Identity Assurance 1.0, "OP metadata" (registered in the same registry).
IDENTITY_ASSURANCE = {
    "trust_frameworks_supported", "evidence_supported", "documents_supported",
    "documents_methods_supported", "documents_validation_methods_supported",
    "documents_verification_methods_supported", "documents_check_methods_supported",
    "electronic_records_supported", "claims_in_verified_claims_supported",
    "attachments_supported", "digest_algorithms_supported",
}
KNOWN_MEMBERS = (OIDC_DISCOVERY | RFC_8414 | RFC_9207 | RFC_9126 | RFC_9449
                 | BACK_CHANNEL_LOGOUT
                 | RP_INITIATED_LOGOUT | FRONT_CHANNEL_LOGOUT | IDENTITY_ASSURANCE)

ENDPOINTS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")
STRING_ARRAYS = (
    "scopes_supported", "response_types_supported", "response_modes_supported",
    "grant_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported",
    "token_endpoint_auth_methods_supported", "claims_supported", "claim_types_supported",
    "claims_locales_supported", "ui_locales_supported", "display_values_supported",
    "acr_values_supported", "code_challenge_methods_supported",
)
BOOLEANS = (
    "claims_parameter_supported", "request_parameter_supported",
    "request_uri_parameter_supported", "require_request_uri_registration",
    "authorization_response_iss_parameter_supported", "backchannel_logout_supported",
    "backchannel_logout_session_supported", "frontchannel_logout_supported",
)
# BCP 47 (RFC 5646 2.1.1) canonical casing: language lower case, script title case, region
# upper case, the rest lower case.
CANONICAL_TAG = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?(-[a-z0-9]+)*$")
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
JWS_ALGS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
            "ES256K", "EdDSA", "Ed25519"}


def fetch_discovery(op: LiveProvider) -> requests.Response:
    return requests.get(f"{op.base}/.well-known/openid-configuration", timeout=5)


def test_oidcc_server_config_document(op: LiveProvider) -> None:
    resp = fetch_discovery(op)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].split(";")[0].strip() == "application/json"
    doc: dict[str, Any] = resp.json()

    # OIDC Discovery 4.3: the issuer is exactly the URL the document was fetched under.
    assert doc["issuer"] == op.base
    assert not doc["issuer"].endswith("/")
    for name in ENDPOINTS:
        assert isinstance(doc.get(name), str) and doc[name].startswith(op.base + "/"), name
    # http only because the test server listens on loopback; production issuers are https.
    assert all(doc[name].startswith(("https://", "http://127.0.0.1:")) for name in ENDPOINTS)

    for name in STRING_ARRAYS:
        value = doc.get(name)
        assert isinstance(value, list) and value, name
        assert all(isinstance(v, str) and v for v in value), name
        assert len(value) == len(set(value)), name
    for name in BOOLEANS:
        assert isinstance(doc.get(name), bool), name

    assert "openid" in doc["scopes_supported"]
    assert "code" in doc["response_types_supported"]
    assert {"authorization_code", "refresh_token"} <= set(doc["grant_types_supported"])
    assert set(doc["subject_types_supported"]) <= {"public", "pairwise"}
    assert "RS256" in doc["id_token_signing_alg_values_supported"]
    assert "none" not in doc["id_token_signing_alg_values_supported"]
    assert doc["claims_parameter_supported"] is True
    assert "sub" in doc["claims_supported"]
    # Both are false: such requests are refused, which the Basic OP tests check.
    assert doc["request_parameter_supported"] is False
    assert doc["request_uri_parameter_supported"] is False
    assert "S256" in doc["code_challenge_methods_supported"]
    assert "plain" not in doc["code_challenge_methods_supported"]
    assert doc["authorization_response_iss_parameter_supported"] is True

    for name in ("ui_locales_supported", "claims_locales_supported"):
        for tag in doc[name]:
            assert CANONICAL_TAG.match(tag), (name, tag)
        assert {"th", "en"} <= set(doc[name]), name


def test_oidcc_server_jwks(op: LiveProvider) -> None:
    doc = fetch_discovery(op).json()
    resp = requests.get(doc["jwks_uri"], timeout=5)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].split(";")[0].strip() in (
        "application/json", "application/jwk-set+json")
    jwks = resp.json()
    assert set(jwks) == {"keys"}
    assert jwks["keys"]
    kids = [k.get("kid") for k in jwks["keys"]]
    assert all(kids) and len(set(kids)) == len(kids)
    for jwk in jwks["keys"]:
        assert not PRIVATE_JWK_MEMBERS & set(jwk), jwk["kid"]
        assert jwk.get("use") == "sig", jwk["kid"]
        if "alg" in jwk:
            assert jwk["alg"] in JWS_ALGS, jwk
        key = import_key(jwk)
        assert not key.is_private
        assert key.kid == jwk["kid"]
        if jwk["kty"] == "RSA":
            assert len(key.as_dict()["n"]) * 6 >= 2048  # base64url: 6 bits a character
    KeySet.import_key_set(jwks)
    # Every algorithm the provider signs ID tokens with has a key here.
    algs = {k.get("alg") for k in jwks["keys"]}
    assert set(doc["id_token_signing_alg_values_supported"]) <= algs


def test_oidcc_discovery_no_unknown_members(op: LiveProvider) -> None:
    doc = fetch_discovery(op).json()
    unknown = sorted(set(doc) - KNOWN_MEMBERS)
    assert not unknown, f"members not registered by any specification: {unknown}"
