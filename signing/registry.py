"""The e-license and e-certificate registry: its rules as plain Python (no Flask, no database).

- `TYPES`: the license and certificate types an agency may issue, each with its titles in Thai
  and English, its fields (required or optional) and what a verifier may see of it in public
  (`public_fields`, and whether the holder's name is shown at all).
- `parse_issue(body, now)`: an issue request checked field by field into an `IssueRequest`;
  every refusal is a `RegistryError` with a stable `code` and the field it is about.
- Status: `active` → `suspended` → `active`, anything → `revoked` (final). Expiry is not a
  status: `registry_status(doc, now)` computes `expired` / `not_yet_valid` from the dates.
- `public_view(doc, type)`: the minimal data a verification page shows.

Dates: `valid_from` and `valid_until` are RFC 3339 date-times with an offset, or plain dates
(YYYY-MM-DD) read in Thai time (UTC+07:00); a plain `valid_until` date is valid through the
end of that day. Stored instants are UTC; `valid_until` is exclusive.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Protocol

from kyc.thai_id import mask, normalize_thai_id

THAI_TIME = timezone(timedelta(hours=7), "ICT")
KINDS = ("e-license", "e-certificate")
STATUSES = ("active", "suspended", "revoked")
ACTIONS = {"suspend": "suspended", "reinstate": "active", "revoke": "revoked"}
#: (from, action) → to. Revoked is final; expiry is computed, never a transition.
TRANSITIONS = {
    ("active", "suspend"): "suspended",
    ("suspended", "reinstate"): "active",
    ("active", "revoke"): "revoked",
    ("suspended", "revoke"): "revoked",
}
ID_BYTES = 24  # 192 bits from `secrets`, 32 URL-safe characters
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{22,43}")
MAX_NAME = 200
MAX_VALUE = 300
MAX_REASON = 200
MAX_FIELDS = 20
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class RegistryError(ValueError):
    """A refused request: `code` is stable (for programs), `message` plain English (for
    people, never echoing an ID number), `field` the JSON path it is about, if any."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class FieldSpec:
    name: str
    th: str
    en: str
    required: bool = True


@dataclass(frozen=True)
class LicenseType:
    """One kind of document an agency issues, and what the public sees of it."""

    name: str
    kind: str  # e-license | e-certificate
    title_th: str
    title_en: str
    fields: tuple[FieldSpec, ...]
    public_fields: tuple[str, ...]
    public_holder_name: bool = False
    needs_expiry: bool = True

    def spec(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


TYPES: dict[str, LicenseType] = {t.name: t for t in (
    LicenseType(
        name="business_license", kind="e-license",
        title_th="ใบอนุญาตประกอบกิจการ", title_en="Business Operation Licence",
        fields=(
            FieldSpec("license_number", "เลขที่ใบอนุญาต", "Licence number"),
            FieldSpec("business_name", "ชื่อสถานประกอบการ", "Business name"),
            FieldSpec("business_type", "ประเภทกิจการ", "Type of business"),
            FieldSpec("address", "ที่ตั้งสถานประกอบการ", "Business address", required=False),
        ),
        # The business is public; its owner (the holder) is a person and is not shown.
        public_fields=("license_number", "business_name", "business_type"),
    ),
    LicenseType(
        name="professional_license", kind="e-license",
        title_th="ใบอนุญาตประกอบวิชาชีพ", title_en="Professional Licence",
        fields=(
            FieldSpec("license_number", "เลขที่ใบอนุญาต", "Licence number"),
            FieldSpec("profession", "วิชาชีพ", "Profession"),
            FieldSpec("level", "ระดับ", "Level", required=False),
        ),
        # Who may practise is what a verifier asks: the name is shown, never the ID.
        public_fields=("license_number", "profession", "level"),
        public_holder_name=True,
    ),
    LicenseType(
        name="training_certificate", kind="e-certificate",
        title_th="ประกาศนียบัตร", title_en="Certificate of Completion",
        fields=(
            FieldSpec("course", "หลักสูตร", "Course"),
            FieldSpec("hours", "จำนวนชั่วโมง", "Hours", required=False),
            FieldSpec("result", "ผลการประเมิน", "Result", required=False),
        ),
        public_fields=("course",),
        public_holder_name=True,
        needs_expiry=False,
    ),
)}


def license_type(name: str) -> LicenseType:
    try:
        return TYPES[name]
    except KeyError:
        raise RegistryError("unknown_type", f"type must be one of {', '.join(TYPES)}",
                            "type") from None


# --- issue requests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueRequest:
    """A checked issue request. `national_id` is the holder's normalised Thai ID or None; it
    goes only into the sealed identifier columns and, masked, onto the PDF."""

    type: LicenseType
    holder_name: str
    holder_name_en: str | None
    national_id: str | None
    fields: dict[str, str]
    valid_from: datetime
    valid_until: datetime | None

    @property
    def holder(self) -> dict[str, str]:
        """What is stored as the holder (names only)."""
        out = {"name": self.holder_name}
        if self.holder_name_en:
            out["name_en"] = self.holder_name_en
        return out

    @property
    def national_id_masked(self) -> str | None:
        return mask(self.national_id) if self.national_id else None


def _clean_text(value: Any, where: str, limit: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise RegistryError("invalid_field", f"{where} must be text", where)
    value = unicodedata.normalize("NFC", " ".join(value.split()))
    if not value:
        if not required:
            return None
        raise RegistryError("missing_field", f"{where} must not be empty", where)
    if len(value) > limit:
        raise RegistryError("invalid_field", f"{where} is at most {limit} characters", where)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") for c in value):
        raise RegistryError("invalid_field", f"{where} contains control characters", where)
    return value


def _holder(value: Any) -> tuple[str, str | None, str | None]:
    if not isinstance(value, dict):
        raise RegistryError("invalid_holder", "holder must be an object with a name",
                            "holder")
    unknown = set(value) - {"name", "name_en", "national_id"}
    if unknown:
        raise RegistryError("invalid_holder", "holder may only have name, name_en and "
                            "national_id", "holder")
    name = _clean_text(value.get("name"), "holder.name", MAX_NAME)
    name_en = _clean_text(value.get("name_en"), "holder.name_en", MAX_NAME, required=False)
    raw_id = value.get("national_id")
    national_id = None
    if raw_id is not None:
        national_id = normalize_thai_id(raw_id) if isinstance(raw_id, str) and \
            len(raw_id) <= 40 else None
        if national_id is None:
            raise RegistryError("invalid_holder", "holder.national_id is not a valid Thai "
                                "national ID number", "holder.national_id")
    assert name is not None
    return name, name_en, national_id


def _fields(kind: LicenseType, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise RegistryError("invalid_field", "fields must be an object", "fields")
    if len(value) > MAX_FIELDS:
        raise RegistryError("invalid_field", f"fields has at most {MAX_FIELDS} entries",
                            "fields")
    for name in value:
        if kind.spec(str(name)) is None:
            raise RegistryError("unknown_field", f"{kind.name} has no field {str(name)[:40]!r}; "
                                f"its fields: {', '.join(f.name for f in kind.fields)}",
                                f"fields.{str(name)[:40]}")
    out: dict[str, str] = {}
    for spec in kind.fields:
        where = f"fields.{spec.name}"
        if spec.required and value.get(spec.name) is None:
            raise RegistryError("missing_field", f"{where} is required for {kind.name}", where)
        text = _clean_text(value.get(spec.name), where, MAX_VALUE, required=spec.required)
        if text is not None:
            out[spec.name] = text
    return out


def parse_when(value: Any, where: str, *, end_of_day: bool = False) -> datetime:
    """An RFC 3339 date-time with an offset, or a date read in Thai time (for an end date:
    the start of the next day, since `valid_until` is exclusive)."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        raise RegistryError("invalid_validity", f"{where} must be a date (YYYY-MM-DD) or an "
                            "RFC 3339 date-time", where)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=THAI_TIME)
            when = start + timedelta(days=1) if end_of_day else start
        else:
            when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            if when.tzinfo is None:
                raise ValueError("no offset")
    except ValueError:
        raise RegistryError("invalid_validity", f"{where} must be a date (YYYY-MM-DD) or an "
                            "RFC 3339 date-time with an offset", where) from None
    when = when.astimezone(UTC)
    if not EARLIEST <= when < LATEST:
        raise RegistryError("invalid_validity", f"{where} must be between 2000 and 2199",
                            where)
    return when


def parse_issue(body: Mapping[str, Any], now: datetime) -> IssueRequest:
    """Check an issue request (the JSON body) in order: type, holder, fields, validity."""
    unknown = set(body) - {"type", "holder", "fields", "valid_from", "valid_until"}
    if unknown:
        name = sorted(map(str, unknown))[0][:40]
        raise RegistryError("unknown_member", f"unknown member {name!r}; the body has type, "
                            "holder, fields, valid_from, valid_until", name)
    type_name = body.get("type")
    if not isinstance(type_name, str):
        raise RegistryError("unknown_type", f"type must be one of {', '.join(TYPES)}", "type")
    kind = license_type(type_name)
    name, name_en, national_id = _holder(body.get("holder"))
    values = _fields(kind, body.get("fields"))
    raw_from = body.get("valid_from")
    valid_from = now.astimezone(UTC).replace(microsecond=0) if raw_from is None else \
        parse_when(raw_from, "valid_from")
    raw_until = body.get("valid_until")
    if raw_until is None:
        if kind.needs_expiry:
            raise RegistryError("invalid_validity", f"valid_until is required for "
                                f"{kind.name}", "valid_until")
        valid_until = None
    else:
        valid_until = parse_when(raw_until, "valid_until", end_of_day=True)
        if valid_until <= valid_from:
            raise RegistryError("invalid_validity", "valid_until must be after valid_from",
                                "valid_until")
        if valid_until <= now:
            raise RegistryError("invalid_validity", "valid_until is already past",
                                "valid_until")
    return IssueRequest(kind, name, name_en, national_id, values, valid_from, valid_until)


def new_document_id() -> str:
    """The public id: 192 bits from `secrets`, URL-safe (the {id} of /verify/{id})."""
    return secrets.token_urlsafe(ID_BYTES)


def is_document_id(value: str) -> bool:
    return isinstance(value, str) and bool(ID_PATTERN.fullmatch(value))


def verify_url(issuer: str, doc_id: str) -> str:
    return f"{issuer.rstrip('/')}/verify/{doc_id}"


# --- status --------------------------------------------------------------------------------------


class DocumentLike(Protocol):
    """What the status rules read of a stored document (idp.db.RegistryDocument)."""

    status: str
    valid_from: datetime
    valid_until: datetime | None


def check_reason(value: Any) -> str:
    """A status change's reason: short plain text, recorded in the audit trail, so it must
    not carry a national ID number (the audit trail refuses those)."""
    reason = _clean_text(value, "reason", MAX_REASON)
    assert reason is not None
    if re.search(r"\d{13}", re.sub(r"(?<=\d)[\s-](?=\d)", "", reason)):
        raise RegistryError("invalid_field", "reason must not contain an ID number", "reason")
    return reason


def next_status(current: str, action: str) -> str:
    """The status after `action` (suspend | reinstate | revoke), or RegistryError
    `invalid_transition`."""
    if action not in ACTIONS:
        raise RegistryError("invalid_request", "action must be suspend, reinstate or revoke")
    after = TRANSITIONS.get((current, action))
    if after is None:
        if current == "revoked":
            message = "the document is revoked; revocation is final"
        else:
            message = f"a {current} document cannot be {ACTIONS[action]}"
        raise RegistryError("invalid_transition", message)
    return after


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def registry_status(doc: DocumentLike, now: datetime) -> str:
    """"active" | "suspended" | "revoked" | "expired" | "not_yet_valid". Revocation wins over
    everything, the dates over suspension."""
    if doc.status == "revoked":
        return "revoked"
    now = _utc(now)
    if doc.valid_until is not None and now >= _utc(doc.valid_until):
        return "expired"
    if now < _utc(doc.valid_from):
        return "not_yet_valid"
    return "suspended" if doc.status == "suspended" else "active"


# --- public view -----------------------------------------------------------------------------


class PublicDocument(DocumentLike, Protocol):
    id: str
    type: str
    kind: str
    holder: dict[str, Any]
    fields: dict[str, Any]
    status_changed_at: datetime | None


@dataclass(frozen=True)
class PublicField:
    name: str
    th: str
    en: str
    value: str


@dataclass(frozen=True)
class PublicView:
    """What anyone holding the link may see: never the holder's ID, never a field the type
    does not list as public, never the reason for a status change."""

    id: str
    type: str
    kind: str
    title_th: str
    title_en: str
    status: str
    valid_from: datetime
    valid_until: datetime | None
    status_changed_at: datetime | None
    holder_name: str | None
    fields: list[PublicField] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "type": self.type, "kind": self.kind,
            "title": {"th": self.title_th, "en": self.title_en},
            "status": self.status,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "status_changed_at": self.status_changed_at.isoformat()
            if self.status_changed_at else None,
            "holder_name": self.holder_name,
            "fields": [{"name": f.name, "label": {"th": f.th, "en": f.en}, "value": f.value}
                       for f in self.fields],
        }


def public_view(doc: PublicDocument, kind: LicenseType | None = None,
                now: datetime | None = None) -> PublicView:
    """The minimal public data of `doc`, as its type chooses."""
    kind = kind or license_type(doc.type)
    shown = [PublicField(spec.name, spec.th, spec.en, str(doc.fields[spec.name]))
             for spec in kind.fields
             if spec.name in kind.public_fields and doc.fields.get(spec.name) is not None]
    name = doc.holder.get("name") if kind.public_holder_name else None
    return PublicView(
        id=doc.id, type=kind.name, kind=kind.kind, title_th=kind.title_th,
        title_en=kind.title_en,
        status=registry_status(doc, now or datetime.now(UTC)),
        valid_from=_utc(doc.valid_from),
        valid_until=_utc(doc.valid_until) if doc.valid_until else None,
        status_changed_at=_utc(doc.status_changed_at) if doc.status_changed_at else None,
        holder_name=str(name) if name else None, fields=shown)


# --- the document hash ------------------------------------------------------------------------


def sha256_hex(pdf: bytes) -> str:
    return hashlib.sha256(pdf).hexdigest()


def match_issued(pdf: bytes, sha256: str, size: int) -> str:
    """How `pdf` relates to the issued one: "exact" (the same bytes), "extended" (the issued
    bytes followed by incremental updates, e.g. a later archive time-stamp; what the updates
    changed is for signature validation to judge) or "different" (not the one issued)."""
    if len(pdf) == size and secrets.compare_digest(sha256_hex(pdf), sha256):
        return "exact"
    if len(pdf) > size and secrets.compare_digest(sha256_hex(pdf[:size]), sha256):
        return "extended"
    return "different"
