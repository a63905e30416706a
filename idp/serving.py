"""Serving over HTTP with Werkzeug, for `idp serve` and `idp demo`.

The request log drops query strings: they carry authorization codes and `id_token_hint`, and a
token must never reach a log. For the same reason the secret path segment of the NDID callback
URL is written as `[token]`.
"""

from __future__ import annotations

import re

from werkzeug.serving import WSGIRequestHandler

_SECRET_SEGMENTS = re.compile(r"(/federation/ndid/callback/)[^/]*")


def quiet_request_handler(label: str) -> type[WSGIRequestHandler]:
    class Handler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            path = getattr(self, "path", "") or ""
            path = path.split("?", 1)[0].translate(self._control_char_table)
            path = _SECRET_SEGMENTS.sub(r"\1[token]", path)
            self.log("info", '[%s] "%s %s" %s %s', label, self.command, path, code, size)

    return Handler
