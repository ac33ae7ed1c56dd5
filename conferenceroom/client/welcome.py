# -*- test-case-name: tests.unit.test_client_registration -*-
"""The replies a client gets on registering: 001-005, LUSERS and MOTD.

LUSERS and MOTD are also commands of their own (``info.py``) and call the
same functions here.  For a client without capabilities or a label (the
lines carry no tags), the lines that do not vary per client (002-005, MOTD)
are encoded once per settings snapshot and MOTD with a placeholder for the
nick, and the whole welcome is one write: the same bytes, far less work.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..limits import NICKLEN
from ..numerics import isupport_lines, numeric
from ..wire import MAX_LINE, encode_line

if TYPE_CHECKING:
    from .protocol import ClientConnection

#: Stands for the nick while the shared lines are encoded (never a valid nick: it has an ``@``).
_PLACEHOLDER = "@nick@"
_PLACEHOLDER_BYTES = _PLACEHOLDER.encode()


class _Template:
    """The encoded lines of the welcome that are the same for every client but for the nick."""

    __slots__ = ("key", "head", "motd", "lines", "room", "per_client")

    def __init__(self, key: tuple[Any, ...], head: list[bytes], motd: list[bytes], lines: int, room: int) -> None:
        self.key = key
        #: 001 and LUSERS encoded with placeholders for the nick and each argument (None: build per client)
        self.per_client: dict[str, list[bytes] | None] = {}
        self.head = head  # 002-005 split around the nick
        self.motd = motd  # MOTD (or 422) split around the nick
        self.lines = lines
        self.room = room  # the longest nick (in bytes) for which no line needs cutting


def _split(messages: list[Any]) -> tuple[list[bytes], int] | None:
    """``messages`` (to the placeholder) encoded and split around it; None if it cannot be done exactly."""
    room = MAX_LINE - 2
    encoded = []
    for msg in messages:
        data = encode_line(msg)
        body = len(data) - 2
        if data.count(_PLACEHOLDER_BYTES) != 1 or body >= MAX_LINE - 2:
            return None  # the placeholder is also in the text, or the line may have been cut
        room = min(room, MAX_LINE - 2 - (body - len(_PLACEHOLDER_BYTES)))
        encoded.append(data)
    return b"".join(encoded).split(_PLACEHOLDER_BYTES), room


def _template(conn: "ClientConnection") -> _Template | None:
    """The template for the current settings, MOTD and name (built on first use after a change)."""
    core = conn.core
    tokens = core.isupport()
    motd = core.motd_lines
    key = (core.settings, core.name, tokens, motd, len(motd or ()))
    cached: _Template | None = getattr(core, "welcome_template", None)
    if cached is not None and all(a is b for a, b in zip(cached.key, key)) and cached.key[4] == key[4]:
        return cached if cached.lines else None
    name = core.name
    head = [
        numeric("RPL_YOURHOST", name, _PLACEHOLDER, name, core.version),
        numeric("RPL_CREATED", name, _PLACEHOLDER, core.created),
        numeric("RPL_MYINFO", name, _PLACEHOLDER, name, *core.myinfo()),
        *isupport_lines(name, _PLACEHOLDER, tokens),
    ]
    tail = [numeric("ERR_NOMOTD", name, _PLACEHOLDER)] if not motd else [
        numeric("RPL_MOTDSTART", name, _PLACEHOLDER, name),
        *(numeric("RPL_MOTD", name, _PLACEHOLDER, line) for line in motd),
        numeric("RPL_ENDOFMOTD", name, _PLACEHOLDER),
    ]
    split_head, split_tail = _split(head), _split(tail)
    if split_head is None or split_tail is None:
        template = _Template(key, [], [], 0, 0)  # this snapshot always takes the slow path
    else:
        room = min(split_head[1], split_tail[1], NICKLEN * 4)
        template = _Template(key, split_head[0], split_tail[0], len(head) + len(tail), room)
    core.welcome_template = template
    return template if template.lines else None


def _fast_welcome(conn: "ClientConnection") -> bool:
    """Write the whole welcome at once from the template; False when this client needs the slow path."""
    if conn._profile is not None or conn.label is not None:
        return False  # tags (server-time, batch, label) are added per line
    template = _template(conn)
    user = conn.user
    if template is None or user is None:
        return False
    nick = user.nick.encode("utf-8", "replace")
    if len(nick) > template.room:
        return False
    core = conn.core
    name = core.name
    lusers = _lusers(conn)
    data = b"".join([
        _filled(template, conn, nick, "RPL_WELCOME", (core.settings.network, user.mask)),
        nick.join(template.head),
        *(_filled(template, conn, nick, which, args) for which, args in lusers),
        nick.join(template.motd),
    ])
    if conn.closing or conn.dead or conn.transport is None:
        return True
    count = 1 + len(lusers) + template.lines
    conn.transport.write(data)
    conn.bytes_out += len(data)
    conn.lines_out += count
    conn._writes += count
    return True


_MARKER = re.compile(rb"@(nick|[0-9]+)@")


def _filled(template: _Template, conn: "ClientConnection", nick: bytes, which: str, args: tuple[Any, ...]) -> bytes:
    """Numeric ``which`` to this client encoded: its placeholder line filled in, or built whole when
    the line has none (a marker also in the text) or would need cutting."""
    cache = template.per_client
    if which not in cache:
        msg = numeric(which, conn.core.name, _PLACEHOLDER, *(f"@{i}@" for i in range(len(args))))
        data = encode_line(msg)
        pieces = _MARKER.split(data)  # literal, marker name, literal, ...
        names = pieces[1::2]
        expected = [b"nick", *(str(i).encode() for i in range(len(args)))]
        cache[which] = pieces if len(data) - 2 < MAX_LINE - 2 and sorted(names) == sorted(expected) else None
    pieces = cache[which]
    if pieces is not None:
        values = {b"nick": nick, **{str(i).encode(): str(arg).encode("utf-8", "replace") for i, arg in enumerate(args)}}
        line = b"".join(values[piece] if i % 2 else piece for i, piece in enumerate(pieces))
        if len(line) - 2 < MAX_LINE - 2:
            return line
    user = conn.user
    assert user is not None
    return encode_line(numeric(which, conn.core.name, user.nick, *args))


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


def _lusers(conn: "ClientConnection") -> list[tuple[str, tuple[int, ...]]]:
    """RPL_LUSERCLIENT .. RPL_GLOBALUSERS: each numeric's name and arguments."""
    core = conn.core
    network = core.network
    users = network.users_by_uid
    invisible = len(network.by_mode["i"])
    opers = len(network.by_mode["o"])
    local = len(network.me.users)
    unknown = max(0, len(core.connections) - local)
    linked = sum(1 for s in network.servers.values() if s.uplink is network.me)
    return [
        ("RPL_LUSERCLIENT", (len(users) - invisible, invisible, len(network.servers))),
        ("RPL_LUSEROP", (opers,)),
        ("RPL_LUSERUNKNOWN", (unknown,)),
        ("RPL_LUSERCHANNELS", (len(network.channels),)),
        ("RPL_LUSERME", (local, linked)),
        ("RPL_LOCALUSERS", (local, max(network.max_local, local))),
        ("RPL_GLOBALUSERS", (len(users), max(network.max_global, len(users)))),
    ]


def send_lusers(conn: "ClientConnection") -> None:
    """RPL_LUSERCLIENT .. RPL_GLOBALUSERS."""
    for which, args in _lusers(conn):
        conn.reply(which, *args)


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
