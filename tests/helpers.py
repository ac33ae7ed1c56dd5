"""Shared fakes for unit tests: a core on task.Clock, connections on StringTransport."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from twisted.internet import address, task
from twisted.internet.testing import StringTransport

from conferenceroom.admin import AdminError
from conferenceroom.admin.settings import FloodSettings, Settings
from conferenceroom.client.protocol import ClientConnection
from conferenceroom.core import ServerCore
from conferenceroom.service import build_core
from conferenceroom.events import HERE
from conferenceroom.modes import ModeChange
from conferenceroom.network import Channel, Server, User
from conferenceroom.routing import Relay
from conferenceroom.wire import Message, parse

START = 1_700_000_000.0


def make_settings(**changes: Any) -> Settings:
    """Default settings named test.local, flood control off unless given."""
    changes.setdefault("name", "test.local")
    changes.setdefault("network", "TestNet")
    changes.setdefault("flood", FloodSettings(enabled=False))
    return replace(Settings(), **changes)


def make_core(
    settings: Settings | None = None, clock: task.Clock | None = None, default_modes: str = ""
) -> ServerCore:
    """A ServerCore on a task.Clock starting at a fixed time.

    New channels start with ``default_modes`` (none, unless a test asks for
    the server's real default ``nt``) so that mode tests start from nothing.
    """
    if clock is None:
        clock = task.Clock()
        clock.advance(START)
    core = build_core(settings or make_settings(), clock)
    core.motd_lines = ["Test MOTD line"]
    core.network.default_channel_modes = default_modes
    return core


def connect(core: ServerCore, ip: str = "127.0.0.1", port: int = 40000) -> ClientConnection:
    """A new client connection on a StringTransport."""
    conn = ClientConnection(core)
    transport = StringTransport(peerAddress=address.IPv4Address("TCP", ip, port))
    conn.makeConnection(transport)
    return conn


def feed(conn: ClientConnection, *lines: str) -> None:
    """Send ``lines`` from the client, each with CR LF."""
    for line in lines:
        conn.dataReceived(line.encode("utf-8") + b"\r\n")


def read_all(conn: ClientConnection) -> None:
    """Let a long reply being paced (``conn.stream``) finish, as a reading client would."""
    for _ in range(100_000):
        if not conn.stream.active or conn.stream.paused:
            return
        conn.core.clock.advance(0)


def sent(conn: ClientConnection) -> list[Message]:
    """Messages written to the client since the last call (and clear them)."""
    read_all(conn)
    data = conn.transport.value()
    conn.transport.clear()
    return [parse(line) for line in data.split(b"\r\n") if line]


def sent_lines(conn: ClientConnection) -> list[str]:
    """Raw lines written to the client since the last call (and clear them)."""
    read_all(conn)
    data = conn.transport.value()
    conn.transport.clear()
    return [line.decode("utf-8", "replace") for line in data.split(b"\r\n") if line]


def register(core: ServerCore, nick: str, ip: str = "127.0.0.1", caps: str = "") -> ClientConnection:
    """A registered client called ``nick`` (output of registration cleared)."""
    conn = connect(core, ip)
    if caps:
        feed(conn, "CAP LS 302", f"CAP REQ :{caps}")
    feed(conn, f"NICK {nick}", f"USER {nick} 0 * :Real {nick}")
    if caps:
        feed(conn, "CAP END")
    assert conn.user is not None, sent_lines(conn)
    conn.transport.clear()
    return conn


def joined(core: ServerCore, nick: str, *channels: str, caps: str = "", ip: str = "127.0.0.1") -> ClientConnection:
    """A registered client that joined ``channels`` (its output cleared)."""
    conn = register(core, nick, caps=caps, ip=ip)
    for name in channels:
        feed(conn, f"JOIN {name}")
    conn.transport.clear()
    return conn


def codes(messages: list[Message]) -> list[str]:
    """The commands of ``messages``."""
    return [m.command for m in messages]


def sent_codes(conn: ClientConnection) -> list[str]:
    """The commands of the messages written to the client since the last call (cleared)."""
    return codes(sent(conn))


def clear_all(core: ServerCore) -> None:
    """Forget what was written to every client so far."""
    for conn in core.connections:
        conn.transport.clear()


def join_channel(core: ServerCore, conn_or_user: Any, name: str, *status: str) -> Channel:
    """Join a client's (or a remote) user to ``name`` through the state model; clear every client's output."""
    user = getattr(conn_or_user, "user", conn_or_user)
    origin = HERE if core.router.is_local(user) else user.route
    channel = core.network.join(user, name, origin=origin, status=status or ()).channel
    clear_all(core)
    return channel


def make_oper(conn: ClientConnection, flags: str = "o", name: str = "admin") -> None:
    """Make ``conn``'s user the operator ``name`` with ``flags`` directly through the network; clear its output."""
    conn.core.network.set_oper(conn.user, name, frozenset(flags))
    conn.transport.clear()


def make_owner(core: ServerCore, conn: ClientConnection, name: str = "#c") -> None:
    """Give ``conn``'s user channel owner status (as services would) and clear output."""
    channel = core.network.find_channel(name)
    core.network.apply_channel_modes(core.network.me, channel, [ModeChange(True, "q", conn.user.nick, conn.user)])
    clear_all(core)


def admin_refusal(run: Any, *args: Any) -> str:
    """The text of the :class:`AdminError` that ``run(*args)`` must raise."""
    with pytest.raises(AdminError) as err:
        run(*args)
    return str(err.value)


def make_remote_server(
    core: ServerCore, name: str = "remote.test", sid: str = "9RM", uplink: Server | None = None
) -> Server:
    """A server linked behind a fake route that records relayed messages.

    With ``uplink`` (a remote server) the new server sits behind it, on its route.
    """
    route = uplink.route if uplink is not None else RecordingRoute()
    parent = uplink or core.network.me
    server = Server(name, sid, "Remote server", uplink=parent, route=route, hopcount=parent.hopcount + 1)
    core.network.add_server(server, origin=route)
    return server


def make_remote_user(core: ServerCore, server: Server, nick: str, ts: float | None = None) -> User:
    """A user on ``server``, reached through that server's route, signed on at ``ts`` (default: now).

    The nick must be free: a collision would be resolved by the TS rules, not overwritten.
    """
    network = core.network
    uid = server.sid + nick.upper()[:6].ljust(6, "A")
    serial = 0
    while uid in network.users_by_uid:  # nicks alike in their first six letters
        serial += 1
        uid = server.sid + _base36(serial).rjust(6, "0")
    user = User(uid, nick, "~" + nick, "remote.host",
                f"Remote {nick}", server, server.route, ip="0",
                signon=core.clock.seconds() if ts is None else ts)
    collision = network.add_user(user, origin=server.route)
    assert collision is None, f"make_remote_user: {nick} collided with {collision.existing}"
    return user


def _base36(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


class RecordingRoute:
    """A non-client route (a link) that records what it was asked to relay.

    ``relays`` holds each :class:`~conferenceroom.routing.Relay`;
    ``relayed`` the same as ``(client-form message, target, origin)``.
    """

    is_client = False

    def __init__(self) -> None:
        self.relays: list[Relay] = []
        self.relayed: list[tuple[Message, Any, Any]] = []

    def relay(self, relay: Relay) -> None:
        """Record the relay."""
        self.relays.append(relay)
        self.relayed.append((relay.message, relay.target, relay.origin))
