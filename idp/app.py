"""create_app(settings): wires the stores, the blueprints and the error handlers."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from flask import Flask, current_app, jsonify
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from idp import limits, logs, metrics, web
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
    if settings.issuer.startswith("https://"):
        app.config["IDP_HSTS"] = HSTS
    if settings.trusted_proxies:
        # Behind N proxies, the client's address and scheme are the N-th from the right of
        # X-Forwarded-For / -Proto; trusting more would let a client choose its own address
        # (and escape its rate limits, or reach /metrics).
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    provider = build_provider(settings, store)
    app.extensions["idp"] = provider
    app.extensions["idp_oauth"] = create_server(app, provider)
    logs.init_app(app)  # first: every later hook and log line has the request id
    metrics.init_app(app)
    web.init_app(app)
    limits.init_app(app, settings)

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
    for unavailable in UNAVAILABLE:
        app.register_error_handler(unavailable, _unavailable)
    app.register_error_handler(InternalServerError, _server_error)  # replaces web's 500 handler
    app.add_url_rule("/healthz", "healthz", _health)
    app.add_url_rule("/livez", "livez", _live)
    app.add_url_rule("/readyz", "readyz", _ready)
    return app


#: Strict-Transport-Security for an https issuer: one year. No includeSubDomains: names under
#: the issuer's host may belong to others, and preloading is the operator's decision.
HSTS = "max-age=31536000"


#: A store that cannot answer: the ephemeral store, the database (a lost or refused connection,
#: a statement cut off by a restart) or the connection pool (every connection busy until its
#: timeout). Each is "retry later", 503, never a 500.
UNAVAILABLE: tuple[type[Exception], ...] = (StoreUnavailableError, DBAPIError, PoolTimeoutError)


def _server_error(exc: InternalServerError) -> Response | HTTPException:
    """Flask hands an exception raised outside a view (an after_request hook, an error
    handler) to the 500 handler, wrapped, without looking for a handler of its own type. A
    store outage there is still an outage: 503, as it would be in a view."""
    if isinstance(exc.original_exception, UNAVAILABLE):
        return _unavailable(exc.original_exception)
    return web._handle_http_exception(exc)


def _unavailable(exc: Exception) -> Response:
    """A store went away mid-request: say so (503, retry later); nothing durable was lost,
    because every write is one transaction that rolled back.

    The log line names the exception types only (ours and the driver's underneath): their
    messages may quote SQL parameters or keys, which can hold tokens or national IDs."""
    cause = exc.__cause__ or getattr(exc, "orig", None)
    logging.getLogger(__name__).warning(
        "store unavailable: %s%s", type(exc).__name__,
        f" ({type(cause).__module__}.{type(cause).__name__})" if cause is not None else "")
    response = web.error_page("temporarily_unavailable", "temporarily_unavailable", 503)
    response.headers["Retry-After"] = "5"
    return response


def _health() -> Response:
    """Both stores answer (kept for existing checks; /readyz is bounded in time and /livez
    checks nothing, which is what load balancers and orchestrators want)."""
    from idp.provider import current_provider

    p = current_provider()
    checks = {"store": p.store.ping(), "database": p.db.ping()}
    response = jsonify(status="ok" if all(checks.values()) else "unavailable", **checks)
    response.status_code = 200 if all(checks.values()) else 503
    if response.status_code == 503:
        response.headers["Retry-After"] = "5"  # like every other 503 of ours
    return response


def _live() -> Response:
    """Liveness: the process answers requests. No dependency is checked on purpose: a
    database outage must take a node out of the load balancer (readiness), not make an
    orchestrator restart every node at once."""
    return jsonify(status="ok")


#: How long readiness waits for each check; a load balancer probes every few seconds.
READY_TIMEOUT = 2.0


class _Checks:
    """Runs the readiness checks in threads so a hung connection costs a timeout, not a
    worker. At most one check of each kind runs at a time: while one hangs, the next probes
    answer "timeout" at once instead of piling up threads behind it. Made per process,
    because threads do not survive a fork (gunicorn workers)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="idp-ready")
        self.running: dict[str, Future[bool]] = {}
        self.lock = threading.Lock()

    def run(self, checks: dict[str, Callable[[], bool]], timeout: float) -> dict[str, str]:
        with self.lock:
            futures: dict[str, Future[bool] | None] = {}
            for name, check in checks.items():
                previous = self.running.get(name)
                if previous is not None and not previous.done():
                    futures[name] = None  # still hung from an earlier probe
                else:
                    futures[name] = self.running[name] = self.pool.submit(check)
        deadline = time.monotonic() + timeout
        results: dict[str, str] = {}
        for name, future in futures.items():
            if future is None:
                results[name] = "timeout"
                continue
            try:
                ok = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                results[name] = "timeout"
                continue
            except Exception:  # any failure of the check is "not ready", never a 500
                ok = False
            results[name] = "ok" if ok else "unavailable"
        return results


_checks_lock = threading.Lock()


def _checker() -> _Checks:
    """This application's checker in this process (one per app: a check hung on one app's
    database says nothing about another's)."""
    app = current_app
    with _checks_lock:
        checks: _Checks | None = app.extensions.get("idp_ready")
        if checks is None or checks.pid != os.getpid():
            checks = app.extensions["idp_ready"] = _Checks()
        return checks


def _ready() -> Response:
    """Readiness for a load balancer: 200 only when a `SELECT 1` on the database and a ping
    of the ephemeral store both succeed within READY_TIMEOUT; else 503 naming the check that
    failed ("unavailable" or "timeout"), never a connection string or an error's text."""
    from idp.provider import current_provider

    p = current_provider()
    checks = _checker().run({"database": p.db.ping, "store": p.store.ping}, READY_TIMEOUT)
    ready = all(value == "ok" for value in checks.values())
    response = jsonify(status="ready" if ready else "unavailable", checks=checks)
    response.status_code = 200 if ready else 503
    if not ready:
        response.headers["Retry-After"] = "5"
    return response
