# -*- test-case-name: tests.unit.test_link_remote_connect -*-
"""What a remote operator or user asks of this server: remote CONNECT and STATS; a peer's role switch.

``:<UID> CONNECT <server mask> <port> :<SID or server name>`` (ircd-hybrid's
form): the server named last dials the definition the mask names, as if one
of its own operators had typed ``CONNECT <mask> <port>``.  A server that is
not the one named passes the line on toward it.  The asker must be an IRC
operator (user mode +o) here too; every answer is a NOTICE (or 402/481)
from this server to the asker's UID, and this server's operators are told
who asked.  Port ``0`` means the definition's own port.
"""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger

from ..dispatch import command
from ..network import User
from ..numerics import numeric
from ..statsreport import OPER_ONLY_STATS, stats_rows
from ..wire import Message

log = Logger()



@command("CONNECT", min_params=3, origin="server")
def handle_connect(side: Any, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> CONNECT <server mask> <port> :<server>``: dial here, or pass it on toward that server."""
    if not isinstance(source, User):
        log.warn("CONNECT from server {name} ignored: only an operator may ask", name=source.name)
        return
    mask, port, ref = msg.params[0], msg.params[1], msg.params[2]
    network = side.network
    me = network.me
    if not network.names_me(ref):
        target = network.server_named(ref)
        if target is None:
            link.send(numeric("ERR_NOSUCHSERVER", me.sid, source.uid, ref))
        elif target.route is not link.route:
            side.toward(target, msg)
        return

    def tell(text: str) -> None:
        link.send(Message("NOTICE", (source.uid, text), me.sid))

    asker = f"{source.nick} ({source.ident}@{source.server.name})"
    notice = side.core.notice_opers if side.core is not None else side.notice
    if not source.is_oper:
        link.send(numeric("ERR_NOPRIVILEGES", me.sid, source.uid))
        notice(f"Remote CONNECT {mask} {port} from {asker} refused: not an IRC operator")
        return
    manager = getattr(side.core, "link_manager", None)
    if manager is None:
        tell(f"*** CONNECT {mask}: {me.name} runs no server links")
        return
    notice(f"Remote CONNECT {mask} {port} from {asker}")
    log.info("remote CONNECT {mask} {port} from {asker}", mask=mask, port=port, asker=asker)
    try:
        text = manager.connect_now(mask, None if port in ("0", "*") else port)
    except Exception as exc:
        reason = getattr(exc, "reason", None)  # the manager's ConnectError: one sentence
        if reason is None:
            raise
        tell(f"*** CONNECT {mask}: {reason}")
        return
    tell(f"*** {text}")


# -- a direct peer's role, switched live -------------------------------------------------


def encap_role(side: Any, link: Any, source: Any, params: tuple[str, ...]) -> None:
    """``:<peer SID> ENCAP <our name> CR-ROLE hub|leaf``: our direct peer switched role live.

    Only the peer itself may say so; from then on it is taken as that role
    (a hub may introduce servers behind it; the link manager's rules use it).
    """
    role = params[0].lower() if params else ""
    if source is not link.peer or role not in ("hub", "leaf"):
        log.warn("CR-ROLE {params} from {source} on the link with {peer} ignored", params=" ".join(params),
                 source=getattr(source, "name", None) or getattr(source, "nick", "?"), peer=link.name)
        return
    if link.role == role:
        return
    link.role = role
    link.peer.role = role  # the link's own record of its peer (the SID rule reads it)
    notice = side.core.notice_opers if side.core is not None else side.notice
    notice(f"{link.peer.name} is now a {role}")
    manager = getattr(side.core, "link_manager", None)
    changed = getattr(manager, "link_role_changed", None)
    if changed is not None:
        changed(link)


# -- STATS asked of this server by a remote user ---------------------------------------


@command("STATS", min_params=2, origin="server")
def handle_stats(side: Any, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> STATS <letter> :<server>``: answered here with the same operator checks as for a local
    client (481 for an oper-only letter; STATS l lists our links and clients to an operator only)."""
    if not isinstance(source, User):
        return
    network = side.network
    ref = msg.params[1]
    if not network.names_me(ref):
        target = network.server_named(ref)
        if target is None:
            link.send(numeric("ERR_NOSUCHSERVER", network.me.sid, source.uid, ref))
        elif target.route is not link.route:
            side.toward(target, msg)
        return
    letter = (msg.params[0] or "*")[0]
    me = network.me.sid
    core = side.core
    if core is None:
        return
    core.notice_opers(f"STATS {letter} requested by {source.nick} ({source.ident}@{source.server.name})")
    if letter in OPER_ONLY_STATS and not source.is_oper:
        link.send(numeric("ERR_NOPRIVILEGES", me, source.uid))
    else:
        for name, args in stats_rows(core, letter, oper=source.is_oper):
            link.send(numeric(name, me, source.uid, *args))
    link.send(numeric("RPL_ENDOFSTATS", me, source.uid, letter))
