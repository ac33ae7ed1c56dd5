"""Long replies paced by what the client reads, and connections that never drain."""

from __future__ import annotations

import pytest
from twisted.internet import address
from twisted.internet.testing import StringTransport

from conferenceroom.client import protocol
from conferenceroom.client.protocol import ClientConnection
from conferenceroom.network import ListEntry
from conferenceroom.wire import parse
from tests.helpers import (
    connect,
    feed,
    join_channel,
    make_core,
    make_remote_server,
    make_remote_user,
    make_settings,
    register,
    sent,
)


class SlowTransport(StringTransport):
    """A peer that reads only when told to, like a slow client on a real socket.

    Written bytes wait in ``pending`` (what the SendQ check sees); a streaming
    producer is paused when more than ``buffer_size`` bytes wait and resumed
    once the peer has read them all, as Twisted's TCP transport does.
    """

    def __init__(self, buffer_size: int = 65536) -> None:
        super().__init__(peerAddress=address.IPv4Address("TCP", "127.0.0.1", 40000))
        self.buffer_size = buffer_size
        self.pending = bytearray()
        self.delivered = bytearray()
        self.most_pending = 0
        self.producer_paused = False

    def write(self, data: bytes) -> None:
        """Queue ``data``; pause a registered streaming producer when the buffer is full."""
        self.pending += data
        self.most_pending = max(self.most_pending, len(self.pending))
        if self.producer is not None and self.streaming and len(self.pending) > self.buffer_size:
            if not self.producer_paused:
                self.producer_paused = True
                self.producer.pauseProducing()

    @property
    def dataBuffer(self) -> bytes:  # noqa: N802 - the name Twisted's transports use
        """Bytes written but not yet read by the peer."""
        return bytes(self.pending)

    def read(self, size: int) -> None:
        """The peer reads up to ``size`` bytes; an emptied buffer resumes the producer."""
        self.delivered += self.pending[:size]
        del self.pending[:size]
        if not self.pending and self.producer is not None and self.producer_paused:
            self.producer_paused = False
            self.producer.resumeProducing()

    def lines(self) -> list[str]:
        """Every complete line the peer has read so far."""
        return [line.decode() for line in bytes(self.delivered).split(b"\r\n")[:-1]]


def slow_client(core, nick: str, buffer_size: int = 65536) -> tuple[ClientConnection, SlowTransport]:  # type: ignore[no-untyped-def]
    """A registered client on a :class:`SlowTransport` (registration output read)."""
    conn = ClientConnection(core)
    transport = SlowTransport(buffer_size)
    conn.makeConnection(transport)
    feed(conn, f"NICK {nick}", f"USER {nick} 0 * :{nick}")
    assert conn.user is not None
    transport.read(len(transport.pending))
    transport.delivered.clear()
    return conn, transport


def read_slowly(core, transport: SlowTransport, until: str, size: int = 8192, turns: int = 20000) -> list[str]:  # type: ignore[no-untyped-def]
    """Read ``size`` bytes per reactor turn until a line containing ``until`` arrived (bounded)."""
    for _ in range(turns):
        transport.read(size)
        core.clock.advance(0)
        if any(until in line for line in transport.lines()) and not transport.pending:
            return transport.lines()
    raise AssertionError(f"{until!r} never arrived; last lines {transport.lines()[-3:]}")


def test_list_of_20000_channels_reaches_a_slow_reader_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """LIST over 20,000 channels (about 1.3 MB) reaches a client that reads
    8 KiB per reactor turn whole and in order, without tripping a SendQ of
    256 KiB (SAFELIST); meanwhile another client's PING is answered at once,
    and the slow client's own next line is answered after 323."""
    monkeypatch.setattr(protocol, "MAX_SENDQ", 256 * 1024)
    core = make_core()
    remote = make_remote_user(core, make_remote_server(core), "filler")
    for i in range(20000):
        core.network.join(remote, f"#channel-number-{i:05d}", origin=remote.route)
    conn, transport = slow_client(core, "slow")
    bob = register(core, "bob")
    feed(conn, "LIST", "PING :after-list")
    transport.read(4096)
    core.clock.advance(0)
    feed(bob, "PING :bob-meanwhile")
    assert [m.params[-1] for m in sent(bob)] == ["bob-meanwhile"]
    lines = read_slowly(core, transport, "after-list")
    codes = [line.split()[1] for line in lines]
    assert codes[0] == "321" and codes.count("322") == 20000
    assert codes[-2:] == ["323", "PONG"]
    assert not conn.closing and core.network.find_user("slow") is not None
    assert transport.most_pending < 128 * 1024


def test_ban_exception_invex_lists_are_paced(monkeypatch: pytest.MonkeyPatch) -> None:
    """MODE #c beI with three full lists (about 80 KB for one short line) is
    written as the client reads it: what waits unread stays near the
    transport's buffer size, and the next command's reply comes after all
    three lists."""
    monkeypatch.setattr(protocol, "MAX_SENDQ", 48 * 1024)
    core = make_core()
    conn, transport = slow_client(core, "slow", buffer_size=8192)
    channel = join_channel(core, conn, "#c")
    for mode in "beI":
        channel.lists[mode] = [
            ListEntry(f"{mode}{i}!{'x' * 150}@host{i}.example", "op!o@h", 1_700_000_000) for i in range(100)
        ]
    transport.pending.clear()
    feed(conn, "MODE #c beI", "PING :after")
    lines = read_slowly(core, transport, "after", size=4096)
    codes = [line.split()[1] for line in lines]
    assert codes == ["367"] * 100 + ["368"] + ["348"] * 100 + ["349"] + ["346"] * 100 + ["347", "PONG"]
    assert not conn.closing
    assert transport.most_pending < 32 * 1024


def test_who_and_names_of_a_big_channel_are_paced(monkeypatch: pytest.MonkeyPatch) -> None:
    """WHO and NAMES of a 3,000-member channel reach a slow reader whole, in
    order, with little waiting unread."""
    monkeypatch.setattr(protocol, "MAX_SENDQ", 64 * 1024)
    core = make_core()
    server = make_remote_server(core)
    for i in range(3000):
        core.network.join(make_remote_user(core, server, f"member{i}"), "#big", origin=server.route)
    conn, transport = slow_client(core, "slow", buffer_size=8192)
    feed(conn, "WHO #big", "NAMES #big", "PING :after")
    lines = read_slowly(core, transport, "after", size=4096)
    codes = [line.split()[1] for line in lines]
    assert codes.count("352") == 3000 and codes.index("315") < codes.index("353")
    names = " ".join(line.split(" :", 1)[1] for line in lines if line.split()[1] == "353")
    assert len(names.split()) == 3000
    assert codes[-2:] == ["366", "PONG"]
    assert transport.most_pending < 32 * 1024


def test_client_that_stops_reading_mid_reply_holds_only_a_buffer() -> None:
    """A client that asks for a long reply and never reads holds about one
    transport buffer of it; its further input waits unread (the socket is
    paused), and closing it drops the rest of the reply."""
    core = make_core()
    remote = make_remote_user(core, make_remote_server(core), "filler")
    for i in range(3000):
        core.network.join(remote, f"#c{i}", origin=remote.route)
    conn, transport = slow_client(core, "stuck", buffer_size=16384)
    feed(conn, "LIST", "PING :later")
    for _ in range(50):
        core.clock.advance(0)
    assert len(transport.pending) < 48 * 1024
    assert transport.producerState == "paused"
    conn.close("test over")
    for _ in range(5):
        core.clock.advance(0)
    assert bytes(transport.pending).endswith(b"(test over)\r\n")
    assert b"PONG" not in bytes(transport.pending)


# -- closed connections that never drain ---------------------------------------------


class StuckTransport(StringTransport):
    """A peer that never reads: everything written stays queued."""

    @property
    def dataBuffer(self) -> bytes:  # noqa: N802 - the name Twisted's transports use
        """Everything written so far counts as queued."""
        return self.io.getvalue()


def test_closed_connection_that_does_not_drain_is_aborted() -> None:
    """A client closed (here by SendQ) that never reads what is queued is
    aborted after the grace period instead of staying connected forever."""
    core = make_core()
    conn = ClientConnection(core)
    conn.makeConnection(StuckTransport(peerAddress=address.IPv4Address("TCP", "10.0.0.1", 1)))
    feed(conn, "NICK stuck", "USER s 0 * :S")
    conn.close("SendQ exceeded")
    assert conn.transport.disconnecting and not conn.transport.disconnected
    core.clock.advance(protocol.CLOSE_GRACE - 0.5)
    assert not conn.transport.disconnected
    core.clock.advance(1)
    assert conn.transport.disconnected  # StringTransport.abortConnection


def test_connection_gone_in_time_is_not_aborted() -> None:
    """A closed client that drains and goes away in time is not aborted later."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "QUIT :bye")
    conn.connectionLost(None)
    core.clock.advance(protocol.CLOSE_GRACE * 2)
    assert not conn.transport.disconnected
    assert not core.clock.getDelayedCalls()


def test_closing_connections_count_toward_the_per_ip_limit() -> None:
    """With deftrigger 2, two connections from one address that were closed
    but are not gone yet still count: a third is refused until one is gone."""
    core = make_core(make_settings(deftrigger=2))
    first, second = register(core, "one", ip="10.1.1.1"), register(core, "two", ip="10.1.1.1")
    feed(first, "QUIT :bye")
    feed(second, "QUIT :bye")
    third = connect(core, "10.1.1.1")
    [refusal] = sent(third)
    assert refusal.command == "ERROR" and "Too many connections from your IP address (2)" in refusal.params[0]
    third.connectionLost(None)
    first.connectionLost(None)
    fourth = connect(core, "10.1.1.1")
    feed(fourth, "NICK four", "USER f 0 * :F")
    assert fourth.user is not None
    assert parse(fourth.transport.value().split(b"\r\n")[0]).command == "001"
