"""The web layer every page and API shares: security headers, CSRF, locale, error pages.

Keeping these in one place means no view can forget them: ``init_app`` installs the
headers and the error handlers once, so a new endpoint is safe by default (CSP with
``frame-ancestors 'none'``, ``no-store``, no stack trace on failure) and only has to call
:func:`check_csrf` at the top of a POST handler that serves a form.
"""

from __future__ import annotations

import hmac
import io
import json
import re
import traceback
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from flask import (
    Flask,
    current_app,
    g,
    has_request_context,
    render_template,
    request,
    session,
)
from flask import Response as FlaskResponse
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response

from idp import i18n
from idp.oidc.tokens import new_secret

#: Content-Security-Policy for every response. There is deliberately no ``form-action``:
#: the consent and logout forms end in a redirect to the agency's registered address, and
#: browsers apply ``form-action`` to the redirect target too, which would block the flow.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

#: Path prefixes of machine-facing endpoints, whose errors are always JSON (RFC 6749 §5.2
#: style) because their callers are programs that cannot read an HTML page.
JSON_PREFIXES: tuple[str, ...] = (
    "/token",
    "/par",
    "/userinfo",
    "/introspect",
    "/revoke",
    "/jwks",
    "/.well-known/",
    "/api/",
    "/csc/",
    # The NDID node's callbacks (a program, like the rest). The whole /federation/ndid/ tree,
    # so that a wrong callback token and a path that does not exist get the same 404.
    "/federation/ndid/",
)

LANG_COOKIE = "idp_lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
CSRF_SESSION_KEY = "_csrf"
CSRF_FIELD = "csrf_token"

# Bounds on locale inputs: they come from outside and are only ever a few tags long.
_MAX_LOCALE_INPUT = 256
_MAX_LOCALE_TAGS = 10

# status -> (OAuth-style error code, message key) for errors raised without their own.
_STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request", "invalid_request"),
    401: ("unauthorized", "unauthorized"),
    403: ("forbidden", "forbidden"),
    404: ("not_found", "not_found"),
    405: ("method_not_allowed", "method_not_allowed"),
    413: ("invalid_request", "too_large"),
    429: ("too_many_requests", "too_many_requests"),
    500: ("server_error", "server_error"),
    503: ("temporarily_unavailable", "temporarily_unavailable"),
}

# Headers of the original exception that must not be copied onto our own error body.
_BODY_HEADERS = frozenset({"content-type", "content-length"})


class CsrfError(BadRequest):
    """Raised by :func:`check_csrf`; carries its message key so the 400 handler can tell
    the person that the form expired instead of a generic "bad request"."""

    error = "invalid_request"
    description_key = "csrf"


# --- locale --------------------------------------------------------------------------------


def _tag_locale(tag: str) -> str | None:
    """Map a language tag (``en-US``, ``th_TH``, ``TH``) to a supported locale, or None."""
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in i18n.SUPPORTED_LOCALES else None


def _first_supported(tags: str | None) -> str | None:
    """The first supported locale in a space-separated list of tags (bounded)."""
    if not tags:
        return None
    for tag in tags[:_MAX_LOCALE_INPUT].split()[:_MAX_LOCALE_TAGS]:
        locale = _tag_locale(tag)
        if locale:
            return locale
    return None


def negotiate_locale(ui_locales: str | None) -> str:
    """Pick ``th`` or ``en`` for this request.

    Order: an explicit ``lang`` query parameter (the person just clicked the language
    switch), the ``idp_lang`` cookie (the person chose before), the OIDC ``ui_locales``
    hint from the agency, the browser's Accept-Language, then Thai. The person's own
    choice ranks above the agency's hint on purpose: otherwise the language switch would
    do nothing on any page whose request carries ``ui_locales``.
    """
    if not has_request_context():
        return _first_supported(ui_locales) or i18n.DEFAULT_LOCALE
    for candidate in (request.args.get("lang"), request.cookies.get(LANG_COOKIE)):
        locale = _first_supported(candidate)
        if locale:
            return locale
    locale = _first_supported(ui_locales)
    if locale:
        return locale
    for value, quality in list(request.accept_languages)[:_MAX_LOCALE_TAGS]:
        locale = _tag_locale(value)
        if locale and quality > 0:
            return locale
    return i18n.DEFAULT_LOCALE


def current_locale() -> str:
    """The locale of this request; negotiates it if no ``before_request`` ran yet (an error
    raised before ours, or a call outside the normal pipeline)."""
    locale = g.get("locale") if has_request_context() else None
    if locale in i18n.SUPPORTED_LOCALES:
        return str(locale)
    return negotiate_locale(request.args.get("ui_locales") if has_request_context() else None)


def _set_locale() -> None:
    g.locale = negotiate_locale(request.args.get("ui_locales"))


# --- CSRF ----------------------------------------------------------------------------------


def csrf_token() -> str:
    """This session's CSRF token, created on first use.

    One token per session rather than per form, so two open tabs and the back button keep
    working. It lives in Flask's signed session cookie, so a cross-site page can neither
    read it nor forge it, and no server-side state is needed (nodes are stateless).
    """
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = new_secret()
        session[CSRF_SESSION_KEY] = token
    return token


def check_csrf() -> None:
    """Abort with 400 and the ``csrf`` message unless the form's ``csrf_token`` matches.

    Call at the top of every POST handler that serves a form, before reading anything else.
    The comparison is constant-time so the token cannot be guessed byte by byte.
    """
    expected = session.get(CSRF_SESSION_KEY)
    sent = request.form.get(CSRF_FIELD, "")
    if (
        not isinstance(expected, str)
        or not expected
        or not sent
        or not hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))
    ):
        raise CsrfError()


# --- pages ---------------------------------------------------------------------------------


def allow_upload(max_bytes: int) -> None:
    """Let this request's body be up to `max_bytes` (plus room for the multipart framing),
    above the app-wide IDP_MAX_REQUEST_BYTES, and keep uploaded files in memory: Werkzeug
    spools files over 500 KB to a temporary file on disk, and documents people upload to be
    signed or verified must never touch the disk. Call it before the form is read."""
    request.max_content_length = max_bytes + UPLOAD_FRAMING
    setattr(request, "_get_file_stream", _memory_stream)  # noqa: B010


UPLOAD_FRAMING = 64 * 1024  # multipart boundaries and the small fields around the files

#: Blueprints that set their own body limit in their own `before_request` (which Flask runs
#: after the application's): uploads (raised, refused by their views with their own answer)
#: and the CSC and registry APIs (raised or lowered; they call :func:`refuse_oversized`).
OWN_BODY_LIMITS = frozenset({"verify", "sign", "csc", "registry"})


def refuse_oversized() -> None:
    """Refuse (413) a request whose declared Content-Length is over this request's limit,
    before anything reads the body or looks at the credentials: a client must not make us
    read, parse or authenticate a body we would refuse anyway. Werkzeug refuses it too, but
    only when something reads the form; an endpoint that authenticates from a header first
    would otherwise answer 401 and leave the body unread on the connection. A body without
    Content-Length (chunked) is bounded by the same limit while it is read."""
    limit = request.max_content_length
    if limit is not None and request.content_length is not None \
            and request.content_length > limit:
        raise RequestEntityTooLarge()


def _refuse_oversized() -> None:
    if request.blueprint not in OWN_BODY_LIMITS:
        refuse_oversized()


def _memory_stream(*_args: Any, **_kwargs: Any) -> io.BytesIO:
    return io.BytesIO()


def wants_json() -> bool:
    """Whether the caller is a program: a JSON API path, or an Accept header that prefers
    JSON to HTML. Browsers send ``text/html`` explicitly, so they get pages."""
    if request.path.startswith(JSON_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def render_page(template: str, status: int = 200, **context: Any) -> FlaskResponse:
    """Render a template from ``idp/templates`` as an HTML response with ``status``.

    ``status`` is also given to the template (error.html shows it), so it cannot be
    passed as a context variable of its own.
    """
    response = FlaskResponse(render_template(template, status=status, **context), status=status)
    response.mimetype = "text/html"
    return response


_UNSAFE_IN_DESCRIPTION = re.compile(r"[^\x20-\x21\x23-\x5B\x5D-\x7E]")


def description_text(text: str, limit: int = 500) -> str:
    """`text` fit for an ``error_description``: RFC 6749 5.2 allows printable ASCII without
    ``"`` and ``\\`` only, and a description may quote the caller's input (an unknown member's
    name), which could be anything. Other characters become ``?``; the length is bounded."""
    return _UNSAFE_IN_DESCRIPTION.sub("?", text[:limit])


def _json_error(error: str, description_key: str, status: int, **fmt: Any) -> FlaskResponse:
    """An OAuth-style JSON error. The description is always English: RFC 6749 limits
    ``error_description`` to ASCII, and programs are its readers."""
    body = {"error": error, "error_description": i18n.translate(description_key, "en", **fmt)}
    response = FlaskResponse(status=status, mimetype="application/json")
    response.set_data(json.dumps(body, ensure_ascii=True))
    return response


def error_page(error: str, description_key: str, status: int = 400, **fmt: Any) -> FlaskResponse:
    """An error for a person: ``error.html`` with the OAuth ``error`` code (for support)
    and the translated message for ``description_key``. Programs (see :func:`wants_json`)
    get the same error as JSON, so a view need not branch."""
    if wants_json():
        return _json_error(error, description_key, status, **fmt)
    message = i18n.translate(description_key, current_locale(), **fmt)
    return render_page("error.html", status=status, error=error, message=message)


def _error_response(e: HTTPException) -> FlaskResponse:
    """Our error body for an HTTP error, keeping its headers (``Allow`` on 405,
    ``WWW-Authenticate`` on 401)."""
    status = e.code or 500
    fallback = ("server_error",) * 2 if status >= 500 else ("invalid_request",) * 2
    default_error, default_key = _STATUS_ERRORS.get(status, fallback)
    error = getattr(e, "error", None) or default_error
    key = getattr(e, "description_key", None) or default_key
    response = error_page(str(error), str(key), status)
    for name, value in e.get_headers():
        if name.lower() not in _BODY_HEADERS:
            response.headers[name] = value
    return response


def _handle_http_exception(e: HTTPException) -> Response | HTTPException:
    if e.code is None or e.code < 400 or e.response is not None:
        # Routing redirects (308 to add a slash) are not errors, and abort(response) carries
        # a body the view built on purpose; let Werkzeug answer with either as it is.
        return e
    return _error_response(e)


def _handle_exception(e: Exception) -> Response | HTTPException:
    """The last line of defence: any unexpected exception becomes a plain 500 page.

    The log line names the exception type and the code location only. The exception's
    message and the request body are left out on purpose: either may hold a token, a
    secret or a national ID number, none of which may ever reach a log.
    """
    if isinstance(e, HTTPException):
        return _handle_http_exception(e)
    frames = "".join(traceback.format_list(traceback.extract_tb(e.__traceback__)))
    current_app.logger.error(
        "unhandled %s in %s %s (message omitted)\n%s",
        type(e).__name__,
        request.method,
        request.endpoint or "-",
        frames,
    )
    try:
        return error_page("server_error", "server_error", 500)
    except Exception:  # a broken template must still not show a stack trace
        return FlaskResponse("server_error", status=500, mimetype="text/plain")


# --- headers -------------------------------------------------------------------------------


def _security_headers(response: Response) -> Response:
    """Headers every response carries (HSTS too when the issuer is https: create_app sets
    ``IDP_HSTS``). CSP and Cache-Control are only set when the view
    did not set its own, so an endpoint with a deliberate policy (a cacheable JWKS, say)
    can have one; everything else gets the strict default. Static files are exempt from
    ``no-store`` this way too: Flask's ``send_file`` always sets their Cache-Control."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    hsts = current_app.config.get("IDP_HSTS")
    if hsts:
        response.headers["Strict-Transport-Security"] = hsts
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    chosen = _first_supported(request.args.get("lang"))
    if chosen and request.cookies.get(LANG_COOKIE) != chosen:
        # Remember an explicit language choice so the next page (often a POST) keeps it.
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_COOKIE_MAX_AGE,
            secure=request.is_secure,
            httponly=True,
            samesite="Lax",
        )
    return response


# --- template helpers ----------------------------------------------------------------------


def _field(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def localized(obj: Any, base: str) -> str:
    """``obj.<base>_<locale>``, falling back to the other language, then ``obj.<base>``:
    agencies and personas carry names in both languages, and either may be missing."""
    locale = current_locale()
    order = [locale] + [other for other in i18n.SUPPORTED_LOCALES if other != locale]
    for code in order:
        value = _field(obj, f"{base}_{code}")
        if value:
            return str(value)
    value = _field(obj, base)
    return str(value) if value else ""


def agency_name(client: Any) -> str:
    """The agency's name in the current language, or a neutral "the agency"."""
    return localized(client, "client_name") or i18n.translate("agency_unknown", current_locale())


def lang_url(locale: str, base: str | None = None) -> str | None:
    """The current page's URL with ``lang=locale``, for the language switch.

    Only a GET can be repeated safely, so after a POST the switch needs ``base`` (the page
    to go back to) and is hidden (None) without it.
    """
    if base:
        separator = "&" if "?" in base else "?"
        return f"{base}{separator}{urlencode({'lang': locale})}"
    if request.method not in ("GET", "HEAD"):
        return None
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    pairs.append(("lang", locale))
    return f"{quote(request.script_root + request.path)}?{urlencode(pairs)}"


def _template_context() -> dict[str, Any]:
    locale = current_locale()
    other = next(code for code in i18n.SUPPORTED_LOCALES if code != locale)

    def t(key: str, **fmt: Any) -> str:
        return i18n.translate(key, locale, **fmt)

    helpers: dict[str, Callable[..., Any]] = {
        "t": t,
        "has_t": i18n.has_message,
        "csrf_token": csrf_token,
        "localized": localized,
        "agency_name": agency_name,
        "lang_url": lang_url,
        "shown_time": i18n.shown_time,
        "shown_date": i18n.shown_date,
    }
    return {
        "locale": locale,
        "other_locale": other,
        "language_names": i18n.LANGUAGE_NAMES,
        **helpers,
    }


def init_app(app: Flask) -> None:
    """Install the locale negotiation, security headers, error handlers and template
    helpers on ``app``. Call once, before registering blueprints."""
    app.before_request(_refuse_oversized)
    app.before_request(_set_locale)
    app.after_request(_security_headers)
    app.context_processor(_template_context)
    for code in (400, 404, 405, 413, 500):
        app.register_error_handler(code, _handle_http_exception)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_exception)
