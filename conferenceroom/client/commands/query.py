# -*- test-case-name: tests.unit.test_client_query -*-
"""Questions about users and channels: WHO (with WHOX), WHOIS, WHOWAS and LIST.

Answers come from the network state, which holds every user and channel of
the network, so a remote user is described the same way as a local one
(only its idle time is unknown here).  Invisible users (+i) and secret or
private channels (+s, +p) are shown only to those who share them, or to
operators.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ...casemap import fold, is_channel, match
from ...dispatch import command
from ...modes import BOT_MODE, prefix_string
from ...network import Channel, User
from ...wire import Message, ascii_number

if TYPE_CHECKING:
    from ..protocol import ClientConnection

WHOX_FIELDS = "tcuihsnfdlaor"
HIDDEN_CHANNEL_FLAGS = frozenset("sp")
WHO_MAX_MATCHES = 500  # users one WHO by mask shows a non-operator
WHOWAS_REPLY_MAX = 20  # entries one WHOWAS shows


# -- visibility ----------------------------------------------------------------------


def shares_channel(a: User, b: User) -> bool:
    """True if ``a`` and ``b`` are together in at least one channel."""
    small, large = (a, b) if len(a.channels) <= len(b.channels) else (b, a)
    return any(channel in large.channels for channel in small.channels)


def user_visible(asker: User, user: User) -> bool:
    """True if ``asker`` may find ``user`` by a mask (invisible users hide)."""
    return "i" not in user.modes or asker is user or asker.is_oper or shares_channel(asker, user)


def channel_visible(asker: User, channel: Channel) -> bool:
    """True if ``asker`` may see ``channel`` in LIST/WHOIS/WHO (secret ones hide)."""
    return (
        not (channel.flags & HIDDEN_CHANNEL_FLAGS) or asker in channel.members or asker.is_oper
    )


def _multi(conn: "ClientConnection") -> bool:
    return "multi-prefix" in conn.caps


def _idle(conn: "ClientConnection", user: User) -> int:
    """Seconds since ``user`` last spoke (0 for users on other servers)."""
    if not conn.core.router.is_local(user):
        return 0
    return max(0, int(conn.core.clock.seconds() - user.last_active))


# -- WHO ------------------------------------------------------------------------------------


def _who_flags(conn: "ClientConnection", user: User, channel: Channel | None) -> str:
    """``H``/``G``, ``*`` for operators, then the member's channel prefix(es)."""
    flags = "G" if user.away else "H"
    if user.is_oper:
        flags += "*"
    if BOT_MODE in user.modes:
        flags += BOT_MODE
    if channel is not None:
        membership = channel.members.get(user)
        if membership is not None:
            flags += prefix_string(membership.status, _multi(conn))
    return flags


def _who_reply(
    conn: "ClientConnection", user: User, channel: Channel | None,
    fields: str | None, token: str,
) -> Message:
    """One 352 (classic) or 354 (WHOX with ``fields``) line for ``user``."""
    asker = conn.user
    assert asker is not None
    chan_name = channel.name if channel is not None else "*"
    flags = _who_flags(conn, user, channel)
    hops = str(user.server.hopcount)
    server = conn.core.name
    if fields is None:
        params = (conn.nick, chan_name, user.ident, user.host, user.server.name, user.nick,
                  flags, f"{hops} {user.realname}")
        return Message("352", params, server)
    see_real = asker is user or asker.is_oper
    values = {
        "t": token or "0",
        "c": chan_name,
        "u": user.ident,
        "i": (user.ip or "0") if see_real else "255.255.255.255",
        "h": user.host,
        "s": user.server.name,
        "n": user.nick,
        "f": flags,
        "d": hops,
        "l": str(_idle(conn, user)),
        "a": user.account or "0",
        "o": "n/a",
        "r": user.realname,
    }
    out = [values[f] for f in WHOX_FIELDS if f in fields]
    out = [v if v and " " not in v and not v.startswith(":") else "*" for v in out[:-1]] + out[-1:]
    return Message("354", (conn.nick, *out), server)


def _who_matches(asker: User, user: User, mask: str) -> bool:
    """True if ``mask`` matches the user's nick, ident, host, realname or server."""
    candidates = [user.nick, user.ident, user.host, user.realname, user.server.name]
    if asker is user or asker.is_oper:
        candidates += [user.realhost, user.ip]
    return any(match(mask, value) for value in candidates)


@command("WHO", min_params=1, syntax="WHO <mask> [o][%<fields>[,<token>]]")
def handle_who(conn: "ClientConnection", msg: Message) -> None:
    """WHO <mask> [o|%fields[,token]]: 352 or 354 per user, then 315."""
    asker = conn.user
    assert asker is not None
    network = conn.core.network
    mask = msg.params[0]
    options = msg.params[1] if len(msg.params) > 1 else ""
    flag_part, pct, whox = options.partition("%")
    fields: str | None = None
    token = ""
    if pct:
        fields, _, token = whox.partition(",")
    opers_only = "o" in flag_part
    query = "*" if mask in ("", "0") else mask
    # Paced by what the client reads: a WHO of a big channel or of the
    # whole network (for an operator) can run to megabytes.
    conn.send_stream(_who_replies(conn, asker, query, mask, opers_only, fields, token))


def _who_replies(
    conn: "ClientConnection", asker: User, query: str, mask: str, opers_only: bool,
    fields: str | None, token: str,
) -> Iterator[Message]:
    """The 352/354 lines of one WHO, then 416 if cut short, then 315."""
    network = conn.core.network
    if is_channel(query):
        channel = network.find_channel(query)
        if channel is not None:
            member = asker in channel.members
            if member or channel_visible(asker, channel):
                for user in list(channel.members):
                    if opers_only and not user.is_oper:
                        continue
                    if member or user_visible(asker, user):
                        yield _who_reply(conn, user, channel, fields, token)
    else:
        exact = not any(ch in query for ch in "*?")
        # A mask can match the whole network: a non-operator sees at most
        # WHO_MAX_MATCHES users, then 416.
        limit = None if asker.is_oper else WHO_MAX_MATCHES
        shown = 0
        for user in list(network.users_by_uid.values()):
            if opers_only and not user.is_oper:
                continue
            named = exact and fold(user.nick) == fold(query)
            if not named and not (user_visible(asker, user) and _who_matches(asker, user, query)):
                continue
            if limit is not None and shown >= limit:
                yield conn.numeric("ERR_TOOMANYMATCHES", "WHO")
                break
            shown += 1
            yield _who_reply(conn, user, None, fields, token)
    yield conn.numeric("RPL_ENDOFWHO", mask or "*")


# -- WHOIS ------------------------------------------------------------------------------


def _whois_channels(conn: "ClientConnection", asker: User, user: User) -> list[str]:
    """319 payloads: the user's channels the asker may see, with prefixes."""
    see_all = asker is user or asker.is_oper
    items = []
    for channel, membership in user.channels.items():
        shared = asker in channel.members
        if not see_all and not shared:
            if channel.flags & HIDDEN_CHANNEL_FLAGS or "i" in user.modes:
                continue
        items.append(prefix_string(membership.status, _multi(conn)) + channel.name)
    # Each 319 must fit 510 bytes: ":<server> 319 <asker> <nick> :" comes first.
    room = 510 - len(f":{conn.core.name} 319 {conn.nick} {user.nick} :".encode())
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1].encode()) + 1 + len(item.encode()) <= room:
            lines[-1] += " " + item
        else:
            lines.append(item)
    return lines


def send_whois(conn: "ClientConnection", user: User) -> None:
    """Every WHOIS numeric about ``user`` except the final 318."""
    asker = conn.user
    assert asker is not None
    core = conn.core
    conn.reply("RPL_WHOISUSER", user.nick, user.ident, user.host, user.realname)
    for line in _whois_channels(conn, asker, user):
        conn.reply("RPL_WHOISCHANNELS", user.nick, line)
    conn.reply("RPL_WHOISSERVER", user.nick, user.server.name, user.server.description)
    if user.is_oper:
        text = "is a Server Administrator" if "a" in user.oper_flags else "is an IRC operator"
        conn.reply("RPL_WHOISOPERATOR", user.nick, text)
    if user.away:
        conn.reply("RPL_AWAY", user.nick, user.away)
    if BOT_MODE in user.modes:
        conn.reply("RPL_WHOISBOT", user.nick, core.settings.network)
    if user.account:
        conn.reply("RPL_WHOISACCOUNT", user.nick, user.account)
    if user.secure:
        conn.reply("RPL_WHOISSECURE", user.nick)
    if user.certfp and (asker is user or asker.is_oper):
        conn.reply("RPL_WHOISCERTFP", user.nick, user.certfp)
    if asker is user or asker.is_oper:
        conn.reply("RPL_WHOISHOST", user.nick, user.ident, user.realhost, user.ip)
        conn.reply("RPL_WHOISACTUALLY", user.nick, user.ip)
    if core.router.is_local(user):
        conn.reply("RPL_WHOISIDLE", user.nick, _idle(conn, user), int(user.signon))


@command("WHOIS", syntax="WHOIS [<server>] <nick>[,<nick>]")
def handle_whois(conn: "ClientConnection", msg: Message) -> None:
    """WHOIS [<server>] <nick>: 311 ... 318, or 401 then 318."""
    params = [p for p in msg.params if p]
    if not params:
        conn.reply("ERR_NONICKNAMEGIVEN")
        return
    network = conn.core.network
    if len(params) > 1:
        server = params[0]
        if network.find_server(server) is None and network.find_user(server) is None and not any(
            match(server, s.name) for s in network.servers.values()
        ):
            conn.reply("ERR_NOSUCHSERVER", server)
            return
    targets = [t for t in params[-1].split(",") if t]
    if not targets:
        conn.reply("ERR_NONICKNAMEGIVEN")
        return
    if len({fold(t) for t in targets}) > 1:  # TARGMAX WHOIS:1
        conn.reply("ERR_TOOMANYTARGETS", targets[1], "the maximum is 1")
        return
    nick = targets[0]
    user = network.find_user(nick)
    if user is not None and len(params) > 1 and not user.is_local and _names_users_server(params[0], user):
        # WHOIS <nick> <nick> (or <server> <nick>): the user's own server
        # answers, idle time included; its replies end with 318.
        conn.core.router.deliver(conn.user, user, "WHOIS", (user.nick, user.nick))
        return
    if user is None:
        conn.reply("ERR_NOSUCHNICK", nick)
    else:
        send_whois(conn, user)
    conn.reply("RPL_ENDOFWHOIS", nick if user is None else user.nick)


def _names_users_server(word: str, user: User) -> bool:
    """True if ``word`` (WHOIS's first parameter) is ``user``'s nick or its server's name or mask."""
    return fold(word) == fold(user.nick) or match(word, user.server.name)


# -- WHOWAS -----------------------------------------------------------------------------


@command("WHOWAS", syntax="WHOWAS <nick> [<count>]")
def handle_whowas(conn: "ClientConnection", msg: Message) -> None:
    """WHOWAS <nick> [<count>]: 314 and 312 per entry, newest first, then 369."""
    nick = msg.params[0].split(",")[0] if msg.params else ""
    if not nick:
        conn.reply("ERR_NONICKNAMEGIVEN")
        return
    count = (ascii_number(msg.params[1]) if len(msg.params) > 1 else None) or 0
    # A nick, not a mask (RFC 2812 3.6.3), and never more than WHOWAS_REPLY_MAX entries.
    limit = min(count, WHOWAS_REPLY_MAX) if count > 0 else WHOWAS_REPLY_MAX
    wanted = fold(nick)
    found = 0
    for entry in reversed(conn.core.network.whowas):
        if fold(entry.nick) != wanted:
            continue
        when = datetime.fromtimestamp(entry.when, timezone.utc).strftime("%a %b %d %H:%M:%S %Y")
        conn.reply("RPL_WHOWASUSER", entry.nick, entry.ident, entry.host, entry.realname)
        conn.reply("RPL_WHOISSERVER", entry.nick, entry.server, when)
        found += 1
        if found >= limit:
            break
    if not found:
        conn.reply("ERR_WASNOSUCHNICK", nick)
    conn.reply("RPL_ENDOFWHOWAS", nick)


# -- LIST -------------------------------------------------------------------------------------


class _ListFilter:
    """LIST parameters: channel names, ELIST masks (M, N) and conditions (C, T, U)."""

    def __init__(self, spec: str, now: float) -> None:
        self.now = now
        self.names: set[str] = set()
        self.masks: list[str] = []
        self.not_masks: list[str] = []
        self.tests: list[tuple[str, str, int]] = []  # (what, "<"|">", value)
        for item in spec.split(","):
            item = item.strip()
            if item:
                self._add(item)

    def _add(self, item: str) -> None:
        what, body = "U", item
        if item[:1].upper() in ("C", "T") and item[1:2] in ("<", ">"):
            what, body = item[0].upper(), item[1:]
        number = ascii_number(body[1:])  # not "²"
        if body[:1] in ("<", ">") and number is not None:
            self.tests.append((what, body[0], number))
        elif item.startswith("!"):
            self.not_masks.append(item[1:])
        elif any(ch in item for ch in "*?"):
            self.masks.append(item)
        else:
            self.names.add(fold(item))

    def accepts(self, channel: Channel) -> bool:
        """True if ``channel`` passes every given condition."""
        if self.names and fold(channel.name) not in self.names:
            return False
        if self.masks and not any(match(m, channel.name) for m in self.masks):
            return False
        if any(match(m, channel.name) for m in self.not_masks):
            return False
        for what, op, value in self.tests:
            if what == "U":
                amount: float = len(channel.members)
            elif what == "C":
                amount = (self.now - channel.ts) / 60.0
            else:
                if not channel.topic_ts:
                    return False
                amount = (self.now - channel.topic_ts) / 60.0
            if op == ">" and not amount > value:
                return False
            if op == "<" and not amount < value:
                return False
        return True


@command("LIST", penalty=2, syntax="LIST [<channel>{,<channel>}|<elist condition>{,...}]")
def handle_list(conn: "ClientConnection", msg: Message) -> None:
    """LIST [<channels or ELIST conditions>]: 321, one 322 per channel, 323."""
    asker = conn.user
    assert asker is not None
    spec = msg.params[0] if msg.params else ""
    wanted = _ListFilter(spec, conn.core.clock.seconds())
    # Paced by what the client reads (SAFELIST): the whole list always arrives.
    conn.send_stream(_list_replies(conn, asker, wanted))


def _list_replies(conn: "ClientConnection", asker: User, wanted: _ListFilter) -> Iterator[Message]:
    """321, a 322 per matching channel (still existing when its turn comes), 323."""
    yield conn.numeric("RPL_LISTSTART")
    for channel in list(conn.core.network.channels.values()):
        if not channel.members or not channel_visible(asker, channel) or not wanted.accepts(channel):
            continue
        letters = channel.mode_string(show_key=False)[0]
        parts = [f"[{letters}]" if len(letters) > 1 else "", channel.topic]
        yield conn.numeric("RPL_LIST", channel.name, len(channel.members), " ".join(p for p in parts if p))
    yield conn.numeric("RPL_LISTEND")
