"""Fixtures for the interoperability tests: the provider over real HTTP on each store pair, a
person's browser, and the Node.js relying party (which must be installed: these tests fail,
rather than skip, without it, so that CI proves interoperability)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from idp.settings import Settings
from idp.store import EphemeralStore
from tests.support.live import Browser, LiveProvider, serve

HERE = Path(__file__).resolve().parent


@pytest.fixture
def op(settings: Settings, store: EphemeralStore) -> Iterator[LiveProvider]:
    with serve(settings, store) as live:
        yield live


@pytest.fixture
def browser(op: LiveProvider) -> Browser:
    return Browser(op.base)


@pytest.fixture
def node() -> str:
    """The node binary, with tests/interop's npm packages installed."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is not installed: run `./dev test` (it installs Node.js and the "
                    "npm packages in tests/interop), or install the Debian package nodejs",
                    pytrace=False)
    if not (HERE / "node_modules" / "openid-client" / "package.json").is_file():
        pytest.fail("tests/interop/node_modules is missing openid-client: run `./dev test` "
                    "(or `cd tests/interop && npm ci`)", pytrace=False)
    return node
