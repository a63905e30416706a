"""The verification service: anyone checks a signed PDF, as a page or as a JSON API.

- `GET /verify`: the upload form (no login: verifiers are anyone).
- `POST /verify`: the report page: a verdict in plain Thai and English on top, each
  signature's details below, and the report as JSON to download (`/verify/report/<handle>`,
  kept in the ephemeral store for `interaction_ttl` seconds, then gone).
- `POST /api/v1/verify`: the same report as JSON; the PDF is the body (`application/pdf`)
  or a multipart `file` field. A verdict is 200 whatever it says; a file that cannot be
  judged is 422 (413 when too large) with the refusal in `error`.

The judging itself is `signing.verification` (pyhanko under ETSI EN 319 102-1 rules, in a
child process bounded by IDP_VERIFY_TIMEOUT). This module adds what only the service knows:
whom to trust (our root plus IDP_VERIFY_TRUST_ANCHORS), the registry of documents we issued
(`registry_check`), and the words people read.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from cryptography import x509
from flask import Blueprint, request
from flask import Response as FlaskResponse
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from idp import ratelimit, web
from idp import registry_views as registry
from idp.authn.passkey_views import rate_limited
from idp.pki.views import current_pki
from idp.provider import Provider, current_provider
from signing.render import document_id_of
from signing.verification import (
    Indication,
    Refusal,
    TrustPolicy,
    VerificationReport,
    verify_pdf_bounded,
)

bp = Blueprint("verify", __name__)

PAGE = "/verify"
API = "/api/v1/verify"
REPORT_PREFIX = "verify-report:"
OUR_CAS = ("root", "citizen", "seal", "tsa")


@bp.before_request
def _raise_body_limit() -> None:
    if request.method == "POST" and request.path in (PAGE, API):
        web.allow_upload(current_provider().settings.verify_max_bytes)


# --- whom we trust ----------------------------------------------------------------------------


def _anchors_file(path: str) -> tuple[x509.Certificate, ...]:
    """The operator's extra trust anchors (a PEM bundle). Read on each verification: the file
    is small, and a changed list takes effect without a restart."""
    try:
        return tuple(x509.load_pem_x509_certificates(Path(path).read_bytes()))
    except (OSError, ValueError) as exc:  # a broken setting must not look like "untrusted"
        raise RuntimeError(f"IDP_VERIFY_TRUST_ANCHORS ({path}) is unreadable") from exc


def trust_policy(p: Provider) -> TrustPolicy:
    pki = current_pki()
    ours = {ca.id: ca.cert for ca in pki.cas() if ca.cert is not None}
    roots = [ours["root"]] if "root" in ours else []
    if p.settings.verify_trust_anchors:
        roots.extend(_anchors_file(p.settings.verify_trust_anchors))
    intermediates = [cert for ca_id, cert in ours.items() if ca_id != "root"]
    return TrustPolicy(roots=tuple(roots), intermediates=tuple(intermediates),
                       online_revocation=p.settings.verify_online_revocation,
                       fetch_timeout=min(5.0, p.settings.verify_timeout / 4))


# --- the registry ------------------------------------------------------------------------------


def registry_part(p: Provider, data: bytes, expected_id: str | None = None
                  ) -> dict[str, Any] | None:
    """What the registry of e-licenses and e-certificates says of this file, or None when it
    is not one we issued. The document is found by the id the page was opened for (the QR
    link), else by the id the file names, else by its hash; then the bytes are compared with
    what was issued: a genuine seal on changed fields is "not_issued", and a document we
    issued says its status now (revoked, suspended, expired...). Only called once the file
    was judged within the time limit, so reading its id here is safe."""
    doc_id = expected_id or document_id_of(data)
    with p.db.session() as s:
        found = registry.verdict(s, data, doc_id)
        if found.document is None:
            return None
        public = registry.public_data(s, found.document)
    verdict = "not_issued" if found.match == "different" else str(found.status)
    return {**public, "match": found.match, "verdict": verdict}


# --- the verdict in words ------------------------------------------------------------------


def verdict_of(report: VerificationReport, registry: dict[str, Any] | None) -> str:
    """One word for the whole answer, the most important fact first: a file we could not
    judge, then what the registry says of a document we issued, then the signatures."""
    if report.refusal:
        return "refused"
    if registry is not None and registry.get("verdict") not in (None, "active"):
        return str(registry["verdict"])  # revoked, suspended, expired, not_issued, ...
    if report.indication is Indication.TOTAL_PASSED:
        return "valid"
    if report.indication is Indication.TOTAL_FAILED:
        return "invalid"
    if report.sub_indication == "NO_SIGNATURE":
        return "unsigned"
    return "indeterminate"


def summary(report: VerificationReport, registry: dict[str, Any] | None) -> dict[str, str]:
    from idp import i18n

    verdict = verdict_of(report, registry)
    reason = _reason_key(report, verdict)
    return {"verdict": verdict,
            "en": i18n.translate("verify_verdict_" + verdict, "en"),
            "th": i18n.translate("verify_verdict_" + verdict, "th"),
            "reason_en": i18n.translate(reason, "en") if reason else "",
            "reason_th": i18n.translate(reason, "th") if reason else ""}


def _reason_key(report: VerificationReport, verdict: str) -> str | None:
    from idp import i18n

    if report.refusal:
        return "verify_refused_" + report.refusal
    if verdict in ("valid", "unsigned"):
        return None
    key = "verify_sub_" + (report.sub_indication or "")
    return key if i18n.has_message(key) else None


def answer(p: Provider, data: bytes, expected_id: str | None = None) -> dict[str, Any]:
    """The whole answer for one file: the report, what the registry says, the summary."""
    report = verify_pdf_bounded(data, trust_policy(p),
                                timeout_seconds=float(p.settings.verify_timeout),
                                max_bytes=p.settings.verify_max_bytes)
    found = None if report.refusal else registry_part(p, data, expected_id)
    return {"summary": summary(report, found), "registry": found, **report.to_json()}


def _refused(size: int) -> dict[str, Any]:
    """The answer for a body refused before it was read whole (over the size limit)."""
    report = VerificationReport(indication=Indication.INDETERMINATE, sub_indication=None,
                                refusal=Refusal.TOO_LARGE.value, document_sha256="",
                                size=size, pages=None)
    return {"summary": summary(report, None), "registry": None, **report.to_json()}


# --- the page -----------------------------------------------------------------------------------


def _limits(p: Provider) -> dict[str, int]:
    return {"max_mb": max(1, p.settings.verify_max_bytes // (1024 * 1024))}


@bp.get(PAGE)
def form() -> Response:
    return web.render_page("verify.html", **_limits(current_provider()))


@bp.post(PAGE)
def verify_page() -> Response:
    p = current_provider()
    limited = rate_limited(p, ratelimit.VERIFY_PER_ADDRESS, ratelimit.client_address())
    if limited:
        return limited
    try:
        web.check_csrf()  # reads the form, so the raised limit applies here
    except RequestEntityTooLarge:
        return _result_page(p, _refused(request.content_length or 0), 413)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return web.render_page("verify.html", status=400, error="verify_error_no_file",
                               **_limits(p))
    expected_id = request.form.get("id") or None  # from the page of a registry document
    if expected_id is not None and not _known(p, expected_id):
        return _unknown_document()
    data = upload.read(p.settings.verify_max_bytes + 1)
    result = answer(p, data, expected_id)
    status = 200 if not result["refusal"] else 413 if result["refusal"] == "too_large" else 422
    return _result_page(p, result, status, name=Path(upload.filename).name[:120])


def _result_page(p: Provider, result: dict[str, Any], status: int, name: str = "") -> Response:
    handle = secrets.token_urlsafe(18)
    p.store.put(REPORT_PREFIX + handle, result, p.settings.interaction_ttl)
    return web.render_page("verify_result.html", status=status, result=result, name=name,
                           report_url=f"{PAGE}/report/{handle}")


@bp.get(PAGE + "/report/<handle>")
def report_json(handle: str) -> Response:
    result = current_provider().store.get(REPORT_PREFIX + handle) if len(handle) < 64 else None
    if result is None:
        return web.error_page("not_found", "verify_report_gone", 404)
    response = FlaskResponse(json.dumps(result, ensure_ascii=False, indent=2),
                             mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="verification-report.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


# --- a registry document's own page (the QR link) ------------------------------------------


def _known(p: Provider, doc_id: str) -> bool:
    with p.db.session() as s:
        return registry.lookup(s, doc_id) is not None


def _unknown_document() -> Response:
    return web.error_page("not_found", "verify_registry_unknown", 404)


@bp.get(PAGE + "/<doc_id>")
def registry_page(doc_id: str) -> Response:
    """What the QR code on an e-license or e-certificate opens: its status now and the
    public data its type shows, with a form to check a copy against it. JSON for programs
    that ask for it (Accept: application/json)."""
    p = current_provider()
    with p.db.session() as s:
        doc = registry.lookup(s, doc_id)
        public = registry.public_data(s, doc) if doc is not None else None
    if public is None:
        if web.wants_json():
            return _api_error("not_found", "no document with this id", 404)
        return _unknown_document()
    if web.wants_json():
        return FlaskResponse(json.dumps(public, ensure_ascii=False), mimetype="application/json")
    return web.render_page("verify_registry.html", doc=public, **_limits(p))


# --- the API --------------------------------------------------------------------------------


@bp.post(API)
def verify_api() -> Response:
    p = current_provider()
    limited = rate_limited(p, ratelimit.VERIFY_PER_ADDRESS, ratelimit.client_address())
    if limited:
        return limited
    try:
        data = _api_body(p)
    except RequestEntityTooLarge:
        return _api_answer(_refused(request.content_length or 0))
    if data is None:
        return _api_error("invalid_request", "send the PDF as the body (application/pdf) or "
                          "as a multipart field named file", 400)
    return _api_answer(answer(p, data))


def _api_body(p: Provider) -> bytes | None:
    limit = p.settings.verify_max_bytes + 1
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        return upload.read(limit) if upload is not None and upload.filename else None
    if request.mimetype in ("application/pdf", "application/octet-stream"):
        return request.stream.read(limit) if request.content_length != 0 else None
    return None


def _api_answer(result: dict[str, Any]) -> Response:
    refusal = result.get("refusal")
    status = 200 if not refusal else 413 if refusal == "too_large" else 422
    body = result if not refusal else {"error": refusal,
                                       "error_description": result["summary"]["reason_en"],
                                       **result}
    return FlaskResponse(json.dumps(body, ensure_ascii=False), status=status,
                         mimetype="application/json")


def _api_error(error: str, description: str, status: int) -> Response:
    return FlaskResponse(json.dumps({"error": error, "error_description": description}),
                         status=status, mimetype="application/json")
