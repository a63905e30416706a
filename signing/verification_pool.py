"""Worker processes that judge uploads, so a hostile file can be stopped by killing its worker.

Why processes, and why kept: the only sure way to stop a parse that loops, recurses or balloons
is to kill what runs it, so judging runs in a child with a memory cap. Starting a child per
document costs far more than judging it: multiprocessing re-imports the caller's main script
in every new child (for `idp serve` that is Flask and the whole provider, ~0.5 s), and
CPython 3.11's forkserver does not honour preloading `__main__`. So each worker is started
once and judges one document at a time; a worker that overruns its time is killed and
replaced, which touches no other caller's document because a worker never holds two. Workers
are also retired after `MAX_TASKS` documents, so memory a hostile file left behind is given
back.

The pool belongs to one process: a web server that forks its workers after this module made
a pool gets a fresh pool in each (the pid is checked), never a copy of the parent's pipes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger(__name__)

MAX_TASKS = 200
"""Documents a worker judges before it is replaced."""
MEMORY_BYTES = 2 * 1024 * 1024 * 1024
"""Address-space cap of a worker: a decompression or object bomb fails there, not here."""


class Overrun(Exception):
    """No answer within the time allowed (the worker was killed), or no worker free in time."""


class Died(Exception):
    """The worker died without answering (a crash, the memory cap)."""


def _serve(conn: Connection, task: Callable[..., Any]) -> None:
    """A worker's life: cap its memory, then answer tasks until the pipe closes."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    except Exception:  # not on this platform: the time limit still holds
        log.debug("no memory cap for the verification worker", exc_info=True)
    while True:
        try:
            args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer = task(*args)
        except BaseException:  # the caller sees None and refuses the file as damaged
            log.debug("verification task failed", exc_info=True)
            answer = None
        conn.send(answer)


@dataclass
class _Worker:
    process: Any
    conn: Connection
    done: int = 0

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


class WorkerPool:
    """Up to `size` workers running `task`; `run` gives one of them one call, bounded in time."""

    def __init__(self, task: Callable[..., Any], size: int) -> None:
        self._task = task
        self._size = size
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._started = 0
        self._pid = os.getpid()
        self._ctx = multiprocessing.get_context("spawn")

    def _new_worker(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_serve, args=(child, self._task), daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    def _checkout(self, deadline: float) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            grow = self._started < self._size
            if grow:
                self._started += 1
        if grow:
            try:
                return self._new_worker()
            except BaseException:
                with self._lock:
                    self._started -= 1
                raise
        try:
            return self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise Overrun from None

    def _retire(self, worker: _Worker) -> None:
        worker.stop()
        with self._lock:
            self._started -= 1

    def run(self, args: tuple[Any, ...], timeout: float) -> Any:
        """`task(*args)` in a worker; Overrun after `timeout` seconds, Died if it crashed."""
        deadline = time.monotonic() + timeout
        worker = self._checkout(deadline)
        try:
            worker.conn.send(args)
            if not worker.conn.poll(max(0.0, deadline - time.monotonic())):
                self._retire(worker)
                raise Overrun
            answer = worker.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            self._retire(worker)
            raise Died from None
        worker.done += 1
        if worker.done >= MAX_TASKS:
            self._retire(worker)
        else:
            self._idle.put(worker)
        return answer

    def close(self) -> None:
        while True:
            try:
                self._retire(self._idle.get_nowait())
            except queue.Empty:
                return

    @property
    def owner(self) -> int:
        return self._pid


_POOLS: dict[Callable[..., Any], WorkerPool] = {}
_POOLS_LOCK = threading.Lock()


def pool_for(task: Callable[..., Any], size: int | None = None) -> WorkerPool:
    """This process's pool for `task` (made on first use; remade after a fork)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(task)
        if pool is None or pool.owner != os.getpid():
            pool = WorkerPool(task, size or min(4, os.cpu_count() or 1))
            _POOLS[task] = pool
        return pool
