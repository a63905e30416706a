"""The life of a token signing key, as a state machine over plain data.

    next --> active --> retired --> removed     (a next key may also be retired unused)

- `next`: made and published in the JWKS, but signs nothing yet. Relying parties that cache the
  JWKS pick it up before it is ever used, so a rotation breaks nobody.
- `active`: signs new tokens. Exactly one per algorithm.
- `retired`: signs nothing, but stays published until every token it signed has expired.
- `removed`: no longer published nor usable; the record stays for the audit trail.

Functions here take the keys as they are and return the transitions to make; the caller (the
provider's key store) generates keys, writes the records and the audit events. Nothing here
touches a database, a backend or a clock: `now` is always passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

NEXT, ACTIVE, RETIRED, REMOVED = "next", "active", "retired", "removed"
STATES = (NEXT, ACTIVE, RETIRED, REMOVED)
PUBLISHED_STATES = (NEXT, ACTIVE, RETIRED)

ALLOWED = frozenset({(NEXT, ACTIVE), (ACTIVE, RETIRED), (NEXT, RETIRED), (RETIRED, REMOVED)})
"""The edges of the state machine; `next -> retired` is for a next key withdrawn unused."""

LOGOUT_TOKEN_TTL = 120
"""Lifetime of back-channel logout tokens in seconds (idp.oidc.logout signs them for 120 s)."""

REMOVAL_MARGIN = 60
"""Seconds a retired key stays published beyond the longest token lifetime: clock skew between
nodes and relying parties, and nodes whose loaded key ring is a little behind the database."""


def max_token_lifetime(id_token_ttl: int, logout_token_ttl: int = LOGOUT_TOKEN_TTL,
                       margin: int = REMOVAL_MARGIN) -> timedelta:
    """How long a retired key must stay published: the longest-lived token it may have signed
    (an ID token or a logout token), plus a margin."""
    return timedelta(seconds=max(id_token_ttl, logout_token_ttl) + margin)


@dataclass(frozen=True)
class KeyState:
    """What the state machine needs to know about one key (never key material)."""

    kid: str
    alg: str
    state: str
    created_at: datetime
    activated_at: datetime | None = None
    retired_at: datetime | None = None
    removed_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"unknown key state {self.state!r}")

    @property
    def active_since(self) -> datetime:
        """When it began signing; keys made before the lifecycle existed have only created_at."""
        return self.activated_at or self.created_at


@dataclass(frozen=True)
class Transition:
    """One step to take. `kid` is None for `create` (the key does not exist yet); `state` is
    the state the key ends in (`create` makes a key directly in `active` or `next`)."""

    action: str  # "create", "activate", "retire", "remove"
    alg: str
    state: str
    kid: str | None = None
    reason: str = ""


def create(alg: str, state: str, reason: str) -> Transition:
    return Transition("create", alg, state, None, reason)


def _move(key: KeyState, action: str, to: str, reason: str) -> Transition:
    if (key.state, to) not in ALLOWED:
        raise ValueError(f"key {key.kid} cannot go from {key.state} to {to}")
    return Transition(action, key.alg, to, key.kid, reason)


def apply(keys: Sequence[KeyState], t: Transition, now: datetime,
          new_kid: str | None = None) -> list[KeyState]:
    """The keys after one transition (for checking plans; `create` needs the new kid)."""
    if t.action == "create":
        if new_kid is None:
            raise ValueError("create needs the kid of the new key")
        made = KeyState(new_kid, t.alg, t.state, now,
                        activated_at=now if t.state == ACTIVE else None)
        return [*keys, made]
    out = []
    for k in keys:
        if k.kid == t.kid:
            if (k.state, t.state) not in ALLOWED:
                raise ValueError(f"key {k.kid} cannot go from {k.state} to {t.state}")
            if t.state == ACTIVE:
                k = replace(k, state=t.state, activated_at=now)
            elif t.state == RETIRED:
                k = replace(k, state=t.state, retired_at=now)
            else:
                k = replace(k, state=t.state, removed_at=now)
        out.append(k)
    return out


# --- questions --------------------------------------------------------------------------------


def _newest(keys: Iterable[KeyState]) -> KeyState | None:
    return max(keys, key=lambda k: (k.active_since, k.created_at, k.kid), default=None)


def of(keys: Iterable[KeyState], alg: str, state: str) -> list[KeyState]:
    return [k for k in keys if k.alg == alg and k.state == state]


def signing_key(keys: Iterable[KeyState], alg: str) -> KeyState | None:
    """The key that signs for `alg`: its active key (the newest, should there be several)."""
    return _newest(of(list(keys), alg, ACTIVE))


def next_key(keys: Iterable[KeyState], alg: str) -> KeyState | None:
    """The key a rotation of `alg` promotes: its oldest next key (published the longest)."""
    waiting = of(list(keys), alg, NEXT)
    return min(waiting, key=lambda k: (k.created_at, k.kid), default=None)


_ORDER = {ACTIVE: 0, NEXT: 1, RETIRED: 2}


def published(keys: Iterable[KeyState]) -> list[KeyState]:
    """Keys in the JWKS and usable for verification: next, active and retired; active first."""
    return sorted((k for k in keys if k.state in PUBLISHED_STATES),
                  key=lambda k: (k.alg, _ORDER[k.state], k.created_at, k.kid))


def due_for_rotation(keys: Iterable[KeyState], now: datetime, max_age: timedelta) -> list[str]:
    """Algorithms whose active key has signed for `max_age` or longer."""
    keys = list(keys)
    due = []
    for alg in sorted({k.alg for k in keys if k.state == ACTIVE}):
        key = signing_key(keys, alg)
        if key is not None and now - key.active_since >= max_age:
            due.append(alg)
    return due


def removable(keys: Iterable[KeyState], now: datetime,
              max_token_lifetime: timedelta) -> list[KeyState]:
    """Retired keys whose every token has expired. A retired key without a retirement time
    (written by hand) is kept: there is no telling when it last signed."""
    return [k for k in keys if k.state == RETIRED and k.retired_at is not None
            and now - k.retired_at >= max_token_lifetime]


# --- plans ------------------------------------------------------------------------------------


def plan_rotation(keys: Iterable[KeyState], alg: str, now: datetime,
                  reason: str = "rotation") -> list[Transition]:
    """Promote the next key of `alg` (or make one if there is none), retire the active key(s)
    and make a new next key. `now` is unused by the plan itself but kept so every plan reads
    the same."""
    del now
    keys = list(keys)
    steps: list[Transition] = []
    promoted = next_key(keys, alg)
    if promoted is not None:
        steps.append(_move(promoted, "activate", ACTIVE, reason))
    else:
        steps.append(create(alg, ACTIVE, reason))
    for old in sorted(of(keys, alg, ACTIVE), key=lambda k: (k.active_since, k.kid)):
        steps.append(_move(old, "retire", RETIRED, reason))
    still_waiting = [k for k in of(keys, alg, NEXT) if promoted is None or k.kid != promoted.kid]
    if not still_waiting:
        steps.append(create(alg, NEXT, reason))
    return steps


def plan_retire(keys: Iterable[KeyState], kid: str, now: datetime) -> list[Transition]:
    """Withdraw one key by hand. An active key is rotated out (its next key takes over, so the
    algorithm keeps signing); a next key is retired unused and replaced."""
    keys = list(keys)
    key = next((k for k in keys if k.kid == kid), None)
    if key is None:
        raise LookupError(f"no signing key {kid}")
    if key.state == ACTIVE:
        others = [k for k in of(keys, key.alg, ACTIVE) if k.kid != kid]
        if others:  # more than one active key (should not happen): just retire this one
            return [_move(key, "retire", RETIRED, "operator")]
        return plan_rotation(keys, key.alg, now, reason="operator")
    if key.state == NEXT:
        steps = [_move(key, "retire", RETIRED, "operator")]
        if len(of(keys, key.alg, NEXT)) == 1:
            steps.append(create(key.alg, NEXT, "operator"))
        return steps
    raise ValueError(f"key {kid} is already {key.state}")


def plan_maintenance(keys: Iterable[KeyState], algs: Iterable[str], now: datetime,
                     max_age: timedelta, max_token_lifetime: timedelta) -> list[Transition]:
    """Everything loading the key ring should do: for each algorithm, exactly one active key
    and a next key (first run, or a key withdrawn by hand), rotation of keys older than
    `max_age`, and removal of retired keys whose tokens have all expired."""
    keys = list(keys)
    steps: list[Transition] = []
    due = set(due_for_rotation(keys, now, max_age))
    for alg in algs:
        active = of(keys, alg, ACTIVE)
        if not active:
            steps += plan_rotation(keys, alg, now, reason="no active key")
            continue
        if len(active) > 1:  # a race or a hand edit; keep the newest
            newest = signing_key(keys, alg)
            for k in active:
                if newest is not None and k.kid != newest.kid:
                    steps.append(_move(k, "retire", RETIRED, "duplicate active key"))
        if alg in due:
            steps += [s for s in plan_rotation(keys, alg, now, reason="age")
                      if not (s.action == "retire" and any(p.kid == s.kid for p in steps))]
        elif not of(keys, alg, NEXT):
            steps.append(create(alg, NEXT, "no next key"))
    steps += [_move(k, "remove", REMOVED, "tokens expired")
              for k in removable(keys, now, max_token_lifetime)]
    return steps
