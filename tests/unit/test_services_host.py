"""The services pseudo-server, its bots, the aliases and live control (unit level, task.Clock)."""

from __future__ import annotations

from conferenceroom.link.burst import burst_messages
from tests.helpers import (codes, feed, make_core, make_oper, make_remote_server,
                           make_remote_user, register, sent)
from tests.unit.linkkit import peer_link
from tests.unit.svchelpers import ask, notices_from, services_core


def test_pseudo_server_and_bots_are_introduced(tmp_path):
    """With services enabled the network holds services.<domain> behind us, and NickServ/MemoServ on it."""
    core = services_core(tmp_path)
    network = core.network
    server = network.find_server("services.test.local")
    assert server is not None and server.uplink is network.me and server.hopcount == 1
    nickserv = network.find_user("NickServ")
    assert nickserv is not None and nickserv.server is server and nickserv.uid.startswith(server.sid)
    assert network.find_user("MemoServ").server is server
    assert core.services is core.services_control.host


def test_services_name_uses_the_domain():
    """soprano.webmaster.com runs services.webmaster.com; a two-label name keeps its whole name."""
    from conferenceroom.services.host import services_name

    assert services_name("soprano.webmaster.com") == "services.webmaster.com"
    assert services_name("test.local") == "services.test.local"


def test_no_services_without_attach_or_when_disabled(tmp_path):
    """A core whose settings say services disable has no pseudo-server, no bots and no store file."""
    core = services_core(tmp_path, services_enabled=False)
    assert core.services is None
    assert core.network.find_user("NickServ") is None
    assert len(core.network.servers) == 1
    assert not (tmp_path / "services.db").exists()


def test_help_lists_commands(tmp_path):
    """/msg NickServ HELP answers with NOTICEs from NickServ listing its commands."""
    core = services_core(tmp_path)
    alice = register(core, "alice")
    lines = ask(alice, "NickServ", "HELP")
    assert lines[0].startswith("NickServ: ")
    assert any(line.split()[0] == "HELP" for line in lines[2:-1])
    assert lines[-1] == "Type /msg NickServ HELP <command> for how to use a command."


def test_unknown_command_points_at_help(tmp_path):
    """An unknown command gets a NOTICE naming it and pointing at HELP."""
    core = services_core(tmp_path)
    alice = register(core, "alice")
    assert ask(alice, "NickServ", "frobnicate now") == [
        "Unknown command FROBNICATE. Type /msg NickServ HELP for a list of commands."]


def test_help_for_unknown_command(tmp_path):
    """HELP on a command the bot lacks says so."""
    core = services_core(tmp_path)
    alice = register(core, "alice")
    assert ask(alice, "MemoServ", "HELP nothing")[0].startswith("No help for NOTHING")


def test_whois_shows_the_bot_on_the_services_server(tmp_path):
    """WHOIS NickServ: 311 with the services host and 312 naming the services server."""
    core = services_core(tmp_path)
    alice = register(core, "alice")
    feed(alice, "WHOIS NickServ")
    replies = sent(alice)
    whois = {m.command: m.params for m in replies}
    assert whois["311"][1:4] == ("NickServ", "services", "services.test.local")
    assert whois["312"][2] == "services.test.local"


def test_links_and_map_show_services(tmp_path):
    """LINKS lists the services server one hop behind us; MAP shows it."""
    core = services_core(tmp_path)
    alice = register(core, "alice")
    feed(alice, "LINKS")
    links = [m.params for m in sent(alice) if m.command == "364"]
    assert ("alice", "services.test.local", "test.local", "1 ConferenceRoom services") in links
    feed(alice, "MAP")
    assert any("services.test.local" in m.params[-1] for m in sent(alice) if m.command == "015")


def test_aliases_reach_the_bots(tmp_path):
    """/ns HELP and /ms HELP are PRIVMSGs to NickServ and MemoServ; /ns alone is HELP."""
    core = services_core(tmp_path)
    alice = register(core, "alice")
    feed(alice, "NS help")
    assert notices_from(alice, "NickServ")[0].startswith("NickServ: ")
    feed(alice, "MEMOSERV :HELP")
    assert notices_from(alice, "MemoServ")[0].startswith("MemoServ: ")
    feed(alice, "NS")
    assert notices_from(alice, "NickServ")[0].startswith("NickServ: ")


def test_alias_without_services_is_440(tmp_path):
    """Without services (or to an ordinary user holding the nick) an alias answers 440 and sends nothing."""
    core = make_core()
    alice = register(core, "alice")
    register(core, "NickServ")  # an ordinary user who took the nick
    feed(alice, "NS identify secret")
    assert codes(sent(alice)) == ["440"]


def test_burst_introduces_services_to_a_link(tmp_path):
    """The burst to a new link carries the services SID (uplink: us) and a UID for each bot."""
    core = services_core(tmp_path)
    host = core.services
    lines = list(burst_messages(core.network, peer_link(core, "leaf.test.local", "7LF", linked=False,
                                                         capabilities=frozenset())))
    sid = [m for m in lines if m.command == "SID"]
    assert [(m.source, m.params[0], m.params[2]) for m in sid] == [(core.network.me.sid, host.name, host.server.sid)]
    uids = {m.params[0]: m for m in lines if m.command == "UID"}
    assert uids["NickServ"].source == host.server.sid


def test_remote_user_gets_replies_through_its_route(tmp_path):
    """A PRIVMSG to NickServ from a user behind a link is answered with NOTICEs relayed on that link."""
    core = services_core(tmp_path)
    remote = make_remote_server(core, "leaf.test.local", "7LF")
    bob = make_remote_user(core, remote, "bob")
    nickserv = core.network.find_user("NickServ")
    core.router.deliver(bob, nickserv, "PRIVMSG", ("NickServ", "HELP"), origin=remote.route)
    notices = [r for r in remote.route.relays if r.message.command == "NOTICE"]
    assert notices and all(r.sender is nickserv and r.target is bob for r in notices)


def test_notice_to_a_bot_is_not_answered(tmp_path):
    """A NOTICE (and a CTCP) to a bot gets no reply, so two bots never loop."""
    core = services_core(tmp_path)
    alice = register(core, "alice")
    feed(alice, "NOTICE NickServ :HELP", "PRIVMSG NickServ :\x01VERSION\x01")
    assert notices_from(alice, "NickServ") == []


def test_a_user_holding_a_bot_nick_is_killed_when_services_start(tmp_path):
    """A user already called NickServ when services come up is killed: the nick is reserved."""
    core = services_core(tmp_path, services_enabled=False)
    squatter = register(core, "NickServ")
    core.services_control.enable()
    assert any(m.command == "KILL" or "reserved for services" in " ".join(m.params) for m in sent(squatter))
    assert core.network.find_user("NickServ").server.name == "services.test.local"


def test_disable_removes_and_enable_brings_back(tmp_path):
    """disable() splits the services server (bots QUIT for their peers) and notifies operators; enable() returns them."""
    core = services_core(tmp_path)
    oper = register(core, "oper")
    make_oper(oper, "a")
    feed(oper, "MODE oper +s")
    sent(oper)
    assert core.services_control.disable("test")
    assert core.network.find_server("services.test.local") is None
    assert core.network.find_user("NickServ") is None and core.services is None
    assert any("services.test.local leaves the network" in m.params[-1] for m in sent(oper))
    assert core.services_control.enable()
    assert core.network.find_user("NickServ") is not None


def test_squit_services_by_word_and_by_name(tmp_path):
    """SQUIT services drops the services server for any operator; a second SQUIT says they are already gone."""
    core = services_core(tmp_path)
    oper = register(core, "oper")
    make_oper(oper, "o")
    feed(oper, "SQUIT services :not needed")
    texts = [m.params[-1] for m in sent(oper) if m.command == "NOTICE"]
    assert any("dropped services.test.local" in t and "AS SERVICES ENABLE" in t for t in texts)
    assert core.network.find_server("services.test.local") is None
    feed(oper, "SQUIT services")
    texts = [m.params[-1] for m in sent(oper) if m.command == "NOTICE"]
    assert any("already dropped by SQUIT" in t for t in texts)
    core.services_control.settings_changed(core.settings, force=True)  # AS SERVICES ENABLE / REHASH
    feed(oper, "SQUIT services.test.local")
    assert core.network.find_server("services.test.local") is None


def test_services_server_name_setting(tmp_path):
    """services set name My.Little.Services: LINKS lists the pseudo-server under that name, and SQUIT takes it."""
    core = services_core(tmp_path, services_server_name="My.Little.Services")
    assert core.network.find_user("NickServ").server.name == "My.Little.Services"
    oper = register(core, "oper")
    feed(oper, "LINKS")
    links = [m.params[1] for m in sent(oper) if m.command == "364"]
    assert "My.Little.Services" in links and "services.test.local" not in links
    make_oper(oper, "o")
    feed(oper, "SQUIT My.Little.Services")
    assert core.network.find_server("My.Little.Services") is None


def test_squit_services_stay_down_through_unrelated_settings_changes(tmp_path):
    """After SQUIT services, an AS change elsewhere (a link's ping) leaves them down; AS SERVICES ENABLE returns them."""
    core = services_core(tmp_path)
    oper = register(core, "oper")
    make_oper(oper, "o")
    feed(oper, "SQUIT services :not needed")
    from dataclasses import replace

    assert core.services_control.settings_changed(replace(core.settings, motd_file="other.txt")) == []
    assert core.network.find_server("services.test.local") is None and core.services is None
    lines = core.services_control.settings_changed(core.settings, force=True)
    assert lines == ["Services server services.test.local introduced with NickServ, ChanServ, MemoServ, OperServ"]
    assert core.network.find_user("NickServ") is not None


def test_squit_services_when_disabled_says_so(tmp_path):
    """On a server with services disabled, SQUIT services says nothing is running here (the manual's tenor)."""
    core = services_core(tmp_path, services_enabled=False)
    oper = register(core, "oper")
    make_oper(oper, "o")
    feed(oper, "SQUIT services :no longer need these services")
    texts = [m.params[-1] for m in sent(oper) if m.command == "NOTICE"]
    assert texts == ["*** SQUIT services: services are not running here (AS SERVICES DISABLE is in force); "
                     "nothing to drop"]


def test_squit_services_needs_an_operator(tmp_path):
    """SQUIT services from a user who is not an operator is 481 and services stay."""
    core = services_core(tmp_path)
    alice = register(core, "alice")
    feed(alice, "SQUIT services")
    assert codes(sent(alice)) == ["481"]
    assert core.services is not None


def test_password_cost_applies_live(tmp_path):
    """AS SERVICES SET PASSWORDCOST applies to the next registration without a restart."""
    from dataclasses import replace

    core = services_core(tmp_path)
    core.services_control.settings_changed(replace(core.settings, services_password_cost=5))
    alice = register(core, "alice")
    ask(alice, "NickServ", "REGISTER s3cret!")
    assert core.services.accounts.get("alice").password.startswith("$2b$05$")


def test_a_killed_bot_comes_back(tmp_path):
    """An operator's KILL of NickServ removes it; it is introduced again at once and still answers."""
    core = services_core(tmp_path)
    oper = register(core, "oper")
    make_oper(oper, "o")
    old = core.network.find_user("NickServ")
    feed(oper, "KILL NickServ :testing")
    core.clock.advance(0)
    again = core.network.find_user("NickServ")
    assert again is not None and again is not old and again.uid != old.uid
    assert ask(oper, "NickServ", "HELP")[0].startswith("NickServ: ")
