"""create_app(settings): wires the stores, the blueprints and the error handlers."""

from __future__ import annotations

from flask import Flask

from idp import web
from idp.oidc.server import create_server
from idp.provider import build_provider
from idp.settings import Settings, check
from idp.store import EphemeralStore


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

    from idp.authn.views import bp as authn_bp
    from idp.oidc.views import bp as oidc_bp

    app.register_blueprint(oidc_bp)
    app.register_blueprint(authn_bp)
    return app
