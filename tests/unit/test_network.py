"""The network state model: every mutator keeps state consistent and emits its event."""

from __future__ import annotations

import re
from typing import Any

from twisted.internet import task

from conferenceroom import events as ev
from conferenceroom.modes import ModeChange
from conferenceroom.events import HERE
from conferenceroom.network import Network, Server, User

START = 1_700_000_000.0


class Route:
    """A stand-in route (a link) for users and servers behind it."""

    is_client = False

    def relay(self, message: Any, target: Any, origin: Any) -> None:
        """Ignore relays: the state model never sends."""


class Client:
    """A stand-in local client connection."""

    is_client = True


def make_network() -> tuple[Network, list[ev.Event]]:
    """A network on a task.Clock and the list its events are recorded in."""
    clock = task.Clock()
    clock.advance(START)
    network = Network(Server("me.test", "0AA", "us"), clock)
    network.default_channel_modes = ""
    seen: list[ev.Event] = []
    network.events.subscribe(seen.append)
    return network, seen


def add(network: Network, nick: str, server: Server | None = None, origin: Any = HERE) -> User:
    """Add a user called ``nick`` on ``server`` (default: us)."""
    server = server or network.me
    user = User(network.next_uid() if server is network.me else server.sid + nick.upper().ljust(6, "X")[:6],
                nick, "~" + nick, "host", "Real", server, server.route or Client(), signon=network.now())
    network.add_user(user, origin=origin)
    return user


def consistent(network: Network) -> None:
    """Assert the cross references of users, channels and servers agree."""
    for key, user in network.users.items():
        assert network.users_by_uid[user.uid] is user
        assert user in user.server.users
        for channel, membership in user.channels.items():
            assert channel.members[user] is membership
            assert network.channels[channel.name] is channel
    assert len(network.users) == len(network.users_by_uid)
    for channel in network.channels.values():
        assert channel.members, f"empty channel {channel.name} kept"
        for user, membership in channel.members.items():
            assert user.channels[channel] is membership
            assert network.users_by_uid.get(user.uid) is user
    for server in network.servers.values():
        assert network.servers_by_sid[server.sid] is server
        for user in server.users:
            assert network.users_by_uid[user.uid] is user


def test_me_is_known() -> None:
    """Our own server is in the tables from the start."""
    network, _ = make_network()
    assert network.find_server("ME.TEST") is network.me
    assert network.servers_by_sid["0AA"] is network.me


def test_next_uid_format_and_unique() -> None:
    """UIDs are our SID and six characters of A-Z0-9, never repeated."""
    network, _ = make_network()
    uids = [network.next_uid() for _ in range(5000)]
    assert len(set(uids)) == len(uids)
    assert all(re.fullmatch(r"0AA[A-Z0-9]{6}", uid) for uid in uids)
    assert uids[0] == "0AAAAAAAA"


def test_next_uid_counts_in_base_36_and_wraps_after_six_characters() -> None:
    """The n-th UID is n in base 36 (A=0 .. 9=35), six characters, the lowest last; past 36**6 it
    starts again at AAAAAA (skipping those still in use)."""
    import itertools

    network, _ = make_network()
    for n, want in ((1, "AAAAAB"), (35, "AAAAA9"), (36, "AAAABA"), (1296, "AAABAA"), (46656, "AABAAA"),
                    (36 ** 5 * 7 + 36 ** 2 * 3 + 25, "HAADAZ"), (36 ** 6 - 1, "999999"), (36 ** 6 + 2, "AAAAAC")):
        network._uid_counter = itertools.count(n)
        assert network.next_uid() == "0AA" + want, n


def test_next_uid_skips_uids_in_use() -> None:
    """A UID already taken (say, a ghost of ours still known) is never handed out."""
    network, _ = make_network()
    squatter = User("0AAAAAAAB", "ghost", "g", "h", "r", network.me, object())
    network.add_user(squatter)
    assert [network.next_uid() for _ in range(2)] == ["0AAAAAAAA", "0AAAAAAAC"]


def test_remove_user_leaves_nick_owner_alone() -> None:
    """Removing a user whose nick key belongs to someone else keeps that other user."""
    network, _ = make_network()
    old = add(network, "dup")
    new = User(network.next_uid(), "DUP", "n", "h", "r", network.me, object())
    network.users["dup"] = new  # a collision resolved by a link re-keyed the nick
    network.users_by_uid[new.uid] = new
    network.me.users.add(new)
    network.remove_user(old, "collision")
    assert network.find_user("dup") is new
    consistent(network)


def test_add_user_event_and_lookup() -> None:
    """add_user indexes by nick (folded) and UID and emits UserIntroduced with origin."""
    network, seen = make_network()
    origin = object()
    user = add(network, "[Alice]", origin=origin)
    assert network.find_user("{alice}") is user
    assert network.users_by_uid[user.uid] is user
    assert user in network.me.users and network.local_users() == [user]
    assert seen == [ev.UserIntroduced(user, origin=origin)]
    assert network.max_local == 1 and network.max_global == 1
    consistent(network)


def test_nick_available() -> None:
    """A taken nick is unavailable except to its owner, case-insensitively."""
    network, _ = make_network()
    user = add(network, "bob")
    assert not network.nick_available("BOB")
    assert network.nick_available("Bob", user)
    assert network.nick_available("carol")


def test_change_nick_rekeys_and_emits() -> None:
    """change_nick re-keys the user, remembers the old nick and tells the peers."""
    network, seen = make_network()
    alice, bob = add(network, "alice"), add(network, "bob")
    add(network, "loner")
    network.join(alice, "#c")
    network.join(bob, "#c")
    seen.clear()
    old_mask = alice.mask
    network.clock.advance(5)
    network.change_nick(alice, "Alicia", origin="link")
    assert network.find_user("alice") is None and network.find_user("ALICIA") is alice
    assert alice.nick == "Alicia" and alice.nick_ts == START + 5
    [event] = seen
    assert isinstance(event, ev.NickChanged) and event.origin == "link"
    assert event.old == "alice" and event.old_mask == old_mask
    assert event.peers == frozenset({alice, bob})
    assert network.whowas[-1].nick == "alice"
    consistent(network)


def test_change_nick_case_only() -> None:
    """A case-only change keeps the user findable and adds no WHOWAS entry."""
    network, seen = make_network()
    alice = add(network, "alice")
    network.change_nick(alice, "ALICE", ts=123)
    assert network.find_user("alice") is alice and alice.nick == "ALICE"
    assert alice.nick_ts == 123
    assert not network.whowas
    assert isinstance(seen[-1], ev.NickChanged)
    consistent(network)


def test_join_creates_channel_with_op() -> None:
    """The first local joiner creates the channel and gets +o."""
    network, seen = make_network()
    alice = add(network, "alice")
    seen.clear()
    membership = network.join(alice, "#Chan")
    channel = network.find_channel("#chan")
    assert channel is not None and channel.name == "#Chan" and channel.ts == int(START)
    assert membership.status == {"o"}
    assert channel.members[alice] is membership and alice.channels[channel] is membership
    [event] = seen
    assert isinstance(event, ev.ChannelJoined) and event.created and event.origin is HERE
    assert event.membership is membership


def test_join_existing_channel_no_status() -> None:
    """Later joiners get no status and ``created`` is False."""
    network, seen = make_network()
    alice, bob = add(network, "alice"), add(network, "bob")
    network.join(alice, "#c")
    seen.clear()
    membership = network.join(bob, "#C")
    assert membership.status == set()
    assert seen[0].created is False  # type: ignore[attr-defined]
    assert len(network.channels) == 1


def test_join_from_link_takes_given_status_and_ts() -> None:
    """A join from a link creates the channel with the given TS and status only."""
    network, seen = make_network()
    alice = add(network, "alice")
    network.join(alice, "#x", origin="link", ts=100)
    channel = network.find_channel("#x")
    assert channel is not None and channel.ts == 100
    assert channel.members[alice].status == set()
    network.join(add(network, "bob"), "#y", origin="link", status=("v",))
    assert network.find_channel("#y").members[network.find_user("bob")].status == {"v"}  # type: ignore


def test_join_clears_invite() -> None:
    """Joining uses up an invitation to that channel."""
    network, _ = make_network()
    alice, bob = add(network, "alice"), add(network, "bob")
    network.join(alice, "#c")
    network.invite(alice, bob, network.find_channel("#c"))  # type: ignore[arg-type]
    assert "#c" in bob.invited
    network.join(bob, "#C")
    assert "#c" not in bob.invited


def test_invites_forgotten_with_the_channel_and_the_user() -> None:
    """An invitation lasts as long as both its channel and its user: a
    destroyed channel takes its invitations along (a new channel of the same
    name starts with none), and a user that quits is no longer held by the
    channels it was invited to."""
    network, _ = make_network()
    alice, bob, carol = add(network, "alice"), add(network, "bob"), add(network, "carol")
    network.join(alice, "#c")
    channel = network.find_channel("#c")
    assert channel is not None
    network.invite(alice, bob, channel)
    network.invite(alice, carol, channel)
    network.remove_user(carol, "bye")
    assert carol not in channel.invited and bob in channel.invited
    network.part(alice, channel, None)
    assert "#c" not in bob.invited and not channel.invited

def test_part_emits_members_and_destroys_empty_channel() -> None:
    """part emits ChannelParted with the members before; the last part destroys the channel."""
    network, seen = make_network()
    alice, bob = add(network, "alice"), add(network, "bob")
    network.join(alice, "#c")
    network.join(bob, "#c")
    channel = network.find_channel("#c")
    assert channel is not None
    seen.clear()
    network.part(bob, channel, "bye", origin="L")
    [event] = seen
    assert isinstance(event, ev.ChannelParted) and event.origin == "L"
    assert event.reason == "bye" and event.members == frozenset({alice, bob})
    assert bob not in channel.members and channel not in bob.channels
    assert network.find_channel("#c") is channel
    network.part(alice, channel, None)
    assert network.find_channel("#c") is None and not alice.channels
    consistent(network)


def test_kick_removes_target() -> None:
    """kick emits UserKicked (target among members) and removes the target."""
    network, seen = make_network()
    alice, bob = add(network, "alice"), add(network, "bob")
    network.join(alice, "#c")
    network.join(bob, "#c")
    channel = network.find_channel("#c")
    assert channel is not None
    seen.clear()
    network.kick(alice, channel, bob, "out", origin="L")
    [event] = seen
    assert isinstance(event, ev.UserKicked)
    assert event.source is alice and event.target is bob and event.reason == "out"
    assert bob in event.members and event.origin == "L"
    assert bob not in channel.members and not bob.channels
    network.kick(network.me, channel, alice, "last")
    assert network.find_channel("#c") is None
    consistent(network)


def test_remove_user_removes_memberships_and_remembers() -> None:
    """remove_user emits UserQuit with its peers, leaves every channel, and adds WHOWAS."""
    network, seen = make_network()
    alice, bob = add(network, "alice"), add(network, "bob")
    network.join(alice, "#a")
    network.join(alice, "#b")
    network.join(bob, "#b")
    seen.clear()
    network.clock.advance(7)
    network.remove_user(alice, "Quit: bye", origin="L")
    [event] = seen
    assert isinstance(event, ev.UserQuit) and event.reason == "Quit: bye" and event.origin == "L"
    assert event.peers == frozenset({alice, bob})
    assert network.find_user("alice") is None and alice.uid not in network.users_by_uid
    assert alice not in network.me.users
    assert network.find_channel("#a") is None
    assert list(network.find_channel("#b").members) == [bob]  # type: ignore[union-attr]
    entry = network.whowas[-1]
    assert (entry.nick, entry.ident, entry.server, entry.when) == ("alice", "~alice", "me.test", START + 7)
    consistent(network)


def test_remove_user_twice_is_harmless() -> None:
    """Removing a user that is already gone emits nothing."""
    network, seen = make_network()
    alice = add(network, "alice")
    network.remove_user(alice, "x")
    seen.clear()
    network.remove_user(alice, "again")
    assert seen == []


def test_set_away_and_host() -> None:
    """set_away and set_host change the user and emit their events."""
    network, seen = make_network()
    alice, bob = add(network, "alice"), add(network, "bob")
    network.join(alice, "#c")
    network.join(bob, "#c")
    seen.clear()
    network.set_away(alice, "lunch", origin="L")
    assert alice.away == "lunch" and seen[-1] == ev.AwayChanged(alice, origin="L")
    network.set_away(alice, "")
    assert alice.away is None
    old = alice.mask
    network.set_host(alice, "~new", "new.host")
    event = seen[-1]
    assert isinstance(event, ev.HostChanged) and event.old_mask == old
    assert alice.mask == "alice!~new@new.host" and event.peers == frozenset({alice, bob})


def test_set_topic() -> None:
    """set_topic records text, setter and time; an empty topic clears them."""
    network, seen = make_network()
    alice = add(network, "alice")
    network.join(alice, "#c")
    channel = network.find_channel("#c")
    assert channel is not None
    network.set_topic(alice, channel, "hello", alice.mask, origin="L")
    assert (channel.topic, channel.topic_setter, channel.topic_ts) == ("hello", alice.mask, int(START))
    assert seen[-1] == ev.TopicChanged(alice, channel, origin="L")
    network.set_topic(alice, channel, "", alice.mask)
    assert (channel.topic, channel.topic_setter, channel.topic_ts) == ("", "", 0)


def test_invite_records_folded_name() -> None:
    """invite stores the folded channel name and emits UserInvited."""
    network, seen = make_network()
    alice, bob = add(network, "alice"), add(network, "bob")
    network.join(alice, "#Chan[1]")
    channel = network.find_channel("#chan{1}")
    assert channel is not None
    network.invite(alice, bob, channel, origin="L")
    assert bob.invited == {"#chan{1}"}
    assert seen[-1] == ev.UserInvited(alice, bob, channel, origin="L")


def test_channel_modes_apply_and_report_changes() -> None:
    """apply_channel_modes returns and emits only the changes that changed state."""
    network, seen = make_network()
    alice, bob = add(network, "alice"), add(network, "bob")
    nobody = add(network, "nobody")  # not a member
    network.join(alice, "#c")
    network.join(bob, "#c")
    channel = network.find_channel("#c")
    assert channel is not None
    seen.clear()
    changes = [ModeChange(True, "n"), ModeChange(True, "t"), ModeChange(True, "o", "BOB", bob),
               ModeChange(True, "b", "x!*@*"), ModeChange(True, "k", "key"), ModeChange(True, "l", "5"),
               ModeChange(True, "o", "nobody", nobody)]
    applied = network.apply_channel_modes(alice, channel, changes, origin="L")
    assert applied == changes[:-1]
    assert channel.flags == {"n", "t"} and channel.key == "key" and channel.limit == 5
    assert channel.members[bob].status == {"o"}
    assert channel.lists["b"][0].mask == "x!*@*" and channel.lists["b"][0].setter == alice.mask
    [event] = seen
    assert isinstance(event, ev.ChannelModesChanged) and event.changes == tuple(applied)
    assert event.origin == "L"
    seen.clear()
    assert network.apply_channel_modes(alice, channel, [ModeChange(True, "n"), ModeChange(True, "b", "X!*@*")]) == []
    assert seen == []
    assert channel.mode_string() == ["+ntkl", "key", "5"]
    assert channel.mode_string(show_key=False) == ["+ntkl", "*", "5"]
    removed = network.apply_channel_modes(
        network.me, channel,
        [ModeChange(False, "k", "*"), ModeChange(False, "l"), ModeChange(False, "b", "X!*@*"),
         ModeChange(False, "b", "none"), ModeChange(False, "o", "bob", bob)],
    )
    assert [c.mode for c in removed] == ["k", "l", "b", "o"]
    assert channel.key is None and channel.limit is None and not channel.lists["b"]
    assert channel.members[bob].status == set()


def test_user_modes_and_oper() -> None:
    """set_oper gives +o (+A for flag a, +a for flag s); -o clears the oper record."""
    network, seen = make_network()
    alice = add(network, "alice")
    seen.clear()
    applied = network.set_oper(alice, "root", frozenset("as"))
    assert {c.mode for c in applied} == {"o", "A", "a"}
    assert alice.is_oper and alice.oper_name == "root" and alice.has_oper_flag("a")
    assert isinstance(seen[-1], ev.UserModesChanged)
    assert network.apply_user_modes(alice, alice, [ModeChange(True, "o")]) == []
    network.apply_user_modes(alice, alice, [ModeChange(False, "o")])
    assert not alice.is_oper and alice.oper_name is None and alice.oper_flags == frozenset()
    assert not alice.has_oper_flag("")


def test_add_and_remove_server_cascades() -> None:
    """remove_server removes the servers behind it and every user on them."""
    network, seen = make_network()
    route = Route()
    hub = Server("hub.test", "1HB", uplink=network.me, route=route, hopcount=1)
    leaf = Server("leaf.test", "2LF", uplink=hub, route=route, hopcount=2)
    leaf2 = Server("leaf2.test", "3LF", uplink=leaf, route=route, hopcount=3)
    other = Server("other.test", "4OT", uplink=network.me, route=Route(), hopcount=1)
    for server in (hub, leaf, leaf2, other):
        network.add_server(server, origin=server.route)
    assert seen[0] == ev.ServerIntroduced(hub, origin=route)
    local = add(network, "local")
    on_hub, on_leaf, on_leaf2 = add(network, "h", hub), add(network, "l", leaf), add(network, "l2", leaf2)
    on_other = add(network, "o", other)
    for user in (local, on_hub, on_leaf, on_leaf2, on_other):
        network.join(user, "#c", origin=HERE if user is local else user.route)
    network.join(on_leaf, "#leafonly", origin=route)
    seen.clear()
    network.remove_server(hub, "Ping timeout", origin=route)
    assert set(network.servers_by_sid) == {"0AA", "4OT"}
    assert network.find_server("leaf.test") is None
    assert set(network.users_by_uid.values()) == {local, on_other}
    assert set(network.find_channel("#c").members) == {local, on_other}  # type: ignore[union-attr]
    assert network.find_channel("#leafonly") is None
    consistent(network)
    # One event for the whole split, emitted once the split is applied; no QUIT per user.
    [split] = seen
    assert isinstance(split, ev.NetSplit) and split.origin is route
    assert split.server is hub and split.servers[0] is hub and set(split.servers) == {hub, leaf, leaf2}
    assert set(split.users) == {on_hub, on_leaf, on_leaf2}
    assert split.reason == "Ping timeout" and split.quit_reason == "me.test hub.test"
    assert split.local_peers[on_leaf] == frozenset({local})


def test_peers_of_includes_self() -> None:
    """peers_of is the user plus everyone sharing a channel."""
    network, _ = make_network()
    a, b, c = add(network, "a"), add(network, "b"), add(network, "c")
    network.join(a, "#x")
    network.join(b, "#x")
    assert network.peers_of(a) == {a, b}
    assert network.peers_of(c) == {c}


def test_masks() -> None:
    """mask uses the displayed host, real_mask the real one."""
    network, _ = make_network()
    a = add(network, "a")
    network.set_host(a, "~a", "cloak")
    assert a.mask == "a!~a@cloak" and a.real_mask == "a!~a@host"


class ServicesRoute(Route):
    """The services pseudo-server's route: it decides on this server."""

    decides_here = True


def test_services_route_gets_the_defaults_of_this_server() -> None:
    """A channel created by a services user (its own route) gets the default modes and op, as a local one does."""
    network, seen = make_network()
    network.default_channel_modes = "nt"
    route = ServicesRoute()
    services = Server("services.test", "0SV", uplink=network.me, route=route, hopcount=1)
    network.add_server(services, origin=route)
    chanserv = add(network, "ChanServ", services, origin=route)
    membership = network.join(chanserv, "#new", origin=route)
    assert membership.channel.flags == {"n", "t"} and membership.status == {"o"}
    event = seen[-1]
    assert isinstance(event, ev.ChannelJoined) and event.origin is route and event.granted == frozenset()


def test_link_route_replays_without_defaults() -> None:
    """A channel created by a link's JOIN gets no default modes or op: the remote side decided those."""
    network, _ = make_network()
    network.default_channel_modes = "nt"
    route = Route()
    remote = Server("remote.test", "1RM", uplink=network.me, route=route, hopcount=1)
    network.add_server(remote, origin=route)
    rem = add(network, "rem", remote, origin=route)
    membership = network.join(rem, "#new", origin=route)
    assert membership.channel.flags == set() and membership.status == set()


def test_origin_none_is_refused() -> None:
    """origin=None is ambiguous (local client or decided here?) and raises instead of guessing."""
    network, _ = make_network()
    alice = add(network, "alice")
    try:
        network.set_away(alice, "gone", origin=None)
    except TypeError as exc:
        assert "origin" in str(exc)
    else:
        raise AssertionError("origin=None accepted")


def test_status_is_keyed_by_member_not_by_nick() -> None:
    """A status change reaches the user it was decided for even if its nick changed hands meanwhile."""
    network, seen = make_network()
    alice, bob = add(network, "alice"), add(network, "bob")
    for user in (alice, bob):
        network.join(user, "#c")
    channel = network.find_channel("#c")
    assert channel is not None
    decided = ModeChange(True, "o", "bob", bob)  # decided while bob was "bob"
    network.change_nick(bob, "robert")
    carol = add(network, "bob")  # someone else now holds the nick
    network.join(carol, "#c")
    seen.clear()
    assert network.apply_channel_modes(alice, channel, [decided]) == [decided]
    assert channel.members[bob].status == {"o"} and channel.members[carol].status == set()
    # Without a member, a nick alone is never looked up.
    assert network.apply_channel_modes(alice, channel, [ModeChange(True, "v", "bob")]) == []
    assert channel.members[carol].status == set()


def test_quit_event_comes_after_the_user_is_gone() -> None:
    """Subscribers of UserQuit see the network without the user (so a handler may close its connection)."""
    network, _ = make_network()
    alice, bob = add(network, "alice"), add(network, "bob")
    network.join(alice, "#a")
    network.join(bob, "#a")
    states = []

    def look(event: ev.Event) -> None:
        if isinstance(event, ev.UserQuit):
            states.append((network.find_user("alice"), set(network.find_channel("#a").members)))  # type: ignore[union-attr]

    network.events.subscribe(look)
    network.remove_user(alice, "Quit: bye")
    assert states == [(None, {bob})]


def test_kill_is_its_own_event_with_killer_and_path() -> None:
    """kill_user removes the victim and emits UserKilled (killer, path, reason), not UserQuit."""
    network, seen = make_network()
    oper, victim = add(network, "oper"), add(network, "victim")
    network.join(oper, "#a")
    network.join(victim, "#a")
    seen.clear()
    network.kill_user(victim, oper, "flooding")
    [event] = seen
    assert isinstance(event, ev.UserKilled) and not isinstance(event, ev.UserQuit)
    assert event.user is victim and event.killer is oper and event.reason == "flooding"
    assert event.path == "me.test!host!~oper!oper"
    assert event.quit_reason == "Killed (oper (flooding))"
    assert event.peers == frozenset({oper, victim}) and event.origin is HERE
    assert network.find_user("victim") is None
    assert network.whowas[-1].nick == "victim"
    consistent(network)


def test_kill_by_a_server_and_a_relayed_path() -> None:
    """A server's kill reads 'Killed (server (reason))'; a path that came over a link is kept."""
    network, seen = make_network()
    victim = add(network, "victim")
    network.kill_user(victim, network.me, "Nick collision (new)")
    assert seen[-1].quit_reason == "Killed (me.test (Nick collision (new)))"  # type: ignore[attr-defined]
    assert seen[-1].path == "me.test"  # type: ignore[attr-defined]
    other = add(network, "other")
    route = Route()
    network.kill_user(other, network.me, "spam", path="far.test!h!u!oper", origin=route)
    assert seen[-1].path == "far.test!h!u!oper" and seen[-1].origin is route  # type: ignore[attr-defined]
    network.kill_user(other, network.me, "again")  # a second KILL for a gone user is ignored
    assert len([e for e in seen if isinstance(e, ev.UserKilled)]) == 2


def test_set_account_records_and_emits() -> None:
    """set_account stores the account (None: logged out) and emits AccountChanged with its origin only on change."""
    network, seen = make_network()
    alice = add(network, "alice")
    route = Route()
    network.set_account(alice, "AliceAcct", origin=route)
    assert alice.account == "AliceAcct"
    assert seen[-1] == ev.AccountChanged(alice, None, origin=route)
    count = len(seen)
    network.set_account(alice, "AliceAcct", origin=route)
    assert len(seen) == count
    network.set_account(alice, None)
    assert alice.account is None and seen[-1] == ev.AccountChanged(alice, "AliceAcct", origin=HERE)
