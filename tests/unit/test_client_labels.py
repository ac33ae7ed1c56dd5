"""labeled-response with batch: what a client sees in answer to a labeled command."""

from conferenceroom.wire import Message
from conferenceroom.wire import parse
from tests.helpers import feed, make_core, make_remote_server, make_remote_user, register, sent
from tests.unit.test_client_output import read_slowly, slow_client

CAPS = "labeled-response batch echo-message message-tags"


def test_single_reply_is_labeled() -> None:
    """A command with one reply line gets that line with the label, no batch."""
    core = make_core()
    conn = register(core, "alice", caps=CAPS)
    feed(conn, "@label=abc PING hello")
    (pong,) = sent(conn)
    assert pong.command == "PONG" and pong.tags.get("label") == "abc"


def test_no_reply_gets_ack() -> None:
    """A labeled command that normally has no reply gets a labeled ACK."""
    core = make_core()
    conn = register(core, "alice", caps=CAPS)
    feed(conn, "@label=x1 PONG foo")
    (ack,) = sent(conn)
    assert (ack.command, ack.params, ack.tags.get("label")) == ("ACK", (), "x1")


def test_unknown_command_reply_is_labeled() -> None:
    """Even 421 for an unknown command carries the label."""
    core = make_core()
    conn = register(core, "alice", caps=CAPS)
    feed(conn, "@label=dead NONEXISTENT")
    (reply,) = sent(conn)
    assert reply.command == "421" and reply.tags["label"] == "dead"


def test_several_replies_are_batched() -> None:
    """JOIN's replies (JOIN, NAMES) come in one labeled-response batch with the label on BATCH +."""
    core = make_core()
    conn = register(core, "alice", caps=CAPS)
    feed(conn, "@label=j1 JOIN #xyz")
    got = sent(conn)
    assert got[0].command == "BATCH" and got[0].params[1] == "labeled-response"
    assert got[0].tags == {"label": "j1"}
    ident = got[0].params[0][1:]
    assert ident.isalnum()
    assert got[-1].command == "BATCH" and got[-1].params == ("-" + ident,)
    inner = got[1:-1]
    assert [m.command for m in inner][:1] == ["JOIN"] and "366" in [m.command for m in inner]
    assert all(m.tags.get("batch") == ident and "label" not in m.tags for m in inner)


def test_without_the_cap_labels_are_ignored() -> None:
    """A client that did not take labeled-response gets plain replies, no ACK."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "@label=abc PING hello", "@label=abc PONG x")
    (pong,) = sent(conn)
    assert pong.tags == {} and pong.command == "PONG"


def test_echo_is_labeled_and_others_are_not() -> None:
    """A labeled PRIVMSG: the echo carries the label; the recipient's copy does not."""
    core = make_core()
    alice = register(core, "alice", caps=CAPS)
    bob = register(core, "bob", caps=CAPS)
    feed(alice, "@label=m1 PRIVMSG bob :hi")
    (echo,) = sent(alice)
    assert echo.command == "PRIVMSG" and echo.tags["label"] == "m1"
    (got,) = sent(bob)
    assert "label" not in got.tags


def test_message_to_self_labels_only_the_echo() -> None:
    """PRIVMSG to oneself with echo-message: two lines, exactly one labeled, no batch."""
    core = make_core()
    alice = register(core, "alice", caps=CAPS)
    feed(alice, "@label=s1 PRIVMSG alice :me")
    got = sent(alice)
    assert [m.command for m in got] == ["PRIVMSG", "PRIVMSG"]
    assert [m.tags.get("label") for m in got].count("s1") == 1


def test_long_reply_is_one_open_batch() -> None:
    """A reply written as the client reads (WHO of 3,000 members) is one batch from BATCH +
    to BATCH -, and a message from someone else meanwhile is not in it."""
    core = make_core()
    server = make_remote_server(core)
    for i in range(3000):
        core.network.join(make_remote_user(core, server, f"member{i}"), "#big", origin=server.route)
    conn, transport = slow_client(core, "slow", buffer_size=8192)
    feed(conn, "CAP REQ :labeled-response batch")
    bob = register(core, "bob")
    transport.read(len(transport.pending))
    transport.delivered.clear()
    feed(conn, "@label=w1 WHO #big")
    transport.read(4096)
    core.clock.advance(0)
    assert conn.label is not None  # the reply is still being written
    feed(bob, "PRIVMSG slow :meanwhile")
    lines = [parse(line) for line in read_slowly(core, transport, "BATCH -", size=4096)]
    (meanwhile,) = [m for m in lines if m.command == "PRIVMSG"]
    assert "batch" not in meanwhile.tags
    lines.remove(meanwhile)
    assert lines[0].command == "BATCH" and lines[0].tags == {"label": "w1"}
    ident = lines[0].params[0][1:]
    assert lines[-1].command == "BATCH" and lines[-1].params == ("-" + ident,)
    replies = lines[1:-1]
    assert len(replies) == 3001 and replies[-1].command == "315"
    assert all(m.tags.get("batch") == ident for m in replies)


def test_oper_checked_off_thread_answers_in_one_labeled_batch() -> None:
    """OPER waits for its password check: its 381 and MODE come in one labeled batch closed
    when the check is done, and a PRIVMSG from another user meanwhile stays outside it."""
    from conferenceroom.admin.settings import FrozenMap, OperEntry, fold_name
    from tests.unit.test_client_oper import HASH, PASSWORD, _hold_checks
    from tests.helpers import make_settings

    entry = OperEntry("God", HASH, frozenset("ac"))
    core = make_core(make_settings(opers=FrozenMap({fold_name("God"): entry})))
    pending = _hold_checks(core)
    alice = register(core, "alice", caps=CAPS)
    bob = register(core, "bob")
    feed(alice, f"@label=op OPER god {PASSWORD}")
    feed(bob, "PRIVMSG alice :meanwhile")
    pending[0].callback(True)
    got = sent(alice)
    (meanwhile,) = [m for m in got if m.command == "PRIVMSG"]
    assert "batch" not in meanwhile.tags
    got.remove(meanwhile)
    assert got[0].command == "BATCH" and got[0].tags == {"label": "op"}
    ident = got[0].params[0][1:]
    assert [m.command for m in got[1:3]] == ["381", "MODE"]
    assert all(m.tags.get("batch") == ident for m in got[1:-1])
    assert got[-1].params == ("-" + ident,)


def test_unreadable_command_reply_is_labeled() -> None:
    """A command word that is not a word (NONEXISTENT_COMMAND) still gets its 421 labeled."""
    core = make_core()
    conn = register(core, "alice", caps=CAPS)
    feed(conn, "@label=deadbeef NONEXISTENT_COMMAND")
    (reply,) = sent(conn)
    assert reply.command == "421" and reply.tags == {"label": "deadbeef"}
    feed(conn, "NONEXISTENT_COMMAND")
    assert sent(conn)[0].tags == {}
