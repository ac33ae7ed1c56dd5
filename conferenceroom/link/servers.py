# -*- test-case-name: tests.unit.test_link_commands -*-
"""Server lines from a peer: SID, SQUIT, EOB, PING, PONG and ERROR; burst lines we ignore."""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger

from ..dispatch import command
from ..network import Server, User
from ..wire import Message
from .outbound import SERVICES_FLAG
from .policy import two_services
from .side import LinkSide, int_of, is_ours
from .ts6 import looks_like_services, valid_sid, valid_server_name

log = Logger()


@command("SID", min_params=5, origin="server")
def handle_sid(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<uplink> SID <name> <hops> <SID> +<flags> :<description>``: a server behind the link."""
    name, hops, sid = msg.params[0], msg.params[1], msg.params[2]
    description = msg.params[-1]
    network = side.network
    peer = link.peer
    if isinstance(source, User):
        link.protocol_error(f"SID {name} introduced by a user ({source.nick})")
        return
    if getattr(peer, "role", "hub") == "leaf":
        link.protocol_error(f"Leaf {peer.name} introduced a server ({name})")
        return
    if not valid_server_name(name):
        link.protocol_error(f"Invalid server name {name} in SID")
        return
    if not valid_sid(sid):
        link.protocol_error(f"Invalid server ID {sid} in SID for {name}")
        return
    if network.find_server(name) is not None:
        link.protocol_error(f"Server {name} already exists in this network")
        return
    if sid in network.servers_by_sid:
        link.protocol_error(f"Server ID {sid} is already in use in this network")
        return
    if looks_like_services(name):
        ours = next((s.name for s in network.servers.values()
                     if s is not network.me and looks_like_services(s.name)), None)
        if ours is not None:
            link.protocol_error(two_services(name, link.peer.name if link.peer is not None else name, ours))
            return
    server = Server(name, sid, description, uplink=source, route=link.route,
                    hopcount=int_of(hops) or source.hopcount + 1)
    server.services = len(msg.params) > 4 and SERVICES_FLAG in msg.params[3]
    network.add_server(server, origin=link.route)
    side.notice(f"Server {name} ({sid}) introduced by {source.name}")


@command("SQUIT", min_params=1, origin="server")
def handle_squit(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``[:<source>] SQUIT <SID or name> :<reason>``: a server leaves, or a request to drop one."""
    network = side.network
    ref = msg.params[0]
    reason = msg.params[1] if len(msg.params) > 1 else "No reason"
    if is_ours(side, ref):
        target = link.peer  # "this link": the peer drops us
    else:
        target = network.servers_by_sid.get(ref) or network.find_server(ref)
    if target is None or target is side.me:
        log.info("SQUIT for unknown server {ref} ignored", ref=ref)
        return
    if target is link.peer and getattr(link, "drop", None) is not None:
        link.drop(reason)  # the link closes; losing it splits the peer's side
        return
    if target.route is link.route:
        uplink = target.uplink.name if target.uplink is not None else "?"
        network.remove_server(target, reason, origin=link.route)
        side.notice(f"Server {target.name} split from {uplink} ({reason})")
        return
    by = getattr(source, "nick", None) or source.name
    squit_here = getattr(target.route, "squit", None)
    if squit_here is not None:  # our services pseudo-server: we drop it ourselves
        side.notice(f"Remote SQUIT {target.name} from {by} ({reason})")
        squit_here(reason, by)
        return
    # A remote SQUIT of a server on our side: pass it toward that server.
    src = source.uid if isinstance(source, User) else source.sid
    side.notice(f"Remote SQUIT {target.name} from {getattr(source, 'nick', None) or source.name} ({reason})")
    side.toward(target, Message("SQUIT", (target.sid, reason), src))


@command("EOB", origin="server")
def handle_eob(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<SID> EOB``: a server finished its burst (the peer's ends the link's burst)."""
    if source is link.peer:
        end = getattr(link, "end_of_burst", None)
        if end is not None:
            end()
    side.forward(link, msg)


@command("PING", min_params=1, origin="server")
def handle_ping(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``PING :<origin>`` or ``PING <origin> :<destination>``: answered here or passed on."""
    dest = msg.params[1] if len(msg.params) > 1 and msg.params[1] else None
    if dest is None or is_ours(side, dest):
        link.send(Message("PONG", (side.me.name, msg.params[0]), side.me.sid))
        return
    target = side.network.servers_by_sid.get(dest) or side.network.find_server(dest)
    if target is not None:
        side.toward(target, msg)


@command("PONG", min_params=1, origin="server")
def handle_pong(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<SID> PONG <name> :<destination>``: ours ends here (keepalive), others are passed on."""
    dest = msg.params[1] if len(msg.params) > 1 else None
    if dest is None or is_ours(side, dest):
        return
    target = side.network.servers_by_sid.get(dest) or side.network.find_server(dest)
    if target is not None:
        side.toward(target, msg)


@command("ERROR", registered=False, origin="server")
def handle_error(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``ERROR :<text>``: the peer is closing the link; logged and noticed."""
    text = msg.params[0] if msg.params else ""
    log.warn("ERROR from {peer}: {text}", peer=getattr(link, "name", "?"), text=text)
    side.notice(f"ERROR from {getattr(link, 'name', '?')}: {text}")


# Lines of a hybrid burst we have no use for.
@command("MLOCK", origin="server")
@command("METADATA", origin="server")
@command("SVSTAG", origin="server")
def handle_ignored(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """Accepted and ignored (services mode locks, certificate data)."""
