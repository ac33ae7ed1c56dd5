"""Interop with a real ircd-hybrid 8.2: users on both sides of a mixed link.

ircd-hybrid (the Debian package, run by ``tests/integration/hybrid.py``)
links to a conferenceroom hub as a leaf: our side is configured as an
operator would (a bootstrap file, then ``AS`` lines: a definition with the
shared password and ``role leaf``), hybrid's ``connect {}`` block names our
client port, and hybrid's operator types ``CONNECT``.  Then users on both
sides must see each other (WHOIS names the right server), share a channel
(NAMES on both sides), talk both ways, and see each other's modes, topics,
kicks, nick changes and quits; an operator's SQUIT on our side gives
hybrid's users the netsplit QUITs and a relink restores everything.  The
last test links the other way: our leaf dials a hybrid hub.
"""

from __future__ import annotations

import time
from typing import Optional

from tests.integration.hybrid import Connect, HybridConfig, HybridProcess, hybrid  # noqa: F401 (fixture)
from tests.integration.ircclient import IRCClient, Message
from tests.network.conftest import Node, names, query, wait_until

PASSWORD = "interop-link-secret"
HUB_SERIAL = "102-0000-001"
OURS = "cr.test"
THEIRS = "hyb.test"
#: seconds for something to cross the link (both servers are on this machine)
CROSS = 10.0


def hybrid_leaf_linked(network, hybrid) -> tuple[Node, HybridProcess]:
    """Our hub (AS lines: hub, a password definition for hyb.test with role leaf) and a hybrid leaf
    linked to it by its operator's CONNECT; both sides have said the link is up."""
    ours = network.server(OURS, HUB_SERIAL, hub=True)
    ours.as_("general set hub")
    ours.define("hyb", name=THEIRS, password=PASSWORD, role="leaf")
    theirs = hybrid(HybridConfig(THEIRS, "4HY", hub=False, description="hybrid leaf",
                                 connects=[Connect(OURS, ours.port, PASSWORD, hub_mask="*")]))
    theirs.connect_server(OURS)
    ours.server_notice(rf"^Link with {THEIRS}\[127\.0\.0\.1\] established")
    ours.server_notice(rf"^End of burst from {THEIRS} ")
    return ours, theirs


def whois_server(client: IRCClient, nick: str) -> Optional[str]:
    """The server WHOIS names for *nick* (312), or None when it is unknown."""
    for m in query(client, f"WHOIS {nick}", "318"):
        if m.command == "312":
            return m.params[2]
    return None


def sees(client: IRCClient, nick: str, server: str) -> None:
    """Wait until WHOIS from *client* finds *nick* on *server*."""
    wait_until(lambda: whois_server(client, nick) == server, f"{client.nick} sees {nick} on {server}", CROSS)


def line_from(client: IRCClient, command: str, nick: str, timeout: float = CROSS) -> Message:
    """The next *command* line whose source is *nick* (earlier other lines are passed over)."""
    return client.expect(lambda m: m.command == command and m.nick == nick, timeout=timeout)


def channel_modes(client: IRCClient, channel: str) -> dict[str, Optional[str]]:
    """The modes RPL_CHANNELMODEIS (324) gives for *channel*: letter -> argument (None for flags).

    Each server orders the letters its own way; the arguments follow the letters that take one
    (a server may show them to members only: then they are None too).
    """
    reply = next(m for m in query(client, f"MODE {channel}", "324") if m.command == "324")
    args = iter(reply.params[3:])
    return {letter: next(args, None) if letter in "kl" else None for letter in reply.params[2].lstrip("+")}


def bans(client: IRCClient, channel: str) -> list[str]:
    """The ban masks MODE *channel* b lists (367)."""
    return [m.params[2] for m in query(client, f"MODE {channel} b", "368") if m.command == "367"]


def prefixed_names(client: IRCClient, channel: str) -> list[str]:
    """NAMES of *channel* with their status prefixes, sorted by nick."""
    found: list[str] = []
    for m in query(client, f"NAMES {channel}", "366"):
        if m.command == "353":
            found += m.trailing.split()
    return sorted(found, key=lambda n: n.lstrip("~.@%+"))


def shared_channel(ours: Node, theirs: HybridProcess, channel: str) -> tuple[IRCClient, IRCClient]:
    """alice on our hub and bob on hybrid, both in *channel* (alice created it), each seeing both."""
    alice = ours.user("alice")
    bob = theirs.client("bob")
    sees(alice, "bob", THEIRS)
    sees(bob, "alice", OURS)
    alice.join(channel)
    # hybrid must know the channel first, or bob creates it there too (same TS: both keep ops).
    wait_until(lambda: names(bob, channel) == ["alice"], f"hybrid sees {channel}", CROSS)
    bob.join(channel)
    wait_until(lambda: names(alice, channel) == ["alice", "bob"], "NAMES on our side lists both", CROSS)
    wait_until(lambda: names(bob, channel) == ["alice", "bob"], "NAMES on hybrid lists both", CROSS)
    return alice, bob


def test_users_on_both_sides_see_each_other_and_talk(network, hybrid) -> None:
    """hybrid links as a leaf by CONNECT; WHOIS names the right server on both sides, NAMES of a
    shared channel agree, PRIVMSG and NOTICE cross both ways in the channel and in private."""
    ours, theirs = hybrid_leaf_linked(network, hybrid)
    alice, bob = shared_channel(ours, theirs, "#mixed")
    assert prefixed_names(alice, "#mixed") == ["@alice", "bob"]
    assert prefixed_names(bob, "#mixed") == ["@alice", "bob"]
    bob.send("PRIVMSG #mixed :hello from hybrid")
    said = line_from(alice, "PRIVMSG", "bob")
    assert said.params == ["#mixed", "hello from hybrid"]
    alice.send("PRIVMSG #mixed :hello from conferenceroom")
    assert line_from(bob, "PRIVMSG", "alice").params == ["#mixed", "hello from conferenceroom"]
    bob.send("NOTICE #mixed :channel notice from hybrid")
    assert line_from(alice, "NOTICE", "bob").params == ["#mixed", "channel notice from hybrid"]
    alice.send("NOTICE #mixed :channel notice from conferenceroom")
    assert line_from(bob, "NOTICE", "alice").params == ["#mixed", "channel notice from conferenceroom"]
    bob.send("PRIVMSG alice :private from hybrid")
    assert line_from(alice, "PRIVMSG", "bob").params == ["alice", "private from hybrid"]
    alice.send("PRIVMSG bob :private from conferenceroom")
    assert line_from(bob, "PRIVMSG", "alice").params == ["bob", "private from conferenceroom"]
    bob.send("NOTICE alice :private notice from hybrid")
    assert line_from(alice, "NOTICE", "bob").params == ["alice", "private notice from hybrid"]
    alice.send("NOTICE bob :private notice from conferenceroom")
    assert line_from(bob, "NOTICE", "alice").params == ["bob", "private notice from conferenceroom"]


def test_modes_topics_and_kicks_cross_both_ways(network, hybrid) -> None:
    """+v/+o from our op reach hybrid's NAMES; messages to @#channel reach only operators, both ways;
    hybrid's new op sets +b, +k, +l, +m and we see each MODE and the same channel modes and ban
    list; TOPIC both ways; KICK both ways."""
    ours, theirs = hybrid_leaf_linked(network, hybrid)
    alice, bob = shared_channel(ours, theirs, "#modes")
    carol = ours.user("carol")
    carol.join("#modes")
    wait_until(lambda: names(bob, "#modes") == ["alice", "bob", "carol"], "hybrid sees carol join", CROSS)

    alice.send("MODE #modes +v bob")
    assert line_from(bob, "MODE", "alice").params == ["#modes", "+v", "bob"]
    assert prefixed_names(bob, "#modes") == ["@alice", "+bob", "carol"]
    alice.send("MODE #modes +o bob")
    assert line_from(bob, "MODE", "alice").params == ["#modes", "+o", "bob"]
    assert prefixed_names(bob, "#modes") == ["@alice", "@bob", "carol"]
    assert prefixed_names(alice, "#modes") == ["@alice", "@bob", "carol"]
    bob.send("PRIVMSG @#modes :to the operators only")
    assert line_from(alice, "PRIVMSG", "bob").params == ["@#modes", "to the operators only"]
    alice.send("NOTICE @#modes :operators' notice from conferenceroom")
    assert line_from(bob, "NOTICE", "alice").params == ["@#modes", "operators' notice from conferenceroom"]
    carol.assert_silent(lambda m: m.command in ("PRIVMSG", "NOTICE"), timeout=0.3)

    bob.send("MODE #modes +b *!*@banned.example")
    assert line_from(alice, "MODE", "bob").params == ["#modes", "+b", "*!*@banned.example"]
    bob.send("MODE #modes +kl sesame 10")
    assert line_from(alice, "MODE", "bob").params == ["#modes", "+kl", "sesame", "10"]
    bob.send("MODE #modes +m")
    assert line_from(alice, "MODE", "bob").params == ["#modes", "+m"]
    assert bans(alice, "#modes") == ["*!*@banned.example"] == bans(bob, "#modes")
    expected = {"k": "sesame", "l": "10", "m": None, "n": None, "t": None}
    assert channel_modes(alice, "#modes") == expected == channel_modes(bob, "#modes")
    carol.send("PRIVMSG #modes :am I muted?")
    assert carol.expect("404").params[1] == "#modes"
    alice.send("MODE #modes -mk sesame")
    assert line_from(bob, "MODE", "alice").params[:2] == ["#modes", "-mk"]
    wait_until(lambda: channel_modes(bob, "#modes") == {"l": "10", "n": None, "t": None},
               "hybrid lost +m and +k", CROSS)

    alice.send("TOPIC #modes :set on conferenceroom")
    assert line_from(bob, "TOPIC", "alice").params == ["#modes", "set on conferenceroom"]
    bob.send("TOPIC #modes :set on hybrid")
    assert line_from(alice, "TOPIC", "bob").params == ["#modes", "set on hybrid"]
    topic = next(m for m in query(carol, "TOPIC #modes", "333") if m.command == "332")
    assert topic.params[2] == "set on hybrid"

    bob.send("KICK #modes carol :hybrid kicks")
    kick = line_from(carol, "KICK", "bob")
    assert kick.params == ["#modes", "carol", "hybrid kicks"]
    assert line_from(alice, "KICK", "bob").params == ["#modes", "carol", "hybrid kicks"]
    alice.send("KICK #modes bob :conferenceroom kicks")
    assert line_from(bob, "KICK", "alice").params == ["#modes", "bob", "conferenceroom kicks"]
    wait_until(lambda: names(bob, "#modes") == ["alice"], "hybrid's NAMES lost bob", CROSS)
    assert names(alice, "#modes") == ["alice"]


def test_nick_changes_quits_and_a_squit_with_relink(network, hybrid) -> None:
    """NICK changes and QUITs cross both ways; our operator's SQUIT gives hybrid's users the
    netsplit QUITs (<near> <far>) and ours too; hybrid's CONNECT again restores users and the channel
    (members, statuses, key, ban, topic) on both sides."""
    ours, theirs = hybrid_leaf_linked(network, hybrid)
    alice, bob = shared_channel(ours, theirs, "#nicks")
    bob.send("NICK bobby")
    assert line_from(alice, "NICK", "bob").params == ["bobby"]
    alice.send("NICK alicia")
    assert line_from(bob, "NICK", "alice").params == ["alicia"]
    sees(alice, "bobby", THEIRS)
    sees(bob, "alicia", OURS)
    assert names(alice, "#nicks") == names(bob, "#nicks") == ["alicia", "bobby"]

    carol = theirs.client("carol")
    carol.join("#nicks")
    line_from(alice, "JOIN", "carol")
    carol.send("QUIT :leaving hybrid")
    # hybrid itself drops the reason of a client that has not been connected long
    # (anti_spam_exit_message_time): we must show what hybrid's own users see.
    assert line_from(alice, "QUIT", "carol").params == line_from(bob, "QUIT", "carol").params
    dave = ours.user("dave")
    dave.join("#nicks")
    line_from(bob, "JOIN", "dave")
    dave.send("QUIT :leaving conferenceroom")
    assert "leaving conferenceroom" in line_from(bob, "QUIT", "dave").params[0]

    alice.send("MODE #nicks +vkb bobby relinkkey *!*@gone.example")
    line_from(bob, "MODE", "alicia")
    alice.send("TOPIC #nicks :kept across the split")
    line_from(bob, "TOPIC", "alicia")
    ours.operator().send(f"SQUIT {THEIRS} :maintenance")
    assert line_from(alice, "QUIT", "bobby").params == [f"{OURS} {THEIRS}"]
    assert line_from(bob, "QUIT", "alicia").params == [f"{THEIRS} {OURS}"]
    ours.server_notice(rf"^Link with {THEIRS}\[127\.0\.0\.1\] lost: maintenance")
    assert whois_server(alice, "bobby") is None

    theirs.connect_server(OURS)
    sees(alice, "bobby", THEIRS)
    sees(bob, "alicia", OURS)
    wait_until(lambda: prefixed_names(alice, "#nicks") == ["@alicia", "+bobby"], "our NAMES restored", CROSS)
    assert prefixed_names(bob, "#nicks") == ["@alicia", "+bobby"]
    for viewer in (alice, bob):
        assert channel_modes(viewer, "#nicks") == {"k": "relinkkey", "n": None, "t": None}
        assert bans(viewer, "#nicks") == ["*!*@gone.example"]
        topic = [m.params[2] for m in query(viewer, "TOPIC #nicks", "333") if m.command == "332"]
        assert topic == ["kept across the split"]
    bob.send("PRIVMSG #nicks :back again")
    assert line_from(alice, "PRIVMSG", "bobby").params == ["#nicks", "back again"]


def test_state_made_before_the_link_arrives_in_both_bursts(network, hybrid) -> None:
    """Channels made on each side before linking (ops, voice, topic, ban, key, limit) appear on the
    other side after hybrid's CONNECT: the same members, prefixes, modes, ban list and topic."""
    ours = network.server(OURS, HUB_SERIAL, hub=True)
    ours.as_("general set hub")
    ours.define("hyb", name=THEIRS, password=PASSWORD, role="leaf")
    theirs = hybrid(HybridConfig(THEIRS, "4HY", hub=False, description="hybrid leaf",
                                 connects=[Connect(OURS, ours.port, PASSWORD, hub_mask="*")]))
    alice, carol = ours.user("alice"), ours.user("carol")
    bob, dave = theirs.client("bob"), theirs.client("dave")
    for op, other, channel, topic in ((alice, carol, "#ours", "made on conferenceroom"),
                                      (bob, dave, "#theirs", "made on hybrid")):
        op.join(channel)
        other.join(channel)
        op.send(f"MODE {channel} +vbkl {other.nick} *!*@ban.{channel[1:]} key{channel[1:]} 7")
        op.send(f"TOPIC {channel} :{topic}")
        op.expect("TOPIC")

    theirs.connect_server(OURS)
    ours.server_notice(rf"^End of burst from {THEIRS} ")
    sees(alice, "bob", THEIRS)
    for channel, members, topic, outsider in (("#ours", ["@alice", "+carol"], "made on conferenceroom", dave),
                                              ("#theirs", ["@bob", "+dave"], "made on hybrid", alice)):
        for viewer in (alice, bob):
            wait_until(lambda: prefixed_names(viewer, channel) == members, f"{viewer.nick} NAMES {channel}", CROSS)
            assert set(channel_modes(viewer, channel)) == set("klnt"), (viewer.nick, channel)
            assert bans(viewer, channel) == [f"*!*@ban.{channel[1:]}"], (viewer.nick, channel)
            topics = [m.params[2] for m in query(viewer, f"TOPIC {channel}", "333") if m.command == "332"]
            assert topics == [topic], (viewer.nick, channel)
        # The key crossed too: the user from the other side needs it to join.
        outsider.send(f"JOIN {channel}")
        assert outsider.expect("475").params[1] == channel
        outsider.send(f"JOIN {channel} key{channel[1:]}")
        outsider.expect(lambda m: m.command == "JOIN" and m.nick == outsider.nick)
        assert channel_modes(outsider, channel) == {"k": f"key{channel[1:]}", "l": "7", "n": None, "t": None}


def test_our_leaf_dials_a_hybrid_hub(network, hybrid) -> None:
    """The other direction: our leaf has an auto-connect definition (host, port, password) for a
    hybrid hub and links by itself; users meet in a channel and talk both ways, LINKS lists both."""
    theirs = hybrid(HybridConfig(THEIRS, "4HY", hub=True, description="hybrid hub"), start=False)
    theirs.config.connects.append(Connect(OURS, 1, PASSWORD, hub_mask=None))
    theirs.start()
    ours = network.server(OURS, "101-0001-001", hub=False)
    ours.as_("general set leaf", "services disable")
    ours.define("hyb", name=THEIRS, password=PASSWORD, role="hub", host="127.0.0.1",
                port=theirs.server_port, auto=True)
    ours.server_notice(rf"^Link with {THEIRS}\[127\.0\.0\.1\] established")
    ours.server_notice(rf"^End of burst from {THEIRS} ")
    bob = theirs.client("bob")
    alice = ours.user("alice")
    sees(alice, "bob", THEIRS)
    sees(bob, "alice", OURS)
    bob.join("#up")
    wait_until(lambda: names(alice, "#up") == ["bob"], "our leaf sees #up", CROSS)
    alice.join("#up")
    wait_until(lambda: names(bob, "#up") == ["alice", "bob"], "hybrid sees alice join", CROSS)
    assert prefixed_names(alice, "#up") == ["alice", "@bob"]
    alice.send("PRIVMSG #up :from the leaf")
    assert line_from(bob, "PRIVMSG", "alice").params == ["#up", "from the leaf"]
    bob.send("PRIVMSG alice :from the hub")
    assert line_from(alice, "PRIVMSG", "bob").params == ["alice", "from the hub"]
    bob.send("LINKS")
    assert sorted(m.params[1] for m in bob.collect("365") if m.command == "364") == [OURS, THEIRS]


def test_operators_walls_kills_and_remote_queries_cross_both_ways(network, hybrid) -> None:
    """WALLOPS and GLOBOPS reach the operators on the other side; an operator's KILL on either side
    removes the other side's user (with the killer in the QUIT); hybrid's users ask our server
    remote WHOIS (idle time), VERSION and LUSERS and get our answers."""
    ours, theirs = hybrid_leaf_linked(network, hybrid)
    op = ours.operator()
    op.send(f"MODE {op.nick} +w")
    op.expect("MODE")
    hop = theirs.oper_client("hop")
    sees(op, "hop", THEIRS)
    hop.send("WALLOPS :wallops from hybrid")
    assert line_from(op, "WALLOPS", "hop").params == ["wallops from hybrid"]
    op.send("WALLOPS :wallops from conferenceroom")
    assert line_from(hop, "WALLOPS", op.nick).params == ["wallops from conferenceroom"]
    hop.send("GLOBOPS :globops from hybrid")
    op.expect(lambda m: m.command == "NOTICE" and m.trailing == "*** Global -- from hop: globops from hybrid",
              timeout=CROSS)
    op.send("GLOBOPS :globops from conferenceroom")
    hop.expect(lambda m: m.command == "NOTICE" and "globops from conferenceroom" in m.trailing
               and op.nick in m.trailing, timeout=CROSS)

    alice, bob = shared_channel(ours, theirs, "#opers")
    whois = query(bob, "WHOIS alice alice", "318")
    assert [m.params[2] for m in whois if m.command == "312"] == [OURS]
    assert [m.command for m in whois if m.command == "317"] == ["317"]
    version = next(m for m in query(bob, f"VERSION {OURS}", "351") if m.command == "351")
    assert version.source == OURS and version.params[2] == OURS

    carol, dave = theirs.client("carol"), ours.user("dave")
    for user in (carol, dave):
        user.join("#opers")
    wait_until(lambda: names(alice, "#opers") == ["alice", "bob", "carol", "dave"], "all four in #opers", CROSS)
    op.send("KILL carol :killed from conferenceroom")
    carol.expect(lambda m: m.command == "KILL" and "killed from conferenceroom" in m.trailing, timeout=CROSS)
    assert "killed from conferenceroom" in line_from(bob, "QUIT", "carol").params[0]
    hop.send("KILL dave :killed from hybrid")
    dave.expect(lambda m: m.command == "KILL" and m.trailing == "killed from hybrid", timeout=CROSS)
    assert line_from(alice, "QUIT", "dave").params == ["Killed (hop (killed from hybrid))"]
    assert line_from(bob, "QUIT", "dave").params == ["Killed (hop (killed from hybrid))"]
    assert names(alice, "#opers") == names(bob, "#opers") == ["alice", "bob"]


def test_a_hybrid_leaf_and_our_leaf_meet_through_our_hub(network, hybrid) -> None:
    """Our hub with two leaves, one ours (by the manual's serial definitions) and one hybrid: users
    on the two leaves see each other across the hub (hybrid learns our leaf from the hub, hub_mask
    "*"), talk in a channel, and LINKS on hybrid lists all three servers; a SQUIT of our leaf gives
    hybrid's user the netsplit QUIT with the hub and our leaf's names."""
    ours, theirs = hybrid_leaf_linked(network, hybrid)
    leaf = network.server("leaf.test", "101-0001-001", hub=False)
    leaf.as_("general set leaf", "services disable")
    ours.define("leaf", name="leaf.test", serial="101-0001-001")
    leaf.define("hub", name=OURS, host="127.0.0.1", port=ours.port, serial=HUB_SERIAL, auto=True)
    ours.server_notice(r"^Link with leaf\.test\[127\.0\.0\.1\] established")
    bob = theirs.client("bob")
    carl = leaf.user("carl")
    sees(bob, "carl", "leaf.test")
    sees(carl, "bob", THEIRS)
    bob.send("LINKS")
    assert sorted(m.params[1] for m in bob.collect("365") if m.command == "364") == [OURS, THEIRS, "leaf.test"]
    carl.join("#far")
    wait_until(lambda: names(bob, "#far") == ["carl"], "hybrid sees #far", CROSS)
    bob.join("#far")
    wait_until(lambda: names(carl, "#far") == ["bob", "carl"], "our leaf sees bob join", CROSS)
    carl.send("PRIVMSG #far :from the other leaf")
    assert line_from(bob, "PRIVMSG", "carl").params == ["#far", "from the other leaf"]
    bob.send("PRIVMSG carl :private across the hub")
    assert line_from(carl, "PRIVMSG", "bob").params == ["carl", "private across the hub"]
    ours.operator().send("SQUIT leaf.test :leaf maintenance")
    assert line_from(bob, "QUIT", "carl").params == [f"{OURS} leaf.test"]


def test_a_channel_remade_on_hybrid_during_a_split_yields_to_our_older_one(network, hybrid) -> None:
    """TS rules with a real hybrid: during a split bob leaves and re-creates #ts on hybrid (newer TS,
    he is its op, +s); on relink our older #ts wins on both sides: bob is no longer op and +s is gone,
    while our op and key stay; NAMES and MODE read the same on both sides."""
    ours, theirs = hybrid_leaf_linked(network, hybrid)
    alice, bob = shared_channel(ours, theirs, "#ts")
    alice.send("MODE #ts +k oldkey")
    line_from(bob, "MODE", "alice")
    ours.operator().send(f"SQUIT {THEIRS} :split for the test")
    line_from(bob, "QUIT", "alice")
    bob.send("PART #ts")
    bob.expect("PART")
    time.sleep(1.1)  # channel TS has a resolution of one second
    bob.join("#ts")
    bob.send("MODE #ts +s")
    bob.expect("MODE")
    assert prefixed_names(bob, "#ts") == ["@bob"]

    theirs.connect_server(OURS)
    wait_until(lambda: names(bob, "#ts") == ["alice", "bob"], "hybrid has both in #ts again", CROSS)
    wait_until(lambda: prefixed_names(alice, "#ts") == ["@alice", "bob"], "our side: alice op, bob not", CROSS)
    assert prefixed_names(bob, "#ts") == ["@alice", "bob"]
    expected = {"k": "oldkey", "n": None, "t": None}
    assert channel_modes(alice, "#ts") == expected == channel_modes(bob, "#ts")


def test_a_channel_remade_here_during_a_split_yields_to_hybrids_older_one(network, hybrid) -> None:
    """The other way round: bob created #old on hybrid with +k; during a split alice leaves and
    re-creates it here (newer TS, she is op, +s, a topic); on relink our side takes hybrid's channel:
    alice loses op, +s and her topic are gone, the key is hybrid's, on both sides alike."""
    ours, theirs = hybrid_leaf_linked(network, hybrid)
    alice = ours.user("alice")
    bob = theirs.client("bob")
    bob.join("#old")
    bob.send("MODE #old +k hybridkey")
    bob.expect("MODE")
    wait_until(lambda: names(alice, "#old") == ["bob"], "our side sees #old", CROSS)
    alice.send("JOIN #old hybridkey")
    alice.expect("JOIN")
    wait_until(lambda: names(bob, "#old") == ["alice", "bob"], "hybrid sees alice in #old", CROSS)
    ours.operator().send(f"SQUIT {THEIRS} :split for the test")
    line_from(alice, "QUIT", "bob")
    alice.send("PART #old")
    alice.expect("PART")
    time.sleep(1.1)  # channel TS has a resolution of one second
    alice.join("#old")
    alice.send("MODE #old +s")
    alice.send("TOPIC #old :made during the split")
    alice.expect("TOPIC")
    assert prefixed_names(alice, "#old") == ["@alice"]

    theirs.connect_server(OURS)
    wait_until(lambda: prefixed_names(alice, "#old") == ["alice", "@bob"], "our side took hybrid's #old", CROSS)
    wait_until(lambda: prefixed_names(bob, "#old") == ["alice", "@bob"], "hybrid: bob op, alice not", CROSS)
    expected = {"k": "hybridkey", "n": None, "t": None}
    assert channel_modes(alice, "#old") == expected == channel_modes(bob, "#old")
    for viewer in (alice, bob):
        assert [m.command for m in query(viewer, "TOPIC #old", "331") if m.command == "331"] == ["331"]


def test_a_nick_on_both_sides_at_link_time_is_resolved_alike(network, hybrid) -> None:
    """Nick collisions at link time, as hybrid resolves them: 'twin' with different user names (ours
    older): the newer, hybrid's, is killed; 'same' with the same user@host (ours older): the older,
    ours, is killed (a reconnect); afterwards WHOIS on both sides names the same survivors."""
    ours = network.server(OURS, HUB_SERIAL, hub=True)
    ours.as_("general set hub")
    ours.define("hyb", name=THEIRS, password=PASSWORD, role="leaf")
    theirs = hybrid(HybridConfig(THEIRS, "4HY", hub=False, description="hybrid leaf",
                                 connects=[Connect(OURS, ours.port, PASSWORD, hub_mask="*")]))
    older_twin = ours.proc.client("twin@ours")
    older_twin.register("twin", user="ourtwin")
    older_same = ours.proc.client("same@ours")
    older_same.register("same", user="same")
    time.sleep(1.1)  # nick TS has a resolution of one second
    newer_twin = theirs.client()
    newer_twin.register("twin", user="hybtwin")
    newer_same = theirs.client()
    newer_same.register("same", user="same")
    theirs.connect_server(OURS)
    ours.server_notice(rf"^End of burst from {THEIRS} ")
    watch_ours, watch_theirs = ours.user("watcher"), theirs.client("hwatcher")
    # Different user@host: the newer one (hybrid's) is killed; same user@host: the older (ours).
    newer_twin.expect(lambda m: m.command in ("KILL", "ERROR"), timeout=CROSS)
    older_same.expect(lambda m: m.command in ("KILL", "ERROR"), timeout=CROSS)
    for watcher in (watch_ours, watch_theirs):
        assert whois_server(watcher, "twin") == OURS
        assert whois_server(watcher, "same") == THEIRS
