"""`idp clients seal CLIENT_ID --org-id NTRTH-...`: give an agency (client) its seal key and
organisation certificate from the seal CA. The rules live in `idp.csc.seals`."""

from __future__ import annotations

import click

from idp.cli_ca import _fail, _pki
from idp.csc.seals import SEAL_ALGS, SealError, provision_seal


@click.command(name="seal")
@click.argument("client_id")
@click.option("--org-id", required=True,
              help="organizationIdentifier, e.g. NTRTH-0105536000000 (EN 319 412-1)")
@click.option("--org-name", help="organisation name (O); default: the client's English name")
@click.option("--alg", type=click.Choice(SEAL_ALGS), default="ES256", show_default=True)
@click.option("--replace", is_flag=True, help="revoke the current seal and make a new one")
def seal(client_id: str, org_id: str, org_name: str | None, alg: str, replace: bool) -> None:
    """Provision the agency seal of CLIENT_ID (used by /csc/v2 with scope seal)."""
    with _pki() as pki:
        pki.init_hierarchy()
        try:
            info = provision_seal(pki, client_id, org_id, org_name=org_name, alg=alg,
                                  replace=replace)
        except SealError as exc:
            _fail(str(exc))
        click.echo(f"seal credential {info.id} for {client_id}: certificate serial "
                   f"{info.serial}, subject {info.certificate.subject.rfc4514_string()}")
