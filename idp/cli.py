"""The `idp` command: demo, serve, init, clients, audit."""

from __future__ import annotations

import sys

import click

from idp.settings import Settings, SettingsError, check


@click.group()
def main() -> None:
    """Thai digital ID provider: one login and one signature for government services."""


@main.command()
def init() -> None:
    """Create or migrate the database to the newest schema, and create signing keys."""
    from idp.provider import build_provider

    settings = _settings()
    _migrate(settings)
    build_provider(settings)
    click.echo(f"database ready: {_safe_url(settings.database_url)}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the provider (migrates first)."""
    from werkzeug.serving import make_server

    from idp.app import create_app
    from idp.serving import quiet_request_handler

    settings = _settings()
    _migrate(settings)
    server = make_server(host, port, create_app(settings), threaded=True,
                         request_handler=quiet_request_handler("idp"))
    click.echo(f"serving {settings.issuer} on http://{host}:{port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.shutdown()


def _migrate(settings: Settings) -> None:
    """Migrate, turning an unreachable or refused database into one clear line."""
    from sqlalchemy.exc import SQLAlchemyError

    from idp.migrate import upgrade

    try:
        upgrade(settings.database_url)
    except SQLAlchemyError as exc:
        click.echo(f"error: cannot migrate the database at {_safe_url(settings.database_url)}: "
                   f"{type(exc).__name__}", err=True)
        sys.exit(2)


def _settings() -> Settings:
    try:
        return check(Settings.from_env())
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def _safe_url(url: str) -> str:
    """A database URL without its password, fit for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _register_groups() -> None:
    from idp import cli_audit, cli_clients, demo

    main.add_command(cli_clients.clients)
    main.add_command(cli_audit.audit)
    main.add_command(demo.demo)


_register_groups()
