"""Logging in through an upstream OpenID provider (ThaID-style): start and callback.

    POST /interaction/<id>/upstream/<name>   the person chose this provider on our login page
    GET  /federation/oidc/callback           the provider sends the browser back (one redirect
                                             URI for every provider)
    POST /interaction/<id>/upstream-cancel   back to the agency after a failure (access_denied)

What must hold, and where it is enforced:
- state, nonce and the PKCE verifier stay in the ephemeral store under a digest of `state`,
  for as long as the login interaction lives, bound to the interaction and to this browser
  (its CSRF token); the callback takes them atomically, so a replayed or forged `state` finds
  nothing and gets a page;
- every protocol rule of the answer is checked in `federation.oidc` (no Flask there);
- a person and a proofing event are written only after everything passed, in one transaction,
  and then the login ends like every other one, in `flow.complete_login`;
- a failure is a page in Thai and English (never a 500), naming neither the token nor the ID.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from flask import Blueprint, current_app, redirect, request, session
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response

from federation.oidc import UpstreamConfig, UpstreamError, UpstreamIdentity, check_response_issuer
from idp import audit, persons, upstreams, web
from idp.authn import flow
from idp.authn.views import _expired, _load
from idp.db import Client, utcnow
from idp.provider import Provider, current_provider
from kyc.identifiers import TH_CITIZEN_ID
from kyc.proofing import ProofingEvent, default_expiry, id_card_chip_evidence

bp = Blueprint("upstream", __name__)

PENDING = "upstream-login:"
MAX_STATE = 512
MAX_CODE = 4096
_ERROR_CODE = re.compile(r"[a-z0-9_]{1,64}")

# Our failure code -> (page title, message, HTTP status, offer to try again).
_FAILURES: dict[str, tuple[str, str, int, bool]] = {
    "access_denied": ("upstream_cancelled_title", "upstream_cancelled", 200, True),
    "upstream_refused": ("upstream_error_title", "upstream_refused", 502, True),
    "upstream_unavailable": ("upstream_error_title", "upstream_unavailable", 502, True),
    "upstream_token_invalid": ("upstream_error_title", "upstream_token_invalid", 502, True),
    "upstream_identity_incomplete": ("upstream_error_title", "upstream_identity_incomplete",
                                     403, False),
    "upstream_conflict": ("upstream_error_title", "upstream_conflict", 409, False),
}


@bp.record_once
def _load_registry(state: BlueprintSetupState) -> None:
    """Read IDP_UPSTREAMS_FILE when the app is built, so a broken file stops the start."""
    upstreams.init_app(state.app, state.app.extensions["idp"].settings)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _browser() -> str:
    """This browser, as the digest of its session's CSRF token (kept in the signed session
    cookie): an answer from the provider only completes a login begun in the same browser."""
    token = session.get(web.CSRF_SESSION_KEY)
    return _digest(token) if isinstance(token, str) and token else ""


def _display_name(config: UpstreamConfig) -> str:
    return web.localized({"display_name_th": config.display_name_th,
                          "display_name_en": config.display_name_en}, "display_name")


def _state_invalid() -> Response:
    return web.error_page("invalid_request", "upstream_state_invalid", 400)


def _failure(p: Provider, interaction_id: str, config: UpstreamConfig, client: Client,
             error: str, reason: str, upstream_code: str = "") -> Response:
    """Record the failure (no personal data) and show what happened and what to do next."""
    current_app.logger.warning("upstream login via %s failed: %s (%s)", config.name, error,
                               reason)
    with p.db.session() as s:
        audit.record(s, "upstream.failed", client_id=client.client_id,
                     upstream=config.name, error=error, reason=reason)
    title, message, status, retry = _FAILURES[error]
    return web.render_page("upstream_error.html", status=status, title_key=title,
                           message_key=message, provider=_display_name(config),
                           code=upstream_code, error=error, retry=retry,
                           interaction_id=interaction_id, upstream=config.name,
                           client=client)


@bp.post("/interaction/<interaction_id>/upstream/<name>")
def start(interaction_id: str, name: str) -> Response:
    web.check_csrf()
    p = current_provider()
    loaded = _load(p, interaction_id)
    if loaded is None:
        return _expired()
    _, _, client = loaded
    upstream = upstreams.registry().get(name)
    if upstream is None:
        return web.error_page("invalid_request", "upstream_unknown", 404)
    try:
        begun = upstream.start(upstreams.callback_url(p.issuer),
                               {"ui_locales": web.current_locale()})
    except UpstreamError as exc:
        return _failure(p, interaction_id, upstream.config, client, exc.code, exc.detail)
    web.csrf_token()  # make sure this browser has the token the answer is bound to
    p.store.put(PENDING + _digest(begun.state), {
        "interaction_id": interaction_id, "upstream": upstream.config.name,
        "nonce": begun.nonce, "code_verifier": begun.code_verifier, "browser": _browser(),
    }, p.settings.interaction_ttl)
    return redirect(begun.url, code=303)


def _take_pending(p: Provider, state: str) -> dict[str, Any] | None:
    """The login this answer belongs to, taken once; None when unknown, used, expired or
    begun in another browser."""
    if not state or len(state) > MAX_STATE:
        return None
    pending = p.store.take(PENDING + _digest(state))
    if not isinstance(pending, dict):
        return None
    if not hmac.compare_digest(str(pending.get("browser", "")), _browser()) or not _browser():
        return None
    return pending


@bp.get(upstreams.CALLBACK_PATH)
def callback() -> Response:
    p = current_provider()
    pending = _take_pending(p, request.args.get("state", ""))
    if pending is None:
        return _state_invalid()
    interaction_id = str(pending["interaction_id"])
    loaded = _load(p, interaction_id)
    if loaded is None:
        return _expired()
    _, req, client = loaded
    upstream = upstreams.registry().get(str(pending["upstream"]))
    if upstream is None:
        return _state_invalid()
    config = upstream.config
    try:
        check_response_issuer(upstream.metadata(), request.args.get("iss"))
        error = request.args.get("error")
        if error is not None:
            code = error if _ERROR_CODE.fullmatch(error) else "unknown"
            if code == "access_denied":
                return _failure(p, interaction_id, config, client, "access_denied",
                                "the person cancelled at the provider")
            return _failure(p, interaction_id, config, client, "upstream_refused",
                            f"the provider answered error={code}", code)
        code = request.args.get("code", "")
        if not code or len(code) > MAX_CODE:
            raise UpstreamError("upstream_refused", "the answer carries no usable code")
        identity = upstream.finish(code, code_verifier=str(pending["code_verifier"]),
                                   nonce=str(pending["nonce"]),
                                   redirect_uri=upstreams.callback_url(p.issuer))
    except UpstreamError as exc:
        reason = getattr(exc, "reason", None)
        detail = f"{reason}: {exc.detail}" if reason else exc.detail
        return _failure(p, interaction_id, config, client, exc.code, detail)
    person_id = _prove(p, config, client, identity)
    if person_id is None:
        return _failure(p, interaction_id, config, client, "upstream_conflict",
                        "the provider's subject and citizen ID belong to different persons")
    return flow.complete_login(p, interaction_id, req, client, person_id, identity.aal,
                               ["fed"], config.source)


def _prove(p: Provider, config: UpstreamConfig, client: Client,
           identity: UpstreamIdentity) -> str | None:
    """Create or link the person and record the proofing event, in one transaction; None
    (nothing written) when the link and the citizen ID point at different persons."""
    now = utcnow()
    event = ProofingEvent(
        person_id="pending", source=config.source, ial=identity.ial, aal=identity.aal,
        evidence=[id_card_chip_evidence(now)] if identity.evidence == "id_card_chip" else [],
        claims=dict(identity.claims), verification_process=identity.reference, time=now,
        expires_at=default_expiry(now))
    with p.db.session() as s:
        if _link_conflict(p, s, config.name, identity):
            return None
        person = persons.proven_person(
            s, p.identifiers, kind="citizen", namespace=TH_CITIZEN_ID, value=identity.citizen_id,
            claims=identity.claims, event=event, link=(config.name, identity.subject))
        audit.record(s, "upstream.accepted", person_id=person.id, client_id=client.client_id,
                     source=config.source, ial=str(identity.ial), aal=str(identity.aal))
        return person.id


def _link_conflict(p: Provider, s: Any, name: str, identity: UpstreamIdentity) -> bool:
    """The provider's subject is already linked to someone, and the citizen ID it sends now
    belongs to (or would be added to) a different person: refuse rather than merge."""
    linked = persons.find_by_link(s, name, identity.subject)
    if linked is None:
        return False
    holder = persons.find_by_identifier(s, p.identifiers, TH_CITIZEN_ID, identity.citizen_id)
    if holder is not None:
        return holder.id != linked.id
    held = persons.identifier_of(s, p.identifiers, linked.id, TH_CITIZEN_ID)
    return held is not None and held != identity.citizen_id
