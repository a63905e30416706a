"""HTTP endpoints of the OpenID provider; each one hands its work to the module of its name."""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from flask import Blueprint, current_app, jsonify, make_response, redirect, request
from werkzeug.wrappers import Response

from idp import audit, web
from idp.authn import flow
from idp.authn import session as sso
from idp.db import Client
from idp.oidc import dpop, resource
from idp.oidc import logout as rp_logout
from idp.oidc import par as pushed
from idp.oidc.authorize import Context, PageError, RedirectError, redirect_with, validate
from idp.oidc.discovery import discovery_document
from idp.oidc.server import AUTH_METHODS
from idp.oidc.userinfo import userinfo
from idp.provider import Provider, current_provider

bp = Blueprint("oidc", __name__)


def _find_client(p: Provider) -> Any:
    return p.clients.get


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


@bp.errorhandler(InsecureTransportError)
def _insecure_transport(_exc: InsecureTransportError) -> Response:
    """authlib refuses a request whose URL is http:// on a host other than localhost (the
    Host header or a missing X-Forwarded-Proto decides that): an OAuth error for the caller,
    not a server error. In production TLS ends at the proxy, which must send
    X-Forwarded-Proto (IDP_TRUSTED_PROXIES)."""
    return _json({"error": "invalid_request",
                  "error_description": "this endpoint is only served over https"}, 400)


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
                  verify_id_token=_verify_own_id_token(p),
                  take_pushed=lambda uri, cid: pushed.take_pushed(p.store, uri, cid),
                  fapi2_only=p.settings.fapi2_only)
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


@bp.post("/par")
def par() -> Response:
    """RFC 9126: the client authenticates as at /token (authlib, with its registered method),
    then idp.oidc.par checks the body and stores it under a one-time request_uri."""
    p = current_provider()
    server = _oauth()
    oauth_request = server.create_oauth2_request(request)
    try:
        oauth_client = server.authenticate_client(oauth_request, AUTH_METHODS, "par")
    except OAuth2Error as exc:
        resp = _json({"error": "invalid_client",
                      "error_description": exc.description or "client authentication failed"},
                     401)
        if request.authorization is not None:
            resp.headers["WWW-Authenticate"] = f'Basic realm="{p.issuer}"'
        return resp
    ctx = pushed.ParContext(items=list(request.form.items(multi=True)), client=oauth_client.row,
                            auth_method=str(oauth_request.auth_method), issuer=p.issuer,
                            verify_id_token=_verify_own_id_token(p),
                            fapi2_only=p.settings.fapi2_only)
    try:
        params = pushed.validate_push(ctx)
    except pushed.ParError as exc:
        return _json(exc.body(), exc.status)
    if resource.dpop_headers():
        # RFC 9449 10.1: a proof sent with the pushed request binds the code it will yield
        # to the proof's key, as dpop_jkt does (and must agree with it when both are sent).
        try:
            jkt = dpop.validate_proof(resource.proof_request(p))
        except dpop.DpopError as exc:
            return _with_nonce(p, _json({"error": exc.error,
                                         "error_description": exc.description}, 400))
        if params.get("dpop_jkt", jkt) != jkt:
            return _with_nonce(p, _json({
                "error": dpop.INVALID_PROOF,
                "error_description": "dpop_jkt is not the thumbprint of the DPoP proof's key"},
                400))
        params["dpop_jkt"] = jkt
        return _with_nonce(p, _json(pushed.push(p.store, oauth_client.client_id, params), 201))
    return _json(pushed.push(p.store, oauth_client.client_id, params), 201)


def _with_nonce(p: Provider, resp: Response) -> Response:
    resp.headers[resource.NONCE_HEADER] = resource.current_nonce(p)
    return resp


@bp.post("/token")
def token() -> Response:
    resp: Response = _oauth().create_token_response()
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    # RFC 9449 8: a fresh server nonce for every client that sends a proof, whatever the
    # answer (use_dpop_nonce needs it; with a success it saves the next round trip).
    if request.headers.get("DPoP") is not None:
        resp.headers[resource.NONCE_HEADER] = resource.current_nonce(current_provider())
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
        creds = resource.credentials(
            request.headers.get("Authorization"),
            request.form.get("access_token") if request.method == "POST" else None,
            request.method)
        body = userinfo(p, creds)
    except resource.ResourceError as exc:
        return resource.error_response(p, exc)
    if isinstance(body, str):  # encrypted for the client (OIDC Core 5.3.2): a nested JWT
        resp = Response(body, content_type="application/jwt")
        resp.headers["Cache-Control"] = "no-store"
    else:
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
