"""The CSC API v2 endpoints under /csc/v2/, and the agency seal API.

JSON in, JSON out; every refusal is `{"error": ..., "error_description": ...}` with its status.
Each endpoint is the ordered list of its checks: the bearer token, the credential it may use,
the request fields (bounded), then the work. Who may use what:
  - a citizen's credential: an access token for that person carrying scope `service` or
    `credential` (from our own provider's code flow);
  - an agency's seal: a client_credentials token of that agency carrying scope `seal`.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge

from idp import audit, web
from idp.csc import seals
from idp.csc import service as csc
from idp.csc.service import CscError
from idp.db import SignatureRecord
from idp.oidc import resource
from idp.pki.views import current_pki
from idp.provider import current_provider
from idp.signing_credentials import CITIZEN_CA, active_credential
from keys.backend import KeyRef
from signing import pades
from signing.signer import BackendSigner
from signing.timestamps import our_timestamper
from signing.validation import signing_context

bp = Blueprint("csc", __name__)

PREFIX = "/csc/v2"
CITIZEN_SCOPES = {"service", "credential"}
SEAL_SCOPE = "seal"
JSON_OVERHEAD = 64 * 1024
MAX_DOCUMENTS = 1


@dataclass(frozen=True)
class Caller:
    """Who the bearer token speaks for."""

    client_id: str
    person_id: str | None
    scopes: frozenset[str]

    @property
    def is_agency(self) -> bool:
        return self.person_id is None


@dataclass(frozen=True)
class Credential:
    """A credential the caller may use, as the endpoints need it."""

    id: str
    kind: str  # citizen | seal
    key: KeyRef
    cert: Any
    chain: list[Any]

    @property
    def scal(self) -> str:
        return "2" if self.kind == "citizen" else "1"


# --- errors and the body limit -----------------------------------------------------------------


@bp.errorhandler(CscError)
def _csc_error(exc: CscError) -> ResponseReturnValue:
    response = jsonify(error=exc.error, error_description=web.description_text(exc.description))
    response.status_code = exc.status
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = f'Bearer error="{exc.error}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge) -> ResponseReturnValue:
    limit = current_provider().settings.signing_max_bytes
    return _csc_error(CscError("invalid_request", f"the request is too large: documents are "
                               f"at most {limit // (1024 * 1024) or 1} MB", 413))


@bp.before_request
def _body_limit() -> None:
    """signDoc carries a whole PDF in base64 (4/3 of its size): raise the app-wide limit for
    it alone; every other endpoint keeps the small one."""
    if request.path == f"{PREFIX}/signatures/signDoc":
        max_bytes = current_provider().settings.signing_max_bytes
        request.max_content_length = max_bytes * 4 // 3 + JSON_OVERHEAD
    web.refuse_oversized()  # before the token is looked at or the body read


def _body() -> Any:
    data = request.get_json(silent=True)
    return csc.body_of(data)


# --- who is calling ----------------------------------------------------------------------------


def _caller() -> Caller:
    """Who the access token speaks for: a Bearer token, or a DPoP-bound one with its proof
    (idp.oidc.resource, the same rules as userinfo). A refusal is answered at once with its
    challenge (`WWW-Authenticate: DPoP ...` and a DPoP-Nonce for proofs), in the JSON shape
    of every other CSC error."""
    p = current_provider()
    try:
        creds = resource.credentials(request.headers.get("Authorization"))
        with p.db.session() as s:
            live = resource.authenticate(p, s, creds)
            return Caller(live.grant.client_id, live.grant.person_id,
                          frozenset(live.scope.split()))
    except resource.ResourceError as exc:
        abort(resource.error_response(p, exc))


def _require_scope(caller: Caller) -> None:
    if caller.is_agency and SEAL_SCOPE not in caller.scopes:
        raise CscError("insufficient_scope", "an agency token needs scope seal", 403)
    if not caller.is_agency and not (caller.scopes & CITIZEN_SCOPES):
        raise CscError("insufficient_scope", "the token needs scope service or credential",
                       403)


def _credentials_of(caller: Caller) -> list[Credential]:
    pki = current_pki()
    if caller.is_agency:
        seal = seals.active_seal(pki, caller.client_id)
        return [Credential(seal.id, "seal", seal.key, seal.certificate,
                           pki.chain(seals.SEAL_CA))] if seal else []
    cred = active_credential(pki, caller.person_id or "")
    if cred is None or cred.certificate is None:
        return []
    return [Credential(cred.id, "citizen", cred.key, cred.certificate, pki.chain(CITIZEN_CA))]


def _credential(caller: Caller, body: Any) -> Credential:
    wanted = csc.text(body, "credentialID", limit=csc.CREDENTIAL_ID_MAX)
    for cred in _credentials_of(caller):
        if cred.id == wanted:
            return cred
    # Someone else's credential looks exactly like a missing one.
    raise CscError("invalid_request", "unknown credentialID", 400)


# --- info ----------------------------------------------------------------------------------------


@bp.post(f"{PREFIX}/info")
def info() -> ResponseReturnValue:
    p = current_provider()
    return jsonify({
        "specs": "2.0.0.0",
        "name": "Thai Digital ID remote signing",
        "logo": f"{p.issuer}/static/logo.png",
        "region": "TH",
        "lang": "en-US",
        "description": "Remote signing for citizens (passkey-confirmed) and agency seals",
        "authType": ["oauth2code", "oauth2client"],
        "oauth2": p.issuer,
        "oauth2Issuer": p.issuer,
        "methods": ["credentials/list", "credentials/info", "credentials/authorize",
                    "signatures/signHash", "signatures/signDoc"],
        "signAlgorithms": {"algos": list(csc.SIGN_ALGO_OIDS)},
        "signature_formats": {"formats": ["P"], "envelope_properties": [["Certification"]]},
        "conformance_levels": ["Ades-B-B", "Ades-B-T", "Ades-B-LT", "Ades-B-LTA"],
    })


# --- credentials ---------------------------------------------------------------------------------


def _flag(body: Any, name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise csc.invalid(f"{name} must be true or false")
    return value


def _describe(cred: Credential, body: Any) -> dict[str, Any]:
    certificates = body.get("certificates", "single")
    if not isinstance(certificates, str):
        raise csc.invalid("certificates must be none, single or chain")
    return csc.describe(
        key=cred.key, cert=cred.cert, chain=cred.chain, scal=cred.scal,
        auth_mode="explicit" if cred.kind == "citizen" else "implicit",
        multisign=csc.MAX_HASHES,
        description="Citizen signing credential" if cred.kind == "citizen"
        else "Agency seal", certificates=certificates, cert_info=_flag(body, "certInfo"))


@bp.post(f"{PREFIX}/credentials/list")
def credentials_list() -> ResponseReturnValue:
    caller = _caller()
    _require_scope(caller)
    body = _body()
    creds = _credentials_of(caller)
    answer: dict[str, Any] = {"credentialIDs": [c.id for c in creds]}
    if _flag(body, "credInfo"):
        answer["credentialInfos"] = [dict(_describe(c, body), credentialID=c.id)
                                     for c in creds]
    answer["onlyValid"] = True
    return jsonify(answer)


@bp.post(f"{PREFIX}/credentials/info")
def credentials_info() -> ResponseReturnValue:
    caller = _caller()
    _require_scope(caller)
    body = _body()
    return jsonify(_describe(_credential(caller, body), body))


@bp.post(f"{PREFIX}/credentials/authorize")
def credentials_authorize() -> ResponseReturnValue:
    caller = _caller()
    _require_scope(caller)
    body = _body()
    cred = _credential(caller, body)
    hash_name = csc.hash_algorithm(body, default="2.16.840.1.101.3.4.2.1")
    digests = csc.hashes(body, hash_name)
    count = csc.num_signatures(body, len(digests))
    if cred.kind == "citizen":
        return _citizen_authorize(caller, cred, hash_name, digests, count)
    sad = csc.Sad(cred.id, caller.client_id, None, hash_name,
                  tuple(csc.b64s(d) for d in digests), count)
    raw = csc.issue_sad(current_provider().store, sad)
    return jsonify({"SAD": raw, "expiresIn": csc.SAD_TTL})


def _citizen_authorize(caller: Caller, cred: Credential, hash_name: str,
                       digests: list[bytes], count: int) -> ResponseReturnValue:
    from idp.csc import confirm

    return confirm.authorize_citizen(caller.client_id, caller.person_id or "", cred.id,
                                     hash_name, digests, count)


# --- signatures ---------------------------------------------------------------------------------


def _record(caller: Caller, cred: Credential, digest_hex: str, level: str) -> None:
    kind = "signing.sealed" if cred.kind == "seal" else "signing.signed"
    with current_provider().db.session() as s:
        event = audit.record(s, kind, person_id=caller.person_id, client_id=caller.client_id,
                             credential=cred.id, document_sha256=digest_hex, level=level)
        s.flush()
        s.add(SignatureRecord(credential_id=cred.id if cred.kind == "citizen" else None,
                              client_id=caller.client_id, person_id=caller.person_id,
                              document_sha256=digest_hex, level=level, audit_seq=event.seq))


@bp.post(f"{PREFIX}/signatures/signHash")
def sign_hash() -> ResponseReturnValue:
    caller = _caller()
    _require_scope(caller)
    body = _body()
    cred = _credential(caller, body)
    hash_name = csc.hash_algorithm(body, default=None if "hashAlgorithmOID" in body
                                   else _hash_oid(csc.key_hash(cred.key)))
    digests = csc.hashes(body, hash_name)
    sign_algo = csc.text(body, "signAlgo") or ""
    csc.check_sign_algo(cred.key, sign_algo, hash_name)
    if body.get("operationMode", "S") != "S":
        raise csc.invalid("only synchronous operation (operationMode S) is offered")
    csc.take_sad(current_provider().store, str(body.get("SAD") or ""), credential_id=cred.id,
                 client_id=caller.client_id, person_id=caller.person_id,
                 hash_name=hash_name, wanted=digests)
    signatures = csc.sign_hashes(current_pki().backend, cred.key, digests)
    for d in digests:
        _record(caller, cred, d.hex(), "raw")
    return jsonify({"signatures": signatures})


def _hash_oid(hash_name: str) -> str:
    return next(oid for oid, name in csc.HASH_OIDS.items() if name == hash_name)


def _document(body: Any) -> tuple[bytes, pades.Level]:
    docs = body.get("documents")
    if not isinstance(docs, list) or not 1 <= len(docs) <= MAX_DOCUMENTS:
        raise csc.invalid(f"documents must list 1 to {MAX_DOCUMENTS} document")
    doc = docs[0]
    if not isinstance(doc, dict):
        raise csc.invalid("each document must be an object")
    settings = current_provider().settings
    encoded = doc.get("document")
    if isinstance(encoded, str) and len(encoded) > settings.signing_max_bytes * 4 // 3 + 4:
        raise CscError("invalid_document", f"the document is over "
                       f"{settings.signing_max_bytes // (1024 * 1024) or 1} MB", 413)
    pdf = csc.b64(encoded, "documents[].document", settings.signing_max_bytes * 4 // 3 + 4)
    if doc.get("signature_format", "P") != "P":
        raise csc.invalid("only PAdES (signature_format P) is offered")
    level_name = doc.get("conformance_level")
    if level_name is None:
        level = None
    elif isinstance(level_name, str) and level_name in csc.CONFORMANCE_LOOKUP:
        level = csc.CONFORMANCE_LOOKUP[level_name]
    else:
        raise csc.invalid("conformance_level must be one of AdES-B-B, AdES-B-T, "
                          "AdES-B-LT, AdES-B-LTA")
    try:
        pades.check_input(pdf, settings.signing_max_bytes, settings.signing_max_pages)
    except pades.DocumentError as exc:
        status = 413 if exc.code == "too_large" else 400
        raise CscError("invalid_document", exc.message, status) from None
    return pdf, level or pades.Level.B_LTA


@bp.post(f"{PREFIX}/signatures/signDoc")
def sign_doc() -> ResponseReturnValue:
    caller = _caller()
    _require_scope(caller)
    body = _body()
    cred = _credential(caller, body)
    pdf, level = _document(body)
    if cred.kind == "citizen" and "conformance_level" not in body["documents"][0]:
        level = pades.Level.B_LT
    digest = hashlib.sha256(pdf).digest()
    if cred.kind == "citizen":
        csc.take_sad(current_provider().store, str(body.get("SAD") or ""),
                     credential_id=cred.id, client_id=caller.client_id,
                     person_id=caller.person_id, hash_name="sha256", wanted=[digest])
    pki = current_pki()
    signer = BackendSigner(pki.backend, cred.key, cred.cert, cred.chain)
    root = pki.ca("root").cert
    intermediates = [pki.ca(i).cert for i in (CITIZEN_CA, seals.SEAL_CA)]
    try:
        signed = pades.sign_pdf(
            pdf, signer, pades.SignRequest(level=level),
            timestamper=our_timestamper(current_provider().issuer),
            validation_context=signing_context([root], intermediates))
    except pades.DocumentError as exc:
        raise CscError("invalid_document", exc.message, 400) from None
    except pades.SigningError:
        raise CscError("temporarily_unavailable", "the time-stamp or revocation data could "
                       "not be had; nothing was signed, try again", 503) from None
    _record(caller, cred, digest.hex(), level.value)
    return jsonify({"documentWithSignature": [base64.b64encode(signed).decode()],
                    "signatureObject": []})


# The citizen's confirmation page lives on this blueprint (imported last: it uses `bp`).
from idp.csc import confirm_views as _confirm_views  # noqa: E402, F401
