"""The data a verification produces: indications in ETSI EN 319 102-1 words, one verdict per
signature, one report per document. Plain data so it crosses a process boundary (pickled from
the bounded child) and becomes JSON for the API with stable key names.

Kept apart from `signing.verification` so the pyhanko glue (`signing.verification_ades`) and the
entry points can both import it without a cycle; `signing.verification` re-exports every name.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509


class Indication(enum.StrEnum):
    """The main status indication of ETSI EN 319 102-1 (clause 5.1.3)."""

    TOTAL_PASSED = "TOTAL_PASSED"
    TOTAL_FAILED = "TOTAL_FAILED"
    INDETERMINATE = "INDETERMINATE"

    @property
    def severity(self) -> int:
        """For "worst over the signatures": a proven failure outranks "cannot tell"."""
        return {"TOTAL_PASSED": 0, "INDETERMINATE": 1, "TOTAL_FAILED": 2}[self.value]


class Refusal(enum.StrEnum):
    """Why a file got no verdict at all (the caller shows a clear message, not a judgment)."""

    NOT_PDF = "not_pdf"
    ENCRYPTED = "encrypted"
    TOO_LARGE = "too_large"
    DAMAGED = "damaged"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class TrustPolicy:
    """What the verifier trusts and may do.

    `roots` are the trust anchors (our root plus imported ones such as a national root CA);
    `intermediates` help build paths when a file omits them. Revocation data is taken from the
    file first (DSS, the CMS's adbe-revocationInfoArchival); only with `online_revocation` does
    the verifier fetch OCSP/CRL from the URLs in the certificates, each request bounded by
    `fetch_timeout` seconds. Certificates are never fetched (AIA chasing would let an uploaded
    file make us call any address it names).
    """

    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()
    online_revocation: bool = False
    fetch_timeout: float = 5.0


@dataclass
class CertificateInfo:
    """One certificate of a chain as a person reads it (hex serial and SHA-256 fingerprint
    so it can be compared with what the issuing CA publishes)."""

    subject: str
    issuer: str
    serial: str
    sha256: str
    not_before: datetime
    not_after: datetime


@dataclass
class SignatureVerdict:
    """One signature or document time-stamp, judged.

    `errors` and `warnings` are short snake_case codes, never prose: the web layer maps them to
    Thai and English text. `revision` is the 0-based revision of the file the signature signed
    (-1 when its /Contents could not be parsed at all).
    """

    field_name: str
    kind: str  # "signature" | "doc_timestamp"
    revision: int
    indication: Indication = Indication.INDETERMINATE
    sub_indication: str | None = None
    format: str | None = None
    signer: str | None = None
    chain: list[CertificateInfo] = field(default_factory=list)
    trust_anchor: str | None = None
    claimed_time: datetime | None = None
    timestamp_time: datetime | None = None
    timestamp_authority: str | None = None
    revocation_status: str = "not_checked"  # good | revoked | unknown | not_checked
    revocation_source: str = "none"  # embedded | online | none
    coverage: str = "partial"  # entire_file | entire_revision | partial
    modifications: str = "none"  # none | lta_updates | form_filling | annotations | forbidden
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    subfilter: str | None = None
    """Added: the /SubFilter as written in the file (e.g. "ETSI.CAdES.detached")."""
    revocation_time: datetime | None = None
    """Added: when the signer's certificate was revoked, if it was."""
    best_signature_time: datetime | None = None
    """Added: the earliest time the signature is proven to have existed (a time-stamp, or
    the validation time when nothing proves earlier), as ETSI's "best-signature-time"."""
    changed_pages: list[int] = field(default_factory=list)
    """Added: pages (1-based) that look different now than in the revision this signature
    signed, when later changes were of an allowed kind (see signing.visual_changes)."""
    signer_name: str | None = None
    """Added: the signer as a person names them (the certificate's common name, else its
    organisation), for headlines; `signer` keeps the full name."""


@dataclass
class VerificationReport:
    """The verdict on one document: the worst indication over its signatures, or a refusal."""

    indication: Indication
    sub_indication: str | None
    refusal: str | None
    document_sha256: str
    size: int
    pages: int | None
    signatures: list[SignatureVerdict] = field(default_factory=list)
    validation_time: datetime | None = None
    """Added: when the verification ran (UTC)."""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: datetimes as RFC 3339 UTC ("2025-01-31T08:00:00Z"), enums as their
        strings, the dataclass field names as keys (stable: the API documents them)."""
        return _jsonable(dataclasses.asdict(self))


def _rfc3339(value: datetime) -> str:
    if value.tzinfo is None:  # pyhanko gives aware datetimes; a naive one is taken as UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return _rfc3339(value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    return value


def worst(verdicts: list[SignatureVerdict]) -> tuple[Indication, str | None]:
    """The document's indication: the worst of its signatures' (the first such one's
    sub-indication), INDETERMINATE/NO_SIGNATURE when there is none."""
    if not verdicts:
        return Indication.INDETERMINATE, "NO_SIGNATURE"
    bad = max(verdicts, key=lambda v: v.indication.severity)
    return bad.indication, bad.sub_indication
