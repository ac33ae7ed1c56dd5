"""
Services on a real ``twistd -n conferenceroom`` process: the pseudo-server,
its bots answering over real connections, the aliases, and no trace of
services when they are disabled.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import SERVER_NAME
from tests.integration.ircclient import unique_nick

SERVICES_NAME = "services." + SERVER_NAME.split(".", 1)[1]


@pytest.fixture(scope="module")
def shared_server_config():
    """This module's shared server runs services."""
    return {"services": True}


def _notices(client, bot, last):
    """NOTICEs from ``bot`` up to the one whose text starts with ``last``."""
    lines = client.collect(lambda m: m.command == "NOTICE" and m.nick == bot and m.trailing.startswith(last))
    return [m.trailing for m in lines if m.command == "NOTICE" and m.nick == bot]


def test_msg_nickserv_help(shared_server, irc_client):
    """/msg NickServ HELP over a real connection: NOTICEs from NickServ listing its commands."""
    c = irc_client(shared_server, unique_nick("sh"))
    c.send("PRIVMSG NickServ :HELP")
    lines = _notices(c, "NickServ", "Type /msg NickServ HELP <command>")
    assert lines[0].startswith("NickServ: ")
    assert any(line.split()[0] == "HELP" for line in lines[1:])


def test_unknown_command_and_alias(shared_server, irc_client):
    """An unknown command names itself and points at HELP; /ms HELP reaches MemoServ."""
    c = irc_client(shared_server, unique_nick("su"))
    c.send("PRIVMSG NickServ :BOGUS")
    assert _notices(c, "NickServ", "Unknown command") == [
        "Unknown command BOGUS. Type /msg NickServ HELP for a list of commands."]
    c.send("MS HELP")
    assert _notices(c, "MemoServ", "Type /msg MemoServ HELP")[0].startswith("MemoServ: ")


def test_services_server_in_links_and_whois(shared_server, irc_client):
    """LINKS lists services.<domain>; WHOIS NickServ names it as the bot's server."""
    c = irc_client(shared_server, unique_nick("sl"))
    c.send("LINKS")
    links = [m.params[1] for m in c.collect("365") if m.command == "364"]
    assert SERVICES_NAME in links
    c.send("WHOIS NickServ")
    replies = {m.command: m.params for m in c.collect("318")}
    assert replies["312"][2] == SERVICES_NAME


def test_database_in_datadir(shared_server):
    """The services database is data/services.db beside the config file."""
    assert (shared_server.directory / "data" / "services.db").is_file()


def test_services_disabled_means_no_bots(irc_server, irc_client):
    """With services disable: /msg NickServ is 401, /ns is 440 and LINKS shows only this server."""
    srv = irc_server()
    c = irc_client(srv, unique_nick("sd"))
    c.send("PRIVMSG NickServ :HELP")
    assert c.expect("401").params[1] == "NickServ"
    c.send("NS HELP")
    assert c.expect("440").params[1] == "NickServ"
    c.send("LINKS")
    assert [m.params[1] for m in c.collect("365") if m.command == "364"] == [SERVER_NAME]
    assert not (srv.directory / "data" / "services.db").exists()
