"""`sign_digest`, what the CSC API's signatures/signHash calls: the caller sends a digest and the
backend signs that digest as given, without hashing it again. On sealed software keys and on a
SoftHSM2 token, for every algorithm: the signature verifies over the digest with `cryptography`
(`Prehashed`), it is what a normal verification over the data accepts (and `sign(data)` verifies
over the digest), a wrong-length digest and Ed25519 are refused with KeyBackendError, and the
signature does not verify for another digest. Then end to end: signHash on a live provider
whose key backend is the SoftHSM2 token."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from idp.csc.seals import provision_seal
from idp.pki.views import current_pki
from idp.settings import Settings
from idp.store import EphemeralStore
from keys.backend import (
    ALGORITHMS,
    KeyBackend,
    KeyBackendError,
    KeyRef,
    spki_of,
    verify_signature,
)
from tests.support.live import serve

if TYPE_CHECKING:
    from tests.keys.conftest import SoftHsm

DATA = "ลงนามเอกสาร / a document to sign".encode()
OTHER = b"a different document"
PREHASHED = [name for name, a in ALGORITHMS.items() if a.hash_name is not None]
HASH_OIDS = {"sha256": "2.16.840.1.101.3.4.2.1", "sha384": "2.16.840.1.101.3.4.2.2"}
SIGN_ALGO_OIDS = {"ES256": "1.2.840.10045.4.3.2", "ES384": "1.2.840.10045.4.3.3",
                  "RS256": "1.2.840.113549.1.1.11"}
ORG_ID = "NTRTH-0994000000001"


def digest_of(alg: str, data: bytes) -> bytes:
    return hashlib.new(ALGORITHMS[alg].hash_name or "", data).digest()


def verify_prehashed(key: KeyRef, signature: bytes, digest: bytes) -> None:
    """Check a signature over `digest` itself, with `cryptography` and the public key only."""
    a = ALGORITHMS[key.alg]
    public = key.public_key()
    pre = Prehashed(a.hash())
    if a.kind == "ec":
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(signature, digest, ec.ECDSA(pre))
    elif a.kind == "rsa":
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, digest, padding.PKCS1v15(), pre)
    else:
        assert a.kind == "rsa-pss" and isinstance(public, rsa.RSAPublicKey)
        pss = padding.PSS(mgf=padding.MGF1(a.hash()), salt_length=a.hash().digest_size)
        public.verify(signature, digest, pss, pre)


@pytest.fixture(params=PREHASHED)
def prehash_alg(request: pytest.FixtureRequest, key_backend: KeyBackend) -> str:
    """Every algorithm with a prehashed form (all but Ed25519, whose refusal is tested on its
    own); one the token cannot do is skipped with the backend's own reason."""
    name = str(request.param)
    supports = getattr(key_backend, "supports", None)
    if supports is not None and not supports(name):
        pytest.skip(f"{name} is not supported by this token")
    return name


def test_digest_signature_verifies_prehashed_and_over_the_data(
        key_backend: KeyBackend, prehash_alg: str) -> None:
    alg = prehash_alg
    key = key_backend.generate(alg, f"digest-{alg}")
    signer: Any = key_backend
    digest = digest_of(alg, DATA)
    signature = signer.sign_digest(key, digest)
    verify_prehashed(key, signature, digest)
    # The same signature a normal verification over the data accepts: signHash of H(data) is a
    # signature of the data, the digest was not hashed a second time.
    verify_signature(key.public_key(), alg, signature, DATA)
    # And the other way round: a signature from `sign(data)` verifies over the digest.
    verify_prehashed(key, key_backend.sign(key, DATA), digest)
    key_backend.destroy(key)


def test_digest_signature_does_not_verify_for_another_digest(
        key_backend: KeyBackend, prehash_alg: str) -> None:
    alg = prehash_alg
    key = key_backend.generate(alg, f"digest-other-{alg}")
    signer: Any = key_backend
    signature = signer.sign_digest(key, digest_of(alg, DATA))
    with pytest.raises(InvalidSignature):
        verify_prehashed(key, signature, digest_of(alg, OTHER))
    with pytest.raises(InvalidSignature):
        verify_signature(key.public_key(), alg, signature, OTHER)
    # Nor over the digest taken as data (which would mean it was hashed twice).
    with pytest.raises(InvalidSignature):
        verify_signature(key.public_key(), alg, signature, digest_of(alg, DATA))
    key_backend.destroy(key)


def test_rsa_pkcs1_digest_signature_equals_the_data_signature(key_backend: KeyBackend) -> None:
    """PKCS#1 v1.5 is deterministic, so signing H(data) gives exactly `sign(data)`'s bytes."""
    key = key_backend.generate("RS256", "digest-rs256-equal")
    signer: Any = key_backend
    assert signer.sign_digest(key, hashlib.sha256(DATA).digest()) == key_backend.sign(key, DATA)
    key_backend.destroy(key)


def test_wrong_length_digests_are_refused(key_backend: KeyBackend, prehash_alg: str) -> None:
    alg = prehash_alg
    key = key_backend.generate(alg, f"digest-len-{alg}")
    signer: Any = key_backend
    size = ALGORITHMS[alg].hash().digest_size
    wrong = [b"", b"\x01" * (size - 1), b"\x01" * (size + 1), DATA,
             hashlib.sha384(DATA).digest() if size == 32 else hashlib.sha256(DATA).digest()]
    for digest in wrong:
        with pytest.raises(KeyBackendError, match=f"digest is {size} bytes"):
            signer.sign_digest(key, digest)
    key_backend.destroy(key)


def test_ed25519_cannot_sign_a_digest(key_backend: KeyBackend) -> None:
    supports = getattr(key_backend, "supports", None)
    if supports is not None and not supports("EdDSA"):
        pytest.skip("EdDSA is not supported by this token")
    key = key_backend.generate("EdDSA", "digest-eddsa")
    signer: Any = key_backend
    for digest in (hashlib.sha256(DATA).digest(), hashlib.sha512(DATA).digest(), b""):
        with pytest.raises(KeyBackendError, match="EdDSA keys cannot sign a digest"):
            signer.sign_digest(key, digest)
    key_backend.destroy(key)


def test_digest_signing_needs_a_key_of_this_backend(
        key_backend: KeyBackend, request: pytest.FixtureRequest) -> None:
    other_name = "pkcs11" if key_backend.name == "software" else "software"
    other: KeyBackend = request.getfixturevalue(f"{other_name}_backend")
    key = other.generate("ES256", "digest-foreign")
    signer: Any = key_backend
    with pytest.raises(KeyBackendError, match=f"key held by {other_name}"):
        signer.sign_digest(key, hashlib.sha256(DATA).digest())
    other.destroy(key)


def test_pkcs11_digest_signing_is_refused_without_the_raw_mechanism(
        pkcs11_backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token that signs RS256 data but offers no raw RSA PKCS#1 mechanism says so clearly."""
    from pkcs11 import Mechanism

    key = pkcs11_backend.generate("RS256", "digest-no-raw")
    digest = hashlib.sha256(DATA).digest()
    state = pkcs11_backend._state
    monkeypatch.setattr(state, "mechanisms", state.mechanisms - {Mechanism.RSA_PKCS})
    with pytest.raises(KeyBackendError, match="cannot sign a precomputed digest with RS256"):
        pkcs11_backend.sign_digest(key, digest)
    monkeypatch.undo()
    verify_prehashed(key, pkcs11_backend.sign_digest(key, digest), digest)
    pkcs11_backend.destroy(key)


# --- end to end: signHash on a provider whose keys live in SoftHSM2 ------------------------------


def _post(base: str, method: str, token: str, **body: Any) -> requests.Response:
    return requests.post(f"{base}/csc/v2/{method}", json=body,
                         headers={"Authorization": f"Bearer {token}"}, timeout=60)


@pytest.mark.parametrize("alg", list(SIGN_ALGO_OIDS))
def test_csc_sign_hash_on_a_pkcs11_provider(alg: str, settings: Settings,
                                            store: EphemeralStore, softhsm: SoftHsm,
                                            backend: str, request: pytest.FixtureRequest
                                            ) -> None:
    """The whole signHash path with the seal key made inside the token: the signatures verify
    with the seal certificate's public key over the digests sent (Prehashed), and over the data
    they are digests of."""
    hsm_settings = replace(settings, key_backend="pkcs11", pkcs11_module=softhsm.module,
                           pkcs11_token=softhsm.token_label, pkcs11_pin=softhsm.pin)
    with serve(hsm_settings, store) as op:
        assert op.app.extensions["idp"].backend.name == "pkcs11"
        with op.app.app_context():
            pki = current_pki()
        assert pki.backend.name == "pkcs11"
        client = op.register(grant_types=["client_credentials"], scope="seal",
                             **{"client_name#en": "Department of Testing"})
        resp = op.token(client, grant_type="client_credentials", scope="seal")
        assert resp.status_code == 200, resp.text
        token = resp.json()["access_token"]
        seal = provision_seal(pki, client["client_id"], ORG_ID, alg=alg)
        assert seal.key.backend == "pkcs11"

        hash_name = ALGORITHMS[alg].hash_name or ""
        documents = [b"invoice %d" % i for i in range(3)]
        digests = [hashlib.new(hash_name, d).digest() for d in documents]
        encoded = [base64.b64encode(d).decode() for d in digests]
        resp = _post(op.base, "credentials/authorize", token, credentialID=seal.id,
                     numSignatures=len(digests), hashes=encoded,
                     hashAlgorithmOID=HASH_OIDS[hash_name])
        assert resp.status_code == 200, resp.text
        resp = _post(op.base, "signatures/signHash", token, credentialID=seal.id,
                     SAD=resp.json()["SAD"], hashes=encoded,
                     hashAlgorithmOID=HASH_OIDS[hash_name], signAlgo=SIGN_ALGO_OIDS[alg])
        assert resp.status_code == 200, resp.text
        signatures = [base64.b64decode(s) for s in resp.json()["signatures"]]
        assert len(signatures) == len(digests)

        public = seal.certificate.public_key()
        assert spki_of(public) == seal.key.public_spki  # the certificate names the token key
        for document, digest, signature in zip(documents, digests, signatures, strict=True):
            verify_prehashed(seal.key, signature, digest)
            verify_signature(public, alg, signature, document)
            with pytest.raises(InvalidSignature):
                verify_signature(public, alg, signature, b"not " + document)
        if ALGORITHMS[alg].kind == "ec":
            assert isinstance(public, ec.EllipticCurvePublicKey)
            public.verify(signatures[0], digests[0], ec.ECDSA(Prehashed(
                hashes.SHA256() if hash_name == "sha256" else hashes.SHA384())))

        # A digest of the wrong size for the credential is refused before the token is asked.
        wrong = base64.b64encode(b"\x00" * 20).decode()
        resp = _post(op.base, "signatures/signHash", token, credentialID=seal.id,
                     SAD="x" * 43, hashes=[wrong], hashAlgorithmOID=HASH_OIDS[hash_name],
                     signAlgo=SIGN_ALGO_OIDS[alg])
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
