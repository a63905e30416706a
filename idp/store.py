"""Ephemeral store: short-lived state with a TTL, in Redis or, for one process, in memory.

Both implementations give the same guarantees, and the same tests run on both: values are JSON
objects, every key expires, `take` is an atomic read-and-delete (so an authorization code can be
redeemed exactly once even when two requests race), and `add` sets only when absent (replay caches).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel


class StoreUnavailableError(RuntimeError):
    """The ephemeral store cannot be reached; callers answer 503, never lose durable data."""


class EphemeralStore(Protocol):
    def put(self, key: str, value: dict[str, Any], ttl: int) -> None: ...
    def get(self, key: str) -> dict[str, Any] | None: ...
    def take(self, key: str) -> dict[str, Any] | None: ...
    def delete(self, key: str) -> None: ...
    def add(self, key: str, value: dict[str, Any], ttl: int) -> bool: ...
    def incr(self, key: str, ttl: int) -> int: ...
    def incr_and_get(self, counter: str, ttl: int, key: str
                     ) -> tuple[int, dict[str, Any] | None]: ...
    def ping(self) -> bool: ...


class MemoryStore:
    """In-process store for the single-process default; one lock keeps every operation atomic."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._data: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[0] <= self._clock():
            del self._data[key]
            return None
        return item[1]

    def _sweep(self) -> None:
        now = self._clock()
        for k in [k for k, (exp, _) in self._data.items() if exp <= now]:
            del self._data[k]

    def put(self, key: str, value: dict[str, Any], ttl: int) -> None:
        with self._lock:
            if len(self._data) % 1024 == 0:
                self._sweep()
            self._data[key] = (self._clock() + ttl, json.dumps(value))

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            raw = self._live(key)
        return None if raw is None else json.loads(raw)

    def take(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            raw = self._live(key)
            self._data.pop(key, None)
        return None if raw is None else json.loads(raw)

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def add(self, key: str, value: dict[str, Any], ttl: int) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._data[key] = (self._clock() + ttl, json.dumps(value))
            return True

    def incr(self, key: str, ttl: int) -> int:
        with self._lock:
            raw = self._live(key)
            count = (json.loads(raw)["n"] if raw else 0) + 1
            expires = self._data[key][0] if raw else self._clock() + ttl
            self._data[key] = (expires, json.dumps({"n": count}))
            return int(count)

    def incr_and_get(self, counter: str, ttl: int, key: str
                     ) -> tuple[int, dict[str, Any] | None]:
        """`incr(counter)` and `get(key)` together (one round trip on Redis)."""
        return self.incr(counter, ttl), self.get(key)

    def ping(self) -> bool:
        return True


class RedisStore:
    """Redis-backed store; GETDEL and SET NX EX give the atomicity the protocol needs."""

    def __init__(self, url: str, prefix: str = "idp:") -> None:
        self._r = redis_client(url)
        self._p = prefix

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise StoreUnavailableError("ephemeral store unavailable") from exc

    def put(self, key: str, value: dict[str, Any], ttl: int) -> None:
        self._call(self._r.set, self._p + key, json.dumps(value), ex=ttl)

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self._call(self._r.get, self._p + key)
        return None if raw is None else json.loads(raw)

    def take(self, key: str) -> dict[str, Any] | None:
        raw = self._call(self._r.getdel, self._p + key)
        return None if raw is None else json.loads(raw)

    def delete(self, key: str) -> None:
        self._call(self._r.delete, self._p + key)

    def add(self, key: str, value: dict[str, Any], ttl: int) -> bool:
        return bool(self._call(self._r.set, self._p + key, json.dumps(value), ex=ttl, nx=True))

    def incr(self, key: str, ttl: int) -> int:
        pipe = self._r.pipeline()
        pipe.incr(self._p + key)
        pipe.expire(self._p + key, ttl, nx=True)
        count, _ = self._call(pipe.execute)
        return int(count)

    def incr_and_get(self, counter: str, ttl: int, key: str
                     ) -> tuple[int, dict[str, Any] | None]:
        """`incr(counter)` and `get(key)` in one pipeline: the token endpoint's rate-limit
        check (the address's counter and the client's block marker) in one round trip."""
        pipe = self._r.pipeline()
        pipe.incr(self._p + counter)
        pipe.expire(self._p + counter, ttl, nx=True)
        pipe.get(self._p + key)
        count, _, raw = self._call(pipe.execute)
        return int(count), None if raw is None else json.loads(raw)

    def ping(self) -> bool:
        try:
            return bool(self._r.ping())
        except redis.RedisError:
            return False


SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
SENTINEL_PORT = 26379
# Query options of a sentinel URL: the TLS files (rediss+sentinel) and the sentinels' own login.
_SENTINEL_TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")
_SENTINEL_AUTH_OPTIONS = ("sentinel_username", "sentinel_password")


def redis_client(url: str) -> redis.Redis:
    """The Redis client for IDP_REDIS_URL: a plain server (`redis://`, `rediss://` for TLS) or
    the current master of a Sentinel-monitored group (`redis+sentinel://`, `rediss+sentinel://`).

    Every form gets 2-second socket timeouts, so a dead or silent server cannot hang a worker.
    The sentinel form asks the sentinels for the master's address on every new connection, so
    after a failover the same client reaches the promoted replica without a restart: a
    connection still open to the old master is dropped and the operation retried once on a new
    one. Until a replica is promoted, operations fail fast (StoreUnavailableError, so 503).
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme in SENTINEL_SCHEMES:
        return _sentinel_master(url)
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def parse_sentinel_url(url: str) -> dict[str, Any]:
    """Split `redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db][?opts]`.

    urllib cannot read a comma-separated host list (its `.port` fails), so the network part is
    split here. The user and password are those of the Redis servers (master and replicas);
    sentinels that need their own login take `sentinel_username` / `sentinel_password` options.
    A malformed URL raises ValueError naming what is wrong, without echoing the password.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in SENTINEL_SCHEMES:
        raise ValueError(f"not a sentinel URL: scheme {parts.scheme!r}")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    username = password = None
    if userinfo:
        user, has_password, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if has_password and secret else None
    sentinels = [_host_port(item) for item in hostlist.split(",") if item.strip()]
    if not sentinels:
        raise ValueError("a sentinel URL needs at least one sentinel host")
    path = [unquote(p) for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ValueError("a sentinel URL's path is /SERVICE_NAME or /SERVICE_NAME/DB")
    db = 0
    if len(path) == 2:
        if not path[1].isdigit():
            raise ValueError(f"the database number must be a whole number (got {path[1][:10]!r})")
        db = int(path[1])
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    known = _SENTINEL_AUTH_OPTIONS + (_SENTINEL_TLS_OPTIONS if parts.scheme.lower() ==
                                      "rediss+sentinel" else ())
    unknown = sorted(set(query) - set(known))
    if unknown:
        raise ValueError(f"unknown sentinel URL option(s): {', '.join(unknown)}")
    return {"sentinels": sentinels, "service": path[0], "db": db, "username": username,
            "password": password, "ssl": parts.scheme.lower() == "rediss+sentinel",
            "options": query}


def _host_port(item: str) -> tuple[str, int]:
    item = item.strip()
    if item.startswith("["):  # [IPv6]:port
        host, _, rest = item[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = item.partition(":")
    if not host:
        raise ValueError(f"empty sentinel host in {item[:60]!r}")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"bad sentinel port in {item[:60]!r}")
    return host, int(port) if port else SENTINEL_PORT


def _sentinel_master(url: str) -> redis.Redis:
    spec = parse_sentinel_url(url)
    opts = spec["options"]
    tls = {k: opts[k] for k in _SENTINEL_TLS_OPTIONS if k in opts}
    if spec["ssl"]:
        tls["ssl"] = True
    common: dict[str, Any] = {"socket_timeout": 2, "socket_connect_timeout": 2, **tls}
    # The sentinel list is itself the retry: a sentinel that does not answer is skipped at once.
    # (redis-py's default of 10 retries with backoff per sentinel held a request for ~15 s
    # when no sentinel answered.)
    sentinel_kwargs: dict[str, Any] = {**common, "retry": Retry(NoBackoff(), 0)}
    if opts.get("sentinel_username"):
        sentinel_kwargs["username"] = opts["sentinel_username"]
    if opts.get("sentinel_password"):
        sentinel_kwargs["password"] = opts["sentinel_password"]
    sentinel = Sentinel(spec["sentinels"], sentinel_kwargs=sentinel_kwargs, **common)
    # One immediate retry: enough to replace a pooled connection that a failover broke (the
    # retry asks the sentinels again), without holding a request through a whole failover.
    # During the gap the operation fails fast and the caller answers 503 with Retry-After.
    return sentinel.master_for(spec["service"], db=spec["db"], username=spec["username"],
                               password=spec["password"], retry=Retry(NoBackoff(), 1))


def open_store(redis_url: str | None) -> EphemeralStore:
    return RedisStore(redis_url) if redis_url else MemoryStore()
