"""The signing page for people: upload PDFs, see them, confirm with a passkey, download them.

- `GET /sign`: the upload form (logged in, with an active signing credential).
- `POST /sign`: one PDF or a batch of up to `BATCH_MAX` (multipart `file`, repeated), each
  checked with `signing.pades.check_input`; `IDP_SIGNING_MAX_BYTES` bounds the whole upload
  (one document or the batch), `IDP_SIGNING_MAX_PAGES` each document. Kept only in the
  ephemeral store under a random handle bound to this session (never on disk, never in the
  database), for `interaction_ttl` seconds, and registered with the session
  (`idp.authn.session.own`) so that logging out deletes it.
- `GET /sign/<handle>`: the preview (each document's name, size, SHA-256, pages and page
  images; the certificate) and the passkey confirmation (`static/passkey.js`, login mode).
- `POST /sign/<handle>/options|confirm`: the JSON ceremony of `idp.sign_confirmation`: one
  sole-control challenge over the hashes of every document in the batch, so one passkey
  confirmation signs exactly these documents and nothing else, once. Then every document is
  signed with the person's credential before anything is recorded or given (a batch is
  signed whole or not at all); each gets a `SignatureRecord` and a `signing.signed` audit
  event (its hash, never the document or an ID number).
- `GET /sign/<handle>/<n>/download` (one signed PDF) and `GET /sign/<handle>/download.zip`
  (all of them): the stored bytes are deleted once everything is downloaded, unless the
  person ticked "keep until I log out" (then they live as long as the session).
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
import zipfile
from pathlib import Path
from typing import Any

from cryptography.x509.oid import NameOID
from flask import Blueprint, redirect, request
from flask import Response as FlaskResponse
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from idp import audit, ratelimit, web
from idp import signing_credentials as creds
from idp.authn import flow, passkeys
from idp.authn import session as sso
from idp.authn.passkey_views import json_error, json_response
from idp.db import SignatureRecord
from idp.pki.views import current_pki
from idp.provider import Provider, current_provider
from idp.sign_confirmation import (
    ceremony_session,
    confirm_documents,
    options_response,
    refused,
    sent_assertion,
)
from signing import sole_control
from signing.pades import Appearance, DocumentError, Level, SignRequest, check_input, sign_pdf
from signing.signer import BackendSigner
from signing.timestamps import our_timestamper
from signing.validation import signing_context

bp = Blueprint("sign", __name__)

PAGE = "/sign"
KEY_PREFIX = "signdoc:"
BATCH_MAX = 10  # documents per upload; one passkey confirmation covers them all
PREVIEW_PAGES = 5
PREVIEW_DPI = "60"
RENDER_TIMEOUT = 15
MAX_NAME = 120
CITIZEN_CA = "citizen"
INTERMEDIATES = ("citizen", "tsa")


@bp.before_request
def _raise_body_limit() -> None:
    """Only the upload may be larger than the app-wide request limit (IDP_MAX_REQUEST_BYTES)."""
    if request.method == "POST" and request.path == PAGE:
        web.allow_upload(current_provider().settings.signing_max_bytes)


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


def _load_batch(p: Provider, handle: str, current: sso.SsoSession) -> dict[str, Any] | None:
    """The stored upload, only for the session that made it."""
    if not handle or len(handle) > 64:
        return None
    batch = p.store.get(_doc_key(handle))
    if (batch is None or batch.get("sid") != current.sid
            or batch.get("person") != current.person_id):
        return None
    return batch


def _document(batch: dict[str, Any], number: int) -> dict[str, Any] | None:
    """The `number`th document (1-based, as in the URLs) of a batch."""
    files: list[dict[str, Any]] = batch["files"]
    return files[number - 1] if 1 <= number <= len(files) else None


def _session_left(p: Provider, current: sso.SsoSession) -> int:
    return max(1, p.settings.session_ttl - int(time.time() - current.auth_time))


def _batch_ttl(p: Provider, current: sso.SsoSession, keep: bool) -> int:
    """Unsigned work lives as long as an interaction; kept documents as long as the session
    (and never longer than it)."""
    left = _session_left(p, current)
    return left if keep else min(p.settings.interaction_ttl, left)


def _save(p: Provider, handle: str, batch: dict[str, Any], current: sso.SsoSession) -> None:
    p.store.put(_doc_key(handle), batch, _batch_ttl(p, current, bool(batch.get("keep"))))


def _not_found() -> Response:
    return web.error_page("not_found", "sign_document_gone", 404)


def _level(value: str | None) -> Level:
    try:
        return Level(value or Level.B_LT.value)
    except ValueError:
        return Level.B_LT


def _max_mb(p: Provider) -> int:
    return max(1, p.settings.signing_max_bytes // (1024 * 1024))


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
                 status: int = 200, error_file: str | None = None) -> Response:
    p = current_provider()
    levels = [(lv.value, "sign_level_" + lv.value.replace("-", "_").lower()) for lv in Level]
    return web.render_page("sign_upload.html", status=status, credential=credential,
                           error=error, error_file=error_file, levels=levels,
                           max_mb=_max_mb(p), max_pages=p.settings.signing_max_pages,
                           max_files=BATCH_MAX)


class _UploadRefused(Exception):
    def __init__(self, code: str, status: int = 400, name: str | None = None) -> None:
        super().__init__(code)
        self.code, self.status, self.name = code, status, name


def _received(p: Provider) -> list[dict[str, Any]]:
    """Every uploaded file, checked, as the batch's documents; `_UploadRefused` names the
    first problem (and the file it is in)."""
    uploads = [f for f in request.files.getlist("file") if f.filename]
    if not uploads:
        raise _UploadRefused("no_file")
    if len(uploads) > BATCH_MAX:
        raise _UploadRefused("too_many_files")
    budget = p.settings.signing_max_bytes
    received: list[tuple[str, bytes]] = []
    for upload in uploads:  # every size first: the cheap check before any parsing
        name = Path(str(upload.filename).replace("\\", "/")).name[:MAX_NAME] or "document.pdf"
        data = upload.read(budget + 1)
        if len(data) > budget:
            raise _UploadRefused("too_large", 413, name)
        budget -= len(data)
        received.append((name, data))
    files: list[dict[str, Any]] = []
    for name, data in received:
        try:
            pages = check_input(data, p.settings.signing_max_bytes,
                                p.settings.signing_max_pages)
        except DocumentError as exc:
            raise _UploadRefused(exc.code, 413 if exc.code == "too_large" else 400,
                                 name) from None
        files.append({"name": name, "size": len(data), "pages": pages,
                      "sha256": sole_control.document_hash(data),
                      "pdf": base64.b64encode(data).decode()})
    return files


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
    try:
        files = _received(p)
    except _UploadRefused as refusal:
        return _upload_page(credential, "sign_error_" + refusal.code, refusal.status,
                            refusal.name)
    keep = request.form.get("keep") == "yes"
    handle = secrets.token_urlsafe(24)
    _save(p, handle, {
        "sid": current.sid, "person": current.person_id, "credential": credential.id,
        "level": _level(request.form.get("level")).value,
        "visible": request.form.get("visible") == "yes", "keep": keep, "signed": False,
        "files": files,
    }, current)
    sso.own(p.store, current.sid, _doc_key(handle), _session_left(p, current))
    return redirect(f"{PAGE}/{handle}", code=303)


def _upload_error(p: Provider, key: str, status: int) -> Response:
    who = _who(p)
    credential = creds.active_credential(current_pki(), who[1].person_id) if who else None
    if credential is None:
        return web.error_page("invalid_request", key, status, mb=_max_mb(p))
    return _upload_page(credential, key, status)


@bp.get(PAGE + "/<handle>")
def preview(handle: str) -> Response:
    p = current_provider()
    who = _who(p)
    if who is None:
        return _login_required()
    batch = _load_batch(p, handle, who[1])
    if batch is None:
        return _not_found()
    if batch.get("signed"):
        return redirect(f"{PAGE}/{handle}/done", code=303)
    credential = creds.active_credential(current_pki(), who[1].person_id)
    if credential is None or credential.id != batch["credential"]:
        return web.render_page("sign_no_credential.html", status=403)
    documents = [(n, doc, range(1, min(PREVIEW_PAGES, int(doc["pages"])) + 1))
                 for n, doc in enumerate(batch["files"], start=1)]
    return web.render_page("sign_preview.html", handle=handle, batch=batch,
                           documents=documents, credential=credential)


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


@bp.get(PAGE + "/<handle>/<int:number>/page/<int:page>.png")
def page_image(handle: str, number: int, page: int) -> Response:
    p = current_provider()
    who = _who(p)
    if who is None:
        return _login_required()
    batch = _load_batch(p, handle, who[1])
    doc = _document(batch, number) if batch is not None else None
    if doc is None or not doc.get("pdf") or not 1 <= page <= min(PREVIEW_PAGES,
                                                                  int(doc["pages"])):
        return _not_found()
    png = render_page_png(base64.b64decode(doc["pdf"]), page)
    if png is None:
        return web.error_page("invalid_request", "sign_error_preview", 422)
    response = FlaskResponse(png, mimetype="image/png")
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the confirmation (JSON, for passkey.js) ----------------------------------------------


def _signer(batch: dict[str, Any]) -> str:
    return sole_control.signer_id(batch["person"], batch["credential"])


def _context(handle: str, current: sso.SsoSession) -> dict[str, str]:
    return {"sid": current.sid, "handle": handle}


@bp.post(PAGE + "/<handle>/options")
def options(handle: str) -> Response:
    p = current_provider()
    current = ceremony_session(p, ratelimit.PASSKEY_OPTIONS_PER_ADDRESS)
    if not isinstance(current, sso.SsoSession):
        return current
    batch = _load_batch(p, handle, current)
    if batch is None or batch.get("signed"):
        return json_error("sign_document_gone", 404)
    return options_response(p, current, _signer(batch), [d["sha256"] for d in batch["files"]],
                            _context(handle, current))


@bp.post(PAGE + "/<handle>/confirm")
def confirm(handle: str) -> Response:
    p = current_provider()
    current = ceremony_session(p, ratelimit.PASSKEY_LOGIN_PER_ADDRESS)
    if not isinstance(current, sso.SsoSession):
        return current
    batch = _load_batch(p, handle, current)
    if batch is None or batch.get("signed"):
        return json_error("sign_document_gone", 404)
    pdfs = [base64.b64decode(d["pdf"]) for d in batch["files"]]
    try:
        stored = confirm_documents(p, sent_assertion(), current, _signer(batch), pdfs,
                                   _context(handle, current))
    except passkeys.PasskeyError as exc:
        return refused(p, exc, current.person_id)
    return _sign(p, handle, batch, pdfs, current, stored.method)


def _sign(p: Provider, handle: str, batch: dict[str, Any], pdfs: list[bytes],
          current: sso.SsoSession, method: str) -> Response:
    """Sign every document, then record them: nothing is recorded or given unless the whole
    batch is signed."""
    pki = current_pki()
    info = creds.active_credential(pki, current.person_id)
    if info is None or info.id != batch["credential"] or info.certificate is None:
        return json_error("sign_no_credential", 403)
    level = _level(batch.get("level"))
    appearance = None
    if batch.get("visible"):
        appearance = Appearance(signer_name=_subject_name(info),
                                verify_url=p.issuer.rstrip("/") + "/verify")
    signer = BackendSigner(p.backend, info.key, info.certificate, pki.chain(CITIZEN_CA))
    roots, intermediates = [pki.ca("root").cert], [pki.ca(i).cert for i in INTERMEDIATES]
    try:
        signed = [sign_pdf(pdf, signer, SignRequest(level=level, appearance=appearance),
                           timestamper=our_timestamper(p.issuer),
                           validation_context=signing_context(roots, intermediates))
                  for pdf in pdfs]
    except DocumentError as exc:
        return json_error("sign_error_" + exc.code, 400)
    except Exception:  # TSA or revocation data unavailable: nothing half-signed is given
        return json_error("sign_failed", 503)
    with p.db.session() as s:
        for doc in batch["files"]:
            event = audit.record(s, "signing.signed", person_id=current.person_id,
                                 credential=info.id, document_sha256=doc["sha256"],
                                 level=level.value, pages=doc["pages"], size=doc["size"],
                                 batch=len(pdfs), confirmed_with=method)
            s.flush()
            s.add(SignatureRecord(credential_id=info.id, person_id=current.person_id,
                                  document_sha256=doc["sha256"], level=level.value,
                                  audit_seq=getattr(event, "seq", None)))
    for doc, out in zip(batch["files"], signed, strict=True):
        doc["signed"] = base64.b64encode(out).decode()
        doc["signed_sha256"] = sole_control.document_hash(out)
        doc["pdf"] = ""  # the original is no longer needed
    batch["signed"] = True
    _save(p, handle, batch, current)
    return json_response({"redirect": f"{PAGE}/{handle}/done"})


def _subject_name(info: creds.CredentialInfo) -> str:
    assert info.certificate is not None
    cns = info.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else ""


# --- the result ------------------------------------------------------------------------------


def _signed_batch(handle: str) -> tuple[Provider, sso.SsoSession, dict[str, Any]] | Response:
    p = current_provider()
    who = _who(p)
    if who is None:
        return _login_required()
    batch = _load_batch(p, handle, who[1])
    if batch is None or not batch.get("signed"):
        return _not_found()
    return p, who[1], batch


@bp.get(PAGE + "/<handle>/done")
def done(handle: str) -> Response:
    found = _signed_batch(handle)
    if not isinstance(found, tuple):
        return found
    _p, _current, batch = found
    return web.render_page("sign_done.html", handle=handle, batch=batch,
                           documents=list(enumerate(batch["files"], start=1)),
                           all_ready=all(d.get("signed") for d in batch["files"]))


def _download_name(name: str, suffix: str) -> str:
    stem = Path(name).stem or "document"
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_"
                   for c in stem)[:80] + suffix


def _attachment(data: bytes, mimetype: str, filename: str) -> Response:
    response = FlaskResponse(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get(PAGE + "/<handle>/<int:number>/download")
def download(handle: str, number: int) -> Response:
    found = _signed_batch(handle)
    if not isinstance(found, tuple):
        return found
    p, current, batch = found
    doc = _document(batch, number)
    if doc is None or not doc.get("signed"):
        return _not_found()
    data = base64.b64decode(doc["signed"])
    if not batch.get("keep"):  # given once: forget it, and the batch once all are given
        doc["signed"] = ""
        if any(d.get("signed") for d in batch["files"]):
            _save(p, handle, batch, current)
        else:
            p.store.delete(_doc_key(handle))
    return _attachment(data, "application/pdf", _download_name(str(doc["name"]),
                                                                "-signed.pdf"))


@bp.get(PAGE + "/<handle>/download.zip")
def download_all(handle: str) -> Response:
    found = _signed_batch(handle)
    if not isinstance(found, tuple):
        return found
    p, _current, batch = found
    if not all(d.get("signed") for d in batch["files"]):
        return _not_found()
    out = io.BytesIO()
    names: set[str] = set()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:  # PDFs hardly compress
        for number, doc in enumerate(batch["files"], start=1):
            name = _download_name(str(doc["name"]), "-signed.pdf")
            if name in names:
                name = f"{number}-{name}"
            names.add(name)
            archive.writestr(name, base64.b64decode(doc["signed"]))
    if not batch.get("keep"):
        p.store.delete(_doc_key(handle))
    return _attachment(out.getvalue(), "application/zip", "signed-documents.zip")


@bp.post(PAGE + "/<handle>/discard")
def discard(handle: str) -> Response:
    """Forget a batch now (kept or not)."""
    web.check_csrf()
    p = current_provider()
    who = _who(p)
    if who is None:
        return _login_required()
    if _load_batch(p, handle, who[1]) is not None:
        p.store.delete(_doc_key(handle))
    return redirect(PAGE, code=303)
