"""DPoP proof validation (RFC 9449 4.3) without a server: one broken rule per test, each
refused with invalid_dpop_proof (or use_dpop_nonce for nonces), and the good proofs accepted
with the RFC 7638 thumbprint of their key."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc.jwk import OctKey

from idp.oidc import dpop
from idp.oidc.dpop import DpopError, ProofRequest, validate_proof
from idp.store import MemoryStore
from tests.support.dpop import DpopKey

URL = "https://id.example.go.th/token"
NONCE_KEY = dpop.nonce_key("test-secret-key-" + "x" * 32)


def request(*headers: str, method: str = "POST", url: str = URL, store: Any = None,
            now: int | None = None, **extra: Any) -> ProofRequest:
    return ProofRequest(headers=list(headers), method=method, url=url,
                        store=store or MemoryStore(), now=now or int(time.time()), **extra)


def refused(req: ProofRequest, error: str = dpop.INVALID_PROOF) -> str:
    with pytest.raises(DpopError) as exc:
        validate_proof(req)
    assert exc.value.error == error
    return exc.value.description


# --- accepted ----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [DpopKey.ec, DpopKey.rsa, DpopKey.ed25519],
                         ids=["ES256", "PS256", "EdDSA"])
def test_a_good_proof_gives_the_key_thumbprint(make: Any) -> None:
    key = make()
    assert validate_proof(request(key.proof("POST", URL))) == key.jkt


def test_scheme_host_case_and_default_port_do_not_matter() -> None:
    key = DpopKey.ec()
    proof = key.proof("POST", "HTTPS://ID.Example.go.th:443/token")
    assert validate_proof(request(proof)) == key.jkt


def test_ten_seconds_of_skew_either_way_is_accepted() -> None:
    key = DpopKey.ec()
    now = int(time.time())
    assert validate_proof(request(key.proof("POST", URL, iat=now - 10))) == key.jkt
    assert validate_proof(request(key.proof("POST", URL, iat=now + 10))) == key.jkt


def test_ath_and_a_current_nonce_are_accepted() -> None:
    key = DpopKey.ec()
    now = int(time.time())
    proof = key.proof("GET", URL, access_token="tok", nonce=dpop.nonce_for(NONCE_KEY, now))
    req = request(proof, method="GET", access_token="tok", now=now,
                  nonces=dpop.accepted_nonces(NONCE_KEY, now), nonce_required=True)
    assert validate_proof(req) == key.jkt


def test_the_previous_windows_nonce_is_still_accepted() -> None:
    key = DpopKey.ec()
    now = int(time.time())
    old = dpop.nonce_for(NONCE_KEY, now - dpop.NONCE_WINDOW)
    req = request(key.proof("POST", URL, nonce=old), now=now,
                  nonces=dpop.accepted_nonces(NONCE_KEY, now), nonce_required=True)
    assert validate_proof(req) == key.jkt


# --- refused: the header ----------------------------------------------------------------------


def test_no_header() -> None:
    assert "required" in refused(request())


def test_two_dpop_headers() -> None:
    key = DpopKey.ec()
    assert "exactly one" in refused(request(key.proof("POST", URL), key.proof("POST", URL)))


def test_oversized_proof() -> None:
    key = DpopKey.ec()
    assert "longer" in refused(request(key.proof("POST", URL, pad="x" * 5000)))


def test_not_a_compact_jws() -> None:
    assert "compact JWS" in refused(request("not.a-jws"))


def test_wrong_typ() -> None:
    assert "typ" in refused(request(DpopKey.ec().proof("POST", URL, typ="JWT")))


def test_alg_none() -> None:
    assert "alg" in refused(request(DpopKey.ec().proof("POST", URL, alg="none")))


def test_hs256() -> None:
    secret = OctKey.generate_key(256)
    proof = DpopKey.ec().proof("POST", URL, alg="HS256", sign_with=secret)
    assert "alg" in refused(request(proof))


def test_rs256_is_not_allowed() -> None:
    key = DpopKey.rsa()
    assert "alg" in refused(request(key.proof("POST", URL, alg="RS256")))


def test_missing_jwk() -> None:
    assert "no jwk" in refused(request(DpopKey.ec().proof("POST", URL, jwk=None)))


def test_private_key_in_jwk() -> None:
    key = DpopKey.ec()
    proof = key.proof("POST", URL, jwk=dict(key.key.as_dict(private=True)))
    assert "public key" in refused(request(proof))


def test_jwk_of_another_kind_than_alg() -> None:
    key = DpopKey.ec()
    proof = key.proof("POST", URL, jwk=DpopKey.rsa().public_jwk)
    assert "fit" in refused(request(proof))


def test_bad_signature() -> None:
    key, other = DpopKey.ec(), DpopKey.ec()
    proof = key.proof("POST", URL, sign_with=other.key)
    assert "signature" in refused(request(proof))


def test_small_rsa_key() -> None:
    assert "2048" in refused(request(DpopKey.rsa(1024).proof("POST", URL)))


# --- refused: the claims ----------------------------------------------------------------------


def test_missing_jti() -> None:
    assert "jti" in refused(request(DpopKey.ec().proof("POST", URL, jti=None)))


def test_jti_replay() -> None:
    store = MemoryStore()
    key = DpopKey.ec()
    proof = key.proof("POST", URL)
    assert validate_proof(request(proof, store=store)) == key.jkt
    assert "replay" in refused(request(proof, store=store))


def test_a_refused_proof_does_not_use_up_its_jti() -> None:
    store = MemoryStore()
    key = DpopKey.ec()
    refused(request(key.proof("POST", URL, jti="j1", htm="GET"), store=store))
    assert validate_proof(request(key.proof("POST", URL, jti="j1"), store=store)) == key.jkt


def test_htm_mismatch() -> None:
    assert "htm" in refused(request(DpopKey.ec().proof("GET", URL)))


def test_htu_mismatch() -> None:
    proof = DpopKey.ec().proof("POST", "https://id.example.go.th/userinfo")
    assert "htu" in refused(request(proof))


def test_htu_on_another_host() -> None:
    proof = DpopKey.ec().proof("POST", "https://evil.example/token")
    assert "htu" in refused(request(proof))


def test_htu_with_query() -> None:
    proof = DpopKey.ec().proof("POST", URL + "?a=1")
    assert "query" in refused(request(proof))


def test_htu_with_fragment() -> None:
    proof = DpopKey.ec().proof("POST", URL + "#f")
    assert "query or fragment" in refused(request(proof))


def test_iat_too_old() -> None:
    proof = DpopKey.ec().proof("POST", URL, iat=int(time.time()) - 3600)
    assert "old" in refused(request(proof))


def test_iat_in_the_future() -> None:
    proof = DpopKey.ec().proof("POST", URL, iat=int(time.time()) + 3600)
    assert "future" in refused(request(proof))


def test_missing_ath() -> None:
    proof = DpopKey.ec().proof("GET", URL)
    assert "ath" in refused(request(proof, method="GET", access_token="tok"))


def test_wrong_ath() -> None:
    proof = DpopKey.ec().proof("GET", URL, access_token="another")
    assert "ath" in refused(request(proof, method="GET", access_token="tok"))


def test_missing_nonce_when_required() -> None:
    now = int(time.time())
    req = request(DpopKey.ec().proof("POST", URL), now=now,
                  nonces=dpop.accepted_nonces(NONCE_KEY, now), nonce_required=True)
    assert "requires" in refused(req, dpop.USE_NONCE)


def test_wrong_nonce() -> None:
    now = int(time.time())
    req = request(DpopKey.ec().proof("POST", URL, nonce="made-up"), now=now,
                  nonces=dpop.accepted_nonces(NONCE_KEY, now))
    assert "expired" in refused(req, dpop.USE_NONCE)


def test_a_nonce_two_windows_old_has_expired() -> None:
    now = int(time.time())
    old = dpop.nonce_for(NONCE_KEY, now - 2 * dpop.NONCE_WINDOW)
    req = request(DpopKey.ec().proof("POST", URL, nonce=old), now=now,
                  nonces=dpop.accepted_nonces(NONCE_KEY, now), nonce_required=True)
    refused(req, dpop.USE_NONCE)


def test_a_refused_proof_never_quotes_itself() -> None:
    key = DpopKey.ec()
    proof = key.proof("POST", URL, access_token="secret-token-value", htm="GET")
    description = refused(request(proof, access_token="secret-token-value"))
    assert proof not in description and "secret-token-value" not in description
