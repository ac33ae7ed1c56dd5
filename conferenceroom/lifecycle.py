# -*- test-case-name: tests.unit.test_client_oper -*-
"""Stopping and restarting the running server (DIE, RESTART).

Both close every client connection with an ERROR line saying why, wait a
moment for those lines to be written, then stop the reactor: twistd stops
the services (listeners close, the password pool stops) and exits cleanly.
RESTART then runs the same command line again in the same process
(``os.execv``) once twistd has finished its own clean-up, so a pid file is
already removed and the new process opens the same ports.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from twisted.logger import Logger

log = Logger()

#: Longest wait for closing clients to be written before the reactor stops.
FLUSH_SECONDS = 2.0
_POLL = 0.1


def command_line() -> list[str]:
    """The command line this process was started with (interpreter first)."""
    orig = getattr(sys, "orig_argv", None)
    return list(orig) if orig else [sys.executable, *sys.argv]


class Lifecycle:
    """Stop or restart the server running on ``reactor``."""

    def __init__(self, reactor: Any, argv: Sequence[str] | None = None, executable: str | None = None,
                 execv: Callable[[str, Sequence[str]], Any] = os.execv,
                 at_exit: Callable[[Callable[[], None]], Any] = atexit.register) -> None:
        self.reactor = reactor
        self.argv = list(argv) if argv is not None else None
        self.executable = executable or sys.executable
        self.execv = execv
        self.at_exit = at_exit
        self.stopping = False

    def stop(self, core: Any, reason: str, restart: bool = False) -> None:
        """Close every client with ``reason``, then stop (and with ``restart``, start again)."""
        if self.stopping:
            return
        self.stopping = True
        log.warn("{what}: {reason}", what="restarting" if restart else "shutting down", reason=reason)
        for conn in list(core.connections):
            conn.close(reason)
        if restart:
            self.at_exit(self._reexec)
        self._stop_when_flushed(core, FLUSH_SECONDS)

    def _stop_when_flushed(self, core: Any, left: float) -> None:
        if core.connections and left > 0:
            self.reactor.callLater(_POLL, self._stop_when_flushed, core, left - _POLL)
            return
        stop = getattr(self.reactor, "stop", None)
        if stop is not None:
            stop()

    def _reexec(self) -> None:
        """Replace this process with a new one started the same way."""
        argv = self.argv or command_line()
        log.info("restarting: {argv}", argv=" ".join(argv))
        sys.stdout.flush()
        sys.stderr.flush()
        self.execv(self.executable, argv)
