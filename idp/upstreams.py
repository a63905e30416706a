"""The configured upstream OpenID providers of this service, read once from IDP_UPSTREAMS_FILE.

A broken file stops the service at start with every problem listed (`UpstreamsFileError`, a
SettingsError), rather than at a person's first login. The registry lives on the Flask app
(`app.extensions`), one `federation.oidc.UpstreamClient` per provider, so each process keeps
one discovery and JWKS cache per provider. Secret values never appear in a message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask.sansio.app import App

from federation.oidc import UpstreamClient, UpstreamConfig, UpstreamConfigError, parse_configs
from idp.settings import Settings, SettingsError

MAX_FILE_BYTES = 256 * 1024
EXTENSION = "idp_upstreams"
CALLBACK_PATH = "/federation/oidc/callback"


class UpstreamsFileError(SettingsError):
    """IDP_UPSTREAMS_FILE cannot be used; the message lists every problem in it."""

    def __init__(self, path: str, problems: list[str]) -> None:
        listed = "\n  - ".join(problems)
        super().__init__(f"IDP_UPSTREAMS_FILE {path} cannot be used:\n  - {listed}")
        self.problems = problems


def load_configs(settings: Settings, env: Mapping[str, str] | None = None
                 ) -> list[UpstreamConfig]:
    """The providers in settings.upstreams_file (none when unset)."""
    path = settings.upstreams_file
    if not path:
        return []
    try:
        with Path(path).open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UpstreamsFileError(path, [f"cannot be read ({exc.strerror or 'error'})"]
                                 ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise UpstreamsFileError(path, [f"larger than {MAX_FILE_BYTES // 1024} KiB"])
    try:
        return parse_configs(raw, os.environ if env is None else env)
    except UpstreamConfigError as exc:
        raise UpstreamsFileError(path, exc.problems) from None


@dataclass
class Registry:
    """The upstreams in the order the file lists them (the order of the login buttons)."""

    clients: dict[str, UpstreamClient] = field(default_factory=dict)

    @classmethod
    def of(cls, configs: list[UpstreamConfig]) -> Registry:
        return cls({c.name: UpstreamClient(c) for c in configs})

    def get(self, name: str) -> UpstreamClient | None:
        return self.clients.get(name) if len(name) <= 64 else None

    def configs(self) -> list[UpstreamConfig]:
        return [c.config for c in self.clients.values()]


def init_app(app: App, settings: Settings) -> Registry:
    """Load the file and keep the registry on `app`; raises UpstreamsFileError."""
    registry = Registry.of(load_configs(settings))
    app.extensions[EXTENSION] = registry
    return registry


def registry() -> Registry:
    """This app's upstreams (an empty registry when none were loaded)."""
    found = current_app.extensions.get(EXTENSION)
    return found if isinstance(found, Registry) else Registry()


def callback_url(issuer: str) -> str:
    """The one redirect URI registered at every upstream."""
    return issuer + CALLBACK_PATH


def login_buttons() -> list[dict[str, str]]:
    """What the login page shows for each upstream (no secrets, no URLs)."""
    return [{"name": c.name, "display_name_th": c.display_name_th,
             "display_name_en": c.display_name_en} for c in registry().configs()]
