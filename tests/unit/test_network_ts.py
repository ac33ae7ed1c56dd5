"""TS rules in the state model: nick collisions, channel TS on netjoin, topic bursts.

Each rule is checked on one server, and the symmetric cases on two networks
that apply each other's burst, which must end in the same state.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from twisted.internet import task

from conferenceroom import events as ev
from conferenceroom.events import HERE
from conferenceroom.modes import ModeChange
from conferenceroom.network import Network, Server, User

START = 1_700_000_000.0


class Link:
    """A stand-in server link route."""

    is_client = False


class Client:
    """A stand-in local client connection."""

    is_client = True


def make_network(name: str = "me.test", sid: str = "0AA") -> tuple[Network, list[ev.Event]]:
    """A network on a task.Clock and the list its events go to."""
    clock = task.Clock()
    clock.advance(START)
    network = Network(Server(name, sid), clock)
    network.default_channel_modes = ""
    seen: list[ev.Event] = []
    network.events.subscribe(seen.append)
    return network, seen


def remote_server(network: Network, name: str = "peer.test", sid: str = "1PE") -> Server:
    """A server behind a new link."""
    link = Link()
    server = Server(name, sid, uplink=network.me, route=link, hopcount=1)
    network.add_server(server, origin=link)
    return server


def make_user(server: Server, uid: str, nick: str, ts: float, ident: str = "~u", ip: str = "192.0.2.1") -> User:
    """A user object (not yet added) on ``server``."""
    route = server.route or Client()
    user = User(uid, nick, ident, "host.example", "Real", server, route, ip=ip, signon=ts)
    return user


def origin_of(user: User) -> Any:
    """HERE for our own users, the link for remote ones."""
    return HERE if user.server.route is None else user.server.route


# -- nick collisions on introduction -------------------------------------------------


def collide(ours_ts: float, theirs_ts: float, same_user: bool) -> tuple[Network, User, User, Any, list[ev.Event]]:
    """Our ``nick`` user at ``ours_ts``, then a link introduces another ``nick`` at ``theirs_ts``."""
    network, seen = make_network()
    peer = remote_server(network)
    ours = make_user(network.me, "0AAAAAAAA", "nick", ours_ts, "~same" if same_user else "~ours")
    network.add_user(ours)
    theirs = make_user(peer, "1PEAAAAAA", "NICK", theirs_ts, "~same" if same_user else "~theirs")
    seen.clear()
    result = network.add_user(theirs, origin=peer.route)
    return network, ours, theirs, result, seen


def test_collision_equal_ts_kills_both() -> None:
    """Same nick, same TS: both users die; ours is killed everywhere, theirs is never added."""
    network, ours, theirs, result, seen = collide(100, 100, same_user=False)
    assert result is not None and set(result.killed) == {ours, theirs} and not result.accepted
    assert result.reason == "Nick collision (new)"
    assert network.find_user("nick") is None and theirs.uid not in network.users_by_uid
    [killed] = seen
    assert isinstance(killed, ev.UserKilled) and killed.user is ours and killed.killer is network.me
    assert killed.origin is HERE and killed.reason == "Nick collision (new)"


def test_collision_different_users_older_wins() -> None:
    """Different user@ip: the older nick (lower TS) survives, whichever side it is on."""
    network, ours, theirs, result, seen = collide(100, 50, same_user=False)
    assert result.killed == (ours,) and result.accepted
    assert network.find_user("nick") is theirs
    assert [type(e) for e in seen] == [ev.UserKilled, ev.UserIntroduced]
    network, ours, theirs, result, seen = collide(50, 100, same_user=False)
    assert result.killed == (theirs,) and not result.accepted
    assert network.find_user("nick") is ours and seen == []


def test_collision_same_user_newer_wins() -> None:
    """Same user@ip (a reconnect seen from both sides): the newer one survives."""
    network, ours, theirs, result, _ = collide(50, 100, same_user=True)
    assert result.killed == (ours,) and network.find_user("nick") is theirs
    network, ours, theirs, result, _ = collide(100, 50, same_user=True)
    assert result.killed == (theirs,) and network.find_user("nick") is ours


def test_reused_uid_is_refused() -> None:
    """Introducing a UID already in use raises (the link reports it as a protocol error)."""
    network, _ = make_network()
    peer = remote_server(network)
    network.add_user(make_user(peer, "1PEAAAAAA", "a", 1))
    with pytest.raises(ValueError, match="1PEAAAAAA"):
        network.add_user(make_user(peer, "1PEAAAAAA", "b", 1), origin=peer.route)
    assert network.find_user("b") is None


def test_nick_change_collision() -> None:
    """A NICK into a taken nick compares the change TS: equal kills both, else the older nick wins."""
    network, seen = make_network()
    peer = remote_server(network)
    ours = make_user(network.me, "0AAAAAAAA", "taken", 100, "~o")
    network.add_user(ours)
    mover = make_user(peer, "1PEAAAAAA", "mover", 10, "~m")
    network.add_user(mover, origin=peer.route)
    result = network.change_nick(mover, "TAKEN", origin=peer.route, ts=100)
    assert result is not None and set(result.killed) == {ours, mover} and result.reason == "Nick change collision"
    assert network.find_user("taken") is None and network.find_user("mover") is None
    assert all(e.origin is HERE for e in seen if isinstance(e, ev.UserKilled))

    network, seen = make_network()
    peer = remote_server(network)
    ours = make_user(network.me, "0AAAAAAAA", "taken", 100, "~o")
    network.add_user(ours)
    mover = make_user(peer, "1PEAAAAAA", "mover", 10, "~m")
    network.add_user(mover, origin=peer.route)
    result = network.change_nick(mover, "taken", origin=peer.route, ts=90)  # older: it wins
    assert result.killed == (ours,) and network.find_user("taken") is mover and mover.nick == "taken"
    result = network.change_nick(mover, "mover", origin=peer.route, ts=95)
    assert result is None  # a free nick: no collision
    other = make_user(network.me, "0AAAAAAAB", "other", 50, "~x")
    network.add_user(other)
    result = network.change_nick(mover, "other", origin=peer.route, ts=99)  # newer: the mover dies
    assert result.killed == (mover,) and network.find_user("other") is other
    assert network.find_user("mover") is None


def test_renaming_to_own_nick_in_other_case_is_no_collision() -> None:
    """A user changing the case of its own nick never collides with itself."""
    network, _ = make_network()
    user = make_user(network.me, "0AAAAAAAA", "alice", 1)
    network.add_user(user)
    assert network.change_nick(user, "Alice") is None and network.find_user("alice") is user


@settings(max_examples=200, deadline=None)
@given(
    a_ts=st.integers(1, 4), b_ts=st.integers(1, 4),
    a_ident=st.sampled_from(["~x", "~y"]), b_ident=st.sampled_from(["~x", "~y"]),
    a_ip=st.sampled_from(["192.0.2.1", "192.0.2.2"]), b_ip=st.sampled_from(["192.0.2.1", "192.0.2.2"]),
)
def test_both_sides_of_a_collision_decide_the_same(
    a_ts: int, b_ts: int, a_ident: str, b_ident: str, a_ip: str, b_ip: str
) -> None:
    """Two servers that each introduce the other's user with the same nick keep the same survivor (or none)."""
    net_a, _ = make_network("a.test", "1AA")
    net_b, _ = make_network("b.test", "2BB")
    b_on_a, a_on_b = remote_server(net_a, "b.test", "2BB"), remote_server(net_b, "a.test", "1AA")
    user_a = make_user(net_a.me, "1AAAAAAAA", "dup", a_ts, a_ident, a_ip)
    net_a.add_user(user_a)
    user_b = make_user(net_b.me, "2BBAAAAAA", "dup", b_ts, b_ident, b_ip)
    net_b.add_user(user_b)
    net_a.add_user(make_user(b_on_a, user_b.uid, "dup", b_ts, b_ident, b_ip), origin=b_on_a.route)
    net_b.add_user(make_user(a_on_b, user_a.uid, "dup", a_ts, a_ident, a_ip), origin=a_on_b.route)
    survivor_a = net_a.find_user("dup")
    survivor_b = net_b.find_user("dup")
    assert (survivor_a and survivor_a.uid) == (survivor_b and survivor_b.uid)
    assert (survivor_a is None) == (a_ts == b_ts)


# -- channel TS on netjoin -----------------------------------------------------------


def our_channel(network: Network, ts: int) -> tuple[User, Any]:
    """#c created here at ``ts`` by a local op, with +imk secret, +l 5, a ban and a topic."""
    alice = make_user(network.me, network.next_uid(), "alice", 1)
    network.add_user(alice)
    channel = network.join(alice, "#c", ts=ts).channel
    assert channel.members[alice].status == {"o"}
    network.apply_channel_modes(alice, channel, [
        ModeChange(True, "i"), ModeChange(True, "m"), ModeChange(True, "k", "secret"),
        ModeChange(True, "l", "5"), ModeChange(True, "b", "bad!*@*"), ModeChange(True, "v", "alice", alice),
    ])
    network.set_topic(alice, channel, "our topic", alice.mask, ts=ts + 10)
    return alice, channel


def their_side(network: Network) -> tuple[Server, User, User]:
    """A peer with two users, rem1 and rem2."""
    peer = remote_server(network)
    rem1 = make_user(peer, "1PEAAAAAA", "rem1", 1)
    rem2 = make_user(peer, "1PEAAAAAB", "rem2", 1)
    for user in (rem1, rem2):
        network.add_user(user, origin=peer.route)
    return peer, rem1, rem2


THEIR_MODES = [ModeChange(True, "n"), ModeChange(True, "t"), ModeChange(True, "k", "zzz"), ModeChange(True, "l", "9")]


def test_netjoin_creates_an_unknown_channel_as_sent() -> None:
    """An SJOIN for a channel we lack creates it with their TS, modes and statuses (no defaults of ours)."""
    network, seen = make_network()
    network.default_channel_modes = "nt"
    peer, rem1, rem2 = their_side(network)
    seen.clear()
    result = network.netjoin(peer, "#new", 500, [ModeChange(True, "s")], [(rem1, "o"), (rem2, "")], origin=peer.route)
    channel = result.channel
    assert result.created and not result.lowered and result.kept_theirs
    assert channel.ts == 500 and channel.flags == {"s"}
    assert channel.members[rem1].status == {"o"} and channel.members[rem2].status == set()
    summary = seen[-1]
    assert isinstance(summary, ev.ChannelNetjoined) and summary.origin is peer.route and summary.channel is channel
    assert all(e.netjoin for e in seen[:-1]) and not summary.netjoin


def test_netjoin_with_lower_ts_wipes_our_side() -> None:
    """Their lower TS wins: our modes, key, limit, bans, statuses and topic go; theirs are taken."""
    network, seen = make_network()
    alice, channel = our_channel(network, 1000)
    peer, rem1, rem2 = their_side(network)
    seen.clear()
    result = network.netjoin(peer, "#c", 900, THEIR_MODES, [(rem1, "o"), (rem2, "v")], origin=peer.route)
    assert result.lowered and result.kept_theirs and not result.created
    assert channel.ts == 900
    assert channel.flags == {"n", "t"} and channel.key == "zzz" and channel.limit == 9
    assert channel.lists["b"] == [] and channel.topic == "" and channel.topic_ts == 0
    assert channel.members[alice].status == set()
    assert channel.members[rem1].status == {"o"} and channel.members[rem2].status == {"v"}
    wiped = [e for e in seen if isinstance(e, ev.ChannelModesChanged)][0]
    assert wiped.source is peer and wiped.netjoin
    assert {(c.adding, c.mode, c.param) for c in wiped.changes} >= {
        (False, "i", None), (False, "m", None), (False, "k", "secret"), (False, "l", None),
        (False, "b", "bad!*@*"), (False, "o", "alice"), (False, "v", "alice"),
    }
    assert any(isinstance(e, ev.TopicChanged) and e.netjoin for e in seen)


def test_netjoin_with_equal_ts_merges() -> None:
    """Equal TS: both sides' modes and statuses are kept; the larger limit and the greater key win."""
    network, _ = make_network()
    alice, channel = our_channel(network, 1000)
    peer, rem1, _ = their_side(network)
    result = network.netjoin(peer, "#c", 1000, THEIR_MODES, [(rem1, "o")], origin=peer.route)
    assert not result.lowered and result.kept_theirs
    assert channel.ts == 1000 and channel.flags == {"i", "m", "n", "t"}
    assert channel.key == "zzz" and channel.limit == 9  # "zzz" > "secret", 9 > 5
    assert channel.lists["b"][0].mask == "bad!*@*" and channel.topic == "our topic"
    assert channel.members[alice].status == {"o", "v"} and channel.members[rem1].status == {"o"}


def test_netjoin_with_higher_ts_ignores_their_modes() -> None:
    """Their higher TS loses: their modes are ignored and their users join without status."""
    network, seen = make_network()
    alice, channel = our_channel(network, 1000)
    peer, rem1, _ = their_side(network)
    seen.clear()
    result = network.netjoin(peer, "#c", 2000, THEIR_MODES, [(rem1, "o")], origin=peer.route)
    assert not result.lowered and not result.kept_theirs
    assert channel.ts == 1000 and channel.flags == {"i", "m"} and channel.key == "secret"
    assert channel.members[rem1].status == set() and channel.members[alice].status == {"o", "v"}
    assert [type(e) for e in seen] == [ev.MembersNetjoined, ev.ChannelNetjoined]


def test_netjoin_of_many_members_is_one_event_in_sjoin_order() -> None:
    """An SJOIN of several new members emits one MembersNetjoined listing them in its order, then the modes."""
    network, seen = make_network()
    peer, rem1, rem2 = their_side(network)
    seen.clear()
    result = network.netjoin(peer, "#new", 1000, THEIR_MODES, [(rem2, ""), (rem1, "o")], origin=peer.route)
    assert [type(e) for e in seen] == [ev.MembersNetjoined, ev.ChannelModesChanged, ev.ChannelNetjoined]
    event = seen[0]
    assert [m.user for m in event.joined] == [rem2, rem1] and event.created and event.netjoin
    assert result.joined == event.joined


def snapshot(network: Network) -> Any:
    """A channel's state in terms that compare across servers (UIDs, not objects)."""
    channel = network.find_channel("#c")
    assert channel is not None
    return (
        channel.ts, sorted(channel.flags), channel.key, channel.limit,
        sorted(e.mask for e in channel.lists["b"]),
        sorted((u.uid, "".join(sorted(m.status))) for u, m in channel.members.items()),
    )


@settings(max_examples=150, deadline=None)
@given(
    a_ts=st.integers(1, 3), b_ts=st.integers(1, 3),
    a_flags=st.sets(st.sampled_from("imnpst")), b_flags=st.sets(st.sampled_from("imnpst")),
    a_key=st.sampled_from([None, "alpha", "omega"]), b_key=st.sampled_from([None, "alpha", "omega"]),
    a_limit=st.sampled_from([None, 3, 7]), b_limit=st.sampled_from([None, 3, 7]),
)
def test_both_sides_of_a_netjoin_end_the_same(
    a_ts: int, b_ts: int, a_flags: set[str], b_flags: set[str],
    a_key: str | None, b_key: str | None, a_limit: int | None, b_limit: int | None,
) -> None:
    """Two servers holding #c with their own TS and modes, after each applies the other's SJOIN, agree."""
    sides = []
    for name, sid, ts, flags, key, limit in (
        ("a.test", "1AA", a_ts, a_flags, a_key, a_limit), ("b.test", "2BB", b_ts, b_flags, b_key, b_limit),
    ):
        network, _ = make_network(name, sid)
        user = make_user(network.me, sid + "AAAAAA", "op" + sid, 1)
        network.add_user(user)
        channel = network.join(user, "#c", ts=ts).channel
        changes = [ModeChange(True, f) for f in sorted(flags)]
        changes += [ModeChange(True, "k", key)] if key else []
        changes += [ModeChange(True, "l", str(limit))] if limit else []
        network.apply_channel_modes(user, channel, changes)
        sides.append((network, user, channel))
    bursts = []
    for network, user, channel in sides:  # each side's SJOIN as it would be sent
        modes = [ModeChange(True, f) for f in sorted(channel.flags)]
        modes += [ModeChange(True, "k", channel.key)] if channel.key else []
        modes += [ModeChange(True, "l", str(channel.limit))] if channel.limit else []
        bursts.append((channel.ts, modes, user))
    for (network, _, _), (ts, modes, user), peer_name, peer_sid in (
        (sides[0], bursts[1], "b.test", "2BB"), (sides[1], bursts[0], "a.test", "1AA"),
    ):
        peer = remote_server(network, peer_name, peer_sid)
        copy = make_user(peer, user.uid, user.nick, 1)
        network.add_user(copy, origin=peer.route)
        network.netjoin(peer, "#c", ts, modes, [(copy, "o")], origin=peer.route)
    assert snapshot(sides[0][0]) == snapshot(sides[1][0])


# -- topic bursts ---------------------------------------------------------------------


def test_topic_burst_rules() -> None:
    """TBURST wins with a lower channel TS, or an equal one and a newer topic, or from services."""
    network, seen = make_network()
    alice, channel = our_channel(network, 1000)  # topic at 1010
    peer, _, _ = their_side(network)
    assert not network.burst_topic(peer, channel, 1000, 1005, "older", "x!y@z", origin=peer.route)
    assert not network.burst_topic(peer, channel, 1100, 2000, "higher chan ts", "x!y@z", origin=peer.route)
    assert channel.topic == "our topic"
    seen.clear()
    assert network.burst_topic(peer, channel, 1000, 1020, "newer", "x!y@z", origin=peer.route)
    assert (channel.topic, channel.topic_setter, channel.topic_ts) == ("newer", "x!y@z", 1020)
    [event] = seen
    assert isinstance(event, ev.TopicChanged) and event.source is peer and event.origin is peer.route
    assert network.burst_topic(peer, channel, 999, 5, "lower chan ts", "s!t@u", origin=peer.route)
    assert channel.topic == "lower chan ts"
    assert network.burst_topic(peer, channel, 5000, 1, "services", "ChanServ", origin=peer.route, services=True)
    assert channel.topic == "services" and channel.topic_setter == "ChanServ"
    seen.clear()
    assert network.burst_topic(peer, channel, 1, 2, "services", "other!setter@h", origin=peer.route)
    assert seen == []  # same text: recorded without a line to clients


def test_simple_ts_rule_for_tmode_and_bmask() -> None:
    """TMODE/BMASK apply when their channel TS is not higher than ours."""
    network, _ = make_network()
    _, channel = our_channel(network, 1000)
    assert network.ts_accepts(channel, 1000) and network.ts_accepts(channel, 900)
    assert not network.ts_accepts(channel, 1001)


def test_remote_join_with_a_lower_ts_follows_the_ts_rules() -> None:
    """A link's JOIN carrying a lower channel TS resets our side, as an SJOIN would; a higher one just joins."""
    network, seen = make_network()
    alice, channel = our_channel(network, 1000)
    peer, rem1, rem2 = their_side(network)
    membership = network.join(rem1, "#c", origin=peer.route, ts=2000)
    assert membership.status == set() and channel.ts == 1000 and channel.flags == {"i", "m"}
    seen.clear()
    membership = network.join(rem2, "#c", origin=peer.route, ts=500)
    assert membership is channel.members[rem2] and channel.ts == 500
    assert channel.flags == set() and channel.key is None and channel.members[alice].status == set()
    assert isinstance(seen[-1], ev.ChannelNetjoined) and seen[-1].result.lowered


def test_netjoin_mode_changes_read_as_before() -> None:
    """A new channel's MODE event lists flags, the key, the limit as a number and each status once, in order."""
    network, seen = make_network()
    peer, rem1, rem2 = their_side(network)
    modes = [ModeChange(True, "n"), ModeChange(True, "n"), ModeChange(True, "k", "abc"), ModeChange(True, "l", "0100"),
             ModeChange(True, "k", "abd")]
    seen.clear()
    network.netjoin(peer, "#fresh", 500, modes, [(rem1, "ov"), (rem2, "v"), (rem1, "o")], origin=peer.route)
    changed = [e for e in seen if isinstance(e, ev.ChannelModesChanged)]
    assert len(changed) == 1 and changed[0].netjoin
    shown = [(c.adding, c.mode, c.param) for c in changed[0].changes]
    assert shown == [(True, "n", None), (True, "k", "abc"), (True, "l", "100"), (True, "k", "abd"),
                     (True, "o", "rem1"), (True, "v", "rem1"), (True, "v", "rem2")]
    assert [c.member for c in changed[0].changes] == [None] * 4 + [rem1, rem1, rem2]
    channel = network.find_channel("#fresh")
    assert channel.key == "abd" and channel.limit == 100
    assert channel.members[rem1].status == {"o", "v"} and channel.members[rem2].status == {"v"}


def test_events_keep_their_dataclass_contract() -> None:
    """Events compare, hash and print by their fields, refuse changes and a None origin, and get fresh defaults."""
    import dataclasses

    user = make_user(remote_server(make_network()[0]), "1PEAAAAAA", "rem", 1)
    first, second = ev.UserIntroduced(user, origin=HERE), ev.UserIntroduced(user, origin=HERE)
    assert first == second and hash(first) == hash(second) and not first.netjoin
    assert repr(first).startswith("UserIntroduced(origin=HERE, netjoin=False, user=<User rem")
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.user = user  # type: ignore[misc]
    with pytest.raises(TypeError, match="UserIntroduced: origin must be HERE or a route, not None"):
        ev.UserIntroduced(user, origin=None)
    with pytest.raises(TypeError):
        ev.UserIntroduced(user, HERE)  # origin is keyword-only
    split_a = ev.NetSplit(user.server, (), (), "gone")
    split_b = ev.NetSplit(user.server, (), (), "gone")
    assert split_a.local_peers == {} and split_a.local_peers is not split_b.local_peers
    assert dataclasses.replace(first, netjoin=True).netjoin and dataclasses.replace(first, netjoin=True).user is user
