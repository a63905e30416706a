"""The WSGI application gunicorn serves in bench/token_bench.py: `gunicorn bench_app:app`.

Why a factory of its own rather than the project's WSGI entry point: the benchmark needs its own
Redis key prefix (so it never touches another run's keys and can delete exactly its own
afterwards), and a database the benchmark created, migrated and seeded with signing keys
before gunicorn forks, so that two workers starting at once never race to create keys.
Everything else is the production application as `create_app` builds it.

Read from the environment (set by token_bench.py):
  BENCH_ISSUER         the issuer URL (http://127.0.0.1:PORT)
  BENCH_DATABASE_URL   SQLAlchemy URL, already migrated
  BENCH_REDIS_URL      unset: the in-process store (one worker only, it is per process)
  BENCH_REDIS_PREFIX   the key prefix in Redis
  BENCH_KEK, BENCH_SECRET_KEY, BENCH_SUBJECT_KEY
and IDP_* as the provider reads them (rate limits, log level).
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask

from idp.app import create_app
from idp.settings import Settings
from idp.store import EphemeralStore, MemoryStore, RedisStore


def bench_settings(env: dict[str, str] | os._Environ[str]) -> Settings:
    """Production-like settings on the benchmark's own stores; sandbox on, since the login
    flow logs in with a sandbox persona (the sandbox adds no work to the token path). Other
    IDP_* variables apply as usual (token_bench.py sets the rate limits)."""
    return replace(Settings.from_env(env), issuer=env["BENCH_ISSUER"],
                   database_url=env["BENCH_DATABASE_URL"], redis_url=env.get("BENCH_REDIS_URL"),
                   secret_key=env["BENCH_SECRET_KEY"], subject_key=env["BENCH_SUBJECT_KEY"],
                   kek=env["BENCH_KEK"], sandbox=True)


def bench_store(env: dict[str, str] | os._Environ[str]) -> EphemeralStore:
    url = env.get("BENCH_REDIS_URL")
    return RedisStore(url, prefix=env["BENCH_REDIS_PREFIX"]) if url else MemoryStore()


def make_app() -> Flask:
    return create_app(bench_settings(os.environ), bench_store(os.environ))


app = make_app() if "BENCH_ISSUER" in os.environ else None
