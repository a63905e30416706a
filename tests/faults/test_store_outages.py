"""Faults: Redis and PostgreSQL die under load, and come back (issue 9, part 3).

The provider runs as in production (gunicorn, several workers, settings from IDP_* variables)
on a private PostgreSQL and a private Redis. A few threads keep it busy as agencies and people
would: client credentials tokens and their introspection, full authorization code logins
(sandbox persona, consent), code redemption, refresh token rotation and userinfo. Meanwhile the
test kills Redis with SIGKILL (every ephemeral key is lost), restarts it; stops PostgreSQL with
`pg_ctl stop -m immediate` (open transactions are lost), restarts it; then both at once.

What must hold, and why:

* Every answer is a success, a 503 or a legitimate 4xx. A 503 carries Retry-After and our
  documented error body (JSON `{"error": "temporarily_unavailable", ...}` on program paths, the
  error page otherwise). Nothing ever answers 500 or shows a stack trace: a client must be able
  to tell "retry later" from "your request is wrong".
* /livez stays 200 throughout (an orchestrator must not restart a node because a store is
  down); /readyz answers 503 during each outage and 200 again after it.
* The provider recovers by itself: once the stores are back, /readyz is 200 within a bounded
  wait, and from then on every request succeeds again, with no restart of gunicorn.
* Nothing durable is lost or duplicated:
  - the audit chain verifies (`idp audit verify` exits 0);
  - each person has at most one consent per agency, and exactly one `consent.granted` audit
    event per consent row (the consent and its event commit together or not at all);
  - authorization codes stay single use: redeeming any code again afterwards, including codes
    whose redemption answered 503, gives invalid_grant, and no code was redeemed twice;
  - refresh token families stay linear: every family has at most one unused refresh token, and
    each token the client saw issued was either rotated (used) or is the family's current one.

Refresh rotation under a fault, precisely (idp/oidc/tokens.py, idp/oidc/server.py): marking the
old token used and storing the new one happen in one transaction. So a rotation that answered
503 either rolled back entirely, and the old token still works, or committed with its answer
lost (the store failed while the ID token was being made, after the commit). In the second case
the family is already rotated, and presenting the old token again is reuse: invalid_grant, and
the whole family is revoked (`refresh_token_reuse`), as the reuse policy demands for a token
that may have been stolen. The test tells the two apart in the database: a committed rotation
left a refresh token the client never saw. A 503 that burned the old token without storing a
new one (the family lost) fails the test. After the run, for each family still alive, the
current token rotates once more and replaying the one before it is refused and revokes the
family: a committed rotation can never be replayed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import sqlalchemy as sa

from idp import audit
from idp.clients import create_client
from idp.db import AuditEvent, ConsentGrant, Database, Grant, RefreshToken
from tests.conftest import TEST_KEK
from tests.support.live import REDIRECT, Browser, forms_of, pkce_pair
from tests.support.private_services import (
    PrivatePostgres,
    PrivateRedis,
    error_log_records,
    gunicorn_provider,
)

#: How long an outage lasts and how long the test waits for recovery (bounded, not timed).
OUTAGE_SECONDS = 4.0
RECOVERY_TIMEOUT = 45.0
STEADY_SECONDS = 3.0
PERSONAS = ("somchai", "malee", "wichai")
SECRET_KEY = "faults-secret-key-" + "x" * 32

#: Program paths answer errors as JSON (idp/web.py JSON_PREFIXES); the rest as pages.
JSON_PATHS = ("/token", "/userinfo", "/introspect", "/revoke", "/readyz", "/livez", "/healthz")


# --- recording every answer -----------------------------------------------------------------


@dataclass
class Hit:
    """One answer as the caller saw it."""

    path: str
    phase: str
    status: int
    content_type: str
    retry_after: str | None
    body: str
    at: float = field(default_factory=time.time)


@dataclass
class Run:
    """Shared state of the load: the current phase and every answer, in order."""

    base: str
    phase: str = "warmup"
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)

    def session(self) -> requests.Session:
        """A session whose every response (redirect steps included) is recorded, labelled
        with the phase in which the request started."""
        http = requests.Session()

        def hook(resp: requests.Response, *_args: Any, **_kwargs: Any) -> None:
            self.add(resp, getattr(resp.request, "_phase", self.phase))

        http.hooks["response"].append(hook)
        send = http.send

        def send_with_phase(request: requests.PreparedRequest, **kwargs: Any
                            ) -> requests.Response:
            request._phase = self.phase  # type: ignore[attr-defined]
            try:
                return send(request, **kwargs)
            except requests.RequestException as exc:
                with self.lock:
                    self.hits.append(Hit(urlsplit(request.url or "").path,
                                         request._phase,  # type: ignore[attr-defined]
                                         0, "", None, type(exc).__name__))
                raise

        http.send = send_with_phase  # type: ignore[method-assign]
        return http

    def add(self, resp: requests.Response, started: str) -> None:
        """Keep one answer. A request in flight while the phase changed is labelled with
        both phases, so it counts as neither clean nor faulty."""
        phase = started if started == self.phase else f"{started}>{self.phase}"
        hit = Hit(urlsplit(resp.url).path, phase, resp.status_code,
                  resp.headers.get("Content-Type", ""), resp.headers.get("Retry-After"),
                  resp.text[:4000])
        with self.lock:
            self.hits.append(hit)


def loop(run: Run, name: str, body: Callable[[], None]) -> threading.Thread:
    """A load thread: repeats `body` until the run stops; an assertion or a connection error
    inside it is kept for the test to report (a thread cannot fail the test itself)."""

    def target() -> None:
        while not run.stop.is_set():
            try:
                body()
            except requests.RequestException as exc:
                run.errors.append(f"{name}: {type(exc).__name__}")
                time.sleep(0.2)
            except Exception as exc:
                run.errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:500]}")
                time.sleep(0.2)
            time.sleep(0.02)

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


# --- the agencies and people ------------------------------------------------------------------


def sha(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class Family:
    """One refresh token family as its client saw it: every token issued to it, in order."""

    client: dict[str, str]
    seen: list[str]
    access_token: str
    dead: bool = False
    after_503: list[str] = field(default_factory=list)  # tokens whose rotation answered 503
    refused_after_503: list[str] = field(default_factory=list)  # then got invalid_grant

    @property
    def current(self) -> str:
        return self.seen[-1]


@dataclass
class Code:
    client: dict[str, str]
    code: str
    verifier: str
    outcomes: list[int] = field(default_factory=list)


class Agency:
    """A login thread: one agency (client) and one person (sandbox persona) logging in again
    and again, rotating refresh tokens and reading userinfo in between."""

    def __init__(self, run: Run, client: dict[str, str], persona: str) -> None:
        self.run = run
        self.client = client
        self.persona = persona
        self.http = run.session()
        self.browser = Browser(run.base, http=run.session())
        self.family: Family | None = None
        self.families: list[Family] = []
        self.codes: list[Code] = []
        self.consent_posts = 0
        self.rounds = 0

    def token(self, **data: str) -> requests.Response:
        return self.http.post(f"{self.run.base}/token", data=data, timeout=15,
                              auth=(self.client["client_id"], self.client["client_secret"]))

    def login(self) -> tuple[str, str] | None:
        """The browser part of the code flow; the code and verifier, or None when a step
        failed (a 503 or an interaction lost with Redis): the person simply starts again."""
        verifier, challenge = pkce_pair()
        query = {"response_type": "code", "client_id": self.client["client_id"],
                 "redirect_uri": REDIRECT, "scope": "openid offline_access",
                 "state": "s", "nonce": "n", "code_challenge": challenge,
                 "code_challenge_method": "S256"}
        resp = self.browser.go("/authorize?" + urlencode(query))
        for _ in range(3):
            if resp.status_code in (302, 303):
                location = resp.headers["Location"]
                params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
                return (params["code"], verifier) if "code" in params else None
            if resp.status_code != 200:
                return None
            actions = [form["action"] for form in forms_of(resp.text)]
            if any(a.endswith("/login") for a in actions):
                resp = self.browser.submit("/login", persona=self.persona)
            elif any(a.endswith("/consent") for a in actions):
                self.consent_posts += 1
                resp = self.browser.submit("/consent", decision="allow")
            else:
                return None
        return None

    def redeem(self, code: Code) -> requests.Response:
        resp = self.token(grant_type="authorization_code", code=code.code,
                          redirect_uri=REDIRECT, code_verifier=code.verifier)
        code.outcomes.append(resp.status_code)
        return resp

    def new_family(self) -> None:
        got = self.login()
        if got is None:
            return
        code = Code(self.client, *got)
        self.codes.append(code)
        resp = self.redeem(code)
        if resp.status_code == 200:
            body = resp.json()
            self.family = Family(self.client, [body["refresh_token"]], body["access_token"])
            self.families.append(self.family)

    def refresh(self, family: Family) -> None:
        old = family.current
        resp = self.token(grant_type="refresh_token", refresh_token=old)
        if resp.status_code == 200:
            body = resp.json()
            family.seen.append(body["refresh_token"])
            family.access_token = body["access_token"]
        elif resp.status_code == 503:
            family.after_503.append(old)
        elif resp.status_code == 400 and resp.json().get("error") == "invalid_grant":
            family.dead = True
            if old in family.after_503:
                family.refused_after_503.append(old)
            else:
                self.run.errors.append(f"{self.persona}: a refresh token never answered 503 "
                                       "was refused")

    def step(self) -> None:
        self.rounds += 1
        if self.family is None or self.family.dead or self.rounds % 6 == 0:
            self.new_family()
            return
        self.refresh(self.family)
        if not self.family.dead:
            resp = self.http.get(f"{self.run.base}/userinfo", timeout=15, headers={
                "Authorization": f"Bearer {self.family.access_token}"})
            if resp.status_code == 401:
                self.run.errors.append(
                    f"{self.persona}: userinfo refused a live family's access token in "
                    f"{self.run.phase} ({resp.headers.get('WWW-Authenticate')}; after 503: "
                    f"{len(self.family.after_503)}, rotations: {len(self.family.seen)})")


class Machine:
    """A client credentials thread: a token, then its introspection."""

    def __init__(self, run: Run, client: dict[str, str]) -> None:
        self.run = run
        self.client = client
        self.http = run.session()
        self.auth = (client["client_id"], client["client_secret"])

    def step(self) -> None:
        phase = self.run.phase
        resp = self.http.post(f"{self.run.base}/token", auth=self.auth, timeout=15,
                              data={"grant_type": "client_credentials", "scope": "seal"})
        if resp.status_code != 200:
            return
        token = resp.json()["access_token"]
        seen = self.http.post(f"{self.run.base}/introspect", auth=self.auth, timeout=15,
                              data={"token": token})
        # An agency token may live in Redis only (idp.oidc.tokens): a kill -9 in between
        # ends it early, which is allowed; with no fault in between it must be active.
        clean = phase == self.run.phase and phase.startswith(("warmup", "after-", "final"))
        if clean and seen.status_code == 200 and seen.json().get("active") is not True:
            self.run.errors.append("introspection: a fresh token is not active")


class Probe:
    """The load balancer's view: /readyz and /livez a few times a second."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.http = run.session()

    def step(self) -> None:
        for path in ("/readyz", "/livez", "/healthz"):
            self.http.get(f"{self.run.base}{path}", timeout=15)
        time.sleep(0.2)


# --- the run --------------------------------------------------------------------------------


def register(db: Database, **meta: Any) -> dict[str, str]:
    with db.session() as s:
        client, secret = create_client(s, meta)
        return {"client_id": client.client_id, "client_secret": secret or ""}


def wait_ready(base: str, timeout: float) -> None:
    """Poll /readyz until two answers in a row are 200 (both workers may answer); bounded."""
    deadline = time.monotonic() + timeout
    good = 0
    while good < 2:
        assert time.monotonic() < deadline, f"/readyz not 200 within {timeout} s"
        try:
            ok = requests.get(f"{base}/readyz", timeout=5).status_code == 200
        except requests.RequestException:
            ok = False
        good = good + 1 if ok else 0
        time.sleep(0.2)


def outage(run: Run, name: str, down: Callable[[], None], up: Callable[[], None]) -> None:
    run.phase = f"{name}-down"
    print(f"{name} down at {time.time():.3f}")
    down()
    time.sleep(OUTAGE_SECONDS)
    run.phase = f"{name}-restarting"
    up()
    wait_ready(run.base, RECOVERY_TIMEOUT)
    # A request that started just before readiness came back may still have failed.
    time.sleep(1.0)
    run.phase = f"after-{name}"
    print(f"after-{name} at {time.time():.3f}")
    time.sleep(STEADY_SECONDS)


@pytest.fixture
def provider(private_pg: PrivatePostgres, private_redis: PrivateRedis,
             tmp_path: Path) -> Iterator[tuple[str, Path]]:
    env = {"IDP_DATABASE_URL": private_pg.url, "IDP_REDIS_URL": private_redis.url,
           "IDP_SECRET_KEY": SECRET_KEY, "IDP_KEK": TEST_KEK, "IDP_SANDBOX": "1"}
    log = tmp_path / "gunicorn.err"
    with gunicorn_provider(env, log, workers=2, threads=4) as base:
        wait_ready(base, RECOVERY_TIMEOUT)
        yield base, log


def test_redis_and_postgres_outages_under_load(
        provider: tuple[str, Path], private_pg: PrivatePostgres,
        private_redis: PrivateRedis) -> None:
    base, log = provider
    db = Database(private_pg.url)
    run = Run(base)
    agencies = [Agency(run, register(
        db, redirect_uris=[REDIRECT], scope="openid offline_access",
        grant_types=["authorization_code", "refresh_token"],
        **{"client_name#en": f"Agency {i}", "client_name#th": f"หน่วยงาน {i}"}), persona)
        for i, persona in enumerate(PERSONAS)]
    machine = Machine(run, register(db, grant_types=["client_credentials"], scope="seal",
                                    redirect_uris=[], **{"client_name#en": "Machine"}))
    probe = Probe(run)
    threads = [loop(run, f"agency-{a.persona}", a.step) for a in agencies]
    threads.append(loop(run, "machine", machine.step))
    threads.append(loop(run, "probe", probe.step))

    def restart_pg() -> None:
        private_pg.start()

    def both_down() -> None:
        private_redis.kill()
        private_pg.stop_immediate()

    def both_up() -> None:
        private_pg.start()
        private_redis.start()

    try:
        time.sleep(STEADY_SECONDS)
        outage(run, "redis", private_redis.kill, private_redis.start)
        outage(run, "postgres", private_pg.stop_immediate, restart_pg)
        outage(run, "both", both_down, both_up)
        run.phase = "final"
        time.sleep(STEADY_SECONDS + 1)
    finally:
        run.stop.set()
        for thread in threads:
            thread.join(timeout=30)
    hits = list(run.hits)

    check_answers(hits)
    check_health(hits)
    assert not run.errors, run.errors[:20]
    check_progress(hits)
    # Families first: presenting a code again revokes the family it started (code reuse).
    check_families(agencies, db)
    check_codes_single_use(agencies, db)
    check_consents_and_audit(agencies, db, private_pg.url)
    # The provider logged the outages as warnings; nothing was unexpected (an unhandled
    # exception, a worker killed for hanging).
    records = error_log_records(log)
    assert not [r for r in records if r.get("level") in ("ERROR", "CRITICAL")], [
        r for r in records if r.get("level") in ("ERROR", "CRITICAL")][:3]
    assert any("store unavailable" in str(r.get("message")) for r in records)
    summarise(hits, agencies)
    db.engine.dispose()


def summarise(hits: list[Hit], agencies: list[Agency]) -> None:
    """What the run did, for `pytest -s` and for a failure's context."""
    counts: dict[tuple[str, int], int] = {}
    for hit in hits:
        phase = hit.phase.split(">")[0]
        counts[(phase, hit.status)] = counts.get((phase, hit.status), 0) + 1
    families = [f for a in agencies for f in a.families]
    print(f"{len(hits)} answers; by phase and status: {sorted(counts.items())}")
    print(f"{len(families)} refresh families, {sum(len(f.seen) for f in families)} tokens "
          f"seen, {sum(len(f.after_503) for f in families)} rotations answered 503, "
          f"{sum(len(f.refused_after_503) for f in families)} refused after a 503 (committed, "
          f"answer lost); {sum(len(a.codes) for a in agencies)} codes")


# --- what must hold ---------------------------------------------------------------------------


def check_answers(hits: list[Hit]) -> None:
    """Success, 503 or a legitimate 4xx; never a 500, a dropped connection or a trace."""
    assert hits
    for hit in hits:
        where = f"{hit.phase} {hit.path} {hit.status} at {hit.at:.3f}: {hit.body[:300]}"
        assert hit.status != 0, f"connection failed: {where}"
        assert hit.status < 500 or hit.status == 503, where
        assert "Traceback" not in hit.body, where
        for leak in ("OperationalError", "psycopg", "redis.exceptions", "sqlalchemy"):
            assert leak not in hit.body, where
        if hit.status == 503:
            check_503(hit, where)
        elif hit.status >= 400:
            check_4xx(hit, where)
        # Before any fault and after the last recovery, nothing fails for want of a store.
        if ">" not in hit.phase and hit.phase.startswith(("warmup", "final", "after-")):
            assert hit.status != 503, where


def check_503(hit: Hit, where: str) -> None:
    """The documented 503: Retry-After, and our error body in the caller's format."""
    assert hit.retry_after is not None and hit.retry_after.isdigit(), where
    if hit.path == "/readyz":
        body = json.loads(hit.body)
        assert body["status"] == "unavailable", where
        assert set(body["checks"].values()) - {"ok"}, where
    elif hit.path == "/healthz":
        body = json.loads(hit.body)
        assert body["status"] == "unavailable" and not (body["database"] and body["store"])
    elif hit.path.startswith(JSON_PATHS):
        assert hit.content_type.startswith("application/json"), where
        assert json.loads(hit.body)["error"] == "temporarily_unavailable", where
    else:
        assert hit.content_type.startswith("text/html"), where
        assert "temporarily_unavailable" in hit.body, where


#: 4xx answers that a fault may legitimately cause, by path: a code or refresh token that a
#: fault consumed (invalid_grant), an interaction that died with Redis (interaction_expired), an
#: access token of a family revoked by the reuse policy (userinfo 401).
ALLOWED_4XX: dict[str, set[str]] = {
    "/token": {"invalid_grant"},
    "/userinfo": {"invalid_token"},
    "/interaction": {"interaction_expired", "invalid_request"},
}


def check_4xx(hit: Hit, where: str) -> None:
    key = "/interaction" if hit.path.startswith("/interaction/") else hit.path
    allowed = ALLOWED_4XX.get(key)
    assert allowed is not None, where
    if hit.path == "/userinfo":
        assert hit.status == 401, where
        return
    if hit.content_type.startswith("application/json"):
        assert json.loads(hit.body).get("error") in allowed, where
    else:
        assert any(code in hit.body for code in allowed), where


def check_health(hits: list[Hit]) -> None:
    """/livez always 200; /readyz 503 during every outage and 200 after each."""
    live = [h for h in hits if h.path == "/livez"]
    assert live and all(h.status == 200 for h in live)
    for name in ("redis", "postgres", "both"):
        during = [h.status for h in hits if h.path == "/readyz" and h.phase == f"{name}-down"]
        assert 503 in during, (name, during)
        after = [h.status for h in hits if h.path == "/readyz" and h.phase == f"after-{name}"]
        assert after and all(s == 200 for s in after), (name, after)


def check_progress(hits: list[Hit]) -> None:
    """The load really ran and really recovered: each kind of request succeeded after the last
    recovery, and each outage made something fail."""
    final = {h.path for h in hits if h.phase == "final" and h.status in (200, 302, 303)}
    assert {"/token", "/userinfo", "/introspect", "/authorize"} <= final, final
    for name in ("redis", "postgres"):
        failed = [h for h in hits if h.phase == f"{name}-down" and h.status == 503
                  and h.path != "/readyz"]
        assert failed, f"the {name} outage made no request fail: the test tested nothing"


def check_codes_single_use(agencies: list[Agency], db: Database) -> None:
    """Every code, whatever its first answer was, is refused now; none was redeemed twice."""
    presented = 0
    redeemed = 0
    for agency in agencies:
        for code in agency.codes:
            presented += 1
            redeemed += code.outcomes.count(200)
            again = agency.redeem(code)
            assert again.status_code == 400, again.text
            assert again.json()["error"] == "invalid_grant"
            assert code.outcomes.count(200) <= 1
    assert redeemed > 0
    with db.session() as s:
        issued = [e.data for e in s.scalars(sa.select(AuditEvent).where(
            AuditEvent.type == "token.issued"))]
    by_code = [d for d in issued if d.get("grant_type") == "authorization_code"]
    # A redemption whose answer was lost after its commit is in the trail but was not seen.
    assert redeemed <= len(by_code) <= presented, (redeemed, len(by_code), presented)


def check_families(agencies: list[Agency], db: Database) -> None:
    """Refresh families are linear, and a 503 never loses a family (see the module doc)."""
    families = [f for a in agencies for f in a.families]
    assert families
    agency_of = {a.client["client_id"]: a for a in agencies}
    replayed: list[Family] = []
    for family in families:
        if family.dead:
            continue
        # The family's current token: the newest seen, or one whose rotation answered 503.
        agency = agency_of[family.client["client_id"]]
        agency.refresh(family)
        if family.dead:
            if not family.refused_after_503:
                with db.session() as s:
                    row = s.get(RefreshToken, sha(family.current))
                    grant = s.get(Grant, row.grant_id) if row else None
                    raise AssertionError(
                        "a live family's refresh token was refused: "
                        f"row={row and (row.used_at, row.revoked_at, row.expires_at)} "
                        f"grant={grant and (grant.revoked_at, grant.revoked_reason)} "
                        f"seen={len(family.seen)} after_503={len(family.after_503)}")
            continue
        assert len(family.seen) >= 2 and family.current not in family.after_503
        # A committed rotation cannot be replayed; the replay revokes the whole family.
        replay = agency.token(grant_type="refresh_token", refresh_token=family.seen[-2])
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        after = agency.token(grant_type="refresh_token", refresh_token=family.current)
        assert after.status_code == 400, "a replay must revoke the whole family"
        replayed.append(family)
    assert replayed, "no family survived to show the reuse policy"
    with db.session() as s:
        for family in families:
            first = s.get(RefreshToken, sha(family.seen[0]))
            assert first is not None
            grant = s.get(Grant, first.grant_id)
            assert grant is not None
            rows = list(s.scalars(sa.select(RefreshToken).where(
                RefreshToken.grant_id == grant.id)))
            hashes = {r.token_hash: r for r in rows}
            assert len([r for r in rows if r.used_at is None]) <= 1, (
                "two unused refresh tokens in one family")
            for earlier in family.seen[:-1]:
                assert hashes[sha(earlier)].used_at is not None
            unseen = set(hashes) - {sha(t) for t in family.seen}
            # Only a rotation that answered 503 can have committed a token the client never saw.
            assert len(unseen) <= len(family.after_503)
            if family.refused_after_503:
                # Refused after a 503: only right if that rotation had committed (its new
                # token is in the family, unseen) and the replay then revoked the family.
                assert unseen, ("a rotation that answered 503 burned the refresh token "
                                "without storing a new one: the family was lost")
                assert grant.revoked_reason == "refresh_token_reuse", grant.revoked_reason
            if family in replayed:
                assert grant.revoked_reason == "refresh_token_reuse", grant.revoked_reason


def check_consents_and_audit(agencies: list[Agency], db: Database, url: str) -> None:
    with db.session() as s:
        assert audit.verify(s).ok
        rows = list(s.scalars(sa.select(ConsentGrant)))
        events = list(s.scalars(sa.select(AuditEvent).where(
            AuditEvent.type == "consent.granted")))
    pairs = [(r.person_id, r.client_id) for r in rows]
    assert len(pairs) == len(set(pairs)), "a consent was recorded twice"
    assert len(rows) == len(events), "a consent without its audit event, or the reverse"
    assert len(rows) <= sum(a.consent_posts for a in agencies)
    assert {r.client_id for r in rows} == {a.client["client_id"] for a in agencies}
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update({"IDP_DATABASE_URL": url, "IDP_SECRET_KEY": SECRET_KEY, "IDP_KEK": TEST_KEK})
    with db.session() as s:
        total = s.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0
    idp_command = str(Path(sys.executable).parent / "idp")
    done = subprocess.run([idp_command, "audit", "verify"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "audit chain ok" in done.stdout
    # Every event committed before the check is in the chain (a background writer, such as
    # the agency token tally, may add more meanwhile).
    chained = int(done.stdout.split("audit chain ok:")[1].split()[0])
    assert chained >= total, (total, done.stdout)
