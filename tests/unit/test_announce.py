"""The client announcer: network events become the lines local clients expect."""

from __future__ import annotations

from conferenceroom.modes import ModeChange
from conferenceroom.network import Channel
from tests.helpers import make_core, make_remote_server, make_remote_user, register, sent


def joined(core, nick_conns, name="#c") -> Channel:  # type: ignore[no-untyped-def]
    """Put the users of ``nick_conns`` in channel ``name`` and clear their output."""
    for conn in nick_conns:
        core.network.join(conn.user, name)
    for conn in nick_conns:
        sent(conn)
    channel = core.network.find_channel(name)
    assert channel is not None
    return channel


def test_join_plain_and_extended() -> None:
    """JOIN goes to every local member; extended-join clients get account and realname."""
    core = make_core()
    alice = register(core, "alice")
    bob = register(core, "bob", caps="extended-join")
    joined(core, [alice])
    core.network.join(bob.user, "#c")
    [to_alice] = sent(alice)
    assert (to_alice.source, to_alice.command, to_alice.params) == ("bob!~bob@127.0.0.1", "JOIN", ("#c",))
    [to_bob] = sent(bob)
    assert to_bob.command == "JOIN" and to_bob.params == ("#c", "*", "Real bob")
    bob.user.account = "bobacct"
    core.network.part(bob.user, core.network.find_channel("#c"), None)
    sent(alice), sent(bob)
    core.network.join(bob.user, "#c")
    assert sent(bob)[0].params == ("#c", "bobacct", "Real bob")


def test_join_of_away_user_with_away_notify() -> None:
    """An away user joining is followed by AWAY for away-notify members only."""
    core = make_core()
    alice = register(core, "alice", caps="away-notify")
    carol = register(core, "carol")
    bob = register(core, "bob", caps="away-notify")
    joined(core, [alice, carol])
    bob.user.away = "gone"
    core.network.join(bob.user, "#c")
    assert [(m.command, m.params) for m in sent(alice)] == [("JOIN", ("#c",)), ("AWAY", ("gone",))]
    assert [m.command for m in sent(carol)] == ["JOIN"]
    assert [m.command for m in sent(bob)] == ["JOIN"]


def test_remote_join_with_status_shows_mode() -> None:
    """A remote user joining with op status is shown as JOIN then MODE +o from its server."""
    core = make_core()
    alice = register(core, "alice")
    joined(core, [alice])
    server = make_remote_server(core)
    rem = make_remote_user(core, server, "rem")
    core.network.join(rem, "#c", origin=server.route, status=("o",))
    out = sent(alice)
    assert [(m.source, m.command, m.params) for m in out] == [
        (rem.mask, "JOIN", ("#c",)),
        ("remote.test", "MODE", ("#c", "+o", "rem")),
    ]


def test_part_with_and_without_reason() -> None:
    """PART goes to every member including the one leaving, with the reason if any."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    channel = joined(core, [alice, bob])
    core.network.part(bob.user, channel, "see you")
    assert [(m.source, m.params) for m in sent(alice)] == [("bob!~bob@127.0.0.1", ("#c", "see you"))]
    assert sent(bob)[0].params == ("#c", "see you")
    core.network.part(alice.user, channel, None)
    [msg] = sent(alice)
    assert msg.command == "PART" and msg.params == ("#c",)


def test_quit_to_peers_once_not_quitter() -> None:
    """QUIT goes once to each local peer (even sharing two channels), never to the quitter."""
    core = make_core()
    alice, bob, carol = register(core, "alice"), register(core, "bob"), register(core, "carol")
    lonely = register(core, "lonely")
    joined(core, [alice, bob, carol], "#one")
    joined(core, [alice, bob], "#two")
    server = make_remote_server(core)
    rem = make_remote_user(core, server, "rem")
    core.network.join(rem, "#one", origin=server.route)
    sent(alice), sent(bob), sent(carol)
    core.network.remove_user(alice.user, "Quit: bye")
    for conn in (bob, carol):
        assert [(m.source, m.command, m.params) for m in sent(conn)] == [
            ("alice!~alice@127.0.0.1", "QUIT", ("Quit: bye",))
        ]
    assert sent(alice) == [] and sent(lonely) == []
    assert server.route.relayed == []  # links learn of quits through their own subscriber


def test_nick_change_to_self_and_peers() -> None:
    """NICK goes to the user itself and to each peer once, from the old mask."""
    core = make_core()
    alice, bob, other = register(core, "alice"), register(core, "bob"), register(core, "other")
    joined(core, [alice, bob], "#a")
    joined(core, [alice, bob], "#b")
    core.network.change_nick(alice.user, "alicia")
    for conn in (alice, bob):
        assert [(m.source, m.command, m.params) for m in sent(conn)] == [
            ("alice!~alice@127.0.0.1", "NICK", ("alicia",))
        ]
    assert sent(other) == []


def test_nick_change_without_channels_reaches_self() -> None:
    """A user in no channel still sees its own nick change."""
    core = make_core()
    alice = register(core, "alice")
    core.network.change_nick(alice.user, "al")
    assert [(m.command, m.params) for m in sent(alice)] == [("NICK", ("al",))]


def test_topic_change() -> None:
    """TOPIC goes to every member, from the setter; a clear is an empty topic."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    channel = joined(core, [alice, bob])
    core.network.set_topic(alice.user, channel, "new topic", alice.user.mask)
    for conn in (alice, bob):
        [msg] = sent(conn)
        assert (msg.source, msg.command, msg.params) == (alice.user.mask, "TOPIC", ("#c", "new topic"))
    core.network.set_topic(core.network.me, channel, "", "test.local")
    [msg] = sent(bob)
    assert msg.source == "test.local" and msg.params == ("#c", "")


def test_kick_reaches_target() -> None:
    """KICK goes to every member including the target."""
    core = make_core()
    alice, bob, carol = register(core, "alice"), register(core, "bob"), register(core, "carol")
    channel = joined(core, [alice, bob, carol])
    core.network.kick(alice.user, channel, bob.user, "behave")
    for conn in (alice, bob, carol):
        [msg] = sent(conn)
        assert (msg.source, msg.command, msg.params) == (alice.user.mask, "KICK", ("#c", "bob", "behave"))


def test_mode_lines_split_by_parameter_modes() -> None:
    """Channel MODE lines carry at most 4 modes with parameters each; flags ride along."""
    core = make_core()
    alice = register(core, "alice")
    nicks = [register(core, f"u{i}", ip=f"10.0.0.{i}") for i in range(6)]
    channel = joined(core, [alice, *nicks])
    changes = [ModeChange(True, "n"), ModeChange(True, "t")] + [
        ModeChange(True, "o", f"u{i}", nicks[i].user) for i in range(6)
    ] + [ModeChange(True, "m")]
    core.network.apply_channel_modes(alice.user, channel, changes)
    out = sent(alice)
    assert [m.params for m in out] == [
        ("#c", "+ntoooo", "u0", "u1", "u2", "u3"),
        ("#c", "+oom", "u4", "u5"),
    ]
    assert all(m.source == alice.user.mask for m in out)
    for msg in out:
        assert len(msg.params) - 2 <= 4


def test_mode_mixed_signs_and_few_params() -> None:
    """A short mixed change is one line with + and - groups."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    channel = joined(core, [alice, bob])
    core.network.apply_channel_modes(alice.user, channel, [ModeChange(True, "v", "bob", bob.user), ModeChange(True, "k", "pw")])
    sent(alice), sent(bob)
    core.network.apply_channel_modes(
        core.network.me, channel, [ModeChange(False, "v", "bob", bob.user), ModeChange(True, "i"), ModeChange(False, "k", "pw")]
    )
    [msg] = sent(bob)
    assert msg.source == "test.local" and msg.params == ("#c", "-v+i-k", "bob", "pw")


def test_user_mode_to_self_only() -> None:
    """A user mode change is shown to that user only, sourced by its nick."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    joined(core, [alice, bob])
    core.network.apply_user_modes(alice.user, alice.user, [ModeChange(True, "i")])
    [msg] = sent(alice)
    assert (msg.source, msg.command, msg.params) == ("alice", "MODE", ("alice", "+i"))
    assert sent(bob) == []


def test_away_notify() -> None:
    """AWAY goes to peers with away-notify only, not to the user itself."""
    core = make_core()
    alice = register(core, "alice", caps="away-notify")
    bob = register(core, "bob", caps="away-notify")
    carol = register(core, "carol")
    outsider = register(core, "out", caps="away-notify")
    joined(core, [alice, bob, carol])
    core.network.set_away(alice.user, "lunch")
    [msg] = sent(bob)
    assert (msg.source, msg.command, msg.params) == (alice.user.mask, "AWAY", ("lunch",))
    assert sent(alice) == [] and sent(carol) == [] and sent(outsider) == []
    core.network.set_away(alice.user, None)
    [msg] = sent(bob)
    assert msg.command == "AWAY" and msg.params == ()


def test_chghost() -> None:
    """CHGHOST goes from the old mask to peers (and the user) that negotiated chghost."""
    core = make_core()
    alice = register(core, "alice", caps="chghost")
    bob = register(core, "bob", caps="chghost")
    carol = register(core, "carol")
    joined(core, [alice, bob, carol])
    old = alice.user.mask
    core.network.set_host(alice.user, "~new", "new.host")
    for conn in (alice, bob):
        [msg] = sent(conn)
        assert (msg.source, msg.command, msg.params) == (old, "CHGHOST", ("~new", "new.host"))
    channel = next(iter(alice.user.channels)).name
    assert [(m.source, m.command, m.params) for m in sent(carol)][:2] == [
        (old, "QUIT", ("Changing host",)),
        ("alice!~new@new.host", "JOIN", (channel,)),
    ]


def test_chghost_fallback_restores_status() -> None:
    """A peer without chghost sees QUIT, then JOIN and MODE giving back the
    user's channel status, as other servers do (IRCv3 chghost)."""
    core = make_core()
    alice = register(core, "alice")
    carol = register(core, "carol")
    core.network.join(alice.user, "#c")
    core.network.join(carol.user, "#c")
    sent(carol)
    sent(alice)
    core.network.set_host(alice.user, "~alice", "cloak.example")
    assert [(m.command, m.params) for m in sent(carol)] == [
        ("QUIT", ("Changing host",)), ("JOIN", ("#c",)), ("MODE", ("#c", "+o", "alice"))]
    assert sent(alice) == []


def test_invite_and_invite_notify() -> None:
    """The target gets INVITE; channel operators with invite-notify are told too."""
    core = make_core()
    op = register(core, "op", caps="invite-notify")
    inviter = register(core, "inviter", caps="invite-notify")
    plain_op = register(core, "plainop")
    member = register(core, "member", caps="invite-notify")
    target = register(core, "target")
    channel = joined(core, [op, inviter, plain_op, member])
    channel.members[plain_op.user].status.add("o")
    core.network.invite(inviter.user, target.user, channel)
    expected = (inviter.user.mask, "INVITE", ("target", "#c"))
    [msg] = sent(target)
    assert (msg.source, msg.command, msg.params) == expected
    [msg] = sent(op)
    assert (msg.source, msg.command, msg.params) == expected
    assert sent(inviter) == [] and sent(plain_op) == [] and sent(member) == []


def test_remote_changes_look_like_local_ones() -> None:
    """A remote user's QUIT reaches local peers the same way."""
    core = make_core()
    alice = register(core, "alice")
    joined(core, [alice])
    server = make_remote_server(core)
    rem = make_remote_user(core, server, "rem")
    core.network.join(rem, "#c", origin=server.route)
    sent(alice)
    core.network.remove_server(server, "Connection reset by peer", origin=server.route)
    [msg] = sent(alice)
    assert (msg.source, msg.command, msg.params) == (rem.mask, "QUIT", ("test.local remote.test",))


def test_services_join_with_status_is_shown_but_creator_op_is_not() -> None:
    """ChanServ joining with op (its own route) shows JOIN and a MODE +o; a local creator's op shows no MODE."""
    core = make_core()
    alice = register(core, "alice")
    core.network.join(alice.user, "#c")
    assert [m.command for m in sent(alice)] == ["JOIN"]
    server = make_remote_server(core, "services.test", "0SV")
    server.route.decides_here = True
    chanserv = make_remote_user(core, server, "ChanServ")
    core.network.join(chanserv, "#c", origin=server.route, status=("o",))
    lines = [(m.source, m.command, m.params) for m in sent(alice)]
    assert lines == [(chanserv.mask, "JOIN", ("#c",)), ("services.test", "MODE", ("#c", "+o", "ChanServ"))]


def test_status_mode_shows_the_members_current_nick() -> None:
    """A status change decided under an old nick is shown to clients with the member's nick now."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    channel = joined(core, [alice, bob])
    decided = ModeChange(True, "v", "bob", bob.user)
    core.network.change_nick(bob.user, "robert")
    sent(alice)
    core.network.apply_channel_modes(alice.user, channel, [decided])
    [msg] = sent(alice)
    assert msg.params == ("#c", "+v", "robert")


def test_netsplit_quits_once_per_user_after_the_split() -> None:
    """A split shows each lost peer's QUIT '<near> <far>' once; by then the state has no lost server."""
    core = make_core()
    alice = register(core, "alice")
    joined(core, [alice], "#a")
    joined(core, [alice], "#b")
    hub = make_remote_server(core, "hub.test", "1HB")
    from conferenceroom.network import Server

    leaf = Server("leaf.test", "2LF", uplink=hub, route=hub.route, hopcount=2)
    core.network.add_server(leaf, origin=hub.route)
    on_hub = make_remote_user(core, hub, "h")
    on_leaf = make_remote_user(core, leaf, "l")
    for user in (on_hub, on_leaf):
        for name in ("#a", "#b"):
            core.network.join(user, name, origin=hub.route)
    sent(alice)
    seen_state = []
    core.network.events.subscribe(lambda e: seen_state.append(core.network.find_server("leaf.test")))
    core.network.remove_server(hub, "Connection reset", origin=hub.route)
    lines = sorted((m.source, m.command, m.params) for m in sent(alice))
    assert lines == sorted([
        (on_hub.mask, "QUIT", ("test.local hub.test",)),
        (on_leaf.mask, "QUIT", ("test.local hub.test",)),
    ])
    assert seen_state == [None]


def test_kill_of_local_user_closes_it_and_shows_peers_the_kill() -> None:
    """A KILL decided anywhere (here: a remote oper) sends the local victim KILL and ERROR; peers see the QUIT."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    joined(core, [alice, bob])
    server = make_remote_server(core)
    oper = make_remote_user(core, server, "oper")
    core.network.kill_user(bob.user, oper, "spam", origin=server.route)
    to_bob = sent(bob)
    assert [(m.source, m.command, m.params) for m in to_bob] == [
        (oper.mask, "KILL", ("bob", "spam")),
        (None, "ERROR", ("Closing Link: 127.0.0.1 (Killed (oper (spam)))",)),
    ]
    assert bob.transport.disconnecting
    [quit_line] = sent(alice)
    assert (quit_line.source, quit_line.command, quit_line.params) == (
        "bob!~bob@127.0.0.1", "QUIT", ("Killed (oper (spam))",))
    assert core.network.find_user("bob") is None


def test_account_notify_to_peers_with_the_cap() -> None:
    """An account change is sent as ACCOUNT to channel peers (and the user) with account-notify, '*' on logout."""
    from conferenceroom.client.caps import Capability

    core = make_core()
    core.capabilities["account-notify"] = Capability("account-notify")  # offered once SASL/services exist
    alice = register(core, "alice", caps="account-notify")
    bob = register(core, "bob")
    carol = register(core, "carol", caps="account-notify")
    joined(core, [alice, bob, carol])
    dave = register(core, "dave", caps="account-notify")  # shares no channel
    core.network.set_account(bob.user, "BobAcct")
    expected = [("bob!~bob@127.0.0.1", "ACCOUNT", ("BobAcct",))]
    assert [(m.source, m.command, m.params) for m in sent(alice)] == expected
    assert [(m.source, m.command, m.params) for m in sent(carol)] == expected
    assert [m.command for m in sent(bob)] == ["900"] and sent(dave) == []  # no account-notify; not his nick: no +r
    core.network.set_account(bob.user, None)
    assert [m.params for m in sent(alice)] == [("*",)]


def test_lost_channel_ts_is_shown_to_local_members() -> None:
    """When a netjoin lowers the TS, locals see our modes, op and topic removed, the JOINs, then the winners' modes."""
    core = make_core()
    alice = register(core, "alice")
    core.network.join(alice.user, "#c", ts=2000)
    channel = core.network.find_channel("#c")
    core.network.apply_channel_modes(alice.user, channel, [ModeChange(True, "i"), ModeChange(True, "k", "pw")])
    core.network.set_topic(alice.user, channel, "ours", alice.user.mask)
    sent(alice)
    server = make_remote_server(core)
    rem = make_remote_user(core, server, "rem")
    core.network.netjoin(server, "#c", 1000, [ModeChange(True, "n")], [(rem, "o")], origin=server.route)
    lines = [(m.source, m.command, m.params) for m in sent(alice)]
    assert lines == [
        ("remote.test", "MODE", ("#c", "-iko", "pw", "alice")),
        ("remote.test", "TOPIC", ("#c", "")),
        (rem.mask, "JOIN", ("#c",)),
        ("remote.test", "MODE", ("#c", "+no", "rem")),
    ]


def test_netjoin_of_several_members_shows_each_join_in_order() -> None:
    """A burst SJOIN of three users shows a local member three JOINs in SJOIN order, extended and with AWAY."""
    core = make_core()
    alice = register(core, "alice", caps="extended-join away-notify")
    core.network.join(alice.user, "#c", ts=1000)
    sent(alice)
    server = make_remote_server(core)
    rems = [make_remote_user(core, server, nick) for nick in ("r1", "r2", "r3")]
    rems[1].away = "gone"
    core.network.netjoin(server, "#c", 1000, [], [(r, "") for r in rems], origin=server.route)
    lines = [(m.source, m.command, m.params) for m in sent(alice)]
    assert lines == [
        (rems[0].mask, "JOIN", ("#c", "*", rems[0].realname)),
        (rems[1].mask, "JOIN", ("#c", "*", rems[1].realname)),
        (rems[1].mask, "AWAY", ("gone",)),
        (rems[2].mask, "JOIN", ("#c", "*", rems[2].realname)),
    ]


def test_netjoin_into_a_channel_without_local_members_tells_nobody() -> None:
    """A burst SJOIN into a channel with no local members sends local clients nothing."""
    core = make_core()
    alice = register(core, "alice")
    core.network.join(alice.user, "#mine")
    sent(alice)
    server = make_remote_server(core)
    rem = make_remote_user(core, server, "rem")
    core.network.netjoin(server, "#theirs", 1000, [ModeChange(True, "n")], [(rem, "o")], origin=server.route)
    assert sent(alice) == [] and core.network.find_channel("#theirs").members[rem].status == {"o"}


def test_remote_helpers_build_servers_behind_servers() -> None:
    """make_remote_server with an uplink puts the server behind it, on the same link route."""
    core = make_core()
    hub = make_remote_server(core, "hub.test", "1HB")
    leaf = make_remote_server(core, "leaf.test", "2LF", uplink=hub)
    user = make_remote_user(core, leaf, "lena", ts=5)
    assert leaf.uplink is hub and leaf.route is hub.route and leaf.hopcount == 2
    assert user.route is hub.route and user.nick_ts == 5 and core.network.find_user("lena") is user


def test_collision_with_a_link_kills_our_newer_user_visibly() -> None:
    """A link introducing an older user with our user's nick: ours gets KILL and ERROR, peers a QUIT."""
    core = make_core()
    alice, bob = register(core, "alice"), register(core, "bob")
    joined(core, [alice, bob])
    server = make_remote_server(core)
    from conferenceroom.network import User

    older = User("9RMAAAAAA", "bob", "~other", "far.host", "Other", server, server.route, ip="198.51.100.7",
                 signon=core.clock.seconds() - 100)
    ours = bob.user
    collision = core.network.add_user(older, origin=server.route)
    assert collision is not None and collision.killed == (ours,) and collision.accepted
    to_bob = [(m.source, m.command, m.params) for m in sent(bob)]
    assert to_bob == [
        ("test.local", "KILL", ("bob", "Nick collision (new)")),
        (None, "ERROR", ("Closing Link: 127.0.0.1 (Killed (test.local (Nick collision (new))))",)),
    ]
    [quit_line] = sent(alice)
    assert quit_line.command == "QUIT" and quit_line.params == ("Killed (test.local (Nick collision (new)))",)
    assert core.network.find_user("bob") is older
