"""Fixtures for the real-browser tests: Debian's Chromium driven by Playwright (never
`playwright install`), the provider and the demo agency over real HTTP on `localhost` (WebAuthn
refuses IP addresses as relying party ids), and a folder of screenshots, one per step, so anyone
can look at what a person sees (tests/artifacts/e2e/<test name>/NN-step.png).

These tests fail, rather than skip, when Chromium is missing: `./dev test` installs it.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from idp.demo import demo_decryption_key, ensure_demo_client
from idp.settings import Settings
from idp.store import EphemeralStore
from sandbox.agency import create_agency_app
from tests.support.live import LiveProvider, serve
from tests.support.ndid import NdidNode, ndid_node  # noqa: F401 (fixture)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "e2e"
# Chromium on a machine with a closed network: no background calls home, no sandbox as root.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is not installed: run `./dev test` (it installs Debian's "
                    "chromium package)", pytrace=False)
    return path


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in this thread
# while it is open, and pyhanko's synchronous calls (asyncio.run) in later test modules refuse
# to run beside it.
@pytest.fixture(scope="module")
def playwright_browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Screens:
    """Numbered screenshots of one test's journey."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def shot(self, page: Any, step: str) -> Path:
        path = self.folder / f"{len(self.taken) + 1:02d}-{re.sub(r'[^a-z0-9-]+', '-', step)}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@pytest.fixture
def screens(request: pytest.FixtureRequest) -> Screens:
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return Screens(folder)


@dataclass
class Demo:
    op: LiveProvider
    agency: str
    ndid: NdidNode | None = None


@contextmanager
def _demo(settings: Settings, store: EphemeralStore, folder: Path,
          ndid: NdidNode | None = None) -> Iterator[Demo]:
    """The provider (with NDID pointing at `ndid` when given) and the demo agency registered
    with it, both on localhost."""
    if ndid is not None:
        settings = ndid.settings(settings)
    agency_server = make_server("127.0.0.1", 0, None, threaded=True)  # type: ignore[arg-type]
    agency_base = f"http://localhost:{agency_server.server_port}"
    with serve(settings, store, host_name="localhost") as op:
        secret = ensure_demo_client(op.settings.database_url, agency_base,
                                    folder / "demo-agency.json")
        # the national ID travels only encrypted: the agency decrypts with its own key
        agency_server.app = create_agency_app(
            op.base, "demo-agency", secret, agency_base,
            decryption_key=demo_decryption_key(folder / "demo-agency.json"))
        threading.Thread(target=agency_server.serve_forever, daemon=True).start()
        try:
            yield Demo(op, agency_base, ndid)
        finally:
            agency_server.shutdown()


@pytest.fixture
def demo(settings: Settings, store: EphemeralStore, tmp_path: Path) -> Iterator[Demo]:
    """The provider and the demo agency, both on localhost, the agency registered."""
    with _demo(settings, store, tmp_path) as d:
        yield d


@pytest.fixture
def demo_ndid(settings: Settings, store: EphemeralStore, tmp_path: Path,
              ndid_node: Callable[..., NdidNode]) -> Iterator[Demo]:  # noqa: F811
    """As `demo`, with login through a bank over the SANDBOX NDID node (its default banks;
    its simulated bank apps at `{demo.ndid.base}/bank/<node_id>`)."""
    with _demo(settings, store, tmp_path, ndid_node()) as d:
        yield d


@dataclass
class BrowserLog:
    """What the browser said on the console and which scripts failed, in every tab of a
    context: CSP violations and uncaught errors are bugs a person would meet silently."""

    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("console", lambda m: self.messages.append(f"{m.type}: {m.text} ({page.url})"))
        page.on("pageerror", lambda e: self.errors.append(f"{e} ({page.url})"))

    def csp_violations(self) -> list[str]:
        return [m for m in self.messages if "Content Security Policy" in m]


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def page(playwright_browser: Any, browser_log: BrowserLog) -> Iterator[Any]:
    """A fresh browser context (its own cookies) and page for one test; every tab it opens
    reports to `browser_log`."""
    context = playwright_browser.new_context(locale="th-TH", viewport={"width": 412,
                                                                       "height": 915})
    context.on("page", browser_log.watch)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()
