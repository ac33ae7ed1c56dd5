# -*- test-case-name: tests.unit.test_link_commands -*-
"""Messages from a peer: PRIVMSG, NOTICE, TAGMSG (to users, channels, status and $$/$# masks),
WALLOPS, GLOBOPS and OPERWALL."""

from __future__ import annotations

from typing import Any

from ..casemap import is_channel, match
from ..dispatch import command
from ..modes import STATUS_RANK
from ..network import User
from ..wire import Message
from .outbound import status_of_prefixes
from .side import LinkSide, user_by_ref


def _message(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    verb, target = msg.command, msg.params[0]
    text = msg.params[1] if verb != "TAGMSG" else None
    network, router = side.network, side.router
    # From a ConferenceRoom peer: client-only tags and msgid (hybrid sends none); TAGMSG
    # goes only to clients with message-tags.
    tags = {k: v for k, v in msg.tags.items() if k[:1] == "+" or k == "msgid"} if msg.tags else {}
    if isinstance(source, User) and source.account:
        tags["account"] = source.account
    cap = "message-tags" if verb == "TAGMSG" else None
    rest = (text,) if text is not None else ()
    if target.startswith("$"):
        if text is None:
            return
        mask = target[2:] if target[:2] in ("$$", "$#") else target[1:]
        if target.startswith("$#"):
            readers = [u for u in network.users_by_uid.values() if match(mask, u.host)]
        else:
            readers = [u for u in network.users_by_uid.values() if match(mask, u.server.name)]
        router.deliver(source, target, verb, (target, text), origin=link.route, recipients=readers, tags=tags)
        return
    prefixes = ""
    name = target
    while name and name[0] in "~@%+" and len(name) > 1 and is_channel(name[1:].lstrip("~@%+")):
        prefixes, name = prefixes + name[0], name[1:]
    if is_channel(name):
        channel = network.find_channel(name)
        if channel is None:
            return
        status = status_of_prefixes(prefixes)
        lowest = min(status, key=lambda m: STATUS_RANK[m]) if status else None
        shown = prefixes + channel.name
        router.deliver(source, channel, verb, (shown, *rest), origin=link.route, status=lowest,
                       tags=tags, cap=cap)
        return
    recipient = user_by_ref(network, target.split("@", 1)[0])
    if recipient is None:
        if verb == "PRIVMSG" and isinstance(source, User):
            link.send(Message("401", (source.uid, target, "No such nick/channel"), side.me.sid))
        return
    router.deliver(source, recipient, verb, (recipient.nick, *rest), origin=link.route, tags=tags, cap=cap)


@command("PRIVMSG", min_params=2, origin="server")
def handle_privmsg(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> PRIVMSG <UID | channel | @channel | $$mask> :<text>``."""
    _message(side, link, source, msg)


@command("NOTICE", min_params=2, origin="server")
def handle_notice(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> NOTICE <UID | channel | @channel | $$mask> :<text>``."""
    _message(side, link, source, msg)


@command("TAGMSG", min_params=1, origin="server")
def handle_tagmsg(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``@<tags> :<source> TAGMSG <UID | channel>`` (between ConferenceRoom servers)."""
    _message(side, link, source, msg)


@command("WALLOPS", min_params=1, origin="server")
def handle_wallops(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> WALLOPS :<text>``: to every user with +w, and on to the other links."""
    readers = [u for u in side.network.local_users() if "w" in u.modes]  # links: all get a broadcast
    # A broadcast: also passed on to links with no +w reader behind them (a hub relays it).
    side.router.deliver(source, "*", "WALLOPS", (msg.params[-1],), origin=link.route, recipients=readers)


def wall(side: LinkSide, source: Any, label: str, text: str) -> None:
    """GLOBOPS / OPERWALL to local operators, as the client side shows them."""
    name = getattr(source, "nick", None) or source.name
    me = side.me.name
    if label == "GLOBOPS":
        line = f"*** Global -- from {name}: {text}"
        side.router.to_opers(lambda u: Message("NOTICE", (u.nick, line), me), user_mode="s")
    else:
        mask = source.mask if isinstance(source, User) else source.name
        side.router.to_opers(lambda u: Message("WALLOPS", (f"{label} - {text}",), mask), user_mode="w")


@command("GLOBOPS", min_params=1, origin="server")
def handle_globops(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> GLOBOPS :<text>``: to local operators with +s, and on to the other links."""
    wall(side, source, "GLOBOPS", msg.params[-1])
    side.forward(link, msg)


@command("OPERWALL", min_params=1, origin="server")
def handle_operwall(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> OPERWALL :<text>``: to local operators with +w, and on to the other links."""
    wall(side, source, "OPERWALL", msg.params[-1])
    side.forward(link, msg)
