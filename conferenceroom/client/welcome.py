# -*- test-case-name: tests.unit.test_client_registration -*-
"""The replies a client gets on registering: 001-005, LUSERS and MOTD.

LUSERS and MOTD are also commands of their own (``info.py``) and call the
same functions here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..numerics import isupport_lines

if TYPE_CHECKING:
    from .protocol import ClientConnection


def send_welcome(conn: "ClientConnection") -> None:
    """001 to 005, then LUSERS and MOTD, as after registration."""
    core = conn.core
    user = conn.user
    assert user is not None
    conn.reply("RPL_WELCOME", core.settings.network, user.mask)
    conn.reply("RPL_YOURHOST", core.name, core.version)
    conn.reply("RPL_CREATED", core.created)
    conn.reply("RPL_MYINFO", core.name, *core.myinfo())
    send_isupport(conn)
    send_lusers(conn)
    send_motd(conn)


def send_isupport(conn: "ClientConnection") -> None:
    """RPL_ISUPPORT lines."""
    for msg in isupport_lines(conn.core.name, conn.nick, conn.core.isupport()):
        conn.send(msg)


def send_lusers(conn: "ClientConnection") -> None:
    """RPL_LUSERCLIENT .. RPL_GLOBALUSERS."""
    core = conn.core
    network = core.network
    users = network.users_by_uid
    invisible = len(network.by_mode["i"])
    opers = len(network.by_mode["o"])
    local = len(network.me.users)
    unknown = max(0, len(core.connections) - local)
    linked = sum(1 for s in network.servers.values() if s.uplink is network.me)
    conn.reply("RPL_LUSERCLIENT", len(users) - invisible, invisible, len(network.servers))
    conn.reply("RPL_LUSEROP", opers)
    conn.reply("RPL_LUSERUNKNOWN", unknown)
    conn.reply("RPL_LUSERCHANNELS", len(network.channels))
    conn.reply("RPL_LUSERME", local, linked)
    conn.reply("RPL_LOCALUSERS", local, max(network.max_local, local))
    conn.reply("RPL_GLOBALUSERS", len(users), max(network.max_global, len(users)))


def send_motd(conn: "ClientConnection") -> None:
    """The message of the day, or 422 when there is none."""
    lines = conn.core.motd_lines
    if not lines:
        conn.reply("ERR_NOMOTD")
        return
    conn.reply("RPL_MOTDSTART", conn.core.name)
    for line in lines:
        conn.reply("RPL_MOTD", line)
    conn.reply("RPL_ENDOFMOTD")
