"""A burst across a real link (text burst out, fast read path in, collector off): both sides end alike.

Two servers with the real TS6 modules, users and channels on each made by
client commands, nick and channel TS collisions between them; after the
link every user, channel, mode, list, topic and status is the same on both
sides, and the TS rules decided as they always do.
"""

from __future__ import annotations

import gc

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
