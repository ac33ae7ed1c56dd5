# -*- test-case-name: tests.unit.test_link_commands -*-
"""Answers to queries a remote user addressed to this server (WHOIS, MOTD, VERSION, ...).

Each answer is a series of numerics written as ``:<our SID> <numeric>
<asker UID> ...`` on the link the asker is behind; that user's server shows
them with our name as the source.  The texts match what a local client
gets (``client/welcome.py``, ``client/commands/info.py``, ``query.py``).
"""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..modes import prefix_string
from ..numerics import numeric
from ..wire import Message

if TYPE_CHECKING:
    from ..network import User
    from .commands import LinkSide

SERVER_QUERIES = ("MOTD", "VERSION", "ADMIN", "TIME", "INFO", "LUSERS")
HIDDEN_CHANNEL_FLAGS = frozenset("ps")


class _Asker:
    """Numerics for a remote user, written on its link."""

    def __init__(self, side: "LinkSide", link: Any, user: "User") -> None:
        self.side, self.link, self.user = side, link, user

    def reply(self, name: str, *args: object) -> None:
        self.link.send(numeric(name, self.side.me.sid, self.user.uid, *args))


def answer(side: "LinkSide", link: Any, user: "User", verb: str, msg: Message) -> None:
    """Answer ``verb`` (one of :data:`SERVER_QUERIES`) for the remote ``user``."""
    asker = _Asker(side, link, user)
    core = side.core
    network = side.network
    name = side.me.name
    now = network.now()
    if verb == "MOTD":
        lines = getattr(core, "motd_lines", None)
        if not lines:
            asker.reply("ERR_NOMOTD")
            return
        asker.reply("RPL_MOTDSTART", name)
        for line in lines:
            asker.reply("RPL_MOTD", line)
        asker.reply("RPL_ENDOFMOTD")
    elif verb == "VERSION":
        version = getattr(core, "version", f"conferenceroom-{__version__}")
        asker.reply("RPL_VERSION", version, name, side.me.description or name)
    elif verb == "ADMIN":
        settings = getattr(core, "settings", None)
        asker.reply("RPL_ADMINME", name)
        asker.reply("RPL_ADMINLOC1", side.me.description or name)
        asker.reply("RPL_ADMINLOC2", f"{getattr(settings, 'network', 'IRC')} network")
        contact = getattr(settings, "contact", "") or "No administrative contact configured"
        asker.reply("RPL_ADMINEMAIL", contact)
    elif verb == "TIME":
        text = datetime.fromtimestamp(now, timezone.utc).strftime("%A %B %d %Y -- %H:%M:%S +00:00")
        asker.reply("RPL_TIME", name, int(now), text)
    elif verb == "INFO":
        asker.reply("RPL_INFO", f"conferenceroom {__version__}")
        asker.reply("RPL_INFO",
                    "An IRC server in the spirit of ConferenceRoom, written in Python on Twisted.")
        asker.reply("RPL_INFO", f"Python {platform.python_version()} ({platform.python_implementation()})")
        if core is not None:
            asker.reply("RPL_INFO", f"Online since {core.created}")
        asker.reply("RPL_ENDOFINFO")
    elif verb == "LUSERS":
        users = network.users_by_uid
        invisible = len(network.by_mode["i"])
        local = len(network.me.users)
        linked = sum(1 for s in network.servers.values() if s.uplink is network.me)
        asker.reply("RPL_LUSERCLIENT", len(users) - invisible, invisible, len(network.servers))
        asker.reply("RPL_LUSEROP", len(network.by_mode["o"]))
        asker.reply("RPL_LUSERUNKNOWN", max(0, len(getattr(core, "connections", ())) - local))
        asker.reply("RPL_LUSERCHANNELS", len(network.channels))
        asker.reply("RPL_LUSERME", local, linked)
        asker.reply("RPL_LOCALUSERS", local, max(network.max_local, local))
        asker.reply("RPL_GLOBALUSERS", len(users), max(network.max_global, len(users)))


def whois(side: "LinkSide", link: Any, asker_user: "User", target: "User") -> None:
    """WHOIS of our ``target`` for the remote ``asker_user``, with 317 (idle and signon)."""
    asker = _Asker(side, link, asker_user)
    nick = target.nick
    asker.reply("RPL_WHOISUSER", nick, target.ident, target.host, target.realname)
    channels = []
    for channel, membership in target.channels.items():
        hidden = channel.flags & HIDDEN_CHANNEL_FLAGS
        if hidden and asker_user not in channel.members and not asker_user.is_oper:
            continue
        channels.append(prefix_string(membership.status, False) + channel.name)
    if channels:
        asker.reply("RPL_WHOISCHANNELS", nick, " ".join(sorted(channels))[:400])
    asker.reply("RPL_WHOISSERVER", nick, target.server.name, target.server.description or target.server.name)
    if target.away:
        asker.reply("RPL_AWAY", nick, target.away)
    if target.is_oper:
        asker.reply("RPL_WHOISOPERATOR", nick, "is an IRC Operator")
    if target.account:
        asker.reply("RPL_WHOISACCOUNT", nick, target.account)
    if target.secure:
        asker.reply("RPL_WHOISSECURE", nick)
    if target.certfp and asker_user.is_oper:
        asker.reply("RPL_WHOISCERTFP", nick, target.certfp)
    if target.is_local:
        idle = max(0, int(side.network.now() - target.last_active))
        asker.reply("RPL_WHOISIDLE", nick, idle, int(target.signon))
    asker.reply("RPL_ENDOFWHOIS", nick)
