"""The key backends behave the same: software keys sealed under a KEK, and keys inside a PKCS#11
token (SoftHSM2). Signatures are checked by `cryptography` and, as JWS, by joserfc; neither
uses the backend under test."""

from __future__ import annotations

import base64
import contextlib
import json
import multiprocessing
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from joserfc import jws
from joserfc.jwk import JWKRegistry

from keys.backend import (
    ALGORITHMS,
    KeyBackend,
    KeyBackendError,
    KeyRef,
    jws_signature,
)
from keys.jws import b64url
from keys.software import SoftwareBackend, generate_private_key

if TYPE_CHECKING:
    from tests.keys.conftest import SoftHsm

DATA = "ลงนามเอกสาร / sign this document".encode()
REPO = Path(__file__).resolve().parents[2]


def verify(key: KeyRef, signature: bytes, data: bytes) -> None:
    """Check an X.509/CMS-form signature with `cryptography` and the KeyRef's public key only."""
    a = ALGORITHMS[key.alg]
    public = key.public_key()
    if a.kind == "ec":
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(signature, data, ec.ECDSA(a.hash()))
    elif a.kind == "rsa":
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, data, padding.PKCS1v15(), a.hash())
    elif a.kind == "rsa-pss":
        assert isinstance(public, rsa.RSAPublicKey)
        pss = padding.PSS(mgf=padding.MGF1(a.hash()), salt_length=a.hash().digest_size)
        public.verify(signature, data, pss, a.hash())
    else:
        assert isinstance(public, ed25519.Ed25519PublicKey)
        public.verify(signature, data)


# --- both backends, every algorithm ------------------------------------------------------------

def test_generate_and_sign(key_backend: KeyBackend, alg: str) -> None:
    key = key_backend.generate(alg, f"test-{alg}")
    assert key.backend == key_backend.name and key.alg == alg
    verify(key, key_backend.sign(key, DATA), DATA)
    # A KeyRef is plain data: stored and read back, it still names the same key.
    again = KeyRef.from_dict(json.loads(json.dumps(key.to_dict())))
    verify(again, key_backend.sign(again, b"second message"), b"second message")
    key_backend.destroy(key)


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")  # joserfc prefers RFC 9864 "Ed25519"
def test_jws_signature_verifies_as_jws(key_backend: KeyBackend, alg: str) -> None:
    key = key_backend.generate(alg, f"jws-{alg}")
    header = b64url(json.dumps({"alg": alg, "typ": "JWT", "kid": "k1"}).encode())
    payload = b64url(json.dumps({"iss": "https://idp.example.go.th", "sub": "x"}).encode())
    signing_input = f"{header}.{payload}"
    signature = jws_signature(alg, key_backend.sign(key, signing_input.encode()))
    compact = f"{signing_input}.{b64url(signature)}"
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    kty = {"ec": "EC", "rsa": "RSA", "rsa-pss": "RSA", "ed25519": "OKP"}[ALGORITHMS[alg].kind]
    public_jwk = JWKRegistry.import_key(pem, kty)
    result = jws.deserialize_compact(compact, public_jwk, algorithms=[alg])  # type: ignore[arg-type]
    assert json.loads(result.payload)["iss"] == "https://idp.example.go.th"
    key_backend.destroy(key)


def test_import_then_sign(key_backend: KeyBackend, alg: str) -> None:
    private = generate_private_key(alg)
    key = key_backend.import_key(private, alg, f"imported-{alg}")
    expected = private.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    assert base64.b64decode(key.public_spki) == expected
    verify(key, key_backend.sign(key, DATA), DATA)
    key_backend.destroy(key)


def test_import_refuses_a_key_of_the_wrong_kind(key_backend: KeyBackend) -> None:
    with pytest.raises((ValueError, KeyBackendError)):
        key_backend.import_key(generate_private_key("ES384"), "ES256", "wrong-curve")


def test_destroyed_key_no_longer_signs(key_backend: KeyBackend, alg: str) -> None:
    key = key_backend.generate(alg, f"doomed-{alg}")
    key_backend.sign(key, DATA)
    key_backend.destroy(key)
    with pytest.raises(KeyBackendError):
        key_backend.sign(key, DATA)


def test_key_of_another_backend_is_refused(
        key_backend: KeyBackend, alg: str, request: pytest.FixtureRequest) -> None:
    other_name = "pkcs11" if key_backend.name == "software" else "software"
    other: KeyBackend = request.getfixturevalue(f"{other_name}_backend")
    supports = getattr(other, "supports", None)
    if supports is not None and not supports(alg):
        pytest.skip(f"{alg} is not supported by this token")
    foreign = other.generate(alg, f"foreign-{alg}")
    with pytest.raises(KeyBackendError, match=f"held by {other_name}"):
        key_backend.sign(foreign, DATA)
    other.destroy(foreign)


def test_concurrent_signing_from_8_threads(key_backend: KeyBackend) -> None:
    keys = {alg: key_backend.generate(alg, f"threads-{alg}") for alg in ("ES256", "RS256")}
    errors: list[BaseException] = []
    results: list[tuple[KeyRef, bytes, bytes]] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        try:
            for i in range(10):
                key = keys["ES256" if (n + i) % 2 else "RS256"]
                data = f"thread {n} message {i}".encode()
                signature = key_backend.sign(key, data)
                with lock:
                    results.append((key, signature, data))
        except BaseException as e:  # reported below, in the test's own thread
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(results) == 80
    for key, signature, data in results:
        verify(key, signature, data)
    for key in keys.values():
        key_backend.destroy(key)


# --- software keys: sealed at rest -------------------------------------------------------------

def test_software_wrong_kek_is_refused(software_backend: SoftwareBackend, alg: str) -> None:
    key = software_backend.generate(alg, "sealed")
    with pytest.raises(KeyBackendError):
        SoftwareBackend(os.urandom(32)).sign(key, DATA)
    # Even with the KEK id copied over, the seal does not open under another KEK.
    other = SoftwareBackend(os.urandom(32))
    with pytest.raises(KeyBackendError):
        other.sign(KeyRef.from_dict({**key.to_dict(),
                                     "ref": {**key.ref, "kek_id": other.kek_id}}), DATA)


def test_software_tampered_blob_is_refused(software_backend: SoftwareBackend, alg: str) -> None:
    key = software_backend.generate(alg, "sealed")
    blob = bytearray(base64.b64decode(key.ref["sealed"]))
    blob[len(blob) // 2] ^= 0x01
    tampered = KeyRef.from_dict({**key.to_dict(),
                                 "ref": {**key.ref, "sealed": base64.b64encode(blob).decode()}})
    with pytest.raises(KeyBackendError):
        software_backend.sign(tampered, DATA)


def test_software_blob_moved_to_another_label_is_refused(
        software_backend: SoftwareBackend, alg: str) -> None:
    key = software_backend.generate(alg, "record-a")
    moved = KeyRef.from_dict({**key.to_dict(), "ref": {**key.ref, "label": "record-b"}})
    with pytest.raises(KeyBackendError):
        software_backend.sign(moved, DATA)


@pytest.mark.parametrize("change", ["label", "backend"])
def test_software_blob_moved_after_use_is_refused(
        software_backend: SoftwareBackend, change: str) -> None:
    key = software_backend.generate("ES256", "record-a")
    software_backend.sign(key, DATA)  # now unsealed and cached
    moved = (replace(key, ref={**key.ref, "label": "record-b"}) if change == "label"
             else replace(key, backend="pkcs11"))
    with pytest.raises(KeyBackendError):
        software_backend.sign(moved, DATA)


def _secret_forms(private: PrivateKeyTypes) -> list[bytes]:
    """The private key as bytes in every form it could leak in."""
    secrets_ = [private.private_bytes(serialization.Encoding.DER,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())]
    if isinstance(private, ec.EllipticCurvePrivateKey):
        size = (private.curve.key_size + 7) // 8
        secrets_.append(private.private_numbers().private_value.to_bytes(size, "big"))
    elif isinstance(private, rsa.RSAPrivateKey):
        n = private.private_numbers()
        secrets_ += [v.to_bytes((v.bit_length() + 7) // 8, "big") for v in (n.d, n.p, n.q)]
    elif isinstance(private, ed25519.Ed25519PrivateKey):
        secrets_.append(private.private_bytes(serialization.Encoding.Raw,
                                              serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption()))
    return secrets_


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def test_software_private_key_never_in_key_ref(software_backend: SoftwareBackend, alg: str) -> None:
    private = generate_private_key(alg)
    key = software_backend.import_key(private, alg, "no-leak")
    text = json.dumps(key.to_dict())
    blobs = [text.encode()]
    for s in _strings(key.to_dict()):
        for decode in (base64.b64decode, base64.urlsafe_b64decode, bytes.fromhex):
            with contextlib.suppress(ValueError):
                blobs.append(decode(s))
    for secret in _secret_forms(private):
        for form in (secret, secret.hex().encode(), base64.b64encode(secret),
                     base64.urlsafe_b64encode(secret).rstrip(b"=")):
            assert not any(form in blob for blob in blobs)


# --- PKCS#11: the private half stays in the token ----------------------------------------------

def _secret_attributes(alg: str) -> list[Any]:
    from pkcs11 import Attribute

    if ALGORITHMS[alg].kind in ("rsa", "rsa-pss"):
        return [Attribute.PRIVATE_EXPONENT, Attribute.PRIME_1, Attribute.PRIME_2]
    return [Attribute.VALUE]


def _assert_unexportable(backend: Any, key: KeyRef, *, made_inside: bool) -> None:
    from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag
    from pkcs11.exceptions import AttributeSensitive, PKCS11Error

    with backend.session() as session:
        private = backend.private_object(session, key)
        assert private[Attribute.TOKEN] is True  # persistent
        assert private[Attribute.PRIVATE] is True
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.ALWAYS_SENSITIVE] is made_inside
        assert private[Attribute.NEVER_EXTRACTABLE] is made_inside
        assert private[Attribute.LOCAL] is made_inside  # generated by the token itself
        for attribute in _secret_attributes(key.alg):
            with pytest.raises(AttributeSensitive):
                private[attribute]
        # Export by wrapping it under a key we hold is refused too.
        wrapping = session.generate_key(KeyType.AES, 256, store=False,
                                        capabilities=MechanismFlag.WRAP | MechanismFlag.UNWRAP)
        try:
            with pytest.raises(PKCS11Error):
                wrapping.wrap_key(private, mechanism=Mechanism.AES_KEY_WRAP_PAD)
        finally:
            wrapping.destroy()


def test_pkcs11_generated_key_signs_and_cannot_be_exported(
        pkcs11_backend: Any, alg: str) -> None:
    key = pkcs11_backend.generate(alg, f"hsm-{alg}")
    verify(key, pkcs11_backend.sign(key, DATA), DATA)
    _assert_unexportable(pkcs11_backend, key, made_inside=True)
    pkcs11_backend.destroy(key)


def test_pkcs11_imported_key_cannot_be_exported(pkcs11_backend: Any, alg: str) -> None:
    key = pkcs11_backend.import_key(generate_private_key(alg), alg, f"ca-{alg}")
    _assert_unexportable(pkcs11_backend, key, made_inside=False)
    pkcs11_backend.destroy(key)


def test_pkcs11_destroy_deletes_both_objects(pkcs11_backend: Any) -> None:
    from pkcs11 import Attribute

    key = pkcs11_backend.generate("ES256", "both")
    key_id = bytes.fromhex(key.ref["id"])
    with pkcs11_backend.session() as session:
        assert len(list(session.get_objects({Attribute.ID: key_id}))) == 2
    pkcs11_backend.destroy(key)
    with pkcs11_backend.session() as session:
        assert list(session.get_objects({Attribute.ID: key_id})) == []
    pkcs11_backend.destroy(key)  # already gone: not an error


def test_pkcs11_keys_persist_across_sessions_and_processes(
        pkcs11_backend: Any, softhsm: SoftHsm, alg: str) -> None:
    from keys.pkcs11 import Pkcs11Backend

    key = pkcs11_backend.generate(alg, f"persist-{alg}")
    stored = json.dumps(key.to_dict())
    pkcs11_backend.close()  # logs out: the next backend logs in from scratch
    reopened = Pkcs11Backend(softhsm.module, softhsm.token_label, softhsm.pin)
    verify(key, reopened.sign(KeyRef.from_dict(json.loads(stored)), DATA), DATA)

    # A new process reads the token store from disk.
    script = (
        "import json, sys\n"
        "from keys.backend import KeyRef\n"
        "from keys.pkcs11 import Pkcs11Backend\n"
        "job = json.load(sys.stdin)\n"
        "backend = Pkcs11Backend(job['module'], job['token'], job['pin'])\n"
        "print(backend.sign(KeyRef.from_dict(job['key']), bytes.fromhex(job['data'])).hex())\n"
    )
    job = {"module": softhsm.module, "token": softhsm.token_label, "pin": softhsm.pin,
           "key": json.loads(stored), "data": DATA.hex()}
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(job), cwd=REPO,
                          env={**os.environ, "SOFTHSM2_CONF": str(softhsm.conf)},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    verify(key, bytes.fromhex(done.stdout.strip()), DATA)
    reopened.destroy(key)


def test_pkcs11_signs_after_the_session_died(pkcs11_backend: Any) -> None:
    key = pkcs11_backend.generate("ES256", "revive")
    pkcs11_backend.sign(key, DATA)  # its object handle is now cached for the session
    with pkcs11_backend.session() as session:
        session.close()  # behind the backend's back, as a restarted HSM would
    verify(key, pkcs11_backend.sign(key, DATA), DATA)
    pkcs11_backend.destroy(key)


def _sign_in_child(backend: Any, key: KeyRef, queue: Any) -> None:
    try:
        queue.put(backend.sign(key, DATA))
    except BaseException as e:
        queue.put(repr(e))


def test_pkcs11_signs_in_a_forked_worker(pkcs11_backend: Any) -> None:
    """A pre-forking server creates the backend before forking; each worker logs in anew."""
    key = pkcs11_backend.generate("ES256", "fork")
    pkcs11_backend.sign(key, DATA)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_sign_in_child, args=(pkcs11_backend, key, queue))
    child.start()
    child.join(60)
    result = queue.get(timeout=5)
    assert child.exitcode == 0
    assert isinstance(result, bytes), result
    verify(key, result, DATA)
    verify(key, pkcs11_backend.sign(key, DATA), DATA)  # the parent's session is untouched
    pkcs11_backend.destroy(key)


def test_pkcs11_altered_key_ref_is_refused(pkcs11_backend: Any) -> None:
    key = pkcs11_backend.generate("ES256", "real")
    other = pkcs11_backend.generate("ES256", "other")
    pkcs11_backend.sign(key, DATA)  # found and cached under its own KeyRef
    with pytest.raises(KeyBackendError, match="does not match"):
        pkcs11_backend.sign(replace(key, public_spki=other.public_spki), DATA)
    with pytest.raises(KeyBackendError):
        pkcs11_backend.sign(replace(key, ref={**key.ref, "token": "another-token"}), DATA)
    with pytest.raises(KeyBackendError):
        pkcs11_backend.sign(replace(key, ref={**key.ref, "id": "00" * 16}), DATA)
    with pytest.raises(KeyBackendError):
        pkcs11_backend.sign(replace(key, ref={**key.ref, "id": ""}), DATA)
    # Nor does an altered KeyRef delete the key it points at.
    with pytest.raises(KeyBackendError, match="does not match"):
        pkcs11_backend.destroy(replace(key, public_spki=other.public_spki))
    verify(key, pkcs11_backend.sign(key, DATA), DATA)
    pkcs11_backend.destroy(key)
    pkcs11_backend.destroy(other)


def test_pkcs11_setup_errors_are_clear(softhsm: SoftHsm, tmp_path: Path) -> None:
    from keys.pkcs11 import Pkcs11Backend

    with pytest.raises(KeyBackendError, match="not found"):
        Pkcs11Backend(str(tmp_path / "no-such-module.so"), softhsm.token_label, softhsm.pin)
    with pytest.raises(KeyBackendError, match="no PKCS#11 token labelled 'absent'"):
        Pkcs11Backend(softhsm.module, "absent", softhsm.pin)
    wrong_pin = "97531086420"
    with pytest.raises(KeyBackendError, match="PIN was refused") as refused:
        Pkcs11Backend(softhsm.module, softhsm.token_label, wrong_pin)
    assert wrong_pin not in str(refused.value)
    assert softhsm.pin not in str(refused.value)


def test_pkcs11_wrong_pin_refused_when_not_yet_logged_in(softhsm: SoftHsm) -> None:
    from keys.pkcs11 import Pkcs11Backend

    Pkcs11Backend(softhsm.module, softhsm.token_label, softhsm.pin).close()
    with pytest.raises(KeyBackendError, match="PIN was refused") as refused:
        Pkcs11Backend(softhsm.module, softhsm.token_label, "86420")
    assert "86420" not in str(refused.value)


def test_pkcs11_token_without_eddsa(pkcs11_backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token without Edwards curves says so plainly (SoftHSM2 built without them, many HSMs)."""
    from pkcs11 import Mechanism

    state = pkcs11_backend._state
    monkeypatch.setattr(state, "mechanisms", state.mechanisms - {Mechanism.EDDSA})
    assert not pkcs11_backend.supports("EdDSA")
    with pytest.raises(KeyBackendError, match=r"^EdDSA is not supported by this token$"):
        pkcs11_backend.generate("EdDSA", "no-ed")
