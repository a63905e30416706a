"""`idp clients`: register and manage agency clients from the command line.

Options are named after RFC 7591 metadata (`--redirect-uri` is `redirect_uris`, ...), and
`--file F.json` takes a registration document as an agency would send it, so what an operator
types, what an agency submits and what `--json` prints are the same names. All rules live in
`idp.clients`; this module only turns options into metadata and results into text.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from idp import clients as registry
from idp.cli_common import safe_url, settings_or_exit
from idp.db import Client, Database

F = TypeVar("F", bound=Callable[..., Any])

MAX_FILE_BYTES = 256 * 1024
ONCE_WARNING = (
    "warning: this client_secret is shown only now and cannot be shown again; store it "
    "safely (to replace it: idp clients rotate-secret CLIENT_ID)"
)

# (option, metadata name, repeatable)
METADATA_OPTIONS: tuple[tuple[str, str, bool], ...] = (
    ("--client-name-th", "client_name#th", False),
    ("--client-name-en", "client_name#en", False),
    ("--redirect-uri", "redirect_uris", True),
    ("--post-logout-redirect-uri", "post_logout_redirect_uris", True),
    ("--grant-type", "grant_types", True),
    ("--scope", "scope", False),
    ("--token-endpoint-auth-method", "token_endpoint_auth_method", False),
    ("--id-token-signed-response-alg", "id_token_signed_response_alg", False),
    ("--jwks-uri", "jwks_uri", False),
    ("--sector-identifier-uri", "sector_identifier_uri", False),
    ("--subject-type", "subject_type", False),
    ("--backchannel-logout-uri", "backchannel_logout_uri", False),
    ("--profile", "profile", False),
)


def _param(option: str) -> str:
    return option.removeprefix("--").replace("-", "_")


def _fail(message: str) -> NoReturn:
    """Every refusal looks the same to scripts: `error: ...` on stderr, exit status 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


# --- options into metadata -------------------------------------------------------------------


def metadata_options(func: F) -> F:
    """Attach one option per RFC 7591 metadata name, plus --file (options win over the file)."""
    for option, name, repeatable in reversed(METADATA_OPTIONS):
        help_text = f"{name} (repeatable)" if repeatable else name
        func = click.option(option, _param(option), multiple=repeatable, help=help_text)(func)
    func = click.option(
        "--backchannel-logout-session-required/--no-backchannel-logout-session-required",
        "backchannel_logout_session_required", default=None,
        help="backchannel_logout_session_required (default: required)")(func)
    func = click.option("--file", "file", type=click.Path(dir_okay=False, allow_dash=True),
                        help="RFC 7591 client metadata as a JSON file ('-' for stdin)")(func)
    return func


def _read_file(path: str) -> dict[str, Any]:
    """Load a metadata document, bounded in size so a wrong path cannot eat memory."""
    try:
        if path == "-":
            raw = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            with open(path, "rb") as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}")
    if len(raw) > MAX_FILE_BYTES:
        _fail(f"{path} is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(f"{path} is not valid UTF-8 JSON ({exc.__class__.__name__})")
    if not isinstance(meta, dict):
        _fail(f"{path} must hold a JSON object of client metadata")
    return meta


def collect_metadata(options: dict[str, Any]) -> dict[str, Any]:
    """Metadata from --file overlaid with the options actually given on the command line."""
    path = options.pop("file", None)
    meta = _read_file(path) if path else {}
    for option, name, repeatable in METADATA_OPTIONS:
        value = options.pop(_param(option), None)
        if value is None or (repeatable and not value):
            continue
        if name.startswith("client_name#"):
            meta.pop("client_name_" + name[-2:], None)  # the option beats the file's spelling
        meta[name] = list(value) if repeatable else value
    session_required = options.pop("backchannel_logout_session_required", None)
    if session_required is not None:
        meta["backchannel_logout_session_required"] = session_required
    return meta


def refuse_basic_when_fapi2_only(meta: dict[str, Any], fapi2_only: bool) -> None:
    """Under IDP_FAPI2_ONLY a basic client could never log anyone in (/authorize refuses it),
    so registering one, or turning one back to basic, is refused up front with the reason.
    Kept here, at the call site, so `idp.clients.validate_metadata` stays free of settings."""
    if fapi2_only and meta.get("profile", "basic") != "fapi2":
        _fail("IDP_FAPI2_ONLY is on: only clients with profile fapi2 can be registered "
              "(give --profile fapi2 with private_key_jwt and --jwks-uri, or \"profile\": "
              "\"fapi2\" in --file)")


def refuse_basic_update_when_fapi2_only(meta: dict[str, Any], fapi2_only: bool) -> None:
    """An update may leave an existing client as it is, but not make one basic again."""
    if fapi2_only and "profile" in meta:
        refuse_basic_when_fapi2_only(meta, fapi2_only)


# --- database --------------------------------------------------------------------------------


@contextmanager
def _session() -> Iterator[Session]:
    """A committed-on-success session on the configured database, with failures mapped to
    `error:` lines: a missing table means the operator skipped `idp init`."""
    settings = settings_or_exit()
    db = Database(settings.database_url)
    try:
        if not inspect(db.engine).has_table(Client.__tablename__):
            _fail("the database has no client table; run 'idp init' first")
        with db.session() as s:
            yield s
    except registry.ClientMetadataError as exc:
        _fail(f"{exc.error}: {exc.description}")
    except registry.ClientNotFoundError as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        url = safe_url(settings.database_url)
        _fail(f"database error on {url} ({exc.__class__.__name__}); run 'idp init' first if "
              "the database is new")
    finally:
        db.engine.dispose()


def _audit(session: Session, event_type: str, client_id: str, **data: Any) -> None:
    """Record the change in the audit trail, in the same transaction as the change itself.
    Secrets are never passed. Skipped only where the audit module is not installed."""
    if importlib.util.find_spec("idp.audit") is None:
        return
    audit = importlib.import_module("idp.audit")
    audit.record(session, event_type, client_id=client_id, via="cli", **data)


# --- output ----------------------------------------------------------------------------------


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _echo_client(data: dict[str, Any]) -> None:
    for key, value in data.items():
        if key == "client_secret":
            continue
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value
        click.echo(f"{key}: {shown}")


def _echo_secret(secret: str) -> None:
    click.echo(f"client_secret: {secret}")
    click.echo(ONCE_WARNING, err=True)


def _show(client: Client, secret: str | None, as_json: bool) -> None:
    data = registry.client_to_dict(client, secret)
    if as_json:
        _echo_json(data)
        return
    _echo_client(data)
    if secret is not None:
        _echo_secret(secret)


# --- commands --------------------------------------------------------------------------------


@click.group()
def clients() -> None:
    """Register and manage agency clients (RFC 7591 metadata names)."""


@clients.command()
@metadata_options
@click.option("--client-id", help="use this client_id instead of a generated one")
@click.option("--json", "as_json", is_flag=True, help="print the client as RFC 7591 JSON")
def add(client_id: str | None, as_json: bool, **options: Any) -> None:
    """Register a client; its secret is printed this once."""
    meta = collect_metadata(options)
    refuse_basic_when_fapi2_only(meta, settings_or_exit().fapi2_only)
    with _session() as s:
        client, secret = registry.create_client(s, meta, client_id)
        _audit(s, "client.created", client.client_id)
    _show(client, secret, as_json)


@clients.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="print the clients as a JSON array")
def list_(as_json: bool) -> None:
    """List registered clients."""
    with _session() as s:
        rows = [registry.client_to_dict(c) for c in registry.list_clients(s)]
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['client_id']}\t{row.get('client_name', '')}\t"
                   f"{' '.join(row['grant_types'])}\t{row['token_endpoint_auth_method']}")


@clients.command()
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="print the client as RFC 7591 JSON")
def show(client_id: str, as_json: bool) -> None:
    """Show one client's metadata (never its secret)."""
    with _session() as s:
        client = registry.get_client(s, client_id)
        if client is None:
            raise registry.ClientNotFoundError(client_id)
    _show(client, None, as_json)


@clients.command()
@click.argument("client_id")
@metadata_options
@click.option("--json", "as_json", is_flag=True, help="print the client as RFC 7591 JSON")
def update(client_id: str, as_json: bool, **options: Any) -> None:
    """Change some metadata; the result is checked as a whole. A client moved to a secret-based
    auth method gets a new secret, printed this once."""
    meta = collect_metadata(options)
    if not meta:
        _fail("nothing to update; give metadata options or --file")
    refuse_basic_update_when_fapi2_only(meta, settings_or_exit().fapi2_only)
    with _session() as s:
        client = registry.update_client(s, client_id, meta)
        _audit(s, "client.updated", client_id, fields=sorted(meta))
        secret = None
        if registry.uses_secret(client.token_endpoint_auth_method) and not client.secret_hash:
            secret = registry.rotate_secret(s, client_id)
            _audit(s, "client.secret_rotated", client_id)
    _show(client, secret, as_json)


@clients.command(name="rotate-secret")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="print client_id and the new secret as JSON")
def rotate_secret(client_id: str, as_json: bool) -> None:
    """Issue a new secret; the old one stops working at once."""
    with _session() as s:
        secret = registry.rotate_secret(s, client_id)
        _audit(s, "client.secret_rotated", client_id)
    if as_json:
        _echo_json({"client_id": client_id, "client_secret": secret,
                    "client_secret_expires_at": 0})
        return
    click.echo(f"client_id: {client_id}")
    _echo_secret(secret)


@clients.command()
@click.argument("client_id")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def remove(client_id: str, yes: bool) -> None:
    """Delete a client with its consents, grants and tokens."""
    if not yes:
        click.confirm(f"remove client {client_id} with its consents, grants and tokens?",
                      abort=True)
    with _session() as s:
        if not registry.remove_client(s, client_id):
            raise registry.ClientNotFoundError(client_id)
        _audit(s, "client.removed", client_id)
    click.echo(f"removed client {client_id}")
