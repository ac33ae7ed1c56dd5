"""In-memory servers joined by fake links, for the TS6 handler, outbound, burst and consistency tests.

Each :class:`Node` is a :class:`~conferenceroom.network.Network` with its own
router, :class:`~conferenceroom.link.outbound.LinkAnnouncer` and server
command table (no ServerCore, no sockets).  A :class:`FakeLink` follows the
link contract (``route``, ``peer``, ``name``, ``registered``,
``capabilities``, ``send``, ``protocol_error``, ``end_of_burst``); what it
sends is written and parsed back as a real line, then queued for the other
side, and :meth:`Mesh.pump` delivers the queue in order.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from twisted.internet import task

from conferenceroom.casemap import fold
from conferenceroom.link.burst import burst_messages
from conferenceroom.link.commands import LinkSide, build_table
from conferenceroom.link.outbound import LinkAnnouncer, render_relay
from conferenceroom.network import Network, Server, User
from conferenceroom.routing import Relay, Router
from conferenceroom.wire import Message, encode_line, parse

CR_CAPS = frozenset({"EOB", "ENCAP", "TBURST", "CR-OWNER"})
HYBRID_CAPS = frozenset({"MLOCK", "KNOCK", "KLN", "TBURST", "RESYNC", "ENCAP", "EOB", "HOP"})
START = 1_800_000_000.0


class LocalClient:
    """The route of a local user: records what it was sent."""

    is_client = True
    caps: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.received: list[Message] = []

    def send(self, msg: Message) -> None:
        """Record ``msg``."""
        self.received.append(msg)


class LinkRoute:
    """The route of everything behind one fake link."""

    is_client = False

    def __init__(self, link: "FakeLink") -> None:
        self.link = link

    def relay(self, relay: Relay) -> None:
        """Render ``relay`` for the link and send it."""
        for msg in render_relay(relay, self.link):
            self.link.send(msg)


class FakeLink:
    """One side of a link between two nodes."""

    def __init__(self, mesh: "Mesh", node: "Node", capabilities: frozenset[str] = CR_CAPS) -> None:
        self.mesh = mesh
        self.node = node
        self.route = LinkRoute(self)
        self.peer: Server | None = None
        self.name = ""
        self.registered = True
        self.capabilities = capabilities
        self.other: FakeLink | None = None
        self.sent: list[Message] = []
        self.errors: list[str] = []
        self.eobs = 0
        self.open = True

    def send(self, msg: Message) -> None:
        """Write ``msg`` as a line, read it back and queue it for the other side."""
        line = parse(encode_line(msg).rstrip(b"\r\n"))
        self.sent.append(line)
        if self.open and self.other is not None:
            self.mesh.queue.append((self.other, line))

    def protocol_error(self, reason: str) -> None:
        """Record the error (the real link closes; tests look at the reason)."""
        self.errors.append(reason)

    def end_of_burst(self) -> None:
        """Count the peer's end of burst."""
        self.eobs += 1

    def lines(self) -> list[str]:
        """What was sent so far, as lines without CR LF (and forget it)."""
        out = [encode_line(m).decode().rstrip("\r\n") for m in self.sent]
        self.sent.clear()
        return out


class ServicesRoute:
    """The route of a services pseudo-server run in this process: it decides here, bots get nothing."""

    is_client = False
    decides_here = True

    def relay(self, relay: Relay) -> None:
        """Messages to bots are dropped in these tests."""


class Node:
    """One in-memory server: network, router, announcer, server command table."""

    def __init__(self, mesh: "Mesh", name: str, sid: str, role: str = "hub") -> None:
        self.mesh = mesh
        self.network = Network(Server(name, sid, f"{name} server", role=role), mesh.clock)
        self.network.default_channel_modes = "nt"
        self.router = Router(self.network)
        self.links: list[FakeLink] = []
        self.notices: list[str] = []
        self.side = LinkSide(self.network, self.router, links=lambda: list(self.links),
                             notice=self.notices.append)
        self.table = build_table(self.side)
        self.announcer = LinkAnnouncer(self.network, lambda: list(self.links))
        self.network.events.subscribe(self.announcer)
        self.wrong_direction: list[tuple[str, Message]] = []

    @property
    def name(self) -> str:
        """The server name."""
        return self.network.me.name

    def add_user(self, nick: str, ident: str | None = None, ip: str = "10.0.0.1") -> User:
        """A local user called ``nick`` (signed on now)."""
        network = self.network
        user = User(network.next_uid(), nick, ident or nick.lower(), f"{nick.lower()}.host",
                    f"Real {nick}", network.me, LocalClient(), ip=ip, signon=network.now())
        network.add_user(user)
        return user

    def add_services(self, name: str, sid: str) -> ServicesRoute:
        """Run services here: a pseudo-server ``name`` behind this server; its route logs users in."""
        route = ServicesRoute()
        self.network.add_server(Server(name, sid, "Services", uplink=self.network.me, route=route,
                                       hopcount=1), origin=route)
        self.services = route
        return route

    def user(self, nick: str) -> User:
        """The user called ``nick`` here (any server)."""
        found = self.network.find_user(nick)
        assert found is not None, f"{nick} unknown on {self.name}"
        return found

    def receive(self, link: FakeLink, msg: Message) -> None:
        """Dispatch one line from ``link``, noting a source that is not behind it (an echo)."""
        source = self.table.resolve_source(link, msg.source)
        if source is not None and msg.source and source.route is not link.route:
            self.wrong_direction.append((link.name, msg))
        self.table.dispatch(link, msg)


class Mesh:
    """Nodes, the links between them and the queue of lines in flight."""

    def __init__(self) -> None:
        self.clock = task.Clock()
        self.clock.advance(START)
        self.queue: deque[tuple[FakeLink, Message]] = deque()
        self.nodes: dict[str, Node] = {}
        self.delivered = 0

    def node(self, name: str, sid: str, role: str = "hub") -> Node:
        """A new node."""
        node = self.nodes[name] = Node(self, name, sid, role)
        return node

    def link(self, a: Node, b: Node, a_caps: frozenset[str] = CR_CAPS,
             b_caps: frozenset[str] = CR_CAPS, pump: bool = True) -> tuple[FakeLink, FakeLink]:
        """Link ``a`` and ``b`` as the handshake would (peer added on each side), then burst both ways.

        ``a_caps`` are the capabilities ``a`` sees on its peer ``b`` (what b announced), and so on.
        """
        la, lb = FakeLink(self, a, a_caps), FakeLink(self, b, b_caps)
        la.other, lb.other = lb, la
        for link, here, there in ((la, a, b), (lb, b, a)):
            link.name = there.name
            me = there.network.me
            link.peer = Server(me.name, me.sid, me.description, uplink=here.network.me,
                               route=link.route, hopcount=1, role=me.role)
            here.links.append(link)
            here.network.add_server(link.peer, origin=link.route)
        for link, here in ((la, a), (lb, b)):
            for msg in burst_messages(here.network, link):
                link.send(msg)
        if pump:
            self.pump()
        return la, lb

    def unlink(self, la: FakeLink, reason: str = "Remote host closed the connection") -> None:
        """Drop the link of which ``la`` is one side, on both sides (lines in flight are lost)."""
        lb = la.other
        assert lb is not None
        for link in (la, lb):
            link.open = False
            if link in link.node.links:
                link.node.links.remove(link)
        self.queue = deque(item for item in self.queue if item[0] not in (la, lb))
        for link in (la, lb):
            peer = link.peer
            network = link.node.network
            if peer is not None and network.servers_by_sid.get(peer.sid) is peer:
                network.remove_server(peer, reason, origin=link.route)

    def pump(self, limit: int = 100_000) -> int:
        """Deliver queued lines until none are left (at most ``limit``); return how many."""
        count = 0
        while self.queue:
            link, msg = self.queue.popleft()
            if not link.open:
                continue
            link.node.receive(link, msg)
            count += 1
            assert count < limit, "lines kept flowing: a loop between servers"
        self.delivered += count
        return count


def snapshot(network: Network) -> dict[str, Any]:
    """What every server of a network must agree on: users, channels, members with status, modes, topics."""
    users = {
        uid: (u.nick, u.ident, u.host, u.server.name, "".join(sorted(u.modes)), u.away, u.account)
        for uid, u in network.users_by_uid.items()
    }
    channels = {}
    for channel in network.channels.values():
        channels[fold(channel.name)] = (
            channel.ts, "".join(sorted(channel.flags)), channel.key, channel.limit,
            {mode: sorted(fold(e.mask) for e in entries) for mode, entries in channel.lists.items()},
            channel.topic,
            {u.uid: "".join(sorted(m.status)) for u, m in channel.members.items()},
        )
    servers = sorted(s.name for s in network.servers.values())
    return {"users": users, "channels": channels, "servers": servers}


def raw_link(node: Node, name: str = "beta.lab", sid: str = "2BB",
             capabilities: frozenset[str] = HYBRID_CAPS, role: str = "hub", description: str = "") -> FakeLink:
    """A registered link from ``node`` to a peer played by the test (what we send is only recorded)."""
    link = FakeLink(node.mesh, node, capabilities)
    link.name = name
    link.peer = Server(name, sid, description or f"{name} server", uplink=node.network.me, route=link.route,
                       hopcount=1, role=role)
    node.links.append(link)
    node.network.add_server(link.peer, origin=link.route)
    return link


def feed(node: Node, link: FakeLink, *lines: str) -> None:
    """Dispatch ``lines`` as if ``link``'s peer sent them."""
    for line in lines:
        node.receive(link, parse(line))
