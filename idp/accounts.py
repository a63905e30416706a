"""Closing an account: everything a person left active with us ends, at once.

What closes: every signing certificate (revoked, reason cessationOfOperation, keys destroyed),
every agency's consent and every token family (agencies lose access at once), the passkeys,
the links to upstream identity providers, and every login session, including those in other
browsers (a store marker makes any session begun before the closure invalid wherever it is
used; sessions cannot outlive `IDP_SESSION_TTL`, so neither need the marker).

What stays, because the law and disputes need it: the person record, their proofing events
(who proved what, when, through which bank) and the audit trail. Logging in again later
(proving who they are again) opens a fresh account on the same person, with nothing of the
old one active.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, select

from idp import audit
from idp import signing_credentials as creds
from idp.db import Authenticator, ConsentGrant, FederatedLink, Grant, utcnow
from idp.oidc import tokens
from idp.pki.service import Pki
from idp.provider import Provider
from idp.store import EphemeralStore

MARKER_PREFIX = "person-closed:"


@dataclass(frozen=True)
class Closed:
    """What closing ended, for the page and the audit trail (counts, never identities)."""

    certificates: int
    agencies: int
    grants: int
    passkeys: int
    links: int


def _marker(person_id: str) -> str:
    return MARKER_PREFIX + tokens.digest(person_id)


def close_account(p: Provider, pki: Pki, person_id: str) -> Closed:
    certificates = creds.revoke_all_for_person(pki, person_id, "account_closed")
    with p.db.session() as s:
        agencies = sorted(set(s.scalars(select(ConsentGrant.client_id).where(
            ConsentGrant.person_id == person_id, ConsentGrant.withdrawn_at.is_(None)))))
        for consent in s.scalars(select(ConsentGrant).where(
                ConsentGrant.person_id == person_id, ConsentGrant.withdrawn_at.is_(None))):
            consent.withdrawn_at = utcnow()
        grant_ids = list(s.scalars(select(Grant.id).where(
            Grant.person_id == person_id, Grant.revoked_at.is_(None))))
        for grant_id in grant_ids:
            tokens.revoke_grant(s, grant_id, "account_closed")
        passkeys = getattr(s.execute(delete(Authenticator).where(
            Authenticator.person_id == person_id)), "rowcount", 0)
        links = getattr(s.execute(delete(FederatedLink).where(
            FederatedLink.person_id == person_id)), "rowcount", 0)
        closed = Closed(certificates, len(agencies), len(grant_ids), passkeys, links)
        audit.record(s, "account.closed", person_id=person_id,
                     certificates=closed.certificates, agencies=closed.agencies,
                     grants=closed.grants, passkeys=closed.passkeys, links=closed.links)
    p.store.put(_marker(person_id), {"at": time.time()}, p.settings.session_ttl)
    return closed


def closed_since(store: EphemeralStore, person_id: str) -> float | None:
    """When the person closed their account (epoch seconds), while sessions begun before it
    may still exist; None otherwise. A session's `auth_time` is whole seconds, so a login in
    the very second after the closure counts as before it (and must simply be done again)."""
    marker = store.get(_marker(person_id))
    return float(marker["at"]) if marker else None
