# -*- test-case-name: tests.unit.test_client_welcome -*-
"""The replies a client gets on registering: 001-005, LUSERS and MOTD.

LUSERS and MOTD are also commands of their own (``info.py``) and call the
same functions here.  For a client without capabilities or a label (its
lines carry no tags) the whole welcome is one bytes ``%`` format, built once
per settings snapshot and MOTD by encoding every line with markers for what
varies (the nick, the user's mask, the LUSERS counts); filling it in is one
C-level operation and the welcome goes out in one write.  The bytes are
those of line-by-line sending; a snapshot or client where they might not be
(a marker in the text, a line that could need cutting) takes that path.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..limits import NICKLEN
from ..numerics import isupport_lines, numeric
from ..wire import MAX_LINE, encode_line

if TYPE_CHECKING:
    from .protocol import ClientConnection

#: What stands for each varying value while the template is encoded (``@`` is in no nick).
_MARKER = re.compile(rb"@(nick|mask|n[0-9]+)@")
_LUSERS = ("RPL_LUSERCLIENT", "RPL_LUSEROP", "RPL_LUSERUNKNOWN", "RPL_LUSERCHANNELS", "RPL_LUSERME",
           "RPL_LOCALUSERS", "RPL_GLOBALUSERS")
_LUSERS_ARGS = (3, 1, 1, 1, 2, 2, 2)
_LUSERS_CODES = frozenset(("251", "252", "253", "254", "255", "265", "266"))
_COUNT_NAMES = frozenset(b"n%d" % i for i in range(sum(_LUSERS_ARGS)))
_INT_WIDTH = 20  # digits a count could take, for the length bound
_BODY = MAX_LINE - 2  # longest line without CR LF
_NICK_BOUND, _MASK_BOUND = 4 * NICKLEN, 200  # bytes: lines that fit with these never need cutting


class _Template:
    """The welcome as one bytes ``%`` format and what to fill in, for one settings snapshot."""

    __slots__ = ("key", "format", "order", "lines", "risky")

    def __init__(self, key: tuple[Any, ...]) -> None:
        self.key = key
        self.format = b""
        self.order: list[int] = []  # per ``%`` slot: 0 nick, 1 mask, 2+ the LUSERS counts
        self.lines = 0  # 0: this snapshot always takes the line-by-line path
        #: lines that might need cutting for long values: (fixed length, nicks, masks) each
        self.risky: list[tuple[int, int, int]] = []


def _build(conn: "ClientConnection", key: tuple[Any, ...]) -> _Template:
    """Encode the whole welcome with markers and check every line reads back exactly; else a dead template."""
    core = conn.core
    name = core.name
    counts = iter(range(sum(_LUSERS_ARGS)))
    messages = [
        numeric("RPL_WELCOME", name, "@nick@", core.settings.network, "@mask@"),
        numeric("RPL_YOURHOST", name, "@nick@", name, core.version),
        numeric("RPL_CREATED", name, "@nick@", core.created),
        numeric("RPL_MYINFO", name, "@nick@", name, *core.myinfo()),
        *isupport_lines(name, "@nick@", core.isupport()),
        *(numeric(which, name, "@nick@", *(f"@n{next(counts)}@" for _ in range(n)))
          for which, n in zip(_LUSERS, _LUSERS_ARGS)),
    ]
    motd = core.motd_lines
    if motd:
        messages += [numeric("RPL_MOTDSTART", name, "@nick@", name),
                     *(numeric("RPL_MOTD", name, "@nick@", line) for line in motd),
                     numeric("RPL_ENDOFMOTD", name, "@nick@")]
    else:
        messages.append(numeric("ERR_NOMOTD", name, "@nick@"))
    template = _Template(key)
    parts: list[bytes] = []
    for msg in messages:
        data = encode_line(msg)
        pieces = _MARKER.split(data)
        names = pieces[1::2]
        expected_mask = 1 if msg.command == "001" else 0
        ints = {n for n in names if n not in (b"nick", b"mask")}
        wanted = {p.encode()[1:-1] for p in msg.params if _MARKER.fullmatch(p.encode())} - {b"nick", b"mask"}
        if msg.command in _LUSERS_CODES:  # the counts are in the text too (265/266)
            wanted |= ints if ints <= _COUNT_NAMES else {b"?"}
        if (names.count(b"nick") != 1 or names.count(b"mask") != expected_mask or ints != wanted
                or len(data) - 2 >= _BODY):
            return _Template(key)  # a marker is also in the text, or the line may have been cut
        fixed = len(data) - 2 - sum(len(n) + 2 for n in names)
        numbers = len(names) - 1 - expected_mask  # count slots in this line
        if fixed + _NICK_BOUND + expected_mask * _MASK_BOUND + _INT_WIDTH * numbers >= _BODY:
            template.risky.append((fixed + _INT_WIDTH * numbers, 1, expected_mask))
        for i, piece in enumerate(pieces):
            if i % 2 == 0:
                parts.append(piece.replace(b"%", b"%%"))
            elif piece in (b"nick", b"mask"):
                parts.append(b"%s")
                template.order.append(0 if piece == b"nick" else 1)
            else:
                parts.append(b"%d")
                template.order.append(2 + int(piece[1:]))
    template.format = b"".join(parts)
    template.lines = len(messages)
    return template


def _template(conn: "ClientConnection") -> _Template:
    """The template for the current settings, name and MOTD (built again after any change)."""
    core = conn.core
    motd = core.motd_lines
    settings = core.settings
    cached: _Template | None = getattr(core, "welcome_template", None)
    if cached is not None:
        was = cached.key
        if (was[0] is settings and was[1] is core.name and was[2] is core.isupport() and was[3] is motd
                and was[4] == len(motd or ())):
            return cached
    key = (settings, core.name, core.isupport(), motd, len(motd or ()))
    cached = core.welcome_template = _build(conn, key)
    return cached


def _fast_welcome(conn: "ClientConnection") -> bool:
    """Write the whole welcome at once from the template; False when this client needs line by line."""
    user = conn.user
    if conn._profile is not None or conn.label is not None or user is None:
        return False  # tags (server-time, batch, label) are added per line
    template = _template(conn)
    if not template.lines:
        return False
    nick = user.nick.encode("utf-8", "replace")
    mask = user.mask.encode("utf-8", "replace")
    if len(nick) > _NICK_BOUND or len(mask) > _MASK_BOUND:
        return False
    for fixed, nicks, masks in template.risky:
        if fixed + nicks * len(nick) + masks * len(mask) >= _BODY:
            return False
    values = [nick, mask, *_lusers_counts(conn)]
    data = template.format % tuple(map(values.__getitem__, template.order))
    conn.send_encoded(data, template.lines)  # after anything held, in one write
    return True


def send_welcome(conn: "ClientConnection") -> None:
    """001 to 005, then LUSERS and MOTD, as after registration."""
    if _fast_welcome(conn):
        return
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


def _lusers_counts(conn: "ClientConnection") -> tuple[int, ...]:
    """The numbers of RPL_LUSERCLIENT .. RPL_GLOBALUSERS, in order (see :data:`_LUSERS_ARGS`)."""
    core = conn.core
    network = core.network
    users = len(network.users_by_uid)
    invisible = len(network.by_mode["i"])
    local = len(network.me.users)
    me = network.me
    servers = network.servers
    known = len(servers)
    linked = sum(1 for s in servers.values() if s.uplink is me) if known > 1 else 0  # 1: only us
    return (users - invisible, invisible, known, len(network.by_mode["o"]),
            max(0, len(core.connections) - local), len(network.channels), local, linked,
            local, max(network.max_local, local), users, max(network.max_global, users))


def send_lusers(conn: "ClientConnection") -> None:
    """RPL_LUSERCLIENT .. RPL_GLOBALUSERS."""
    counts = iter(_lusers_counts(conn))
    for which, n in zip(_LUSERS, _LUSERS_ARGS):
        conn.reply(which, *(next(counts) for _ in range(n)))


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
