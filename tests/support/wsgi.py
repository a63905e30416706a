"""A WSGI app served over real HTTP on a free loopback port, for stand-in peers in tests."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server


def serve_wsgi(app: Any) -> tuple[BaseWSGIServer, str]:
    """Serve `app` from a daemon thread; the server (stop it with `shutdown()`) and its base
    URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                     daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"
