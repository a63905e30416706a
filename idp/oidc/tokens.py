"""Grants and the tokens that descend from them, stored only as SHA-256 digests.

A grant is one authorization (a redeemed code). Access and refresh tokens point at their grant,
so one update revokes a whole family: on code reuse, on refresh token reuse, and when a person
withdraws consent.

Agency tokens (the client credentials grant) are different: no person, no family, no refresh
token, nothing to revoke together. They live in the ephemeral store only, under their digest,
for their lifetime (DESIGN.md lists access tokens with neither store's durable data). Writing a
grant, a token row and an audit event for each was most of the cost of the token endpoint
(bench/README.md). They carry a prefix that the other tokens cannot have (`.` is not in the
URL-safe alphabet), so a lookup knows which store to ask; losing the ephemeral store ends them
early, and the agency asks for a new one, as OAuth clients do on any 401.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.db import AccessToken, Grant, RefreshToken, as_utc, utcnow
from idp.store import EphemeralStore

AGENCY_TOKEN_PREFIX = "ag."  # noqa: S105 (a marker, not a secret)
"""Marks an agency (client credentials) access token: kept in the ephemeral store only."""

_AGENCY_KEY = "agency_token:"


def new_secret() -> str:
    """256 bits from `secrets`, URL-safe: codes, tokens, handles."""
    return secrets.token_urlsafe(32)


def new_agency_token() -> str:
    return AGENCY_TOKEN_PREFIX + new_secret()


def is_agency_token(raw: str) -> bool:
    return raw.startswith(AGENCY_TOKEN_PREFIX)


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_grant(s: Session, *, grant_id: str | None = None, client_id: str,
                 person_id: str | None, scope: str, claims: dict[str, Any] | None = None,
                 auth_time: int | None = None, acr: str | None = None,
                 amr: list[str] | None = None, sid: str | None = None) -> Grant:
    grant = Grant(id=grant_id or new_secret(), client_id=client_id, person_id=person_id,
                  scope=scope, claims=claims or {}, auth_time=auth_time, acr=acr,
                  amr=amr or [], sid=sid)
    s.add(grant)
    s.flush()
    return grant


def revoke_grant(s: Session, grant_id: str, reason: str) -> bool:
    """Revoke a grant and so every token of its family; True if it was live."""
    now = utcnow()
    result = s.execute(update(Grant).where(Grant.id == grant_id, Grant.revoked_at.is_(None))
                       .values(revoked_at=now, revoked_reason=reason))
    return bool(getattr(result, "rowcount", 0))


def revoke_grants_of(s: Session, person_id: str, client_id: str, reason: str) -> list[str]:
    ids = list(s.scalars(select(Grant.id).where(Grant.person_id == person_id,
                                                Grant.client_id == client_id,
                                                Grant.revoked_at.is_(None))))
    for gid in ids:
        revoke_grant(s, gid, reason)
    return ids


def store_access_token(s: Session, raw: str, grant_id: str, scope: str, ttl: int) -> None:
    s.add(AccessToken(token_hash=digest(raw), grant_id=grant_id, scope=scope,
                      expires_at=utcnow() + timedelta(seconds=ttl)))


def store_refresh_token(s: Session, raw: str, grant_id: str, scope: str, ttl: int) -> None:
    s.add(RefreshToken(token_hash=digest(raw), grant_id=grant_id, scope=scope,
                       expires_at=utcnow() + timedelta(seconds=ttl)))


def store_agency_token(store: EphemeralStore, raw: str, *, client_id: str, scope: str,
                       ttl: int, dpop_jkt: str | None) -> None:
    now = int(utcnow().timestamp())
    store.put(_AGENCY_KEY + digest(raw), {"client_id": client_id, "scope": scope, "iat": now,
                                          "exp": now + ttl, "jkt": dpop_jkt}, ttl)


def find_agency_token(store: EphemeralStore, raw: str) -> LiveToken | None:
    """The agency token as a LiveToken whose grant is a stand-in (never stored): the client,
    the scope and the DPoP binding, as the endpoints that check tokens read them."""
    data = store.get(_AGENCY_KEY + digest(raw)) if is_agency_token(raw) else None
    if data is None or data["exp"] <= utcnow().timestamp():
        return None
    grant = Grant(id=AGENCY_TOKEN_PREFIX + digest(raw)[:40], client_id=data["client_id"],
                  person_id=None, scope=data["scope"], claims={}, amr=[],
                  dpop_jkt=data.get("jkt"))
    return LiveToken("access_token", data["scope"],
                     datetime.fromtimestamp(data["exp"], UTC),
                     datetime.fromtimestamp(data["iat"], UTC), grant)


def revoke_agency_token(store: EphemeralStore, raw: str) -> str | None:
    """RFC 7009 for an agency token: gone at once; the client it belonged to, if it lived."""
    if not is_agency_token(raw):
        return None
    data = store.take(_AGENCY_KEY + digest(raw))
    return str(data["client_id"]) if data else None


@dataclass(frozen=True)
class LiveToken:
    """A token that passed every check: known, unexpired, unrevoked, its grant live."""

    kind: str
    scope: str
    expires_at: datetime
    issued_at: datetime
    grant: Grant


def _with_grant(s: Session, model: type[AccessToken] | type[RefreshToken], h: str
                ) -> tuple[Any, Grant] | None:
    """A token's row and its grant, live or not, in one query (one round trip, not two)."""
    found = s.execute(select(model, Grant).join(Grant, Grant.id == model.grant_id)
                      .where(model.token_hash == h)).first()
    return (found[0], found[1]) if found else None


def _as_live(kind: str, row: AccessToken | RefreshToken, grant: Grant) -> LiveToken | None:
    """`row` as a LiveToken unless it or its grant is revoked, or it has expired."""
    if row.revoked_at is not None or as_utc(row.expires_at) <= utcnow() \
            or grant.revoked_at is not None:
        return None
    return LiveToken(kind, row.scope, as_utc(row.expires_at), as_utc(row.issued_at), grant)


def _live(s: Session, kind: str, row: AccessToken | RefreshToken) -> LiveToken | None:
    """`row` as a LiveToken when its grant is live; the caller has already checked the row."""
    grant = s.get(Grant, row.grant_id)
    if grant is None or grant.revoked_at is not None:
        return None
    return LiveToken(kind, row.scope, as_utc(row.expires_at), as_utc(row.issued_at), grant)


def find_access_token(s: Session, raw: str, store: EphemeralStore) -> LiveToken | None:
    if is_agency_token(raw):
        return find_agency_token(store, raw)
    found = _with_grant(s, AccessToken, digest(raw))
    return _as_live("access_token", *found) if found else None


def refresh_token_with_grant(s: Session, raw: str) -> tuple[RefreshToken, Grant] | None:
    """The refresh token's row and its grant, live or not, in one query."""
    return _with_grant(s, RefreshToken, digest(raw))


def live_refresh_token(row: RefreshToken, grant: Grant) -> LiveToken | None:
    """`row` as a LiveToken if it can still be used: unused, unrevoked, unexpired, its
    grant live."""
    return None if row.used_at is not None else _as_live("refresh_token", row, grant)


def find_refresh_token(s: Session, raw: str) -> LiveToken | None:
    found = refresh_token_with_grant(s, raw)
    return live_refresh_token(*found) if found else None


class RefreshReuseError(Exception):
    """A rotated refresh token was presented again: its family has been revoked."""

    def __init__(self, grant_id: str) -> None:
        super().__init__("refresh token reuse")
        self.grant_id = grant_id


def mark_refresh_token_used(s: Session, raw: str) -> bool:
    """The atomic step of a rotation whose token was found live in this request: of two
    racing requests, only one marks it. False: it was used (or revoked) meanwhile; then
    `use_refresh_token` tells reuse from the rest."""
    result = s.execute(update(RefreshToken)
                       .where(RefreshToken.token_hash == digest(raw),
                              RefreshToken.used_at.is_(None),
                              RefreshToken.revoked_at.is_(None))
                       .values(used_at=utcnow()))
    return getattr(result, "rowcount", 0) == 1


def use_refresh_token(s: Session, raw: str, client_id: str) -> LiveToken | None:
    """Mark a refresh token used, atomically, and return it; a second use revokes the family.

    Another client's token is refused before anything is marked, so presenting a stolen token
    does not burn it for its owner. The conditional UPDATE is the atomic step: of two racing
    requests, only one sees rowcount 1.
    """
    h = digest(raw)
    owner = s.execute(select(Grant.client_id).join(RefreshToken,
                                                    RefreshToken.grant_id == Grant.id)
                      .where(RefreshToken.token_hash == h)).scalar()
    if owner != client_id:
        return None
    result = s.execute(update(RefreshToken)
                       .where(RefreshToken.token_hash == h, RefreshToken.used_at.is_(None))
                       .values(used_at=utcnow()))
    if getattr(result, "rowcount", 0) != 1:
        row = s.get(RefreshToken, h)
        if row is not None and row.used_at is not None:
            revoke_grant(s, row.grant_id, "refresh_token_reuse")
            raise RefreshReuseError(row.grant_id)
        return None
    row = s.get(RefreshToken, h)
    assert row is not None
    if row.revoked_at is not None or as_utc(row.expires_at) <= utcnow():
        return None
    return _live(s, "refresh_token", row)


def revoke_token(s: Session, raw: str) -> Grant | None:
    """RFC 7009: a refresh token takes its whole grant with it; an access token goes alone."""
    h = digest(raw)
    refresh = s.get(RefreshToken, h)
    if refresh is not None:
        revoke_grant(s, refresh.grant_id, "revoked_by_client")
        return s.get(Grant, refresh.grant_id)
    access = s.get(AccessToken, h)
    if access is not None:
        access.revoked_at = access.revoked_at or utcnow()
        return s.get(Grant, access.grant_id)
    return None
