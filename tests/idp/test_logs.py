"""Structured logs: one JSON line per request with a request id, no query string, no secret
path segment; and the redacting filter that masks national IDs and tokens in any message."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask import Flask

from idp import logs
from idp.app import create_app
from idp.settings import Settings
from idp.store import EphemeralStore

# Built at run time, so no source line holds a value shaped like the things we mask.
NATIONAL_ID = "1" + "234567890121"
DASHED_ID = "1-2345-67890-12-1"
JWT = "eyJhbGciOiJFUzI1NiJ9" + ".eyJzdWIiOiIxMjMifQ." + "c2lnbmF0dXJlLXZhbHVl"


@pytest.mark.parametrize("text", [
    f"person {NATIONAL_ID} logged in",
    f"person {DASHED_ID} logged in",
    f"person {DASHED_ID.replace('-', ' ')} logged in",
    f"id={NATIONAL_ID}9",  # glued to more digits: still hidden
    f"token {JWT} refused",
    f"Authorization: Bearer {'A' * 40}",
    "GET /cb?code=abcDEF123&state=x",
    "form client_secret=s3cr3t-value&grant_type=x",
])
def test_mask_hides_ids_tokens_and_secrets(text: str) -> None:
    masked = logs.mask(text)
    for secret in (NATIONAL_ID, DASHED_ID, DASHED_ID.replace("-", " "), JWT, "A" * 40,
                   "abcDEF123", "s3cr3t-value"):
        assert secret not in masked
    assert "[masked]" in masked or "[jwt]" in masked


@pytest.mark.parametrize("text", [
    "took 12.5 ms on 2026-11-25", "phone 0812345678", "status 200 endpoint /token",
    "state=xyz", "request 9f86d081884c7d659a2feaa0c55ad015",
])
def test_mask_keeps_ordinary_text(text: str) -> None:
    assert logs.mask(text) == text


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """JSON log output of the root logger at INFO, as `idp serve` configures it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RedactFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_the_filter_masks_any_logger_message(captured: io.StringIO) -> None:
    logging.getLogger("some.library").warning("lookup of %s with %s failed", NATIONAL_ID, JWT)
    try:
        raise ValueError(f"bad id {NATIONAL_ID}")
    except ValueError:
        logging.getLogger("some.library").exception("failed")
    out = captured.getvalue()
    assert NATIONAL_ID not in out and JWT not in out
    first, second = lines(captured)
    assert first["level"] == "WARNING" and first["logger"] == "some.library"
    assert first["message"] == "lookup of [masked] with [jwt] failed"
    assert "ValueError" in str(second["exc"])


@pytest.fixture
def app(settings: Settings, store: EphemeralStore) -> Flask:
    return create_app(settings, store)


def request_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [line for line in lines(stream) if line["logger"] == "idp.request"]


def test_one_json_line_per_request(app: Flask, captured: io.StringIO) -> None:
    resp = app.test_client().get(f"/authorize?client_id=x&code=c0de&login_hint={NATIONAL_ID}")
    (line,) = request_lines(captured)
    assert set(line) == {"time", "level", "logger", "message", "request_id", "method",
                         "endpoint", "path", "status", "duration_ms", "remote_addr"}
    assert line["method"] == "GET" and line["endpoint"] == "/authorize"
    assert line["path"] == "/authorize"
    assert line["status"] == resp.status_code
    assert isinstance(line["duration_ms"], float)
    assert line["remote_addr"] == "127.0.0.1"
    assert line["request_id"] == resp.headers["X-Request-ID"]
    assert str(line["time"]).endswith("Z")
    assert "c0de" not in captured.getvalue() and NATIONAL_ID not in captured.getvalue()


def test_capability_segments_are_masked_and_the_rule_is_logged(
        app: Flask, captured: io.StringIO) -> None:
    handle = "hAndle" + "x" * 30
    client = app.test_client()
    client.get(f"/sign/{handle}")
    client.post(f"/federation/ndid/callback/{handle}", json={})
    client.get(f"/interaction/{handle}")
    client.get(f"/no/such/{handle}")
    found = request_lines(captured)
    assert [line["path"] for line in found[:3]] == [
        "/sign/[token]", "/federation/ndid/callback/[token]", "/interaction/[token]"]
    assert [line["endpoint"] for line in found[:3]] == [
        "/sign/<handle>", "/federation/ndid/callback/<token>", "/interaction/<interaction_id>"]
    assert found[3]["endpoint"] is None
    assert handle not in "".join(str(line["path"]) for line in found[:3])


def test_incoming_request_id_is_kept_when_well_formed(app: Flask, captured: io.StringIO) -> None:
    client = app.test_client()
    resp = client.get("/healthz", headers={"X-Request-ID": "lb-1234.abcd:5"})
    assert resp.headers["X-Request-ID"] == "lb-1234.abcd:5"
    assert request_lines(captured)[-1]["request_id"] == "lb-1234.abcd:5"


@pytest.mark.parametrize("incoming", ["x" * 65, "has space", "a\tb", "<script>", NATIONAL_ID,
                                      "ไทย", ""])
def test_bad_request_id_is_replaced(app: Flask, incoming: str) -> None:
    resp = app.test_client().get("/healthz", headers={"X-Request-ID": incoming})
    got = resp.headers["X-Request-ID"]
    assert got != incoming and len(got) == 32
    assert logs.request_id_from(incoming) != incoming


def test_app_log_records_carry_the_request_id(app: Flask, captured: io.StringIO) -> None:
    @app.get("/test-logs-here")
    def here() -> str:
        logging.getLogger("idp.test").info("inside a request for %s", NATIONAL_ID)
        return "ok"

    resp = app.test_client().get("/test-logs-here")
    inside = next(line for line in lines(captured) if line["logger"] == "idp.test")
    assert inside["request_id"] == resp.headers["X-Request-ID"]
    assert inside["message"] == "inside a request for [masked]"


def test_server_errors_are_logged_as_warnings(app: Flask, captured: io.StringIO) -> None:
    @app.get("/test-boom")
    def boom() -> str:
        raise RuntimeError(f"secret {JWT}")

    app.test_client().get("/test-boom")
    line = request_lines(captured)[-1]
    assert line["status"] == 500 and line["level"] == "WARNING"
    assert JWT not in captured.getvalue()


def test_no_request_line_when_logging_is_not_configured(app: Flask) -> None:
    """`idp demo` and the tests do not configure logging: the request logger is quiet then
    (and builds nothing), so Werkzeug's readable line stays the only one."""
    assert not logging.getLogger(logs.REQUEST_LOGGER).isEnabledFor(logging.INFO)


def test_logging_config_is_valid_json_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    import logging.config

    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        logging.config.dictConfig(logs.logging_config())
        logging.getLogger("gunicorn.error").info("Booting worker with pid: %s", 42)
        logging.getLogger("idp.x").info("national id %s", NATIONAL_ID)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[1]:
            root.addHandler(handler)
        root.setLevel(saved[0])
    err = capsys.readouterr().err
    parsed = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert parsed[0]["logger"] == "gunicorn.error"
    assert parsed[1]["message"] == "national id [masked]"
    assert NATIONAL_ID not in err
