"""The production server for real: gunicorn with idp/gunicorn_conf.py serving idp.wsgi:app.

On the embedded pair one worker (the in-process store is per process); with TEST_REDIS_URL
two workers, so /metrics must add up what both counted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from idp.settings import Settings
from tests.conftest import REDIS_URL, TEST_KEK
from tests.support.private_services import gunicorn_provider


@pytest.fixture
def gunicorn(settings: Settings, backend: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    workers = 2 if backend == "pg-redis" else 1
    env = {"IDP_DATABASE_URL": settings.database_url, "IDP_SECRET_KEY": settings.secret_key,
           "IDP_KEK": TEST_KEK}
    if backend == "pg-redis":
        assert REDIS_URL
        env["IDP_REDIS_URL"] = REDIS_URL
    stderr = tmp_path / "gunicorn.err"
    with gunicorn_provider(env, stderr, workers=workers, threads=2) as base:
        yield base, workers
    log = stderr.read_text()
    # Everything gunicorn and the app wrote is JSON, one object per line.
    records = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert any(r["logger"] == "idp.request" and r["endpoint"] == "/readyz" for r in records)
    assert any(r["logger"] == "gunicorn.error" for r in records)


def test_gunicorn_serves_health_readiness_and_metrics(gunicorn: tuple[str, int]) -> None:
    base, _workers = gunicorn
    health = requests.get(f"{base}/healthz", timeout=5)
    assert health.status_code == 200
    assert health.headers["X-Request-ID"]
    assert health.headers["Content-Security-Policy"]
    n = 20
    for _ in range(n):
        ready = requests.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"database": "ok", "store": "ok"}}
    time.sleep(0.2)
    metrics = requests.get(f"{base}/metrics", timeout=5)
    assert metrics.status_code == 200
    counted = [line for line in metrics.text.splitlines()
               if line.startswith('idp_http_requests_total{endpoint="/readyz"')]
    assert counted, metrics.text[:2000]
    # Summed over every worker (multiprocess mode), whichever served which request.
    assert sum(float(line.rsplit(" ", 1)[1]) for line in counted) == n
    assert "idp_http_request_duration_seconds_bucket" in metrics.text
    assert metrics.headers["Content-Type"].startswith("text/plain")
