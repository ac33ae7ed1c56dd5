"""Two in-memory servers joined by real LinkConnections over StringTransports.

The TS6 handlers, relay rendering and burst belong to other modules
(``link/commands.py``, ``outbound.py``, ``burst.py``); these tests stand in
for them with the smallest :class:`TS6Modules` that follows the contract:
the burst is one UID per user and ``EOB``; relays of PRIVMSG go out as
``:<UID> PRIVMSG <UID or channel> :text``; the handlers take UID, PRIVMSG,
EOB, PING, PONG and SQUIT.  The link protocol is what is under test.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import address, task
from twisted.internet.testing import StringTransport

from conferenceroom.admin.settings import FrozenMap, ServerDef, fold_name
from conferenceroom.core import ServerCore
from conferenceroom.dispatch import command
from conferenceroom.dispatch import ServerCommandTable
from conferenceroom.link.protocol import LinkConnection, TS6Output
from conferenceroom.link.wiring import TS6Modules, attach
from conferenceroom.network import Server, User
from conferenceroom.routing import Relay
from conferenceroom.wire import Message, parse
from tests.helpers import START, make_core, make_settings, register

SOPRANO_SERIAL = "102-0000-001"
TENOR_SERIAL = "101-0001-001"

#: soprano's definition of tenor and tenor's of soprano, as in the manual.
TENOR_DEF = ServerDef("tenor", name="tenor.*", serial=TENOR_SERIAL, enabled=True)
SOPRANO_DEF = ServerDef("soprano", name="soprano.webmaster.com", serial=SOPRANO_SERIAL, host="127.0.0.1",
                        port=7000, ping=300, auto=True, enabled=True)


# -- the stand-in TS6 modules ---------------------------------------------------------


def stub_burst(network: Any, link: Any) -> list[Message]:
    """One UID per user not behind *link*, then EOB."""
    me = network.me
    lines = []
    for user in network.users_by_uid.values():
        if user.route is link.route:
            continue
        lines.append(Message("UID", (user.nick, "1", str(int(user.nick_ts)), "+", user.ident, user.host,
                                     user.realhost, user.ip, user.uid, "*", user.realname), me.sid))
    lines.append(Message("EOB", (), me.sid))
    return lines


def stub_render(relay: Relay, link: Any) -> list[Message]:
    """PRIVMSG/NOTICE from a user to a user or channel as a TS6 line; nothing else."""
    msg = relay.message
    if msg.command not in ("PRIVMSG", "NOTICE") or not isinstance(relay.sender, User):
        return []
    target = relay.target.uid if isinstance(relay.target, User) else relay.target.name
    return [Message(msg.command, (target, msg.params[-1]), relay.sender.uid)]


class StubAnnouncer:
    """Sends a UID for each user introduced here to every link but its origin (split horizon)."""

    def __init__(self, network: Any, links: Any) -> None:
        self.network = network
        self.links = links

    def __call__(self, event: Any) -> None:
        from conferenceroom.events import UserIntroduced

        if isinstance(event, UserIntroduced):
            for link in self.links():
                if link.route is not event.origin:
                    for msg in stub_burst_user(self.network, event.user):
                        link.send(msg)


def stub_burst_user(network: Any, user: User) -> list[Message]:
    return [Message("UID", (user.nick, "1", str(int(user.nick_ts)), "+", user.ident, user.host,
                            user.realhost, user.ip, user.uid, "*", user.realname), user.server.sid)]


@command("UID", min_params=11, origin="server")
def s_uid(link: Any, source: Any, msg: Message) -> None:
    nick, _, ts, _, ident, host, _, ip, uid, _, realname = msg.params[:11]
    user = User(uid, nick, ident, host, realname, source, link.route, ip=ip, signon=float(ts))
    link.core.network.add_user(user, origin=link.route)


@command("PRIVMSG", min_params=2, origin="server")
def s_privmsg(link: Any, source: Any, msg: Message) -> None:
    network = link.core.network
    target = network.users_by_uid.get(msg.params[0]) or network.find_channel(msg.params[0])
    if target is not None:
        link.core.router.deliver(source, target, "PRIVMSG", (getattr(target, "nick", None) or target.name,
                                                            msg.params[1]), origin=link.route)


@command("EOB", origin="server")
def s_eob(link: Any, source: Any, msg: Message) -> None:
    if source is link.peer:
        link.end_of_burst()


@command("PING", min_params=1, origin="server")
def s_ping(link: Any, source: Any, msg: Message) -> None:
    me = link.core.network.me
    link.send(Message("PONG", (me.name, msg.params[0]), me.sid))


@command("PONG", origin="server")
def s_pong(link: Any, source: Any, msg: Message) -> None:
    """Any line already counts as an answer."""


@command("SQUIT", min_params=2, origin="server")
def s_squit(link: Any, source: Any, msg: Message) -> None:
    network = link.core.network
    target = network.servers_by_sid.get(msg.params[0]) or network.find_server(msg.params[0])
    if target is link.peer or target is network.me:
        link.drop(msg.params[1])
    elif target is not None:
        network.remove_server(target, msg.params[1], origin=link.route)


def stub_commands(core: ServerCore) -> None:
    """The server command table of this module's handlers."""
    table = ServerCommandTable.from_modules(sys.modules[__name__])
    table.network = core.network
    core.server_commands = table


STUB_TS6 = TS6Modules(TS6Output(stub_burst, stub_render), StubAnnouncer, stub_commands)


# -- servers and pumps ------------------------------------------------------------------


@dataclass
class RecordingManager:
    """The LinkManager's two report methods, recorded."""

    established: list[Any] = field(default_factory=list)
    lost: list[tuple[Any, str]] = field(default_factory=list)

    def link_established(self, link: Any) -> None:
        self.established.append(link)

    def link_lost(self, link: Any, reason: str) -> None:
        self.lost.append((link, reason))


def make_server(name: str, serial: str, role: str, *defs: ServerDef, clock: task.Clock | None = None,
                **settings: Any) -> ServerCore:
    """A core named *name* with *defs*, the stand-in TS6 modules and a recording manager."""
    servers = FrozenMap((fold_name(d.handle), d) for d in defs)
    core = make_core(make_settings(name=name, serial=serial, role=role, servers=servers,
                                   description=f"{name} test server", **settings), clock)
    attach(core, STUB_TS6)
    core.link_manager = RecordingManager()
    return core


def soprano_and_tenor(clock: task.Clock | None = None, *, soprano_defs: tuple[ServerDef, ...] = (TENOR_DEF,),
                      tenor_defs: tuple[ServerDef, ...] = (SOPRANO_DEF,), **tenor_settings: Any
                      ) -> tuple[ServerCore, ServerCore]:
    """The manual's pair on one clock: soprano the hub, tenor the leaf."""
    if clock is None:
        clock = task.Clock()
        clock.advance(START)
    soprano = make_server("soprano.webmaster.com", SOPRANO_SERIAL, "hub", *soprano_defs, clock=clock)
    tenor = make_server("tenor.webmaster.com", TENOR_SERIAL, "leaf", *tenor_defs, clock=clock, **tenor_settings)
    return soprano, tenor


@dataclass
class Pair:
    """The two ends of one link: ``active`` dialled ``passive``."""

    active: LinkConnection
    passive: LinkConnection
    wire: list[tuple[str, str]] = field(default_factory=list)  # (direction, line) in order
    gone: list[Any] = field(default_factory=list)  # sides whose connection was lost

    def pump(self, rounds: int = 50) -> None:
        """Carry bytes both ways until both sides are quiet; a side that closed closes the other."""
        from twisted.internet.error import ConnectionDone
        from twisted.python.failure import Failure

        for _ in range(rounds):
            moved = False
            for src, dst, tag in ((self.active, self.passive, "a>p"), (self.passive, self.active, "p>a")):
                data = src.transport.value()
                if data:
                    src.transport.clear()
                    self.wire.extend((tag, line.decode()) for line in data.split(b"\r\n") if line)
                    if not dst.transport.disconnecting:
                        dst.dataReceived(data)
                    moved = True
            for side, other in ((self.active, self.passive), (self.passive, self.active)):
                if side.transport.disconnecting and side not in self.gone:
                    moved = True
                    for end in (side, other):
                        if end not in self.gone:
                            self.gone.append(end)
                            end.connectionLost(Failure(ConnectionDone()))
            if not moved:
                return

    def lines(self, direction: str) -> list[Message]:
        """Parsed lines carried in *direction* (``a>p`` or ``p>a``)."""
        return [parse(line) for tag, line in self.wire if tag == direction]

    def close_tcp(self) -> None:
        """The TCP connection breaks under both sides (no ERROR)."""
        from twisted.internet.error import ConnectionLost
        from twisted.python.failure import Failure

        for side in (self.active, self.passive):
            if side not in self.gone:
                self.gone.append(side)
                side.connectionLost(Failure(ConnectionLost("Connection reset by peer")))


def transport(ip: str, port: int) -> StringTransport:
    return StringTransport(peerAddress=address.IPv4Address("TCP", ip, port))


def dial(active_core: ServerCore, definition: ServerDef, passive_core: ServerCore,
         active_ip: str = "127.0.0.2", passive_ip: str = "127.0.0.3") -> Pair:
    """*active_core* connects out under *definition* to *passive_core*; nothing is pumped yet."""
    active = LinkConnection(active_core, definition)
    passive = LinkConnection(passive_core)
    passive.makeConnection(transport(active_ip, 40001))
    active.makeConnection(transport(passive_ip, 7000))
    return Pair(active, passive)


def linked(soprano: ServerCore, tenor: ServerCore) -> Pair:
    """tenor dials soprano, the handshake and both bursts run."""
    pair = dial(tenor, tenor.settings.servers["soprano"], soprano)
    pair.pump()
    return pair


def notices(conn: Any) -> list[str]:
    """Server notice texts written to a client since the last call (cleared)."""
    data = conn.transport.value()
    conn.transport.clear()
    out = []
    for raw in data.split(b"\r\n"):
        if raw:
            msg = parse(raw)
            if msg.command == "NOTICE" and msg.params[-1].startswith("*** Notice -- "):
                out.append(msg.params[-1][len("*** Notice -- "):])
    return out


def oper_on(core: ServerCore, nick: str = "oper") -> Any:
    """A local operator with +s (server notices), output cleared."""
    conn = register(core, nick)
    core.network.set_oper(conn.user, "admin", frozenset("a"), also="s")
    conn.transport.clear()
    return conn


def server_names(core: ServerCore) -> list[str]:
    return sorted(core.network.servers)


__all__ = ["Server"]
