# -*- test-case-name: tests.unit.test_bans -*-
"""Saved bans (K-lines, AKILLs, Z-lines): which one, if any, matches a client.

Pure functions over a :class:`~conferenceroom.admin.settings.Settings`
snapshot; the time is always passed in (the caller reads it from the
reactor), so expired bans are simply not enforced.

- A Z-line matches the client's IP address: an exact address, a CIDR
  network or a glob of IP characters (``10.0.*``).
- A K-line (this server) or an AKILL (network-wide) matches ``ident@host``
  or ``ident@ip`` with ``*``/``?`` wildcards, case-insensitively; an IP
  address or CIDR host part also matches the client's IP.
"""

from __future__ import annotations

from dataclasses import dataclass

from conferenceroom.admin.settings import BAN_KINDS, BanEntry, Settings, unmapped_ip
from conferenceroom.admin.types import format_duration
from conferenceroom.casemap import ip_matches, match

#: How each kind is named to users and operators.
KIND_LABELS = {"kline": "K-line", "akill": "AKILL", "zline": "Z-line"}


@dataclass(frozen=True)
class BanMatch:
    """A ban that matched: its kind (``kline``, ``akill``, ``zline``) and entry."""

    kind: str
    entry: BanEntry

    @property
    def label(self) -> str:
        """The kind as shown to people: K-line, AKILL or Z-line."""
        return KIND_LABELS[self.kind]


def userhost_matches(mask: str, ident: str, host: str, ip: str) -> bool:
    """True if the ``user@host`` *mask* matches ident@host or ident@ip."""
    user_mask, _, host_mask = mask.rpartition("@")
    if not match(user_mask or "*", ident):
        return False
    if match(host_mask, host):
        return True
    if ip and (match(host_mask, ip) or ("/" in host_mask and ip_matches(host_mask, ip))):
        return True
    return False


def entry_matches(kind: str, entry: BanEntry, ident: str, host: str, ip: str) -> bool:
    """True if *entry* (of *kind*) matches the client, ignoring expiry."""
    if kind == "zline":
        return ip_matches(entry.mask, ip)
    return userhost_matches(entry.mask, ident, host, ip)


def find_ban(settings: Settings, ident: str, host: str, ip: str, now: float) -> BanMatch | None:
    """The first active ban matching the client, Z-lines first, or None.

    *ident* is the user name as the server knows it (``~user`` when not
    identd-verified), *host* the resolved host (or the IP), *ip* the address
    (an IPv4-mapped IPv6 address also as the IPv4 address it holds).
    """
    ips = None  # made once a list has entries (most servers have none: every connect asks)
    for kind, attr in BAN_KINDS.items():
        for entry in getattr(settings, attr):
            if ips is None:
                ips = {ip, unmapped_ip(ip)}
            if entry.active(now) and any(entry_matches(kind, entry, ident, host, a) for a in ips):
                return BanMatch(kind, entry)
    return None


def describe(found: BanMatch, now: float) -> str:
    """The reason shown to the banned client: ``Spam (K-line, expires in 2h)``.

    Fits ERR_YOUREBANNEDCREEP ("You are banned from this server: {0}") and
    the ERROR line closing the connection.
    """
    entry = found.entry
    left = entry.remaining(now)
    until = "permanent" if left is None else f"expires in {format_duration(left)}"
    return f"{entry.reason or 'no reason given'} ({found.label}, {until})"


def ban_refusal(settings: Settings, ident: str, host: str, ip: str, now: float) -> str | None:
    """Why the client is refused (the ``{0}`` of ERR_YOUREBANNEDCREEP), or None if no ban matches."""
    found = find_ban(settings, ident, host, ip, now)
    return None if found is None else describe(found, now)
