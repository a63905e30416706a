from collections.abc import Iterator

import pytest

from idp.settings import Settings
from idp.store import EphemeralStore
from tests.support.live import Browser, LiveProvider, serve


@pytest.fixture
def op(settings: Settings, store: EphemeralStore) -> Iterator[LiveProvider]:
    with serve(settings, store) as live:
        yield live


@pytest.fixture
def browser(op: LiveProvider) -> Browser:
    return Browser(op.base)
