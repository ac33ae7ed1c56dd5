"""Operator link commands on linked in-memory servers: CONNECT, SQUIT, LINKS, MAP, STATS l."""

from __future__ import annotations

from dataclasses import replace

from twisted.internet import task
from twisted.internet.testing import MemoryReactorClock

from conferenceroom.link.manager import LinkManager
from conferenceroom.network import Server
from conferenceroom.link.connector import string_endpoints
from tests.helpers import START, feed, make_oper, register, sent
from tests.unit.linkpair import SOPRANO_DEF, linked, make_server, soprano_and_tenor


def texts(conn) -> list[tuple[str, tuple[str, ...]]]:
    """(command, params) of what *conn* received since the last call."""
    return [(m.command, m.params) for m in sent(conn)]


def test_connect_and_squit_need_an_operator() -> None:
    """A user who is not an operator gets 481 for CONNECT and SQUIT."""
    soprano, tenor = soprano_and_tenor()
    user = register(tenor, "plain")
    feed(user, "CONNECT soprano.* 7000", "SQUIT soprano.webmaster.com")
    assert [m.command for m in sent(user)] == ["481", "481"]


def test_connect_dials_through_the_manager() -> None:
    """CONNECT soprano.* 7000 on tenor: the manager dials soprano's host on port 7000 and the oper is told."""
    reactor = MemoryReactorClock()
    reactor.advance(START)
    tenor = make_server("tenor.webmaster.com", "101-0001-001", "leaf",
                        replace(SOPRANO_DEF, auto=False), clock=reactor)
    tenor.link_manager = LinkManager(tenor.settings, lambda d: None, clock=reactor,
                                     endpoints=string_endpoints(reactor), notify=tenor.notice_opers)
    tenor.link_manager.startService()
    oper = register(tenor, "op")
    make_oper(oper, "o")
    feed(oper, "CONNECT soprano.* 7000")
    assert [(host, port) for host, port, *_ in reactor.tcpClients] == [("127.0.0.1", 7000)]
    assert ("NOTICE", ("op", "*** Connecting to soprano (soprano.webmaster.com) at 127.0.0.1:7000")) in texts(oper)


def test_connect_refusal_is_a_notice_with_the_reason() -> None:
    """CONNECT to a linked server: the manager's sentence comes back as a NOTICE, not a numeric."""
    reactor = MemoryReactorClock()
    tenor = make_server("tenor.webmaster.com", "101-0001-001", "leaf", SOPRANO_DEF, clock=reactor)
    tenor.link_manager = LinkManager(tenor.settings, lambda d: None, clock=reactor,
                                     endpoints=string_endpoints(reactor))
    oper = register(tenor, "op")
    make_oper(oper, "o")
    feed(oper, "CONNECT nothing.example 7000")
    assert texts(oper) == [("NOTICE", ("op", "*** CONNECT nothing.example: No server definition matches "
                                             "nothing.example"))]


def test_squit_of_a_direct_link_splits_it() -> None:
    """SQUIT tenor.* :maintenance on soprano drops the link; tenor's users quit '<near> <far>' on soprano."""
    soprano, tenor = soprano_and_tenor()
    register(tenor, "bob")
    pair = linked(soprano, tenor)
    oper = register(soprano, "op")
    make_oper(oper, "o")
    soprano.network.join(soprano.network.find_user("bob"), "#opera", origin=pair.passive.route)
    feed(oper, "JOIN #opera")
    sent(oper)
    feed(oper, "SQUIT tenor.* :maintenance")
    pair.pump()
    got = texts(oper)
    assert ("NOTICE", ("op", "*** SQUIT: dropping the link to tenor.webmaster.com (maintenance)")) in got
    assert ("QUIT", ("soprano.webmaster.com tenor.webmaster.com",)) in got
    assert soprano.network.find_server("tenor.webmaster.com") is None
    assert tenor.network.find_server("soprano.webmaster.com") is None
    sid = soprano.network.me.sid
    assert [(m.command, m.params) for m in pair.lines("p>a")][-2:] == [
        ("SQUIT", (sid, "maintenance")), ("ERROR", ("Closing Link: 127.0.0.2 (maintenance)",))]


def test_squit_of_a_remote_server_is_sent_toward_it() -> None:
    """SQUIT of a server behind a link sends :<oper UID> SQUIT <SID> :reason down that link."""
    clock = task.Clock()
    clock.advance(START)
    soprano, tenor = soprano_and_tenor(clock)
    pair = linked(soprano, tenor)
    far = Server("bass.webmaster.com", "4BS", "bass", uplink=tenor.network.find_server("soprano.webmaster.com"),
                 route=pair.active.route, hopcount=2)
    tenor.network.add_server(far, origin=pair.active.route)
    oper = register(tenor, "op")
    make_oper(oper, "o")
    pair.active.transport.clear()  # the op's UID went out to soprano
    feed(oper, "SQUIT bass.webmaster.com :too far")
    assert texts(oper)[-1] == ("NOTICE", ("op", "*** SQUIT: asked soprano.webmaster.com to drop "
                                                "bass.webmaster.com (too far)"))
    out = pair.active.transport.value().decode()
    assert out == f":{oper.user.uid} SQUIT 4BS :too far\r\n"


def test_squit_of_unknown_or_own_server() -> None:
    """An unknown mask gets 402; this server's own name gets a NOTICE, not a split."""
    soprano, _ = soprano_and_tenor()
    oper = register(soprano, "op")
    make_oper(oper, "o")
    feed(oper, "SQUIT nowhere.example", "SQUIT soprano.webmaster.com")
    got = texts(oper)
    assert got[0][0] == "402"
    assert got[1] == ("NOTICE", ("op", "*** SQUIT: soprano.webmaster.com is this server (DIE stops it)"))


def test_links_and_map_show_the_linked_server() -> None:
    """LINKS lists both servers; MAP shows the peer under us with its user count."""
    soprano, tenor = soprano_and_tenor()
    register(tenor, "bob")
    linked(soprano, tenor)
    user = register(soprano, "alice")
    feed(user, "LINKS")
    links = [(m.command, m.params[1:]) for m in sent(user)]
    assert links == [
        ("364", ("soprano.webmaster.com", "soprano.webmaster.com", "0 soprano.webmaster.com test server")),
        ("364", ("tenor.webmaster.com", "soprano.webmaster.com", "1 tenor.webmaster.com test server")),
        ("365", ("*", "End of /LINKS list")),
    ]
    feed(user, "MAP")
    rows = [m.params[-1] for m in sent(user) if m.command == "015"]
    assert rows[0].startswith("soprano.webmaster.com (") and rows[0].endswith(" 1 user [50.0%]")
    assert rows[1].startswith("`- tenor.webmaster.com (") and rows[1].endswith(" 1 user [50.0%]")


def test_stats_l_lists_server_links_for_operators() -> None:
    """STATS l by an operator has a 211 line for the server link with its counters."""
    soprano, tenor = soprano_and_tenor()
    pair = linked(soprano, tenor)
    oper = register(soprano, "op")
    make_oper(oper, "o")
    soprano.clock.advance(42)
    feed(oper, "STATS l")
    rows = [m.params[1:] for m in sent(oper) if m.command == "211"]
    link = pair.passive
    assert rows[0] == ("tenor.webmaster.com[127.0.0.2]", "0", str(link.lines_out), str(link.bytes_out // 1024),
                       str(link.lines_in), str(link.bytes_in // 1024), "42 42 -")
    assert rows[1][0].startswith("op[")


def test_stats_l_hides_server_links_from_users() -> None:
    """A user who is not an operator sees only its own connection in STATS l."""
    soprano, tenor = soprano_and_tenor()
    linked(soprano, tenor)
    user = register(soprano, "alice")
    feed(user, "STATS l")
    rows = [m.params[1] for m in sent(user) if m.command == "211"]
    assert rows == [rows[0]] and rows[0].startswith("alice[")



def test_stats_c_shows_the_role_a_linked_peer_runs_as() -> None:
    """STATS c on tenor: soprano's definition sets no role (leaf, the fallback for peers that announce
    none), but soprano announced itself a hub, so while linked its row says hub; unlinked, the fallback."""
    soprano, tenor = soprano_and_tenor()
    oper = register(tenor, "op")
    make_oper(oper, "o")
    pair = linked(soprano, tenor)
    sent(oper)
    feed(oper, "STATS c")
    rows = [m.params[1:] for m in sent(oper) if m.command == "213"]
    assert rows == [("C", "127.0.0.1", "*", "soprano.webmaster.com", "7000", "hub", "soprano AE")]
    pair.close_tcp()
    feed(oper, "STATS c")
    rows = [m.params[1:] for m in sent(oper) if m.command == "213"]
    assert rows == [("C", "127.0.0.1", "*", "soprano.webmaster.com", "7000", "leaf", "soprano AE")]
