"""OperServ: AKILL ADD/DEL/LIST (network-wide, expiring, stored), GLOBAL, STATS, HELP and who may use it."""

from __future__ import annotations

import pytest

from tests.helpers import make_oper, make_remote_server, make_remote_user, register, sent
from tests.unit.svchelpers import ask, restart_services, services_core


@pytest.fixture
def core(tmp_path):
    """A core running services."""
    return services_core(tmp_path)


def admin(core, nick="boss", flags="s"):  # type: ignore[no-untyped-def]
    conn = register(core, nick)
    make_oper(conn, flags)
    return conn


def test_only_services_admins(core):
    """A plain user and an operator without s or a are refused (HELP excepted); flag a works."""
    user = register(core, "joe")
    assert ask(user, "OperServ", "STATS") == [
        "Permission denied: OperServ is for services administrators (IRC operators with flag s or a)."]
    oper = admin(core, "oper", flags="o")
    assert ask(oper, "OperServ", "AKILL LIST")[0].startswith("Permission denied")
    assert ask(user, "OperServ", "HELP")[0].startswith("OperServ: ")
    boss = admin(core, "boss", flags="a")
    assert ask(boss, "OperServ", "AKILL LIST") == ["No AKILLs."]


def test_remote_operator_with_mode_a_is_a_services_admin(core):
    """An operator on another server is recognised by user mode a (flag s) or A (flag a)."""
    from conferenceroom.services.operserv import is_services_admin

    server = make_remote_server(core)
    rem = make_remote_user(core, server, "rem")
    rem.set_modes(rem.modes | {"o", "a"})
    assert is_services_admin(rem)
    rem.modes -= {"a"}
    assert not is_services_admin(rem)


def test_akill_add_kills_matching_users_list_and_del(core):
    """AKILL ADD kills every matching user (local and remote) and says how many; LIST shows it; DEL removes it."""
    boss = admin(core)
    victim = register(core, "spammer", ip="10.9.9.9")
    server = make_remote_server(core)
    remote = make_remote_user(core, server, "farspam")
    remote.ip = "10.9.9.8"
    lines = ask(boss, "OperServ", "AKILL ADD *@10.9.9.* spam bots")
    assert lines == ["AKILL added: *@10.9.9.* (spam bots) [permanent]; 2 users disconnected."]
    assert core.network.find_user("spammer") is None and core.network.find_user("farspam") is None
    assert any("AKILLed: spam bots" in line for line in [m.params[-1] for m in sent(victim)])
    listing = ask(boss, "OperServ", "AKILL LIST")
    assert listing[0] == "AKILLs (1):" and listing[1].startswith("1. *@10.9.9.* - spam bots [set by admin;")
    assert ask(boss, "OperServ", "AKILL DEL *@10.9.9.*") == ["AKILL for *@10.9.9.* removed."]
    assert ask(boss, "OperServ", "AKILL LIST") == ["No AKILLs."]
    assert ask(boss, "OperServ", "AKILL DEL *@10.9.9.*") == ["No AKILL for *@10.9.9.*. See AKILL LIST."]


def test_akill_kills_users_arriving_later_on_any_server(core):
    """A user matching an AKILL who connects later, here or on another server, is killed as it arrives."""
    boss = admin(core)
    ask(boss, "OperServ", "AKILL ADD ~bad@* +1h no bad users")
    late = register_or_none(core, "bad")
    assert late is None
    server = make_remote_server(core)
    from conferenceroom.network import User

    user = User("9RMBADBAD", "badfar", "~bad", "far.host", "Bad", server, server.route, ip="10.1.1.1",
                signon=core.clock.seconds())
    core.network.add_user(user, origin=server.route)
    assert core.network.find_user("badfar") is None


def register_or_none(core, nick):  # type: ignore[no-untyped-def]
    """Register ``nick`` with ident ``nick``; its user if it survived registration, else None."""
    from tests.helpers import connect, feed

    conn = connect(core)
    feed(conn, f"NICK {nick}", f"USER {nick} 0 * :x")
    return core.network.find_user(nick)


def test_akill_expires_and_survives_a_restart(core):
    """An AKILL with +duration is listed with its expiry, kept across a services restart, and dropped once expired."""
    boss = admin(core)
    assert ask(boss, "OperServ", "AKILL ADD *@evil.example +2h flooding")[0] == (
        "AKILL added: *@evil.example (flooding) [expires in 2h]; 0 users disconnected.")
    restart_services(core)
    core.clock.advance(0)
    assert ask(boss, "OperServ", "AKILL LIST")[1].endswith("expires in 2h]")
    core.clock.advance(2 * 3600 + 61)
    assert ask(boss, "OperServ", "AKILL LIST") == ["No AKILLs."]
    restart_services(core)
    core.clock.advance(0)
    assert core.services.operserv.akills == {}


@pytest.mark.parametrize("args, error", [
    ("AKILL ADD nobody spam", "Bad mask: must be user@host like *@bad.example or carol@* "
                              "(a K-line or AKILL matches user names and hosts)."),
    ("AKILL ADD *@* everyone", "Bad mask: would ban everyone."),
    ("AKILL ADD *@x.example +soon spam", "Bad duration: not a duration like 30m, 2h, 1d, 1w or a number of minutes."),
    ("AKILL ADD *@x.example +1h", "Syntax: AKILL ADD <user@host> [+<duration>] <reason> (a reason is needed)."),
    ("AKILL ADD *@x.example", "Syntax: AKILL ADD <user@host> [+<duration>] <reason>"),
    ("AKILL FROB", "Unknown AKILL option FROB; one of: ADD, DEL, LIST. Type /msg OperServ HELP AKILL."),
])
def test_akill_errors(core, args, error):
    """Bad masks, durations, missing reasons and options get a clear sentence; nothing is added."""
    boss = admin(core)
    assert ask(boss, "OperServ", args)[0] == error
    assert core.services.operserv.akills == {}


def test_global_reaches_every_user(core):
    """GLOBAL sends a NOTICE from OperServ to every user (remote ones through their server's route)."""
    boss = admin(core)
    joe = register(core, "joe")
    server = make_remote_server(core)
    make_remote_user(core, server, "far")
    assert ask(boss, "OperServ", "GLOBAL maintenance at noon") == [  # the sender is a user too
        "[Global] maintenance at noon", "Global notice sent to 3 users."]
    [notice] = [m for m in sent(joe) if m.command == "NOTICE"]
    assert notice.source.startswith("OperServ!") and notice.params == ("$$*", "[Global] maintenance at noon")
    assert ask(boss, "OperServ", "GLOBAL " + "x" * 401) == ["That notice is too long: at most 400 characters."]


def test_stats(core):
    """STATS shows accounts, registered channels, users (and logged in), servers, AKILLs and uptimes."""
    boss = admin(core)
    ask(boss, "NickServ", "REGISTER s3cret!")
    core.clock.advance(90)
    lines = ask(boss, "OperServ", "STATS")
    assert lines[0] == "Services statistics:"
    assert lines[1].split() == ["Accounts:", "1"]
    assert lines[2].startswith("  Registered channels:")
    assert lines[3].split()[:6] == ["Users", "online:", "1", "(1", "logged", "in)"]
    assert lines[4].split() == ["AKILLs:", "0"]
    assert lines[5].split() == ["Services", "uptime:", "1m"]


def test_help_for_every_command(core):
    """HELP lists AKILL, GLOBAL and STATS; HELP of each (and of each AKILL option) gives its syntax."""
    boss = admin(core)
    listing = ask(boss, "OperServ", "HELP")
    assert {line.split()[0] for line in listing[2:-1]} >= {"AKILL", "GLOBAL", "STATS", "HELP"}
    for topic, syntax in (("AKILL ADD", "AKILL ADD <user@host> [+<duration>] <reason>"),
                          ("AKILL DEL", "AKILL DEL <user@host>"), ("AKILL LIST", "AKILL LIST [<mask>]"),
                          ("GLOBAL", "GLOBAL <text>"), ("STATS", "STATS")):
        assert f"Syntax: {syntax}" in ask(boss, "OperServ", f"HELP {topic}")
