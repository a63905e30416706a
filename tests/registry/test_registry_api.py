"""The registry API over real HTTP on a live provider: an agency with scope `issue` and a seal
issues an e-license (201, sealed B-LTA as pyhanko and pdfsig judge it, the QR link in it, the
recorded hash equal to the PDF's); suspends, reinstates and revokes it (revocation final,
wrong transitions 409); another agency, a token without `issue`, no token and bad bodies are
refused with the right codes; the audit trail has the changes and no personal data; the
verification lookups tell a genuine copy from a re-signed one. Both backends."""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from idp.db import AuditEvent, RegistryDocument, SignatureRecord
from idp.registry_views import find_by_hash, lookup, public_data, verdict
from signing.pades import Level, SignRequest, sign_pdf, validate_pdf
from signing.registry import registry_status
from signing.render import document_id_of
from tests.registry.conftest import agency, api
from tests.signing.conftest import SigningEnv
from tests.support import pdfjudges as judges

NATIONAL_ID = "1-3459-51597-67-1"
LICENSE: dict[str, Any] = {
    "type": "business_license",
    "holder": {"name": "นายสมชาย ใจดี", "name_en": "Mr Somchai Jaidee",
               "national_id": NATIONAL_ID},
    "fields": {"license_number": "กทม. 0123/2569", "business_name": "ร้านก๋วยเตี๋ยวป้าน้อย",
               "business_type": "ร้านอาหาร", "address": "123 ถนนสุขุมวิท กรุงเทพมหานคร"},
    "valid_from": "2026-01-01",
    "valid_until": "2099-12-31",
}


def issue(env: SigningEnv, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    resp = api(env, "POST", "/documents", token, json=body or LICENSE)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def db(env: SigningEnv):  # type: ignore[no-untyped-def]
    return env.op.app.extensions["idp"].db


def test_issue_seals_b_lta_and_records_the_hash(signing_env: SigningEnv) -> None:
    env = signing_env
    client, token, seal = agency(env)
    doc = issue(env, token)
    pdf = base64.b64decode(doc["pdf"])
    assert doc["kind"] == "e-license" and doc["status"] == "active"
    assert doc["registry_status"] == "active" and doc["level"] == "B-LTA"
    assert len(doc["id"]) >= 22 and doc["verify_url"] == f"{env.op.base}/verify/{doc['id']}"
    assert doc["sha256"] == hashlib.sha256(pdf).hexdigest() and doc["size"] == len(pdf)
    assert doc["holder"] == {"name": "นายสมชาย ใจดี", "name_en": "Mr Somchai Jaidee",
                             "national_id_masked": "1-XXXX-XXXXX-67-1"}
    assert doc["valid_until"] == "2099-12-31T17:00:00+00:00"  # through 31 Dec, Thai time

    # Sealed at B-LTA by the agency's seal, judged by pyhanko and by pdfsig.
    reports = validate_pdf(pdf, env.offline_context())
    sigs = [r for r in reports if r.kind == "signature"]
    assert len(sigs) == 1 and sigs[0].level is Level.B_LTA, sigs[0].problems
    assert "NTRTH-0994000000001" in (sigs[0].signer or "")
    path = env.work / "license.pdf"
    path.write_bytes(pdf)
    found, text = judges.pdfsig(path, env.nss)
    pades = [s for s in found if s.type == "ETSI.CAdES.detached"]
    assert len(pades) == 1 and pades[0].valid, text

    # The QR code's link: a /URI link annotation and the printed text, and the id in /Info.
    reader = PdfFileReader(io.BytesIO(pdf))
    annots = reader.root["/Pages"]["/Kids"][0]["/Annots"]
    uris = [str(a.get_object()["/A"]["/URI"]) for a in annots
            if a.get_object().get("/Subtype") == "/Link"]
    assert uris == [doc["verify_url"]]
    assert document_id_of(pdf) == doc["id"]

    with db(env).session() as s:
        row = s.get(RegistryDocument, doc["id"])
        assert row is not None and row.client_id == client["client_id"]
        assert row.document_sha256 == doc["sha256"] and row.seal_serial == seal.serial  # type: ignore[union-attr]
        # The national ID is not in the row in the clear: only its keyed hash and sealed copy.
        assert "1345951597671" not in repr(row.holder) + repr(row.fields)
        assert row.holder_id_hash and row.holder_id_sealed
        assert "1345951597671" not in row.holder_id_sealed
        assert find_by_hash(s, doc["sha256"]) is not None
        assert lookup(s, doc["id"]) is not None and lookup(s, "nope") is None
        record = s.scalar(select(SignatureRecord).where(
            SignatureRecord.document_sha256 == doc["sha256"]))
        assert record is not None and record.level == "B-LTA"
        issued = s.scalar(select(AuditEvent).where(AuditEvent.type == "registry.issued"))
        assert issued is not None and issued.data["document"] == doc["id"]

    # The agency's own view.
    resp = api(env, "GET", f"/documents/{doc['id']}", token)
    assert resp.status_code == 200 and resp.json()["sha256"] == doc["sha256"]
    assert resp.headers["Cache-Control"] == "no-store"
    assert "pdf" not in resp.json()


def test_status_changes_and_audit(signing_env: SigningEnv) -> None:
    env = signing_env
    client, token, _ = agency(env)
    doc_id = issue(env, token)["id"]
    path = f"/documents/{doc_id}"

    resp = api(env, "POST", f"{path}/reinstate", token, json={"reason": "nothing to do"})
    assert resp.status_code == 409 and resp.json()["error"] == "invalid_transition"
    resp = api(env, "POST", f"{path}/suspend", token, json={"reason": "inspection pending"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "suspended" and resp.json()["registry_status"] == "suspended"
    assert resp.json()["status_reason"] == "inspection pending"
    assert api(env, "POST", f"{path}/suspend", token,
               json={"reason": "again"}).status_code == 409
    resp = api(env, "POST", f"{path}/reinstate", token, json={"reason": "inspection passed"})
    assert resp.status_code == 200 and resp.json()["status"] == "active"
    resp = api(env, "POST", f"{path}/revoke", token, json={"reason": "business closed"})
    assert resp.status_code == 200 and resp.json()["status"] == "revoked"
    for action in ("reinstate", "suspend", "revoke"):
        resp = api(env, "POST", f"{path}/{action}", token, json={"reason": "undo"})
        assert resp.status_code == 409, action
        assert "final" in resp.json()["error_description"]

    with db(env).session() as s:
        events = list(s.scalars(select(AuditEvent).where(
            AuditEvent.type.like("registry.%")).order_by(AuditEvent.seq)))
    assert [e.type for e in events] == ["registry.issued", "registry.suspended",
                                        "registry.reinstated", "registry.revoked"]
    assert [e.data.get("reason") for e in events[1:]] == [
        "inspection pending", "inspection passed", "business closed"]
    for event in events:
        assert event.client_id == client["client_id"] and event.person_id is None
        text = repr(event.data)
        for personal in ("สมชาย", "Somchai", "1345951597671", "67-1", "ป้าน้อย"):
            assert personal not in text


def test_other_agencies_and_scopes_are_refused(signing_env: SigningEnv) -> None:
    env = signing_env
    _, token, _ = agency(env)
    doc_id = issue(env, token)["id"]
    _, other, _ = agency(env, name_en="Another Department", name_th="อีกกรมหนึ่ง")
    # Another agency: its id looks exactly like an unknown one.
    for method, path in (("GET", f"/documents/{doc_id}"),
                         ("POST", f"/documents/{doc_id}/revoke")):
        resp = api(env, method, path, other, json={"reason": "not mine"})
        assert resp.status_code == 404 and resp.json()["error"] == "not_found"
    assert api(env, "GET", "/documents/unknown-id-unknown-id-1234", token).status_code == 404

    # A seal-only agency token, and no token at all.
    _, seal_only, _ = agency(env, scope="seal")
    resp = api(env, "POST", "/documents", seal_only, json=LICENSE)
    assert resp.status_code == 403 and resp.json()["error"] == "insufficient_scope"
    assert api(env, "GET", f"/documents/{doc_id}", seal_only).status_code == 403
    resp = api(env, "POST", "/documents", None, json=LICENSE)
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_token"
    assert api(env, "POST", "/documents", "not-a-token", json=LICENSE).status_code == 401

    # An agency with scope issue but no seal cannot issue.
    _, unsealed, _ = agency(env, seal=False)
    resp = api(env, "POST", "/documents", unsealed, json=LICENSE)
    assert resp.status_code == 409 and resp.json()["error"] == "seal_unavailable"

    with db(env).session() as s:
        row = s.get(RegistryDocument, doc_id)
        assert row is not None and row.status == "active"


@pytest.mark.parametrize(("body", "code", "field"), [
    ("not json", None, None),
    ([1, 2], None, None),
    ({**LICENSE, "type": "driving_license"}, "unknown_type", "type"),
    ({**LICENSE, "holder": "Somchai"}, "invalid_holder", "holder"),
    ({**LICENSE, "holder": {"name": "ก", "national_id": "1234567890123"}}, "invalid_holder",
     "holder.national_id"),
    ({**LICENSE, "fields": {"license_number": "1"}}, "missing_field", "fields.business_name"),
    ({**LICENSE, "fields": {**LICENSE["fields"], "owner_id": "x"}}, "unknown_field",
     "fields.owner_id"),
    ({**LICENSE, "fields": {**LICENSE["fields"], "business_name": "x" * 301}},
     "invalid_field", "fields.business_name"),
    ({**LICENSE, "valid_until": "31/12/2099"}, "invalid_validity", "valid_until"),
    ({**LICENSE, "valid_until": "2020-12-31"}, "invalid_validity", "valid_until"),
    ({k: v for k, v in LICENSE.items() if k != "valid_until"}, "invalid_validity",
     "valid_until"),
    ({**LICENSE, "extra": 1}, "unknown_member", "extra"),
])
def test_bad_bodies_get_400(signing_env: SigningEnv, body: Any, code: str | None,
                            field: str | None) -> None:
    env = signing_env
    _, token, _ = agency(env)
    if isinstance(body, str):
        resp = api(env, "POST", "/documents", token, data=body,
                   headers={"Content-Type": "text/plain"})
    else:
        resp = api(env, "POST", "/documents", token, json=body)
    assert resp.status_code == 400, resp.text
    answer = resp.json()
    assert answer["error"] == "invalid_request" and answer["error_description"]
    assert answer.get("error_code") == code and answer.get("field") == field
    assert "1234567890123" not in resp.text
    with db(env).session() as s:
        assert s.scalars(select(RegistryDocument)).first() is None


def test_bad_status_bodies_and_size_limit(signing_env: SigningEnv) -> None:
    env = signing_env
    _, token, _ = agency(env)
    doc_id = issue(env, token)["id"]
    path = f"/documents/{doc_id}/suspend"
    for body in ({}, {"reason": ""}, {"reason": "x" * 201}, {"reason": 5.5},
                 {"reason": "owner 1-3459-51597-67-1 asked"}, {"reason": "ok", "more": 1}):
        resp = api(env, "POST", path, token, json=body)
        assert resp.status_code == 400, (body, resp.text)
        assert "51597" not in resp.text
    resp = api(env, "POST", "/documents", token, data=b"{" + b" " * (40 * 1024) + b"}",
               headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and resp.json()["error"] == "invalid_request"
    resp = api(env, "POST", "/documents/" + "a" * 30 + "/launch", token, json={})
    assert resp.status_code in (404, 405)


def forged_copy(env: SigningEnv, doc: dict[str, Any]) -> bytes:
    """What a forger makes: the same id re-rendered with another business name and sealed with
    a seal that validates (here: the test environment's own seal)."""
    from signing.registry import TYPES
    from signing.render import RenderInput, render_pdf

    body = render_pdf(RenderInput(
        doc_id=doc["id"], type=TYPES["business_license"], agency_th="กรมพัฒนาธุรกิจการค้า",
        agency_en="Department of Business Development", holder_name="นายสมชาย ใจดี",
        holder_name_en=None, national_id_masked=None,
        fields={**LICENSE["fields"], "business_name": "บริษัทปลอม จำกัด"},
        valid_from=datetime(2026, 1, 1, tzinfo=UTC), valid_until=datetime(2100, 1, 1,
                                                                          tzinfo=UTC),
        issued_at=datetime.now(UTC), verify_url=doc["verify_url"]))
    return sign_pdf(body, env.seal, SignRequest(level=Level.B_T), timestamper=env.timestamper())


def test_verdict_tells_issued_from_resigned_and_revoked(signing_env: SigningEnv) -> None:
    """The registry half of verification: a genuine copy is "exact"; one re-rendered with a
    changed field and sealed with a valid seal is "different" even though its signature is
    valid; a revoked one says revoked; expiry comes from the dates."""
    env = signing_env
    _, token, seal = agency(env)
    doc = issue(env, token)
    pdf = base64.b64decode(doc["pdf"])

    forged = forged_copy(env, doc)
    assert [r.valid for r in validate_pdf(forged, env.offline_context())
            if r.kind == "signature"] == [True]

    # An incremental update after issue (as an archive time-stamp would add).
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.root["/PieceInfo"] = generic.DictionaryObject()
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    extended = out.getvalue()
    assert extended.startswith(pdf) and len(extended) > len(pdf)

    with db(env).session() as s:
        genuine = verdict(s, pdf, document_id_of(pdf))
        assert genuine.document is not None and genuine.match == "exact"
        assert genuine.status == "active"
        assert verdict(s, pdf, None).match == "exact"  # found by its hash
        fake = verdict(s, forged, document_id_of(forged))
        assert fake.document is not None and fake.document.id == doc["id"]
        assert fake.match == "different"
        assert verdict(s, extended, doc["id"]).match == "extended"
        assert verdict(s, judges.make_pdf(), None).document is None

    api(env, "POST", f"/documents/{doc['id']}/revoke", token, json={"reason": "fraud"})
    with db(env).session() as s:
        revoked = verdict(s, pdf, doc["id"])
        assert revoked.match == "exact" and revoked.status == "revoked"
        row = lookup(s, doc["id"])
        assert row is not None
        public = public_data(s, row)
        assert public["status"] == "revoked" and public["holder_name"] is None
        assert public["issuer"]["en"] == "Department of Business Development"
        assert [f["name"] for f in public["fields"]] == ["license_number", "business_name",
                                                         "business_type"]
        assert "fraud" not in repr(public) and "สุขุมวิท" not in repr(public)
        # Still revoked after it would have expired; expiry itself comes from the dates.
        assert registry_status(row, datetime(2100, 1, 2, tzinfo=UTC)) == "revoked"
        row.status = "active"
        assert registry_status(row, datetime(2100, 1, 2, tzinfo=UTC)) == "expired"
        assert registry_status(row, datetime(2025, 12, 31, tzinfo=UTC)) == "not_yet_valid"
        assert registry_status(row, datetime.now(UTC) + timedelta(days=1)) == "active"
        s.rollback()
    assert seal is not None


def test_certificate_without_expiry(signing_env: SigningEnv) -> None:
    env = signing_env
    _, token, _ = agency(env, name_th="สำนักงาน ก.พ.", name_en="Office of the Civil Service "
                         "Commission")
    doc = issue(env, token, {"type": "training_certificate",
                             "holder": {"name": "นางสาวมาลี ศรีสุข"},
                             "fields": {"course": "การใช้ลายมือชื่ออิเล็กทรอนิกส์",
                                        "hours": 12}})
    assert doc["kind"] == "e-certificate" and doc["valid_until"] is None
    assert doc["fields"] == {"course": "การใช้ลายมือชื่ออิเล็กทรอนิกส์", "hours": "12"}
    reports = [r for r in validate_pdf(base64.b64decode(doc["pdf"]), env.offline_context())
               if r.kind == "signature"]
    assert reports[0].level is Level.B_LTA
