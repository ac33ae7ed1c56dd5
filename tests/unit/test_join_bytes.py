"""JOIN, NAMES and PART bytes for clients that see no tags: exactly what the numeric messages encode to.

A client without tag capabilities gets its JOIN echo, 353/366 and PART
written straight as bytes (no Message per line); these tests hold those
bytes to the message path's (``names_replies`` + ``encode_line``, the
numeric table, ``Message`` + ``encode_line``), byte for byte.
"""

from __future__ import annotations

from conferenceroom.casemap import _FOLD, fold
from conferenceroom.client.commands.channel import names_replies
from conferenceroom.numerics import numeric
from conferenceroom.wire import Message, encode_line, encode_untagged, untagged_line
from tests.helpers import feed, joined, make_core, make_remote_server, make_remote_user, register


def _raw(conn) -> bytes:  # type: ignore[no-untyped-def]
    data = conn.transport.value()
    conn.transport.clear()
    return data


def test_first_join_and_part_are_the_message_paths_bytes() -> None:
    """A new channel's creator gets JOIN, 353 ``@nick`` (no colon: one word), 366, then PART:
    the bytes of the messages, in one write per read."""
    core = make_core()
    alice = register(core, "alice")
    writes = []
    real_write = alice.transport.write
    alice.transport.write = lambda data: (writes.append(data), real_write(data))  # type: ignore[method-assign]
    feed(alice, "JOIN #Chan")
    mask = "alice!~alice@127.0.0.1"
    expected = (encode_line(Message("JOIN", ("#Chan",), mask))
                + encode_line(numeric("RPL_NAMREPLY", core.name, "alice", "=", "#Chan", "@alice"))
                + encode_line(numeric("RPL_ENDOFNAMES", core.name, "alice", "#Chan")))
    assert _raw(alice) == expected
    assert expected.split(b"\r\n")[1].endswith(b" = #Chan @alice")
    assert len(writes) == 1
    feed(alice, "PART #chan :bye now")
    assert _raw(alice) == encode_line(Message("PART", ("#Chan", "bye now"), mask))
    feed(alice, "JOIN #x", "PART #x ::-)")
    assert _raw(alice).endswith(encode_line(Message("PART", ("#x", ":-)"), mask)))


def test_names_of_a_crowded_channel_match_the_message_path_for_every_capability_mix() -> None:
    """Several 353 lines (statuses, multi-prefix, userhost-in-names, non-ASCII hosts, a secret channel):
    the bytes a tagless client gets are those of the 353/366 messages."""
    core = make_core()
    alice = joined(core, "alice", "#c")
    feed(alice, "MODE #c +s")
    server = make_remote_server(core)
    for i in range(40):
        remote = make_remote_user(core, server, f"r{i:02d}xxxxxxxxxx")
        remote.host = remote.realhost = "höst-ünïcode.example"
        core.network.join(remote, "#c", origin=server.route, status=("o", "v", "ov", "")[i % 4])
    channel = core.network.find_channel("#c")
    for caps in ("", "multi-prefix", "userhost-in-names", "multi-prefix userhost-in-names"):
        bob = register(core, f"bob{len(caps)}", caps=caps)
        feed(bob, "JOIN #c")
        out = _raw(bob)
        join, _, names = out.partition(b"\r\n")
        assert join == encode_line(Message("JOIN", ("#c",), bob.user.mask))[:-2]
        assert names == b"".join(encode_line(m) for m in names_replies(bob, channel))
        assert names.count(b" 353 ") > 1 and b" @ #c :" in names
        feed(bob, "PART #c")
        _raw(bob)


def test_a_name_too_long_for_a_line_is_cut_as_the_message_path_cuts_it() -> None:
    """A remote user whose mask alone passes 512 bytes: its 353 line is cut at 510 bytes on a
    character boundary, as encode_line cuts, and 366 still follows."""
    core = make_core()
    alice = register(core, "alice", caps="userhost-in-names")
    server = make_remote_server(core)
    remote = make_remote_user(core, server, "longhost")
    remote.host = remote.realhost = "é" * 300
    core.network.join(remote, "#c", origin=server.route)
    feed(alice, "JOIN #c")
    out = _raw(alice)
    channel = core.network.find_channel("#c")
    assert out.partition(b"\r\n")[2] == b"".join(encode_line(m) for m in names_replies(alice, channel))
    assert all(len(line) <= 510 for line in out.split(b"\r\n"))
    assert b" 366 alice #c :End of /NAMES list" in out


def test_a_name_that_cannot_be_sent_is_refused_as_before() -> None:
    """A member name holding a CR (never valid, but a model can hold it) is not written: its 353 line
    is refused as the message path refuses it, and 366 still comes."""
    core = make_core()
    server = make_remote_server(core)
    remote = make_remote_user(core, server, "odd")
    remote.nick = "odd\rnick"
    core.network.join(remote, "#c", origin=server.route)
    alice = register(core, "alice")
    feed(alice, "JOIN #c")
    out = _raw(alice)
    assert b"odd" not in out
    assert out.endswith(encode_line(numeric("RPL_ENDOFNAMES", core.name, "alice", "#c")))


def test_join_and_part_to_tagged_and_untagged_members_alike() -> None:
    """Members with and without tags see the same JOIN/PART of a logged-in user; only account-tag
    members see its account tag."""
    core = make_core()
    plain = joined(core, "plain", "#c")
    tagged = joined(core, "tagged", "#c", caps="account-tag")
    bob = register(core, "bob")
    bob.user.account = "bobacct"
    _raw(plain), _raw(tagged)
    feed(bob, "JOIN #c", "PART #c :later")
    mask = bob.user.mask
    assert _raw(plain) == (encode_line(Message("JOIN", ("#c",), mask))
                           + encode_line(Message("PART", ("#c", "later"), mask)))
    assert _raw(tagged) == (b"@account=bobacct " + encode_line(Message("JOIN", ("#c",), mask))
                            + b"@account=bobacct " + encode_line(Message("PART", ("#c", "later"), mask)))


def test_untagged_encoding_is_encode_line_without_tags() -> None:
    """encode_untagged/untagged_line give encode_line's bytes of the message without tags; a line that
    cannot be sent raises (or is None) as format_message refuses it."""
    cases = [
        Message("PART", ("#c",), "n!u@h", {"account": "x"}),
        Message("PART", ("#c", ""), "n!u@h"),
        Message("353", ("n", "=", "#c", ":odd"), "srv"),
        Message("PRIVMSG", ("#c", "é" * 400), "n!u@h"),
        Message("PING", (), None),
    ]
    for msg in cases:
        expected = encode_line(Message(msg.command, msg.params, msg.source))
        assert encode_untagged(msg) == expected
        assert untagged_line(msg.source, msg.command, msg.params) == expected
    assert untagged_line("n!u@h", "PART", ("#c", "a\rb")) is None
    assert untagged_line("bad source", "PART", ("#c",)) is None
    # One-parameter lines (JOIN/PART echoes) take a shorter path: the same bytes, or the same refusal.
    for param in ("#c", "", ":x", "a b", "é" * 300, "#" + "x" * 600, "#c\r", "#c\x00"):
        for source in ("n!u@h", "é!u@h", "x" * 520, "a\nb"):
            for command in ("JOIN", "QUIT", "353"):
                try:
                    expected: bytes | None = encode_line(Message(command, (param,), source))
                except ValueError:
                    expected = None
                assert untagged_line(source, command, (param,)) == expected, (source, command, param)


def test_fold_is_the_rfc1459_mapping_for_ascii_and_other_names() -> None:
    """Folding by bytes (ASCII names) gives what the rfc1459 table gives, and other names still fold."""
    for name in ("#Chan[A]\\~", "NICK^", "Ünïcode[X]", "", "#a-b_c|d{e}", "\x7f\x01"):
        assert fold(name) == name.translate(_FOLD)
    assert fold("#FOO[]\\~") == "#foo{}|^"
    assert fold("ÄB[") == "Äb{"
