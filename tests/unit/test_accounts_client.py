"""Accounts as local clients see them: +r, 900/901, ACCOUNT, the account tag, extended-join, WHOIS 330."""

from __future__ import annotations

from conferenceroom.network import Channel
from tests.helpers import (
    connect, feed, make_core, make_remote_server, make_remote_user, register, sent, sent_codes,
)


def shared(core, *conns, name="#acct") -> Channel:  # type: ignore[no-untyped-def]
    """Put every connection's user in ``name``; clear their output."""
    for conn in conns:
        core.network.join(conn.user, name)
    for conn in conns:
        sent(conn)
    return core.network.find_channel(name)


def test_caps_offered_for_accounts() -> None:
    """CAP LS lists account-notify, account-tag and extended-join, and a client may take them."""
    core = make_core()
    conn = register(core, "alice")
    feed(conn, "CAP LS 302")
    offered = " ".join(m.params[-1] for m in sent(conn))
    assert {"account-notify", "account-tag", "extended-join"} <= set(offered.split())
    feed(conn, "CAP REQ :account-notify account-tag extended-join")
    [ack] = sent(conn)
    assert ack.params[1:] == ("ACK", "account-notify account-tag extended-join")


def test_login_under_the_accounts_nick_gives_900_then_mode_r_logout_takes_them_back() -> None:
    """bob logging in to account Bob sees 900 with its mask and account, then MODE +r
    (identified for this nick); logging out sees 901 then -r."""
    core = make_core()
    bob = register(core, "bob")
    core.network.set_account(bob.user, "Bob")
    assert "r" in bob.user.modes
    logged_in, mode = sent(bob)
    assert (logged_in.command, logged_in.params) == (
        "900", ("bob", "bob!~bob@127.0.0.1", "Bob", "You are now logged in as Bob"))
    assert (mode.source, mode.command, mode.params) == ("test.local", "MODE", ("bob", "+r"))
    core.network.set_account(bob.user, None)
    assert "r" not in bob.user.modes
    logged_out, mode = sent(bob)
    assert (logged_out.command, logged_out.params) == ("901", ("bob", "bob!~bob@127.0.0.1", "You are now logged out"))
    assert mode.params == ("bob", "-r")
    feed(bob, "MODE bob")
    assert sent(bob)[0].params[-1] == "+"


def test_login_under_another_nick_gives_900_and_no_r() -> None:
    """bob logging in to account BobAcct (not his nick) sees only 900: no MODE +r, and MODE shows none;
    WHOIS still shows the account (330)."""
    core = make_core()
    bob = register(core, "bob")
    core.network.set_account(bob.user, "BobAcct")
    [logged_in] = sent(bob)
    assert logged_in.command == "900" and logged_in.params[2] == "BobAcct"
    assert "r" not in bob.user.modes
    feed(bob, "MODE bob")
    assert sent(bob)[0].params[-1] == "+"
    feed(bob, "WHOIS bob")
    assert ("330", ("bob", "bob", "BobAcct", "is logged in as")) in [(m.command, m.params) for m in sent(bob)]
    core.network.set_account(bob.user, None)
    assert sent_codes(bob) == ["901"]


def test_nick_change_away_from_the_account_takes_r_and_back_gives_it() -> None:
    """Identified as bob, bob becomes bobby: NICK then MODE bobby -r (still logged in, 330 kept);
    back to BOB (any case): NICK then MODE BOB +r; a case change keeps +r with no MODE line."""
    core = make_core()
    bob = register(core, "bob")
    core.network.set_account(bob.user, "bob")
    sent(bob)
    feed(bob, "NICK bobby")
    nick, mode = sent(bob)
    assert (nick.command, nick.params) == ("NICK", ("bobby",))
    assert (mode.source, mode.command, mode.params) == ("test.local", "MODE", ("bobby", "-r"))
    assert bob.user.account == "bob" and "r" not in bob.user.modes
    feed(bob, "WHOIS bobby")
    assert "330" in [m.command for m in sent(bob)]
    feed(bob, "NICK BOB")
    nick, mode = sent(bob)
    assert nick.params == ("BOB",) and mode.params == ("BOB", "+r")
    feed(bob, "NICK Bob")
    assert [m.command for m in sent(bob)] == ["NICK"] and "r" in bob.user.modes


def test_channel_peer_sees_the_nick_change_but_not_the_mode() -> None:
    """A channel peer of an identified user sees the NICK only; the -r goes to the user alone."""
    core = make_core()
    bob = register(core, "bob")
    carol = register(core, "carol")
    shared(core, bob, carol)
    core.network.set_account(bob.user, "bob")
    sent(bob), sent(carol)
    feed(bob, "NICK robert")
    assert [m.command for m in sent(carol)] == ["NICK"]
    assert [m.command for m in sent(bob)] == ["NICK", "MODE"]


def test_remote_user_gets_r_from_account_and_nick() -> None:
    """A user behind a link: logged in under its nick it has +r; renamed away it loses it, back it regains it."""
    core = make_core()
    server = make_remote_server(core)
    dave = make_remote_user(core, server, "dave")
    core.network.set_account(dave, "Dave")
    assert "r" in dave.modes
    core.network.change_nick(dave, "dave2", origin=server.route)
    assert "r" not in dave.modes and dave.account == "Dave"
    core.network.change_nick(dave, "DAVE", origin=server.route)
    assert "r" in dave.modes
    core.network.set_account(dave, "other")
    assert "r" not in dave.modes


def test_user_cannot_set_or_remove_r() -> None:
    """MODE me +r is ignored (no line, no 501) and MODE me -r leaves a logged-in user's +r alone."""
    core = make_core()
    bob = register(core, "bob")
    feed(bob, "MODE bob +r")
    assert sent(bob) == [] and "r" not in bob.user.modes
    core.network.set_account(bob.user, "bob")
    sent(bob)
    feed(bob, "MODE bob -r+i")
    [line] = sent(bob)
    assert line.params == ("bob", "+i") and "r" in bob.user.modes
    feed(bob, "MODE bob")
    assert sent(bob)[0].params[-1] == "+ir"


def test_myinfo_lists_r() -> None:
    """004 lists user mode r among the user modes."""
    core = make_core()
    fresh = connect(core)
    feed(fresh, "NICK carol", "USER carol 0 * :Carol")
    myinfo = next(m for m in sent(fresh) if m.command == "004")
    assert "r" in myinfo.params[3]


def test_account_notify_goes_to_peers_with_the_cap() -> None:
    """ACCOUNT reaches channel peers and the user when they took account-notify; never others."""
    core = make_core()
    alice = register(core, "alice", caps="account-notify")
    carol = register(core, "carol")
    bob = register(core, "bob", caps="account-notify")
    dave = register(core, "dave", caps="account-notify")
    shared(core, alice, carol, bob)
    core.network.set_account(bob.user, "BobAcct")
    [line] = sent(alice)
    assert (line.source, line.command, line.params) == ("bob!~bob@127.0.0.1", "ACCOUNT", ("BobAcct",))
    assert sent_codes(carol) == [] and sent_codes(dave) == []
    assert sent_codes(bob) == ["900", "ACCOUNT"]  # BobAcct is not his nick: no +r
    core.network.set_account(bob.user, None)
    assert [m.params for m in sent(alice)] == [("*",)]


def test_account_tag_on_messages_of_a_logged_in_user() -> None:
    """JOIN, PRIVMSG, NOTICE and PART from a logged-in user carry account=<name> to clients
    with account-tag only; a user not logged in sends no tag."""
    core = make_core()
    alice = register(core, "alice", caps="account-tag")
    carol = register(core, "carol")
    bob = register(core, "bob")
    shared(core, alice, carol)
    core.network.set_account(bob.user, "BobAcct")
    sent(bob)
    feed(bob, "JOIN #acct", "PRIVMSG #acct :hi", "NOTICE alice :psst", "PART #acct :bye")
    seen = sent(alice)
    assert [m.command for m in seen] == ["JOIN", "PRIVMSG", "NOTICE", "PART"]
    assert all(m.tags.get("account") == "BobAcct" for m in seen)
    plain = sent(carol)
    assert [m.command for m in plain] == ["JOIN", "PRIVMSG", "PART"]
    assert all("account" not in m.tags for m in plain)
    feed(alice, "PRIVMSG #acct :untagged")
    assert all("account" not in m.tags for m in sent(alice))


def test_account_tag_on_invite_topic_mode_and_nick() -> None:
    """INVITE, TOPIC, MODE and NICK lines from a logged-in user carry its account tag."""
    core = make_core()
    alice = register(core, "alice", caps="account-tag")
    bob = register(core, "bob")
    core.network.set_account(bob.user, "BobAcct")
    feed(bob, "JOIN #t")
    sent(bob)
    feed(bob, "INVITE alice #t")
    [invite] = sent(alice)
    assert (invite.command, invite.tags.get("account")) == ("INVITE", "BobAcct")
    feed(alice, "JOIN #t")
    sent(alice)
    feed(bob, "TOPIC #t :tagged", "MODE #t +m", "NICK bobby")
    lines = sent(alice)
    assert [(m.command, m.tags.get("account")) for m in lines] == [
        ("TOPIC", "BobAcct"), ("MODE", "BobAcct"), ("NICK", "BobAcct")]


def test_remote_logged_in_user_message_carries_account_tag() -> None:
    """A message relayed from a remote logged-in user carries its account tag to account-tag clients."""
    core = make_core()
    alice = register(core, "alice", caps="account-tag")
    server = make_remote_server(core)
    rem = make_remote_user(core, server, "rem")
    rem.account = "RemAcct"
    core.router.deliver(rem, alice.user, "PRIVMSG", ("alice", "hello"), origin=server.route)
    [line] = sent(alice)
    assert (line.command, line.tags.get("account")) == ("PRIVMSG", "RemAcct")


def test_extended_join_shows_account_or_star() -> None:
    """extended-join members see JOIN #chan <account> :realname, '*' for a user not logged in."""
    core = make_core()
    alice = register(core, "alice", caps="extended-join")
    shared(core, alice, name="#x")
    bob = register(core, "bob")
    core.network.set_account(bob.user, "BobAcct")
    core.network.join(bob.user, "#x")
    [line] = sent(alice)
    assert line.params == ("#x", "BobAcct", "Real bob")
    carol = register(core, "carol")
    core.network.join(carol.user, "#x")
    assert sent(alice)[0].params == ("#x", "*", "Real carol")


def test_whois_shows_330_for_logged_in_users() -> None:
    """WHOIS of a logged-in user has 330 <nick> <account> :is logged in as; none when logged out."""
    core = make_core()
    alice = register(core, "alice")
    bob = register(core, "bob")
    core.network.set_account(bob.user, "BobAcct")
    feed(alice, "WHOIS bob")
    line = next(m for m in sent(alice) if m.command == "330")
    assert line.params == ("alice", "bob", "BobAcct", "is logged in as")
    core.network.set_account(bob.user, None)
    feed(alice, "WHOIS bob")
    assert "330" not in [m.command for m in sent(alice)]
