"""The signing key state machine (keys.lifecycle): data in, transitions out."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from keys import lifecycle
from keys.lifecycle import (
    ACTIVE,
    NEXT,
    REMOVED,
    RETIRED,
    KeyState,
    Transition,
    apply,
    due_for_rotation,
    max_token_lifetime,
    plan_maintenance,
    plan_retire,
    plan_rotation,
    published,
    removable,
    signing_key,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
MAX_AGE = timedelta(days=90)
LIFETIME = max_token_lifetime(600)
ALGS = ("ES256", "PS256", "RS256", "EdDSA")
_kids = itertools.count(1)


def key(alg: str, state: str, created: datetime = T0, activated: datetime | None = None,
        retired: datetime | None = None, kid: str | None = None) -> KeyState:
    return KeyState(kid=kid or f"k{next(_kids)}", alg=alg, state=state, created_at=created,
                    activated_at=activated if activated else (created if state != NEXT else None),
                    retired_at=retired)


def run(keys: Sequence[KeyState], steps: Sequence[Transition], now: datetime
        ) -> list[KeyState]:
    """Apply a plan, naming created keys new1, new2, ..."""
    out = list(keys)
    for t in steps:
        out = apply(out, t, now, new_kid=f"new{next(_kids)}" if t.action == "create" else None)
    return out


def check_invariants(keys: Sequence[KeyState], algs: Sequence[str]) -> None:
    for alg in algs:
        assert len([k for k in keys if k.alg == alg and k.state == ACTIVE]) == 1, alg
        assert [k for k in keys if k.alg == alg and k.state == NEXT], alg


def test_max_token_lifetime_covers_id_and_logout_tokens_plus_margin() -> None:
    assert max_token_lifetime(600) == timedelta(seconds=660)
    assert max_token_lifetime(30) == timedelta(seconds=120 + 60)  # logout tokens live 120 s


def test_first_run_makes_an_active_and_a_next_key_per_algorithm() -> None:
    steps = plan_maintenance([], ALGS, T0, MAX_AGE, LIFETIME)
    assert [(t.action, t.alg, t.state) for t in steps] == [
        step for alg in ALGS for step in (("create", alg, ACTIVE), ("create", alg, NEXT))]
    check_invariants(run([], steps, T0), ALGS)


def test_a_loaded_ring_in_order_needs_nothing() -> None:
    keys = [k for alg in ALGS for k in (key(alg, ACTIVE), key(alg, NEXT))]
    assert plan_maintenance(keys, ALGS, T0 + DAY, MAX_AGE, LIFETIME) == []


def test_rotation_promotes_next_retires_active_and_makes_a_new_next() -> None:
    active, nxt = key("ES256", ACTIVE), key("ES256", NEXT)
    other = key("RS256", ACTIVE)
    steps = plan_rotation([active, nxt, other], "ES256", T0 + DAY)
    assert [(t.action, t.kid, t.state) for t in steps] == [
        ("activate", nxt.kid, ACTIVE), ("retire", active.kid, RETIRED), ("create", None, NEXT)]
    after = run([active, nxt, other], steps, T0 + DAY)
    by_kid = {k.kid: k for k in after}
    assert by_kid[nxt.kid].state == ACTIVE and by_kid[nxt.kid].activated_at == T0 + DAY
    assert by_kid[active.kid].state == RETIRED and by_kid[active.kid].retired_at == T0 + DAY
    assert by_kid[other.kid] == other  # other algorithms are untouched
    assert signing_key(after, "ES256") == by_kid[nxt.kid]


def test_rotation_without_a_next_key_makes_one_to_activate() -> None:
    active = key("PS256", ACTIVE)
    steps = plan_rotation([active], "PS256", T0)
    assert [(t.action, t.state) for t in steps] == [
        ("create", ACTIVE), ("retire", RETIRED), ("create", NEXT)]
    check_invariants(run([active], steps, T0), ["PS256"])


def test_rotation_promotes_the_oldest_next_key_and_keeps_the_others_waiting() -> None:
    active = key("ES256", ACTIVE)
    old, young = key("ES256", NEXT, T0), key("ES256", NEXT, T0 + DAY)
    steps = plan_rotation([active, young, old], "ES256", T0 + 2 * DAY)
    assert [(t.action, t.kid) for t in steps] == [("activate", old.kid), ("retire", active.kid)]


def test_published_keys_are_next_active_and_retired_never_removed() -> None:
    keys = [key("ES256", RETIRED, retired=T0), key("ES256", REMOVED), key("ES256", NEXT),
            key("ES256", ACTIVE)]
    assert [k.state for k in published(keys)] == [ACTIVE, NEXT, RETIRED]


def test_signing_key_is_the_active_one() -> None:
    keys = [key("ES256", NEXT), key("ES256", RETIRED, retired=T0), key("ES256", ACTIVE)]
    assert signing_key(keys, "ES256") == keys[2]
    assert signing_key(keys, "RS256") is None


def test_due_for_rotation_by_age_of_activation() -> None:
    young = key("ES256", ACTIVE, created=T0 - 200 * DAY, activated=T0 - 10 * DAY)
    old = key("RS256", ACTIVE, created=T0 - 91 * DAY)
    exactly = key("PS256", ACTIVE, created=T0 - 90 * DAY)
    assert due_for_rotation([young, old, exactly], T0, MAX_AGE) == ["PS256", "RS256"]


def test_maintenance_rotates_keys_past_their_age() -> None:
    keys = [key("ES256", ACTIVE, created=T0 - 91 * DAY), key("ES256", NEXT, created=T0 - 91 * DAY)]
    steps = plan_maintenance(keys, ["ES256"], T0, MAX_AGE, LIFETIME)
    assert [t.action for t in steps] == ["activate", "retire", "create"]
    assert {t.reason for t in steps} == {"age"}


def test_retired_key_is_removable_only_after_the_longest_token_lifetime() -> None:
    retired = key("ES256", RETIRED, retired=T0)
    assert removable([retired], T0 + LIFETIME - timedelta(seconds=1), LIFETIME) == []
    assert removable([retired], T0 + LIFETIME, LIFETIME) == [retired]
    assert removable([key("ES256", RETIRED)], T0 + 1000 * DAY, LIFETIME) == []  # no retired_at


def test_maintenance_removes_expired_retired_keys() -> None:
    keys = [key("ES256", ACTIVE), key("ES256", NEXT), key("ES256", RETIRED, retired=T0)]
    assert plan_maintenance(keys, ["ES256"], T0 + timedelta(seconds=659), MAX_AGE, LIFETIME) == []
    steps = plan_maintenance(keys, ["ES256"], T0 + LIFETIME, MAX_AGE, LIFETIME)
    assert [(t.action, t.kid, t.state) for t in steps] == [("remove", keys[2].kid, REMOVED)]


def test_maintenance_repairs_missing_next_and_duplicate_active_keys() -> None:
    old = key("ES256", ACTIVE, created=T0 - DAY)
    new = key("ES256", ACTIVE, created=T0)
    steps = plan_maintenance([old, new], ["ES256"], T0, MAX_AGE, LIFETIME)
    assert [(t.action, t.kid, t.state) for t in steps] == [
        ("retire", old.kid, RETIRED), ("create", None, NEXT)]
    check_invariants(run([old, new], steps, T0), ["ES256"])


def test_maintenance_promotes_next_when_the_active_key_is_gone() -> None:
    nxt = key("EdDSA", NEXT)
    steps = plan_maintenance([nxt, key("EdDSA", RETIRED, retired=T0)], ["EdDSA"], T0,
                             MAX_AGE, LIFETIME)
    assert [(t.action, t.kid) for t in steps][:1] == [("activate", nxt.kid)]
    assert [t.action for t in steps] == ["activate", "create"]


def test_retire_an_active_key_hands_over_to_next() -> None:
    active, nxt = key("ES256", ACTIVE), key("ES256", NEXT)
    steps = plan_retire([active, nxt], active.kid, T0)
    assert [(t.action, t.kid) for t in steps] == [
        ("activate", nxt.kid), ("retire", active.kid), ("create", None)]


def test_retire_a_next_key_replaces_it() -> None:
    active, nxt = key("ES256", ACTIVE), key("ES256", NEXT)
    steps = plan_retire([active, nxt], nxt.kid, T0)
    assert [(t.action, t.kid, t.state) for t in steps] == [
        ("retire", nxt.kid, RETIRED), ("create", None, NEXT)]


def test_retire_refuses_unknown_and_already_retired_keys() -> None:
    retired = key("ES256", RETIRED, retired=T0)
    with pytest.raises(LookupError):
        plan_retire([retired], "nope", T0)
    with pytest.raises(ValueError, match="already retired"):
        plan_retire([retired], retired.kid, T0)


def test_transitions_only_follow_the_state_machine() -> None:
    removed = key("ES256", REMOVED)
    with pytest.raises(ValueError, match="cannot go"):
        apply([removed], Transition("activate", "ES256", ACTIVE, removed.kid), T0)
    retired = key("ES256", RETIRED, retired=T0)
    with pytest.raises(ValueError, match="cannot go"):
        apply([retired], Transition("activate", "ES256", ACTIVE, retired.kid), T0)
    with pytest.raises(ValueError):
        KeyState("k", "ES256", "compromised", T0)


def test_a_year_of_daily_maintenance_keeps_the_invariants() -> None:
    """Simulate a provider loading its ring every day for a year: always one active and one
    next key per algorithm, a rotation every 90 days, retired keys gone the next day."""
    keys = run([], plan_maintenance([], ALGS, T0, MAX_AGE, LIFETIME), T0)
    rotations = 0
    for day in range(1, 366):
        now = T0 + day * DAY
        steps = plan_maintenance(keys, ALGS, now, MAX_AGE, LIFETIME)
        rotations += sum(1 for t in steps if t.action == "activate")
        keys = run(keys, steps, now)
        check_invariants(keys, ALGS)
        assert all(k.state != RETIRED or now - (k.retired_at or now) < LIFETIME
                   for k in keys)
        assert all(now - k.active_since < MAX_AGE for k in keys if k.state == ACTIVE)
    assert rotations == 4 * len(ALGS)  # days 90, 180, 270, 360
    assert lifecycle.PUBLISHED_STATES == (NEXT, ACTIVE, RETIRED)
