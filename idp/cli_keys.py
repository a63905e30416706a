"""`idp keys`: the operator's view of the token signing keys and their lifecycle.

Keys go next -> active -> retired -> removed (see keys.lifecycle). Nothing here prints key
material: `list` shows identifiers, states and dates. A rotation made here reaches running
servers within keys.tokens.RELOAD_SECONDS, without a restart.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn

import click
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from idp import keystore
from idp.cli_common import safe_url, settings_or_exit
from idp.db import Database, SigningKey
from idp.settings import Settings
from keys.backend import KeyBackend, KeyBackendError
from keys.lifecycle import Transition
from keys.software import new_kek
from keys.tokens import SUPPORTED_ALGS


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@contextmanager
def _database(settings: Settings) -> Iterator[Database]:
    """The configured database, with failures turned into one `error:` line (exit 2)."""
    db = Database(settings.database_url)
    url = safe_url(settings.database_url)
    try:
        if not inspect(db.engine).has_table(SigningKey.__tablename__):
            _fail(f"the database at {url} has no signing_key table; run 'idp init' first")
        yield db
    except SQLAlchemyError as exc:
        _fail(f"database error on {url} ({type(exc).__name__})")
    except (KeyBackendError, keystore.KeyStoreError, ValueError, LookupError) as exc:
        _fail(str(exc))
    finally:
        db.engine.dispose()


def _backend(settings: Settings) -> KeyBackend:
    from idp.provider import open_backend

    try:
        return open_backend(settings)
    except KeyBackendError as exc:
        _fail(str(exc))


def _date(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at is not None else None


def _report(steps: list[Transition]) -> None:
    if not steps:
        click.echo("nothing to do")
    for t in steps:
        verb = {"create": f"created {t.state}", "activate": "activated", "retire": "retired",
                "remove": "removed"}.get(t.action, t.action)
        reason = f" ({t.reason})" if t.reason else ""
        click.echo(f"{t.alg}\t{verb}\t{t.kid}{reason}")


@click.group()
def keys() -> None:
    """Token signing keys: list, rotate, retire; make a key-encryption key."""


@keys.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="print the keys as a JSON array")
def list_(as_json: bool) -> None:
    """List signing keys, oldest first: kid, algorithm, state and dates (never key material)."""
    settings = settings_or_exit()
    with _database(settings) as db:
        rows = keystore.list_keys(db)
    data: list[dict[str, Any]] = [
        {name: (_date(value) if isinstance(value, datetime) or value is None else value)
         for name, value in row.items()} for row in rows]
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo("kid\talg\tstate\tcreated\tactivated\tretired\tremoved")
    for row in data:
        click.echo("\t".join(str(row[name] or "-") for name in (
            "kid", "alg", "state", "created_at", "activated_at", "retired_at", "removed_at")))


@keys.command()
@click.option("--alg", type=click.Choice(SUPPORTED_ALGS), help="rotate this algorithm's key")
@click.option("--all", "all_", is_flag=True, help="rotate the keys of every algorithm")
@click.option("--due", is_flag=True,
              help="only keys active longer than IDP_KEY_ROTATION_DAYS (and remove retired "
                   "keys whose tokens have all expired); for a daily cron job")
def rotate(alg: str | None, all_: bool, due: bool) -> None:
    """Rotate: the next key becomes active, the active key retires (it stays published until
    its tokens expire), and a new next key is made."""
    if alg and all_:
        _fail("give either --alg or --all, not both")
    if not (alg or all_ or due):
        _fail("give --alg ALG, --all or --due")
    settings = settings_or_exit()
    backend = _backend(settings)
    algs = [alg] if alg else keystore.algorithms(backend)
    with _database(settings) as db:
        if due:
            steps = keystore.rotate_due(db, backend, settings, algs)
        else:
            steps = [t for a in algs for t in keystore.rotate(db, backend, a)]
    _report(steps)


@keys.command()
@click.argument("kid")
def retire(kid: str) -> None:
    """Withdraw one key now. An active key is replaced by its next key; the key stays
    published until the tokens it signed have expired."""
    settings = settings_or_exit()
    backend = _backend(settings)
    with _database(settings) as db:
        steps = keystore.retire(db, backend, kid)
    _report(steps)


@keys.command(name="new-kek")
def new_kek_() -> None:
    """Print a fresh key-encryption key (32 random bytes, base64) for software keys."""
    click.echo(new_kek())
    click.echo("store it in a file readable only by the service account (for example "
               "install -m 0400 -o idp /dev/stdin /etc/idp/kek) and set IDP_KEK_FILE to its "
               "path; keep a copy apart from database backups: without it the stored keys "
               "cannot be used", err=True)
