"""The shared web layer: headers, errors, CSRF, locale, templates and the texts behind them.

Each test builds a tiny Flask app on the real ``idp`` templates and static files, so it
exercises ``idp.web`` without the rest of the provider.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, abort, g, request
from flask.testing import FlaskClient

import idp
from idp import i18n, web
from idp.authn.disclosure import ConsentView, Label, Line, VerifiedGroup

IDP_DIR = Path(idp.__file__).parent
TEMPLATES = IDP_DIR / "templates"
THAI = re.compile(r"[\u0E00-\u0E7F]")
# Built at run time so the value is not in any source line a logged traceback could quote.
SECRET = "secret-token-" + "abc123"


@pytest.fixture
def app() -> Flask:
    app = Flask("idp_web_test", root_path=str(IDP_DIR))
    app.config.update(SECRET_KEY="test-secret-key", TESTING=True, MAX_CONTENT_LENGTH=1024)
    web.init_app(app)

    @app.get("/page")
    def page() -> Response:
        return web.render_page("logged_out.html")

    @app.get("/locale")
    def locale() -> str:
        return str(g.locale)

    @app.get("/cacheable")
    def cacheable() -> Response:
        return Response("{}", headers={"Cache-Control": "public, max-age=60"})

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError(f"{SECRET} must not leak")

    @app.get("/api/boom")
    def api_boom() -> str:
        raise ValueError(f"{SECRET} must not leak")

    @app.route("/form", methods=["GET", "POST"])
    def form() -> str:
        if request.method == "POST":
            web.check_csrf()
            return "accepted"
        return web.csrf_token()

    @app.post("/upload")
    def upload() -> str:
        return str(len(request.form))

    @app.post("/token")
    def token() -> str:
        return str(len(request.form))

    @app.get("/custom")
    def custom() -> str:
        abort(Response('{"error":"invalid_token"}', 401, mimetype="application/json"))

    @app.get("/denied")
    def denied() -> Response:
        return web.error_page("invalid_request", "invalid_redirect_uri", 400)

    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


# --- headers -------------------------------------------------------------------------------


def test_security_headers_on_pages(client: FlaskClient) -> None:
    response = client.get("/page", headers=HTML)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "base-uri 'none'" in csp
    assert "form-action" not in csp  # would block the redirect back to the agency
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_security_headers_on_errors_too(client: FlaskClient) -> None:
    response = client.get("/nowhere", headers=HTML)
    assert response.status_code == 404
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_are_not_no_store(client: FlaskClient) -> None:
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()


def test_view_cache_control_is_kept(client: FlaskClient) -> None:
    response = client.get("/cacheable")
    assert response.headers["Cache-Control"] == "public, max-age=60"


# --- errors --------------------------------------------------------------------------------


def test_html_error_for_browsers(client: FlaskClient) -> None:
    response = client.get("/nowhere?ui_locales=en", headers=HTML)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert i18n.translate("not_found", "en") in body
    assert "not_found" in body  # the code, for support


@pytest.mark.parametrize("path", ["/token/x", "/userinfo/x", "/.well-known/nothing", "/api/x"])
def test_json_error_for_api_paths(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers=HTML)
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json() == {
        "error": "not_found",
        "error_description": i18n.translate("not_found", "en"),
    }


def test_json_error_when_client_prefers_json(client: FlaskClient) -> None:
    response = client.get("/nowhere", headers={"Accept": "application/json, */*"})
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == "not_found"


def test_abort_with_own_response_is_kept(client: FlaskClient) -> None:
    response = client.get("/custom", headers=HTML)
    assert response.status_code == 401
    assert response.get_json() == {"error": "invalid_token"}
    assert response.headers["Cache-Control"] == "no-store"


def test_405_keeps_allow_header(client: FlaskClient) -> None:
    response = client.delete("/page", headers=HTML)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert i18n.translate("method_not_allowed", "th") in response.get_data(as_text=True)


def test_exception_gives_plain_500_without_trace(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom", headers=HTML)
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Traceback" not in body
    assert SECRET not in body
    assert "RuntimeError" not in body
    assert i18n.translate("server_error", "th") in body
    logged = caplog.text
    assert "RuntimeError" in logged  # the type is logged, for the operator
    assert "test_web.py" in logged  # and where it happened
    assert SECRET not in logged  # the message is not: it may hold a secret


def test_exception_on_api_gives_json_500(client: FlaskClient) -> None:
    response = client.get("/api/boom")
    assert response.status_code == 500
    assert response.get_json()["error"] == "server_error"
    assert SECRET not in response.get_data(as_text=True)


def test_413_for_oversized_form(client: FlaskClient) -> None:
    response = client.post("/upload?ui_locales=en", data={"x": "a" * 5000}, headers=HTML)
    assert response.status_code == 413
    assert i18n.translate("too_large", "en") in response.get_data(as_text=True)


def test_413_json_on_token_endpoint(client: FlaskClient) -> None:
    response = client.post("/token", data={"x": "a" * 5000})
    assert response.status_code == 413
    assert response.get_json() == {
        "error": "invalid_request",
        "error_description": i18n.translate("too_large", "en"),
    }


def test_error_page_renders_translated_message(client: FlaskClient) -> None:
    response = client.get("/denied?ui_locales=th", headers=HTML)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert i18n.translate("invalid_redirect_uri", "th") in body
    assert "invalid_request" in body
    assert '<html lang="th">' in body


# --- CSRF ----------------------------------------------------------------------------------


def test_csrf_accepts_matching_token(client: FlaskClient) -> None:
    token = client.get("/form").get_data(as_text=True)
    assert len(token) >= 43  # 32 random bytes, urlsafe
    assert client.get("/form").get_data(as_text=True) == token  # stable within the session
    response = client.post("/form", data={"csrf_token": token})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "accepted"


@pytest.mark.parametrize("sent", [None, "", "wrong", "ทดสอบ"])
def test_csrf_refuses_missing_or_wrong_token(client: FlaskClient, sent: str | None) -> None:
    client.get("/form")
    data = {} if sent is None else {"csrf_token": sent}
    response = client.post("/form?ui_locales=en", data=data, headers=HTML)
    assert response.status_code == 400
    assert i18n.translate("csrf", "en") in response.get_data(as_text=True)


def test_csrf_refuses_when_session_has_no_token(client: FlaskClient) -> None:
    response = client.post("/form", data={"csrf_token": "anything"}, headers=HTML)
    assert response.status_code == 400
    assert i18n.translate("csrf", "th") in response.get_data(as_text=True)


def test_csrf_token_from_another_session_is_refused(app: Flask) -> None:
    victim, attacker = app.test_client(), app.test_client()
    victim.get("/form")
    attacker_token = attacker.get("/form").get_data(as_text=True)
    assert victim.post("/form", data={"csrf_token": attacker_token}).status_code == 400


# --- locale --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "headers", "expected"),
    [
        ("?ui_locales=en-US", {}, "en"),
        ("?ui_locales=fr%20en", {}, "en"),
        ("?ui_locales=th-TH", {"Accept-Language": "en"}, "th"),
        ("?ui_locales=fr", {"Accept-Language": "en"}, "en"),
        ("", {"Accept-Language": "fr;q=0.9, en-GB;q=0.8"}, "en"),
        ("", {"Accept-Language": "th-TH,en;q=0.5"}, "th"),
        ("", {"Accept-Language": "fr, de"}, "th"),
        ("", {}, "th"),
        ("?lang=en", {"Accept-Language": "th"}, "en"),
        ("?lang=en&ui_locales=th", {}, "en"),  # the person's click beats the agency's hint
    ],
)
def test_negotiate_locale(
    client: FlaskClient, query: str, headers: dict[str, str], expected: str
) -> None:
    assert client.get("/locale" + query, headers=headers).get_data(as_text=True) == expected


def test_language_choice_is_remembered_in_cookie(client: FlaskClient) -> None:
    response = client.get("/locale?lang=en")
    assert "idp_lang=en" in response.headers["Set-Cookie"]
    assert "HttpOnly" in response.headers["Set-Cookie"]
    assert client.get("/locale", headers={"Accept-Language": "th"}).text == "en"


def test_negotiate_locale_outside_a_request() -> None:
    assert web.negotiate_locale("en-US th") == "en"
    assert web.negotiate_locale(None) == "th"


# --- templates -----------------------------------------------------------------------------

CLIENT = {"client_name_th": "กรมการขนส่งทางบก", "client_name_en": "Department of Land Transport"}
PERSONAS: list[dict[str, Any]] = [
    {
        "id": "somchai",
        "name_th": "สมชาย ใจดี",
        "name_en": "Somchai Jaidee",
        "description_th": "พลเมืองไทย ยืนยันตัวตนผ่านธนาคาร",
        "description_en": "Thai citizen, proofed through a bank",
        "ial": "2.3",
        "aal": "2.2",
    },
    {
        "id": "alice",
        "name_th": "อลิซ สมิธ",
        "name_en": "Alice Smith",
        "description_th": "ชาวต่างชาติ",
        "description_en": "Foreign resident",
        "ial": "1.1",
        "aal": "1",
    },
]

SAMPLES: dict[str, dict[str, Any]] = {
    "login.html": {
        "interaction_id": "int-123",
        "client": CLIENT,
        "personas": PERSONAS,
        "login_hint": "alice",
        "sandbox": True,
        "error": None,
    },
    "consent.html": {
        "interaction_id": "int-123",
        "client": CLIENT,
        "view": ConsentView(
            scopes=tuple(Line(Label("scope_" + s, s), ()) for s in
                         ["openid", "profile", "email", "offline_access", "x-unknown"]),
            claims=(Line(Label("claim_birthdate", "birthdate"), ("birthdate",)),
                    Line(Label("claim_x-claim", "x-claim"), ("x-claim",))),
            verified=(VerifiedGroup("verified_by_bank", {"bank": "Bank A"}, "2.3", "2026-05-01",
                                    (Line(Label("claim_given_name", "given_name#th", "th"),
                                          ("given_name#th",)),)),),
            verified_missing=True),
    },
    "logout_confirm.html": {
        "form_fields": {
            "id_token_hint": "eyJhbGciOi.x.y",
            "post_logout_redirect_uri": "https://agency.example/bye",
            "state": "s1",
        },
        "client": CLIENT,
    },
    "logged_out.html": {},
    "error.html": {"error": "access_denied", "message": "msg"},
}
FORMS = ("login.html", "consent.html", "logout_confirm.html")


def render(
    app: Flask, template: str, locale: str, method: str = "GET", status: int = 200
) -> tuple[str, str]:
    """Render ``template`` in ``locale`` and return the body and the session's CSRF token."""
    with app.test_request_context(f"/x?a=1&lang={locale}", method=method):
        app.preprocess_request()
        response = web.render_page(template, status, **SAMPLES[template])
        assert response.status_code == status
        return response.get_data(as_text=True), web.csrf_token()


@pytest.mark.parametrize("locale", ["th", "en"])
@pytest.mark.parametrize("template", sorted(SAMPLES))
def test_templates_render_in_both_languages(app: Flask, template: str, locale: str) -> None:
    body, token = render(app, template, locale)
    assert f'<html lang="{locale}">' in body
    assert "/static/style.css" in body
    # the CSP forbids inline code: scripts only as files (script-src 'self')
    assert not re.search(r"<script(?![^>]*\ssrc=)", body) and "style=" not in body
    if template in FORMS:
        field = re.search(r'<input type="hidden" name="csrf_token" value="([^"]+)">', body)
        assert field is not None and field.group(1) == token
    other = "en" if locale == "th" else "th"
    assert f'href="/x?a=1&amp;lang={other}"' in body  # switch keeps the current URL
    if locale == "th":
        assert THAI.search(body.split("<main", 1)[1].replace("SANDBOX / ทดสอบ", ""))


def test_login_page(app: Flask) -> None:
    body, _ = render(app, "login.html", "th")
    assert 'action="/interaction/int-123/login"' in body
    assert "SANDBOX / ทดสอบ" in body
    assert 'class="sandbox-banner"' in body
    assert "กรมการขนส่งทางบก" in body and "สมชาย ใจดี" in body
    assert i18n.translate("choose_persona", "th") in body
    radios = re.findall(r'<input type="radio"[^>]*>', body)
    assert len(radios) == 2
    assert all('name="persona"' in r for r in radios)
    assert 'value="alice" checked' in radios[1] and "checked" not in radios[0]
    assert "IAL 2.3" in body and "AAL 2.2" in body
    assert 'type="submit"' in body


def test_login_page_english_names_and_error(app: Flask) -> None:
    SAMPLES["login.html"]["error"] = "persona_required"
    try:
        body, _ = render(app, "login.html", "en")
    finally:
        SAMPLES["login.html"]["error"] = None
    assert "Department of Land Transport" in body and "Alice Smith" in body
    assert i18n.translate("persona_required", "en") in body


def test_login_page_without_sandbox_has_no_banner(app: Flask) -> None:
    with app.test_request_context("/"):
        body = web.render_page(
            "login.html", **{**SAMPLES["login.html"], "sandbox": False, "personas": []}
        ).get_data(as_text=True)
    assert "sandbox-banner" not in body
    assert i18n.translate("no_login_method", "th") in body


def test_consent_page(app: Flask) -> None:
    body, _ = render(app, "consent.html", "en")
    assert 'action="/interaction/int-123/consent"' in body
    assert re.search(r'name="decision" value="allow"', body)
    assert re.search(r'name="decision" value="deny"', body)
    for key in ("scope_openid", "scope_profile", "scope_email", "scope_offline_access"):
        assert i18n.translate(key, "en") in body
    assert "<code>x-unknown</code>" in body and "<code>x-claim</code>" in body
    assert i18n.translate("claim_birthdate", "en") in body
    th_body, _ = render(app, "consent.html", "th")
    assert "ยินยอม" in th_body and "ไม่ยินยอม" in th_body


def test_logout_confirm_page(app: Flask) -> None:
    body, _ = render(app, "logout_confirm.html", "th")
    assert 'action="/logout"' in body
    assert '<input type="hidden" name="id_token_hint" value="eyJhbGciOi.x.y">' in body
    assert 'name="post_logout_redirect_uri" value="https://agency.example/bye"' in body
    assert '<input type="hidden" name="state" value="s1">' in body
    assert 'name="confirm" value="yes"' in body
    assert 'name="confirm" value="no"' in body
    # Only the clicked button may carry "confirm"; a hidden one would make "stay" log out.
    assert not re.search(r'type="hidden" name="confirm"', body)
    assert "ออกจากระบบ" in body and "กรมการขนส่งทางบก" in body


def test_language_switch_hidden_after_post_unless_page_url(app: Flask) -> None:
    body, _ = render(app, "logged_out.html", "th", method="POST")
    assert "lang-switch" not in body
    with app.test_request_context("/x", method="POST"):
        body = web.render_page("logged_out.html", page_url="/interaction/1").get_data(as_text=True)
    assert 'href="/interaction/1?lang=en"' in body


def test_agency_name_falls_back_to_other_language(app: Flask) -> None:
    with app.test_request_context("/?lang=th"):
        assert web.agency_name({"client_name_en": "Only English"}) == "Only English"
        assert web.agency_name(None) == i18n.translate("agency_unknown", "th")


def test_agency_name_is_escaped(app: Flask) -> None:
    with app.test_request_context("/?lang=en"):
        body = web.render_page(
            "consent.html", **{**SAMPLES["consent.html"], "client": {"client_name_en": "<b>x"}}
        ).get_data(as_text=True)
    assert "<b>x" not in body and "&lt;b&gt;x" in body


# --- texts ---------------------------------------------------------------------------------

ERROR_KEYS = (
    "invalid_request",
    "unauthorized_client",
    "access_denied",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
    "invalid_redirect_uri",
    "unknown_client",
    "login_required",
    "consent_required",
    "interaction_expired",
    "request_not_supported",
    "csrf",
    "too_large",
    "not_found",
    "method_not_allowed",
)


def test_every_message_has_thai_and_english() -> None:
    for key, texts in i18n.MESSAGES.items():
        assert set(texts) == {"th", "en"}, key
        assert texts["en"].strip() and texts["th"].strip(), key
        assert THAI.search(texts["th"]), f"{key}: Thai text has no Thai"


def test_required_error_messages_exist() -> None:
    for key in ERROR_KEYS:
        assert i18n.has_message(key), key
    assert i18n.translate("invalid_redirect_uri", "en") == (
        "The address this agency asked us to return you to is not registered, "
        "so we stopped here for your safety."
    )
    assert i18n.translate("csrf", "en") == (
        "The form expired or was sent twice; please go back and try again."
    )


def test_every_template_key_exists() -> None:
    used = set()
    for path in TEMPLATES.glob("*.html"):
        # a key with "+ value" after it is a family; test_every_verification_word_exists
        used |= set(re.findall(r"\bt\('([a-z_]+)'(?!\s*\+)",
                               path.read_text(encoding="utf-8")))
    assert used, "templates use t()"
    assert used <= set(i18n.MESSAGES), used - set(i18n.MESSAGES)


def test_every_verification_word_exists() -> None:
    """The families the verification pages build keys from: every value the report and the
    registry can hold has its words."""
    from signing.registry import STATUSES
    from signing.verification import VERDICT_CODES, Indication, Refusal

    families = {
        "verify_kind_": ["signature", "doc_timestamp"],
        "verify_indication_": [i.value for i in Indication],
        "verify_refused_": [r.value for r in Refusal],
        "verify_revocation_": ["good", "revoked", "unknown", "not_checked"],
        "verify_source_": ["embedded", "online"],
        "verify_coverage_": ["entire_file", "entire_revision", "partial"],
        "verify_modifications_": ["none", "lta_updates", "form_filling", "annotations",
                                  "forbidden"],
        # an active registry document leaves the verdict to the signatures
        "verify_verdict_": ["valid", "invalid", "indeterminate", "unsigned", "refused",
                            "not_issued", "suspended", "revoked", "expired", "not_yet_valid"],
        "registry_status_": [*STATUSES, "expired", "not_yet_valid"],
        "verify_registry_title_": [*STATUSES, "expired", "not_yet_valid"],
        "verify_registry_match_": ["exact", "extended", "different"],
        "verify_code_": sorted(VERDICT_CODES),
    }
    missing = [prefix + value for prefix, values in families.items() for value in values
               if prefix + value not in i18n.MESSAGES]
    assert not missing, missing


def test_translate_fallbacks_and_format() -> None:
    assert i18n.translate("login_intro", "th", agency="กรมสรรพากร").startswith("กรมสรรพากร")
    assert i18n.translate("allow", "fr") == "Allow"  # unknown locale -> English
    assert i18n.translate("no-such-key", "th") == "no-such-key"
    assert i18n.translate("login_intro", "en") == i18n.MESSAGES["login_intro"]["en"]
    assert "{agency}" in i18n.translate("login_intro", "en", wrong="x")  # no crash


def test_json_error_description_is_ascii(client: FlaskClient) -> None:
    raw = client.get("/jwks/none", headers={"Accept-Language": "th"}).get_data()
    raw.decode("ascii")
    assert json.loads(raw)["error"] == "not_found"


def test_error_template_shows_code_and_status(app: Flask) -> None:
    body, _ = render(app, "error.html", "en", status=403)
    assert "<code>access_denied</code>" in body
    assert "(403)" in body
    assert "msg" in body
    assert i18n.translate("error_title", "en") in body
