# -*- test-case-name: tests.unit.test_signals -*-
"""Stop signals that arrive while the server is already stopping.

Twisted answers SIGTERM and SIGINT by stopping the reactor; a second signal
during the shutdown (an init system's repeated TERM, an impatient ^C) makes
it stop a reactor that is no longer running, and a critical traceback lands
in the log.  :func:`install_stop_handlers` replaces those handlers once the
reactor runs: the first signal stops the server as before, later ones only
say that the shutdown is under way.
"""

from __future__ import annotations

import signal
from typing import Any

from twisted.logger import Logger

log = Logger()


class StopOnce:
    """A SIGTERM/SIGINT handler that stops ``reactor`` once."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.stopping = False

    def __call__(self, signum: int, frame: Any = None) -> None:
        name = signal.Signals(signum).name
        if self.stopping:
            log.info("Received {signal} again: already shutting down", signal=name)
            return
        self.stopping = True
        log.info("Received {signal}, shutting down.", signal=name)
        self.reactor.callFromThread(self._stop)

    def _stop(self) -> None:
        if getattr(self.reactor, "running", True):
            self.reactor.stop()

    def shutting_down(self) -> None:
        """The reactor stops for another reason (DIE, RESTART): later signals only say so."""
        self.stopping = True


def install_stop_handlers(reactor: Any) -> StopOnce | None:
    """Put :class:`StopOnce` on SIGTERM and SIGINT (main thread only; None elsewhere)."""
    handler = StopOnce(reactor)
    try:
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (tests running a reactor in a thread)
        return None
    reactor.addSystemEventTrigger("before", "shutdown", handler.shutting_down)
    return handler
