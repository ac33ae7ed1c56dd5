"""Reconnect throttling: addresses dropped for abuse are refused cheaply at accept."""

from __future__ import annotations

import pytest
from twisted.internet import address, task
from twisted.internet.testing import StringTransport

from conferenceroom.admin.settings import FloodSettings
from conferenceroom.client import protocol
from conferenceroom.client.protocol import ClientConnection, ClientFactory
from conferenceroom.throttle import BASE_WAIT, JITTER, MAX_WAIT, Throttle
from tests.helpers import feed, make_core, make_settings, register, sent, sent_lines

THROTTLED = "Throttled: reconnecting too fast"


def accept(core, ip: str = "192.0.2.7"):  # type: ignore[no-untyped-def]
    """What the listener does for a new connection from ``ip``: the factory's protocol on a transport."""
    addr = address.IPv4Address("TCP", ip, 40000)
    proto = ClientFactory(core).buildProtocol(addr)
    transport = StringTransport(peerAddress=addr)
    proto.makeConnection(transport)
    return proto, transport


def flood_core(**changes):  # type: ignore[no-untyped-def]
    """A core with flood control at its defaults and a per-IP trigger of 4."""
    changes.setdefault("deftrigger", 4)
    changes.setdefault("flood", FloodSettings())
    return make_core(make_settings(**changes))


def excess_flood(core, ip: str = "192.0.2.7") -> None:  # type: ignore[no-untyped-def]
    """A client from ``ip`` that sends blank lines until it is dropped for Excess Flood."""
    conn, transport = accept(core, ip)
    for _ in range(64):
        conn.dataReceived(b"\n" * 1024)
    assert b"Excess Flood" in transport.value()


def test_waits_start_at_base_double_per_abuse_and_are_capped() -> None:
    """Each abuse from one address refuses it for twice as long as the last, up to the cap;
    other addresses are not affected, and the refusal ends on time."""
    clock = task.Clock()
    throttle = Throttle(clock, jitter=0)
    assert throttle.abused("192.0.2.1") == BASE_WAIT
    assert throttle.remaining("192.0.2.1") == BASE_WAIT
    assert throttle.remaining("192.0.2.2") == 0
    clock.advance(BASE_WAIT)
    assert throttle.remaining("192.0.2.1") == 0
    assert throttle.abused("192.0.2.1") == 2 * BASE_WAIT
    waits = [throttle.abused("192.0.2.1") for _ in range(20)]
    assert waits[-1] == MAX_WAIT and max(waits) == MAX_WAIT


def test_table_is_bounded_and_forgets_old_abuse() -> None:
    """The table never holds more than its bound (oldest addresses go first), and an
    address quiet for long enough starts again from the base wait."""
    clock = task.Clock()
    throttle = Throttle(clock, max_addresses=100, forget=600, jitter=0)
    for n in range(1000):
        throttle.abused(f"10.0.{n // 250}.{n % 250}")
    assert len(throttle) == 100
    assert throttle.remaining("10.0.0.0") == 0  # dropped as the oldest
    assert throttle.remaining("10.0.3.249") == BASE_WAIT
    throttle.abused("10.0.3.249")
    clock.advance(2 * BASE_WAIT + 600)
    assert throttle.abused("10.0.3.249") == BASE_WAIT


def test_excess_flood_refuses_the_address_at_accept_until_the_wait_is_over() -> None:
    """After an Excess Flood, a new connection from that address gets only
    ERROR "Throttled: reconnecting too fast" and is closed, without any registration
    reply, operator notice or input read; another address connects normally; once the
    wait is over the address is admitted again."""
    core = flood_core()
    oper = register(core, "watcher", ip="198.51.100.1")
    core.network.set_oper(oper.user, "w", frozenset("a"), also="s")
    excess_flood(core)
    sent(oper)
    conn, transport = accept(core)
    assert transport.value() == f"ERROR :Closing Link: 192.0.2.7 ({THROTTLED})\r\n".encode()
    assert transport.disconnecting
    conn.dataReceived(b"NICK again\r\nUSER a 0 * :A\r\n")
    assert transport.value().count(b"\r\n") == 1
    assert sent(oper) == []
    assert core.network.find_user("again") is None
    other, other_transport = accept(core, "192.0.2.8")
    assert isinstance(other, ClientConnection) and not other_transport.disconnecting
    core.clock.advance(BASE_WAIT * (1 + JITTER))
    again, again_transport = accept(core)
    feed(again, "NICK again", "USER a 0 * :A")
    assert again.user is not None and not again_transport.disconnecting


def test_throttled_connection_made_directly_is_refused_too() -> None:
    """A connection that reaches the client protocol while its address is throttled
    (admission checks) is closed with the same ERROR."""
    core = flood_core()
    excess_flood(core)
    conn = ClientConnection(core)
    conn.makeConnection(StringTransport(peerAddress=address.IPv4Address("TCP", "192.0.2.7", 1)))
    assert [m.params for m in sent(conn)] == [(f"Closing Link: 192.0.2.7 ({THROTTLED})",)]
    assert conn.closing


def test_repeated_abuse_waits_longer() -> None:
    """An address that floods again right after its wait is refused twice as long."""
    core = flood_core()
    excess_flood(core)
    core.clock.advance(BASE_WAIT * (1 + JITTER))
    excess_flood(core)
    core.clock.advance(BASE_WAIT * (1 + JITTER))
    assert accept(core)[1].disconnecting
    core.clock.advance(2 * BASE_WAIT * (1 + JITTER))
    assert not accept(core)[1].disconnecting


class _UnreadTransport(StringTransport):
    """A client that reads nothing: everything written stays queued."""

    @property
    def dataBuffer(self) -> bytes:  # noqa: N802 - Twisted's name
        """What waits for the client: all that was written."""
        return self.value()


def test_sendq_exceeded_throttles_the_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client dropped for SendQ exceeded (it asks for replies and never reads
    them) is refused at its next connection."""
    monkeypatch.setattr(protocol, "MAX_SENDQ", 2000)
    core = flood_core(flood=FloodSettings(enabled=False))
    conn = ClientConnection(core)
    conn.makeConnection(_UnreadTransport(peerAddress=address.IPv4Address("TCP", "192.0.2.9", 1)))
    feed(conn, "NICK reader", "USER r 0 * :R")
    for _ in range(20):
        feed(conn, "MOTD", "LUSERS")
    core.clock.advance(0)
    assert b"SendQ exceeded" in conn.transport.value()
    assert accept(core, "192.0.2.9")[1].value().endswith(f"({THROTTLED})\r\n".encode())


@pytest.mark.parametrize("changes", [{"deftrigger": 0}, {"triggers": (("192.0.2.0/24", 0),)}])
def test_addresses_exempt_from_the_trigger_are_never_throttled(changes: dict) -> None:
    """With no connection limit for an address (deftrigger 0, or a TRIGGER exception of 0),
    an Excess Flood does not keep it from reconnecting at once (shared hosts, bouncers, tests)."""
    core = flood_core(**changes)
    excess_flood(core)
    conn, transport = accept(core)
    feed(conn, "NICK back", "USER b 0 * :B")
    assert conn.user is not None and not transport.disconnecting
    assert "Throttled" not in "".join(sent_lines(conn))


def test_addresses_dropped_together_come_back_spread_out() -> None:
    """Waits are stretched at random (by at most half), so 200 addresses dropped in the same
    instant are let back in over several seconds, not all in one reactor pass."""
    clock = task.Clock()
    throttle = Throttle(clock)
    waits = [throttle.abused(f"10.9.0.{n}") for n in range(200)]
    assert all(BASE_WAIT <= w <= 1.5 * BASE_WAIT for w in waits)
    clock.advance(BASE_WAIT)
    back = []
    for _ in range(51):
        back.append(sum(1 for n in range(200) if throttle.remaining(f"10.9.0.{n}") == 0))
        clock.advance(0.1)
    assert back[-1] == 200 and max(b - a for a, b in zip(back, back[1:])) < 20


def test_refused_connection_that_never_goes_away_is_aborted() -> None:
    """A throttled connection whose close does not complete (a TLS client that never
    finishes its handshake, a peer that never reads) is aborted after the close grace
    period; one that goes away in time leaves no timer behind."""
    core = flood_core()
    excess_flood(core)
    core.clock.advance(protocol.CLOSE_GRACE + 1)  # the flooder's own close is long done
    refused, transport = accept(core)
    assert transport.disconnecting and not transport.disconnected
    core.clock.advance(protocol.CLOSE_GRACE)
    assert transport.disconnected  # StringTransport.abortConnection
    before = len(core.clock.getDelayedCalls())
    gone, gone_transport = accept(core)
    gone.connectionLost(None)
    assert len(core.clock.getDelayedCalls()) == before


def test_an_address_quiet_for_long_starts_again_even_behind_a_longer_wait() -> None:
    """An address whose last wait ended FORGET_AFTER ago starts again from BASE_WAIT, even
    when an entry with a longer wait stands before it in the table."""
    clock = task.Clock()
    throttle = Throttle(clock, jitter=0.0)
    for _ in range(6):  # a repeat offender: a long wait, first in the table
        throttle.abused("192.0.2.1")
    throttle.abused("192.0.2.2")
    for _ in range(3):
        throttle.abused("192.0.2.2")  # a 80 s wait, behind the long one
    clock.advance(80 + 600)
    assert throttle.abused("192.0.2.2") == BASE_WAIT
