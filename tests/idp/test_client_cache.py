"""The per-process client cache (idp.client_cache): served without the database while fresh,
dropped at the commit of any change made through the ORM in this process, bounded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from idp import client_cache
from idp.client_cache import ClientCache, forget_everywhere
from idp.clients import create_client, remove_client, rotate_secret, update_client
from idp.db import Client, Database


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def queries(db: Database) -> Iterator[list[str]]:
    """Every SELECT on the client table, as the database sees it."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "client" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    yield seen
    event.remove(db.engine, "before_cursor_execute", note)


def _client(db: Database, **meta: Any) -> str:
    with db.session() as s:
        client, _ = create_client(s, {"redirect_uris": ["https://agency.example/cb"],
                                      "client_name#en": "Agency", "client_name#th": "หน่วยงาน",
                                      **meta})
        return client.client_id


def test_fresh_rows_come_from_memory(db: Database, queries: list[str]) -> None:
    cid = _client(db)
    cache = ClientCache(db, ttl=10, clock=Clock())
    queries.clear()

    first, second = cache.get(cid), cache.get(cid)

    assert first is not None and first is second
    assert len(queries) == 1
    assert first.client_name_th == "หน่วยงาน"  # readable detached, after its session closed


def test_rows_are_read_again_after_the_ttl(db: Database, queries: list[str]) -> None:
    cid = _client(db)
    clock = Clock()
    cache = ClientCache(db, ttl=10, clock=clock)
    queries.clear()
    cache.get(cid)
    clock.now += 10.5
    cache.get(cid)
    assert len(queries) == 2


def test_unknown_ids_are_never_cached(db: Database, queries: list[str]) -> None:
    cache = ClientCache(db, ttl=10, clock=Clock())
    assert cache.get("no-such-client") is None
    assert cache.get("no-such-client") is None
    assert len(queries) == 2


@pytest.mark.parametrize("change", ["update", "rotate", "remove"])
def test_a_change_committed_here_is_seen_at_once(db: Database, change: str) -> None:
    cid = _client(db, token_endpoint_auth_method="client_secret_basic")
    cache = ClientCache(db, ttl=3600, clock=Clock())
    before = cache.get(cid)
    assert before is not None

    with db.session() as s:
        if change == "update":
            update_client(s, cid, {"client_name#en": "Renamed agency"})
        elif change == "rotate":
            rotate_secret(s, cid)
        else:
            remove_client(s, cid)

    after = cache.get(cid)
    if change == "remove":
        assert after is None
    else:
        assert after is not None and after is not before
        assert (after.client_name_en, after.secret_hash) != \
            (before.client_name_en, before.secret_hash)


def test_a_rolled_back_change_keeps_the_cached_row(db: Database, queries: list[str]) -> None:
    cid = _client(db)
    cache = ClientCache(db, ttl=3600, clock=Clock())
    cache.get(cid)
    with pytest.raises(RuntimeError), db.session() as s:
        update_client(s, cid, {"client_name#en": "Never"})
        raise RuntimeError("rolled back")
    count = len(queries)
    row = cache.get(cid)
    assert row is not None and row.client_name_en == "Agency"
    assert len(queries) == count


def test_a_bulk_statement_needs_forget_everywhere(db: Database) -> None:
    """The ORM listener sees ORM changes only: code changing clients with a bulk UPDATE says
    so (as tests/support/jwks_server.py does)."""
    cid = _client(db)
    cache = ClientCache(db, ttl=3600, clock=Clock())
    cache.get(cid)
    with db.session() as s:
        s.execute(sa.update(Client).where(Client.client_id == cid).values(jwks_uri=None,
                                                                          scope="openid"))
    forget_everywhere({cid})
    row = cache.get(cid)
    assert row is not None and row.scope == "openid"


def test_a_row_read_while_it_changed_is_served_but_not_kept(db: Database,
                                                             queries: list[str]) -> None:
    cid = _client(db)
    cache = ClientCache(db, ttl=3600, clock=Clock())
    real = client_cache.get_client

    def racing(session: Any, client_id: str) -> Client | None:
        row = real(session, client_id)
        cache.forget({client_id})  # a commit elsewhere lands between the read and the store
        return row

    queries.clear()
    client_cache.get_client = racing  # type: ignore[assignment]
    try:
        assert cache.get(cid) is not None
    finally:
        client_cache.get_client = real
    cache.get(cid)
    assert len(queries) == 2


def test_the_cache_is_bounded(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_cache, "MAX_ENTRIES", 3)
    ids = [_client(db) for _ in range(5)]
    cache = ClientCache(db, ttl=3600, clock=Clock())
    for cid in ids:
        cache.get(cid)
    assert list(cache._entries) == ids[2:]
