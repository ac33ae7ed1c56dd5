"""Replays of real ircd-hybrid 8.2.43 traffic (tests/fixtures/ts6) against our TS6 side.

We play alpha.lab (1AA) with the same users and channels as hybrid's A in
the lab; beta.lab's lines are fed to us as hybrid sent them, and each
action of A's users is done here, the line we send compared with the one
hybrid sent in the same place (as parsed messages, so a ``:`` hybrid puts
before a one-word last parameter does not matter).
"""

from __future__ import annotations

from conferenceroom.link.burst import burst_messages
from conferenceroom.modes import ModeChange
from conferenceroom.network import User
from conferenceroom.wire import Message
from tests.unit.linkkit import hybrid_trace as trace
from tests.unit.linknet import HYBRID_CAPS, LocalClient, Mesh, raw_link

T0 = 1795607297


def after_svinfo(lines: list[tuple[str, Message]], direction: str) -> list[Message]:
    """The lines sent in ``direction`` after its SVINFO (the burst and what follows)."""
    mine = [m for d, m in lines if d == direction]
    start = next(i for i, m in enumerate(mine) if m.command == "SVINFO")
    return mine[start + 1:]


def lab_alpha(link_beta: bool = True):
    """Our alpha.lab with hybrid A's users and channels of the burst trace, linked to a raw beta.lab."""
    mesh = Mesh()
    mesh.clock.advance(T0 - mesh.clock.seconds())
    alpha = mesh.node("alpha.lab", "1AA")
    net = alpha.network

    def local(nick: str, modes: str = "") -> User:
        user = User(net.next_uid(), nick, f"~{nick}", "127.0.0.1", f"{nick.capitalize()} on A", net.me,
                    LocalClient(), ip="127.0.0.1", signon=T0)
        user.set_modes(modes)
        net.add_user(user)
        return user

    alice, bob = local("alice", "aosw"), local("bob")
    net.set_away(alice, "gone fishing")
    net.join(alice, "#shared")
    alpha_chan = net.join(alice, "#alpha").channel
    net.join(bob, "#alpha", status=("v",))
    net.apply_channel_modes(alice, alpha_chan, [
        ModeChange(True, "l", "42"), ModeChange(True, "k", "sesame"), ModeChange(True, "b", "*!evil@*"),
        ModeChange(True, "b", "*!*@bad.example"), ModeChange(True, "e", "*!*@good.example"),
        ModeChange(True, "I", "*!*@friends.example"),
    ])
    net.set_topic(alice, alpha_chan, "Alpha channel topic", alice.mask, ts=T0)
    if not link_beta:
        return mesh, alpha, None, alice, bob
    beta = raw_link(alpha, "beta.lab", "2BB", HYBRID_CAPS)
    beta.lines()
    return mesh, alpha, beta, alice, bob


def shape(msg: Message) -> tuple:
    """What must match hybrid's line: source kind, command, parameter count."""
    return (len(msg.source or ""), msg.command, len(msg.params))


def test_our_burst_has_the_shape_of_hybrids():
    """Our burst for A's state has hybrid's lines (less MLOCK and the PING): same commands, sources, counts."""
    mesh, alpha, beta, alice, bob = lab_alpha()
    theirs = [m for m in after_svinfo(trace("hybrid-link-burst.log"), "A>B")
              if m.command not in ("MLOCK", "PING", "PONG")]
    ours = list(burst_messages(alpha.network, beta))
    assert sorted(map(shape, ours)) == sorted(map(shape, theirs))
    assert [m.command for m in ours] == ["UID", "AWAY", "UID", "SJOIN", "SJOIN", "BMASK", "BMASK", "BMASK",
                                          "TBURST", "EOB"]
    lists_and_topics = ("BMASK", "TBURST")
    assert [m for m in ours if m.command in lists_and_topics] == [
        m for m in theirs if m.command in lists_and_topics]
    assert Message("AWAY", ("gone fishing",), alice.uid) in ours
    sjoin = next(m for m in ours if m.command == "SJOIN" and m.params[1] == "#alpha")
    hybrid = next(m for m in theirs if m.command == "SJOIN" and m.params[1] == "#alpha")
    assert (set(sjoin.params[2]), set(sjoin.params[3:5]), sorted(sjoin.params[-1].split())) == (
        set(hybrid.params[2]), set(hybrid.params[3:5]), sorted(hybrid.params[-1].split()))


def test_hybrids_burst_builds_its_state_here():
    """B's burst: dave and carol arrive, #shared keeps our older TS (dave joins without op), #beta is B's."""
    mesh, alpha, beta, alice, bob = lab_alpha()
    for msg in after_svinfo(trace("hybrid-link-burst.log"), "B>A"):
        alpha.receive(beta, msg)
    net = alpha.network
    carol, dave = alpha.user("carol"), alpha.user("dave")
    assert carol.modes == {"a", "o", "s", "w"} and dave.server.name == "beta.lab"
    shared = net.find_channel("#shared")
    assert shared.ts == T0 and shared.members[dave].status == set() and shared.topic == ""
    beta_chan = net.find_channel("#beta")
    assert (beta_chan.ts, beta_chan.flags) == (T0, set("imnst"))
    assert {u.nick: m.status for u, m in beta_chan.members.items()} == {"dave": {"o"}, "carol": {"o"}}
    assert [e.mask for e in beta_chan.lists["b"]] == ["*!*@spam.example"]
    assert beta_chan.topic == "Beta channel topic"
    assert beta.errors == [] and alpha.wrong_direction == [] and beta.eobs == 1
    assert [m for m in beta.sent if m.command == "PONG"] == [Message("PONG", ("alpha.lab", "2BB"), "1AA")] * 2  # burst and idle PING


def test_live_traffic_both_ways_matches_hybrid():
    """Every line A sent in the messages trace is what we send for the same action; B's lines apply here."""
    mesh, alpha, beta, alice, bob = lab_alpha()
    for msg in after_svinfo(trace("hybrid-link-burst.log"), "B>A"):
        alpha.receive(beta, msg)
    beta.lines()
    net, router = alpha.network, alpha.router

    def user(nick: str) -> User:
        return alpha.user(nick)

    def bobby() -> None:
        mesh.clock.advance(1795607349 - mesh.clock.seconds())
        net.change_nick(bob, "bobby")

    alpha_chan = net.find_channel("#alpha")
    actions = [
        lambda: router.deliver(alice, user("carol"), "PRIVMSG", ("carol", "hello carol, from A")),
        lambda: router.deliver(alice, net.find_channel("#shared"), "PRIVMSG",
                               ("#shared", "hello channel, from A"), exclude=alice),
        bobby,
        lambda: net.apply_channel_modes(alice, alpha_chan, [ModeChange(True, "o", "carol", user("carol"))]),
        lambda: net.set_topic(alice, alpha_chan, "new topic from A", alice.mask),
        lambda: net.apply_channel_modes(alice, alpha_chan, [ModeChange(False, "l"),
                                                            ModeChange(True, "b", "*!*@another.example")]),
        lambda: net.kick(alice, alpha_chan, user("carol"), "kicked from A"),
        lambda: net.invite(alice, user("dave"), alpha_chan),
        None,  # WHOIS dave dave: asked by the client side
        lambda: net.apply_user_modes(alice, alice, [ModeChange(True, "i")]),
        lambda: router.deliver(alice, "*", "WALLOPS", ("wallops from A",),
                               recipients=[u for u in net.users_by_uid.values() if "w" in u.modes]),
        lambda: net.kill_user(user("dave"), alice, "killed by oper on A"),
    ]
    steps = iter(actions)
    for direction, msg in trace("hybrid-messages.log"):
        if direction == "B>A":
            alpha.receive(beta, msg)
            continue
        action = next(steps)
        if action is None:
            continue
        action()
        assert beta.sent == [msg], f"for {msg.command}"
        beta.sent.clear()
    assert beta.errors == [] and alpha.wrong_direction == []
    # What B's lines did here, as the trace's steps describe.
    assert [m.command for m in alice.route.received[:3]] == ["NOTICE", "PRIVMSG", "NOTICE"]
    whois = [m for m in alice.route.received if m.command.isdigit()]
    assert [m.command for m in whois] == ["311", "312", "379", "338", "317", "318"]
    assert all(m.source == "beta.lab" and m.params[0] == "alice" for m in whois)
    carol = user("carol")
    assert carol.away is None and net.find_channel("#beta").limit == 5
    assert alpha_chan.topic == "new topic from A" and carol not in alpha_chan.members
    assert net.find_user("dave") is None and net.find_user("eric") is None
    fresh = net.find_channel("#fresh")
    assert fresh is None  # eric created it and quit: an empty channel is gone
    assert [u.nick for u in net.find_channel("#shared").members] == ["alice"]


def add_local(alpha, nick: str, ident: str, ts: int) -> User:
    """A local user of our alpha.lab with hybrid A's ident and signon time."""
    net = alpha.network
    user = User(net.next_uid(), nick, ident, "127.0.0.1", f"{nick} on A", net.me, LocalClient(),
                ip="127.0.0.1", signon=ts)
    net.add_user(user)
    return user


def test_nick_collisions_on_relink_kill_what_hybrid_killed():
    """Trace c2: equal-TS 'zed' dies on both sides, B's newer 'eve' is killed; our KILLs are hybrid's."""
    mesh, alpha, beta, alice, bob = lab_alpha()
    zed = add_local(alpha, "zed", "~zeda", 1795607364)
    eve = add_local(alpha, "eve", "~evea", 1795607364)
    assert (zed.uid, eve.uid) == ("1AAAAAAAC", "1AAAAAAAD")  # as on hybrid's A
    beta.sent.clear()
    lines = trace("hybrid-nick-collision.log", "c2")
    for msg in after_svinfo(lines, "B>A"):
        alpha.receive(beta, msg)
    hybrid_kills = [m for m in after_svinfo(lines, "A>B") if m.command == "KILL"]
    our_kills = [m for m in beta.sent if m.command == "KILL"]
    assert sorted(our_kills, key=str) == sorted(hybrid_kills, key=str)
    assert alpha.network.find_user("zed") is None and alpha.user("eve") is eve
    assert beta.errors == []


def test_channel_ts_on_relink_keeps_the_older_channel_as_hybrid_did():
    """Trace c4: our older #tsc keeps its modes, ban and topic; B's younger modes, ban and topic are ignored."""
    mesh, alpha, beta, alice, bob = lab_alpha()
    net = alpha.network
    mesh.clock.advance(1795607376 - mesh.clock.seconds())
    tsc = net.join(alice, "#tsc").channel
    net.join(bob, "#tsc")
    net.apply_channel_modes(alice, tsc, [ModeChange(True, "b", "*!*@from-a.example")])
    net.set_topic(alice, tsc, "topic from A (older channel)", alice.mask)
    for msg in after_svinfo(trace("hybrid-chan-ts.log", "c4"), "B>A"):
        alpha.receive(beta, msg)
    carol = alpha.user("carol")
    assert (tsc.ts, tsc.flags, tsc.key) == (1795607376, {"n", "t"}, None)
    assert [e.mask for e in tsc.lists["b"]] == ["*!*@from-a.example"]
    assert tsc.topic == "topic from A (older channel)"
    assert tsc.members[carol].status == set() and tsc.members[alice].status == {"o"}
    assert beta.errors == []


def test_younger_channel_is_wiped_by_hybrids_older_one():
    """Trace c4 from B's side: our younger #tsc drops +imsk, its ban, carol's op and its topic, and takes A's."""
    mesh = Mesh()
    mesh.clock.advance(1795607378 - mesh.clock.seconds())
    ours = mesh.node("beta.lab", "2BB", role="leaf")
    net = ours.network
    carol = User(net.next_uid(), "carol", "~carol", "127.0.0.1", "Carol on B", net.me, LocalClient(),
                 ip="127.0.0.1", signon=T0)
    carol.set_modes("aosw")
    net.add_user(carol)
    tsc = net.join(carol, "#tsc").channel
    net.apply_channel_modes(carol, tsc, [ModeChange(True, "i"), ModeChange(True, "m"), ModeChange(True, "s"),
                                         ModeChange(True, "k", "secret"), ModeChange(True, "b", "*!*@from-b.example")])
    net.set_topic(carol, tsc, "topic from B (younger channel)", carol.mask)
    alpha = raw_link(ours, "alpha.lab", "1AA", HYBRID_CAPS)
    for msg in after_svinfo(trace("hybrid-chan-ts.log", "c4"), "A>B"):
        ours.receive(alpha, msg)
    assert (tsc.ts, tsc.flags, tsc.key) == (1795607376, {"n", "t"}, None)
    assert [e.mask for e in tsc.lists["b"]] == ["*!*@from-a.example"]
    assert tsc.topic == "topic from A (older channel)"
    statuses = {u.nick: m.status for u, m in tsc.members.items()}
    assert statuses == {"carol": set(), "alice": {"o"}, "bobby": set()}
    assert alpha.errors == [] and ours.wrong_direction == []


def test_hub_relays_a_new_leaf_to_a_third_server_as_hybrid_did():
    """Trace c5/c6: when beta links, fake.lab hears SID beta.lab, carol's UID with hop 2, the SJOINs and B's EOB."""
    mesh, alpha, _, alice, bob = lab_alpha(link_beta=False)
    net = alpha.network
    mesh.clock.advance(1795607376 - mesh.clock.seconds())
    tsc = net.join(alice, "#tsc").channel
    net.join(bob, "#tsc")
    net.apply_channel_modes(alice, tsc, [ModeChange(True, "b", "*!*@from-a.example")])
    fake = raw_link(alpha, "fake.lab", "9FK", frozenset({"EOB", "CLUSTER", "RHOST", "HOP"}))
    fake.sent.clear()
    beta = raw_link(alpha, "beta.lab", "2BB", HYBRID_CAPS, description="TS6 lab server B (leaf)")
    lines = trace("hybrid-squit.log", "c6")
    for msg in after_svinfo(lines, "B>A"):
        if msg.command == "SQUIT":
            break
        alpha.receive(beta, msg)
    relayed = [m for d, m in trace("hybrid-squit.log", "c5") if d == "A>F"]
    after_squit = relayed.index(Message("SQUIT", ("2BB", "planned maintenance"), "1AAAAAAAA"))
    start = relayed.index(Message("SID", ("beta.lab", "2", "2BB", "+", "TS6 lab server B (leaf)"), "1AA"),
                          after_squit)
    hybrid = [m for m in relayed[start:relayed.index(Message("EOB", (), "2BB"), start) + 1]
              if m.command != "BMASK"]
    ours = [m for m in fake.sent if m.command not in ("BMASK", "TMODE", "TOPIC")]
    assert ours == hybrid
