"""Fixtures of the fault tests: private PostgreSQL and Redis servers that a test may kill and
restart, never the machine's own (CI and other runs share those).

Each fixture skips with the reason when the server binaries are missing, so the suite still
passes on a machine without them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from idp.migrate import upgrade
from tests.support.private_services import PrivatePostgres, PrivateRedis, missing_binaries


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    """A freshly initialised, migrated PostgreSQL cluster of this test's own."""
    reason = missing_binaries()
    if reason:
        pytest.skip(reason)
    pg = PrivatePostgres()
    try:
        pg.init()
        pg.start()
        upgrade(pg.url)
        yield pg
    finally:
        pg.destroy()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A Redis of this test's own, without persistence (a kill -9 loses every key)."""
    reason = missing_binaries()
    if reason:
        pytest.skip(reason)
    with tempfile.TemporaryDirectory(prefix="idp-faults-redis-") as workdir:
        redis = PrivateRedis(Path(workdir))
        redis.start()
        try:
            yield redis
        finally:
            redis.stop()
