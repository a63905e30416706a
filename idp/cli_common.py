"""What every `idp` subcommand shares: settings read once, with a clear line on bad input."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.engine import make_url

from idp.settings import Settings, SettingsError, check


def settings_or_exit() -> Settings:
    """Settings from the environment, checked; a bad value prints `error: ...` and exits 2."""
    try:
        return check(Settings.from_env())
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@contextmanager
def key_errors() -> Iterator[None]:
    """A key backend or key ring that cannot be used (wrong KEK, missing HSM token) is one
    `error:` line and exit 2, not a traceback."""
    from idp.keystore import KeyStoreError
    from keys.backend import KeyBackendError

    try:
        yield
    # SettingsError too: files that settings name (IDP_UPSTREAMS_FILE) are read as the app is built.
    except (KeyBackendError, KeyStoreError, SettingsError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def safe_url(url: str) -> str:
    """A database URL without its password, fit for printing (operators paste output)."""
    return make_url(url).render_as_string(hide_password=True)
