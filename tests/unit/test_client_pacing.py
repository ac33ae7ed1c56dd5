"""Registration bursts are shared out over reactor turns, so other clients are not kept waiting."""

from __future__ import annotations

from twisted.internet import address, task
from twisted.internet.testing import StringTransport

from conferenceroom.client import protocol
from conferenceroom.client.pacing import TurnBudget
from tests.helpers import feed, make_core, register, sent


def one_turn(clock: task.Clock) -> None:
    """Run the calls due now, as one reactor pass does (calls they add wait for the next pass;
    ``task.Clock.advance(0)`` would run those too)."""
    due = [call for call in clock.getDelayedCalls() if call.getTime() <= clock.seconds()]
    for call in due:
        clock.calls.remove(call)
        call.func(*call.args, **call.kw)


def accept(core, ip: str):  # type: ignore[no-untyped-def]
    """A connection from ``ip`` built by the listener's factory."""
    addr = address.IPv4Address("TCP", ip, 40000)
    conn = protocol.ClientFactory(core).buildProtocol(addr)
    conn.makeConnection(StringTransport(peerAddress=addr))
    return conn


def test_budget_runs_so_much_per_turn_and_the_rest_in_order() -> None:
    """Five units per turn: the sixth and later wait for the next turns, first come first served."""
    clock = task.Clock()
    budget = TurnBudget(clock, per_turn=5)
    ran: list[int] = []
    for n in range(12):
        if budget.take():
            ran.append(n)
        else:
            budget.later(lambda n=n: ran.append(n))
    assert ran == [0, 1, 2, 3, 4]
    one_turn(clock)
    assert ran == list(range(10))
    assert not budget.take()  # this turn is used up by those that waited
    one_turn(clock)
    assert ran == list(range(12))
    one_turn(clock)
    assert budget.take()
    for _ in range(3):
        one_turn(clock)
    assert clock.getDelayedCalls() == []  # idle: no timer left behind


def test_a_burst_of_new_clients_registers_over_several_turns() -> None:
    """100 clients sending NICK and USER in the same reactor pass: only the first few are
    welcomed in that pass, the others in later passes, each in the order it came; a client
    already registered gets its PING answered in the same pass meanwhile; every one of
    them is registered in the end, and a client's lines after USER wait behind it."""
    core = make_core()
    bob = register(core, "bob")
    burst = [accept(core, f"10.3.0.{n}") for n in range(100)]
    for n, conn in enumerate(burst):
        feed(conn, f"NICK b{n}", f"USER b{n} 0 * :B", "PING :after")
    feed(bob, "PING :bob")
    assert [m.params[-1] for m in sent(bob)] == ["bob"]
    first = [conn.registered for conn in burst]
    per_turn = protocol.REGISTRATION_LINES_PER_TURN // 2
    assert first == [True] * per_turn + [False] * (100 - per_turn)
    turns = 1
    while not all(conn.registered for conn in burst) and turns < 1000:
        one_turn(core.clock)
        turns += 1
    assert turns >= 100 // per_turn
    for conn in burst:
        out = sent(conn)
        assert out[0].command == "001" and (out[-1].command, out[-1].params[-1]) == ("PONG", "after")


def _tcp_pair():  # type: ignore[no-untyped-def]
    """A connected loopback TCP socket pair: (the server's end, the client's end), both non-blocking."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    ours, _ = listener.accept()
    listener.close()
    ours.setblocking(False)
    client.setblocking(False)
    return ours, client


def test_a_paced_registration_is_welcomed_on_the_socket_in_its_turn() -> None:
    """A client whose NICK and USER wait for a later turn (a burst filled this one) reads its
    welcome in the pass that registers it, straight from the socket: the reply to its own lines
    does not wait one more reactor pass for Twisted's writer (as it does not when not paced)."""
    from twisted.internet import tcp
    from twisted.internet.testing import MemoryReactor

    core = make_core()
    for n in range(protocol.REGISTRATION_LINES_PER_TURN // 2):  # this turn's share, used up
        feed(accept(core, f"10.4.0.{n}"), f"NICK early{n}", f"USER u{n} 0 * :r")
    ours, client = _tcp_pair()
    try:
        addr = address.IPv4Address("TCP", "10.4.1.1", 40000)
        conn = protocol.ClientFactory(core).buildProtocol(addr)
        transport = tcp.Server(ours, conn, ("10.4.1.1", 40000), None, 1, MemoryReactor())
        conn.makeConnection(transport)
        conn.dataReceived(b"NICK late\r\nUSER late 0 * :Late\r\n")
        assert conn.user is None  # paced: not in this turn
        for _ in range(4):
            one_turn(core.clock)
        assert conn.user is not None
        welcome = client.recv(65536)
        assert welcome.startswith(b":") and b" 001 late :Welcome to the " in welcome
        assert b" 376 late " in welcome or b" 422 late " in welcome
    finally:
        client.close()
        ours.close()


def test_budget_work_with_an_argument_runs_in_its_turn_and_busy_says_when_work_would_wait() -> None:
    """``later(fn, arg)`` runs ``fn(arg)`` in its place in the line, beside plain callables;
    ``busy()`` is true exactly when work asked for now would wait for a later turn."""
    clock = task.Clock()
    budget = TurnBudget(clock, per_turn=2)
    ran: list[object] = []
    assert not budget.busy()
    assert budget.take() and budget.take()
    assert budget.busy()
    budget.later(ran.append, "a")
    budget.later(lambda: ran.append("b"))
    budget.later(ran.append, None)  # None is an argument like any other
    one_turn(clock)
    assert ran == ["a", "b"] and budget.busy()
    one_turn(clock)
    assert ran == ["a", "b", None]
    one_turn(clock)
    assert not budget.busy()


def test_lines_of_a_waiting_new_client_wait_unparsed_and_run_as_sent() -> None:
    """While a burst of new clients waits for its turns, each waiting client holds its lines as
    the bytes it sent (no parsed message per waiting line); when its turn comes they run as
    parsed then: junk gets no reply, a line with tags and a source prefix works, CAP LS ends
    with the registration, and an unknown command after registration gets 421."""
    core = make_core()
    for n in range(protocol.REGISTRATION_LINES_PER_TURN // 2):  # this turn's share, used up
        feed(accept(core, f"10.5.0.{n}"), f"NICK early{n}", f"USER u{n} 0 * :r")
    conn = accept(core, "10.5.1.1")
    feed(conn, "CAP LS 302", "\x01junk", "@+x=1 :late NICK late", "USER late 0 * :Late Comer",
         "CAP END", "FROB")
    assert conn.user is None
    held = [entry for entry in core.registration_pace.waiting if isinstance(entry, tuple) and
            getattr(entry[0], "__self__", None) is conn]
    assert [entry[1] for entry in held] == [b"CAP LS 302"]
    assert [line for line, _cost in conn.gate.queue] == [
        b"\x01junk", b"@+x=1 :late NICK late", b"USER late 0 * :Late Comer", b"CAP END", b"FROB"]
    for _ in range(20):
        one_turn(core.clock)
    assert conn.user is not None and conn.user.nick == "late" and conn.user.realname == "Late Comer"
    out = sent(conn)
    assert out[0].command == "CAP" and out[0].params[1] == "LS"
    assert "001" in [m.command for m in out]
    assert (out[-1].command, out[-1].params[1:]) == ("421", ("FROB", "Unknown command"))


def test_a_paced_client_sending_nick_and_user_at_once_is_never_paused() -> None:
    """A new client in a burst whose NICK and USER (one read, as clients send them) wait for a
    later turn keeps its socket read the whole time: nothing more comes until its welcome, so
    the wait costs it no pause and resume of the socket, and it is welcomed in its turn."""
    core = make_core()
    for n in range(protocol.REGISTRATION_LINES_PER_TURN // 2):  # this turn's share, used up
        feed(accept(core, f"10.6.0.{n}"), f"NICK early{n}", f"USER u{n} 0 * :r")
    conn = accept(core, "10.6.1.1")
    conn.dataReceived(b"NICK late\r\nUSER late 0 * :Late\r\n")
    assert conn.user is None and conn.gate.waiting
    states = [conn.transport.producerState]
    for _ in range(4):
        one_turn(core.clock)
        states.append(conn.transport.producerState)
    assert conn.user is not None and sent(conn)[0].command == "001"
    assert states == ["producing"] * 5


def test_a_paced_client_sending_more_while_its_lines_wait_is_paused_until_they_ran() -> None:
    """A waiting new client that sends again before its turn (its lines still wait) is not
    read further: the socket is paused, and read again once its lines ran, in order."""
    core = make_core()
    for n in range(protocol.REGISTRATION_LINES_PER_TURN // 2):  # this turn's share, used up
        feed(accept(core, f"10.7.0.{n}"), f"NICK early{n}", f"USER u{n} 0 * :r")
    conn = accept(core, "10.7.1.1")
    conn.dataReceived(b"NICK late\r\nUSER late 0 * :Late\r\n")
    assert conn.transport.producerState == "producing"
    conn.dataReceived(b"PING :more\r\n")
    assert conn.transport.producerState == "paused"
    for _ in range(4):
        one_turn(core.clock)
    out = sent(conn)
    assert out[0].command == "001" and (out[-1].command, out[-1].params[-1]) == ("PONG", "more")
    assert conn.transport.producerState == "producing"
