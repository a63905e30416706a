"""Software keys, sealed at rest with AES-256-GCM under a key-encryption key (KEK).

The KEK comes from a file or the environment and is never stored beside the data: a copy of the
database alone yields no private key. Each sealed key is bound to its label as associated data,
so sealed blobs cannot be swapped between records. Unsealed keys are cached in memory per
process, because loading an RSA key costs tens of milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys.backend import (
    CURVES,
    KeyBackendError,
    KeyRef,
    algorithm,
    check_key_matches,
    spki_of,
)

KEK_BYTES = 32


def load_kek(value: str | bytes) -> bytes:
    """A KEK given as 32 raw bytes, or as base64/hex text of 32 bytes (file or environment)."""
    if isinstance(value, bytes) and len(value) == KEK_BYTES:
        return value
    text = value.decode().strip() if isinstance(value, bytes) else value.strip()
    for decode in (base64.b64decode, base64.urlsafe_b64decode, bytes.fromhex):
        try:
            raw = decode(text)
        except ValueError:
            continue
        if len(raw) == KEK_BYTES:
            return raw
    raise KeyBackendError("the key-encryption key must be 32 bytes (base64 or hex)")


def generate_private_key(alg: str) -> PrivateKeyTypes:
    a = algorithm(alg)
    if a.kind == "ec":
        return ec.generate_private_key(CURVES[a.curve or ""])
    if a.kind in ("rsa", "rsa-pss"):
        return rsa.generate_private_key(65537, max(a.rsa_bits, 2048))
    return ed25519.Ed25519PrivateKey.generate()


def sign_with(private_key: PrivateKeyTypes, alg: str, data: bytes) -> bytes:
    """Sign in X.509/CMS form (DER for ECDSA)."""
    a = algorithm(alg)
    if a.kind == "ec" and isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(data, ec.ECDSA(a.hash()))
    if a.kind == "rsa" and isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, padding.PKCS1v15(), a.hash())
    if a.kind == "rsa-pss" and isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, a.pss(), a.hash())
    if a.kind == "ed25519" and isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(data)
    raise KeyBackendError(f"the key does not fit {alg}")


class SoftwareBackend:
    name = "software"

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEK_BYTES:
            raise KeyBackendError("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(kek)
        self.kek_id = hashlib.sha256(b"idp/kek-id/v1" + kek).hexdigest()[:16]
        self._cache: dict[str, PrivateKeyTypes] = {}
        self._destroyed: set[str] = set()
        self._lock = threading.Lock()

    def _seal(self, private_key: PrivateKeyTypes, alg: str, label: str) -> KeyRef:
        check_key_matches(alg, private_key.public_key())
        der = private_key.private_bytes(serialization.Encoding.DER,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, der, label.encode())
        return KeyRef(backend=self.name, alg=alg, public_spki=spki_of(private_key.public_key()),
                      ref={"label": label, "kek_id": self.kek_id,
                           "sealed": base64.b64encode(nonce + sealed).decode()})

    def generate(self, alg: str, label: str) -> KeyRef:
        return self._seal(generate_private_key(alg), alg, label)

    def import_key(self, private_key: PrivateKeyTypes, alg: str, label: str) -> KeyRef:
        return self._seal(private_key, alg, label)

    def check(self, key: KeyRef) -> None:
        if key.backend != self.name:
            raise KeyBackendError(f"key held by {key.backend}, not {self.name}")
        if key.ref.get("kek_id") != self.kek_id:
            raise KeyBackendError("key sealed under another key-encryption key")

    def _unseal(self, key: KeyRef) -> PrivateKeyTypes:
        # Check first, cache second: a cached key must not sign for a record it was moved to.
        self.check(key)
        cache_key = f'{key.ref.get("label", "")}\n{key.ref.get("sealed", "")}'
        with self._lock:
            if key.ref.get("sealed") in self._destroyed:
                raise KeyBackendError("the key was destroyed")
            hit = self._cache.get(cache_key)
        if hit is not None:
            return hit
        blob = base64.b64decode(str(key.ref.get("sealed", "")))
        try:
            der = self._aead.decrypt(blob[:12], blob[12:], str(key.ref["label"]).encode())
        except InvalidTag:
            raise KeyBackendError("sealed key is corrupt or was moved to another record") from None
        private_key = serialization.load_der_private_key(der, password=None)
        with self._lock:
            self._cache[cache_key] = private_key
        return private_key

    def sign(self, key: KeyRef, data: bytes) -> bytes:
        return sign_with(self._unseal(key), key.alg, data)

    def sign_digest(self, key: KeyRef, digest: bytes) -> bytes:
        """Sign a digest already made with the key's hash (CSC signHash); same output form as
        `sign`. Ed25519 has no prehashed form and is refused with KeyBackendError, checked
        before the digest length because looking up its (absent) hash raised a bare KeyError."""
        a = algorithm(key.alg)
        private_key = self._unseal(key)
        if a.hash_name is None:
            raise KeyBackendError(f"{key.alg} keys cannot sign a digest "
                                  "(the algorithm has no prehashed form)")
        if len(digest) != a.hash().digest_size:
            raise KeyBackendError(f"a {a.hash_name} digest is {a.hash().digest_size} bytes, "
                                  f"not {len(digest)}")
        pre = utils.Prehashed(a.hash())
        if a.kind == "ec" and isinstance(private_key, ec.EllipticCurvePrivateKey):
            return private_key.sign(digest, ec.ECDSA(pre))
        if a.kind == "rsa" and isinstance(private_key, rsa.RSAPrivateKey):
            return private_key.sign(digest, padding.PKCS1v15(), pre)
        if a.kind == "rsa-pss" and isinstance(private_key, rsa.RSAPrivateKey):
            return private_key.sign(digest, a.pss(), pre)
        raise KeyBackendError(f"{key.alg} keys cannot sign a digest")

    def destroy(self, key: KeyRef) -> None:
        """Forget the unsealed copy and refuse the sealed one from now on in this process; the
        caller deletes the sealed record, which is what destroys it for every process."""
        with self._lock:
            self._cache.pop(f'{key.ref.get("label", "")}\n{key.ref.get("sealed", "")}', None)
            self._destroyed.add(str(key.ref.get("sealed", "")))


def new_kek() -> str:
    """A fresh KEK as base64 text, for `idp keys new-kek` and the demo."""
    return base64.b64encode(secrets.token_bytes(KEK_BYTES)).decode()
