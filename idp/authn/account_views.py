"""The person's own account page, `/account`, and a login to it, `/account/login`.

One page, four sections, each built by one function into plain view data the template only
shows:

- my passkeys: name, kind, level, added, last used; the rename and remove forms post to the
  passkey routes (`idp.authn.passkey_views`) and bring the person back here; adding one
  follows the recovery rule (`passkeys.registration_refusal`), and when the session may not
  the page says why and offers to log in again;
- the agencies I consented to and exactly what each receives (`flow.active_consents`, worded
  by `idp.authn.disclosure`), each with the withdraw form of `/consents/<client_id>/withdraw`,
  which revokes the agency's tokens;
- my activity: the person's own audit events, newest first, a page at a time, each said in
  plain words (`describe_event`). Nothing raw is shown: agencies by name, passkeys by name,
  banks by name; never a person id, request id, token or address;
- my proofing: who proved the identity (the bank over NDID, ThaID, the sandbox), the IAL,
  when, until when, expired ones marked, and which one gives the level now. Read from the
  proofing rows without unsealing the citizen ID: the page never needs it.

A login to this page is an ordinary login interaction whose request names
`flow.ACCOUNT_CLIENT_ID`: every login method works unchanged, and `flow.proceed` ends it back
here instead of issuing a code. Not logged in, `/account` is a 401 page with a "Log in" link,
never a redirect, so a browser that drops the cookie cannot loop.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, redirect, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from idp import accounts, i18n, persons, ratelimit, web
from idp import signing_credentials as creds
from idp.authn import flow, passkeys
from idp.authn import session as sso
from idp.authn.passkey_views import registration_check
from idp.db import AuditEvent, Authenticator, Client, Person, ProofingRecord, as_utc, utcnow
from idp.oidc import logout as rp_logout
from idp.oidc.authorize import AuthorizationRequest
from idp.pki.views import current_pki
from idp.provider import Provider, current_provider
from idp.upstreams import registry
from kyc.assurance import parse_acr

bp = Blueprint("account", __name__)

ACTIVITY_PAGE_SIZE = 20
MAX_ACTIVITY_PAGE = 1000
"""Pages of activity one can ask for: bounds the offset a request can make the database skip."""


ACCOUNT_LOGIN_PER_ADDRESS = ratelimit.Limit("account-login-ip", 60, 300)
"""Each `/account/login` holds a login interaction in the store: bounded per address."""

NOTICES = {"added": "passkey_notice_added", "renamed": "passkey_notice_renamed",
           "removed": "passkey_notice_removed", "withdrawn": "consent_withdrawn",
           "cert_issued": "signing_cert_notice_issued",
           "cert_revoked": "signing_cert_notice_revoked"}
SIGNING_ERRORS = frozenset({"ial_too_low", "aal_too_low", "no_verified_names", "no_citizen_id",
                            "confirm_needed"})
"""`?signing_error=` values the page explains (`signing_cert_error_<code>`); others ignored."""
CLOSE_ERRORS = frozenset({"confirm_needed", "login_again"})
"""`?close_error=` values the page explains (`account_close_error_<code>`)."""


# --- view data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityLine:
    """One audit event of the person, in words."""

    text: str
    at: datetime  # UTC
    kind: str  # the event type, for `data-event` (a dotted name, no data)


@dataclass(frozen=True)
class ProofingLine:
    """One proofing event of the person, in words."""

    source: str
    how: str | None
    ial: str
    proven_on: datetime
    expires_at: datetime | None
    expired: bool
    current: bool


@dataclass
class _Names:
    """What turns the ids in audit data into words: agency names, the person's passkey
    names, and bank names by NDID request (from the person's own proofing events)."""

    locale: str
    agencies: dict[str, Client] = field(default_factory=dict)
    passkeys: dict[int, str] = field(default_factory=dict)
    banks: dict[str, str] = field(default_factory=dict)

    def t(self, key: str, **fmt: Any) -> str:
        return i18n.translate(key, self.locale, **fmt)

    def agency(self, client_id: str | None) -> str:
        if client_id == flow.ACCOUNT_CLIENT_ID:
            return self.t("activity_this_account")
        client = self.agencies.get(client_id or "")
        if client is None:
            return self.t("activity_agency_gone")
        return web.agency_name(client)

    def passkey(self, data: dict[str, Any]) -> str:
        """The passkey's name now, else its kind (it was removed since)."""
        row_id = data.get("authenticator")
        if isinstance(row_id, int) and row_id in self.passkeys:
            return self.passkeys[row_id]
        method = data.get("method")
        if isinstance(method, str) and i18n.has_message("passkey_kind_" + method):
            return self.t("passkey_kind_" + method)
        return self.t("passkey_kind_passkey")


# --- words -------------------------------------------------------------------------------------


def upstream_name(name: str, locale: str) -> str:
    """An upstream provider's display name in this language, else its configured name."""
    for config in registry().configs():
        if config.name == name:
            return (config.display_name_th if locale == "th" else config.display_name_en) or name
    return name


def method_words(method: Any, locale: str) -> str:
    """How a login was made, in words ("a passkey", "your bank over NDID", "ThaID")."""
    if not isinstance(method, str):
        return i18n.translate("activity_method_other", locale)
    if method.startswith("oidc:"):
        return i18n.translate("activity_method_upstream", locale,
                              provider=upstream_name(method.removeprefix("oidc:"), locale))
    if method.startswith("passkey"):
        return i18n.translate("activity_method_passkey", locale)
    if method.startswith("security-key"):
        return i18n.translate("activity_method_security_key", locale)
    if method in ("ndid", "sandbox_persona"):
        return i18n.translate("activity_method_" + method, locale)
    return i18n.translate("activity_method_other", locale)


def describe_event(event: AuditEvent, names: _Names) -> str:
    """One audit event of the person in plain words. Only what the person may see: the
    agency's name, never its id; the passkey's name; the bank's name; levels."""
    data: dict[str, Any] = event.data if isinstance(event.data, dict) else {}
    t = names.t
    agency = names.agency(event.client_id)
    kind = event.type
    if kind == "login.success":
        method = method_words(data.get("method"), names.locale)
        if event.client_id == flow.ACCOUNT_CLIENT_ID:
            return t("activity_login_account", method=method)
        return t("activity_login", agency=agency, method=method)
    if kind in ("consent.granted", "consent.denied", "consent.withdrawn", "token.revoked"):
        return t("activity_" + kind.replace(".", "_"), agency=agency)
    if kind == "token.issued":
        refreshed = data.get("grant_type") == "refresh_token"
        return t("activity_token_refreshed" if refreshed else "activity_token_issued",
                 agency=agency)
    if kind in ("passkey.registered", "passkey.renamed", "passkey.removed"):
        return t("activity_" + kind.replace(".", "_"), passkey=names.passkey(data))
    if kind == "ndid.accepted":
        request_id = data.get("request_id")
        bank = names.banks.get(request_id) if isinstance(request_id, str) else None
        return t("activity_ndid_accepted", bank=bank or t("activity_bank_unnamed"),
                 ial=str(data.get("ial", "")))
    if kind == "upstream.accepted":
        source = data.get("source")
        provider = upstream_name(source.removeprefix("oidc:"), names.locale) \
            if isinstance(source, str) else t("activity_method_other")
        return t("activity_upstream_accepted", provider=provider, ial=str(data.get("ial", "")))
    if kind in _PLAIN_EVENTS:
        return t("activity_" + kind.replace(".", "_"))
    return t("activity_other", type=kind)


_PLAIN_EVENTS = frozenset({"logout", "passkey.login_failed", "passkey.clone_suspected",
                           "passkey.registration_failed", "cert.issued", "cert.revoked",
                           "signing.credential_issued", "signing.credential_revoked",
                           "signing.signed", "account.closed"})


def _bank_of(evidence: Iterable[Any]) -> str | None:
    """The bank named by NDID evidence (`electronic_record` from a bank), if any."""
    for item in evidence:
        record = item.get("record") if isinstance(item, dict) else None
        source = record.get("source") if isinstance(record, dict) else None
        name = source.get("name") if isinstance(source, dict) else None
        if isinstance(name, str) and name:
            return name
    return None


def _how(evidence: Iterable[Any], locale: str) -> str | None:
    """What the proofing checked, from its first piece of evidence, in words."""
    for item in evidence:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "electronic_record":
            return i18n.translate("proofing_how_bank_record", locale)
        details = item.get("document_details")
        document = details.get("type") if isinstance(details, dict) else None
        if document in ("idcard", "passport"):
            return i18n.translate("proofing_how_" + document, locale)
    return None


def source_words(source: str, evidence: list[Any], locale: str) -> str:
    """Who proved the identity: "Bank over NDID (Sandbox Bank A)", "ThaID", "Sandbox"."""
    if source == "ndid":
        bank = _bank_of(evidence)
        if bank:
            return i18n.translate("proofing_source_ndid", locale, bank=bank)
        return i18n.translate("proofing_source_ndid_unnamed", locale)
    if source.startswith("oidc:"):
        return i18n.translate("proofing_source_upstream", locale,
                              provider=upstream_name(source.removeprefix("oidc:"), locale))
    return i18n.translate("proofing_source_sandbox", locale)


# --- sections ----------------------------------------------------------------------------------


def passkey_items(p: Provider, person_id: str) -> list[dict[str, Any]]:
    with p.db.session() as s:
        return [{"id": r.id, "name": r.name, "method": r.method, "aal": r.aal,
                 "created_at": r.created_at, "last_used_at": r.last_used_at}
                for r in passkeys.credentials_of(s, person_id)]


def activity(p: Provider, person_id: str, page: int, locale: str,
             ) -> tuple[list[ActivityLine], bool]:
    """One page of the person's audit events, newest first, in words; and whether older
    ones exist."""
    with p.db.session() as s:
        rows = list(s.scalars(
            select(AuditEvent).where(AuditEvent.person_id == person_id)
            .order_by(AuditEvent.seq.desc())
            .offset((page - 1) * ACTIVITY_PAGE_SIZE).limit(ACTIVITY_PAGE_SIZE + 1)))
        names = _Names(locale)
        client_ids = {r.client_id for r in rows if r.client_id}
        if client_ids:
            names.agencies = {c.client_id: c for c in s.scalars(
                select(Client).where(Client.client_id.in_(client_ids)))}
        names.passkeys = {r.id: r.name for r in s.scalars(
            select(Authenticator).where(Authenticator.person_id == person_id))}
        for proofing in s.scalars(select(ProofingRecord).where(
                ProofingRecord.person_id == person_id, ProofingRecord.source == "ndid")):
            bank = _bank_of(proofing.evidence)
            if bank:
                names.banks[proofing.verification_process] = bank
        lines = [ActivityLine(describe_event(r, names), as_utc(r.at), r.type)
                 for r in rows[:ACTIVITY_PAGE_SIZE]]
    return lines, len(rows) > ACTIVITY_PAGE_SIZE


def proofing(p: Provider, person_id: str, locale: str,
             now: datetime | None = None) -> list[ProofingLine]:
    """The person's proofing events, newest first; the one giving their IAL now (the
    highest unexpired, the newest among equals, as `kyc.proofing.best_event`) marked."""
    now = now or utcnow()
    with p.db.session() as s:
        rows = list(s.scalars(select(ProofingRecord)
                              .where(ProofingRecord.person_id == person_id)))
    rows.sort(key=lambda r: as_utc(r.time), reverse=True)
    valid = [r for r in rows if r.expires_at is None or now < as_utc(r.expires_at)]
    best = max(valid, key=lambda r: (Decimal(r.ial), as_utc(r.time)), default=None)
    return [ProofingLine(
        source=source_words(r.source, list(r.evidence), locale),
        how=_how(r.evidence, locale), ial=r.ial, proven_on=as_utc(r.time),
        expires_at=as_utc(r.expires_at), expired=r not in valid, current=r is best)
        for r in rows]


def _summary(p: Provider, current: sso.SsoSession, locale: str) -> dict[str, Any]:
    """Who is logged in and how: their name (never an ID number), IAL now, this login's AAL."""
    with p.db.session() as s:
        person = s.get(Person, current.person_id)
        claims = dict(person.claims) if person else {}
        level = persons.person_ial(s, current.person_id)
    order = ["name#th", "name"] if locale == "th" else ["name", "name#th"]
    name = next((claims[k] for k in order if isinstance(claims.get(k), str) and claims[k]),
                None)
    session_level = parse_acr(current.acr, p.issuer)
    return {"name": name, "ial": str(level),
            "aal": str(session_level.aal) if session_level else None,
            "logged_in_at": datetime.fromtimestamp(current.auth_time, tz=UTC)}


def signing_certificate(p: Provider, person_id: str, error: str | None) -> dict[str, Any]:
    """My signing certificate: the active one, else the last one (shown as revoked), the
    levels it needs, and the message for a refusal just made (`SIGNING_ERRORS`)."""
    info = creds.latest_credential(current_pki(), person_id)
    return {"min_ial": p.settings.signing_min_ial, "min_aal": p.settings.signing_min_aal,
            "error_key": f"signing_cert_error_{error}" if error else None,
            "credential": None if info is None else {
                "status": info.status, "status_key": f"signing_cert_status_{info.status}",
                "serial": info.serial, "issuer": info.issuer,
                "not_after": info.not_after, "revoked_at": info.revoked_at}}


def _signing_back(query: str) -> Response:
    return redirect(f"{flow.ACCOUNT_PAGE}?{query}#signing", code=303)


@bp.post(flow.ACCOUNT_PAGE + "/signing-certificate")
def signing_issue() -> Response:
    """"Get a signing certificate": issued when this person and this login are strong
    enough (idp.signing_credentials), else back to the page with the reason."""
    web.check_csrf()
    p = current_provider()
    _, current = flow.current_session(p)
    if current is None:
        return login_required_page()
    try:
        creds.issue_credential(p, current_pki(), current.person_id, current.acr,
                               consent_pnoth=request.form.get("pnoth") == "yes")
    except creds.SigningRefused as refused:
        return _signing_back(f"signing_error={refused.reason}")
    return _signing_back("cert_issued=1")


@bp.post(flow.ACCOUNT_PAGE + "/signing-certificate/revoke")
def signing_revoke() -> Response:
    """"Revoke": only with the confirmation box ticked; the certificate is revoked at once
    (CRL and OCSP) and the key destroyed."""
    web.check_csrf()
    p = current_provider()
    _, current = flow.current_session(p)
    if current is None:
        return login_required_page()
    if request.form.get("confirm") != "yes":
        return _signing_back("signing_error=confirm_needed")
    creds.revoke_credential(current_pki(), current.person_id, "requested")
    return _signing_back("cert_revoked=1")


CLOSE_MAX_AGE = 600
"""Closing needs a login at most this many seconds old: a borrowed, still-open browser must
not be enough to close someone's account."""


@bp.post(flow.ACCOUNT_PAGE + "/close")
def close() -> Response:
    """"Close my account": with the confirmation box ticked and a fresh login. Ends what
    `idp.accounts.close_account` lists, tells the agencies of this session over the back
    channel, ends this browser's session, and says what was done."""
    web.check_csrf()
    p = current_provider()
    handle, current = flow.current_session(p)
    if current is None:
        return login_required_page()
    if request.form.get("confirm") != "yes":
        return redirect(f"{flow.ACCOUNT_PAGE}?close_error=confirm_needed#close", code=303)
    if time.time() - current.auth_time > CLOSE_MAX_AGE:
        return redirect(f"{flow.ACCOUNT_PAGE}?close_error=login_again#close", code=303)
    with p.db.session() as s:
        agencies = [c for c in (s.get(Client, cid) for cid in current.clients) if c]
    closed = accounts.close_account(p, current_pki(), current.person_id)
    rp_logout.notify_backchannel(p, agencies, current.person_id, current.sid)
    sso.end(p.store, handle)
    response = web.render_page("account_closed.html", closed=closed)
    response.delete_cookie(sso.COOKIE, path="/")
    return response


# --- pages -------------------------------------------------------------------------------------


def _page_number() -> int | None:
    """`?page=` as a number from 1 to MAX_ACTIVITY_PAGE (1 when absent); None when it is not."""
    raw = request.args.get("page", "1")
    if not raw.isdigit() or len(raw) > 4:
        return None
    page = int(raw)
    return page if 1 <= page <= MAX_ACTIVITY_PAGE else None


def login_required_page() -> Response:
    """401 with a way to log in: a link the person follows, never an automatic redirect."""
    return web.render_page("account_login_required.html", status=401,
                           page_url=flow.ACCOUNT_PAGE)


@bp.get(flow.ACCOUNT_PAGE)
def account() -> Response:
    p = current_provider()
    _, current = flow.current_session(p)
    if current is None:
        return login_required_page()
    page = _page_number()
    if page is None:
        return web.error_page("invalid_request", "account_page_invalid", 400,
                              pages=MAX_ACTIVITY_PAGE)
    locale = web.current_locale()
    person_id = current.person_id
    lines, older = activity(p, person_id, page, locale)
    notice = next((NOTICES[k] for k in NOTICES if request.args.get(k) == "1"), None)
    signing_error = request.args.get("signing_error")
    signing_error = signing_error if signing_error in SIGNING_ERRORS else None
    close_error = request.args.get("close_error")
    close_error = close_error if close_error in CLOSE_ERRORS else None
    return web.render_page(
        "account.html", summary=_summary(p, current, locale),
        passkeys=passkey_items(p, person_id), refusal=registration_check(p, current),
        consents=flow.active_consents(p, person_id), activity=lines, page=page,
        older=older, proofing=proofing(p, person_id, locale), notice=notice,
        signing=signing_certificate(p, person_id, signing_error), signing_error=signing_error,
        close_error=close_error, close_max_minutes=CLOSE_MAX_AGE // 60,
        error="passkey_name_invalid" if request.args.get("error") == "name" else None,
        page_url=flow.ACCOUNT_PAGE + (f"?page={page}" if page > 1 else ""))


@bp.get(flow.ACCOUNT_PAGE + "/login")
def login() -> Response:
    """A login to the account page itself: the login page with every method (passkey, bank
    over NDID, upstream providers, sandbox personas), ending back at /account. Always a new
    login, also over a live session: this is how a person logs in again for a fresh session
    or to prove who they are again (recovery)."""
    p = current_provider()
    wait = ratelimit.hit(p.store, ratelimit.limiter_key(p.settings.secret_key),
                         ACCOUNT_LOGIN_PER_ADDRESS, ratelimit.client_address())
    if wait is not None:
        return ratelimit.too_many(wait)
    req = AuthorizationRequest(client_id=flow.ACCOUNT_CLIENT_ID,
                               redirect_uri=flow.ACCOUNT_PAGE, scopes=["openid"],
                               prompt=["login"], ui_locales=web.current_locale())
    return flow.begin_interaction(p, req, "login")
