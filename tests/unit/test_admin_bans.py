"""Tests for SECURITY KLINE|AKILL|ZLINE ADD|DEL|LIST: saved bans with expiry."""

from __future__ import annotations

import pytest
from twisted.internet import task

from conferenceroom.admin import Settings, build_tree
from conferenceroom.admin.settings import BanEntry
from conferenceroom.admin.types import format_duration, parse_duration
from tests.helpers import admin_refusal

START = 1_700_000_000
CLOCK = task.Clock()
CLOCK.advance(START)
TREE = build_tree(bcrypt_rounds=4, clock=CLOCK)


def run(line: str, settings: Settings | None = None, **kw):
    """Run one AS line on *settings* (defaults when None)."""
    return TREE.execute_line(settings or Settings(), line, **kw)


def test_kline_add_permanent_with_reason():
    """KLINE ADD <mask> <reason> stores a permanent ban dated now, by whoever ran it."""
    result = TREE.execute(Settings(), "security kline add *@*.spam.example Spam  bots".split(), actor="admin")
    assert result.settings.klines == (BanEntry("*@*.spam.example", "Spam bots", "admin", START, 0),)
    assert result.replies == ["K-line added: *@*.spam.example - Spam bots [set by admin; permanent]"]
    assert not result.rewrite


@pytest.mark.parametrize("token, seconds", [
    ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1w", 604800), ("90", 5400), ("1d12h", 129600), ("0", 0),
])
def test_durations(token, seconds):
    """A duration token before the reason sets an absolute expiry (0 = permanent)."""
    result = run(f"security akill add evil@* {token} Abuse")
    entry = result.settings.akills[0]
    assert entry.expires == (START + seconds if seconds else 0)
    assert entry.reason == "Abuse"
    assert parse_duration(token) == seconds


def test_duration_is_written_as_absolute_expiry():
    """The file reproduces the absolute expiry, who set it and when, not the duration."""
    s = TREE.execute(Settings(), "security zline add 192.0.2.0/24 2h Open proxies".split(), actor="Bob").settings
    lines = [line for line in TREE.write(s) if "zline" in line]
    assert lines == [f"security zline add 192.0.2.0/24 until={START + 7200} by=Bob at={START} Open proxies"]
    later = task.Clock()
    later.advance(START + 3600)
    reloaded = Settings().apply(lines, tree=build_tree(clock=later))
    assert reloaded == s


@pytest.mark.parametrize("reason", ["0", "0 day exploit", "2h later", ":colon", "by=someone", "until=5 x"])
def test_reason_that_looks_like_a_duration_survives_writing(reason):
    """A reason starting like a duration or a key=value is written after ':' and reads back the same."""
    s = run(f"security kline add *@x.example 1h :{reason}").settings
    assert s.klines[0].reason == reason and s.klines[0].expires == START + 3600
    written = [line for line in TREE.write(s) if "kline" in line]
    assert written == [f"security kline add *@x.example until={START + 3600} at={START} :{reason}"]
    assert Settings().apply(written, tree=TREE) == s


def test_duration_in_file_asks_for_rewrite():
    """A relative duration is turned into a time; the result says the line must be rewritten."""
    assert run("security kline add *@x.example 1h").rewrite == "ban duration turned into an expiry time"


def test_duration_without_clock_refused():
    """A tree without a clock refuses durations (saying why) but accepts permanent bans."""
    bare = build_tree(bcrypt_rounds=4)
    refusal = admin_refusal(bare.execute_line, Settings(), "security kline add *@x.example 1h reason")
    assert "needs the server clock" in refusal
    entry = bare.execute_line(Settings(), "security kline add *@x.example reason").settings.klines[0]
    assert (entry.set_at, entry.expires) == (0, 0)
    assert bare.execute_line(Settings(), "security kline add *@x.example 1h", now=START).settings.klines[0].expires \
        == START + 3600


def test_mask_normalisation():
    """*!user@host drops the nick part, hosts are lower-cased (a bare host is refused: see test_admin_strict)."""
    s = run("security kline add *@Bad.Example").settings
    s = run("security kline add *!~Joe@Host.Example", s).settings
    assert [e.mask for e in s.klines] == ["*@bad.example", "~Joe@host.example"]


def test_add_same_mask_updates():
    """Adding a mask that exists (case-insensitively) replaces its entry in place."""
    s = run("security kline add *@a.example one").settings
    s = run("security kline add *@b.example two", s).settings
    result = run("security kline add *@A.EXAMPLE 1h three", s)
    assert [(e.mask, e.reason) for e in result.settings.klines] == [("*@a.example", "three"), ("*@b.example", "two")]
    assert result.replies[0].startswith("K-line updated: *@a.example - three")


def test_already_expired_not_kept():
    """An until= in the past is not stored (and removes an entry with that mask)."""
    s = run("security kline add *@a.example one").settings
    result = run(f"security kline add *@a.example until={START - 1} old", s)
    assert result.settings.klines == ()
    assert result.replies == ["K-line for *@a.example has already expired; not kept"]


def test_del():
    """DEL removes by mask (case-insensitive); an unknown mask is refused with the syntax."""
    s = run("security akill add evil@* x").settings
    result = run("security akill del EVIL@*", s)
    assert result.settings.akills == () and result.replies == ["AKILL for evil@* removed"]
    refusal = admin_refusal(run, "security akill del evil@*")
    assert "No AKILL for evil@*" in refusal and "Syntax: SECURITY AKILL DEL <user@host>" in refusal


def test_list_shows_remaining_time_and_filters():
    """LIST shows reason, setter and time left; expired entries are not listed; a mask filters."""
    s = TREE.execute(Settings(), "security kline add *@a.example 2h Flooding".split(), actor="admin").settings
    s = run("security kline add *@b.example 10m", s).settings
    s = run("security kline add ~x@c.example Permanent one", s).settings
    assert run("security kline list", s).replies == [
        "K-lines (3):",
        "  *@a.example - Flooding [set by admin; expires in 2h]",
        "  *@b.example - (no reason) [set by (unknown); expires in 10m]",
        "  ~x@c.example - Permanent one [set by (unknown); permanent]",
    ]
    later = run("security kline list", s, now=START + 3600 + 59).replies
    assert later == ["K-lines (2):", "  *@a.example - Flooding [set by admin; expires in 59m]",
                     "  ~x@c.example - Permanent one [set by (unknown); permanent]"]
    assert run("security kline list ~x@*", s).replies == [
        "K-lines matching ~x@* (1):", "  ~x@c.example - Permanent one [set by (unknown); permanent]"]
    assert run("security zline list").replies == ["No Z-lines"]


def test_expired_bans_not_written():
    """The writer leaves out bans expired at the tree's clock (or the time given)."""
    s = run("security kline add *@a.example 1h").settings
    assert any("a.example" in line for line in TREE.write(s))
    assert not any("a.example" in line for line in TREE.write(s, now=START + 3600))
    assert s.without_expired(START + 3600).klines == () and s.without_expired(START).klines == s.klines


def test_zline_masks():
    """Z-lines take an IP, a CIDR network (normalised) or an IP glob; not user@host."""
    s = run("security zline add 10.1.2.3/16").settings
    s = run("security zline add 2001:DB8::1", s).settings
    s = run("security zline add 198.51.100.*", s).settings
    assert [e.mask for e in s.zlines] == ["10.1.0.0/16", "2001:db8::1", "198.51.100.*"]
    refusal = admin_refusal(run, "security zline add *@host.example")
    assert "IP address" in refusal


@pytest.mark.parametrize("line, fragment", [
    ("security kline add", "Missing <user@host>"),
    ("security kline add *@*", "would ban everyone"),
    ("security kline add nick!user@host", "not nicknames"),
    ("security kline add a@b@c", "must be user@host"),
    ("security akill add *@x until=soon reason", "until= needs unix seconds"),
    ("security akill add *@x 1h until=1800000000 r", "not both"),
    ("security akill add *@x 99999w r", "ten years"),
    ("security zline add 10.0.0.0/33", "CIDR"),
    ("security kline del", "Missing <user@host>"),
    ("security kline", "Incomplete command SECURITY KLINE"),
    ("security kline frob", "Unknown SECURITY KLINE keyword 'frob'"),
])
def test_bad_ban_commands(line, fragment):
    """Malformed ban commands are refused with the reason and the SECURITY syntax."""
    refusal = admin_refusal(run, line)
    assert fragment in refusal
    assert "Syntax: SECURITY" in refusal


def test_help_syntax():
    """HELP SECURITY KLINE documents mask, optional duration and reason."""
    lines = TREE.help(["security", "kline"])
    assert lines[0].startswith("SECURITY KLINE ADD <user@host> [duration] [reason] - ban user@host")
    assert any(line.startswith("SECURITY ZLINE ADD <ip-or-mask> [duration] [reason]")
               for line in TREE.help(["security", "zline"]))


def test_format_duration():
    """Remaining times read as the two largest units."""
    assert [format_duration(n) for n in (5, 60, 3599, 86400 + 7200 + 5, 604800 * 2 + 86400)] == [
        "5s", "1m", "59m", "1d 2h", "2w 1d"]


@pytest.mark.parametrize("line", [
    "security kline add *@0.0.0.0/0 everyone over IPv4",
    "security akill add *@::/0 everyone over IPv6",
    "security zline add 0.0.0.0/0",
    "security zline add ::/0",
    "security zline add *",
    "security zline add *.*.*.*",
    "security zline add *:*",
    "security zline add ?*",
])
def test_bans_matching_every_address_are_refused(line):
    """A K-line, AKILL or Z-line that would match every client (a /0
    network, or an IP glob with no digit in it) is refused as banning
    everyone, like ``*@*``; nothing is stored."""
    refusal = admin_refusal(run, line)
    assert "would ban everyone" in refusal


def test_narrow_networks_and_globs_are_still_bans():
    """Refusing ban-everyone masks leaves real networks and globs alone."""
    s = run("security zline add 10.0.0.0/8").settings
    s = run("security zline add 10.*", s).settings
    s = run("security kline add *@192.0.2.0/24", s).settings
    assert [e.mask for e in s.zlines] == ["10.0.0.0/8", "10.*"]
    assert [e.mask for e in s.klines] == ["*@192.0.2.0/24"]


def test_kline_host_globs_without_hex_letters_are_kept():
    """The ban-everyone check reads a K-line host as a name: ``*@*.uk`` is a ban, not everyone."""
    s = run("security kline add *@*.uk UK").settings
    assert [e.mask for e in s.klines] == ["*@*.uk"]


def test_loading_many_bans_is_linear(tmp_path):
    """A config file of thousands of K-lines loads in time proportional to
    its size (each add finds an existing mask at once): 8x the bans cost
    far less than the 64x a pass over every ban per line would."""
    import time

    from conferenceroom.admin import load_config

    def cpu_to_load(n: int) -> float:
        path = tmp_path / f"bans{n}.conf"
        path.write_text("".join(f"security kline add *@h{i}.example at={START} spam\n" for i in range(n)))
        started = time.process_time()
        loaded = load_config(str(path), tree=TREE, now=START)
        assert len(loaded.settings.klines) == n
        return time.process_time() - started

    cpu_to_load(200)  # warm up
    small, large = min(cpu_to_load(500) for _ in range(3)), cpu_to_load(4000)
    assert large < 25 * small, (small, large)
