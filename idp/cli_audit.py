"""`idp audit verify | list`: the operator's view of the hash-chained audit trail.

`verify` exits 0 when the chain is intact and 1 when it is broken, so a cron job or monitoring
check can alert on tampering without parsing output. Exit 2 means the trail could not be read
at all (no database, not migrated): a different alarm from tampering, so a different code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from idp import audit as audit_log
from idp.cli_common import safe_url, settings_or_exit
from idp.db import AuditEvent, Database

EXIT_BROKEN = 1
EXIT_UNREADABLE = 2


@click.group()
def audit() -> None:
    """Check and read the append-only audit trail."""


@audit.command()
def verify() -> None:
    """Seal events not yet chained, then recompute every hash and link; exit 1 if the chain
    is broken. On a database that cannot be written (a standby), the events not yet sealed
    are counted instead."""
    with _session() as session:
        try:
            with session.begin_nested():
                while audit_log.seal(session) == audit_log.SEAL_BATCH:
                    pass
        except SQLAlchemyError:
            pass  # read-only: verify what is sealed, and say how much is not
        result = audit_log.verify(session)
    if result.ok:
        click.echo(f"audit chain ok: {result.count} events")
        if result.pending:
            click.echo(f"{result.pending} newer events are not sealed yet (this database "
                       f"cannot be written; run the check on the primary to seal them)")
        return
    click.echo(f"audit chain BROKEN at event {result.first_bad_seq}: {result.reason}")
    sys.exit(EXIT_BROKEN)


@audit.command("list")
@click.option("--person", "person_id", help="Only this person's events.")
@click.option("--type", "event_type", help="Only events of this type, e.g. login.success.")
@click.option("--limit", default=50, show_default=True,
              type=click.IntRange(1, audit_log.MAX_LIST_LIMIT), help="At most N events.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of lines.")
def list_events(person_id: str | None, event_type: str | None, limit: int, as_json: bool) -> None:
    """Print events, newest first."""
    with _session() as session:
        events = audit_log.list_events(
            session, person_id=person_id, type=event_type, limit=limit
        )
        click.echo(_as_json(events) if as_json else _as_lines(events))


@contextmanager
def _session() -> Iterator[Session]:
    """A session on the configured database; unreadable databases exit 2 with a clear line.

    Only the password-free URL is printed: operators paste this output into tickets.
    """
    settings = settings_or_exit()
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            yield session
    except SQLAlchemyError as exc:
        click.echo(f"cannot read the audit trail at {safe_url(settings.database_url)} "
                   f"({type(exc).__name__}); has `idp init` been run?", err=True)
        sys.exit(EXIT_UNREADABLE)
    finally:
        database.engine.dispose()


def _as_json(events: Sequence[AuditEvent]) -> str:
    return json.dumps([audit_log.as_dict(e) for e in events], ensure_ascii=False, indent=2)


def _as_lines(events: Sequence[AuditEvent]) -> str:
    return "\n".join(_as_line(e) for e in events) if events else "no events"


def _as_line(event: AuditEvent) -> str:
    """One event per line: seq, time, type, who, then the data as compact JSON."""
    data = json.dumps(event.data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return (f"{event.seq}\t{audit_log.format_at(event.at)}\t{event.type}\t"
            f"person={event.person_id or '-'}\tclient={event.client_id or '-'}\t{data}")
