# -*- test-case-name: tests.unit.test_link_guard -*-
"""Failed link logins per address: guessing serials or link passwords gets an address throttled.

A server that connects in and fails the definition checks (no definition
matches its name, wrong serial or password, plain text for a SECUREONLY
definition, another certificate than the pinned one) counts one failure for
its address.  At :data:`FAILURES_BEFORE_THROTTLE` failures within
:data:`WINDOW` seconds the address is reported to the core's reconnect
throttle (:mod:`conferenceroom.throttle`: refused at accept, 10 s doubling
to 300 s), and every further failure while it is remembered does so again.
A peer retrying a wrong serial on its back-off (5, 10, 20 s, ...) reaches
the limit only after minutes; a guesser gets a handful of tries, then one
per throttle wait.  The table is bounded and ages on the injected clock.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

#: Failed link logins from one address, within :data:`WINDOW`, that throttle it.
FAILURES_BEFORE_THROTTLE = 5
#: Seconds a failure is remembered.
WINDOW = 600.0
#: At most this many addresses are remembered (the oldest dropped first).
MAX_ADDRESSES = 4096


class LoginGuard:
    """Recent failed link logins per address."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def failed(self, ip: str) -> int:
        """Count a failure for *ip*; return how many it has within the window (this one included)."""
        now = self.clock.seconds()
        times = self._failures.pop(ip, None) or deque()
        while times and now - times[0] >= WINDOW:
            times.popleft()
        times.append(now)
        self._failures[ip] = times
        while len(self._failures) > MAX_ADDRESSES:
            self._failures.popitem(last=False)
        return len(times)


def failed_login(core: Any, ip: str) -> str | None:
    """Note a failed link login from *ip*; the operators' sentence when it is now throttled, else None."""
    guard = getattr(core, "link_guard", None)
    if guard is None:
        guard = core.link_guard = LoginGuard(core.clock)
    count = guard.failed(ip)
    if count < FAILURES_BEFORE_THROTTLE or core.settings.trigger_for(ip) <= 0:
        return None
    core.abused(ip, "failed link logins")
    wait = core.throttle.remaining(ip)
    return (f"{ip} made {count} failed link logins in {WINDOW / 60:g} minutes: refused for {wait:.0f} s "
            "(clients from it too)")
