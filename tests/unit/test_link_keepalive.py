"""LinkKeepalive: PING after the definition's idle time, drop when the PING goes unanswered."""

from __future__ import annotations

from twisted.internet.task import Clock

from conferenceroom.link.keepalive import LinkKeepalive


class Recorder:
    """What the keepalive asked the link to do, with the clock time of each request."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.pings: list[float] = []
        self.timeouts: list[float] = []

    def send_ping(self) -> None:
        self.pings.append(self.clock.seconds())

    def timeout(self) -> None:
        self.timeouts.append(self.clock.seconds())


def started(interval: int = 90) -> tuple[Clock, Recorder, LinkKeepalive]:
    """A running keepalive on a fresh clock."""
    clock = Clock()
    rec = Recorder(clock)
    keepalive = LinkKeepalive(clock, interval, send_ping=rec.send_ping, timeout=rec.timeout)
    keepalive.start()
    return clock, rec, keepalive


def test_ping_after_idle_interval() -> None:
    """A silent link gets a PING exactly when it has been idle for the definition's ping seconds."""
    clock, rec, _ = started(90)
    clock.advance(89)
    assert rec.pings == []
    clock.advance(1)
    assert rec.pings == [90]
    assert rec.timeouts == []


def test_traffic_postpones_ping() -> None:
    """Any line from the peer restarts the idle count, so a busy link is never pinged."""
    clock, rec, keepalive = started(90)
    clock.advance(80)
    keepalive.data_received()
    clock.advance(89)
    assert rec.pings == []
    clock.advance(1)
    assert rec.pings == [170]


def test_unanswered_ping_times_out_after_same_interval() -> None:
    """No answer within the ping interval after our PING drops the link, with hybrid's reason text."""
    clock, rec, keepalive = started(300)
    clock.advance(300)
    assert rec.pings == [300]
    clock.advance(299)
    assert rec.timeouts == []
    clock.advance(1)
    assert rec.timeouts == [600]
    assert keepalive.reason == "Ping timeout: 300 seconds"
    clock.advance(10_000)
    assert rec.pings == [300] and rec.timeouts == [600], "nothing more after the timeout"


def test_answered_ping_keeps_link() -> None:
    """An answer to the PING keeps the link; the next PING comes after another idle interval."""
    clock, rec, keepalive = started(90)
    clock.advance(90)
    clock.advance(5)
    keepalive.data_received()  # PONG
    clock.pump([1] * 105)
    assert rec.timeouts == []
    assert rec.pings == [90, 185]


def test_stop_leaves_no_timer() -> None:
    """A stopped keepalive (link closed) never pings or times out and leaves no timer behind."""
    clock, rec, keepalive = started(90)
    clock.advance(50)
    keepalive.stop()
    assert clock.getDelayedCalls() == []
    clock.advance(1000)
    assert rec.pings == [] and rec.timeouts == []


def test_burst_of_lines_keeps_one_timer() -> None:
    """Thousands of lines (a burst) cost no timer churn: one pending call, rescheduled lazily."""
    clock, rec, keepalive = started(90)
    for i in range(5000):
        keepalive.data_received()
        if i % 100 == 0:
            clock.advance(1)
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(90)
    assert rec.pings == [50 + 90]


def test_interval_change_applies_to_live_link() -> None:
    """SERVER x SET PING on a linked definition: the new interval counts from the last traffic."""
    clock, rec, keepalive = started(300)
    clock.advance(20)
    keepalive.set_interval(30)
    assert keepalive.reason == "Ping timeout: 30 seconds"
    clock.advance(9)
    assert rec.pings == []
    clock.advance(1)
    assert rec.pings == [30]
    clock.advance(30)
    assert rec.timeouts == [60]


def test_start_twice_keeps_one_timer() -> None:
    """Starting an already running keepalive does not add a second timer."""
    clock, rec, keepalive = started(90)
    keepalive.start()
    assert len(clock.getDelayedCalls()) == 1
