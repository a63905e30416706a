"""HTTP endpoints of the OpenID provider; each one hands its work to the module of its name."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, make_response, redirect, request
from werkzeug.wrappers import Response

from idp import audit, web
from idp.authn import flow
from idp.authn import session as sso
from idp.clients import get_client
from idp.db import Client
from idp.oidc import logout as rp_logout
from idp.oidc.authorize import Context, PageError, RedirectError, redirect_with, validate
from idp.oidc.discovery import discovery_document
from idp.oidc.userinfo import UserinfoError, bearer_token, userinfo
from idp.provider import Provider, current_provider

bp = Blueprint("oidc", __name__)


def _find_client(p: Provider) -> Any:
    def find(client_id: str) -> Client | None:
        with p.db.session() as s:
            return get_client(s, client_id)
    return find


def _verify_own_id_token(p: Provider) -> Any:
    """Verify a JWT we signed; expiry is not checked (a hint may be an old ID token)."""
    def verify(token: str) -> dict[str, Any]:
        claims: dict[str, Any] = dict(p.keys.verify_jwt(token).claims)
        return claims
    return verify


def _oauth() -> Any:
    return current_app.extensions["idp_oauth"]


def _json(body: dict[str, Any], status: int = 200) -> Response:
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    resp = jsonify(discovery_document(current_provider()))
    resp.headers["Cache-Control"] = "public, max-age=300"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.get("/jwks")
def jwks() -> Response:
    resp = jsonify(current_provider().keys.public_jwks())
    resp.headers["Cache-Control"] = "public, max-age=300"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Content-Type"] = "application/jwk-set+json"
    return resp


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    p = current_provider()
    params = request.form if request.method == "POST" else request.args
    ctx = Context(params=params, issuer=p.issuer, find_client=_find_client(p),
                  verify_id_token=_verify_own_id_token(p))
    try:
        req = validate(ctx)
    except PageError as exc:
        return web.error_page(exc.error, exc.message_key, exc.status)
    except RedirectError as exc:
        return flow.error_response(ctx.req, p.issuer, exc.error, exc.description,
                                   flow.redirect_status())
    assert ctx.client is not None
    handle, session = flow.current_session(p)
    return flow.proceed(p, req, ctx.client, session, handle)


@bp.post("/token")
def token() -> Response:
    resp: Response = _oauth().create_token_response()
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


@bp.post("/revoke")
def revoke() -> Response:
    resp: Response = _oauth().create_endpoint_response("revocation")
    return resp


@bp.post("/introspect")
def introspect() -> Response:
    resp: Response = _oauth().create_endpoint_response("introspection")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo_endpoint() -> Response:
    p = current_provider()
    try:
        raw = bearer_token(request.headers.get("Authorization"),
                           request.form.get("access_token") if request.method == "POST" else None,
                           request.method)
        body = userinfo(p, raw)
    except UserinfoError as exc:
        resp = _json({"error": exc.error, "error_description": exc.description}, exc.status)
        challenge = f'Bearer realm="{p.issuer}"'
        if exc.challenge:
            challenge += f', error="{exc.error}"'
        resp.headers["WWW-Authenticate"] = challenge
        return resp
    resp = _json(body)
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.route("/logout", methods=["GET", "POST"])
def end_session() -> Response:
    """RP-initiated logout: confirm when the request does not prove its client, then end the
    SSO session, tell every agency of that session over the back channel, and go back."""
    p = current_provider()
    params = request.form if request.method == "POST" else request.args
    if request.method == "POST" and "confirm" in params:
        web.check_csrf()
    try:
        req = rp_logout.parse(params, _verify_own_id_token(p), _find_client(p), p.issuer)
    except rp_logout.LogoutRequestError as exc:
        return web.error_page("invalid_request", exc.message_key, 400)
    handle, session = flow.current_session(p)
    # A hint confirms only for the session it was issued in: anyone can get a valid ID token
    # for their own account, and acting on it silently would let any page log a person out.
    hint_is_current = bool(session and req.client and req.hint_sub
                           and req.hint_sid == session.sid
                           and p.subject(req.client, session.person_id) == req.hint_sub)
    confirmed = params.get("confirm") == "yes" or hint_is_current
    if params.get("confirm") == "no":
        return web.render_page("logged_out.html", stayed=True)
    if not confirmed and session is not None:
        fields = {k: params[k] for k in ("id_token_hint", "post_logout_redirect_uri", "state",
                                          "client_id", "ui_locales") if params.get(k)}
        return web.render_page("logout_confirm.html", form_fields=fields, client=req.client)
    if session is not None:
        sso.end(p.store, handle)
        with p.db.session() as s:
            clients = [c for c in (s.get(Client, cid) for cid in session.clients) if c]
            audit.record(s, "logout", person_id=session.person_id,
                         client_id=req.client.client_id if req.client else None)
        rp_logout.notify_backchannel(p, clients, session.person_id, session.sid)
    if req.redirect_uri:
        resp = redirect(redirect_with(req.redirect_uri, {"state": req.state}),
                        code=flow.redirect_status())
    else:
        resp = make_response(web.render_page("logged_out.html", stayed=False))
    resp.delete_cookie(sso.COOKIE, path="/")
    return resp
