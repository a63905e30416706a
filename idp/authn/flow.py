"""Moving an authorization request forward: to login, to consent, or to a code for the agency.

The authorization endpoint and the interaction pages both end here, so the rules for what comes
next (and the one place a code is made) live in one module.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from flask import redirect, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from idp import accounts, audit, i18n, persons
from idp.authn import disclosure, passkeys
from idp.authn import session as sso
from idp.db import Client, ConsentGrant, utcnow
from idp.oidc import tokens, verified
from idp.oidc.authorize import AuthorizationRequest, RedirectError, decide, redirect_with
from idp.oidc.claims import PROTOCOL_CLAIMS, VERIFIED_CLAIMS
from idp.provider import Provider, current_provider
from kyc.assurance import Assurance
from kyc.verified_claims import citizen_id_claim

# How long a redeemed code is remembered, so that a replay revokes what the first use issued.
CODE_REUSE_TTL = 3600

ACCOUNT_CLIENT_ID = "idp:account"
"""The client id of a login to the person's own account page (`/account/login`, see
`idp.authn.account_views`). No agency can hold it (registered client ids have no ':'), so no
code is ever made for it: `proceed` ends such a login at ACCOUNT_PAGE instead."""
ACCOUNT_PAGE = "/account"


def is_account(req: AuthorizationRequest) -> bool:
    """Whether this is a login to the account page rather than an agency's request."""
    return req.client_id == ACCOUNT_CLIENT_ID


def account_client() -> Client:
    """A stand-in for the agency of an account login, never stored: the login pages and
    the bank's request message name "My Digital ID account" where they name an agency."""
    return Client(client_id=ACCOUNT_CLIENT_ID, redirect_uris=[ACCOUNT_PAGE], scope="openid",
                  client_name_th=i18n.translate("account_client_name", "th"),
                  client_name_en=i18n.translate("account_client_name", "en"))


def requested_claim_names(req: AuthorizationRequest) -> list[str]:
    """The consent names a request asks for: each claim named in the `claims` parameter
    (protocol claims aside), and `verified:<claim>` for each claim asked for inside
    `verified_claims`. Not yet narrowed to what the person holds
    (see `disclosure.consentable`). The national ID is left out of a target it may not travel
    in to this client (unencrypted, `verified.releasable`): it is neither offered nor sent.
    """
    p = current_provider()
    names: set[str] = set()
    for where, target in req.claims.items():
        # a plain name that looks like a verified consent name is nobody's claim: dropped
        plain = [n for n in target if n not in PROTOCOL_CLAIMS and n != VERIFIED_CLAIMS
                 and not n.startswith(verified.CONSENT_PREFIX)]
        names |= set(verified.releasable(p, req.client_id, where, plain))
        names |= {verified.consent_name(n) for n in verified.releasable(
            p, req.client_id, where, verified.requested_names(target))}
    return sorted(names)


def national_id_withheld(req: AuthorizationRequest) -> bool:
    """Whether the request asks for the national ID inside verified_claims somewhere it may
    not travel to this client (`verified.releasable`): the consent page then says why it is
    not on the list. (As a plain claim it is never given, encrypted or not.)"""
    p = current_provider()
    cid = citizen_id_claim(p.issuer)
    for where, target in req.claims.items():
        asked = cid in verified.requested_names(target)
        if asked and not verified.releasable(p, req.client_id, where, [cid]):
            return True
    return False


def has_consent(p: Provider, person_id: str, client_id: str, scopes: list[str],
                claims: list[str]) -> bool:
    """Whether the person's active consents cover these scopes and every claim of `claims`
    they can give; a request for more than was consented shows the consent page again."""
    needed = disclosure.consentable(p, person_id, claims)
    with p.db.session() as s:
        rows = s.scalars(select(ConsentGrant).where(
            ConsentGrant.person_id == person_id, ConsentGrant.client_id == client_id,
            ConsentGrant.withdrawn_at.is_(None)))
        granted_scopes: set[str] = set()
        granted_claims: set[str] = set()
        for row in rows:
            granted_scopes |= set(row.scopes)
            granted_claims |= set(row.claims)
    return set(scopes) <= granted_scopes and set(needed) <= granted_claims


def record_consent(p: Provider, person_id: str, client_id: str, scopes: list[str],
                   claims: list[str]) -> None:
    """Record the consent the page showed: the scopes, and of `claims` exactly those the
    person can give (the lines the page listed), the citizen ID among them if it was."""
    claims = disclosure.consentable(p, person_id, claims)
    with p.db.session() as s:
        s.add(ConsentGrant(person_id=person_id, client_id=client_id, scopes=scopes,
                           claims=claims))
        audit.record(s, "consent.granted", person_id=person_id, client_id=client_id,
                     scopes=scopes, claims=claims)


def withdraw_consent(p: Provider, person_id: str, client_id: str) -> int:
    """Withdraw every consent of this person for this agency, and revoke its tokens."""
    with p.db.session() as s:
        rows = list(s.scalars(select(ConsentGrant).where(
            ConsentGrant.person_id == person_id, ConsentGrant.client_id == client_id,
            ConsentGrant.withdrawn_at.is_(None))))
        for row in rows:
            row.withdrawn_at = utcnow()
        revoked = tokens.revoke_grants_of(s, person_id, client_id, "consent_withdrawn")
        if rows:
            audit.record(s, "consent.withdrawn", person_id=person_id, client_id=client_id,
                         grants_revoked=len(revoked))
        return len(rows)


def active_consents(p: Provider, person_id: str) -> list[dict[str, Any]]:
    """What each agency receives, one entry per agency, for the person's own page."""
    with p.db.session() as s:
        rows = s.execute(select(ConsentGrant, Client).join(
            Client, Client.client_id == ConsentGrant.client_id).where(
            ConsentGrant.person_id == person_id, ConsentGrant.withdrawn_at.is_(None))
            .order_by(ConsentGrant.granted_at)).all()
    by_client: dict[str, dict[str, Any]] = {}
    for grant, client in rows:
        entry = by_client.setdefault(client.client_id, {
            "client": client, "scopes": [], "claims": [], "granted_at": grant.granted_at})
        entry["scopes"] = sorted(set(entry["scopes"]) | set(grant.scopes))
        entry["claims"] = sorted(set(entry["claims"]) | set(grant.claims))
    for entry in by_client.values():
        entry["view"] = disclosure.describe(p, person_id, entry["scopes"], entry["claims"])
    return list(by_client.values())


def error_response(req: AuthorizationRequest, issuer: str, error: str, description: str,
                   status: int = 302) -> Response:
    """An OAuth error at the registered redirect URI, with `state` and `iss` (RFC 9207)."""
    location = redirect_with(req.redirect_uri, {
        "error": error, "error_description": description, "state": req.state, "iss": issuer})
    return redirect(location, code=status)


def redirect_status() -> int:
    """303 after a POST, so the browser does not re-post the form to the agency."""
    return 303 if request.method == "POST" else 302


def current_session(p: Provider) -> tuple[str | None, sso.SsoSession | None]:
    """The browser's session; a session begun before its person closed their account
    (in this browser or another) is ended here, wherever it is next used."""
    handle = request.cookies.get(sso.COOKIE)
    session = sso.load(p.store, handle)
    if session is not None:
        closed_at = accounts.closed_since(p.store, session.person_id)
        if closed_at is not None and session.auth_time < closed_at:
            sso.end(p.store, handle)
            return handle, None
    return handle, session


def proceed(p: Provider, req: AuthorizationRequest, client: Client,
            session: sso.SsoSession | None, handle: str | None, *,
            consent_given: bool = False, interaction_id: str | None = None) -> Response:
    """Decide the next step for this request and take it (reusing the interaction, if any)."""
    if is_account(req):
        # A login to the account page: no agency, no consent, no code; back to the page.
        if interaction_id:
            p.store.delete("interaction:" + interaction_id)
        return redirect(ACCOUNT_PAGE, code=redirect_status())
    subject = None
    if session is not None:
        subject = p.subject(client, session.person_id)
    consented = consent_given or (session is not None and has_consent(
        p, session.person_id, client.client_id, req.scopes, requested_claim_names(req)))
    try:
        decision = decide(req, session, int(time.time()), subject, consented, p.issuer)
    except RedirectError as exc:
        return error_response(req, p.issuer, exc.error, exc.description, redirect_status())
    if decision.step == "issue":
        assert session is not None
        if interaction_id:
            p.store.delete("interaction:" + interaction_id)
        assert handle is not None
        return issue_code(p, req, client, session, handle)
    return begin_interaction(p, req, decision.step, interaction_id)


def begin_interaction(p: Provider, req: AuthorizationRequest, step: str,
                      interaction_id: str | None = None) -> Response:
    interaction_id = interaction_id or tokens.new_secret()
    p.store.put("interaction:" + interaction_id, {"request": req.to_dict(), "step": step},
                p.settings.interaction_ttl)
    return redirect(f"/interaction/{interaction_id}", code=redirect_status())


def load_interaction(p: Provider, interaction_id: str) -> dict[str, Any] | None:
    if len(interaction_id) > 64:
        return None
    return p.store.get("interaction:" + interaction_id)


def complete_login(p: Provider, interaction_id: str, req: AuthorizationRequest, client: Client,
                   person_id: str, method_aal: Decimal, amr: list[str], method: str,
                   ) -> Response:
    """Every login method ends here: a new session (new handle, no fixation) whose `acr` is
    the person's IAL now (their proofing events) with the AAL of this method, then the next
    step of the authorization request. If the level is still short of an essential `acr`,
    that next step is the login page again, which offers ways to step up.
    """
    with p.db.session() as s:
        level = Assurance(persons.person_ial(s, person_id), method_aal)
        proofed = passkeys.login_proofing_ial(s, person_id, method)
        audit.record(s, "login.success", person_id=person_id, client_id=client.client_id,
                     method=method, acr=level.acr(p.issuer))
    old_handle = request.cookies.get(sso.COOKIE)
    if old_handle:
        sso.end(p.store, old_handle)
    handle, session = sso.start(p.store, person_id, level.acr(p.issuer), amr,
                                p.settings.session_ttl,
                                None if proofed is None else str(proofed))
    # The login just done answers prompt=login, max_age and the voluntary acr_values (the
    # person chose how to log in); the next decision must not ask to log in again for them.
    req.prompt = [x for x in req.prompt if x not in ("login", "select_account")]
    req.max_age = None
    req.acr_values = []
    if passkeys.should_offer(p, person_id, method):
        # A proofing login by someone with no passkey yet: offer one first (passkey_views).
        p.store.put("interaction:" + interaction_id,
                    {"request": req.to_dict(), "step": passkeys.OFFER_STEP},
                    p.settings.interaction_ttl)
        response = redirect(passkeys.offer_path(interaction_id), code=redirect_status())
    else:
        response = proceed(p, req, client, session, handle, interaction_id=interaction_id)
    response.set_cookie(sso.COOKIE, handle, httponly=True, samesite="Lax", path="/",
                        secure=p.issuer.startswith("https://"), max_age=p.settings.session_ttl)
    return response


def issue_code(p: Provider, req: AuthorizationRequest, client: Client,
               session: sso.SsoSession, handle: str) -> Response:
    """The one place a code is made: 256 random bits, stored hashed, 60 s, single use.

    The grant it will start exists before the code leaves: a replayed code then always finds
    the grant to revoke, even while its first redemption is still under way.
    """
    code = tokens.new_secret()
    key = tokens.digest(code)
    with p.db.session() as s:
        grant_id = tokens.create_grant(
            s, client_id=client.client_id, person_id=session.person_id,
            scope=" ".join(req.scopes),
            claims={"request": req.claims, "claims_locales": req.claims_locales},
            auth_time=session.auth_time, acr=session.acr, amr=session.amr, sid=session.sid).id
    p.store.put("code-grant:" + key, {"grant_id": grant_id, "client_id": client.client_id},
                CODE_REUSE_TTL)
    p.store.put("code:" + key, {
        "grant_id": grant_id, "client_id": client.client_id,
        "redirect_uri": req.redirect_uri, "scopes": req.scopes, "nonce": req.nonce,
        "code_challenge": req.code_challenge, "person_id": session.person_id,
        "auth_time": session.auth_time,
        # RFC 9449 10: the DPoP key the code is bound to; /token checks the proof against it.
        "dpop_jkt": req.dpop_jkt,
    }, p.settings.code_ttl)
    # The session is saved under the handle it was loaded or started with, never under the
    # request's cookie: right after a login, that cookie still names the old session.
    if client.client_id not in session.clients:
        session.clients.append(client.client_id)
        sso.save(p.store, handle, session, p.settings.session_ttl)
    location = redirect_with(req.redirect_uri, {"code": code, "state": req.state,
                                                "iss": p.issuer})
    return redirect(location, code=redirect_status())
