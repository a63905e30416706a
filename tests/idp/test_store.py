"""The ephemeral store contract, run on the in-process store and (in CI) on Redis."""

from __future__ import annotations

import threading
import time

import pytest

from idp.store import EphemeralStore, MemoryStore, RedisStore, StoreUnavailableError


def test_put_get_delete(store: EphemeralStore) -> None:
    store.put("k", {"a": 1, "b": "ไทย"}, 60)
    assert store.get("k") == {"a": 1, "b": "ไทย"}
    store.delete("k")
    assert store.get("k") is None


def test_values_expire_after_their_ttl(store: EphemeralStore) -> None:
    store.put("short", {"x": 1}, 1)
    assert store.get("short") == {"x": 1}
    time.sleep(1.3)
    assert store.get("short") is None
    assert store.take("short") is None


def test_take_is_single_use(store: EphemeralStore) -> None:
    store.put("code", {"v": 1}, 60)
    assert store.take("code") == {"v": 1}
    assert store.take("code") is None
    assert store.get("code") is None


def test_concurrent_take_exactly_one_wins(store: EphemeralStore) -> None:
    """Two (here: sixteen) redemptions of one code at once: exactly one gets it."""
    for round_ in range(20):
        key = f"code-{round_}"
        store.put(key, {"v": round_}, 60)
        barrier = threading.Barrier(16)
        results: list[object] = []
        lock = threading.Lock()

        def redeem(k: str = key, out: list[object] = results,
                   barrier: threading.Barrier = barrier, lock: threading.Lock = lock) -> None:
            barrier.wait()
            got = store.take(k)
            with lock:
                out.append(got)

        threads = [threading.Thread(target=redeem) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(r is not None for r in results) == 1


def test_add_is_a_replay_cache(store: EphemeralStore) -> None:
    assert store.add("jti:abc", {"seen": 1}, 60) is True
    assert store.add("jti:abc", {"seen": 1}, 60) is False


def test_add_again_after_expiry(store: EphemeralStore) -> None:
    assert store.add("jti:exp", {}, 1)
    time.sleep(1.3)
    assert store.add("jti:exp", {}, 1)


def test_incr_counts_within_window(store: EphemeralStore) -> None:
    assert [store.incr("rate:ip", 60) for _ in range(3)] == [1, 2, 3]


def test_incr_window_does_not_slide(store: EphemeralStore) -> None:
    store.incr("rate:w", 1)
    time.sleep(0.6)
    store.incr("rate:w", 1)  # must not extend the window
    time.sleep(0.6)
    assert store.incr("rate:w", 1) == 1


def test_incr_and_get_counts_and_reads_in_one_call(store: EphemeralStore) -> None:
    assert store.incr_and_get("rate:both", 60, "marker") == (1, None)
    store.put("marker", {"until": 5}, 60)
    assert store.incr_and_get("rate:both", 60, "marker") == (2, {"until": 5})
    assert store.incr("rate:both", 60) == 3  # the same counter as incr's


def test_ping(store: EphemeralStore) -> None:
    assert store.ping()


def test_memory_store_uses_its_clock() -> None:
    now = [1000.0]
    s = MemoryStore(clock=lambda: now[0])
    s.put("k", {"v": 1}, 10)
    now[0] += 9.9
    assert s.get("k") == {"v": 1}
    now[0] += 0.2
    assert s.get("k") is None


def test_unreachable_redis_is_a_clear_error() -> None:
    s = RedisStore("redis://127.0.0.1:1/0")
    assert s.ping() is False
    with pytest.raises(StoreUnavailableError):
        s.get("k")
