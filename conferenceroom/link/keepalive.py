# -*- test-case-name: tests.unit.test_link_keepalive -*-
"""Per-link keepalive: PING after ``ping`` seconds of silence, drop when unanswered.

The link protocol owns one :class:`LinkKeepalive` per established link,
calls :meth:`LinkKeepalive.data_received` for every line the peer sends,
and gives two callbacks: ``send_ping()`` (write ``PING :<our SID>``) and
``timeout()`` (close the link with :attr:`LinkKeepalive.reason`).  Any line
counts as an answer, as in hybrid.

One timer per link, rescheduled lazily: a line only records the time, so a
burst of thousands of lines costs no timer churn.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime


class LinkKeepalive:
    """PING a silent peer after *interval* seconds; call *timeout* if no line comes back in as long."""

    def __init__(
        self,
        clock: IReactorTime,
        interval: float,
        *,
        send_ping: Callable[[], None],
        timeout: Callable[[], None],
    ) -> None:
        self.clock = clock
        self.interval = interval
        self._send_ping = send_ping
        self._timeout = timeout
        self._last = clock.seconds()
        self._pinged_at: float | None = None
        self._timer: IDelayedCall | None = None

    @property
    def reason(self) -> str:
        """The text a timed-out link closes with."""
        return f"Ping timeout: {self.interval:g} seconds"

    def start(self) -> None:
        """Start counting idle time from now."""
        self._last = self.clock.seconds()
        self._pinged_at = None
        self._arm(self.interval)

    def stop(self) -> None:
        """Stop for good (the link closed): no PING, no timeout, no timer left."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def data_received(self) -> None:
        """The peer sent a line: it is alive, and idle time starts again."""
        self._last = self.clock.seconds()
        self._pinged_at = None

    def set_interval(self, interval: float) -> None:
        """Use *interval* from now on, counted from the last line (or PING) already seen."""
        self.interval = interval
        if self._timer is not None:
            since = self._pinged_at if self._pinged_at is not None else self._last
            self._arm(max(0.0, since + interval - self.clock.seconds()))

    def _arm(self, delay: float) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.reset(delay)
        else:
            self._timer = self.clock.callLater(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self.clock.seconds()
        if self._pinged_at is not None:
            left = self._pinged_at + self.interval - now
            if left > 0:
                self._arm(left)
                return
            self._timeout()
            return
        idle = now - self._last
        if idle < self.interval:
            self._arm(self.interval - idle)
            return
        self._pinged_at = now
        self._arm(self.interval)
        self._send_ping()
