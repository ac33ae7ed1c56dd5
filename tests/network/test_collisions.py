"""Collisions and netjoins on real processes: every server ends with the same answer.

Three servers form a chain: alto (hub) - soprano (hub) - tenor (leaf), the
manual's pair plus a second hub; tenor links by ``/connect`` so each test
decides when.  soprano's operator splits tenor off with SQUIT; each side
then gets users and channels that collide when tenor links again.
Afterwards NAMES, MODE, the ban list, TOPIC, WHOIS and LUSERS are asked on
every server and must agree, and the clients that lost see how (KILL and
ERROR, QUIT for their peers, MODE -o, TOPIC).

Nick and channel TS are whole seconds of each process's clock: "older"
means created in an earlier second (:func:`next_second` waits for one), and
"equal" means created in the same second on both sides, which the tests
check (WHOIS signon time, RPL_CREATIONTIME) before relinking.
"""

from __future__ import annotations

import time
from typing import Optional

from tests.integration.conftest import HOST
from tests.integration.ircclient import IRCClient, Message
from tests.network.conftest import LINK_TIMEOUT, Node, links, lusers, wait_until
from tests.network.test_manual_pair import SOPRANO_SERIAL, configure_pair

SOPRANO = "soprano.webmaster.com"
TENOR = "tenor.webmaster.com"
ALTO = "alto.webmaster.com"
ALTO_SERIAL = "103-0000-001"


# -- helpers -------------------------------------------------------------------------


def next_second(margin: float = 0.05) -> None:
    """Wait until just after the next whole second of the clock the servers use."""
    now = time.time()
    time.sleep(1.0 - (now % 1.0) + margin)


def connect(node: Node, nick: str, ident: str, source: Optional[str] = None) -> IRCClient:
    """A client of *node* from *source* (another loopback address), registered as nick/ident."""
    client = IRCClient.connect(HOST, node.port, name=f"{nick}@{node.name}", source=source)
    node.proc._clients.append(client)  # closed when the server stops
    client.register(nick, user=ident)
    return client


def register_together(pairs: list[tuple[Node, str, str, Optional[str]]]) -> list[IRCClient]:
    """Register several clients in the same second: every NICK/USER is sent first, then the replies read."""
    clients = []
    for node, nick, ident, source in pairs:
        client = IRCClient.connect(HOST, node.port, name=f"{nick}@{node.name}", source=source)
        node.proc._clients.append(client)
        clients.append(client)
    next_second()
    for client, (_node, nick, ident, _source) in zip(clients, pairs):
        client.send(f"NICK {nick}")
        client.send(f"USER {ident} 0 * :collider {nick}")
        client.nick = nick
    for client in clients:
        assert client.expect(["376", "422"], timeout=10.0)
    return clients


def ask(client: IRCClient, line: str, end) -> list[Message]:
    """Send *line*; return what came back up to the first line matching *end* (a numeric or a test)."""
    client.send(line)
    return client.collect(end, timeout=10.0)


def signon(client: IRCClient, nick: str) -> int:
    """The signon time WHOIS (317) reports for *nick*."""
    lines = ask(client, f"WHOIS {nick}", "318")
    return int(next(m.params[3] for m in lines if m.command == "317"))


def whois(client: IRCClient, nick: str) -> Optional[tuple[str, str]]:
    """(ident as shown, ``~`` without identd; server) of *nick* by WHOIS, or None when the server says 401."""
    lines = ask(client, f"WHOIS {nick}", "318")
    user = [m for m in lines if m.command == "311"]
    if not user:
        assert any(m.command == "401" for m in lines), lines
        return None
    server = next(m.params[2] for m in lines if m.command == "312")
    return user[0].params[2], server


def names_status(client: IRCClient, channel: str) -> list[str]:
    """NAMES *channel* with each member's highest prefix, sorted by nick."""
    found: list[str] = []
    for m in ask(client, f"NAMES {channel}", "366"):
        if m.command == "353":
            found += m.trailing.split()
    return sorted(found, key=lambda n: n.lstrip("~.@%+"))


def channel_modes(client: IRCClient, channel: str) -> tuple[list[str], int]:
    """(MODE *channel* as ``["+ntkl", key, limit]``, channel TS from RPL_CREATIONTIME)."""
    lines = ask(client, f"MODE {channel}", "329")
    modes = next(m.params[2:] for m in lines if m.command == "324")
    return modes, int(lines[-1].params[2])


def bans(client: IRCClient, channel: str) -> list[str]:
    """The ban masks MODE *channel* b lists, sorted."""
    return sorted(m.params[2] for m in ask(client, f"MODE {channel} b", "368") if m.command == "367")


def topic(client: IRCClient, channel: str) -> Optional[str]:
    """The topic text TOPIC *channel* reports, or None (331)."""
    lines = ask(client, f"TOPIC {channel}", ["331", "333"])
    got = [m.trailing for m in lines if m.command == "332"]
    return got[0] if got else None


def mode_lines(client: IRCClient, channel: str) -> list[Message]:
    """MODE lines for *channel* this client has received so far (history, consumed or not)."""
    client.drain(0.3)
    return [m for m in client.history if m.command == "MODE" and m.params and m.params[0] == channel]


def split_pair(soprano: Node, tenor: Node) -> None:
    """SQUIT tenor from soprano's operator and wait until neither side lists the other."""
    soprano.operator().send("SQUIT tenor.* :collision test")
    wait_until(lambda: TENOR not in links(soprano.operator()), "soprano without tenor after SQUIT")
    wait_until(lambda: links(tenor.operator()) == [TENOR], "tenor alone after SQUIT")


def link_pair(soprano: Node, tenor: Node) -> None:
    """tenor's operator types /connect soprano.* <port>; wait for both ends of burst."""
    tenor.operator().send(f"CONNECT soprano.* {soprano.port}")
    soprano.server_notice(rf"^End of burst from {TENOR}")
    tenor.server_notice(rf"^End of burst from {SOPRANO}")


def chain(network) -> tuple[Node, Node, Node]:
    """alto (hub) - soprano (hub) - tenor (leaf): alto auto-connects to soprano, tenor links by /connect."""
    soprano, tenor = configure_pair(network, auto=False)
    alto = network.server(ALTO, ALTO_SERIAL, hub=True)
    alto.as_("general set hub")
    soprano.define("alto", name="alto.*", serial=ALTO_SERIAL)
    alto.define("soprano", name=SOPRANO, host="127.0.0.1", port=soprano.port, serial=SOPRANO_SERIAL,
                auto=True)
    soprano.server_notice(rf"^End of burst from {ALTO}")
    link_pair(soprano, tenor)
    everyone = sorted([ALTO, SOPRANO, TENOR])
    for node in (alto, soprano, tenor):
        wait_until(lambda n=node: links(n.operator()) == everyone, f"LINKS on {node.name}")
    return alto, soprano, tenor


def set_up(client: IRCClient, channel: str, key: str, limit: int, ban: str, text: str,
           moderated: bool = False) -> None:
    """Give *channel* a key, a limit, a ban (and +m), then a topic, from its op *client*."""
    client.send(f"MODE {channel} +{'m' if moderated else ''}kl {key} {limit}")
    client.send(f"MODE {channel} +b {ban}")
    client.send(f"TOPIC {channel} :{text}")
    client.expect(lambda m: m.command == "TOPIC" and m.params[0] == channel)


def killed(client: IRCClient, reason: str) -> Message:
    """Wait for the KILL this client gets, then for its ERROR and the closed connection; return the KILL."""
    kill = client.expect("KILL", timeout=LINK_TIMEOUT)
    assert kill.params[0] == client.nick and reason in kill.trailing, kill.raw
    rest = client.wait_closed(timeout=10.0)
    errors = [m for m in rest if m.command == "ERROR"]
    assert errors and reason in errors[0].trailing, [m.raw for m in rest]
    return kill


# -- nick collisions ---------------------------------------------------------------


def test_nick_collisions_on_relink_resolve_alike_everywhere(network) -> None:
    """Same nicks on both sides of a split: the older TS survives, equal TS kills both, everywhere.

    - ``early1`` registered on soprano a second before tenor's: soprano's survives;
    - ``early2`` registered on tenor first: tenor's survives (the other direction);
    - ``twin`` on both with the same ident and address (the same user): the newer survives;
    - ``swap``: soprano's user signed on later but took the nick first (nick TS, not signon, counts);
    - ``tie`` registered in the same second on both: both are killed.
    The losers get KILL then ERROR naming the collision; WHOIS and LUSERS agree on both servers.
    """
    alto, soprano, tenor = chain(network)
    watchers = [connect(node, f"watch{node.name[0]}", "watch") for node in (alto, soprano, tenor)]
    split_pair(soprano, tenor)

    swap_t = connect(tenor, "swapt", "swapt", source="127.0.0.3")  # the older signon
    next_second()
    old1 = connect(soprano, "early1", "sop1")
    old2 = connect(tenor, "early2", "ten2", source="127.0.0.2")
    twin_old = connect(soprano, "twin", "twin")
    swap_s = connect(soprano, "swaps", "swaps")
    swap_s.send("NICK swap")
    assert swap_s.expect("NICK").params == ["swap"]
    swap_s.nick = "swap"
    next_second()
    new1 = connect(tenor, "early1", "ten1", source="127.0.0.2")
    new2 = connect(alto, "early2", "alto2")
    twin_new = connect(tenor, "twin", "twin")
    swap_t.send("NICK swap")
    assert swap_t.expect("NICK").params == ["swap"]
    swap_t.nick = "swap"
    for attempt in range(3):  # equal TS: both in the same second (checked), else try again
        tie_s, tie_t = register_together([(alto, f"tie{attempt}", "ties", None),
                                          (tenor, f"tie{attempt}", "tiet", "127.0.0.2")])
        if signon(tie_s, tie_s.nick) == signon(tie_t, tie_t.nick):
            break
        tie_s.quit()
        tie_t.quit()
    else:
        raise AssertionError("could not register two users in the same second on both servers")
    tie = tie_s.nick

    for client in (*watchers, new1, new2):  # channel peers of two losers, on both sides
        client.join("#watch")
    for watcher in watchers:
        watcher.drain(0.2)
    link_pair(soprano, tenor)
    for loser in (new1, new2, swap_t):
        killed(loser, "Nick collision")
    killed(twin_old, "Nick collision")
    killed(tie_s, "Nick collision")
    killed(tie_t, "Nick collision")

    expected = {
        "early1": ("~sop1", SOPRANO), "early2": ("~ten2", TENOR), "twin": ("~twin", TENOR),
        "swap": ("~swaps", SOPRANO), tie: None,
    }
    # Peers see the losers they knew QUIT as killed by the server that decided it.
    gone = {SOPRANO: "early2", TENOR: "early1"}
    for watcher, killer in ((watchers[0], SOPRANO), (watchers[1], SOPRANO), (watchers[2], TENOR)):
        quit_ = watcher.expect(lambda m: m.command == "QUIT" and m.nick == gone[killer], timeout=10.0)
        assert quit_.trailing == f"Killed ({killer} (Nick collision (new)))", quit_.raw
    listed = [names_status(watcher, "#watch") for watcher in watchers]
    assert [n.lstrip("@") for n in listed[0]] == ["watcha", "watchs", "watcht"] and listed.count(listed[0]) == 3, listed
    for watcher in watchers:
        seen = {nick: whois(watcher, nick) for nick in expected}
        assert seen == expected, f"WHOIS from {watcher.name}"
    for survivor in (old1, old2, twin_new, swap_s):
        survivor.send("PING :alive")
        assert survivor.expect("PONG").trailing == "alive"
    counts = {lusers(watcher) for watcher in watchers}
    assert len(counts) == 1, counts
    # three watchers, three operators and the four survivors
    assert counts.pop().startswith("There are 10 users"), counts


def test_nick_change_collision_across_the_link(network) -> None:
    """Two users take the same free nick in the same second on alto and tenor (via soprano): both die everywhere.

    Each end accepts its own user's NICK (the nick is free there), then hears
    the other's NICK with the same TS: soprano in the middle sees both and
    kills both, and so do alto and tenor; every server says 401 for the nick.
    """
    alto, soprano, tenor = chain(network)
    anna = connect(alto, "anna", "anna")
    bert = connect(tenor, "bert", "bert", source="127.0.0.2")
    watchers = [connect(node, f"watch{node.name[0]}", "watch") for node in (alto, soprano, tenor)]
    for watcher in watchers:
        wait_until(lambda w=watcher: whois(w, "anna") and whois(w, "bert"), f"{watcher.name} sees both")
    next_second()
    anna.send("NICK clash")
    bert.send("NICK clash")
    for client in (anna, bert):
        assert client.expect("NICK").params == ["clash"]
        client.nick = "clash"
    for client in (anna, bert):
        killed(client, "Nick change collision")
    for watcher in watchers:
        wait_until(lambda w=watcher: whois(w, "clash") is None, f"clash gone on {watcher.name}")
        assert [whois(watcher, nick) for nick in ("anna", "bert")] == [None, None]
    counts = {lusers(watcher) for watcher in watchers}
    assert len(counts) == 1, counts
    assert counts.pop().startswith("There are 6 users"), counts  # the watchers and operators


# -- channel TS --------------------------------------------------------------------


def test_channel_ts_on_relink_older_side_wins_everywhere(network) -> None:
    """Channels made on both sides while split: the older side's modes, ops, bans and topic win on all three.

    The chain alto - soprano - tenor is split between soprano and tenor;
    alice (soprano) and carol (alto) are on one side, bob (tenor) on the
    other.  ``#sopfirst`` is older on soprano's side, ``#tenfirst`` older on
    tenor; the younger side's op sees MODE -o for itself and the older
    side's TOPIC, and so does carol two hops away.  ``#shared`` existed
    before the split (same TS): modes, bans and ops merge, the greater key
    and the larger limit win, the newer topic wins.
    """
    alto, soprano, tenor = chain(network)
    alice = connect(soprano, "alice", "alice")
    bob = connect(tenor, "bob", "bob", source="127.0.0.2")
    carol = connect(alto, "carol", "carol", source="127.0.0.4")
    alice.join("#shared")
    for client in (bob, carol):
        wait_until(lambda c=client: "@alice" in names_status(c, "#shared"), f"{client.name} sees #shared")
        client.join("#shared")
    wait_until(lambda: names_status(alice, "#shared") == ["@alice", "bob", "carol"], "soprano sees all in #shared")
    alice.send("MODE #shared +o bob")
    bob.expect(lambda m: m.command == "MODE" and m.params[1:] == ["+o", "bob"], timeout=10.0)
    split_pair(soprano, tenor)

    next_second()
    alice.join("#sopfirst")
    bob.join("#tenfirst")
    wait_until(lambda: "@alice" in names_status(carol, "#sopfirst"), "alto sees #sopfirst")
    carol.join("#sopfirst")
    set_up(alice, "#sopfirst", "oldkey", 10, "*!*@old.sop", "soprano was first")
    set_up(bob, "#tenfirst", "oldkey", 10, "*!*@old.ten", "tenor was first")
    set_up(alice, "#shared", "alpha", 5, "*!*@a.shared", "alpha topic")
    next_second()
    bob.join("#sopfirst")
    alice.join("#tenfirst")
    wait_until(lambda: "@alice" in names_status(carol, "#tenfirst"), "alto sees #tenfirst")
    carol.join("#tenfirst")
    set_up(bob, "#sopfirst", "newkey", 20, "*!*@new.ten", "tenor came later", moderated=True)
    set_up(alice, "#tenfirst", "newkey", 20, "*!*@new.sop", "soprano came later", moderated=True)
    set_up(bob, "#shared", "beta", 50, "*!*@b.shared", "beta topic", moderated=True)
    wait_until(lambda: topic(carol, "#tenfirst") == "soprano came later", "alto has the younger #tenfirst")
    ts = {name: (channel_modes(alice, name)[1], channel_modes(bob, name)[1])
          for name in ("#sopfirst", "#tenfirst", "#shared")}
    assert ts["#sopfirst"][0] < ts["#sopfirst"][1] and ts["#tenfirst"][1] < ts["#tenfirst"][0], ts
    assert ts["#shared"][0] == ts["#shared"][1], ts

    link_pair(soprano, tenor)
    wanted = {
        "#sopfirst": (["@alice", "bob", "carol"], ["+ntkl", "oldkey", "10"], ["*!*@old.sop"],
                      "soprano was first"),
        "#tenfirst": (["alice", "@bob", "carol"], ["+ntkl", "oldkey", "10"], ["*!*@old.ten"],
                      "tenor was first"),
        "#shared": (["@alice", "@bob", "carol"], ["+mntkl", "beta", "50"], ["*!*@a.shared", "*!*@b.shared"],
                    "beta topic"),
    }
    for client in (alice, bob, carol):
        for name, (members, modes, masks, text) in wanted.items():
            wait_until(lambda c=client, n=name, m=members: names_status(c, n) == m,
                       f"NAMES {name} on {client.name}")
            assert channel_modes(client, name) == (modes, min(ts[name])), f"MODE {name} on {client.name}"
            assert bans(client, name) == masks, f"bans of {name} on {client.name}"
            assert topic(client, name) == text, f"TOPIC {name} on {client.name}"
    # The younger side's op saw its status and modes go, and the older topic arrive (carol too).
    for client, name, op, text in ((bob, "#sopfirst", "bob", "soprano was first"),
                                   (alice, "#tenfirst", "alice", "tenor was first"),
                                   (carol, "#tenfirst", "alice", "tenor was first")):
        removed = [m.params[1:] for m in mode_lines(client, name) if m.source in (SOPRANO, TENOR)]
        assert any(p[0].startswith("-") and "o" in p[0] and op in p[1:] for p in removed), (client.name, removed)
        topics = [m.trailing for m in client.history if m.command == "TOPIC" and m.params[0] == name]
        assert topics[-1] == text, (client.name, topics)
    counts = {lusers(c) for c in (alice, bob, carol)}
    assert len(counts) == 1, counts


# -- a split and a netjoin two hops away ---------------------------------------------


def test_netsplit_and_netjoin_across_a_chain(network) -> None:
    """alto's operator SQUITs tenor (two hops away): tenor's users QUIT ``soprano tenor`` on alto and
    soprano, the others QUIT ``tenor soprano`` on tenor; after /connect they JOIN back with their status."""
    alto, soprano, tenor = chain(network)
    amy = connect(alto, "amy", "amy")
    sam = connect(soprano, "sam", "sam", source="127.0.0.2")
    tom = connect(tenor, "tom", "tom", source="127.0.0.3")
    tina = connect(tenor, "tina", "tina", source="127.0.0.3")
    amy.join("#chain")
    everyone = ["@amy", "sam", "+tina", "@tom"]
    for client in (sam, tom, tina):
        wait_until(lambda c=client: "@amy" in names_status(c, "#chain"), f"{client.name} sees #chain")
        client.join("#chain")
    wait_until(lambda: names_status(amy, "#chain") == ["@amy", "sam", "tina", "tom"], "all four joined")
    amy.send("MODE #chain +ov tom tina")
    for client in (amy, sam, tom, tina):
        wait_until(lambda c=client: names_status(c, "#chain") == everyone, f"NAMES #chain on {client.name}")

    alto.operator().send("SQUIT tenor.* :middle split")
    for watcher in (amy, sam):
        quits = sorted((m.nick, m.trailing) for m in (watcher.expect("QUIT", timeout=10.0) for _ in range(2)))
        assert quits == [("tina", f"{SOPRANO} {TENOR}"), ("tom", f"{SOPRANO} {TENOR}")], watcher.name
    quits = sorted((m.nick, m.trailing) for m in (tom.expect("QUIT", timeout=10.0) for _ in range(2)))
    assert quits == [("amy", f"{TENOR} {SOPRANO}"), ("sam", f"{TENOR} {SOPRANO}")]
    wait_until(lambda: links(amy) == [ALTO, SOPRANO], "LINKS on alto after the split")
    assert links(tom) == [TENOR]
    for client in (amy, sam):
        assert names_status(client, "#chain") == ["@amy", "sam"], client.name
        assert whois(client, "tom") is None
    assert names_status(tom, "#chain") == ["+tina", "@tom"]
    assert lusers(amy) == lusers(sam) != lusers(tom)

    amy.drain(0.2), tom.drain(0.2)
    mark_amy, mark_tom = len(amy.history), len(tom.history)
    link_pair(soprano, tenor)
    for client in (amy, sam, tom, tina):
        wait_until(lambda c=client: names_status(c, "#chain") == everyone,
                   f"NAMES #chain on {client.name} after relink")
    back = [m for m in amy.history[mark_amy:] if m.command in ("JOIN", "MODE")]
    assert sorted(m.nick for m in back if m.command == "JOIN") == ["tina", "tom"], [m.raw for m in back]
    status = [m.params[1:] for m in back if m.command == "MODE"]
    assert sorted(status) == [["+o", "tom"], ["+v", "tina"]] or status == [["+ov", "tom", "tina"]], status
    seen_by_tom = [m for m in tom.history[mark_tom:] if m.command in ("JOIN", "MODE")]
    assert sorted(m.nick for m in seen_by_tom if m.command == "JOIN") == ["amy", "sam"]
    assert [m.params[1:] for m in seen_by_tom if m.command == "MODE"] == [["+o", "amy"]]
    for client in (amy, sam, tom):
        assert whois(client, "tom") == ("~tom", TENOR)
        assert whois(client, "amy") == ("~amy", ALTO)
        assert links(client) == sorted([ALTO, SOPRANO, TENOR])
        assert channel_modes(client, "#chain")[0] == ["+nt"]
    counts = {lusers(c) for c in (amy, sam, tom)}
    assert len(counts) == 1 and "on 3 servers" in counts.pop(), counts


# -- a channel whose only member loses a collision -----------------------------------


def test_older_channel_whose_members_all_lose_their_nicks(network) -> None:
    """The older side's channel held only a user who loses a nick collision on relink: the younger one stays.

    tenor's ``#lost`` is older, but its only member then takes ``dup``, a
    nick soprano's user has held longer.  tenor kills its member when it
    reads soprano's UID, so its ``#lost`` is gone; soprano, alto and tenor
    must all end with soprano's ``#lost`` (TS, op, modes, ban, topic), not
    with the dead channel's TS, modes and topic on one side only.
    """
    alto, soprano, tenor = chain(network)
    watchers = [connect(node, f"watch{node.name[0]}", "watch") for node in (alto, soprano, tenor)]
    split_pair(soprano, tenor)
    next_second()
    doomed = connect(tenor, "tmpx", "tmpx", source="127.0.0.2")
    doomed.join("#lost")
    set_up(doomed, "#lost", "tenkey", 7, "*!*@ten.ban", "tenor topic", moderated=True)
    next_second()
    dup = connect(soprano, "dup", "dup")
    dup.join("#lost")
    set_up(dup, "#lost", "sopkey", 9, "*!*@sop.ban", "soprano topic")
    next_second()
    doomed.send("NICK dup")
    assert doomed.expect("NICK").params == ["dup"]
    doomed.nick = "dup"
    younger_ts = channel_modes(dup, "#lost")[1]
    assert channel_modes(doomed, "#lost")[1] < younger_ts

    link_pair(soprano, tenor)
    killed(doomed, "Nick collision")
    for watcher in watchers:
        wait_until(lambda w=watcher: names_status(w, "#lost") == ["@dup"], f"NAMES #lost on {watcher.name}")
        assert whois(watcher, "dup") == ("~dup", SOPRANO)
        assert channel_modes(watcher, "#lost") == (["+ntkl", "*", "9"], younger_ts), watcher.name
        assert bans(watcher, "#lost") == ["*!*@sop.ban"], watcher.name
        assert topic(watcher, "#lost") == "soprano topic", watcher.name
    dup.send("MODE #lost -o dup")  # still its op: the change is accepted and reaches tenor
    wait_until(lambda: names_status(watchers[2], "#lost") == ["dup"], "tenor sees dup's -o")
