"""SVSNICK over a link (hybrid's form) and a remote SQUIT of our services server."""

from __future__ import annotations

from tests.helpers import register
from tests.unit.linknet import Mesh, feed, raw_link
from tests.unit.svchelpers import services_core


def _hub_with_services_peer():
    mesh = Mesh()
    node = mesh.node("hub.lab", "1HB")
    link = raw_link(node, "services.lab", "0SV")
    return node, link


def test_svsnick_renames_a_local_user_and_tells_every_link():
    """:<services SID> SVSNICK <uid> <ts> <new> <ts> renames our user; the NICK goes back to every link."""
    node, link = _hub_with_services_peer()
    alice = node.add_user("alice")
    feed(node, link, f":0SV SVSNICK {alice.uid} {int(alice.nick_ts)} Guest123 {int(alice.nick_ts) + 5}")
    assert alice.nick == "Guest123"
    assert any(line.startswith(f":{alice.uid} NICK Guest123") for line in link.lines())


def test_svsnick_refused_when_stale_taken_or_not_from_services():
    """A stale old TS, a taken nick or a source that is no services server change nothing."""
    node, link = _hub_with_services_peer()
    alice = node.add_user("alice")
    node.add_user("bob")
    feed(node, link, f":0SV SVSNICK {alice.uid} 1 Guest1 2")
    feed(node, link, f":0SV SVSNICK {alice.uid} 0 bob 2")
    other = raw_link(node, "leaf.lab", "3LF")
    feed(node, other, f":3LF SVSNICK {alice.uid} 0 Guest2 2")
    assert alice.nick == "alice"


def test_remote_squit_of_our_services_drops_them(tmp_path):
    """A SQUIT of services.<domain> arriving from a link drops our services the same way as a local one."""
    core = services_core(tmp_path)
    from conferenceroom.link.commands import LinkSide, build_table
    from tests.helpers import make_remote_server

    remote = make_remote_server(core, "leaf.test.local", "7LF")
    oper = register(core, "oper")
    assert oper is not None
    side = LinkSide(core.network, core.router, links=lambda: [], notice=lambda text: None)
    table = build_table(side)

    class _Link:
        route = remote.route
        peer = remote
        name = "leaf.test.local"
        registered = True

        def protocol_error(self, reason):
            raise AssertionError(reason)

        def send(self, msg):
            pass

    from conferenceroom.wire import parse

    table.dispatch(_Link(), parse(f":{remote.sid} SQUIT {core.services.server.sid} :remote oper says so"))
    assert core.services is None and core.network.find_server("services.test.local") is None


def test_a_server_split_behind_a_link_is_noticed():
    """SQUIT of a server behind a link (services leaving the hub, say): operators here get a notice."""
    mesh = Mesh()
    node = mesh.node("leaf.lab", "1LF")
    link = raw_link(node, "hub.lab", "2HB")
    feed(node, link, ":2HB SID services.lab 2 0SV + :services")
    feed(node, link, ":2HB SQUIT 0SV :services disabled by an operator")
    assert node.network.find_server("services.lab") is None
    assert node.notices[-1] == "Server services.lab split from hub.lab (services disabled by an operator)"
