"""The `idp` command: demo, serve, init, clients, audit."""

from __future__ import annotations

import sys

import click

from idp.settings import Settings, UnsafeSettingsError, check


@click.group()
def main() -> None:
    """Thai digital ID provider: one login and one signature for government services."""


@main.command()
def init() -> None:
    """Create or migrate the database to the newest schema, and create signing keys."""
    from idp.migrate import upgrade
    from idp.provider import build_provider

    settings = _settings()
    upgrade(settings.database_url)
    build_provider(settings)
    click.echo(f"database ready: {_safe_url(settings.database_url)}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the provider (migrates first)."""
    from idp.app import create_app
    from idp.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    app = create_app(settings)
    app.run(host=host, port=port, threaded=True)


def _settings() -> Settings:
    try:
        return check(Settings.from_env())
    except UnsafeSettingsError as exc:
        click.echo(str(exc), err=True)
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
