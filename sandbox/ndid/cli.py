"""`ndid`: run the SANDBOX NDID node on its own, so an agency can point its code at it.

Registered by the provider's command line as `idp sandbox ndid --host H --port P`.
"""

from __future__ import annotations

import re

import click
from werkzeug.serving import WSGIRequestHandler, make_server

from sandbox.ndid.node import create_ndid_app

_LONG_NUMBERS = re.compile(r"\d{13,}")


class _QuietHandler(WSGIRequestHandler):
    """The request log keeps no ID number (request paths carry them) and no query string."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = (getattr(self, "path", "") or "").split("?", 1)[0]
        path = _LONG_NUMBERS.sub("[id]", path).translate(self._control_char_table)
        self.log("info", '[ndid-sandbox] "%s %s" %s %s', self.command, path, code, size)


@click.command("ndid")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5100, show_default=True, type=int)
def ndid(host: str, port: int) -> None:
    """Run a SANDBOX NDID node (not NDID): the RP API v6 and simulated bank apps."""
    app = create_ndid_app()
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    base = f"http://{host}:{server.server_port}"
    click.echo(f"SANDBOX NDID node (not the real NDID) on {base}")
    click.echo(f"  RP API v6: {base}/rp/requests/citizen_id/<id>, {base}/utility/idp, ...")
    click.echo(f"  simulated bank apps: {base}/bank")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.extensions["ndid_sandbox"].close()
