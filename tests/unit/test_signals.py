"""A second stop signal during shutdown is only noted, never a traceback."""

from __future__ import annotations

import signal

from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, globalLogPublisher

from conferenceroom.signals import StopOnce


class FakeReactor(MemoryReactorClock):
    """A memory reactor that runs callFromThread calls at once and counts stops."""

    def __init__(self) -> None:
        super().__init__()
        self.running = True
        self.stops = 0

    def callFromThread(self, f, *args, **kw):  # noqa: N802 (Twisted's name)
        f(*args, **kw)

    def stop(self) -> None:
        if not self.running:
            raise AssertionError("stop() of a reactor that is not running")
        self.running = False
        self.stops += 1


def _captured():
    events = []
    globalLogPublisher.addObserver(events.append)
    return events


def test_first_sigterm_stops_and_repeats_are_only_logged():
    """SIGTERM stops the reactor once; two more say the shutdown is under way, nothing critical."""
    reactor = FakeReactor()
    handler = StopOnce(reactor)
    events = _captured()
    try:
        handler(signal.SIGTERM)
        handler(signal.SIGTERM)
        handler(signal.SIGINT)
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert reactor.stops == 1
    ours = [e for e in events if e.get("log_namespace") == "conferenceroom.signals"]
    texts = [e["log_format"].format(**e) for e in ours]
    assert texts == ["Received SIGTERM, shutting down.",
                     "Received SIGTERM again: already shutting down",
                     "Received SIGINT again: already shutting down"]
    assert not [e for e in events if e.get("log_level") in (LogLevel.critical, LogLevel.error)]


def test_signal_after_die_does_not_stop_twice():
    """Once the server stops for DIE/RESTART, a SIGTERM only says it is already stopping."""
    reactor = FakeReactor()
    handler = StopOnce(reactor)
    handler.shutting_down()
    reactor.stop()  # what DIE did
    handler(signal.SIGTERM)
    assert reactor.stops == 1
