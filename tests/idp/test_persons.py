"""Persons, identifiers and proofing events in the durable store (idp.persons)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from idp import persons
from idp.db import Database, Identifier, Person, ProofingRecord
from idp.settings import Settings
from idp.store import EphemeralStore
from kyc.identifiers import TH_CITIZEN_ID, passport_namespace
from kyc.proofing import ProofingEvent, ndid_bank_evidence
from sandbox.personas import PERSONAS, persona_proofing
from tests.support.live import Browser, serve

CITIZEN_ID = "1345951597671"
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Database:
    return Database(database_url)


@pytest.fixture
def protector() -> persons.IdentifierProtector:
    return persons.identifier_protector("subject-key-for-tests-" + "k" * 20)


def _event(ial: str = "2.3", time: datetime = NOW, **claims: str) -> ProofingEvent:
    return ProofingEvent(
        person_id="ignored", source="ndid", ial=Decimal(ial), aal=Decimal("2.2"),
        evidence=[ndid_bank_evidence("Bank A", "bank_a", "req-1", time)],
        claims={TH_CITIZEN_ID: CITIZEN_ID, **claims}, verification_process="req-1", time=time,
        expires_at=time + timedelta(days=365))


def test_proven_person_is_created_once_and_found_by_the_number(
        db: Database, protector: persons.IdentifierProtector) -> None:
    with db.session() as s:
        first = persons.proven_person(
            s, protector, kind="citizen", namespace=TH_CITIZEN_ID, value=CITIZEN_ID,
            claims={TH_CITIZEN_ID: CITIZEN_ID, "given_name": "Somchai"}, event=_event())
    with db.session() as s:
        again = persons.proven_person(
            s, protector, kind="citizen", namespace=TH_CITIZEN_ID, value="1-3459-51597-67-1",
            claims={"family_name": "Jaidee"}, event=_event("2.1"))
        assert again.id == first.id
        assert again.claims == {"given_name": "Somchai", "family_name": "Jaidee"}
        assert s.scalar(sa.select(sa.func.count()).select_from(Person)) == 1
        assert s.scalar(sa.select(sa.func.count()).select_from(Identifier)) == 1
        assert s.scalar(sa.select(sa.func.count()).select_from(ProofingRecord)) == 2


def test_the_number_is_stored_only_hashed_and_sealed(
        db: Database, protector: persons.IdentifierProtector) -> None:
    with db.session() as s:
        person = persons.proven_person(
            s, protector, kind="citizen", namespace=TH_CITIZEN_ID, value=CITIZEN_ID,
            claims={TH_CITIZEN_ID: CITIZEN_ID}, event=_event())
    with db.engine.connect() as conn:
        for table in ("person", "identifier", "proofing_event"):
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):  # noqa: S608
                assert CITIZEN_ID not in str(tuple(row))
    with db.session() as s:
        assert persons.identifier_of(s, protector, person.id) == CITIZEN_ID
        [event] = persons.proofing_events(s, protector, person.id)
        assert event.claims[TH_CITIZEN_ID] == CITIZEN_ID
        assert event.ial == Decimal("2.3") and event.source == "ndid"


def test_ial_is_the_best_unexpired_event(db: Database,
                                         protector: persons.IdentifierProtector) -> None:
    with db.session() as s:
        person = persons.new_person(s, "citizen", {})
        assert persons.person_ial(s, person.id) == Decimal("1.1")
        old = _event("3", NOW - timedelta(days=400))
        persons.record_proofing(s, protector, ProofingEvent(
            person_id=person.id, source="sandbox", ial=old.ial, aal=None, evidence=[],
            claims={}, verification_process="old", time=old.time, expires_at=old.expires_at))
        assert persons.person_ial(s, person.id, NOW) == Decimal("1.1")
        persons.record_proofing(s, protector, ProofingEvent(
            person_id=person.id, source="sandbox", ial=Decimal("2.1"), aal=None, evidence=[],
            claims={}, verification_process="new", time=NOW, expires_at=None))
        assert persons.person_ial(s, person.id, NOW) == Decimal("2.1")


def test_an_identifier_never_moves_to_another_person(
        db: Database, protector: persons.IdentifierProtector) -> None:
    with db.session() as s:
        a = persons.new_person(s, "citizen", {})
        b = persons.new_person(s, "citizen", {})
        persons.add_identifier(s, protector, a.id, TH_CITIZEN_ID, CITIZEN_ID)
        with pytest.raises(ValueError, match="another person"):
            persons.add_identifier(s, protector, b.id, TH_CITIZEN_ID, CITIZEN_ID)


def test_federated_link_finds_the_person(db: Database,
                                         protector: persons.IdentifierProtector) -> None:
    with db.session() as s:
        person = persons.proven_person(
            s, protector, kind="citizen", namespace=TH_CITIZEN_ID, value=CITIZEN_ID,
            claims={}, event=_event(), link=("thaid", "upstream-sub-1"))
    with db.session() as s:
        found = persons.find_by_link(s, "thaid", "upstream-sub-1")
        assert found is not None and found.id == person.id
        assert persons.find_by_link(s, "other", "upstream-sub-1") is None


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.id)
def test_personas_are_proofed_at_their_level(persona: object) -> None:
    from sandbox.personas import Persona

    assert isinstance(persona, Persona)
    event = persona_proofing(persona, "person-1", NOW)
    if persona.ial == "1.1":
        assert event is None
        return
    assert event is not None and str(event.ial) == persona.ial
    assert "email" not in event.claims and "phone_number" not in event.claims
    assert event.evidence and event.expires_at is not None


def test_a_foreigner_persona_is_found_by_passport(settings: Settings,
                                                  store: EphemeralStore) -> None:
    with serve(settings, store) as op:
        client = op.register()
        op.login(Browser(op.base), client, persona="john")
        p = op.app.extensions["idp"]
        with p.db.session() as s:
            person = persons.find_by_identifier(s, p.identifiers, passport_namespace("gbr"),
                                                "9250 76473")
            assert person is not None and person.sandbox_persona == "john"
            assert persons.identifier_of(s, p.identifiers, person.id) is None
            assert persons.person_ial(s, person.id) == Decimal("2.1")
