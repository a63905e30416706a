"""Token signing keys in the database (idp.keystore) and the key ring over them: first run,
rotation, removal after the longest token lifetime, rotation by age, sealing of legacy rows,
no private key material in the database, the audit trail, the `idp keys` command, and ID
tokens in PS256 and EdDSA verified by an independent library against /jwks.

Runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL (see tests/conftest.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import select

from idp import audit, keystore
from idp.cli_keys import keys as keys_cli
from idp.db import AuditEvent, Database, SigningKey, utcnow
from idp.provider import open_backend
from idp.settings import Settings
from idp.store import EphemeralStore
from keys.backend import KeyBackend, KeyBackendError, KeyRef
from keys.jws import b64url
from keys.lifecycle import max_token_lifetime
from keys.tokens import SUPPORTED_ALGS, KeyRing
from tests.conftest import TEST_KEK
from tests.support.live import Browser, serve

LIFETIME = max_token_lifetime(600)  # the settings fixture keeps IDP_ID_TOKEN_TTL at 600 s
assert timedelta(seconds=660) == LIFETIME
CLAIMS = {"iss": "https://idp.example", "sub": "s-1", "aud": "agency", "name": "สมชาย"}


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def kb(settings: Settings) -> KeyBackend:
    return open_backend(settings)


def ring(db: Database, kb: KeyBackend, settings: Settings,
         now: datetime | None = None) -> KeyRing:
    return keystore.load_ring(db, kb, settings, now=now)


def by_state(r: KeyRing, alg: str | None = None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"next": [], "active": [], "retired": []}
    for k in r.keys:
        if alg is None or k.alg == alg:
            out[k.state].append(k.kid)
    return out


def jwks_kids(r: KeyRing) -> set[str]:
    return {k["kid"] for k in r.public_jwks()["keys"]}


def header(token: str) -> dict[str, Any]:
    return dict(json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==")))


def events(db: Database, prefix: str = "key.") -> list[tuple[str, dict[str, Any]]]:
    with db.session() as s:
        rows = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        return [(e.type, dict(e.data)) for e in rows if e.type.startswith(prefix)]


def rows(db: Database) -> list[SigningKey]:
    with db.session() as s:
        return list(s.scalars(select(SigningKey)))


# --- first run ---------------------------------------------------------------------------------


def test_first_run_makes_an_active_and_a_next_key_per_algorithm(
        db: Database, kb: KeyBackend, settings: Settings) -> None:
    r = ring(db, kb, settings)
    assert r.algorithms == list(SUPPORTED_ALGS)
    for alg in SUPPORTED_ALGS:
        states = by_state(r, alg)
        assert len(states["active"]) == 1 and len(states["next"]) == 1, alg
    jwks = r.public_jwks()["keys"]
    assert len(jwks) == 8
    assert {(k["alg"], k["kty"]) for k in jwks} == {
        ("ES256", "EC"), ("PS256", "RSA"), ("RS256", "RSA"), ("EdDSA", "OKP")}
    assert all(k["use"] == "sig" for k in jwks)
    # a second load (another node, a restart) changes nothing
    again = ring(db, kb, settings)
    assert by_state(again) == by_state(r)
    assert len(rows(db)) == 8


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
@pytest.mark.parametrize("alg", SUPPORTED_ALGS)
def test_each_algorithm_signs_and_verifies(db: Database, kb: KeyBackend,
                                           settings: Settings, alg: str) -> None:
    r = ring(db, kb, settings)
    token = r.sign_jwt(CLAIMS, alg, typ="logout+jwt")
    h = header(token)
    assert h == {"alg": alg, "kid": by_state(r, alg)["active"][0], "typ": "logout+jwt"}
    assert dict(r.verify_jwt(token).claims) == CLAIMS
    assert header(r.sign_jwt(CLAIMS, alg))["typ"] == "JWT"
    # an independent library agrees, with the published JWKS only
    published: Any = r.public_jwks()
    decoded = jwt.decode(token, KeySet.import_key_set(published), algorithms=[alg])
    assert dict(decoded.claims) == CLAIMS


def test_verify_refuses_what_it_did_not_sign(db: Database, kb: KeyBackend,
                                             settings: Settings) -> None:
    r = ring(db, kb, settings)
    token = r.sign_jwt(CLAIMS, "ES256")
    head, payload, sig = token.split(".")
    forged = f"{head}.{b64url(json.dumps(dict(CLAIMS, sub='s-2')).encode())}.{sig}"
    with pytest.raises(BadSignatureError):
        r.verify_jwt(forged)
    with pytest.raises(JoseError):
        r.verify_jwt(token, algs=["RS256"])  # algorithm not allowed by the caller
    # a key of our own kid but another algorithm: the header must name the key's algorithm
    rs_kid = by_state(r, "RS256")["active"][0]
    swapped = b64url(json.dumps({"alg": "ES256", "kid": rs_kid}).encode())
    with pytest.raises(JoseError):
        r.verify_jwt(f"{swapped}.{payload}.{sig}")
    foreign = ECKey.generate_key("P-256", parameters={"kid": header(token)["kid"] + "x"})
    with pytest.raises(InvalidKeyIdError):
        r.verify_jwt(jwt.encode({"alg": "ES256", "kid": foreign.kid}, CLAIMS, foreign))
    with pytest.raises(ValueError):
        r.sign_jwt(CLAIMS, "HS256")


# --- rotation ----------------------------------------------------------------------------------


def test_token_signed_before_a_rotation_still_verifies_after_it(
        db: Database, kb: KeyBackend, settings: Settings) -> None:
    """Issue 3: rotating keys never breaks a token already handed out."""
    before = ring(db, kb, settings)
    old_tokens = {alg: before.sign_jwt(CLAIMS, alg) for alg in SUPPORTED_ALGS}
    for alg in SUPPORTED_ALGS:
        keystore.rotate(db, kb, alg)
    after = ring(db, kb, settings)
    for alg, token in old_tokens.items():
        assert dict(after.verify_jwt(token).claims) == CLAIMS
        assert header(after.sign_jwt(CLAIMS, alg))["kid"] != header(token)["kid"]
    # the ring loaded before the rotation catches up when it reloads
    before.refresh()
    assert by_state(before) == by_state(after)
    assert all(dict(before.verify_jwt(t).claims) == CLAIMS for t in old_tokens.values())


def test_rotation_publishes_new_active_old_retired_and_new_next(
        db: Database, kb: KeyBackend, settings: Settings) -> None:
    r = ring(db, kb, settings)
    old = by_state(r, "ES256")
    steps = keystore.rotate(db, kb, "ES256")
    assert [(t.action, t.alg) for t in steps] == [
        ("activate", "ES256"), ("retire", "ES256"), ("create", "ES256")]
    new = by_state(ring(db, kb, settings), "ES256")
    assert new["active"] == old["next"]
    assert new["retired"] == old["active"]
    assert len(new["next"]) == 1 and new["next"][0] not in old["next"] + old["active"]
    assert new["next"] == [steps[2].kid]
    published = jwks_kids(ring(db, kb, settings))
    assert {*new["active"], *new["retired"], *new["next"]} <= published
    # other algorithms were not touched
    assert by_state(ring(db, kb, settings), "RS256") == by_state(r, "RS256")


def test_next_key_is_published_before_it_signs_anything(
        db: Database, kb: KeyBackend, settings: Settings) -> None:
    r = ring(db, kb, settings)
    nxt = by_state(r, "PS256")["next"][0]
    assert nxt in jwks_kids(r)
    assert header(r.sign_jwt(CLAIMS, "PS256"))["kid"] != nxt
    keystore.rotate(db, kb, "PS256")
    r.refresh()
    assert header(r.sign_jwt(CLAIMS, "PS256"))["kid"] == nxt
    # and the new next key is published now, before its turn
    assert by_state(r, "PS256")["next"][0] in jwks_kids(r)


def test_retired_key_is_removed_only_after_the_longest_token_lifetime(
        db: Database, kb: KeyBackend, settings: Settings) -> None:
    r = ring(db, kb, settings)
    token = r.sign_jwt(CLAIMS, "EdDSA")
    retired = header(token)["kid"]
    t0 = utcnow()
    keystore.rotate(db, kb, "EdDSA", now=t0)

    almost = ring(db, kb, settings, now=t0 + LIFETIME - timedelta(seconds=1))
    assert retired in by_state(almost)["retired"]
    assert retired in jwks_kids(almost)
    assert dict(almost.verify_jwt(token).claims) == CLAIMS
    assert not [e for e in events(db) if e[0] == "key.removed"]

    gone = ring(db, kb, settings, now=t0 + LIFETIME)
    assert retired not in jwks_kids(gone)
    with pytest.raises(InvalidKeyIdError):
        gone.verify_jwt(token)
    row = next(r for r in rows(db) if r.kid == retired)
    assert row.state == "removed" and row.removed_at is not None
    assert row.key_ref is None  # the sealed key is gone from the record: no longer usable
    assert ("key.removed", {"kid": retired, "alg": "EdDSA", "reason": "tokens expired"}) \
        in events(db)


def test_lifetime_follows_the_id_token_ttl_but_covers_logout_tokens(settings: Settings) -> None:
    assert keystore.token_lifetime(replace(settings, id_token_ttl=3600)) \
        == timedelta(seconds=3660)
    assert keystore.token_lifetime(replace(settings, id_token_ttl=60)) \
        == timedelta(seconds=180)


def test_rotation_by_age_when_the_ring_is_loaded(
        db: Database, kb: KeyBackend, settings: Settings) -> None:
    r = ring(db, kb, settings)
    first = {alg: by_state(r, alg) for alg in SUPPORTED_ALGS}
    t0 = utcnow()
    young = ring(db, kb, settings, now=t0 + timedelta(days=89))
    assert {alg: by_state(young, alg) for alg in SUPPORTED_ALGS} == first
    old = ring(db, kb, settings, now=t0 + timedelta(days=90, minutes=1))
    for alg in SUPPORTED_ALGS:
        assert by_state(old, alg)["active"] == first[alg]["next"]
        assert by_state(old, alg)["retired"] == first[alg]["active"]
    reasons = {e[1]["reason"] for e in events(db) if e[0] == "key.retired"}
    assert reasons == {"age"}


def test_rotation_days_setting(db: Database, kb: KeyBackend, settings: Settings) -> None:
    assert Settings.from_env({}).key_rotation_days == 90
    assert Settings.from_env({"IDP_KEY_ROTATION_DAYS": "7"}).key_rotation_days == 7
    weekly = replace(settings, key_rotation_days=7)
    r = ring(db, kb, weekly)
    active = by_state(r, "ES256")["active"]
    assert keystore.rotate_due(db, kb, weekly, now=utcnow() + timedelta(days=6)) == []
    steps = keystore.rotate_due(db, kb, weekly, ["ES256"], now=utcnow() + timedelta(days=8))
    assert [(t.action, t.alg) for t in steps] == [
        ("activate", "ES256"), ("retire", "ES256"), ("create", "ES256")]
    assert steps[1].kid == active[0]


def test_retire_by_kid(db: Database, kb: KeyBackend, settings: Settings) -> None:
    r = ring(db, kb, settings)
    before = by_state(r, "RS256")
    keystore.retire(db, kb, before["active"][0])
    after = by_state(ring(db, kb, settings), "RS256")
    assert after["active"] == before["next"] and after["retired"] == before["active"]
    with pytest.raises(ValueError, match="already retired"):
        keystore.retire(db, kb, before["active"][0])
    with pytest.raises(LookupError):
        keystore.retire(db, kb, "no-such-kid")
    with pytest.raises(ValueError):
        keystore.rotate(db, kb, "HS256")


def test_two_nodes_loading_at_once_make_one_key_ring(
        database_url: str, settings: Settings) -> None:
    """Two processes starting on an empty database must not both make keys (the lock)."""
    results: list[KeyRing] = []
    errors: list[BaseException] = []

    def start() -> None:
        node_db = Database(database_url)
        try:
            results.append(ring(node_db, open_backend(settings), settings))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            node_db.engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    db = Database(database_url)
    try:
        stored = rows(db)
    finally:
        db.engine.dispose()
    assert len(stored) == 8
    for alg in SUPPORTED_ALGS:
        assert sorted(r.state for r in stored if r.alg == alg) == ["active", "next"]


def test_ring_reloads_itself_after_the_interval(db: Database, kb: KeyBackend,
                                                settings: Settings) -> None:
    now = [0.0]
    first = keystore.sync(db, kb, settings)
    r = KeyRing(kb, first, reload=lambda: keystore.sync(db, kb, settings),
                reload_seconds=30, clock=lambda: now[0])
    active = header(r.sign_jwt(CLAIMS, "ES256"))["kid"]
    keystore.rotate(db, kb, "ES256")  # another process rotates
    now[0] = 29.0
    assert header(r.sign_jwt(CLAIMS, "ES256"))["kid"] == active
    now[0] = 30.0
    assert header(r.sign_jwt(CLAIMS, "ES256"))["kid"] != active

    def broken() -> list[Any]:
        raise RuntimeError("database down")

    stuck = KeyRing(kb, first, reload=broken, reload_seconds=1, clock=lambda: now[0])
    now[0] = 100.0
    assert stuck.sign_jwt(CLAIMS, "ES256")  # keeps the keys it has


# --- at rest -------------------------------------------------------------------------------------


def _legacy_jwk(alg: str) -> dict[str, Any]:
    """A private JWK row as the provider stored it before keys were sealed."""
    key = ECKey.generate_key("P-256", private=True) if alg == "ES256" \
        else RSAKey.generate_key(2048, private=True)
    data = dict(key.as_dict(private=True))
    data.update(kid=key.thumbprint(), alg=alg, use="sig")
    return data


def _has_member(value: Any, name: str) -> bool:
    if isinstance(value, dict):
        return name in value or any(_has_member(v, name) for v in value.values())
    if isinstance(value, list):
        return any(_has_member(v, name) for v in value)
    return False


def test_legacy_private_jwk_rows_are_sealed_and_cleared(
        db: Database, kb: KeyBackend, settings: Settings) -> None:
    legacy = {alg: _legacy_jwk(alg) for alg in ("ES256", "RS256")}
    created = utcnow() - timedelta(days=10)
    with db.session() as s:
        for alg, data in legacy.items():
            s.add(SigningKey(kid=data["kid"], alg=alg, state="active", private_jwk=data,
                             created_at=created))
    # a token the old version signed, straight from the private JWK
    old_token = jwt.encode({"alg": "ES256", "kid": legacy["ES256"]["kid"]}, CLAIMS,
                           KeySet.import_key_set({"keys": [legacy["ES256"]]}).keys[0])

    r = ring(db, kb, settings)
    for row in rows(db):
        if row.kid in {d["kid"] for d in legacy.values()}:
            assert row.private_jwk is None
            assert row.key_ref and row.key_ref["backend"] == kb.name
            assert row.public_jwk and row.public_jwk["kid"] == row.kid
            assert row.activated_at is not None
    assert dict(r.verify_jwt(old_token).claims) == CLAIMS
    # the sealed legacy keys go on signing: same kid, same key
    for alg, data in legacy.items():
        token = r.sign_jwt(CLAIMS, alg)
        assert header(token)["kid"] == data["kid"]
        pub = {k: v for k, v in data.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
        jwt.decode(token, KeySet.import_key_set({"keys": [pub]}), algorithms=[alg])
    sealed = [e[1] for e in events(db) if e[0] == "key.sealed"]
    assert sorted(e["kid"] for e in sealed) == sorted(d["kid"] for d in legacy.values())
    # the missing algorithms and next keys were added around them
    assert r.algorithms == list(SUPPORTED_ALGS)
    assert all(by_state(r, alg)["next"] for alg in SUPPORTED_ALGS)


def test_database_never_holds_private_key_material(
        db: Database, kb: KeyBackend, settings: Settings) -> None:
    with db.session() as s:
        data = _legacy_jwk("RS256")
        s.add(SigningKey(kid=data["kid"], alg="RS256", state="active", private_jwk=data))
    ring(db, kb, settings)
    keystore.rotate(db, kb, "ES256")
    stored = rows(db)
    assert stored
    for row in stored:
        for column in (row.key_ref, row.public_jwk, row.private_jwk):
            assert not _has_member(column, "d"), row.kid
        assert row.private_jwk is None
    # the JWKS and the audit trail carry no private members either
    assert not _has_member(ring(db, kb, settings).public_jwks(), "d")
    assert not any(_has_member(e[1], "d") for e in events(db, ""))


def test_wrong_kek_is_refused(db: Database, kb: KeyBackend, settings: Settings) -> None:
    """A node started with the wrong KEK stops at once, and never seals new keys under it
    (which the correctly configured nodes could then not use)."""
    r = ring(db, kb, settings)
    before = {k["kid"] for k in keystore.list_keys(db)}
    other = open_backend(replace(settings, kek=base64.b64encode(b"k" * 32).decode()))
    with pytest.raises(keystore.KeyStoreError, match="another key-encryption key"):
        keystore.load_ring(db, other, settings)
    with pytest.raises(keystore.KeyStoreError, match="IDP_KEK"):
        keystore.rotate(db, other, "ES256")
    assert {k["kid"] for k in keystore.list_keys(db)} == before
    r.sign_jwt(CLAIMS, "ES256")  # the right KEK still signs with every key
    with pytest.raises(KeyBackendError, match="another key-encryption key"):
        other.sign(KeyRef.from_dict(db_key_refs(db)[0]), b"data")


def test_key_ref_and_published_key_must_agree(db: Database, kb: KeyBackend,
                                              settings: Settings) -> None:
    ring(db, kb, settings)
    with db.session() as s:
        es, rs = (s.scalars(select(SigningKey).where(SigningKey.alg == alg,
                                                     SigningKey.state == "active")).one()
                  for alg in ("ES256", "PS256"))
        es_next = s.scalars(select(SigningKey).where(SigningKey.alg == "ES256",
                                                     SigningKey.state == "next")).one()
        es.key_ref, es_next.key_ref = es_next.key_ref, es.key_ref  # swapped by hand
        del rs
    with pytest.raises(keystore.KeyStoreError, match="does not match"):
        ring(db, kb, settings)


# --- audit -------------------------------------------------------------------------------------


def test_every_state_change_is_audited(db: Database, kb: KeyBackend,
                                       settings: Settings) -> None:
    r = ring(db, kb, settings)
    first = events(db)
    assert sorted(t for t, _ in first) == ["key.activated"] * 4 + ["key.created"] * 8
    assert all(set(d) >= {"kid", "alg"} for _, d in first)
    old = by_state(r, "ES256")
    t0 = utcnow()
    keystore.rotate(db, kb, "ES256", now=t0)
    ring(db, kb, settings, now=t0 + LIFETIME)
    later = events(db)[len(first):]
    assert [(t, d["kid"]) for t, d in later][:2] == [
        ("key.activated", old["next"][0]), ("key.retired", old["active"][0])]
    assert [t for t, _ in later] == ["key.activated", "key.retired", "key.created",
                                     "key.removed"]
    with db.session() as s:
        assert audit.verify(s).ok


# --- the command -------------------------------------------------------------------------------


def test_idp_keys_command(db: Database, database_url: str, settings: Settings) -> None:
    cli = CliRunner()
    env = {"IDP_DATABASE_URL": database_url, "IDP_KEK": TEST_KEK, "IDP_KEK_FILE": ""}
    ring(db, open_backend(settings), settings)

    listed = cli.invoke(keys_cli, ["list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.output)
    assert len(data) == 8
    assert set(data[0]) >= {"kid", "alg", "state", "created_at", "activated_at", "retired_at"}
    assert '"d"' not in listed.output and "sealed" not in listed.output
    old_active = next(k["kid"] for k in data if k["alg"] == "ES256" and k["state"] == "active")

    rotated = cli.invoke(keys_cli, ["rotate", "--alg", "ES256"], env=env)
    assert rotated.exit_code == 0, rotated.output
    assert f"ES256\tretired\t{old_active}" in rotated.output

    due = cli.invoke(keys_cli, ["rotate", "--due"], env=env)
    assert due.exit_code == 0 and "nothing to do" in due.output

    table = cli.invoke(keys_cli, ["list"], env=env)
    assert table.exit_code == 0 and old_active in table.output and "retired" in table.output

    new_ps = next(k["kid"] for k in data if k["alg"] == "PS256" and k["state"] == "next")
    retired = cli.invoke(keys_cli, ["retire", new_ps], env=env)
    assert retired.exit_code == 0 and f"PS256\tretired\t{new_ps}" in retired.output

    assert cli.invoke(keys_cli, ["rotate"], env=env).exit_code == 2
    assert cli.invoke(keys_cli, ["rotate", "--alg", "HS256"], env=env).exit_code == 2
    unknown = cli.invoke(keys_cli, ["retire", "nope"], env=env)
    assert unknown.exit_code == 2 and "no signing key" in unknown.output

    kek = cli.invoke(keys_cli, ["new-kek"])
    assert kek.exit_code == 0
    assert len(base64.b64decode(kek.output.splitlines()[0])) == 32
    assert "IDP_KEK_FILE" in kek.output


# --- over HTTP -------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
@pytest.mark.parametrize("alg", ["PS256", "EdDSA"])
def test_id_token_in_ps256_and_eddsa_verifies_against_jwks(
        settings: Settings, store: EphemeralStore, alg: str) -> None:
    with serve(settings, store) as op:
        client = op.register(id_token_signed_response_alg=alg)
        doc = requests.get(f"{op.base}/.well-known/openid-configuration", timeout=5).json()
        assert alg in doc["id_token_signing_alg_values_supported"]

        tokens = op.code_flow(Browser(op.base), client)
        jwks = KeySet.import_key_set(requests.get(f"{op.base}/jwks", timeout=5).json())
        decoded = jwt.decode(tokens["id_token"], jwks, algorithms=[alg])
        assert decoded.header["alg"] == alg
        assert decoded.claims["aud"] == client["client_id"]
        assert decoded.claims["iss"] == op.base
        hash_fn = hashlib.sha512 if alg == "EdDSA" else hashlib.sha256
        digest = hash_fn(tokens["access_token"].encode()).digest()
        assert decoded.claims["at_hash"] == b64url(digest[: len(digest) // 2])

        # rotate while the relying party holds the token; its cached JWKS still works for the
        # next token, and the fresh JWKS still verifies the old one
        provider = op.app.extensions["idp"]
        keystore.rotate(provider.db, provider.backend, alg)
        provider.keys.refresh()
        again = op.code_flow(Browser(op.base), client)
        assert jwt.decode(again["id_token"], jwks, algorithms=[alg]).header["kid"] \
            != decoded.header["kid"]
        fresh = KeySet.import_key_set(requests.get(f"{op.base}/jwks", timeout=5).json())
        jwt.decode(tokens["id_token"], fresh, algorithms=[alg])


def db_key_refs(db: Database) -> list[dict[str, Any]]:
    with db.session() as s:
        return [row.key_ref for row in s.scalars(select(SigningKey)) if row.key_ref]
