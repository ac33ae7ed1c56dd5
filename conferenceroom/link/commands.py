# -*- test-case-name: tests.unit.test_link_commands -*-
"""Server-origin commands after the handshake: the table of TS6 lines applied to the network.

Each handler is declared ``@command(VERB, origin="server")`` and called as
``handler(side, link, source, msg)``; :func:`build_table` binds the
:class:`~conferenceroom.link.side.LinkSide` (network, router, links, notices)
so the :class:`~conferenceroom.dispatch.ServerCommandTable` calls it with
``(link, source, msg)``.  The table has already resolved ``source`` and
checked that it is behind ``link``; a short message was a protocol error.
State changes go through :class:`~conferenceroom.network.Network` with
``origin=link.route``; the :class:`~conferenceroom.link.outbound.LinkAnnouncer`
passes them on to the other links.  Lines that are not state (ENCAP for
others, EOB, PING, numerics, queries for other servers) are forwarded by
their handlers.

The verbs live by family: :mod:`.servers` (SID, SQUIT, EOB, PING, PONG,
ERROR), :mod:`.users` (UID, NICK, KILL, SVS*, ...), :mod:`.channels` (SJOIN,
TMODE, BMASK, TOPIC, ...), :mod:`.messages` (PRIVMSG, NOTICE, WALLOPS, ...),
:mod:`.encap` (ENCAP), :mod:`.queries` (numerics, WHOIS, MOTD, ...) and
:mod:`.remoteops` (CONNECT, STATS).
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from ..dispatch import CommandSpec, ServerCommandTable
from . import channels, encap, messages, queries, remoteops, servers, users
from .channels import PEER_CHANNEL_MODES, PEER_STATUS, split_sjoin
from .encap import ENCAP_HANDLERS, STATE_ENCAPS
from .queries import handle_numeric
from .side import LinkSide
from .users import PEER_USER_MODES, USER_MODE_LETTERS, split_kill_text, split_uid

__all__ = [
    "ENCAP_HANDLERS", "PEER_CHANNEL_MODES", "PEER_STATUS", "PEER_USER_MODES", "SPLIT_HANDLERS",
    "STATE_ENCAPS", "USER_MODE_LETTERS", "LinkSide", "build_table", "split_kill_text",
]

#: The modules whose ``@command(origin="server")`` handlers make the table.
HANDLER_MODULES = (servers, users, channels, messages, encap, queries, remoteops)

#: Verbs whose lines are handled from their words (the bulk of a burst), beside their @command handler.
SPLIT_HANDLERS = {"UID": split_uid, "SJOIN": split_sjoin}


def build_table(side: LinkSide) -> ServerCommandTable:
    """The server command table of the handler modules, bound to ``side``."""
    base = ServerCommandTable.from_modules(*HANDLER_MODULES, origin="server")
    table = ServerCommandTable()
    table.network = side.network
    for spec in base.specs.values():
        table.add(replace(spec, handler=partial(spec.handler, side)))
    for number in range(1, 1000):  # every numeric: a reply on its way to a user
        code = f"{number:03d}"
        if code not in table.specs:
            table.add(CommandSpec(code, partial(handle_numeric, side), min_params=1, origin="server"))
    for verb, split in SPLIT_HANDLERS.items():
        table.add_split(verb, partial(split, side))
    table.side = side  # type: ignore[attr-defined]
    return table
