"""Remote CONNECT: ``CONNECT <server> <port> <remote server>`` asks another server to dial.

Two in-memory servers with the real TS6 modules (soprano the hub, tenor the
leaf); soprano gets a real LinkManager on a memory reactor, so what it
dials is a recorded ``connectTCP``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from twisted.internet.testing import MemoryReactorClock

from conferenceroom.admin.settings import FrozenMap, ServerDef, fold_name
from conferenceroom.link.connector import string_endpoints
from conferenceroom.link.manager import LinkManager
from conferenceroom.wire import parse
from tests.helpers import feed, make_oper, make_remote_user, register, sent
from tests.unit.linkkit import real_pair
from tests.unit.linknet import Mesh, raw_link
from tests.unit.linknet import feed as feed_link
from tests.unit.linkpair import notices, oper_on

BASS = ServerDef("bass", name="bass.webmaster.com", serial="103-0000-001", host="10.0.0.9", port=7001,
                 enabled=True)


def with_manager(core: Any, *defs: ServerDef) -> MemoryReactorClock:
    """Give *core* a started LinkManager knowing *defs*; return the reactor it dials on."""
    reactor = MemoryReactorClock()
    servers = FrozenMap([*core.settings.servers.items(), *((fold_name(d.handle), d) for d in defs)])
    core.settings = replace(core.settings, servers=servers)
    core.link_manager = LinkManager(core.settings, lambda d: None, clock=reactor,
                                    endpoints=string_endpoints(reactor), notify=core.notice_opers)
    core.link_manager.startService()
    return reactor


def dials(reactor: MemoryReactorClock) -> list[tuple[str, int]]:
    return [(host, port) for host, port, *_ in reactor.tcpClients]


def texts(conn: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    """(source, command, params) of what *conn* received since the last call."""
    return [(m.source, m.command, m.params) for m in sent(conn)]


def test_remote_connect_makes_the_named_server_dial() -> None:
    """An oper on tenor types CONNECT bass.* 7002 soprano.webmaster.com: the line crosses the link as
    ``:<UID> CONNECT bass.* 7002 :<soprano SID>``, soprano dials bass on port 7002, the oper reads
    soprano's answer and soprano's operators are told who asked."""
    soprano, tenor, pair = real_pair()
    reactor = with_manager(soprano, BASS)
    watcher = oper_on(soprano, "watcher")
    op = register(tenor, "op")
    make_oper(op, "o")
    pair.pump()
    feed(op, "CONNECT bass.* 7002 soprano.webmaster.com")
    pair.pump()
    [line] = [m for m in pair.lines("a>p") if m.command == "CONNECT"]
    assert (line.source, line.params) == (op.user.uid, ("bass.*", "7002", soprano.network.me.sid))
    assert dials(reactor) == [("10.0.0.9", 7002)]
    assert ("soprano.webmaster.com", "NOTICE",
            ("op", "*** Connecting to bass (bass.webmaster.com) at 10.0.0.9:7002")) in texts(op)
    assert "Remote CONNECT bass.* 7002 from op (~op@tenor.webmaster.com)" in notices(watcher)


def test_remote_connect_refusal_reaches_the_asking_oper() -> None:
    """The remote server's refusal (no such definition) comes back to the oper as its NOTICE."""
    soprano, tenor, pair = real_pair()
    reactor = with_manager(soprano, BASS)
    op = register(tenor, "op")
    make_oper(op, "o")
    pair.pump()
    feed(op, "CONNECT nothing.* 7002 soprano.*")
    pair.pump()
    assert dials(reactor) == []
    assert texts(op) == [
        ("tenor.webmaster.com", "NOTICE", ("op", "*** Asked soprano.webmaster.com to connect to nothing.* on port 7002")),
        ("soprano.webmaster.com", "NOTICE", ("op", "*** CONNECT nothing.*: No server definition matches nothing.*")),
    ]


def test_remote_connect_without_a_port_uses_the_remote_definition() -> None:
    """CONNECT bass.* * soprano.* (or port 0) dials bass on the port of soprano's definition."""
    soprano, tenor, pair = real_pair()
    reactor = with_manager(soprano, BASS)
    op = register(tenor, "op")
    make_oper(op, "o")
    pair.pump()
    feed(op, "CONNECT bass.* * soprano.*")
    pair.pump()
    assert dials(reactor) == [("10.0.0.9", 7001)]
    [line] = [m for m in pair.lines("a>p") if m.command == "CONNECT"]
    assert line.params[1] == "0"


def test_remote_connect_to_an_unknown_server_is_402() -> None:
    """CONNECT bass.* 7002 nowhere.example: 402 on the asking server, nothing sent on the link."""
    soprano, tenor, pair = real_pair()
    op = register(tenor, "op")
    make_oper(op, "o")
    pair.pump()
    feed(op, "CONNECT bass.* 7002 nowhere.example")
    pair.pump()
    got = texts(op)
    assert [(c, p[1:]) for _, c, p in got] == [("402", ("nowhere.example", "No such server"))]
    assert [m for m in pair.lines("a>p") if m.command == "CONNECT"] == []


def test_connect_naming_this_server_as_remote_dials_here() -> None:
    """CONNECT bass.* 7002 tenor.webmaster.com typed on tenor is a local CONNECT."""
    soprano, tenor, pair = real_pair()
    reactor = with_manager(tenor, BASS)
    op = register(tenor, "op")
    make_oper(op, "o")
    feed(op, "CONNECT bass.* 7002 tenor.*")
    assert dials(reactor)[-1] == ("10.0.0.9", 7002)
    assert [m for m in pair.lines("a>p") if m.command == "CONNECT"] == []


def test_remote_connect_from_a_user_who_is_not_an_operator_is_refused() -> None:
    """A CONNECT arriving from a remote user without +o (a peer relaying it anyway) gets 481, nothing
    is dialled and the operators here are told."""
    soprano, tenor, pair = real_pair()
    reactor = with_manager(soprano, BASS)
    watcher = oper_on(soprano, "watcher")
    bob = register(tenor, "bob")
    pair.pump()
    pair.active.send(parse(f":{bob.user.uid} CONNECT bass.* 7002 :{soprano.network.me.sid}"))
    pair.pump()
    assert dials(reactor) == []
    got = texts(bob)
    assert [(s, c) for s, c, _ in got] == [("soprano.webmaster.com", "481")]
    assert ("Remote CONNECT bass.* 7002 from bob (~bob@tenor.webmaster.com) refused: not an IRC operator"
            in notices(watcher))


def test_remote_connect_from_a_server_is_ignored() -> None:
    """A CONNECT whose source is a server, not an operator, dials nothing."""
    soprano, tenor, pair = real_pair()
    reactor = with_manager(soprano, BASS)
    pair.active.send(parse(f":{tenor.network.me.sid} CONNECT bass.* 7002 :{soprano.network.me.sid}"))
    pair.pump()
    assert dials(reactor) == []
    assert soprano.network.find_server("tenor.webmaster.com") is not None


def test_remote_connect_on_a_server_without_links_says_so() -> None:
    """The asked server runs no link manager: the oper is told, not left waiting."""
    soprano, tenor, pair = real_pair()
    soprano.link_manager = None
    op = register(tenor, "op")
    make_oper(op, "o")
    pair.pump()
    feed(op, "CONNECT bass.* 7002 soprano.*")
    pair.pump()
    assert texts(op)[-1] == ("soprano.webmaster.com", "NOTICE",
                             ("op", "*** CONNECT bass.*: soprano.webmaster.com runs no server links"))


def test_remote_connect_is_passed_on_toward_a_farther_server() -> None:
    """beta receives a CONNECT naming gamma: it is passed on, unchanged, on the link toward gamma."""
    mesh = Mesh()
    alpha, beta, gamma = mesh.node("alpha.lab", "1AA"), mesh.node("beta.lab", "2BB"), mesh.node("gamma.lab", "3CC")
    mesh.link(alpha, beta)
    _, toward_alpha = beta.links[0].other, beta.links[0]
    mesh.link(beta, gamma)
    op = alpha.add_user("op")
    alpha.network.set_oper(op, "admin", frozenset("o"))
    mesh.pump()
    feed_link(beta, toward_alpha, f":{op.uid} CONNECT bass.* 7002 :3CC")
    to_gamma = beta.links[1]
    assert to_gamma.lines()[-1] == f":{op.uid} CONNECT bass.* 7002 3CC"


def test_remote_connect_with_an_unknown_remote_sid_answers_402() -> None:
    """A CONNECT naming a server that is not (or no longer) on the network: 402 back to the oper."""
    mesh = Mesh()
    beta = mesh.node("beta.lab", "2BB")
    link = raw_link(beta, "alpha.lab", "1AA")
    feed_link(beta, link, ":1AA UID op 1 1800000000 +o op h h 127.0.0.1 1AAAAAAAA * :Op")
    link.lines()
    feed_link(beta, link, ":1AAAAAAAA CONNECT bass.* 7002 :9ZZ")
    assert link.lines() == [":2BB 402 1AAAAAAAA 9ZZ :No such server"]


def test_local_connect_with_port_star_uses_the_definition_port() -> None:
    """CONNECT bass.* * (or 0) on the server itself dials the definition's own port."""
    soprano, _, _ = real_pair()
    reactor = with_manager(soprano, BASS)
    op = register(soprano, "op")
    make_oper(op, "o")
    feed(op, "CONNECT bass.* *")
    assert dials(reactor) == [("10.0.0.9", 7001)]
    assert ("soprano.webmaster.com", "NOTICE",
            ("op", "*** Connecting to bass (bass.webmaster.com) at 10.0.0.9:7001")) in texts(op)


def test_remote_connect_with_a_bad_port_is_refused_before_sending() -> None:
    """CONNECT bass.* seven soprano.*: a NOTICE saying what a port must be; nothing crosses the link."""
    soprano, tenor, pair = real_pair()
    op = register(tenor, "op")
    make_oper(op, "o")
    pair.pump()
    feed(op, "CONNECT bass.* seven soprano.*")
    pair.pump()
    assert texts(op) == [("tenor.webmaster.com", "NOTICE", (
        "op", "*** CONNECT bass.*: the port must be a number from 1 to 65535 (0 or * for the definition's "
              "port on soprano.webmaster.com)"))]
    assert [m for m in pair.lines("a>p") if m.command == "CONNECT"] == []


# -- a role switched live reaches the peers --------------------------------------------


def test_peer_announcing_hub_may_then_introduce_servers() -> None:
    """tenor linked as a leaf, then switched to hub (GENERAL SET HUB) and said so with
    ``ENCAP soprano CR-ROLE hub``: soprano's operators are told, and a server tenor then links is
    accepted instead of splitting tenor off as a leaf introducing a server."""
    soprano, tenor, pair = real_pair()
    watcher = oper_on(soprano, "watcher")
    tsid = tenor.network.me.sid
    pair.active.send(parse(f":{tsid} ENCAP soprano.webmaster.com CR-ROLE hub"))
    pair.pump()
    assert pair.passive.role == "hub"
    assert "tenor.webmaster.com is now a hub" in notices(watcher)
    pair.active.send(parse(f":{tsid} SID alto.webmaster.com 2 4AL + :alto"))
    pair.pump()
    assert not pair.passive.closing
    assert soprano.network.find_server("alto.webmaster.com") is not None


def test_role_announcement_from_a_server_further_away_changes_nothing() -> None:
    """Only the direct peer may announce its own role: a CR-ROLE from another source is ignored."""
    soprano, tenor, pair = real_pair()
    bob = register(tenor, "bob")
    pair.pump()
    pair.active.send(parse(f":{bob.user.uid} ENCAP soprano.webmaster.com CR-ROLE hub"))
    pair.active.send(parse(f":{tenor.network.me.sid} ENCAP soprano.webmaster.com CR-ROLE spoke"))
    pair.pump()
    assert pair.passive.role == "leaf" and not pair.passive.closing


def test_switching_role_live_announces_it_on_every_link() -> None:
    """GENERAL SET HUB on tenor (a live reconfigure) sends ``:<tenor SID> ENCAP soprano.webmaster.com
    CR-ROLE hub`` on its link, and soprano takes tenor as a hub from then on."""
    soprano, tenor, pair = real_pair()
    reactor = MemoryReactorClock()
    tenor.link_manager = LinkManager(tenor.settings, lambda d: None, clock=reactor,
                                     endpoints=string_endpoints(reactor), notify=tenor.notice_opers)
    tenor.link_manager.link_established(pair.active)
    tenor.link_manager.reconfigure(replace(tenor.settings, role="hub"))
    pair.pump()
    [line] = [m for m in pair.lines("a>p") if m.command == "ENCAP"]
    assert (line.source, line.params) == (tenor.network.me.sid, ("soprano.webmaster.com", "CR-ROLE", "hub"))
    assert pair.passive.role == "hub"
