"""Agency tokens counted per agency, for the audit trail.

An agency may ask for thousands of client credentials tokens an hour. An audit event each cost
a database transaction per token (most of the token endpoint's time, bench/README.md) and
buried the people's events of the trail under machine traffic. The trail instead gets one
`token.tally` event per agency and interval: how many tokens, between which times. The
interval's counts live in this process's memory until written, so a process killed outright
loses at most one interval of counts (never tokens: those are in the ephemeral store); a
normal shutdown writes them (atexit). The metrics count every token as it is issued.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections import Counter
from datetime import datetime

from idp import audit
from idp.db import Database, utcnow

TALLY_SECONDS = 60.0
"""The longest a count waits in memory before it is written."""

EVENT = "token.tally"


class AgencyTokenTally:
    """Counts per client id; the first count of an interval arms a timer that writes them."""

    def __init__(self, db: Database, interval: float = TALLY_SECONDS) -> None:
        self._db = db
        self._interval = interval
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._since: datetime | None = None
        self._armed = False
        self._closed = False
        _tallies.add(self)

    def count(self, client_id: str) -> None:
        with self._lock:
            self._counts[client_id] += 1
            if self._since is None:
                self._since = utcnow()
            if self._armed:
                return
            self._armed = True
        self._start_timer()

    def _timed_flush(self) -> None:
        with self._lock:
            self._armed = False
        self.flush()

    def flush(self) -> int:
        """Write one event per agency counted since the last flush; return how many events.
        If the database refuses, the counts are kept for the next try."""
        with self._lock:
            counts, since = self._counts, self._since
            self._counts, self._since = Counter(), None
        if not counts or since is None:
            return 0
        until = utcnow()
        try:
            with self._db.session() as s:
                for client_id, n in sorted(counts.items()):
                    audit.record(s, EVENT, client_id=client_id, grant_type="client_credentials",
                                 count=n, since=audit.format_at(since),
                                 until=audit.format_at(until))
        except Exception as exc:
            logging.getLogger(__name__).warning("agency token tally not written (%s); kept "
                                                "for the next interval", type(exc).__name__)
            with self._lock:
                self._counts.update(counts)
                self._since = min(since, self._since or since)
                rearm = not self._armed and not self._closed
                self._armed = self._armed or rearm
            if rearm:
                self._start_timer()
            return 0
        return len(counts)

    def close(self) -> None:
        """Write what is counted and stop trying: the process is ending."""
        with self._lock:
            self._closed = True
        self.flush()

    def _start_timer(self) -> None:
        timer = threading.Timer(self._interval, self._timed_flush)
        timer.daemon = True
        timer.start()


_tallies: weakref.WeakSet[AgencyTokenTally] = weakref.WeakSet()


@atexit.register
def close_all() -> None:
    """Write every tally of this process: at exit, and before a database goes away."""
    for tally in list(_tallies):
        tally.close()
