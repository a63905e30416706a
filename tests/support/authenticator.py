"""A software WebAuthn authenticator (and the browser's part of the ceremony), for server tests.

It answers the provider's JSON options the way a browser plus authenticator would, with the
knobs tests need to misbehave on purpose: the origin and rp id the "browser" writes, the
UP/UV/BE/BS flags, the signature counter, and the attestation ("none", packed self attestation,
or packed full attestation with a certificate chain from `attestation_ca`). ES256 only, built
on `cryptography`; CBOR through py_webauthn's own encoder.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import struct
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from webauthn.helpers import encode_cbor

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
ES256 = -7
AAGUID_EXTENSION = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _cose_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    numbers = key.public_key().public_numbers()
    return encode_cbor({1: 2, 3: ES256, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                        -3: numbers.y.to_bytes(32, "big")})


@dataclass
class AttestationCA:
    """A root and an attestation certificate for one authenticator model (AAGUID)."""

    root_pem: bytes
    chain: list[bytes]  # DER: the attestation certificate first
    key: ec.EllipticCurvePrivateKey
    root_key: ec.EllipticCurvePrivateKey
    root_name: x509.Name

    def for_model(self, aaguid: uuid.UUID, name: str = "Test Security Key",
                  with_aaguid_extension: bool = True) -> AttestationCA:
        """An attestation certificate for another model under the same root."""
        key, leaf = _leaf(self.root_key, self.root_name, aaguid, name, with_aaguid_extension)
        return replace(self, chain=[leaf], key=key)


def _leaf(root_key: ec.EllipticCurvePrivateKey, root_name: x509.Name, aaguid: uuid.UUID,
          name: str, with_aaguid_extension: bool) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Vendor"),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME,
                                            "Authenticator Attestation"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(root_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1))
               .not_valid_after(now + dt.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if with_aaguid_extension:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(AAGUID_EXTENSION, b"\x04\x10" + aaguid.bytes),
            critical=False)
    leaf = builder.sign(root_key, hashes.SHA256())
    return key, leaf.public_bytes(serialization.Encoding.DER)


def attestation_ca(aaguid: uuid.UUID, name: str = "Test Security Key",
                   with_aaguid_extension: bool = True) -> AttestationCA:
    """A self-signed root and, under it, a FIDO attestation certificate for `aaguid`."""
    now = dt.datetime.now(dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "TH"),
                           x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Vendor"),
                           x509.NameAttribute(NameOID.COMMON_NAME, f"{name} Root CA")])
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(root_key, hashes.SHA256()))
    key, leaf = _leaf(root_key, root_name, aaguid, name, with_aaguid_extension)
    return AttestationCA(root_pem=root.public_bytes(serialization.Encoding.PEM), chain=[leaf],
                         key=key, root_key=root_key, root_name=root_name)


@dataclass
class Credential:
    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    counter: int = 0


@dataclass
class SoftAuthenticator:
    """One authenticator: its model (AAGUID), its flags, and the credentials it made."""

    origin: str
    rp_id: str
    aaguid: uuid.UUID = field(default_factory=lambda: uuid.UUID(int=0))
    backup_eligible: bool = True
    backup_state: bool = True
    counting: bool = True  # False: the counter stays 0 (as synced passkeys do)
    attestation: str = "none"  # "none" | "packed-self" | "packed-full"
    ca: AttestationCA | None = None
    attachment: str = "platform"
    transports: list[str] = field(default_factory=lambda: ["internal", "hybrid"])
    credentials: list[Credential] = field(default_factory=list)

    def clone(self) -> SoftAuthenticator:
        """A copy with the same keys and counters, as a stolen key would be."""
        return replace(self, credentials=[replace(c) for c in self.credentials],
                       transports=list(self.transports))

    def _flags(self, uv: bool, up: bool, be: bool | None, bs: bool | None,
               attested: bool = False) -> int:
        flags = (UP if up else 0) | (UV if uv else 0)
        if self.backup_eligible if be is None else be:
            flags |= BE
        if self.backup_state if bs is None else bs:
            flags |= BS
        return flags | (AT if attested else 0)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge,
                           "origin": origin or self.origin, "crossOrigin": False}).encode()

    def create(self, options: dict[str, Any], *, origin: str | None = None,
               rp_id: str | None = None, uv: bool = True, up: bool = True) -> dict[str, Any]:
        """navigator.credentials.create(): a new ES256 credential, as RegistrationResponseJSON."""
        assert any(p["alg"] == ES256 for p in options["pubKeyCredParams"]), options
        excluded = {d["id"] for d in options.get("excludeCredentials", [])}
        assert not excluded & {b64url(c.credential_id) for c in self.credentials}, \
            "InvalidStateError: this authenticator already holds an excluded credential"
        rp = rp_id or options["rp"]["id"]
        key = ec.generate_private_key(ec.SECP256R1())
        cred_id = os.urandom(32)
        cred = Credential(cred_id, key, options["rp"]["id"],
                          b64url_decode(options["user"]["id"]))
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        auth_data = (hashlib.sha256(rp.encode()).digest()
                     + bytes([self._flags(uv, up, None, None, attested=True)])
                     + struct.pack(">I", 0) + self.aaguid.bytes
                     + struct.pack(">H", len(cred_id)) + cred_id + _cose_key(key))
        signed = auth_data + hashlib.sha256(client_data).digest()
        fmt, statement = "none", {}
        if self.attestation == "packed-self":
            fmt = "packed"
            statement = {"alg": ES256, "sig": key.sign(signed, ec.ECDSA(hashes.SHA256()))}
        elif self.attestation == "packed-full":
            assert self.ca is not None
            fmt = "packed"
            statement = {"alg": ES256, "sig": self.ca.key.sign(signed, ec.ECDSA(hashes.SHA256())),
                         "x5c": list(self.ca.chain)}
        self.credentials.append(cred)
        attestation_object = encode_cbor({"fmt": fmt, "attStmt": statement, "authData": auth_data})
        return {"id": b64url(cred_id), "rawId": b64url(cred_id), "type": "public-key",
                "authenticatorAttachment": self.attachment, "clientExtensionResults": {},
                "response": {"clientDataJSON": b64url(client_data),
                             "attestationObject": b64url(attestation_object),
                             "transports": list(self.transports)}}

    def get(self, options: dict[str, Any], *, origin: str | None = None,
            rp_id: str | None = None, uv: bool = True, up: bool = True,
            be: bool | None = None, bs: bool | None = None, counter: int | None = None,
            user_handle: bytes | None = None) -> dict[str, Any]:
        """navigator.credentials.get(): an assertion, as AuthenticationResponseJSON. With an
        empty allowCredentials, a discoverable credential for the rp id is used."""
        allowed = {d["id"] for d in options.get("allowCredentials", [])}
        usable = [c for c in self.credentials if c.rp_id == options["rpId"]
                  and (not allowed or b64url(c.credential_id) in allowed)]
        assert usable, "NotAllowedError: no credential for this request"
        cred = usable[-1]
        if counter is not None:
            cred.counter = counter
        elif self.counting:
            cred.counter += 1
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = (hashlib.sha256((rp_id or options["rpId"]).encode()).digest()
                     + bytes([self._flags(uv, up, be, bs)]) + struct.pack(">I", cred.counter))
        signature = cred.key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        return {"id": b64url(cred.credential_id), "rawId": b64url(cred.credential_id),
                "type": "public-key", "authenticatorAttachment": self.attachment,
                "clientExtensionResults": {},
                "response": {"clientDataJSON": b64url(client_data),
                             "authenticatorData": b64url(auth_data),
                             "signature": b64url(signature),
                             "userHandle": b64url(user_handle or cred.user_handle)}}
