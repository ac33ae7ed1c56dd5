"""A burst across a real link (text burst out, fast read path in, collector off): both sides end alike.

Two servers with the real TS6 modules, users and channels on each made by
client commands, nick and channel TS collisions between them; after the
link every user, channel, mode, list, topic and status is the same on both
sides, and the TS rules decided as they always do.
"""

from __future__ import annotations

import gc
from dataclasses import replace

from conferenceroom.link.wiring import attach, load_ts6
from tests.helpers import feed, register
from tests.unit.linknet import snapshot
from tests.unit.linkpair import RecordingManager, linked, soprano_and_tenor


def _real_ts6(*cores) -> None:
    for core in cores:
        attach(core, load_ts6())
        core.link_manager = RecordingManager()
        core.network.default_channel_modes = "nt"


def test_burst_with_collisions_leaves_both_sides_identical() -> None:
    """Older nick and older channel win on both sides; everything else crosses whole and the same."""
    soprano, tenor = soprano_and_tenor()
    _real_ts6(soprano, tenor)
    clock = soprano.clock
    old_alice = register(soprano, "alice", ip="10.0.0.1")
    clock.advance(5)
    ops = register(soprano, "opsy", ip="10.0.0.2")
    feed(old_alice, "JOIN #shared")
    feed(ops, "JOIN #shared", "JOIN #Ünïcode", "TOPIC #Ünïcode ::colon topic", "AWAY :out to lunch")
    feed(old_alice, "MODE #shared +kl sesame 25", "MODE #shared +b *!*@bad.example", "TOPIC #shared :older side topic")
    feed(old_alice, "MODE #shared +v opsy")
    clock.advance(60)
    new_alice = register(tenor, "alice", ip="10.9.9.9")  # newer: loses the collision everywhere
    bob = register(tenor, "bob", ip="10.9.9.8")
    feed(bob, "JOIN #shared", "MODE #shared +m", "MODE #shared +e *!*@friend.example", "TOPIC #shared :newer",
         "JOIN #bobs", "MODE #bobs +si", "MODE #bobs +I *!*@inv.example")
    for i in range(40):
        user = register(tenor, f"crowd{i}", ip=f"10.8.{i}.1")
        feed(user, "JOIN #bobs" if i % 2 else "JOIN #shared")
    clock.advance(1)
    linked(soprano, tenor)
    assert gc.isenabled()
    ours, theirs = snapshot(soprano.network), snapshot(tenor.network)
    assert ours == theirs
    alice = tenor.network.find_user("alice")
    assert alice is not None and alice.uid == old_alice.user.uid
    assert new_alice.transport.disconnecting
    shared = soprano.network.find_channel("#shared")
    assert shared.topic == "older side topic" and shared.key == "sesame" and shared.limit == 25
    assert "m" not in shared.flags and [e.mask for e in shared.lists["e"]] == []
    assert {u.nick for u, m in shared.members.items() if "o" in m.status} == {"alice"}
    assert sorted(u.nick for u in shared.members) == sorted(["alice", "opsy", "bob", *[f"crowd{i}" for i in range(0, 40, 2)]])
    bobs = tenor.network.find_channel("#bobs")
    assert bobs.flags == {"n", "t", "s", "i"} and [e.mask for e in bobs.lists["I"]] == ["*!*@inv.example"]
    assert soprano.network.find_channel("#Ünïcode").topic == ":colon topic"
    assert tenor.network.find_user("opsy").away == "out to lunch"


def test_changes_between_our_burst_and_the_peers_svinfo_reach_the_peer() -> None:
    """A user arriving after our burst was written but before the peer registered still reaches it.

    (Three leaves failing over to one hub at once lost each other's servers this way.)
    """
    from tests.unit.linkpair import dial

    soprano, tenor = soprano_and_tenor()
    _real_ts6(soprano, tenor)
    register(soprano, "early", ip="10.0.0.1")
    pair = dial(tenor, tenor.settings.servers["soprano"], soprano)
    opening = pair.active.transport.value()  # tenor's PASS, CAPAB, SERVER
    pair.active.transport.clear()
    pair.passive.dataReceived(opening)  # soprano accepts and writes its burst; tenor not registered yet
    assert pair.passive.peer is not None and not pair.passive.registered
    late = register(soprano, "late", ip="10.0.0.2")
    feed(late, "JOIN #late")
    pair.pump()
    assert pair.passive.registered and pair.active.registered
    assert tenor.network.find_user("late") is not None
    assert snapshot(soprano.network) == snapshot(tenor.network)


# -- burst lines read from their words (UID, SJOIN): same effect as any other line --------


def _tenor_lines(pair, tenor, *lines: bytes) -> None:
    """``lines`` arrive at soprano from tenor's side of ``pair`` (its SID in front of each)."""
    sid = tenor.network.me.sid.encode()
    pair.passive.dataReceived(b"".join(b":" + sid + b" " + line + b"\r\n" for line in lines))


def _linked_real(*nicks: str):
    soprano, tenor = soprano_and_tenor()
    _real_ts6(soprano, tenor)
    clients = [register(soprano, nick, ip=f"10.1.0.{i + 1}") for i, nick in enumerate(nicks)]
    pair = linked(soprano, tenor)
    for conn in clients:
        conn.transport.clear()
    return soprano, tenor, pair, clients


def _uid(tenor, n: int, nick: str, gecos: bytes = b"gecos", sep: bytes = b" ", verb: bytes = b"UID") -> bytes:
    uid = f"{tenor.network.me.sid}AAA{n:03d}".encode()
    return sep.join([verb, nick.encode(), b"1", b"1700000000", b"+i", b"ident", b"host.example",
                     b"host.example", b"10.2.0.1", uid, b"*", b":" + gecos])


def test_uid_lines_of_every_shape_introduce_their_users() -> None:
    """Well-formed UIDs and odd ones (Latin-1 gecos, doubled spaces, a lower-case verb) all arrive, alike."""
    soprano, tenor, pair, _ = _linked_real()
    _tenor_lines(pair, tenor, _uid(tenor, 1, "plain"), _uid(tenor, 2, "latin", gecos="Zoë".encode("latin-1")),
                 _uid(tenor, 3, "spaced", sep=b"  "), _uid(tenor, 4, "lower", verb=b"uid"))
    for nick, realname in (("plain", "gecos"), ("latin", "Zoë"), ("spaced", "gecos"), ("lower", "gecos")):
        user = soprano.network.find_user(nick)
        assert user is not None and user.realname == realname and user.modes == {"i"}
        assert user.server is soprano.network.find_server(tenor.network.me.name)
    assert soprano.server_commands.counts["UID"] >= 4
    assert not pair.passive.closing


def test_bad_uid_lines_are_still_refused_with_their_sentence() -> None:
    """A UID reusing a UID, or one without its gecos, closes the link with the usual sentence."""
    soprano, tenor, pair, _ = _linked_real()
    _tenor_lines(pair, tenor, _uid(tenor, 7, "first"), _uid(tenor, 7, "second"))
    uid = f"{tenor.network.me.sid}AAA007"
    assert pair.passive.transport.value().endswith(f"(UID {uid} is already in use)\r\n".encode())
    assert soprano.network.find_user("second") is None


def test_a_uid_with_a_bad_nick_is_killed_back() -> None:
    """A UID with a nick we cannot take gets a KILL back to its server, as before; the link stays."""
    soprano, tenor, pair, _ = _linked_real()
    pair.passive.transport.clear()
    _tenor_lines(pair, tenor, _uid(tenor, 8, "9digit"))
    uid = f"{tenor.network.me.sid}AAA008"
    assert f"KILL {uid} :soprano.webmaster.com (Bad nickname or TS)".encode() in pair.passive.transport.value()
    assert not pair.passive.closing


def test_sjoin_naming_a_member_twice_gives_its_status_once() -> None:
    """Equal TS: the local member sees each joiner once and one MODE with +o for the twice-named op."""
    soprano, tenor, pair, (alice,) = _linked_real("alice")
    feed(alice, "JOIN #c")
    channel = soprano.network.find_channel("#c")
    alice.transport.clear()
    _tenor_lines(pair, tenor, _uid(tenor, 1, "xop"), _uid(tenor, 2, "yvo"))
    sid = tenor.network.me.sid
    _tenor_lines(pair, tenor, f"SJOIN {channel.ts} #c +nt :@{sid}AAA001 +{sid}AAA002 @{sid}AAA001".encode())
    lines = [line.decode() for line in alice.transport.value().splitlines()]
    assert [line.split()[1:] for line in lines] == [["JOIN", "#c"], ["JOIN", "#c"], ["MODE", "#c", "+ov", "xop", "yvo"]]
    assert lines[2].startswith(":tenor.webmaster.com ")
    assert {u.nick: "".join(m.status) for u, m in channel.members.items()} == {"alice": "o", "xop": "o", "yvo": "v"}


def test_an_error_inside_a_uid_closes_the_link_with_a_sentence() -> None:
    """A bug while taking a UID is a protocol error naming the verb, logged, never a traceback to the peer."""
    soprano, tenor, pair, _ = _linked_real()

    def broken(user, origin=None):
        raise RuntimeError("broken on purpose")

    soprano.network.add_user = broken
    _tenor_lines(pair, tenor, _uid(tenor, 9, "victim"))
    assert pair.passive.transport.value().endswith(b"(Internal error handling UID)\r\n")
    assert soprano.network.find_server(tenor.network.me.name) is None


def test_a_replaced_uid_handler_sees_every_uid() -> None:
    """A UID handler wrapped after the table was built gets the burst's UIDs (no line goes around it)."""
    soprano, tenor = soprano_and_tenor()
    _real_ts6(soprano, tenor)
    register(tenor, "someone", ip="10.3.0.1")
    spec = soprano.server_commands.specs["UID"]
    seen: list[str] = []

    def recording(link, source, msg):
        seen.append(msg.params[0])
        return spec.handler(link, source, msg)

    soprano.server_commands.specs["UID"] = replace(spec, handler=recording)
    linked(soprano, tenor)
    assert "someone" in seen and soprano.network.find_user("someone") is not None


def test_a_uid_with_an_empty_source_is_unreadable() -> None:
    """``: UID ...`` (a colon and no source) is ignored as an unreadable line (the link stays, see
    test_link_garbage.py), and introduces nobody."""
    soprano, tenor, pair, _ = _linked_real()
    pair.passive.dataReceived(b": " + _uid(tenor, 5, "nosource") + b"\r\n")
    assert not pair.passive.closing and b"ERROR" not in pair.passive.transport.value()
    assert soprano.network.find_user("nosource") is None
