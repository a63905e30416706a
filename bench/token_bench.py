"""Token endpoint, userinfo and introspection under load, beside oidc-provider in the same run.

    bench/run [--quick]            (bootstraps wrk, gunicorn, the peer's npm packages; then this)
    .venv/bin/python bench/token_bench.py [--quick] [--runs 3] [--seconds 8] [--pg-workers 2]

What runs, on loopback, the servers pinned to core 0 and the load generator to core 1
(`taskset`, as /work/shared/reference/bench-peer.md advises, so both providers get one core):
  peer      oidc-provider 9 from npm (bench/peer/op.mjs), one Node process, its in-memory LRU
            store of 1,000 entries (it keeps almost nothing under load)
  ours/mem  our provider under gunicorn, 1 sync worker (the in-process store is per process),
            SQLite in a temporary directory + the in-process store: the row compared with the peer
  ours/pg   our provider under gunicorn, --pg-workers sync workers, PostgreSQL (a schema of its
            own, dropped afterwards) + Redis (a key prefix of its own, deleted afterwards): the
            production configuration, reported as its own row, never silently against the LRU

Scenarios, each driven by `wrk -t2 -c32 --latency` with a Lua script (bench/wrk/):
  client_credentials  POST /token, client_secret_basic, opaque access token
  refresh_token       POST /token with rotation: each wrk thread keeps a pool of live refresh
                      tokens seeded by real login flows just before the run; every answer's new
                      refresh token goes back to the pool, so each request uses a fresh token once
  userinfo            GET userinfo with the access token of a login made just before the run
  introspection       POST introspection of that access token, client_secret_basic
For each scenario the three targets take turns run by run (warm-up first), `--runs` runs each;
the table shows medians of req/s, p50 and p99, the server's CPU (cores used, ms per request:
from /proc, the server's processes only; for ours/pg also PostgreSQL's and Redis's, which other
engineers' tests on this machine may share) and ours/peer.

Then:
  half of peak   client_credentials paced at 50 % of each target's measured median peak by
                 wrk with a pacing Lua script (bench/wrk/paced.lua: fixed send slots per
                 thread, open loop as far as wrk allows; wrk2 is not in Debian): p50, p99
  login flows    authorize -> login (sandbox persona somchai; any name on the peer's dev pages)
                 -> consent -> token -> userinfo, each flow in a fresh requests.Session, by the
                 same Python driver for both providers: flows per second, one loop and 4 loops
  cost profile   our client_credentials path in this process (cProfile over a few thousand
                 requests straight into the WSGI app, request environments built beforehand),
                 own time attributed to cryptography / database / store / framework / our code:
                 a library's own time, plus the time of whatever stdlib or C code it called
                 (shared among callers in proportion to their cumulative time); ms per request
                 scaled to the unprofiled in-process cost; top functions by own time and our
                 functions by cumulative time

The whole table is printed and written to bench/results/token_bench-<date>.md.
No timing is asserted anywhere: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import datetime as dt
import hashlib
import io
import json
import os
import platform
import pstats
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

REDIRECT = "https://agency.example/cb"
PEER_CLIENT_ID = "bench-agency"
SCENARIOS = ["client_credentials", "refresh_token", "userinfo", "introspection"]
WRK_THREADS, WRK_CONNECTIONS = 2, 32
SEEDS = 48  # refresh chains per run: 32 connections in flight plus spares in each thread's pool
SERVER_CORE, LOAD_CORE = 0, 1
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"


# --- small helpers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinning() -> bool:
    """Pin only where there are two cores to pin to, and taskset exists."""
    return (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def on_core(core: int, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *cmd] if pinning() else cmd


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


_CLK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process, from /proc; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (gunicorn's master and workers)."""
    return _proc_cpu(pid) + sum(tree_cpu(c) for c in _children(pid))


def named_cpu(names: tuple[str, ...]) -> float:
    """CPU seconds of every process with one of these names (PostgreSQL's backends, Redis):
    the store side of the PostgreSQL + Redis row. Shared with anything else using them."""
    total = 0.0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() in names:
                total += _proc_cpu(int(comm.parent.name))
    return total


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


# --- targets ---------------------------------------------------------------------------------


@dataclass
class Target:
    """One provider under test, as the load generator and the flow driver see it."""

    name: str
    base: str
    client_id: str
    client_secret: str
    proc: subprocess.Popen[bytes]
    scope: str  # what its login flows ask for, to get a refresh token
    store_procs: tuple[str, ...] = ()
    endpoints: dict[str, str] = field(default_factory=dict)
    access_token: str = ""

    def discover(self) -> None:
        meta = requests.get(self.base + "/.well-known/openid-configuration", timeout=10).json()
        self.endpoints = {k: meta[k + "_endpoint"] for k in
                          ("authorization", "token", "userinfo", "introspection")}

    @property
    def auth(self) -> str:
        return basic(self.client_id, self.client_secret)

    def cpu(self) -> tuple[float, float]:
        """(server CPU seconds, store CPU seconds) so far."""
        return tree_cpu(self.proc.pid), named_cpu(self.store_procs) if self.store_procs else 0.0


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"no answer from {url} within {timeout} s")


def start_peer(log: Path) -> Target:
    secret = secrets.token_urlsafe(32)
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 (our own command line)
        on_core(SERVER_CORE, ["node", str(BENCH / "peer" / "op.mjs"), PEER_CLIENT_ID, secret,
                              REDIRECT, str(port)]),
        cwd=BENCH / "peer", stdout=subprocess.PIPE, stderr=log.open("wb"))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"the peer did not start; see {log}")
    base = json.loads(line)["issuer"]
    wait_ready(base + "/.well-known/openid-configuration", proc)
    t = Target("peer", base, PEER_CLIENT_ID, secret, proc, scope="openid profile")
    t.discover()
    return t


@dataclass
class OurStores:
    """The stores one of our targets runs on, made for this run and removed afterwards."""

    database_url: str
    redis_url: str | None
    redis_prefix: str
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for fn in reversed(self.cleanup):
            with contextlib.suppress(Exception):
                fn()


def sqlite_stores(tmp: Path) -> OurStores:
    return OurStores(f"sqlite:///{tmp / 'idp.db'}", None, "")


def pg_redis_stores(pg_url: str, redis_url: str) -> OurStores:
    """A fresh PostgreSQL schema and a Redis key prefix, both named bench_<random>."""
    import redis

    tag = secrets.token_hex(4)
    schema = f"bench_{tag}"
    admin = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg_url else "?"
    stores = OurStores(f"{pg_url}{sep}options=-csearch_path%3D{schema}", redis_url,
                       f"bench:{tag}:")

    def drop_schema() -> None:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    def drop_keys() -> None:
        r = redis.Redis.from_url(redis_url)
        for key in r.scan_iter(match=stores.redis_prefix + "*", count=1000):
            r.delete(key)

    stores.cleanup += [drop_schema, drop_keys]
    redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    return stores


RATE_LIMITS = True  # set from --no-rate-limits in main()
_RATE_VARIABLES = ("IDP_RATE_TOKEN_PER_CLIENT", "IDP_RATE_TOKEN_PER_ADDRESS",
                   "IDP_RATE_AUTHORIZE_PER_ADDRESS", "IDP_RATE_LOGIN_PER_ADDRESS")


def our_env(stores: OurStores, issuer: str) -> dict[str, str]:
    """The environment of our server. The rate limits stay on, as in production (their
    counters are part of the cost of a request), with budgets no benchmark reaches: all load
    comes from one address and one client."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update({k: str(10**9) for k in _RATE_VARIABLES}, IDP_RATE_LIMITS=str(int(RATE_LIMITS)))
    env.update(BENCH_ISSUER=issuer, BENCH_DATABASE_URL=stores.database_url,
               BENCH_REDIS_PREFIX=stores.redis_prefix,
               BENCH_KEK=base64.b64encode(hashlib.sha256(b"bench-kek").digest()).decode(),
               BENCH_SECRET_KEY="bench-secret-key-" + "x" * 32,
               BENCH_SUBJECT_KEY="bench-subject-key-" + "y" * 32)
    env.pop("BENCH_REDIS_URL", None)
    if stores.redis_url:
        env["BENCH_REDIS_URL"] = stores.redis_url
    return env


def prepare_ours(env: dict[str, str]) -> tuple[str, str]:
    """Migrate, make the signing keys and register the benchmark's client, before gunicorn
    forks: two workers starting on an empty database would race to create keys."""
    from bench_app import bench_settings, bench_store

    from idp.clients import create_client
    from idp.migrate import upgrade
    from idp.provider import build_provider

    upgrade(env["BENCH_DATABASE_URL"])
    provider = build_provider(bench_settings(env), bench_store(env))
    with provider.db.session() as s:
        client, secret = create_client(s, {
            "redirect_uris": [REDIRECT], "client_name#en": "Benchmark agency",
            "client_name#th": "หน่วยงานทดสอบสมรรถนะ", "scope": "openid profile offline_access",
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic"})
        client_id = client.client_id
    provider.db.engine.dispose()
    assert secret is not None
    return client_id, secret


PROJECT_CONF = ROOT / "idp" / "gunicorn_conf.py"


SERVER = "gunicorn"  # set from --server in main()


def server_label(workers: int, threads: int) -> str:
    """How our server runs, in words, for the report."""
    if SERVER == "granian":
        return f"granian (WSGI), {workers} worker(s) x {threads} blocking threads"
    kind = f"{workers} gthread worker(s) x {threads} threads" if threads > 1 else \
        f"{workers} sync worker(s)"
    conf = "idp/gunicorn_conf.py" if PROJECT_CONF.exists() else "bench flags"
    return f"gunicorn, {kind} ({conf})"


def start_ours(name: str, stores: OurStores, workers: int, threads: int, log: Path) -> Target:
    """Our provider under gunicorn: with the project's production configuration
    (idp/gunicorn_conf.py: gthread, IDP_WORKERS x IDP_THREADS, JSON logs) when it exists,
    otherwise with equivalent flags; the app is bench_app:app (our stores, our Redis prefix)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = our_env(stores, base)
    client_id, secret = prepare_ours(env)
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    if SERVER == "granian":
        # For comparison only: the production server is gunicorn (idp/gunicorn_conf.py).
        env["PYTHONPATH"] = f"{BENCH}:{ROOT}"
        cmd = [str(Path(sys.executable).parent / "granian"), "--interface", "wsgi",
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
               "--blocking-threads", str(threads), "--log-level", "warning", "--no-ws",
               "bench_app:app"]
    elif PROJECT_CONF.exists():
        env.update(IDP_BIND=f"127.0.0.1:{port}", IDP_WORKERS=str(workers),
                   IDP_THREADS=str(threads))
        cmd = [gunicorn, "-c", str(PROJECT_CONF), "--pythonpath", f"{BENCH},{ROOT}",
               "bench_app:app"]
    else:
        cmd = [gunicorn, "--pythonpath", f"{BENCH},{ROOT}", "--workers", str(workers),
               "--threads", str(threads), "--worker-class",
               "gthread" if threads > 1 else "sync", "--bind", f"127.0.0.1:{port}",
               "--log-level", "warning", "bench_app:app"]
    proc = subprocess.Popen(on_core(SERVER_CORE, cmd), env=env, cwd=ROOT,  # noqa: S603
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    wait_ready(base + "/healthz", proc)
    t = Target(name, base, client_id, secret, proc, scope="openid profile offline_access",
               store_procs=("postgres", "redis-server") if stores.redis_url else ())
    t.discover()
    return t


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the login flow driver -------------------------------------------------------------------


class _Forms(HTMLParser):
    """The POST forms of a page: action and the fields a browser would send."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""),
                               "method": a.get("method", "get").lower(), "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind not in ("radio", "checkbox", "submit") or "checked" in a:
                self.forms[-1]["fields"][a["name"]] = a.get("value", "")


class FlowError(RuntimeError):
    pass


def login_flow(t: Target, http: requests.Session | None = None) -> tuple[dict[str, Any], int]:
    """One whole login as an agency and a browser make it: authorize, the login page, the
    consent page, the redirect with the code, the token request, userinfo. Returns the token
    response and the number of HTTP requests made. Each flow starts with no cookies (a new
    session), so both providers do a cold login with consent every time."""
    s = http or requests.Session()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    q = {"response_type": "code", "client_id": t.client_id, "redirect_uri": REDIRECT,
         "scope": t.scope, "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
         "code_challenge": challenge, "code_challenge_method": "S256"}
    url = t.endpoints["authorization"] + "?" + urlencode(q)
    resp = s.get(url, allow_redirects=False, timeout=30)
    count, code = 1, None
    for _ in range(12):
        if resp.status_code in (301, 302, 303, 307):
            nxt = urljoin(resp.url, resp.headers["Location"])
            if nxt.startswith(REDIRECT):
                got = {k: v[0] for k, v in parse_qs(urlsplit(nxt).query).items()}
                code = got.get("code")
                if code is None:
                    raise FlowError(f"{t.name}: authorization failed: {got}")
                break
            resp = s.get(nxt, allow_redirects=False, timeout=30)
        elif resp.status_code == 200:
            form = _pick_form(resp.text)
            data = dict(form["fields"])
            if "persona" in resp.text and "/login" in form["action"]:
                data["persona"] = "somchai"  # ours: the sandbox persona picker
            if "/consent" in form["action"]:
                data["decision"] = "allow"  # ours
            if data.get("prompt") == "login":
                data.update(login="somchai", password="bench")  # noqa: S106 (the peer's dev login)
            resp = s.post(urljoin(resp.url, form["action"]), data=data,
                          allow_redirects=False, timeout=30)
        else:
            raise FlowError(f"{t.name}: HTTP {resp.status_code} at {resp.url.split('?')[0]}: "
                            f"{resp.text[:300]}")
        count += 1
    if code is None:
        raise FlowError(f"{t.name}: no code after {count} requests")
    tok = s.post(t.endpoints["token"], auth=(t.client_id, t.client_secret), timeout=30,
                 data={"grant_type": "authorization_code", "code": code,
                       "redirect_uri": REDIRECT, "code_verifier": verifier})
    if tok.status_code != 200:
        raise FlowError(f"{t.name}: token: HTTP {tok.status_code}: {tok.text[:300]}")
    body = tok.json()
    info = s.get(t.endpoints["userinfo"], timeout=30,
                 headers={"Authorization": "Bearer " + body["access_token"]})
    if info.status_code != 200 or "sub" not in info.json():
        raise FlowError(f"{t.name}: userinfo: HTTP {info.status_code}: {info.text[:300]}")
    return body, count + 2


def _pick_form(html: str) -> dict[str, Any]:
    """The interaction form to submit: ours are /interaction/<id>/login and .../consent (the
    login page has other methods' forms too); the peer's dev pages have one form each."""
    parser = _Forms()
    parser.feed(html)
    forms = [f for f in parser.forms if f["method"] == "post" and "/interaction/" in f["action"]]
    for f in forms:
        if f["action"].endswith(("/login", "/consent")) or "prompt" in f["fields"]:
            return f
    raise FlowError(f"no interaction form on the page: {html[:300]}")


def flows(t: Target, n: int, loops: int = 4) -> list[dict[str, Any]]:
    """n login flows, `loops` at a time; their token responses."""
    out: list[dict[str, Any]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for _ in range(k):
                body, _ = login_flow(t)
                with lock:
                    out.append(body)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n // loops + (i < n % loops),))
               for i in range(loops)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    return out


@dataclass
class FlowRate:
    flows_per_s: float
    p50_ms: float
    requests_per_flow: int
    server_ms_per_flow: float


def flow_rate(t: Target, seconds: float, loops: int) -> FlowRate:
    """Complete flows per second for `seconds`, `loops` concurrent loops of the driver."""
    times: list[float] = []
    counts: list[int] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    cpu0, _ = t.cpu()
    start = time.monotonic()

    def loop() -> None:
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            _, n = login_flow(t)
            with lock:
                times.append(time.perf_counter() - t0)
                counts.append(n)

    threads = [threading.Thread(target=loop) for _ in range(loops)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - start
    cpu1, _ = t.cpu()
    return FlowRate(len(times) / elapsed, median(times) * 1000, int(median(counts)),
                    (cpu1 - cpu0) * 1000 / max(len(times), 1))


# --- wrk -------------------------------------------------------------------------------------


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cores: float  # server CPU, in cores
    ms_per_req: float  # server CPU per request
    store_ms_per_req: float  # PostgreSQL + Redis CPU per request (ours/pg only)


def wrk_script(tmp: Path, *parts: str) -> Path:
    path = tmp / ("_".join(p.removesuffix(".lua") for p in parts) + ".lua")
    path.write_text("\n".join((BENCH / "wrk" / p).read_text() for p in (*parts, "report.lua")))
    return path


def run_wrk(t: Target, url: str, script: Path, seconds: float, env: dict[str, str]) -> Run:
    cmd = on_core(LOAD_CORE, ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}",
                              f"-d{seconds:g}s", "--latency", "--timeout", "10s",
                              "-s", str(script), url])
    cpu0, store0 = t.cpu()
    out = subprocess.run(cmd, env=dict(os.environ, WRK_THREADS=str(WRK_THREADS), **env),  # noqa: S603
                         capture_output=True, text=True, check=False)
    cpu1, store1 = t.cpu()
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary: {out.stdout[-500:]} {out.stderr[-500:]}")
    r = json.loads(line.removeprefix("WRK_JSON "))
    secs = r["duration_us"] / 1e6
    n = max(r["requests"], 1)
    errors = r["status"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
    # gunicorn's sync workers close each connection after one response; wrk counts the
    # resulting EOF on a reused socket as a read error, so read errors are not failures here.
    errors -= r["read"]
    return Run(rps=r["requests"] / secs, p50_ms=r["p50_us"] / 1000, p99_ms=r["p99_us"] / 1000,
               errors=errors, cores=(cpu1 - cpu0) / secs, ms_per_req=(cpu1 - cpu0) * 1000 / n,
               store_ms_per_req=(store1 - store0) * 1000 / n)


class Scenario:
    """How to drive one scenario against a target: the URL, the wrk script and environment,
    and what to prepare just before each run (a fresh login, fresh refresh chains)."""

    def __init__(self, name: str, tmp: Path) -> None:
        self.name = name
        self.tmp = tmp
        self.script = wrk_script(tmp, "refresh.lua" if name == "refresh_token" else "static.lua")

    def prepare(self, t: Target) -> tuple[str, dict[str, str]]:
        ep = t.endpoints
        if self.name == "client_credentials":
            env = {"WRK_METHOD": "POST", "WRK_BODY": "grant_type=client_credentials",
                   "WRK_AUTH": t.auth}
            check = requests.post(ep["token"], data={"grant_type": "client_credentials"},
                                  headers={"Authorization": t.auth}, timeout=10)
            _expect(t, check, "access_token")
            return ep["token"], env
        if self.name == "refresh_token":
            seeds = [b["refresh_token"] for b in flows(t, SEEDS)]
            path = self.tmp / f"seeds-{t.name.replace('/', '-')}.txt"
            path.write_text("\n".join(seeds) + "\n")
            return ep["token"], {"WRK_SEEDS": str(path), "WRK_AUTH": t.auth}
        if self.name == "userinfo":
            auth = "Bearer " + t.access_token
            _expect(t, requests.get(ep["userinfo"], headers={"Authorization": auth},
                                    timeout=10), "sub")
            return ep["userinfo"], {"WRK_METHOD": "GET", "WRK_AUTH": auth}
        body = urlencode({"token": t.access_token, "token_type_hint": "access_token"})
        check = requests.post(ep["introspection"], data=body, timeout=10, headers={
            "Authorization": t.auth, "Content-Type": "application/x-www-form-urlencoded"})
        _expect(t, check, "active")
        if check.json().get("active") is not True:
            raise RuntimeError(f"{t.name}: introspection says the token is not active")
        return ep["introspection"], {"WRK_METHOD": "POST", "WRK_BODY": body,
                                     "WRK_AUTH": t.auth}


def _expect(t: Target, resp: requests.Response, key: str) -> None:
    if resp.status_code != 200 or key not in resp.json():
        raise RuntimeError(f"{t.name}: {resp.request.method} {resp.url}: HTTP "
                           f"{resp.status_code}: {resp.text[:300]}")


# --- the in-process profile ------------------------------------------------------------------

BUCKETS = ["cryptography", "database", "store", "framework", "our code", "other"]
_PATH_BUCKETS = [
    ("cryptography", ("/cryptography/", "/joserfc/", "/hashlib.py", "/hmac.py", "/secrets.py")),
    ("database", ("/sqlalchemy/", "/psycopg/", "/psycopg_binary/", "/psycopg_pool/",
                  "/sqlite3/")),
    ("store", ("/redis/", "/idp/store.py")),
    ("framework", ("/flask/", "/werkzeug/", "/authlib/", "/jinja2/", "/markupsafe/",
                   "/itsdangerous/", "/blinker/")),
    ("our code", (f"{ROOT}/idp/", f"{ROOT}/keys/", f"{ROOT}/kyc/")),
]
_BUILTIN_BUCKETS = [
    ("cryptography", ("_hashlib", "_hmac", "openssl", "_rust", "cryptography", "_blake2")),
    ("database", ("sqlite3", "psycopg")),
    ("store", ("hiredis",)),
]


def bucket_of(func: tuple[str, int, str]) -> str | None:
    """The bucket of a function by where its code lives; None for the standard library and
    C built-ins not tied to one library, whose time goes to whoever called them."""
    filename, _, name = func
    if filename == "~":
        for bucket, marks in _BUILTIN_BUCKETS:
            if any(m in name for m in marks):
                return bucket
        return None
    for bucket, marks in _PATH_BUCKETS:
        if any(m in filename for m in marks):
            return bucket
    return None


def attribute(stats: dict[Any, Any]) -> dict[str, float]:
    """Seconds per bucket: each function's own time goes to its bucket; a function without
    one (stdlib, sockets, json) passes its time to its callers, shared in proportion to the
    cumulative time each caller spent in it, up to the first caller that has a bucket."""
    memo: dict[Any, dict[str, float]] = {}
    active: set[Any] = set()

    def shares(func: Any) -> dict[str, float]:
        if func in memo:
            return memo[func]
        bucket = bucket_of(func)
        if bucket is not None:
            return {bucket: 1.0}
        callers = stats[func][4] if func in stats else {}
        weights = {c: v[3] for c, v in callers.items() if c not in active}
        total = sum(weights.values())
        if not weights or total <= 0:
            result = {"other": 1.0}
        else:
            active.add(func)
            result = defaultdict(float)
            for caller, w in weights.items():
                for b, f in shares(caller).items():
                    result[b] += f * w / total
            active.discard(func)
            result = dict(result)
        memo[func] = result
        return result

    out = dict.fromkeys(BUCKETS, 0.0)
    for func, (_cc, _nc, tt, _ct, _callers) in stats.items():
        for b, f in shares(func).items():
            out[b] += tt * f
    return out


class Sampler(threading.Thread):
    """A stack sampler for one thread: every `interval` it looks at that thread's innermost
    Python frame and walks outwards to the first frame with a bucket. Unlike cProfile it adds
    nothing per call, so call-heavy code (SQLAlchemy's ORM) is not inflated; C built-ins are
    invisible to it, so their time counts to the Python code that called them."""

    def __init__(self, thread_id: int, interval: float = 0.0005) -> None:
        super().__init__(daemon=True)
        self.thread_id, self.interval = thread_id, interval
        self.counts: dict[str, int] = dict.fromkeys(BUCKETS, 0)
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.interval):
            frame = sys._current_frames().get(self.thread_id)
            bucket = None
            while frame is not None and bucket is None:
                code = frame.f_code
                bucket = bucket_of((code.co_filename, code.co_firstlineno, code.co_name))
                frame = frame.f_back
            self.counts[bucket or "other"] += 1


@dataclass
class Profile:
    label: str
    wall_ms: float  # per request, unprofiled
    cpu_ms: float
    buckets: dict[str, float]  # ms per request from cProfile, scaled to wall_ms
    sampled: dict[str, float]  # ms per request from the stack sampler, scaled to wall_ms
    top_own: list[tuple[str, float, int]]  # (function, own ms per request, calls per request)
    top_ours: list[tuple[str, float]]  # (our function, cumulative ms per request)


def _func_name(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    for prefix in (str(ROOT) + "/", *(p for p in sys.path if p.endswith("site-packages"))):
        if filename.startswith(prefix):
            filename = filename[len(prefix):].lstrip("/")
            break
    return f"{filename}:{line}({name})"


def _recorder(status: list[str]) -> Any:
    """A WSGI start_response that keeps the status line."""
    def start_response(s: str, _headers: Any, _exc: Any = None) -> Callable[[bytes], None]:
        status.append(s)
        return lambda _data: None
    return start_response


def profile_client_credentials(label: str, env: dict[str, str], requests_n: int) -> Profile:
    """Our client_credentials path in this process, the WSGI app called directly: no HTTP
    server, no sockets to the client, so what is left is the provider's own cost."""
    from bench_app import bench_settings, bench_store
    from werkzeug.test import EnvironBuilder

    from idp.app import create_app
    from idp.clients import create_client

    app = create_app(bench_settings(env), bench_store(env))
    # The server's client secret is not kept: register a client of its own for the profile.

    with app.extensions["idp"].db.session() as s:
        client, secret = create_client(s, {
            "redirect_uris": [REDIRECT], "client_name#en": "Profile", "client_name#th": "โปรไฟล์",
            "grant_types": ["client_credentials"], "scope": "openid"})
        client_id = client.client_id
    auth = basic(client_id, secret or "")

    def environs(n: int) -> list[dict[str, Any]]:
        return [EnvironBuilder(path="/token", method="POST", base_url=env["BENCH_ISSUER"],
                               data="grant_type=client_credentials",
                               content_type="application/x-www-form-urlencoded",
                               headers=[("Authorization", auth)]).get_environ()
                for _ in range(n)]

    def drive(batch: list[dict[str, Any]]) -> None:
        for environ in batch:
            status: list[str] = []
            body = b"".join(app(environ, _recorder(status)))
            if not status or not status[0].startswith("200"):
                raise RuntimeError(f"profile request failed: {status} {body[:200]!r}")

    drive(environs(300))  # warm up: imports, pools, caches
    batch = environs(requests_n)
    sampler = Sampler(threading.get_ident())
    # The sampler must get the GIL when it wakes, not when the request next does I/O (which
    # would put every sample in a database call): a short switch interval makes the running
    # thread hand it over within ~10 microseconds.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    sampler.start()
    w0, c0 = time.perf_counter(), time.process_time()
    drive(batch)
    wall = (time.perf_counter() - w0) * 1000 / requests_n
    cpu = (time.process_time() - c0) * 1000 / requests_n
    sampler.halt.set()
    sampler.join()
    sys.setswitchinterval(switch)
    samples = sum(sampler.counts.values()) or 1
    sampled = {b: wall * n / samples for b, n in sampler.counts.items()}
    batch = environs(requests_n)
    prof = cProfile.Profile()
    prof.enable()
    drive(batch)
    prof.disable()
    st = pstats.Stats(prof, stream=io.StringIO())
    stats: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
    raw = attribute(stats)
    # The profiled loop itself (drive, the lambda) is the driver, not the provider.
    total = sum(raw.values()) or 1.0
    buckets = {b: wall * v / total for b, v in raw.items()}
    scale = wall / (total * 1000 / requests_n)
    own = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:10]
    top_own = [(_func_name(f), v[2] * 1000 / requests_n * scale, round(v[1] / requests_n))
               for f, v in own]
    ours = [(f, v) for f, v in stats.items() if f[0].startswith(f"{ROOT}/idp/")]
    ours.sort(key=lambda kv: kv[1][3], reverse=True)
    top_ours = [(_func_name(f), v[3] * 1000 / requests_n * scale) for f, v in ours[:10]]
    app.extensions["idp"].db.engine.dispose()
    return Profile(label, wall, cpu, buckets, sampled, top_own, top_ours)


# --- the run ---------------------------------------------------------------------------------


def versions(pg_url: str | None, redis_url: str | None) -> list[str]:
    def pkg(name: str) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    node = subprocess.run([shutil.which("node") or "node", "--version"],  # noqa: S603
                          capture_output=True, text=True, check=False).stdout.strip()
    peer = json.loads((BENCH / "peer/node_modules/oidc-provider/package.json").read_text())
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.machine())
    out = [f"machine: {cpu}, {os.cpu_count()} cores, Linux {platform.release()}",
           f"ours: Python {platform.python_version()}, gunicorn {pkg('gunicorn')}, "
           f"Flask {pkg('flask')}, authlib {pkg('authlib')}, SQLAlchemy {pkg('sqlalchemy')}, "
           f"psycopg {pkg('psycopg')}, redis-py {pkg('redis')}",
           f"peer: oidc-provider {peer['version']} on Node {node}"]
    with contextlib.suppress(Exception):
        if pg_url:
            eng = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
            with eng.connect() as c:
                out.append("PostgreSQL " + str(c.execute(sa.text("SHOW server_version"))
                                               .scalar()))
            eng.dispose()
        if redis_url:
            import redis

            out[-1] += ", Redis " + str(redis.Redis.from_url(redis_url).info()["redis_version"])
    return out


def fmt_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = lambda r: "| " + " | ".join(str(x).rjust(w) if i else str(x).ljust(w)  # noqa: E731
                                       for i, (x, w) in enumerate(zip(r, widths, strict=True)))
    sep = "|" + "|".join(("-" * (w + 2)) if i == 0 else ("-" * (w + 1) + ":")
                         for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header) + " |", sep, *(line(r) + " |" for r in rows)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one run of 5 s each (development)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--pg-workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4,
                    help="threads per gunicorn worker (1: sync workers)")
    ap.add_argument("--no-rate-limits", action="store_true",
                    help="IDP_RATE_LIMITS=0 (default: on, with budgets never reached)")
    ap.add_argument("--profile-requests", type=int, default=3000)
    ap.add_argument("--skip-pg", action="store_true", help="no PostgreSQL + Redis row")
    ap.add_argument("--server", choices=["gunicorn", "granian"], default="gunicorn",
                    help="our server: gunicorn (production) or granian (for comparison)")
    ap.add_argument("--only", action="append", choices=SCENARIOS, help="scenarios to run")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.seconds, args.warmup, args.profile_requests = 1, 5, 2, 1000
    scenarios = args.only or SCENARIOS
    global RATE_LIMITS, SERVER  # one switch each for the whole run
    RATE_LIMITS = not args.no_rate_limits
    SERVER = args.server
    pg_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") \
        or DEFAULT_PG
    redis_url = os.environ.get("BENCH_REDIS_URL_ADMIN") or DEFAULT_REDIS
    started = dt.datetime.now(dt.UTC)
    load_before = loadavg()
    tmp = Path(tempfile.mkdtemp(prefix="token-bench-"))
    if pinning():
        os.sched_setaffinity(0, {LOAD_CORE})  # this driver is load generation too
    log = lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr,  # noqa: E731
                            flush=True)
    targets: list[Target] = []
    stores: list[OurStores] = []
    notes: list[str] = []
    try:
        log(f"starting servers (logs in {tmp})")
        targets.append(start_peer(tmp / "peer.log"))
        mem = sqlite_stores(tmp)
        stores.append(mem)
        targets.append(start_ours("ours/mem", mem, 1, args.threads, tmp / "ours-mem.log"))
        if not args.skip_pg:
            try:
                pg = pg_redis_stores(pg_url, redis_url)
                stores.append(pg)
                targets.append(start_ours("ours/pg", pg, args.pg_workers, args.threads,
                                          tmp / "ours-pg.log"))
            except Exception as exc:  # the row is skipped, and says why
                notes.append(f"ours/pg skipped: {type(exc).__name__}: {str(exc)[:200]}")
                log(notes[-1])

        for t in targets:
            # A first login alone: our sandbox creates the persona's person on first login,
            # and concurrent first logins race (see bench/README.md).
            login_flow(t)
        results: dict[str, dict[str, list[Run]]] = {s: defaultdict(list) for s in SCENARIOS}
        for name in scenarios:
            sc = Scenario(name, tmp)
            if name in ("userinfo", "introspection"):
                for t in targets:
                    t.access_token = flows(t, 1, 1)[0]["access_token"]
            for t in targets:  # warm-up, not recorded
                url, env = sc.prepare(t)
                run_wrk(t, url, sc.script, args.warmup, env)
            for i in range(args.runs):
                for t in targets:
                    url, env = sc.prepare(t)
                    r = run_wrk(t, url, sc.script, args.seconds, env)
                    results[name][t.name].append(r)
                    log(f"{name} run {i + 1}/{args.runs} {t.name}: {r.rps:,.0f} req/s, "
                        f"p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, "
                        f"{r.cores:.2f} cores, errors {r.errors}")

        half: dict[str, tuple[float, Run]] = {}
        if "client_credentials" in scenarios:
            sc = Scenario("client_credentials", tmp)
            paced = wrk_script(tmp, "static.lua", "paced.lua")
            for t in targets:
                peak = median([r.rps for r in results["client_credentials"][t.name]])
                url, env = sc.prepare(t)
                env["WRK_RATE_PER_THREAD"] = f"{peak / 2 / WRK_THREADS:.1f}"
                half[t.name] = (peak / 2, run_wrk(t, url, paced, args.seconds, env))
                log(f"half of peak {t.name}: asked {peak / 2:,.0f}/s, got "
                    f"{half[t.name][1].rps:,.0f}/s, p99 {half[t.name][1].p99_ms:.1f} ms")

        flow_rates: dict[str, tuple[FlowRate, FlowRate]] = {}
        for t in targets:
            flows(t, 20 if args.quick else 60)  # warm-up
            one = flow_rate(t, args.seconds, 1)
            four = flow_rate(t, args.seconds, 4)
            flow_rates[t.name] = (one, four)
            log(f"login flows {t.name}: {one.flows_per_s:.1f}/s sequential, "
                f"{four.flows_per_s:.1f}/s with 4 loops")

        profiles: list[Profile] = []
        for t, st in zip([t for t in targets if t.name != "peer"], stores, strict=False):
            env = our_env(st, t.base)
            log(f"profiling client_credentials in-process ({t.name} stores)")
            profiles.append(profile_client_credentials(t.name, env, args.profile_requests))
    finally:
        for t in targets:
            stop(t.proc)
        for st in stores:
            st.close()
    load_after = loadavg()

    report = render(args, started, load_before, load_after, targets, results, half, flow_rates,
                    profiles, notes, versions(pg_url if not args.skip_pg else None,
                                              redis_url if not args.skip_pg else None),
                    scenarios)
    print(report)
    out_dir = BENCH / "results"
    out_dir.mkdir(exist_ok=True)
    suffix = ("-granian" if args.server == "granian" else "") + ("-quick" if args.quick else "")
    out = out_dir / f"token_bench-{started:%Y-%m-%d}{suffix}.md"
    out.write_text(report + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)}", file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)


def render(args: argparse.Namespace, started: dt.datetime, load_before: str, load_after: str,
           targets: list[Target], results: dict[str, dict[str, list[Run]]],
           half: dict[str, tuple[float, Run]], flow_rates: dict[str, tuple[FlowRate, FlowRate]],
           profiles: list[Profile], notes: list[str], env_lines: list[str],
           scenarios: list[str]) -> str:
    names = [t.name for t in targets]
    out = [f"# token_bench {started:%Y-%m-%d %H:%M} UTC",
           "",
           *(f"- {x}" for x in env_lines),
           f"- load average (1, 5, 15 min) before: {load_before}; after: {load_after} "
           "(2 shared cores: other engineers' tests may run at the same time)",
           f"- wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}, {args.runs} run(s) of {args.seconds:g} s "
           f"per cell after {args.warmup:g} s of warm-up, targets interleaved run by run; "
           "medians" + (f"; servers pinned to core {SERVER_CORE}, wrk and the flow driver to "
                        f"core {LOAD_CORE} (taskset)" if pinning() else "; no pinning"),
           "- peer: oidc-provider, one Node process, its development store: an in-memory LRU of "
           "1,000 entries, which keeps almost nothing under load (nothing is persisted)",
           f"- ours/mem: {server_label(1, args.threads)}, SQLite file (WAL) + in-process "
           "store: the row compared with the peer",
           f"- ours/pg: {server_label(args.pg_workers, args.threads)}, all on the server core, "
           "PostgreSQL + Redis: the production configuration, compared with the same peer "
           "figures but not like with like (it persists every token)",
           "- ours: rate limits " + ("on (budgets set out of reach; their counters cost what "
                                    "they cost in production)" if RATE_LIMITS else "off") +
           "; ours remembers consent per person and agency, so its flows after the first skip "
           "the consent page (the peer asks in every new browser session)",
           *(f"- {n}" for n in notes), ""]
    rows = []
    for s in scenarios:
        peer = results[s].get("peer", [])
        peer_rps = median([r.rps for r in peer])
        for n in names:
            runs = results[s].get(n, [])
            if not runs:
                continue
            rps = median([r.rps for r in runs])
            store = median([r.store_ms_per_req for r in runs])
            rows.append([s, n, f"{rps:,.0f}", f"{median([r.p50_ms for r in runs]):.1f}",
                         f"{median([r.p99_ms for r in runs]):.1f}",
                         f"{median([r.cores for r in runs]):.2f}",
                         f"{median([r.ms_per_req for r in runs]):.2f}",
                         f"{store:.2f}" if n == "ours/pg" else "-",
                         str(sum(r.errors for r in runs)),
                         "-" if n == "peer" else f"{rps / peer_rps:.2f}"])
    out += ["## Throughput and latency under wrk", "",
            fmt_table(["scenario", "target", "req/s", "p50 ms", "p99 ms", "server cores",
                       "server CPU ms/req", "PG+Redis CPU ms/req", "errors", "ours/peer"],
                      rows), ""]
    if half:
        out += ["## client_credentials at half of peak (wrk paced by bench/wrk/paced.lua)", "",
                fmt_table(["target", "asked req/s", "got req/s", "p50 ms", "p99 ms",
                           "server cores"],
                          [[n, f"{a:,.0f}", f"{r.rps:,.0f}", f"{r.p50_ms:.1f}",
                            f"{r.p99_ms:.1f}", f"{r.cores:.2f}"]
                           for n, (a, r) in half.items()]), ""]
    if flow_rates:
        rows = []
        peer_one = flow_rates.get("peer", (None, None))
        for n, (one, four) in flow_rates.items():
            rows.append([n, str(one.requests_per_flow), f"{one.flows_per_s:.1f}",
                         f"{one.p50_ms:.1f}", f"{four.flows_per_s:.1f}",
                         f"{one.server_ms_per_flow:.1f}",
                         "-" if n == "peer" or peer_one[0] is None else
                         f"{one.flows_per_s / peer_one[0].flows_per_s:.2f} / "
                         f"{four.flows_per_s / peer_one[1].flows_per_s:.2f}"])  # type: ignore[union-attr]
        out += ["## Full login flow, end to end (authorize, login, consent, token, userinfo)",
                "", "Python requests driver, a new session (cold login and consent) per flow.",
                "", fmt_table(["target", "requests/flow", "flows/s (1 loop)", "p50 ms/flow",
                               "flows/s (4 loops)", "server CPU ms/flow",
                               "ours/peer (1 / 4 loops)"], rows), ""]
    for p in profiles:
        out += [f"## Cost of one client_credentials request, in-process ({p.label} stores)", "",
                f"{p.wall_ms:.2f} ms wall, {p.cpu_ms:.2f} ms CPU per request, unprofiled "
                f"({args.profile_requests} requests into the WSGI app, no HTTP server), "
                "split by a stack sampler (every 0.5 ms) and by cProfile (which sees C "
                "built-ins but inflates code that makes many small calls):", "",
                fmt_table(["bucket", "sampled ms/req", "share", "cProfile ms/req", "share"],
                          [[b, f"{p.sampled[b]:.3f}", f"{100 * p.sampled[b] / p.wall_ms:.0f} %",
                            f"{v:.3f}", f"{100 * v / p.wall_ms:.0f} %"]
                           for b, v in p.buckets.items()]), "",
                "Top 10 functions by own time (ms per request, calls per request):", "",
                fmt_table(["function", "own ms/req", "calls/req"],
                          [[f, f"{ms:.3f}", str(c)] for f, ms, c in p.top_own]), "",
                "Our functions by cumulative time:", "",
                fmt_table(["function", "cumulative ms/req"],
                          [[f, f"{ms:.3f}"] for f, ms in p.top_ours]), ""]
    return "\n".join(out)


if __name__ == "__main__":
    main()
