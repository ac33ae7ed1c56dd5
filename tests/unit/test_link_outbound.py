"""Outbound TS6: relayed messages (render_relay) and network changes (LinkAnnouncer) as peers see them."""

from __future__ import annotations

import pytest

from conferenceroom.modes import ModeChange
from conferenceroom.routing import Relay
from conferenceroom.wire import Message
from tests.unit.linkkit import CAROL
from tests.unit.linknet import CR_CAPS, HYBRID_CAPS, feed, raw_link


@pytest.fixture
def beta(alpha):
    """A hybrid peer (no owner mode)."""
    link = raw_link(alpha, "beta.lab", "2BB", HYBRID_CAPS)
    link.lines()
    return link


@pytest.fixture
def tenor(alpha, beta):
    """A ConferenceRoom peer (CR-OWNER)."""
    link = raw_link(alpha, "tenor.lab", "3TN", CR_CAPS)
    link.lines()
    beta.lines()
    return link


# -- render_relay --------------------------------------------------------------------


def test_relay_to_a_remote_user_uses_uids(alpha, beta):
    """A PRIVMSG from our user to a user behind the link is ``:<UID> PRIVMSG <UID> :text``."""
    alice = alpha.add_user("alice")
    feed(alpha, beta, CAROL)
    beta.lines()
    carol = alpha.user("carol")
    alpha.router.deliver(alice, carol, "PRIVMSG", ("carol", "hello carol, from A"))
    assert beta.lines() == [f":{alice.uid} PRIVMSG 2BBAAAAAA :hello carol, from A"]


def test_relay_to_a_channel_goes_once_per_link_with_status(alpha, beta, tenor):
    """A channel message reaches each link once, @#chan keeps its prefix, owner-only messages map to @ for hybrid."""
    alice = alpha.add_user("alice")
    channel = alpha.network.join(alice, "#shared").channel
    feed(alpha, beta, CAROL, ":2BB UID dave 1 1795607297 + ~dave h h 0 2BBAAAAAB * :Dave",
         f":2BB SJOIN {channel.ts} #shared + :@2BBAAAAAA 2BBAAAAAB")
    feed(alpha, tenor, ":3TN UID tom 1 1795607297 + ~tom h h 0 3TNAAAAAA * :Tom",
         f":3TN SJOIN {channel.ts} #shared + :@3TNAAAAAA")
    beta.lines(), tenor.lines()
    alpha.router.deliver(alice, channel, "PRIVMSG", ("#shared", "hi all"), exclude=alice)
    alpha.router.deliver(alice, channel, "NOTICE", ("@#shared", "ops"), exclude=alice, status="o")
    alpha.router.deliver(alice, channel, "NOTICE", ("~#shared", "owners"), exclude=alice, status="q")
    assert beta.lines() == [f":{alice.uid} PRIVMSG #shared :hi all", f":{alice.uid} NOTICE @#shared :ops"]
    assert tenor.lines() == [f":{alice.uid} PRIVMSG #shared :hi all", f":{alice.uid} NOTICE @#shared :ops"]


def test_relay_of_a_numeric_and_a_mask_and_wallops(alpha, beta):
    """Numerics to a remote user carry its UID; $$ masks and WALLOPS keep their form with UID sources."""
    me = alpha.network.me
    feed(alpha, beta, CAROL)
    beta.lines()
    carol = alpha.user("carol")
    link_msgs = []
    link_msgs += render(Relay(me, carol, Message("318", ("carol", "carol", "End of /WHOIS list"), me.name)), beta)
    link_msgs += render(Relay(carol, "$$*.lab", Message("NOTICE", ("$$*.lab", "hi"), carol.mask)), beta)
    link_msgs += render(Relay(carol, "*", Message("WALLOPS", ("w",), carol.mask)), beta)
    link_msgs += render(Relay(carol, "*", Message("TAGMSG", ("#x",), carol.mask)), beta)
    assert link_msgs == [
        Message("318", ("2BBAAAAAA", "carol", "End of /WHOIS list"), "1AA"),
        Message("NOTICE", ("$$*.lab", "hi"), "2BBAAAAAA"),
        Message("WALLOPS", ("w",), "2BBAAAAAA"),
    ]


def render(relay, link):
    from conferenceroom.link.outbound import render_relay
    return render_relay(relay, link)


# -- LinkAnnouncer: users --------------------------------------------------------------


def test_new_local_user_nick_away_modes_quit(mesh, alpha, beta):
    """A local user is announced by UID, then NICK with TS, AWAY, user MODE and QUIT, in hybrid's forms."""
    alice = alpha.add_user("alice")
    ts = int(alice.nick_ts)
    mesh.clock.advance(3)
    alpha.network.change_nick(alice, "alicia")
    alpha.network.set_away(alice, "gone fishing")
    alpha.network.set_away(alice, None)
    alpha.network.apply_user_modes(alice, alice, [ModeChange(True, "i")])
    alpha.network.remove_user(alice, "Quit: bye")
    assert beta.lines() == [
        f":1AA UID alice 1 {ts} + alice alice.host alice.host 10.0.0.1 {alice.uid} * :Real alice",
        f":{alice.uid} NICK alicia {ts + 3}",
        f":{alice.uid} AWAY :gone fishing",
        f":{alice.uid} AWAY",
        f":{alice.uid} MODE {alice.uid} +i",
        f":{alice.uid} QUIT :Quit: bye",
    ]


def test_kill_account_and_host(alpha, beta):
    """KILL keeps the path and reason; a login is SVSACCOUNT and SVSMODE +r (from us when no services
    server is known); a host change is ENCAP * CHGHOST."""
    alice = alpha.add_user("alice")
    feed(alpha, beta, CAROL)
    beta.lines()
    alpha.network.set_account(alice, "alice")
    alpha.network.set_host(alice, alice.ident, "staff.host")
    alpha.network.kill_user(alpha.user("carol"), alice, "go away")
    assert beta.lines() == [
        f":1AA SVSACCOUNT {alice.uid} {int(alice.nick_ts)} alice",
        f":1AA SVSMODE {alice.uid} {int(alice.nick_ts)} +r",
        f":1AA ENCAP * CHGHOST {alice.uid} staff.host",
        f":{alice.uid} KILL 2BBAAAAAA :alpha.lab!staff.host!alice!alice (go away)",
    ]


def test_split_horizon_and_once_per_link(alpha, beta, tenor):
    """A change that came from beta goes to tenor once and never back to beta."""
    feed(alpha, beta, CAROL, ":2BBAAAAAA AWAY :away")
    assert beta.lines() == []
    assert tenor.lines() == [
        ":2BB UID carol 2 1795607297 +aosw ~carol 127.0.0.1 127.0.0.1 127.0.0.1 2BBAAAAAA * :Carol on B",
        ":2BBAAAAAA AWAY :away",
    ]


# -- channels ----------------------------------------------------------------------------


def test_new_channel_is_an_sjoin_and_a_join_is_a_join(alpha, beta):
    """Creating a channel sends SJOIN with its TS, modes and @creator; joining an existing one sends JOIN."""
    alice, bob = alpha.add_user("alice"), alpha.add_user("bob")
    beta.lines()
    channel = alpha.network.join(alice, "#fresh").channel
    alpha.network.join(bob, "#fresh")
    alpha.network.part(bob, channel, "bye")
    alpha.network.join(bob, "#fresh")
    alpha.network.kick(alice, channel, bob, "out")
    alpha.network.set_topic(alice, channel, "new topic", alice.mask)
    assert beta.lines() == [
        f":1AA SJOIN {channel.ts} #fresh +nt @{alice.uid}",
        f":{bob.uid} JOIN {channel.ts} #fresh +",
        f":{bob.uid} PART #fresh :bye",
        f":{bob.uid} JOIN {channel.ts} #fresh +",
        f":{alice.uid} KICK #fresh {bob.uid} :out",
        f":{alice.uid} TOPIC #fresh :new topic",
    ]


def test_tmode_carries_the_channel_ts_and_uids(alpha, beta):
    """Channel modes go as TMODE with the channel TS, status targets as UIDs, 4 parameters a line."""
    alice, bob = alpha.add_user("alice"), alpha.add_user("bob")
    channel = alpha.network.join(alice, "#c").channel
    alpha.network.join(bob, "#c")
    beta.lines()
    alpha.network.apply_channel_modes(alice, channel, [
        ModeChange(True, "o", "bob", bob), ModeChange(True, "b", "*!*@a"), ModeChange(True, "b", "*!*@b"),
        ModeChange(True, "k", "key"), ModeChange(True, "l", "5"), ModeChange(True, "m"),
    ])
    assert beta.lines() == [
        f":{alice.uid} TMODE {channel.ts} #c +obbk {bob.uid} *!*@a *!*@b key",
        f":{alice.uid} TMODE {channel.ts} #c +lm 5",
    ]


def test_owner_goes_as_q_to_cr_owner_peers_and_as_op_to_hybrid(alpha, beta, tenor):
    """+q on a non-op: tenor sees +q, hybrid sees +o; -o on an owner: tenor sees -o, hybrid nothing."""
    alice, bob = alpha.add_user("alice"), alpha.add_user("bob")
    channel = alpha.network.join(alice, "#c").channel
    alpha.network.join(bob, "#c")
    beta.lines(), tenor.lines()
    net = alpha.network
    net.apply_channel_modes(alice, channel, [ModeChange(True, "q", "bob", bob)])
    net.apply_channel_modes(alice, channel, [ModeChange(True, "o", "bob", bob)])
    net.apply_channel_modes(alice, channel, [ModeChange(False, "o", "bob", bob)])
    net.apply_channel_modes(alice, channel, [ModeChange(False, "q", "bob", bob)])
    ts = channel.ts
    assert tenor.lines() == [
        f":{alice.uid} TMODE {ts} #c +q {bob.uid}", f":{alice.uid} TMODE {ts} #c +o {bob.uid}",
        f":{alice.uid} TMODE {ts} #c -o {bob.uid}", f":{alice.uid} TMODE {ts} #c -q {bob.uid}",
    ]
    assert beta.lines() == [f":{alice.uid} TMODE {ts} #c +o {bob.uid}", f":{alice.uid} TMODE {ts} #c -o {bob.uid}"]


def test_netjoin_is_relayed_as_one_sjoin(alpha, beta, tenor):
    """An SJOIN from beta reaches tenor as one SJOIN with the resulting TS, modes and statuses."""
    feed(alpha, beta, CAROL, ":2BB SJOIN 1795607297 #beta +imnst :@2BBAAAAAA")
    assert tenor.lines()[-1] == ":2BB SJOIN 1795607297 #beta +imnst @2BBAAAAAA"
    assert beta.lines() == []


def test_tburst_is_relayed_as_tburst(alpha, beta, tenor):
    """A topic burst that won here goes on as TBURST with its own times and setter."""
    feed(alpha, beta, CAROL, ":2BB SJOIN 1795607297 #beta +nt :@2BBAAAAAA",
         ":2BB TBURST 1795607297 #beta 1795607290 carol!~carol@127.0.0.1 :Beta topic")
    assert tenor.lines()[-1] == ":2BB TBURST 1795607297 #beta 1795607290 carol!~carol@127.0.0.1 :Beta topic"


def test_invite_goes_only_toward_the_target(alpha, beta, tenor):
    """INVITE of a user behind beta is sent to beta only, with the channel TS."""
    alice = alpha.add_user("alice")
    channel = alpha.network.join(alice, "#c").channel
    feed(alpha, beta, CAROL)
    beta.lines(), tenor.lines()
    alpha.network.invite(alice, alpha.user("carol"), channel)
    assert beta.lines() == [f":{alice.uid} INVITE 2BBAAAAAA #c {channel.ts}"]
    assert tenor.lines() == []


# -- servers -----------------------------------------------------------------------------


def test_servers_appearing_and_leaving_behind_us(alpha, beta, tenor):
    """A server behind beta is announced to tenor by SID; its loss is a SQUIT to tenor only."""
    feed(alpha, beta, ":2BB SID fake.lab 2 9FK + :Fake")
    assert tenor.lines() == [":2BB SID fake.lab 3 9FK + Fake"]
    alpha.network.remove_server(alpha.network.find_server("beta.lab"), "Ping timeout: 90 seconds",
                                origin=beta.route)
    assert tenor.lines() == ["SQUIT 2BB :Ping timeout: 90 seconds"]
    assert beta.lines() == []


def test_topic_burst_to_a_peer_without_tburst_is_a_topic(alpha, beta):
    """A peer that did not announce TBURST gets a won topic burst as TOPIC, so it still ends with the topic."""
    plain = raw_link(alpha, "plain.lab", "5PL", frozenset({"EOB", "HOP"}))
    plain.lines()
    feed(alpha, beta, CAROL, ":2BB SJOIN 1795607297 #beta +nt :@2BBAAAAAA",
         ":2BB TBURST 1795607297 #beta 1795607290 carol!~carol@127.0.0.1 :Beta topic")
    assert plain.lines()[-1] == ":2BB TOPIC #beta :Beta topic"


def test_older_sjoin_naming_nobody_we_know_changes_nothing(alpha, beta, tenor):
    """An older SJOIN, BMASK and TBURST whose members all lost a collision: our #x keeps its TS and modes.

    The sender killed those members on our UIDs before it read our SJOIN,
    so its channel is gone; lowering ours would leave a dead channel here.
    """
    alice = alpha.add_user("alice")
    channel = alpha.network.join(alice, "#x").channel
    tenor.lines()
    feed(alpha, beta, f":2BB SJOIN {channel.ts - 10} #x +m :@2BBZZZZZZ",
         f":2BB BMASK {channel.ts - 10} #x b :*!*@dead",
         f":2BB TBURST {channel.ts - 10} #x {channel.ts - 10} z!z@z :dead topic")
    assert (channel.flags, channel.lists["b"], channel.topic) == ({"n", "t"}, [], "")
    assert channel.members[alice].status == {"o"}
    assert tenor.lines() == []


def test_operwall_goes_only_to_conferenceroom_peers() -> None:
    """OPERWALL is relayed to our own servers (CR- tokens) and never to a plain TS6 peer
    such as ircd-hybrid 8.2, which has no such command."""
    from conferenceroom.link.outbound import render_relay
    from conferenceroom.network import Server, User
    from conferenceroom.routing import Relay
    from conferenceroom.wire import Message

    class Peer:
        def __init__(self, caps: frozenset) -> None:
            self.capabilities = caps

    me = Server("me.test", "0AA")
    oper = User("0AAAAAAAA", "oper", "o", "h", "r", me, None)
    relay = Relay(oper, "*", Message("OPERWALL", ("walls up",), oper.mask))
    ours = render_relay(relay, Peer(frozenset({"EOB", "ENCAP", "TBURST", "CR-OWNER"})))
    assert [(m.source, m.command, m.params) for m in ours] == [("0AAAAAAAA", "OPERWALL", ("walls up",))]
    assert render_relay(relay, Peer(frozenset({"EOB", "ENCAP", "TBURST"}))) == []
