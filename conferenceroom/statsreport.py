# -*- test-case-name: tests.unit.test_client_info,tests.unit.test_link_remote_stats -*-
"""The rows of a STATS report, for a local client (client/commands/info.py) or a remote one (link/remoteops.py).

Each row is ``(numeric name, args)``; the caller sends them with its own
``reply`` and ends with 219.  Pure over the core's state: no client or link
imports, so both sides use the same rows.
"""

from __future__ import annotations

from typing import Any, Iterator

from .admin.settings import BanEntry
from .admin.types import format_duration
from .sendq import queued_bytes

Row = tuple[str, tuple[Any, ...]]

#: STATS letters only operators may ask for (as on hybrid and Solanum).
OPER_ONLY_STATS = "oOkKzZcC"


def uptime_parts(seconds: float) -> tuple[int, int, int, int]:
    """Days, hours, minutes and seconds in ``seconds``."""
    total = max(int(seconds), 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return days, hours, minutes, secs


def stats_rows(core: Any, letter: str, *, oper: bool, own: Any = None) -> Iterator[Row]:
    """The rows of ``STATS <letter>`` for an asker who is (or is not) an operator.

    *own* is the asker's own local user (a non-operator's STATS l shows only
    that connection; None for a remote asker).  Oper-only letters are the
    caller's to refuse (481) before asking for rows.
    """
    if letter == "u":
        yield "RPL_STATSUPTIME", uptime_parts(core.clock.seconds() - core.boot_time)
    elif letter in "oO":
        for _, entry in sorted(core.settings.opers.items()):
            for mask in entry.access or ("*@*",):
                yield "RPL_STATSOLINE", (mask, entry.name, entry.flag_string or "-")
    elif letter in "lL":
        yield from _links(core, oper, own, show_ip=letter == "L")
    elif letter == "m":
        for verb, count in sorted(core.commands.counts.items()):
            if count:
                yield "RPL_STATSCOMMANDS", (verb, count, 0, 0)
    elif letter in "kK":
        yield from _bans(core, "RPL_STATSKLINE", (("K", core.settings.klines), ("A", core.settings.akills)))
    elif letter in "zZ":
        yield from _bans(core, "RPL_STATSDLINE", (("Z", core.settings.zlines),))
    elif letter in "cC":
        # A linked peer's row shows the role it runs as (announced, or the definition's for a plain
        # TS6 peer); the definition's role is only the fallback for a peer that announces none.
        running = {link.handle: link.role for link in getattr(core, "links", ()) if getattr(link, "handle", None)}
        for _, sdef in sorted(core.settings.servers.items()):
            flags = "".join(flag for flag, on in (
                ("A", sdef.auto), ("S", sdef.secure), ("O", sdef.secureonly), ("E", sdef.enabled)) if on)
            yield "RPL_STATSCLINE", (sdef.host or "*", sdef.name, sdef.port or 0, running.get(sdef.handle, sdef.role),
                                     f"{sdef.handle} {flags or '-'}")


def ban_reason(entry: BanEntry, now: float) -> str:
    """A ban's reason with who set it and, for a temporary one, the time left."""
    left = entry.remaining(now)
    extra = [f"set by {entry.set_by}"] if entry.set_by else []
    if left is not None:
        extra.append(f"expires in {format_duration(left)}")
    reason = entry.reason or "No reason"
    return f"{reason} ({', '.join(extra)})" if extra else reason


def _bans(core: Any, name: str, kinds: tuple[tuple[str, tuple[BanEntry, ...]], ...]) -> Iterator[Row]:
    """216 (K-line ``K``, AKILL ``A``) or 225 (Z-line ``Z``) per active ban."""
    now = core.clock.seconds()
    for letter, entries in kinds:
        for entry in entries:
            if not entry.active(now):
                continue
            if name == "RPL_STATSKLINE":
                ident, _, host = entry.mask.rpartition("@")
                yield name, (letter, host, ident or "*", ban_reason(entry, now))
            else:
                yield name, (letter, entry.mask, ban_reason(entry, now))


def _links(core: Any, oper: bool, own: Any, show_ip: bool) -> Iterator[Row]:
    """211 per server link (operators), then per local client connection (all for an operator, else
    the asker's own): SendQ, lines and KiB sent, lines and KiB received, seconds connected and idle,
    then ``TLS <protocol> <cipher>`` for a server link over TLS (``-`` otherwise)."""
    now = core.clock.seconds()
    if oper:
        for link in getattr(core, "links", ()):
            transport = getattr(link, "transport", None)
            yield "RPL_STATSLINKINFO", (
                f"{link.name}[{link.ip}]", queued_bytes(transport), link.lines_out, link.bytes_out // 1024,
                link.lines_in, link.bytes_in // 1024, int(now - link.connected_at), int(now - link.last_input),
                tls_text(transport) if getattr(link, "secure", False) else "-",
            )
    users = core.network.local_users() if oper else ([own] if own is not None else [])
    for other in sorted(users, key=lambda u: u.nick.lower()):
        host = other.ip if show_ip else other.realhost
        route = other.route
        yield "RPL_STATSLINKINFO", (
            f"{other.nick}[{other.ident}@{host}]", queued_bytes(getattr(route, "transport", None)),
            getattr(route, "lines_out", 0), getattr(route, "bytes_out", 0) // 1024,
            getattr(route, "lines_in", 0), getattr(route, "bytes_in", 0) // 1024,
            int(now - other.signon), int(now - other.last_active), "-",
        )


def tls_text(transport: Any) -> str:
    """``TLS TLSv1.3 TLS_AES_256_GCM_SHA384`` for a TLS transport (``TLS`` when the session cannot say)."""
    try:
        session = transport.getHandle()
        details = [session.get_protocol_version_name(), session.get_cipher_name()]
    except Exception:  # not (or no longer) a pyOpenSSL session: the mark alone
        return "TLS"
    return " ".join(["TLS", *(str(d) for d in details if d)])
