"""The client connection: framing, length limits, bad input, errors, tags and SendQ."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from twisted.internet import error
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from conferenceroom.client import protocol
from conferenceroom.sendq import queued_bytes
from conferenceroom.wire import Message
from tests.helpers import START, connect, feed, make_core, register, sent, sent_lines


def alive(core, conn) -> None:  # type: ignore[no-untyped-def]
    """Assert ``conn`` is still connected and answers a PING."""
    assert not conn.transport.disconnecting
    feed(conn, "PING :still-here")
    out = sent(conn)
    assert [(m.command, m.params[-1]) for m in out] == [("PONG", "still-here")], out


# -- framing ------------------------------------------------------------------


def test_crlf_and_bare_lf() -> None:
    """Lines may end in CR LF or a bare LF."""
    core = make_core()
    conn = register(core, "alice")
    conn.dataReceived(b"PING :a\r\nPING :b\nPING :c\r\n")
    assert [m.params[-1] for m in sent(conn)] == ["a", "b", "c"]


def test_line_split_across_many_reads() -> None:
    """A line arriving one byte at a time is handled once it is complete (at its CR:
    CR and LF each end a line, RFC 2812 2.3.1)."""
    core = make_core()
    conn = register(core, "alice")
    data = b"PING :one two\r\nPING :three\r\n"
    for i in range(len(data) - 1):
        conn.dataReceived(data[i : i + 1])
        if i < 13:
            assert sent(conn) == []
    conn.dataReceived(data[-1:])
    assert [m.params[-1] for m in sent(conn)] == ["one two", "three"]


def test_registration_split_across_reads() -> None:
    """Registration works when lines are cut at arbitrary points."""
    core = make_core()
    conn = connect(core)
    for chunk in (b"NI", b"CK al", b"ice\r", b"\nUSER a 0 * :A", b"lice\r\n"):
        conn.dataReceived(chunk)
    assert conn.user is not None and conn.user.nick == "alice"


def test_empty_lines_ignored() -> None:
    """Empty and blank lines produce nothing."""
    core = make_core()
    conn = register(core, "alice")
    conn.dataReceived(b"\r\n\n   \r\n\r\r\n")
    assert sent(conn) == []
    alive(core, conn)


def test_source_only_lines() -> None:
    """A line that is only ``:source`` (or only tags) crashes nothing."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, ":alice", ":alice   ", "@a=b", "@a=b :alice", ":")
    out = sent(conn)
    assert all(m.command == "421" for m in out)
    alive(core, conn)
    pre = connect(core)
    feed(pre, ":x", "@a=b")
    assert sent(pre) == [] and not pre.transport.disconnecting


def test_source_prefix_ignored_for_dispatch() -> None:
    """A client's ``:source`` prefix does not stop the command from running."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, ":whoever PING :tok")
    assert [m.command for m in sent(conn)] == ["PONG"]


def test_nul_bytes_removed() -> None:
    """NUL bytes inside a line are dropped before parsing."""
    core = make_core()
    conn = register(core, "alice")
    conn.dataReceived(b"PI\x00NG :t\x00ok\r\n")
    [msg] = sent(conn)
    assert msg.command == "PONG" and msg.params[-1] == "tok"


# -- length limits ---------------------------------------------------------------


def test_600_byte_line_gets_417_and_connection_survives() -> None:
    """A line over 512 bytes (CR LF included) without tags is refused with 417."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "PING :" + "x" * 594)
    out = sent(conn)
    assert [(m.command, m.params) for m in out] == [("417", ("alice", "Input line was too long"))]
    alive(core, conn)


def test_line_at_limit_accepted_one_over_refused() -> None:
    """510 bytes plus CR LF is accepted; 511 plus CR LF gets 417."""
    core = make_core()
    conn = register(core, "alice")
    line = "PING " + "x" * 505
    assert len(line) == 510
    feed(conn, line)
    [msg] = sent(conn)
    assert msg.command == "PONG" and "x" * 450 in msg.params[-1]
    feed(conn, line + "x")
    assert [m.command for m in sent(conn)] == ["417"]
    alive(core, conn)


def test_overlong_before_registration() -> None:
    """An overlong line before registration gets 417 with ``*`` as the target."""
    core = make_core()
    conn = connect(core)
    feed(conn, "NICK " + "a" * 600)
    out = sent(conn)
    assert [(m.command, m.params[0]) for m in out] == [("417", "*")]
    feed(conn, "NICK alice", "USER a 0 * :A")
    assert conn.user is not None


def test_9000_bytes_without_newline_then_more() -> None:
    """A huge unterminated line gets one 417; its rest is dropped; the next line runs."""
    core = make_core()
    conn = register(core, "alice")
    conn.dataReceived(b"PRIVMSG alice :" + b"y" * 9000)
    assert [m.command for m in sent(conn)] == ["417"]
    conn.dataReceived(b"z" * 5000)
    conn.dataReceived(b"z" * 5000)
    assert sent(conn) == []
    conn.dataReceived(b"zzz\r\nPING :after\r\n")
    assert [(m.command, m.params[-1]) for m in sent(conn)] == [("PONG", "after")]
    alive(core, conn)


def test_client_tags_up_to_4094_bytes_accepted() -> None:
    """Tag data of 4094 bytes (IRCv3 client limit) with a normal line is processed."""
    core = make_core()
    conn = register(core, "alice", caps="message-tags")
    tag = "+example.com/t=" + "v" * (4094 - len("+example.com/t="))
    assert len(tag) == 4094
    feed(conn, f"@{tag} PING :tok")
    assert [m.command for m in sent(conn)] == ["PONG"]


def test_client_tags_over_4094_bytes_refused_not_relayed() -> None:
    """More tag data than 4094 bytes gets 417 and the message is not relayed."""
    core = make_core()
    alice = register(core, "alice", caps="message-tags")
    bob = register(core, "bob", caps="message-tags")
    feed(alice, "@+clientOnlyTagExample=" + "a" * 4096 + " PRIVMSG bob :hi!")
    assert [m.command for m in sent(alice)] == ["417"]
    assert sent(bob) == []
    alive(core, alice)


def test_tags_do_not_count_toward_512() -> None:
    """A 4000-byte tag section plus a 500-byte body is within limits."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "@+t=" + "v" * 4000 + " PING :" + "x" * 490)
    assert [m.command for m in sent(conn)] == ["PONG"]


# -- bad input -------------------------------------------------------------------


def test_invalid_utf8_privmsg_does_not_crash() -> None:
    """Latin-1 text in a PRIVMSG is delivered (decoded as Latin-1), nothing crashes."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.dataReceived(b"PRIVMSG bob :caf\xe9 \xff\xfe\x80\r\n")
    assert sent(alice) == []
    [msg] = sent(bob)
    assert msg.command == "PRIVMSG" and msg.params == ("bob", "caf\xe9 \xff\xfe\x80")
    alive(core, alice)


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe\xfd\r\n", b"\x80\r\n", b"PRIV\xffMSG x :y\r\n", b"\x00\x00\r\n", b"@\xff=\xfe \xff\r\n",
     b": : :\r\n", b"@;;; :\r\n", b"\t\r\n", b"PRIVMSG\r\n", b"JOIN \xff\xfe\r\n"],
)
def test_garbage_lines_survive(data: bytes) -> None:
    """Garbage bytes never raise out of dataReceived nor drop the connection."""
    core = make_core()
    conn = register(core, "alice")
    conn.dataReceived(data)
    out = sent(conn)
    assert all(m.command != "400" for m in out), out
    alive(core, conn)


def test_handler_exception_gives_400_and_survives() -> None:
    """A handler that raises gives ERR_UNKNOWNERROR for that command; the client stays."""
    core = make_core()
    conn = register(core, "alice")

    def boom(ctx: object, msg: Message) -> None:
        raise RuntimeError("kaboom")

    spec = core.commands.specs["TIME"]
    core.commands.specs["TIME"] = replace(spec, handler=boom)
    feed(conn, "TIME")
    out = sent(conn)
    assert [(m.command, m.params[:2]) for m in out] == [("400", ("alice", "TIME"))]
    assert "kaboom" not in out[0].params[-1]
    alive(core, conn)
    assert core.network.find_user("alice") is conn.user


# -- output: tags by capability ---------------------------------------------------------


def test_server_time_tag() -> None:
    """A server-time client gets @time from the injected clock; others get no tags."""
    core = make_core()
    timed = register(core, "timed", caps="server-time")
    plain = register(core, "plain")
    core.clock.advance(1.2345)
    msg = Message("NOTICE", ("*", "hello"), "test.local")
    timed.send(msg)
    plain.send(msg)
    [line] = sent_lines(timed)
    assert re.fullmatch(r"@time=2023-11-14T22:13:21\.234Z :test.local NOTICE \* :hello", line), line
    assert START == 1_700_000_000.0
    assert sent_lines(plain) == [":test.local NOTICE * :hello"]


def test_server_time_keeps_given_time() -> None:
    """A message that already carries a time tag keeps it."""
    core = make_core()
    conn = register(core, "timed", caps="server-time")
    conn.send(Message("PING", ("x",), tags={"time": "2000-01-01T00:00:00.000Z"}))
    assert sent(conn)[0].tags == {"time": "2000-01-01T00:00:00.000Z"}


def test_client_tags_only_to_message_tags_clients() -> None:
    """A +client tag reaches message-tags clients only; time needs server-time."""
    core = make_core()
    tags_conn = register(core, "tagged", caps="message-tags")
    both = register(core, "both", caps="message-tags server-time")
    plain = register(core, "plain")
    msg = Message("PRIVMSG", ("#c", "hi"), "x!y@z", {"+example/t": "v", "time": "2020-01-01T00:00:00.000Z"})
    for conn in (tags_conn, both, plain):
        conn.send(msg)
    assert sent(tags_conn)[0].tags == {"+example/t": "v"}
    assert sent(both)[0].tags == {"+example/t": "v", "time": "2020-01-01T00:00:00.000Z"}
    assert sent_lines(plain) == [":x!y@z PRIVMSG #c :hi"]


def test_relayed_client_tag_filtered_by_caps() -> None:
    """A PRIVMSG with a +client tag keeps it for message-tags recipients only."""
    core = make_core()
    alice = register(core, "alice", caps="message-tags")
    bob = register(core, "bob", caps="message-tags")
    carol = register(core, "carol")
    feed(alice, "@+example/react=\\:) PRIVMSG bob :hi", "@+example/react=x PRIVMSG carol :hi")
    got = sent(bob)[0]
    assert got.tags.get("+example/react") == ";)"
    assert sent_lines(carol)[0].startswith(":alice!")


def test_malformed_outgoing_message_not_written() -> None:
    """A message that cannot be formatted is logged and not written (no broken line)."""
    core = make_core()
    conn = register(core, "alice")
    conn.send(Message("PRIVMSG", ("alice", "line\r\nQUIT")))
    assert conn.transport.value() == b""
    alive(core, conn)


# -- SendQ -------------------------------------------------------------------------


class StuckTransport(StringTransport):
    """A transport whose peer never reads: everything written stays buffered."""

    @property
    def dataBuffer(self) -> bytes:  # noqa: N802 - the name twisted's transports use
        """Everything written so far counts as queued."""
        return self.io.getvalue()


def test_sendq_exceeded_closes_and_quits(monkeypatch: pytest.MonkeyPatch) -> None:
    """When unsent output passes the SendQ limit the client is dropped and peers see QUIT."""
    monkeypatch.setattr(protocol, "MAX_SENDQ", 4096)
    core = make_core()
    bob = register(core, "bob")
    conn = protocol.ClientConnection(core)
    conn.makeConnection(StuckTransport())
    feed(conn, "NICK slow", "USER s 0 * :Slow")
    assert conn.user is not None
    core.network.join(conn.user, "#c")
    core.network.join(bob.user, "#c")
    sent(bob)
    for i in range(100):
        if conn.closing:
            break
        conn.send(Message("NOTICE", ("slow", "x" * 200)))
    core.clock.advance(0)  # the client is dropped once the current delivery is done
    assert conn.closing and conn.transport.disconnecting
    assert conn.transport.value().endswith(b"(SendQ exceeded)\r\n")
    assert core.network.find_user("slow") is None
    [quit_msg] = sent(bob)
    assert quit_msg.command == "QUIT" and quit_msg.params == ("SendQ exceeded",)


def test_nothing_written_after_close() -> None:
    """After the connection closes, later sends and input are ignored."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "QUIT :bye")
    sent(conn)
    conn.send(Message("PING", ("x",)))
    feed(conn, "PING :x")
    assert conn.transport.value() == b""


@pytest.mark.parametrize(
    "reason, text",
    [(None, "Connection closed"), (error.ConnectionDone(), "Connection closed"),
     (error.ConnectionLost("Connection reset by peer"), "Read error: ")],
)
def test_connection_lost_removes_user(reason: Exception | None, text: str) -> None:
    """A dropped connection quits the user; peers see why."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    core.network.join(alice.user, "#c")
    core.network.join(bob.user, "#c")
    sent(bob)
    alice.connectionLost(None if reason is None else Failure(reason))
    assert core.network.find_user("alice") is None
    assert alice not in core.connections
    [msg] = sent(bob)
    assert msg.command == "QUIT" and msg.params[0].startswith(text)


def test_bare_cr_ends_a_line() -> None:
    """A lone CR inside a line separates two lines, so no parameter carries a CR."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    alice.dataReceived(b"PRIVMSG bob :one\rPRIVMSG bob :two\r\n")
    assert [m.params for m in sent(bob)] == [("bob", "one"), ("bob", "two")]
    assert sent(alice) == []


def test_sendq_counts_through_a_tls_wrapper() -> None:
    """Unsent bytes are found on the transport under a TLS-style wrapper too."""

    class Inner:
        dataBuffer = b"x" * 100
        offset = 40
        _tempDataLen = 10

    class Wrapper:
        _appSendBuffer = [b"abc", b"de"]
        transport = Inner()

    assert queued_bytes(Wrapper()) == 5 + 60 + 10
    assert queued_bytes(StringTransport()) == 0


def _stuck_member(core, nick: str) -> protocol.ClientConnection:  # type: ignore[no-untyped-def]
    """A registered client whose transport never drains."""
    conn = protocol.ClientConnection(core)
    conn.makeConnection(StuckTransport())
    feed(conn, f"NICK {nick}", f"USER {nick} 0 * :Stuck")
    assert conn.user is not None
    return conn


def test_sendq_overflow_during_channel_fanout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A member whose SendQ overflows while a channel message is fanned out
    is dropped (as Solanum does with "dead" clients: after the current
    delivery), so every other member still gets every message, the sender
    sees no error, and the others then see the QUIT."""
    monkeypatch.setattr(protocol, "MAX_SENDQ", 2000)
    core = make_core()
    alice, slow, bob = register(core, "alice"), _stuck_member(core, "slow"), register(core, "bob")
    for conn in (alice, slow, bob):
        feed(conn, "JOIN #c")
    sent(alice), sent(bob)
    for _ in range(30):
        feed(alice, "PRIVMSG #c :" + "x" * 300)
    core.clock.advance(0)
    got = sent(bob)
    assert [m.command for m in got] == ["PRIVMSG"] * 30 + ["QUIT"]
    assert got[-1].params == ("SendQ exceeded",)
    assert [m.command for m in sent(alice)] == ["QUIT"]
    assert core.network.find_user("slow") is None
    assert set(core.network.find_channel("#c").members) == {alice.user, bob.user}


def test_sendq_overflow_of_the_joiner_leaves_no_ghost(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client whose SendQ overflows on its own JOIN echo quits only after
    the JOIN is complete: every event subscriber (the link layer relays
    them in order) sees the JOIN before the QUIT, never a JOIN of a user
    that already quit, and no membership is left behind."""
    core = make_core()
    slow = _stuck_member(core, "slow")
    monkeypatch.setattr(protocol, "MAX_SENDQ", len(slow.transport.value()) + 10)
    bob = register(core, "bob")
    feed(bob, "JOIN #c")
    seen: list[str] = []
    user = slow.user
    core.network.events.subscribe(
        lambda event: seen.append(type(event).__name__) if getattr(event, "user", None) is user else None
    )
    for _ in range(16):
        feed(slow, "JOIN #c", "PART #c")
    core.clock.advance(0)
    assert core.network.find_user("slow") is None
    assert seen[-1] == "UserQuit" and seen.count("UserQuit") == 1, seen
    assert set(core.network.find_channel("#c").members) == {bob.user}


def test_no_lines_after_error_when_an_oper_quits() -> None:
    """ERROR is the last line a closing client gets: an operator with +s who
    quits is not sent its own "Client exiting" server notice after it."""
    core = make_core()
    oper = register(core, "oper")
    core.network.set_oper(oper.user, "admin", frozenset("o"))
    feed(oper, "MODE oper +s")
    sent(oper)
    feed(oper, "QUIT :bye")
    lines = sent_lines(oper)
    assert lines[-1].startswith("ERROR :Closing Link"), lines


def test_junk_lines_are_counted_not_logged_one_by_one() -> None:
    """Unparseable and overlong lines write no log line each (a client must
    not be able to grow the log); one debug line at disconnect gives the count."""
    from twisted.logger import globalLogPublisher

    events: list[dict] = []
    core = make_core()
    conn = register(core, "junky")
    globalLogPublisher.addObserver(events.append)
    try:
        conn.dataReceived(b":x\r\n!!! ???\r\n" * 50 + (b"x" * 700 + b"\r\n") * 10)
        ours = [e for e in events if e.get("log_namespace", "").startswith("conferenceroom")]
        assert ours == []
        conn.connectionLost(None)
        ours = [e for e in events if e.get("log_namespace", "").startswith("conferenceroom.client")]
        assert [(e["log_level"].name, e.get("count")) for e in ours] == [("debug", 110)]
    finally:
        globalLogPublisher.removeObserver(events.append)


def test_bare_cr_ends_a_line_without_waiting_for_more_input() -> None:
    """"PING a\\rPING b\\r" with no LF at all is answered at once, twice: CR
    alone ends a line (RFC 2812 2.3.1), even as the last byte received."""
    core = make_core()
    conn = register(core, "alice")
    conn.dataReceived(b"PING a\rPING b\r")
    assert [m.params[-1] for m in sent(conn)] == ["a", "b"]
    conn.dataReceived(b"\nPING c\r")
    assert [m.params[-1] for m in sent(conn)] == ["c"]


def test_socket_reads_are_bounded_to_a_few_lines() -> None:
    """The socket under a client connection (and under its TLS layer) is read at most
    16 KiB at a time, not Twisted's 64 KiB, so one client's burst is handled over several
    reactor passes and other clients are not kept waiting behind it."""

    class Socketish(StringTransport):
        bufferSize = 65536

    tcp = Socketish()
    tls = StringTransport()
    tls.transport = tcp  # type: ignore[attr-defined]
    conn = protocol.ClientConnection(make_core())
    conn.makeConnection(tls)
    assert tcp.bufferSize == protocol.READ_SIZE == 16384
    plain = Socketish()
    protocol.ClientConnection(make_core()).makeConnection(plain)
    assert plain.bufferSize == 16384


def test_a_client_accepted_by_the_listener_is_known_by_its_peer_address() -> None:
    """Accepted through the listener's factory (IPv4 and IPv6): the welcome's mask and the
    connection show the peer's address and port; an IPv6 address starting with ':' is shown
    with a leading 0."""
    from twisted.internet import address

    from conferenceroom.client.protocol import ClientFactory

    core = make_core()
    for n, (kind, ip, shown) in enumerate((("IPv4", "10.9.0.7", "10.9.0.7"), ("IPv6", "::1", "0::1"))):
        addr = (address.IPv4Address if kind == "IPv4" else address.IPv6Address)("TCP", ip, 41234 + n)
        conn = ClientFactory(core).buildProtocol(addr)
        conn.makeConnection(StringTransport(peerAddress=addr))
        conn.dataReceived(f"NICK peer{n}\r\nUSER p 0 * :P\r\n".encode())
        assert conn.ip == ip and conn.port == 41234 + n and conn.host == shown
        assert conn.transport.value().split(b"\r\n")[0].endswith(f"peer{n}!~p@{shown}".encode())
