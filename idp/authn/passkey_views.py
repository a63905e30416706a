"""Passkeys (WebAuthn): logging in with them, registering them, and the person's list of them.

The ceremonies are JSON endpoints that `static/passkey.js` calls (WebAuthn needs a script);
every page around them is a normal form page that works without one. The rules themselves are
in `idp.authn.passkeys`; this module adds the web side: CSRF, rate limits, sessions, pages.

- `/interaction/<id>/passkey/options|verify`: log in with any discoverable passkey (nothing
  typed), or, when an agency asks for more than the session has (step-up), with one of the
  session person's passkeys that reaches it; ends in `flow.complete_login`.
- `/interaction/<id>/passkey/offer`: after a proofing login (NDID, ThaID-style) by someone with
  no passkey, "register one so next time you just unlock your phone" (Register / Not now),
  then the authorization request goes on (`/interaction/<id>/passkey/continue`).
- `/account/passkeys`: the list, with rename and remove, and a way to add one.

The JSON endpoints take the session's CSRF token in the `X-CSRF-Token` header (the same token
the forms carry), and answer errors as `{"error", "error_description", "message"}` where
`message` is in the person's language for the script to show.
"""

from __future__ import annotations

import hmac
import json
import time
from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, redirect, request, session
from flask import Response as FlaskResponse
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response

from idp import audit, i18n, persons, ratelimit, web
from idp.authn import flow, passkeys
from idp.authn import session as sso
from idp.authn.views import _expired, _load
from idp.db import Authenticator, Person, utcnow
from idp.oidc.authorize import wanted_assurance
from idp.provider import Provider, current_provider
from kyc.assurance import Assurance, amr_for, parse_acr

bp = Blueprint("passkey", __name__)

CSRF_HEADER = "X-CSRF-Token"
MAX_ASSERTION_BYTES = 16 * 1024
MAX_REGISTRATION_BYTES = 48 * 1024  # an attestation may carry a certificate chain
ACCOUNT_PAGE = "/account/passkeys"


@bp.record_once
def _read_allow_list(state: BlueprintSetupState) -> None:
    """Read the security key allow list once, as the app is built, so a broken file stops
    the start with its reason instead of failing the first registration."""
    provider: Provider = state.app.extensions["idp"]
    state.app.extensions["passkey_allow_list"] = passkeys.load_allow_list(
        provider.settings.passkey_allow_list)


def _allow_list() -> passkeys.AllowList:
    allow: passkeys.AllowList = current_app.extensions["passkey_allow_list"]
    return allow


def relying_party_for(p: Provider) -> passkeys.RelyingParty:
    return passkeys.relying_party(p.issuer, i18n.translate("app_name", web.current_locale()))


def user_handle_key(p: Provider) -> bytes:
    return passkeys.handle_key(p.settings.subject_key or p.settings.secret_key)


def _limit_key(p: Provider) -> bytes:
    return ratelimit.limiter_key(p.settings.secret_key)


def rate_limited(p: Provider, limit: ratelimit.Limit, who: str) -> Response | None:
    wait = ratelimit.hit(p.store, _limit_key(p), limit, who)
    return ratelimit.too_many(wait) if wait is not None else None


# --- JSON plumbing ---------------------------------------------------------------------------


def json_response(data: dict[str, Any], status: int = 200) -> FlaskResponse:
    response = FlaskResponse(json.dumps(data, ensure_ascii=False), status=status,
                             mimetype="application/json")
    return response


def json_error(code: str, status: int = 400, **fmt: Any) -> FlaskResponse:
    """An error the script shows as it is: `message` in the person's language."""
    return json_response({"error": code,
                  "error_description": i18n.translate(code, "en", **fmt),
                  "message": i18n.translate(code, web.current_locale(), **fmt)}, status)


def check_csrf_header() -> None:
    """The JSON endpoints' CSRF check: the session's token, sent in a header. A cross-site
    page can neither read the token nor set a custom header without a CORS preflight."""
    expected = session.get(web.CSRF_SESSION_KEY)
    sent = request.headers.get(CSRF_HEADER, "")
    if (not isinstance(expected, str) or not expected or not sent
            or not hmac.compare_digest(sent.encode(), expected.encode())):
        raise web.CsrfError()


def json_body(max_bytes: int) -> dict[str, Any] | None:
    """The JSON object sent, or None when it is too large, not JSON, or not an object."""
    if request.content_length is not None and request.content_length > max_bytes:
        return None
    raw = request.get_data(cache=False)
    if len(raw) > max_bytes:
        return None
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _as_json_redirect(response: Response) -> Response:
    """A redirect the flow made, as JSON for the script to follow (`fetch` must not follow a
    redirect to the agency itself); cookies the flow set are kept."""
    location = response.headers.get("Location", "/")
    response.status_code = 200
    del response.headers["Location"]
    response.set_data(json.dumps({"redirect": location}))
    response.mimetype = "application/json"
    return response


def record_event(p: Provider, event: str, person_id: str | None, client_id: str | None = None,
            **data: Any) -> None:
    with p.db.session() as s:
        audit.record(s, event, person_id=person_id, client_id=client_id, **data)


# --- logging in with a passkey ---------------------------------------------------------------


def _step_up_credentials(p: Provider, wanted: Assurance | None,
                         ) -> list[tuple[str, list[str]]]:
    """When a session exists but is short of what the agency demands, the session person's
    passkeys that reach the AAL demanded (so the browser offers the right one); otherwise
    nothing, which asks for any discoverable passkey."""
    if wanted is None:
        return []
    _, current = flow.current_session(p)
    if current is None:
        return []
    have = parse_acr(current.acr, p.issuer)
    if have is not None and have.satisfies(wanted):
        return []
    with p.db.session() as s:
        rows = passkeys.credentials_of(s, current.person_id)
        return [(r.credential_id, list(r.transports)) for r in rows
                if Decimal(r.aal) >= wanted.aal]


@bp.post("/interaction/<interaction_id>/passkey/options")
def login_options(interaction_id: str) -> Response:
    p = current_provider()
    limited = rate_limited(p, ratelimit.PASSKEY_OPTIONS_PER_ADDRESS, ratelimit.client_address())
    if limited:
        return limited
    check_csrf_header()
    loaded = _load(p, interaction_id)
    if loaded is None:
        return json_error("interaction_expired")
    _, req, _client = loaded
    allowed = _step_up_credentials(p, wanted_assurance(req, p.issuer))
    options, challenge = passkeys.authentication_options(relying_party_for(p), allowed)
    passkeys.issue_challenge(p.store, challenge, "login", {"interaction": interaction_id})
    return json_response({"publicKey": options})


@bp.post("/interaction/<interaction_id>/passkey/verify")
def login_verify(interaction_id: str) -> Response:
    p = current_provider()
    limited = rate_limited(p, ratelimit.PASSKEY_LOGIN_PER_ADDRESS, ratelimit.client_address())
    if limited:
        return limited
    check_csrf_header()
    loaded = _load(p, interaction_id)
    if loaded is None:
        return json_error("interaction_expired")
    _, req, client = loaded
    body = json_body(MAX_ASSERTION_BYTES)
    credential = body.get("credential") if body else None
    stored: passkeys.StoredCredential | None = None
    try:
        if not isinstance(credential, dict):
            raise passkeys.PasskeyError("passkey_bad_request")
        challenge = passkeys.take_challenge(p.store, credential, "login",
                                            {"interaction": interaction_id})
        with p.db.session() as s:
            row = passkeys.find_credential(s, passkeys.credential_id_of(credential))
            stored = passkeys.StoredCredential.of(row) if row else None
        if stored is None:
            raise passkeys.PasskeyError("passkey_unknown", audit="passkey.login_failed",
                                        reason="unknown_credential")
        limited = rate_limited(p, ratelimit.PASSKEY_LOGIN_PER_ACCOUNT, stored.person_id)
        if limited:
            return limited
        assertion = passkeys.verify_assertion(relying_party_for(p), credential, challenge, stored,
                                              passkeys.user_handle(user_handle_key(p),
                                                                   stored.person_id))
        with p.db.session() as s:
            if not passkeys.record_use(s, stored, assertion):
                raise passkeys.PasskeyError("passkey_clone_suspected",
                                            audit="passkey.clone_suspected",
                                            reason="sign_count_race")
            person_ial = persons.person_ial(s, stored.person_id)
    except passkeys.PasskeyError as exc:
        if exc.audit:
            record_event(p, exc.audit, stored.person_id if stored else None, client.client_id,
                    reason=exc.reason, authenticator=stored.row_id if stored else None)
        return json_error(exc.code, exc.status, **exc.fmt)
    wanted = wanted_assurance(req, p.issuer)
    if wanted is not None and stored.aal < wanted.aal:
        return json_error("passkey_level_too_low_aal", aal=wanted.aal)
    if wanted is not None and person_ial < wanted.ial:
        return json_error("passkey_level_too_low_ial", ial=wanted.ial)
    response = flow.complete_login(p, interaction_id, req, client, stored.person_id,
                                   stored.aal, amr_for(stored.method), stored.method)
    return _as_json_redirect(response)


# --- registering a passkey -------------------------------------------------------------------


def registration_check(p: Provider, current: sso.SsoSession) -> passkeys.Refusal | None:
    """Whether this session may add a passkey (`passkeys.registration_refusal`, the
    recovery rule): None if it may, else why not."""
    with p.db.session() as s:
        level = persons.person_ial(s, current.person_id)
        held = [Decimal(r.aal) for r in passkeys.credentials_of(s, current.person_id)]
    assurance = parse_acr(current.acr, p.issuer)
    return passkeys.registration_refusal(
        person_ial=level, session_aal=assurance.aal if assurance else None,
        proofing_ial=Decimal(current.proofing_ial) if current.proofing_ial else None,
        held=held, age=time.time() - current.auth_time)


def _registrant(p: Provider) -> tuple[str, sso.SsoSession] | Response:
    """The logged-in person who may register, or the error to answer with: nobody logged
    in (401), or a session the recovery rule refuses (403: identity not proven to IAL 2.1,
    login not recent, or weaker than the person's strongest passkey)."""
    handle, current = flow.current_session(p)
    if current is None or handle is None:
        return json_error("passkey_login_required", 401)
    refusal = registration_check(p, current)
    if refusal is not None:
        return json_error(refusal.code, 403, **refusal.fmt)
    return handle, current


def _user_names(p: Provider, person_id: str) -> tuple[str, str]:
    """The name a passkey is saved under on the device (never an ID number)."""
    with p.db.session() as s:
        person = s.get(Person, person_id)
        claims = dict(person.claims) if person else {}
    locale = web.current_locale()
    names = [claims.get("name#th"), claims.get("name")] if locale == "th" else \
        [claims.get("name"), claims.get("name#th")]
    name = next((n for n in names if isinstance(n, str) and n.strip()), None)
    fallback = i18n.translate("passkey_user_fallback", locale)
    return (name or fallback)[:64], (name or fallback)[:64]


def _registration_binding(current: sso.SsoSession, interaction_id: str | None,
                          ) -> dict[str, str]:
    return {"sid": current.sid, "person": current.person_id, "interaction": interaction_id or ""}


def _offer_interaction(p: Provider, interaction_id: str) -> tuple[Any, Any, Any] | None:
    loaded = _load(p, interaction_id)
    if loaded is None or loaded[0].get("step") != passkeys.OFFER_STEP:
        return None
    return loaded


def _register_options(interaction_id: str | None) -> Response:
    p = current_provider()
    limited = rate_limited(p, ratelimit.PASSKEY_OPTIONS_PER_ADDRESS, ratelimit.client_address())
    if limited:
        return limited
    check_csrf_header()
    if interaction_id is not None and _offer_interaction(p, interaction_id) is None:
        return json_error("interaction_expired")
    who = _registrant(p)
    if isinstance(who, Response):
        return who
    _, current = who
    with p.db.session() as s:
        existing = [r.credential_id for r in passkeys.credentials_of(s, current.person_id)]
    user_name, display_name = _user_names(p, current.person_id)
    options, challenge = passkeys.registration_options(
        relying_party_for(p), handle=passkeys.user_handle(user_handle_key(p), current.person_id),
        user_name=user_name, display_name=display_name, exclude=existing,
        allow=_allow_list())
    passkeys.issue_challenge(p.store, challenge, "register",
                             _registration_binding(current, interaction_id))
    return json_response({"publicKey": options})


def _default_name(method: str) -> str:
    """A name until the person gives one: the kind and the day it was added."""
    kind = i18n.translate("passkey_kind_" + method, web.current_locale())
    return f"{kind} ({utcnow().strftime('%Y-%m-%d')})"


def _register_verify(interaction_id: str | None) -> Response:
    p = current_provider()
    limited = rate_limited(p, ratelimit.PASSKEY_REGISTER_PER_ADDRESS, ratelimit.client_address())
    if limited:
        return limited
    check_csrf_header()
    offer = None
    if interaction_id is not None:
        offer = _offer_interaction(p, interaction_id)
        if offer is None:
            return json_error("interaction_expired")
    who = _registrant(p)
    if isinstance(who, Response):
        return who
    handle, current = who
    limited = rate_limited(p, ratelimit.PASSKEY_REGISTER_PER_ACCOUNT, current.person_id)
    if limited:
        return limited
    body = json_body(MAX_REGISTRATION_BYTES)
    credential = body.get("credential") if body else None
    name = None
    if body and body.get("name"):
        name = passkeys.clean_name(body.get("name"))
        if name is None:
            return json_error("passkey_name_invalid")
    try:
        if not isinstance(credential, dict):
            raise passkeys.PasskeyError("passkey_bad_request")
        challenge = passkeys.take_challenge(p.store, credential, "register",
                                            _registration_binding(current, interaction_id))
        new = passkeys.verify_registration(relying_party_for(p), credential, challenge,
                                           _allow_list())
        with p.db.session() as s:
            if passkeys.find_credential(s, new.credential_id) is not None:
                raise passkeys.PasskeyError("passkey_already_registered", status=409)
            row = passkeys.save(s, current.person_id, new,
                                name or _default_name(new.method))
            audit.record(s, "passkey.registered", person_id=current.person_id,
                         client_id=offer[2].client_id if offer else None,
                         authenticator=row.id, method=new.method, aal=str(new.aal),
                         aaguid=new.aaguid, backup_eligible=new.backup_eligible)
    except passkeys.PasskeyError as exc:
        if exc.audit:
            record_event(p, exc.audit, current.person_id, reason=exc.reason)
        return json_error(exc.code, exc.status, **exc.fmt)
    if offer is not None and interaction_id is not None:
        _, req, client = offer
        return _as_json_redirect(flow.proceed(p, req, client, current, handle,
                                              interaction_id=interaction_id))
    if request.args.get("return") == "account":  # registered from the account page
        return json_response({"redirect": flow.ACCOUNT_PAGE + "?added=1#passkeys"})
    return json_response({"redirect": ACCOUNT_PAGE + "?added=1"})


@bp.post("/account/passkeys/options")
def account_register_options() -> Response:
    return _register_options(None)


@bp.post("/account/passkeys/verify")
def account_register_verify() -> Response:
    return _register_verify(None)


@bp.post("/interaction/<interaction_id>/passkey/register/options")
def offer_register_options(interaction_id: str) -> Response:
    return _register_options(interaction_id)


@bp.post("/interaction/<interaction_id>/passkey/register/verify")
def offer_register_verify(interaction_id: str) -> Response:
    return _register_verify(interaction_id)


# --- the offer after a proofing login --------------------------------------------------------


@bp.get("/interaction/<interaction_id>/passkey/offer")
def offer(interaction_id: str) -> Response:
    p = current_provider()
    loaded = _offer_interaction(p, interaction_id)
    _, current = flow.current_session(p)
    if loaded is None or current is None:
        return _expired()
    return web.render_page("passkey_offer.html", interaction_id=interaction_id,
                           client=loaded[2], page_url=passkeys.offer_path(interaction_id))


@bp.post("/interaction/<interaction_id>/passkey/continue")
def offer_continue(interaction_id: str) -> Response:
    """"Not now" (or the way on after registering without the script's redirect): the
    authorization request goes on from where the proofing login left it."""
    web.check_csrf()
    p = current_provider()
    loaded = _offer_interaction(p, interaction_id)
    handle, current = flow.current_session(p)
    if loaded is None or current is None:
        return _expired()
    _, req, client = loaded
    return flow.proceed(p, req, client, current, handle, interaction_id=interaction_id)


# --- the person's passkeys -------------------------------------------------------------------


def _account_person(p: Provider) -> str | None:
    _, current = flow.current_session(p)
    return current.person_id if current else None


def _back(query: str) -> Response:
    """After a form: back to the page it was on, the account page (the form says so) or
    this list; one of two fixed paths, never an address from the request."""
    if request.form.get("return_to") == "account":
        return redirect(f"{flow.ACCOUNT_PAGE}?{query}#passkeys", code=303)
    return redirect(f"{ACCOUNT_PAGE}?{query}", code=303)


@bp.get(ACCOUNT_PAGE)
def account() -> Response:
    p = current_provider()
    _, current = flow.current_session(p)
    person_id = current.person_id if current else None
    if current is None or person_id is None:
        return web.error_page("login_required", "passkey_login_required", 401)
    with p.db.session() as s:
        rows = passkeys.credentials_of(s, person_id)
        items = [{"id": r.id, "name": r.name, "method": r.method, "aal": r.aal,
                  "created_at": r.created_at, "last_used_at": r.last_used_at,
                  "backup_state": r.backup_state} for r in rows]
        level = persons.person_ial(s, person_id)
    notice = next((k for k in ("added", "renamed", "removed") if request.args.get(k) == "1"),
                  None)
    return web.render_page("passkey_account.html", passkeys=items, notice=notice,
                           refusal=registration_check(p, current), ial=level,
                           error=request.args.get("error") == "name" and "passkey_name_invalid",
                           page_url=ACCOUNT_PAGE)


def _owned(s: Any, person_id: str, authenticator_id: int) -> Authenticator | None:
    row = s.get(Authenticator, authenticator_id)
    return row if row is not None and row.person_id == person_id else None


@bp.post(ACCOUNT_PAGE + "/<int:authenticator_id>/rename")
def rename(authenticator_id: int) -> Response:
    web.check_csrf()
    p = current_provider()
    person_id = _account_person(p)
    if person_id is None:
        return web.error_page("login_required", "passkey_login_required", 401)
    name = passkeys.clean_name(request.form.get("name", ""))
    if name is None:
        return _back("error=name")
    with p.db.session() as s:
        row = _owned(s, person_id, authenticator_id)
        if row is None:
            return web.error_page("not_found", "passkey_not_found", 404)
        row.name = name
        audit.record(s, "passkey.renamed", person_id=person_id, authenticator=row.id)
    return _back("renamed=1")


@bp.post(ACCOUNT_PAGE + "/<int:authenticator_id>/remove")
def remove(authenticator_id: int) -> Response:
    web.check_csrf()
    p = current_provider()
    person_id = _account_person(p)
    if person_id is None:
        return web.error_page("login_required", "passkey_login_required", 401)
    with p.db.session() as s:
        row = _owned(s, person_id, authenticator_id)
        if row is None:
            return web.error_page("not_found", "passkey_not_found", 404)
        s.delete(row)
        audit.record(s, "passkey.removed", person_id=person_id, authenticator=authenticator_id,
                     method=row.method)
    return _back("removed=1")
