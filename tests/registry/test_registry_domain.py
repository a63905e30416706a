"""The registry's rules without a server: types, issue requests and their error codes, the
status transitions, expiry from the dates, the public view, reasons and the hash match."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from signing.registry import (
    KINDS,
    TYPES,
    RegistryError,
    check_reason,
    is_document_id,
    match_issued,
    new_document_id,
    next_status,
    parse_issue,
    public_view,
    registry_status,
)

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)


@dataclass
class Doc:
    id: str = "x" * 32
    type: str = "business_license"
    kind: str = "e-license"
    holder: dict[str, Any] = field(default_factory=lambda: {"name": "นายสมชาย ใจดี"})
    fields: dict[str, Any] = field(default_factory=lambda: {
        "license_number": "0123/2569", "business_name": "ร้านป้าน้อย",
        "business_type": "ร้านอาหาร", "address": "123 ถนนสุขุมวิท"})
    status: str = "active"
    valid_from: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    valid_until: datetime | None = datetime(2027, 1, 1, tzinfo=UTC)
    status_changed_at: datetime | None = None


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "business_license", "holder": {"name": "นายสมชาย ใจดี"},
        "fields": {"license_number": "1", "business_name": "ร้าน", "business_type": "อาหาร"},
        "valid_from": "2026-01-01", "valid_until": "2026-12-31"}
    base.update(changes)
    return base


def test_types_are_complete() -> None:
    for name, kind in TYPES.items():
        assert kind.name == name and kind.kind in KINDS
        assert kind.title_th and kind.title_en
        names = {f.name for f in kind.fields}
        assert set(kind.public_fields) <= names
        assert all(f.th and f.en for f in kind.fields)


def test_parse_issue_reads_dates_in_thai_time() -> None:
    req = parse_issue(body(holder={"name": "  นายสมชาย   ใจดี ", "national_id":
                                   "1 3459 51597 67 1"}), NOW)
    assert req.holder == {"name": "นายสมชาย ใจดี"}
    assert req.national_id == "1345951597671"
    assert req.national_id_masked == "1-XXXX-XXXXX-67-1"
    assert req.valid_from == datetime(2025, 12, 31, 17, tzinfo=UTC)  # 00:00 +07:00
    assert req.valid_until == datetime(2026, 12, 31, 17, tzinfo=UTC)  # end of 31 Dec +07
    explicit = parse_issue(body(valid_from="2026-01-01T08:00:00Z",
                                valid_until="2026-12-31T23:00:00+07:00"), NOW)
    assert explicit.valid_until == datetime(2026, 12, 31, 16, tzinfo=UTC)
    default_start = parse_issue({k: v for k, v in body().items() if k != "valid_from"}, NOW)
    assert default_start.valid_from == NOW


@pytest.mark.parametrize(("changes", "code", "where"), [
    ({"type": 3}, "unknown_type", "type"),
    ({"type": "passport"}, "unknown_type", "type"),
    ({"holder": {"name": ""}}, "missing_field", "holder.name"),
    ({"holder": {"name": "ก", "email": "a@b"}}, "invalid_holder", "holder"),
    ({"holder": {"name": "ก", "national_id": "1345951597672"}}, "invalid_holder",
     "holder.national_id"),
    ({"holder": {"name": "ก\u0000ข"}}, "invalid_field", "holder.name"),
    ({"fields": []}, "invalid_field", "fields"),
    ({"fields": {"license_number": "1", "business_name": "ร้าน"}}, "missing_field",
     "fields.business_type"),
    ({"fields": {"license_number": ["1"], "business_name": "ร้าน", "business_type": "ก"}},
     "invalid_field", "fields.license_number"),
    ({"fields": {"license_number": "1", "business_name": "ร้าน", "business_type": "ก",
                 "nope": "x"}}, "unknown_field", "fields.nope"),
    ({"valid_until": "2026-02-30"}, "invalid_validity", "valid_until"),
    ({"valid_until": "2026-12-31T10:00:00"}, "invalid_validity", "valid_until"),
    ({"valid_from": "1999-12-31"}, "invalid_validity", "valid_from"),
    ({"valid_from": "2027-01-01"}, "invalid_validity", "valid_until"),
    ({"valid_until": "2026-05-31"}, "invalid_validity", "valid_until"),
    ({"valid_until": None}, "invalid_validity", "valid_until"),
    ({"color": "red"}, "unknown_member", "color"),
])
def test_parse_issue_refusals(changes: dict[str, Any], code: str, where: str) -> None:
    with pytest.raises(RegistryError) as err:
        parse_issue(body(**changes), NOW)
    assert err.value.code == code and err.value.field == where
    assert "1345951597672" not in err.value.message


def test_certificates_need_no_expiry() -> None:
    req = parse_issue({"type": "training_certificate", "holder": {"name": "มาลี"},
                       "fields": {"course": "PDF signing"}}, NOW)
    assert req.valid_until is None and req.type.kind == "e-certificate"


def test_transitions() -> None:
    assert next_status("active", "suspend") == "suspended"
    assert next_status("suspended", "reinstate") == "active"
    assert next_status("active", "revoke") == "revoked"
    assert next_status("suspended", "revoke") == "revoked"
    for current, action in [("active", "reinstate"), ("suspended", "suspend"),
                            ("revoked", "reinstate"), ("revoked", "suspend"),
                            ("revoked", "revoke")]:
        with pytest.raises(RegistryError) as err:
            next_status(current, action)
        assert err.value.code == "invalid_transition"
    with pytest.raises(RegistryError):
        next_status("active", "delete")


def test_registry_status_from_dates() -> None:
    doc = Doc()
    assert registry_status(doc, NOW) == "active"
    assert registry_status(doc, datetime(2025, 12, 31, 23, 59, tzinfo=UTC)) == "not_yet_valid"
    assert registry_status(doc, datetime(2027, 1, 1, tzinfo=UTC)) == "expired"
    assert registry_status(doc, datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == "active"
    doc.status = "suspended"
    assert registry_status(doc, NOW) == "suspended"
    assert registry_status(doc, datetime(2030, 1, 1, tzinfo=UTC)) == "expired"
    doc.status = "revoked"
    assert registry_status(doc, datetime(2030, 1, 1, tzinfo=UTC)) == "revoked"
    naive = Doc(valid_from=datetime(2026, 1, 1), valid_until=None)  # SQLite gives naive UTC
    assert registry_status(naive, NOW) == "active"


def test_public_view_shows_only_the_chosen_fields() -> None:
    view = public_view(Doc(), now=NOW)
    assert [f.name for f in view.fields] == ["license_number", "business_name",
                                             "business_type"]
    assert view.holder_name is None  # a business licence does not show its owner
    data = view.as_json()
    text = repr(data)
    assert "สมชาย" not in text and "สุขุมวิท" not in text
    assert data["status"] == "active" and data["title"]["th"] == "ใบอนุญาตประกอบกิจการ"

    pro = Doc(type="professional_license", fields={"license_number": "ว.12345",
                                                   "profession": "เวชกรรม"})
    pro_view = public_view(pro, TYPES["professional_license"], NOW)
    assert pro_view.holder_name == "นายสมชาย ใจดี"
    assert [f.value for f in pro_view.fields] == ["ว.12345", "เวชกรรม"]
    suspended = public_view(Doc(status="suspended", status_changed_at=NOW), now=NOW)
    assert suspended.status == "suspended" and "reason" not in repr(suspended.as_json())


def test_reasons() -> None:
    assert check_reason("  ตรวจพบการฝ่าฝืน  ") == "ตรวจพบการฝ่าฝืน"
    for bad in ("", None, 3.5, "x" * 201, "id 1345951597671", "id 1-3459-51597-67-1",
                "line\u0007bell"):
        with pytest.raises(RegistryError):
            check_reason(bad)
    assert check_reason("order 2569/123") == "order 2569/123"


def test_ids_and_hash_match() -> None:
    ids = {new_document_id() for _ in range(200)}
    assert len(ids) == 200 and all(len(i) == 32 and is_document_id(i) for i in ids)
    assert not is_document_id("../etc/passwd") and not is_document_id("short")
    pdf = b"%PDF-1.7 issued"
    digest = hashlib.sha256(pdf).hexdigest()
    assert match_issued(pdf, digest, len(pdf)) == "exact"
    assert match_issued(pdf + b"\nupdate", digest, len(pdf)) == "extended"
    assert match_issued(b"%PDF-1.7 issueD", digest, len(pdf)) == "different"
    assert match_issued(pdf[:-1], digest, len(pdf)) == "different"
