"""Append-only, hash-chained audit trail.

Every event carries the SHA-256 of its own content plus the hash of the event before it, so
editing, deleting or reordering a stored event breaks the chain and `verify` finds where. The
chain cannot show that events were cut off the *end*; an operator who needs that keeps the
latest hash somewhere else (a printout of `idp audit verify`, a timestamp, a log shipper).

Events are recorded unchained, inside the caller's transaction, and linked after they commit
(`seal`), in batches, by a background sealer in each process that recorded some (at most
SEAL_DELAY later) and by `idp audit verify`. Linking at insert time needed the chain's lock in
every audited request until its commit: every login and token of every worker on every node
waited on one lock, which capped the whole deployment at a few hundred audited requests per
second (bench/README.md). The price is a window of about SEAL_DELAY in which a committed event
is not yet covered by the chain.

Audit records are kept for years and read by people who should never see credentials, so
`record` refuses data that looks like a token, secret, key or national ID number (the security
rule in DESIGN.md): callers log what happened, never the secret that made it happen.

Plain Python with no Flask import, so any layer (web, CLI, background jobs) can record events
inside its own SQLAlchemy transaction.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import re
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, text, update
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from idp.db import AuditEvent, as_utc, lock_writers, utcnow

GENESIS_HASH = "0" * 64
"""The `prev_hash` of the first event: there is nothing before it to point at."""

ADVISORY_LOCK_ID = 0x6964_702E_6175_6474
"""PostgreSQL advisory lock key ("idp.audt" in ASCII) that serialises sealers of the chain.
Any constant works as long as every sealer uses the same one."""

SEAL_DELAY = 0.5
"""Seconds from an event's commit to the sealer's run in that process: long enough that one
run links the events of many requests under load, short enough that the unchained window stays
under a second."""

SEAL_BATCH = 5000
"""Events linked per sealing transaction, so one run never holds the lock for long."""

MAX_DATA_BYTES = 16 * 1024
"""Upper bound on an event's canonical data, so one caller cannot bloat the trail."""

MAX_LIST_LIMIT = 10_000

TYPE_PATTERN = re.compile(r"[a-z0-9_.]{1,60}")

SECRET_KEYS = frozenset({
    "token", "access_token", "refresh_token", "id_token", "code", "secret", "client_secret",
    "password", "national_id", "pid", "citizen_id", "key",
})
"""Data keys refused outright; they name a credential or a national ID."""

SECRET_KEY_SUFFIXES = ("_token", "_secret", "_password", "_key")
"""Suffixes refused too (`logout_token`, `jwt_secret`, `private_key`, ...): the same things
under longer names. Log an identifier such as a `kid` or a digest instead."""

_SEPARATORS = re.compile(r"[\s-]")
_THIRTEEN_DIGITS = re.compile(r"\d{13}")


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of walking the chain.

    `count` is the number of events checked and found good; when `ok` is false it is the number
    of good events before `first_bad_seq`. `pending` counts committed events not yet sealed
    into the chain (normally none for longer than SEAL_DELAY).
    """

    ok: bool
    count: int
    first_bad_seq: int | None = None
    reason: str | None = None
    pending: int = 0


# --- recording -----------------------------------------------------------------------------


def record(
    session: Session,
    type: str,
    *,
    person_id: str | None = None,
    client_id: str | None = None,
    **data: Any,
) -> AuditEvent:
    """Append one event inside the caller's transaction; it is chained after commit.

    The event becomes durable when the caller commits, together with the change it describes;
    if the caller rolls back, neither exists. No lock is taken here: the sealer links the event
    to the chain after the commit (module docstring).
    """
    check_type(type)
    check_no_secrets({"person_id": person_id, "client_id": client_id})
    payload = _normalise(data)
    event = AuditEvent(at=utcnow(), type=type, person_id=person_id, client_id=client_id,
                       data=payload)
    session.add(event)
    session.flush()
    session.info[_RECORDED] = True
    if _observers:
        session.info.setdefault(_PENDING, []).append((type, payload))
    return event


# --- sealing -------------------------------------------------------------------------------


def seal(session: Session, limit: int = SEAL_BATCH, *, wait: bool = True) -> int:
    """Link committed, unchained events to the end of the chain, oldest `seq` first; return
    how many. The caller commits.

    Holds the chain lock until that commit, so two sealers never link to the same predecessor.
    With `wait=False` (the background sealer) a sealer that finds the lock taken returns 0 at
    once: the holder is sealing already. Events of transactions still open are invisible here
    and are sealed by a later run, after them in the chain even if their `seq` is lower.
    """
    if not _lock_chain(session, wait=wait):
        return 0
    return _link(session, limit)


def _link(session: Session, limit: int) -> int:
    """`seal` once the chain lock is held."""
    last = session.execute(select(AuditEvent.chain_pos, AuditEvent.hash)
                           .where(AuditEvent.chain_pos.is_not(None))
                           .order_by(AuditEvent.chain_pos.desc()).limit(1)).first()
    pos, prev = (int(last.chain_pos), str(last.hash)) if last else (0, GENESIS_HASH)
    rows = session.execute(_UNSEALED_QUERY.limit(limit)).all()
    links = []
    for row in rows:
        pos += 1
        link = compute_hash(at=row.at, type=row.type, person_id=row.person_id,
                            client_id=row.client_id, data=row.data, prev_hash=prev)
        links.append({"seq": row.seq, "chain_pos": pos, "prev_hash": prev, "hash": link})
        prev = link
    if links:
        session.execute(update(AuditEvent), links)
    return len(links)


class _Sealer:
    """Seals one database's events shortly after this process commits some.

    Armed by a commit that recorded events, it runs SEAL_DELAY later on a short-lived thread,
    so requests never wait for the chain. It runs again while there is more than a batch, and
    when another sealer held the lock (that one may have looked before our events committed),
    so every process sees its own events sealed. A failure (database away) is logged and not
    retried: the next commit arms it again, and `idp audit verify` seals whatever is left. A
    process that ends while armed seals at exit (`_seal_at_exit`).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._lock = threading.Lock()
        self._armed = False

    def arm(self) -> None:
        with self._lock:
            if self._armed:
                return
            self._armed = True
        timer = threading.Timer(SEAL_DELAY, self._run)
        timer.daemon = True
        timer.start()

    @property
    def armed(self) -> bool:
        return self._armed

    def run_now(self) -> None:
        """Seal everything now, waiting for the lock (the process is ending)."""
        with self._lock:
            self._armed = False
        while (sealed := self._seal_once(wait=True)) is not None and sealed >= SEAL_BATCH:
            pass

    def _run(self) -> None:
        with self._lock:
            self._armed = False
        sealed = self._seal_once(wait=False)
        if sealed is not None and (sealed < 0 or sealed >= SEAL_BATCH):
            self.arm()

    def _seal_once(self, *, wait: bool) -> int | None:
        """One sealing transaction: how many were sealed, -1 if another sealer held the lock,
        None if it failed (logged) or the database is gone."""
        engine = self._engine()
        if engine is None:
            return None
        try:
            with Session(engine) as s, s.begin():
                return _link(s, SEAL_BATCH) if _lock_chain(s, wait=wait) else -1
        except Exception as exc:  # the request that armed us has long returned
            logging.getLogger(__name__).warning("audit sealing failed (%s); events stay "
                                                "unchained until the next run",
                                                type(exc).__name__)
            return None


_sealers: weakref.WeakKeyDictionary[Engine, _Sealer] = weakref.WeakKeyDictionary()
_sealers_lock = threading.Lock()
_RECORDED = "idp.audit.recorded"


def _arm_sealer(engine: Engine) -> None:
    with _sealers_lock:
        sealer = _sealers.get(engine)
        if sealer is None:
            sealer = _sealers[engine] = _Sealer(engine)
    sealer.arm()


@atexit.register
def _seal_at_exit() -> None:
    """A process that ends with a sealer still armed (an `idp` command that changed something,
    a worker shutting down) seals now, instead of leaving its events to whoever commits next."""
    for sealer in list(_sealers.values()):
        if sealer.armed:
            sealer.run_now()


# --- observers -----------------------------------------------------------------------------

AuditObserver = Callable[[str, Mapping[str, Any]], None]
"""Told of each committed event: its type and its checked data, never the person or client
id (so an observer such as the metrics counter cannot label anything with them)."""

_observers: list[AuditObserver] = []
_PENDING = "idp.audit.pending"


def add_observer(observer: AuditObserver) -> None:
    """Call `observer` once for every event whose transaction commits (idempotent).

    Observers run after the commit, because an event that rolled back never happened: the
    metrics counting logins or signatures must agree with the trail. An observer that fails
    is logged and skipped; it can never undo or fail the commit it watches.
    """
    if observer not in _observers:
        _observers.append(observer)


def _after_commit(session: Session) -> None:
    if session.info.pop(_RECORDED, False):
        bind = session.get_bind()
        _arm_sealer(bind if isinstance(bind, Engine) else bind.engine)
    pending = session.info.pop(_PENDING, None)
    for event_type, data in pending or ():
        for observer in tuple(_observers):
            try:
                observer(event_type, data)
            except Exception:  # an observer must not break the request that committed
                logging.getLogger(__name__).exception("audit observer failed on %s",
                                                      event_type)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_RECORDED, None)


sa_event.listen(Session, "after_commit", _after_commit)
sa_event.listen(Session, "after_rollback", _after_rollback)


def check_type(event_type: str) -> None:
    """Refuse event types outside `^[a-z0-9_.]{1,60}$`, so types stay greppable dotted names."""
    if not isinstance(event_type, str) or not TYPE_PATTERN.fullmatch(event_type):
        raise ValueError("audit event type must match ^[a-z0-9_.]{1,60}$")


def check_no_secrets(value: Any, where: str = "data") -> None:
    """Refuse secret-looking keys and national-ID-shaped strings anywhere in `value`.

    Walks nested dicts and lists, since a secret one level down is just as leaked. The error
    names where it was found but never echoes the value: that is what must not be written.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if _is_secret_key(key):
                raise ValueError(f"audit data key {key!r} names a secret or national ID")
            check_no_secrets(item, str(key))
    elif isinstance(value, list | tuple):
        for item in value:
            check_no_secrets(item, where)
    elif isinstance(value, str) and looks_like_national_id(value):
        raise ValueError(f"audit value under {where!r} has the shape of a national ID")


def _is_secret_key(key: Any) -> bool:
    name = str(key).lower()
    return name in SECRET_KEYS or name.endswith(SECRET_KEY_SUFFIXES)


def looks_like_national_id(value: str) -> bool:
    """True for 13 digits, also when written with dashes or spaces (1-2345-67890-12-3), the
    usual ways a Thai national ID number is printed."""
    return bool(_THIRTEEN_DIGITS.fullmatch(_SEPARATORS.sub("", value)))


def _normalise(data: dict[str, Any]) -> dict[str, Any]:
    """Check and round-trip `data` through canonical JSON.

    What is stored must be exactly what was hashed; a tuple or a non-string key would otherwise
    come back from the database different from what went in, and the event would later fail
    verification through no fault of anyone.
    """
    check_no_secrets(data)
    encoded = canonical_json(data)
    if len(encoded) > MAX_DATA_BYTES:
        raise ValueError(f"audit data is larger than {MAX_DATA_BYTES} bytes")
    result: dict[str, Any] = json.loads(encoded)
    return result


def _lock_chain(session: Session, *, wait: bool) -> bool:
    """Serialise sealers, so two never link to the same predecessor (the reads that follow
    see the newest committed events). False when `wait` is off and another holds the lock."""
    if not wait and session.get_bind().dialect.name == "postgresql":
        return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                   {"k": ADVISORY_LOCK_ID}))
    lock_writers(session, ADVISORY_LOCK_ID, "UPDATE audit_event SET seq = seq WHERE 0 = 1")
    return True


# --- hashing -------------------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no spaces, UTF-8 (Thai stays readable)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def format_at(at: datetime) -> str:
    """ISO 8601 in UTC with microseconds.

    SQLite hands back naive datetimes (we always store UTC) and PostgreSQL aware ones in the
    session time zone; both must hash the same as the value recorded.
    """
    return as_utc(at).isoformat(timespec="microseconds")


def compute_hash(
    *,
    at: datetime,
    type: str,
    person_id: str | None,
    client_id: str | None,
    data: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 over the canonical JSON of an event's content and its link.

    `seq` is left out on purpose: it is assigned by the database at insert time, after the hash
    is computed, and PostgreSQL sequences may leave gaps. Order is carried by `prev_hash`.
    """
    content = {
        "at": format_at(at),
        "type": type,
        "person_id": person_id,
        "client_id": client_id,
        "data": data,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(content)).hexdigest()


def event_hash(event: AuditEvent | Row[Any]) -> str:
    """The hash `event` (an ORM event or a plain row) should carry, recomputed from its stored
    fields."""
    return compute_hash(
        at=event.at,
        type=event.type,
        person_id=event.person_id,
        client_id=event.client_id,
        data=event.data,
        prev_hash=event.prev_hash or "",
    )


# --- verifying -----------------------------------------------------------------------------


def verify(session: Session) -> VerifyResult:
    """Walk the chain in `chain_pos` order, checking each link and recomputing each hash.

    Reports the first bad event: an edited event fails its own hash; a deleted or inserted
    event breaks the link of the event after it. Reads plain rows rather than ORM objects, so
    it checks what is stored (not what this session may hold in memory) and streams, so the
    trail may be large.
    """
    expected_prev = GENESIS_HASH
    count = 0
    for row in session.execute(_CHAIN_QUERY.execution_options(yield_per=1000)):
        problem = _problem(row, expected_prev)
        if problem:
            return VerifyResult(ok=False, count=count, first_bad_seq=row.seq, reason=problem)
        expected_prev = row.hash
        count += 1
    pending = session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.chain_pos.is_(None))) or 0
    return VerifyResult(ok=True, count=count, pending=pending)


_CONTENT = (AuditEvent.seq, AuditEvent.at, AuditEvent.type, AuditEvent.person_id,
            AuditEvent.client_id, AuditEvent.data)
"""What an event's hash covers (with its link), and its seq to name it by."""

_CHAIN_QUERY = select(*_CONTENT, AuditEvent.prev_hash, AuditEvent.hash) \
    .where(AuditEvent.chain_pos.is_not(None)).order_by(AuditEvent.chain_pos)

_UNSEALED_QUERY = select(*_CONTENT).where(AuditEvent.chain_pos.is_(None)) \
    .order_by(AuditEvent.seq)


def _problem(row: Row[Any], expected_prev: str) -> str | None:
    """Why the event in `row` does not belong where it sits in the chain, or None if it does."""
    if row.prev_hash != expected_prev:
        return "prev_hash does not match the previous event (an event was removed or inserted)"
    try:
        recomputed = event_hash(row)
    except (TypeError, ValueError, AttributeError):
        return "stored fields cannot be hashed"
    if recomputed != row.hash:
        return "hash mismatch"
    return None


# --- reading -------------------------------------------------------------------------------


def list_events(
    session: Session,
    *,
    person_id: str | None = None,
    type: str | None = None,
    limit: int = 100,
) -> Sequence[AuditEvent]:
    """Events newest first, optionally only one person's or one type's; for operators."""
    query = select(AuditEvent)
    if person_id is not None:
        query = query.where(AuditEvent.person_id == person_id)
    if type is not None:
        query = query.where(AuditEvent.type == type)
    query = query.order_by(AuditEvent.seq.desc()).limit(_bounded(limit))
    return session.scalars(query).all()


def events_for_person(
    session: Session, person_id: str, limit: int = 100
) -> Sequence[AuditEvent]:
    """One person's events, newest first: what their account page shows as their activity."""
    return list_events(session, person_id=person_id, limit=limit)


def _bounded(limit: int) -> int:
    if limit < 1 or limit > MAX_LIST_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIST_LIMIT}")
    return limit


def as_dict(event: AuditEvent) -> dict[str, Any]:
    """An event as plain JSON-ready data, for `--json` output and account pages."""
    return {
        "seq": event.seq,
        "at": format_at(event.at),
        "type": event.type,
        "person_id": event.person_id,
        "client_id": event.client_id,
        "data": event.data,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }
