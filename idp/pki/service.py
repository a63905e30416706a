"""The provider's certificate authority: its hierarchy, issuance, revocation, CRLs, status.

The database glue around `keys.ca` (profiles, CRL building) and `keys.x509sign` (signing through
a key backend). No Flask: the OCSP responder, the TSA, the /pki/ endpoints and `idp ca` all use
this one `Pki` object.

Hierarchy made by `init_hierarchy` (ids are stable, URLs are built from them):

    root            kind root     self-signed, P-384, 20 years
    citizen         kind issuing  under root, P-384, issues citizen signing certificates
    seal            kind issuing  under root, P-384, issues agency seal certificates
    tsa             kind tsa      under root, P-384, the time-stamping unit
    ocsp-root       kind ocsp     under root      \
    ocsp-citizen    kind ocsp     under citizen    > delegated OCSP responders, P-256, 30 days,
    ocsp-seal       kind ocsp     under seal      /  renewed automatically when 10 days remain

`ocsp-<ca id>` is the naming rule for the responder of a CA: `responder_for(ca_id)`.

Every certificate a CA of ours issues (CA and service certificates included) is recorded in
the `certificate` table: that table is the source of CRLs and OCSP answers. Every creation,
import, issuance, revocation and CRL number goes to the audit trail, with ids and serials only:
never key material, never a national ID number (subjects are masked).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp import audit
from idp.db import Certificate, CertificateAuthority, Database, as_utc, utcnow
from keys import ca as profiles
from keys.backend import KeyBackend, KeyRef, spki_of
from keys.ocsp import der_of

CA_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,34}")
ISSUING_KINDS = ("root", "issuing")
CRL_LIFETIME = timedelta(days=1)
RESPONDER_RENEW_BEFORE = timedelta(days=10)
RECORD_TTL_SECONDS = 60.0
NO_KEY_BACKEND = "none"
"""KeyRef.backend of a CA imported without its private key (a trust anchor above us)."""
MAX_LIST = 10_000


# Our own issuing CAs each serve one kind of holder, as their certificate policies say; an
# imported CA is not restricted here.
END_ENTITY_PROFILES = frozenset({"citizen_signing", "agency_seal"})
ISSUING_PROFILES: dict[str, frozenset[str]] = {
    "citizen": frozenset({"citizen_signing"}),
    "seal": frozenset({"agency_seal"}),
}

@dataclass(frozen=True)
class CaRecord:
    """A CA of ours (root, issuing) or a service certificate (tsa, ocsp) with its backend key."""

    id: str
    kind: str
    parent_id: str | None
    cert: x509.Certificate
    key: KeyRef
    imported: bool = False

    @property
    def can_sign(self) -> bool:
        """False for a CA imported without its private key."""
        return self.key.backend != NO_KEY_BACKEND


@dataclass(frozen=True)
class CertStatus:
    status: str  # "good" | "revoked"
    revoked_at: datetime | None
    reason: str | None  # an x509.ReasonFlags value ("keyCompromise", ...), None when good


@dataclass(frozen=True)
class _Spec:
    id: str
    kind: str
    parent: str | None
    alg: str
    name: str
    profile: str


def _hierarchy() -> list[_Spec]:
    return [
        _Spec("root", "root", None, profiles.CA_ALG, "Root CA", "root_ca"),
        _Spec("citizen", "issuing", "root", profiles.CA_ALG, "Citizen Signing CA", "issuing_ca"),
        _Spec("seal", "issuing", "root", profiles.CA_ALG, "Agency Seal CA", "issuing_ca"),
        _Spec("tsa", "tsa", "root", profiles.TSA_ALG, "Time-Stamping Unit", "tsa_unit"),
        _Spec("ocsp-root", "ocsp", "root", profiles.END_ENTITY_ALG, "OCSP Responder (Root CA)",
              "ocsp_responder"),
        _Spec("ocsp-citizen", "ocsp", "citizen", profiles.END_ENTITY_ALG,
              "OCSP Responder (Citizen Signing CA)", "ocsp_responder"),
        _Spec("ocsp-seal", "ocsp", "seal", profiles.END_ENTITY_ALG,
              "OCSP Responder (Agency Seal CA)", "ocsp_responder"),
    ]


ISSUING_POLICIES = {"citizen": (profiles.POLICY_CITIZEN,), "seal": (profiles.POLICY_SEAL,)}


@dataclass
class _CachedCrl:
    der: bytes
    marker: tuple[int, str]
    this_update: datetime


def _load_cert(data: bytes) -> x509.Certificate:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise ValueError("the CA certificate is not a readable PEM or DER certificate") from None


def _load_private_key(data: bytes, password: bytes | None) -> PrivateKeyTypes:
    try:
        if b"-----BEGIN" in data:
            return serialization.load_pem_private_key(data, password=password)
        return serialization.load_der_private_key(data, password=password)
    except (ValueError, TypeError):
        # Never echo the cause: it may quote key material or say too much about the password.
        raise ValueError("the private key cannot be read (wrong format or password)") from None


def alg_for_key(public_key: PublicKeyTypes) -> str:
    """The backend algorithm name that signs with a key of this type."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        by_curve = {"secp256r1": "ES256", "secp384r1": "ES384"}
        if public_key.curve.name not in by_curve:
            raise ValueError(f"unsupported EC curve {public_key.curve.name} (P-256 or P-384)")
        return by_curve[public_key.curve.name]
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise ValueError("RSA keys shorter than 2048 bits are refused")
        return "RS256"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    raise ValueError("unsupported key type (EC P-256/P-384, RSA >= 2048 or Ed25519)")


def _hash_name(name: str) -> str:
    alg = name.lower().replace("-", "").replace("_", "")
    if alg not in ("sha1", "sha224", "sha256", "sha384", "sha512"):
        raise ValueError(f"unsupported CertID hash algorithm {name!r}")
    return alg


def cert_id_hashes(cert: x509.Certificate, hash_alg: str) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of an OCSP CertID for certificates issued by `cert`
    (RFC 6960 4.1.1): the hash of the DER subject name as encoded in the certificate, and of
    the subjectPublicKey BIT STRING value (without tag, length and unused-bits octet)."""
    from asn1crypto import x509 as asn1_x509

    alg = _hash_name(hash_alg)
    tbs = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))[
        "tbs_certificate"]
    name_der = tbs["subject"].dump()
    key_bits = tbs["subject_public_key_info"]["public_key"].contents[1:]
    return hashlib.new(alg, name_der).digest(), hashlib.new(alg, key_bits).digest()


class Pki:
    """The CA service. Thread-safe; state lives in the database, plus small in-memory caches
    (CA records for a minute, each CRL until half its lifetime or the next revocation)."""

    def __init__(self, db: Database, backend: KeyBackend, issuer_url: str) -> None:
        self.db = db
        self.backend = backend
        self.issuer_url = issuer_url.rstrip("/")
        self._lock = threading.RLock()
        self._records: dict[str, tuple[float, CaRecord]] = {}
        self._crls: dict[str, _CachedCrl] = {}
        self._hashes: dict[tuple[str, bytes, str], tuple[bytes, bytes]] = {}

    # --- reading CAs ---------------------------------------------------------------------

    def _record(self, row: CertificateAuthority) -> CaRecord:
        return CaRecord(id=row.id, kind=row.kind, parent_id=row.parent_id,
                        cert=x509.load_der_x509_certificate(row.cert_der),
                        key=KeyRef.from_dict(row.key_ref), imported=bool(row.imported))

    def _remember(self, record: CaRecord) -> CaRecord:
        with self._lock:
            self._records[record.id] = (time.monotonic() + RECORD_TTL_SECONDS, record)
        return record

    def ca(self, ca_id: str) -> CaRecord:
        """The CA or service entry `ca_id`; KeyError if unknown. A delegated OCSP responder
        certificate close to expiry is renewed here, so responders never lapse."""
        with self._lock:
            hit = self._records.get(ca_id)
        if hit is not None and hit[0] > time.monotonic():
            record = hit[1]
        else:
            with self.db.session() as s:
                row = s.get(CertificateAuthority, ca_id)
                if row is None:
                    raise KeyError(ca_id)
                record = self._remember(self._record(row))
        if record.kind == "ocsp" and self._renewal_due(record):
            record = self._renew_responder(record)
        return record

    def cas(self) -> list[CaRecord]:
        with self.db.session() as s:
            rows = list(s.scalars(select(CertificateAuthority)
                                  .order_by(CertificateAuthority.created_at)))
            return [self._remember(self._record(r)) for r in rows]

    def responder_for(self, ca_id: str) -> CaRecord | None:
        """The delegated OCSP responder of CA `ca_id` (`ocsp-<ca_id>`), if there is one."""
        try:
            return self.ca(f"ocsp-{ca_id}")
        except KeyError:
            return None

    def chain(self, ca_id: str) -> list[x509.Certificate]:
        """The certificate of `ca_id` and those above it, up to the top CA we know."""
        out: list[x509.Certificate] = []
        current: str | None = ca_id
        while current is not None and len(out) < 10:
            record = self.ca(current)
            out.append(record.cert)
            current = record.parent_id if record.parent_id != record.id else None
        return out

    def find_issuer(self, issuer_name_hash: bytes, issuer_key_hash: bytes,
                    hash_alg: str) -> CaRecord | None:
        """The CA that an OCSP CertID names (sha1 or sha256, also sha224/384/512)."""
        alg = _hash_name(hash_alg)
        for record in self.cas():
            if record.kind not in ISSUING_KINDS:
                continue
            cache_key = (record.id, record.cert.fingerprint(hashes.SHA256()), alg)
            with self._lock:
                hashes_ = self._hashes.get(cache_key)
            if hashes_ is None:
                hashes_ = cert_id_hashes(record.cert, alg)
                with self._lock:
                    self._hashes[cache_key] = hashes_
            if hashes_ == (issuer_name_hash, issuer_key_hash):
                return record
        return None

    # --- creating the hierarchy ----------------------------------------------------------

    def init_hierarchy(self, org: str = "Thai Digital ID (sandbox)") -> list[CaRecord]:
        """Create whatever part of the standard hierarchy is missing; idempotent (also when
        several nodes run it at once: the loser of a race discards its key and reads the
        winner's). Returns the hierarchy's records in creation order."""
        out: list[CaRecord] = []
        for spec in _hierarchy():
            try:
                out.append(self.ca(spec.id))
                continue
            except KeyError:
                pass
            out.append(self._create(spec, org))
        return out

    def _create(self, spec: _Spec, org: str) -> CaRecord:
        parent = self.ca(spec.parent) if spec.parent else None
        if parent is not None and not parent.can_sign:
            raise ValueError(f"CA {parent.id} has no private key here; cannot create {spec.id}")
        key = self.backend.generate(spec.alg, f"pki-{spec.id}-{secrets.token_hex(4)}")
        public_key = key.public_key()
        name = profiles.ca_name(org, f"{org} {spec.name}")
        days = profiles.DAYS[spec.profile]
        if parent is None:
            extensions = profiles.root_ca(public_key)
        else:
            issuer = profiles.Issuer(parent.id, parent.cert, self.issuer_url)
            if spec.profile == "issuing_ca":
                extensions = profiles.issuing_ca(
                    public_key, issuer, ISSUING_POLICIES.get(spec.id, (profiles.ANY_POLICY,)))
            else:
                extensions = profiles.END_ENTITY_PROFILES[spec.profile](public_key, issuer)
        not_before, not_after = profiles.validity(
            days, issuer_cert=parent.cert if parent else None)
        cert = profiles.issue_certificate(
            subject=name, public_key=public_key, extensions=extensions, not_before=not_before,
            not_after=not_after, issuer_key_ref=parent.key if parent else key,
            backend=self.backend, issuer_cert=parent.cert if parent else None)
        try:
            with self.db.session() as s:
                s.add(CertificateAuthority(id=spec.id, kind=spec.kind,
                                           parent_id=parent.id if parent else None,
                                           key_ref=key.to_dict(), cert_der=der_of(cert),
                                           imported=False, crl_number=0, created_at=utcnow()))
                s.flush()
                self._store_cert(s, cert, parent.id if parent else spec.id, spec.profile)
                audit.record(s, "ca.created", ca_id=spec.id, kind=spec.kind,
                             parent_id=parent.id if parent else None, alg=spec.alg,
                             serial=profiles.serial_hex(cert.serial_number),
                             subject=profiles.subject_text(cert.subject))
        except IntegrityError:
            self.backend.destroy(key)  # another node made it first: use theirs
            with self._lock:
                self._records.pop(spec.id, None)
            return self.ca(spec.id)
        return self._remember(CaRecord(spec.id, spec.kind, spec.parent, cert, key))

    def _store_cert(self, s: Session, cert: x509.Certificate, issuer_id: str, profile: str,
                    *, person_id: str | None = None, client_id: str | None = None) -> None:
        s.add(Certificate(
            serial=profiles.serial_hex(cert.serial_number), issuer_id=issuer_id,
            profile=profile, subject=profiles.masked_subject(cert.subject), cert_der=der_of(cert),
            not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
            status="good", person_id=person_id, client_id=client_id, created_at=utcnow()))

    # --- OCSP responder renewal ----------------------------------------------------------

    @staticmethod
    def _renewal_due(record: CaRecord) -> bool:
        return record.cert.not_valid_after_utc - datetime.now(UTC) < RESPONDER_RENEW_BEFORE

    def _renew_responder(self, record: CaRecord) -> CaRecord:
        """Replace a delegated responder's key and certificate (same id), once across nodes:
        the row is re-read under a lock and left alone if someone renewed it meanwhile."""
        if record.parent_id is None:
            return record
        parent = self.ca(record.parent_id)
        if not parent.can_sign:
            return record
        with self._lock:
            with self.db.session() as s:  # another thread or node may have renewed it already
                row = s.get(CertificateAuthority, record.id)
                if row is None:
                    raise KeyError(record.id)
                if row.cert_der != der_of(record.cert):
                    return self._remember(self._record(row))
            key = self.backend.generate(record.key.alg,
                                        f"pki-{record.id}-{secrets.token_hex(4)}")
            subject = {a.rfc4514_attribute_name: str(a.value) for a in record.cert.subject}
            cert = self._issue_cert(parent, "ocsp_responder", key.public_key(),
                                    profiles.service_subject(subject),
                                    profiles.DAYS["ocsp_responder"])
            with self.db.session() as s:
                row = s.get(CertificateAuthority, record.id, with_for_update=True)
                if row is None:
                    raise KeyError(record.id)
                if row.cert_der != der_of(record.cert):  # renewed elsewhere
                    self.backend.destroy(key)
                    return self._remember(self._record(row))
                row.key_ref = key.to_dict()
                row.cert_der = der_of(cert)
                self._store_cert(s, cert, parent.id, "ocsp_responder")
                audit.record(s, "ca.renewed", ca_id=record.id, kind=record.kind,
                             serial=profiles.serial_hex(cert.serial_number))
            return self._remember(CaRecord(record.id, record.kind, record.parent_id, cert, key,
                                           record.imported))

    # --- issuing ---------------------------------------------------------------------------

    def _issue_cert(self, issuer: CaRecord, profile: str, public_key: PublicKeyTypes,
                    subject: x509.Name, days: int) -> x509.Certificate:
        extensions = profiles.END_ENTITY_PROFILES[profile](
            public_key, profiles.Issuer(issuer.id, issuer.cert, self.issuer_url))
        not_before, not_after = profiles.validity(days, issuer_cert=issuer.cert)
        return profiles.issue_certificate(
            subject=subject, public_key=public_key, extensions=extensions,
            not_before=not_before, not_after=not_after, issuer_key_ref=issuer.key,
            backend=self.backend, issuer_cert=issuer.cert)

    def issue(self, ca_id: str, profile: str, public_key: PublicKeyTypes,
              subject: dict[str, str], *, person_id: str | None = None,
              client_id: str | None = None, consent_pnoth: bool = False,
              th_id: str | None = None, days: int | None = None) -> x509.Certificate:
        """Issue an end-entity certificate of `profile` (citizen_signing, agency_seal,
        tsa_unit, ocsp_responder, or the aliases citizen/seal/tsa/ocsp) under CA `ca_id`.

        `subject` is keyed by short attribute names (CN, GN, SN, O, OU, organizationIdentifier,
        C, ...). For citizen certificates the serialNumber is PNOTH-<th_id> only with
        `consent_pnoth=True`, otherwise random. `days` defaults per profile and never runs past
        the CA's own expiry. The certificate is recorded (the CRL/OCSP source) and audited with
        `person_id`/`client_id`, never the ID number.
        """
        profile = profiles.profile_name(profile)
        issuer = self.ca(ca_id)
        if issuer.kind not in ISSUING_KINDS:
            raise ValueError(f"{ca_id} is a {issuer.kind} entry, not a CA")
        if not issuer.can_sign:
            raise ValueError(f"CA {ca_id} was imported without its private key; it cannot issue")
        allowed = ISSUING_PROFILES.get(issuer.id)
        if allowed is not None and profile in END_ENTITY_PROFILES and profile not in allowed:
            raise ValueError(f"the {issuer.id} CA issues only {', '.join(sorted(allowed))} "
                             "certificates")
        if issuer.kind == "root" and profile in ("citizen_signing", "agency_seal"):
            raise ValueError("the root CA does not issue citizen or seal certificates; "
                             "use an issuing CA (citizen, seal)")
        alg_for_key(public_key)  # refuses weak or unsupported keys
        name = profiles.subject_for(profile, subject, consent_pnoth=consent_pnoth, th_id=th_id)
        lifetime = days if days is not None else profiles.DAYS[profile]
        if lifetime > profiles.DAYS["root_ca"]:
            raise ValueError("validity is too long")
        cert = self._issue_cert(issuer, profile, public_key, name, lifetime)
        masked = profiles.masked_subject(cert.subject)
        with self.db.session() as s:
            self._store_cert(s, cert, issuer.id, profile, person_id=person_id,
                             client_id=client_id)
            data: dict[str, Any] = {"ca_id": issuer.id, "profile": profile,
                                    "serial": profiles.serial_hex(cert.serial_number),
                                    "not_after": cert.not_valid_after_utc.isoformat()}
            if profile != "citizen_signing":  # a person's name stays out of the trail
                data["subject"] = masked
            else:
                data["pnoth"] = bool(consent_pnoth)
            audit.record(s, "cert.issued", person_id=person_id, client_id=client_id, **data)
        return cert

    def new_service(self, service_id: str, ca_id: str, profile: str, subject: dict[str, str],
                    *, alg: str = profiles.END_ENTITY_ALG, days: int | None = None) -> CaRecord:
        """A key made in the backend plus its certificate, kept as a service entry (kind tsa
        or ocsp) so the TSA / OCSP responder can sign with it: `idp ca issue --generate`."""
        profile = profiles.profile_name(profile)
        kind = {"tsa_unit": "tsa", "ocsp_responder": "ocsp"}.get(profile)
        if kind is None:
            raise ValueError("--generate makes service keys only: tsa_unit or ocsp_responder")
        self._check_new_id(service_id)
        issuer = self.ca(ca_id)
        if issuer.kind not in ISSUING_KINDS or not issuer.can_sign:
            raise ValueError(f"{ca_id} cannot issue certificates")
        key = self.backend.generate(alg, f"pki-{service_id}-{secrets.token_hex(4)}")
        try:
            cert = self._issue_cert(issuer, profile, key.public_key(),
                                    profiles.subject_for(profile, subject),
                                    days if days is not None else profiles.DAYS[profile])
            with self.db.session() as s:
                s.add(CertificateAuthority(id=service_id, kind=kind, parent_id=issuer.id,
                                           key_ref=key.to_dict(), cert_der=der_of(cert),
                                           imported=False, crl_number=0, created_at=utcnow()))
                s.flush()
                self._store_cert(s, cert, issuer.id, profile)
                audit.record(s, "ca.created", ca_id=service_id, kind=kind, parent_id=issuer.id,
                             alg=alg, serial=profiles.serial_hex(cert.serial_number),
                             subject=profiles.masked_subject(cert.subject))
        except BaseException:
            self.backend.destroy(key)
            raise
        return self._remember(CaRecord(service_id, kind, issuer.id, cert, key))

    # --- revocation and status -----------------------------------------------------------

    def revoke(self, serial: int | str, reason: str = "unspecified") -> None:
        """Revoke a certificate we issued; it is on the issuer's next CRL (the cached one is
        dropped) and in the next OCSP answer. KeyError for an unknown serial; revoking an
        already revoked certificate changes nothing."""
        number = profiles.parse_serial(serial)
        flag = profiles.reason_flag(reason)
        with self.db.session() as s:
            row = s.get(Certificate, profiles.serial_hex(number), with_for_update=True)
            if row is None:
                raise KeyError(profiles.serial_hex(number))
            if row.status == "revoked":
                return
            row.status = "revoked"
            row.revoked_at = utcnow()
            row.revocation_reason = flag.value
            issuer_id = row.issuer_id
            audit.record(s, "cert.revoked", person_id=row.person_id, client_id=row.client_id,
                         ca_id=issuer_id, serial=row.serial, profile=row.profile,
                         reason=flag.value)
        with self._lock:
            self._crls.pop(issuer_id, None)

    def status(self, issuer_id: str, serial: int) -> CertStatus | None:
        """good / revoked for a certificate `issuer_id` issued; None when we never issued it."""
        with self.db.session() as s:
            row = s.scalar(select(Certificate).where(
                Certificate.serial == profiles.serial_hex(serial),
                Certificate.issuer_id == issuer_id))
            if row is None:
                return None
            if row.status == "revoked":
                return CertStatus("revoked", as_utc(row.revoked_at), row.revocation_reason)
            return CertStatus("good", None, None)

    # --- CRLs ------------------------------------------------------------------------------

    def _revocation_marker(self, s: Session, ca_id: str) -> tuple[int, str]:
        count, latest = s.execute(
            select(func.count(), func.max(Certificate.revoked_at)).where(
                Certificate.issuer_id == ca_id, Certificate.status == "revoked")).one()
        stamp = as_utc(latest)
        return int(count), stamp.isoformat() if stamp else ""

    def crl_der(self, ca_id: str) -> bytes:
        """The CA's CRL in DER: cached until half its lifetime (12 h) has passed or a
        certificate of this CA was revoked (also on another node: the marker is re-read);
        otherwise signed afresh with the next CRL number. nextUpdate = thisUpdate + 1 day."""
        record = self.ca(ca_id)
        if record.kind not in ISSUING_KINDS or not record.can_sign:
            raise ValueError(f"{ca_id} does not publish a CRL here")
        with self.db.session() as s:
            marker = self._revocation_marker(s, ca_id)
        now = datetime.now(UTC)
        with self._lock:
            cached = self._crls.get(ca_id)
            if (cached is not None and cached.marker == marker
                    and now < cached.this_update + CRL_LIFETIME / 2):
                return cached.der
            return self._new_crl(record)

    def _new_crl(self, record: CaRecord) -> bytes:
        this_update = datetime.now(UTC).replace(microsecond=0)
        with self.db.session() as s:
            s.execute(update(CertificateAuthority)
                      .where(CertificateAuthority.id == record.id)
                      .values(crl_number=CertificateAuthority.crl_number + 1))
            number = int(s.scalar(select(CertificateAuthority.crl_number)
                                  .where(CertificateAuthority.id == record.id)) or 0)
            rows = s.execute(select(Certificate.serial, Certificate.revoked_at,
                                    Certificate.revocation_reason)
                             .where(Certificate.issuer_id == record.id,
                                    Certificate.status == "revoked")
                             .order_by(Certificate.revoked_at)).all()
            marker = self._revocation_marker(s, record.id)
            revoked = [(int(serial, 16), as_utc(at) or this_update, reason)
                       for serial, at, reason in rows]
            crl = profiles.build_crl(record.cert, record.key, self.backend, revoked, number,
                                     this_update, this_update + CRL_LIFETIME)
            audit.record(s, "crl.issued", ca_id=record.id, crl_number=number,
                         revoked=len(revoked))
        der = crl.public_bytes(serialization.Encoding.DER)
        self._crls[record.id] = _CachedCrl(der, marker, this_update)
        return der

    # --- listing -----------------------------------------------------------------------------

    def list_certificates(self, ca_id: str | None = None, *, limit: int = 1000
                          ) -> list[dict[str, Any]]:
        """Issued certificates, oldest first, as JSON-ready dicts (subjects masked)."""
        if limit < 1 or limit > MAX_LIST:
            raise ValueError(f"limit must be between 1 and {MAX_LIST}")
        query = select(Certificate).order_by(Certificate.created_at).limit(limit)
        if ca_id is not None:
            query = query.where(Certificate.issuer_id == ca_id)
        with self.db.session() as s:
            return [{
                "serial": r.serial, "issuer_id": r.issuer_id, "profile": r.profile,
                "subject": r.subject,
                "not_before": _iso(r.not_before), "not_after": _iso(r.not_after),
                "status": r.status, "revoked_at": _iso(r.revoked_at),
                "revocation_reason": r.revocation_reason,
                "person_id": r.person_id, "client_id": r.client_id,
            } for r in s.scalars(query)]

    # --- importing an external CA ------------------------------------------------------------

    def _check_new_id(self, ca_id: str) -> None:
        if not CA_ID_PATTERN.fullmatch(ca_id):
            raise ValueError("a CA id is 1-35 characters of a-z, 0-9 and '-'")
        with self.db.session() as s:
            if s.get(CertificateAuthority, ca_id) is not None:
                raise ValueError(f"CA {ca_id} already exists")

    def import_ca(self, ca_id: str, cert_pem: bytes, key_pem: bytes | None,
                  password: bytes | None) -> CaRecord:
        """Take in an external CA: its certificate, and (optionally) its private key, which is
        moved INTO the backend (`backend.import_key`) and never stored otherwise. Without a key
        the CA is a trust anchor of ours (e.g. the national root above an imported issuing CA).

        kind is "root" for a self-signed certificate, else "issuing"; the parent is the CA we
        already hold that signed it, if any. A CA with a key also gets its delegated OCSP
        responder, `ocsp-<ca_id>`.
        """
        self._check_new_id(ca_id)
        cert = _load_cert(cert_pem)
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            bc = None
        if bc is None or not bc.ca:
            raise ValueError("the certificate is not a CA certificate (basicConstraints cA)")
        try:
            ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            if not ku.key_cert_sign:
                raise ValueError("the CA certificate's key usage does not allow keyCertSign")
        except x509.ExtensionNotFound:
            pass
        public_key = cert.public_key()
        alg = alg_for_key(public_key)
        if key_pem is not None:
            private_key = _load_private_key(key_pem, password)
            if spki_of(private_key.public_key()) != spki_of(public_key):
                raise ValueError("the private key does not belong to the certificate")
            key = self.backend.import_key(private_key, alg,
                                          f"pki-{ca_id}-{secrets.token_hex(4)}")
            del private_key
        else:
            key = KeyRef(backend=NO_KEY_BACKEND, alg=alg, public_spki=spki_of(public_key))
        kind = "root" if _self_signed(cert) else "issuing"
        parent_id = None if kind == "root" else self._parent_of(cert)
        try:
            with self.db.session() as s:
                s.add(CertificateAuthority(id=ca_id, kind=kind, parent_id=parent_id,
                                           key_ref=key.to_dict(), cert_der=der_of(cert),
                                           imported=True, crl_number=0, created_at=utcnow()))
                audit.record(s, "ca.imported", ca_id=ca_id, kind=kind, parent_id=parent_id,
                             alg=alg, signing=key.backend != NO_KEY_BACKEND,
                             serial=profiles.serial_hex(cert.serial_number),
                             subject=profiles.masked_subject(cert.subject))
        except BaseException:
            if key.backend != NO_KEY_BACKEND:
                self.backend.destroy(key)
            raise
        record = self._remember(CaRecord(ca_id, kind, parent_id, cert, key, imported=True))
        if record.can_sign:
            self._create(_Spec(f"ocsp-{ca_id}", "ocsp", ca_id, profiles.END_ENTITY_ALG,
                               "OCSP Responder", "ocsp_responder"),
                         _org_of(cert))
        return record

    def _parent_of(self, cert: x509.Certificate) -> str | None:
        for record in self.cas():
            if record.kind in ISSUING_KINDS and record.cert.subject == cert.issuer:
                try:
                    cert.verify_directly_issued_by(record.cert)
                except (ValueError, TypeError, InvalidSignature):
                    continue
                return record.id
        return None


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _org_of(cert: x509.Certificate) -> str:
    orgs = cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    value = (orgs or cns)
    return str(value[0].value) if value else "Imported CA"


def _iso(value: datetime | None) -> str | None:
    aware = as_utc(value)
    return aware.isoformat() if aware else None
