"""
Accounts over real connections to a real server running services: a NickServ
login seen by the user (900, then +r when its nick is the account's), its channel peers (ACCOUNT, the account
tag, extended-join) and WHOIS (330); IRCv3 SASL PLAIN before and after
registration with every error numeric; and a real irssi logging in with SASL.
"""

from __future__ import annotations

import base64

import pytest

from tests.integration.ircclient import IRCClient, unique_nick
from tests.integration.test_irssi import IRSSI_NICK, _irssi_home, irssi_binary, tmux  # noqa: F401 (fixtures)

PASSWORD = "sesame42"
CAPS = ["account-notify", "account-tag", "extended-join"]


@pytest.fixture(scope="module")
def shared_server_config():
    """This module's shared server runs services."""
    return {"services": True}


def registered_account(server, irc_client) -> str:
    """A NickServ account (its nick; password PASSWORD) whose client has quit."""
    nick = unique_nick("acct")
    owner = irc_client(server, nick)
    owner.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
    owner.expect(lambda m: m.command == "NOTICE" and m.nick == "NickServ"
                 and m.trailing.startswith("You are now identified"), timeout=15.0)
    owner.quit()
    return nick


def b64(*parts: str) -> str:
    return base64.b64encode("\x00".join(parts).encode()).decode()


def sasl_client(server, nick: str) -> IRCClient:
    """A connection that asked CAP LS 302, took sasl and sent NICK/USER (not registered yet)."""
    c = IRCClient.connect(server.host, server.port, name=nick)
    c.send("CAP LS 302")
    offered = " ".join(m.trailing for m in c.collect(lambda m: m.command == "CAP" and m.params[2] != "*"))
    assert "sasl=PLAIN,EXTERNAL" in offered.split(), offered
    c.send("CAP REQ :sasl")
    c.expect(lambda m: m.command == "CAP" and m.params[1] == "ACK")
    c.send(f"NICK {nick}")
    c.send(f"USER {nick} 0 * :SASL user")
    return c


def test_nickserv_login_seen_by_user_peers_and_whois(shared_server, irc_client):
    """REGISTER logs bob in: he sees 900 then MODE +r; a peer with account-notify sees ACCOUNT, his
    messages carry account=<bob>, his JOIN shows the account (extended-join), WHOIS has 330; LOGOUT
    gives 901, -r and ACCOUNT *."""
    channel = "#" + unique_nick("acc")
    watcher = irc_client(shared_server, unique_nick("w"), caps=CAPS)
    watcher.join(channel)
    bob_nick = unique_nick("bob")
    bob = irc_client(shared_server, bob_nick)
    bob.join(channel)
    watcher.expect(lambda m: m.command == "JOIN" and m.nick == bob_nick)
    bob.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
    logged = bob.expect("900", timeout=15.0)
    assert logged.params[1].startswith(f"{bob_nick}!") and logged.params[2] == bob_nick
    mode = bob.expect(lambda m: m.command == "MODE" and m.params[0] == bob_nick)
    assert mode.params[1] == "+r"
    account = watcher.expect(lambda m: m.command == "ACCOUNT" and m.nick == bob_nick, timeout=10.0)
    assert account.params == [bob_nick]
    bob.send(f"PRIVMSG {channel} :tagged")
    said = watcher.expect(lambda m: m.command == "PRIVMSG" and m.nick == bob_nick)
    assert said.tags.get("account") == bob_nick
    bob.send(f"PART {channel}")
    bob.send(f"JOIN {channel}")
    joined = watcher.expect(lambda m: m.command == "JOIN" and m.nick == bob_nick)
    assert joined.params == [channel, bob_nick, "Test user " + bob_nick]
    watcher.send(f"WHOIS {bob_nick}")
    whois = {m.command: m.params for m in watcher.collect("318")}
    assert whois["330"][1:] == [bob_nick, bob_nick, "is logged in as"]
    bob.send("MODE " + bob_nick + " -r")
    bob.send("PRIVMSG NickServ :LOGOUT")
    assert bob.expect("901", timeout=15.0).params[0] == bob_nick
    assert bob.expect(lambda m: m.command == "MODE" and m.params[0] == bob_nick).params[1] == "-r"
    assert watcher.expect(lambda m: m.command == "ACCOUNT" and m.nick == bob_nick).params == ["*"]


def test_sasl_plain_before_registration(shared_server, irc_client):
    """AUTHENTICATE PLAIN, then the response: AUTHENTICATE +, 900 with the account, 903; after CAP END
    under the account's nick the user is registered with +r and WHOIS from another client shows 330."""
    account = registered_account(shared_server, irc_client)
    c = sasl_client(shared_server, account)
    c.send("AUTHENTICATE PLAIN")
    assert c.expect("AUTHENTICATE").params == ["+"]
    c.send("AUTHENTICATE " + b64(account, account, PASSWORD))
    logged = c.expect("900", timeout=15.0)
    assert logged.params[2] == account
    assert c.expect("903").params[0] == account
    c.send("CAP END")
    c.expect("001")
    c.expect(lambda m: m.command == "MODE" and m.params[-1] == "+r", timeout=10.0)
    other = irc_client(shared_server, unique_nick("o"))
    other.send(f"WHOIS {account}")
    assert {m.command: m.params for m in other.collect("318")}["330"][2] == account
    c.close()


def test_identified_for_this_nick_follows_nick_changes(shared_server, irc_client):
    """Logged in by SASL under another nick: 900, 903, no +r (MODE shows none) but WHOIS 330; NICK to the
    account gives MODE +r, NICK away MODE -r (330 kept), and back +r again."""
    account = registered_account(shared_server, irc_client)
    nick = unique_nick("sa")
    c = sasl_client(shared_server, nick)
    c.send("AUTHENTICATE PLAIN")
    c.expect("AUTHENTICATE")
    c.send("AUTHENTICATE " + b64("", account, PASSWORD))
    c.expect("903", timeout=15.0)
    c.send("CAP END")
    c.expect("001")
    c.send(f"MODE {nick}")
    assert "r" not in c.expect("221").params[1]
    c.send(f"WHOIS {nick}")
    assert {m.command: m.params for m in c.collect("318")}["330"][2] == account
    c.send(f"NICK {account}")
    c.expect(lambda m: m.command == "NICK" and m.params == [account])
    assert c.expect("MODE").params == [account, "+r"]
    away = unique_nick("aw")
    c.send(f"NICK {away}")
    c.expect(lambda m: m.command == "NICK" and m.params == [away])
    assert c.expect("MODE").params == [away, "-r"]
    c.send(f"WHOIS {away}")
    assert {m.command: m.params for m in c.collect("318")}["330"][2] == account
    c.send(f"NICK {account.upper()}")
    assert c.expect("MODE").params == [account.upper(), "+r"]
    c.close()


def test_sasl_errors(shared_server, irc_client):
    """Wrong password 904; unknown mechanism 908 then 904; '*' 906; a 401-byte line 905; after a
    successful login (registered, by SASL) another AUTHENTICATE is 907."""
    account = registered_account(shared_server, irc_client)
    nick = unique_nick("se")
    c = sasl_client(shared_server, nick)
    c.send("AUTHENTICATE PLAIN")
    c.expect("AUTHENTICATE")
    c.send("AUTHENTICATE " + b64("", account, "wrong-password"))
    assert c.expect("904", timeout=15.0).params == [nick, "SASL authentication failed"]
    c.send("AUTHENTICATE SCRAM-SHA-256")
    assert c.expect("908").params[1] == "PLAIN,EXTERNAL"
    c.expect("904")
    c.send("AUTHENTICATE PLAIN")
    c.expect("AUTHENTICATE")
    c.send("AUTHENTICATE *")
    c.expect("906")
    c.send("AUTHENTICATE PLAIN")
    c.expect("AUTHENTICATE")
    c.send("AUTHENTICATE " + "A" * 401)
    c.expect("905")
    c.send("CAP END")
    c.expect("001")
    c.send("AUTHENTICATE PLAIN")
    c.expect("AUTHENTICATE")
    c.send("AUTHENTICATE " + b64("", account, PASSWORD))
    c.expect("900", timeout=15.0)
    c.expect("903")
    c.send("AUTHENTICATE PLAIN")
    assert c.expect("907").params == [nick, "You have already authenticated using SASL"]
    c.close()


def test_irssi_logs_in_with_sasl_plain(shared_server, irc_client, irssi_binary, tmux, tmp_path):
    """A real irssi with sasl_mechanism PLAIN in its chatnet logs in while connecting: its screen says
    SASL succeeded and WHOIS from a raw client shows it logged in (330)."""
    account = registered_account(shared_server, irc_client)
    home = _irssi_home(tmp_path / "irssi-home", shared_server.port)
    config = (home / "config").read_text()
    config = config.replace('    realname = "Irssi Interop";\n',
                            '    realname = "Irssi Interop";\n    sasl_mechanism = "PLAIN";\n'
                            f'    sasl_username = "{account}";\n    sasl_password = "{PASSWORD}";\n', 1)
    (home / "config").write_text(config)
    tmux.start([irssi_binary, f"--home={home}", "-c", "TestNet"],
               env={"TERM": "screen", "LANG": "C.UTF-8", "HOME": str(home)})
    tmux.wait_for_screen("Welcome", timeout=30)
    screen = tmux.screen()
    assert "SASL authentication succeeded" in screen, screen
    watcher = irc_client(shared_server, unique_nick("iw"))
    watcher.send(f"WHOIS {IRSSI_NICK}")
    whois = {m.command: m.params for m in watcher.collect("318")}
    assert whois["330"][1:3] == [IRSSI_NICK, account]
