"""Registration and idle deadlines of every client share one timer (a wheel of one-second
buckets), with the timeouts users see unchanged; an idle client holds no per-client timer,
no reply pacer and no instance dictionary."""

from __future__ import annotations

from twisted.internet import task

from conferenceroom.client.timers import TimerWheel
from tests.helpers import connect, feed, make_core, register, sent


def test_many_idle_clients_share_one_timer() -> None:
    """200 registered idle clients and 50 unregistered ones leave one delayed call on the clock,
    and none once they are all gone."""
    core = make_core()
    conns = [register(core, f"u{i}", ip=f"10.0.{i // 250}.{i % 250 + 1}") for i in range(200)]
    conns += [connect(core, ip=f"10.1.0.{i + 1}") for i in range(50)]
    assert len(core.clock.getDelayedCalls()) == 1
    for conn in conns:
        conn.connectionLost(None)
    assert core.clock.getDelayedCalls() == []


def test_registration_timeout_not_early_and_at_most_a_second_late() -> None:
    """A client connecting at a fractional time is not dropped before 60 s, and is by 61 s."""
    core = make_core()
    core.clock.advance(0.4)
    conn = connect(core)
    core.clock.advance(59.9)
    assert not conn.transport.disconnecting
    core.clock.advance(1.0)
    assert conn.transport.disconnecting and b"Registration timed out" in conn.transport.value()


def test_idle_ping_and_timeout_for_clients_registered_at_different_times() -> None:
    """Clients registered over a minute each get their PING after 90 idle seconds (not before) and
    are dropped 90 s later unless they answer; one that answers stays."""
    core = make_core()
    quiet, talker = register(core, "quiet", ip="10.0.0.1"), None
    core.clock.advance(30.5)
    talker = register(core, "talker", ip="10.0.0.2")
    core.clock.advance(59.0)  # quiet idle 89.5 s
    assert sent(quiet) == []
    core.clock.advance(1.5)  # quiet idle 91 s
    assert [m.command for m in sent(quiet)] == ["PING"]
    core.clock.advance(30.0)  # talker idle 90.5 s
    assert [m.command for m in sent(talker)] == ["PING"]
    feed(talker, "PONG :test.local")
    core.clock.advance(61.0)  # quiet idle 182 s, PING unanswered
    assert sent(quiet)[-1].command == "ERROR" and core.network.find_user("quiet") is None
    core.clock.advance(100.0)
    assert core.network.find_user("talker") is not None


def test_an_idle_client_holds_only_what_it_needs() -> None:
    """A registered idle client has no reply pacer (made on its first long reply) and no
    instance dictionary; nor does its User."""
    core = make_core()
    conn = register(core, "idle")
    assert conn._stream is None
    assert not getattr(conn, "__dict__", {})
    assert not getattr(conn.user, "__dict__", {})
    feed(conn, "NAMES")
    assert conn._stream is not None  # the reply pacer exists once used


def test_wheel_runs_entries_due_and_drops_removed_ones() -> None:
    """The wheel runs each entry once at its second, none removed before, and keeps no call idle."""
    clock = task.Clock()
    wheel = TimerWheel(clock)
    ran: list[str] = []

    class Entry:
        _due_key = None

        def __init__(self, name: str) -> None:
            self.name = name

        def timer_due(self) -> None:
            ran.append(self.name)

    a, b, c = Entry("a"), Entry("b"), Entry("c")
    wheel.add(a, 5.2)
    wheel.add(b, 3.0)
    wheel.add(c, 5.9)
    wheel.remove(c)
    clock.advance(3)
    assert ran == ["b"]
    clock.advance(2.9)
    assert ran == ["b"]
    clock.advance(0.1)
    assert ran == ["b", "a"] and len(wheel) == 0 and clock.getDelayedCalls() == []


def test_one_failing_deadline_does_not_stop_the_others() -> None:
    """An entry whose work raises is logged; the other entries of its second still run."""
    from twisted.logger import globalLogPublisher

    clock = task.Clock()
    wheel = TimerWheel(clock)
    ran: list[str] = []
    failures: list[dict] = []

    class Entry:
        _due_key = None

        def __init__(self, name: str) -> None:
            self.name = name

        def timer_due(self) -> None:
            ran.append(self.name)
            if self.name == "bad":
                raise RuntimeError("boom")

    for name in ("bad", "a", "b"):
        wheel.add(Entry(name), 2.0)
    globalLogPublisher.addObserver(failures.append)
    try:
        clock.advance(2)
    finally:
        globalLogPublisher.removeObserver(failures.append)
    assert sorted(ran) == ["a", "b", "bad"]
    assert any("log_failure" in event for event in failures)


class _MovingClock(task.Clock):
    """A clock that moves on a little each time it is read, as the reactor's does between
    reading the time and scheduling (its callLater reads the time again); counts callLater."""

    def __init__(self) -> None:
        super().__init__()
        self.made = 0

    def seconds(self) -> float:
        self.rightNow += 0.000_137
        return self.rightNow

    def callLater(self, delay, callable, *args, **kw):  # type: ignore[no-untyped-def]
        self.made += 1
        return super().callLater(delay, callable, *args, **kw)


def test_a_burst_of_new_deadlines_in_the_same_seconds_keeps_the_one_timer() -> None:
    """1000 clients connecting within a few seconds (registration deadlines, then idle checks)
    on a clock that moves between reads: the wheel's one timer is made once, not re-made for
    each deadline, and every deadline still runs in time."""
    clock = _MovingClock()
    clock.advance(1_800_000_000.25)
    wheel = TimerWheel(clock)
    due: list[int] = []

    class Entry:
        def __init__(self, n: int) -> None:
            self.n = n
            self._due_key: int | None = None

        def timer_due(self) -> None:
            due.append(self.n)

    entries = [Entry(n) for n in range(1000)]
    for entry in entries:  # connecting: registration deadlines
        wheel.add(entry, clock.seconds() + 60)
    for entry in entries:  # registered: idle checks instead
        wheel.add(entry, clock.seconds() + 90)
    assert clock.made == 1
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(89)
    assert due == []
    clock.advance(3)
    assert sorted(due) == list(range(1000))
