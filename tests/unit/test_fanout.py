"""Fan-out and the per-line path: one write per connection per read, same lines in the same order."""

from __future__ import annotations

import pytest
from twisted.internet import address
from twisted.internet.testing import StringTransport

from conferenceroom.client import protocol
from conferenceroom.wire import parse
from tests.helpers import feed, joined, make_core, make_oper, make_remote_server, make_remote_user, sent


class CountingTransport(StringTransport):
    """A transport that remembers each write separately (what the socket would be handed)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        """Record one write."""
        self.writes.append(data)
        super().write(data)


def counting_member(core, nick: str, channel: str = "#c", ip: str = "192.0.2.7") -> protocol.ClientConnection:  # type: ignore[no-untyped-def]
    """A registered member of ``channel`` whose transport records its writes (cleared)."""
    conn = protocol.ClientConnection(core)
    conn.makeConnection(CountingTransport(peerAddress=address.IPv4Address("TCP", ip, 4000)))
    feed(conn, f"NICK {nick}", f"USER {nick} 0 * :{nick}", f"JOIN {channel}")
    assert conn.user is not None
    conn.transport.clear()
    conn.transport.writes.clear()
    return conn


def lines(conn: protocol.ClientConnection) -> list[str]:
    """The lines written to ``conn`` so far (cleared)."""
    data = conn.transport.value()
    conn.transport.clear()
    return [line.decode() for line in data.split(b"\r\n") if line]


def test_lines_of_one_read_reach_a_member_in_one_write() -> None:
    """Three channel messages arriving in one read reach each member as one
    write holding the three lines in order (one send per member, not three)."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = counting_member(core, "bob")
    sent(alice)
    alice.dataReceived(b"PRIVMSG #c :one\r\nPRIVMSG #c :two\r\nNOTICE #c :three\r\n")
    assert len(bob.transport.writes) == 1
    assert [parse(line).params[1] for line in lines(bob)] == ["one", "two", "three"]
    assert sent(alice) == []


def test_output_outside_a_read_is_written_at_once() -> None:
    """A line sent by a timer or another server (not while a client's input is
    handled) is on the member's socket at once."""
    core = make_core()
    bob = counting_member(core, "bob")
    server = make_remote_server(core)
    carol = make_remote_user(core, server, "carol")
    core.network.join(carol, "#c", origin=server.route)
    core.router.deliver(carol, core.network.find_channel("#c"), "PRIVMSG", ("#c", "hi"), origin=server.route)
    assert lines(bob)[-1] == ":carol!~carol@remote.host PRIVMSG #c :hi"


def test_error_comes_after_the_lines_held_for_a_killed_client() -> None:
    """An operator's message and then a KILL in one read: the victim sees the
    message, then its KILL, then ERROR as its last line."""
    core = make_core()
    oper = joined(core, "boss", "#c")
    make_oper(oper)
    bob = counting_member(core, "bob")
    oper.dataReceived(b"PRIVMSG #c :last words\r\nKILL bob :go away\r\n")
    got = lines(bob)
    assert got[0].endswith("PRIVMSG #c :last words")
    assert got[-1].startswith("ERROR :Closing Link")
    assert [parse(line).command for line in got].index("PRIVMSG") == 0
    assert bob.closing


def test_non_reading_member_dropped_when_reads_carry_many_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """A member that never reads is dropped with "SendQ exceeded" also when each
    read of the sender carries many lines (held output counts as soon as it is
    written); the others get every line, then its QUIT."""
    monkeypatch.setattr(protocol, "MAX_SENDQ", 3000)

    class Stuck(StringTransport):
        @property
        def dataBuffer(self) -> bytes:  # noqa: N802 - twisted's name
            """Nothing written is ever taken."""
            return self.io.getvalue()

    core = make_core()
    alice = joined(core, "alice", "#c")
    carol = joined(core, "carol", "#c", ip="192.0.2.8")
    slow = protocol.ClientConnection(core)
    slow.makeConnection(Stuck(peerAddress=address.IPv4Address("TCP", "192.0.2.9", 1)))
    feed(slow, "NICK slow", "USER s 0 * :S", "JOIN #c")
    sent(alice), sent(carol)
    chunk = b"".join(b"PRIVMSG #c :" + b"x" * 100 + b" %d\r\n" % i for i in range(20))
    for _ in range(5):
        alice.dataReceived(chunk)
    core.clock.advance(0)
    got = sent(carol)
    assert [m.command for m in got] == ["PRIVMSG"] * 100 + ["QUIT"]
    assert got[-1].params == ("SendQ exceeded",)
    assert slow.transport.value().endswith(b"(SendQ exceeded)\r\n")
    assert core.network.find_user("slow") is None


def test_msgids_are_unique_and_differ_between_server_runs() -> None:
    """Each message gets its own msgid, and a restarted server (same SID) does not
    hand out the msgids of its previous run."""
    first, second = make_core(), make_core()
    ids = []
    for core in (first, second):
        alice = joined(core, "alice", "#c", caps="message-tags")
        bob = joined(core, "bob", "#c", caps="message-tags", ip="192.0.2.8")
        feed(alice, "PRIVMSG #c :one", "PRIVMSG #c :two")
        ids += [m.tags["msgid"] for m in sent(bob)]
    assert len(ids) == 4 and len(set(ids)) == 4
    assert all(m.isascii() and m.isalnum() for m in ids)


def test_a_line_is_priced_as_the_command_it_runs() -> None:
    """A JOIN whose command word carries a NUL (dropped when the line is read)
    runs as JOIN and costs what a JOIN costs (2), not the price of an unknown word:
    with a budget of 10, five such JOINs run at once and the sixth waits."""
    from conferenceroom.admin.settings import FloodSettings
    from tests.helpers import make_settings

    core = make_core(make_settings(flood=FloodSettings(enabled=True, penalties=10, seconds=10, kill=20)))
    conn = joined(core, "alice")
    core.clock.advance(10)
    conn.dataReceived(b"".join(b"JO\x00IN #c%d\r\n" % i for i in range(6)))
    assert sorted(c.name for c in conn.user.channels) == [f"#c{i}" for i in range(5)]
    core.clock.advance(2)
    assert len(conn.user.channels) == 6


def test_a_new_flood_budget_applies_to_the_next_line() -> None:
    """The flood budget is read per settings snapshot: after new settings (a
    REHASH) with a budget of 2, the third of three PINGs waits; before, with a
    budget of 10, all three were answered at once."""
    from dataclasses import replace

    from conferenceroom.admin.settings import FloodSettings
    from tests.helpers import make_settings

    core = make_core(make_settings(flood=FloodSettings(enabled=True, penalties=10, seconds=10, kill=20)))
    conn = joined(core, "alice")
    core.clock.advance(10)
    feed(conn, "PING a", "PING b", "PING c")
    assert [m.params[-1] for m in sent(conn)] == ["a", "b", "c"]
    core.clock.advance(10)
    core.apply_settings(replace(core.settings, flood=FloodSettings(enabled=True, penalties=2, seconds=10, kill=20)))
    sent(conn)
    feed(conn, "PING d", "PING e", "PING f")
    assert [m.params[-1] for m in sent(conn)] == ["d", "e"]
    core.clock.advance(6)
    assert [m.params[-1] for m in sent(conn)] == ["f"]


def _socket_transport():  # type: ignore[no-untyped-def]
    """A real Twisted TCP server transport on one end of a socket pair (the other end returned), on a MemoryReactor."""
    import socket

    from twisted.internet import tcp
    from twisted.internet.protocol import Protocol
    from twisted.internet.testing import MemoryReactor

    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.setblocking(False)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    transport = tcp.Server(ours, Protocol(), ("127.0.0.1", 1), None, 1, MemoryReactor())
    return transport, peer


def _read_all(peer) -> bytes:  # type: ignore[no-untyped-def]
    """Everything the peer socket can read now."""
    got = b""
    while True:
        try:
            chunk = peer.recv(65536)
        except BlockingIOError:
            return got
        if not chunk:
            return got
        got += chunk


def test_a_reply_to_the_reading_client_is_on_its_socket_at_once() -> None:
    """The line for the client whose input is being handled is on the socket at
    once (no wait for the next reactor pass); what the socket cannot take waits
    in the transport, and later lines go behind it, never ahead."""
    from conferenceroom.client.output import write_now

    transport, peer = _socket_transport()
    write_now(transport, b"PONG one\r\n")
    assert _read_all(peer) == b"PONG one\r\n"
    big = b"".join(b"line %06d\r\n" % i for i in range(100_000))  # more than the socket holds
    write_now(transport, big)
    write_now(transport, b"PONG two\r\n")
    assert transport._tempDataBuffer  # the rest waits for the reactor, in order
    got = b""
    for _ in range(10_000):
        got += _read_all(peer)
        if not transport._tempDataBuffer and transport.offset == len(transport.dataBuffer):
            break
        transport.doWrite()
    got += _read_all(peer)
    assert got == big + b"PONG two\r\n"
    peer.close()
    transport.socket.close()


# -- the ban decision of a channel message, kept while nothing it reads changes ---------


def _banned_room(core):  # type: ignore[no-untyped-def]
    """#c with an operator (owner of the lists), bob as a plain member, and 20 unrelated bans."""
    op = joined(core, "op", "#c")
    bob = joined(core, "bob", "#c", ip="192.0.2.8")
    feed(op, "MODE #c +bbbbbbbbbbbbbbbbbbbb " + " ".join(f"*!*@spam{i}.example" for i in range(20)))
    sent(op), sent(bob)
    return op, bob


def _said(op, bob, text: str) -> list[str]:  # type: ignore[no-untyped-def]
    """What bob is told and what op receives when bob says ``text`` in #c."""
    feed(bob, f"PRIVMSG #c :{text}")
    told = [f"{m.command} {m.params[-1]}" for m in sent(bob)]
    heard = [m.params[-1] for m in sent(op) if m.command == "PRIVMSG"]
    return told + heard


def test_a_ban_set_after_a_member_spoke_applies_to_its_next_message() -> None:
    """bob speaks, is banned, cannot speak (404 naming the ban); unbanned, speaks again."""
    core = make_core()
    op, bob = _banned_room(core)
    assert _said(op, bob, "one") == ["one"]
    feed(op, "MODE #c +b bob!*@*")
    sent(op), sent(bob)
    assert _said(op, bob, "two") == ["404 Cannot send to channel (you are banned)"]
    feed(op, "MODE #c -b bob!*@*")
    sent(op), sent(bob)
    assert _said(op, bob, "three") == ["three"]


def test_an_exception_or_a_voice_lets_a_banned_member_speak_again() -> None:
    """A banned bob is refused; after +e on him he speaks; after -e he is refused; voiced he speaks."""
    core = make_core()
    op, bob = _banned_room(core)
    feed(op, "MODE #c +b *!*@192.0.2.8")
    sent(op), sent(bob)
    assert _said(op, bob, "one")[0].startswith("404")
    feed(op, "MODE #c +e bob!*@*")
    sent(op), sent(bob)
    assert _said(op, bob, "two") == ["two"]
    feed(op, "MODE #c -e bob!*@*")
    sent(op), sent(bob)
    assert _said(op, bob, "three")[0].startswith("404")
    feed(op, "MODE #c +v bob")
    sent(op), sent(bob)
    assert _said(op, bob, "four") == ["four"]


def test_a_mute_set_after_a_member_spoke_silences_it() -> None:
    """bob speaks; after +b m:bob!*@* he is told he is muted."""
    core = make_core()
    op, bob = _banned_room(core)
    assert _said(op, bob, "one") == ["one"]
    feed(op, "MODE #c +b m:bob!*@*")
    sent(op), sent(bob)
    assert _said(op, bob, "two") == ["404 Cannot send to channel (you are muted)"]


def test_a_new_nick_or_host_is_judged_afresh() -> None:
    """bob speaks; renamed to a banned nick he is refused; back as bob he speaks;
    given a host that is banned (a cloak) he is refused."""
    core = make_core()
    op, bob = _banned_room(core)
    feed(op, "MODE #c +bb robert!*@* *!*@cloaked.example")
    sent(op), sent(bob)
    assert _said(op, bob, "one") == ["one"]
    feed(bob, "NICK robert")
    sent(op), sent(bob)
    assert _said(op, bob, "two")[0].startswith("404")
    feed(bob, "NICK bob")
    sent(op), sent(bob)
    assert _said(op, bob, "three") == ["three"]
    core.network.set_host(bob.user, bob.user.ident, "cloaked.example")
    sent(op), sent(bob)
    assert _said(op, bob, "four")[0].startswith("404")


def test_members_of_each_tag_profile_get_their_own_form_of_every_line_of_a_read() -> None:
    """In one read of two channel messages, a plain member and a member with
    message-tags each get both lines in order, each in the form its caps show
    (tags only for the one that asked), and the members' forms are not mixed up."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    tagged = joined(core, "tagged", "#c", caps="message-tags server-time")
    plain = counting_member(core, "plain")
    sent(alice)
    sent(tagged)
    alice.dataReceived(b"PRIVMSG #c :one\r\nPRIVMSG #c :two\r\n")
    plain_lines = lines(plain)
    assert [line.startswith(":alice!") for line in plain_lines] == [True, True]
    assert [parse(line).params[1] for line in plain_lines] == ["one", "two"]
    tagged_msgs = sent(tagged)
    assert [m.params[1] for m in tagged_msgs] == ["one", "two"]
    assert all("msgid" in m.tags and "time" in m.tags for m in tagged_msgs)
    assert len({m.tags["msgid"] for m in tagged_msgs}) == 2


def test_a_labeled_message_among_held_lines_is_echoed_in_its_labeled_reply() -> None:
    """A member with echo-message and labeled-response whose output is already
    held (an earlier line of the same read) gets its labeled message's echo
    carrying the label, after the earlier echo, while other members get both
    lines plainly and in order."""
    core = make_core()
    alice = joined(core, "alice", "#c", caps="echo-message labeled-response message-tags batch")
    bob = counting_member(core, "bob")
    sent(alice)
    alice.dataReceived(b"PRIVMSG #c :first\r\n@label=L1 PRIVMSG #c :second\r\n")
    echoes = sent(alice)
    assert [m.params[1] for m in echoes] == ["first", "second"]
    assert "label" not in echoes[0].tags
    assert echoes[1].tags.get("label") == "L1"
    assert [parse(line).params[1] for line in lines(bob)] == ["first", "second"]


def test_a_channel_line_is_on_every_members_socket_when_the_senders_read_ends() -> None:
    """A channel message reaches another member's socket (plain TCP, nothing
    waiting) as soon as the sender's read is handled, not a reactor pass
    later; lines the socket cannot take wait in the transport, in order."""
    import socket

    from twisted.internet import tcp
    from twisted.internet.testing import MemoryReactor

    core = make_core()
    alice = joined(core, "alice", "#c")
    bob = protocol.ClientConnection(core)
    listener = socket.create_server(("127.0.0.1", 0))
    peer = socket.create_connection(listener.getsockname())
    ours, peer_address = listener.accept()
    listener.close()
    ours.setblocking(False)
    peer.setblocking(False)
    transport = tcp.Server(ours, bob, peer_address, None, 1, MemoryReactor())
    bob.makeConnection(transport)
    feed(bob, "NICK bob", "USER bob 0 * :bob", "JOIN #c")
    assert bob.user is not None
    for _ in range(100):
        if not transport._tempDataBuffer and transport.offset == len(transport.dataBuffer):
            break
        _read_all(peer)
        transport.doWrite()
    _read_all(peer)
    sent(alice)
    alice.dataReceived(b"PRIVMSG #c :one\r\nPRIVMSG #c :two\r\n")
    got = [parse(line.decode()).params[1] for line in _read_all(peer).split(b"\r\n") if line]
    assert got == ["one", "two"]
    peer.close()
    ours.close()
