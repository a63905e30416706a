"""The citizen's confirmation page for CSC remote signing: `/csc/v2/confirm/<id>`.

`credentials/authorize` for a citizen credential stores a pending request (`idp.csc.confirm`)
and sends the agency the URL of this page. Here the person, logged in as the credential's
holder, sees which agency asks, how many hashes and each hash, and confirms with a passkey.

The passkey ceremony is the signing page's own (`signing.sole_control` + `idp.authn.passkeys`
+ `static/passkey.js`); only the thing confirmed differs. The sole-control challenge is
issued over one "document": the binding of `idp.csc.confirm.binding` (client, person,
credential, hash algorithm and the sorted hashes), recomputed from the pending request when
redeemed. So the passkey speaks for exactly these hashes *and* this agency and credential,
and any number of hashes the CSC API allows (up to 100) fits in one challenge.

On success the `csc:confirmed:<binding>` record is written; the agency's next
`credentials/authorize` with the same hashes takes it once and gets the SAD.

- `GET /csc/v2/confirm/<id>`: not logged in → 401 page with a link to `/account/login`;
  logged in as someone else, or an unknown / expired id → 404 (the same answer, so an id
  says nothing about whose it is).
- `POST /csc/v2/confirm/<id>/options|confirm`: the JSON ceremony (CSRF header, rate limits).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from werkzeug.wrappers import Response

from idp import ratelimit, web
from idp import signing_credentials as creds
from idp.authn import flow, passkeys
from idp.authn import session as sso
from idp.authn.passkey_views import json_error, json_response, record_event
from idp.clients import get_client
from idp.csc import confirm as pending_confirm
from idp.csc.views import PREFIX, bp
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

PAGE = PREFIX + "/confirm"
MAX_ID = 64
SHORT = 12  # hex characters shown at each end of a hash


def _pending_key(pending_id: str) -> str:
    return f"csc:pending:{pending_id}"


def _who(p: Provider) -> sso.SsoSession | None:
    _handle, current = flow.current_session(p)
    return current


def _load(p: Provider, pending_id: str, current: sso.SsoSession) -> dict[str, Any] | None:
    """The pending request, only for the person it names (anyone else: as if unknown)."""
    if not pending_id or len(pending_id) > MAX_ID:
        return None
    pending = p.store.get(_pending_key(pending_id))
    if pending is None or pending.get("person_id") != current.person_id:
        return None
    return pending


def _digests(pending: dict[str, Any]) -> list[bytes]:
    try:
        return [base64.b64decode(h, validate=True) for h in pending["hashes"]]
    except (KeyError, TypeError, binascii.Error):
        return []


def _bound(pending: dict[str, Any]) -> str:
    """The binding recomputed from the request's fields (never the stored copy alone)."""
    return pending_confirm.binding(str(pending["client_id"]), str(pending["person_id"]),
                                   str(pending["credential_id"]), str(pending["hash_name"]),
                                   _digests(pending))


def _signer(pending: dict[str, Any]) -> str:
    return sole_control.signer_id(str(pending["person_id"]), str(pending["credential_id"]))


def _context(pending_id: str, current: sso.SsoSession) -> dict[str, str]:
    return {"sid": current.sid, "csc": pending_id}


def _credential_current(pending: dict[str, Any]) -> bool:
    info = creds.active_credential(current_pki(), str(pending["person_id"]))
    return info is not None and info.id == pending["credential_id"]


def _short(digest: bytes) -> str:
    full = digest.hex()
    return full if len(full) <= 2 * SHORT + 1 else f"{full[:SHORT]}…{full[-SHORT:]}"


def _gone() -> Response:
    return web.error_page("not_found", "csc_confirm_gone", 404)


@bp.get(PAGE + "/<pending_id>")
def confirm_page(pending_id: str) -> Response:
    p = current_provider()
    current = _who(p)
    if current is None:
        return web.render_page("account_login_required.html", status=401)
    pending = _load(p, pending_id, current)
    if pending is None:
        return _gone()
    if pending.get("confirmed"):
        return web.render_page("csc_confirmed.html")
    if not _credential_current(pending):
        return web.render_page("sign_no_credential.html", status=403)
    with p.db.session() as s:
        client = get_client(s, str(pending["client_id"]))
        if client is None:
            return _gone()
        agency = web.agency_name(client)
    digests = _digests(pending)
    return web.render_page(
        "csc_confirm.html", pending_id=pending_id, agency=agency, count=len(digests),
        algorithm=str(pending.get("hash_name", "")).upper().replace("SHA", "SHA-"),
        hashes=[(_short(d), d.hex()) for d in digests])


@bp.post(PAGE + "/<pending_id>/options")
def confirm_options(pending_id: str) -> Response:
    p = current_provider()
    current = ceremony_session(p, ratelimit.PASSKEY_OPTIONS_PER_ADDRESS)
    if not isinstance(current, sso.SsoSession):
        return current
    pending = _load(p, pending_id, current)
    if pending is None or pending.get("confirmed"):
        return json_error("csc_confirm_gone", 404)
    if not _credential_current(pending):
        return json_error("sign_no_credential", 403)
    document = sole_control.document_hash(_bound(pending).encode())
    return options_response(p, current, _signer(pending), [document],
                            _context(pending_id, current),
                            ttl=min(sole_control.CHALLENGE_TTL, pending_confirm.CONFIRM_TTL))


@bp.post(PAGE + "/<pending_id>/confirm")
def confirm_passkey(pending_id: str) -> Response:
    p = current_provider()
    current = ceremony_session(p, ratelimit.PASSKEY_LOGIN_PER_ADDRESS)
    if not isinstance(current, sso.SsoSession):
        return current
    pending = _load(p, pending_id, current)
    if pending is None or pending.get("confirmed"):
        return json_error("csc_confirm_gone", 404)
    bound = _bound(pending)
    client_id = str(pending["client_id"])
    try:
        stored = confirm_documents(p, sent_assertion(), current, _signer(pending),
                                   [bound.encode()], _context(pending_id, current))
    except passkeys.PasskeyError as exc:
        return refused(p, exc, current.person_id, client_id)
    if not _credential_current(pending):
        return json_error("sign_no_credential", 403)
    p.store.put(pending_confirm.confirmed_key(bound), {"method": stored.method},
                pending_confirm.CONFIRM_TTL)
    pending["confirmed"] = True
    p.store.put(_pending_key(pending_id), pending, pending_confirm.CONFIRM_TTL)
    record_event(p, "signing.csc_confirmed", current.person_id, client_id,
                 credential=pending["credential_id"], hashes=len(pending["hashes"]),
                 confirmed_with=stored.method)
    return json_response({"redirect": f"{PAGE}/{pending_id}"})
