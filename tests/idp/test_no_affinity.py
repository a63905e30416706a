"""No session affinity: two provider nodes behind a round-robin balancer serve one person.

docs/operations.md tells operators that any request may reach any node, as long as the nodes
share the database, the ephemeral store and their settings. Here two independently built apps
(each its own Provider, key ring, database engine and Flask app: two nodes) sit behind a
balancer that alternates on *every* request, so each step of a login lands on the other node
than the step before: the login page and its CSRF-checked POST, consent, the code issued by
one node and redeemed at the other, userinfo, refresh and logout.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from idp.app import create_app
from idp.settings import Settings
from idp.store import EphemeralStore
from tests.support.live import Browser, LiveProvider

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RoundRobin:
    """A WSGI balancer: each request goes to the next node in turn; it counts what each got."""

    def __init__(self, nodes: list[WsgiApp]) -> None:
        self._next = itertools.cycle(range(len(nodes)))
        self._nodes = nodes
        self._lock = threading.Lock()
        self.served: Counter[int] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        with self._lock:
            n = next(self._next)
            self.served[n] += 1
        return self._nodes[n](environ, start_response)


@pytest.fixture
def balanced(settings: Settings, store: EphemeralStore
             ) -> Iterator[tuple[LiveProvider, RoundRobin]]:
    server = make_server("127.0.0.1", 0, None, threaded=True)  # type: ignore[arg-type]
    base = f"http://127.0.0.1:{server.server_port}"
    shared = replace(settings, issuer=base)
    node_a, node_b = create_app(shared, store), create_app(shared, store)
    assert node_a.extensions["idp"] is not node_b.extensions["idp"]
    balancer = RoundRobin([node_a, node_b])
    server.app = balancer
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveProvider(base=base, settings=shared, app=node_a), balancer
    finally:
        server.shutdown()


def test_a_login_alternating_between_two_nodes_works(
        balanced: tuple[LiveProvider, RoundRobin]) -> None:
    op, balancer = balanced
    client = op.register()
    browser = Browser(op.base)

    tokens = op.code_flow(browser, client)  # authorize, login POST, consent POST, /token
    assert {"access_token", "id_token", "refresh_token"} <= tokens.keys()
    assert balancer.served[0] >= 2 and balancer.served[1] >= 2

    for _ in range(2):  # userinfo on both nodes
        info = requests.get(f"{op.base}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert info.status_code == 200, info.text
        assert "sub" in info.json()

    refreshed = op.token(client, grant_type="refresh_token",
                         refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    # The old refresh token was used; presenting it again, at the other node, is reuse.
    reused = op.token(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert reused.status_code == 400

    # The SSO session made through both nodes is known to both: a second authorization
    # needs no login, whichever node answers it.
    for _ in range(2):
        got, _verifier = op.login(browser, client)
        assert "code" in got, got


def test_a_code_is_single_use_across_nodes(balanced: tuple[LiveProvider, RoundRobin]) -> None:
    op, _balancer = balanced
    client = op.register()
    got, verifier = op.login(Browser(op.base), client)
    form = {"grant_type": "authorization_code", "code": got["code"],
            "redirect_uri": client["redirect_uri"], "code_verifier": verifier}
    first, second = op.token(client, **form), op.token(client, **form)  # one on each node
    assert first.status_code == 200, first.text
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
