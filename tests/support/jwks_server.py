"""An agency's `jwks_uri`, served over real HTTP on a loopback port: tests put a JWKS (or a
failure status) under a path, and point a client's `jwks_uri` at it."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa

from idp.client_cache import forget_everywhere
from idp.db import Client
from tests.support.live import LiveProvider


@dataclass
class JwksServer:
    base: str
    documents: dict[str, tuple[int, Any]] = field(default_factory=dict)

    def publish(self, jwks: Any, status: int = 200) -> str:
        """Serve `jwks` (with `status`) under a fresh path; its URL. A fresh path each time,
        since the provider caches a fetched JWKS by URL."""
        path = "/" + secrets.token_urlsafe(8) + "/jwks.json"
        self.documents[path] = (status, jwks)
        return self.base + path


@contextmanager
def jwks_server() -> Iterator[JwksServer]:
    state = JwksServer(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = state.documents.get(self.path, (404, {"error": "not found"}))
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test output is not the place for request lines."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def point_jwks_uri(op: LiveProvider, client_id: str, uri: str) -> None:
    """Set a registered client's jwks_uri to a loopback http URL. Registration accepts https
    only; the fetcher accepts loopback http for development, which is what a test can serve."""
    with op.app.extensions["idp"].db.session() as s:
        s.execute(sa.update(Client).where(Client.client_id == client_id)
                  .values(jwks_uri=uri, jwks=None))
    forget_everywhere({client_id})  # a bulk UPDATE: the ORM's listener does not see it
