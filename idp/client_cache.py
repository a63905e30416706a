"""Registered clients, kept in each process for a few seconds.

Every call to the token, introspection and revocation endpoints authenticates a client, and
loading its row cost a database transaction per request (0.6 ms on SQLite, 1.3 ms on
PostgreSQL: a third of a `client_credentials` token, bench/README.md) for a row that changes a
few times a year. Rows are kept for CACHE_SECONDS. A change committed through SQLAlchemy's ORM
in this process (registration, `idp clients` run in-process, the account of a removed agency)
drops the entry at commit, so this process never serves a row older than its own writes; a
change made on another node, or by the CLI in another process, reaches this one within
CACHE_SECONDS (docs/operations.md says so to operators).

Cached rows are detached and read-only by convention: callers must not change them (they are
shared by the threads of the process); a change goes through `idp.clients` in a session of its
own, like any other.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from idp.clients import get_client
from idp.db import Client, Database

CACHE_SECONDS = 10.0
"""How long another process's change to a client may take to reach this process."""

MAX_ENTRIES = 10_000
"""Bound on cached clients (least recently used go first); unknown ids are never cached, so
guessing ids cannot fill it."""

_CHANGED = "idp.client_cache.changed"


class ClientCache:
    """Client rows by id, for CACHE_SECONDS, least recently used dropped beyond MAX_ENTRIES."""

    def __init__(self, db: Database, ttl: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, Client]] = OrderedDict()
        self._generation = 0  # counts `forget` calls: a row read before one is not kept
        _caches.add(self)

    def get(self, client_id: str) -> Client | None:
        """The client's row, from the cache while fresh, else from the database."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(client_id)
            if entry is not None and entry[0] > now:
                self._entries.move_to_end(client_id)
                return entry[1]
            generation = self._generation
        with self._db.session() as s:
            row = get_client(s, client_id)
            if row is not None:
                s.expunge(row)
        if row is not None:
            with self._lock:
                if generation != self._generation:
                    return row  # changed while we read: serve it, but do not keep it
                self._entries[client_id] = (now + self._ttl, row)
                self._entries.move_to_end(client_id)
                while len(self._entries) > MAX_ENTRIES:
                    self._entries.popitem(last=False)
        return row

    def forget(self, client_ids: set[str] | None = None) -> None:
        """Drop these clients (every client when None): their rows changed."""
        with self._lock:
            self._generation += 1
            if client_ids is None:
                self._entries.clear()
            for client_id in client_ids or ():
                self._entries.pop(client_id, None)


_caches: weakref.WeakSet[ClientCache] = weakref.WeakSet()


def forget_everywhere(client_ids: set[str] | None = None) -> None:
    """Drop clients from every cache of this process: for a change made with a bulk SQL
    statement, which the ORM listener below cannot see."""
    for cache in list(_caches):
        cache.forget(client_ids)


@event.listens_for(Session, "after_flush")
def _note_changed_clients(session: Session, _context: object) -> None:
    changed = {obj.client_id for obj in (*session.new, *session.dirty, *session.deleted)
               if isinstance(obj, Client)}
    if changed:
        session.info.setdefault(_CHANGED, set()).update(changed)


@event.listens_for(Session, "after_commit")
def _forget_committed(session: Session) -> None:
    changed = session.info.pop(_CHANGED, None)
    if changed:
        forget_everywhere(changed)


@event.listens_for(Session, "after_rollback")
def _drop_noted(session: Session) -> None:
    session.info.pop(_CHANGED, None)
