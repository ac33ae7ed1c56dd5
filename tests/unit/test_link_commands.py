"""Server-origin TS6 handlers: lines a peer sends (taken from the hybrid 8.2 traces) and what they do."""

from __future__ import annotations

import pytest

from conferenceroom.modes import ModeChange
from tests.helpers import feed as client_feed
from tests.helpers import joined, make_core, make_oper, register, sent_lines
from tests.unit.linkkit import CAROL, DAVE, dispatch, peer_link
from tests.unit.linknet import FakeLink, Mesh, feed, raw_link


def texts(link: FakeLink) -> list[str]:
    return link.lines()


# -- servers and users ---------------------------------------------------------------


def test_uid_introduces_a_remote_user_with_every_field(alpha, beta):
    """A hybrid UID line gives a user with nick, ident, host, real host, modes and server as sent."""
    feed(alpha, beta, CAROL, ":2BB UID erin 1 1795607300 + ~erin cloak.host real.host 10.1.1.1 2BBAAAAAC acct :Erin")
    carol = alpha.user("carol")
    assert (carol.uid, carol.ident, carol.host, carol.server.name) == ("2BBAAAAAA", "~carol", "127.0.0.1", "beta.lab")
    assert carol.modes == {"a", "o", "s", "w"} and carol.route is beta.route
    erin = alpha.user("erin")
    assert (erin.host, erin.realhost, erin.ip, erin.account, erin.nick_ts) == (
        "cloak.host", "real.host", "10.1.1.1", "acct", 1795607300)
    assert alpha.network.by_mode["o"] == {carol}
    assert beta.errors == []


def test_uid_short_line_is_a_protocol_error_not_a_numeric(alpha, beta):
    """A UID with 8 parameters closes the link with a reason naming UID; nothing is sent back as a numeric."""
    feed(alpha, beta, ":2BB UID dave 1 1795607297 + ~dave 127.0.0.1 127.0.0.1 127.0.0.1")
    assert beta.errors == ["UID from 2BB: 11 parameters needed, 8 given"]
    assert texts(beta) == [] and alpha.network.find_user("dave") is None


def test_uid_with_a_uid_of_another_server_is_refused(alpha, beta):
    """A UID whose id does not start with its server's SID is a protocol error."""
    feed(alpha, beta, ":2BB UID dave 1 1795607297 + ~dave h h 0 7ZZAAAAAB * :Dave")
    assert beta.errors == ["UID 7ZZAAAAAB does not belong to server beta.lab (2BB)"]


def test_uid_collision_equal_ts_kills_both_everywhere(mesh, alpha, beta):
    """Same nick, same TS (hybrid trace 'zed'): both die; we send KILL for both UIDs."""
    mesh.clock.advance(1795607364 - mesh.clock.seconds())
    zed = alpha.add_user("zed", ident="~zeda")
    texts(beta)
    feed(alpha, beta, ":2BB UID zed 1 1795607364 + ~zedb 127.0.0.1 127.0.0.1 127.0.0.1 2BBAAAAAD * :zed on B")
    assert alpha.network.find_user("zed") is None
    sent = texts(beta)
    assert f":1AA KILL {zed.uid} :alpha.lab (Nick collision (new))" in sent
    assert ":1AA KILL 2BBAAAAAD :alpha.lab (Nick collision (new))" in sent


def test_uid_collision_older_incoming_wins(mesh, alpha, beta):
    """Our newer 'eve' dies (KILL sent everywhere); the older incoming one is accepted."""
    mesh.clock.advance(1795607366 - mesh.clock.seconds())
    ours = alpha.add_user("eve", ident="~evea")
    texts(beta)
    feed(alpha, beta, ":2BB UID eve 1 1795607364 + ~eveb 127.0.0.1 127.0.0.1 127.0.0.1 2BBAAAAAE * :eve on B")
    assert alpha.user("eve").uid == "2BBAAAAAE"
    assert texts(beta) == [f":1AA KILL {ours.uid} :alpha.lab (Nick collision (new))"]


def test_uid_collision_newer_incoming_is_killed_back(mesh, alpha, beta):
    """The incoming newer 'eve' is never added; only the sender gets its KILL."""
    mesh.clock.advance(1795607364 - mesh.clock.seconds())
    ours = alpha.add_user("eve", ident="~evea")
    other = raw_link(alpha, "gamma.lab", "3CC")
    texts(beta)
    texts(other)
    feed(alpha, beta, ":2BB UID eve 1 1795607366 + ~eveb 127.0.0.1 127.0.0.1 127.0.0.1 2BBAAAAAE * :eve on B")
    assert alpha.user("eve") is ours
    assert texts(beta) == [":1AA KILL 2BBAAAAAE :alpha.lab (Nick collision (new))"]
    assert texts(other) == []


def test_nick_change_with_ts(alpha, beta):
    """``:UID NICK new :ts`` renames the user and records the nick TS."""
    feed(alpha, beta, DAVE, ":2BBAAAAAB NICK davey :1795607349")
    davey = alpha.user("davey")
    assert davey.uid == "2BBAAAAAB" and davey.nick_ts == 1795607349
    assert alpha.network.find_user("dave") is None


def test_nick_change_collision_kills_the_newer(mesh, alpha, beta):
    """A remote rename onto our older nick loses: the renamed user is killed, KILL goes back."""
    mesh.clock.advance(1795607300 - mesh.clock.seconds())
    fred = alpha.add_user("fred")
    feed(alpha, beta, DAVE)
    texts(beta)
    feed(alpha, beta, ":2BBAAAAAB NICK fred :1795607371")
    assert alpha.user("fred") is fred and "2BBAAAAAB" not in alpha.network.users_by_uid
    assert texts(beta) == [":1AA KILL 2BBAAAAAB :alpha.lab (Nick change collision)"]


def test_quit_and_kill(alpha, beta):
    """QUIT removes the user; KILL of a local user by a remote oper keeps path and reason."""
    seen = []
    alpha.network.events.subscribe(seen.append)
    alice = alpha.add_user("alice")
    feed(alpha, beta, DAVE, CAROL, ":2BBAAAAAB QUIT :Quit: bye")
    assert alpha.network.find_user("dave") is None and seen[-1].reason == "Quit: bye"
    feed(alpha, beta, f":2BBAAAAAA KILL {alice.uid} :beta.lab!127.0.0.1!~carol!carol (go away)")
    killed = seen[-1]
    assert alpha.network.find_user("alice") is None
    assert (killed.killer.nick, killed.path, killed.reason) == ("carol", "beta.lab!127.0.0.1!~carol!carol", "go away")
    assert killed.quit_reason == "Killed (carol (go away))"


def test_kill_for_an_unknown_uid_is_ignored(alpha, beta):
    """Both sides of a collision kill each other's users: a second KILL is silently ignored."""
    feed(alpha, beta, ":2BB KILL 1AAAAAAZZ :beta.lab (Nick collision (new))")
    assert beta.errors == [] and texts(beta) == []


def test_sid_introduces_a_server_behind_the_link(alpha, beta):
    """``:2BB SID fake.lab 2 9FK + :desc`` adds a server two hops away, routed through the link."""
    other = raw_link(alpha, "gamma.lab", "3CC")
    texts(other)
    feed(alpha, beta, ":2BB SID fake.lab 2 9FK + :Fake server")
    fake = alpha.network.find_server("fake.lab")
    assert (fake.sid, fake.uplink.name, fake.route, fake.hopcount) == ("9FK", "beta.lab", beta.route, 2)
    assert texts(other) == [":2BB SID fake.lab 3 9FK + :Fake server"]


@pytest.mark.parametrize("line, reason", [
    (":2BB SID alpha.lab 2 9FK + :x", "Server alpha.lab already exists in this network"),
    (":2BB SID fake.lab 2 1AA + :x", "Server ID 1AA is already in use in this network"),
    (":2BB SID fake 2 9FK + :x", "Invalid server name fake in SID"),
    (":2BB SID fake.lab 2 ABC + :x", "Invalid server ID ABC in SID for fake.lab"),
    (":2BB SID fake.lab 2 9FK :x", "SID from 2BB: 5 parameters needed, 4 given"),
])
def test_bad_sid_is_a_protocol_error(alpha, beta, line, reason):
    """Duplicates (name or SID), bad names and short SID lines close the link with a reason."""
    feed(alpha, beta, line)
    assert beta.errors == [reason]


def test_a_leaf_introducing_a_server_is_a_protocol_error(alpha):
    """A peer that is a leaf may not introduce servers (hybrid: No matching hub_mask)."""
    leaf = raw_link(alpha, "leaf.lab", "4LF", role="leaf")
    feed(alpha, leaf, ":4LF SID fake.lab 2 9FK + :x")
    assert leaf.errors == ["Leaf leaf.lab introduced a server (fake.lab)"]
    assert alpha.network.find_server("fake.lab") is None


def test_squit_of_a_server_behind_removes_it_and_its_users(alpha, beta):
    """A SQUIT for a server behind the link is a netsplit; the other links hear SQUIT."""
    other = raw_link(alpha, "gamma.lab", "3CC")
    feed(alpha, beta, ":2BB SID fake.lab 2 9FK + :x",
         ":9FK UID fay 2 1795607297 + ~fay h h 0 9FKAAAAAA * :Fay")
    texts(other)
    feed(alpha, beta, ":2BB SQUIT 9FK :lab split")
    assert alpha.network.find_server("fake.lab") is None and alpha.network.find_user("fay") is None
    assert texts(other) == ["SQUIT 9FK :lab split"]


def test_squit_naming_us_drops_the_peer(alpha, beta):
    """``:<oper> SQUIT <our SID>`` from the peer means this link: the peer and its users leave."""
    feed(alpha, beta, CAROL, ":2BBAAAAAA SQUIT 1AA :lab split")
    assert alpha.network.find_server("beta.lab") is None and alpha.network.find_user("carol") is None


def test_remote_squit_of_a_server_on_our_side_is_passed_toward_it(alpha, beta):
    """An oper behind beta squits gamma (linked to us): the SQUIT goes to gamma, with a notice."""
    gamma = raw_link(alpha, "gamma.lab", "3CC")
    feed(alpha, beta, CAROL)
    texts(gamma)
    feed(alpha, beta, ":2BBAAAAAA SQUIT gamma.lab :bye gamma")
    assert texts(gamma) == [":2BBAAAAAA SQUIT 3CC :bye gamma"]
    assert alpha.notices[-1] == "Remote SQUIT gamma.lab from carol (bye gamma)"


# -- channels ------------------------------------------------------------------------


def test_sjoin_of_a_new_channel_takes_modes_and_status(alpha, beta):
    """An SJOIN creates the channel with its TS, modes, key, limit and member status."""
    feed(alpha, beta, DAVE, CAROL, ":2BB SJOIN 1795607297 #alpha +ntlk 42 sesame :+2BBAAAAAB @2BBAAAAAA")
    channel = alpha.network.find_channel("#alpha")
    assert (channel.ts, channel.flags, channel.key, channel.limit) == (1795607297, {"n", "t"}, "sesame", 42)
    statuses = {u.nick: m.status for u, m in channel.members.items()}
    assert statuses == {"dave": {"v"}, "carol": {"o"}}


def test_sjoin_with_a_lower_ts_wipes_our_side(mesh, alpha, beta):
    """Trace #tsc: the older channel wins; our modes, bans, ops and topic go, theirs come."""
    mesh.clock.advance(1795607378 - mesh.clock.seconds())
    alice = alpha.add_user("alice")
    channel = alpha.network.join(alice, "#tsc").channel
    alpha.network.apply_channel_modes(alice, channel, [ModeChange(True, "k", "secret"),
                                                       ModeChange(True, "b", "*!*@from-a")])
    alpha.network.set_topic(alice, channel, "ours", alice.mask)
    feed(alpha, beta, CAROL, ":2BB SJOIN 1795607376 #tsc +nt :@2BBAAAAAA")
    assert channel.ts == 1795607376 and channel.key is None and channel.lists["b"] == []
    assert channel.topic == "" and channel.members[alice].status == set()
    assert channel.members[alpha.user("carol")].status == {"o"}


def test_sjoin_with_a_higher_ts_joins_users_without_status(mesh, alpha, beta):
    """A younger SJOIN: its users join, its modes and statuses are ignored."""
    alice = alpha.add_user("alice")
    channel = alpha.network.join(alice, "#tsc").channel
    ts = channel.ts
    feed(alpha, beta, CAROL, f":2BB SJOIN {ts + 2} #tsc +imsk secret :@2BBAAAAAA")
    assert channel.ts == ts and channel.flags == {"n", "t"} and channel.key is None
    assert channel.members[alpha.user("carol")].status == set()


def test_join_part_kick(alpha, beta):
    """JOIN with the channel TS, PART with a reason and KICK by UID change membership."""
    alice = alpha.add_user("alice")
    channel = alpha.network.join(alice, "#shared").channel
    feed(alpha, beta, DAVE, CAROL, f":2BBAAAAAB JOIN {channel.ts} #shared +", f":2BBAAAAAA JOIN {channel.ts} #shared +")
    assert {u.nick for u in channel.members} == {"alice", "dave", "carol"}
    feed(alpha, beta, ":2BBAAAAAB PART #shared :bye", ":2BBAAAAAA KICK #shared " + alice.uid + " :kicked from B")
    assert {u.nick for u in channel.members} == {"carol"}


def test_tmode_applies_with_uids_and_ignores_a_higher_ts(alpha, beta):
    """TMODE +o UID gives op; -l+b works; a TMODE with a higher channel TS changes nothing."""
    alice = alpha.add_user("alice")
    channel = alpha.network.join(alice, "#alpha").channel
    alpha.network.apply_channel_modes(alice, channel, [ModeChange(True, "l", "5")])
    feed(alpha, beta, CAROL, f":2BBAAAAAA JOIN {channel.ts} #alpha +")
    feed(alpha, beta, f":2BBAAAAAA TMODE {channel.ts + 1} #alpha +m")
    assert "m" not in channel.flags
    feed(alpha, beta, f":2BBAAAAAA TMODE {channel.ts} #alpha +o-l+b 2BBAAAAAA *!*@another.example")
    assert channel.members[alpha.user("carol")].status == {"o"} and channel.limit is None
    assert [e.mask for e in channel.lists["b"]] == ["*!*@another.example"]
    feed(alpha, beta, f":2BBAAAAAA TMODE {channel.ts} #alpha +q {alice.uid}")
    assert channel.members[alice].status == {"o", "q"}


def test_bmask_and_tburst(alpha, beta):
    """BMASK adds list entries; TBURST with an older channel TS sets the topic, a younger one does not."""
    feed(alpha, beta, CAROL, ":2BB SJOIN 1795607297 #beta +imnstl 5 :@2BBAAAAAA",
         ":2BB BMASK 1795607297 #beta b :*!*@spam.example *!*@more.example",
         ":2BB BMASK 1795607298 #beta e :*!*@ignored.example",
         ":2BB TBURST 1795607297 #beta 1795607297 carol!~carol@127.0.0.1 :Beta channel topic")
    channel = alpha.network.find_channel("#beta")
    assert [e.mask for e in channel.lists["b"]] == ["*!*@spam.example", "*!*@more.example"]
    assert channel.lists["e"] == []
    assert (channel.topic, channel.topic_setter, channel.topic_ts) == (
        "Beta channel topic", "carol!~carol@127.0.0.1", 1795607297)
    feed(alpha, beta, ":2BB TBURST 1795607299 #beta 1795607400 x!y@z :younger")
    assert channel.topic == "Beta channel topic"


def test_topic_from_a_remote_user(alpha, beta):
    """TOPIC sets the text with the user's mask as setter."""
    feed(alpha, beta, CAROL, ":2BB SJOIN 1795607297 #beta +nt :@2BBAAAAAA",
         ":2BBAAAAAA TOPIC #beta :topic changed from B")
    channel = alpha.network.find_channel("#beta")
    assert (channel.topic, channel.topic_setter) == ("topic changed from B", "carol!~carol@127.0.0.1")


def test_away_invite_user_mode(alpha, beta):
    """AWAY sets and clears; INVITE records the invite; MODE UID changes user modes."""
    alice = alpha.add_user("alice")
    channel = alpha.network.join(alice, "#alpha").channel
    feed(alpha, beta, DAVE, ":2BBAAAAAB AWAY :back later")
    assert alpha.user("dave").away == "back later"
    feed(alpha, beta, ":2BBAAAAAB AWAY", ":2BBAAAAAB MODE 2BBAAAAAB :+iw")
    dave = alpha.user("dave")
    assert dave.away is None and dave.modes == {"i", "w"}
    feed(alpha, beta, f":2BBAAAAAB INVITE {alice.uid} #alpha {channel.ts}")
    assert alice in channel.invited or "#alpha" in alice.invited


def test_chghost_and_login_by_encap(alpha, beta):
    """ENCAP * CHGHOST changes a host; SVSACCOUNT from the services behind beta logs a user in."""
    feed(alpha, beta, DAVE, ":2BB ENCAP * CHGHOST 2BBAAAAAB new.host",
         ":2BB SID services.beta.lab 2 0SV +S :Services", ":0SV SVSACCOUNT 2BBAAAAAB 1795607297 dave")
    dave = alpha.user("dave")
    assert (dave.host, dave.account) == ("new.host", "dave")


def test_encap_is_passed_on_and_unknown_subcommands_are_ignored(alpha, beta):
    """ENCAP reaches the other links unchanged; one we do not know changes nothing here."""
    gamma = raw_link(alpha, "gamma.lab", "3CC")
    texts(gamma)
    feed(alpha, beta, ":2BB ENCAP * MECHLIST :PLAIN,EXTERNAL")
    assert texts(gamma) == [":2BB ENCAP * MECHLIST PLAIN,EXTERNAL"] and beta.errors == []


def test_ping_answered_and_eob_ends_the_burst(alpha, beta):
    """``PING :2BB`` is answered with our PONG; the peer's EOB ends its burst and is passed on."""
    gamma = raw_link(alpha, "gamma.lab", "3CC")
    texts(gamma), texts(beta)
    feed(alpha, beta, "PING :2BB", ":2BB EOB")
    assert texts(beta) == [":1AA PONG alpha.lab 2BB"]
    assert beta.eobs == 1 and texts(gamma) == [":2BB EOB"]


def test_ping_for_another_server_is_forwarded(alpha, beta):
    """``:2BB PING beta.lab :3CC`` goes on to gamma, not answered by us."""
    gamma = raw_link(alpha, "gamma.lab", "3CC")
    texts(gamma), texts(beta)
    feed(alpha, beta, ":2BB PING beta.lab :3CC")
    assert texts(gamma) == [":2BB PING beta.lab 3CC"] and texts(beta) == []


def test_error_is_noticed(alpha, beta):
    """An ERROR from the peer reaches operators as a notice."""
    feed(alpha, beta, "ERROR :Closing Link: 127.0.0.1 (lab split)")
    assert alpha.notices == ["ERROR from beta.lab: Closing Link: 127.0.0.1 (lab split)"]


def test_wrong_direction_is_dropped(alpha, beta):
    """A line whose source is on our side of the link changes nothing."""
    alice = alpha.add_user("alice")
    feed(alpha, beta, f":{alice.uid} NICK mallory :1795607297")
    assert alpha.user("alice") is alice


# -- with a full core: what local clients see ----------------------------------------


@pytest.fixture
def core():
    core = make_core(default_modes="nt")
    return core


def test_messages_from_a_remote_user_reach_local_clients(core):
    """PRIVMSG to a UID, a channel and @channel arrive with the remote user's nick!user@host."""
    link = peer_link(core)
    alice = joined(core, "alice", "#shared")
    bob = joined(core, "bob", "#shared")
    ts = core.network.find_channel("#shared").ts
    dispatch(core, link, CAROL, f":2BBAAAAAA JOIN {ts} #shared +")
    sent_lines(alice), sent_lines(bob)
    dispatch(core, link, f":2BBAAAAAA PRIVMSG {alice.user.uid} :hello alice",
             ":2BBAAAAAA PRIVMSG #shared :hello channel", ":2BBAAAAAA NOTICE @#shared :ops only")
    assert sent_lines(alice) == [
        ":carol!~carol@127.0.0.1 PRIVMSG alice :hello alice",
        ":carol!~carol@127.0.0.1 PRIVMSG #shared :hello channel",
        ":carol!~carol@127.0.0.1 NOTICE @#shared :ops only",
    ]
    assert sent_lines(bob) == [":carol!~carol@127.0.0.1 PRIVMSG #shared :hello channel"]


def test_server_mask_message_reaches_local_users(core):
    """``PRIVMSG $$*.local`` from a remote oper reaches every user of a matching server."""
    link = peer_link(core)
    alice = register(core, "alice")
    dispatch(core, link, CAROL, ":2BBAAAAAA NOTICE $$*.local :maintenance soon")
    assert sent_lines(alice) == [":carol!~carol@127.0.0.1 NOTICE $$*.local :maintenance soon"]


def test_remote_kill_of_a_local_user_closes_it(core):
    """The killed local client gets its KILL and the connection closes."""
    link = peer_link(core)
    alice = register(core, "alice")
    dispatch(core, link, CAROL, f":2BBAAAAAA KILL {alice.user.uid} :beta.lab!127.0.0.1!~carol!carol (bye)")
    lines = sent_lines(alice)
    assert any("KILL alice" in line and "bye" in line for line in lines), lines
    assert core.network.find_user("alice") is None


def test_wallops_and_globops_reach_local_opers(core):
    """WALLOPS reaches +w users; ENCAP GLOBOPS reaches +s operators as a Global notice."""
    link = peer_link(core)
    oper = register(core, "oper")
    make_oper(oper, "o")
    client_feed(oper, "MODE oper +ws")
    sent_lines(oper)
    dispatch(core, link, CAROL, ":2BBAAAAAA WALLOPS :wallops from B", ":2BB ENCAP * GLOBOPS :look here")
    lines = sent_lines(oper)
    assert ":carol!~carol@127.0.0.1 WALLOPS :wallops from B" in lines
    assert ":test.local NOTICE oper :*** Global -- from beta.lab: look here" in lines


def test_remote_whois_is_answered_with_idle_time(core):
    """``:<UID> WHOIS <our UID> :alice`` gets 311, 312, 317 and 318 for the asker's UID, from our SID."""
    link = peer_link(core)
    alice = register(core, "alice")
    core.clock.advance(10)
    dispatch(core, link, CAROL)
    link.lines()
    dispatch(core, link, f":2BBAAAAAA WHOIS {alice.user.uid} :alice")
    sid = core.network.me.sid
    lines = link.lines()
    assert lines[0] == f":{sid} 311 2BBAAAAAA alice ~alice 127.0.0.1 * :Real alice"
    assert f":{sid} 317 2BBAAAAAA alice 10 {int(alice.user.signon)} :seconds idle, signon time" in lines
    assert lines[-1] == f":{sid} 318 2BBAAAAAA alice :End of /WHOIS list"


@pytest.mark.parametrize("verb, first", [
    ("MOTD", "375"), ("VERSION", "351"), ("ADMIN", "256"), ("TIME", "391"), ("INFO", "371"), ("LUSERS", "251"),
])
def test_remote_queries_are_answered_for_the_remote_user(core, verb, first):
    """MOTD/VERSION/ADMIN/TIME/INFO/LUSERS naming us are answered with numerics to the asker's UID."""
    link = peer_link(core)
    dispatch(core, link, CAROL)
    link.lines()
    dispatch(core, link, f":2BBAAAAAA {verb} :test.local")
    lines = link.lines()
    assert lines and lines[0].startswith(f":{core.network.me.sid} {first} 2BBAAAAAA ")


def test_numerics_for_a_local_user_are_shown_from_the_server_name(core):
    """A remote server's 311 for our user arrives as ``:beta.lab 311 alice ...``."""
    link = peer_link(core)
    alice = register(core, "alice")
    dispatch(core, link, f":2BB 311 {alice.user.uid} dave ~dave 127.0.0.1 * :Dave on B")
    assert sent_lines(alice) == [":beta.lab 311 alice dave ~dave 127.0.0.1 * :Dave on B"]


def test_server_table_is_registered_on_the_core(core):
    """build_core gives core.server_commands every TS6 verb we handle."""
    for verb in ("SID", "UID", "SJOIN", "TMODE", "BMASK", "TBURST", "EOB", "ENCAP", "KILL", "SQUIT", "WHOIS"):
        assert core.server_commands.get(verb) is not None, verb



# -- bad input never raises ------------------------------------------------------------------

from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

VERBS = ["SID", "UID", "NICK", "QUIT", "KILL", "SQUIT", "SJOIN", "JOIN", "PART", "KICK", "TMODE", "MODE",
         "BMASK", "TBURST", "TOPIC", "PRIVMSG", "NOTICE", "AWAY", "INVITE", "WALLOPS", "GLOBOPS", "OPERWALL",
         "ENCAP", "PING", "PONG", "EOB", "ERROR", "SVSACCOUNT", "SVSMODE", "WHOIS", "MOTD", "LUSERS", "311", "999"]
WORDS = ["2BB", "2BBAAAAAA", "2BBAAAAAB", "1AA", "1AAAAAAAA", "#c", "@#c", "$$*", "$#*", "*", "+", "-",
         "+o", "+l", "+lk", "-k", "+b", "+q", "+ah", "x", "0", "-1", "1795607297", "1800000000", "99999999999999999999",
         "beta.lab", "alpha.lab", "gamma.lab", "CHGHOST", "SU", "GLOBOPS", "", "é", "~@2BBAAAAAA", "+imnst"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["2BB", "2BBAAAAAA", "1AA", None]), st.sampled_from(VERBS),
                          st.lists(st.sampled_from(WORDS), max_size=12)), max_size=8))
@example([("2BBAAAAAA", "WHOIS", [""])])  # a 401 for an empty nick could not be written
@example([("2BB", "SID", ["services.beta.lab", "2", "0SV", "+S", "x"]), ("0SV", "SVSMODE", ["2BBAAAAAA", "0", "+lk"])])
def test_random_server_lines_never_raise(lines):
    """Any mix of verbs and odd parameters from a peer is applied, ignored or a protocol error, never a traceback."""
    from conferenceroom.wire import Message

    mesh = Mesh()
    alpha = mesh.node("alpha.lab", "1AA")
    alice = alpha.add_user("alice")
    channel = alpha.network.join(alice, "#c").channel
    beta = raw_link(alpha)
    feed(alpha, beta, CAROL, f":2BB SJOIN {channel.ts} #c + :@2BBAAAAAA")
    for source, verb, params in lines:
        params = [p for p in params[:-1] if p] + params[-1:]
        alpha.receive(beta, Message(verb, tuple(params), source))


def test_kick_without_a_reason_uses_the_kicker_nick(alpha, beta):
    """``:<UID> KICK #c <UID>`` with no reason kicks, the reason being the kicker's nick (no traceback)."""
    seen = []
    alpha.network.events.subscribe(seen.append)
    alice = alpha.add_user("alice")
    channel = alpha.network.join(alice, "#c").channel
    feed(alpha, beta, CAROL, f":2BB SJOIN {channel.ts} #c + :@2BBAAAAAA", f":2BBAAAAAA KICK #c {alice.uid}")
    assert alice not in channel.members and seen[-1].reason == "carol"


def test_tmode_with_a_bad_limit_is_ignored(alpha, beta):
    """``TMODE <ts> #c +l x`` sets no limit and raises nothing; +l 0 neither; +l 7 works."""
    alice = alpha.add_user("alice")
    channel = alpha.network.join(alice, "#c").channel
    feed(alpha, beta, CAROL, f":2BBAAAAAA TMODE {channel.ts} #c +l x", f":2BBAAAAAA TMODE {channel.ts} #c +l 0")
    assert channel.limit is None
    feed(alpha, beta, f":2BBAAAAAA TMODE {channel.ts} #c +l 7")
    assert channel.limit == 7


def test_squit_of_the_link_itself_drops_the_link(alpha, beta):
    """A peer that squits itself (or us) has its link dropped with the reason, as hybrid answers it."""
    dropped = []
    beta.drop = dropped.append
    feed(alpha, beta, "SQUIT beta.lab :going away")
    assert dropped == ["going away"]


def test_invite_through_a_hub_is_passed_on_once(alpha, beta):
    """An INVITE from beta for a user behind gamma reaches gamma exactly once."""
    gamma = raw_link(alpha, "gamma.lab", "3CC")
    alice = alpha.add_user("alice")
    channel = alpha.network.join(alice, "#c").channel
    feed(alpha, beta, CAROL, f":2BB SJOIN {channel.ts} #c + :2BBAAAAAA")
    feed(alpha, gamma, ":3CC UID gus 1 1795607297 + ~gus h h 0 3CCAAAAAA * :Gus")
    texts(gamma)
    feed(alpha, beta, f":2BBAAAAAA INVITE 3CCAAAAAA #c {channel.ts}")
    assert texts(gamma) == [f":2BBAAAAAA INVITE 3CCAAAAAA #c {channel.ts}"]


def test_encap_chghost_through_a_hub_is_passed_on_once(alpha, beta):
    """ENCAP * CHGHOST from beta changes the host here and reaches gamma in one line."""
    gamma = raw_link(alpha, "gamma.lab", "3CC")
    feed(alpha, beta, CAROL)
    texts(gamma)
    feed(alpha, beta, ":2BB ENCAP * CHGHOST 2BBAAAAAA staff.lab")
    assert alpha.user("carol").host == "staff.lab"
    assert texts(gamma) == [":1AA ENCAP * CHGHOST 2BBAAAAAA staff.lab"]


def test_link_side_imports_nothing_from_the_client_side():
    """link/commands (and its handler modules), outbound, burst and queries import nothing from conferenceroom.client
    (side by side)."""
    from tests.unit.test_layering import PACKAGE, runtime_imports

    for name in ("commands", "side", "servers", "users", "channels", "messages", "encap", "outbound", "burst",
                 "queries", "__init__"):
        imports = runtime_imports(PACKAGE / "link" / f"{name}.py")
        assert not [m for m in imports if m.startswith("conferenceroom.client")], (name, imports)


def test_every_server_tells_its_operators_of_a_kill(mesh):
    """An operator on a.test kills a user on c.test through b.test: b and c (each on the way) tell their
    +s operators who was killed, by whom, the path and the reason, as hybrid does."""
    a, b, c = (mesh.node(f"{x}.test", sid) for x, sid in (("a", "1AA"), ("b", "2BB"), ("c", "3CC")))
    mesh.link(a, b)
    mesh.link(b, c)
    killer, victim = a.add_user("ann"), c.add_user("carl")
    mesh.pump()
    a.network.kill_user(a.user("carl"), killer, "spamming")
    mesh.pump()
    path = f"a.test!{killer.host}!{killer.ident}!ann"
    told = f"Received KILL message for carl ({victim.ident}@{victim.realhost}) From ann Path: {path} (spamming)"
    assert told in b.notices and told in c.notices
    assert c.network.find_user("carl") is None
