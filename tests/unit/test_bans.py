"""Tests for conferenceroom.bans: which saved ban, if any, matches a client."""

from __future__ import annotations

import pytest

from conferenceroom.admin import Settings, build_tree
from conferenceroom.bans import BanMatch, ban_refusal, find_ban, userhost_matches
from conferenceroom.casemap import ip_matches

NOW = 1_700_000_000
TREE = build_tree(bcrypt_rounds=4, clock=lambda: NOW)


def bans(*lines: str) -> Settings:
    """Settings holding the bans added by *lines* (SECURITY ... ADD)."""
    return Settings().apply(lines, tree=TREE)


@pytest.mark.parametrize("mask, ip, expected", [
    ("192.0.2.7", "192.0.2.7", True),
    ("192.0.2.7", "192.0.2.8", False),
    ("192.0.2.0/24", "192.0.2.200", True),
    ("192.0.2.0/24", "192.0.3.1", False),
    ("2001:db8::/32", "2001:db8:1::5", True),
    ("2001:db8::/32", "192.0.2.1", False),
    ("198.51.100.*", "198.51.100.9", True),
    ("198.51.100.*", "198.51.101.9", False),
    ("2001:db8::1", "2001:DB8:0::1", True),
    ("10.0.0.1", "", False),
])
def test_ip_matches(mask, ip, expected):
    """Z-line masks: exact address (any spelling), CIDR network or glob."""
    assert ip_matches(mask, ip) is expected


@pytest.mark.parametrize("mask, ident, host, ip, expected", [
    ("*@*.spam.example", "joe", "a.spam.example", "192.0.2.1", True),
    ("*@*.spam.example", "joe", "spam.example", "192.0.2.1", False),
    ("~*@*", "~joe", "h.example", "192.0.2.1", True),
    ("~*@*", "joe", "h.example", "192.0.2.1", False),
    ("JOE@H.EXAMPLE", "joe", "h.example", "192.0.2.1", True),
    ("*@192.0.2.*", "joe", "h.example", "192.0.2.1", True),
    ("*@192.0.2.0/24", "joe", "h.example", "192.0.2.9", True),
    ("*@192.0.2.0/24", "joe", "h.example", "192.0.3.9", False),
    ("evil@*", "good", "h.example", "192.0.2.1", False),
])
def test_userhost_matches(mask, ident, host, ip, expected):
    """K-line/AKILL masks match ident@host or ident@ip, case-insensitively, with globs and CIDR."""
    assert userhost_matches(mask, ident, host, ip) is expected


def test_find_ban_kinds_and_order():
    """find_ban returns the kind and entry; a Z-line wins over a K-line, a K-line over an AKILL."""
    s = bans("security akill add *@*.example net-wide", "security kline add *@h.example local",
             "security zline add 192.0.2.0/24 by ip")
    found = find_ban(s, "joe", "h.example", "192.0.2.5", NOW)
    assert isinstance(found, BanMatch) and (found.kind, found.label, found.entry.reason) == ("zline", "Z-line", "by ip")
    found = find_ban(s, "joe", "h.example", "198.51.100.1", NOW)
    assert (found.kind, found.entry.mask) == ("kline", "*@h.example")
    found = find_ban(s, "joe", "other.example", "198.51.100.1", NOW)
    assert (found.kind, found.label) == ("akill", "AKILL")
    assert find_ban(s, "joe", "other.test", "198.51.100.1", NOW) is None


def test_expired_bans_are_not_enforced():
    """A ban stops matching once its expiry time is reached."""
    s = bans("security kline add *@h.example 1h Flood")
    assert find_ban(s, "joe", "h.example", "192.0.2.1", NOW + 3599) is not None
    assert find_ban(s, "joe", "h.example", "192.0.2.1", NOW + 3600) is None


def test_ban_refusal_text():
    """ban_refusal gives the reason for ERR_YOUREBANNEDCREEP, with the kind and time left, or None."""
    s = bans("security kline add *@h.example 2h Flooding", "security akill add evil@*",
             "security zline add 192.0.2.9 Open proxy")
    assert ban_refusal(s, "joe", "h.example", "10.0.0.1", NOW) == "Flooding (K-line, expires in 2h)"
    assert ban_refusal(s, "evil", "x.example", "10.0.0.1", NOW) == "no reason given (AKILL, permanent)"
    assert ban_refusal(s, "joe", "x.example", "192.0.2.9", NOW) == "Open proxy (Z-line, permanent)"
    assert ban_refusal(s, "joe", "x.example", "10.0.0.1", NOW) is None


@pytest.mark.parametrize("line", [
    "security zline add 192.0.2.0/24",
    "security zline add 192.0.2.5",
    "security zline add 192.0.2.*",
    "security kline add *@192.0.2.*",
    "security kline add *@192.0.2.0/24",
])
def test_ipv4_client_on_a_dual_stack_listener_is_still_banned(line):
    """On a listener bound to ``::`` an IPv4 client's address reads
    ``::ffff:192.0.2.5`` (and its host ``0::ffff:192.0.2.5``); IPv4 bans
    match it all the same, or such a listener would let every banned
    IPv4 address in."""
    s = bans(line)
    assert find_ban(s, "joe", "0::ffff:192.0.2.5", "::ffff:192.0.2.5", NOW) is not None
    assert find_ban(s, "joe", "0::ffff:198.51.100.5", "::ffff:198.51.100.5", NOW) is None


def test_ipv4_trigger_exception_applies_to_mapped_address():
    """A trigger exception for an IPv4 mask applies to that client on a dual-stack listener too."""
    s = bans("security trigger add 192.0.2.0/24 0")
    assert s.trigger_for("::ffff:192.0.2.5") == 0
    assert s.trigger_for("::ffff:198.51.100.5") == s.deftrigger


def test_bans_written_as_mapped_addresses_still_match():
    """A Z-line or trigger written as an IPv4-mapped IPv6 address keeps matching that client."""
    s = bans("security zline add ::ffff:192.0.2.5", "security trigger add ::ffff:198.51.100.0/120 0")
    assert find_ban(s, "joe", "0::ffff:192.0.2.5", "::ffff:192.0.2.5", NOW) is not None
    assert s.trigger_for("::ffff:198.51.100.5") == 0
