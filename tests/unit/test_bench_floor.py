"""The benchmarks' Twisted echo floor (benchmarks/floor.py) speaks enough IRC
for every load phase: what its clients see, over StringTransport."""

from __future__ import annotations

from twisted.internet.testing import StringTransport

from tests.unit.benchmod import load_benchmark

floor = load_benchmark("floor")


class Client:
    """One connection to a FloorFactory, with what it was sent."""

    def __init__(self, factory):
        self.proto = factory.buildProtocol(None)
        self.transport = StringTransport()
        self.proto.makeConnection(self.transport)

    def send(self, *lines: str) -> None:
        self.proto.dataReceived("".join(line + "\r\n" for line in lines).encode())

    def lines(self) -> list[str]:
        data = self.transport.value().decode()
        self.transport.clear()
        return [x for x in data.split("\r\n") if x]


def registered(factory, nick: str) -> Client:
    c = Client(factory)
    c.send(f"NICK {nick}", f"USER {nick} 0 * :bench")
    c.lines()
    return c


def test_registration_gives_001_after_nick_and_user():
    """NICK then USER registers: the client gets 001 with its nick, nothing before USER."""
    f = floor.FloorFactory()
    c = Client(f)
    c.send("NICK alice")
    assert c.lines() == []
    c.send("USER alice 0 * :Alice")
    assert c.lines() == [":floor.bench 001 alice :Welcome to the floor alice"]


def test_taken_nick_gets_433_and_a_second_nick_registers():
    """A nick in use (any case) is refused with 433; the client may pick another."""
    f = floor.FloorFactory()
    registered(f, "alice")
    c = Client(f)
    c.send("NICK ALICE", "USER a 0 * :x")
    assert c.lines() == [":floor.bench 433 * ALICE :Nickname is already in use"]
    c.send("NICK alice2")
    assert c.lines() == [":floor.bench 001 alice2 :Welcome to the floor alice2"]


def test_ping_answered_with_pong_before_and_after_registration():
    """PING gets a PONG carrying the token, registered or not."""
    f = floor.FloorFactory()
    c = Client(f)
    c.send("PING :tok1")
    assert c.lines() == [":floor.bench PONG floor.bench :tok1"]
    c.send("NICK bob", "USER bob 0 * :b")
    c.lines()
    c.send("PING tok2")
    assert c.lines() == [":floor.bench PONG floor.bench :tok2"]


def test_commands_before_registration_get_451_and_unknown_ones_421():
    """JOIN before registering is refused with 451; an unknown command after with 421."""
    f = floor.FloorFactory()
    c = Client(f)
    c.send("JOIN #x")
    assert c.lines() == [":floor.bench 451 * :You have not registered"]
    c.send("NICK carol", "USER carol 0 * :c")
    c.lines()
    c.send("WHOIS carol")
    assert c.lines() == [":floor.bench 421 carol WHOIS :Unknown command"]


def test_join_is_seen_by_every_member_with_names_and_366():
    """A JOIN goes to all members (the joiner too); the joiner gets 353 and 366."""
    f = floor.FloorFactory()
    a, b = registered(f, "alice"), registered(f, "bob")
    a.send("JOIN #room")
    assert a.lines() == [":alice!alice@127.0.0.1 JOIN #room",
                         ":floor.bench 353 alice = #room :alice",
                         ":floor.bench 366 alice #room :End of /NAMES list."]
    b.send("JOIN #room")
    assert a.lines() == [":bob!bob@127.0.0.1 JOIN #room"]
    assert b.lines() == [":bob!bob@127.0.0.1 JOIN #room",
                         ":floor.bench 353 bob = #room :alice bob",
                         ":floor.bench 366 bob #room :End of /NAMES list."]


def test_names_of_a_big_channel_come_in_several_353_lines():
    """A channel of 200 members lists every nick, in 353 lines under 512 bytes."""
    f = floor.FloorFactory()
    members = [registered(f, f"member{i:03d}") for i in range(200)]
    for m in members:
        m.send("JOIN #big")
    last = members[-1].lines()
    names = [x for x in last if " 353 " in x]
    assert len(names) > 1
    assert all(len(x) < 510 for x in names)
    listed = [n for x in names for n in x.split(" :", 1)[1].split()]
    assert listed == [f"member{i:03d}" for i in range(200)]


def test_channel_privmsg_reaches_every_other_member_once():
    """A channel PRIVMSG goes to each other member, not back to the sender."""
    f = floor.FloorFactory()
    a, b, c = (registered(f, n) for n in ("alice", "bob", "carol"))
    for x in (a, b, c):
        x.send("JOIN #room")
    for x in (a, b, c):
        x.lines()
    a.send("PRIVMSG #room :hello there")
    assert a.lines() == []
    assert b.lines() == [":alice!alice@127.0.0.1 PRIVMSG #room :hello there"]
    assert c.lines() == [":alice!alice@127.0.0.1 PRIVMSG #room :hello there"]


def test_privmsg_to_self_and_to_missing_nick():
    """A PRIVMSG to one's own nick comes back; to an unknown nick gives 401."""
    f = floor.FloorFactory()
    a = registered(f, "alice")
    a.send("PRIVMSG alice :self1")
    assert a.lines() == [":alice!alice@127.0.0.1 PRIVMSG alice :self1"]
    a.send("PRIVMSG nobody :x")
    assert a.lines() == [":floor.bench 401 alice nobody :No such nick/channel"]


def test_privmsg_to_a_channel_one_is_not_in_gets_404():
    """Sending to a channel without being in it is refused with 404."""
    f = floor.FloorFactory()
    a, b = registered(f, "alice"), registered(f, "bob")
    b.send("JOIN #room")
    a.send("PRIVMSG #room :hi")
    assert a.lines() == [":floor.bench 404 alice #room :Cannot send to channel"]


def test_part_is_seen_by_members_and_empty_channel_goes_away():
    """PART goes to all members including the parter; the last PART removes the channel."""
    f = floor.FloorFactory()
    a, b = registered(f, "alice"), registered(f, "bob")
    a.send("JOIN #room")
    b.send("JOIN #room")
    a.lines(), b.lines()
    a.send("PART #room")
    assert a.lines() == [":alice!alice@127.0.0.1 PART #room"]
    assert b.lines() == [":alice!alice@127.0.0.1 PART #room"]
    a.send("PART #room")
    assert a.lines() == [":floor.bench 442 alice #room :You're not on that channel"]
    b.send("PART #room")
    assert "#room" not in {k.decode() for k in f.channels}


def test_quit_tells_each_co_member_once_and_frees_the_nick():
    """QUIT reaches each member sharing a channel once, even across two channels."""
    f = floor.FloorFactory()
    a, b = registered(f, "alice"), registered(f, "bob")
    for x in (a, b):
        x.send("JOIN #one,#two")
    a.lines(), b.lines()
    a.send("QUIT :bye")
    assert b.lines() == [":alice!alice@127.0.0.1 QUIT :Quit: bye"]
    assert a.transport.disconnecting
    a.proto.connectionLost(None)
    assert b.lines() == []
    c = Client(f)
    c.send("NICK alice", "USER alice 0 * :again")
    assert c.lines() == [":floor.bench 001 alice :Welcome to the floor alice"]


def test_lost_connection_is_announced_like_a_quit():
    """A dropped connection gives its co-members a QUIT line."""
    f = floor.FloorFactory()
    a, b = registered(f, "alice"), registered(f, "bob")
    for x in (a, b):
        x.send("JOIN #room")
    a.lines(), b.lines()
    a.proto.connectionLost(None)
    assert b.lines() == [":alice!alice@127.0.0.1 QUIT :Connection closed"]


def test_tags_and_prefix_are_skipped_and_overlong_lines_get_417():
    """A line with tags and a prefix is understood; an endless line gets 417."""
    f = floor.FloorFactory()
    a = registered(f, "alice")
    a.send("@label=x :alice PING :t")
    assert a.lines() == [":floor.bench PONG floor.bench :t"]
    a.proto.dataReceived(b"PRIVMSG alice :" + b"y" * 9000 + b"\r\n")
    assert a.lines() == [":floor.bench 417 alice :Input line was too long"]
