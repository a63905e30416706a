"""A pyhanko `Signer` whose private key stays in our `KeyBackend`.

pyhanko's `SimpleSigner` wants the private key in memory and reloads it from DER on every
signature (and signs twice, ignoring `dry_run`); a server key lives in a backend (sealed
software key or a PKCS#11 token) and must never leave it. This signer holds only the
`KeyRef` (plain data) and the certificates, signs through `backend.sign(key_ref, data)`, and on
pyhanko's size-estimating `dry_run` returns placeholder bytes of the maximum length instead
of spending a real signature.

The digest is fixed by the key's algorithm (ES256/RS256/PS256 → SHA-256, ES384 → SHA-384):
the backend hashes with it, so the CMS must name the same one (`digest_algorithm`).
"""

from __future__ import annotations

from collections.abc import Iterable

from asn1crypto import algos
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from keys.backend import KeyBackend, KeyRef, algorithm

SUPPORTED_ALGS = ("ES256", "ES384", "RS256", "PS256")


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    """A `cryptography` certificate as the asn1crypto object pyhanko works with."""
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _mechanism(alg: str) -> algos.SignedDigestAlgorithm:
    a = algorithm(alg)
    hash_name = a.hash_name or ""
    if a.kind == "ec":
        return algos.SignedDigestAlgorithm({"algorithm": f"{hash_name}_ecdsa"})
    if a.kind == "rsa":
        return algos.SignedDigestAlgorithm({"algorithm": f"{hash_name}_rsa"})
    # RSA-PSS: MGF1 with the same hash, salt as long as the digest (keys.backend.Algorithm.pss)
    return algos.SignedDigestAlgorithm({
        "algorithm": "rsassa_pss",
        "parameters": algos.RSASSAPSSParams({
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": hash_name}),
            "mask_gen_algorithm": algos.MaskGenAlgorithm({
                "algorithm": "mgf1",
                "parameters": algos.DigestAlgorithm({"algorithm": hash_name}),
            }),
            "salt_length": a.hash().digest_size,
            "trailer_field": "trailer_field_bc",
        }),
    })


def _max_signature_length(key: KeyRef) -> int:
    """The longest signature this key can give: what a dry run must pretend to return so the
    /Contents reservation is never short."""
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return (public.key_size + 7) // 8
    if isinstance(public, ec.EllipticCurvePublicKey):
        size = (public.curve.key_size + 7) // 8
        # DER SEQUENCE of two INTEGERs, each possibly one byte longer for the sign bit
        body = 2 * (2 + size + 1)
        return body + (2 if body < 128 else 3)
    raise SigningError("unsupported key type for PDF signing")


class BackendSigner(Signer):
    """Signs CMS signed attributes with a key held by `backend`; keeps no key material."""

    def __init__(self, backend: KeyBackend, key: KeyRef, cert: x509.Certificate,
                 chain: Iterable[x509.Certificate] = (), *, embed_roots: bool = True) -> None:
        if key.alg not in SUPPORTED_ALGS:
            raise ValueError(f"{key.alg} keys cannot sign PDFs here; use one of "
                             f"{', '.join(SUPPORTED_ALGS)}")
        if cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
            raise ValueError("the certificate is not for this key")
        registry = SimpleCertificateStore()
        registry.register_multiple([to_asn1(c) for c in chain])
        super().__init__(signing_cert=to_asn1(cert), cert_registry=registry,
                         signature_mechanism=_mechanism(key.alg), embed_roots=embed_roots,
                         prefer_pss=algorithm(key.alg).kind == "rsa-pss")
        self._backend = backend
        self._key = key
        self._placeholder = bytes(_max_signature_length(key))
        self.calls = 0
        """Real signatures made (dry runs not counted): lets tests see no key was spent twice."""

    @property
    def digest_algorithm(self) -> str:
        """The digest the CMS must use: the one the backend's algorithm hashes with."""
        return algorithm(self._key.alg).hash_name or "sha256"

    async def async_sign_raw(self, data: bytes, digest_algorithm: str,
                             dry_run: bool = False) -> bytes:
        if digest_algorithm != self.digest_algorithm:
            raise SigningError(f"this key signs with {self.digest_algorithm}, "
                               f"not {digest_algorithm}")
        if dry_run:
            return self._placeholder
        self.calls += 1
        return self._backend.sign(self._key, data)
