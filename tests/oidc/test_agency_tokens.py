"""Agency tokens (client credentials) live in the ephemeral store only, and are counted per
agency in the audit trail (idp.oidc.tokens, idp.oidc.tally): on both store pairs."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from idp import audit
from idp.clients import remove_client
from idp.db import AccessToken, AuditEvent, Database, Grant
from idp.oidc import tally as tally_module
from idp.oidc import tokens
from idp.oidc.tally import AgencyTokenTally
from tests.support.live import LiveProvider

REGISTRY = "/api/v1/registry/documents/no-such-document"


def _agency(op: LiveProvider, scope: str = "issue") -> dict[str, Any]:
    return op.register(grant_types=["client_credentials"], redirect_uris=[], scope=scope)


def _token(op: LiveProvider, client: dict[str, Any], scope: str = "issue") -> str:
    resp = op.token(client, grant_type="client_credentials", scope=scope)
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["access_token"]
    return token


def _introspect(op: LiveProvider, client: dict[str, Any], token: str) -> dict[str, Any]:
    resp = requests.post(f"{op.base}/introspect", data={"token": token}, timeout=10,
                         auth=(client["client_id"], client["client_secret"]))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _registry_status(op: LiveProvider, token: str) -> int:
    return requests.get(op.base + REGISTRY, headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code


def _rows(op: LiveProvider, model: Any) -> int:
    with op.app.extensions["idp"].db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_an_agency_token_is_kept_in_the_ephemeral_store_only(op: LiveProvider) -> None:
    client = _agency(op)
    grants, rows = _rows(op, Grant), _rows(op, AccessToken)

    token = _token(op, client)

    assert tokens.is_agency_token(token) and len(token) >= len("ag.") + 43
    assert (_rows(op, Grant), _rows(op, AccessToken)) == (grants, rows)
    info = _introspect(op, client, token)
    assert info["active"] is True and info["client_id"] == client["client_id"]
    assert info["scope"] == "issue" and info["token_type"] == "Bearer"
    assert "sub" not in info and info["exp"] > time.time() >= info["iat"] - 5
    assert _registry_status(op, token) == 404  # accepted: the document does not exist


def test_an_agency_token_is_not_a_person_token(op: LiveProvider) -> None:
    token = _token(op, _agency(op, scope="openid issue"), scope="issue")
    resp = requests.get(f"{op.base}/userinfo", headers={"Authorization": f"Bearer {token}"},
                        timeout=10)
    assert resp.status_code == 401


def test_revoked_agency_token_is_dead_at_once(op: LiveProvider) -> None:
    client = _agency(op)
    token = _token(op, client)

    resp = requests.post(f"{op.base}/revoke", data={"token": token}, timeout=10,
                         auth=(client["client_id"], client["client_secret"]))

    assert resp.status_code == 200
    assert _introspect(op, client, token) == {"active": False}
    assert _registry_status(op, token) == 401


def test_another_agency_can_neither_see_nor_revoke_it(op: LiveProvider) -> None:
    owner, other = _agency(op), _agency(op)
    token = _token(op, owner)

    assert _introspect(op, other, token) == {"active": False}
    requests.post(f"{op.base}/revoke", data={"token": token}, timeout=10,
                  auth=(other["client_id"], other["client_secret"]))
    assert _introspect(op, owner, token)["active"] is True


def test_a_removed_agency_tokens_stop_working(op: LiveProvider) -> None:
    client = _agency(op)
    token = _token(op, client)
    with op.app.extensions["idp"].db.session() as s:
        assert remove_client(s, client["client_id"])

    assert _registry_status(op, token) == 401


def test_an_expired_or_unknown_agency_token_is_inactive(op: LiveProvider) -> None:
    client = _agency(op)
    store = op.app.extensions["idp"].store
    expired = tokens.new_agency_token()
    # As the store holds it after its lifetime, should the store keep it a moment longer.
    store.put(tokens._AGENCY_KEY + tokens.digest(expired),
              {"client_id": client["client_id"], "scope": "issue", "iat": time.time() - 600,
               "exp": time.time() - 1, "jkt": None}, 60)
    for token in (expired, tokens.new_agency_token(), "ag.", "ag." + "x" * 500):
        assert _introspect(op, client, token) == {"active": False}
        assert _registry_status(op, token) == 401


def test_agency_tokens_are_tallied_per_agency_in_the_audit_trail(op: LiveProvider) -> None:
    """One `token.tally` event per agency and interval, with the count, never the token."""
    first, second = _agency(op), _agency(op)
    issued = [_token(op, first) for _ in range(3)] + [_token(op, second)]
    provider = op.app.extensions["idp"]

    assert provider.agency_tokens.flush() == 2
    assert provider.agency_tokens.flush() == 0
    with provider.db.session() as s:
        audit.seal(s)
    with provider.db.session() as s:
        tallies = {e.client_id: e.data for e in s.scalars(
            select(AuditEvent).where(AuditEvent.type == "token.tally"))}
        assert audit.verify(s).ok
    assert {cid: d["count"] for cid, d in tallies.items()} == {
        first["client_id"]: 3, second["client_id"]: 1}
    assert all(d["grant_type"] == "client_credentials" and d["since"] <= d["until"]
               for d in tallies.values())
    assert not any(t in str(tallies) for t in issued)


def test_a_tally_the_database_refused_is_written_later(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts are kept when the write fails and the timer tries again by itself."""
    db = Database(database_url)
    failures = [1]
    real = audit.record

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures:
            failures.pop()
            raise OperationalError("INSERT", {}, Exception("database away"))
        return real(*args, **kwargs)

    monkeypatch.setattr(tally_module.audit, "record", flaky)
    tally = AgencyTokenTally(db, interval=0.05)
    for _ in range(4):
        tally.count("agency-1")

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with db.session() as s:
            written = s.scalars(select(AuditEvent).where(AuditEvent.type == "token.tally")).all()
        if written:
            break
        time.sleep(0.05)
    assert failures == [] and [e.data["count"] for e in written] == [4]
    tally.close()
    db.engine.dispose()
