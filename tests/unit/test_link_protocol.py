"""LinkConnection: two in-memory servers (the manual's soprano and tenor) linked by the real protocol.

The TS6 handlers, burst and relay rendering are the small stand-ins of
tests/unit/linkpair.py; what is checked is the link itself: handshake lines,
policy, notices, burst, registration, the manager's reports, splits,
keepalive and input/output limits.
"""

from __future__ import annotations

from dataclasses import replace

from twisted.internet import task
from zope.interface.verify import verifyObject

from conferenceroom.admin.settings import ServerDef
from conferenceroom.link.interfaces import ILinkConnection
from conferenceroom.link.protocol import LINES_PER_TURN, LINK_SENDQ, LinkConnection
from conferenceroom.wire import parse
from tests.helpers import START, connect, feed, join_channel, register, sent
from tests.unit.linkpair import (
    SOPRANO_DEF, TENOR_DEF, Pair, dial, linked, make_server, notices, oper_on, soprano_and_tenor, transport,
)


def test_link_provides_the_manager_interface() -> None:
    """The protocol the manager builds satisfies ILinkConnection."""
    soprano, tenor = soprano_and_tenor()
    verifyObject(ILinkConnection, LinkConnection(tenor, SOPRANO_DEF))


def test_manual_pair_links_with_the_documented_lines() -> None:
    """tenor dials soprano: CAPAB/SERVER each way, SVINFO, bursts; both registered with the other as a server."""
    soprano, tenor = soprano_and_tenor()
    pair = linked(soprano, tenor)
    out = pair.lines("a>p")
    back = pair.lines("p>a")
    assert [m.command for m in out[:3]] == ["CAPAB", "SERVER", "SVINFO"]
    assert out[0].params[0] == "EOB ENCAP TBURST CR-SERIAL=101-0001-001 CR-ROLE=leaf CR-OWNER"
    assert out[1].params[:2] == ("tenor.webmaster.com", "1")
    assert [m.command for m in back[:3]] == ["CAPAB", "SERVER", "SVINFO"]
    assert back[0].params[0] == "EOB ENCAP TBURST CR-SERIAL=102-0000-001 CR-ROLE=hub CR-OWNER"
    assert pair.active.registered and pair.passive.registered
    assert pair.passive.name == "tenor.webmaster.com" and pair.passive.role == "leaf"
    assert pair.active.role == "hub" and pair.passive.handle == "tenor"
    peer = soprano.network.find_server("tenor.webmaster.com")
    assert peer is pair.passive.peer and peer.route is pair.passive.route and peer.hopcount == 1
    assert peer.uplink is soprano.network.me
    assert tenor.network.find_server("soprano.webmaster.com").route is pair.active.route
    assert soprano.links == [pair.passive] and tenor.links == [pair.active]
    assert soprano.link_manager.established == [pair.passive]
    assert tenor.link_manager.established == [pair.active]
    assert "CR-OWNER" in pair.passive.capabilities


def test_users_on_both_sides_see_each_other_and_talk() -> None:
    """A user on each server before the link: each burst introduces it on the other; PRIVMSG crosses."""
    soprano, tenor = soprano_and_tenor()
    alice = register(soprano, "alice")
    bob = register(tenor, "bob")
    pair = linked(soprano, tenor)
    remote_bob = soprano.network.find_user("bob")
    assert remote_bob is not None and remote_bob.server.name == "tenor.webmaster.com"
    assert tenor.network.find_user("alice").server.name == "soprano.webmaster.com"
    sent(bob)
    feed(alice, "PRIVMSG bob :hello tenor")
    pair.pump()
    assert [(m.source, m.command, m.params) for m in sent(bob)] == [
        (alice.user.mask, "PRIVMSG", ("bob", "hello tenor"))
    ]


def test_a_user_arriving_later_is_announced_over_the_link() -> None:
    """After the burst, the link announcer carries a new user to the other side."""
    soprano, tenor = soprano_and_tenor()
    pair = linked(soprano, tenor)
    register(tenor, "latecomer")
    pair.pump()
    assert soprano.network.find_user("latecomer").server.name == "tenor.webmaster.com"


def test_operators_get_notices_for_established_and_end_of_burst() -> None:
    """Operators with +s see the link established (with its burst size) and the peer's end of burst."""
    soprano, tenor = soprano_and_tenor()
    oper = oper_on(soprano)
    register(tenor, "bob")
    linked(soprano, tenor)  # soprano's burst: the oper's UID and EOB
    texts = notices(oper)
    established = [t for t in texts if t.startswith("Link with tenor.webmaster.com")]
    assert established == [
        "Link with tenor.webmaster.com[127.0.0.2] established (leaf, definition tenor); sent a burst of 2 lines"
    ]
    eob = [t for t in texts if t.startswith("End of burst from tenor.webmaster.com (")]
    assert len(eob) == 1 and eob[0].endswith(" s)")


def test_wrong_serial_is_refused_with_error_and_notice() -> None:
    """tenor presents a serial soprano's definition does not have: ERROR to tenor, notices on both sides."""
    soprano, tenor = soprano_and_tenor(soprano_defs=(replace(TENOR_DEF, serial="101-0001-009"),))
    oper_s, oper_t = oper_on(soprano), oper_on(tenor)
    pair = linked(soprano, tenor)
    reason = "Serial 101-0001-001 of tenor.webmaster.com does not match definition tenor"
    assert [m.params for m in pair.lines("p>a") if m.command == "ERROR"] == [
        (f"Closing Link: 127.0.0.2 ({reason})",)
    ]
    assert notices(oper_s) == [f"Link with tenor.webmaster.com[127.0.0.2] refused: {reason}"]
    assert notices(oper_t) == [
        f"Link with soprano.webmaster.com[127.0.0.3] closed by the peer: Closing Link: 127.0.0.2 ({reason})"
    ]
    assert soprano.network.find_server("tenor.webmaster.com") is None
    assert tenor.network.find_server("soprano.webmaster.com") is None
    assert soprano.links == [] and tenor.links == []
    assert [link for link, _ in tenor.link_manager.lost] == [pair.active]
    assert pair.active.transport.disconnecting and pair.passive.transport.disconnecting


def test_wrong_password_is_refused() -> None:
    """A definition with a password refuses a peer that sends another one, naming the definition."""
    soprano, tenor = soprano_and_tenor(
        soprano_defs=(replace(TENOR_DEF, password="right-secret"),),
        tenor_defs=(replace(SOPRANO_DEF, password="wrong-secret"),),
    )
    oper = oper_on(soprano)
    linked(soprano, tenor)
    assert notices(oper) == [
        "Link with tenor.webmaster.com[127.0.0.2] refused: "
        "Invalid password from tenor.webmaster.com for definition tenor"
    ]


def test_leaf_to_leaf_is_refused() -> None:
    """Two leaves never link: the passive leaf refuses and says why."""
    clock = task.Clock()
    clock.advance(START)
    soprano, tenor = soprano_and_tenor(clock)
    alto = make_server("alto.webmaster.com", "103-0000-001", "leaf",
                       replace(TENOR_DEF, handle="tenor"), clock=clock)
    oper = oper_on(alto)
    pair = dial(tenor, replace(SOPRANO_DEF, name="alto.*"), alto)
    pair.pump()
    assert notices(oper) == [
        "Link with tenor.webmaster.com[127.0.0.2] refused: Leaf-to-leaf links are not allowed: "
        "tenor.webmaster.com and this server are both leaves"
    ]


def test_server_already_in_the_network_is_refused() -> None:
    """A second link from a server already linked is refused as 'already exists' (no loop)."""
    soprano, tenor = soprano_and_tenor()
    linked(soprano, tenor)
    oper = oper_on(soprano)
    again = dial(tenor, tenor.settings.servers["soprano"], soprano, active_ip="127.0.0.9")
    again.pump()
    assert "Link with tenor.webmaster.com[127.0.0.9] refused: Server tenor.webmaster.com already exists " \
           "in this network" in notices(oper)
    assert soprano.network.find_server("tenor.webmaster.com").route is soprano.links[0].route


def test_handshake_times_out_after_30_seconds() -> None:
    """A connection that never finishes the handshake is closed with the registration time-out."""
    soprano, _ = soprano_and_tenor()
    link = LinkConnection(soprano)
    link.makeConnection(transport("127.0.0.5", 40005))
    link.dataReceived(b"CAPAB :EOB\r\n")
    soprano.clock.advance(30)
    assert link.transport.value().endswith(
        b"ERROR :Closing Link: 127.0.0.5 (Link registration timed out after 30 seconds)\r\n")
    assert link.transport.disconnecting


def test_lost_connection_splits_with_near_far_quits() -> None:
    """The TCP link breaks: soprano's local user sees tenor's user quit with 'soprano... tenor...'."""
    soprano, tenor = soprano_and_tenor()
    alice = register(soprano, "alice")
    bob = register(tenor, "bob")
    oper = oper_on(soprano)
    pair = linked(soprano, tenor)
    join_channel(soprano, alice, "#opera")
    join_channel(soprano, soprano.network.find_user("bob"), "#opera")
    pair.close_tcp()
    quits = [m for m in sent(alice) if m.command == "QUIT"]
    assert [(m.source.split("!")[0], m.params) for m in quits] == [
        ("bob", ("soprano.webmaster.com tenor.webmaster.com",))
    ]
    assert soprano.network.find_server("tenor.webmaster.com") is None
    assert soprano.network.find_user("bob") is None and soprano.links == []
    assert tenor.network.find_user("alice") is None and tenor.links == []
    reason = "Read error: Connection reset by peer"
    assert f"Link with tenor.webmaster.com[127.0.0.2] lost: {reason}" in notices(oper)
    assert soprano.link_manager.lost == [(pair.passive, reason)]
    assert bob.user is not None  # tenor's own user stays


def test_drop_sends_squit_and_error_then_splits() -> None:
    """drop(reason): SQUIT and ERROR to the peer with the reason; both sides split; the manager hears."""
    soprano, tenor = soprano_and_tenor()
    oper_t = oper_on(tenor)
    pair = linked(soprano, tenor)
    pair.wire.clear()
    pair.passive.drop("Server definition tenor was disabled")
    pair.pump()
    to_tenor = pair.lines("p>a")
    sid = soprano.network.me.sid
    assert [(m.source, m.command, m.params) for m in to_tenor] == [
        (sid, "SQUIT", (sid, "Server definition tenor was disabled")),
        (None, "ERROR", ("Closing Link: 127.0.0.2 (Server definition tenor was disabled)",)),
    ]
    assert soprano.network.find_server("tenor.webmaster.com") is None
    assert tenor.network.find_server("soprano.webmaster.com") is None
    assert "Link with soprano.webmaster.com[127.0.0.3] lost: Server definition tenor was disabled" in notices(oper_t)
    assert soprano.link_manager.lost == [(pair.passive, "Server definition tenor was disabled")]


def test_silent_peer_is_pinged_then_dropped() -> None:
    """After the definition's ping seconds of silence tenor PINGs; no answer in as long drops the link."""
    soprano, tenor = soprano_and_tenor()
    pair = linked(soprano, tenor)
    pair.wire.clear()
    tenor.clock.advance(300)
    ping = tenor.network.me.sid
    assert pair.active.transport.value() == f"PING {ping}\r\n".encode()
    pair.active.transport.clear()  # the PING never reaches soprano
    tenor.clock.advance(300)
    assert pair.active.transport.value().endswith(b"(Ping timeout: 300 seconds)\r\n")
    assert tenor.network.find_server("soprano.webmaster.com") is None


def test_answered_ping_keeps_the_link() -> None:
    """A PING that is answered keeps the link up past the timeout."""
    soprano, tenor = soprano_and_tenor()
    pair = linked(soprano, tenor)
    for _ in range(4):
        tenor.clock.advance(300)
        pair.pump()
    assert pair.active.registered and not pair.active.closing
    assert tenor.network.find_server("soprano.webmaster.com") is not None


def test_short_server_message_is_a_protocol_error() -> None:
    """A message with too few parameters closes the link with ERROR naming it, and a notice."""
    soprano, tenor = soprano_and_tenor()
    oper = oper_on(soprano)
    pair = linked(soprano, tenor)
    notices(oper)
    tenor_sid = tenor.network.me.sid
    pair.active.send(parse(f":{tenor_sid} SQUIT onlyone"))
    pair.pump()
    reason = f"SQUIT from {tenor_sid}: 2 parameters needed, 1 given"
    assert [m.params[0] for m in pair.lines("p>a") if m.command == "ERROR"] == [f"Closing Link: 127.0.0.2 ({reason})"]
    assert notices(oper)[0] == f"Link with tenor.webmaster.com[127.0.0.2] lost: protocol error: {reason}"
    assert soprano.network.find_server("tenor.webmaster.com") is None


def test_overlong_line_is_a_protocol_error() -> None:
    """A server line longer than 510 bytes closes the link with a sentence, never a traceback."""
    soprano, tenor = soprano_and_tenor()
    pair = linked(soprano, tenor)
    pair.passive.dataReceived(b":" + tenor.network.me.sid.encode() + b" PRIVMSG #x :" + b"a" * 600 + b"\r\n")
    assert pair.passive.transport.value().endswith(b"(Line too long (617 bytes, at most 510))\r\n")


def test_a_big_burst_is_read_in_turns_without_dropping_lines() -> None:
    """More lines than one turn's share: reading pauses, the rest follows on the next turn, none is lost."""
    soprano, tenor = soprano_and_tenor()
    pair = linked(soprano, tenor)
    sid = tenor.network.me.sid
    data = b"".join(
        f":{sid} UID u{i} 1 {int(START)} + u h h 0 {sid}{i:06d} * :user {i}\r\n".encode()
        for i in range(LINES_PER_TURN + 500)
    )
    pair.passive.dataReceived(data)
    assert len(soprano.network.find_server("tenor.webmaster.com").users) == LINES_PER_TURN
    assert pair.passive.transport.producerState == "paused"
    soprano.clock.advance(0)
    assert len(soprano.network.find_server("tenor.webmaster.com").users) == LINES_PER_TURN + 500
    assert pair.passive.transport.producerState == "producing"


def test_client_port_connection_that_sends_server_lines_becomes_a_link() -> None:
    """PASS, CAPAB and SERVER on a client port: the connection is handed to a LinkConnection and links."""
    soprano, tenor = soprano_and_tenor(
        soprano_defs=(replace(TENOR_DEF, password="s3cret"),),
        tenor_defs=(replace(SOPRANO_DEF, password="s3cret"),),
    )
    client_side = connect(soprano, "127.0.0.2")
    active = LinkConnection(tenor, tenor.settings.servers["soprano"])
    active.makeConnection(transport("127.0.0.3", 7000))
    opening = active.transport.value()
    active.transport.clear()
    assert opening.startswith(b"PASS s3cret\r\nCAPAB ")
    client_side.dataReceived(opening)
    link = client_side.link
    assert isinstance(link, LinkConnection) and link.transport is client_side.transport
    assert client_side not in soprano.connections
    pair = Pair(active, link)
    pair.pump()
    assert active.registered and link.registered
    assert soprano.network.find_server("tenor.webmaster.com").route is link.route


def test_client_with_pass_then_nick_stays_a_client() -> None:
    """A client's PASS followed by NICK/USER registers as a client, not a link."""
    soprano, _ = soprano_and_tenor()
    conn = connect(soprano)
    feed(conn, "PASS whatever", "NICK carol", "USER carol 0 * :Carol")
    assert conn.user is not None and getattr(conn, "link", None) is None


def test_registered_client_sending_server_is_not_a_link() -> None:
    """SERVER from a registered client is an unknown command (421), never a link."""
    soprano, _ = soprano_and_tenor()
    conn = register(soprano, "dave")
    feed(conn, "SERVER fake.example.com 1 9XX + :fake")
    assert getattr(conn, "link", None) is None
    assert [m.command for m in sent(conn)] == ["421"]


def test_inbound_link_from_a_second_server_to_a_linked_leaf_is_refused() -> None:
    """tenor, a leaf linked to soprano, refuses another hub dialling it: a leaf holds one link."""
    clock = task.Clock()
    clock.advance(START)
    soprano, tenor = soprano_and_tenor(
        clock, tenor_defs=(SOPRANO_DEF, ServerDef("bass", name="bass.*", serial="104-0000-001", enabled=True)))
    linked(soprano, tenor)
    bass = make_server("bass.webmaster.com", "104-0000-001", "hub",
                       ServerDef("tenor", name="tenor.*", serial="101-0001-001", host="127.0.0.1", port=1,
                                 enabled=True), clock=clock)
    oper = oper_on(tenor)
    pair = dial(bass, bass.settings.servers["tenor"], tenor, active_ip="127.0.0.7")
    pair.pump()
    assert notices(oper) == [
        "Link with bass.webmaster.com[127.0.0.7] refused: This server is a leaf and already linked to "
        "soprano.webmaster.com; a leaf holds one link"
    ]


def crossed_hubs(first_decides: str) -> tuple[object, object, Pair, Pair]:
    """Two hubs dial each other at the same moment; *first_decides* says which side's SERVER is read first."""
    clock = task.Clock()
    clock.advance(START)
    alpha_def = ServerDef("alpha", name="alpha.example.com", serial="201-0000-001", host="127.0.0.1", port=1,
                          auto=True, enabled=True)
    beta_def = ServerDef("beta", name="beta.example.com", serial="202-0000-001", host="127.0.0.1", port=2,
                         auto=True, enabled=True)
    alpha = make_server("alpha.example.com", "201-0000-001", "hub", beta_def, clock=clock)
    beta = make_server("beta.example.com", "202-0000-001", "hub", alpha_def, clock=clock)
    a_to_b = dial(alpha, beta_def, beta, active_ip="127.0.0.11", passive_ip="127.0.0.12")
    b_to_a = dial(beta, alpha_def, alpha, active_ip="127.0.0.12", passive_ip="127.0.0.11")
    first, second = (a_to_b, b_to_a) if first_decides == "alpha dialled" else (b_to_a, a_to_b)
    first.pump()
    second.pump()
    first.pump()
    return alpha, beta, a_to_b, b_to_a


def test_crossed_links_keep_the_connection_of_the_first_name_on_both_sides() -> None:
    """Both hubs dial each other: whichever handshake runs first, both keep alpha's connection only."""
    for order in ("alpha dialled", "beta dialled"):
        alpha, beta, a_to_b, b_to_a = crossed_hubs(order)
        assert a_to_b.active.registered and a_to_b.passive.registered, order
        assert b_to_a.active.closing and b_to_a.passive.closing, order
        assert alpha.links == [a_to_b.active] and beta.links == [a_to_b.passive], order
        assert alpha.network.find_server("beta.example.com").route is a_to_b.active.route
        assert beta.network.find_server("alpha.example.com").route is a_to_b.passive.route


def test_sendq_past_its_bound_closes_the_link() -> None:
    """A peer that stops reading: once more than the bound is queued the link closes with 'SendQ exceeded'."""
    soprano, tenor = soprano_and_tenor()
    oper = oper_on(soprano)
    pair = linked(soprano, tenor)
    notices(oper)
    link = pair.passive
    link.transport.dataBuffer = b"x" * (link._sendq_limit + 1)  # what the kernel would not take
    for _ in range(64):
        link.send(parse(":7SA PING :x"))
    assert not link.closing
    soprano.clock.advance(0)
    assert link.closing and link.transport.value().endswith(b"(SendQ exceeded)\r\n")
    assert notices(oper) == ["Link with tenor.webmaster.com[127.0.0.2] lost: SendQ exceeded"]
    assert soprano.network.find_server("tenor.webmaster.com") is None


def test_burst_raises_the_sendq_bound_by_its_size() -> None:
    """A big burst never trips the SendQ by itself: the bound grows by the burst's bytes."""
    soprano, tenor = soprano_and_tenor()
    for i in range(50):
        register(soprano, f"user{i}", ip=f"10.0.{i}.1")
    pair = dial(tenor, tenor.settings.servers["soprano"], soprano)
    pair.pump(rounds=1)  # tenor's PASS/CAPAB/SERVER reach soprano, which writes its burst
    burst = [line for tag, line in pair.wire if tag == "p>a" and (" UID " in line or line.endswith(" EOB"))]
    assert pair.passive.burst_lines == len(burst) == 51
    link = pair.passive
    link.transport.dataBuffer = b"x" * (LINK_SENDQ + sum(len(line) + 2 for line in burst))  # none of it left yet
    pair.pump()  # tenor's burst arrives meanwhile
    assert link.registered
    for _ in range(64):
        link.send(parse(":7SA PING :x"))
    soprano.clock.advance(0)
    assert not link.closing


def test_sendq_bound_returns_to_normal_once_the_burst_has_left() -> None:
    """After the burst has been sent, the link's SendQ bound is the normal one again: a peer that then
    stops reading is closed at 'SendQ exceeded' without the burst's allowance."""
    soprano, tenor = soprano_and_tenor()
    oper = oper_on(soprano)
    for i in range(50):
        register(soprano, f"user{i}", ip=f"10.0.{i}.1")
    pair = linked(soprano, tenor)
    link = pair.passive
    link.transport.dataBuffer = b""  # the burst has left
    link.dataReceived(f":{tenor.network.me.sid} PING :{tenor.network.me.sid}\r\n".encode())
    notices(oper)
    link.transport.dataBuffer = b"x" * (LINK_SENDQ + 1)
    for _ in range(64):
        link.send(parse(":7SA PING :x"))
    soprano.clock.advance(0)
    assert link.closing and link.transport.value().endswith(b"(SendQ exceeded)\r\n")
    assert notices(oper) == ["Link with tenor.webmaster.com[127.0.0.2] lost: SendQ exceeded"]


def test_a_failing_burst_closes_the_link_with_a_sentence() -> None:
    """A bug while writing our burst: the peer gets an ERROR naming the step, the server stays up."""
    soprano, tenor = soprano_and_tenor()

    def broken_burst(network, link):
        raise RuntimeError("boom")

    soprano.link_side = replace(soprano.link_side, burst=broken_burst)
    pair = linked(soprano, tenor)
    assert [m.params[0] for m in pair.lines("p>a") if m.command == "ERROR"] == [
        "Closing Link: 127.0.0.2 (Internal error handling SERVER during the handshake)"]
    assert soprano.network.find_server("tenor.webmaster.com") is None and soprano.links == []


def _gc_during_uid(core) -> list[bool]:
    """Record, for every UID line ``core`` handles, whether the garbage collector was enabled."""
    import gc

    seen: list[bool] = []
    spec = core.server_commands.specs["UID"]
    handler = spec.handler

    def recording(link, source, msg):
        seen.append(gc.isenabled())
        return handler(link, source, msg)

    core.server_commands.specs["UID"] = replace(spec, handler=recording)
    return seen


def test_peer_burst_is_read_without_garbage_collection() -> None:
    """From the link's acceptance to the peer's EOB the collector waits; then it runs again, nothing frozen."""
    import gc

    from conferenceroom.link import quiet

    soprano, tenor = soprano_and_tenor()
    for i in range(30):
        register(tenor, f"user{i}", ip=f"10.0.{i}.1")
    seen = _gc_during_uid(soprano)
    frozen_before = gc.get_freeze_count()
    try:
        pair = linked(soprano, tenor)
        assert len(seen) == 30 and not any(seen)
        assert gc.isenabled() and quiet.PAUSE.holders == 0
        assert gc.get_freeze_count() == frozen_before  # nothing kept from the collector
        register(tenor, "latecomer")
        pair.pump()
        assert seen[-1] is True and soprano.network.find_user("latecomer") is not None
    finally:
        gc.enable()


def _without_eob(core) -> None:
    """``core`` never sees its peer's EOB (a peer that never ends its burst)."""
    spec = core.server_commands.specs["EOB"]
    core.server_commands.specs["EOB"] = replace(spec, handler=lambda link, source, msg: None)


def test_collector_back_after_a_minute_or_when_the_link_goes() -> None:
    """A peer without EOB holds the collector a minute at most; a link lost in its burst lets go at once."""
    import gc

    from conferenceroom.link import quiet

    soprano, tenor = soprano_and_tenor()
    _without_eob(soprano)
    try:
        pair = linked(soprano, tenor)
        assert not gc.isenabled() and quiet.PAUSE.holders == 1
        soprano.clock.advance(59)
        assert not gc.isenabled()
        soprano.clock.advance(2)
        assert gc.isenabled() and quiet.PAUSE.holders == 0
        soprano2, tenor2 = soprano_and_tenor()
        _without_eob(soprano2)
        pair = linked(soprano2, tenor2)
        assert not gc.isenabled()
        pair.close_tcp()
        assert gc.isenabled() and quiet.PAUSE.holders == 0
        assert not soprano2.clock.getDelayedCalls() or all(
            call.func.__name__ != "_resume_collector" for call in soprano2.clock.getDelayedCalls())
    finally:
        gc.enable()


def test_collector_pause_counts_holders_and_keeps_an_off_collector_off() -> None:
    """Two bursts at once: the collector runs again after the second ends; one that was off stays off."""
    from conferenceroom.link.quiet import CollectorPause

    class FakeCollector:
        def __init__(self, enabled: bool) -> None:
            self.enabled = enabled

        def isenabled(self) -> bool:
            return self.enabled

        def disable(self) -> None:
            self.enabled = False

        def enable(self) -> None:
            self.enabled = True

    collector = FakeCollector(True)
    pause = CollectorPause(collector)
    a, b = object(), object()
    pause.hold(a)
    pause.hold(b)
    pause.hold(a)
    assert not collector.enabled and pause.holders == 2
    pause.release(a)
    pause.release(a)
    assert not collector.enabled
    pause.release(b)
    assert collector.enabled and pause.holders == 0
    off = FakeCollector(False)
    pause = CollectorPause(off)
    pause.hold(a)
    pause.release(a)
    assert not off.enabled


def test_unreadable_line_before_server_is_a_refusal_not_a_lost_link() -> None:
    """An overlong line from a connection that has not introduced itself: its operators read a refusal
    (``Link with *[ip] refused: Line too long ...``), not a link 'lost' that never existed."""
    soprano, _ = soprano_and_tenor()
    oper = oper_on(soprano)
    passive = LinkConnection(soprano)
    passive.makeConnection(transport("127.0.0.2", 40001))
    passive.dataReceived(b"CAPAB :" + b"X" * 600 + b"\r\n")
    assert passive.closing
    assert notices(oper) == ["Link with *[127.0.0.2] refused: Line too long (607 bytes, at most 510)"]
    assert passive.transport.value().endswith(b"(Line too long (607 bytes, at most 510))\r\n")
