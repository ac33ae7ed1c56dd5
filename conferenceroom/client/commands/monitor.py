# -*- test-case-name: tests.unit.test_client_monitor -*-
"""MONITOR + / - / C / L / S: watch nicks sign on and off (IRCv3 monitor)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...casemap import valid_nick
from ...dispatch import command
from ...limits import NICKLEN
from ...wire import Message
from ...limits import MONITOR_LIMIT

if TYPE_CHECKING:
    from ..protocol import ClientConnection


@command("MONITOR", min_params=1, syntax="MONITOR {+|-} <nick>{,<nick>} | C | L | S")
def handle_monitor(conn: "ClientConnection", msg: Message) -> None:
    """MONITOR +/- targets, C (clear), L (list), S (status)."""
    monitors = conn.core.monitor
    sub = msg.params[0].upper()
    targets = [t for t in (msg.params[1] if len(msg.params) > 1 else "").split(",") if t]
    if sub in ("+", "-") and not targets:
        conn.reply("ERR_NEEDMOREPARAMS", "MONITOR")
    elif sub == "+":
        added = []
        for i, nick in enumerate(targets):
            if not valid_nick(nick, NICKLEN):
                conn.reply("ERR_ERRONEUSNICKNAME", nick)
                continue
            if not monitors.add(conn, nick):
                conn.reply("ERR_MONLISTFULL", MONITOR_LIMIT, ",".join(targets[i:]))
                break
            added.append(nick)
        monitors.send_status(conn, added)
    elif sub == "-":
        for nick in targets:
            monitors.remove(conn, nick)
    elif sub == "C":
        monitors.clear(conn)
    elif sub == "L":
        monitors.send_list(conn, "RPL_MONLIST", list(monitors.targets(conn).values()))
        conn.reply("RPL_ENDOFMONLIST")
    elif sub == "S":
        monitors.send_status(conn, list(monitors.targets(conn).values()))
    else:
        conn.send(Message("FAIL", ("MONITOR", "INVALID_PARAMS", msg.params[0],
                                   "Unknown MONITOR subcommand"), conn.core.name))
