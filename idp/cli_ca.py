"""`idp ca`: the operator's handle on the provider's certificate authority.

    idp ca init [--org ORG]                      create the hierarchy (root, citizen, seal, tsa,
                                                 OCSP responders); safe to run again
    idp ca issue --ca CA --profile P --subject 'CN=..,O=..' (--public-key F.pem | --generate)
                 [--consent-pnoth --th-id N] [--days N] [--out F]
    idp ca revoke SERIAL [--reason R]
    idp ca list [--ca CA] [--json]               issued certificates
    idp ca authorities [--json]                  the CAs and service keys
    idp ca crl CA [--out F] [--pem]              a freshly signed (or cached) CRL
    idp ca import CA_ID --cert F [--key F] [--password-file F]
    idp ca export CA_ID [--pem] [--out F]

All rules live in `idp.pki` and `keys.ca`; this module turns options into calls and results
into text. Refusals print `error: ...` and exit 2. Private keys never leave the backend: an
imported key is moved into it, and `--generate` makes the key there.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.exc import SQLAlchemyError

from idp.cli_common import safe_url, settings_or_exit
from idp.db import Database
from idp.pki import CaRecord, Pki
from keys import ca as profiles
from keys.backend import KeyBackendError

MAX_FILE_BYTES = 1024 * 1024


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@contextmanager
def _pki() -> Iterator[Pki]:
    from idp.provider import open_backend

    settings = settings_or_exit()
    database = Database(settings.database_url)
    try:
        yield Pki(database, open_backend(settings), settings.issuer)
    except SQLAlchemyError as exc:
        _fail(f"cannot use the database at {safe_url(settings.database_url)} "
              f"({type(exc).__name__}); has `idp init` been run?")
    except KeyBackendError as exc:
        _fail(f"key backend: {exc}")
    except KeyError as exc:
        _fail(f"unknown: {exc.args[0] if exc.args else ''}")
    except ValueError as exc:
        _fail(str(exc))
    finally:
        database.engine.dispose()


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError:
        _fail(f"cannot read the {what} file {path}")
    if len(data) > MAX_FILE_BYTES:
        _fail(f"the {what} file is larger than {MAX_FILE_BYTES} bytes")
    return data


def _write(data: bytes, out: str | None) -> None:
    if out:
        Path(out).write_bytes(data)
        click.echo(f"written: {out}", err=True)
    else:
        stream: BinaryIO = sys.stdout.buffer
        stream.write(data)
        stream.flush()


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@click.group()
def ca() -> None:
    """The certificate authority: hierarchy, issuance, revocation, CRLs."""


@ca.command()
@click.option("--org", default="Thai Digital ID (sandbox)", show_default=True,
              help="Organisation name in the CA certificates.")
def init(org: str) -> None:
    """Migrate the database and create whatever part of the CA hierarchy is missing."""
    from idp.cli import _migrate

    _migrate(settings_or_exit())
    with _pki() as pki:
        for record in pki.init_hierarchy(org=org):
            click.echo(_authority_line(record))


@ca.command()
@click.option("--ca", "ca_id", required=True, help="Issuing CA id (citizen, seal, root, ...).")
@click.option("--profile", required=True,
              help="citizen_signing, agency_seal, tsa_unit or ocsp_responder "
                   "(or citizen, seal, tsa, ocsp).")
@click.option("--public-key", "public_key_file", type=click.Path(dir_okay=False),
              help="The subject's public key (PEM or DER SubjectPublicKeyInfo).")
@click.option("--generate", is_flag=True,
              help="Make the key in the backend (service keys: tsa_unit, ocsp_responder) "
                   "and keep it as a service entry named by --id.")
@click.option("--id", "service_id", help="Id of the service entry made with --generate.")
@click.option("--alg", default=profiles.END_ENTITY_ALG, show_default=True,
              help="Algorithm of a key made with --generate (ES256, ES384, RS256, EdDSA).")
@click.option("--subject", required=True, help="'CN=...,O=...,organizationIdentifier=...'")
@click.option("--consent-pnoth", is_flag=True,
              help="The holder consented to their ID number as PNOTH-<id> serialNumber.")
@click.option("--th-id", help="The holder's 13-digit Thai ID number (with --consent-pnoth).")
@click.option("--person-id", help="The holder's person id (recorded, audited).")
@click.option("--client-id", help="The agency client id (recorded, audited).")
@click.option("--days", type=click.IntRange(1, profiles.DAYS["root_ca"]),
              help="Validity in days (default per profile).")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the PEM here.")
def issue(ca_id: str, profile: str, public_key_file: str | None, generate: bool,
          service_id: str | None, alg: str, subject: str, consent_pnoth: bool,
          th_id: str | None, person_id: str | None, client_id: str | None,
          days: int | None, out: str | None) -> None:
    """Issue a certificate; prints it as PEM (the serial goes to stderr)."""
    if generate == bool(public_key_file):
        _fail("give exactly one of --public-key FILE and --generate")
    if th_id and not consent_pnoth:
        _fail("--th-id goes into the certificate only with --consent-pnoth")
    with _pki() as pki:
        attrs = profiles.parse_dn(subject)
        if generate:
            if not service_id:
                _fail("--generate needs --id NAME for the service entry")
            record = pki.new_service(service_id, ca_id, profile, attrs, alg=alg, days=days)
            cert = record.cert
        else:
            assert public_key_file is not None
            public_key = _load_public_key(_read(public_key_file, "public key"))
            cert = pki.issue(ca_id, profile, public_key, attrs, person_id=person_id,
                             client_id=client_id, consent_pnoth=consent_pnoth, th_id=th_id,
                             days=days)
    click.echo(f"serial: {profiles.serial_hex(cert.serial_number)}", err=True)
    _write(_pem(cert), out)


def _load_public_key(data: bytes) -> Any:
    try:
        if b"-----BEGIN CERTIFICATE" in data:
            return x509.load_pem_x509_certificate(data).public_key()
        if b"-----BEGIN" in data:
            return serialization.load_pem_public_key(data)
        return serialization.load_der_public_key(data)
    except ValueError:
        _fail("the public key file is not a PEM or DER public key")


@ca.command()
@click.argument("serial")
@click.option("--reason", default="unspecified", show_default=True,
              help="keyCompromise, cACompromise, affiliationChanged, superseded, "
                   "cessationOfOperation, privilegeWithdrawn, aACompromise, unspecified.")
def revoke(serial: str, reason: str) -> None:
    """Revoke a certificate by its serial (hex); the next CRL and OCSP answer show it."""
    with _pki() as pki:
        pki.revoke(serial, reason)
    click.echo(f"revoked: {profiles.serial_hex(profiles.parse_serial(serial))} ({reason})")


@ca.command("list")
@click.option("--ca", "ca_id", help="Only certificates this CA issued.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_certificates(ca_id: str | None, limit: int, as_json: bool) -> None:
    """Issued certificates, oldest first (ID numbers masked)."""
    with _pki() as pki:
        rows = pki.list_certificates(ca_id, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no certificates")
    for r in rows:
        revoked = f" revoked {r['revoked_at']} ({r['revocation_reason']})" \
            if r["status"] == "revoked" else ""
        click.echo(f"{r['serial']}\t{r['issuer_id']}\t{r['profile']}\t{r['status']}"
                   f"\tuntil {r['not_after']}\t{r['subject']}{revoked}")


def _authority_line(record: CaRecord) -> str:
    flags = (" imported" if record.imported else "") + ("" if record.can_sign else " no-key")
    return (f"{record.id}\t{record.kind}\tparent={record.parent_id or '-'}\t{record.key.alg}"
            f"\t{record.key.backend}{flags}\tuntil {record.cert.not_valid_after_utc.isoformat()}"
            f"\t{profiles.subject_text(record.cert.subject)}")


@ca.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def authorities(as_json: bool) -> None:
    """The CAs and service keys (TSA, OCSP responders)."""
    with _pki() as pki:
        records = pki.cas()
    if as_json:
        click.echo(json.dumps([{
            "id": r.id, "kind": r.kind, "parent_id": r.parent_id, "alg": r.key.alg,
            "backend": r.key.backend, "imported": r.imported, "can_sign": r.can_sign,
            "serial": profiles.serial_hex(r.cert.serial_number),
            "subject": profiles.subject_text(r.cert.subject),
            "not_after": r.cert.not_valid_after_utc.isoformat(),
        } for r in records], ensure_ascii=False, indent=2))
        return
    for record in records:
        click.echo(_authority_line(record))
    if not records:
        click.echo("no CAs (run: idp ca init)")


@ca.command()
@click.argument("ca_id")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the CRL here.")
@click.option("--pem", is_flag=True, help="PEM instead of DER.")
def crl(ca_id: str, out: str | None, pem: bool) -> None:
    """The CA's current CRL (DER by default)."""
    with _pki() as pki:
        der = pki.crl_der(ca_id)
    if pem:
        der = x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
    _write(der, out)


@ca.command("import")
@click.argument("ca_id")
@click.option("--cert", "cert_file", required=True, type=click.Path(dir_okay=False),
              help="The CA certificate (PEM or DER).")
@click.option("--key", "key_file", type=click.Path(dir_okay=False),
              help="Its private key (PEM or DER, PKCS#8 or traditional); moved into the "
                   "key backend. Without it the CA is only a trust anchor.")
@click.option("--password-file", type=click.Path(dir_okay=False),
              help="File holding the key's password (first line).")
def import_ca(ca_id: str, cert_file: str, key_file: str | None,
              password_file: str | None) -> None:
    """Take in an external CA (e.g. an issuing CA that chains to a national root)."""
    cert_data = _read(cert_file, "certificate")
    key_data = _read(key_file, "key") if key_file else None
    password = ((_read(password_file, "password").splitlines() or [b""])[0]
                if password_file else None)
    with _pki() as pki:
        record = pki.import_ca(ca_id, cert_data, key_data, password)
    click.echo(_authority_line(record))


@ca.command()
@click.argument("ca_id")
@click.option("--pem", is_flag=True, help="PEM instead of DER.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the certificate here.")
def export(ca_id: str, pem: bool, out: str | None) -> None:
    """A CA's (or service entry's) certificate, DER by default."""
    with _pki() as pki:
        cert = pki.ca(ca_id).cert
    _write(_pem(cert) if pem else cert.public_bytes(serialization.Encoding.DER), out)
