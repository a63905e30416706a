"""`idp clients seal CLIENT_ID --org-id ...` on a real database (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set): it makes the agency's seal key and its certificate from the seal CA,
naming the organisation and its organizationIdentifier; provisioning again is refused unless
`--replace`, which revokes the old certificate; an unknown client, a malformed organisation
identifier or algorithm are one `error:` line and a non-zero exit. The certificate is read back
from the database and checked with `cryptography`."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import func, select

from idp import clients as reg
from idp.cli import main
from idp.csc.seals import active_seal, seal_by_id
from idp.db import AuditEvent, Certificate, Database, SealCredential
from idp.pki import Pki
from idp.provider import open_backend
from idp.settings import Settings
from keys import ca as profiles
from tests.conftest import TEST_KEK

ORG_ID = "NTRTH-0994000000001"
RP = "https://agency.example.go.th/cb"
OUTPUT = re.compile(r"^seal credential (?P<id>[0-9a-f-]{36}) for (?P<client>\S+): certificate "
                    r"serial (?P<serial>[0-9a-f]+), subject (?P<subject>.+)$")


@dataclass
class SealCli:
    settings: Settings
    env: dict[str, str]
    pki: Pki

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["clients", "seal", *args], env=self.env)

    def ca(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["ca", *args], env=self.env)

    def add_client(self, client_id: str, **extra: Any) -> str:
        meta = {"client_name#th": "กรมทดสอบ", "client_name#en": "Department of Testing",
                "redirect_uris": [RP], "grant_types": ["client_credentials"], "scope": "seal",
                **extra}
        with self.pki.db.session() as s:
            client, _ = reg.create_client(s, meta, client_id=client_id)
            return client.client_id


@pytest.fixture
def cli(settings: Settings) -> Iterator[SealCli]:
    env = {"IDP_DATABASE_URL": settings.database_url, "IDP_KEK": TEST_KEK,
           "IDP_ISSUER": settings.issuer, "IDP_KEY_BACKEND": "software"}
    pki = Pki(Database(settings.database_url), open_backend(settings), settings.issuer)
    yield SealCli(settings, env, pki)
    pki.db.engine.dispose()


def parsed(result: Result) -> re.Match[str]:
    assert result.exit_code == 0, result.output
    match = OUTPUT.match(result.stdout.strip())
    assert match is not None, result.stdout
    return match


def cert_row(pki: Pki, serial: str) -> Certificate:
    with pki.db.session() as s:
        row = s.get(Certificate, serial)
        assert row is not None
        s.expunge(row)
        return row


def seal_rows(pki: Pki, client_id: str) -> list[SealCredential]:
    with pki.db.session() as s:
        rows = list(s.scalars(select(SealCredential)
                              .where(SealCredential.client_id == client_id)
                              .order_by(SealCredential.created_at)))
        for r in rows:
            s.expunge(r)
        return rows


def audit_count(pki: Pki, type_: str) -> int:
    with pki.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.type == type_)) or 0)


# --- provisioning ------------------------------------------------------------------------------


def test_seal_is_provisioned_with_an_organisation_certificate(cli: SealCli) -> None:
    client_id = cli.add_client("dept-testing")
    out = parsed(cli.run(client_id, "--org-id", ORG_ID))
    assert out["client"] == client_id

    seal = active_seal(cli.pki, client_id)
    assert seal is not None
    assert seal.id == out["id"] and seal.serial == out["serial"]
    assert seal.org_id == ORG_ID and seal.alg == "ES256"
    assert seal.key.backend == "software" and "sealed" in seal.key.ref
    cert = seal.certificate
    assert profiles.serial_hex(cert.serial_number) == out["serial"]
    assert cert.subject.rfc4514_string() == out["subject"]

    # Subject: the legal person of EN 319 412-3, named after the client's English name.
    def attr(oid: x509.ObjectIdentifier) -> list[str]:
        return [str(a.value) for a in cert.subject.get_attributes_for_oid(oid)]

    assert attr(NameOID.ORGANIZATION_IDENTIFIER) == [ORG_ID]
    assert attr(NameOID.ORGANIZATION_NAME) == ["Department of Testing"]
    assert attr(NameOID.COUNTRY_NAME) == ["TH"]
    assert attr(NameOID.COMMON_NAME) == ["Department of Testing"]

    # Issued by the seal CA, and its key is the seal key's.
    seal_ca = cli.pki.ca("seal").cert
    assert cert.issuer == seal_ca.subject
    seal_ca_key = seal_ca.public_key()
    assert isinstance(seal_ca_key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey))
    cert.verify_directly_issued_by(seal_ca)
    assert cert.public_key() == seal.key.public_key()
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)

    # A signing certificate, not a CA and not for anything else.
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    ku = usage.value
    assert ku.digital_signature and ku.content_commitment
    assert not (ku.key_encipherment or ku.data_encipherment or ku.key_agreement
                or ku.key_cert_sign or ku.crl_sign)
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == [profiles.POLICY_SEAL]
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    assert eku is None or ExtendedKeyUsageOID.TIME_STAMPING not in eku

    row = cert_row(cli.pki, out["serial"])
    assert row.status == "good" and row.profile == "agency_seal"
    assert row.issuer_id == "seal" and row.client_id == client_id
    assert audit_count(cli.pki, "signing.seal_issued") == 1


def test_org_name_and_algorithm_options(cli: SealCli) -> None:
    client_id = cli.add_client("dept-rsa")
    out = parsed(cli.run(client_id, "--org-id", "GOVTH-DGA", "--org-name", "สำนักงานทดสอบ",
                         "--alg", "RS256"))
    seal = seal_by_id(cli.pki, out["id"])
    assert seal is not None and seal.alg == "RS256"
    public = seal.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size >= 2048
    names = seal.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [a.value for a in names] == ["สำนักงานทดสอบ"]
    ids = seal.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    assert [a.value for a in ids] == ["GOVTH-DGA"]


def test_a_second_seal_is_refused_without_replace(cli: SealCli) -> None:
    client_id = cli.add_client("dept-twice")
    first = parsed(cli.run(client_id, "--org-id", ORG_ID))
    again = cli.run(client_id, "--org-id", ORG_ID)
    assert again.exit_code == 2
    assert again.stderr.strip() == ("error: this client already has a seal; use --replace to "
                                    "make a new one")
    assert again.stdout == ""
    # Nothing changed: the first seal is still the active one, and no certificate was issued.
    seal = active_seal(cli.pki, client_id)
    assert seal is not None and seal.id == first["id"]
    assert len(seal_rows(cli.pki, client_id)) == 1
    assert audit_count(cli.pki, "signing.seal_issued") == 1


def test_replace_revokes_the_old_seal_and_makes_a_new_one(cli: SealCli) -> None:
    client_id = cli.add_client("dept-replace")
    first = parsed(cli.run(client_id, "--org-id", ORG_ID))
    second = parsed(cli.run(client_id, "--org-id", "NTRTH-0994000000002", "--replace"))
    assert second["id"] != first["id"] and second["serial"] != first["serial"]

    seal = active_seal(cli.pki, client_id)
    assert seal is not None and seal.id == second["id"] and seal.org_id == "NTRTH-0994000000002"
    ids = seal.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    assert [a.value for a in ids] == ["NTRTH-0994000000002"]

    old = cert_row(cli.pki, first["serial"])
    assert old.status == "revoked" and old.revocation_reason == "superseded"
    assert cert_row(cli.pki, second["serial"]).status == "good"
    assert seal_by_id(cli.pki, first["id"]) is None
    rows = {r.id: r for r in seal_rows(cli.pki, client_id)}
    assert rows[first["id"]].status == "revoked" and rows[first["id"]].active_client_id is None
    assert rows[first["id"]].revoked_at is not None
    assert rows[second["id"]].status == "active"
    assert audit_count(cli.pki, "signing.seal_revoked") == 1
    assert audit_count(cli.pki, "signing.seal_issued") == 2

    # The old certificate's revocation is public: `idp ca list` shows it revoked.
    listed = cli.ca("list", "--ca", "seal")
    assert listed.exit_code == 0, listed.output
    line = next(ln for ln in listed.stdout.splitlines() if ln.startswith(first["serial"]))
    assert "\trevoked\t" in line and "(superseded)" in line


def test_replace_without_an_existing_seal_just_provisions(cli: SealCli) -> None:
    client_id = cli.add_client("dept-fresh")
    out = parsed(cli.run(client_id, "--org-id", ORG_ID, "--replace"))
    assert active_seal(cli.pki, client_id) is not None
    assert audit_count(cli.pki, "signing.seal_revoked") == 0
    assert cert_row(cli.pki, out["serial"]).status == "good"


# --- refusals ----------------------------------------------------------------------------------


def test_unknown_client_is_a_clear_error(cli: SealCli) -> None:
    result = cli.run("no-such-client", "--org-id", ORG_ID)
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: no such client"
    assert result.stdout == "" and "Traceback" not in result.output
    assert seal_rows(cli.pki, "no-such-client") == []


@pytest.mark.parametrize("org_id", [
    "0994000000001",  # no scheme
    "NTRTH 0994000000001",  # a space, not a dash
    "ntrth-0994000000001",  # lower-case scheme
    "XYZTH-123",  # an unknown scheme
    "NTRTH-",  # no value
    "NTRTH-" + "1" * 61,  # too long
    "NTRTH-0994000000001\nCN=evil",  # a line break
])
def test_bad_org_id_is_refused(cli: SealCli, org_id: str) -> None:
    client_id = cli.add_client("dept-bad-org")
    result = cli.run(client_id, "--org-id", org_id)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: organizationIdentifier must look like NTRTH-")
    assert result.stdout == ""
    assert active_seal(cli.pki, client_id) is None and seal_rows(cli.pki, client_id) == []


def test_missing_org_id_and_unknown_alg_are_usage_errors(cli: SealCli) -> None:
    client_id = cli.add_client("dept-usage")
    missing = cli.run(client_id)
    assert missing.exit_code == 2 and "Missing option '--org-id'" in missing.output
    eddsa = cli.run(client_id, "--org-id", ORG_ID, "--alg", "EdDSA")
    assert eddsa.exit_code == 2 and "Invalid value for '--alg'" in eddsa.output
    assert seal_rows(cli.pki, client_id) == []


def test_a_client_without_a_name_needs_org_name(cli: SealCli) -> None:
    client_id = cli.add_client("dept-nameless", **{"client_name#th": None,
                                                   "client_name#en": None})
    result = cli.run(client_id, "--org-id", ORG_ID)
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: the organisation needs a name (--org-name)"
    assert parsed(cli.run(client_id, "--org-id", ORG_ID, "--org-name", "Nameless Office"))


def test_a_wrong_kek_is_a_clear_error(cli: SealCli) -> None:
    """With another KEK the seal CA's key cannot be used: one error line, no seal, no key."""
    parsed(cli.run(cli.add_client("dept-first"), "--org-id", ORG_ID))  # makes the hierarchy
    client_id = cli.add_client("dept-other-kek")
    other_kek = base64.b64encode(b"another-kek-32-bytes-long-------").decode()
    result = CliRunner().invoke(main, ["clients", "seal", client_id, "--org-id", ORG_ID],
                                env={**cli.env, "IDP_KEK": other_kek})
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: key backend: ")
    assert "another key-encryption key" in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    assert seal_rows(cli.pki, client_id) == []



# --- revocation --------------------------------------------------------------------------------
# `clients seal` has no revoke subcommand: `--replace` revokes the old seal (above), and an
# operator revokes a seal certificate like any other, with `idp ca revoke SERIAL`.


def test_ca_revoke_takes_the_seal_out_of_use(cli: SealCli) -> None:
    client_id = cli.add_client("dept-revoked")
    out = parsed(cli.run(client_id, "--org-id", ORG_ID))
    revoked = cli.ca("revoke", out["serial"], "--reason", "keyCompromise")
    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout.strip() == f"revoked: {out['serial']} (keyCompromise)"
    row = cert_row(cli.pki, out["serial"])
    assert row.status == "revoked" and row.revocation_reason == "keyCompromise"
    # Neither lookup the CSC API uses finds it any more.
    assert active_seal(cli.pki, client_id) is None
    assert seal_by_id(cli.pki, out["id"]) is None


def test_a_new_seal_after_the_old_certificate_was_revoked(cli: SealCli) -> None:
    client_id = cli.add_client("dept-reissue")
    first = parsed(cli.run(client_id, "--org-id", ORG_ID))
    assert cli.ca("revoke", first["serial"], "--reason", "keyCompromise").exit_code == 0
    second = parsed(cli.run(client_id, "--org-id", ORG_ID))
    seal = active_seal(cli.pki, client_id)
    assert seal is not None and seal.id == second["id"]
    with cli.pki.db.session() as s:
        good = list(s.scalars(select(Certificate.serial).where(
            Certificate.client_id == client_id, Certificate.status == "good")))
    assert good == [second["serial"]]
