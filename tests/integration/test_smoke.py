"""
Smoke tests against a real ``twistd -n conferenceroom`` process: the things
every IRC client needs before anything else works.
"""

from __future__ import annotations

from tests.integration.conftest import MOTD_LINES, NETWORK, SERVER_NAME
from tests.integration.ircclient import isupport_tokens, unique_nick


def test_registration_welcome_numerics(shared_server, irc_client):
    """
    NICK + USER is answered with 001, 002, 003, 004 and 005 in that order,
    each addressed to the new nick; 001 names the network and the full
    nick!user@host; 004 names the server; RPL_ISUPPORT declares
    CASEMAPPING=rfc1459 and NETWORK=TestNet and ends with the usual text.
    """
    nick = unique_nick("reg")
    c = irc_client(shared_server)
    burst = c.register(nick, user="reguser")
    commands = [m.command for m in burst]
    for code in ("001", "002", "003", "004", "005"):
        assert code in commands, f"no {code} in welcome burst: {commands}"
    firsts = [commands.index(code) for code in ("001", "002", "003", "004", "005")]
    assert firsts == sorted(firsts), f"001-005 out of order: {commands}"
    for msg in burst:
        if msg.command in ("001", "002", "003", "004", "005"):
            assert msg.params[0] == nick, msg.raw
            assert msg.source == SERVER_NAME, msg.raw
    welcome = burst[commands.index("001")]
    assert NETWORK in welcome.trailing, welcome.raw
    assert f"{nick}!" in welcome.trailing and "reguser@" in welcome.trailing, welcome.raw
    myinfo = burst[commands.index("004")]
    assert myinfo.params[1] == SERVER_NAME, myinfo.raw
    assert len(myinfo.params) >= 5, f"004 needs name, version, umodes, cmodes: {myinfo.raw}"

    tokens = isupport_tokens(burst)
    assert tokens.get("CASEMAPPING") == "rfc1459", tokens
    assert tokens.get("NETWORK") == NETWORK, tokens
    for msg in burst:
        if msg.command == "005":
            assert msg.trailing.lower().startswith("are supported"), msg.raw
            assert len(msg.params) <= 15, f"more than 13 tokens in one 005: {msg.raw}"


def test_motd_in_welcome_and_on_request(shared_server, irc_client):
    """
    The welcome burst carries the MOTD file as 375, one 372 per line, 376;
    the MOTD command sends the same again.
    """
    c = irc_client(shared_server)
    burst = c.register(unique_nick("motd"))
    commands = [m.command for m in burst]
    assert "375" in commands and "376" in commands, commands
    start, end = commands.index("375"), commands.index("376")
    body = [m for m in burst[start + 1:end]]
    assert [m.command for m in body] == ["372"] * len(body), [m.raw for m in body]
    text = [m.trailing for m in body]
    for line in MOTD_LINES:
        assert any(line in t for t in text), f"MOTD line {line!r} missing: {text}"

    c.send("MOTD")
    again = c.collect("376")
    assert again[0].command == "375", [m.raw for m in again]
    assert [m.trailing for m in again if m.command == "372"] == text


def test_two_clients_join_and_privmsg(shared_server, irc_client):
    """
    Two clients join #test: each gets its own JOIN and the names list, the
    first sees the second's JOIN with a full prefix, and PRIVMSG to the
    channel and to a nick reach the other client (and are not echoed back
    to the sender, who did not ask for echo-message).
    """
    a_nick, b_nick = unique_nick("alice"), unique_nick("bob")
    alice = irc_client(shared_server, a_nick)
    bob = irc_client(shared_server, b_nick)

    joined = alice.join("#test")
    join = next(m for m in joined if m.command == "JOIN")
    assert join.nick == a_nick and join.params[0] == "#test", join.raw
    assert "!" in join.source and "@" in join.source, join.raw
    assert "366" in [m.command for m in joined], [m.raw for m in joined]

    joined = bob.join("#test")
    names = " ".join(m.trailing for m in joined if m.command == "353")
    assert a_nick in names.replace("@", " ").replace("+", " ").split(), names
    assert b_nick in names.replace("@", " ").replace("+", " ").split(), names

    seen = alice.expect(lambda m: m.command == "JOIN" and m.nick == b_nick)
    assert seen.params[0].lower() == "#test", seen.raw
    assert seen.source.startswith(f"{b_nick}!"), seen.raw

    alice.send("PRIVMSG #test :hello channel from alice")
    got = bob.expect("PRIVMSG")
    assert got.nick == a_nick, got.raw
    assert got.params == ["#test", "hello channel from alice"], got.raw

    bob.send(f"PRIVMSG {a_nick} :hello alice from bob")
    got = alice.expect("PRIVMSG")
    assert got.nick == b_nick, got.raw
    assert got.params == [a_nick, "hello alice from bob"], got.raw

    alice.assert_silent("PRIVMSG", timeout=0.5)
    bob.assert_silent("PRIVMSG", timeout=0.1)


def test_ping_pong(shared_server, irc_client):
    """
    PING <token> is answered with PONG from the server whose last parameter
    is the token, both before and after registration.
    """
    c = irc_client(shared_server)
    c.send("PING :before-reg-token")
    # Some servers require registration first (451); ours answers PONG.
    pong = c.expect(lambda m: m.command in ("PONG", "451"))
    assert pong.command == "PONG", pong.raw
    assert pong.trailing == "before-reg-token", pong.raw

    c.register(unique_nick("ping"))
    c.send("PING :some token 123")
    pong = c.expect("PONG")
    assert pong.source == SERVER_NAME, pong.raw
    assert pong.trailing == "some token 123", pong.raw


def test_quit_gets_error_and_is_seen(shared_server, irc_client):
    """
    QUIT :reason is answered with an ERROR line and the connection is
    closed; another member of a shared channel sees the QUIT with the
    reason.
    """
    q_nick, w_nick = unique_nick("quit"), unique_nick("watch")
    quitter = irc_client(shared_server, q_nick)
    watcher = irc_client(shared_server, w_nick)
    quitter.join("#smokequit")
    watcher.join("#smokequit")

    quitter.send("QUIT :gone fishing")
    lines = quitter.wait_closed()
    errors = [m for m in lines if m.command == "ERROR"]
    assert errors, f"no ERROR before close: {[m.raw for m in lines]}"

    seen = watcher.expect(lambda m: m.command == "QUIT" and m.nick == q_nick)
    assert "gone fishing" in seen.trailing, seen.raw
