"""Shared fixtures: every store-touching test runs on the embedded pair (SQLite + in-process
store) and, when TEST_DATABASE_URL and TEST_REDIS_URL are set, on PostgreSQL + Redis as well.

Each test gets its own PostgreSQL schema and Redis key prefix, so test runs never see each other.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from idp.migrate import upgrade
from idp.oidc.tally import close_all as close_all_tallies
from idp.settings import Settings
from idp.store import EphemeralStore, MemoryStore, RedisStore

PG_URL = os.environ.get("TEST_DATABASE_URL")
REDIS_URL = os.environ.get("TEST_REDIS_URL")

TEST_KEK = "dGVzdC1rZWstMzItYnl0ZXMtbG9uZy0tLS0tLS0tLS0="  # 32 bytes, tests only
BACKENDS = ["embedded"] + (["pg-redis"] if PG_URL and REDIS_URL else [])


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database for this test."""
    if backend == "embedded":
        url = f"sqlite:///{tmp_path / 'idp.db'}"
        upgrade(url)
        yield url
        close_all_tallies()
        return
    assert PG_URL
    schema = "t_" + secrets.token_hex(6)
    admin = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        close_all_tallies()  # agency token counts are written while their database exists
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(backend: str) -> Iterator[EphemeralStore]:
    if backend == "embedded":
        yield MemoryStore()
        return
    assert REDIS_URL
    prefix = f"test:{secrets.token_hex(6)}:"
    s = RedisStore(REDIS_URL, prefix=prefix)
    yield s
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    for key in r.scan_iter(match=prefix + "*"):
        r.delete(key)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return replace(Settings(), database_url=database_url, issuer="http://localhost:5000",
                   secret_key="test-secret-key-" + "x" * 32, kek=TEST_KEK)
