"""The client registry (idp.clients) and the `idp clients` command (idp.cli_clients)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from idp import clients as reg
from idp.cli_clients import clients as clients_cli
from idp.db import AuditEvent, Client, ConsentGrant, Database, Person

RP = "https://service.agency.go.th/callback"
EC_PUBLIC_JWK = {"kty": "EC", "crv": "P-256", "kid": "k1",
                 "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                 "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}


def meta(**extra: Any) -> dict[str, Any]:
    """A valid minimal registration, with overrides."""
    return {"client_name#th": "กรมทดสอบ", "client_name#en": "Test Department",
            "redirect_uris": [RP], **extra}


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.engine.dispose()


# --- validate_metadata: defaults and accepted forms ------------------------------------------


def test_minimal_registration_gets_safe_defaults() -> None:
    v = reg.validate_metadata({"redirect_uris": [RP]})
    assert v["grant_types"] == ["authorization_code", "refresh_token"]
    assert v["scope"] == "openid profile"
    assert v["token_endpoint_auth_method"] == "client_secret_basic"
    assert v["id_token_signed_response_alg"] == "ES256"
    assert v["subject_type"] == "pairwise"
    assert v["backchannel_logout_session_required"] is True
    assert v["post_logout_redirect_uris"] == []
    assert v["jwks"] is None and v["jwks_uri"] is None


@pytest.mark.parametrize(
    ("names", "th", "en"),
    [
        ({"client_name#th": "กรม", "client_name#en": "Dept"}, "กรม", "Dept"),
        ({"client_name_th": "กรม", "client_name_en": "Dept"}, "กรม", "Dept"),
        ({"client_name": "Dept"}, "Dept", "Dept"),
        ({"client_name": "Dept", "client_name#th": "กรม"}, "กรม", "Dept"),
        ({"client_name#th-TH": "กรม"}, "กรม", ""),
        ({"client_name#fr": "Ministère"}, "", ""),
    ],
)
def test_client_names_by_language(names: dict[str, str], th: str, en: str) -> None:
    v = reg.validate_metadata({"redirect_uris": [RP], **names})
    assert (v["client_name_th"], v["client_name_en"]) == (th, en)


@pytest.mark.parametrize(
    ("extra", "field", "expected"),
    [
        ({"redirect_uris": ["http://localhost:8080/cb"]}, "redirect_uris",
         ["http://localhost:8080/cb"]),
        ({"redirect_uris": ["http://127.0.0.1/cb"]}, "redirect_uris", ["http://127.0.0.1/cb"]),
        ({"redirect_uris": [RP + "?a=1&b=2"]}, "redirect_uris", [RP + "?a=1&b=2"]),
        ({"redirect_uris": [RP, RP]}, "redirect_uris", [RP]),
        ({"redirect_uris": [f"{RP}/{i}" for i in range(20)]}, "grant_types",
         ["authorization_code", "refresh_token"]),
        ({"post_logout_redirect_uris": ["https://service.agency.go.th/bye"]},
         "post_logout_redirect_uris", ["https://service.agency.go.th/bye"]),
        ({"grant_types": ["client_credentials"], "redirect_uris": None}, "grant_types",
         ["client_credentials"]),
        ({"grant_types": ["authorization_code"]}, "grant_types", ["authorization_code"]),
        ({"response_types": ["code"]}, "grant_types", ["authorization_code", "refresh_token"]),
        ({"scope": "openid  profile email phone address offline_access"}, "scope",
         "openid profile email phone address offline_access"),
        ({"scope": "openid tax:read gov.th/records api-v2_x"}, "scope",
         "openid tax:read gov.th/records api-v2_x"),
        ({"token_endpoint_auth_method": "client_secret_post"}, "token_endpoint_auth_method",
         "client_secret_post"),
        ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [EC_PUBLIC_JWK]}},
         "jwks", {"keys": [EC_PUBLIC_JWK]}),
        ({"token_endpoint_auth_method": "private_key_jwt",
          "jwks_uri": "https://service.agency.go.th/jwks"}, "jwks_uri",
         "https://service.agency.go.th/jwks"),
        ({"id_token_signed_response_alg": "RS256"}, "id_token_signed_response_alg", "RS256"),
        ({"subject_type": "public", "redirect_uris": [RP, "https://other.go.th/cb"]},
         "subject_type", "public"),
        ({"redirect_uris": [RP, "https://other.go.th/cb"],
          "sector_identifier_uri": "https://agency.go.th/sector.json"},
         "sector_identifier_uri", "https://agency.go.th/sector.json"),
        ({"backchannel_logout_uri": "http://internal.agency.local/logout"},
         "backchannel_logout_uri", "http://internal.agency.local/logout"),
        ({"backchannel_logout_session_required": False},
         "backchannel_logout_session_required", False),
        ({"logo_uri": "https://x/logo.png", "software_statement": "eyJ..."}, "scope",
         "openid profile"),
    ],
)
def test_accepted_metadata(extra: dict[str, Any], field: str, expected: Any) -> None:
    assert reg.validate_metadata(meta(**extra))[field] == expected


# --- validate_metadata: each refusal ---------------------------------------------------------

REDIRECT = reg.INVALID_REDIRECT_URI
METADATA = reg.INVALID_METADATA


@pytest.mark.parametrize(
    ("extra", "error", "words"),
    [
        ({"redirect_uris": None}, REDIRECT, "required"),
        ({"redirect_uris": []}, REDIRECT, "required"),
        ({"redirect_uris": RP}, REDIRECT, "array"),
        ({"redirect_uris": ["http://agency.go.th/cb"]}, REDIRECT, "https"),
        ({"redirect_uris": ["http://localhost.evil.com/cb"]}, REDIRECT, "https"),
        ({"redirect_uris": [RP + "#frag"]}, REDIRECT, "fragment"),
        ({"redirect_uris": ["/callback"]}, REDIRECT, "absolute"),
        ({"redirect_uris": ["th.go.agency.app:/cb"]}, REDIRECT, "absolute"),
        ({"redirect_uris": ["https:///cb"]}, REDIRECT, "absolute"),
        ({"redirect_uris": ["https://agency.go.th/a b"]}, REDIRECT, "whitespace"),
        ({"redirect_uris": [f"{RP}/{i}" for i in range(21)]}, REDIRECT, "at most 20"),
        ({"redirect_uris": [RP + "?" + "a" * 2000]}, REDIRECT, "2000"),
        ({"post_logout_redirect_uris": ["http://agency.go.th/bye"]}, METADATA, "https"),
        ({"post_logout_redirect_uris": [RP + "#x"]}, METADATA, "fragment"),
        ({"grant_types": ["implicit"]}, METADATA, "grant_types"),
        ({"grant_types": ["password"]}, METADATA, "grant_types"),
        ({"grant_types": []}, METADATA, "at least one"),
        ({"grant_types": ["client_credentials", "refresh_token"]}, METADATA, "refresh_token"),
        ({"response_types": ["code", "id_token"]}, METADATA, "response_types"),
        ({"response_types": ["token"]}, METADATA, "response_types"),
        ({"grant_types": ["client_credentials"], "redirect_uris": None,
          "response_types": ["code"]}, METADATA, "authorization_code"),
        ({"scope": "openid Profile"}, METADATA, "scope"),
        ({"scope": "openid a*b"}, METADATA, "scope"),
        ({"scope": "   "}, METADATA, "at least one"),
        ({"scope": ["openid"]}, METADATA, "string"),
        ({"token_endpoint_auth_method": "none"}, METADATA, "none is not allowed"),
        ({"token_endpoint_auth_method": "client_secret_jwt"}, METADATA,
         "token_endpoint_auth_method"),
        ({"id_token_signed_response_alg": "none"}, METADATA, "none is not allowed"),
        ({"id_token_signed_response_alg": "None"}, METADATA, "none is not allowed"),
        ({"id_token_signed_response_alg": "HS256"}, METADATA, "id_token_signed_response_alg"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, METADATA, "jwks"),
        ({"jwks": {"keys": [EC_PUBLIC_JWK]}, "jwks_uri": "https://agency.go.th/jwks"},
         METADATA, "mutually exclusive"),
        ({"jwks_uri": "http://agency.go.th/jwks"}, METADATA, "https"),
        ({"jwks": [EC_PUBLIC_JWK]}, METADATA, "keys"),
        ({"jwks": {"keys": []}}, METADATA, "keys"),
        ({"jwks": {"keys": [{"kid": "no-kty"}]}}, METADATA, "kty"),
        ({"jwks": {"keys": [{**EC_PUBLIC_JWK, "d": "private"}]}}, METADATA, "private"),
        ({"sector_identifier_uri": "http://agency.go.th/s.json"}, METADATA, "https"),
        ({"subject_type": "random"}, METADATA, "subject_type"),
        ({"redirect_uris": [RP, "https://other.go.th/cb"]}, METADATA, "sector_identifier_uri"),
        ({"backchannel_logout_uri": RP + "#x"}, METADATA, "fragment"),
        ({"backchannel_logout_uri": "/logout"}, METADATA, "absolute"),
        ({"backchannel_logout_uri": "ftp://agency.go.th/logout"}, METADATA, "absolute"),
        ({"backchannel_logout_session_required": "yes"}, METADATA, "true or false"),
        ({"client_name#en": "x" * 201}, METADATA, "200"),
        ({"client_name#th": 5}, METADATA, "string"),
        ({"client_name": "Dept\x1b[31m"}, METADATA, "control"),
    ],
)
def test_refused_metadata(extra: dict[str, Any], error: str, words: str) -> None:
    with pytest.raises(reg.ClientMetadataError) as caught:
        reg.validate_metadata(meta(**extra))
    assert caught.value.error == error
    assert words in caught.value.description


def test_metadata_must_be_an_object() -> None:
    with pytest.raises(reg.ClientMetadataError):
        reg.validate_metadata(["redirect_uris"])  # type: ignore[arg-type]


def test_error_never_echoes_credentials_from_a_uri() -> None:
    with pytest.raises(reg.ClientMetadataError) as caught:
        reg.validate_metadata(meta(redirect_uris=["https://ops:hunter2@agency.go.th/cb"]))
    assert caught.value.error == REDIRECT
    assert "hunter2" not in str(caught.value)
    assert "redirect_uris[0]" in caught.value.description


# --- sectors ---------------------------------------------------------------------------------


def _client(**values: Any) -> Client:
    v = reg.validate_metadata(meta(**values))
    return Client(client_id="c1", **v)


def test_sector_is_the_single_redirect_host() -> None:
    client = _client(redirect_uris=[RP, "https://SERVICE.agency.go.th:8443/other"])
    assert reg.sector_of(client) == "service.agency.go.th"


def test_sector_identifier_uri_host_wins() -> None:
    client = _client(redirect_uris=[RP, "https://b.go.th/cb"],
                     sector_identifier_uri="https://sector.agency.go.th/uris.json")
    assert reg.sector_of(client) == "sector.agency.go.th"


def test_client_without_redirect_uris_is_its_own_sector() -> None:
    client = _client(grant_types=["client_credentials"], redirect_uris=None)
    assert reg.sector_of(client) == "c1"


def test_check_sector_identifier_needs_every_redirect_uri_listed() -> None:
    reg.check_sector_identifier([RP, "https://b.go.th/cb"], [RP])
    with pytest.raises(reg.ClientMetadataError) as caught:
        reg.check_sector_identifier([RP], [RP, "https://b.go.th/cb"])
    assert caught.value.error == METADATA
    assert "redirect_uris[1]" in caught.value.description


# --- registry --------------------------------------------------------------------------------


def test_secret_is_stored_only_as_its_digest(db: Database) -> None:
    with db.session() as s:
        client, secret = reg.create_client(s, meta())
    assert secret is not None and len(secret) >= 43
    with db.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM client WHERE client_id = :c"),
                           {"c": client.client_id}).one()
    stored = " ".join(str(v) for v in row)
    assert secret not in stored
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()


def test_check_secret(db: Database) -> None:
    with db.session() as s:
        client, secret = reg.create_client(s, meta())
    assert secret is not None
    with db.session() as s:
        stored = reg.get_client(s, client.client_id)
    assert stored is not None
    assert reg.check_secret(stored, secret)
    assert not reg.check_secret(stored, secret[:-1])
    assert not reg.check_secret(stored, "")
    assert not reg.check_secret(stored, stored.secret_hash or "")


def test_private_key_jwt_client_has_no_secret(db: Database) -> None:
    with db.session() as s:
        client, secret = reg.create_client(
            s, meta(token_endpoint_auth_method="private_key_jwt", jwks={"keys": [EC_PUBLIC_JWK]}))
    assert secret is None and client.secret_hash is None
    assert not reg.check_secret(client, "")
    with db.session() as s, pytest.raises(reg.ClientMetadataError):
        reg.rotate_secret(s, client.client_id)


def test_rotate_secret_invalidates_the_old_one(db: Database) -> None:
    with db.session() as s:
        client, old = reg.create_client(s, meta())
    with db.session() as s:
        new = reg.rotate_secret(s, client.client_id)
    with db.session() as s:
        stored = reg.get_client(s, client.client_id)
    assert stored is not None and old is not None
    assert new != old
    assert reg.check_secret(stored, new)
    assert not reg.check_secret(stored, old)


def test_client_id_given_checked_and_unique(db: Database) -> None:
    with db.session() as s:
        client, _ = reg.create_client(s, meta(), client_id="dopa-portal")
    assert client.client_id == "dopa-portal"
    with db.session() as s, pytest.raises(reg.ClientMetadataError, match="already registered"):
        reg.create_client(s, meta(), client_id="dopa-portal")
    with db.session() as s, pytest.raises(reg.ClientMetadataError, match="client_id"):
        reg.create_client(s, meta(), client_id="bad id/with spaces")


def test_generated_client_ids_are_random(db: Database) -> None:
    with db.session() as s:
        a, _ = reg.create_client(s, meta())
        b, _ = reg.create_client(s, meta())
    assert a.client_id != b.client_id and len(a.client_id) >= 22


def test_client_ids_never_start_with_a_dash() -> None:
    """A leading "-" would make `idp clients show ID` read the ID as an option."""
    ids = [reg.new_client_id() for _ in range(2000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(reg.CLIENT_ID_RE.match(i) for i in ids)
    assert not reg.CLIENT_ID_RE.match("-abc")


def test_update_is_partial(db: Database) -> None:
    with db.session() as s:
        client, _ = reg.create_client(s, meta())
    with db.session() as s:
        reg.update_client(s, client.client_id, {"scope": "openid email",
                                                "client_name#en": "Renamed"})
    with db.session() as s:
        stored = reg.get_client(s, client.client_id)
    assert stored is not None
    assert stored.scope == "openid email"
    assert stored.client_name_en == "Renamed"
    assert stored.client_name_th == "กรมทดสอบ"
    assert stored.redirect_uris == [RP]


def test_update_revalidates_the_whole_client_and_keeps_it_on_refusal(db: Database) -> None:
    with db.session() as s:
        client, secret = reg.create_client(s, meta())
    with db.session() as s, pytest.raises(reg.ClientMetadataError, match="jwks"):
        reg.update_client(s, client.client_id, {"token_endpoint_auth_method": "private_key_jwt"})
    with db.session() as s, pytest.raises(reg.ClientMetadataError) as caught:
        reg.update_client(s, client.client_id, {"redirect_uris": [RP, "https://b.go.th/cb"]})
    assert "sector_identifier_uri" in caught.value.description
    with db.session() as s:
        stored = reg.get_client(s, client.client_id)
    assert stored is not None and secret is not None
    assert stored.token_endpoint_auth_method == "client_secret_basic"
    assert stored.redirect_uris == [RP]
    assert reg.check_secret(stored, secret)


def test_update_to_private_key_jwt_drops_the_secret_and_key_sources_replace(
        db: Database) -> None:
    with db.session() as s:
        client, secret = reg.create_client(s, meta())
    with db.session() as s:
        updated = reg.update_client(s, client.client_id, {
            "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [EC_PUBLIC_JWK]}})
    assert updated.secret_hash is None
    assert secret is not None and not reg.check_secret(updated, secret)
    with db.session() as s:
        updated = reg.update_client(s, client.client_id,
                                    {"jwks_uri": "https://service.agency.go.th/jwks"})
    assert updated.jwks is None
    assert updated.jwks_uri == "https://service.agency.go.th/jwks"


def test_update_of_unknown_client(db: Database) -> None:
    with db.session() as s, pytest.raises(reg.ClientNotFoundError):
        reg.update_client(s, "nobody", {"scope": "openid"})


def test_list_get_and_remove(db: Database) -> None:
    with db.session() as s:
        a, _ = reg.create_client(s, meta())
        b, _ = reg.create_client(s, meta())
    with db.session() as s:
        assert {c.client_id for c in reg.list_clients(s)} == {a.client_id, b.client_id}
        assert reg.remove_client(s, a.client_id) is True
        assert reg.remove_client(s, a.client_id) is False
    with db.session() as s:
        assert reg.get_client(s, a.client_id) is None
        assert [c.client_id for c in reg.list_clients(s)] == [b.client_id]


def test_remove_takes_the_clients_consents_with_it(db: Database) -> None:
    person_id = str(uuid.uuid4())
    with db.session() as s:
        client, _ = reg.create_client(s, meta())
        s.add(Person(id=person_id))
        s.flush()
        s.add(ConsentGrant(person_id=person_id, client_id=client.client_id, scopes=["openid"]))
    with db.session() as s:
        assert reg.remove_client(s, client.client_id)
    with db.session() as s:
        assert s.scalars(sa.select(ConsentGrant)).all() == []


def test_client_to_dict_is_an_rfc7591_response(db: Database) -> None:
    before = int(time.time())
    with db.session() as s:
        client, secret = reg.create_client(s, meta(post_logout_redirect_uris=[RP + "/bye"]))
    with db.session() as s:
        stored = reg.get_client(s, client.client_id)
    assert stored is not None
    shown = reg.client_to_dict(stored)
    assert "client_secret" not in shown
    assert "secret_hash" not in shown and str(stored.secret_hash) not in json.dumps(shown)
    assert shown["client_name#th"] == "กรมทดสอบ" and shown["client_name#en"] == "Test Department"
    assert shown["client_name"] == "กรมทดสอบ"
    assert shown["response_types"] == ["code"]
    assert shown["post_logout_redirect_uris"] == [RP + "/bye"]
    assert before - 1 <= shown["client_id_issued_at"] <= time.time() + 1
    with_secret = reg.client_to_dict(stored, secret)
    assert with_secret["client_secret"] == secret and with_secret["client_secret_expires_at"] == 0
    assert reg.validate_metadata(shown) == reg.stored_metadata(stored)


# --- the `idp clients` command ---------------------------------------------------------------


def run(database_url: str, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(clients_cli, list(args), input=input,
                              env={"IDP_DATABASE_URL": database_url})


def test_cli_add_json_round_trip(database_url: str, db: Database) -> None:
    result = run(database_url, "add", "--client-name-th", "กรมทดสอบ", "--client-name-en", "Dept",
                 "--redirect-uri", RP, "--redirect-uri", RP + "?x=1",
                 "--scope", "openid email", "--id-token-signed-response-alg", "RS256", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["client_name#th"] == "กรมทดสอบ"
    assert created["redirect_uris"] == [RP, RP + "?x=1"]
    assert created["id_token_signed_response_alg"] == "RS256"
    with db.session() as s:
        stored = reg.get_client(s, created["client_id"])
    assert stored is not None and reg.check_secret(stored, created["client_secret"])

    shown = run(database_url, "show", created["client_id"], "--json")
    assert shown.exit_code == 0, shown.output
    again = json.loads(shown.stdout)
    assert "client_secret" not in again
    assert again == {k: v for k, v in created.items()
                     if k not in ("client_secret", "client_secret_expires_at")}


def test_cli_add_readable_shows_the_secret_once_with_a_warning(database_url: str) -> None:
    result = run(database_url, "add", "--redirect-uri", RP, "--client-id", "agency-1")
    assert result.exit_code == 0, result.output
    assert "client_id: agency-1" in result.stdout
    secret_lines = [ln for ln in result.stdout.splitlines() if ln.startswith("client_secret:")]
    assert len(secret_lines) == 1
    assert "cannot be shown again" in result.stderr
    shown = run(database_url, "show", "agency-1")
    assert shown.exit_code == 0 and "client_secret:" not in shown.output
    assert secret_lines[0].split(": ", 1)[1] not in shown.output


def test_cli_add_from_file_with_options_winning(
        database_url: str, tmp_path: Path) -> None:
    doc = tmp_path / "client.json"
    doc.write_text(json.dumps({
        "client_name": "From File", "redirect_uris": [RP], "scope": "openid",
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [EC_PUBLIC_JWK]},
        "backchannel_logout_uri": "https://service.agency.go.th/bc-logout",
    }), encoding="utf-8")
    result = run(database_url, "add", "--file", str(doc), "--scope", "openid profile email",
                 "--client-name-en", "Option Name", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert "client_secret" not in created
    assert created["scope"] == "openid profile email"
    assert created["client_name#en"] == "Option Name"
    assert created["client_name#th"] == "From File"
    assert created["jwks"] == {"keys": [EC_PUBLIC_JWK]}
    assert created["backchannel_logout_uri"] == "https://service.agency.go.th/bc-logout"


@pytest.mark.parametrize(
    "args",
    [
        ("add", "--redirect-uri", "http://agency.go.th/cb"),
        ("add", "--redirect-uri", RP, "--token-endpoint-auth-method", "none"),
        ("add", "--file", "/nonexistent/client.json"),
        ("show", "nobody"),
        ("update", "nobody", "--scope", "openid"),
        ("rotate-secret", "nobody"),
        ("remove", "nobody", "--yes"),
    ],
)
def test_cli_errors_exit_2_with_a_message(database_url: str, args: tuple[str, ...]) -> None:
    result = run(database_url, *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")


def test_cli_bad_file_is_refused(database_url: str, tmp_path: Path) -> None:
    doc = tmp_path / "client.json"
    doc.write_text("[1, 2]", encoding="utf-8")
    result = run(database_url, "add", "--file", str(doc))
    assert result.exit_code == 2 and "JSON object" in result.stderr


def test_cli_unmigrated_database_says_run_init(tmp_path: Path) -> None:
    result = run(f"sqlite:///{tmp_path / 'empty.db'}", "list")
    assert result.exit_code == 2
    assert "run 'idp init' first" in result.stderr


def test_cli_list_update_rotate_remove(database_url: str, db: Database) -> None:
    created = json.loads(run(database_url, "add", "--redirect-uri", RP, "--json").stdout)
    cid, old = created["client_id"], created["client_secret"]

    listed = run(database_url, "list", "--json")
    assert [c["client_id"] for c in json.loads(listed.stdout)] == [cid]
    assert cid in run(database_url, "list").stdout

    updated = run(database_url, "update", cid, "--grant-type", "authorization_code",
                  "--post-logout-redirect-uri", RP + "/bye", "--json")
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.stdout)["grant_types"] == ["authorization_code"]
    refused = run(database_url, "update", cid, "--subject-type", "secret")
    assert refused.exit_code == 2 and "subject_type" in refused.stderr

    rotated = run(database_url, "rotate-secret", cid, "--json")
    assert rotated.exit_code == 0, rotated.output
    new = json.loads(rotated.stdout)["client_secret"]
    with db.session() as s:
        stored = reg.get_client(s, cid)
    assert stored is not None
    assert stored.post_logout_redirect_uris == [RP + "/bye"]
    assert reg.check_secret(stored, new) and not reg.check_secret(stored, old)

    kept = run(database_url, "remove", cid, input="n\n")
    assert kept.exit_code != 0
    removed = run(database_url, "remove", cid, "--yes")
    assert removed.exit_code == 0, removed.output
    with db.session() as s:
        assert reg.get_client(s, cid) is None


def test_cli_update_to_a_secret_method_issues_a_secret(database_url: str, db: Database) -> None:
    created = json.loads(run(
        database_url, "add", "--redirect-uri", RP, "--token-endpoint-auth-method",
        "private_key_jwt", "--jwks-uri", "https://service.agency.go.th/jwks", "--json").stdout)
    assert "client_secret" not in created
    updated = run(database_url, "update", created["client_id"], "--token-endpoint-auth-method",
                  "client_secret_post", "--json")
    assert updated.exit_code == 0, updated.output
    secret = json.loads(updated.stdout)["client_secret"]
    with db.session() as s:
        stored = reg.get_client(s, created["client_id"])
    assert stored is not None and reg.check_secret(stored, secret)


@pytest.mark.skipif(importlib.util.find_spec("idp.audit") is None,
                    reason="idp.audit is not written yet")
def test_cli_changes_are_audited_without_secrets(database_url: str, db: Database) -> None:
    created = json.loads(run(database_url, "add", "--redirect-uri", RP, "--json").stdout)
    cid = created["client_id"]
    rotated = json.loads(run(database_url, "rotate-secret", cid, "--json").stdout)
    assert run(database_url, "update", cid, "--scope", "openid").exit_code == 0
    assert run(database_url, "remove", cid, "--yes").exit_code == 0
    with db.session() as s:
        events = list(s.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)))
    assert [e.type for e in events if e.client_id == cid] == [
        "client.created", "client.secret_rotated", "client.updated", "client.removed"]
    dumped = json.dumps([e.data for e in events])
    assert created["client_secret"] not in dumped and rotated["client_secret"] not in dumped


# --- the FAPI 2.0 profile and encrypted responses ---------------------------------------------

FAPI2 = {"profile": "fapi2", "token_endpoint_auth_method": "private_key_jwt",
         "jwks": {"keys": [EC_PUBLIC_JWK]}}


def test_fapi2_pins_par_and_dpop_whatever_the_agency_asks() -> None:
    v = reg.validate_metadata(meta(**FAPI2, require_pushed_authorization_requests=False,
                                   dpop_bound_access_tokens=False))
    assert v["profile"] == "fapi2"
    assert v["require_pushed_authorization_requests"] is True
    assert v["dpop_bound_access_tokens"] is True
    basic = reg.validate_metadata(meta())
    assert (basic["profile"], basic["require_pushed_authorization_requests"],
            basic["dpop_bound_access_tokens"]) == ("basic", False, False)


@pytest.mark.parametrize("extra,words", [
    ({"token_endpoint_auth_method": "client_secret_basic", "jwks": None},
     "private_key_jwt only"),
    ({"id_token_signed_response_alg": "RS256"}, "PS256, ES256, EdDSA only"),
    ({"token_endpoint_auth_signing_alg": "RS256"}, "PS256, ES256, EdDSA only"),
    ({"profile": "fapi1"}, "profile"),
])
def test_fapi2_refuses_what_the_profile_forbids(extra: dict[str, Any], words: str) -> None:
    with pytest.raises(reg.ClientMetadataError) as err:
        reg.validate_metadata(meta(**{**FAPI2, **extra}))
    assert words in err.value.description


def test_encrypted_responses_need_an_ec_key_and_known_algorithms() -> None:
    v = reg.validate_metadata(meta(**FAPI2, id_token_encrypted_response_alg="ECDH-ES+A256KW",
                                   userinfo_encrypted_response_alg="ECDH-ES+A256KW",
                                   userinfo_encrypted_response_enc="A256CBC-HS512"))
    assert (v["id_token_encrypted_response_alg"], v["id_token_encrypted_response_enc"]) == \
        ("ECDH-ES+A256KW", "A256GCM")
    assert v["userinfo_encrypted_response_enc"] == "A256CBC-HS512"
    for bad, words in (
            ({"id_token_encrypted_response_enc": "A256GCM"}, "needs id_token_encrypted"),
            ({"id_token_encrypted_response_alg": "RSA1_5"}, "id_token_encrypted_response_alg"),
            ({"id_token_encrypted_response_alg": "ECDH-ES+A256KW",
              "id_token_encrypted_response_enc": "A128CBC-HS256"}, "_enc"),
            ({"id_token_encrypted_response_alg": "ECDH-ES+A256KW"}, "public key")):
        with pytest.raises(reg.ClientMetadataError) as err:
            reg.validate_metadata(meta(**bad))
        assert words in err.value.description, (bad, err.value.description)
    signing_only = {**EC_PUBLIC_JWK, "use": "sig"}
    with pytest.raises(reg.ClientMetadataError) as err:
        reg.validate_metadata(meta(jwks={"keys": [signing_only]},
                                   id_token_encrypted_response_alg="ECDH-ES+A256KW"))
    assert "EC key (use enc)" in err.value.description
