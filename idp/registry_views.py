"""The e-license and e-certificate registry: the agencies' API under /api/v1/registry/, and the
lookups the verification pages need.

Agencies call it with a client_credentials access token carrying scope `issue` (the bearer
token is read by the CSC API's own helper, so both APIs judge tokens the same way). Issuing
checks the request (signing.registry), renders the PDF (signing.render), seals it at PAdES
B-LTA with the agency's seal credential (idp.csc.seals, the same way CSC signDoc seals), and
records the document's SHA-256 and size, never the PDF: the sealed PDF is returned once, in
the 201 answer, and the agency keeps it.

    POST /api/v1/registry/documents                  issue           → 201
    GET  /api/v1/registry/documents/{id}             the agency's own view
    POST /api/v1/registry/documents/{id}/suspend     {"reason": ...} → 200
    POST /api/v1/registry/documents/{id}/reinstate   {"reason": ...} → 200
    POST /api/v1/registry/documents/{id}/revoke      {"reason": ...} → 200 (final)

Errors are JSON `{"error", "error_description"}` (plus `error_code` and `field` for a refused
field): 400 invalid_request, 401 invalid_token, 403 insufficient_scope, 404 not_found (an
unknown id and another agency's look the same), 409 invalid_transition / seal_unavailable,
413 too large, 503 temporarily_unavailable (time-stamp or revocation data not to be had).

The lookups (`lookup`, `find_by_hash`, `registry_status`, `verdict`, `public_data`) take a
SQLAlchemy session and no request, for the verification pages at /verify.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.x509.oid import NameOID
from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from idp import audit, web
from idp.csc import seals
from idp.csc.service import CscError
from idp.csc.views import _caller, _csc_error
from idp.db import Client, RegistryDocument, SignatureRecord, as_utc, utcnow
from idp.pki.service import Pki
from idp.pki.views import current_pki
from idp.provider import Provider, current_provider
from kyc.identifiers import TH_CITIZEN_ID
from kyc.thai_id import mask
from signing import pades
from signing.registry import (
    IssueRequest,
    RegistryError,
    check_reason,
    is_document_id,
    match_issued,
    new_document_id,
    next_status,
    parse_issue,
    public_view,
    registry_status,
    sha256_hex,
    verify_url,
)
from signing.render import FontMissingError, RenderInput, render_pdf
from signing.signer import BackendSigner
from signing.timestamps import our_timestamper
from signing.validation import signing_context

bp = Blueprint("registry", __name__)

PREFIX = "/api/v1/registry"
ISSUE_SCOPE = "issue"
MAX_BODY = 32 * 1024
LEVEL = pades.Level.B_LTA
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

__all__ = ["bp", "find_by_hash", "lookup", "public_data", "registry_status", "verdict"]


# --- lookups for the verification pages (no Flask) -------------------------------------------


def lookup(session: Session, doc_id: str) -> RegistryDocument | None:
    """The registry document with this public id, or None (also for a malformed id)."""
    if not is_document_id(doc_id):
        return None
    return session.get(RegistryDocument, doc_id)


def find_by_hash(session: Session, sha256: str) -> RegistryDocument | None:
    """The registry document whose sealed PDF has this SHA-256 (hex), or None."""
    if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256.lower()):
        return None
    return session.scalars(select(RegistryDocument).where(
        RegistryDocument.document_sha256 == sha256.lower())).first()


@dataclass(frozen=True)
class Verdict:
    """What the registry says of an uploaded PDF that names (or hashes to) a document:
    `document` None when the registry knows nothing of it; `match` "exact" (the bytes issued),
    "extended" (those bytes plus later incremental updates) or "different" (not the one
    issued: re-signed or altered); `status` the registry status now."""

    document: RegistryDocument | None
    match: str
    status: str | None


def verdict(session: Session, pdf: bytes, doc_id: str | None, now: datetime | None = None
            ) -> Verdict:
    """The registry's half of verifying a registry document: find it by the id the PDF names
    (signing.render.document_id_of) or else by its hash, and compare the bytes with what was
    issued. The signature's half is signing.pades.validate_pdf."""
    now = now or utcnow()
    doc = lookup(session, doc_id) if doc_id else None
    if doc is None:
        doc = find_by_hash(session, sha256_hex(pdf))
    if doc is None:
        return Verdict(None, "different", None)
    return Verdict(doc, match_issued(pdf, doc.document_sha256, doc.document_size),
                   registry_status(doc, now))


def public_data(session: Session, doc: RegistryDocument, now: datetime | None = None
                ) -> dict[str, Any]:
    """What a verification page shows of `doc`: its type's public view (signing.registry
    .public_view: the chosen fields only, never the holder's ID or a status reason) and the
    issuing agency's registered names."""
    data = public_view(doc, now=now or utcnow()).as_json()
    client = session.get(Client, doc.client_id)
    data["issuer"] = {"th": client.client_name_th if client else "",
                      "en": client.client_name_en if client else ""}
    return data


# --- issuing and status changes (no Flask) -----------------------------------------------------


class RegistryRefusal(Exception):
    """A refusal with its HTTP status, for the API."""

    def __init__(self, error: str, description: str, status: int,
                 code: str | None = None, field: str | None = None) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status
        self.code, self.field = code, field


def _agency_names(session: Session, client_id: str, seal: seals.SealInfo) -> tuple[str, str]:
    """(Thai name, English name) of the agency as printed: the client's registered names,
    else the organisation its seal certificate names; the English line is left out when it
    would repeat the Thai one."""
    client = session.get(Client, client_id)
    org = seal.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    org_name = str(org[0].value) if org else ""
    name_th = (client.client_name_th if client else "") or org_name
    name_en = (client.client_name_en if client else "") or org_name
    return name_th, "" if name_en == name_th else name_en


def issue_document(provider: Provider, pki: Pki, client_id: str, req: IssueRequest
                   ) -> tuple[RegistryDocument, bytes]:
    """Render, seal (B-LTA) and record one document; return the row and the sealed PDF."""
    seal = seals.active_seal(pki, client_id)
    if seal is None:
        raise RegistryRefusal("seal_unavailable", "this agency has no active seal; the "
                              "operator provisions one with `idp clients seal`", 409)
    doc_id = new_document_id()
    now = utcnow().replace(microsecond=0)
    with provider.db.session() as s:
        agency_th, agency_en = _agency_names(s, client_id, seal)
    url = verify_url(provider.issuer, doc_id)
    try:
        unsigned = render_pdf(RenderInput(
            doc_id=doc_id, type=req.type, agency_th=agency_th, agency_en=agency_en,
            holder_name=req.holder_name, holder_name_en=req.holder_name_en,
            national_id_masked=req.national_id_masked, fields=req.fields,
            valid_from=req.valid_from, valid_until=req.valid_until, issued_at=now,
            verify_url=url))
    except FontMissingError as exc:
        raise RegistryRefusal("server_error", str(exc), 500) from None
    signer = BackendSigner(pki.backend, seal.key, seal.certificate, pki.chain(seals.SEAL_CA))
    root = pki.ca("root").cert
    try:
        sealed = pades.sign_pdf(
            unsigned, signer,
            pades.SignRequest(level=LEVEL, reason=f"{req.type.title_en} {doc_id}",
                              location="Thailand"),
            timestamper=our_timestamper(provider.issuer),
            validation_context=signing_context([root], [pki.ca(seals.SEAL_CA).cert]))
    except pades.SigningError:
        raise RegistryRefusal("temporarily_unavailable", "the time-stamp or revocation data "
                              "could not be had; nothing was issued, try again", 503) from None
    digest = sha256_hex(sealed)
    row = RegistryDocument(
        id=doc_id, client_id=client_id, type=req.type.name, kind=req.type.kind,
        holder=req.holder, fields=req.fields, valid_from=req.valid_from,
        valid_until=req.valid_until, status="active", document_sha256=digest,
        document_size=len(sealed), seal_serial=seal.serial, created_at=now)
    if req.national_id:
        row.holder_id_hash = provider.identifiers.lookup_hash(TH_CITIZEN_ID, req.national_id)
        row.holder_id_sealed = provider.identifiers.seal(TH_CITIZEN_ID, req.national_id)
    with provider.db.session() as s:
        s.add(row)
        event = audit.record(s, "registry.issued", client_id=client_id, document=doc_id,
                             doc_type=req.type.name, kind=req.type.kind, document_sha256=digest,
                             level=LEVEL.value, credential=seal.id, serial=seal.serial)
        s.add(SignatureRecord(credential_id=None, client_id=client_id, person_id=None,
                              document_sha256=digest, level=LEVEL.value,
                              audit_seq=event.seq))
    return row, sealed


def change_status(provider: Provider, client_id: str, doc_id: str, action: str,
                  reason: str) -> RegistryDocument:
    """suspend | reinstate | revoke one of the agency's documents, recorded in the audit
    trail with the reason (never the holder). A compare-and-set update, so two racing
    changes cannot both pass the transition check."""
    with provider.db.session() as s:
        row = lookup(s, doc_id)
        if row is None or row.client_id != client_id:
            raise RegistryRefusal("not_found", "no such document", 404)
        before = row.status
        try:
            after = next_status(before, action)
        except RegistryError as exc:
            raise RegistryRefusal("invalid_transition", exc.message, 409) from None
        now = utcnow()
        done = s.execute(update(RegistryDocument).where(
            RegistryDocument.id == doc_id, RegistryDocument.status == before,
        ).values(status=after, status_reason=reason, status_changed_at=now))
        if getattr(done, "rowcount", 1) != 1:
            raise RegistryRefusal("invalid_transition", "the document changed meanwhile; "
                                  "read it again", 409)
        audit.record(s, f"registry.{_EVENT[action]}", client_id=client_id, document=doc_id,
                     doc_type=row.type, from_status=before, to_status=after, reason=reason)
        s.flush()
        s.refresh(row)
        return row


_EVENT = {"suspend": "suspended", "reinstate": "reinstated", "revoke": "revoked"}


# --- the HTTP API ------------------------------------------------------------------------------


def _refusal(exc: RegistryRefusal) -> Response:
    body: dict[str, Any] = {"error": exc.error,
                            "error_description": web.description_text(exc.description)}
    if exc.code:
        body["error_code"] = exc.code
    if exc.field:
        body["field"] = web.description_text(exc.field)
    response = jsonify(body)
    response.status_code = exc.status
    return response


@bp.errorhandler(RegistryRefusal)
def _on_refusal(exc: RegistryRefusal) -> ResponseReturnValue:
    return _refusal(exc)


@bp.errorhandler(RegistryError)
def _on_registry_error(exc: RegistryError) -> ResponseReturnValue:
    return _refusal(RegistryRefusal("invalid_request", exc.message, 400, exc.code, exc.field))


# Token errors (401/403) and malformed bodies answer as the CSC API does.
bp.register_error_handler(CscError, _csc_error)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge) -> ResponseReturnValue:
    return _refusal(RegistryRefusal("invalid_request", f"the request body is over "
                                    f"{MAX_BODY // 1024} KiB", 413))


@bp.before_request
def _body_limit() -> None:
    if request.path.startswith(PREFIX + "/"):
        request.max_content_length = MAX_BODY
        web.refuse_oversized()  # before the token is looked at or the body read


@bp.after_request
def _no_store(response: Response) -> Response:
    if request.path.startswith(PREFIX + "/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _agency() -> str:
    """The calling agency's client_id: a client_credentials token with scope `issue`."""
    caller = _caller()
    if not caller.is_agency or ISSUE_SCOPE not in caller.scopes:
        raise CscError("insufficient_scope", "an agency token (client_credentials) with "
                       "scope issue is needed", 403)
    return caller.client_id


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise RegistryRefusal("invalid_request", "the body must be a JSON object "
                              "(Content-Type: application/json)", 400)
    return data


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def _agency_view(provider: Provider, row: RegistryDocument) -> dict[str, Any]:
    holder = dict(row.holder)
    if row.holder_id_sealed:
        holder["national_id_masked"] = mask(provider.identifiers.unseal(
            TH_CITIZEN_ID, row.holder_id_sealed))
    return {
        "id": row.id, "type": row.type, "kind": row.kind,
        "verify_url": verify_url(provider.issuer, row.id),
        "holder": holder, "fields": row.fields,
        "valid_from": _iso(row.valid_from), "valid_until": _iso(row.valid_until),
        "status": row.status, "registry_status": registry_status(row, utcnow()),
        "status_reason": row.status_reason, "status_changed_at": _iso(row.status_changed_at),
        "sha256": row.document_sha256, "size": row.document_size,
        "created_at": _iso(row.created_at),
    }


@bp.post(f"{PREFIX}/documents")
def issue() -> ResponseReturnValue:
    client_id = _agency()
    req = parse_issue(_body(), utcnow())
    provider = current_provider()
    row, sealed = issue_document(provider, current_pki(), client_id, req)
    answer = _agency_view(provider, row)
    answer["level"] = LEVEL.value
    answer["pdf"] = base64.b64encode(sealed).decode()
    response = jsonify(answer)
    response.status_code = 201
    response.headers["Location"] = f"{PREFIX}/documents/{row.id}"
    return response


@bp.get(f"{PREFIX}/documents/<doc_id>")
def show(doc_id: str) -> ResponseReturnValue:
    client_id = _agency()
    provider = current_provider()
    with provider.db.session() as s:
        row = lookup(s, doc_id)
        if row is None or row.client_id != client_id:
            raise RegistryRefusal("not_found", "no such document", 404)
        return jsonify(_agency_view(provider, row))


def _status_change(doc_id: str, action: str) -> ResponseReturnValue:
    client_id = _agency()
    body = _body()
    if set(body) - {"reason"}:
        raise RegistryRefusal("invalid_request", "the body has only a reason", 400,
                              "unknown_member")
    reason = check_reason(body.get("reason"))
    provider = current_provider()
    row = change_status(provider, client_id, doc_id, action, reason)
    return jsonify(_agency_view(provider, row))


@bp.post(f"{PREFIX}/documents/<doc_id>/suspend")
def suspend(doc_id: str) -> ResponseReturnValue:
    return _status_change(doc_id, "suspend")


@bp.post(f"{PREFIX}/documents/<doc_id>/reinstate")
def reinstate(doc_id: str) -> ResponseReturnValue:
    return _status_change(doc_id, "reinstate")


@bp.post(f"{PREFIX}/documents/<doc_id>/revoke")
def revoke(doc_id: str) -> ResponseReturnValue:
    return _status_change(doc_id, "revoke")
