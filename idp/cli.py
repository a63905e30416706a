"""The `idp` command: demo, serve, init, clients, audit."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import click

from idp.cli_common import key_errors, safe_url, settings_or_exit
from idp.settings import Settings

if TYPE_CHECKING:
    from flask import Flask


@click.group()
def main() -> None:
    """Thai digital ID provider: one login and one signature for government services."""


@main.command()
def init() -> None:
    """Create or migrate the database to the newest schema, and create signing keys."""
    from idp.provider import build_provider

    settings = settings_or_exit()
    _migrate(settings)
    with key_errors():
        build_provider(settings)
    click.echo(f"database ready: {safe_url(settings.database_url)}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=0, show_default=True, type=click.IntRange(min=0),
              help="N > 0: run gunicorn (the production server) with N worker processes, "
                   "configured by idp/gunicorn_conf.py; 0: Werkzeug's threaded server.")
def serve(host: str, port: int, workers: int) -> None:
    """Run the provider (migrates first). Logs are JSON lines on stderr."""
    from werkzeug.serving import make_server

    from idp.app import create_app
    from idp.serving import silent_request_handler

    settings = settings_or_exit()
    _migrate(settings)
    with key_errors():
        app = create_app(settings)  # in both modes: a broken setting is one line, here
    if workers:
        _exec_gunicorn(host, port, workers)
    _json_logs(app)
    server = make_server(host, port, app, threaded=True,
                         request_handler=silent_request_handler(settings.read_timeout))
    click.echo(f"serving {settings.issuer} on http://{host}:{port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.shutdown()


def _json_logs(app: Flask) -> None:
    """JSON logs for this process (idp/logs.py), also for the app's own logger: Flask gives
    it a plain-text handler of its own, which would write every record a second time."""
    from flask.logging import default_handler

    from idp import logs

    logs.configure()
    app.logger.removeHandler(default_handler)


def _exec_gunicorn(host: str, port: int, workers: int) -> NoReturn:
    """Replace this process with gunicorn, so signals (SIGTERM from systemd or an orchestrator,
    SIGHUP to reload) reach its master directly. Workers read the same environment."""
    import os
    from pathlib import Path

    conf = Path(__file__).resolve().with_name("gunicorn_conf.py")
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    argv = [sys.executable, "-m", "gunicorn", "-c", str(conf), "--bind", address,
            "--workers", str(workers), "idp.wsgi:app"]
    click.echo(f"starting gunicorn with {workers} workers on {address}")
    os.execv(sys.executable, argv)  # noqa: S606 (our own interpreter, fixed arguments)


def _migrate(settings: Settings) -> None:
    """Migrate, turning an unreachable or refused database into one clear line."""
    from sqlalchemy.exc import SQLAlchemyError

    from idp.migrate import upgrade

    try:
        upgrade(settings.database_url)
    except SQLAlchemyError as exc:
        click.echo(f"error: cannot migrate the database at {safe_url(settings.database_url)}: "
                   f"{type(exc).__name__}", err=True)
        sys.exit(2)


@main.group()
def sandbox() -> None:
    """Development stand-ins for outside parties, each runnable on its own (never production)."""


def _register_groups() -> None:
    from idp import cli_audit, cli_ca, cli_clients, cli_keys, cli_seals, cli_upstreams, demo
    from sandbox.ndid.cli import ndid

    main.add_command(cli_clients.clients)
    cli_clients.clients.add_command(cli_seals.seal)
    main.add_command(cli_audit.audit)
    main.add_command(cli_keys.keys)
    main.add_command(cli_ca.ca)
    main.add_command(demo.demo)
    main.add_command(cli_upstreams.upstreams)
    sandbox.add_command(ndid)


_register_groups()


if __name__ == "__main__":
    main()
