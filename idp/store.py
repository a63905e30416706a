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

import redis


class StoreUnavailableError(RuntimeError):
    """The ephemeral store cannot be reached; callers answer 503, never lose durable data."""


class EphemeralStore(Protocol):
    def put(self, key: str, value: dict[str, Any], ttl: int) -> None: ...
    def get(self, key: str) -> dict[str, Any] | None: ...
    def take(self, key: str) -> dict[str, Any] | None: ...
    def delete(self, key: str) -> None: ...
    def add(self, key: str, value: dict[str, Any], ttl: int) -> bool: ...
    def incr(self, key: str, ttl: int) -> int: ...
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

    def ping(self) -> bool:
        return True


class RedisStore:
    """Redis-backed store; GETDEL and SET NX EX give the atomicity the protocol needs."""

    def __init__(self, url: str, prefix: str = "idp:") -> None:
        self._r = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
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

    def ping(self) -> bool:
        try:
            return bool(self._r.ping())
        except redis.RedisError:
            return False


def open_store(redis_url: str | None) -> EphemeralStore:
    return RedisStore(redis_url) if redis_url else MemoryStore()
