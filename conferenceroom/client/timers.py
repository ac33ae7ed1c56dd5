# -*- test-case-name: tests.unit.test_client_timers -*-
"""One timer for every client's registration and idle deadlines.

Each connection has at most one deadline (its registration timeout, then its
next idle check).  Instead of a ``DelayedCall`` per connection, deadlines
are kept in one-second buckets and a single ``DelayedCall`` fires at the
earliest bucket: a deadline runs at most one second late, an idle server
costs one call per second with due work (none per client per second), and a
connection holds only its bucket's key.  Time comes from the injected clock.
"""

from __future__ import annotations

import heapq
import math
from typing import Any, Protocol

from twisted.logger import Logger


class Timed(Protocol):
    """What the wheel needs from an entry: its bucket key and what to run when due."""

    _due_key: int | None

    def timer_due(self) -> None:
        """The deadline passed (at most one second ago)."""


class _Bucket(set):
    """The entries due in one second, with that second's key: every entry in it holds this one
    ``int`` (a key past 256 is a new 32-byte object each time it is computed)."""

    __slots__ = ("key",)


class TimerWheel:
    """Deadlines of many entries on one ``DelayedCall``, in per-second buckets."""

    __slots__ = ("clock", "_buckets", "_keys", "_call", "_call_key", "_count")
    log = Logger()

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self._keys: list[int] = []  # heap of bucket keys (a key may outlive its bucket)
        self._call: Any = None
        # The bucket _call was made for: the reactor reads the time again in callLater, so the
        # call's own time is a little past the key and cannot tell whether a new key is earlier.
        self._call_key: int | None = None
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, entry: Timed, when: float) -> None:
        """Run ``entry.timer_due()`` at ``when`` (rounded up to the second); replaces its deadline."""
        if entry._due_key is not None:
            self.remove(entry)
        key = math.ceil(when)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket()
            bucket.key = key
            heapq.heappush(self._keys, key)
        bucket.add(entry)
        entry._due_key = bucket.key
        self._count += 1
        if self._call is None or self._call_key > key:  # type: ignore[operator]
            self._schedule()

    def remove(self, entry: Timed) -> None:
        """Forget ``entry``'s deadline, if it has one."""
        key = entry._due_key
        if key is None:
            return
        entry._due_key = None
        bucket = self._buckets.get(key)
        if bucket is None or entry not in bucket:
            return
        bucket.discard(entry)
        self._count -= 1
        if not bucket:
            del self._buckets[key]
        if not self._count:
            self._schedule()

    def _schedule(self) -> None:
        """One ``DelayedCall`` at the earliest bucket (none while nothing waits)."""
        keys, buckets = self._keys, self._buckets
        while keys and keys[0] not in buckets:
            heapq.heappop(keys)
        call = self._call
        if not keys:
            if call is not None and call.active():
                call.cancel()
            self._call = self._call_key = None
            return
        if call is not None:
            if self._call_key == keys[0]:
                return
            if call.active():
                call.cancel()
        self._call_key = keys[0]
        self._call = self.clock.callLater(max(0.0, keys[0] - self.clock.seconds()), self._fire)

    def _fire(self) -> None:
        """Run every entry whose bucket is due, then wait for the next bucket."""
        self._call = self._call_key = None
        now = self.clock.seconds()
        keys, buckets = self._keys, self._buckets
        while keys and keys[0] <= now:
            key = heapq.heappop(keys)
            bucket = buckets.pop(key, None)
            if not bucket:
                continue
            self._count -= len(bucket)
            for entry in list(bucket):
                if entry._due_key != key:  # removed meanwhile (another entry's work closed it)
                    continue
                entry._due_key = None
                try:
                    entry.timer_due()
                except Exception:  # one entry's failure never keeps the others' deadlines from running
                    self.log.failure("deadline of {entry!r} failed", entry=entry)
        self._schedule()
