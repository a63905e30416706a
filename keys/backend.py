"""Where private keys live, behind one interface: software keys sealed under a key-encryption
key, or keys made inside a PKCS#11 token (an HSM) that never leave it.

Everything that signs (tokens, certificates, CRLs, OCSP answers, timestamps, PDFs) goes through
`KeyBackend.sign` with a `KeyRef`; nothing outside a backend ever holds a private key object.
A `KeyRef` is plain data, stored by the caller (the provider keeps it in its database).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)


@dataclass(frozen=True)
class Algorithm:
    """One signature algorithm, named as JOSE names it (RFC 7518, RFC 8037)."""

    name: str
    kind: str  # "ec", "rsa", "rsa-pss", "ed25519"
    hash_name: str | None  # "sha256", "sha384"; None for Ed25519 (the hash is built in)
    curve: str | None = None  # "P-256", "P-384" for ECDSA
    rsa_bits: int = 0

    def hash(self) -> hashes.HashAlgorithm:
        return {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}[self.hash_name or ""]

    def pss(self) -> padding.PSS:
        """RSA-PSS padding: MGF1 with the same hash and a salt as long as the digest."""
        return padding.PSS(mgf=padding.MGF1(self.hash()), salt_length=self.hash().digest_size)


ALGORITHMS: dict[str, Algorithm] = {
    "ES256": Algorithm("ES256", "ec", "sha256", curve="P-256"),
    "ES384": Algorithm("ES384", "ec", "sha384", curve="P-384"),
    "RS256": Algorithm("RS256", "rsa", "sha256", rsa_bits=2048),
    "PS256": Algorithm("PS256", "rsa-pss", "sha256", rsa_bits=2048),
    "EdDSA": Algorithm("EdDSA", "ed25519", None),
}
CURVES: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}


def algorithm(name: str) -> Algorithm:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"unsupported signature algorithm {name!r}") from None


@dataclass(frozen=True)
class KeyRef:
    """A handle on a private key: which backend holds it, how to find it there, its public key.

    `ref` is backend-specific plain data (software: the sealed key; PKCS#11: the token object
    id). `public_spki` is the public key as base64 DER SubjectPublicKeyInfo, so verifying and
    publishing never need the backend.
    """

    backend: str
    alg: str
    public_spki: str
    ref: dict[str, Any] = field(default_factory=dict)

    def public_key(self) -> PublicKeyTypes:
        return serialization.load_der_public_key(base64.b64decode(self.public_spki))

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "alg": self.alg, "public_spki": self.public_spki,
                "ref": dict(self.ref)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyRef:
        return cls(backend=data["backend"], alg=data["alg"], public_spki=data["public_spki"],
                   ref=dict(data.get("ref") or {}))


class KeyBackend(Protocol):
    """Signs with keys it holds. `sign` returns the signature in X.509/CMS form: DER
    ECDSA-Sig-Value for ECDSA, raw bytes for RSA and Ed25519; `jws_signature` converts."""

    name: str

    def generate(self, alg: str, label: str) -> KeyRef: ...

    def import_key(self, private_key: PrivateKeyTypes, alg: str, label: str) -> KeyRef: ...

    def sign(self, key: KeyRef, data: bytes) -> bytes: ...

    def destroy(self, key: KeyRef) -> None: ...

    def check(self, key: KeyRef) -> None:
        """Raise KeyBackendError unless this backend holds `key` (its backend, and its KEK or
        token): a service started with the wrong KEK must stop, not seal new keys under it."""
        ...


class KeyBackendError(RuntimeError):
    """The backend cannot do what was asked (key missing, token absent, wrong passphrase)."""


def spki_of(public_key: PublicKeyTypes) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def check_key_matches(alg: str, public_key: PublicKeyTypes) -> None:
    """Refuse a key that does not fit its algorithm (an RSA key for ES256, a short RSA key)."""
    a = algorithm(alg)
    ok = (
        (a.kind == "ec" and isinstance(public_key, ec.EllipticCurvePublicKey)
         and public_key.curve.name == CURVES[a.curve or ""].name)
        or (a.kind in ("rsa", "rsa-pss") and isinstance(public_key, rsa.RSAPublicKey)
            and public_key.key_size >= 2048)
        or (a.kind == "ed25519" and isinstance(public_key, ed25519.Ed25519PublicKey))
    )
    if not ok:
        raise ValueError(f"the key does not fit {alg}")


def verify_signature(public_key: PublicKeyTypes, alg: str, signature: bytes, data: bytes
                     ) -> None:
    """Check a signature as `KeyBackend.sign` makes it; raise InvalidSignature if it fails
    (including a key that does not fit `alg`)."""
    a = algorithm(alg)
    if a.kind == "ec" and isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(a.hash()))
    elif a.kind == "rsa" and isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, data, padding.PKCS1v15(), a.hash())
    elif a.kind == "rsa-pss" and isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, data, a.pss(), a.hash())
    elif a.kind == "ed25519" and isinstance(public_key, ed25519.Ed25519PublicKey):
        public_key.verify(signature, data)
    else:
        raise InvalidSignature(f"the key does not fit {alg}")


def ecdsa_raw_to_der(raw: bytes) -> bytes:
    half = len(raw) // 2
    return encode_dss_signature(int.from_bytes(raw[:half], "big"),
                                int.from_bytes(raw[half:], "big"))


def ecdsa_der_to_raw(der: bytes, size: int) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def jws_signature(alg: str, signature: bytes) -> bytes:
    """JWS wants ECDSA signatures as fixed-size r||s (RFC 7518 3.4), not DER."""
    a = algorithm(alg)
    if a.kind != "ec":
        return signature
    size = {"P-256": 32, "P-384": 48}[a.curve or ""]
    return ecdsa_der_to_raw(signature, size)
