"""Storing identifiers (national ID, passport numbers) the way the reference demands: a keyed
hash to find a person by the number, plus an encrypted copy to show it back (masked) or release
it as a consented claim. The plain number is never stored and never logged.

A namespace names what kind of identifier a value is, and keeps equal strings of different
kinds apart (in the hash input, and as the AEAD associated data):

- `th_citizen_id`: a Thai national ID number (validated, stored as its thirteen digits);
- `passport:<country>`: a passport number issued by an ISO 3166-1 alpha-3 country
  (`passport:THA`); the number is stored upper-case without spaces.

Keys: `derive_keys(kek)` turns one master key (the provider's key-encryption key) into two
independent keys, one for HMAC-SHA256 lookups and one for AES-256-GCM sealing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kyc.thai_id import normalize_thai_id

TH_CITIZEN_ID = "th_citizen_id"
PASSPORT_PREFIX = "passport:"

_HKDF_SALT = b"thai-digital-id/kyc/identifiers"
_LOOKUP_LABEL = b"kyc identifier lookup HMAC-SHA256 v1"
_SEAL_LABEL = b"kyc identifier seal AES-256-GCM v1"
_SEAL_VERSION = b"\x01"
_NONCE_BYTES = 12
_COUNTRY = re.compile(r"[A-Z]{3}")
_PASSPORT_NUMBER = re.compile(r"[A-Z0-9]{1,20}")
MAX_VALUE = 128
MAX_SEALED = 1024


class IdentifierError(ValueError):
    """A namespace or value that cannot be stored. The message never contains the value."""


def derive_keys(master: bytes) -> tuple[bytes, bytes]:
    """(hash_key, enc_key) from one master key with HKDF-SHA256 and two distinct labels."""
    if not isinstance(master, bytes | bytearray) or len(master) < 16:
        raise ValueError("the master key must be at least 16 bytes")

    def expand(label: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT,
                    info=label).derive(bytes(master))

    return expand(_LOOKUP_LABEL), expand(_SEAL_LABEL)


def passport_namespace(country: str) -> str:
    """`passport:THA` from "THA" or "tha"; refuses anything but three letters."""
    return canonical_namespace(PASSPORT_PREFIX + (country if isinstance(country, str) else ""))


def canonical_namespace(namespace: str) -> str:
    if namespace == TH_CITIZEN_ID:
        return namespace
    if isinstance(namespace, str) and namespace.startswith(PASSPORT_PREFIX):
        country = namespace[len(PASSPORT_PREFIX):].strip().upper()
        if _COUNTRY.fullmatch(country):
            return PASSPORT_PREFIX + country
        raise IdentifierError("a passport namespace needs an ISO 3166-1 alpha-3 country code")
    raise IdentifierError("unknown identifier namespace")


def normalize_identifier(namespace: str, value: str) -> tuple[str, str]:
    """(canonical namespace, canonical value); IdentifierError for values of the wrong form."""
    ns = canonical_namespace(namespace)
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise IdentifierError("identifier value has the wrong type or length")
    if ns == TH_CITIZEN_ID:
        digits = normalize_thai_id(value)
        if digits is None:
            raise IdentifierError("not a valid Thai national ID number")
        return ns, digits
    number = "".join(value.split()).upper()
    if not _PASSPORT_NUMBER.fullmatch(number):
        raise IdentifierError("a passport number is 1 to 20 letters and digits")
    return ns, number


class IdentifierProtector:
    """Keyed lookup hashes and sealed copies of identifiers. Holds keys: never log it."""

    def __init__(self, hash_key: bytes, enc_key: bytes) -> None:
        if len(hash_key) < 32:
            raise ValueError("the lookup key must be at least 32 bytes")
        if len(enc_key) != 32:
            raise ValueError("the sealing key must be 32 bytes (AES-256)")
        if hmac.compare_digest(bytes(hash_key), bytes(enc_key)):
            raise ValueError("the lookup and sealing keys must differ (use derive_keys)")
        self._hash_key = bytes(hash_key)
        self._aead = AESGCM(bytes(enc_key))

    def __repr__(self) -> str:
        return "IdentifierProtector(<keys hidden>)"

    def lookup_hash(self, namespace: str, value: str) -> str:
        """HMAC-SHA256 over the namespace and the normalised value, hex: equal identifiers
        typed differently ("1-3459-51597-67-1", "1345951597671") give the same hash."""
        ns, canonical = normalize_identifier(namespace, value)
        message = b"v1\x00" + ns.encode() + b"\x00" + canonical.encode()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()

    def seal(self, namespace: str, value: str) -> str:
        """AES-256-GCM of the normalised value, random 96-bit nonce, the namespace as
        associated data; base64 of version byte || nonce || ciphertext-and-tag."""
        ns, canonical = normalize_identifier(namespace, value)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, canonical.encode(), ns.encode())
        return base64.b64encode(_SEAL_VERSION + nonce + sealed).decode("ascii")

    def unseal(self, namespace: str, sealed: str) -> str:
        """The value back; IdentifierError when the blob was altered, sealed under another key
        or another namespace."""
        ns = canonical_namespace(namespace)
        if not isinstance(sealed, str) or len(sealed) > MAX_SEALED:
            raise IdentifierError("sealed identifier has the wrong type or length")
        try:
            blob = base64.b64decode(sealed, validate=True)
        except (binascii.Error, ValueError):
            raise IdentifierError("sealed identifier is not base64") from None
        if len(blob) < 1 + _NONCE_BYTES + 16 or blob[:1] != _SEAL_VERSION:
            raise IdentifierError("sealed identifier has an unknown format")
        nonce, body = blob[1:1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, body, ns.encode()).decode()
        except (InvalidTag, UnicodeDecodeError):
            raise IdentifierError("sealed identifier cannot be opened") from None
