"""Citizen signing credentials: a key per person in the key backend (an HSM in production) and
a certificate for it from the citizen signing CA, with the person's verified names.

Issued only when the person's IAL (from their proofing events) and this login's AAL (from the
session's `acr`) meet the configured minimum (`IDP_SIGNING_MIN_IAL`, `IDP_SIGNING_MIN_AAL`),
and only from VERIFIED names: a name the person typed in is never certified. At most one
active credential per person (the database enforces it); asking again returns it. Revoking
revokes the certificate (the next CRL and OCSP answer show it) and destroys the key.

The subject (keys.ca.citizen_subject, EN 319 412-2): givenName and surname in English (the
Thai names when no English ones were verified), commonName "<Thai name> (<English name>)"
when it fits the 64 bytes of UTF-8 allowed (a Thai letter takes 3), else the Thai name, else
the English one, else the given name, else the family name, else the English name cut. The
serialNumber is PNOTH-<citizen ID> only when the person consents, else random.

No Flask: the account page, a CLI or the remote signing API call these functions.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from cryptography import x509
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from idp import audit, persons
from idp.db import Certificate, SigningCredential, as_utc, utcnow
from idp.pki.service import Pki
from idp.settings import Settings
from keys import ca as profiles
from keys.backend import KeyBackendError, KeyRef
from kyc.assurance import aal, ial, parse_acr
from kyc.identifiers import IdentifierProtector
from kyc.proofing import ProofingEvent, ranked_events

CITIZEN_CA = "citizen"
DEFAULT_ALG = "ES256"
MAX_CN = 64  # RFC 5280 ub-common-name, in UTF-8 bytes as cryptography checks it
TH_CITIZEN_ID = "th_citizen_id"

REVOCATION_REASONS = {
    "requested": "unspecified",  # the person asked (RFC 5280 has no better reason for it)
    "account_closed": "cessationOfOperation",
    "key_compromise": "keyCompromise",
    "superseded": "superseded",
}
"""Why a credential is revoked (our words) and the CRLReason its certificate gets."""


class Context(Protocol):
    """What the service needs from the provider (idp.provider.Provider fits)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def identifiers(self) -> IdentifierProtector: ...


class SigningRefused(Exception):
    """A credential cannot be issued. `reason` is a stable code (also an i18n key suffix):
    ial_too_low, aal_too_low, no_verified_names, no_citizen_id. The message says what is
    missing and never carries an ID number."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class CredentialInfo:
    """A credential as the account page and callers see it (no key material)."""

    id: str
    person_id: str
    status: str  # active | revoked
    serial: str
    alg: str
    key: KeyRef
    certificate: x509.Certificate | None
    not_after: datetime | None
    issuer: str | None  # the issuing CA's common name
    created_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None


# --- the rules ---------------------------------------------------------------------------------


def check_levels(person_ial: Decimal, session_acr: str, issuer: str, settings: Settings) -> None:
    """Refuse unless the person's IAL and the session's AAL meet the configured minimum."""
    min_ial, min_aal = ial(settings.signing_min_ial), aal(settings.signing_min_aal)
    if person_ial < min_ial:
        raise SigningRefused(
            "ial_too_low", f"identity assurance {person_ial} is below the {min_ial} a signing "
            "certificate needs; prove your identity again (for example through your bank)")
    level = parse_acr(session_acr or "", issuer)
    if level is None or level.aal < min_aal:
        got = level.aal if level is not None else "unknown"
        raise SigningRefused(
            "aal_too_low", f"this login's authentication assurance {got} is below the "
            f"{min_aal} a signing certificate needs; log in again with a passkey")


def _text(claims: dict[str, Any], key: str) -> str | None:
    value = claims.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _full(claims: dict[str, Any], suffix: str) -> str | None:
    given, family = _text(claims, "given_name" + suffix), _text(claims, "family_name" + suffix)
    joined = " ".join(v for v in (given, family) if v)
    return _text(claims, "name" + suffix) or joined or None


def _has_names(claims: dict[str, Any], suffix: str) -> bool:
    return bool(_text(claims, "given_name" + suffix) or _text(claims, "family_name" + suffix))


def names_event(events: list[ProofingEvent], now: datetime) -> ProofingEvent | None:
    """The best unexpired proofing event with verified names, preferring one with both Thai
    and English names (best = highest IAL, then newest: kyc.proofing.ranked_events)."""
    ranked = [e for e in ranked_events(events, now)
              if _has_names(e.claims, "") or _has_names(e.claims, "#th")]
    both = [e for e in ranked if _has_names(e.claims, "") and _has_names(e.claims, "#th")]
    chosen = both or ranked
    return chosen[0] if chosen else None


def subject_from(claims: dict[str, Any]) -> dict[str, str]:
    """The certificate subject (short attribute names) from verified name claims."""
    suffix = "" if _has_names(claims, "") else "#th"
    subject = {"C": "TH"}
    for attr, claim in (("GN", "given_name"), ("SN", "family_name")):
        value = _text(claims, claim + suffix)
        if value:
            subject[attr] = value[:profiles.MAX_ATTRIBUTE_CHARS]
    thai, english = _full(claims, "#th"), _full(claims, "")
    both = f"{thai} ({english})" if thai and english else None
    candidates = (both, thai, english, subject.get("GN"), subject.get("SN"))
    subject["CN"] = next((c for c in candidates if c and _fits(c)), None) \
        or _truncated(english or thai or "")
    return subject


def _fits(value: str) -> bool:
    """X.509 bounds commonName to 64; cryptography counts UTF-8 bytes (a Thai letter is 3)."""
    return 0 < len(value.encode()) <= MAX_CN


def _truncated(value: str) -> str:
    while value and not _fits(value):
        value = value[:-1]
    return value.strip()


def _citizen_id(events: list[ProofingEvent], now: datetime) -> str | None:
    for event in ranked_events(events, now):
        value = event.claims.get(TH_CITIZEN_ID)
        if isinstance(value, str) and value:
            return value
    return None


# --- reading -----------------------------------------------------------------------------------


def _info(row: SigningCredential, cert_row: Certificate | None) -> CredentialInfo:
    cert = x509.load_der_x509_certificate(cert_row.cert_der) if cert_row else None
    issuer = None
    if cert is not None:
        cns = cert.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        issuer = str(cns[0].value) if cns else cert.issuer.rfc4514_string()
    return CredentialInfo(
        id=row.id, person_id=row.person_id, status=row.status, serial=row.certificate_serial,
        alg=row.alg, key=KeyRef.from_dict(row.key_ref), certificate=cert,
        not_after=cert.not_valid_after_utc if cert else None, issuer=issuer,
        created_at=as_utc(row.created_at), revoked_at=as_utc(row.revoked_at),
        revoked_reason=row.revoked_reason)


def _usable(cert_row: Certificate | None) -> bool:
    """A certificate one may sign with now: good (not revoked, also not by an operator's
    `idp ca revoke`) and not expired."""
    if cert_row is None or cert_row.status != "good":
        return False
    cert = x509.load_der_x509_certificate(cert_row.cert_der)
    return cert.not_valid_after_utc > utcnow()


def active_credential(pki: Pki, person_id: str) -> CredentialInfo | None:
    """The person's active credential, if any, and only while its certificate is usable."""
    with pki.db.session() as s:
        row = s.scalar(select(SigningCredential).where(
            SigningCredential.active_person_id == person_id))
        if row is None:
            return None
        cert_row = s.get(Certificate, row.certificate_serial)
        return _info(row, cert_row) if _usable(cert_row) else None


def latest_credential(pki: Pki, person_id: str) -> CredentialInfo | None:
    """The active credential, else the most recently made one (to show it was revoked)."""
    with pki.db.session() as s:
        row = s.scalar(select(SigningCredential)
                       .where(SigningCredential.person_id == person_id)
                       .order_by((SigningCredential.status == "active").desc(),
                                 SigningCredential.created_at.desc()).limit(1))
        return _info(row, s.get(Certificate, row.certificate_serial)) if row else None


# --- issuing and revoking ------------------------------------------------------------------


def issue_credential(ctx: Context, pki: Pki, person_id: str, session_acr: str, *,
                     consent_pnoth: bool = False, alg: str = DEFAULT_ALG) -> CredentialInfo:
    """The person's signing credential: the active one if they have it, else a new key in the
    backend and a citizen_signing certificate for it. SigningRefused (with its reason) when
    the levels are too low, no verified names exist, or PNOTH was consented to without a
    verified citizen ID."""
    _retire_unusable(pki, person_id)
    existing = active_credential(pki, person_id)
    if existing is not None:
        return existing
    now = utcnow()
    with pki.db.session() as s:
        level = persons.person_ial(s, person_id, now)
        check_levels(level, session_acr, ctx.settings.issuer, ctx.settings)
        events = persons.proofing_events(s, ctx.identifiers, person_id)
    source = names_event(events, now)
    if source is None:
        raise SigningRefused("no_verified_names", "no verified name is on record for you; "
                             "prove your identity (through your bank or ThaID) first")
    th_id = _citizen_id(events, now) if consent_pnoth else None
    if consent_pnoth and th_id is None:
        raise SigningRefused("no_citizen_id", "no verified Thai citizen ID is on record for "
                             "you, so it cannot be put in the certificate; ask again "
                             "without it")
    subject = subject_from(source.claims)
    credential_id = str(uuid.uuid4())
    key = pki.backend.generate(alg, f"citizen-{credential_id[:8]}-{secrets.token_hex(4)}")
    try:
        cert = pki.issue(CITIZEN_CA, "citizen_signing", key.public_key(), subject,
                         person_id=person_id, consent_pnoth=consent_pnoth, th_id=th_id)
    except BaseException:
        pki.backend.destroy(key)
        raise
    serial = profiles.serial_hex(cert.serial_number)
    try:
        with pki.db.session() as s:
            s.add(SigningCredential(id=credential_id, person_id=person_id,
                                    active_person_id=person_id, key_ref=key.to_dict(),
                                    alg=alg, certificate_serial=serial, status="active",
                                    created_at=now))
            s.flush()
            audit.record(s, "signing.credential_issued", person_id=person_id,
                         credential=credential_id, serial=serial, alg=alg,
                         ial=str(level), pnoth=bool(consent_pnoth),
                         name_source=source.source)
    except IntegrityError:
        # Another request of the same person won the race: keep theirs, undo ours.
        pki.revoke(serial, "superseded")
        pki.backend.destroy(key)
        winner = active_credential(pki, person_id)
        if winner is None:
            raise
        return winner
    found = active_credential(pki, person_id)
    assert found is not None
    return found


def _revoke_row(pki: Pki, row_id: str, reason: str) -> bool:
    """Revoke one credential: the certificate, then the row, then the key. False when it was
    no longer active."""
    with pki.db.session() as s:
        row = s.get(SigningCredential, row_id)
        if row is None or row.status != "active":
            return False
        key = KeyRef.from_dict(row.key_ref)
        person_id, serial = row.person_id, row.certificate_serial
    # The certificate first: once it is revoked the credential is dead for every verifier,
    # whatever happens next. Revoking it twice (two requests racing) changes nothing.
    pki.revoke(serial, REVOCATION_REASONS[reason])
    with pki.db.session() as s:
        result = s.execute(update(SigningCredential)
                           .where(SigningCredential.id == row_id,
                                  SigningCredential.status == "active")
                           .values(status="revoked", active_person_id=None,
                                   revoked_at=utcnow(), revoked_reason=reason))
        done = getattr(result, "rowcount", 0) == 1
    if not done:
        return False  # another request revoked it (and destroys the key)
    destroyed = True
    try:
        pki.backend.destroy(key)
    except KeyBackendError:
        destroyed = False  # revoked all the same: the certificate is what verifiers check
    with pki.db.session() as s:
        audit.record(s, "signing.credential_revoked", person_id=person_id,
                     credential=row_id, serial=serial, reason=reason,
                     key_destroyed=destroyed)
    return True


def _retire_unusable(pki: Pki, person_id: str) -> None:
    """Free the person's credential slot when its certificate was revoked outside this
    module or has expired: the row would otherwise block every new credential."""
    with pki.db.session() as s:
        row = s.scalar(select(SigningCredential).where(
            SigningCredential.active_person_id == person_id))
        if row is None or _usable(s.get(Certificate, row.certificate_serial)):
            return
        row_id = row.id
    _revoke_row(pki, row_id, "superseded")


def revoke_credential(pki: Pki, person_id: str, reason: str = "requested") -> bool:
    """Revoke the person's active credential (the certificate shows as revoked in the next
    CRL and OCSP answer; the key is destroyed). False when they had none."""
    if reason not in REVOCATION_REASONS:
        raise ValueError(f"unknown reason {reason!r} (one of: {', '.join(REVOCATION_REASONS)})")
    with pki.db.session() as s:
        row_id = s.scalar(select(SigningCredential.id).where(
            SigningCredential.active_person_id == person_id))
    return row_id is not None and _revoke_row(pki, row_id, reason)


def revoke_all_for_person(pki: Pki, person_id: str, reason: str = "account_closed") -> int:
    """Account closure: revoke every credential of the person still active; how many."""
    with pki.db.session() as s:
        ids = list(s.scalars(select(SigningCredential.id).where(
            SigningCredential.person_id == person_id, SigningCredential.status == "active")))
    return sum(1 for row_id in ids if _revoke_row(pki, row_id, reason))
