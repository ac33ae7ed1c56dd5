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


_NO_ARG: Any = object()


class TurnBudget:
    """At most ``per_turn`` units of some kind of work per reactor turn."""

    def __init__(self, clock: Any, per_turn: int) -> None:
        self.clock = clock
        self.per_turn = per_turn
        self.used = 0
        self.waiting: deque[Any] = deque()  # callables, or (callable, argument) pairs
        self._timer: Any = None

    def take(self) -> bool:
        """Use one unit now if this turn has one left and nothing waits before us."""
        if self.waiting or self.used >= self.per_turn:
            return False
        self.used += 1
        self._next_turn()
        return True

    def busy(self) -> bool:
        """True if work asked for now would wait for a later turn (:meth:`take` would refuse)."""
        return bool(self.waiting) or self.used >= self.per_turn

    def later(self, work: Callable[..., Any], arg: Any = _NO_ARG) -> None:
        """Run ``work()`` (or ``work(arg)``) in a later turn, after the work already waiting.

        With ``arg`` the entry is a pair, not a closure: a waiting new client holds ~100 bytes
        less while a burst of them waits (the heap keeps what a burst's peak needed)."""
        self.waiting.append(work if arg is _NO_ARG else (work, arg))
        self._next_turn()

    def _next_turn(self) -> None:
        if self._timer is None:
            self._timer = self.clock.callLater(0, self._turn)

    def _turn(self) -> None:
        self._timer = None
        self.used = 0
        while self.waiting and self.used < self.per_turn:
            self.used += 1
            work = self.waiting.popleft()
            if type(work) is tuple:
                work[0](work[1])
            else:
                work()
        if self.waiting or self.used:
            self._next_turn()
