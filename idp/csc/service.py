"""The rules of the CSC API v2 as plain functions: reading and bounding request fields, the
algorithm OIDs, the credential descriptions, and the signature activation data (SAD).

No Flask: `idp.csc.views` turns requests into calls of these and `CscError` into JSON.

The SAD is 256 bits from `secrets`, stored only as its SHA-256 in the ephemeral store with the
credential, its owner (client and person), the exact list of hashes it authorises, their hash
algorithm and the number of signatures, for at most `SAD_TTL` seconds. It is taken atomically
when used, so it works once; a hash outside its list is refused before anything is signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from idp.store import EphemeralStore
from keys.backend import KeyRef, algorithm
from signing.pades import Level

SAD_TTL = 300
MAX_HASHES = 100
MAX_FIELD = 200
CREDENTIAL_ID_MAX = 64

HASH_OIDS = {"2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384"}
HASH_SIZES = {"sha256": 32, "sha384": 48}
KEY_ALGO_OIDS = {"ec": "1.2.840.10045.2.1", "rsa": "1.2.840.113549.1.1.1"}
SIGN_ALGO_OIDS = {
    "1.2.840.10045.4.3.2": ("ec", "sha256"),  # ecdsa-with-SHA256
    "1.2.840.10045.4.3.3": ("ec", "sha384"),  # ecdsa-with-SHA384
    "1.2.840.113549.1.1.11": ("rsa", "sha256"),  # sha256WithRSAEncryption
    "1.2.840.113549.1.1.12": ("rsa", "sha384"),  # sha384WithRSAEncryption
}
CONFORMANCE_LOOKUP = {"AdES-B-B": Level.B_B, "AdES-B-T": Level.B_T, "AdES-B-LT": Level.B_LT,
               "AdES-B-LTA": Level.B_LTA, "AdES-B": Level.B_B, "AdES-T": Level.B_T,
               "AdES-LT": Level.B_LT, "AdES-LTA": Level.B_LTA}


class CscError(Exception):
    """A refusal as the CSC API writes it: an OAuth-style error code, a description for the
    integrator (never a token, key or ID number in it) and the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def invalid(description: str) -> CscError:
    return CscError("invalid_request", description, 400)


# --- reading request fields ----------------------------------------------------------------


def body_of(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise invalid("the body must be a JSON object")
    return data


def text(body: Mapping[str, Any], name: str, *, required: bool = True,
         limit: int = MAX_FIELD) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(f"missing {name}")
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise invalid(f"{name} must be a non-empty string of at most {limit} characters")
    return value


def b64(value: Any, name: str, limit: int) -> bytes:
    """Standard base64 (CSC), with URL-safe accepted; bounded before decoding."""
    if not isinstance(value, str) or not value or len(value) > limit:
        raise invalid(f"{name} must be base64 text of at most {limit} characters")
    cleaned = value.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{name} is not valid base64") from None


def hash_algorithm(body: Mapping[str, Any], *, default: str | None = None) -> str:
    oid = text(body, "hashAlgorithmOID", required=default is None) or default
    name = HASH_OIDS.get(str(oid))
    if name is None:
        raise invalid(f"hashAlgorithmOID must be one of {', '.join(HASH_OIDS)}")
    return name


def hashes(body: Mapping[str, Any], hash_name: str) -> list[bytes]:
    values = body.get("hashes")
    if not isinstance(values, list) or not values or len(values) > MAX_HASHES:
        raise invalid(f"hashes must be a list of 1 to {MAX_HASHES} base64 digests")
    out = [b64(v, "hashes[]", 100) for v in values]
    if any(len(h) != HASH_SIZES[hash_name] for h in out):
        raise invalid(f"each hash must be a {hash_name} digest "
                      f"({HASH_SIZES[hash_name]} bytes)")
    return out


def num_signatures(body: Mapping[str, Any], at_least: int) -> int:
    value = body.get("numSignatures", at_least)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_HASHES:
        raise invalid(f"numSignatures must be a number from 1 to {MAX_HASHES}")
    if value < at_least:
        raise invalid("numSignatures is smaller than the number of hashes")
    return value


# --- keys and algorithms ---------------------------------------------------------------------


def key_kind(key: KeyRef) -> str:
    kind = algorithm(key.alg).kind
    return "rsa" if kind in ("rsa", "rsa-pss") else kind


def key_length(key: KeyRef) -> int:
    public = key.public_key()
    if isinstance(public, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        return public.key_size
    return 0


def sign_algos_for(key: KeyRef) -> list[str]:
    """The signAlgo OIDs this key can honour: its own kind with its own hash (the backend
    hashes and signs with the key's algorithm, so only that digest size fits signHash)."""
    a = algorithm(key.alg)
    if a.kind == "rsa-pss":
        return []
    return [oid for oid, (kind, hash_name) in SIGN_ALGO_OIDS.items()
            if kind == a.kind and hash_name == a.hash_name]


def check_sign_algo(key: KeyRef, sign_algo: str, hash_name: str) -> None:
    if sign_algo not in SIGN_ALGO_OIDS:
        raise invalid(f"signAlgo must be one of {', '.join(SIGN_ALGO_OIDS)}")
    if sign_algo not in sign_algos_for(key):
        raise invalid(f"this credential signs with {', '.join(sign_algos_for(key)) or 'none'}, "
                      "not with the signAlgo asked for")
    if SIGN_ALGO_OIDS[sign_algo][1] != hash_name:
        raise invalid("signAlgo and hashAlgorithmOID name different hash algorithms")


def key_hash(key: KeyRef) -> str:
    return algorithm(key.alg).hash_name or "sha256"


# --- describing credentials --------------------------------------------------------------------


def _der_b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _generalized(cert_time: Any) -> str:
    return str(cert_time.strftime("%Y%m%d%H%M%SZ"))


def describe(*, key: KeyRef, cert: x509.Certificate, chain: list[x509.Certificate],
             scal: str, auth_mode: str, multisign: int, description: str,
             certificates: str = "single", cert_info: bool = False,
             lang: str = "en-US") -> dict[str, Any]:
    """credentials/info's answer (CSC v2 11.5)."""
    if certificates not in ("none", "single", "chain"):
        raise invalid("certificates must be none, single or chain")
    info: dict[str, Any] = {
        "description": description,
        "key": {"status": "enabled", "algo": [KEY_ALGO_OIDS[key_kind(key)]],
                "len": key_length(key)},
        "cert": {"status": "valid"},
        "SCAL": scal,
        "multisign": multisign,
        "lang": lang,
    }
    if key_kind(key) == "ec":
        info["key"]["curve"] = "1.2.840.10045.3.1.7" if key_length(key) == 256 \
            else "1.3.132.0.34"
    if certificates != "none":
        certs = [cert] + (chain if certificates == "chain" else [])
        info["cert"]["certificates"] = [_der_b64(c) for c in certs]
    if cert_info:
        info["cert"].update({
            "issuerDN": cert.issuer.rfc4514_string(),
            "serialNumber": format(cert.serial_number, "x"),
            "subjectDN": cert.subject.rfc4514_string(),
            "validFrom": _generalized(cert.not_valid_before_utc),
            "validTo": _generalized(cert.not_valid_after_utc),
        })
    info["auth"] = {"mode": auth_mode}  # always: callers need it to know how to authorise
    return info


# --- signature activation data ------------------------------------------------------------------


@dataclass(frozen=True)
class Sad:
    """What a SAD authorises."""

    credential_id: str
    client_id: str
    person_id: str | None
    hash_name: str
    hashes: tuple[str, ...]  # base64 of each authorised digest
    num_signatures: int

    def to_dict(self) -> dict[str, Any]:
        return ({"c": self.credential_id, "cl": self.client_id, "p": self.person_id,
                           "ha": self.hash_name, "h": list(self.hashes),
                           "n": self.num_signatures})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sad:
        return cls(d["c"], d["cl"], d["p"], d["ha"], tuple(d["h"]), int(d["n"]))


def _sad_key(raw: str) -> str:
    return "csc:sad:" + hashlib.sha256(raw.encode()).hexdigest()


def b64s(data: bytes) -> str:
    return base64.b64encode(data).decode()


def issue_sad(store: EphemeralStore, sad: Sad, ttl: int = SAD_TTL) -> str:
    raw = secrets.token_urlsafe(32)
    store.put(_sad_key(raw), sad.to_dict(), min(ttl, SAD_TTL))
    return raw


def take_sad(store: EphemeralStore, raw: str, *, credential_id: str, client_id: str,
             person_id: str | None, hash_name: str, wanted: list[bytes]) -> Sad:
    """Spend the SAD for exactly `wanted` hashes. A SAD shown by another client or for another
    credential is not spent (it stays its owner's); once taken it never works again, even if
    the hashes turn out not to be covered (a probe must not be able to retry)."""
    if not isinstance(raw, str) or not 16 <= len(raw) <= 200:
        raise CscError("invalid_request", "missing or malformed SAD", 400)
    key = _sad_key(raw)
    peek = store.get(key)
    if peek is None:
        raise CscError("invalid_sad", "the SAD is unknown, expired or already used", 400)
    sad = Sad.from_dict(peek)
    if (sad.credential_id != credential_id or sad.client_id != client_id
            or sad.person_id != person_id):
        raise CscError("invalid_sad", "the SAD was not issued for this credential", 400)
    taken = store.take(key)
    if taken is None:
        raise CscError("invalid_sad", "the SAD is unknown, expired or already used", 400)
    allowed = set(sad.hashes)
    if sad.hash_name != hash_name or any(b64s(h) not in allowed for h in wanted):
        raise CscError("invalid_sad", "the SAD does not authorise these hashes; it is now "
                       "spent, authorise again", 400)
    if len(wanted) > sad.num_signatures:
        raise CscError("invalid_sad", "more hashes than the SAD authorises", 400)
    return sad


class DigestSigner(Protocol):
    def sign_digest(self, key: KeyRef, digest: bytes) -> bytes: ...


def sign_hashes(backend: Any, key: KeyRef, digests: list[bytes]) -> list[str]:
    """Raw signatures (DER ECDSA-Sig-Value, or RSA PKCS#1 v1.5) over each digest, base64."""
    if not hasattr(backend, "sign_digest"):
        raise CscError("server_error", "this key backend cannot sign precomputed hashes", 500)
    signer: DigestSigner = backend
    return [b64s(signer.sign_digest(key, d)) for d in digests]
