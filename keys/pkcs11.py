"""Keys inside a PKCS#11 token: an HSM in production, SoftHSM2 in development and tests.

A key pair is generated inside the token as a persistent object whose private half is sensitive
and not extractable, so it never leaves the token; the `KeyRef` only names it (token label and a
random CKA_ID) and carries the public key. An existing private key, for instance a CA key that
chains to a national root, can be moved in with `import_key`; it becomes just as unexportable.

PKCS#11 keeps one login state per token per process, and python-pkcs11 sessions are not thread
safe. So each process holds one logged-in read/write session per token, shared by every
`Pkcs11Backend` on that token and used under a lock; it is opened again when the token reports
a dead session, and after a fork (a pre-forking server's workers each log in for themselves).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from pkcs11 import MGF, Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11err

from keys.backend import (
    CURVES,
    Algorithm,
    KeyBackendError,
    KeyRef,
    algorithm,
    check_key_matches,
    ecdsa_raw_to_der,
    spki_of,
)

T = TypeVar("T")

# DER of the curve OIDs, as CKA_EC_PARAMS wants them (X9.62 namedCurve / RFC 8410).
EC_PARAMS: dict[str, bytes] = {
    "P-256": bytes.fromhex("06082a8648ce3d030107"),  # 1.2.840.10045.3.1.7
    "P-384": bytes.fromhex("06052b81040022"),  # 1.3.132.0.34
}
ED25519_PARAMS = bytes.fromhex("06032b6570")  # 1.3.101.112
POINT_SIZE = {"P-256": 65, "P-384": 97, "Ed25519": 32}  # raw public point, uncompressed for EC
ID_BYTES = 16


_DIGEST_INFO = {  # DER DigestInfo prefixes (RFC 8017 9.2 note 1)
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
}
_RSA_PKCS = {"sha256": Mechanism.SHA256_RSA_PKCS, "sha384": Mechanism.SHA384_RSA_PKCS}
# (mechanism, (hash, MGF1 hash, salt length)): the salt as long as the hash (RFC 7518 3.5)
_RSA_PSS = {
    "sha256": (Mechanism.SHA256_RSA_PKCS_PSS, (Mechanism.SHA256, MGF.SHA256, 32)),
    "sha384": (Mechanism.SHA384_RSA_PKCS_PSS, (Mechanism.SHA384, MGF.SHA384, 48)),
}
# sign_digest: the mechanisms that sign a digest as given, without hashing it again
_DIGEST_MECHANISM = {"ec": Mechanism.ECDSA, "rsa": Mechanism.RSA_PKCS,
                     "rsa-pss": Mechanism.RSA_PKCS_PSS}
# The session or the login is gone (token removed, module restarted): log in again, retry once.
_SESSION_LOST: tuple[type[Exception], ...] = (
    p11err.SessionHandleInvalid, p11err.SessionClosed, p11err.DeviceRemoved,
    p11err.DeviceError, p11err.TokenNotPresent, p11err.UserNotLoggedIn,
)
# A cached object handle went stale (another process deleted the key): look it up again.
_HANDLE_STALE: tuple[type[Exception], ...] = (p11err.ObjectHandleInvalid, p11err.KeyHandleInvalid)


def _mechanisms_for(a: Algorithm) -> tuple[Mechanism, ...]:
    """What the token must offer to generate keys for `a` and sign with them."""
    if a.kind == "ec":
        return (Mechanism.EC_KEY_PAIR_GEN, Mechanism.ECDSA)
    if a.kind == "rsa":
        return (Mechanism.RSA_PKCS_KEY_PAIR_GEN, _RSA_PKCS[a.hash_name or ""])
    if a.kind == "rsa-pss":
        return (Mechanism.RSA_PKCS_KEY_PAIR_GEN, _RSA_PSS[a.hash_name or ""][0])
    return (Mechanism.EC_EDWARDS_KEY_PAIR_GEN, Mechanism.EDDSA)


# --- DER helpers for CKA_EC_POINT (an OCTET STRING holding the point) ---------------------------

def _der_octet_string(value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return b"\x04" + length + value


def _point_from_attribute(value: bytes, expected: int) -> bytes:
    """CKA_EC_POINT is DER OCTET STRING by the standard; a few tokens give the raw point."""
    if len(value) == expected:
        return value
    if len(value) >= 2 and value[0] == 0x04:
        first = value[1]
        if first < 0x80:
            start, n = 2, first
        else:
            count = first & 0x7F
            start, n = 2 + count, int.from_bytes(value[2:2 + count], "big")
        if start + n == len(value) and n == expected:
            return value[start:]
    raise KeyBackendError("the token returned a public point it cannot parse")


def _unsigned(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


# --- the one session per token per process -------------------------------------------------------

class _TokenSession:
    """The process's logged-in session on one token, shared by every backend instance on it."""

    def __init__(self, module: str, token_label: str) -> None:
        self.module = module
        self.token_label = token_label
        self.lock = threading.RLock()
        self.session: pkcs11.Session | None = None
        self.pin: str | None = None  # in memory only, to log in again after a failure
        self.pid = os.getpid()
        # (id hex, alg, public SPKI) -> private key object, found and checked once per session
        self.objects: dict[tuple[str, str, str], Any] = {}
        self.mechanisms: set[Mechanism] = set()

    def _token(self) -> pkcs11.Token:
        lib = _load_module(self.module)
        try:
            return lib.get_token(token_label=self.token_label)
        except p11err.NoSuchToken:
            raise KeyBackendError(
                f"no PKCS#11 token labelled {self.token_label!r} in {self.module}") from None
        except p11err.MultipleTokensReturned:
            raise KeyBackendError(
                f"more than one PKCS#11 token is labelled {self.token_label!r}") from None
        except p11err.PKCS11Error as e:
            raise KeyBackendError(f"cannot list the tokens of {self.module}: "
                                  f"{type(e).__name__}") from None

    def login(self, pin: str) -> None:
        with self.lock:
            if self.session is not None and self.pid == os.getpid():
                # The token is already logged in for this process; a second C_Login would not
                # check the PIN, so compare with the one that worked.
                if not hmac.compare_digest((self.pin or "").encode(), pin.encode()):
                    raise KeyBackendError(f"the PIN was refused by token {self.token_label!r}")
                return
            self._open(pin)

    def _open(self, pin: str) -> None:
        self._forget()
        token = self._token()
        try:
            session = token.open(rw=True, user_pin=pin)
        except (p11err.PinIncorrect, p11err.PinInvalid, p11err.PinLenRange):
            raise KeyBackendError(f"the PIN was refused by token {self.token_label!r}") from None
        except p11err.PinLocked:
            raise KeyBackendError(f"the PIN of token {self.token_label!r} is locked") from None
        except p11err.UserAlreadyLoggedIn:
            # Other code in this process logged in to the token (login is per process); a
            # session opened now shares that login.
            session = token.open(rw=True)
        except p11err.PKCS11Error as e:
            raise KeyBackendError(f"cannot open a session on token {self.token_label!r}: "
                                  f"{type(e).__name__}") from None
        try:
            mechanisms = set(token.slot.get_mechanisms())
        except p11err.PKCS11Error:
            mechanisms = set()
        self.session, self.pin, self.pid, self.mechanisms = session, pin, os.getpid(), mechanisms

    def _forget(self) -> None:
        self.objects.clear()
        session, self.session = self.session, None
        if session is not None and self.pid == os.getpid():
            with suppress(p11err.PKCS11Error):  # already dead: that is why it is dropped
                session.close()

    def close(self) -> None:
        with self.lock:
            self._forget()

    def current(self) -> pkcs11.Session:
        if self.session is None or self.pid != os.getpid():
            if self.pin is None:
                raise KeyBackendError(f"not logged in to token {self.token_label!r}")
            self._open(self.pin)
        assert self.session is not None
        return self.session

    def run(self, what: str, fn: Callable[[pkcs11.Session], T]) -> T:
        """Run `fn` with the session under the lock; log in again once if the session died."""
        with self.lock:
            for attempt in (1, 2):
                session = self.current()
                try:
                    return fn(session)
                except _SESSION_LOST as e:
                    self._forget()
                    if attempt == 2:
                        raise KeyBackendError(f"{what}: token {self.token_label!r} failed "
                                              f"({type(e).__name__})") from None
                except _HANDLE_STALE:
                    self.objects.clear()
                    if attempt == 2:
                        raise KeyBackendError(f"{what}: the key is gone from the token") from None
                except p11err.PKCS11Error as e:
                    raise KeyBackendError(f"{what}: token {self.token_label!r} refused "
                                          f"({type(e).__name__})") from None
        raise AssertionError("unreachable")


_TOKENS: dict[tuple[str, str], _TokenSession] = {}
_MODULE_PIDS: dict[str, int] = {}
_REGISTRY_LOCK = threading.Lock()


def _load_module(module: str) -> Any:
    """The loaded module, initialised for this process (again after a fork, as PKCS#11 asks)."""
    with _REGISTRY_LOCK:
        try:
            lib = pkcs11.lib(module)
        except Exception as e:  # a missing symbol, a failed C_Initialize (bad configuration)
            raise KeyBackendError(f"cannot load PKCS#11 module {module}: "
                                  f"{type(e).__name__}: {e}") from None
        pid = os.getpid()
        if _MODULE_PIDS.setdefault(module, pid) != pid:
            try:
                lib.reinitialize()
            except Exception as e:
                raise KeyBackendError(f"cannot initialise PKCS#11 module {module} after fork: "
                                      f"{type(e).__name__}") from None
            _MODULE_PIDS[module] = pid
        return lib


def _token_session(module: str, token_label: str) -> _TokenSession:
    with _REGISTRY_LOCK:
        key = (os.path.realpath(module), token_label)
        state = _TOKENS.get(key)
        if state is None:
            state = _TOKENS[key] = _TokenSession(module, token_label)
        return state


# --- the backend -------------------------------------------------------------------------------

class Pkcs11Backend:
    """Keys generated in (or imported into) a PKCS#11 token; the private halves never leave it."""

    name = "pkcs11"

    def __init__(self, module: str, token_label: str, pin: str) -> None:
        if not os.path.isfile(module):
            raise KeyBackendError(f"PKCS#11 module {module} not found")
        self.module = module
        self.token_label = token_label
        self._state = _token_session(module, token_label)
        self._state.login(pin)

    # -- capabilities

    def supports(self, alg: str) -> bool:
        with self._state.lock:
            self._state.current()
            return all(m in self._state.mechanisms for m in _mechanisms_for(algorithm(alg)))

    def _require(self, alg: str) -> Algorithm:
        a = algorithm(alg)
        if not self.supports(alg):
            raise KeyBackendError(f"{alg} is not supported by this token")
        return a

    # -- KeyBackend

    def generate(self, alg: str, label: str) -> KeyRef:
        a = self._require(alg)

        def make(session: pkcs11.Session) -> KeyRef:
            key_id = secrets.token_bytes(ID_BYTES)  # fresh on a retry: no two objects share one
            kwargs: dict[str, Any] = {
                "id": key_id, "label": label, "store": True,
                "capabilities": MechanismFlag.SIGN | MechanismFlag.VERIFY,
                "private_template": {Attribute.TOKEN: True, Attribute.PRIVATE: True,
                                     Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
            }
            if a.kind == "ec":
                pub, _ = session.generate_keypair(
                    KeyType.EC, mechanism=Mechanism.EC_KEY_PAIR_GEN,
                    public_template={Attribute.EC_PARAMS: EC_PARAMS[a.curve or ""]}, **kwargs)
            elif a.kind in ("rsa", "rsa-pss"):
                pub, _ = session.generate_keypair(KeyType.RSA, max(a.rsa_bits, 2048), **kwargs)
            else:
                pub, _ = session.generate_keypair(
                    KeyType.EC_EDWARDS, mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                    public_template={Attribute.EC_PARAMS: ED25519_PARAMS}, **kwargs)
            return self._key_ref(alg, label, key_id, _public_key_of(a, pub))

        return self._state.run("generating a key", make)

    def import_key(self, private_key: PrivateKeyTypes, alg: str, label: str) -> KeyRef:
        a = self._require(alg)
        public_key = private_key.public_key()
        check_key_matches(alg, public_key)
        private_part = _private_attributes(a, private_key)
        public_part = _public_attributes(a, public_key)

        def put(session: pkcs11.Session) -> KeyRef:
            key_id = secrets.token_bytes(ID_BYTES)  # fresh on a retry: no two objects share one
            common = {Attribute.ID: key_id, Attribute.LABEL: label, Attribute.TOKEN: True}
            private = session.create_object({
                **common, Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True,
                Attribute.DECRYPT: False, Attribute.UNWRAP: False, Attribute.DERIVE: False,
                **private_part,
            })
            public_attrs: dict[Attribute, Any] = {
                **common, Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.PRIVATE: False,
                Attribute.VERIFY: True, Attribute.ENCRYPT: False, Attribute.WRAP: False,
                **public_part,
            }
            try:
                session.create_object(public_attrs)
            except BaseException:
                private.destroy()
                raise
            return self._key_ref(alg, label, key_id, public_key)

        return self._state.run("importing a key", put)

    def sign(self, key: KeyRef, data: bytes) -> bytes:
        a = algorithm(key.alg)
        self.check(key)

        def sign(session: pkcs11.Session) -> bytes:
            private = self._private(session, key)
            if a.kind == "ec":
                digest = hashlib.new(a.hash_name or "", data).digest()
                return ecdsa_raw_to_der(private.sign(digest, mechanism=Mechanism.ECDSA))
            if a.kind == "rsa":
                return bytes(private.sign(data, mechanism=_RSA_PKCS[a.hash_name or ""]))
            if a.kind == "rsa-pss":
                mechanism, params = _RSA_PSS[a.hash_name or ""]
                return bytes(private.sign(data, mechanism=mechanism, mechanism_param=params))
            return bytes(private.sign(data, mechanism=Mechanism.EDDSA))

        return self._state.run("signing", sign)

    def sign_digest(self, key: KeyRef, digest: bytes) -> bytes:
        """Sign a digest already made with the key's hash (CSC signHash): raw ECDSA, RSA
        PKCS#1 v1.5 over the DigestInfo, or raw RSA-PSS with the key's hash parameters; the
        same output as `sign` over the data, and as `SoftwareBackend.sign_digest`.

        Ed25519 has no prehashed form and is refused with KeyBackendError before its (absent)
        hash is looked up, which used to raise a bare KeyError. RSA-PSS was refused here while
        the software backend signed it; it now signs alike, so the backends agree."""
        a = algorithm(key.alg)
        self.check(key)
        if a.hash_name is None:
            raise KeyBackendError(f"{key.alg} keys cannot sign a digest "
                                  "(the algorithm has no prehashed form)")
        if len(digest) != a.hash().digest_size:
            raise KeyBackendError(f"a {a.hash_name} digest is {a.hash().digest_size} bytes, "
                                  f"not {len(digest)}")
        mechanism = _DIGEST_MECHANISM[a.kind]
        with self._state.lock:
            self._state.current()
            if mechanism not in self._state.mechanisms:
                raise KeyBackendError(f"this token cannot sign a precomputed digest with "
                                      f"{key.alg} (no {mechanism.name})")

        def sign(session: pkcs11.Session) -> bytes:
            private = self._private(session, key)
            if a.kind == "ec":
                return ecdsa_raw_to_der(private.sign(digest, mechanism=mechanism))
            if a.kind == "rsa":
                info = _DIGEST_INFO[a.hash_name or ""] + digest
                return bytes(private.sign(info, mechanism=mechanism))
            _, params = _RSA_PSS[a.hash_name or ""]
            return bytes(private.sign(digest, mechanism=mechanism, mechanism_param=params))

        return self._state.run("signing", sign)

    def destroy(self, key: KeyRef) -> None:
        """Delete the private and the public object; a key already gone is not an error."""
        self.check(key)
        a = algorithm(key.alg)
        key_id = bytes.fromhex(key.ref["id"])

        def delete(session: pkcs11.Session) -> None:
            for cached in [c for c in self._state.objects if c[0] == key.ref["id"]]:
                del self._state.objects[cached]
            found = [obj for obj in session.get_objects({Attribute.ID: key_id})
                     if obj[Attribute.CLASS] in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY)]
            for obj in found:  # an altered KeyRef must not delete another key
                if obj[Attribute.CLASS] == ObjectClass.PUBLIC_KEY and \
                        not _matches(a, obj, key.public_spki):
                    raise KeyBackendError("the key on the token does not match its reference")
            for obj in found:
                obj.destroy()

        self._state.run("destroying a key", delete)

    # -- inspection, for operators and tests

    @contextmanager
    def session(self) -> Iterator[pkcs11.Session]:
        """The logged-in session, held under the lock (no other thread uses it meanwhile)."""
        with self._state.lock:
            yield self._state.current()

    def private_object(self, session: pkcs11.Session, key: KeyRef) -> Any:
        self.check(key)
        return self._private(session, key)

    def close(self) -> None:
        """Log out and close this process's session on the token; the next use logs in again."""
        self._state.close()

    # -- internals

    def _key_ref(self, alg: str, label: str, key_id: bytes, public_key: PublicKeyTypes) -> KeyRef:
        return KeyRef(backend=self.name, alg=alg, public_spki=spki_of(public_key),
                      ref={"token": self.token_label, "id": key_id.hex(), "label": label})

    def check(self, key: KeyRef) -> None:
        if key.backend != self.name:
            raise KeyBackendError(f"key held by {key.backend}, not {self.name}")
        if key.ref.get("token") != self.token_label:
            raise KeyBackendError(f"key held by token {key.ref.get('token')!r}, "
                                  f"not {self.token_label!r}")
        try:
            valid = bool(bytes.fromhex(str(key.ref.get("id", ""))))
        except ValueError:
            valid = False
        if not valid:
            raise KeyBackendError("the key reference has no valid token object id")

    def _private(self, session: pkcs11.Session, key: KeyRef) -> Any:
        """The private key object, looked up once per session and checked against the KeyRef
        (its type and public key), so an altered KeyRef cannot borrow another key."""
        cache_key = (str(key.ref["id"]), key.alg, key.public_spki)
        private = self._state.objects.get(cache_key)
        if private is not None:
            return private
        key_id = bytes.fromhex(key.ref["id"])
        try:
            private = session.get_key(ObjectClass.PRIVATE_KEY, id=key_id)
            public = session.get_key(ObjectClass.PUBLIC_KEY, id=key_id)
        except p11err.NoSuchKey:
            raise KeyBackendError(f"key {key.ref.get('label')!r} is not on token "
                                  f"{self.token_label!r}") from None
        except p11err.MultipleObjectsReturned:
            raise KeyBackendError(f"key id {key.ref['id']} is not unique on token "
                                  f"{self.token_label!r}") from None
        a = algorithm(key.alg)
        if private.key_type != _key_type(a) or not _matches(a, public, key.public_spki):
            raise KeyBackendError("the key on the token does not match its reference")
        self._state.objects[cache_key] = private
        return private


def _key_type(a: Algorithm) -> KeyType:
    return {"ec": KeyType.EC, "rsa": KeyType.RSA, "rsa-pss": KeyType.RSA,
            "ed25519": KeyType.EC_EDWARDS}[a.kind]


def _matches(a: Algorithm, public: Any, public_spki: str) -> bool:
    """Whether a public key object on the token is the one a KeyRef names."""
    try:
        return spki_of(_public_key_of(a, public)) == public_spki
    except (KeyBackendError, ValueError, p11err.PKCS11Error):
        return False


def _public_key_of(a: Algorithm, public: Any) -> PublicKeyTypes:
    """The public key of a token object, read from its attributes."""
    if a.kind == "ec":
        curve = a.curve or ""
        point = _point_from_attribute(bytes(public[Attribute.EC_POINT]), POINT_SIZE[curve])
        return ec.EllipticCurvePublicKey.from_encoded_point(CURVES[curve], point)
    if a.kind in ("rsa", "rsa-pss"):
        n = int.from_bytes(bytes(public[Attribute.MODULUS]), "big")
        e = int.from_bytes(bytes(public[Attribute.PUBLIC_EXPONENT]), "big")
        return rsa.RSAPublicNumbers(e, n).public_key()
    point = _point_from_attribute(bytes(public[Attribute.EC_POINT]), POINT_SIZE["Ed25519"])
    return ed25519.Ed25519PublicKey.from_public_bytes(point)


def _private_attributes(a: Algorithm, key: PrivateKeyTypes) -> dict[Attribute, Any]:
    if a.kind == "ec" and isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        return {Attribute.KEY_TYPE: KeyType.EC, Attribute.EC_PARAMS: EC_PARAMS[a.curve or ""],
                Attribute.VALUE: key.private_numbers().private_value.to_bytes(size, "big")}
    if a.kind in ("rsa", "rsa-pss") and isinstance(key, rsa.RSAPrivateKey):
        p = key.private_numbers()
        return {Attribute.KEY_TYPE: KeyType.RSA,
                Attribute.MODULUS: _unsigned(p.public_numbers.n),
                Attribute.PUBLIC_EXPONENT: _unsigned(p.public_numbers.e),
                Attribute.PRIVATE_EXPONENT: _unsigned(p.d),
                Attribute.PRIME_1: _unsigned(p.p), Attribute.PRIME_2: _unsigned(p.q),
                Attribute.EXPONENT_1: _unsigned(p.dmp1), Attribute.EXPONENT_2: _unsigned(p.dmq1),
                Attribute.COEFFICIENT: _unsigned(p.iqmp)}
    if a.kind == "ed25519" and isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
        return {Attribute.KEY_TYPE: KeyType.EC_EDWARDS, Attribute.EC_PARAMS: ED25519_PARAMS,
                Attribute.VALUE: raw}
    raise KeyBackendError(f"the key does not fit {a.name}")


def _public_attributes(a: Algorithm, key: PublicKeyTypes) -> dict[Attribute, Any]:
    if isinstance(key, ec.EllipticCurvePublicKey):
        point = key.public_bytes(serialization.Encoding.X962,
                                 serialization.PublicFormat.UncompressedPoint)
        return {Attribute.KEY_TYPE: KeyType.EC, Attribute.EC_PARAMS: EC_PARAMS[a.curve or ""],
                Attribute.EC_POINT: _der_octet_string(point)}
    if isinstance(key, rsa.RSAPublicKey):
        n = key.public_numbers()
        return {Attribute.KEY_TYPE: KeyType.RSA, Attribute.MODULUS: _unsigned(n.n),
                Attribute.PUBLIC_EXPONENT: _unsigned(n.e)}
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {Attribute.KEY_TYPE: KeyType.EC_EDWARDS, Attribute.EC_PARAMS: ED25519_PARAMS,
                Attribute.EC_POINT: _der_octet_string(raw)}
    raise KeyBackendError(f"the key does not fit {a.name}")


# --- SoftHSM2, for development, tests and benchmarks ---------------------------------------------

SOFTHSM_MODULE_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)


def find_softhsm_module() -> str | None:
    """Where SoftHSM2's PKCS#11 module is installed (`SOFTHSM2_MODULE` overrides), or None."""
    override = os.environ.get("SOFTHSM2_MODULE")
    if override:
        return override if os.path.isfile(override) else None
    for path in SOFTHSM_MODULE_PATHS:
        if os.path.isfile(path):
            return path
    dpkg = shutil.which("dpkg")
    if dpkg:
        listing = subprocess.run([dpkg, "-L", "softhsm2", "libsofthsm2"],  # noqa: S603
                                 capture_output=True, text=True, check=False).stdout
        for line in listing.splitlines():
            if line.endswith("/libsofthsm2.so") and os.path.isfile(line):
                return line
    return None


def init_softhsm_token(directory: Path, label: str, pin: str, so_pin: str) -> Path:
    """A fresh SoftHSM2 token store in `directory` with one token; returns its softhsm2.conf.

    Set `SOFTHSM2_CONF` to the returned path before the module is first loaded in the process.
    Development only: the PINs pass on a command line.
    """
    util = shutil.which("softhsm2-util")
    if util is None:
        raise KeyBackendError("softhsm2-util is not installed (Debian package softhsm2)")
    tokens = directory / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n")
    result = subprocess.run(  # noqa: S603
        [util, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", so_pin],
        env={**os.environ, "SOFTHSM2_CONF": str(conf)}, capture_output=True, text=True,
        check=False)
    if result.returncode != 0:
        raise KeyBackendError(f"softhsm2-util could not create token {label!r}: "
                              f"{result.stderr.strip()}")
    return conf


__all__ = ["Pkcs11Backend", "find_softhsm_module", "init_softhsm_token"]
