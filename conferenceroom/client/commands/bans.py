# -*- test-case-name: tests.unit.test_client_bans -*-
"""KLINE, UNKLINE, DLINE, UNDLINE: the everyday ban commands of other servers.

Each is a thin alias over the admin tree: ``KLINE 2h *@bad.example :spam``
runs ``AS SECURITY KLINE ADD *@bad.example 2h :spam`` through
:func:`~conferenceroom.client.commands.admin.run_admin_command`, so the ban
is checked, saved, enforced and reported exactly as the AS command does.
DLINE is a Z-line (``AS SECURITY ZLINE``).

The arguments follow ircd-hybrid: ``KLINE [duration] <user@host|nick> [ON
<server>] :[reason]``, a duration being minutes or ``30m``, ``2h``, ``1d``,
``1w``; a nick stands for ``*@`` its host (DLINE: its IP address).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...admin.types import parse_duration
from ...casemap import match
from ...dispatch import command
from ...wire import Message
from .admin import run_admin_command

if TYPE_CHECKING:
    from ..protocol import ClientConnection


def _split(conn: "ClientConnection", params: tuple[str, ...]) -> tuple[str, str, str] | None:
    """(duration, target, reason) of ``[duration] <target> [ON <server>] :[reason]``.

    None (after a 402) when ``ON`` names a server other than this one.
    """
    rest = list(params)
    duration = "0"
    if len(rest) >= 2:
        try:
            parse_duration(rest[0])
        except ValueError:
            pass
        else:
            duration = rest.pop(0)
    target = rest.pop(0)
    if len(rest) >= 2 and rest[0].upper() == "ON":
        server = rest[1]
        rest = rest[2:]
        if not match(server, conn.core.name):
            conn.reply("ERR_NOSUCHSERVER", server)
            return None
    reason = " ".join(rest).strip()
    return duration, target, reason


def _run(conn: "ClientConnection", kind: str, verb: str, mask: str, extra: list[str]) -> Any:
    return run_admin_command(conn, ["security", kind, verb, mask, *extra])


def _of_nick(conn: "ClientConnection", nick: str, attribute: str) -> str | None:
    """The real host or IP (``attribute``) of the user ``nick``; 401 and None if there is none."""
    user = conn.core.network.find_user(nick)
    if user is None:
        conn.reply("ERR_NOSUCHNICK", nick)
        return None
    return str(getattr(user, attribute))


def _reason_words(duration: str, reason: str) -> list[str]:
    # The reason is marked with ':' so one starting like a duration stays a reason.
    return [duration, *(":" + reason).split()] if reason else [duration]


@command("KLINE", min_params=1, oper="ac", penalty=2,
         syntax="KLINE [<duration>] <user@host|nick> [ON <server>] :[<reason>]")
def handle_kline(conn: "ClientConnection", msg: Message) -> Any:
    """KLINE [duration] <user@host|nick> :[reason]: ban user@host from this
    server (saved and enforced like AS SECURITY KLINE ADD); duration in
    minutes or like 30m, 2h, 1d, 1w; none means permanent."""
    parts = _split(conn, msg.params)
    if parts is None:
        return None
    duration, target, reason = parts
    if "@" not in target and ("." in target or ":" in target):
        target = f"*@{target}"  # a bare host, as other servers read it
    elif "@" not in target:
        host = _of_nick(conn, target, "realhost")
        if host is None:
            return None
        target = f"*@{host}"
    return _run(conn, "kline", "add", target, _reason_words(duration, reason))


@command("UNKLINE", min_params=1, oper="ac", penalty=2, syntax="UNKLINE <user@host> [ON <server>]")
def handle_unkline(conn: "ClientConnection", msg: Message) -> Any:
    """UNKLINE <user@host>: remove a K-line (like AS SECURITY KLINE DEL)."""
    parts = _split(conn, msg.params)
    if parts is None:
        return None
    return _run(conn, "kline", "del", parts[1], [])


@command("DLINE", min_params=1, oper="ac", penalty=2,
         syntax="DLINE [<duration>] <ip|cidr|nick> [ON <server>] :[<reason>]")
def handle_dline(conn: "ClientConnection", msg: Message) -> Any:
    """DLINE [duration] <ip|cidr|nick> :[reason]: refuse connections from an
    address or network (saved and enforced like AS SECURITY ZLINE ADD)."""
    parts = _split(conn, msg.params)
    if parts is None:
        return None
    duration, target, reason = parts
    if "." not in target and ":" not in target:
        address = _of_nick(conn, target, "ip")
        if address is None:
            return None
        target = address
    return _run(conn, "zline", "add", target, _reason_words(duration, reason))


@command("UNDLINE", min_params=1, oper="ac", penalty=2, syntax="UNDLINE <ip|cidr> [ON <server>]")
def handle_undline(conn: "ClientConnection", msg: Message) -> Any:
    """UNDLINE <ip|cidr>: remove a D-line (like AS SECURITY ZLINE DEL)."""
    parts = _split(conn, msg.params)
    if parts is None:
        return None
    return _run(conn, "zline", "del", parts[1], [])
