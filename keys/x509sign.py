"""Signing X.509 certificates and CRLs with a key that lives in a backend (software or HSM).

`cryptography`'s builders sign with a private key object, which a PKCS#11 token never hands
out. So a structure is built twice over: once with a throwaway key of the same type and hash,
which makes the to-be-signed part (TBS) carry the right signatureAlgorithm, then the TBS bytes
are signed through `KeyBackend.sign` and the final DER is assembled with asn1crypto around the
untouched TBS. The throwaway signature is discarded; the result is checked against the real
issuer public key before it is returned, so a backend that signs with the wrong key (or a
mismatched algorithm) fails here rather than in a relying party.

The AuthorityKeyIdentifier always names the real issuer key: a builder without one gets it
added from the issuer certificate's SubjectKeyIdentifier (or from the issuer public key), and
a builder whose AKI names some other key is refused.

Plain Python, no Flask or SQLAlchemy.
"""

from __future__ import annotations

import threading
from typing import Any

from asn1crypto import algos as asn1_algos
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PublicKeyTypes,
)

from keys.backend import KeyBackend, KeyRef, algorithm
from keys.software import generate_private_key


class X509SigningError(RuntimeError):
    """The backend's signature does not verify under the issuer key, or the input is unfit."""


_throwaway: dict[str, CertificateIssuerPrivateKeyTypes] = {}
_throwaway_lock = threading.Lock()


def _throwaway_key(alg: str) -> CertificateIssuerPrivateKeyTypes:
    """A process-wide key of the same type as `alg`, used only to shape the TBS; its
    signatures are thrown away, so it never needs protecting or rotating."""
    with _throwaway_lock:
        key = _throwaway.get(alg)
        if key is None:
            made = generate_private_key(alg)
            if not isinstance(made, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
                              | ed25519.Ed25519PrivateKey):
                raise X509SigningError(f"{alg} cannot sign X.509 structures")
            key = _throwaway[alg] = made
        return key


def _sign_args(alg: str) -> tuple[Any, dict[str, Any]]:
    """The hash and padding the builders need so the TBS names the algorithm `alg` uses.

    RSA-PSS uses MGF1 with the same hash and a salt as long as the digest, which is what the
    backends produce (keys.software.sign_with).
    """
    a = algorithm(alg)
    if a.kind == "ed25519":
        return None, {}
    if a.kind == "rsa-pss":
        return a.hash(), {"rsa_padding": a.pss()}
    if a.kind == "rsa":
        return a.hash(), {"rsa_padding": padding.PKCS1v15()}
    return a.hash(), {}


def authority_key_identifier(issuer_public_key: PublicKeyTypes,
                             issuer_cert: x509.Certificate | None = None
                             ) -> x509.AuthorityKeyIdentifier:
    """The AKI a certificate or CRL signed by this issuer carries: the issuer certificate's own
    SKI when it has one (RFC 5280 4.2.1.1: they must match for path building), otherwise the
    SHA-1 of the issuer public key (RFC 5280 4.2.1.2 method 1)."""
    if issuer_cert is not None:
        try:
            ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except x509.ExtensionNotFound:
            pass
        else:
            return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(
        issuer_public_key)  # type: ignore[arg-type]


def _with_aki(builder: Any, aki: x509.AuthorityKeyIdentifier) -> Any:
    try:
        return builder.add_extension(aki, critical=False)
    except ValueError:  # the builder already has an AKI; checked after building
        return builder


def _check_aki(extensions: x509.Extensions, aki: x509.AuthorityKeyIdentifier,
               public_key: PublicKeyTypes) -> None:
    try:
        have = extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        raise X509SigningError("the structure has no AuthorityKeyIdentifier") from None
    by_key = x509.AuthorityKeyIdentifier.from_issuer_public_key(
        public_key)  # type: ignore[arg-type]
    if have.key_identifier not in (aki.key_identifier, by_key.key_identifier):
        raise X509SigningError("the AuthorityKeyIdentifier does not name the issuer key")


def verify_signature(public_key: PublicKeyTypes, signature: bytes, data: bytes,
                     hash_algorithm: hashes.HashAlgorithm | None, parameters: Any) -> None:
    """Check an X.509-form signature (DER ECDSA, raw RSA, raw Ed25519) over `data`.

    `parameters` is what `cryptography` reports as `signature_algorithm_parameters` (ECDSA
    object, RSA padding, or None). Raises X509SigningError when it does not verify."""
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey) and hash_algorithm is not None:
            public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
        elif isinstance(public_key, rsa.RSAPublicKey) and hash_algorithm is not None:
            pad = parameters if isinstance(parameters, padding.PSS | padding.PKCS1v15) \
                else padding.PKCS1v15()
            public_key.verify(signature, data, pad, hash_algorithm)
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            raise X509SigningError("unsupported issuer key type")
    except InvalidSignature:
        raise X509SigningError(
            "the backend's signature does not verify under the issuer public key") from None


def _signature_algorithm(signed_der: bytes, kind: str) -> asn1_algos.SignedDigestAlgorithm:
    """The signatureAlgorithm of the throwaway-signed structure (identical to the one inside
    its TBS, as RFC 5280 4.1.1.2 requires)."""
    if kind == "crl":
        return asn1_crl.CertificateList.load(signed_der)["signature_algorithm"]
    return asn1_x509.Certificate.load(signed_der)["signature_algorithm"]


def _shape(builder: Any, issuer_key_ref: KeyRef, issuer_cert: x509.Certificate | None,
           what: str) -> tuple[PublicKeyTypes, Any]:
    """The issuer public key and `builder` signed with the throwaway key, its AKI added and
    checked and, given `issuer_cert`, its issuer name checked; `what` names the structure
    ("certificate", "CRL") in the error."""
    issuer_public = issuer_key_ref.public_key()
    aki = authority_key_identifier(issuer_public, issuer_cert)
    builder = _with_aki(builder, aki)
    hash_alg, extra = _sign_args(issuer_key_ref.alg)
    shaped = builder.sign(_throwaway_key(issuer_key_ref.alg), hash_alg, **extra)
    _check_aki(shaped.extensions, aki, issuer_public)
    if issuer_cert is not None and shaped.issuer != issuer_cert.subject:
        raise X509SigningError(f"the {what}'s issuer name is not the issuer's subject")
    return issuer_public, shaped


def sign_certificate(builder: x509.CertificateBuilder, issuer_key_ref: KeyRef,
                     backend: KeyBackend, *, issuer_cert: x509.Certificate | None = None
                     ) -> x509.Certificate:
    """Sign a certificate with the backend key `issuer_key_ref`.

    `issuer_cert` (omit for a self-signed root) supplies the AKI and lets the result be checked
    against the issuer's name; the signature is always checked against the key ref's public key.
    """
    issuer_public, shaped = _shape(builder, issuer_key_ref, issuer_cert, "certificate")
    tbs_der = shaped.tbs_certificate_bytes
    signature = backend.sign(issuer_key_ref, tbs_der)
    der = asn1_x509.Certificate({
        "tbs_certificate": asn1_x509.TbsCertificate.load(tbs_der),
        "signature_algorithm": _signature_algorithm(
            shaped.public_bytes(serialization.Encoding.DER), "cert"),
        "signature_value": signature,
    }).dump()
    cert = x509.load_der_x509_certificate(der)
    if cert.tbs_certificate_bytes != tbs_der:
        raise X509SigningError("the assembled certificate changed its TBS")
    verify_signature(issuer_public, cert.signature, tbs_der, cert.signature_hash_algorithm,
                     cert.signature_algorithm_parameters)
    return cert


def sign_crl(builder: x509.CertificateRevocationListBuilder, issuer_key_ref: KeyRef,
             backend: KeyBackend, *, issuer_cert: x509.Certificate | None = None
             ) -> x509.CertificateRevocationList:
    """Sign a CRL with the backend key `issuer_key_ref`; same checks as `sign_certificate`."""
    issuer_public, shaped = _shape(builder, issuer_key_ref, issuer_cert, "CRL")
    tbs_der = shaped.tbs_certlist_bytes
    signature = backend.sign(issuer_key_ref, tbs_der)
    der = asn1_crl.CertificateList({
        "tbs_cert_list": asn1_crl.TbsCertList.load(tbs_der),
        "signature_algorithm": _signature_algorithm(
            shaped.public_bytes(serialization.Encoding.DER), "crl"),
        "signature": signature,
    }).dump()
    crl = x509.load_der_x509_crl(der)
    if crl.tbs_certlist_bytes != tbs_der:
        raise X509SigningError("the assembled CRL changed its TBS")
    verify_signature(issuer_public, crl.signature, tbs_der, crl.signature_hash_algorithm,
                     crl.signature_algorithm_parameters)
    if not crl.is_signature_valid(issuer_public):  # type: ignore[arg-type]
        raise X509SigningError("the CRL signature does not verify under the issuer key")
    return crl
