# -*- test-case-name: tests.unit.test_throttle -*-
"""Reconnect throttling: an address just dropped for abuse is refused at accept.

Like ircd-hybrid's ``throttle_time``: an address whose connection was closed
for abuse (Excess Flood, SendQ exceeded) cannot connect again for a while;
each further abuse soon after doubles the wait (bounded).  A refused
connection is told so in one ERROR line and closed before it costs a
registration, a welcome burst or operator notices.  The table is bounded
(oldest addresses dropped first) and ages on the injected clock; attempts
while throttled do not extend the wait, so a client that reconnects on a
timer gets back in once the wait is over.  Each wait is stretched by a random
share (up to ``JITTER``) so that addresses dropped together do not all come
back in the same instant.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

#: The first wait after an abuse, doubled by each abuse within ``FORGET_AFTER``.
BASE_WAIT = 10.0
#: The longest wait.
MAX_WAIT = 300.0
#: An address with no abuse for this long (after its wait) starts again from ``BASE_WAIT``.
FORGET_AFTER = 600.0
#: At most this many addresses are remembered (the oldest dropped first).
MAX_ADDRESSES = 10_000
#: Each wait is lengthened by up to this share of it, at random.
JITTER = 0.5
#: What a throttled client reads in its ERROR line.
REASON = "Throttled: reconnecting too fast"


@dataclass
class _Strikes:
    count: int
    until: float


class Throttle:
    """Which addresses are refused for now, and until when."""

    def __init__(self, clock: Any, base: float = BASE_WAIT, cap: float = MAX_WAIT,
                 forget: float = FORGET_AFTER, max_addresses: int = MAX_ADDRESSES,
                 jitter: float = JITTER, rng: random.Random | None = None) -> None:
        self.clock = clock
        self.jitter = jitter
        self.rng = rng or random.Random()
        self.base, self.cap, self.forget, self.max_addresses = base, cap, forget, max_addresses
        self._table: OrderedDict[str, _Strikes] = OrderedDict()
        self.refused = 0  # connections refused since start (for operators' statistics)

    def __len__(self) -> int:
        return len(self._table)

    def abused(self, ip: str) -> float:
        """Note that ``ip`` was dropped for abuse; return how long it is now refused.

        The wait is ``base`` doubled per earlier abuse (at most ``cap``), times 1 to
        1 + ``jitter`` at random.
        """
        now = self.clock.seconds()
        self._expire(now)
        strikes = self._table.pop(ip, None)
        if strikes is not None and now - strikes.until >= self.forget:
            strikes = None  # forgotten, even if it was not at the front of the table
        count = strikes.count + 1 if strikes is not None else 1
        wait = min(self.cap, self.base * 2 ** min(count - 1, 16)) * (1 + self.jitter * self.rng.random())
        self._table[ip] = _Strikes(count, max(now + wait, strikes.until if strikes else 0.0))
        while len(self._table) > self.max_addresses:
            self._table.popitem(last=False)
        return wait

    def remaining(self, ip: str) -> float:
        """Seconds ``ip`` is still refused (0: it may connect)."""
        strikes = self._table.get(ip)
        if strikes is None:
            return 0.0
        return max(0.0, strikes.until - self.clock.seconds())

    def _expire(self, now: float) -> None:
        table = self._table
        while table:
            ip, strikes = next(iter(table.items()))
            if now - strikes.until < self.forget:
                break
            del table[ip]
