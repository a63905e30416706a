"""Refresh rotation when the database fails mid-request: whole or not at all.

The load test (test_store_outages.py) kills PostgreSQL at random moments, so it meets each
window between two statements only by chance. These tests open the two windows that matter on
purpose, by making one step of the token endpoint fail as a lost connection would:

* before the rotation commits (storing the new refresh token fails): the answer is 503 and
  the old refresh token still works, once. The old code marked the token used in a transaction
  of its own first, so this failure burned the token and lost the family.
* after the rotation commits (making the ID token fails): the answer is 503 too, but the
  family has rotated; the client still holds the old token, and presenting it is reuse:
  invalid_grant, and the whole family is revoked, the new token the client never saw included.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy.exc import OperationalError

from idp.oidc import server, tokens
from idp.settings import Settings
from idp.store import EphemeralStore
from tests.support.live import Browser, LiveProvider, serve


@pytest.fixture
def op(settings: Settings, store: EphemeralStore) -> Iterator[LiveProvider]:
    with serve(settings, store) as live:
        yield live


def lost_connection(*_args: Any, **_kwargs: Any) -> Any:
    raise OperationalError("INSERT ...", None, ConnectionError("server closed the connection"))


def family(op: LiveProvider) -> tuple[dict[str, Any], str]:
    client = op.register()
    body = op.code_flow(Browser(op.base), client)
    return client, body["refresh_token"]


def refresh(op: LiveProvider, client: dict[str, Any], token: str) -> requests.Response:
    return op.token(client, grant_type="refresh_token", refresh_token=token)


def assert_unavailable(resp: requests.Response) -> None:
    assert resp.status_code == 503, resp.text
    assert resp.headers["Retry-After"].isdigit()
    assert resp.json()["error"] == "temporarily_unavailable"
    assert "Traceback" not in resp.text


def test_rotation_that_fails_before_commit_leaves_the_old_token_usable(
        op: LiveProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    client, old = family(op)
    with monkeypatch.context() as patch:
        patch.setattr(tokens, "store_refresh_token", lost_connection)
        assert_unavailable(refresh(op, client, old))
    again = refresh(op, client, old)
    assert again.status_code == 200, again.text
    newer = again.json()["refresh_token"]
    # Once: the rotation that succeeded used it.
    replay = refresh(op, client, old)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert refresh(op, client, newer).status_code == 400  # the replay revoked the family


def test_rotation_whose_answer_is_lost_after_commit_follows_the_reuse_policy(
        op: LiveProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    client, old = family(op)
    with monkeypatch.context() as patch:
        patch.setattr(server, "build_id_token", lost_connection)
        assert_unavailable(refresh(op, client, old))
    with op.app.extensions["idp"].db.session() as s:
        row = s.get(tokens.RefreshToken, tokens.digest(old))
        assert row is not None and row.used_at is not None  # the rotation committed
        grant_id = row.grant_id
    replay = refresh(op, client, old)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    with op.app.extensions["idp"].db.session() as s:
        grant = s.get(tokens.Grant, grant_id)
        assert grant is not None and grant.revoked_reason == "refresh_token_reuse"
        unused = [r for r in s.query(tokens.RefreshToken).filter_by(grant_id=grant_id)
                  if r.used_at is None]
        assert len(unused) == 1  # the successor nobody saw, dead with its family
