"""Passkey (WebAuthn) ceremonies on top of py_webauthn: options, verification, and what each
authenticator is worth (its method and AAL, `kyc.assurance.METHODS`).

Kept apart from the pages (`idp.authn.passkey_views`) so every rule is a small function over
plain data that can be tested without a browser:

- the relying party is the issuer: rp id = its host, origin = its scheme, host and port;
- user verification and discoverable (resident) credentials are required, so a passkey alone
  is two factors (the device, and the face, finger or PIN that unlocks it) and login needs no
  typed name;
- the user handle is a keyed hash of the person id: stable, random-looking, and no extra
  column; a discoverable login's handle must match the credential's person;
- a challenge is 256 random bits held in the ephemeral store for five minutes, bound to what
  asked for it (the login interaction, or the session registering), and taken (read and
  deleted at once) when used, so it works once;
- a security key reaches AAL 3 only when its attestation chains to a root the operator put on
  the allow list for its AAGUID and it cannot be backed up; any other passkey gives AAL 2.2;
- the sign count must grow whenever either side is non-zero, and a key registered as not
  backup-eligible must never claim it became so: either is refused as a possible clone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import webauthn
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from webauthn.helpers import parse_attestation_object
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import InvalidCertificateChain, WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AttestationFormat,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.helpers.validate_certificate_chain import validate_certificate_chain

from idp import persons
from idp.db import Authenticator, ProofingRecord, as_utc, utcnow
from idp.oidc.tokens import digest
from idp.provider import Provider
from idp.settings import SettingsError
from kyc.assurance import aal_for

CHALLENGE_TTL = 300
"""Seconds a challenge lives: long enough to find a phone, short enough to be useless later."""

PROOFED_IAL = Decimal("2.1")
"""The least IAL that may register a passkey: a passkey must stand for a proven person."""

OFFER_STEP = "passkey_offer"
"""The interaction step after a proofing login, while the passkey offer is shown."""

PROOFING_METHODS = ("ndid",)
PROOFING_PREFIXES = ("oidc:",)

# Algorithms we accept, in order of preference: ES256 (almost every authenticator), EdDSA,
# RS256 (Windows Hello).
ALGORITHMS = [COSEAlgorithmIdentifier.ECDSA_SHA_256, COSEAlgorithmIdentifier.EDDSA,
              COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256]

MAX_CREDENTIAL_ID_CHARS = 1400  # base64url of the 1023 bytes WebAuthn allows, and the column
MAX_NAME_CHARS = 100
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_KNOWN_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)
# Attestation formats whose certificate chain can vouch for a device-bound key model.
_CHAIN_FORMATS = (AttestationFormat.PACKED, AttestationFormat.TPM, AttestationFormat.ANDROID_KEY)
# id-fido-gen-ce-aaguid: the AAGUID a FIDO attestation certificate is issued for.
_AAGUID_EXTENSION = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")


class PasskeyError(Exception):
    """A ceremony step refused. `code` is the message key people see; `audit` names the audit
    event to record (None when the refusal is not worth one); `reason` is a short, secret-free
    word for that record."""

    def __init__(self, code: str, *, audit: str | None = None, reason: str = "",
                 status: int = 400, **fmt: Any) -> None:
        super().__init__(code)
        self.code = code
        self.audit = audit
        self.reason = reason or code
        self.status = status
        self.fmt = fmt


# --- the relying party -----------------------------------------------------------------------


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str
    name: str


def relying_party(issuer: str, name: str) -> RelyingParty:
    """The issuer as a WebAuthn relying party. Default ports are left out of the origin, as
    browsers write it in clientDataJSON."""
    parts = urlsplit(issuer)
    host = parts.hostname or ""
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    shown_host = f"[{host}]" if ":" in host else host
    return RelyingParty(id=host, origin=f"{parts.scheme}://{shown_host}{port}", name=name)


def handle_key(secret: str) -> bytes:
    """The key for user handles, derived from the subject secret under its own label."""
    return hmac.new(secret.encode(), b"idp/webauthn-user-handle/v1", hashlib.sha256).digest()


def user_handle(key: bytes, person_id: str) -> bytes:
    """The person's WebAuthn user handle: the same for every passkey of theirs, and telling
    nothing about them (no id, no name) to whoever reads the authenticator."""
    return hmac.new(key, person_id.encode(), hashlib.sha256).digest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str) or not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


# --- the allow list of security keys ----------------------------------------------------------


class AllowListError(SettingsError):
    """The security key allow list cannot be read; the message says where and why."""


@dataclass(frozen=True)
class AllowedModel:
    """One security key model whose verified attestation gives AAL 3."""

    aaguid: str
    name: str
    roots: tuple[bytes, ...]  # PEM certificates its attestation must chain to


@dataclass(frozen=True)
class AllowList:
    models: Mapping[str, AllowedModel] = field(default_factory=dict)

    def get(self, aaguid: str) -> AllowedModel | None:
        return self.models.get(aaguid.lower())


def _root_pems(entry_roots: Any, base: Path, where: str) -> tuple[bytes, ...]:
    if not isinstance(entry_roots, list) or not entry_roots:
        raise AllowListError(f"{where}: 'roots' must be a non-empty list of PEM certificates "
                             "or of file names")
    pems: list[bytes] = []
    for i, item in enumerate(entry_roots):
        if not isinstance(item, str) or not item.strip():
            raise AllowListError(f"{where}: roots[{i}] must be a string")
        if "-----BEGIN" in item:
            data = item.encode()
        else:
            path = base / item
            try:
                data = path.read_bytes()
            except OSError:
                raise AllowListError(f"{where}: roots[{i}]: cannot read {path}") from None
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise AllowListError(f"{where}: roots[{i}] holds no PEM certificate") from None
        pems.extend(c.public_bytes(Encoding.PEM) for c in certs)
    return tuple(pems)


def parse_allow_list(data: Any, base: Path, source: str = "allow list") -> AllowList:
    """The allow list from its JSON form: {"security_keys": [{"aaguid", "name", "roots"}]}.
    Roots are PEM text or file names relative to `base`. Every entry needs roots: without
    them py_webauthn would accept any chain."""
    if not isinstance(data, dict) or not isinstance(data.get("security_keys"), list):
        raise AllowListError(f"{source}: expected an object with a 'security_keys' list")
    models: dict[str, AllowedModel] = {}
    for i, entry in enumerate(data["security_keys"]):
        where = f"{source}: security_keys[{i}]"
        if not isinstance(entry, dict):
            raise AllowListError(f"{where} must be an object")
        try:
            aaguid = str(uuid.UUID(str(entry.get("aaguid", ""))))
        except ValueError:
            raise AllowListError(f"{where}: 'aaguid' must be a UUID") from None
        if aaguid == str(uuid.UUID(int=0)):
            raise AllowListError(f"{where}: the all-zero AAGUID names no model")
        name = entry.get("name", aaguid)
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS:
            raise AllowListError(f"{where}: 'name' must be 1 to {MAX_NAME_CHARS} characters")
        if aaguid in models:
            raise AllowListError(f"{where}: AAGUID {aaguid} is listed twice")
        models[aaguid] = AllowedModel(aaguid, name, _root_pems(entry.get("roots"), base, where))
    return AllowList(models)


def load_allow_list(path: str | None) -> AllowList:
    """The allow list from IDP_PASSKEY_ALLOW_LIST (a JSON file); empty when unset."""
    if not path:
        return AllowList()
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError:
        raise AllowListError(f"cannot read the passkey allow list {file}") from None
    except ValueError:
        raise AllowListError(f"the passkey allow list {file} is not valid JSON") from None
    return parse_allow_list(data, file.parent, str(file))


# --- challenges ------------------------------------------------------------------------------


def _challenge_key(challenge_b64: str) -> str:
    return "webauthn:" + digest(challenge_b64)


def issue_challenge(store: Any, challenge: bytes, purpose: str, binding: dict[str, str],
                    now: float | None = None) -> None:
    """Remember a challenge for one ceremony (`purpose`) of one interaction or session."""
    now = time.time() if now is None else now
    store.put(_challenge_key(b64url(challenge)),
              {"purpose": purpose, "binding": binding, "expires_at": now + CHALLENGE_TTL},
              CHALLENGE_TTL)


def client_data_of(credential: Mapping[str, Any]) -> dict[str, Any]:
    """The clientDataJSON of a credential from the browser, decoded (bounded)."""
    response = credential.get("response")
    raw = response.get("clientDataJSON") if isinstance(response, dict) else None
    if not isinstance(raw, str) or len(raw) > 4096:
        raise PasskeyError("passkey_bad_request", reason="client_data")
    try:
        data = json.loads(b64url_decode(raw))
    except ValueError:
        raise PasskeyError("passkey_bad_request", reason="client_data") from None
    if not isinstance(data, dict):
        raise PasskeyError("passkey_bad_request", reason="client_data")
    return data


def take_challenge(store: Any, credential: Mapping[str, Any], purpose: str,
                   binding: dict[str, str], now: float | None = None) -> bytes:
    """The challenge this credential answers, if we issued it for this purpose and binding
    and it has not expired or been used; it is used up now either way."""
    challenge_b64 = client_data_of(credential).get("challenge")
    if not isinstance(challenge_b64, str) or len(challenge_b64) > 200:
        raise PasskeyError("passkey_bad_request", reason="challenge")
    record = store.take(_challenge_key(challenge_b64))
    now = time.time() if now is None else now
    if (record is None or record.get("purpose") != purpose
            or record.get("binding") != binding or float(record.get("expires_at", 0)) <= now):
        raise PasskeyError("passkey_challenge_expired", reason="challenge")
    return b64url_decode(challenge_b64)


# --- registration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewCredential:
    """A verified registration and what it is worth."""

    credential_id: str
    public_key: bytes
    sign_count: int
    aaguid: str
    transports: list[str]
    backup_eligible: bool
    backup_state: bool
    method: str
    aal: Decimal


def registration_options(rp: RelyingParty, *, handle: bytes, user_name: str,
                         display_name: str, exclude: list[str], allow: AllowList,
                         ) -> tuple[dict[str, Any], bytes]:
    """Options for navigator.credentials.create(), and their challenge. Attestation is asked
    for ("direct") only when an allow list exists to judge it; "none" is always accepted."""
    challenge = secrets.token_bytes(32)
    options = webauthn.generate_registration_options(
        rp_id=rp.id, rp_name=rp.name, user_id=handle, user_name=user_name,
        user_display_name=display_name, challenge=challenge, timeout=CHALLENGE_TTL * 1000,
        attestation=(AttestationConveyancePreference.DIRECT if allow.models
                     else AttestationConveyancePreference.NONE),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=b64url_decode(c))
                             for c in exclude],
        supported_pub_key_algs=ALGORITHMS)
    return json.loads(webauthn.options_to_json(options)), challenge


def _failure_reason(message: str) -> str:
    """A short word for why py_webauthn refused, for the audit trail and the message shown
    (its own texts are for developers and may quote what the browser sent)."""
    lowered = message.lower()
    for needle, reason in (("origin", "origin"), ("rp id", "rp_id"),
                           ("user verification", "user_verification"),
                           ("user presence", "user_presence"), ("not present", "user_presence"),
                           ("challenge", "challenge"), ("signature", "signature"),
                           ("sign count", "sign_count"), ("backed up", "backup_flags")):
        if needle in lowered:
            return reason
    return "invalid"


def _refusal(exc: Exception, audit: str | None) -> PasskeyError:
    reason = _failure_reason(str(exc)) if isinstance(exc, WebAuthnException) else "invalid"
    code = "passkey_uv_required" if reason == "user_verification" else "passkey_invalid"
    return PasskeyError(code, audit=audit, reason=reason)


def _check_shape(credential: Any) -> str:
    """The credential id, after the bounds every browser answer must keep."""
    if not isinstance(credential, dict):
        raise PasskeyError("passkey_bad_request", reason="shape")
    cred_id = credential.get("id")
    if (not isinstance(cred_id, str) or not 0 < len(cred_id) <= MAX_CREDENTIAL_ID_CHARS
            or not _B64URL.fullmatch(cred_id)):
        raise PasskeyError("passkey_bad_request", reason="credential_id")
    return cred_id


def credential_id_of(credential: Any) -> str:
    return _check_shape(credential)


def _transports(credential: dict[str, Any]) -> list[str]:
    response = credential.get("response")
    listed = response.get("transports") if isinstance(response, dict) else None
    if not isinstance(listed, list):
        return []
    return sorted({t for t in listed[:10] if isinstance(t, str) and t in _KNOWN_TRANSPORTS})


def _aaguid_in_certificate(cert: x509.Certificate) -> str | None:
    try:
        ext = cert.extensions.get_extension_for_oid(_AAGUID_EXTENSION)
    except x509.ExtensionNotFound:
        return None
    raw = getattr(ext.value, "value", b"")
    # DER OCTET STRING of 16 bytes: 04 10 <aaguid>
    if len(raw) == 18 and raw[:2] == b"\x04\x10":
        return str(uuid.UUID(bytes=raw[2:]))
    return "malformed"


def attested_model(allow: AllowList, aaguid: str, fmt: AttestationFormat,
                   x5c: list[bytes] | None) -> AllowedModel | None:
    """The allow-listed model whose roots this attestation chains to, or None. The signature
    over the attestation was already checked by py_webauthn; this adds the chain (to the
    roots listed for this AAGUID, never to any root) and the certificate's own AAGUID."""
    model = allow.get(aaguid)
    if model is None or not x5c or fmt not in _CHAIN_FORMATS or not model.roots:
        return None
    try:
        validate_certificate_chain(x5c=x5c, pem_root_certs_bytes=list(model.roots))
        leaf = x509.load_der_x509_certificate(x5c[0])
    except (InvalidCertificateChain, ValueError):
        return None
    in_cert = _aaguid_in_certificate(leaf)
    if in_cert is not None and in_cert != model.aaguid:
        return None
    return model


def classify(backup_eligible: bool, attested: AllowedModel | None) -> str:
    """The METHODS name for a new authenticator: a security key when attested from the allow
    list and device-bound; a device-bound passkey when it cannot be backed up; otherwise a
    passkey (synced, or of a kind we cannot tell)."""
    if not backup_eligible and attested is not None:
        return "security-key"
    if not backup_eligible:
        return "passkey-device-bound"
    return "passkey"


def verify_registration(rp: RelyingParty, credential: Any, challenge: bytes,
                        allow: AllowList) -> NewCredential:
    """Check a new credential from navigator.credentials.create() and say what it is worth."""
    cred_id = _check_shape(credential)
    try:
        verified = webauthn.verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp.id,
            expected_origin=rp.origin, require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS)
        attestation = parse_attestation_object(verified.attestation_object)
    except Exception as exc:  # any malformed answer is a refusal, never a 500
        raise _refusal(exc, "passkey.registration_failed") from None
    backup_eligible = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    model = attested_model(allow, verified.aaguid, attestation.fmt, attestation.att_stmt.x5c)
    method = classify(backup_eligible, model)
    level = aal_for(method)
    assert level is not None
    return NewCredential(
        credential_id=cred_id, public_key=verified.credential_public_key,
        sign_count=verified.sign_count, aaguid=verified.aaguid,
        transports=_transports(credential), backup_eligible=backup_eligible,
        backup_state=verified.credential_backed_up, method=method, aal=level)


# --- authentication --------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredCredential:
    """What a login checks an assertion against (a copy, free of the DB session)."""

    row_id: int
    person_id: str
    public_key: bytes
    sign_count: int
    backup_eligible: bool
    method: str
    aal: Decimal

    @classmethod
    def of(cls, row: Authenticator) -> StoredCredential:
        return cls(row.id, row.person_id, row.public_key, row.sign_count,
                   row.backup_eligible, row.method, Decimal(row.aal))


@dataclass(frozen=True)
class Assertion:
    new_sign_count: int
    backup_state: bool


def authentication_options(rp: RelyingParty, allow_credentials: list[tuple[str, list[str]]],
                           ) -> tuple[dict[str, Any], bytes]:
    """Options for navigator.credentials.get(), and their challenge. An empty list asks for
    any discoverable credential (login with nothing typed); a step-up lists the person's."""
    challenge = secrets.token_bytes(32)
    descriptors = [PublicKeyCredentialDescriptor(
        id=b64url_decode(cid),
        transports=[AuthenticatorTransport(t) for t in transports if t in _KNOWN_TRANSPORTS])
        for cid, transports in allow_credentials]
    options = webauthn.generate_authentication_options(
        rp_id=rp.id, challenge=challenge, timeout=CHALLENGE_TTL * 1000,
        allow_credentials=descriptors,
        user_verification=UserVerificationRequirement.REQUIRED)
    return json.loads(webauthn.options_to_json(options)), challenge


def _user_handle_of(credential: dict[str, Any]) -> bytes | None:
    response = credential.get("response")
    raw = response.get("userHandle") if isinstance(response, dict) else None
    if raw is None or raw == "":
        return None
    try:
        return b64url_decode(raw)
    except ValueError:
        raise PasskeyError("passkey_bad_request", reason="user_handle") from None


def verify_assertion(rp: RelyingParty, credential: Any, challenge: bytes,
                     stored: StoredCredential, expected_handle: bytes) -> Assertion:
    """Check an assertion from navigator.credentials.get() against the stored credential.

    The signature is checked before the counter, so a forged answer cannot make an honest
    key look cloned: py_webauthn is given a current count of 0 and the count rule is ours.
    """
    _check_shape(credential)
    handle = _user_handle_of(credential)
    if handle is not None and not hmac.compare_digest(handle, expected_handle):
        raise PasskeyError("passkey_invalid", audit="passkey.login_failed",
                           reason="user_handle")
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp.id,
            expected_origin=rp.origin, credential_public_key=stored.public_key,
            credential_current_sign_count=0, require_user_verification=True)
    except Exception as exc:  # any malformed answer is a refusal, never a 500
        raise _refusal(exc, "passkey.login_failed") from None
    check_sign_count(stored.sign_count, verified.new_sign_count)
    backup_eligible = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    if backup_eligible and not stored.backup_eligible:
        raise PasskeyError("passkey_flags_changed", audit="passkey.clone_suspected",
                           reason="backup_eligible_changed")
    return Assertion(verified.new_sign_count, verified.credential_backed_up)


def check_sign_count(stored: int, new: int) -> None:
    """A counter that did not grow (when either side counts) means two copies of the key."""
    if (stored > 0 or new > 0) and new <= stored:
        raise PasskeyError("passkey_clone_suspected", audit="passkey.clone_suspected",
                           reason="sign_count")


# --- stored authenticators -------------------------------------------------------------------


def credentials_of(s: Session, person_id: str) -> list[Authenticator]:
    return list(s.scalars(select(Authenticator).where(Authenticator.person_id == person_id)
                          .order_by(Authenticator.created_at, Authenticator.id)))


def find_credential(s: Session, credential_id: str) -> Authenticator | None:
    return s.scalars(select(Authenticator)
                     .where(Authenticator.credential_id == credential_id)).first()


def save(s: Session, person_id: str, new: NewCredential, name: str) -> Authenticator:
    row = Authenticator(
        person_id=person_id, credential_id=new.credential_id, public_key=new.public_key,
        sign_count=new.sign_count, aaguid=new.aaguid, transports=new.transports,
        backup_eligible=new.backup_eligible, backup_state=new.backup_state,
        method=new.method, aal=str(new.aal), name=name[:MAX_NAME_CHARS])
    s.add(row)
    s.flush()
    return row


def record_use(s: Session, stored: StoredCredential, assertion: Assertion) -> bool:
    """Store the new count and backup state. The count moves only forward, in one UPDATE, so
    two logins racing with the same count cannot both pass: False means the other won."""
    stmt = update(Authenticator).where(Authenticator.id == stored.row_id)
    if assertion.new_sign_count > 0:
        stmt = stmt.where(Authenticator.sign_count < assertion.new_sign_count)
    result = s.execute(stmt.values(sign_count=assertion.new_sign_count,
                                   backup_state=assertion.backup_state,
                                   last_used_at=utcnow()))
    return bool(getattr(result, "rowcount", 0) == 1)


def clean_name(value: Any) -> str | None:
    """A passkey's name as the person typed it: trimmed, 1 to 100 printable characters."""
    if not isinstance(value, str):
        return None
    name = " ".join(value.split())
    if not 0 < len(name) <= MAX_NAME_CHARS or not name.isprintable():
        return None
    return name


def is_proofing_method(method: str) -> bool:
    return method in PROOFING_METHODS or method.startswith(PROOFING_PREFIXES)


def should_offer(p: Provider, person_id: str, method: str) -> bool:
    """After a proofing login (NDID, an upstream provider), offer a passkey to a proven
    person who has none yet, so the next login is a tap instead of a bank round trip."""
    if not is_proofing_method(method):
        return False
    with p.db.session() as s:
        if persons.person_ial(s, person_id) < PROOFED_IAL:
            return False
        return s.scalars(select(Authenticator.id)
                         .where(Authenticator.person_id == person_id)).first() is None


def offer_path(interaction_id: str) -> str:
    return f"/interaction/{interaction_id}/passkey/offer"


# --- who may register: the recovery rule -----------------------------------------------------

REGISTRATION_MAX_AGE = 600
"""Seconds after a login during which its session may add a passkey; later, the person logs
in again first, so a browser left open cannot be used to add someone else's key."""

PROOFING_LOGIN_WINDOW = 300
"""How recent a proofing event must be to count as the one the login just made (the login
records it in the same request, moments before the session starts)."""


def login_proofing_ial(s: Session, person_id: str, method: str,
                       now: datetime | None = None) -> Decimal | None:
    """The IAL this login just proved: for a proofing method (NDID, an upstream provider),
    the person's newest event from that source recorded moments ago; None for any other
    method, or when the login recorded no event."""
    if not is_proofing_method(method):
        return None
    since = (now or utcnow()) - timedelta(seconds=PROOFING_LOGIN_WINDOW)
    rows = s.scalars(select(ProofingRecord).where(ProofingRecord.person_id == person_id,
                                                  ProofingRecord.source == method))
    recent = [r for r in rows if as_utc(r.created_at) >= since]
    if not recent:
        return None
    return Decimal(max(recent, key=lambda r: as_utc(r.created_at)).ial)


@dataclass(frozen=True)
class Refusal:
    """Why this session may not add a passkey: the message key and its values, and whether
    logging in again (`/account/login`) is the way forward."""

    code: str
    fmt: dict[str, str]
    login_again: bool


def registration_refusal(*, person_ial: Decimal, session_aal: Decimal | None,
                         proofing_ial: Decimal | None, held: list[Decimal],
                         age: float) -> Refusal | None:
    """None when the session may register a passkey, else why not. In order:

    - the person is proven to IAL 2.1 or more (a passkey stands for a proven person);
    - the login is recent (REGISTRATION_MAX_AGE);
    - and either the login proved the person again (NDID, an upstream) at an IAL at least
      their current one, which is recovery: lost passkeys need not be at hand; or the
      login's AAL is at least that of the strongest passkey they hold (with none held, any
      login of a proven person), so no one adds a stronger key than they logged in with.
    """
    if person_ial < PROOFED_IAL:
        return Refusal("passkey_ial_too_low", {"ial": str(person_ial)}, False)
    if age > REGISTRATION_MAX_AGE:
        return Refusal("passkey_login_again", {"minutes": str(REGISTRATION_MAX_AGE // 60)},
                       True)
    if proofing_ial is not None and proofing_ial >= person_ial:
        return None
    strongest = max(held, default=None)
    if strongest is None or (session_aal is not None and session_aal >= strongest):
        return None
    return Refusal("passkey_session_too_weak", {"aal": str(strongest), "ial": str(person_ial)},
                   True)
