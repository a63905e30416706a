"""Gunicorn configuration for production: ``gunicorn -c idp/gunicorn_conf.py idp.wsgi:app``.

Every value comes from the environment, so the same file serves every node; the choices and
the reasons for them are next to each value. See docs/operator-guide.md, "Running in
production".
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

# --- metrics across workers -------------------------------------------------------------------
# Each worker is a process with its own counters. prometheus_client's multiprocess mode keeps
# them in files in one directory and /metrics sums them. The variable must be set before any
# worker imports prometheus_client, so it is set here, in the master, before the app exists.
# A directory we made is emptied at start (counters of a previous run must not be added in).
_MADE_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _MADE_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="idp-metrics-")
_METRICS_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"]
os.makedirs(_METRICS_DIR, exist_ok=True)

from idp.logs import logging_config  # noqa: E402  (after the variable above, on purpose)
from idp.settings import Settings  # noqa: E402


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SystemExit(f"error: {name} must be a whole number (got {value[:20]!r})") from None
    if number < minimum:
        raise SystemExit(f"error: {name} must be at least {minimum}")
    return number


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# --- where and how many -----------------------------------------------------------------------
bind = os.environ.get("IDP_BIND", "127.0.0.1:5000").split(",")

# One worker process per core. Python runs one thread of Python at a time per process (the
# GIL), so CPU-bound work (token signing, PDF signing and verification) scales with processes,
# not threads; bench-peer.md measured 2 sync workers at the framework's ceiling on this 2-core
# machine. More processes than cores only add memory and context switches.
workers = _env_int("IDP_WORKERS", max(2, _cores()))

# Threads per worker (gthread). Some requests mostly wait: on the NDID node and upstream
# providers (back-channel calls), on time-stamp and revocation servers while signing, on
# PostgreSQL and Redis. With sync workers one such request holds a whole process; a few threads
# let the process serve others meanwhile. gthread also keeps connections alive, which a load
# balancer reuses. IDP_THREADS=1 gives plain sync workers: the cheapest per request when every
# request is short (a token benchmark), but one slow client then blocks a worker.
threads = _env_int("IDP_THREADS", 4)
# gunicorn's own workers with a read deadline on every connection (idp/gunicorn_worker.py):
# neither gthread nor sync bounds how long a client may take to send its request, so a slow
# client (a byte a second) would hold a thread, or a whole sync worker, for as long as it likes.
worker_class = ("idp.gunicorn_worker.ThreadWorker" if threads > 1
                else "idp.gunicorn_worker.SyncWorker")

# --- time ---------------------------------------------------------------------------------------
# A sync worker silent for `timeout` seconds is killed and replaced; a verification may take up
# to IDP_VERIFY_TIMEOUT seconds of one request, so the limit stays well above it.
_verify_timeout = _env_int("IDP_VERIFY_TIMEOUT", 20)
timeout = max(30, _verify_timeout + 15)
graceful_timeout = 30  # on SIGTERM, requests in flight get this long to finish
# Idle keep-alive connections are closed after this many seconds (gthread). The balancer must
# close an idle connection before the server does, or it may send a request on a socket being
# closed: set the balancer's idle timeout *below* this value.
keepalive = _env_int("IDP_KEEPALIVE", 5)
# A client has IDP_READ_TIMEOUT seconds to send its request line and headers; a body must keep
# coming (no pause longer than that, and a minimum average rate). Read by the workers; checked
# here so a bad value stops the master at once.
_read_timeout = _env_int("IDP_READ_TIMEOUT", Settings.read_timeout)

# --- bounds on what a client may send ----------------------------------------------------------
# An authorization URL can be long (a claims parameter, a request object by value); 8190 is
# gunicorn's maximum. Bodies are bounded by the app (IDP_MAX_REQUEST_BYTES and per upload).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# --- proxies ------------------------------------------------------------------------------------
# Gunicorn itself trusts X-Forwarded-Proto (and friends) only from these addresses. The client
# address the app uses (rate limits, /metrics, logs) is set by IDP_TRUSTED_PROXIES (ProxyFix in
# create_app), not by this. Keep both in line with the real proxies in front of the node.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# --- logs ---------------------------------------------------------------------------------------
# The app writes one JSON line per request (idp/logs.py) with a request id and no personal
# data; gunicorn's access log would be a second, unstructured line with the query string in it
# (codes, id_token_hint), so it stays off. Gunicorn's own messages go through the same JSON
# handler and redacting filter.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("IDP_LOG_LEVEL", "info").lower()
logconfig_dict = logging_config(loglevel.upper())

# --- fork ---------------------------------------------------------------------------------------
# No preload: each worker builds its own app after the fork. Keys and PKCS#11 sessions must not
# be shared across a fork (an HSM session belongs to one process), nor may SQLAlchemy's pool or
# Redis connections (two processes on one socket corrupt each other's replies), and the
# multiprocess metrics must be created in the worker. signing.verification_pool already makes
# its pool lazily per process. The cost is start-up time and memory per worker.
preload_app = False

# Gunicorn 25+ opens a control socket at a fixed path in the home directory; two masters on one
# host (blue/green, tests) would fight over it, and nothing here uses it. Older versions ignore
# the name.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """In the master, before workers: empty a metrics directory we made, so figures from a
    previous run of the master are not summed into this one."""
    if _MADE_METRICS_DIR:
        for entry in os.listdir(_METRICS_DIR):
            os.unlink(os.path.join(_METRICS_DIR, entry))


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: mark its metric files dead, so gauges stop counting it (counters and
    histograms keep what it counted: they are totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, _METRICS_DIR)


def on_exit(server: Any) -> None:
    """The master stops: remove the metrics directory if this configuration made it."""
    if _MADE_METRICS_DIR:
        shutil.rmtree(_METRICS_DIR, ignore_errors=True)
