"""Private PostgreSQL and Redis servers, and the provider under gunicorn, for fault tests.

Fault tests kill and restart the stores the provider depends on. They must never touch the
machine's own PostgreSQL (5432) or Redis (6379): CI and other test runs share those. So each
fault test starts its own throw-away servers on free loopback ports, in a temporary directory,
and tears them down afterwards.

PostgreSQL refuses to run as root. When the tests run as root, every PostgreSQL command runs as
the `postgres` system user (the one the machine's own cluster runs as) through `runuser`, in a
directory that user owns.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import requests

from idp.settings import ROOT


def _pg_bin() -> Path:
    """TEST_PG_BIN, else PostgreSQL 15 as Debian installs it, else the newest one installed."""
    if os.environ.get("TEST_PG_BIN"):
        return Path(os.environ["TEST_PG_BIN"])
    preferred = Path("/usr/lib/postgresql/15/bin")
    if preferred.is_dir():
        return preferred
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return found[-1] if found else preferred


PG_BIN = _pg_bin()
REDIS_SERVER = Path(os.environ.get("TEST_REDIS_SERVER", shutil.which("redis-server")
                                   or "/usr/bin/redis-server"))
PG_SYSTEM_USER = "postgres"


def free_port() -> int:
    """A loopback port nothing listens on right now (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(check: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout} s")
        time.sleep(0.1)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def missing_binaries() -> str | None:
    """Why the private servers cannot run here, or None when they can (tests skip on a
    reason, never fail, on a machine without PostgreSQL 15 or Redis)."""
    for binary in (PG_BIN / "initdb", PG_BIN / "pg_ctl", PG_BIN / "postgres", REDIS_SERVER):
        if not os.access(binary, os.X_OK):
            return f"{binary} not found or not executable"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            return f"running as root and there is no {PG_SYSTEM_USER!r} user to run PostgreSQL"
        if not shutil.which("runuser"):
            return "running as root and runuser is missing"
    return None


class PrivateRedis:
    """A redis-server with no persistence on a free port: kill -9 loses everything, as a
    crashed Redis without AOF does in production."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.workdir / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        _wait(lambda: _port_open(self.port), "redis start", 20)

    def kill(self) -> None:
        """SIGKILL: no shutdown, every key gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None
        _wait(lambda: not _port_open(self.port), "redis stop", 10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class PrivatePostgres:
    """A PostgreSQL cluster of its own (trust authentication, loopback only).

    fsync is off: a commit still writes its WAL to the operating system, so it survives an
    immediate stop (the processes die, the machine does not), and the test is faster. Commits
    stay synchronous on purpose: with `synchronous_commit=off` an immediate stop loses the
    last commits, and the test would see answered tokens vanish."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="idp-faults-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sock"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_root = os.geteuid() == 0
        self.sockets.mkdir()
        if self._as_root:
            shutil.chown(self.root, PG_SYSTEM_USER)
            shutil.chown(self.sockets, PG_SYSTEM_USER)

    def _run(self, *args: str, timeout: float = 60) -> None:
        cmd = list(args)
        if self._as_root:
            cmd = ["runuser", "-u", PG_SYSTEM_USER, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False,
                              cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): "
                               f"{done.stderr.decode(errors='replace')[-2000:]}")

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync", "-D", str(self.data))

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-o", options, "-w", "-t", "60", "start", timeout=90)

    def stop_immediate(self) -> None:
        """`pg_ctl stop -m immediate`: every backend dies at once, open transactions are
        lost, the next start runs crash recovery, as after a power cut of the server."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                  "stop")

    def running(self) -> bool:
        return _port_open(self.port)

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with suppress(RuntimeError, subprocess.TimeoutExpired):
                self.stop_immediate()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def gunicorn_provider(env_extra: dict[str, str], log_path: Path, workers: int = 2,
                      threads: int = 2) -> Iterator[str]:
    """The provider as production runs it (gunicorn, idp/gunicorn_conf.py, several workers),
    configured only through IDP_* variables; yields its base URL once /livez answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "PROMETHEUS_"))}
    env.update({
        "IDP_ISSUER": f"http://127.0.0.1:{port}",
        "IDP_BIND": f"127.0.0.1:{port}",
        "IDP_WORKERS": str(workers),
        "IDP_THREADS": str(threads),
    })
    env.update(env_extra)
    with log_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "idp" / "gunicorn_conf.py"),
             "idp.wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError("gunicorn exited: " + log_path.read_text()[-3000:])
            try:
                if requests.get(f"{base}/livez", timeout=2).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # still booting
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start: " + log_path.read_text()[-3000:])
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def error_log_records(log_path: Path) -> list[dict[str, object]]:
    """The JSON log lines gunicorn and the app wrote (one object per line)."""
    records: list[dict[str, object]] = []
    for line in log_path.read_text(errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            records.append({"raw": line})
    return records
