# -*- test-case-name: tests.unit.test_services_host -*-
"""Services aliases: NS, CS, MS, OS (and NICKSERV, CHANSERV, MEMOSERV, OPERSERV).

``/ns identify secret`` is ``PRIVMSG NickServ :identify secret``, sent only
to a services user (one on a services server, here or anywhere on the
network), never to an ordinary user who took the nick: when no services
are reachable the client gets 440 ERR_SERVICESDOWN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...dispatch import command
from ...network import User
from ...wire import Message

if TYPE_CHECKING:
    from ..protocol import ClientConnection


def is_service_user(user: User) -> bool:
    """True if ``user`` is a services pseudo-user (ours, or of a services server elsewhere)."""
    return bool(getattr(user.route, "decides_here", False)) or user.server.name.lower().startswith("services.")


def _alias(conn: "ClientConnection", msg: Message, nick: str) -> None:
    user = conn.user
    assert user is not None
    text = " ".join(msg.params).strip()
    bot = conn.core.network.find_user(nick)
    if bot is None or not is_service_user(bot):
        conn.reply("ERR_SERVICESDOWN", nick)
        return
    if not text:
        text = "HELP"
    conn.core.router.deliver(user, bot, "PRIVMSG", (bot.nick, text))


def _make(verb: str, nick: str) -> None:
    def handler(conn: "ClientConnection", msg: Message) -> None:
        _alias(conn, msg, nick)

    handler.__doc__ = f"{verb} <command> [<arguments>]: the same as /msg {nick} <command> [<arguments>]."
    handler.__name__ = f"handle_{verb.lower()}"
    globals()[handler.__name__] = command(verb, syntax=f"{verb} <command> [<arguments>]")(handler)


for _short, _long, _nick in (("NS", "NICKSERV", "NickServ"), ("CS", "CHANSERV", "ChanServ"),
                             ("MS", "MEMOSERV", "MemoServ"), ("OS", "OPERSERV", "OperServ")):
    _make(_short, _nick)
    _make(_long, _nick)
