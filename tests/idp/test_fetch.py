"""Documents fetched from clients (JWKS, sector identifier) and the sector check at registration."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from idp.clients import ClientMetadataError, create_client
from idp.db import Database
from idp.fetch import FetchError, fetch_jwks, fetch_sector_uris
from tests.support.wsgi import serve_wsgi

DOCS: dict[str, tuple[int, bytes]] = {
    "/sector.json": (200, json.dumps(["https://a.go.th/cb", "https://b.go.th/cb"]).encode()),
    "/not-list.json": (200, b'{"a": 1}'),
    "/not-json": (200, b"<html>"),
    "/huge.json": (200, b"[" + b'"x",' * 40000 + b'"x"]'),
    "/gone": (404, b""),
    "/jwks.json": (200, b'{"keys": []}'),
}


@pytest.fixture(scope="module")
def docs() -> Iterator[str]:
    @Request.application
    def app(request: Request) -> Response:
        status, body = DOCS.get(request.path, (404, b""))
        return Response(body, status=status, mimetype="application/json")

    server, base = serve_wsgi(app)
    yield base
    server.shutdown()


def test_sector_document_is_read(docs: str) -> None:
    assert fetch_sector_uris(f"{docs}/sector.json") == ["https://a.go.th/cb",
                                                          "https://b.go.th/cb"]


@pytest.mark.parametrize("path", ["/not-list.json", "/not-json", "/huge.json", "/gone"])
def test_bad_sector_documents_are_refused(docs: str, path: str) -> None:
    with pytest.raises(FetchError):
        fetch_sector_uris(docs + path)


def test_plain_http_is_refused_off_loopback() -> None:
    with pytest.raises(FetchError, match="https"):
        fetch_sector_uris("http://sector.example/uris.json")


def test_jwks_must_have_keys(docs: str) -> None:
    assert fetch_jwks(f"{docs}/jwks.json") == {"keys": []}
    with pytest.raises(FetchError):
        fetch_jwks(f"{docs}/sector.json")


META: dict[str, Any] = {"client_name": "Sector agency", "subject_type": "pairwise",
                        "redirect_uris": ["https://a.go.th/cb", "https://b.go.th/cb"],
                        "sector_identifier_uri": "https://sector.go.th/uris.json"}


def test_registration_checks_the_sector_document(database_url: str) -> None:
    db = Database(database_url)
    with db.session() as s:
        client, _ = create_client(s, META, fetch_sector=lambda uri: META["redirect_uris"])
        assert client.sector_identifier_uri == META["sector_identifier_uri"]
    with db.session() as s, pytest.raises(ClientMetadataError, match=r"redirect_uris\[1\]"):
        create_client(s, META, fetch_sector=lambda uri: ["https://a.go.th/cb"])
    with db.session() as s, pytest.raises(ClientMetadataError, match="sector_identifier_uri"):
        create_client(s, META, fetch_sector=lambda uri: fetch_sector_uris("http://x.invalid/"))
