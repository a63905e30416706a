"""Sole control: a signature is made only after a fresh confirmation by the person that is
bound to the exact documents being signed (issue 6, part 3).

The confirmation is a WebAuthn assertion (a passkey) over a challenge that is not random but
computed: SHA-256 over a domain-separation label, the signer (person and signing credential),
a random nonce, and the sorted SHA-256 hashes of the documents. The passkey signs that
challenge, so the assertion speaks for those documents and no others. When signing, the
challenge is computed again from the documents actually about to be signed: an assertion for
document A does not match document B (substitution), and the record of the challenge is taken
from the ephemeral store exactly once with a short TTL (replay).

No Flask, no `idp`: the store is anything with `put` and `take` (idp.store.EphemeralStore).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

LABEL = b"th-idp/sole-control/v1"
"""Domain separation: a challenge computed here can never equal one from another protocol."""

CHALLENGE_TTL = 300  # seconds: as long as a WebAuthn ceremony's timeout, no longer
MAX_DOCUMENTS = 20
NONCE_BYTES = 32
KEY_PREFIX = "sole-control:"


class Store(Protocol):
    def put(self, key: str, value: dict[str, Any], ttl: int) -> None: ...
    def take(self, key: str) -> dict[str, Any] | None: ...


class SoleControlError(Exception):
    """A confirmation that does not authorise this signature. `code` is stable (unknown:
    never issued, used or expired; mismatch: other documents or another signer)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def document_hash(document: bytes) -> str:
    """The hex SHA-256 of a document, as the binding and the audit trail name it."""
    return hashlib.sha256(document).hexdigest()


def _field(value: bytes) -> bytes:
    """Length-prefixed, so no two different inputs concatenate to the same bytes."""
    return len(value).to_bytes(4, "big") + value


def _checked_hashes(hashes: Iterable[str]) -> list[str]:
    out = sorted(h.lower() for h in hashes)
    if not out or len(out) > MAX_DOCUMENTS:
        raise ValueError(f"between 1 and {MAX_DOCUMENTS} documents")
    for h in out:
        if len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
            raise ValueError("document hashes are hex SHA-256")
    return out


def compute_challenge(signer: str, nonce: bytes, hashes: Iterable[str]) -> bytes:
    """SHA-256(label, signer, nonce, sorted document hashes): the WebAuthn challenge."""
    if not signer or len(nonce) != NONCE_BYTES:
        raise ValueError("a signer and a 32-byte nonce are required")
    h = hashlib.sha256(_field(LABEL))
    h.update(_field(signer.encode()))
    h.update(_field(nonce))
    for digest in _checked_hashes(hashes):
        h.update(_field(bytes.fromhex(digest)))
    return h.digest()


def signer_id(person_id: str, credential_id: str) -> str:
    """Who signs: the person and the signing credential (a new credential is a new signer)."""
    return f"{person_id}/{credential_id}"


def _key(challenge: bytes) -> str:
    return KEY_PREFIX + hashlib.sha256(challenge).hexdigest()


@dataclass(frozen=True)
class Binding:
    """What a redeemed confirmation authorised."""

    signer: str
    hashes: tuple[str, ...]
    context: dict[str, str]


def issue(store: Store, signer: str, hashes: Sequence[str], context: dict[str, str] | None = None,
          ttl: int = CHALLENGE_TTL) -> bytes:
    """A new challenge for `signer` to confirm `hashes`; remembered once for `ttl` seconds.
    `context` (e.g. the web session) must match again when it is redeemed."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    challenge = compute_challenge(signer, nonce, hashes)
    store.put(_key(challenge), {"signer": signer, "nonce": nonce.hex(),
                                "hashes": _checked_hashes(hashes),
                                "context": dict(context or {})}, ttl)
    return challenge


def redeem(store: Store, challenge: bytes, signer: str, documents: Sequence[bytes],
           context: dict[str, str] | None = None) -> Binding:
    """Use up the confirmation of `challenge` for signing `documents` as `signer`.

    The record is taken (deleted) first, whatever the outcome: a confirmation is never good
    twice. The challenge is then recomputed from the signer and the hashes of the documents
    given here (not the ones remembered), so it matches only for the very same documents.
    """
    record = store.take(_key(challenge))
    if record is None:
        raise SoleControlError("unknown")
    try:
        nonce = bytes.fromhex(str(record["nonce"]))
        hashes = [document_hash(d) for d in documents]
        expected = compute_challenge(signer, nonce, hashes)
    except (KeyError, ValueError):
        raise SoleControlError("mismatch") from None
    if (not hmac.compare_digest(expected, challenge) or record.get("signer") != signer
            or record.get("context", {}) != dict(context or {})):
        raise SoleControlError("mismatch")
    return Binding(signer, tuple(sorted(hashes)), dict(context or {}))
