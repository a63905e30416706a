"""Certificate profiles of the provider's own CA (RFC 5280, ETSI EN 319 412-1/-2/-3), and CRLs.

Each profile is a small named function returning the extensions list, so reading one function
tells what a certificate of that kind says. Names (subjects) are built by their own functions,
with the ETSI semantics identifiers. Signing always goes through a key backend
(`keys.x509sign`), so the same code serves sealed software keys and an HSM.

Algorithms: CAs (root, issuing) use ECDSA P-384 with SHA-384 (`CA_ALG`): they live for 10-20
years and sign everything below them, so they get the larger curve (the CNSA / ETSI TS 119 312
choice for long-lived keys). End entities (citizen, seal, OCSP responders) use P-256 with
SHA-256 (`END_ENTITY_ALG`): the fastest widely supported signature, ample for a 1-3 year key.
The time-stamping unit uses P-384 (`TSA_ALG`), because its tokens must stay checkable for a
decade in long-term (B-LTA) signatures.

Policy OIDs sit under `POLICY_ARC`, a PLACEHOLDER arc: replace it with the arc the national
CA (or the organisation's own IANA enterprise number) assigns before issuing anything real.

Plain Python, no Flask or SQLAlchemy.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keys.backend import KeyBackend, KeyRef
from keys.x509sign import authority_key_identifier, sign_certificate, sign_crl

# --- constants -------------------------------------------------------------------------------

POLICY_ARC = "1.3.6.1.4.1.99999"
"""PLACEHOLDER private-enterprise arc: to be replaced by the OID the national CA assigns
(or the operator's own IANA Private Enterprise Number). Nothing outside this module spells it."""

POLICY_CITIZEN = f"{POLICY_ARC}.1.1"
"""Certificate policy of citizen signing certificates (natural persons, not qualified)."""
POLICY_SEAL = f"{POLICY_ARC}.1.2"
"""Certificate policy of agency seal certificates (legal persons, not qualified)."""
POLICY_TSA = f"{POLICY_ARC}.1.3"
"""Certificate policy of the time-stamping unit certificate."""
TSA_POLICY = f"{POLICY_ARC}.2.1"
"""The time-stamp policy the TSA names in TSTInfo.policy (RFC 3161 2.4.2)."""
ANY_POLICY = "2.5.29.32.0"

CA_ALG = "ES384"
END_ENTITY_ALG = "ES256"
TSA_ALG = "ES384"

SERIAL_BYTES = 20
DAYS = {
    "root_ca": 20 * 365 + 5,
    "issuing_ca": 10 * 365 + 3,
    "citizen_signing": 2 * 365,
    "agency_seal": 3 * 365,
    "tsa_unit": 6 * 365,
    "ocsp_responder": 30,
}
"""Default validity per profile. OCSP responder certificates are short-lived because they carry
id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1): nothing can revoke them, so they must expire soon."""
BACKDATE = timedelta(minutes=5)
"""notBefore is set this far in the past, so a relying party whose clock runs a little behind
does not reject a certificate issued a moment ago."""

Ext = tuple[x509.ExtensionType, bool]
"""One extension and whether it is critical."""


# --- issuer reference and URLs ---------------------------------------------------------------


@dataclass(frozen=True)
class Issuer:
    """The CA a certificate is issued under, as the profiles need it: its id (for URLs), its
    certificate (for the name and the AKI) and the provider's issuer URL (the base of /pki/)."""

    ca_id: str
    cert: x509.Certificate
    base_url: str

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/pki/ocsp"

    @property
    def ca_issuers_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/pki/ca/{self.ca_id}.crt"

    @property
    def crl_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/pki/crl/{self.ca_id}.crl"


def ocsp_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/pki/ocsp"


# --- building blocks -------------------------------------------------------------------------


def _ski(public_key: PublicKeyTypes) -> Ext:
    return x509.SubjectKeyIdentifier.from_public_key(public_key), False  # type: ignore[arg-type]


def _aki(issuer: Issuer) -> Ext:
    return authority_key_identifier(issuer.cert.public_key(), issuer.cert), False


def _ca_key_usage(*, digital_signature: bool) -> Ext:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False,
    ), True


def _ee_key_usage(*, non_repudiation: bool) -> Ext:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=non_repudiation, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    ), True


def _policies(*oids: str) -> Ext:
    return x509.CertificatePolicies(
        [x509.PolicyInformation(x509.ObjectIdentifier(oid), None) for oid in oids]), False


def revocation_pointers(issuer: Issuer) -> list[Ext]:
    """AIA (OCSP responder and caIssuers) and the CRL distribution point, all under /pki/."""
    aia = x509.AuthorityInformationAccess([
        x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP,
                               x509.UniformResourceIdentifier(issuer.ocsp_url)),
        x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS,
                               x509.UniformResourceIdentifier(issuer.ca_issuers_url)),
    ])
    cdp = x509.CRLDistributionPoints([x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(issuer.crl_url)],
        relative_name=None, reasons=None, crl_issuer=None)])
    return [(aia, False), (cdp, False)]


# --- profiles ----------------------------------------------------------------------------------


def root_ca(public_key: PublicKeyTypes) -> list[Ext]:
    """Self-signed trust anchor (RFC 5280 4.2.1.9/4.2.1.3): CA without path length limit, signs
    certificates and CRLs only. No AIA/CRL DP (nothing above it) and no policies (a trust
    anchor's policies are not processed)."""
    return [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        _ca_key_usage(digital_signature=False),
        _ski(public_key),
    ]


def issuing_ca(public_key: PublicKeyTypes, issuer: Issuer,
               policies: Sequence[str] = (ANY_POLICY,)) -> list[Ext]:
    """Issuing CA under the root, for "citizen" signing or "seal" agency seal certificates:
    path length 0 (issues end entities only). digitalSignature is set as well, so the CA may
    sign OCSP answers itself (RFC 6960 4.2.2.2) where no delegated responder exists.
    `policies` names the certificate policies it issues under."""
    return [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        _ca_key_usage(digital_signature=True),
        _policies(*policies),
        _ski(public_key),
        _aki(issuer),
        *revocation_pointers(issuer),
    ]


def citizen_signing(public_key: PublicKeyTypes, issuer: Issuer) -> list[Ext]:
    """A natural person's signing certificate (ETSI EN 319 412-2).

    Key usage digitalSignature + nonRepudiation (contentCommitment), critical: EN 319 412-2
    4.3.2 has certificates that validate commitment to signed content carry nonRepudiation, and
    pyhanko's signer checks want it.

    No extended key usage, deliberately. EN 319 412-2 does not require one for signing
    certificates, and when EKU is present every verifier restricts the certificate to the listed
    purposes: NSS (behind pdfsig) and `openssl -purpose smimesign` then demand
    id-kp-emailProtection, Adobe demands emailProtection, document signing
    (1.3.6.1.4.1.311.10.3.12) or its own OID, and other validators their own. Omitting it is the
    one choice all PDF verifiers accept; the critical key usage already limits the key to
    signatures (no encipherment, no certificate signing).

    Not a qualified certificate: no qcStatements are claimed (that needs a qualified status
    this sandbox CA does not have).
    """
    return [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        _ee_key_usage(non_repudiation=True),
        _policies(POLICY_CITIZEN),
        _ski(public_key),
        _aki(issuer),
        *revocation_pointers(issuer),
    ]


def agency_seal(public_key: PublicKeyTypes, issuer: Issuer) -> list[Ext]:
    """An agency's (legal person's) seal certificate (ETSI EN 319 412-3): same usage as a
    citizen's, under the seal policy; the subject carries O and organizationIdentifier."""
    return [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        _ee_key_usage(non_repudiation=True),
        _policies(POLICY_SEAL),
        _ski(public_key),
        _aki(issuer),
        *revocation_pointers(issuer),
    ]


def tsa_unit(public_key: PublicKeyTypes, issuer: Issuer) -> list[Ext]:
    """The time-stamping unit (RFC 3161 2.3, ETSI EN 319 422): exactly one extended key usage,
    id-kp-timeStamping, critical; key usage digitalSignature."""
    return [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        _ee_key_usage(non_repudiation=False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True),
        _policies(POLICY_TSA),
        _ski(public_key),
        _aki(issuer),
        *revocation_pointers(issuer),
    ]


def ocsp_responder(public_key: PublicKeyTypes, issuer: Issuer) -> list[Ext]:
    """A delegated OCSP responder (RFC 6960 4.2.2.2): issued by the CA it answers for, EKU
    id-kp-OCSPSigning, and id-pkix-ocsp-nocheck so clients do not ask about the responder
    itself (hence the short validity, DAYS["ocsp_responder"])."""
    return [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        _ee_key_usage(non_repudiation=False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False),
        (x509.OCSPNoCheck(), False),
        _ski(public_key),
        _aki(issuer),
        *revocation_pointers(issuer),
    ]


END_ENTITY_PROFILES: dict[str, Callable[[PublicKeyTypes, Issuer], list[Ext]]] = {
    "citizen_signing": citizen_signing,
    "agency_seal": agency_seal,
    "tsa_unit": tsa_unit,
    "ocsp_responder": ocsp_responder,
}
PROFILE_ALIASES = {"citizen": "citizen_signing", "seal": "agency_seal", "tsa": "tsa_unit",
                   "ocsp": "ocsp_responder"}


def profile_name(name: str) -> str:
    """The canonical profile name for `name` or its short alias; ValueError if unknown."""
    canonical = PROFILE_ALIASES.get(name, name)
    if canonical not in END_ENTITY_PROFILES:
        raise ValueError(f"unknown certificate profile {name!r} "
                         f"(one of: {', '.join(END_ENTITY_PROFILES)})")
    return canonical


# --- names -----------------------------------------------------------------------------------

ATTRIBUTES: dict[str, x509.ObjectIdentifier] = {
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "organizationIdentifier": NameOID.ORGANIZATION_IDENTIFIER,
    "SN": NameOID.SURNAME,
    "GN": NameOID.GIVEN_NAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "pseudonym": NameOID.PSEUDONYM,
    "CN": NameOID.COMMON_NAME,
}
"""Subject attributes we accept, by short name, in the order they appear in a name (most
general first)."""
ATTRIBUTE_ALIASES = {
    "countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
    "organizationName": "O", "organizationalUnitName": "OU", "surname": "SN",
    "givenName": "GN", "G": "GN", "commonName": "CN",
}
MAX_ATTRIBUTE_CHARS = 128


def parse_dn(text: str) -> dict[str, str]:
    """'CN=Somchai Jaidee,O=Agency' into a dict keyed by short name; `\\,` escapes a comma."""
    result: dict[str, str] = {}
    parts, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    for part in parts:
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"subject part {part.strip()[:40]!r} is not NAME=value")
        result[key.strip()] = value.strip()
    return result


def normalise_subject(subject: dict[str, str]) -> dict[str, str]:
    """Short names for every key; unknown names, empty or oversized values are refused."""
    out: dict[str, str] = {}
    for key, value in subject.items():
        short = ATTRIBUTE_ALIASES.get(key, key)
        if short not in ATTRIBUTES:
            raise ValueError(f"unsupported subject attribute {key!r} "
                             f"(one of: {', '.join(ATTRIBUTES)})")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"subject attribute {short} is empty")
        if len(value) > MAX_ATTRIBUTE_CHARS:
            raise ValueError(f"subject attribute {short} is longer than {MAX_ATTRIBUTE_CHARS}")
        out[short] = value.strip()
    country = out.get("C", "TH")
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise ValueError("C must be a two-letter ISO 3166 country code")
    out["C"] = country
    return out


def make_name(subject: dict[str, str]) -> x509.Name:
    attrs = normalise_subject(subject)
    return x509.Name([x509.NameAttribute(oid, attrs[key])
                      for key, oid in ATTRIBUTES.items() if key in attrs])


def ca_name(org: str, common_name: str) -> x509.Name:
    return make_name({"C": "TH", "O": org, "CN": common_name})


def is_valid_thai_id(value: str) -> bool:
    """13 digits whose last is the mod-11 check digit of the first twelve (DOPA's rule)."""
    if not re.fullmatch(r"\d{13}", value):
        return False
    total = sum(int(d) * (13 - i) for i, d in enumerate(value[:12]))
    return (11 - total % 11) % 10 == int(value[12])


def pnoth_identifier(th_id: str) -> str:
    """ETSI EN 319 412-1 5.1.3 natural-person semantics identifier: "PNO" (national personal
    number) + "TH" + "-" + the 13-digit Thai ID number."""
    digits = re.sub(r"[\s-]", "", th_id)
    if not is_valid_thai_id(digits):
        raise ValueError("the Thai ID number is not 13 digits with a valid check digit")
    return f"PNOTH-{digits}"


def pseudonymous_serial() -> str:
    """A random subject serialNumber for holders who did not consent to their ID number in the
    certificate: 32 hex digits, no "XXXCC-" prefix, so it cannot be read as an ETSI semantics
    identifier, and unlinkable across certificates."""
    return secrets.token_hex(16).upper()


ORG_ID_PATTERN = re.compile(r"(?:(?:NTR|VAT|PSD|LEI|GOV)[A-Z]{2}-[A-Za-z0-9.\-/]{1,60}"
                            r"|[A-Z]{2}:[A-Za-z0-9.\-/:]{1,60})")


def organization_identifier(scheme: str, value: str, country: str = "TH") -> str:
    """ETSI EN 319 412-1 5.1.4 legal-person semantics identifier.

    - "NTR" + country: the national trade register; in Thailand the 13-digit juristic person
      number of the Department of Business Development (NTRTH-0105558000001).
    - "VAT" + country: the 13-digit Revenue Department tax number.
    - "GOV" + country: a government agency code where the agency has no juristic number. GOV is
      NOT one of the ETSI-registered types; it is our local convention until the national CA
      fixes one, and verifiers treat it as opaque text.
    """
    scheme = scheme.upper()
    if scheme in ("NTR", "VAT") and country == "TH" and not re.fullmatch(r"\d{13}", value):
        raise ValueError(f"a Thai {scheme} identifier is 13 digits")
    ident = f"{scheme}{country}-{value}"
    check_organization_identifier(ident)
    return ident


def check_organization_identifier(value: str) -> None:
    if not ORG_ID_PATTERN.fullmatch(value):
        raise ValueError("organizationIdentifier must look like NTRTH-<13 digits>, "
                         "VATTH-<13 digits>, GOVTH-<agency code> or CC:<local id>")


def citizen_subject(subject: dict[str, str], *, consent_pnoth: bool = False,
                    th_id: str | None = None) -> x509.Name:
    """Natural person (EN 319 412-2 4.2.4): C, givenName and/or surname, serialNumber, CN.

    serialNumber is the PNOTH semantics identifier only when the holder consented to their ID
    number appearing in the certificate; otherwise a random pseudonymous value. A caller-given
    serialNumber is refused, so consent cannot be bypassed through the subject.
    """
    attrs = normalise_subject(subject)
    if "serialNumber" in attrs:
        raise ValueError("serialNumber is set by the profile (PNOTH with consent, else random)")
    if "GN" not in attrs and "SN" not in attrs and "pseudonym" not in attrs:
        raise ValueError("a citizen certificate needs givenName and/or surname (or pseudonym)")
    if consent_pnoth:
        if not th_id:
            raise ValueError("consent to PNOTH given but no Thai ID number supplied")
        attrs["serialNumber"] = pnoth_identifier(th_id)
    else:
        attrs["serialNumber"] = pseudonymous_serial()
    attrs.setdefault("CN", " ".join(v for v in (attrs.get("GN"), attrs.get("SN")) if v)
                     or attrs.get("pseudonym", ""))
    return make_name(attrs)


def seal_subject(subject: dict[str, str]) -> x509.Name:
    """Legal person (EN 319 412-3 4.2.1): C, O, organizationIdentifier, CN (default: O)."""
    attrs = normalise_subject(subject)
    if "O" not in attrs or "organizationIdentifier" not in attrs:
        raise ValueError("an agency seal certificate needs O and organizationIdentifier")
    check_organization_identifier(attrs["organizationIdentifier"])
    attrs.setdefault("CN", attrs["O"])
    return make_name(attrs)


def service_subject(subject: dict[str, str]) -> x509.Name:
    """TSA units and OCSP responders: C, O, CN."""
    attrs = normalise_subject(subject)
    if "CN" not in attrs:
        raise ValueError("a service certificate needs CN")
    if "serialNumber" in attrs and attrs["serialNumber"].upper().startswith("PNO"):
        raise ValueError("a service certificate cannot carry a personal number")
    return make_name(attrs)


def subject_for(profile: str, subject: dict[str, str], *, consent_pnoth: bool = False,
                th_id: str | None = None) -> x509.Name:
    profile = profile_name(profile)
    if profile == "citizen_signing":
        return citizen_subject(subject, consent_pnoth=consent_pnoth, th_id=th_id)
    if consent_pnoth or th_id:
        raise ValueError("a Thai ID number belongs only in citizen certificates")
    if profile == "agency_seal":
        return seal_subject(subject)
    return service_subject(subject)


_TEXT_NAMES = {oid: short for short, oid in ATTRIBUTES.items()
               if short in ("GN", "SN", "serialNumber", "organizationIdentifier", "pseudonym")}


def subject_text(name: x509.Name) -> str:
    """RFC 4514 text with readable names for the ETSI attributes (GN, SN, serialNumber...)."""
    return name.rfc4514_string(_TEXT_NAMES)


def masked_subject(name: x509.Name) -> str:
    """The subject as RFC 4514 text with any PNOTH identifier masked, fit for listings and the
    audit trail (a national ID number never goes there)."""
    return re.sub(r"PNO([A-Z]{2})-[0-9]+", r"PNO\1-*************", subject_text(name))


# --- certificates ----------------------------------------------------------------------------


def new_serial() -> int:
    """RFC 5280 4.1.2.2: positive, at most 20 octets; 159 random bits from `secrets`."""
    while True:
        n = int.from_bytes(secrets.token_bytes(SERIAL_BYTES), "big") & ((1 << 159) - 1)
        if n:
            return n


def serial_hex(serial: int) -> str:
    """How a serial is stored and shown: lower-case hex without leading zeros."""
    return format(serial, "x")


def parse_serial(value: int | str) -> int:
    """A serial given as an int, or as hex text ("0x..", colons and spaces allowed)."""
    if isinstance(value, int):
        return value
    text = re.sub(r"[\s:]", "", value).lower().removeprefix("0x")
    if not re.fullmatch(r"[0-9a-f]{1,40}", text):
        raise ValueError("a serial number is up to 40 hex digits")
    return int(text, 16)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def validity(days: int, *, now: datetime | None = None,
             issuer_cert: x509.Certificate | None = None) -> tuple[datetime, datetime]:
    """(notBefore, notAfter): backdated by BACKDATE, whole seconds, never past the issuer's
    own notAfter (a certificate outliving its CA cannot be validated at its end)."""
    if days <= 0:
        raise ValueError("validity must be at least one day")
    start = (now or datetime.now(UTC)).replace(microsecond=0)
    not_before = start - BACKDATE
    not_after = start + timedelta(days=days)
    if issuer_cert is not None:
        not_after = min(not_after, issuer_cert.not_valid_after_utc)
    if not_after <= start:
        raise ValueError("the issuing CA has expired")
    return not_before, not_after


def issue_certificate(*, subject: x509.Name, public_key: PublicKeyTypes,
                      extensions: Sequence[Ext], not_before: datetime, not_after: datetime,
                      issuer_key_ref: KeyRef, backend: KeyBackend,
                      issuer_cert: x509.Certificate | None = None,
                      serial: int | None = None) -> x509.Certificate:
    """Build and sign one certificate; `issuer_cert=None` makes a self-signed one."""
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
               .public_key(public_key)  # type: ignore[arg-type]
               .serial_number(serial if serial is not None else new_serial())
               .not_valid_before(_utc(not_before))
               .not_valid_after(_utc(not_after)))
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return sign_certificate(builder, issuer_key_ref, backend, issuer_cert=issuer_cert)


# --- CRLs ------------------------------------------------------------------------------------

FORBIDDEN_REASONS = {x509.ReasonFlags.certificate_hold, x509.ReasonFlags.remove_from_crl}


def reason_flag(reason: str) -> x509.ReasonFlags:
    """A CRLReason (RFC 5280 5.3.1) by its RFC name (keyCompromise) or Python name
    (key_compromise). certificateHold and removeFromCRL are refused: our revocations are final."""
    flag: x509.ReasonFlags | None = None
    for candidate in x509.ReasonFlags:
        if reason in (candidate.value, candidate.name):
            flag = candidate
    if flag is None:
        names = ", ".join(f.value for f in x509.ReasonFlags if f not in FORBIDDEN_REASONS)
        raise ValueError(f"unknown revocation reason {reason!r} (one of: {names})")
    if flag in FORBIDDEN_REASONS:
        raise ValueError(f"{flag.value} is not supported: revocation here is permanent")
    return flag


def build_crl(issuer_cert: x509.Certificate, issuer_key_ref: KeyRef, backend: KeyBackend,
              revoked: Sequence[tuple[int, datetime, str | None]], number: int,
              this_update: datetime, next_update: datetime
              ) -> x509.CertificateRevocationList:
    """A v2 CRL (RFC 5280 5) with the CRL number and AKI extensions; each entry carries its
    reasonCode, except "unspecified", which RFC 5280 5.3.1 says to leave out."""
    if number < 0 or number.bit_length() > 159:
        raise ValueError("the CRL number is a non-negative integer of at most 20 octets")
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(issuer_cert.subject)
               .last_update(_utc(this_update).replace(microsecond=0))
               .next_update(_utc(next_update).replace(microsecond=0))
               .add_extension(x509.CRLNumber(number), critical=False)
               .add_extension(authority_key_identifier(issuer_cert.public_key(), issuer_cert),
                              critical=False))
    for serial, revoked_at, reason in revoked:
        entry = (x509.RevokedCertificateBuilder()
                 .serial_number(serial)
                 .revocation_date(_utc(revoked_at).replace(microsecond=0)))
        flag = reason_flag(reason or "unspecified")
        if flag is not x509.ReasonFlags.unspecified:
            entry = entry.add_extension(x509.CRLReason(flag), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return sign_crl(builder, issuer_key_ref, backend, issuer_cert=issuer_cert)
