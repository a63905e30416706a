"""Serving over HTTP with Werkzeug, for `idp demo` (and `idp serve --workers 0`).

The request log drops query strings: they carry authorization codes and `id_token_hint`, and a
token must never reach a log. For the same reason path segments that act as capabilities
(the secret of the NDID callback URL, signing and report handles, interaction and confirmation
ids) are written as `[token]`. :func:`safe_path` is shared with the JSON request log
(idp/logs.py), so both logs hide the same things.
"""

from __future__ import annotations

import re

from werkzeug.serving import WSGIRequestHandler

# A segment after one of these prefixes is a bearer handle: whoever holds the URL can act.
_SECRET_SEGMENTS = re.compile(
    r"(/federation/ndid/callback/|/interaction/|/sign/|/verify/report/|/csc/v2/confirm/)[^/]+"
)
_MAX_LOGGED_PATH = 512


def safe_path(path: str) -> str:
    """`path` fit for a log: no query string, capability segments masked, bounded length."""
    path = path.split("?", 1)[0][:_MAX_LOGGED_PATH]
    return _SECRET_SEGMENTS.sub(r"\1[token]", path)


def quiet_request_handler(label: str) -> type[WSGIRequestHandler]:
    """A readable one-line request log (for `idp demo`), without query strings or secrets."""

    class Handler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            path = getattr(self, "path", "") or ""
            path = safe_path(path.translate(self._control_char_table))
            self.log("info", '[%s] "%s %s" %s %s', label, self.command, path, code, size)

    return Handler


def silent_request_handler(read_timeout: float | None = None) -> type[WSGIRequestHandler]:
    """No per-request line from Werkzeug: the application writes its own JSON line
    (idp/logs.py) with the request id, so a second, unstructured one would only be noise.
    Werkzeug's own errors (a broken connection, a bad request line) are still logged.

    `read_timeout` (IDP_READ_TIMEOUT) bounds every wait for the client's bytes, so a client
    that stops sending does not keep a thread of `idp serve` forever. Unlike the gunicorn
    workers (idp/gunicorn_worker.py) it is not a deadline for the whole request: production
    runs under gunicorn."""

    class Handler(WSGIRequestHandler):
        timeout = read_timeout

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            return None

    return Handler
