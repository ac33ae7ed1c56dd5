# -*- test-case-name: tests.unit.test_client_message -*-
"""Messages between users: PRIVMSG, NOTICE, TAGMSG, WALLOPS, and AWAY, ISON, USERHOST.

Every delivery goes through ``core.router``, so a target behind a server
link gets the line relayed once through its route.  NOTICE never causes an
automatic reply (RFC 2812 3.3.2): its errors are dropped.  The sender gets
its own message back under echo-message, with the same tags (client-only
``+`` tags, ``msgid``, ``account``) the recipients were given; each
connection then shows a client only the tags its capabilities allow.
"""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING

from ...casemap import fold, is_channel, match
from ...limits import AWAYLEN, MAX_TARGETS
from ...dispatch import command
from ...modes import MODE_OF_PREFIX, STATUS_PREFIXES, STATUS_RANK
from ...network import Channel, User
from ...wire import Message, cut_to_bytes
from ..labels import not_a_reply
from .channel import can_send
from .ircv3 import recent_messages
from .multiline import take_line

if TYPE_CHECKING:
    from ..protocol import ClientConnection

USERHOST_MAX = 5
STATUSMSG_PREFIXES = "".join(prefix for _, prefix in STATUS_PREFIXES)


class _Refused(Exception):
    """A target that cannot receive the message: numeric name and arguments."""

    def __init__(self, name: str, *args: object) -> None:
        super().__init__(name)
        self.name = name
        self.args_ = args


# -- permission to speak ---------------------------------------------------------


_can_send = can_send  # the name multiline.py imports


def _speak_refusal(user: User, channel: Channel) -> str | None:
    """:func:`can_send` for a channel message, its decision kept while nothing it reads changes.

    With bans set, deciding costs a glob match of every ban and exception
    against three masks of the user, on every message.  The decision is
    kept per member with the state it was made from (the b and e lists,
    the channel's modes, the member's status, the user's nick, ident,
    hosts, IP and account): any change of those (a ban, an exception, a
    mute ``m:``, a nick, host or account change, a voice) decides afresh.
    """
    bans = channel.lists.get("b")
    if not bans:
        return can_send(user, channel)  # nothing to match: deciding is cheaper than a key
    membership = channel.members.get(user)
    key = (
        tuple(entry.mask for entry in bans), tuple(entry.mask for entry in channel.lists.get("e", ())),
        frozenset(channel.flags), frozenset(membership.status) if membership is not None else None,
        user.nick, user.ident, user.host, user.realhost, user.ip, user.account,
    )
    cache = channel.__dict__.setdefault("_speak_cache", {})
    kept = cache.get(user)
    if kept is not None and kept[0] == key:
        return kept[1]
    reason = can_send(user, channel)
    if len(cache) > 2 * len(channel.members) + 16:
        cache.clear()  # users who left: forget them all at once, now and then
    cache[user] = (key, reason)
    return reason


# -- tags ------------------------------------------------------------------------


#: This run of the server, in every msgid it makes: a restarted server (same
#: SID, counter from 1 again) never repeats the msgids of an earlier run.
_RUN = os.urandom(4).hex()
_serial = itertools.count(1)


def new_msgid(conn: "ClientConnection") -> str:
    """A network-unique msgid: our SID, this run's token and a counter (no syscall per message)."""
    return f"{conn.core.network.me.sid}{_RUN}{next(_serial):x}"


def _outgoing_tags(conn: "ClientConnection", user: User, msg: Message) -> dict[str, str]:
    """Tags the relayed message carries: client-only tags, msgid and account."""
    tags: dict[str, str] = {}
    if msg.tags and "message-tags" in conn.caps:
        tags.update((k, v) for k, v in msg.tags.items() if k.startswith("+") and len(k) > 1)
    tags["msgid"] = new_msgid(conn)
    if user.account:
        tags["account"] = user.account
    return tags


# -- mask targets ($server.mask, #host.mask) ---------------------------------------


def _mask_error(mask: str) -> _Refused | None:
    """413 if the mask has no top-level domain, 414 if it is a wildcard."""
    if "." not in mask:
        return _Refused("ERR_NOTOPLEVEL", mask)
    top = mask.rsplit(".", 1)[1]
    if not top or any(ch in top for ch in "*?"):
        return _Refused("ERR_WILDTOPLEVEL", mask)
    return None


def _mask_recipients(conn: "ClientConnection", target: str) -> list[User]:
    """Users matched by an operator's ``$servermask`` or ``#hostmask`` target."""
    network = conn.core.network
    mask = target[1:]
    error = _mask_error(target)
    if error is not None:
        raise error
    if target.startswith("$"):
        return [u for s in network.servers.values() if match(mask, s.name) for u in s.users]
    return [u for u in network.users_by_uid.values() if match(mask, u.host) or match(mask, u.realhost)]


# -- PRIVMSG / NOTICE / TAGMSG ----------------------------------------------------


def _split_status(target: str) -> tuple[str | None, str]:
    """``@#chan`` -> ("o", "#chan"); the lowest of several prefixes wins."""
    prefixes = ""
    rest = target
    while rest and rest[0] in STATUSMSG_PREFIXES and len(rest) > 1 and (
        rest[1] in STATUSMSG_PREFIXES or is_channel(rest[1:])
    ):
        prefixes += rest[0]
        rest = rest[1:]
    if not prefixes:
        return None, target
    modes = [MODE_OF_PREFIX[p] for p in prefixes]
    return min(modes, key=lambda m: STATUS_RANK[m]), rest


def _deliver_one(
    conn: "ClientConnection", user: User, verb: str, target: str, text: str | None,
    tags: dict[str, str],
) -> None:
    """Deliver to one target or raise :class:`_Refused`."""
    core = conn.core
    router = core.router
    params = (target,) if text is None else (target, text)
    cap = "message-tags" if verb == "TAGMSG" else None
    echo = "echo-message" in conn.caps and (cap is None or cap in conn.caps)
    status, name = _split_status(target)
    if is_channel(name) or target.startswith("$"):
        channel = core.network.find_channel(name) if not target.startswith("$") else None
        if channel is None:
            if status is None and user.is_oper and (target.startswith("$") or "." in target):
                recipients = _mask_recipients(conn, target)
                out = router.deliver(user, target, verb, params, tags=tags, exclude=user, cap=cap,
                                     recipients=recipients)
                if echo:
                    conn.send(out)
                return
            if target.startswith("$") and not user.is_oper:
                raise _Refused("ERR_NOPRIVILEGES")
            raise _Refused("ERR_NOSUCHNICK", target)
        reason = _speak_refusal(user, channel)
        if reason is not None:
            raise _Refused("ERR_CANNOTSENDTOCHAN", channel.name, reason)
        shown = target[: len(target) - len(name)] + channel.name
        recent_messages(core).add(tags["msgid"], user, channel)
        out = router.deliver(user, channel, verb, (shown, *params[1:]), tags=tags, exclude=user,
                             status=status, cap=cap)
        if echo:
            conn.send(out)
        return
    recipient = core.network.find_user(target)
    if recipient is None:
        raise _Refused("ERR_NOSUCHNICK", target)
    recent_messages(core).add(tags["msgid"], user, recipient)
    if recipient is user:
        with not_a_reply(conn):  # a message to oneself: only the echo answers a labeled command
            out = router.deliver(user, recipient, verb, (recipient.nick, *params[1:]), tags=tags, cap=cap)
    else:
        out = router.deliver(user, recipient, verb, (recipient.nick, *params[1:]), tags=tags, cap=cap)
    if echo:
        conn.send(out)
    if verb == "PRIVMSG" and recipient.away:
        conn.reply("RPL_AWAY", recipient.nick, recipient.away)


def _message(conn: "ClientConnection", msg: Message, verb: str) -> None:
    """The shared body of PRIVMSG, NOTICE and TAGMSG."""
    if "batch" in msg.tags and verb != "TAGMSG" and take_line(conn, msg):
        return  # a line of a draft/multiline batch, sent with the batch
    quiet = verb == "NOTICE"
    user = conn.user
    assert user is not None
    targets_param = msg.params[0] if msg.params else ""
    targets = [t for t in targets_param.split(",") if t]
    if not targets:
        if not quiet:
            conn.reply("ERR_NORECIPIENT", verb)
        return
    text: str | None = None
    if verb != "TAGMSG":
        text = msg.params[1] if len(msg.params) > 1 else ""
        if text == "":
            if not quiet:
                conn.reply("ERR_NOTEXTTOSEND")
            return
    unique: dict[str, str] = {}
    for target in targets:
        unique.setdefault(fold(target), target)
    if len(unique) > MAX_TARGETS:
        if not quiet:
            extra = list(unique.values())[MAX_TARGETS]
            conn.reply("ERR_TOOMANYTARGETS", extra, f"the maximum is {MAX_TARGETS}")
        return
    if verb == "PRIVMSG":
        user.last_active = conn.core.clock.seconds()
    tags = _outgoing_tags(conn, user, msg)
    for target in unique.values():
        try:
            _deliver_one(conn, user, verb, target, text, tags)
        except _Refused as refused:
            if not quiet:
                _refuse(conn, refused)


def _refuse(conn: "ClientConnection", refused: _Refused) -> None:
    """Send the numeric of a refused target (404 with its reason)."""
    if refused.name == "ERR_CANNOTSENDTOCHAN":
        channel, reason = refused.args_
        text = str(reason) or "Cannot send to channel"
        conn.send(Message("404", (conn.nick, str(channel), text), conn.core.name))
        return
    conn.reply(refused.name, *refused.args_)


@command("PRIVMSG", syntax="PRIVMSG <target>{,<target>} :<text>")
def handle_privmsg(conn: "ClientConnection", msg: Message) -> None:
    """PRIVMSG <target>{,<target>} :<text>"""
    _message(conn, msg, "PRIVMSG")


@command("NOTICE", syntax="NOTICE <target>{,<target>} :<text>")
def handle_notice(conn: "ClientConnection", msg: Message) -> None:
    """NOTICE <target>{,<target>} :<text> (never answered with an error)."""
    _message(conn, msg, "NOTICE")


@command("TAGMSG", min_params=1, syntax="TAGMSG <target>{,<target>}")
def handle_tagmsg(conn: "ClientConnection", msg: Message) -> None:
    """TAGMSG <target>{,<target>}: tags only, to clients with message-tags."""
    _message(conn, msg, "TAGMSG")


# -- WALLOPS -----------------------------------------------------------------------


@command("WALLOPS", min_params=1, oper="", syntax="WALLOPS :<text>")
def handle_wallops(conn: "ClientConnection", msg: Message) -> None:
    """WALLOPS :<text>: operators to every user with user mode +w."""
    user = conn.user
    assert user is not None
    readers = [u for u in conn.core.network.local_users() if "w" in u.modes]  # links: all get a broadcast
    conn.core.router.deliver(user, "*", "WALLOPS", (msg.params[0],), recipients=readers)


# -- AWAY / ISON / USERHOST ------------------------------------------------------------


@command("AWAY", syntax="AWAY [:<text>]")
def handle_away(conn: "ClientConnection", msg: Message) -> None:
    """AWAY [:<text>]: set (306) or clear (305) the away message."""
    user = conn.user
    assert user is not None
    text = cut_to_bytes(msg.params[0], AWAYLEN) if msg.params else ""  # AWAYLEN is in bytes
    conn.core.network.set_away(user, text or None)
    conn.reply("RPL_NOWAWAY" if text else "RPL_UNAWAY")


ISON_REPLY_ROOM = 510 - len(": 303  :")


@command("ISON", min_params=1, syntax="ISON <nickname>{ <nickname>}")
def handle_ison(conn: "ClientConnection", msg: Message) -> None:
    """ISON <nick>{ <nick>}: which of these nicks are online (303)."""
    network = conn.core.network
    # The reply must fit one line: room left after ":<server> 303 <nick> :".
    room = ISON_REPLY_ROOM - len(conn.core.name) - len(conn.nick)
    online: list[str] = []
    for word in " ".join(msg.params).split():
        user = network.find_user(word)
        if user is not None and sum(len(n) + 1 for n in online) + len(user.nick) <= room:
            online.append(user.nick)
    conn.reply("RPL_ISON", " ".join(online))


@command("USERHOST", min_params=1, syntax="USERHOST <nickname>{ <nickname>}")
def handle_userhost(conn: "ClientConnection", msg: Message) -> None:
    """USERHOST <nick>{ <nick>}: up to five ``nick[*]=(+|-)user@host`` replies (302)."""
    network = conn.core.network
    asker = conn.user
    # The reply must fit one line: room left after ":<server> 302 <nick> :".
    room = 510 - len(f":{conn.core.name} 302 {conn.nick} :".encode())
    entries: list[str] = []
    used = -1  # bytes of the entries so far, with a space before each
    for word in " ".join(msg.params).split()[:USERHOST_MAX]:
        user = network.find_user(word)
        if user is None:
            continue
        oper = "*" if user.is_oper else ""
        away = "-" if user.away else "+"
        host = user.realhost if user is asker else user.host
        entry = f"{user.nick}{oper}={away}{user.ident}@{host}"
        if used + 1 + len(entry.encode()) > room:
            break
        used += 1 + len(entry.encode())
        entries.append(entry)
    conn.reply("RPL_USERHOST", " ".join(entries))
