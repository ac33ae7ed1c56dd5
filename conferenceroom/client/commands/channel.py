# -*- test-case-name: tests.unit.test_client_channel -*-
"""Channel commands: JOIN, PART, TOPIC, NAMES, INVITE, KICK and MODE.

Every change goes through a :class:`~conferenceroom.network.Network` method;
the announcer writes the JOIN/PART/TOPIC/KICK/MODE/INVITE lines, so the
handlers here only check permissions and send numerics to the requester.
:func:`can_send` and :func:`is_banned` are shared with ``message.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...casemap import fold, is_channel, match_folded, normalize_mask, valid_channel
from ...limits import KICKLEN, MAX_TARGETS, TOPICLEN
from ...dispatch import command
from ...modes import (
    CHANNEL_MODES,
    MAX_LIST_ENTRIES,
    PREFIX_OF,
    SERVER_USER_MODES,
    USER_MODES,
    ModeChange,
    ModeKind,
    parse_mode_string,
    prefix_string,
    rank,
    top_status,
)
from ...network import Channel, Membership, User
from ...numerics import NUMERICS, _sanitize_middle
from ...wire import Message, _message, ascii_number, cut_to_bytes, encode_body

if TYPE_CHECKING:
    from ..protocol import ClientConnection

CHANNELLEN = 50
CHANLIMIT = 50  # ISUPPORT CHANLIMIT=#&:50
KEYLEN = 23
MASKLEN = 195  # longest list mask (b, e, I): its RPL_BANLIST line always fits in 512 bytes
LINE_BYTES = 510  # a line without CR LF
ENDOFNAMES = NUMERICS["RPL_ENDOFNAMES"][2]  # "End of /NAMES list"

OP_RANK = 2  # rank() of a channel operator; the owner (q) is 3, voice 1
VOICE_RANK = 1

# List mode -> (entry numeric, end numeric).
LIST_NUMERICS = {
    "b": ("RPL_BANLIST", "RPL_ENDOFBANLIST"),
    "e": ("RPL_EXCEPTLIST", "RPL_ENDOFEXCEPTLIST"),
    "I": ("RPL_INVEXLIST", "RPL_ENDOFINVEXLIST"),
}
# The list whose entries exempt a user from a match on the key list.
EXCEPTION_OF = {"b": "e"}

# User modes a user may only remove (they come from OPER).
OPER_ONLY_USER_MODES = "oAa"


# -- shared checks -----------------------------------------------------------


def user_masks(user: User) -> set[str]:
    """The ``nick!ident@host`` forms a ban may match: shown host, real host and IP."""
    base = f"{user.nick}!{user.ident}@"
    return {base + user.host, base + user.realhost, base + user.ip}


MUTE = "m:"  # the mute extban (ISUPPORT EXTBAN=,m): +b m:<mask> may join but not speak


def matches_list(channel: Channel, user: User, list_mode: str, extban: str = "") -> bool:
    """True if ``user`` matches an entry of ``channel``'s list ``list_mode`` (b, e, I).

    With ``extban`` (``m:``), only the entries of that extban are looked at, by their mask.
    """
    entries = channel.lists.get(list_mode, ())
    if not entries:
        return False
    masks = [fold(mask) for mask in user_masks(user)]  # folded once, not once per entry
    if extban:
        size = len(extban)
        return any(entry.mask[:size].lower() == extban and match_folded(entry.mask[size:], mask)
                   for entry in entries for mask in masks)
    return any(match_folded(entry.mask, mask) for entry in entries for mask in masks)


def is_muted(channel: Channel, user: User) -> bool:
    """True if ``user`` matches a ``+b m:<mask>`` of ``channel`` and no ``+e`` (plain or ``m:``)."""
    return matches_list(channel, user, "b", MUTE) and not (
        matches_list(channel, user, "e", MUTE) or matches_list(channel, user, "e")
    )


def is_banned(channel: Channel, user: User, list_mode: str = "b") -> bool:
    """True if ``user`` matches list ``list_mode`` and no exception to it.

    With the default ``"b"`` this is "banned and not on the e list"; for
    ``"e"`` or ``"I"`` it is a plain match of that list.
    """
    if not matches_list(channel, user, list_mode):
        return False
    exception = EXCEPTION_OF.get(list_mode)
    return not (exception and matches_list(channel, user, exception))


def can_send(user: User, channel: Channel) -> str | None:
    """None if ``user`` may talk in ``channel``, else the reason it may not.

    +n keeps out non-members, +m needs voice or better, and a banned user
    (without an exception) needs voice or better to speak.
    """
    membership = channel.members.get(user)
    level = rank(membership.status) if membership is not None else 0
    if membership is None and "n" in channel.flags:
        return "Cannot send to channel (no external messages)"
    if "m" in channel.flags and level < VOICE_RANK:
        return "Cannot send to channel (+m)"
    if level < VOICE_RANK and is_banned(channel, user):
        return "Cannot send to channel (you are banned)"
    if level < VOICE_RANK and is_muted(channel, user):
        return "Cannot send to channel (you are muted)"
    return None


def join_error(channel: Channel, user: User, key: str | None) -> str | None:
    """The numeric name refusing ``user`` entry to ``channel``, or None.

    Checked in order: key (475), limit (471), invite-only (473) and ban
    (474).  An INVITE lets a user past the limit, +i and bans, but not the
    key; an I-list match lets a user past +i.
    """
    invited = bool(user.invited) and fold(channel.name) in user.invited
    if channel.key is not None and key != channel.key:
        return "ERR_BADCHANNELKEY"
    if channel.limit is not None and len(channel.members) >= channel.limit and not invited:
        return "ERR_CHANNELISFULL"
    if "i" in channel.flags and not invited and not matches_list(channel, user, "I"):
        return "ERR_INVITEONLYCHAN"
    if not invited and is_banned(channel, user):
        return "ERR_BANNEDFROMCHAN"
    return None


def _find_channel(conn: "ClientConnection", name: str) -> Channel | None:
    """The channel named ``name``, or None after ERR_NOSUCHCHANNEL."""
    channel = conn.core.network.find_channel(name)
    if channel is None:
        conn.reply("ERR_NOSUCHCHANNEL", name)
    return channel


def _find_user(conn: "ClientConnection", nick: str) -> User | None:
    """The user named ``nick``, or None after ERR_NOSUCHNICK."""
    user = conn.core.network.find_user(nick)
    if user is None:
        conn.reply("ERR_NOSUCHNICK", nick)
    return user


def _membership(conn: "ClientConnection", user: User, channel: Channel) -> Membership | None:
    """``user``'s membership of ``channel``, or None after ERR_NOTONCHANNEL."""
    membership = channel.members.get(user)
    if membership is None:
        conn.reply("ERR_NOTONCHANNEL", channel.name)
    return membership


def _is_op(membership: Membership | None) -> bool:
    return membership is not None and rank(membership.status) >= OP_RANK


def _hidden(channel: Channel, user: User) -> bool:
    """True if ``channel`` (+s or +p) is not shown to the non-member ``user``."""
    return user not in channel.members and bool(channel.flags & {"s", "p"})


# -- replies used by several commands ------------------------------------------


def send_topic(conn: "ClientConnection", channel: Channel) -> None:
    """332 and 333 for a channel with a topic, 331 without one."""
    if not channel.topic:
        conn.reply("RPL_NOTOPIC", channel.name)
        return
    # Built as messages directly (the same lines as the RPL_TOPIC/RPL_TOPICWHOTIME templates make).
    server, nick, name = conn.core.name, conn.nick or "*", _sanitize_middle(channel.name)
    topic = channel.topic
    if "\r" in topic or "\n" in topic or "\x00" in topic:  # as the numeric template would
        topic = topic.replace("\r", "").replace("\n", " ").replace("\x00", "")
    conn.send(_message("332", (nick, name, topic), server, {}))
    setter = _sanitize_middle(channel.topic_setter)
    conn.send(_message("333", (nick, name, setter, str(channel.topic_ts)), server, {}))


def names_symbol(channel: Channel) -> str:
    """``@`` for a secret channel, ``*`` for a private one, ``=`` otherwise."""
    if "s" in channel.flags:
        return "@"
    if "p" in channel.flags:
        return "*"
    return "="


def send_names(conn: "ClientConnection", channel: Channel, end: bool = True) -> None:
    """353 lines for the members of ``channel`` ``conn`` may see, then 366 (at once).

    For a client that sees no tags and is not gathering a labeled reply, the
    lines are formatted straight to bytes and written in one piece: the bytes
    the messages would encode to (anything that could read differently, such
    as a CR in a name, takes the message path, which refuses it as before).
    """
    server, nick = conn.core.name, conn.nick or "*"
    symbol = names_symbol(channel)
    if conn._profile is None and conn.label is None and server and _plain(server) and nick[0] != ":" and _plain(nick):
        name = _sanitize_middle(channel.name)
        head = f":{server} 353 {nick} {symbol} {name} "
        lines = []
        for items in _names_items(conn, channel, symbol):
            if "\r" in items or "\n" in items or "\x00" in items:
                break
            lines.append(head + (":" + items if items[0] == ":" or " " in items else items))
        else:
            if end:
                lines.append(f":{server} 366 {nick} {name} :{ENDOFNAMES}")
            if lines:
                data = "\r\n".join(lines).encode("utf-8", "replace") + b"\r\n"
                if len(data) > LINE_BYTES + 2:  # a line might need cutting as encode_line cuts it
                    data = b"".join(map(encode_body, lines))
                conn.send_encoded(data, len(lines))
            return
    for message in names_replies(conn, channel, end):
        conn.send(message)


def _plain(word: str) -> bool:
    """True if ``word`` holds no space, CR, LF or NUL (``sendable_word`` without its regex, for a non-empty word)."""
    return " " not in word and "\r" not in word and "\n" not in word and "\x00" not in word


def names_replies(conn: "ClientConnection", channel: Channel, end: bool = True) -> Iterator[Message]:
    """353 lines for the members of ``channel`` ``conn`` may see, then 366."""
    server, nick = conn.core.name, conn.nick or "*"
    head = (nick, names_symbol(channel), _sanitize_middle(channel.name))
    for items in _names_items(conn, channel, head[1]):
        yield _message("353", (*head, items), server, {})
    if end:
        yield _message("366", (head[0], head[2], ENDOFNAMES), server, {})


def _names_items(conn: "ClientConnection", channel: Channel, symbol: str) -> list[str]:
    """The names part of each 353 line for the members of ``channel`` ``conn`` may see.

    Non-members do not see invisible (+i) users; multi-prefix shows every
    status prefix and userhost-in-names shows ``nick!user@host``.  One walk
    over the members, lines packed up to 512 bytes (no numeric template per
    line: a nick, mask or channel name cannot hold what the template would strip).
    """
    user = conn.user
    assert user is not None
    caps = conn.caps
    multi = "multi-prefix" in caps
    full = "userhost-in-names" in caps
    members = channel.members
    hide = user not in members
    server, nick, name = conn.core.name, conn.nick, channel.name
    head = f":{server} 353 {nick} {symbol} {name} :"
    budget = LINE_BYTES - (len(head) if head.isascii() else len(head.encode("utf-8")))
    prefixes: dict[frozenset[str], str] = {}
    lines: list[str] = []
    line: list[str] = []
    used = -1  # the first item of a line has no space before it
    for other, membership in members.items():
        if hide and "i" in other.modes:
            continue
        item = other.mask if full else other.nick
        status = membership.status
        if status:
            if len(status) == 1:  # one status mode (most members with any): its prefix, multi-prefix or not
                for mode in status:
                    item = PREFIX_OF.get(mode, "") + item
            else:
                key = frozenset(status)
                prefix = prefixes.get(key)
                if prefix is None:
                    prefix = prefixes[key] = prefix_string(status, multi)
                item = prefix + item
        size = (len(item) if item.isascii() else len(item.encode("utf-8"))) + 1
        if line and used + size > budget:
            lines.append(" ".join(line))
            line, used = [], -1
        line.append(item)
        used += size
    if line:
        lines.append(" ".join(line))
    return lines


# -- JOIN / PART ----------------------------------------------------------------


@command("JOIN", min_params=1, penalty=2, syntax="JOIN <channel>{,<channel>} [<key>{,<key>}]")
def handle_join(conn: "ClientConnection", msg: Message) -> None:
    """JOIN <channels> [<keys>]; ``JOIN 0`` leaves every channel."""
    user = conn.user
    assert user is not None
    if msg.params[0] == "0":
        for channel in list(user.channels):
            conn.core.network.part(user, channel, None)
        return
    keys = msg.params[1].split(",") if len(msg.params) > 1 else []
    for i, name in enumerate(msg.params[0].split(",")):
        if name:
            _join_one(conn, user, name, keys[i] if i < len(keys) and keys[i] else None)


def _join_one(conn: "ClientConnection", user: User, name: str, key: str | None) -> None:
    network = conn.core.network
    # An invalid name (no prefix, a forbidden character, longer than
    # CHANNELLEN) is ERR_NOSUCHCHANNEL: "the given channel name is invalid"
    # (RFC 2812), and the reply clients treat as a failed JOIN.
    if not valid_channel(name, CHANNELLEN):  # a prefix, no forbidden character, not too long
        conn.reply("ERR_NOSUCHCHANNEL", name)
        return
    channel = network.find_channel(name)
    if channel is not None:
        if user in channel.members:
            return
        error = join_error(channel, user, key)
        if error is not None:
            conn.reply(error, channel.name)
            return
    if len(user.channels) >= CHANLIMIT:
        conn.reply("ERR_TOOMANYCHANNELS", name)
        return
    membership = network.join(user, channel.name if channel is not None else name)
    if membership.channel.topic:
        send_topic(conn, membership.channel)
    if "draft/read-marker" in conn.caps:  # before 366, as draft/read-marker asks
        from .ircv3 import send_read_marker

        send_read_marker(conn, membership.channel.name)
    send_names(conn, membership.channel)


@command("PART", min_params=1, syntax="PART <channel>{,<channel>} [:<reason>]")
def handle_part(conn: "ClientConnection", msg: Message) -> None:
    """PART <channels> [:<reason>]"""
    user = conn.user
    assert user is not None
    network = conn.core.network
    reason = msg.params[1] if len(msg.params) > 1 and msg.params[1] else None
    if reason is not None:
        reason = reason[:KICKLEN]
    for name in msg.params[0].split(","):
        channel = _find_channel(conn, name)
        if channel is not None and _membership(conn, user, channel) is not None:
            network.part(user, channel, reason)


# -- TOPIC / NAMES ------------------------------------------------------------------


@command("TOPIC", min_params=1, syntax="TOPIC <channel> [:<topic>]")
def handle_topic(conn: "ClientConnection", msg: Message) -> None:
    """TOPIC <channel> shows the topic; TOPIC <channel> :<text> sets it (empty clears)."""
    user = conn.user
    assert user is not None
    channel = _find_channel(conn, msg.params[0])
    if channel is None:
        return
    if len(msg.params) < 2:
        if _hidden(channel, user):
            conn.reply("ERR_NOTONCHANNEL", channel.name)
            return
        send_topic(conn, channel)
        return
    membership = _membership(conn, user, channel)
    if membership is None:
        return
    if "t" in channel.flags and not _is_op(membership):
        conn.reply("ERR_CHANOPRIVSNEEDED", channel.name)
        return
    conn.core.network.set_topic(user, channel, cut_to_bytes(msg.params[1], TOPICLEN), user.mask)


@command("NAMES", syntax="NAMES [<channel>{,<channel>}]")
def handle_names(conn: "ClientConnection", msg: Message) -> None:
    """NAMES [<channels>]: members of each channel; without one, every visible channel."""
    user = conn.user
    assert user is not None
    if not msg.params or not msg.params[0]:
        conn.send_stream(_all_names(conn, user))
        return
    # Each channel once, and at most TARGMAX NAMES of them (407 beyond).
    names = list({fold(n): n for n in msg.params[0].split(",") if n}.values())
    if len(names) > MAX_TARGETS:
        conn.reply("ERR_TOOMANYTARGETS", names[MAX_TARGETS], f"the maximum is {MAX_TARGETS}")
        return
    if not names:
        conn.reply("RPL_ENDOFNAMES", "*")
        return
    conn.send_stream(_names_of(conn, user, names))


def _all_names(conn: "ClientConnection", user: User) -> Iterator[Message]:
    """NAMES without a channel: 353s of every channel the user may see, one 366 for ``*``."""
    for channel in list(conn.core.network.channels.values()):
        if channel.members and not _hidden(channel, user):
            yield from names_replies(conn, channel, end=False)
    yield conn.numeric("RPL_ENDOFNAMES", "*")


def _names_of(conn: "ClientConnection", user: User, names: list[str]) -> Iterator[Message]:
    """353s of each named channel the user may see, then one 366.

    One channel: its 366 names it (an unknown or hidden one gets the 366
    alone). Several: every 353 first, then one 366 naming the list as sent
    (duplicates and empty entries left out), the reply pair RFC 2812
    describes for NAMES of a list.
    """
    for name in names:
        channel = conn.core.network.find_channel(name)
        if channel is not None and not _hidden(channel, user):
            yield from names_replies(conn, channel, end=False)
    if len(names) == 1:
        channel = conn.core.network.find_channel(names[0])
        shown = names[0] if channel is None or _hidden(channel, user) else channel.name
        yield conn.numeric("RPL_ENDOFNAMES", shown)
    else:
        yield conn.numeric("RPL_ENDOFNAMES", ",".join(names))


# -- INVITE / KICK -----------------------------------------------------------------


@command("INVITE", min_params=2, syntax="INVITE <nickname> <channel>")
def handle_invite(conn: "ClientConnection", msg: Message) -> None:
    """INVITE <nickname> <channel>: let a user past +i (and +l, bans) once."""
    user = conn.user
    assert user is not None
    network = conn.core.network
    nick, name = msg.params[0], msg.params[1]
    target = _find_user(conn, nick)
    if target is None:
        return
    channel = _find_channel(conn, name)
    if channel is None:
        return
    membership = _membership(conn, user, channel)
    if membership is None:
        return
    if "i" in channel.flags and not _is_op(membership):
        conn.reply("ERR_CHANOPRIVSNEEDED", channel.name)
        return
    if target in channel.members:
        conn.reply("ERR_USERONCHANNEL", target.nick, channel.name)
        return
    network.invite(user, target, channel)
    conn.reply("RPL_INVITING", target.nick, channel.name)
    if target.away:
        conn.reply("RPL_AWAY", target.nick, target.away)


@command("KICK", min_params=2, syntax="KICK <channel>{,<channel>} <nick>{,<nick>} [:<reason>]")
def handle_kick(conn: "ClientConnection", msg: Message) -> None:
    """KICK <channels> <nicks> [:<reason>]; the reason defaults to the kicker's nick.

    One channel and several nicks kicks each nick from it; as many channels
    as nicks pairs them (RFC 2812 3.2.8); several channels and one nick
    kicks that nick from each.  Other shapes get 461, and more than TARGMAX
    KICK (4) kicks in one line 407.
    """
    user = conn.user
    assert user is not None
    channels = [c for c in msg.params[0].split(",") if c]
    nicks = [n for n in msg.params[1].split(",") if n]
    if not nicks or not channels:
        conn.reply("ERR_NEEDMOREPARAMS", "KICK")
        return
    reason = cut_to_bytes(msg.params[2] if len(msg.params) > 2 and msg.params[2] else user.nick, KICKLEN)
    if len(channels) == 1:
        pairs = [(channels[0], nick) for nick in nicks]
    elif len(nicks) == 1:
        pairs = [(name, nicks[0]) for name in channels]
    elif len(channels) == len(nicks):
        pairs = list(zip(channels, nicks))
    else:
        conn.reply("ERR_NEEDMOREPARAMS", "KICK")
        return
    if len(pairs) > MAX_TARGETS:
        extra = nicks[MAX_TARGETS] if len(nicks) > MAX_TARGETS else channels[MAX_TARGETS]
        conn.reply("ERR_TOOMANYTARGETS", extra, f"the maximum is {MAX_TARGETS}")
        return
    for name, nick in pairs:
        _kick_one(conn, user, name, nick, reason)


def _kick_one(conn: "ClientConnection", user: User, name: str, nick: str, reason: str) -> None:
    """Kick ``nick`` from channel ``name`` after the 403/442/482/401/441 checks."""
    channel = _find_channel(conn, name)
    if channel is None:
        return
    membership = _membership(conn, user, channel)
    if membership is None:
        return
    if not _is_op(membership):
        conn.reply("ERR_CHANOPRIVSNEEDED", channel.name)
        return
    target = _find_user(conn, nick)
    if target is None:
        return
    target_membership = channel.members.get(target)
    if target_membership is None:
        conn.reply("ERR_USERNOTINCHANNEL", target.nick, channel.name)
        return
    if rank(target_membership.status) > rank(membership.status):
        conn.reply("ERR_HIGHERSTATUS", channel.name, target.nick, top_status(target_membership.status))
        return
    conn.core.network.kick(user, channel, target, reason)


# -- MODE ------------------------------------------------------------------------------


@command("MODE", min_params=1, syntax="MODE <target> [<modestring> [<mode arguments>...]]")
def handle_mode(conn: "ClientConnection", msg: Message) -> None:
    """MODE <channel|nick> [<modes> [<params>]]: show or change modes."""
    if is_channel(msg.params[0]):
        _channel_mode(conn, msg)
    else:
        _user_mode(conn, msg)


def send_channel_modes(conn: "ClientConnection", channel: Channel) -> None:
    """324 (the key shown to members only) and 329 for ``channel``."""
    member = conn.user in channel.members
    params = (conn.nick, channel.name, *channel.mode_string(show_key=member))
    conn.send(Message("324", params, conn.core.name))
    conn.reply("RPL_CREATIONTIME", channel.name, channel.ts)


def list_replies(conn: "ClientConnection", channel: Channel, list_mode: str) -> Iterator[Message]:
    """The entries of list ``list_mode`` (b, e, I) then its end numeric.

    Anyone may see the ban list; exception lists are shown to members.
    """
    entry_name, end_name = LIST_NUMERICS[list_mode]
    if list_mode != "b" and conn.user not in channel.members:
        yield conn.numeric("ERR_NOTONCHANNEL", channel.name)
        return
    for entry in list(channel.lists[list_mode]):
        yield conn.numeric(entry_name, channel.name, entry.mask, entry.setter, entry.ts)
    yield conn.numeric(end_name, channel.name)


def _channel_mode(conn: "ClientConnection", msg: Message) -> None:
    user = conn.user
    assert user is not None
    channel = _find_channel(conn, msg.params[0])
    if channel is None:
        return
    if len(msg.params) < 2 or not msg.params[1]:
        send_channel_modes(conn, channel)
        return
    parsed = parse_mode_string(msg.params[1:], CHANNEL_MODES)
    for letter in parsed.unknown:
        conn.reply("ERR_UNKNOWNMODE", letter)
    if parsed.list_queries:
        # Up to three full lists (tens of KB) for one short line: paced by what the client reads.
        conn.send_stream(
            message for list_mode in parsed.list_queries for message in list_replies(conn, channel, list_mode)
        )
    if not parsed.changes:
        return
    membership = channel.members.get(user)
    if membership is None or not _is_op(membership):
        conn.reply("ERR_CHANOPRIVSNEEDED", channel.name)
        return
    checker = _ModeChecker(conn, channel, membership)
    accepted = [c for c in (checker.check(change) for change in parsed.changes) if c is not None]
    if accepted:
        conn.core.network.apply_channel_modes(user, channel, accepted)


class _ModeChecker:
    """Validates each requested channel mode change of one MODE command."""

    def __init__(self, conn: "ClientConnection", channel: Channel, membership: Membership) -> None:
        self.conn = conn
        self.channel = channel
        self.membership = membership
        self.added = {mode: 0 for mode in LIST_NUMERICS}

    def check(self, change: ModeChange) -> ModeChange | None:
        """The change to apply (parameter normalised), or None after any error reply."""
        kind = CHANNEL_MODES[change.mode]
        if kind is ModeKind.FLAG:
            return change
        if kind is ModeKind.STATUS:
            return self._status(change)
        if kind is ModeKind.LIST:
            return self._list(change)
        if change.mode == "k":
            return self._key(change)
        return self._limit(change)

    def _status(self, change: ModeChange) -> ModeChange | None:
        conn, channel = self.conn, self.channel
        target = conn.core.network.find_user(change.param or "")
        if target is None:
            conn.reply("ERR_NOSUCHNICK", change.param or "*")
            return None
        target_membership = channel.members.get(target)
        if target_membership is None:
            conn.reply("ERR_USERNOTINCHANNEL", target.nick, channel.name)
            return None
        mine = rank(self.membership.status)
        removing_own = target is conn.user and not change.adding
        if not removing_own and change.mode == "q" and "q" not in self.membership.status:
            conn.reply("ERR_CHANOWNPRIVNEEDED", channel.name)
            return None
        if not removing_own and rank(target_membership.status) > mine:
            conn.reply("ERR_HIGHERSTATUS", channel.name, target.nick, top_status(target_membership.status))
            return None
        return ModeChange(change.adding, change.mode, target.nick, target)

    def _list(self, change: ModeChange) -> ModeChange | None:
        param = change.param or ""
        if not param or " " in param or param.startswith(":"):
            return None
        if change.mode in "be" and param[:2].lower() == MUTE and len(param) > 2:
            mask = MUTE + normalize_mask(param[2:])  # the mute extban
        else:
            mask = normalize_mask(param)
        if change.adding and len(mask) > MASKLEN:
            self.conn.reply("ERR_INVALIDMODEPARAM", self.channel.name, change.mode, "*", "Mask too long")
            return None
        entries = self.channel.lists[change.mode]
        existing = next((e for e in entries if fold(e.mask) == fold(mask)), None)
        if not change.adding:
            return ModeChange(False, change.mode, existing.mask if existing else mask)
        if existing is not None:
            return None
        if len(entries) + self.added[change.mode] >= MAX_LIST_ENTRIES:
            self.conn.reply("ERR_BANLISTFULL", self.channel.name, change.mode)
            return None
        self.added[change.mode] += 1
        return ModeChange(True, change.mode, mask)

    def _key(self, change: ModeChange) -> ModeChange | None:
        if not change.adding:
            return ModeChange(False, "k", "*")
        key = change.param or ""
        if not valid_key(key):
            self.conn.reply("ERR_INVALIDMODEPARAM", self.channel.name, "k", "*", "Invalid channel key")
            return None
        if key == self.channel.key:
            return None
        return ModeChange(True, "k", key)

    def _limit(self, change: ModeChange) -> ModeChange | None:
        if not change.adding:
            return ModeChange(False, "l")
        text = change.param or ""
        limit = ascii_number(text, max_digits=10)
        if limit is None or not 0 < limit < 2**31:
            self.conn.reply("ERR_INVALIDMODEPARAM", self.channel.name, "l", text, "Invalid limit")
            return None
        if limit == self.channel.limit:
            return None
        return ModeChange(True, "l", str(limit))


def valid_key(key: str) -> bool:
    """True for a usable channel key: 1-23 printable ASCII characters, no space or comma."""
    return (
        0 < len(key) <= KEYLEN
        and key.isascii()
        and key.isprintable()
        and not key.startswith(":")
        and not any(ch in key for ch in " ,")
    )


def _user_mode(conn: "ClientConnection", msg: Message) -> None:
    user = conn.user
    assert user is not None
    target = _find_user(conn, msg.params[0])
    if target is None:
        return
    if target is not user:
        conn.reply("ERR_USERSDONTMATCH")
        return
    if len(msg.params) < 2 or not msg.params[1]:
        conn.reply("RPL_UMODEIS", "+" + "".join(sorted(user.modes)))
        return
    parsed = parse_mode_string(msg.params[1:], USER_MODES)
    if parsed.unknown:
        conn.reply("ERR_UMODEUNKNOWNFLAG")
    changes = []
    for change in parsed.changes:
        if change.adding and change.mode in OPER_ONLY_USER_MODES:
            continue  # +o, +A and +a only come from OPER
        if change.mode in SERVER_USER_MODES:
            continue  # r follows logging in and out, z the connection: never the user's to change
        changes.append(change)
        if change.mode == "o" and not change.adding:
            changes.extend(ModeChange(False, m) for m in "Aa")
    if changes:
        conn.core.network.apply_user_modes(user, user, changes)
