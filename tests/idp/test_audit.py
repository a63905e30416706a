"""The audit trail: hash chain, tamper detection, secret refusal, concurrent appends, CLI.

Runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL (see tests/conftest.py).
Tampering is done with SQL UPDATE/DELETE statements, as an attacker with database access would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select, update

from idp import audit
from idp.cli_audit import audit as audit_cli
from idp.db import AuditEvent, Database
from idp.settings import ROOT


@pytest.fixture(autouse=True)
def _no_background_sealer(request: pytest.FixtureRequest,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests seal explicitly and count what is sealed: a background sealer firing in
    between (SEAL_DELAY after a commit, on a slow machine) would make the counts race. Only
    the test about the background sealer keeps it."""
    if "background_sealer" not in request.node.name:
        monkeypatch.setattr(audit, "_arm_sealer", lambda _engine: None)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.engine.dispose()


def _record_many(db: Database, n: int, person_id: str = "person-1") -> list[int]:
    """Record n events, each in its own transaction as real requests would, then seal them as
    the background sealer would; return their seqs."""
    seqs = []
    for i in range(n):
        with db.session() as s:
            event = audit.record(s, "login.success", person_id=person_id, client_id="agency-1",
                                 n=i, ip="192.0.2.1", note="ลงชื่อเข้าใช้")
            seqs.append(event.seq)
    _seal(db)
    return seqs


def _seal(db: Database) -> int:
    with db.session() as s:
        return audit.seal(s)


def _verify(db: Database) -> audit.VerifyResult:
    """Seal what is left (as `idp audit verify` does), then walk the chain."""
    _seal(db)
    with db.session() as s:
        return audit.verify(s)


def _count(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent)) or 0


# --- the chain -----------------------------------------------------------------------------


def test_chain_of_events_verifies(db: Database) -> None:
    _record_many(db, 5)
    with db.session() as s:
        audit.record(s, "consent.granted", person_id="person-2", client_id="agency-1",
                     scopes=["openid", "profile"], claims={"given_name": None})

    assert _verify(db) == audit.VerifyResult(ok=True, count=6)


def test_events_link_to_their_predecessor(db: Database) -> None:
    _record_many(db, 3)
    with db.session() as s:
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()

    assert [e.chain_pos for e in events] == [1, 2, 3]
    assert events[0].prev_hash == audit.GENESIS_HASH
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert all(e.hash == audit.event_hash(e) for e in events)


def test_empty_trail_verifies(db: Database) -> None:
    assert _verify(db) == audit.VerifyResult(ok=True, count=0)


def test_event_rolled_back_with_its_transaction(db: Database) -> None:
    """An event is part of the caller's transaction: no record of something that never was."""
    _record_many(db, 1)
    with pytest.raises(RuntimeError), db.session() as s:
        audit.record(s, "token.issued", person_id="person-1", client_id="agency-1")
        raise RuntimeError("the token endpoint failed after recording")

    assert _count(db) == 1
    _record_many(db, 1)
    assert _verify(db) == audit.VerifyResult(ok=True, count=2)


# --- tampering -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("data", {"n": 2, "ip": "203.0.113.66", "note": "ลงชื่อเข้าใช้"}),
        ("type", "login.failure"),
        ("person_id", "someone-else"),
        ("client_id", "agency-2"),
    ],
)
def test_tampered_row_is_detected_at_its_seq(db: Database, column: str, value: Any) -> None:
    seqs = _record_many(db, 5)
    with db.session() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == seqs[2]).values({column: value}))

    result = _verify(db)

    assert (result.ok, result.first_bad_seq, result.count) == (False, seqs[2], 2)
    assert result.reason == "hash mismatch"


def test_tampered_time_is_detected(db: Database) -> None:
    seqs = _record_many(db, 3)
    with db.session() as s:
        at = s.scalar(select(AuditEvent.at).where(AuditEvent.seq == seqs[1]))
        assert at is not None
        s.execute(update(AuditEvent).where(AuditEvent.seq == seqs[1])
                  .values(at=at - timedelta(microseconds=1)))

    assert _verify(db).first_bad_seq == seqs[1]


def test_deleted_middle_row_is_detected(db: Database) -> None:
    seqs = _record_many(db, 5)
    with db.session() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == seqs[2]))

    result = _verify(db)

    assert (result.ok, result.first_bad_seq, result.count) == (False, seqs[3], 2)
    assert result.reason is not None and "prev_hash" in result.reason


def test_deleted_first_row_is_detected(db: Database) -> None:
    seqs = _record_many(db, 3)
    with db.session() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == seqs[0]))

    assert _verify(db).first_bad_seq == seqs[1]


def test_rehashed_forgery_breaks_the_next_link(db: Database) -> None:
    """An attacker who edits a row and recomputes its hash still breaks its successor's link."""
    seqs = _record_many(db, 4)
    with db.session() as s:
        forged = s.get_one(AuditEvent, seqs[1])
        forged.data = {**forged.data, "ip": "203.0.113.66"}
        forged.hash = audit.event_hash(forged)

    result = _verify(db)

    assert (result.ok, result.first_bad_seq) == (False, seqs[2])


# --- what may be recorded ------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "token", "access_token", "refresh_token", "id_token", "code", "secret", "client_secret",
        "password", "national_id", "pid", "citizen_id", "key",
        "Access_Token", "logout_token", "jwt_secret", "private_key",
    ],
)
def test_secret_keys_are_refused(db: Database, key: str) -> None:
    with db.session() as s, pytest.raises(ValueError, match="secret or national ID"):
        audit.record(s, "token.issued", person_id="person-1", **{key: "abc"})
    assert _count(db) == 0


@pytest.mark.parametrize(
    "data",
    [
        {"nid": "1101700203451"},
        {"nid": "1-1017-00203-45-1"},
        {"nid": "1 1017 00203 45 1"},
        {"who": {"nested": ["x", "1101700203451"]}},
        {"outer": {"refresh_token": "r"}},
        {"items": [{"client_secret": "s"}]},
    ],
)
def test_national_ids_and_nested_secrets_are_refused(db: Database, data: dict[str, Any]) -> None:
    with db.session() as s, pytest.raises(ValueError) as caught:
        audit.record(s, "login.success", **data)
    assert "1101700203451" not in str(caught.value)
    assert _count(db) == 0


def test_national_id_as_person_id_is_refused(db: Database) -> None:
    with db.session() as s, pytest.raises(ValueError, match="national ID"):
        audit.record(s, "login.success", person_id="1101700203451")
    assert _count(db) == 0


def test_ordinary_data_is_accepted(db: Database) -> None:
    """The refusals above are specific: near misses and identifiers are fine to record."""
    with db.session() as s:
        event = audit.record(
            s, "token.issued", person_id="9f1c2b9e-0000-4000-8000-000000000001",
            client_id="agency-1", token_type="Bearer", kid="key-2024-01", scope="openid",
            phone_last4="1234", ms=1_700_000_000_000, twelve="110170020345", grant="g-1",
        )
    assert event.data["token_type"] == "Bearer"
    assert _verify(db).ok


@pytest.mark.parametrize(
    "event_type",
    ["", "Login.Success", "login success", "login/success", "x" * 61, "login.success\n"],
)
def test_bad_event_types_are_refused(db: Database, event_type: str) -> None:
    with db.session() as s, pytest.raises(ValueError, match="type"):
        audit.record(s, event_type)
    assert _count(db) == 0


def test_event_type_of_sixty_characters_is_accepted(db: Database) -> None:
    with db.session() as s:
        audit.record(s, "a." + "b" * 58)
    assert _count(db) == 1


def test_oversized_data_is_refused(db: Database) -> None:
    with db.session() as s, pytest.raises(ValueError, match="larger than"):
        audit.record(s, "client.created", blob="x" * (audit.MAX_DATA_BYTES + 1))
    assert _count(db) == 0


def test_returned_event_holds_what_is_stored(db: Database) -> None:
    """Tuples and int keys come back from JSON as lists and strings; the returned event must
    already hold that form, or rehashing it in memory would disagree with the database."""
    with db.session() as s:
        event = audit.record(s, "consent.granted", scopes=("openid", "email"), counts={1: "one"})
        assert event.data == {"scopes": ["openid", "email"], "counts": {"1": "one"}}
        seq = event.seq
    _seal(db)
    with db.session() as s:
        stored = s.get_one(AuditEvent, seq)
        assert stored.hash == audit.event_hash(stored)
    assert _verify(db).ok


# --- concurrency ---------------------------------------------------------------------------


@pytest.mark.parametrize("seal_while_writing", [False, True])
def test_concurrent_appends_keep_one_chain(db: Database, seal_while_writing: bool) -> None:
    """Eight writers at once, sealing as they go or not: no two events ever link to the same
    predecessor (a fork), and nothing is left unsealed."""
    threads, per_thread = 8, 10
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        start.wait()
        try:
            for i in range(per_thread):
                with db.session() as s:
                    audit.record(s, "login.success", person_id=f"person-{n}", n=i)
                if seal_while_writing:
                    _seal(db)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    assert errors == []
    assert _verify(db) == audit.VerifyResult(ok=True, count=threads * per_thread)


# --- sealing -------------------------------------------------------------------------------


def test_events_are_recorded_unchained_and_sealed_after_commit(db: Database) -> None:
    """Recording takes no lock: the event waits, unchained, for the sealer."""
    with db.session() as s:
        seq = audit.record(s, "login.success", person_id="person-1").seq
    with db.session() as s:
        stored = s.get_one(AuditEvent, seq)
        assert (stored.chain_pos, stored.prev_hash, stored.hash) == (None, None, None)
        assert audit.verify(s) == audit.VerifyResult(ok=True, count=0, pending=1)

    assert _seal(db) == 1
    assert _seal(db) == 0
    with db.session() as s:
        assert audit.verify(s) == audit.VerifyResult(ok=True, count=1, pending=0)


def test_the_background_sealer_chains_committed_events(db: Database) -> None:
    """Nobody calls seal here: the commit arms the process's sealer, which links the events
    about SEAL_DELAY later (bounded wait, no timing assertion)."""
    for i in range(3):
        with db.session() as s:
            audit.record(s, "token.issued", client_id="agency-1", n=i)

    deadline = time.monotonic() + 30
    while True:
        with db.session() as s:
            result = audit.verify(s)
        if result.pending == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert result == audit.VerifyResult(ok=True, count=3, pending=0)


def test_a_process_that_ends_seals_its_events(db: Database, database_url: str) -> None:
    """An `idp` command records an event and exits before its sealer's timer: it seals at
    exit, so the event does not wait for the next request of some server."""
    script = ("import sys\n"
              "from idp import audit\n"
              "from idp.db import Database\n"
              "with Database(sys.argv[1]).session() as s:\n"
              "    audit.record(s, 'client.created', via='cli')\n")
    subprocess.run([sys.executable, "-c", script, database_url], check=True, cwd=ROOT,
                   timeout=60)
    with db.session() as s:
        assert audit.verify(s) == audit.VerifyResult(ok=True, count=1, pending=0)


def test_an_event_committed_late_is_chained_after_later_seqs(
        db: Database, backend: str) -> None:
    """A transaction that recorded first but commits last gets the lower seq and the later
    place in the chain: the chain follows sealing order, and nothing is left out."""
    if backend == "embedded":
        pytest.skip("SQLite has one writer at a time: a second transaction cannot record "
                    "while the first is open")
    with db.session() as slow:
        early = audit.record(slow, "consent.granted", person_id="person-1").seq
        with db.session() as fast:
            late = audit.record(fast, "login.success", person_id="person-2").seq
        assert _seal(db) == 1
    assert _seal(db) == 1

    with db.session() as s:
        positions = {e.seq: e.chain_pos for e in s.scalars(select(AuditEvent))}
        assert early < late and positions[late] == 1 and positions[early] == 2
        assert audit.verify(s) == audit.VerifyResult(ok=True, count=2)


# --- reading -------------------------------------------------------------------------------


def test_events_for_person_newest_first(db: Database) -> None:
    mine = _record_many(db, 4, person_id="person-1")
    _record_many(db, 2, person_id="person-2")

    with db.session() as s:
        events = audit.events_for_person(s, "person-1", limit=3)
        assert [e.seq for e in events] == sorted(mine, reverse=True)[:3]
        assert {e.person_id for e in events} == {"person-1"}
        with pytest.raises(ValueError, match="limit"):
            audit.events_for_person(s, "person-1", limit=0)


# --- command line --------------------------------------------------------------------------


def _invoke(database_url: str, *args: str) -> Any:
    return CliRunner().invoke(audit_cli, list(args), env={"IDP_DATABASE_URL": database_url})


def test_cli_verify_ok(db: Database, database_url: str) -> None:
    _record_many(db, 3)

    result = _invoke(database_url, "verify")

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "audit chain ok: 3 events"


def test_cli_verify_broken_exits_1(db: Database, database_url: str) -> None:
    seqs = _record_many(db, 3)
    with db.session() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == seqs[1]).values(type="logout"))

    result = _invoke(database_url, "verify")

    assert result.exit_code == 1
    assert result.output.strip() == f"audit chain BROKEN at event {seqs[1]}: hash mismatch"


def test_cli_verify_unreadable_database_exits_2(tmp_path: Any) -> None:
    result = _invoke(f"sqlite:///{tmp_path / 'never-initialised.db'}", "verify")

    assert result.exit_code == 2
    assert "idp init" in result.output


def test_cli_list_json_filters(db: Database, database_url: str) -> None:
    _record_many(db, 2, person_id="person-1")
    _record_many(db, 1, person_id="person-2")
    with db.session() as s:
        audit.record(s, "logout", person_id="person-1")

    result = _invoke(database_url, "list", "--person", "person-1", "--type", "login.success",
                     "--limit", "5", "--json")

    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [(e["person_id"], e["type"], e["data"]["n"]) for e in listed] == [
        ("person-1", "login.success", 1), ("person-1", "login.success", 0)]


def test_cli_list_lines(db: Database, database_url: str) -> None:
    _record_many(db, 2)

    result = _invoke(database_url, "list", "--limit", "1")

    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "login.success" in lines[0] and "person=person-1" in lines[0] and '"n":1' in lines[0]


def _read_only(url: str) -> str:
    """The same database, opened so that nothing can be written (as on a standby)."""
    if url.startswith("sqlite:///"):
        return "sqlite:///file:" + url.removeprefix("sqlite:///") + "?mode=ro&uri=true"
    return url + "%20-cdefault_transaction_read_only%3Don"


def test_cli_verify_on_a_read_only_database_counts_what_is_not_sealed(
        db: Database, database_url: str) -> None:
    _record_many(db, 2)
    with db.session() as s:
        audit.record(s, "logout", person_id="person-1")

    result = _invoke(_read_only(database_url), "verify")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "audit chain ok: 2 events"
    assert "1 newer events are not sealed yet" in result.output
    assert _invoke(database_url, "verify").output.strip() == "audit chain ok: 3 events"
