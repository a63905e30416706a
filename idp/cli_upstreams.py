"""`idp upstreams`: see and check the upstream OpenID providers in IDP_UPSTREAMS_FILE.

`list` reads the file only; `check` also fetches each provider's discovery document and JWKS,
so an operator learns of a typo or an unreachable provider before a person does. Neither
prints a client secret.
"""

from __future__ import annotations

import json
import sys

import click

from federation.oidc import UpstreamClient, UpstreamConfig
from idp.cli_common import settings_or_exit
from idp.settings import Settings
from idp.upstreams import UpstreamsFileError, callback_url, load_configs


def _configs(settings: Settings) -> list[UpstreamConfig]:
    try:
        configs = load_configs(settings)
    except UpstreamsFileError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if not settings.upstreams_file:
        click.echo("no upstream providers: IDP_UPSTREAMS_FILE is not set", err=True)
    return configs


def _summary(config: UpstreamConfig) -> dict[str, object]:
    return {
        "name": config.name, "display_name": {"th": config.display_name_th,
                                              "en": config.display_name_en},
        "issuer": config.issuer, "discovery_url": config.discovery_url,
        "client_id": config.client_id,
        "token_endpoint_auth_method": config.token_endpoint_auth_method,
        "scopes": list(config.scopes), "claims": dict(config.claims),
        "citizen_id_claim": config.citizen_id_claim,
        "ial": {"claim": config.ial.claim,
                "values": {k: str(v) for k, v in config.ial.values.items()},
                "default": None if config.ial.default is None else str(config.ial.default),
                "max": str(config.ial.max_ial)},
        "aal": str(config.aal), "evidence": config.evidence, "userinfo": config.userinfo,
    }


@click.group()
def upstreams() -> None:
    """Upstream OpenID providers (ThaID-style) people can prove their identity with."""


@upstreams.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the providers as JSON.")
def list_upstreams(as_json: bool) -> None:
    """List the configured providers (the client secrets are never shown)."""
    settings = settings_or_exit()
    configs = _configs(settings)
    if as_json:
        click.echo(json.dumps([_summary(c) for c in configs], ensure_ascii=False, indent=2))
        return
    if configs:
        click.echo(f"callback URL to register at every provider: "
                   f"{callback_url(settings.issuer)}")
    for c in configs:
        ial = f"claim {c.ial.claim}" if c.ial.claim else f"default {c.ial.default}"
        click.echo(f"{c.name}\t{c.display_name_en} / {c.display_name_th}\t{c.issuer}\t"
                   f"client {c.client_id}\tIAL from {ial} (max {c.ial.max_ial})\t"
                   f"AAL {c.aal}")


@upstreams.command("check")
def check_upstreams() -> None:
    """Fetch each provider's discovery document and keys; OK or the problem, per provider.
    Exits 1 when any provider has a problem."""
    settings = settings_or_exit()
    failed = False
    for config in _configs(settings):
        problems = UpstreamClient(config).check()
        if problems:
            failed = True
            click.echo(f"{config.name}: PROBLEM: {'; '.join(problems)}")
        else:
            click.echo(f"{config.name}: OK ({config.issuer})")
    sys.exit(1 if failed else 0)
