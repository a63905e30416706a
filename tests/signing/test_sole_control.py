"""signing.sole_control: a confirmation is bound to the exact documents and used once."""

from __future__ import annotations

import pytest

from idp.store import EphemeralStore, MemoryStore
from signing import sole_control as sc

A, B, C = b"%PDF-1.7 document A", b"%PDF-1.7 document B", b"%PDF-1.7 document C"
SIGNER = sc.signer_id("person-1", "credential-1")


def test_the_right_documents_redeem_once(store: EphemeralStore) -> None:
    challenge = sc.issue(store, SIGNER, [sc.document_hash(A)], {"sid": "s1"})
    binding = sc.redeem(store, challenge, SIGNER, [A], {"sid": "s1"})
    assert binding.hashes == (sc.document_hash(A),)
    with pytest.raises(sc.SoleControlError) as replay:
        sc.redeem(store, challenge, SIGNER, [A], {"sid": "s1"})
    assert replay.value.code == "unknown"


def test_another_document_is_refused_and_the_confirmation_is_spent(store: EphemeralStore
                                                                   ) -> None:
    challenge = sc.issue(store, SIGNER, [sc.document_hash(A)])
    with pytest.raises(sc.SoleControlError) as substituted:
        sc.redeem(store, challenge, SIGNER, [B])
    assert substituted.value.code == "mismatch"
    with pytest.raises(sc.SoleControlError):  # not even the right one afterwards
        sc.redeem(store, challenge, SIGNER, [A])


def test_a_batch_is_bound_to_all_its_documents_in_any_order(store: EphemeralStore) -> None:
    hashes = [sc.document_hash(d) for d in (A, B)]
    challenge = sc.issue(store, SIGNER, hashes)
    assert sc.redeem(store, challenge, SIGNER, [B, A]).hashes == tuple(sorted(hashes))
    for documents in ([A], [A, B, C], [A, C]):
        challenge = sc.issue(store, SIGNER, hashes)
        with pytest.raises(sc.SoleControlError):
            sc.redeem(store, challenge, SIGNER, documents)


def test_another_signer_or_session_is_refused(store: EphemeralStore) -> None:
    challenge = sc.issue(store, SIGNER, [sc.document_hash(A)], {"sid": "s1"})
    with pytest.raises(sc.SoleControlError):
        sc.redeem(store, challenge, sc.signer_id("person-2", "credential-1"), [A], {"sid": "s1"})
    challenge = sc.issue(store, SIGNER, [sc.document_hash(A)], {"sid": "s1"})
    with pytest.raises(sc.SoleControlError):
        sc.redeem(store, challenge, SIGNER, [A], {"sid": "s2"})


def test_an_unknown_or_expired_challenge_is_refused() -> None:
    now = [0.0]
    store = MemoryStore(clock=lambda: now[0])
    challenge = sc.issue(store, SIGNER, [sc.document_hash(A)], ttl=300)
    now[0] = 301.0
    with pytest.raises(sc.SoleControlError) as expired:
        sc.redeem(store, challenge, SIGNER, [A])
    assert expired.value.code == "unknown"
    with pytest.raises(sc.SoleControlError):
        sc.redeem(store, bytes(32), SIGNER, [A])


def test_the_challenge_separates_every_input() -> None:
    nonce = bytes(32)
    base = sc.compute_challenge(SIGNER, nonce, [sc.document_hash(A)])
    assert base == sc.compute_challenge(SIGNER, nonce, [sc.document_hash(A).upper()])
    assert base != sc.compute_challenge(SIGNER, bytes([1]) + bytes(31), [sc.document_hash(A)])
    assert base != sc.compute_challenge("person-1/credential-2", nonce, [sc.document_hash(A)])
    assert base != sc.compute_challenge(SIGNER, nonce, [sc.document_hash(B)])
    with pytest.raises(ValueError):
        sc.compute_challenge(SIGNER, nonce, [])
    with pytest.raises(ValueError):
        sc.compute_challenge(SIGNER, nonce, ["not-a-hash"])
