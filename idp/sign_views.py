"""The signing page for people: upload a PDF, see it, confirm with a passkey, download it.

- `GET /sign`: the upload form (logged in, with an active signing credential).
- `POST /sign`: one PDF (multipart `file`), checked with `signing.pades.check_input` against
  `IDP_SIGNING_MAX_BYTES` / `IDP_SIGNING_MAX_PAGES`; kept only in the ephemeral store under a
  random handle bound to this session (never on disk, never in the database), for
  `interaction_ttl` seconds.
- `GET /sign/<handle>`: the preview (page images, name, size, SHA-256, pages, the certificate)
  and the passkey confirmation (`static/passkey.js`, login mode: the options' challenge is the
  sole-control challenge of `signing.sole_control` for this document's hash, the passkeys
  offered are the person's own, user verification required).
- `POST /sign/<handle>/options|confirm`: the JSON ceremony. Confirm redeems the sole-control
  challenge against the stored document (single use, recomputed from its bytes), verifies the
  assertion with `idp.authn.passkeys`, signs with the person's credential, records a
  `SignatureRecord` and a `signing.signed` audit event (the hash, never the document or ID).
- `GET /sign/<handle>/download`: the signed PDF; the stored bytes are deleted then, unless
  the person ticked "keep until I log out" (then they live as long as the session).
"""

from __future__ import annotations

import base64
import io
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, redirect, request
from flask import Response as FlaskResponse
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from idp import audit, ratelimit, web
from idp import signing_credentials as creds
from idp.authn import flow, passkeys
from idp.authn import session as sso
from idp.authn.passkey_views import (
    MAX_ASSERTION_BYTES,
    check_csrf_header,
    json_body,
    json_error,
    json_response,
    rate_limited,
    record_event,
    relying_party_for,
    user_handle_key,
)
from idp.db import SignatureRecord
from idp.pki.views import current_pki
from idp.provider import Provider, current_provider
from signing import sole_control
from signing.pades import Appearance, DocumentError, Level, SignRequest, check_input, sign_pdf
from signing.signer import BackendSigner
from signing.timestamps import our_timestamper
from signing.validation import signing_context

bp = Blueprint("sign", __name__)

PAGE = "/sign"
KEY_PREFIX = "signdoc:"
PREVIEW_PAGES = 5
PREVIEW_DPI = "60"
RENDER_TIMEOUT = 15
MAX_NAME = 120
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small fields around the file
CITIZEN_CA = "citizen"
INTERMEDIATES = ("citizen", "tsa")


@bp.before_request
def _raise_body_limit() -> None:
    """Only the upload may be larger than the app-wide request limit (IDP_MAX_REQUEST_BYTES)."""
    if request.method == "POST" and request.path == PAGE:
        settings = current_provider().settings
        request.max_content_length = settings.signing_max_bytes + FORM_OVERHEAD
        # Werkzeug spools files over 500 KB to a temporary file on disk; the upload is
        # bounded above, so keep it in memory instead (documents never touch the disk).
        setattr(request, "_get_file_stream", _memory_stream)  # noqa: B010


def _memory_stream(*_args: Any, **_kwargs: Any) -> io.BytesIO:
    return io.BytesIO()


# --- who and what -------------------------------------------------------------------------------


def _who(p: Provider) -> tuple[str, sso.SsoSession] | None:
    handle, current = flow.current_session(p)
    if handle is None or current is None:
        return None
    return handle, current


def _login_required() -> Response:
    return web.render_page("account_login_required.html", status=401)


def _doc_key(handle: str) -> str:
    return KEY_PREFIX + handle


def _load_doc(p: Provider, handle: str, current: sso.SsoSession) -> dict[str, Any] | None:
    """The stored upload, only for the session that made it."""
    if not handle or len(handle) > 64:
        return None
    doc = p.store.get(_doc_key(handle))
    if doc is None or doc.get("sid") != current.sid or doc.get("person") != current.person_id:
        return None
    return doc


def _session_left(p: Provider, current: sso.SsoSession) -> int:
    return max(1, p.settings.session_ttl - int(time.time() - current.auth_time))


def _doc_ttl(p: Provider, current: sso.SsoSession, keep: bool) -> int:
    """Unsigned work lives as long as an interaction; kept documents as long as the session
    (and never longer than it)."""
    left = _session_left(p, current)
    return left if keep else min(p.settings.interaction_ttl, left)


def _not_found() -> Response:
    return web.error_page("not_found", "sign_document_gone", 404)


def _level(value: str | None) -> Level:
    try:
        return Level(value or Level.B_LT.value)
    except ValueError:
        return Level.B_LT


# --- the pages ------------------------------------------------------------------------------------


@bp.get(PAGE)
def start() -> Response:
    p = current_provider()
    who = _who(p)
    if who is None:
        return _login_required()
    credential = creds.active_credential(current_pki(), who[1].person_id)
    if credential is None:
        return web.render_page("sign_no_credential.html", status=403)
    return _upload_page(credential)


def _upload_page(credential: creds.CredentialInfo, error: str | None = None,
                 status: int = 200) -> Response:
    p = current_provider()
    levels = [(lv.value, "sign_level_" + lv.value.replace("-", "_").lower()) for lv in Level]
    return web.render_page("sign_upload.html", status=status, credential=credential,
                           error=error, levels=levels,
                           max_mb=max(1, p.settings.signing_max_bytes // (1024 * 1024)),
                           max_pages=p.settings.signing_max_pages)


@bp.post(PAGE)
def upload() -> Response:
    p = current_provider()
    try:
        web.check_csrf()  # reads the form, so the raised limit applies here
    except RequestEntityTooLarge:
        return _upload_error(p, "sign_error_too_large", 413)
    who = _who(p)
    if who is None:
        return _login_required()
    _, current = who
    credential = creds.active_credential(current_pki(), current.person_id)
    if credential is None:
        return web.render_page("sign_no_credential.html", status=403)
    file = request.files.get("file")
    if file is None or not file.filename:
        return _upload_page(credential, "sign_error_no_file", 400)
    data = file.read(p.settings.signing_max_bytes + 1)
    try:
        pages = check_input(data, p.settings.signing_max_bytes, p.settings.signing_max_pages)
    except DocumentError as exc:
        status = 413 if exc.code == "too_large" else 400
        return _upload_page(credential, "sign_error_" + exc.code, status)
    name = Path(file.filename.replace("\\", "/")).name[:MAX_NAME] or "document.pdf"
    keep = request.form.get("keep") == "yes"
    handle = secrets.token_urlsafe(24)
    p.store.put(_doc_key(handle), {
        "sid": current.sid, "person": current.person_id, "credential": credential.id,
        "name": name, "size": len(data), "sha256": sole_control.document_hash(data),
        "pages": pages, "level": _level(request.form.get("level")).value,
        "visible": request.form.get("visible") == "yes", "keep": keep,
        "pdf": base64.b64encode(data).decode(),
    }, _doc_ttl(p, current, keep))
    return redirect(f"{PAGE}/{handle}", code=303)


def _upload_error(p: Provider, key: str, status: int) -> Response:
    who = _who(p)
    credential = creds.active_credential(current_pki(), who[1].person_id) if who else None
    if credential is None:
        return web.error_page("invalid_request", key, status,
                              mb=max(1, p.settings.signing_max_bytes // (1024 * 1024)))
    return _upload_page(credential, key, status)


@bp.get(PAGE + "/<handle>")
def preview(handle: str) -> Response:
    p = current_provider()
    who = _who(p)
    if who is None:
        return _login_required()
    doc = _load_doc(p, handle, who[1])
    if doc is None:
        return _not_found()
    if doc.get("signed"):
        return redirect(f"{PAGE}/{handle}/done", code=303)
    credential = creds.active_credential(current_pki(), who[1].person_id)
    if credential is None or credential.id != doc["credential"]:
        return web.render_page("sign_no_credential.html", status=403)
    return web.render_page("sign_preview.html", handle=handle, doc=doc, credential=credential,
                           images=range(1, min(PREVIEW_PAGES, int(doc["pages"])) + 1))


def render_page_png(pdf: bytes, page: int) -> bytes | None:
    """One page as a PNG at 60 dpi, by pdftoppm in a subprocess with a timeout. pdftoppm
    reads only seekable files, so the bytes go to a private directory in memory (/dev/shm
    where there is one) that is removed at once."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        return None
    # mkdtemp: a fresh directory only we can open (0700, random name), in memory if it can be
    shm = "/dev/shm"  # noqa: S108
    base = shm if os.path.isdir(shm) else None
    with tempfile.TemporaryDirectory(prefix="idp-sign-", dir=base) as tmp:
        source = Path(tmp) / "in.pdf"
        source.write_bytes(pdf)
        try:
            done = subprocess.run(  # noqa: S603 (fixed argv, no shell; the page is an int)
                [tool, "-png", "-r", PREVIEW_DPI, "-f", str(page), "-l", str(page),
                 "-singlefile", str(source), str(Path(tmp) / "page")],
                capture_output=True, timeout=RENDER_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        out = Path(tmp) / "page.png"
        return out.read_bytes() if done.returncode == 0 and out.exists() else None


@bp.get(PAGE + "/<handle>/page/<int:number>.png")
def page_image(handle: str, number: int) -> Response:
    p = current_provider()
    who = _who(p)
    if who is None:
        return _login_required()
    doc = _load_doc(p, handle, who[1])
    if doc is None or not 1 <= number <= min(PREVIEW_PAGES, int(doc["pages"])):
        return _not_found()
    png = render_page_png(base64.b64decode(doc["pdf"]), number)
    if png is None:
        return web.error_page("invalid_request", "sign_error_preview", 422)
    response = FlaskResponse(png, mimetype="image/png")
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the confirmation (JSON, for passkey.js) ----------------------------------------------


def confirm_documents(p: Provider, credential: Any, current: sso.SsoSession, signer: str,
                      documents: list[bytes], context: dict[str, str],
                      ) -> passkeys.StoredCredential:
    """The passkey assertion that confirms exactly these documents (sole control): the
    challenge is redeemed once and recomputed from `documents`, the passkey must be the
    person's own with user verification, and its sign count must move on. The signing page
    and the CSC confirmation page both end here. Raises passkeys.PasskeyError, carrying the
    audit event to record."""
    if not isinstance(credential, dict):
        raise passkeys.PasskeyError("passkey_bad_request")
    challenge_b64 = passkeys.client_data_of(credential).get("challenge")
    if not isinstance(challenge_b64, str) or len(challenge_b64) > 200:
        raise passkeys.PasskeyError("passkey_bad_request", reason="challenge")
    challenge = passkeys.b64url_decode(challenge_b64)
    try:
        sole_control.redeem(p.store, challenge, signer, documents, context)
    except sole_control.SoleControlError as exc:
        raise passkeys.PasskeyError("sign_confirmation_invalid",
                                    audit="signing.confirmation_refused",
                                    reason=exc.code) from None
    with p.db.session() as s:
        row = passkeys.find_credential(s, passkeys.credential_id_of(credential))
        stored = passkeys.StoredCredential.of(row) if row else None
    if stored is None or stored.person_id != current.person_id:
        raise passkeys.PasskeyError("passkey_unknown", audit="signing.confirmation_refused",
                                    reason="unknown_credential")
    assertion = passkeys.verify_assertion(
        relying_party_for(p), credential, challenge, stored,
        passkeys.user_handle(user_handle_key(p), stored.person_id))
    with p.db.session() as s:
        if not passkeys.record_use(s, stored, assertion):
            raise passkeys.PasskeyError("passkey_clone_suspected",
                                        audit="passkey.clone_suspected",
                                        reason="sign_count_race")
    return stored


def _signer(doc: dict[str, Any]) -> str:
    return sole_control.signer_id(doc["person"], doc["credential"])


def _context(handle: str, current: sso.SsoSession) -> dict[str, str]:
    return {"sid": current.sid, "handle": handle}


@bp.post(PAGE + "/<handle>/options")
def options(handle: str) -> Response:
    p = current_provider()
    limited = rate_limited(p, ratelimit.PASSKEY_OPTIONS_PER_ADDRESS, ratelimit.client_address())
    if limited:
        return limited
    check_csrf_header()
    who = _who(p)
    if who is None:
        return json_error("passkey_login_required", 401)
    _, current = who
    doc = _load_doc(p, handle, current)
    if doc is None or doc.get("signed"):
        return json_error("sign_document_gone", 404)
    with p.db.session() as s:
        allowed = [(r.credential_id, list(r.transports))
                   for r in passkeys.credentials_of(s, current.person_id)]
    if not allowed:
        return json_error("sign_no_passkey", 403)
    challenge = sole_control.issue(p.store, _signer(doc), [doc["sha256"]],
                                   _context(handle, current))
    publickey, _random = passkeys.authentication_options(relying_party_for(p), allowed)
    # The challenge the passkey signs is the sole-control one, bound to this document's hash.
    publickey["challenge"] = passkeys.b64url(challenge)
    return json_response({"publicKey": publickey})


@bp.post(PAGE + "/<handle>/confirm")
def confirm(handle: str) -> Response:
    p = current_provider()
    limited = rate_limited(p, ratelimit.PASSKEY_LOGIN_PER_ADDRESS, ratelimit.client_address())
    if limited:
        return limited
    check_csrf_header()
    who = _who(p)
    if who is None:
        return json_error("passkey_login_required", 401)
    _, current = who
    doc = _load_doc(p, handle, current)
    if doc is None or doc.get("signed"):
        return json_error("sign_document_gone", 404)
    body = json_body(MAX_ASSERTION_BYTES)
    credential = body.get("credential") if body else None
    pdf = base64.b64decode(doc["pdf"])
    try:
        stored = confirm_documents(p, credential, current, _signer(doc), [pdf],
                                   _context(handle, current))
    except passkeys.PasskeyError as exc:
        if exc.audit:
            record_event(p, exc.audit, current.person_id, reason=exc.reason)
        return json_error(exc.code, exc.status if exc.code != "sign_confirmation_invalid"
                           else 403, **exc.fmt)
    return _sign(p, handle, doc, pdf, current, stored.method)


def _sign(p: Provider, handle: str, doc: dict[str, Any], pdf: bytes,
          current: sso.SsoSession, method: str) -> Response:
    pki = current_pki()
    info = creds.active_credential(pki, current.person_id)
    if info is None or info.id != doc["credential"] or info.certificate is None:
        return json_error("sign_no_credential", 403)
    level = _level(doc.get("level"))
    appearance = None
    if doc.get("visible"):
        appearance = Appearance(signer_name=_subject_name(info),
                                verify_url=p.issuer.rstrip("/") + "/verify")
    signer = BackendSigner(p.backend, info.key, info.certificate, pki.chain(CITIZEN_CA))
    try:
        signed = sign_pdf(pdf, signer, SignRequest(level=level, appearance=appearance),
                          timestamper=our_timestamper(p.issuer),
                          validation_context=signing_context(
                              [pki.ca("root").cert], [pki.ca(i).cert for i in INTERMEDIATES]))
    except DocumentError as exc:
        return json_error("sign_error_" + exc.code, 400)
    except Exception:  # TSA or revocation data unavailable: nothing half-signed is given
        return json_error("sign_failed", 503)
    with p.db.session() as s:
        event = audit.record(s, "signing.signed", person_id=current.person_id,
                             credential=info.id, document_sha256=doc["sha256"],
                             level=level.value, pages=doc["pages"], size=doc["size"],
                             confirmed_with=method)
        s.flush()
        s.add(SignatureRecord(credential_id=info.id, person_id=current.person_id,
                              document_sha256=doc["sha256"], level=level.value,
                              audit_seq=getattr(event, "seq", None)))
    doc["signed"] = base64.b64encode(signed).decode()
    doc["signed_sha256"] = sole_control.document_hash(signed)
    doc["pdf"] = ""  # the original is no longer needed
    p.store.put(_doc_key(handle), doc, _doc_ttl(p, current, bool(doc.get("keep"))))
    return json_response({"redirect": f"{PAGE}/{handle}/done"})


def _subject_name(info: creds.CredentialInfo) -> str:
    from cryptography.x509.oid import NameOID

    assert info.certificate is not None
    cns = info.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else ""


# --- the result ------------------------------------------------------------------------------


@bp.get(PAGE + "/<handle>/done")
def done(handle: str) -> Response:
    p = current_provider()
    who = _who(p)
    if who is None:
        return _login_required()
    doc = _load_doc(p, handle, who[1])
    if doc is None or not doc.get("signed"):
        return _not_found()
    return web.render_page("sign_done.html", handle=handle, doc=doc)


@bp.get(PAGE + "/<handle>/download")
def download(handle: str) -> Response:
    p = current_provider()
    who = _who(p)
    if who is None:
        return _login_required()
    doc = _load_doc(p, handle, who[1])
    if doc is None or not doc.get("signed"):
        return _not_found()
    if not doc.get("keep"):
        p.store.delete(_doc_key(handle))
    stem = Path(str(doc["name"])).stem or "document"
    filename = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_"
                       for c in stem)[:80] + "-signed.pdf"
    response = FlaskResponse(base64.b64decode(doc["signed"]), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post(PAGE + "/<handle>/discard")
def discard(handle: str) -> Response:
    """Forget a document now (kept or not)."""
    web.check_csrf()
    p = current_provider()
    who = _who(p)
    if who is None:
        return _login_required()
    if _load_doc(p, handle, who[1]) is not None:
        p.store.delete(_doc_key(handle))
    return redirect(PAGE, code=303)


