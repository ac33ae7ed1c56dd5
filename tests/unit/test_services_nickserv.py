"""NickServ commands and nick enforcement (unit level: task.Clock, synchronous store and bcrypt at cost 4)."""

from __future__ import annotations

import pytest

from conferenceroom.events import AccountChanged
from tests.helpers import feed, make_oper, make_remote_server, make_remote_user, register, sent
from tests.unit.svchelpers import ask, notices_from, restart_services, services_core

FP = "a" * 64


@pytest.fixture
def core(tmp_path):
    """A core running services."""
    return services_core(tmp_path)


def _registered(core, nick="alice", password="s3cret!"):
    conn = register(core, nick)
    assert ask(conn, "NickServ", f"REGISTER {password}")[-1] == f"You are now identified for {nick}."
    return conn


# -- REGISTER ---------------------------------------------------------------------------


def test_register_logs_in(core):
    """REGISTER registers the current nick and logs the user in (network account set)."""
    alice = register(core, "alice")
    lines = ask(alice, "NickServ", "REGISTER s3cret! alice@example.org")
    assert lines == ["alice is now registered to you. Keep your password safe: you need it to IDENTIFY.",
                     "You are now identified for alice."]
    assert alice.user.account == "alice"
    assert core.services.accounts.get("ALICE").email == "alice@example.org"


@pytest.mark.parametrize("args, error", [
    ("abc", "That password is too short: use at least 5 characters."),
    ("ALICE", "Your password must not be your nick."),
    ("x" * 401, "That password is too long: at most 400 bytes."),
    ("s3cret! not-an-email", "not-an-email is not a valid email address."),
])
def test_register_refusals(core, args, error):
    """Bad passwords and email addresses are refused with a sentence; nothing is registered."""
    alice = register(core, "alice")
    assert ask(alice, "NickServ", f"REGISTER {args}") == [error]
    assert core.services.accounts.get("alice") is None


def test_long_non_ascii_password_registers_and_identifies(core):
    """A 200-byte password (100 x 'é', past bcrypt's 72) registers and logs in; its first 72 bytes alone do not."""
    password = "é" * 100
    alice = _registered(core, password=password)
    assert ask(alice, "NickServ", "LOGOUT")[0] == "You are now logged out of alice."
    assert ask(alice, "NickServ", "IDENTIFY " + "é" * 36) == ["Invalid password for alice."]
    assert ask(alice, "NickServ", "IDENTIFY " + "é" * 99 + "e") == ["Invalid password for alice."]
    assert ask(alice, "NickServ", "IDENTIFY " + password) == ["You are now identified for alice."]


def test_min_password_setting(tmp_path):
    """With services set minpassword 1 a 3-character password registers; SET PASSWORD follows the same minimum."""
    core = services_core(tmp_path, services_min_password=1)
    foo = register(core, "foo")
    assert ask(foo, "NickServ", "REGISTER bar")[-1] == "You are now identified for foo."
    assert ask(foo, "NickServ", "SET PASSWORD b") == ["Your password is changed."]
    (tmp_path / "strict").mkdir()
    strict = services_core(tmp_path / "strict", services_min_password=8)
    bob = register(strict, "bob")
    assert ask(bob, "NickServ", "REGISTER s3cret!") == ["That password is too short: use at least 8 characters."]


def test_register_twice_and_guest_and_syntax(core):
    """A registered nick, a Guest nick and a missing password are refused."""
    _registered(core)
    other = register(core, "Guest12345")
    assert ask(other, "NickServ", "REGISTER s3cret!") == ["Guest nicks cannot be registered: change your nick first."]
    assert ask(other, "NickServ", "REGISTER") == ["Syntax: REGISTER <password> [<email>]",
                                                  "Type /msg NickServ HELP REGISTER for more."]
    alice = core.network.find_user("alice").route
    assert ask(alice, "NickServ", "REGISTER again123").__contains__(
        "You are already identified as alice; LOGOUT before registering another nick.")


def test_registration_survives_a_restart_of_services(core):
    """An acknowledged registration is in the store: a new services host reads it back."""
    _registered(core)
    restart_services(core)
    bob = register(core, "bob")
    assert ask(bob, "NickServ", "IDENTIFY alice s3cret!") == ["You are now identified for alice."]


# -- IDENTIFY / LOGOUT ------------------------------------------------------------------


def test_identify_and_errors(core):
    """IDENTIFY with the right password logs in; wrong, unknown and repeated attempts get sentences."""
    alice = _registered(core)
    lines = ask(alice, "NickServ", "LOGOUT")
    assert lines[0] == "You are now logged out of alice." and "within 60 seconds" in lines[1]
    assert alice.user.account is None
    assert ask(alice, "NickServ", "IDENTIFY wrongpass") == ["Invalid password for alice."]
    assert ask(alice, "NickServ", "IDENTIFY nobody pass1") == ["nobody is not a registered nickname."]
    assert ask(alice, "NickServ", "IDENTIFY s3cret!") == ["You are now identified for alice."]
    assert ask(alice, "NickServ", "IDENTIFY s3cret!") == ["You are already identified as alice."]
    assert ask(alice, "NickServ", "LOGOUT")[0] == "You are now logged out of alice."
    assert ask(alice, "NickServ", "LOGOUT") == ["You are not identified."]


def test_identify_emits_account_changed_with_services_route(core):
    """IDENTIFY calls network.set_account with the services route as origin."""
    _registered(core).core  # noqa: B018
    bob = register(core, "bob")
    seen = []
    core.network.events.subscribe(lambda e: seen.append(e) if isinstance(e, AccountChanged) else None)
    ask(bob, "NickServ", "IDENTIFY alice s3cret!")
    assert [(e.user.nick, e.user.account, e.origin) for e in seen] == [("bob", "alice", core.services.route)]


def test_wrong_passwords_back_off(core):
    """After five wrong passwords the next IDENTIFY is only answered once the back-off is over."""
    _registered(core)
    bob = register(core, "bob", ip="10.1.1.1")
    for _ in range(5):
        assert ask(bob, "NickServ", "IDENTIFY alice nope-nope") == ["Invalid password for alice."]
    assert ask(bob, "NickServ", "IDENTIFY alice s3cret!") == []
    core.clock.advance(1.0)
    assert notices_from(bob, "NickServ") == ["You are now identified for alice."]


def test_identify_by_certificate(core):
    """CERT ADD (default: the connection's fingerprint), then IDENTIFY without a password logs in."""
    alice = _registered(core)
    alice.user.certfp = FP
    assert ask(alice, "NickServ", "CERT ADD") == [f"{FP} added to your certificate list."]
    assert ask(alice, "NickServ", "CERT LIST") == ["Certificate fingerprints of alice:", f"  {FP}",
                                                   "End of the certificate list."]
    ask(alice, "NickServ", "LOGOUT")
    assert ask(alice, "NickServ", "IDENTIFY") == ["You are now identified for alice by your TLS certificate."]
    assert ask(alice, "NickServ", "CERT ADD nothex") == ["nothex is not a certificate fingerprint (hex digits, e.g. a SHA-256)."]
    assert ask(alice, "NickServ", f"CERT DEL {FP.upper()}") == [f"{FP} removed from your certificate list."]
    assert ask(alice, "NickServ", f"CERT DEL {FP}") == ["That fingerprint is not on your list"]
    assert ask(alice, "NickServ", "CERT LIST") == ["Your certificate list is empty."]
    bob = register(core, "bob")
    assert ask(bob, "NickServ", "CERT ADD") == [
        "You are not identified. Use /msg NickServ IDENTIFY <password> first."]
    assert ask(bob, "NickServ", "IDENTIFY")[0].startswith("Syntax: IDENTIFY")


# -- GHOST / RECOVER / RELEASE ----------------------------------------------------------


def test_ghost(core):
    """GHOST with the password disconnects the user holding the nick; errors for the rest."""
    alice = _registered(core)
    feed(alice, "NICK alice_")
    sent(alice)
    squatter = register(core, "alice")
    ask(alice, "NickServ", "LOGOUT")
    assert ask(alice, "NickServ", "GHOST alice wrongpw") == ["Invalid password for alice."]
    assert ask(alice, "NickServ", "GHOST alice") == [
        "You are not identified to alice: give its password (GHOST alice <password>)."]
    assert ask(alice, "NickServ", "GHOST alice s3cret!") == ["alice has been disconnected; the nick is free."]
    assert core.network.find_user("alice") is None
    assert any(m.command == "KILL" or "GHOST command used by alice_" in " ".join(m.params) for m in sent(squatter))
    assert ask(alice, "NickServ", "GHOST alice s3cret!") == ["alice is not online."]
    assert ask(alice, "NickServ", "GHOST alice_") == ["You cannot GHOST yourself."]
    assert ask(alice, "NickServ", "GHOST") == ["Syntax: GHOST <nick> [<password>]",
                                               "Type /msg NickServ HELP GHOST for more."]


def test_recover_renames_the_holder_and_gives_the_nick(core):
    """RECOVER renames the local holder to a Guest nick, logs the user in and gives them the nick."""
    _registered(core)
    core.network.find_user("alice").route.close("gone")  # alice leaves
    squatter = register(core, "alice")
    owner = register(core, "owner")
    assert ask(owner, "NickServ", "RECOVER alice s3cret!") == ["You have recovered alice."]
    assert owner.user.nick == "alice" and owner.user.account == "alice"
    assert squatter.user.nick.startswith("Guest")
    assert ask(owner, "NickServ", "RECOVER alice") == ["You already use alice."]


def test_enforcement_warns_renames_holds_and_release(core):
    """An unidentified user of a protected nick is warned, renamed to Guest after 60 s, the nick held; RELEASE frees it."""
    _registered(core).close("bye")
    impostor = register(core, "bob")
    feed(impostor, "NICK alice")
    warning = notices_from(impostor, "NickServ")
    assert warning and "within 60 seconds" in warning[0]
    core.clock.advance(59)
    assert impostor.user.nick == "alice"
    core.clock.advance(1)
    assert impostor.user.nick.startswith("Guest")
    enforcer = core.network.find_user("alice")
    assert enforcer is not None and enforcer.ident == "enforcer"
    owner = register(core, "carol")
    assert ask(owner, "NickServ", "RELEASE alice s3cret!") == ["alice is released: you may use it now."]
    assert core.network.find_user("alice") is None
    assert ask(owner, "NickServ", "RELEASE alice s3cret!") == ["alice is not being held by NickServ."]


def test_hold_expires(core):
    """The enforcer leaves by itself after the hold time."""
    _registered(core).close("bye")
    impostor = register(core, "alice")
    core.clock.advance(60)
    assert core.network.find_user("alice").ident == "enforcer"
    core.clock.advance(60)
    assert core.network.find_user("alice") is None
    assert impostor.user.nick.startswith("Guest")


def test_identify_in_time_stops_the_rename(core):
    """Identifying before the delay ends keeps the nick."""
    _registered(core).close("bye")
    again = register(core, "alice")
    ask(again, "NickServ", "IDENTIFY s3cret!")
    core.clock.advance(120)
    assert again.user.nick == "alice"


def test_access_list_prevents_the_rename(core):
    """A user whose user@host is on ACCESS is told and not renamed; ACCESS LIST/DEL work."""
    alice = _registered(core)
    assert ask(alice, "NickServ", "ACCESS ADD *@127.0.0.1") == ["*@127.0.0.1 added to your access list."]
    assert ask(alice, "NickServ", "ACCESS ADD *@*") == ["*@* matches everyone: give a host."]
    assert ask(alice, "NickServ", "ACCESS ADD nohost") == [
        "nohost is not a user@host mask (e.g. *@home.example.org)."]
    assert ask(alice, "NickServ", "ACCESS LIST") == ["Access list of alice:", "  1. *@127.0.0.1",
                                                     "End of the access list."]
    alice.close("bye")
    again = register(core, "other")
    feed(again, "NICK alice")
    assert "access list" in notices_from(again, "NickServ")[0]
    core.clock.advance(120)
    assert again.user.nick == "alice"
    ask(again, "NickServ", "IDENTIFY s3cret!")
    assert ask(again, "NickServ", "ACCESS DEL *@127.0.0.1") == ["*@127.0.0.1 removed from your access list."]
    assert ask(again, "NickServ", "ACCESS DEL *@127.0.0.1") == ["*@127.0.0.1 is not on your access list"]


def test_enforce_off(core):
    """SET ENFORCE OFF: nobody is renamed off the nick."""
    alice = _registered(core)
    assert ask(alice, "NickServ", "SET ENFORCE OFF") == ["Nick protection for alice is now off."]
    assert ask(alice, "NickServ", "SET ENFORCE maybe") == ["Syntax: SET ENFORCE ON|OFF"]
    alice.close("bye")
    again = register(core, "other")
    feed(again, "NICK alice")
    assert notices_from(again, "NickServ") == []
    core.clock.advance(120)
    assert again.user.nick == "alice"


def test_remote_impostor_is_renamed_with_svsnick(core):
    """A user on another server is asked to change nick through its link: SVSNICK <uid> <ts> Guest... <ts>."""
    _registered(core).close("bye")
    remote = make_remote_server(core, "leaf.test.local", "7LF")
    link_lines = []
    remote.route.link = type("L", (), {"send": lambda self, m: link_lines.append(m)})()
    bob = make_remote_user(core, remote, "alice")
    core.clock.advance(60)
    svsnick = [m for m in link_lines if m.command == "SVSNICK"]
    assert len(svsnick) == 1 and svsnick[0].params[0] == bob.uid and svsnick[0].params[2].startswith("Guest")
    assert svsnick[0].source == core.services.server.sid
    core.network.change_nick(bob, svsnick[0].params[2], origin=remote.route)  # its server did it
    assert core.network.find_user("alice").ident == "enforcer"


# -- DROP / INFO / SET ------------------------------------------------------------------


def test_info(core):
    """INFO shows registration, login state and protection; the email only to the owner and opers."""
    alice = register(core, "alice")
    ask(alice, "NickServ", "REGISTER s3cret! a@example.org")
    lines = ask(alice, "NickServ", "INFO")
    assert lines[0].startswith("alice is registered since ")
    assert lines[1:] == ["Logged in now as: alice.", "Nick protection: on.", "Email: a@example.org."]
    bob = register(core, "bob")
    assert "Email: a@example.org." not in ask(bob, "NickServ", "INFO alice")
    assert ask(bob, "NickServ", "INFO") == ["bob is not a registered nickname."]
    make_oper(bob, "o")
    assert "Email: a@example.org." in ask(bob, "NickServ", "INFO alice")


def test_set_password_and_email(core):
    """SET PASSWORD changes the password (the old one stops working); SET EMAIL sets and clears."""
    alice = _registered(core)
    assert ask(alice, "NickServ", "SET PASSWORD abc") == ["That password is too short: use at least 5 characters."]
    assert ask(alice, "NickServ", "SET PASSWORD newpass1") == ["Your password is changed."]
    assert ask(alice, "NickServ", "SET EMAIL a@b.example") == ["Your email address is now a@b.example."]
    assert ask(alice, "NickServ", "SET EMAIL none") == ["Your email address is removed."]
    assert ask(alice, "NickServ", "SET EMAIL bad") == ["bad is not a valid email address."]
    assert ask(alice, "NickServ", "SET COLOUR red")[0].startswith("Unknown SET option COLOUR")
    assert ask(alice, "NickServ", "SET") == ["Syntax: SET PASSWORD|EMAIL|ENFORCE <value>",
                                             "Type /msg NickServ HELP SET for more."]
    ask(alice, "NickServ", "LOGOUT")
    assert ask(alice, "NickServ", "IDENTIFY s3cret!") == ["Invalid password for alice."]
    assert ask(alice, "NickServ", "IDENTIFY newpass1") == ["You are now identified for alice."]
    bob = register(core, "bob")
    assert ask(bob, "NickServ", "SET EMAIL a@b.example") == [
        "You are not identified. Use /msg NickServ IDENTIFY <password> first."]


def test_drop(core):
    """DROP <password> deletes the account and logs out everyone on it; a wrong password keeps it."""
    alice = _registered(core)
    bob = register(core, "bob")
    ask(bob, "NickServ", "IDENTIFY alice s3cret!")
    assert ask(alice, "NickServ", "DROP wrongpw") == ["Invalid password for alice: the account was not dropped."]
    assert ask(alice, "NickServ", "DROP s3cret!") == [
        "alice has been dropped: the account and its data are deleted."]
    assert core.services.accounts.get("alice") is None
    assert alice.user.account is None and bob.user.account is None
    assert ask(bob, "NickServ", "DROP whatever") == [
        "You are not identified. Use /msg NickServ IDENTIFY <password> first."]


def test_oper_drops_any_account(core):
    """A services operator (flag s) drops any account by name."""
    _registered(core)
    oper = register(core, "oper")
    make_oper(oper, "s")
    assert ask(oper, "NickServ", "DROP alice") == ["alice has been dropped: the account and its data are deleted."]


def test_help_for_every_command(core):
    """HELP <command> answers for every NickServ command, and HELP SET PASSWORD for a subcommand."""
    alice = register(core, "alice")
    commands = ["REGISTER", "IDENTIFY", "LOGOUT", "GHOST", "RECOVER", "RELEASE", "DROP", "INFO", "SET",
                "ACCESS", "CERT", "HELP"]
    listing = ask(alice, "NickServ", "HELP")
    for name in commands:
        assert any(line.split()[0] == name for line in listing[2:-1]), name
        lines = ask(alice, "NickServ", f"HELP {name}")
        assert lines[0].startswith(f"Help for {name}: ") and lines[1].startswith("Syntax: "), lines
    assert ask(alice, "NickServ", "HELP SET PASSWORD")[:2] == [
        "Help for SET PASSWORD: change your password", "Syntax: SET PASSWORD <new password>"]


def test_register_then_nick_registers_the_nick_it_was_sent_from(core):
    """REGISTER followed at once by NICK (the hash still running) registers the first nick, and does not
    log the user in to it under the new nick."""
    from twisted.internet import defer

    from conferenceroom.passwords import hash_account_password

    pending = []

    def slow(func, *args):
        d = defer.Deferred()
        pending.append((d, func, args))
        return d

    core.services.accounts.run_password = slow
    alice = register(core, "alice")
    feed(alice, "PRIVMSG NickServ :REGISTER s3cret!", "NICK alice2")
    d, func, args = pending.pop()
    assert func is hash_account_password
    d.callback(func(*args))
    lines = notices_from(alice, "NickServ")
    assert lines[0] == "alice is now registered to you. Keep your password safe: you need it to IDENTIFY."
    assert core.services.accounts.get("alice") is not None and core.services.accounts.get("alice2") is None
    assert alice.user.account is None


def test_registrations_per_address_are_limited(tmp_path):
    """Three registrations from one address in ten minutes; the fourth is told to wait; an address with
    connection trigger 0 (a gateway) is not counted."""
    core = services_core(tmp_path, deftrigger=5)
    for nick in ("one", "two", "three"):
        conn = register(core, nick, ip="10.9.9.9")
        assert ask(conn, "NickServ", "REGISTER s3cret!")[-1] == f"You are now identified for {nick}."
    fourth = register(core, "four", ip="10.9.9.9")
    assert ask(fourth, "NickServ", "REGISTER s3cret!") == [
        "Too many registrations from your address: try again in 10 minutes."]
    other = register(core, "five", ip="10.8.8.8")
    assert ask(other, "NickServ", "REGISTER s3cret!")[-1] == "You are now identified for five."
    core.clock.advance(601)
    assert ask(fourth, "NickServ", "REGISTER s3cret!")[-1] == "You are now identified for four."
