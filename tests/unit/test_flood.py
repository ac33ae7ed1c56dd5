"""Flood control: the FloodGate alone on a task.Clock, then a connection with flood on."""

from __future__ import annotations

from twisted.internet import task

from conferenceroom.admin.settings import FloodSettings
from conferenceroom.client.flood import FloodGate, FloodLimits
from tests.helpers import feed, make_core, make_settings, register, sent

LIMITS = FloodLimits(penalties=10, seconds=10, kill=20)


class Gate:
    """A FloodGate on a fresh clock that records what ran and whether it tripped."""

    def __init__(self, limits: FloodLimits | None = LIMITS) -> None:
        self.clock = task.Clock()
        self.clock.advance(1000)
        self.limits = limits
        self.ran: list[bytes] = []
        self.excess = 0
        self.gate = FloodGate(self.clock, lambda: self.limits, self.ran.append, self._excess)

    def _excess(self) -> None:
        self.excess += 1

    def submit(self, n: int, cost: int = 1, start: int = 0) -> None:
        """Submit lines ``L<start>`` .. ``L<start+n-1>``."""
        for i in range(start, start + n):
            self.gate.submit(b"L%d" % i, cost)


def lines(n: int, start: int = 0) -> list[bytes]:
    """The expected run order ``L<start>`` ..."""
    return [b"L%d" % i for i in range(start, start + n)]


def test_gate_within_budget_runs_at_once() -> None:
    """Lines within the budget run immediately."""
    g = Gate()
    g.submit(10)
    assert g.ran == lines(10)
    assert not g.gate.queue and g.excess == 0


def test_gate_over_budget_waits_in_order() -> None:
    """Lines over the budget wait and run one per budget unit, in order."""
    g = Gate()
    g.submit(15)
    assert g.ran == lines(10)
    g.clock.advance(0.5)
    assert g.ran == lines(10)
    g.clock.advance(0.5)
    assert g.ran == lines(11)
    g.clock.advance(3)
    assert g.ran == lines(14)
    g.clock.advance(10)
    assert g.ran == lines(15) and not g.gate.queue and g.excess == 0


def test_gate_budget_recovers() -> None:
    """After a quiet period the whole budget is available again."""
    g = Gate()
    g.submit(10)
    g.clock.advance(10)
    g.submit(10, start=10)
    assert g.ran == lines(20)


def test_gate_new_line_queues_behind_waiting_ones() -> None:
    """A line arriving while others wait runs after them, never before."""
    g = Gate()
    g.submit(12)
    g.clock.advance(1)
    g.submit(1, start=12)
    assert g.ran == lines(11)
    g.clock.advance(2)
    assert g.ran == lines(13)


def test_gate_costly_lines() -> None:
    """A line of cost 5 uses five units of the budget."""
    g = Gate()
    g.submit(2, cost=5)
    g.submit(1, cost=1, start=2)
    assert g.ran == lines(2)
    g.clock.advance(1)
    assert g.ran == lines(3)


def test_gate_far_over_budget_trips_once() -> None:
    """When the queued cost passes ``kill`` the gate closes and reports excess once."""
    g = Gate()
    g.submit(30)
    assert g.excess == 0 and len(g.gate.queue) == 20
    g.submit(1, start=30)
    assert g.excess == 1 and g.gate.closed and not g.gate.queue
    g.submit(5, start=31)
    g.clock.advance(100)
    assert g.ran == lines(10) and g.excess == 1


def test_gate_without_limits_runs_everything() -> None:
    """With no limits (flood off or exempt) every line runs at once."""
    g = Gate(limits=None)
    g.submit(500)
    assert g.ran == lines(500) and g.excess == 0


def test_gate_limits_lifted_drains_queue() -> None:
    """Lines queued before the limits went away run at the next line (or the timer)."""
    g = Gate()
    g.submit(13)
    g.limits = None
    g.clock.advance(1)
    assert g.ran == lines(13)


def test_gate_close_cancels_timer() -> None:
    """close() drops the queue and cancels the pending timer."""
    g = Gate()
    g.submit(12)
    g.gate.close()
    assert not g.clock.getDelayedCalls()
    g.clock.advance(100)
    assert g.ran == lines(10)


# -- a connection with flood control on ---------------------------------------------


def flood_core(**kw: object):  # type: ignore[no-untyped-def]
    """A core with flood control on: 10 penalties per 10 s, kill past 20 queued."""
    params = dict(enabled=True, penalties=10, seconds=10, kill=20)
    params.update(kw)
    return make_core(make_settings(flood=FloodSettings(**params)))  # type: ignore[arg-type]


def pongs(conn) -> list[str]:  # type: ignore[no-untyped-def]
    """The tokens of the PONGs the client received since the last call."""
    return [m.params[-1] for m in sent(conn) if m.command == "PONG"]


def test_connection_within_budget() -> None:
    """Ten PINGs after a quiet period are all answered at once."""
    core = flood_core()
    conn = register(core, "alice")
    core.clock.advance(10)
    feed(conn, *[f"PING t{i}" for i in range(10)])
    assert pongs(conn) == [f"t{i}" for i in range(10)]


def test_connection_over_budget_delayed_in_order() -> None:
    """Lines over budget are answered later, in order, as the clock advances."""
    core = flood_core()
    conn = register(core, "alice")
    core.clock.advance(10)
    feed(conn, *[f"PING t{i}" for i in range(15)])
    assert pongs(conn) == [f"t{i}" for i in range(10)]
    core.clock.advance(1)
    assert pongs(conn) == ["t10"]
    core.clock.advance(4)
    assert pongs(conn) == ["t11", "t12", "t13", "t14"]
    assert core.network.find_user("alice") is not None


def test_connection_excess_flood_quits_for_everyone() -> None:
    """Far over budget: ERROR "Excess Flood" and a QUIT seen by channel peers."""
    core = flood_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    core.network.join(alice.user, "#c")
    core.network.join(bob.user, "#c")
    sent(alice), sent(bob)
    core.clock.advance(10)
    conn_user = alice.user
    feed(alice, *[f"PING t{i}" for i in range(40)])
    out = sent(alice)
    assert out[-1].command == "ERROR" and "Excess Flood" in out[-1].params[0]
    assert len([m for m in out if m.command == "PONG"]) == 10
    assert alice.transport.disconnecting
    assert core.network.find_user("alice") is None
    assert [(m.source, m.command, m.params) for m in sent(bob)] == [
        (conn_user.mask, "QUIT", ("Excess Flood",))
    ]
    core.clock.advance(100)
    assert sent(alice) == []


def test_connection_excess_flood_before_registration() -> None:
    """An unregistered connection flooding is closed too."""
    core = flood_core()
    from tests.helpers import connect

    conn = connect(core)
    feed(conn, *[f"PING t{i}" for i in range(40)])
    out = sent(conn)
    assert out[-1].command == "ERROR" and "Excess Flood" in out[-1].params[0]


def test_opers_exempt() -> None:
    """An operator is not limited when oper_exempt is set."""
    core = flood_core()
    conn = register(core, "root")
    conn.user.modes.add("o")
    feed(conn, *[f"PING t{i}" for i in range(100)])
    assert len(pongs(conn)) == 100
    assert core.network.find_user("root") is not None


def test_opers_not_exempt_when_disabled() -> None:
    """With oper_exempt off, operators are limited like everyone."""
    core = flood_core(oper_exempt=False)
    conn = register(core, "root")
    conn.user.modes.add("o")
    core.clock.advance(10)
    feed(conn, *[f"PING t{i}" for i in range(15)])
    assert len(pongs(conn)) == 10


def test_flood_off_by_default_in_tests() -> None:
    """With flood control disabled every line is answered at once."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, *[f"PING t{i}" for i in range(200)])
    assert len(pongs(conn)) == 200


def test_gate_hold_queues_lines_until_release() -> None:
    """While held (a command waiting on off-thread work), later lines wait in
    order, even with flood control off; release runs them at once."""
    for limits in (None, LIMITS):
        g = Gate(limits)
        g.submit(1)
        g.gate.hold()
        g.submit(3, start=1)
        assert g.ran == lines(1)
        g.gate.release()
        assert g.ran == lines(4)


def test_gate_release_after_close_runs_nothing() -> None:
    """A connection closed while held drops its queue; the late release is
    harmless."""
    g = Gate(None)
    g.gate.hold()
    g.submit(2)
    g.gate.close()
    g.gate.release()
    assert g.ran == []


def test_gate_line_that_holds_and_releases_at_once_leaves_one_timer() -> None:
    """A line whose command holds and releases the gate before returning (work
    that finished at once) neither runs later lines twice nor leaves two timers."""
    g = Gate()

    def run(line: bytes) -> None:
        g.ran.append(line)
        if line == b"L0":
            g.gate.hold()
            g.gate.release()

    g.gate.run = run
    g.gate.hold()
    g.submit(15)
    g.gate.release()
    assert g.ran == lines(10)
    assert len(g.clock.getDelayedCalls()) == 1
    g.clock.advance(10)
    assert g.ran == lines(15)
