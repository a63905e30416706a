"""Structured logs: one JSON line per request, JSON for every other log record, a request id.

Why JSON: the lines go to a log shipper, where fields can be searched and counted without
fragile parsing; one line per event keeps a multi-worker server's output unambiguous.

What a line may hold is decided here, not at each call site: the request line carries the URL
rule (``/sign/<handle>``) and a path with its query dropped and capability segments masked
(:func:`idp.serving.safe_path`), never a body, a header, a cookie or a query string. As a last
line of defence, :class:`RedactFilter` rewrites any message that still looks like it holds a
national ID number (13 digits, with or without dashes), a JWT, an Authorization header value or
a ``secret=value`` pair, whoever logged it (our code or a library).

The request id comes from a well-formed incoming ``X-Request-ID`` (a proxy or the agency set
it, so lines on both sides can be joined) or is made here, and is echoed in the response.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request
from werkzeug.wrappers import Response

from idp.serving import safe_path

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_LOGGER = "idp.request"

# What an incoming request id may look like: short, and only characters that need no escaping
# in a log line, a header or a URL (a UUID, a hex or base64url string, a dotted trace id).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    # name=value pairs of secrets, as in a query string or a form body that slipped through.
    (re.compile(r"(?i)\b(client_secret|client_assertion|code_verifier|code|access_token|"
                r"refresh_token|id_token|logout_token|token|password|pin|secret)=[^&\s\"',;]+"),
     r"\1=[masked]"),
    # Authorization header values.
    (re.compile(r"(?i)\b(bearer|basic|dpop)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [masked]"),
    # A JWS or JWE in compact form: its header is base64url JSON, so it starts with "eyJ".
    (re.compile(r"eyJ[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]*){1,4}"), "[jwt]"),
    # A Thai national ID number: 13 digits, also printed as 1-2345-67890-12-3 or with spaces.
    # Longer digit runs are masked too: an ID glued to other digits is still an ID.
    (re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,}(?![0-9])"), "[masked]"),
)


def mask(text: str) -> str:
    """`text` with anything that looks like a national ID, a token or a secret replaced."""
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


class RedactFilter(logging.Filter):
    """Masks every record's message before any handler writes it (see :func:`mask`).

    Attached to the handler rather than to loggers, so records from libraries that propagate
    to the root logger pass through it too."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        fields = getattr(record, "idp_fields", None)
        if isinstance(fields, dict):
            record.idp_fields = {k: mask(v) if isinstance(v, str) else v
                                 for k, v in fields.items()}
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, the request id when the
    record was made while serving a request, the request fields of a request line, and the
    traceback (masked) of a record logged with exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, "idp_fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str)


def current_request_id() -> str | None:
    """This request's id, or None outside a request (start-up, a CLI command)."""
    if not has_request_context():
        return None
    value = g.get("request_id")
    return str(value) if value else None


def request_id_from(header: str | None) -> str:
    """The incoming id when it is well formed and carries nothing :func:`mask` would hide
    (an id is the caller's choice: it must not become a way to write a national ID into our
    logs); a new random one otherwise."""
    if header and _REQUEST_ID.fullmatch(header) and mask(header) == header:
        return header
    return secrets.token_hex(16)


def _start_request() -> None:
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    g.request_started = time.perf_counter()


def elapsed_seconds() -> float | None:
    """Seconds since this request began (None if :func:`_start_request` did not run)."""
    started = g.get("request_started")
    return None if started is None else time.perf_counter() - float(started)


def endpoint_label() -> str | None:
    """The URL rule that matched (``/sign/<handle>``), never the raw path; None on a 404."""
    rule = request.url_rule
    return rule.rule if rule is not None else None


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = str(request_id)
    log = logging.getLogger(REQUEST_LOGGER)
    level = logging.WARNING if response.status_code >= 500 else logging.INFO
    if log.isEnabledFor(level):
        elapsed = elapsed_seconds()
        endpoint = endpoint_label()
        fields = {
            "method": request.method,
            "endpoint": endpoint,
            "path": safe_path(request.path),
            "status": response.status_code,
            "duration_ms": None if elapsed is None else round(elapsed * 1000, 2),
            "remote_addr": request.remote_addr,
        }
        log.log(level, "%s %s %s", request.method, endpoint or "-", response.status_code,
                extra={"idp_fields": fields})
    return response


def init_app(app: Flask) -> None:
    """Give every request an id and a JSON request line. Call before any other hook is
    installed: the id must exist before anything can log, and after_request hooks run in
    reverse order, so this one runs last and sees the final status and headers."""
    app.before_request(_start_request)
    app.after_request(_finish_request)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` configuration: everything as JSON on stderr through the
    redacting filter. Gunicorn's own loggers propagate to it (its access log stays off: the
    request line above replaces it)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "idp.logs.RedactFilter"}},
        "formatters": {"json": {"()": "idp.logs.JsonFormatter"}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["redact"],
            },
        },
        "root": {"level": level, "handlers": ["json"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            # Werkzeug's own request line is replaced by ours; keep its errors.
            "werkzeug": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }


def configure(level: str = "INFO") -> None:
    """Switch this process to JSON logs (`idp serve`; gunicorn applies the same dict)."""
    logging.config.dictConfig(logging_config(level))
