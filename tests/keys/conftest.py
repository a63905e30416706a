"""Key backend fixtures: every backend test runs on sealed software keys and on a real PKCS#11
token (SoftHSM2, a fresh token store in a temporary directory for the test session).

SoftHSM2 is a test requirement, not an option: `./dev test` installs it, and without it the
PKCS#11 tests fail with that advice rather than skip quietly.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from keys.backend import ALGORITHMS, KeyBackend
from keys.software import SoftwareBackend

TOKEN_LABEL = "idp-test"
USER_PIN = "1234"
SO_PIN = "5678"
BACKEND_NAMES = ["software", "pkcs11"]


@dataclass(frozen=True)
class SoftHsm:
    module: str
    token_label: str
    pin: str
    conf: Path


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """One SoftHSM2 token, `idp-test` (PIN 1234), in a token directory of its own.

    SoftHSM2 reads SOFTHSM2_CONF when the module is first initialised in the process, so the
    token store is per test session, not per test; tests use fresh random key ids.
    """
    try:
        from keys.pkcs11 import find_softhsm_module, init_softhsm_token
    except ImportError as e:
        pytest.fail(f"python-pkcs11 is not installed ({e}); run ./dev test, which installs the "
                    "project's dependencies", pytrace=False)
    module = find_softhsm_module()
    if module is None or shutil.which("softhsm2-util") is None:
        pytest.fail("SoftHSM2 is not installed: run ./dev test, which installs it "
                    "(Debian package softhsm2), or apt-get install softhsm2", pytrace=False)
    directory = tmp_path_factory.mktemp("softhsm")
    conf = init_softhsm_token(directory, TOKEN_LABEL, USER_PIN, SO_PIN)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        yield SoftHsm(module=module, token_label=TOKEN_LABEL, pin=USER_PIN, conf=conf)


@pytest.fixture
def software_backend() -> SoftwareBackend:
    return SoftwareBackend(secrets.token_bytes(32))


@pytest.fixture
def pkcs11_backend(softhsm: SoftHsm) -> KeyBackend:
    from keys.pkcs11 import Pkcs11Backend

    return Pkcs11Backend(softhsm.module, softhsm.token_label, softhsm.pin)


@pytest.fixture(params=BACKEND_NAMES)
def key_backend(request: pytest.FixtureRequest) -> KeyBackend:
    """The same tests on each backend."""
    backend: KeyBackend = request.getfixturevalue(f"{request.param}_backend")
    return backend


@pytest.fixture(params=list(ALGORITHMS))
def alg(request: pytest.FixtureRequest, key_backend: KeyBackend) -> str:
    """Every algorithm; one the token cannot do is skipped with the backend's own reason."""
    name = str(request.param)
    supports = getattr(key_backend, "supports", None)
    if supports is not None and not supports(name):
        pytest.skip(f"{name} is not supported by this token")
    return name
