"""Several in-memory servers linked by TS6 agree on the network after any mix of changes, splits and relinks.

Each server is a Network with its own LinkAnnouncer and server command
table; fake links carry real lines (written and parsed back) through one
queue that the tests pump (see ``linknet.py``).
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conferenceroom.modes import ModeChange
from conferenceroom.network import User
from tests.unit.linknet import FakeLink, Mesh, Node, snapshot

NICKS = ["ann", "bob", "cat", "dan", "eve", "fay"]
CHANNELS = ["#one", "#two", "#Three"]
EDGES = [("a", "b"), ("a", "c"), ("b", "d")]


def four_servers() -> tuple[Mesh, dict[tuple[str, str], tuple[FakeLink, FakeLink]]]:
    """Hubs a and b, leaf c on a, leaf d on b, linked a-b, a-c, b-d."""
    mesh = Mesh()
    for name, sid, role in (("a", "1AA", "hub"), ("b", "2BB", "hub"), ("c", "3CC", "leaf"), ("d", "4DD", "leaf")):
        mesh.node(f"{name}.test", sid, role)
    node(mesh, "a").add_services("services.a.test", "0SV")  # logins are decided there
    links = {edge: mesh.link(node(mesh, edge[0]), node(mesh, edge[1])) for edge in EDGES}
    return mesh, links


def node(mesh: Mesh, short: str) -> Node:
    return mesh.nodes[f"{short}.test"]


def assert_agree(mesh: Mesh) -> None:
    """Every server has the same users, channels, members with status, modes and topics, and saw no echo."""
    nodes = list(mesh.nodes.values())
    first = snapshot(nodes[0].network)
    for other in nodes[1:]:
        assert snapshot(other.network) == first, f"{other.name} disagrees with {nodes[0].name}"
    for n in nodes:
        assert n.wrong_direction == [], f"{n.name} received lines from the wrong direction"
        for link in n.links:
            assert link.errors == [], f"{n.name}: protocol errors from {link.name}"


# -- a three-server chain: nothing comes back --------------------------------------------------


def test_three_servers_no_echo():
    """a - b - c: a channel message and a join from a reach b and c once each and never come back to a."""
    mesh = Mesh()
    a, b, c = (mesh.node(f"{x}.test", sid) for x, sid in (("a", "1AA"), ("b", "2BB"), ("c", "3CC")))
    ab, ba = mesh.link(a, b)
    bc, cb = mesh.link(b, c)
    ann, bob, cat = a.add_user("ann"), b.add_user("bob"), c.add_user("cat")
    mesh.pump()
    b.network.join(b.user("bob"), "#x")
    mesh.pump()
    c.network.join(c.user("cat"), "#x")
    mesh.pump()
    for link in (ab, ba, bc, cb):
        link.sent.clear()
    a.network.join(ann, "#x")
    mesh.pump()
    a.router.deliver(ann, a.network.find_channel("#x"), "PRIVMSG", ("#x", "hello"), exclude=ann)
    mesh.pump()
    assert [m.command for m in ab.sent] == ["JOIN", "PRIVMSG"]
    assert [m.command for m in bc.sent] == ["JOIN", "PRIVMSG"]
    assert ba.sent == [] and cb.sent == []
    assert [m.params for m in bob.route.received] == [("#x", "hello")]
    assert [m.params for m in cat.route.received] == [("#x", "hello")]
    assert ann.route.received == []
    assert_agree(mesh)


def test_split_and_relink_through_a_hub_is_consistent():
    """Users and channels of c (behind a) vanish from d on a split of a-b and come back on relink."""
    mesh, links = four_servers()
    c, d = node(mesh, "c"), node(mesh, "d")
    cat = c.add_user("cat")
    c.network.join(cat, "#one")
    mesh.pump()
    assert d.network.find_user("cat") is not None
    mesh.unlink(links[("a", "b")][0])
    mesh.pump()
    assert d.network.find_user("cat") is None and d.network.find_channel("#one") is None
    assert d.network.find_server("c.test") is None
    links[("a", "b")] = mesh.link(node(mesh, "a"), node(mesh, "b"))
    assert d.user("cat").channels
    assert_agree(mesh)


# -- collisions, resolved the same way everywhere -------------------------------------------------


def test_nick_collision_equal_ts_on_relink_kills_both_everywhere():
    """'zed' registered on c and on d in the same second during a split: after relink nobody has a zed."""
    mesh, links = four_servers()
    mesh.unlink(links[("a", "b")][0])
    node(mesh, "c").add_user("zed", ident="zedc")
    node(mesh, "d").add_user("zed", ident="zedd")
    mesh.pump()
    links[("a", "b")] = mesh.link(node(mesh, "a"), node(mesh, "b"))
    for n in mesh.nodes.values():
        assert n.network.find_user("zed") is None, n.name
    assert_agree(mesh)


def test_nick_collision_older_wins_everywhere():
    """'eve' on c two seconds before 'eve' on d (different idents): only c's eve is left, everywhere."""
    mesh, links = four_servers()
    mesh.unlink(links[("a", "b")][0])
    eve_c = node(mesh, "c").add_user("eve", ident="evec")
    mesh.clock.advance(2)
    node(mesh, "d").add_user("eve", ident="eved")
    mesh.pump()
    links[("a", "b")] = mesh.link(node(mesh, "a"), node(mesh, "b"))
    for n in mesh.nodes.values():
        assert n.user("eve").uid == eve_c.uid, n.name
    assert_agree(mesh)


def test_channel_ts_on_relink_older_channel_wins_everywhere():
    """#tsc made on c two seconds before d's: d's key, ban, op and topic go; c's modes and topic stay everywhere."""
    mesh, links = four_servers()
    mesh.unlink(links[("a", "b")][0])
    c, d = node(mesh, "c"), node(mesh, "d")
    cat = c.add_user("cat")
    old = c.network.join(cat, "#tsc").channel
    c.network.set_topic(cat, old, "from c", cat.mask)
    mesh.clock.advance(2)
    dan = d.add_user("dan")
    young = d.network.join(dan, "#tsc").channel
    d.network.apply_channel_modes(dan, young, [ModeChange(True, "k", "secret"), ModeChange(True, "b", "*!*@d")])
    d.network.set_topic(dan, young, "from d", dan.mask)
    mesh.pump()
    links[("a", "b")] = mesh.link(node(mesh, "a"), node(mesh, "b"))
    for n in mesh.nodes.values():
        channel = n.network.find_channel("#tsc")
        statuses = {u.nick: m.status for u, m in channel.members.items()}
        assert (channel.ts, channel.key, channel.topic) == (old.ts, None, "from c"), n.name
        assert statuses == {"cat": {"o"}, "dan": set()}, n.name
    assert_agree(mesh)


def test_older_channel_whose_only_member_loses_a_collision_leaves_the_younger_one_everywhere():
    """#lost is older on d, but its only member then takes c's older nick: c's #lost (TS, op, topic) everywhere.

    d kills its member on c's UID, so its #lost is gone before c's SJOIN
    arrives; b must not lower its #lost to the TS of a channel nobody is
    left in, or b, a and c keep a dead channel's modes while d has c's.
    """
    mesh, links = four_servers()
    mesh.unlink(links[("a", "b")][0])
    c, d = node(mesh, "c"), node(mesh, "d")
    tmp = d.add_user("tmp", ident="tmpd")
    old = d.network.join(tmp, "#lost").channel
    d.network.set_topic(tmp, old, "from d", tmp.mask)
    mesh.clock.advance(2)
    dup = c.add_user("dup", ident="dupc")
    young = c.network.join(dup, "#lost").channel
    c.network.set_topic(dup, young, "from c", dup.mask)
    mesh.clock.advance(2)
    d.network.change_nick(tmp, "dup")
    mesh.pump()
    links[("a", "b")] = mesh.link(node(mesh, "a"), node(mesh, "b"))
    for n in mesh.nodes.values():
        channel = n.network.find_channel("#lost")
        members = {u.uid: m.status for u, m in channel.members.items()}
        assert (channel.ts, channel.topic, members) == (young.ts, "from c", {dup.uid: {"o"}}), n.name
    assert_agree(mesh)


# -- random changes, splits and relinks -----------------------------------------------------------


OPS = st.one_of(
    st.tuples(st.just("connect"), st.sampled_from("abcd"), st.sampled_from(NICKS)),
    st.tuples(st.just("join"), st.sampled_from("abcd"), st.integers(0, 9), st.sampled_from(CHANNELS)),
    st.tuples(st.just("part"), st.sampled_from("abcd"), st.integers(0, 9), st.sampled_from(CHANNELS)),
    st.tuples(st.just("nick"), st.sampled_from("abcd"), st.integers(0, 9), st.sampled_from(NICKS)),
    st.tuples(st.just("mode"), st.sampled_from("abcd"), st.integers(0, 9), st.sampled_from(CHANNELS),
              st.sampled_from(["+o", "-o", "+v", "-v", "+q", "-q", "+m", "-m", "+k", "-k", "+l", "-l",
                               "+b", "-b"]), st.integers(0, 9)),
    st.tuples(st.just("kick"), st.sampled_from("abcd"), st.integers(0, 9), st.sampled_from(CHANNELS),
              st.integers(0, 9)),
    st.tuples(st.just("topic"), st.sampled_from("abcd"), st.integers(0, 9), st.sampled_from(CHANNELS),
              st.sampled_from(["", "hello", "news"])),
    st.tuples(st.just("msg"), st.sampled_from("abcd"), st.integers(0, 9), st.sampled_from(CHANNELS)),
    st.tuples(st.just("away"), st.sampled_from("abcd"), st.integers(0, 9), st.sampled_from([None, "out"])),
    st.tuples(st.just("quit"), st.sampled_from("abcd"), st.integers(0, 9)),
    st.tuples(st.just("invite"), st.sampled_from("abcd"), st.integers(0, 9), st.sampled_from(CHANNELS),
              st.integers(0, 20)),
    st.tuples(st.just("account"), st.sampled_from("abcd"), st.integers(0, 9), st.sampled_from([None, "acct"])),
    st.tuples(st.just("host"), st.sampled_from("abcd"), st.integers(0, 9), st.sampled_from(["h1.x", "h2.x"])),
    st.tuples(st.just("split"), st.integers(0, len(EDGES) - 1)),
    st.tuples(st.just("relink"), st.integers(0, len(EDGES) - 1)),
    st.tuples(st.just("tick"), st.integers(0, 3)),
)


def _local(n: Node, index: int) -> User | None:
    users = sorted(n.network.me.users, key=lambda u: u.uid)
    return users[index % len(users)] if users else None


def _member(channel, index: int) -> User:
    members = sorted(channel.members, key=lambda u: u.uid)
    return members[index % len(members)]


def apply_op(mesh: Mesh, links: dict, op: tuple) -> None:
    """Run one random operation on its server (as a local client or operator would), or split/relink."""
    kind = op[0]
    if kind == "tick":
        mesh.clock.advance(op[1])
        return
    if kind in ("split", "relink"):
        edge = EDGES[op[1]]
        pair = links.get(edge)
        if kind == "split" and pair is not None:
            mesh.unlink(pair[0])
            del links[edge]
        elif kind == "relink" and pair is None:
            links[edge] = mesh.link(node(mesh, edge[0]), node(mesh, edge[1]), pump=False)
        return
    n = node(mesh, op[1])
    net = n.network
    if kind == "connect":
        if net.nick_available(op[2]):
            n.add_user(op[2], ident=f"{op[2]}{op[1]}")
        return
    user = _local(n, op[2])
    if user is None:
        return
    if kind == "nick":
        if net.nick_available(op[3], user):
            net.change_nick(user, op[3])
    elif kind == "quit":
        net.remove_user(user, "Quit: random")
    elif kind == "away":
        net.set_away(user, op[3])
    elif kind == "account":
        services = node(mesh, "a")  # the services host logs the user in, if it can see it
        there = services.network.users_by_uid.get(user.uid)
        if there is not None:
            services.network.set_account(there, op[3], origin=services.services)
    elif kind == "host":
        net.set_host(user, user.ident, op[3])
    elif kind == "invite":
        channel = net.find_channel(op[3])
        everyone = sorted(net.users_by_uid.values(), key=lambda u: u.uid)
        if channel is not None and user in channel.members:
            net.invite(user, everyone[op[4] % len(everyone)], channel)
    elif kind == "join":
        channel = net.find_channel(op[3])
        if channel is None or user not in channel.members:
            net.join(user, op[3])
    else:
        channel = net.find_channel(op[3])
        if channel is None or user not in channel.members:
            return
        if kind == "part":
            net.part(user, channel, "bye")
        elif kind == "kick":
            net.kick(user, channel, _member(channel, op[4]), "out")
        elif kind == "topic":
            mesh.clock.advance(1)  # two topics never share a second (a tie keeps each side's own, as in hybrid)
            net.set_topic(user, channel, op[4], user.mask)
        elif kind == "msg":
            n.router.deliver(user, channel, "PRIVMSG", (channel.name, "hi"), exclude=user)
        elif kind == "mode":
            sign, letter = op[4][0] == "+", op[4][1]
            if letter in "oqv":
                target = _member(channel, op[5])
                change = ModeChange(sign, letter, target.nick, target)
            elif letter == "k":
                change = ModeChange(sign, "k", f"key{op[5]}" if sign else "*")
            elif letter == "l":
                change = ModeChange(sign, "l", str(op[5] + 1) if sign else None)
            elif letter == "b":
                change = ModeChange(sign, "b", f"*!*@h{op[5] % 3}")
            else:
                change = ModeChange(sign, letter)
            net.apply_channel_modes(user, channel, [change])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, max_size=45))
@example([("connect", "c", "ann"), ("connect", "d", "bob"), ("join", "c", 0, "#one"),
          ("invite", "c", 0, "#one", 1), ("mode", "c", 0, "#one", "+q", 0), ("host", "c", 0, "h1.x")])
@example([("connect", "c", "ann"), ("account", "c", 0, "acct"), ("connect", "d", "bob"), ("account", "d", 0, "acct"),
          ("split", 0), ("account", "d", 0, None), ("relink", 0)])
@example([("split", 0), ("connect", "c", "eve"), ("join", "c", 0, "#two"), ("topic", "c", 0, "#two", "news"),
          ("tick", 2), ("connect", "d", "eve"), ("join", "d", 0, "#two"), ("mode", "d", 0, "#two", "+k", 1),
          ("relink", 0)])
def test_random_changes_splits_and_relinks_end_consistent(ops):
    """After random joins, parts, nicks, modes, kicks, topics, messages, logins (by services on a), splits and
    relinks, all four agree."""
    mesh, links = four_servers()
    for op in ops:
        every_link = [link for pair in links.values() for link in pair]
        for link in every_link:
            link.sent.clear()
        apply_op(mesh, links, op)
        mesh.pump()
        for n in mesh.nodes.values():
            assert n.wrong_direction == [], (n.name, op)
        for link in every_link:  # each change crosses each link once
            lines = [str(m) for m in link.sent]
            assert len(lines) == len(set(lines)), (op, link.node.name, link.name, lines)
    for edge in EDGES:
        if edge not in links:
            links[edge] = mesh.link(node(mesh, edge[0]), node(mesh, edge[1]))
    mesh.pump()
    assert_agree(mesh)
    for n in mesh.nodes.values():
        for user in n.network.me.users:
            texts = [m for m in user.route.received if m.command == "PRIVMSG"]
            assert len(texts) <= sum(1 for op in ops if op[0] == "msg"), "a message arrived twice"


def test_owner_is_an_op_on_a_peer_without_owner():
    """Linked to a server that did not announce CR-OWNER, our owner shows there as op, in the burst and live."""
    from tests.unit.linknet import HYBRID_CAPS

    mesh = Mesh()
    ours, plain = mesh.node("a.test", "1AA"), mesh.node("h.test", "2HH")
    ann, bob = ours.add_user("ann"), ours.add_user("bob")
    channel = ours.network.join(ann, "#c").channel
    ours.network.join(bob, "#c")
    ours.network.apply_channel_modes(ann, channel, [ModeChange(True, "q", "ann", ann), ModeChange(False, "o", "ann", ann)])
    mesh.link(ours, plain, a_caps=HYBRID_CAPS)
    theirs = plain.network.find_channel("#c")
    assert theirs.members[plain.user("ann")].status == {"o"}
    ours.network.apply_channel_modes(ann, channel, [ModeChange(True, "q", "bob", bob)])
    mesh.pump()
    assert theirs.members[plain.user("bob")].status == {"o"}
    ours.network.apply_channel_modes(ann, channel, [ModeChange(False, "q", "bob", bob)])
    mesh.pump()
    assert theirs.members[plain.user("bob")].status == set()
    assert channel.members[ann].status == {"q"}
