"""Persons, their identifiers, proofing events and federated links, in the durable store.

The rules live in kyc/ (plain Python); this module only reads and writes rows. Every proofing
source (NDID, an upstream OpenID provider, a sandbox persona) ends in `proven_person`, so
"find or create the person by their identifier, then record what was proven" is written once.

A national ID is stored only as kyc.identifiers does it (keyed hash plus sealed copy); a
proofing event's verified citizen ID is a reference to that row, never a copy in `claims`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.db import FederatedLink, Identifier, Person, ProofingRecord, as_utc, utcnow
from kyc.identifiers import TH_CITIZEN_ID, IdentifierProtector, derive_keys
from kyc.persons import check_kind, may_hold
from kyc.proofing import ProofingEvent, current_ial


def identifier_protector(secret: str) -> IdentifierProtector:
    """The protector keyed from a long-lived provider secret (the subject key: like pairwise
    subjects, lookup hashes must stay stable for the life of the service)."""
    return IdentifierProtector(*derive_keys(secret.encode()))


def find_by_identifier(s: Session, protector: IdentifierProtector, namespace: str,
                       value: str) -> Person | None:
    row = s.scalars(select(Identifier).where(
        Identifier.lookup_hash == protector.lookup_hash(namespace, value))).first()
    return s.get(Person, row.person_id) if row else None


def add_identifier(s: Session, protector: IdentifierProtector, person_id: str, namespace: str,
                   value: str) -> Identifier:
    """The person's identifier row, created if they do not have it yet."""
    digest = protector.lookup_hash(namespace, value)
    person = s.get(Person, person_id)
    if person is None or not may_hold(person.kind, namespace):
        raise ValueError("this kind of person cannot hold this kind of identifier")
    row = s.scalars(select(Identifier).where(Identifier.lookup_hash == digest)).first()
    if row is not None:
        if row.person_id != person_id:
            raise ValueError("this identifier belongs to another person")
        return row
    row = Identifier(person_id=person_id, namespace=namespace, lookup_hash=digest,
                     sealed=protector.seal(namespace, value))
    s.add(row)
    s.flush()
    return row


def identifier_of(s: Session, protector: IdentifierProtector, person_id: str,
                  namespace: str = TH_CITIZEN_ID) -> str | None:
    """The person's identifier in this namespace, unsealed; None when they have none."""
    row = s.scalars(select(Identifier).where(Identifier.person_id == person_id,
                                             Identifier.namespace == namespace)).first()
    return protector.unseal(namespace, row.sealed) if row else None


def new_person(s: Session, kind: str, claims: Mapping[str, Any],
               sandbox_persona: str | None = None) -> Person:
    person = Person(id=str(uuid.uuid4()), kind=check_kind(kind), sandbox_persona=sandbox_persona,
                    claims={k: v for k, v in claims.items() if k != TH_CITIZEN_ID})
    s.add(person)
    s.flush()
    return person


def find_by_link(s: Session, provider: str, upstream_subject: str) -> Person | None:
    row = s.scalars(select(FederatedLink).where(
        FederatedLink.provider == provider,
        FederatedLink.upstream_subject == upstream_subject)).first()
    return s.get(Person, row.person_id) if row else None


def add_link(s: Session, provider: str, upstream_subject: str, person_id: str) -> None:
    if find_by_link(s, provider, upstream_subject) is None:
        s.add(FederatedLink(provider=provider, upstream_subject=upstream_subject,
                            person_id=person_id))
        s.flush()


def record_proofing(s: Session, protector: IdentifierProtector, event: ProofingEvent,
                    trail: Mapping[str, Any] | None = None) -> ProofingRecord:
    """Store one proofing event. A `th_citizen_id` among its claims becomes (or must match)
    the person's identifier row, referenced from the event."""
    claims = dict(event.claims)
    citizen_id = claims.pop(TH_CITIZEN_ID, None)
    identifier_id = None
    if citizen_id is not None:
        identifier_id = add_identifier(s, protector, event.person_id, TH_CITIZEN_ID,
                                       str(citizen_id)).id
    row = ProofingRecord(
        id=str(uuid.uuid4()), person_id=event.person_id, source=event.source,
        ial=str(event.ial), aal=None if event.aal is None else str(event.aal),
        evidence=list(event.evidence), claims=claims, identifier_id=identifier_id,
        verification_process=event.verification_process, time=event.time,
        expires_at=event.expires_at, trail=dict(trail or {}))
    s.add(row)
    s.flush()
    return row


def proven_person(s: Session, protector: IdentifierProtector, *, kind: str,
                  namespace: str, value: str, claims: Mapping[str, Any],
                  event: ProofingEvent, trail: Mapping[str, Any] | None = None,
                  link: tuple[str, str] | None = None) -> Person:
    """The person this proofing proved: found by their identifier (or by the federated
    `link`, (provider, upstream sub)), else created; their held claims refreshed with the
    verified ones; the event recorded for them. `event.person_id` is ignored and replaced.
    """
    person = find_by_identifier(s, protector, namespace, value)
    if person is None and link is not None:
        person = find_by_link(s, *link)
    if person is None:
        person = new_person(s, kind, claims)
    else:
        person.claims = {**person.claims,
                         **{k: v for k, v in claims.items() if k != TH_CITIZEN_ID}}
    add_identifier(s, protector, person.id, namespace, value)
    if link is not None:
        add_link(s, link[0], link[1], person.id)
    record_proofing(s, protector, _for_person(event, person.id), trail)
    return person


def _for_person(event: ProofingEvent, person_id: str) -> ProofingEvent:
    return ProofingEvent(
        person_id=person_id, source=event.source, ial=event.ial, aal=event.aal,
        evidence=event.evidence, claims=event.claims,
        verification_process=event.verification_process, time=event.time,
        expires_at=event.expires_at)


def proofing_events(s: Session, protector: IdentifierProtector,
                    person_id: str) -> list[ProofingEvent]:
    """The person's events as kyc objects, the verified citizen ID unsealed back into claims."""
    rows = s.scalars(select(ProofingRecord).where(ProofingRecord.person_id == person_id))
    events = []
    for row in rows:
        claims = dict(row.claims)
        if row.identifier_id is not None:
            ident = s.get(Identifier, row.identifier_id)
            if ident is not None:
                claims[TH_CITIZEN_ID] = protector.unseal(ident.namespace, ident.sealed)
        events.append(ProofingEvent(
            person_id=row.person_id, source=row.source, ial=Decimal(row.ial),
            aal=None if row.aal is None else Decimal(row.aal), evidence=list(row.evidence),
            claims=claims, verification_process=row.verification_process,
            time=as_utc(row.time), expires_at=as_utc(row.expires_at)))
    return events


def person_ial(s: Session, person_id: str, now: datetime | None = None) -> Decimal:
    """The person's IAL now (kyc.proofing.current_ial over their events), without unsealing."""
    rows = s.scalars(select(ProofingRecord).where(ProofingRecord.person_id == person_id))
    events = [ProofingEvent(
        person_id=row.person_id, source=row.source, ial=Decimal(row.ial), aal=None,
        evidence=[], claims={}, verification_process=row.verification_process,
        time=as_utc(row.time), expires_at=as_utc(row.expires_at)) for row in rows]
    return current_ial(events, now or utcnow())
