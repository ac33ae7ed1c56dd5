"""
Every NickServ and MemoServ command over real connections to a real
process, with its success and its errors (one shared server running
services, enforce delay 5 s, bcrypt cost 4).
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import ADMIN_OPER
from tests.integration.ircclient import unique_nick

FP = "ab" * 32


@pytest.fixture(scope="module")
def shared_server_config():
    """Services on, nick enforcement after 5 s."""
    return {"services": True, "extra": ["services set enforcedelay 5"]}


def say(client, bot, text, last):
    """PRIVMSG ``bot`` with ``text``; the bot's NOTICE texts up to one starting with ``last``."""
    client.send(f"PRIVMSG {bot} :{text}")
    seen = client.collect(lambda m: m.command == "NOTICE" and m.nick == bot and m.trailing.startswith(last),
                          timeout=15.0)
    return [m.trailing for m in seen if m.command == "NOTICE" and m.nick == bot]


def registered(server, irc_client, prefix="n", password="goodpass1"):
    """A client that registered (and is identified to) its own nick."""
    c = irc_client(server, unique_nick(prefix))
    say(c, "NickServ", f"REGISTER {password}", "You are now identified")
    return c


def test_register_identify_logout(shared_server, irc_client):
    """REGISTER, its refusals, IDENTIFY right and wrong, LOGOUT twice."""
    c = irc_client(shared_server, unique_nick("ri"))
    assert say(c, "NickServ", "REGISTER abc", "That password") == [
        "That password is too short: use at least 5 characters."]
    assert say(c, "NickServ", "REGISTER goodpass1 bad@", "bad@")[-1] == "bad@ is not a valid email address."
    lines = say(c, "NickServ", "REGISTER goodpass1 me@example.org", "You are now identified")
    assert lines[-2] == f"{c.nick} is now registered to you. Keep your password safe: you need it to IDENTIFY."
    assert say(c, "NickServ", "REGISTER goodpass1", "You are already")[-1].startswith(
        f"You are already identified as {c.nick}")
    assert say(c, "NickServ", "LOGOUT", "You are now logged out")[-1] == f"You are now logged out of {c.nick}."
    assert say(c, "NickServ", "LOGOUT", "You are not")[-1] == "You are not identified."
    assert say(c, "NickServ", "IDENTIFY wrongpass", "Invalid")[-1] == f"Invalid password for {c.nick}."
    assert say(c, "NickServ", "IDENTIFY goodpass1", "You are now")[-1] == f"You are now identified for {c.nick}."
    other = irc_client(shared_server, unique_nick("ro"))
    assert say(other, "NickServ", "IDENTIFY nosuchnick1 pw123", "nosuch")[-1] == \
        "nosuchnick1 is not a registered nickname."


def test_info_set_access_cert(shared_server, irc_client):
    """INFO, SET PASSWORD/EMAIL/ENFORCE, ACCESS ADD/LIST/DEL, CERT ADD/LIST/DEL and their errors."""
    c = registered(shared_server, irc_client, "is")
    info = say(c, "NickServ", "INFO", "Email:")
    assert info[0].startswith(f"{c.nick} is registered since ") and info[-1] == "Email: none."
    assert say(c, "NickServ", "SET PASSWORD newpass22", "Your password")[-1] == "Your password is changed."
    assert say(c, "NickServ", "SET EMAIL x@example.org", "Your email")[-1] == \
        "Your email address is now x@example.org."
    assert say(c, "NickServ", "SET ENFORCE off", "Nick protection")[-1] == \
        f"Nick protection for {c.nick} is now off."
    assert say(c, "NickServ", "SET WHATEVER 1", "Unknown SET option")[-1].startswith("Unknown SET option WHATEVER")
    assert say(c, "NickServ", "ACCESS ADD *@127.0.0.1", "*@127")[-1] == "*@127.0.0.1 added to your access list."
    assert say(c, "NickServ", "ACCESS LIST", "End of the access list")[-2] == "  1. *@127.0.0.1"
    assert say(c, "NickServ", "ACCESS DEL *@127.0.0.1", "*@127")[-1] == \
        "*@127.0.0.1 removed from your access list."
    assert say(c, "NickServ", "ACCESS DEL *@127.0.0.1", "*@127")[-1] == "*@127.0.0.1 is not on your access list"
    assert say(c, "NickServ", "CERT ADD", "Your connection")[-1].startswith(
        "Your connection has no TLS client certificate")
    assert say(c, "NickServ", f"CERT ADD {FP}", FP)[-1] == f"{FP} added to your certificate list."
    assert say(c, "NickServ", "CERT LIST", "End of the certificate list")[-2] == f"  {FP}"
    assert say(c, "NickServ", f"CERT DEL {FP}", FP)[-1] == f"{FP} removed from your certificate list."
    stranger = irc_client(shared_server, unique_nick("st"))
    assert say(stranger, "NickServ", f"INFO {c.nick}", "Nick protection")[-1] == "Nick protection: off."
    assert say(stranger, "NickServ", "SET EMAIL a@b.example", "You are not")[-1].startswith(
        "You are not identified")


def test_ghost_recover_release_and_enforcement(shared_server, irc_client):
    """An impostor is warned and renamed to Guest after 5 s; the nick is held; RELEASE frees it; RECOVER
    renames a holder and gives the nick back; GHOST disconnects one."""
    owner = registered(shared_server, irc_client, "gh")
    nick = owner.nick
    say(owner, "NickServ", "LOGOUT", "You are now logged out")
    owner.send(f"NICK {unique_nick('go')}")
    owner.expect("NICK")
    impostor = irc_client(shared_server, unique_nick("im"))
    impostor.send(f"NICK {nick}")
    warning = impostor.expect(lambda m: m.command == "NOTICE" and m.nick == "NickServ", timeout=10.0)
    assert "within 5 seconds" in warning.trailing
    renamed = impostor.expect(lambda m: m.command == "NICK" and m.params[0].startswith("Guest"), timeout=15.0)
    assert renamed.params[0].startswith("Guest")
    assert say(owner, "NickServ", f"RELEASE {nick} wrongpw1", "Invalid")[-1] == f"Invalid password for {nick}."
    assert say(owner, "NickServ", f"RELEASE {nick} goodpass1", nick)[-1] == \
        f"{nick} is released: you may use it now."
    impostor.send(f"NICK {nick}")
    impostor.expect(lambda m: m.command == "NICK" and m.params[0] == nick)
    owner.send(f"PRIVMSG NickServ :RECOVER {nick} goodpass1")
    got = owner.collect(lambda m: m.command == "NOTICE" and m.trailing == f"You have recovered {nick}.",
                        timeout=15.0)
    assert any(m.command == "NICK" and m.params[0] == nick for m in got)
    impostor.expect(lambda m: m.command == "NICK" and m.params[0].startswith("Guest"), timeout=10.0)
    third = irc_client(shared_server, unique_nick("th"))
    say(owner, "NickServ", "SET ENFORCE OFF", "Nick protection")
    owner.send(f"NICK {unique_nick('ow')}")
    owner.expect("NICK")
    third.send(f"NICK {nick}")
    third.expect(lambda m: m.command == "NICK" and m.params[0] == nick)
    assert say(owner, "NickServ", f"GHOST {nick}", nick)[-1] == f"{nick} has been disconnected; the nick is free."
    third.wait_closed(timeout=10.0)
    assert say(owner, "NickServ", f"GHOST {nick}", nick)[-1] == f"{nick} is not online."


def test_drop(shared_server, irc_client):
    """DROP with a wrong password keeps the account; with the right one it is gone; an oper drops any."""
    c = registered(shared_server, irc_client, "dr")
    assert say(c, "NickServ", "DROP nopenope", "Invalid")[-1].endswith("the account was not dropped.")
    assert say(c, "NickServ", "DROP goodpass1", c.nick)[-1] == \
        f"{c.nick} has been dropped: the account and its data are deleted."
    assert say(c, "NickServ", "INFO", c.nick)[-1] == f"{c.nick} is not a registered nickname."
    victim = registered(shared_server, irc_client, "dv")
    oper = irc_client(shared_server, unique_nick("op"))
    oper.oper(*ADMIN_OPER[:2])
    stranger = irc_client(shared_server, unique_nick("ds"))
    assert say(stranger, "NickServ", f"DROP {victim.nick}", "You are not")[-1].startswith("You are not identified")
    # the admin operator has flag a: it may drop any account by name
    assert say(oper, "NickServ", f"DROP {victim.nick}", victim.nick)[-1] == \
        f"{victim.nick} has been dropped: the account and its data are deleted."


def test_memoserv(shared_server, irc_client):
    """SEND, LIST, READ, DEL and their errors; the recipient is told at once."""
    a = registered(shared_server, irc_client, "ma")
    b = registered(shared_server, irc_client, "mb")
    assert say(a, "MemoServ", f"SEND {b.nick} lunch at noon?", "Memo sent")[-1] == f"Memo sent to {b.nick}."
    told = b.expect(lambda m: m.command == "NOTICE" and m.nick == "MemoServ", timeout=10.0)
    assert told.trailing == f"You have a new memo (1) from {a.nick}. Type /msg MemoServ READ 1 to read it."
    assert say(b, "MemoServ", "LIST", "Type /msg MemoServ READ")[0] == "You have 1 memo (1 unread):"
    assert say(b, "MemoServ", "READ 1", "lunch")[-1] == "lunch at noon?"
    assert say(b, "MemoServ", "READ NEW", "You have no new")[-1] == "You have no new memos."
    assert say(b, "MemoServ", "READ 7", "You have no memo")[-1] == "You have no memo 7."
    assert say(b, "MemoServ", "DEL 1", "Memo 1 deleted")[-1].startswith("Memo 1 deleted")
    assert say(b, "MemoServ", "DEL ALL", "Deleted")[-1] == "Deleted 0 memos."
    assert say(a, "MemoServ", "SEND nobodyhere1 hi", "nobodyhere1")[-1] == "nobodyhere1 is not a registered nickname."
    anon = irc_client(shared_server, unique_nick("an"))
    assert say(anon, "MemoServ", f"SEND {b.nick} hi", "You are not")[-1].startswith("You are not identified")
    assert say(anon, "MemoServ", "FOO", "Unknown")[-1] == \
        "Unknown command FOO. Type /msg MemoServ HELP for a list of commands."


def test_help_for_every_command(shared_server, irc_client):
    """HELP <command> answers for every NickServ and MemoServ command."""
    c = irc_client(shared_server, unique_nick("hp"))
    for bot, commands in (("NickServ", ["REGISTER", "IDENTIFY", "LOGOUT", "GHOST", "RECOVER", "RELEASE", "DROP",
                                        "INFO", "SET", "ACCESS", "CERT"]),
                          ("MemoServ", ["SEND", "LIST", "READ", "DEL"])):
        for name in commands:
            lines = say(c, bot, f"HELP {name}", "Syntax:")
            assert lines[-2].startswith(f"Help for {name}: "), lines
