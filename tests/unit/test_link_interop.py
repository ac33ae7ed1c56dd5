"""Defects found by linking a real ircd-hybrid 8.2 to us (tests/network/test_hybrid_interop.py),
each reproduced here on two in-memory servers running the real TS6 modules."""

from __future__ import annotations

from typing import Any

from conferenceroom.link.burst import burst_messages
from conferenceroom.wire import format_message, parse
from conferenceroom.network import Server
from tests.helpers import START, RecordingRoute, feed as feed_client, make_core, make_oper, make_remote_user, register
from tests.unit.linkkit import real_pair
from tests.unit.linknet import Mesh, feed, raw_link
from tests.unit.linkpair import oper_on


def global_notices(conn: Any) -> list[str]:
    """``*** Global -- ...`` notice texts a client was sent since the last call (cleared)."""
    data = conn.transport.value()
    conn.transport.clear()
    texts = [parse(raw).params[-1] for raw in data.split(b"\r\n") if raw]
    return [t for t in texts if t.startswith("*** Global -- ")]


def test_globops_from_a_local_operator_reaches_operators_on_linked_servers() -> None:
    """GLOBOPS typed on tenor reaches soprano's +s operators as a Global notice (it went to
    tenor's own operators only, so hybrid's operators never saw our GLOBOPS)."""
    soprano, tenor, pair = real_pair()
    watcher = oper_on(soprano, "watcher")
    sender = register(tenor, "sender")
    make_oper(sender, "o", "Sender")
    feed_client(sender, "GLOBOPS :rebooting the hub at noon")
    pair.pump()
    assert global_notices(watcher) == ["*** Global -- from sender: rebooting the hub at noon"]
    [line] = [m for m in pair.lines("a>p") if m.command == "GLOBOPS"]
    assert (line.source, line.params) == (sender.user.uid, ("rebooting the hub at noon",))


def test_burst_sjoin_and_bmask_lines_fit_512_bytes_with_their_line_ending() -> None:
    """Every SJOIN and BMASK line of a burst fits 512 bytes with CR LF, whatever the member or
    mask count (the trailing ':' was not counted: a line of 511 + CR LF lost its last member on
    the far side, found by the link-burst benchmark as a member missing from #bench0002)."""
    mesh = Mesh()
    node = mesh.node("alpha.bench", "1AA")
    feeder = raw_link(node, "feeder.bench", "9FD", role="leaf")
    uids = [f"9FDAAA{n:03d}" for n in range(200)]
    feed(node, feeder, *(f":9FD UID u{n} 1 {START:.0f} + user h{n} h{n} 127.0.0.1 {uid} * :user {n}"
                         for n, uid in enumerate(uids)))
    for n in range(40, 120):
        for first in range(0, n, 40):
            feed(node, feeder, f":9FD SJOIN {START:.0f} #c{n} +nt :{' '.join(uids[first:min(n, first + 40)])}")
        for first in range(0, n // 2, 20):
            masks = (f"*!*@h{m}.example" for m in range(first, min(n // 2, first + 20)))
            feed(node, feeder, f":9FD BMASK {START:.0f} #c{n} b :{' '.join(masks)}")
    far = mesh.node("beta.bench", "2BB", role="leaf")
    mesh.link(node, far)
    link = node.links[-1]
    burst = [format_message(m) for m in burst_messages(node.network, link)]
    too_long = [line for line in burst if len(line.encode()) + 2 > 512]
    assert too_long == []
    for n in range(40, 120):
        assert len(node.network.channels[f"#c{n}"].members) == n
        channel = far.network.channels[f"#c{n}"]
        assert len(channel.members) == n and len(channel.lists["b"]) == n // 2, n


class CountingRoute(RecordingRoute):
    """A link route that counts how often anything asks whether it is a client connection."""

    asked = 0

    @property  # type: ignore[override]
    def is_client(self) -> bool:
        CountingRoute.asked += 1
        return False


def test_a_netjoin_into_a_big_channel_costs_each_local_member_one_join_not_a_walk_of_the_channel() -> None:
    """An SJOIN of 3,000 remote members into a channel gives its local member 3,000 JOIN lines, and
    the work per joined member does not grow with the channel: the client side looked at every
    member for every JOIN (4.5 million checks here; the link-burst benchmark with 5 big channels
    spent 90% of the receiving server's CPU there, 30x hybrid)."""
    core = make_core()
    alice = register(core, "alice")
    feed_client(alice, "JOIN #big")
    route = CountingRoute()
    remote = Server("far.test", "9FA", "far", uplink=core.network.me, route=route, hopcount=1)
    core.network.add_server(remote, origin=route)
    users = [make_remote_user(core, remote, f"r{n}") for n in range(3000)]
    channel = core.network.channels["#big"]
    alice.transport.clear()
    CountingRoute.asked = 0
    core.network.netjoin(remote, "#big", channel.ts, [], [(u, "") for u in users], origin=route)
    joins = [parse(raw) for raw in alice.transport.value().split(b"\r\n") if raw]
    assert [m.source.split("!")[0] for m in joins if m.command == "JOIN"] == [u.nick for u in users]
    assert CountingRoute.asked < 10 * len(users)
