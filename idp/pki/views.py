"""The public PKI endpoints under /pki/: CA certificates, CRLs, OCSP (RFC 6960), time-stamping
(RFC 3161), and a page listing them.

Every one of them is for programs as much as for people, so errors are answered in the
caller's protocol: an OCSP request that cannot be read gets an OCSP `malformedRequest`
response, a time-stamp query a TimeStampResp with status rejection; only HTTP-level refusals
(wrong content type 415, too large 413/414, unknown CA 404) are plain JSON. A database that
is away gives OCSP `tryLater` and a TSA `systemFailure`, not a 500 page.

Paths are the ones the certificates point to (`keys.ca.revocation_pointers`): AIA caIssuers
`/pki/ca/<id>.crt`, CRL distribution point `/pki/crl/<id>.crl`, OCSP `/pki/ocsp`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import threading
from datetime import UTC, datetime
from email.utils import format_datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as x509_ocsp
from flask import Blueprint, current_app, request
from flask import Response as FlaskResponse
from sqlalchemy.exc import DBAPIError

from idp import web
from idp.pki.service import CA_ID_PATTERN, ISSUING_KINDS, CaRecord, CertStatus, Pki
from idp.provider import current_provider
from keys import ocsp, tsa
from keys.backend import KeyBackendError, KeyRef

bp = Blueprint("pki", __name__, url_prefix="/pki")

OCSP_MAX_BYTES = 8 * 1024
TSA_MAX_BYTES = 8 * 1024
#: base64 of the largest request we take, plus room for percent-encoding leftovers.
OCSP_MAX_GET_CHARS = (OCSP_MAX_BYTES + 2) // 3 * 4 + 16
CA_CACHE_CONTROL = "public, max-age=86400"
OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
TSA_QUERY = "application/timestamp-query"
TSA_REPLY = "application/timestamp-reply"

_init_lock = threading.Lock()


def current_pki() -> Pki:
    """This app's `Pki`, built once from the provider and with its hierarchy made (or read)
    on first use. A failure (database away) is not remembered: the next request retries."""
    pki: Pki | None = current_app.extensions.get("idp_pki")
    if pki is not None:
        return pki
    with _init_lock:
        pki = current_app.extensions.get("idp_pki")
        if pki is None:
            provider = current_provider()
            pki = Pki(provider.db, provider.backend, provider.issuer)
            pki.init_hierarchy()
            current_app.extensions["idp_pki"] = pki
    return pki


# --- plain HTTP refusals -----------------------------------------------------------------


def _json_error(status: int, error: str, description: str) -> FlaskResponse:
    response = FlaskResponse(json.dumps({"error": error, "error_description": description}),
                             status=status, mimetype="application/json")
    return response


def _not_found(what: str) -> FlaskResponse:
    del what  # never echoed: it came from outside
    return _json_error(404, "not_found", "no such CA or endpoint here; the list is at /pki/")


def _read_body(content_type: str, limit: int) -> bytes | FlaskResponse:
    """The request body if it has `content_type` and at most `limit` bytes; else the 415 or
    413 to answer with."""
    if request.mimetype != content_type:
        return _json_error(415, "unsupported_media_type",
                           f"send the DER request with Content-Type: {content_type}")
    if request.content_length is not None and request.content_length > limit:
        return _json_error(413, "request_too_large", f"the request is over {limit} bytes")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        return _json_error(413, "request_too_large", f"the request is over {limit} bytes")
    return data


def _record(pki: Pki, ca_id: str) -> CaRecord | None:
    if not CA_ID_PATTERN.fullmatch(ca_id):
        return None
    try:
        return pki.ca(ca_id)
    except KeyError:
        return None


# --- CA certificates and CRLs ----------------------------------------------------------------


def _ca_cert(ca_id: str, encoding: serialization.Encoding, mimetype: str) -> FlaskResponse:
    record = _record(current_pki(), ca_id)
    if record is None:
        return _not_found(ca_id)
    response = FlaskResponse(record.cert.public_bytes(encoding), mimetype=mimetype)
    response.headers["Cache-Control"] = CA_CACHE_CONTROL
    return response


@bp.get("/ca/<ca_id>.crt")
def ca_der(ca_id: str) -> FlaskResponse:
    return _ca_cert(ca_id, serialization.Encoding.DER, "application/pkix-cert")


@bp.get("/ca/<ca_id>.pem")
def ca_pem(ca_id: str) -> FlaskResponse:
    return _ca_cert(ca_id, serialization.Encoding.PEM, "application/x-pem-file")


@bp.get("/crl/<ca_id>.crl")
def crl(ca_id: str) -> FlaskResponse:
    pki = current_pki()
    record = _record(pki, ca_id)
    if record is None or record.kind not in ISSUING_KINDS or not record.can_sign:
        return _not_found(ca_id)
    der = pki.crl_der(ca_id)
    response = FlaskResponse(der, mimetype="application/pkix-crl")
    response.headers["Cache-Control"] = _crl_cache_control(x509.load_der_x509_crl(der))
    return response


def _crl_cache_control(crl: x509.CertificateRevocationList) -> str:
    """Cacheable until half its validity has passed (when the CA makes a new one anyway)."""
    this_update = crl.last_update_utc
    next_update = crl.next_update_utc or this_update
    fresh_until = this_update + (next_update - this_update) / 2
    seconds = max(0, int((fresh_until - datetime.now(UTC)).total_seconds()))
    return f"public, max-age={seconds}"


# --- OCSP ------------------------------------------------------------------------------------


def _ocsp_answer(request_der: bytes) -> bytes:
    try:
        pki = current_pki()

        def status_of(issuer: CaRecord, serial: int) -> CertStatus | None:
            return pki.status(issuer.id, serial)

        def responder_for(issuer: CaRecord) -> tuple[x509.Certificate, KeyRef] | None:
            record = pki.responder_for(issuer.id)
            if record is None or record.kind != "ocsp" or not record.can_sign:
                return None
            return record.cert, record.key

        return ocsp.answer(request_der, find_issuer=pki.find_issuer, status_of=status_of,
                           responder_for=responder_for, backend=pki.backend,
                           now=datetime.now(UTC), max_request_bytes=OCSP_MAX_BYTES)
    except (DBAPIError, KeyBackendError) as exc:
        current_app.logger.warning("OCSP answer deferred: %s", type(exc).__name__)
        return ocsp.error_response(ocsp.TRY_LATER)


def _ocsp_response(der: bytes, *, cacheable: bool) -> FlaskResponse:
    """The DER answer as application/ocsp-response, always HTTP 200 (the OCSP status says
    how it went). A successful answer to a GET may be cached until its nextUpdate (RFC 5019
    §6.2); everything else is no-store, and tryLater carries Retry-After."""
    response = FlaskResponse(der, mimetype=OCSP_RESPONSE)
    try:
        parsed = x509_ocsp.load_der_ocsp_response(der)
    except ValueError:
        return response
    if parsed.response_status == x509_ocsp.OCSPResponseStatus.TRY_LATER:
        response.headers["Retry-After"] = "5"
    if not cacheable or parsed.response_status != x509_ocsp.OCSPResponseStatus.SUCCESSFUL:
        return response
    singles = list(parsed.responses)
    next_updates = [s.next_update_utc for s in singles if s.next_update_utc is not None]
    if not next_updates:
        return response
    this_update = max(s.this_update_utc for s in singles)
    next_update = min(next_updates)
    seconds = max(0, int((next_update - datetime.now(UTC)).total_seconds()))
    response.headers["Cache-Control"] = (f"public, max-age={seconds}, no-transform, "
                                         "must-revalidate")
    response.headers["Last-Modified"] = format_datetime(this_update, usegmt=True)
    response.headers["Expires"] = format_datetime(next_update, usegmt=True)
    response.headers["ETag"] = f'"{hashlib.sha1(der).hexdigest()}"'  # noqa: S324 - RFC 5019
    return response


@bp.post("/ocsp")
def ocsp_post() -> FlaskResponse:
    body = _read_body(OCSP_REQUEST, OCSP_MAX_BYTES)
    if isinstance(body, FlaskResponse):
        return body
    return _ocsp_response(_ocsp_answer(body), cacheable=False)


@bp.get("/ocsp/<path:b64req>")
def ocsp_get(b64req: str) -> FlaskResponse:
    """RFC 6960 A.1: GET {url}/{url-encoding of base64 of the DER OCSPRequest}. The path is
    already percent-decoded; a '+' turned into a space by some client is turned back."""
    if len(b64req) > OCSP_MAX_GET_CHARS:
        return _json_error(414, "request_too_large",
                           f"the request is over {OCSP_MAX_BYTES} bytes; use POST")
    text = b64req.strip().replace(" ", "+")
    try:
        der = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return _ocsp_response(ocsp.error_response(ocsp.MALFORMED_REQUEST), cacheable=False)
    return _ocsp_response(_ocsp_answer(der), cacheable=True)


# --- time-stamping ---------------------------------------------------------------------------


def _tsa_serial() -> int:
    """128 random bits: unique across nodes without coordination (RFC 3161 §2.4.2 asks for
    uniqueness, at most 160 bits)."""
    return secrets.randbits(128) | 1


@bp.post("/tsa")
def tsa_post() -> FlaskResponse:
    body = _read_body(TSA_QUERY, TSA_MAX_BYTES)
    if isinstance(body, FlaskResponse):
        return body
    try:
        pki = current_pki()
        record = pki.ca("tsa")
        if record.kind != "tsa" or not record.can_sign:
            raise KeyError("tsa")
        chain = pki.chain(record.parent_id) if record.parent_id else []
        der = tsa.stamp(body, tsa_cert=record.cert, tsa_key_ref=record.key, chain=chain,
                        backend=pki.backend, now=datetime.now(UTC), serial_source=_tsa_serial,
                        max_request_bytes=TSA_MAX_BYTES)
    except (DBAPIError, KeyBackendError, KeyError) as exc:
        current_app.logger.warning("time-stamp refused: %s", type(exc).__name__)
        der = tsa.rejection("system_failure", "the time-stamping service is not available; "
                                              "try again later")
    return FlaskResponse(der, mimetype=TSA_REPLY)


@bp.route("/<path:rest>", methods=["GET", "POST"])
def unknown(rest: str) -> FlaskResponse:
    """Anything else under /pki/ is a JSON 404 (the callers are mostly programs); a GET of
    the POST-only endpoints is a 405 that says how to call them."""
    if rest in ("ocsp", "tsa"):
        kind = OCSP_REQUEST if rest == "ocsp" else TSA_QUERY
        response = _json_error(405, "method_not_allowed", f"POST a DER {kind} here")
        response.headers["Allow"] = "POST"
        return response
    return _not_found(rest)


# --- the page --------------------------------------------------------------------------------

TEXTS: dict[str, dict[str, str]] = {
    "th": {
        "title": "โครงสร้างพื้นฐานกุญแจสาธารณะ (PKI)",
        "intro": "ใบรับรองของผู้ออกใบรับรองของบริการนี้ รายการเพิกถอนใบรับรอง (CRL) "
                 "บริการตรวจสอบสถานะใบรับรอง (OCSP) และบริการประทับรับรองเวลา (RFC 3161) "
                 "ใช้สำหรับตรวจสอบลายมือชื่อดิจิทัลที่ออกโดยบริการนี้",
        "authorities": "ผู้ออกใบรับรองและใบรับรองของบริการ",
        "id": "รหัส",
        "kind": "ประเภท",
        "subject": "ชื่อ",
        "valid_until": "ใช้ได้ถึง",
        "fingerprint": "ลายนิ้วมือ SHA-256",
        "downloads": "ดาวน์โหลด",
        "crl": "CRL",
        "services": "บริการ",
        "ocsp": "ตรวจสอบสถานะใบรับรอง (OCSP, RFC 6960): POST แบบ application/ocsp-request "
                "หรือ GET ต่อท้ายด้วยคำขอที่เข้ารหัส base64",
        "tsa": "ประทับรับรองเวลา (RFC 3161): POST แบบ application/timestamp-query",
        "none": "ยังไม่มีผู้ออกใบรับรอง",
        "kind_root": "ผู้ออกใบรับรองหลัก",
        "kind_issuing": "ผู้ออกใบรับรองระดับรอง",
        "kind_tsa": "หน่วยประทับรับรองเวลา",
        "kind_ocsp": "ผู้ตอบสถานะใบรับรอง (OCSP)",
    },
    "en": {
        "title": "Public key infrastructure (PKI)",
        "intro": "The certificates of this service's certification authorities, their "
                 "revocation lists (CRLs), the certificate status service (OCSP) and the "
                 "time-stamping service (RFC 3161), for checking digital signatures made "
                 "through this service.",
        "authorities": "Certification authorities and service certificates",
        "id": "ID",
        "kind": "Kind",
        "subject": "Name",
        "valid_until": "Valid until",
        "fingerprint": "SHA-256 fingerprint",
        "downloads": "Download",
        "crl": "CRL",
        "services": "Services",
        "ocsp": "Certificate status (OCSP, RFC 6960): POST application/ocsp-request, or GET "
                "with the base64 request appended",
        "tsa": "Time-stamping (RFC 3161): POST application/timestamp-query",
        "none": "No certification authority yet.",
        "kind_root": "Root CA",
        "kind_issuing": "Issuing CA",
        "kind_tsa": "Time-stamping unit",
        "kind_ocsp": "OCSP responder",
    },
}


@bp.get("/")
def index() -> FlaskResponse:
    locale = web.current_locale()
    text = TEXTS.get(locale, TEXTS["en"])
    base = current_provider().issuer.rstrip("/")
    rows = [{
        "id": r.id,
        "kind": text.get(f"kind_{r.kind}", r.kind),
        "subject": r.cert.subject.rfc4514_string(),
        "not_after": r.cert.not_valid_after_utc.strftime("%Y-%m-%d"),
        "fingerprint": r.cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        "crl": r.kind in ISSUING_KINDS and r.can_sign,
    } for r in current_pki().cas()]
    return web.render_page("pki_index.html", text=text, cas=rows,
                           ocsp_url=f"{base}/pki/ocsp", tsa_url=f"{base}/pki/tsa")
