# -*- test-case-name: tests.unit.test_client_pacing -*-
"""Work shared out over reactor turns: at most so much per turn, the rest later, in order.

A burst of new connections (a botnet joining, a netsplit's reconnects) would
otherwise register, welcome and join them all in one reactor pass, while
everyone else's input waits.  :class:`TurnBudget` lets ``per_turn`` units of
work run in the current turn; later work waits, first come first served, for
the next turns (``callLater(0)`` on the injected clock).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any


class TurnBudget:
    """At most ``per_turn`` units of some kind of work per reactor turn."""

    def __init__(self, clock: Any, per_turn: int) -> None:
        self.clock = clock
        self.per_turn = per_turn
        self.used = 0
        self.waiting: deque[Callable[[], Any]] = deque()
        self._timer: Any = None

    def take(self) -> bool:
        """Use one unit now if this turn has one left and nothing waits before us."""
        if self.waiting or self.used >= self.per_turn:
            return False
        self.used += 1
        self._next_turn()
        return True

    def later(self, work: Callable[[], Any]) -> None:
        """Run ``work`` in a later turn, after the work already waiting."""
        self.waiting.append(work)
        self._next_turn()

    def _next_turn(self) -> None:
        if self._timer is None:
            self._timer = self.clock.callLater(0, self._turn)

    def _turn(self) -> None:
        self._timer = None
        self.used = 0
        while self.waiting and self.used < self.per_turn:
            self.used += 1
            self.waiting.popleft()()
        if self.waiting or self.used:
            self._next_turn()
