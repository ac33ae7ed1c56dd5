# -*- test-case-name: tests.unit.test_flood -*-
"""Penalty-based flood control for one client connection.

Each line costs a penalty (most commands 1, expensive ones more).  A client
has a budget of ``penalties`` per ``seconds``: lines within budget run at
once; lines over it wait in a queue and run as the budget recovers; when the
queued penalty (plus whatever ran beyond the budget) passes ``kill`` the
client is disconnected ("Excess Flood").
Input that runs no command (blank lines, the tail of an overlong line) is
charged too, by its size (:func:`byte_cost`), so every byte a client sends
uses up budget.  Time comes from the injected clock, so tests drive it with
``task.Clock``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BYTES_PER_PENALTY = 512  # a full-length line costs at least one penalty


def byte_cost(size: int) -> float:
    """The penalty ``size`` bytes of input cost whatever they hold."""
    return size / BYTES_PER_PENALTY


@dataclass(frozen=True)
class FloodLimits:
    """A line budget: ``penalties`` per ``seconds``, disconnect past ``kill`` queued."""

    penalties: int
    seconds: int
    kill: int


def limits_for(flood: Any, user: Any) -> FloodLimits | None:
    """The budget of a connection of ``user`` (None before registration) under ``flood`` settings.

    None where flood control is off (or for an exempt operator).  One
    :class:`FloodLimits` per settings snapshot, not one per line.
    """
    if not flood.enabled:
        return None
    if user is not None and flood.oper_exempt and user.is_oper:
        return None
    cached = _last_limits
    if cached[0] is not flood:
        cached[:] = [flood, FloodLimits(flood.penalties, flood.seconds, flood.kill)]
    return cached[1]


_last_limits: list[Any] = [None, None]  # the flood settings last asked about and their limits


_NO_QUEUE: tuple[()] = ()  # the queue of a gate where nothing waits


class _Gate:
    """The budget and queue of one connection; subclasses say what a line runs and who is told."""

    __slots__ = ("clock", "queue", "queued_cost", "busy_until", "_timer", "closed", "held")
    limits: Callable[[], FloodLimits | None]
    run: Callable[[Any], None]
    on_excess: Callable[[], None]
    on_drained: Callable[[], None] | None
    on_release: Callable[[], None] | None

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        # A plain list, made when a line first waits and dropped once empty (an
        # idle client holds the shared empty tuple; a deque costs ~600 bytes even
        # empty), never longer than the kill threshold allows.  An entry whose
        # line is None is charged input that runs nothing.
        self.queue: list[tuple[Any, float]] | tuple[()] = _NO_QUEUE
        self.queued_cost = 0.0
        self.busy_until = 0.0
        self._timer: Any = None
        self.closed = False
        self.held = 0

    def hold(self) -> None:
        """Keep later lines queued until :meth:`release` (a command still
        waiting on off-thread work, so replies stay in the order of input)."""
        self.held += 1

    def release(self) -> None:
        """Undo one :meth:`hold`; run what queued meanwhile once none remain."""
        if self.held:
            self.held -= 1
        if self.on_release is not None:
            self.on_release()
        if not self.held and self._timer is None and not self.closed:
            self._drain()

    @property
    def waiting(self) -> bool:
        """True while lines wait (over budget or held)."""
        return bool(self.queue)

    def charge(self, cost: float) -> None:
        """Use ``cost`` of the budget for input that runs nothing (flood off: free)."""
        if cost > 0 and not self.closed and self.limits() is not None:
            self.submit(None, cost)

    def submit(self, line: Any, cost: float) -> None:
        """Run ``line`` now if the budget allows, else queue it (or disconnect).

        ``None`` stands for charged input with nothing to run.
        """
        if self.closed:
            return
        limits = self.limits()
        if limits is None and not self.queue and not self.held:
            if line is not None:
                self.run(line)
            return
        queue = self.queue
        if type(queue) is tuple:
            queue = self.queue = []
        if line is None and queue and queue[-1][0] is None:
            queue[-1] = (None, queue[-1][1] + cost)  # one entry for a run of junk
        else:
            queue.append((line, cost))
        self.queued_cost += cost
        if self._timer is None:
            self._drain()
        if limits is not None and self.excess(limits) > limits.kill and not self.closed:
            self.close()
            self.on_excess()

    def excess(self, limits: FloodLimits) -> float:
        """Penalty waiting in the queue plus what already ran beyond the budget.

        Input that ran although it cost more than the budget (a large read of
        junk, when nothing was owed) counts too: otherwise a flooder whose reads
        are each under the kill threshold, with the socket paused in between,
        would be kept at the budget's pace forever instead of dropped.
        """
        unit = limits.seconds / max(limits.penalties, 1)
        owed = (self.busy_until - self.clock.seconds()) / unit
        return self.queued_cost + max(0.0, owed - limits.penalties)

    def _drain(self) -> None:
        self._timer = None
        while self.queue and not self.closed and not self.held:
            limits = self.limits()
            line, cost = self.queue[0]
            if limits is not None:  # off: the budget's clock is not read, no float per idle client
                now = self.clock.seconds()
                self.busy_until = max(self.busy_until, now)
                unit = limits.seconds / max(limits.penalties, 1)
                # A line costing more than the whole budget runs once nothing is owed.
                if self.busy_until > now and self.busy_until - now + cost * unit > limits.seconds:
                    owed = self.busy_until - now
                    wait = min(owed + cost * unit - limits.seconds, owed)
                    self._timer = self.clock.callLater(wait, self._drain)
                    return
                self.busy_until += cost * unit
            del self.queue[0]
            self.queued_cost = max(0.0, self.queued_cost - cost) if self.queue else 0.0
            if line is not None:
                self.run(line)
            if self._timer is not None:
                return  # the line held and released the gate; that drain took over
        if not self.queue:
            self.queue = _NO_QUEUE
            if not self.closed and self.on_drained is not None:
                self.on_drained()

    def close(self) -> None:
        """Drop queued lines and stop the timer."""
        self.closed = True
        self.queue = _NO_QUEUE
        self.queued_cost = 0
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None


class FloodGate(_Gate):
    """Run lines now, later, or disconnect, by their accumulated penalty (callbacks given)."""

    __slots__ = ("limits", "run", "on_excess", "on_drained", "on_release")

    def __init__(
        self,
        clock: Any,
        limits: Callable[[], FloodLimits | None],
        run: Callable[[Any], None],
        on_excess: Callable[[], None],
        on_drained: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(clock)
        self.limits = limits
        self.run = run
        self.on_excess = on_excess
        self.on_drained = on_drained  # called when a non-empty queue has emptied
        self.on_release = None  # told after each release()


class ConnectionGate(_Gate):
    """The gate of one client connection: it holds the connection, not five bound methods
    (~0.3 KiB per idle client), and calls the connection's ``_flood_limits``,
    ``_run_line``, ``_excess_flood``, ``_resume_input`` and ``_gate_released``."""

    __slots__ = ("conn",)

    def __init__(self, conn: Any) -> None:
        super().__init__(conn.core.clock)
        self.conn = conn

    def submit(self, line: Any, cost: float) -> None:
        """:meth:`_Gate.submit`; with nothing waiting and flood control off for this user
        (``flood off``, an exempt operator) the line runs at once, as there, in fewer calls."""
        conn = self.conn
        if not self.queue and not self.held and not self.closed and (
                limits_for(conn.core.settings.flood, conn.user) is None):
            if line is not None:
                conn._run_line(line)
            return
        _Gate.submit(self, line, cost)

    def limits(self) -> FloodLimits | None:  # type: ignore[override]
        conn = self.conn
        return limits_for(conn.core.settings.flood, conn.user)  # what conn._flood_limits() says, one call less

    def run(self, line: Any) -> None:  # type: ignore[override]
        self.conn._run_line(line)

    def on_excess(self) -> None:  # type: ignore[override]
        self.conn._excess_flood()

    def on_drained(self) -> None:  # type: ignore[override]
        self.conn._resume_input()

    def on_release(self) -> None:  # type: ignore[override]
        self.conn._gate_released()
