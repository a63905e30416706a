"""`idp demo`: the provider and a demo agency site, up on embedded defaults with one command.

The point is a first five minutes with nothing to configure: SQLite file and in-process store,
demo keys created on first run, a registered demo agency to log in to with a sandbox persona,
and a SANDBOX NDID node (with simulated bank apps) to prove identity through a bank.
Because it runs with demo secrets and sandbox parties, it refuses to start in production mode.

The demo agency's client secret is shown only once by the registry, so the demo keeps it in
`var/demo-agency.json` (mode 0600, git-ignored) and rotates it whenever that file is missing or
no longer matches, so repeated runs neither print secrets nor need any manual step.

The national ID number only travels encrypted, so the demo agency also has an EC key agreement
key: made on first run, kept beside the secret in `var/demo-agency-encryption-key.json` (0600),
its public half registered with encrypted ID tokens and userinfo, its private half handed to the
agency site to decrypt them ("Ask for a verified identity" then shows the national ID).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import click
from werkzeug.serving import BaseWSGIServer, make_server

from idp.serving import quiet_request_handler
from idp.settings import ROOT, Settings, SettingsError, check

DEMO_CLIENT_ID = "demo-agency"
SECRET_FILE = ROOT / "var" / "demo-agency.json"
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 (names, not a bind)


def demo_client_metadata(agency_base: str,
                         encryption_jwk: dict[str, Any] | None = None) -> dict[str, Any]:
    """RFC 7591 metadata of the demo agency, pointing at where it listens this run; with its
    public encryption key, it asks for encrypted ID tokens and userinfo."""
    encryption: dict[str, Any] = {}
    if encryption_jwk is not None:
        encryption = {
            "jwks": {"keys": [encryption_jwk]},
            "id_token_encrypted_response_alg": "ECDH-ES+A256KW",
            "id_token_encrypted_response_enc": "A256GCM",
            "userinfo_encrypted_response_alg": "ECDH-ES+A256KW",
            "userinfo_encrypted_response_enc": "A256GCM",
        }
    return encryption | {
        "client_name#th": "หน่วยงานตัวอย่าง",
        "client_name#en": "Demo agency",
        "redirect_uris": [f"{agency_base}/callback"],
        "post_logout_redirect_uris": [f"{agency_base}/logged-out"],
        "backchannel_logout_uri": f"{agency_base}/backchannel-logout",
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile email phone address offline_access",
        "token_endpoint_auth_method": "client_secret_basic",
        "subject_type": "pairwise",
    }


def _key_file(secret_path: Path) -> Path:
    return secret_path.with_name("demo-agency-encryption-key.json")


def demo_decryption_key(secret_path: Path = SECRET_FILE) -> dict[str, Any]:
    """The demo agency's private EC key (JWK) for encrypted responses, made on first use and
    kept owner-readable only; a file that is missing or unreadable is replaced."""
    from joserfc.errors import JoseError
    from joserfc.jwk import ECKey

    path = _key_file(secret_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        ECKey.import_key(data)
        if isinstance(data, dict) and data.get("d"):
            return data
    except (OSError, ValueError, TypeError, JoseError):
        pass
    key = ECKey.generate_key("P-256", parameters={"kid": "demo-agency-enc", "use": "enc"})
    data = dict(key.as_dict(private=True))
    _write_private(path, data)
    return data


def _public_jwk(private: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in private.items() if k != "d"}


def _read_secret(path: Path) -> str | None:
    """The kept demo secret, or None when the file is missing, unreadable or for another id."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("client_id") != DEMO_CLIENT_ID:
        return None
    secret = data.get("client_secret")
    return secret if isinstance(secret, str) and secret else None


def _write_secret(path: Path, secret: str) -> None:
    """Write the secret readable by the owner only (see `_write_private`)."""
    _write_private(path, {"client_id": DEMO_CLIENT_ID, "client_secret": secret})


def _write_private(path: Path, document: dict[str, Any]) -> None:
    """Write a JSON document readable by the owner only; created 0600 from the start (never
    world-readable for a moment) and swapped in atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(document, fh)
            fh.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def ensure_demo_client(database_url: str, agency_base: str, secret_path: Path = SECRET_FILE) -> str:
    """Make sure the demo agency is registered as this run needs it; returns its secret.

    Creates it on first run; updates its URIs if the ports changed; rotates the secret when the
    kept copy is missing or stale (for example after the database was reset separately).
    """
    from idp import audit
    from idp.clients import (
        check_secret,
        create_client,
        get_client,
        rotate_secret,
        update_client,
        validate_metadata,
    )
    from idp.db import Database

    meta = demo_client_metadata(agency_base, _public_jwk(demo_decryption_key(secret_path)))
    db = Database(database_url)
    try:
        with db.session() as s:
            client = get_client(s, DEMO_CLIENT_ID)
            if client is None:
                client, secret = create_client(s, meta, client_id=DEMO_CLIENT_ID)
                assert secret is not None  # client_secret_basic always gets one
                audit.record(s, "client.created", client_id=DEMO_CLIENT_ID, via="demo")
                _write_secret(secret_path, secret)
                return secret
            wanted = validate_metadata(meta)
            changed = sorted(k for k, v in wanted.items() if getattr(client, k, None) != v)
            if changed:
                update_client(s, DEMO_CLIENT_ID, meta)
                audit.record(s, "client.updated", client_id=DEMO_CLIENT_ID, via="demo",
                             fields=changed)
            kept = _read_secret(secret_path)
            if kept is not None and check_secret(client, kept):
                return kept
            secret = rotate_secret(s, DEMO_CLIENT_ID)
            audit.record(s, "client.secret_rotated", client_id=DEMO_CLIENT_ID, via="demo")
            _write_secret(secret_path, secret)
            return secret
    finally:
        db.engine.dispose()


def _public_host(host: str) -> str:
    """The host to put in the issuer URL. A wildcard bind address is not something a browser
    can open, and browsers refuse an IP address as a passkey's site (WebAuthn relying party
    id), so loopback is named `localhost`."""
    return "localhost" if host in WILDCARD_HOSTS or host == "127.0.0.1" else host


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address the provider listens on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535),
              help="Port of the provider.")
@click.option("--agency-port", default=5001, show_default=True, type=click.IntRange(1, 65535),
              help="Port of the demo agency site.")
@click.option("--ndid-port", default=5002, show_default=True, type=click.IntRange(1, 65535),
              help="Port of the SANDBOX NDID node (started when sandbox is on and "
                   "IDP_NDID_URL is unset).")
def demo(host: str, port: int, agency_port: int, ndid_port: int) -> None:
    """Run the provider and a demo agency site on embedded defaults (never in production)."""
    from idp.app import create_app
    from idp.migrate import upgrade
    from sandbox.agency import create_agency_app
    from sandbox.ndid import create_ndid_app
    from sandbox.ndid.cli import _QuietHandler as NdidRequestHandler

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if settings.production:
        click.echo("idp demo ใช้ค่าสาธิตและระบบทดลอง จึงไม่ทำงานเมื่อตั้ง IDP_PRODUCTION "
                   "/ idp demo runs demo secrets and sandbox parties, so it refuses to run "
                   "with IDP_PRODUCTION set; use 'idp serve'.", err=True)
        sys.exit(2)
    if agency_port == port:
        raise click.BadParameter("must differ from --port", param_hint="--agency-port")
    if not os.environ.get("IDP_ISSUER"):
        settings = replace(settings, issuer=f"http://{_public_host(host)}:{port}")
    # The sandbox NDID node runs beside the provider unless a real (or other) node is named.
    run_ndid = settings.sandbox and not settings.ndid_url
    if run_ndid:
        if ndid_port in (port, agency_port):
            raise click.BadParameter("must differ from --port and --agency-port",
                                     param_hint="--ndid-port")
        settings = replace(settings, ndid_url=f"http://127.0.0.1:{ndid_port}")
    try:
        settings = check(settings)
    except SettingsError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    if not settings.sandbox:
        click.echo("คำเตือน: ปิดระบบทดลองอยู่ (IDP_SANDBOX=0) จะไม่มีบุคคลทดสอบให้เลือก "
                   "/ warning: IDP_SANDBOX is off, so there are no test persons to log in as.",
                   err=True)

    # The agency's URLs are registered as http, which the registry allows only on loopback.
    agency_bind = host if host in WILDCARD_HOSTS else "127.0.0.1"
    agency_base = f"http://127.0.0.1:{agency_port}"

    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True)
    upgrade(settings.database_url)
    secret = ensure_demo_client(settings.database_url, agency_base, SECRET_FILE)

    provider_app = create_app(settings)
    agency_app = create_agency_app(settings.issuer, DEMO_CLIENT_ID, secret, agency_base,
                                   decryption_key=demo_decryption_key(SECRET_FILE))
    ndid_app = create_ndid_app() if run_ndid else None

    servers: list[BaseWSGIServer] = []
    try:
        servers.append(make_server(host, port, provider_app, threaded=True,
                                   request_handler=quiet_request_handler("idp")))
        servers.append(make_server(agency_bind, agency_port, agency_app, threaded=True,
                                   request_handler=quiet_request_handler("agency")))
        if ndid_app is not None:
            # Loopback only: the node is reached by the provider and by the tester's browser.
            servers.append(make_server("127.0.0.1", ndid_port, ndid_app, threaded=True,
                                       request_handler=NdidRequestHandler))
    except (OSError, SystemExit):
        # werkzeug has already said why (typically: port in use) and asked to exit.
        for server in servers:
            server.server_close()
        if ndid_app is not None:
            ndid_app.extensions["ndid_sandbox"].close()
        click.echo("เปิดพอร์ตไม่ได้ ลองใช้ --port, --agency-port หรือ --ndid-port อื่น "
                   "/ cannot listen; try another --port, --agency-port or --ndid-port",
                   err=True)
        sys.exit(1)

    threads = [threading.Thread(target=s.serve_forever, name=f"idp-demo-{i}", daemon=True)
               for i, s in enumerate(servers)]
    for thread in threads:
        thread.start()

    click.echo(f"ผู้ให้บริการยืนยันตัวตน / Identity provider: {settings.issuer}")
    click.echo(f"  discovery: {settings.issuer}/.well-known/openid-configuration")
    if ndid_app is not None:
        click.echo(f"NDID จำลอง (ไม่ใช่ NDID จริง) / SANDBOX NDID node (not NDID): "
                   f"{settings.ndid_url}")
        click.echo(f"  แอปธนาคารจำลอง / simulated bank apps: {settings.ndid_url}/bank")
    click.echo(f"เปิด {agency_base} เพื่อเข้าสู่ระบบหน่วยงานตัวอย่าง")
    click.echo(f"Open {agency_base} to log in to the demo agency")
    click.echo("กด Ctrl-C เพื่อหยุด / Press Ctrl-C to stop")

    stop = threading.Event()

    def _on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        while not stop.wait(0.5):
            if not all(t.is_alive() for t in threads):
                break
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        for server in servers:
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join(timeout=5)
        if ndid_app is not None:
            ndid_app.extensions["ndid_sandbox"].close()
        click.echo("หยุดแล้ว / stopped")
