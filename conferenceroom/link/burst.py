# -*- test-case-name: tests.unit.test_link_burst -*-
"""The burst: everything this side of a new link knows, as TS6 lines, in dependency order.

Servers (``SID``, nearest first, so every uplink is known before the
servers behind it), then users (``UID``, each followed by its ``AWAY``),
then channels (``SJOIN`` split to fit 512 bytes, ``BMASK`` per list,
``TBURST`` for a topic), then ``:<our SID> EOB``.  Nothing behind the new
link itself is sent back to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from twisted.logger import Logger

from ..network import Channel, Network, Server, User
from ..wire import MAX_LINE, Message, format_message
from .outbound import (
    LINE_BUDGET, behind, bmask_lines, certfp_lines, has_owner, sid_line, sjoin_lines, tburst_line, uid_line, wire_ip,
)

log = Logger()


def servers_in_tree_order(network: Network) -> list[Server]:
    """Every server but us, each after its uplink (breadth first from us)."""
    order: list[Server] = []
    frontier = [network.me]
    while frontier:
        children = sorted(
            (s for s in network.servers.values() if s.uplink in frontier and s is not network.me),
            key=lambda s: (s.hopcount, s.name.lower()),
        )
        # keep siblings grouped under their uplink, nearest first
        order.extend(children)
        frontier = children
    return order


def burst_messages(network: Network, link: Any) -> Iterator[Message]:
    """The burst for ``link``: SID, UID (+AWAY), SJOIN/BMASK/TBURST per channel, then EOB."""
    me = network.me
    owner = has_owner(link)
    for server in servers_in_tree_order(network):
        if not behind(server, link):
            yield sid_line(server)
    for user in list(network.users_by_uid.values()):
        if behind(user, link):
            continue
        yield uid_line(user)
        if user.certfp:
            yield from certfp_lines(user)
        if user.away:
            yield Message("AWAY", (user.away,), user.uid)
    for channel in list(network.channels.values()):
        members = [(u, m.status) for u, m in channel.members.items() if not behind(u, link)]
        if not members:
            continue
        yield from sjoin_lines(me.sid, channel, members, owner)
        yield from bmask_lines(me.sid, channel)
        if channel.topic:
            yield tburst_line(me.sid, channel)
    yield Message("EOB", (), me.sid)


# -- the same burst as text, built directly ---------------------------------------------
#
# burst_messages() builds a Message per line and format_message() checks every
# parameter again; for a burst of 10,000 users that is most of the sending
# side's work.  burst_text() writes the same lines as strings.  Values our model
# guarantees (UIDs, SIDs, numbers, valid nicks and channel names) are written as
# they are; the words that came from elsewhere (ident, host, key, masks, setter)
# are checked in one pass per line, and a line that fails goes through the
# Message path, which refuses it with a log line as before.


def _trailing(text: str) -> str:
    """``text`` as the last parameter, with ``:`` when format_message would write one."""
    return ":" + text if not text or text[0] == ":" or " " in text else text


def _words_ok(words: str, count: int) -> bool:
    """True if ``words`` is ``count`` non-empty middle parameters joined by single spaces."""
    return (words.count(" ") == count - 1 and "  " not in words and " :" not in words
            and words[:1] not in ("", ":", " ") and words[-1] != " ")


def _checked_lines(messages: Iterable[Message]) -> list[str]:
    """``messages`` through format_message; a line it refuses is logged and left out (as on send)."""
    out = []
    for msg in messages:
        try:
            out.append(format_message(msg))
        except ValueError:
            log.error("refused to send malformed burst line {msg!r}", msg=msg)
    return out


def _uid_text(user: User) -> str | None:
    """The UID line of ``user``, or None if one of its words needs the checked path."""
    server = user.server
    modes = "".join(sorted(user.modes)) if user.modes else ""
    middle = (f"{user.nick} {server.hopcount + 1} {int(user.nick_ts)} +{modes} "
              f"{user.ident} {user.host} {user.realhost} {wire_ip(user.ip)} {user.uid} {user.account or '*'}")
    if not _words_ok(middle, 10):
        return None
    return f":{server.sid} UID {middle} {_trailing(user.realname)}"


def _split_list(prefix: str, items: list[str], widths: Iterable[int]) -> list[str]:
    """``prefix`` + items as the trailing parameter, as many per line as fit (as sjoin_lines splits)."""
    base = len(prefix.encode("utf-8")) + 1  # the ':' of the trailing parameter always counted
    out: list[str] = []
    chunk: list[str] = []
    size = base
    for item, width in zip(items, widths):
        extra = width + 1 if chunk else width
        if chunk and size + extra > LINE_BUDGET:
            out.append(prefix + _trailing(" ".join(chunk)))
            chunk, size, extra = [], base, width
        chunk.append(item)
        size += extra
    if chunk:
        out.append(prefix + _trailing(" ".join(chunk)))
    return out


def _member(uid: str, status: Any, owner: bool) -> str:
    """A member with status as :func:`~.outbound.member_token` writes it (an owner is ``@`` without owner support)."""
    owned = "q" in status
    return (("~" if owned and owner else "") + ("@" if "o" in status or (owned and not owner) else "")
            + ("+" if "v" in status else "") + uid)


def _channel_text(sid: str, channel: Channel, members: list[tuple[User, Any]], owner: bool) -> list[str] | None:
    """SJOIN, BMASK and TBURST lines of ``channel``, split as sjoin_lines and bmask_lines split them.

    None if a word of the channel (key, mask, setter) needs the checked path.
    """
    ts, name = channel.ts, channel.name
    letters = "+" + "".join(sorted(channel.flags))
    params = []
    if channel.key is not None:
        letters += "k"
        params.append(channel.key)
    if channel.limit is not None:
        letters += "l"
        params.append(str(channel.limit))
    head = " ".join((str(ts), name, letters, *params))
    if not _words_ok(head, 3 + len(params)):
        return None
    tokens = [_member(user.uid, status, owner) if status else user.uid for user, status in members]
    out = _split_list(f":{sid} SJOIN {head} ", tokens, map(len, tokens))
    for mode in ("b", "e", "I"):
        entries = channel.lists[mode]
        if entries:
            masks = [entry.mask for entry in entries]
            if not _words_ok(" ".join(masks), len(masks)):
                return None
            out += _split_list(f":{sid} BMASK {ts} {name} {mode} ", masks,
                               [len(mask.encode("utf-8")) for mask in masks])
    if channel.topic:
        setter = channel.topic_setter or "*"
        if not _words_ok(setter, 1):
            return None
        out.append(f":{sid} TBURST {ts} {name} {channel.topic_ts} {setter} {_trailing(channel.topic)}")
    return out


def _fit(line: str) -> str:
    """``line`` cut to 510 bytes of UTF-8 on a character boundary, as encode_line cuts."""
    body = line.encode("utf-8", "replace")
    if len(body) <= MAX_LINE - 2:
        return line
    return body[: MAX_LINE - 2].decode("utf-8", "ignore")


def burst_text(network: Network, link: Any) -> list[str]:
    """The lines of :func:`burst_messages` for ``link``, without CR LF, each at most 510 bytes.

    Built as strings; anything our model does not guarantee goes through the
    checked Message path (a line format_message refuses is logged and left out).
    """
    me = network.me
    sid = me.sid
    route = link.route
    owner = has_owner(link)
    lines = _checked_lines(sid_line(s) for s in servers_in_tree_order(network) if not behind(s, link))
    append = lines.append
    for user in list(network.users_by_uid.values()):
        if user.route is route:
            continue
        text = _uid_text(user)
        if text is None:
            lines += _checked_lines([uid_line(user)])
        else:
            append(text)
        if user.certfp:
            lines += _checked_lines(certfp_lines(user))
        if user.away:
            append(f":{user.uid} AWAY :{user.away}")  # free text: always trailing (wire.FREE_TEXT_INDEX)
    for channel in list(network.channels.values()):
        members = [(u, m.status) for u, m in channel.members.items() if u.route is not route]
        if not members:
            continue
        text_lines = _channel_text(sid, channel, members, owner)
        if text_lines is None:
            lines += _checked_lines([*sjoin_lines(sid, channel, members, owner), *bmask_lines(sid, channel),
                                     *([tburst_line(sid, channel)] if channel.topic else [])])
        else:
            lines += text_lines
    append(f":{sid} EOB")
    joined = "\n".join(lines)
    if "\r" in joined or "\x00" in joined or joined.count("\n") != len(lines) - 1:
        # A value with a line break or NUL: never written raw; the checked path refuses it.
        lines = _checked_lines(burst_messages(network, link))
    return [line if len(line) <= 127 else _fit(line) for line in lines]
