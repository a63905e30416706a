"""Compact JWS (RFC 7515) signed through a key backend, so no private key is ever held here.

Signing builds the signing input itself and asks `KeyBackend.sign` for the signature (converted
to JOSE form with `jws_signature`). Verification uses only public keys (from `KeyRef`s), with
`cryptography` directly: the provider verifies only tokens it signed itself.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Mapping
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from joserfc import jwk
from joserfc.errors import (
    BadSignatureError,
    DecodeError,
    ExceededSizeError,
    InvalidKeyIdError,
    MissingCritHeaderError,
    UnsupportedAlgorithmError,
)

from keys.backend import KeyBackend, KeyRef, algorithm, ecdsa_raw_to_der, jws_signature
from keys.backend import verify_signature as verify_backend_signature

MAX_TOKEN_BYTES = 16 * 1024
"""Longest compact JWS accepted for verification (tokens come back from outside as hints)."""

_KTY: dict[str, Literal["EC", "RSA", "OKP"]] = {
    "ec": "EC", "rsa": "RSA", "rsa-pss": "RSA", "ed25519": "OKP"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if "=" in text:
        raise DecodeError("padding is not allowed in a compact JWS")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise DecodeError("invalid base64url") from None


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_compact(backend: KeyBackend, key_ref: KeyRef, kid: str, claims: Mapping[str, Any],
                 typ: str | None = None) -> str:
    """`claims` signed as a compact JWS with header {alg, kid[, typ]}; alg is the key's."""
    header: dict[str, Any] = {"alg": key_ref.alg, "kid": kid}
    if typ:
        header["typ"] = typ
    signing_input = f"{b64url(_json(header))}.{b64url(_json(claims))}"
    signature = backend.sign(key_ref, signing_input.encode("ascii"))
    return f"{signing_input}.{b64url(jws_signature(key_ref.alg, signature))}"


def public_jwk(key_ref: KeyRef, kid: str) -> dict[str, Any]:
    """The public JWK of a key held by a backend, with kid, alg and use=sig."""
    pem = key_ref.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    key = jwk.import_key(pem, _KTY[algorithm(key_ref.alg).kind])
    data: dict[str, Any] = dict(key.as_dict(private=False))
    for member in ("kid", "alg", "use", "key_ops"):
        data.pop(member, None)
    data.update(kid=kid, alg=key_ref.alg, use="sig")
    return data


def thumbprint(key_ref: KeyRef) -> str:
    """RFC 7638 thumbprint of the public key: the kid of keys made here."""
    pem = key_ref.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return jwk.import_key(pem, _KTY[algorithm(key_ref.alg).kind]).thumbprint()


def verify_signature(public_key: PublicKeyTypes, alg: str, data: bytes, signature: bytes
                     ) -> bool:
    """Check a JWS signature (JOSE form: r||s for ECDSA) with a public key."""
    if algorithm(alg).kind == "ec" and isinstance(public_key, ec.EllipticCurvePublicKey):
        size = (public_key.curve.key_size + 7) // 8
        if len(signature) != 2 * size:
            return False
        signature = ecdsa_raw_to_der(signature)
    try:
        verify_backend_signature(public_key, alg, signature, data)
    except InvalidSignature:
        return False
    return True


def verify_compact(token: str, keys: Mapping[str, tuple[str, PublicKeyTypes]],
                   algorithms: Collection[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a compact JWS signed by one of `keys` (kid -> (alg, public key)); returns
    (header, claims).

    The header must name a known kid and the algorithm of that key, from `algorithms`; any
    `crit` header is refused (we set none). Raises joserfc errors, like joserfc's own decode.
    """
    if len(token) > MAX_TOKEN_BYTES:
        raise ExceededSizeError("token is too long")
    if not token.isascii():
        raise DecodeError("not a compact JWS")
    parts = token.split(".")
    if len(parts) != 3:
        raise DecodeError("not a compact JWS")
    try:
        header = json.loads(b64url_decode(parts[0]))
        if not isinstance(header, dict):
            raise DecodeError("JWS header is not a JSON object")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DecodeError("JWS header is not JSON") from None
    alg, kid = header.get("alg"), header.get("kid")
    if "crit" in header:
        raise MissingCritHeaderError("crit")
    if not isinstance(alg, str) or alg not in algorithms:
        raise UnsupportedAlgorithmError("algorithm not allowed")
    if not isinstance(kid, str) or kid not in keys:
        raise InvalidKeyIdError("unknown kid")
    key_alg, public_key = keys[kid]
    if key_alg != alg:
        raise UnsupportedAlgorithmError("algorithm does not match the key")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    if not verify_signature(public_key, alg, signing_input, b64url_decode(parts[2])):
        raise BadSignatureError()
    try:
        claims = json.loads(b64url_decode(parts[1]))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DecodeError("JWS payload is not JSON") from None
    if not isinstance(claims, dict):
        raise DecodeError("JWT claims are not a JSON object")
    return header, claims
