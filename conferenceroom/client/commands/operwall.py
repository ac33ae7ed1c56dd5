# -*- test-case-name: tests.unit.test_client_operwall -*-
"""Everyday operator commands: GLOBOPS, OPERWALL, LOCOPS, TRACE, CHGHOST.

The wall commands reach operators through :meth:`Router.to_opers`, filtered
by user mode: OPERWALL and LOCOPS go to operators with +w (as a WALLOPS
line, the form clients show), GLOBOPS to operators with +s (as a server
notice).  Only this server's operators are reached until server links
relay them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from twisted.logger import Logger

from ...dispatch import command
from ...network import User
from ...wire import Message
from .info import find_target_server, forward

if TYPE_CHECKING:
    from ..protocol import ClientConnection

log = Logger()

# A host name (letters, digits, dots, dashes, colons for IPv6), at most 63 characters.
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.:-]{0,61}[A-Za-z0-9])?")


# -- walls -----------------------------------------------------------------------


def _wall(conn: "ClientConnection", label: str, text: str, user_mode: str) -> None:
    user = conn.user
    assert user is not None
    core = conn.core
    log.info("{label} from {nick}: {text}", label=label, nick=user.nick, text=text)
    if label == "GLOBOPS":
        line = f"*** Global -- from {user.nick}: {text}"
        core.router.to_opers(lambda u: Message("NOTICE", (u.nick, line), core.name), user_mode=user_mode)
        core.router.to_servers(user, label, (text,))
    else:
        message = Message("WALLOPS", (f"{label} - {text}",), user.mask)
        core.router.to_opers(lambda u: message, user_mode=user_mode)


@command("OPERWALL", min_params=1, oper="", syntax="OPERWALL :<text>")
def handle_operwall(conn: "ClientConnection", msg: Message) -> None:
    """OPERWALL :<text>: a message to every operator with user mode +w."""
    _wall(conn, "OPERWALL", msg.params[0], "w")


@command("LOCOPS", min_params=1, oper="", syntax="LOCOPS :<text>")
def handle_locops(conn: "ClientConnection", msg: Message) -> None:
    """LOCOPS :<text>: a message to this server's operators with user mode +w."""
    _wall(conn, "LOCOPS", msg.params[0], "w")


@command("GLOBOPS", min_params=1, oper="", syntax="GLOBOPS :<text>")
def handle_globops(conn: "ClientConnection", msg: Message) -> None:
    """GLOBOPS :<text>: a server notice to every operator with user mode +s."""
    _wall(conn, "GLOBOPS", msg.params[0], "s")


# -- TRACE -------------------------------------------------------------------------


def _trace_user(conn: "ClientConnection", other: User, now: float) -> None:
    who = f"{other.nick}[{other.ident}@{other.realhost}]"
    idle = int(now - other.last_active)
    since = int(now - other.signon)
    if other.is_oper:
        conn.reply("RPL_TRACEOPERATOR", "opers", who, other.ip, since, idle)
    else:
        conn.reply("RPL_TRACEUSER", "users", who, other.ip, since, idle)


@command("TRACE", penalty=2, syntax="TRACE [<nick>|<server>]")
def handle_trace(conn: "ClientConnection", msg: Message) -> None:
    """TRACE [<nick>|<server>]: this server's connections (205 users, 204
    operators, 206 linked servers; a non-operator sees operators and itself),
    or one user; then 262."""
    user = conn.user
    assert user is not None
    core = conn.core
    network = core.network
    now = core.clock.seconds()
    target = msg.params[0] if msg.params and msg.params[0] else core.name
    found = network.find_user(target)
    if found is not None and not found.is_local:
        # The user's own server answers (its route carries the request).
        core.router.deliver(user, found.server, "TRACE", (found.nick,))
        return
    if found is not None:
        _trace_user(conn, found, now)
        conn.reply("RPL_TRACEEND", core.name, core.version)
        return
    server = find_target_server(conn, target)
    if server is None:
        return
    if server is not network.me:
        forward(conn, server, msg, 0)
        return
    for other in sorted(network.local_users(), key=lambda u: u.nick.lower()):
        if user.is_oper or other.is_oper or other is user:
            _trace_user(conn, other, now)
    for peer in sorted(network.servers.values(), key=lambda s: s.name.lower()):
        if peer.uplink is network.me and peer is not network.me:
            below = [s for s in network.servers.values() if _behind(s, peer)]
            clients = sum(len(s.users) for s in below)
            conn.reply("RPL_TRACESERVER", "servers", len(below), clients, peer.name, f"*!*@{core.name}", 0)
    conn.reply("RPL_TRACEEND", core.name, core.version)


def _behind(server: object, peer: object) -> bool:
    """True if ``server`` is ``peer`` or reached through it."""
    while server is not None:
        if server is peer:
            return True
        server = getattr(server, "uplink", None)
    return False


# -- CHGHOST -------------------------------------------------------------------------


@command("CHGHOST", min_params=2, oper="acs", syntax="CHGHOST <nick> <host>")
def handle_chghost(conn: "ClientConnection", msg: Message) -> None:
    """CHGHOST <nick> <host>: change the host a user is shown with; peers
    with the chghost capability see CHGHOST, others a QUIT and JOIN."""
    user = conn.user
    assert user is not None
    core = conn.core
    nick, host = msg.params[0], msg.params[1]
    target = core.network.find_user(nick)
    if target is None:
        conn.reply("ERR_NOSUCHNICK", nick)
        return
    if not _HOST.fullmatch(host) or host.startswith(":"):
        conn.notice(f"*** CHGHOST: {host!r} is not a valid host name")
        return
    if host == target.host:
        conn.notice(f"*** CHGHOST: {target.nick} already has host {host}")
        return
    old = target.host
    core.network.set_host(target, target.ident, host)
    if target.is_local:
        target.route.reply("RPL_HOSTHIDDEN", host)
    log.info("CHGHOST {nick} {old} -> {new} by {oper}", nick=target.nick, old=old, new=host, oper=user.nick)
    core.notice_opers(f"{user.nick} changed the host of {target.nick} from {old} to {host}")
