"""
Conformance details found by checking the server against the Modern IRC
documents the way an independent test suite does: one real process, raw
sockets, and every reply read in the order the server sent it.

Each test here pins a behaviour that was once wrong.
"""

from __future__ import annotations

from tests.integration.conftest import ADMIN_OPER
from tests.integration.ircclient import isupport_tokens, unique_nick


def _until_pong(client, token: str) -> list:
    """Every line up to the PONG answering ``token`` (that PONG excluded)."""
    lines = client.collect(lambda m: m.command == "PONG" and m.params[-1] == token)
    return lines[:-1]


# -- replies stay in the order of the commands --------------------------------


def test_oper_reply_arrives_before_replies_to_later_commands(shared_server, irc_client):
    """
    The OPER password is checked off the reactor thread, yet a client that
    sends OPER and then PING in the same packet gets 381 (and its MODE +o)
    before the PONG: a server answers commands in the order they came, which
    is how clients (and test suites) synchronise.
    """
    nick = unique_nick("opord")
    c = irc_client(shared_server, nick)
    name, password, _ = ADMIN_OPER
    c.send_raw(f"OPER {name} {password}\r\nPING :after-oper\r\n".encode())
    before = _until_pong(c, "after-oper")
    assert "381" in [m.command for m in before], [m.raw for m in before]
    modes = [m for m in before if m.command == "MODE" and m.params[0] == nick]
    assert modes and "o" in modes[-1].params[1], [m.raw for m in before]


def test_failed_oper_reply_arrives_before_later_replies(shared_server, irc_client):
    """A wrong OPER password is answered with 464 before the reply to the
    next command, and the user does not become an operator."""
    nick = unique_nick("opbad")
    c = irc_client(shared_server, nick)
    c.send_raw(f"OPER {ADMIN_OPER[0]} wrongpassword\r\nPING :after-bad\r\n".encode())
    before = [m.command for m in _until_pong(c, "after-bad")]
    assert "464" in before and "381" not in before, before
    c.send(f"MODE {nick}")
    assert "o" not in c.expect("221").params[1]


def test_who_right_after_oper_shows_the_operator_flag(shared_server, irc_client):
    """
    OPER immediately followed by WHO on oneself (no waiting in between)
    already shows ``*`` in the RPL_WHOREPLY flags, because WHO runs only
    after the OPER has finished.
    """
    nick = unique_nick("opwho")
    c = irc_client(shared_server, nick)
    name, password, _ = ADMIN_OPER
    c.send_raw(f"OPER {name} {password}\r\nWHO {nick}\r\n".encode())
    reply = c.expect("352")
    assert reply.params[5] == nick and "*" in reply.params[6], reply.raw
    c.expect("315")


# -- HELP (Modern: HELP message) -------------------------------------------------


def test_help_index(shared_server, irc_client):
    """
    HELP with no subject answers RPL_HELPSTART (704), RPL_HELPTXT (705)
    lines and RPL_ENDOFHELP (706), each with our nick and the same subject,
    and the text lists the commands.
    """
    nick = unique_nick("help")
    c = irc_client(shared_server, nick)
    c.send("HELP")
    lines = c.collect("706")
    assert lines[0].command == "704", [m.raw for m in lines]
    assert {m.command for m in lines[1:-1]} == {"705"}, [m.raw for m in lines]
    subject = lines[0].params[1]
    assert all(list(m.params[:2]) == [nick, subject] for m in lines), [m.raw for m in lines]
    text = " ".join(m.params[-1] for m in lines)
    assert "PRIVMSG" in text and "JOIN" in text, text


def test_help_on_one_command_and_helpop(shared_server, irc_client):
    """HELP PRIVMSG and HELPOP privmsg both answer 704 ... 706 with the
    subject PRIVMSG; the first line gives the command's syntax."""
    nick = unique_nick("help")
    c = irc_client(shared_server, nick)
    for line in ("HELP PRIVMSG", "HELPOP privmsg"):
        c.send(line)
        lines = c.collect("706")
        assert lines[0].command == "704", [m.raw for m in lines]
        assert all(m.params[1].upper() == "PRIVMSG" for m in lines), [m.raw for m in lines]
        assert lines[0].params[-1].upper().startswith("PRIVMSG"), lines[0].raw


def test_help_unknown_subject(shared_server, irc_client):
    """HELP on something that is not a command is a single
    ERR_HELPNOTFOUND (524) naming the subject."""
    nick = unique_nick("help")
    c = irc_client(shared_server, nick)
    c.send("HELP THISISNOTACOMMAND")
    c.send("PING :after-help")
    lines = _until_pong(c, "after-help")
    assert [(m.command, m.params[1]) for m in lines] == [("524", "THISISNOTACOMMAND")], \
        [m.raw for m in lines]


# -- JOIN with an invalid channel name --------------------------------------------


def test_join_name_longer_than_channellen_is_403(shared_server, irc_client):
    """
    A channel name of exactly CHANNELLEN characters can be joined; one
    longer is refused with ERR_NOSUCHCHANNEL (403), the reply for an invalid
    channel name, naming the channel as sent.
    """
    nick = unique_nick("clen")
    c = irc_client(shared_server)
    burst = c.register(nick)
    length = int(isupport_tokens(burst)["CHANNELLEN"])
    ok = "#" + "a" * (length - 1)
    c.join(ok)
    too_long = "#" + "b" * length
    c.send(f"JOIN {too_long}")
    reply = c.expect(["403", "476", "JOIN"])
    assert reply.command == "403" and reply.params[1] == too_long, reply.raw


def test_join_name_with_forbidden_character_is_403(shared_server, irc_client):
    """A channel name with a control character (BEL) is not a valid name:
    ERR_NOSUCHCHANNEL (403), and no JOIN."""
    nick = unique_nick("cbad")
    c = irc_client(shared_server, nick)
    c.send("JOIN #bad\x07name")
    reply = c.expect(["403", "476", "JOIN"])
    assert reply.command == "403", reply.raw
    c.assert_silent("JOIN", timeout=0.2)
