"""Flood control: the FloodGate alone on a task.Clock, then a connection with flood on."""

from __future__ import annotations

import pytest
from twisted.internet import task

from conferenceroom.admin.settings import FloodSettings
from conferenceroom.client.flood import FloodGate, FloodLimits
from tests.helpers import connect, feed, make_core, make_settings, register, sent

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
    conn.user.set_mode("o")
    feed(conn, *[f"PING t{i}" for i in range(100)])
    assert len(pongs(conn)) == 100
    assert core.network.find_user("root") is not None


def test_opers_not_exempt_when_disabled() -> None:
    """With oper_exempt off, operators are limited like everyone."""
    core = flood_core(oper_exempt=False)
    conn = register(core, "root")
    conn.user.set_mode("o")
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


# -- every byte counts; over budget the socket is not read ------------------------------------


def _flooded(conn) -> bool:  # type: ignore[no-untyped-def]
    """True once the client got ERROR "Excess Flood" and its transport is closing."""
    out = sent(conn)
    return (
        bool(out) and out[-1].command == "ERROR" and "Excess Flood" in out[-1].params[0]
        and conn.transport.disconnecting
    )


@pytest.mark.parametrize(
    "junk",
    [b"\n" * 65536, b"\r" * 65536, b"\r\n" * 32768, b" \r\n" * 20000, b"x" * 65536],
    ids=["blank-lf", "bare-cr", "blank-crlf", "spaces", "partial-line"],
)
def test_junk_input_costs_budget_and_trips_excess_flood(junk: bytes) -> None:
    """64 KiB of blank lines, bare CRs, whitespace or one endless line is
    charged by its size: the client is dropped with "Excess Flood" and its
    channel peers see the QUIT (it used to cost nothing, forever)."""
    core = flood_core()
    abuser, bob = register(core, "abuser"), register(core, "bob")
    core.network.join(abuser.user, "#c")
    core.network.join(bob.user, "#c")
    sent(bob)
    core.clock.advance(10)
    for _ in range(4):
        abuser.dataReceived(junk)
    assert _flooded(abuser)
    assert core.network.find_user("abuser") is None
    assert [m.params for m in sent(bob) if m.command == "QUIT"] == [("Excess Flood",)]


@pytest.mark.parametrize("junk", [b"\n" * 8192, b"x" * 8192, b"\r\n" * 4096], ids=["blank-lf", "partial-line", "crlf"])
def test_junk_in_socket_sized_reads_trips_excess_flood(junk: bytes) -> None:
    """Junk arriving 8 KiB per read is dropped with "Excess Flood" by its second read: what it owes beyond its budget counts with what waits, so small
    reads cannot keep a flooder connected at the budget's pace forever."""
    core = flood_core()
    abuser = register(core, "abuser")
    core.clock.advance(10)
    abuser.dataReceived(junk)
    assert not abuser.closing
    abuser.dataReceived(junk)
    assert _flooded(abuser)


def test_a_paste_within_the_kill_threshold_is_delayed_not_dropped() -> None:
    """Owing the budget for a while is not a flood: 25 PINGs at once (2.5 times the
    budget, under the kill threshold of what waits) are answered in order, later."""
    core = flood_core()
    conn = register(core, "alice")
    core.clock.advance(10)
    feed(conn, *[f"PING t{i}" for i in range(25)])
    for _ in range(20):
        core.clock.advance(1)
    assert pongs(conn) == [f"t{i}" for i in range(25)]
    assert not conn.closing


def test_overlong_lines_in_one_socket_read_trip_excess_flood() -> None:
    """One socket read (16 KiB) of 700-byte lines answered with 417 is enough to be
    dropped with "Excess Flood", although the socket is paused while lines wait."""
    from conferenceroom.client import protocol

    core = flood_core()
    conn = register(core, "abuser")
    core.clock.advance(10)
    data = (b"PRIVMSG bob :" + b"x" * 700 + b"\r\n") * 90
    conn.dataReceived(data[:protocol.READ_SIZE])
    assert _flooded(conn)


def test_overlong_lines_cost_budget_and_trip_excess_flood() -> None:
    """Lines answered with 417 are charged (at least one penalty each): a
    stream of them ends in "Excess Flood" instead of 417s forever."""
    core = flood_core()
    conn = register(core, "abuser")
    core.clock.advance(10)
    line = b"PRIVMSG bob :" + b"x" * 700 + b"\r\n"
    conn.dataReceived(line * 40)
    out = sent(conn)
    assert [m.command for m in out].count("417") <= 31
    assert out[-1].command == "ERROR" and "Excess Flood" in out[-1].params[0]
    assert conn.transport.disconnecting


def test_unparseable_lines_cost_budget() -> None:
    """Lines that do not parse cost a penalty each, before registration too."""
    core = flood_core()
    conn = connect(core)
    conn.dataReceived(b":x\r\n!!! ???\r\n" * 40)
    assert _flooded(conn)


def test_some_blank_lines_are_harmless() -> None:
    """A normal client's stray blank lines and CR LF pairs cost little (their
    size): nine commands among a hundred blank lines all run at once and the
    socket keeps being read."""
    core = flood_core()
    conn = register(core, "alice")
    core.clock.advance(10)
    conn.dataReceived(b"\r\n" * 100 + b"".join(b"PING t%d\r\n\r\n" % i for i in range(9)))
    assert pongs(conn) == [f"t{i}" for i in range(9)]
    assert conn.transport.producerState == "producing"


def test_over_budget_stops_reading_until_the_queue_drains() -> None:
    """While lines wait in the gate the socket is not read (pauseProducing);
    once the budget has recovered and they ran, reading resumes."""
    core = flood_core()
    conn = register(core, "alice")
    core.clock.advance(10)
    feed(conn, *[f"PING t{i}" for i in range(15)])
    assert len(pongs(conn)) == 10
    assert conn.transport.producerState == "paused"
    core.clock.advance(5)
    assert pongs(conn) == [f"t{i}" for i in range(10, 15)]
    assert conn.transport.producerState == "producing"
    assert core.network.find_user("alice") is not None


def test_paused_reader_is_not_pinged_out() -> None:
    """A client whose input waits in the gate (unread on purpose) is not
    treated as idle while the gate works through its lines."""
    core = make_core()
    conn = register(core, "alice")
    core.settings = make_settings(flood=FloodSettings(enabled=True, penalties=1, seconds=60, kill=50))
    core.clock.advance(60)
    feed(conn, *[f"PING t{i}" for i in range(5)])
    for _ in range(30):
        core.clock.advance(10)
    assert core.network.find_user("alice") is not None
    assert pongs(conn)[-1] == "t4"


@pytest.mark.parametrize("oper", [False, True], ids=["flood-off", "oper-exempt"])
def test_junk_is_free_without_flood_control(oper: bool) -> None:
    """With flood control off (or for an exempt operator) blank lines cost
    nothing and the socket keeps being read, as before."""
    core = flood_core() if oper else make_core()
    conn = register(core, "root")
    if oper:
        conn.user.set_mode("o")
    for _ in range(4):
        conn.dataReceived(b"\n" * 65536)
    feed(conn, *[f"PING t{i}" for i in range(30)])
    assert len(pongs(conn)) == 30
    assert conn.transport.producerState == "producing"
    assert not conn.transport.disconnecting


def test_gate_charge_uses_budget_without_running_anything() -> None:
    """Charged input uses the budget like a line, runs nothing, and a run of
    charges waits as one queue entry."""
    g = Gate()
    g.gate.charge(9.0)
    g.submit(1)
    assert g.ran == lines(1)
    g.submit(1, start=1)
    for _ in range(100):
        g.gate.charge(0.01)
    assert g.ran == lines(1) and len(g.gate.queue) == 2
    g.clock.advance(3)
    assert g.ran == lines(2) and not g.gate.queue


def test_gate_line_costing_more_than_the_budget_still_runs() -> None:
    """A line whose cost exceeds the whole budget (a long tagged line under a
    small budget) runs once nothing is owed, instead of waiting forever."""
    g = Gate(FloodLimits(penalties=2, seconds=10, kill=20))
    g.submit(1, cost=5)
    assert g.ran == lines(1)
    g.submit(1, cost=5, start=1)
    assert g.ran == lines(1)
    g.clock.advance(25)
    assert g.ran == lines(2)
