# -*- test-case-name: tests.unit.test_link_commands -*-
"""Queries a remote user addressed to this server (WHOIS, MOTD, VERSION, ...), and their replies.

The handlers answer here or pass the line on toward the server it names;
a numeric on its way to a user is delivered here or passed toward it.

Each answer is a series of numerics written as ``:<our SID> <numeric>
<asker UID> ...`` on the link the asker is behind; that user's server shows
them with our name as the source.  The texts match what a local client
gets (``client/welcome.py``, ``client/commands/info.py``, ``query.py``).
"""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any

from .. import __version__
from ..dispatch import command
from ..modes import prefix_string
from ..network import User
from ..numerics import numeric
from ..wire import Message
from .side import LinkSide, is_ours, server_of, user_by_ref

SERVER_QUERIES = ("MOTD", "VERSION", "ADMIN", "TIME", "INFO", "LUSERS")
HIDDEN_CHANNEL_FLAGS = frozenset("ps")


class _Asker:
    """Numerics for a remote user, written on its link."""

    def __init__(self, side: LinkSide, link: Any, user: User) -> None:
        self.side, self.link, self.user = side, link, user

    def reply(self, name: str, *args: object) -> None:
        self.link.send(numeric(name, self.side.me.sid, self.user.uid, *args))


def answer(side: LinkSide, link: Any, user: User, verb: str, msg: Message) -> None:
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


def whois(side: LinkSide, link: Any, asker_user: User, target: User) -> None:
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


# -- the handlers ---------------------------------------------------------------------


def handle_numeric(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<SID> <numeric> <UID> ...``: a reply for a user, delivered here or passed toward it."""
    target = side.network.users_by_uid.get(msg.params[0])
    if target is None:
        return
    if target.is_local:
        shown = Message(msg.command, (target.nick, *msg.params[1:]), server_of(source).name)
        target.route.send(shown)
    elif target.route is not link.route:
        side.toward(target, msg)


def _query(verb: str) -> Callable[..., None]:
    def handle(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
        if not isinstance(source, User):
            return
        ref = msg.params[-1] if msg.params else side.me.name
        if msg.params and not is_ours(side, ref):
            target = side.network.servers_by_sid.get(ref) or side.network.find_server(ref)
            if target is not None and target.route is not link.route:
                side.toward(target, msg)
            return
        answer(side, link, source, verb, msg)
    handle.__doc__ = f"``:<UID> {verb} :<server>``: answered here with numerics, or passed on."
    return handle


for _verb in SERVER_QUERIES:
    globals()[f"handle_{_verb.lower()}"] = command(_verb, origin="server")(_query(_verb))
    globals()[f"handle_{_verb.lower()}"].__module__ = __name__


@command("WHOIS", min_params=1, origin="server")
def handle_whois(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> WHOIS <target UID> :<nick>``: answered by the target's server."""
    if not isinstance(source, User):
        return
    target = user_by_ref(side.network, msg.params[0]) or user_by_ref(side.network, msg.params[-1])
    if target is None:
        asked = msg.params[-1] or "*"  # an empty nick cannot be a middle parameter
        link.send(Message("401", (source.uid, asked, "No such nick/channel"), side.me.sid))
        link.send(Message("318", (source.uid, asked, "End of /WHOIS list"), side.me.sid))
        return
    if target.server is not side.me and not getattr(target.route, "decides_here", False):
        if target.route is not link.route:
            side.toward(target, msg)
        return
    whois(side, link, source, target)
