"""The login interaction: the pages a person sees between the agency and the code.

Until passkeys and federated proofing exist, the one login method is the sandbox persona picker,
offered only when sandbox parties are on.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from idp import audit, persons, web
from idp.authn import disclosure, flow
from idp.clients import get_client
from idp.db import Client, Person, utcnow
from idp.oidc.authorize import AuthorizationRequest, wanted_assurance
from idp.provider import Provider, current_provider
from idp.upstreams import login_buttons
from kyc.assurance import Assurance, aal, ial
from kyc.identifiers import TH_CITIZEN_ID, passport_namespace
from sandbox.personas import PERSONAS, Persona, get_persona, persona_proofing

bp = Blueprint("authn", __name__)


def _load(p: Provider, interaction_id: str) -> tuple[dict, AuthorizationRequest, Client] | None:
    data = flow.load_interaction(p, interaction_id)
    if data is None:
        return None
    req = AuthorizationRequest.from_dict(data["request"])
    # The agency's ui_locales came with the authorization request, not with this page's URL.
    g.locale = web.negotiate_locale(req.ui_locales)
    if flow.is_account(req):  # a login to the account page: no agency row
        return data, req, flow.account_client()
    with p.db.session() as s:
        client = s.get(Client, req.client_id)
    return (data, req, client) if client else None


def _expired() -> Response:
    return web.error_page("interaction_expired", "interaction_expired", 400)


def _persona_view(persona: Persona) -> dict[str, str]:
    return {"id": persona.id, "name_th": persona.name_th, "name_en": persona.name_en,
            "description_th": persona.description_th,
            "description_en": persona.description_en, "ial": persona.ial, "aal": persona.aal}


def _login_page(p: Provider, interaction_id: str, client: Client, req: AuthorizationRequest,
                error: str | None = None, status: int = 200) -> Response:
    personas = [_persona_view(x) for x in PERSONAS] if p.settings.sandbox else []
    return web.render_page("login.html", status=status, interaction_id=interaction_id,
                           client=client, personas=personas, login_hint=req.login_hint,
                           sandbox=p.settings.sandbox, error=error,
                           wanted=wanted_assurance(req, p.issuer),
                           ndid=bool(p.settings.ndid_url), upstreams=login_buttons())


def _consent_page(interaction_id: str, client: Client, req: AuthorizationRequest) -> Response:
    """What this agency will receive about the person logged in, line by line (see
    `idp.authn.disclosure`); the same names are what agreeing records."""
    p = current_provider()
    _, session = flow.current_session(p)
    if session is None:
        return _expired()
    view = disclosure.describe(p, session.person_id, req.scopes,
                               flow.requested_claim_names(req))
    return web.render_page("consent.html", interaction_id=interaction_id, client=client,
                           view=view, national_id_withheld=flow.national_id_withheld(req))


@bp.get("/interaction/<interaction_id>")
def interaction(interaction_id: str) -> Response:
    p = current_provider()
    loaded = _load(p, interaction_id)
    if loaded is None:
        return _expired()
    data, req, client = loaded
    if data["step"] == "consent":
        return _consent_page(interaction_id, client, req)
    return _login_page(p, interaction_id, client, req)


def person_for_persona(p: Provider, persona: Persona) -> str:
    """The person record behind a sandbox persona, created on first login with their citizen
    ID (self-asserted for the unproofed) and the sandbox proofing event that gives their IAL.

    Two first logins of one persona at once both find nobody and race to create them; the
    loser's insert breaks a unique constraint, and it then takes the winner's record."""
    try:
        return _person_for_persona(p, persona)
    except IntegrityError:
        with p.db.session() as s:
            existing = s.scalars(select(Person.id)
                                 .where(Person.sandbox_persona == persona.id)).first()
        if existing is None:
            raise
        return existing


def _person_for_persona(p: Provider, persona: Persona) -> str:
    with p.db.session() as s:
        person = s.scalars(select(Person).where(Person.sandbox_persona == persona.id)).first()
        if person is not None:
            return person.id
        person = persons.new_person(s, persona.kind, persona.claims, persona.id)
        citizen_id = persona.claims.get(TH_CITIZEN_ID)
        held = [(TH_CITIZEN_ID, citizen_id)] if citizen_id else []
        if persona.passport:
            held.append((passport_namespace(persona.passport[0]), persona.passport[1]))
        for namespace, value in held:
            if persons.find_by_identifier(s, p.identifiers, namespace, value) is None:
                persons.add_identifier(s, p.identifiers, person.id, namespace, value)
        event = persona_proofing(persona, person.id, utcnow())
        if event is not None:
            persons.record_proofing(s, p.identifiers, event)
        return person.id


@bp.post("/interaction/<interaction_id>/login")
def login(interaction_id: str) -> Response:
    web.check_csrf()
    p = current_provider()
    loaded = _load(p, interaction_id)
    if loaded is None:
        return _expired()
    _, req, client = loaded
    persona = get_persona(request.form.get("persona", "")) if p.settings.sandbox else None
    if persona is None:
        return _login_page(p, interaction_id, client, req, error="persona_required", status=400)
    wanted = wanted_assurance(req, p.issuer)
    if wanted is not None and not Assurance(ial(persona.ial), aal(persona.aal)).satisfies(wanted):
        return _login_page(p, interaction_id, client, req, error="level_too_low", status=400)
    person_id = person_for_persona(p, persona)
    return flow.complete_login(p, interaction_id, req, client, person_id, aal(persona.aal),
                               ["sandbox"], "sandbox_persona")


@bp.post("/interaction/<interaction_id>/consent")
def consent(interaction_id: str) -> Response:
    web.check_csrf()
    p = current_provider()
    loaded = _load(p, interaction_id)
    if loaded is None:
        return _expired()
    data, req, client = loaded
    handle, session = flow.current_session(p)
    if session is None or data.get("step") != "consent":
        return _expired()
    if request.form.get("decision") != "allow":
        p.store.delete("interaction:" + interaction_id)
        with p.db.session() as s:
            audit.record(s, "consent.denied", person_id=session.person_id,
                         client_id=client.client_id)
        return flow.error_response(req, p.issuer, "access_denied",
                                   "the person did not consent", 303)
    flow.record_consent(p, session.person_id, client.client_id, req.scopes,
                        flow.requested_claim_names(req))
    req.prompt = [x for x in req.prompt if x != "consent"]
    return flow.proceed(p, req, client, session, handle, consent_given=True,
                        interaction_id=interaction_id)


@bp.get("/consents")
def consents() -> Response:
    """The person's own list of agencies and what each receives, with a way to withdraw."""
    p = current_provider()
    _, session = flow.current_session(p)
    if session is None:
        return web.error_page("login_required", "login_required", 401)
    return web.render_page("consents.html", consents=flow.active_consents(p, session.person_id),
                           withdrawn=request.args.get("withdrawn") == "1", page_url="/consents")


@bp.post("/consents/<client_id>/withdraw")
def withdraw(client_id: str) -> Response:
    web.check_csrf()
    p = current_provider()
    _, session = flow.current_session(p)
    if session is None:
        return web.error_page("login_required", "login_required", 401)
    with p.db.session() as s:
        if get_client(s, client_id) is None:
            return web.error_page("invalid_request", "unknown_client", 404)
    flow.withdraw_consent(p, session.person_id, client_id)
    # The account page's forms say to come back there; the target is one of two fixed paths.
    if request.form.get("return_to") == "account":
        return redirect(flow.ACCOUNT_PAGE + "?withdrawn=1#consents", code=303)
    return redirect("/consents?withdrawn=1", code=303)
