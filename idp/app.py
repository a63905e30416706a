"""create_app(settings): wires the stores, the blueprints and the error handlers."""

from __future__ import annotations

from flask import Flask, jsonify
from sqlalchemy.exc import DBAPIError
from werkzeug.wrappers import Response

from idp import web
from idp.oidc.server import create_server
from idp.provider import build_provider
from idp.settings import Settings, check
from idp.store import EphemeralStore, StoreUnavailableError


def create_app(settings: Settings | None = None, store: EphemeralStore | None = None) -> Flask:
    settings = check(settings or Settings.from_env())
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.issuer.startswith("https://"),
        JSON_SORT_KEYS=False,
    )
    provider = build_provider(settings, store)
    app.extensions["idp"] = provider
    app.extensions["idp_oauth"] = create_server(app, provider)
    web.init_app(app)

    from idp.authn.account_views import bp as account_bp
    from idp.authn.ndid_views import bp as ndid_bp
    from idp.authn.passkey_views import bp as passkey_bp
    from idp.authn.upstream_views import bp as upstream_bp
    from idp.authn.views import bp as authn_bp
    from idp.csc.views import bp as csc_bp
    from idp.oidc.views import bp as oidc_bp
    from idp.pki.views import bp as pki_bp
    from idp.registry_views import bp as registry_bp
    from idp.sign_views import bp as sign_bp
    from idp.verify_views import bp as verify_bp

    app.register_blueprint(oidc_bp)
    app.register_blueprint(authn_bp)
    app.register_blueprint(pki_bp)
    app.register_blueprint(ndid_bp)
    app.register_blueprint(upstream_bp)
    app.register_blueprint(passkey_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(sign_bp)
    app.register_blueprint(csc_bp)
    app.register_blueprint(registry_bp)
    app.register_blueprint(verify_bp)
    app.register_error_handler(StoreUnavailableError, _unavailable)
    app.register_error_handler(DBAPIError, _unavailable)
    app.add_url_rule("/healthz", "healthz", _health)
    return app


def _unavailable(_exc: Exception) -> Response:
    """A store went away mid-request: say so (503, retry later); nothing durable was lost,
    because every write is one transaction that rolled back."""
    response = web.error_page("temporarily_unavailable", "temporarily_unavailable", 503)
    response.headers["Retry-After"] = "5"
    return response


def _health() -> Response:
    """Readiness for a load balancer: both stores answer."""
    from idp.provider import current_provider

    p = current_provider()
    checks = {"store": p.store.ping(), "database": p.db.ping()}
    response = jsonify(status="ok" if all(checks.values()) else "unavailable", **checks)
    response.status_code = 200 if all(checks.values()) else 503
    return response
