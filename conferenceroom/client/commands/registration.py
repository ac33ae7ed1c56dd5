# -*- test-case-name: tests.unit.test_client_registration -*-
"""Registration and connection commands: CAP, PASS, NICK, USER, PING, PONG, QUIT."""

from __future__ import annotations

from sys import intern
from typing import TYPE_CHECKING

from ...casemap import valid_nick
from ...limits import NICKLEN, REALNAMELEN
from ...dispatch import command
from ...network import User
from .. import sasl
from ...wire import Message, ascii_number
from ..caps import sts_capability
from ..welcome import send_welcome

if TYPE_CHECKING:
    from ..protocol import ClientConnection

USERLEN = 10
QUITLEN = 300  # longer QUIT reasons are cut, so the QUIT line peers get still fits


# -- CAP ------------------------------------------------------------------


def _cap_reply(conn: "ClientConnection", sub: str, text: str) -> None:
    conn.send(Message("CAP", (conn.nick, sub, text), conn.core.name))


def _cap_ls(conn: "ClientConnection", version: int) -> None:
    caps = list(conn.core.capabilities.values())
    if version >= 302:
        conn.cap_version = max(conn.cap_version, 302)
        conn.caps = conn.caps | {"cap-notify"}
    sts = sts_capability(conn.core.settings, conn.secure) if conn.cap_version >= 302 else None
    if sts is not None:  # a policy needs its value: only 302 clients see it
        caps.append(sts)
    items = []
    for cap in caps:
        items.append(f"{cap.name}={cap.value}" if cap.value and conn.cap_version >= 302 else cap.name)
    # Split long lists over several lines; "*" marks that more follow (302 only).
    lines: list[list[str]] = [[]]
    for item in items:
        if sum(len(i) + 1 for i in lines[-1]) + len(item) > 380:
            lines.append([])
        lines[-1].append(item)
    for i, chunk in enumerate(lines):
        more = i < len(lines) - 1
        if more and conn.cap_version >= 302:
            conn.send(Message("CAP", (conn.nick, "LS", "*", " ".join(chunk)), conn.core.name))
        else:
            _cap_reply(conn, "LS", " ".join(chunk))


def _cap_req(conn: "ClientConnection", text: str) -> None:
    wanted = text.split()
    caps = conn.core.capabilities
    names = [w[1:] if w.startswith("-") else w for w in wanted]
    if not wanted or any(name not in caps for name in names):
        _cap_reply(conn, "NAK", text)
        return
    removed = {word[1:] for word in wanted if word.startswith("-")}
    added = {word for word in wanted if not word.startswith("-")}
    conn.caps = (conn.caps - removed) | added
    _cap_reply(conn, "ACK", text)


@command("CAP", min_params=1, registered=False, syntax="CAP <subcommand> [:<capabilities>]")
def handle_cap(conn: "ClientConnection", msg: Message) -> None:
    """CAP LS [302] | LIST | REQ :<caps> | END"""
    sub = msg.params[0].upper()
    pending = conn.pending
    if sub == "LS":
        if pending is not None:
            pending.cap_negotiating = True
        version = (ascii_number(msg.params[1]) if len(msg.params) > 1 else None) or 0
        _cap_ls(conn, version)
    elif sub == "LIST":
        _cap_reply(conn, "LIST", " ".join(sorted(conn.caps)))
    elif sub == "REQ":
        if pending is not None:
            pending.cap_negotiating = True
        if len(msg.params) < 2:
            conn.reply("ERR_NEEDMOREPARAMS", "CAP")
            return
        _cap_req(conn, msg.params[1])
    elif sub == "END":
        if pending is not None:
            pending.cap_negotiating = False
            try_register(conn)
    else:
        conn.reply("ERR_INVALIDCAPCMD", msg.params[0])


# -- PASS / NICK / USER ------------------------------------------------------


@command("PASS", min_params=1, registered=False, syntax="PASS <password>")
def handle_pass(conn: "ClientConnection", msg: Message) -> None:
    """PASS <password>: only before registration."""
    if conn.pending is None:
        conn.reply("ERR_ALREADYREGISTERED")
        return
    conn.pending.password = msg.params[0]


@command("NICK", registered=False, penalty=2, syntax="NICK <nickname>")
def handle_nick(conn: "ClientConnection", msg: Message) -> None:
    """NICK <nickname>: choose or change the nickname."""
    if not msg.params or not msg.params[0]:
        conn.reply("ERR_NONICKNAMEGIVEN")
        return
    nick = msg.params[0]
    if not valid_nick(nick, NICKLEN):
        conn.reply("ERR_ERRONEUSNICKNAME", nick)
        return
    network = conn.core.network
    user = conn.user
    if not network.nick_available(nick, user):
        conn.reply("ERR_NICKNAMEINUSE", nick)
        return
    if user is None:
        assert conn.pending is not None
        conn.pending.nick = nick
        try_register(conn)
        return
    if nick == user.nick:
        return
    network.change_nick(user, nick)


@command("USER", min_params=4, registered=False, syntax="USER <username> 0 * :<realname>")
def handle_user(conn: "ClientConnection", msg: Message) -> None:
    """USER <username> <mode> <unused> :<realname>"""
    pending = conn.pending
    if pending is None:
        conn.reply("ERR_ALREADYREGISTERED")
        return
    if pending.ident is not None:
        return
    name = msg.params[0]
    if name.isascii() and name.isprintable() and not ("@" in name or "!" in name or ":" in name or " " in name):
        cleaned = name  # the usual user name: nothing to take out
    else:
        cleaned = "".join(ch for ch in name if ch.isascii() and ch.isprintable() and ch not in " @!:")
    if not cleaned:
        cleaned = "user"
    # Interned: clients often share an ident or real name (a client's default), and equal ones
    # then share one string (CPython drops an interned string with its last user).
    pending.ident = intern(("~" + cleaned)[:USERLEN])
    pending.realname = intern(msg.params[3][:REALNAMELEN])
    try_register(conn)


def try_register(conn: "ClientConnection") -> None:
    """Complete registration once NICK and USER are in and CAP is over."""
    pending = conn.pending
    if pending is None or pending.nick is None or pending.ident is None or pending.cap_negotiating:
        return
    core = conn.core
    network = core.network
    if not network.nick_available(pending.nick):
        conn.reply("ERR_NICKNAMEINUSE", pending.nick)
        pending.nick = None
        return
    found = core.find_ban(pending.ident, conn.host, conn.ip)
    if found is not None:
        core.refuse_banned(conn, found, pending.ident, pending.nick)
        return
    uid, account = sasl.before_registration(conn)
    now = core.clock.seconds()
    user = User(
        uid or network.next_uid(), pending.nick, pending.ident, conn.host, pending.realname or "",
        network.me, conn, ip=conn.ip, signon=now,
    )
    if conn.secure:
        user.set_mode("z")
        user.certfp = conn.certfp
    if account:  # logged in by SASL while registering (add_user derives +r from it and the nick)
        user.account = account
    conn.pending = None
    conn.user = user
    network.add_user(user)
    conn.start_ping_timer()
    send_welcome(conn)
    if user.modes:  # +z, +r (identified for this nick) and so on
        conn.send(Message("MODE", (user.nick, "+" + "".join(sorted(user.modes))), user.nick))


# -- PING / PONG / QUIT ---------------------------------------------------------


@command("PING", min_params=1, registered=False, syntax="PING <token>")
def handle_ping(conn: "ClientConnection", msg: Message) -> None:
    """PING <token>: answered with PONG <server> :<token>."""
    if msg.params[0] == "":
        conn.reply("ERR_NOORIGIN")
        return
    conn.send(Message("PONG", (conn.core.name, msg.params[0]), conn.core.name))


@command("PONG", registered=False, syntax="PONG <token>")
def handle_pong(conn: "ClientConnection", msg: Message) -> None:
    """PONG <token>: proof of life (any input resets the ping timer)."""


@command("QUIT", registered=False, syntax="QUIT [:<reason>]")
def handle_quit(conn: "ClientConnection", msg: Message) -> None:
    """QUIT [:<reason>]: leave the network."""
    text = msg.params[0][:QUITLEN] if msg.params else ""
    conn.close(f"Quit: {text}" if text else "Client Quit")
