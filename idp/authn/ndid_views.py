"""Proving identity through a bank over NDID: the person's pages and the node's callbacks.

The person's side, one page per step, each working without JavaScript:

    GET  /interaction/<id>/ndid           the citizen ID form
    POST /interaction/<id>/ndid           check the number (check digit) before NDID sees it
    GET  /interaction/<id>/ndid/banks     the banks that can prove it at the levels asked
    POST /interaction/<id>/ndid/request   create the NDID request at the chosen bank
    GET  /interaction/<id>/ndid/wait      progress; reloads itself; finishes the login
    POST /interaction/<id>/ndid/cancel    close the NDID request, back to the login page
    POST /interaction/<id>/abort          back to the agency with an OAuth error

and the node's side, `POST /federation/ndid/callback/<token>` (machine to machine: no CSRF, a
secret in the path instead). Request state lives in the ephemeral store (`idp.ndid`), so any
process may take a callback or serve the waiting page.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, abort, jsonify, redirect, request
from werkzeug.wrappers import Response

from federation.ndid import BankAnswer, NdidError, NdidUnavailable, login_outcome
from idp import audit, ndid, persons, web
from idp.authn import flow
from idp.authn.views import _expired, _load
from idp.db import Client, utcnow
from idp.oidc.authorize import AuthorizationRequest
from idp.provider import Provider, current_provider
from kyc.assurance import amr_for
from kyc.identifiers import TH_CITIZEN_ID
from kyc.proofing import ProofingEvent, default_expiry, ndid_bank_evidence
from kyc.thai_id import normalize_thai_id

bp = Blueprint("ndid", __name__)

REFRESH_SECONDS = 3
MAX_FIELD = 64

# Create-call errors (NDID codes) and what the person is told.
_CREATE_ERRORS: dict[int, tuple[str, int]] = {
    20045: ("ndid_duplicate", 409),
    20096: ("ndid_invalid_id", 400),
    20005: ("ndid_not_registered", 200),
    20006: ("ndid_not_registered", 200),
    20058: ("ndid_bank_unqualified", 200),
}
# Unhappy outcomes of a request: (message key, where "back to the agency" sends).
_OUTCOMES: dict[str, tuple[str, str]] = {
    "rejected": ("ndid_rejected", "cancel"),
    "timed_out": ("ndid_timed_out", "cancel"),
    "errored": ("ndid_errored", "unreachable"),
    "closed": ("ndid_closed", "cancel"),
}
_ABORT: dict[str, tuple[str, str]] = {
    "cancel": ("access_denied", "the person cancelled the login"),
    "unreachable": ("unmet_authentication_requirements",
                    "the person could not reach the requested assurance level"),
}


# --------------------------------------------------------------------------------------------
# Shared steps


def _login_interaction(p: Provider, interaction_id: str
                       ) -> tuple[dict[str, Any], AuthorizationRequest, Client] | Response:
    """The interaction at its login step, or the response to give instead (expired page,
    NDID off, or on to the consent step it has reached)."""
    if not ndid.enabled(p.settings):
        abort(404)
    loaded = _load(p, interaction_id)
    if loaded is None:
        return _expired()
    data, req, client = loaded
    if data.get("step") != "login":
        return redirect(f"/interaction/{interaction_id}", code=303)
    return data, req, client


def _page(template: str, interaction_id: str, client: Client, status: int = 200,
          **ctx: Any) -> Response:
    p = current_provider()
    return web.render_page(template, status=status, interaction_id=interaction_id,
                           client=client, sandbox=p.settings.sandbox, **ctx)


def _outcome_page(interaction_id: str, client: Client, key: str, status: int, *,
                  abort_reason: str, other_bank: bool, **ctx: Any) -> Response:
    return _page("ndid_result.html", interaction_id, client, status, message_key=key,
                 abort_reason=abort_reason, other_bank=other_bank, **ctx)


def _audit(p: Provider, event: str, client: Client, **data: Any) -> None:
    """An NDID outcome in the audit trail: what happened and where, never the ID number."""
    with p.db.session() as s:
        audit.record(s, event, client_id=client.client_id, **data)


def _request_failed(p: Provider, interaction_id: str, client: Client, err: NdidError
                    ) -> Response:
    """A list or create call the node refused or could not take."""
    if isinstance(err, NdidUnavailable):
        key, status = "ndid_unavailable", 503
    else:
        key, status = _CREATE_ERRORS.get(err.code, ("ndid_failed", 502))
    _audit(p, "ndid.request_failed", client, ndid_error=err.code, http_status=err.http_status,
           outcome=key)
    reason = "cancel" if key == "ndid_duplicate" else "unreachable"
    return _outcome_page(interaction_id, client, key, status, abort_reason=reason,
                         other_bank=key in ("ndid_bank_unqualified", "ndid_duplicate"))


# --------------------------------------------------------------------------------------------
# The citizen ID


@bp.get("/interaction/<interaction_id>/ndid")
def id_form(interaction_id: str) -> Response:
    p = current_provider()
    got = _login_interaction(p, interaction_id)
    if isinstance(got, Response):
        return got
    _, req, client = got
    return _page("ndid_id.html", interaction_id, client,
                 levels=ndid.levels_for(req, p.issuer))


@bp.post("/interaction/<interaction_id>/ndid")
def submit_id(interaction_id: str) -> Response:
    web.check_csrf()
    p = current_provider()
    got = _login_interaction(p, interaction_id)
    if isinstance(got, Response):
        return got
    _, req, client = got
    citizen_id = normalize_thai_id(request.form.get("citizen_id", "")[:MAX_FIELD])
    if citizen_id is None:
        # Checked here so that a mistyped number never reaches NDID (or any log).
        return _page("ndid_id.html", interaction_id, client, 400, error="ndid_id_invalid",
                     levels=ndid.levels_for(req, p.issuer))
    _close_current(p, interaction_id)
    ndid.save_journey(p.settings, p.store, interaction_id,
                      ndid.new_journey(p.identifiers, citizen_id))
    return redirect(f"/interaction/{interaction_id}/ndid/banks", code=303)


# --------------------------------------------------------------------------------------------
# The bank


@bp.get("/interaction/<interaction_id>/ndid/banks")
def banks(interaction_id: str) -> Response:
    p = current_provider()
    got = _login_interaction(p, interaction_id)
    if isinstance(got, Response):
        return got
    _, req, client = got
    journey = ndid.load_journey(p.store, interaction_id)
    if journey is None:
        return redirect(f"/interaction/{interaction_id}/ndid", code=303)
    return _bank_page(p, interaction_id, req, client, journey)


def _bank_page(p: Provider, interaction_id: str, req: AuthorizationRequest, client: Client,
               journey: ndid.Journey, error: str | None = None, status: int = 200
               ) -> Response:
    levels = ndid.levels_for(req, p.issuer)
    node = ndid.client_for(p.settings)
    citizen_id = journey.citizen_id(p.identifiers)
    try:
        found = ndid.list_banks(p.settings, node, citizen_id, levels)
        registered = True if found else ndid.registered_anywhere(p.settings, node, citizen_id)
    except NdidError as err:
        return _request_failed(p, interaction_id, client, err)
    journey.banks = [ndid.bank_view(b) for b in found]
    ndid.save_journey(p.settings, p.store, interaction_id, journey)
    if not found:
        key = "ndid_no_bank" if registered else "ndid_not_registered"
        _audit(p, "ndid.no_bank", client, outcome=key, ial=str(levels.ial),
               aal=str(levels.aal))
        return _page("ndid_no_bank.html", interaction_id, client, message_key=key,
                     levels=levels)
    return _page("ndid_banks.html", interaction_id, client, status, banks=journey.banks,
                 levels=levels, error=error)


@bp.post("/interaction/<interaction_id>/ndid/request")
def create(interaction_id: str) -> Response:
    web.check_csrf()
    p = current_provider()
    got = _login_interaction(p, interaction_id)
    if isinstance(got, Response):
        return got
    data, req, client = got
    journey = ndid.load_journey(p.store, interaction_id)
    if journey is None:
        return redirect(f"/interaction/{interaction_id}/ndid", code=303)
    bank = journey.bank(request.form.get("bank", "")[:MAX_FIELD])
    if bank is None:
        return _bank_page(p, interaction_id, req, client, journey, "ndid_bank_required", 400)
    _close_current(p, interaction_id, journey)
    ndid.save_journey(p.settings, p.store, interaction_id, journey)
    levels = ndid.levels_for(req, p.issuer)
    message = ndid.request_message(client.client_name_th, client.client_name_en)
    try:
        reference_id = ndid.start_request(
            p.settings, p.store, ndid.client_for(p.settings), interaction_id=interaction_id,
            citizen_id=journey.citizen_id(p.identifiers), bank=bank, levels=levels,
            message=message)
    except NdidError as err:
        return _request_failed(p, interaction_id, client, err)
    journey.attempt = reference_id
    ndid.save_journey(p.settings, p.store, interaction_id, journey)
    # The person may take the whole request timeout at their bank: keep the login alive.
    p.store.put("interaction:" + interaction_id, data,
                max(p.settings.interaction_ttl, ndid.state_ttl(p.settings)))
    attempt = ndid.load_attempt(p.store, reference_id) or {}
    _audit(p, "ndid.request_created", client, request_id=attempt.get("request_id"),
           bank=bank["node_id"], mode=p.settings.ndid_mode, ial=str(levels.ial),
           aal=str(levels.aal))
    return redirect(f"/interaction/{interaction_id}/ndid/wait", code=303)


def _close_current(p: Provider, interaction_id: str, journey: ndid.Journey | None = None
                   ) -> dict[str, Any] | None:
    """Close the request still open for this login (a new ID or bank replaces it, or the
    person cancels); returns the attempt it closed, if any."""
    journey = journey or ndid.load_journey(p.store, interaction_id)
    if journey is None or not journey.attempt:
        return None
    reference_id = journey.attempt
    journey.attempt = None
    attempt = ndid.load_attempt(p.store, reference_id)
    # The done marker also stops a late "accepted" of this request from logging anyone in.
    if attempt is None or not ndid.begin_completion(p.settings, p.store, reference_id):
        return None
    if login_outcome(ndid.request_state(p.store, reference_id, attempt)).result != "pending":
        return None
    ndid.close_request(p.settings, ndid.client_for(p.settings), reference_id, attempt)
    return attempt


# --------------------------------------------------------------------------------------------
# Waiting for the bank


@bp.get("/interaction/<interaction_id>/ndid/wait")
def wait(interaction_id: str) -> Response:
    p = current_provider()
    got = _login_interaction(p, interaction_id)
    if isinstance(got, Response):
        return got
    _, req, client = got
    journey = ndid.load_journey(p.store, interaction_id)
    attempt = ndid.load_attempt(p.store, journey.attempt if journey else None)
    if journey is None or attempt is None or attempt.get("interaction_id") != interaction_id:
        return redirect(f"/interaction/{interaction_id}", code=303)
    reference_id = str(journey.attempt)
    state = ndid.request_state(p.store, reference_id, attempt)
    outcome = login_outcome(state)
    if outcome.result == "accepted" and outcome.answer is not None:
        return _complete(p, interaction_id, req, client, journey, reference_id, attempt,
                         state, outcome.answer)
    left = int(float(attempt.get("deadline", 0)) - time.time())
    result = outcome.result
    overdue = result == "pending" and left < -ndid.DEADLINE_GRACE
    if overdue:
        result = "timed_out"  # the node's own timed_out callback never came
    if result == "pending":
        status = (state.get("request_status") or {}).get("status")
        response = _page("ndid_wait.html", interaction_id, client, bank=attempt["bank"],
                         status_key=_status_key(status), seconds_left=max(0, left),
                         bank_app=_sandbox_bank_app(p, attempt), refresh=REFRESH_SECONDS)
        response.headers["Refresh"] = str(REFRESH_SECONDS)
        return response
    return _unhappy(p, interaction_id, client, reference_id, attempt, result, outcome.reason,
                    close=result == "rejected" or overdue)


def _status_key(status: Any) -> str:
    return "ndid_status_confirmed" if status == "confirmed" else "ndid_status_pending"


def _sandbox_bank_app(p: Provider, attempt: dict[str, Any]) -> str | None:
    """In the sandbox, a link to the simulated bank app, so a tester can play the person."""
    if not p.settings.sandbox or not p.settings.ndid_url:
        return None
    return f"{p.settings.ndid_url}/bank/{attempt['bank']['node_id']}"


def _unhappy(p: Provider, interaction_id: str, client: Client, reference_id: str,
             attempt: dict[str, Any], result: str, reason: str | None, *, close: bool
             ) -> Response:
    key, abort_reason = _OUTCOMES.get(result, ("ndid_errored", "unreachable"))
    if ndid.first_sight(p.settings, p.store, reference_id, "outcome"):
        _audit(p, f"ndid.{result}", client, request_id=attempt.get("request_id"),
               bank=attempt["bank"]["node_id"], reason=reason)
        if close:
            # A refused request stays open at the node until it times out: close it, so the
            # bank app stops offering it (and one we gave up waiting for, likewise).
            ndid.close_request(p.settings, ndid.client_for(p.settings), reference_id, attempt)
    return _outcome_page(interaction_id, client, key, 200, abort_reason=abort_reason,
                         other_bank=result in ("rejected", "errored"))


def _complete(p: Provider, interaction_id: str, req: AuthorizationRequest, client: Client,
              journey: ndid.Journey, reference_id: str, attempt: dict[str, Any],
              state: dict[str, Any], answer: BankAnswer) -> Response:
    """The bank said yes: prove the person, then log them in. Exactly once per request,
    however many refreshes of this page race here."""
    if not ndid.begin_completion(p.settings, p.store, reference_id):
        return redirect(f"/interaction/{interaction_id}", code=303)
    request_id = str(attempt["request_id"])
    try:
        citizen_id = journey.citizen_id(p.identifiers)
        now = utcnow()
        status = state.get("request_status") or {}
        bank = attempt["bank"]
        event = ProofingEvent(
            person_id="-", source="ndid", ial=answer.ial, aal=answer.aal,
            evidence=[ndid_bank_evidence(bank.get("name_en") or bank["node_id"],
                                         answer.idp_id, request_id, now)],
            claims={TH_CITIZEN_ID: citizen_id}, verification_process=request_id, time=now,
            expires_at=default_expiry(now))
        trail = {"request_id": request_id, "initial_salt": attempt.get("initial_salt"),
                 "request_message": attempt.get("request_message"),
                 "request_message_hash": status.get("request_message_hash"),
                 "signature": answer.signature, "block_height": status.get("block_height"),
                 "idp_id": answer.idp_id, "mode": attempt.get("mode")}
        with p.db.session() as s:
            person = persons.proven_person(
                s, p.identifiers, kind="citizen", namespace=TH_CITIZEN_ID, value=citizen_id,
                claims={TH_CITIZEN_ID: citizen_id}, event=event, trail=trail)
            person_id = person.id
            audit.record(s, "ndid.accepted", person_id=person_id, client_id=client.client_id,
                         request_id=request_id, bank=answer.idp_id, ial=str(answer.ial),
                         aal=str(answer.aal), mode=attempt.get("mode"))
    except BaseException:
        ndid.undo_completion(p.store, reference_id)
        raise
    ndid.drop_journey(p.store, interaction_id)
    return flow.complete_login(p, interaction_id, req, client, person_id, answer.aal,
                               amr_for("ndid"), "ndid")


@bp.post("/interaction/<interaction_id>/ndid/cancel")
def cancel(interaction_id: str) -> Response:
    web.check_csrf()
    p = current_provider()
    got = _login_interaction(p, interaction_id)
    if isinstance(got, Response):
        return got
    _, _, client = got
    journey = ndid.load_journey(p.store, interaction_id)
    if journey is not None:
        closed = _close_current(p, interaction_id, journey)
        if closed is not None:
            _audit(p, "ndid.cancelled", client, request_id=closed.get("request_id"),
                   bank=closed["bank"]["node_id"])
        ndid.save_journey(p.settings, p.store, interaction_id, journey)
    return redirect(f"/interaction/{interaction_id}", code=303)


# --------------------------------------------------------------------------------------------
# Back to the agency


@bp.post("/interaction/<interaction_id>/abort")
def abort_login(interaction_id: str) -> Response:
    """"Back to the agency": the standard error at its redirect URI, and this login ends."""
    web.check_csrf()
    p = current_provider()
    loaded = _load(p, interaction_id)
    if loaded is None:
        return _expired()
    _, req, client = loaded
    reason = request.form.get("reason", "")
    if reason not in _ABORT:
        return web.error_page("invalid_request", "invalid_request", 400)
    if ndid.enabled(p.settings):
        _close_current(p, interaction_id)
    ndid.drop_journey(p.store, interaction_id)
    p.store.delete("interaction:" + interaction_id)
    error, description = _ABORT[reason]
    _audit(p, "login.aborted", client, reason=reason, error=error)
    return flow.error_response(req, p.issuer, error, description, 303)


# --------------------------------------------------------------------------------------------
# The node's callbacks


@bp.post("/federation/ndid/callback/<token>")
def callback(token: str) -> Response:
    """A callback from our NDID node. A wrong token is a plain 404, like any unknown path;
    a body we cannot read is a 400; anything else (a request we do not know included) is
    kept or ignored and answered 204, since the node counts any answer as delivered."""
    p = current_provider()
    if len(token) > 256 or not ndid.token_matches(p.settings, token):
        abort(404)
    try:
        body = ndid.parse_callback(request.get_data(cache=False))
    except ndid.MalformedCallback as exc:
        response = jsonify(error="invalid_request", error_description=str(exc))
        response.status_code = 400
        return response
    ndid.receive_callback(p.settings, p.store, body)
    return Response(status=204)
