"""The SANDBOX NDID node over real HTTP for provider tests, and settings that point at it.

`ndid_node` is a factory: each call starts a node (banks, script and clock as the test wants)
on a free loopback port and stops it after the test. Its request log is the node's own quiet
one, which writes `[id]` for a national ID in a path, so the provider's tests can assert that
no log record anywhere holds the number.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from idp.settings import Settings
from sandbox.ndid import SandboxNode, create_ndid_app
from sandbox.ndid.cli import _QuietHandler


@dataclass
class NodeClock:
    """Wall-clock time plus an offset a test moves forward (to time requests out)."""

    offset: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self) -> float:
        with self.lock:
            return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.offset += seconds


@dataclass
class NdidNode:
    base: str
    node: SandboxNode
    clock: NodeClock
    server: BaseWSGIServer

    def settings(self, settings: Settings, **changes: Any) -> Settings:
        """`settings` with NDID on and pointing at this node."""
        return replace(settings, ndid_url=self.base, **changes)


def _serve_quietly(app: Any) -> tuple[BaseWSGIServer, str]:
    """As tests.support.wsgi.serve_wsgi, with the node's own request log (no IDs in it)."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                     daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def ndid_node() -> Iterator[Callable[..., NdidNode]]:
    started: list[NdidNode] = []

    def start(**kwargs: Any) -> NdidNode:
        clock = NodeClock()
        app = create_ndid_app(clock=clock, **kwargs)
        server, base = _serve_quietly(app)
        node = NdidNode(base, app.extensions["ndid_sandbox"], clock, server)
        started.append(node)
        return node

    yield start
    for n in started:
        n.server.shutdown()
        n.node.close()


def wait_until(pred: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll until `pred()` is truthy (no timing is asserted, only an upper bound)."""
    end = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
