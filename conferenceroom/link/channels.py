# -*- test-case-name: tests.unit.test_link_commands -*-
"""Channel lines from a peer: SJOIN (also from a burst line's words), JOIN, PART, KICK, TMODE, MODE,
BMASK, TBURST, TOPIC and INVITE, kept by the TS rules."""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger

from ..casemap import is_channel, valid_channel
from ..dispatch import command
from ..modes import CHANNEL_MODES, ModeChange, ModeKind, parse_mode_string
from ..network import Channel, User
from ..wire import Message
from .outbound import status_of_prefixes
from .side import LinkSide, int_of, server_of, user_by_ref
from .users import user_mode

log = Logger()

#: Channel modes a TS6 peer may send: ours, hybrid's admin (``a``, taken as op)
#: and halfop (``h``, taken as voice).
PEER_CHANNEL_MODES = dict(CHANNEL_MODES, a=ModeKind.STATUS, h=ModeKind.STATUS)
PEER_STATUS = {"a": "o", "h": "v"}


_PREFIX_CHARS = frozenset("~&@%+.")


#: SJOIN prefix strings seen (``@``, ``@+``, ...) -> their status modes; a handful in practice, bounded.
_STATUS_OF: dict[str, str] = {}


def _members(side: LinkSide, link: Any, text: str) -> list[tuple[User, str]]:
    """SJOIN members (``@+UID``) that exist and live behind ``link``."""
    found = []
    known = side.network.users_by_uid.get
    route = link.route
    status_of = _STATUS_OF.get
    for token in text.split():
        if token[0] in _PREFIX_CHARS:
            uid = token.lstrip("~&@%+.")
            prefixes = token[: len(token) - len(uid)]
            status = status_of(prefixes)
            if status is None:
                status = status_of_prefixes(prefixes)
                if len(_STATUS_OF) < 256:
                    _STATUS_OF[prefixes] = status
        else:  # most members of a burst: no status
            uid, status = token, ""
        user = known(uid)
        if user is not None and user.route is route:
            found.append((user, status))
    return found


#: SJOIN mode words already read (most channels of a burst share a few): tuple of words -> flags, key, limit.
_SJOIN_MODES: dict[tuple[str, ...], list[ModeChange]] = {}
_SJOIN_MODES_MAX = 512


def _sjoin_modes(args: tuple[str, ...]) -> list[ModeChange]:
    """The flags, key and limit of an SJOIN's mode words (lists and statuses have no place there)."""
    modes = _SJOIN_MODES.get(args)
    if modes is None:
        parsed = parse_mode_string(args, CHANNEL_MODES, 99)
        modes = [c for c in parsed.changes if CHANNEL_MODES[c.mode] not in (ModeKind.LIST, ModeKind.STATUS)]
        if len(_SJOIN_MODES) >= _SJOIN_MODES_MAX:
            _SJOIN_MODES.clear()
        _SJOIN_MODES[args] = modes
    return list(modes)


@command("SJOIN", min_params=4, origin="server")
def handle_sjoin(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<SID> SJOIN <TS> <channel> +<modes> [<params>] :<members>``: the netjoin TS rules."""
    _sjoin(side, link, source, msg.params[0], msg.params[1], msg.params[2:-1], msg.params[-1])


def split_sjoin(side: LinkSide, link: Any, source: Any, words: list[str], members: str | None) -> bool:
    """An SJOIN line split at spaces (see ``ServerCommandTable.dispatch_split``): the members trail."""
    if members is None or len(words) < 5:
        return False
    _sjoin(side, link, source, words[2], words[3], tuple(words[4:]), members)
    return True


def _sjoin(
    side: LinkSide, link: Any, source: Any, ts_word: str, name: str, mode_words: tuple[str, ...], text: str,
) -> None:
    ts = int_of(ts_word)
    if ts is None or not valid_channel(name):
        log.info("SJOIN for {name} with TS {ts} ignored", name=name, ts=ts_word)
        return
    modes = _sjoin_modes(mode_words)
    members = _members(side, link, text)
    if not members:
        # Nobody it names is here (they lost nick collisions or left in flight): the
        # sender's channel is gone with them, so its TS and modes must not touch ours.
        log.info("SJOIN for {name} naming nobody we know ignored", name=name)
        return
    side.network.netjoin(server_of(source), name, ts, modes, members, origin=link.route)


@command("JOIN", min_params=1, origin="server")
def handle_join(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> JOIN <TS> <channel> +`` (``JOIN 0`` leaves every channel)."""
    if not isinstance(source, User):
        return
    network = side.network
    if msg.params[0] == "0":
        for channel in list(source.channels):
            network.part(source, channel, "Left all channels", origin=link.route)
        return
    if len(msg.params) < 2:
        link.protocol_error(f"JOIN from {source.uid}: 2 parameters needed, 1 given")
        return
    ts, name = int_of(msg.params[0]), msg.params[1]
    if ts is None or not valid_channel(name):
        return
    channel = network.find_channel(name)
    if channel is not None and source in channel.members:
        return
    network.join(source, name, origin=link.route, ts=ts)


@command("PART", min_params=1, origin="server")
def handle_part(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> PART <channel>[,<channel>] :<reason>``."""
    if not isinstance(source, User):
        return
    reason = msg.params[1] if len(msg.params) > 1 else None
    for name in msg.params[0].split(","):
        channel = side.network.find_channel(name)
        if channel is not None and source in channel.members:
            side.network.part(source, channel, reason, origin=link.route)


@command("KICK", min_params=2, origin="server")
def handle_kick(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> KICK <channel> <UID> :<reason>``."""
    channel = side.network.find_channel(msg.params[0])
    target = user_by_ref(side.network, msg.params[1])
    if channel is None or target is None or target not in channel.members:
        return
    reason = msg.params[2] if len(msg.params) > 2 else (getattr(source, "nick", None) or source.name)
    side.network.kick(source, channel, target, reason, origin=link.route)


def _channel_changes(side: LinkSide, args: tuple[str, ...]) -> list[ModeChange]:
    """Mode changes from a peer: status targets by UID (a and h mapped), unknown letters dropped."""
    parsed = parse_mode_string(args, PEER_CHANNEL_MODES, 99)
    changes = []
    for change in parsed.changes:
        mode = PEER_STATUS.get(change.mode, change.mode)
        if CHANNEL_MODES[mode] is ModeKind.STATUS:
            member = user_by_ref(side.network, change.param or "")
            if member is None:
                continue
            changes.append(ModeChange(change.adding, mode, member.nick, member))
        elif CHANNEL_MODES[mode] is ModeKind.LIST and not change.param:
            continue
        elif mode == "l" and change.adding and not int_of(change.param or ""):
            continue  # a limit must be a positive number
        else:
            changes.append(ModeChange(change.adding, mode, change.param))
    return changes


def _apply_modes(side: LinkSide, link: Any, source: Any, channel: Channel, args: tuple[str, ...]) -> None:
    changes = [c for c in _channel_changes(side, args) if c.member is None or c.member in channel.members]
    if changes:
        side.network.apply_channel_modes(source, channel, changes, origin=link.route)


@command("TMODE", min_params=3, origin="server")
def handle_tmode(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> TMODE <TS> <channel> <modes> [<params>]``: ignored when its TS is higher than ours."""
    ts = int_of(msg.params[0])
    channel = side.network.find_channel(msg.params[1])
    if ts is None or channel is None or not side.network.ts_accepts(channel, ts):
        return
    _apply_modes(side, link, source, channel, msg.params[2:])


@command("MODE", min_params=2, origin="server")
def handle_mode(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> MODE <UID> :+<modes>`` (user modes), or a channel MODE without TS."""
    if is_channel(msg.params[0]):
        channel = side.network.find_channel(msg.params[0])
        if channel is not None:
            _apply_modes(side, link, source, channel, msg.params[1:])
        return
    user_mode(side, link, source, msg)


@command("BMASK", min_params=4, origin="server")
def handle_bmask(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<SID> BMASK <TS> <channel> <b|e|I> :<mask> ...``: list entries, only with our channel TS.

    A higher TS is ignored (the TMODE rule); a lower one can only follow an
    SJOIN we ignored because it named nobody we know.
    """
    ts = int_of(msg.params[0])
    channel = side.network.find_channel(msg.params[1])
    mode = msg.params[2]
    if ts is None or channel is None or mode not in ("b", "e", "I"):
        return
    if ts != channel.ts:  # higher: ignored (TS rule); lower: its SJOIN named nobody we know
        return
    changes = [ModeChange(True, mode, mask) for mask in msg.params[3].split()]
    if changes:
        side.network.apply_channel_modes(server_of(source), channel, changes, origin=link.route)


@command("TBURST", min_params=5, origin="server")
def handle_tburst(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<SID> TBURST <channel TS> <channel> <topic TS> <setter> :<topic>``: kept by the TS rules.

    Its SJOIN came first and lowered our TS if theirs was lower; a TBURST
    with a lower channel TS still (its SJOIN named nobody we know) is ignored.
    """
    channel_ts, name, topic_ts, setter, text = msg.params[:5]
    channel = side.network.find_channel(name)
    if channel is None or int_of(channel_ts) is None or int_of(topic_ts) is None:
        return
    server = server_of(source)
    services = getattr(server, "services", False)
    if int(channel_ts) < channel.ts and not services:
        return  # its SJOIN would have lowered our TS: it named nobody we know, the channel is gone there
    side.network.burst_topic(server, channel, int(channel_ts), int(topic_ts), text, setter,
                             origin=link.route, services=services)


@command("TOPIC", min_params=1, origin="server")
def handle_topic(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> TOPIC <channel> :<text>``: a live topic change."""
    channel = side.network.find_channel(msg.params[0])
    if channel is None:
        return
    text = msg.params[1] if len(msg.params) > 1 else ""
    setter = source.mask if isinstance(source, User) else source.name
    side.network.set_topic(source, channel, text, setter, origin=link.route)


@command("INVITE", min_params=2, origin="server")
def handle_invite(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> INVITE <target UID> <channel> <channel TS>``: ignored for a newer channel."""
    target = user_by_ref(side.network, msg.params[0])
    channel = side.network.find_channel(msg.params[1])
    if not isinstance(source, User) or target is None or channel is None:
        return
    ts = int_of(msg.params[2]) if len(msg.params) > 2 else None
    if ts is not None and ts > channel.ts:
        return
    side.network.invite(source, target, channel, origin=link.route)  # the announcer passes it on

