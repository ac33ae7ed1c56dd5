"""ChanServ on a core with services: commands, auto-modes, AKICK, locks, topics, remote users.

Everything runs on a ``task.Clock`` (the store and bcrypt run inline);
ChanServ's reactions come one reactor turn after the event, so tests
advance the clock by 0 before reading what users saw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conferenceroom import services
from conferenceroom.limits import KICKLEN
from conferenceroom.services.chanrules import Level, ModeLock
from conferenceroom.wire import Message
from tests.helpers import (
    feed,
    make_core,
    make_oper,
    make_remote_server,
    make_remote_user,
    make_settings,
    register,
    sent,
)


class Net:
    """A core running services, with helpers to log users in and talk to ChanServ."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = str(tmp_path / "services.db")
        self.core = make_core(make_settings(services_enabled=True, services_password_cost=4),
                              default_modes="nt")
        self.control = services.attach(self.core, store_path=self.path)
        self.host = self.core.services
        self.clients = 0
        assert self.host is not None and self.host.ready.called

    @property
    def cs(self) -> Any:
        """The ChanServ service object."""
        return self.host.bot("chanserv").service

    @property
    def network(self) -> Any:
        """The network."""
        return self.core.network

    def turn(self) -> None:
        """Let one reactor turn pass (ChanServ's reactions)."""
        self.core.clock.advance(0)

    def account(self, name: str) -> None:
        """Register account ``name``."""
        d = self.host.accounts.register(name, "secret-pw")
        assert d.called

    def user(self, nick: str, account: str | None = None, ip: str | None = None) -> Any:
        """A local client ``nick``, logged in to ``account`` (registered if new)."""
        self.clients += 1
        conn = register(self.core, nick, ip=ip or f"127.0.1.{self.clients}")
        if account is not None:
            if self.host.accounts.get(account) is None:
                self.account(account)
            self.network.set_account(conn.user, account)
        sent(conn)
        return conn

    def cs_say(self, conn: Any, text: str) -> list[str]:
        """Send ``text`` to ChanServ; the NOTICE texts it answered with (other output dropped)."""
        sent(conn)
        feed(conn, f"PRIVMSG ChanServ :{text}")
        self.turn()
        return [m.params[-1] for m in sent(conn) if m.command == "NOTICE" and m.source.startswith("ChanServ!")]

    def registered(self, nick: str, channel: str = "#c") -> Any:
        """``nick`` (account of the same name) creates ``channel`` and registers it."""
        conn = self.user(nick, nick)
        feed(conn, f"JOIN {channel}")
        replies = self.cs_say(conn, f"REGISTER {channel}")
        assert any("now registered" in r for r in replies), replies
        sent(conn)
        return conn

    def chan(self, name: str = "#c") -> Any:
        """The live channel ``name``."""
        return self.network.find_channel(name)

    def status(self, conn: Any, name: str = "#c") -> set[str]:
        """The status modes of ``conn``'s user in ``name``."""
        return set(self.chan(name).members[conn.user].status)


@pytest.fixture
def net(tmp_path: Path) -> Net:
    """A fresh core with services."""
    return Net(tmp_path)


def modes_seen(conn: Any) -> list[tuple[str, ...]]:
    """The MODE lines ``conn`` received (params), clearing its output."""
    return [m.params for m in sent(conn) if m.command == "MODE"]


# -- REGISTER ---------------------------------------------------------------------------


def test_register_makes_founder_owner(net: Net) -> None:
    """An identified op registers: a NOTICE confirms it and ChanServ gives +q from its own user."""
    alice = net.user("alice", "alice")
    feed(alice, "JOIN #c")
    sent(alice)
    feed(alice, "PRIVMSG ChanServ :REGISTER #c")
    net.turn()
    out = sent(alice)
    notices = [m.params[-1] for m in out if m.command == "NOTICE"]
    assert notices == ["#c is now registered to your account alice; you are its founder."]
    mode = [m for m in out if m.command == "MODE"]
    assert mode[0].source.startswith("ChanServ!") and mode[0].params == ("#c", "+q", "alice")
    assert net.status(alice) == {"o", "q"}
    assert net.cs.registry["#C"].founder == "alice"


@pytest.mark.parametrize("setup, text, reply", [
    ("none", "REGISTER #c", "You must be logged in to register a channel"),
    ("notin", "REGISTER #c", "You must be in #c to register it."),
    ("notop", "REGISTER #c", "You must be a channel operator in #c to register it."),
    ("ok", "REGISTER c", "c is not a channel name"),
    ("ok", "REGISTER", "Syntax: REGISTER <#channel>"),
])
def test_register_refusals(net: Net, setup: str, text: str, reply: str) -> None:
    """Not identified, not in the channel, not op, a bad name, no name: each refused plainly."""
    owner = net.user("owner", "owner")
    feed(owner, "JOIN #c")
    user = net.user("bob", None if setup == "none" else "bob")
    if setup in ("none", "notop", "ok"):
        feed(user, "JOIN #c")
    if setup in ("none", "ok"):
        feed(owner, "MODE #c +o bob")
    replies = net.cs_say(user, text)
    assert replies and replies[0].startswith(reply), replies
    assert "#c" not in net.cs.registry


def test_register_twice_refused(net: Net) -> None:
    """A registered channel cannot be registered again, even by another op."""
    net.registered("alice")
    bob = net.user("bob", "bob")
    feed(bob, "JOIN #c")
    net.chan().members[bob.user].status.add("o")
    assert net.cs_say(bob, "REGISTER #C") == ["#c is already registered."]


def test_registration_survives_restart(net: Net, tmp_path: Path) -> None:
    """Records, access and AKICKs are in services.db: a new host loads them."""
    alice = net.registered("alice")
    net.account("bob")
    net.cs_say(alice, "ACCESS #c ADD bob SOP")
    net.cs_say(alice, "AKICK #c ADD *!*@bad.example go away")
    net.cs_say(alice, "SET #c MLOCK +ntk-s sekrit")
    net.cs_say(alice, "SET #c SECUREOPS on")
    feed(alice, "TOPIC #c :kept on disk")
    net.turn()
    net.control.disable("test")
    net.control.enable()
    record = net.cs.registry["#c"]
    assert record.founder == "alice"
    assert record.access["bob"].level is Level.SOP
    assert record.akicks["*!*@bad.example"].reason == "go away"
    assert record.mlock == ModeLock("nt", "s", "sekrit")
    assert record.secureops and not record.topiclock
    assert (record.topic, record.topic_setter.split("!")[0]) == ("kept on disk", "alice")


# -- auto-modes -----------------------------------------------------------------------------


def test_auto_modes_by_level(net: Net) -> None:
    """On join: founder +q, MGR/SOP/AOP +o, VOP +v, UOP nothing."""
    alice = net.registered("alice")
    for nick, level in (("mgr", "MGR"), ("sop", "SOP"), ("aop", "AOP"), ("vop", "VOP"), ("uop", "UOP")):
        net.account(nick)
        assert net.cs_say(alice, f"ACCESS #c ADD {nick} {level}")[0].startswith(f"{nick} added")
    for nick, want in (("mgr", {"o"}), ("sop", {"o"}), ("aop", {"o"}), ("vop", {"v"}), ("uop", set())):
        conn = net.user(nick, nick)
        feed(conn, "JOIN #c")
        net.turn()
        assert net.status(conn) == want, nick
    feed(alice, "PART #c")
    feed(alice, "JOIN #c")
    net.turn()
    assert net.status(alice) == {"q"}


def test_mask_entry_and_unidentified_user(net: Net) -> None:
    """A mask entry gives its level without an account; an account entry needs the login."""
    alice = net.registered("alice")
    net.account("bob")
    net.cs_say(alice, "ACCESS #c ADD *!*@10.1.1.* VOP")
    net.cs_say(alice, "ACCESS #c ADD bob AOP")
    guest = net.user("guest", ip="10.1.1.7")
    feed(guest, "JOIN #c")
    bob = net.user("bob")  # not logged in
    feed(bob, "JOIN #c")
    net.turn()
    assert net.status(guest) == {"v"}
    assert net.status(bob) == set()


def test_auto_mode_for_remote_join(net: Net) -> None:
    """A user on a linked server joining a registered channel gets its mode from ChanServ (a TMODE out)."""
    alice = net.registered("alice")
    net.account("rem")
    net.cs_say(alice, "ACCESS #c ADD rem AOP")
    server = make_remote_server(net.core, "leaf.test", "2LF")
    remote = make_remote_user(net.core, server, "rem")
    net.network.set_account(remote, "rem", origin=server.route)
    net.network.join(remote, "#c", origin=server.route, ts=net.chan().ts)
    net.turn()
    assert "o" in net.chan().members[remote].status
    assert ("#c", "+o", "rem") in modes_seen(alice)


# -- ACCESS -----------------------------------------------------------------------------------


def test_access_ladder(net: Net) -> None:
    """A MGR may add up to SOP but not MGR; a SOP may not touch a SOP; anyone may delete themselves."""
    alice = net.registered("alice")
    for name in ("mgr", "sop", "x", "y"):
        net.account(name)
    net.cs_say(alice, "ACCESS #c ADD mgr MGR")
    net.cs_say(alice, "ACCESS #c ADD sop SOP")
    mgr = net.user("mgr", "mgr")
    sop = net.user("sop", "sop")
    assert net.cs_say(mgr, "ACCESS #c ADD x SOP") == ["x added to the access list of #c at SOP."]
    assert net.cs_say(mgr, "ACCESS #c ADD y MGR") == [
        "Permission denied: with MGR access you may ADD entries up to SOP only."]
    assert net.cs_say(sop, "ACCESS #c DEL x") == [
        "Permission denied: with SOP access you may DEL entries up to AOP only."]
    assert net.cs_say(sop, "ACCESS #c ADD y AOP") == ["y added to the access list of #c at AOP."]
    assert net.cs_say(sop, "ACCESS #c DEL sop") == ["sop removed from the access list of #c."]
    assert "sop" not in net.cs.registry["#c"].access


@pytest.mark.parametrize("text, reply", [
    ("ACCESS #c ADD bob BOSS", "Unknown level BOSS: one of MGR, SOP, AOP, VOP, UOP."),
    ("ACCESS #c ADD nobody AOP", "nobody is not a registered account."),
    ("ACCESS #c ADD alice AOP", "alice is the founder of #c."),
    ("ACCESS #c DEL carol", "carol is not on the access list of #c."),
    ("ACCESS #c FROB", "Syntax: ACCESS <#channel> ADD"),
    ("ACCESS #nope LIST", "#nope is not registered."),
    ("ACCESS #c", "Syntax: ACCESS <#channel>"),
])
def test_access_errors(net: Net, text: str, reply: str) -> None:
    """Unknown levels, accounts and entries, the founder, bad verbs and channels: one clear NOTICE."""
    alice = net.registered("alice")
    net.account("bob")
    assert net.cs_say(alice, text)[0].startswith(reply)


def test_access_list_needs_access(net: Net) -> None:
    """LIST shows the founder and the entries to users with access; strangers are refused."""
    alice = net.registered("alice")
    net.account("bob")
    net.cs_say(alice, "ACCESS #c ADD bob UOP")
    listing = net.cs_say(alice, "ACCESS #c LIST")
    assert listing[0] == "Access list of #c:"
    assert listing[1].split() == ["FOUNDER", "alice"]
    assert listing[2].split()[:2] == ["UOP", "bob"]
    assert listing[-1] == "End of the access list of #c: 1 entry besides the founder."
    eve = net.user("eve", "eve")
    assert net.cs_say(eve, "ACCESS #c LIST") == [
        "Permission denied: ACCESS LIST in #c needs UOP access or more (yours: none)."]
    admin = net.user("admin")
    make_oper(admin, "s")
    assert net.cs_say(admin, "ACCESS #c LIST")[0] == "Access list of #c:"


def test_readded_account_inherits_nothing(net: Net) -> None:
    """An access account dropped and registered again by someone else gets no access."""
    alice = net.registered("alice")
    net.account("bob")
    net.cs_say(alice, "ACCESS #c ADD bob SOP")
    net.host.accounts.drop("bob")
    net.core.clock.advance(10)
    net.account("bob")
    bob = net.user("bob", "bob")
    feed(bob, "JOIN #c")
    net.turn()
    assert net.status(bob) == set()


# -- AKICK -------------------------------------------------------------------------------------


def test_akick_on_join_and_at_once(net: Net) -> None:
    """AKICK ADD kicks matching members at once; a later matching join is banned and kicked."""
    alice = net.registered("alice")
    spam = net.user("spam", ip="10.9.9.9")
    feed(spam, "JOIN #c")
    replies = net.cs_say(alice, "AKICK #c ADD *!*@10.9.9.* spamming")
    assert replies == ["*!*@10.9.9.* added to the AKICK list of #c.", "Kicked 1 matching user from #c."]
    assert spam.user not in net.chan().members
    kicks = [m for m in sent(spam) if m.command == "KICK"]
    assert kicks[0].params == ("#c", "spam", "spamming") and kicks[0].source.startswith("ChanServ!")
    assert [e.mask for e in net.chan().lists["b"]] == ["*!*@10.9.9.*"]
    feed(alice, "MODE #c -b *!*@10.9.9.*")  # the ban lifted: the AKICK still keeps spam out
    sent(spam)
    feed(spam, "JOIN #c")
    net.turn()
    assert spam.user not in net.chan().members
    assert [m.command for m in sent(spam)][-1] == "KICK"
    assert [e.mask for e in net.chan().lists["b"]] == ["*!*@10.9.9.*"]


def test_akick_spares_access_and_lists(net: Net) -> None:
    """AOP access beats an AKICK; LIST and DEL work; errors are plain."""
    alice = net.registered("alice")
    net.account("bob")
    net.cs_say(alice, "ACCESS #c ADD bob AOP")
    net.cs_say(alice, "AKICK #c ADD *!*@*")
    bob = net.user("bob", "bob")
    feed(bob, "JOIN #c")
    net.turn()
    assert net.status(bob) == {"o"}
    listing = net.cs_say(alice, "AKICK #c LIST")
    assert listing[1].startswith("  *!*@* :You are banned from this channel (added by alice")
    assert net.cs_say(alice, "AKICK #c ADD *!*@*") == ["*!*@* is already on the AKICK list of #c."]
    assert net.cs_say(alice, "AKICK #c DEL *!*@*")[0].startswith("*!*@* removed from the AKICK list of #c")
    assert net.cs_say(alice, "AKICK #c DEL *!*@*") == ["*!*@* is not on the AKICK list of #c."]
    assert net.cs_say(bob, "AKICK #c ADD x!*@*") == [
        "Permission denied: AKICK ADD in #c needs SOP access or more (yours: AOP)."]


# -- OP / DEOP / VOICE / DEVOICE / INVITE / UNBAN ----------------------------------------------------


def test_op_deop_voice_devoice(net: Net) -> None:
    """AOP users op and deop others; VOP users voice themselves only; more access is protected."""
    alice = net.registered("alice")
    net.account("aop")
    net.account("vop")
    net.cs_say(alice, "ACCESS #c ADD aop AOP")
    net.cs_say(alice, "ACCESS #c ADD vop VOP")
    aop = net.user("aop", "aop")
    vop = net.user("vop", "vop")
    guest = net.user("guest")
    for conn in (aop, vop, guest):
        feed(conn, "JOIN #c")
    net.turn()
    assert net.cs_say(aop, "OP #c guest") == []
    assert "o" in net.status(guest)
    assert net.cs_say(aop, "DEOP #c guest") == []
    assert net.cs_say(aop, "DEOP #c guest") == ["guest is not an operator in #c."]
    assert net.cs_say(vop, "DEVOICE #c") == []
    assert net.cs_say(vop, "VOICE #c") == []
    assert net.status(vop) == {"v"}
    assert net.cs_say(vop, "VOICE #c guest") == [
        "Permission denied: VOICE for another user in #c needs AOP access or more (yours: VOP)."]
    assert net.cs_say(aop, "DEOP #c alice") == ["Permission denied: alice has more access in #c than you."]
    assert net.cs_say(guest, "OP #c") == ["Permission denied: OP in #c needs AOP access or more (yours: none)."]
    assert net.cs_say(aop, "OP #c nobody") == ["No such nick: nobody."]


def test_invite_and_unban(net: Net) -> None:
    """A UOP is invited past +i and has its bans removed; without access both are refused."""
    alice = net.registered("alice")
    net.account("bob")
    net.cs_say(alice, "ACCESS #c ADD bob UOP")
    feed(alice, "MODE #c +ib bob!*@*")
    bob = net.user("bob", "bob")
    assert net.cs_say(bob, "UNBAN #c") == ["Removed 1 ban matching you from #c."]
    assert net.chan().lists["b"] == []
    assert net.cs_say(bob, "UNBAN #c") == ["No ban in #c matches you."]
    replies = net.cs_say(bob, "INVITE #c")
    assert replies == ["You have been invited to #c."]
    feed(bob, "JOIN #c")
    assert bob.user in net.chan().members
    assert net.cs_say(bob, "INVITE #c") == ["You are already in #c."]
    eve = net.user("eve", "eve")
    assert net.cs_say(eve, "INVITE #c") == [
        "Permission denied: INVITE in #c needs UOP access or more (yours: none)."]


# -- SET, locks and topics ---------------------------------------------------------------------------


def test_mlock_enforced_and_restored(net: Net) -> None:
    """MLOCK is applied at once, changes against it are undone, and a recreated channel gets it back."""
    alice = net.registered("alice")
    assert net.cs_say(alice, "SET #c MLOCK +ntk-s sekrit") == ["Mode lock of #c is now +ntk-s sekrit."]
    assert net.chan().key == "sekrit"
    feed(alice, "MODE #c +s-k sekrit")
    net.turn()
    assert "s" not in net.chan().flags and net.chan().key == "sekrit"
    feed(alice, "PART #c")
    assert net.chan() is None
    bob = net.user("bob")
    feed(bob, "JOIN #c sekrit")
    net.turn()
    assert net.chan().key == "sekrit" and {"n", "t"} <= net.chan().flags
    assert net.cs_say(alice, "SET #c MLOCK +q") == ["Mode q cannot be locked (lockable: imnpstkl)."]
    assert net.cs_say(alice, "SET #c MLOCK off") == ["Mode lock of #c is now (none)."]


def test_topic_remembered_restored_and_locked(net: Net) -> None:
    """A topic change is remembered and restored on recreation; under TOPICLOCK users without AOP are undone."""
    alice = net.registered("alice")
    feed(alice, "TOPIC #c :Welcome to c")
    net.turn()
    assert net.cs.registry["#c"].topic == "Welcome to c"
    feed(alice, "PART #c")
    bob = net.user("bob")
    feed(bob, "JOIN #c")
    net.turn()
    assert net.chan().topic == "Welcome to c"
    assert net.cs_say(alice, "SET #c TOPICLOCK on") == ["TOPICLOCK of #c is now on."]
    feed(bob, "TOPIC #c :bob was here")  # bob holds op as the creator, but no access
    net.turn()
    assert net.chan().topic == "Welcome to c"
    feed(alice, "JOIN #c")
    net.turn()  # alice's +q
    feed(alice, "TOPIC #c :New topic")
    net.turn()
    assert net.chan().topic == "New topic" and net.cs.registry["#c"].topic == "New topic"
    assert net.cs_say(alice, "SET #c TOPICLOCK maybe") == ["TOPICLOCK takes ON or OFF."]


def test_secureops(net: Net) -> None:
    """Under SECUREOPS an op given to a user without AOP access is taken back, and OP is refused."""
    alice = net.registered("alice")
    guest = net.user("guest")
    feed(guest, "JOIN #c")
    feed(alice, "MODE #c +o guest")
    net.turn()
    assert net.status(guest) == {"o"}
    assert net.cs_say(alice, "SET #c SECUREOPS on") == ["SECUREOPS of #c is now on."]
    assert net.status(guest) == set()
    feed(alice, "MODE #c +o guest")
    net.turn()
    assert net.status(guest) == set()
    assert net.cs_say(alice, "OP #c guest") == ["SECUREOPS is on in #c: guest has no AOP access."]


def test_set_needs_manager(net: Net) -> None:
    """SET needs MGR; an unknown option is named."""
    alice = net.registered("alice")
    net.account("sop")
    net.cs_say(alice, "ACCESS #c ADD sop SOP")
    sop = net.user("sop", "sop")
    assert net.cs_say(sop, "SET #c TOPICLOCK on") == [
        "Permission denied: SET TOPICLOCK in #c needs MGR access or more (yours: SOP)."]
    assert net.cs_say(alice, "SET #c COLOUR red") == [
        "Unknown SET option COLOUR: one of TOPICLOCK, MLOCK, SECUREOPS."]


# -- INFO, DROP, HELP -------------------------------------------------------------------------


def test_info(net: Net) -> None:
    """INFO shows founder, registration time, topic, lock and options to anyone."""
    alice = net.registered("alice")
    feed(alice, "TOPIC #c :hello")
    net.turn()
    eve = net.user("eve")
    info = net.cs_say(eve, "INFO #c")
    assert info[0] == "Information for #c:"
    assert "  Founder:    alice" in info
    assert "  Topic:      hello" in info
    assert "  Mode lock:  +nt" in info
    assert "  Options:    TOPICLOCK off, SECUREOPS off" in info
    assert net.cs_say(eve, "INFO #none") == ["#none is not registered."]


def test_drop_by_founder_or_services_admin(net: Net) -> None:
    """Only the founder or an oper with flag s may DROP."""
    alice = net.registered("alice")
    net.registered("bob", "#d")
    eve = net.user("eve", "eve")
    assert net.cs_say(eve, "DROP #c") == [
        "Permission denied: only the founder of #c or a services administrator may drop it."]
    assert net.cs_say(alice, "DROP #c") == ["#c has been dropped: it is no longer registered."]
    assert "#c" not in net.cs.registry
    make_oper(eve, "s")
    assert net.cs_say(eve, "DROP #d") == ["#d has been dropped: it is no longer registered."]


def test_help_for_every_command(net: Net) -> None:
    """HELP lists every command; HELP <command> gives its syntax and at least one line more."""
    eve = net.user("eve")
    listing = net.cs_say(eve, "HELP")
    commands = ["REGISTER", "DROP", "ACCESS", "AKICK", "OP", "DEOP", "VOICE", "DEVOICE", "INVITE", "UNBAN",
                "INFO", "SET"]
    for name in commands:
        assert any(line.split()[:1] == [name] for line in listing), name
        text = net.cs_say(eve, f"HELP {name}")
        assert any(line.startswith("Syntax: ") for line in text), name
        assert len(text) >= 3, name
    assert any("MGR" in line for line in net.cs_say(eve, "HELP ACCESS"))


def test_messages_seen_as_from_chanserv(net: Net) -> None:
    """ChanServ's replies are NOTICEs from ChanServ!services@services.<domain>."""
    eve = net.user("eve")
    feed(eve, "PRIVMSG ChanServ :INFO #x")
    net.turn()
    notice = [m for m in sent(eve) if m.command == "NOTICE"][0]
    assert notice == Message("NOTICE", ("eve", "#x is not registered."), notice.source)
    assert notice.source.startswith("ChanServ!services@services.")


def test_channel_ts_lost_founder_gets_owner_back(net: Net) -> None:
    """An SJOIN with an older channel TS wipes our modes and statuses; ChanServ sets +q and the lock again."""
    alice = net.registered("alice")
    server = make_remote_server(net.core, "leaf.test", "2LF")
    remote = make_remote_user(net.core, server, "rem")
    net.network.netjoin(server, "#c", net.chan().ts - 100, [], [(remote, "")], origin=server.route)
    assert net.status(alice) == set() and net.chan().flags == set()
    net.turn()
    assert net.status(alice) == {"q"}
    assert {"n", "t"} <= net.chan().flags


def test_services_back_give_modes_to_those_present(net: Net) -> None:
    """A user with access who joined while services were away gets its mode when they come back."""
    alice = net.registered("alice")
    net.account("bob")
    net.cs_say(alice, "ACCESS #c ADD bob AOP")
    net.control.disable("test")
    bob = net.user("bob", "bob")
    feed(bob, "JOIN #c")
    net.turn()
    assert net.status(bob) == set()
    net.control.enable()
    net.turn()
    assert net.status(bob) == {"o"}


class FakeLink:
    """A registered link with owner support that records the TS6 lines sent to it."""

    registered = True
    capabilities = frozenset({"CR-OWNER"})

    def __init__(self) -> None:
        self.route = object()
        self.lines: list[Message] = []

    def send(self, msg: Message) -> None:
        """Record ``msg``."""
        self.lines.append(msg)


def test_links_see_chanserv_changes_from_the_services_server(net: Net) -> None:
    """ChanServ's +q and KICK go to the links as TMODE and KICK from ChanServ's UID."""
    from conferenceroom.link.outbound import LinkAnnouncer

    link = FakeLink()
    net.network.events.subscribe(LinkAnnouncer(net.network, lambda: [link]))
    alice = net.registered("alice")
    uid = net.host.bot("chanserv").user.uid
    assert uid[:3] == net.host.server.sid
    tmode = [m for m in link.lines if m.command == "TMODE"]
    assert tmode[-1].source == uid and tmode[-1].params[1:] == ("#c", "+q", alice.user.uid)
    net.cs_say(alice, "AKICK #c ADD spam!*@* " + "x" * 400)
    spam = net.user("spam")
    feed(spam, "JOIN #c")
    net.turn()
    kick = [m for m in link.lines if m.command == "KICK"][-1]
    assert kick.source == uid and kick.params[:2] == ("#c", spam.user.uid)
    assert kick.params[2] == "x" * KICKLEN  # a reason longer than KICKLEN is cut
    feed(alice, "PART #c")
    bob = net.user("bob")
    feed(bob, "JOIN #c")
    net.turn()
    topic = [m for m in link.lines if m.command == "TOPIC"]
    assert not topic  # nothing remembered, nothing restored


def test_cs_and_chanserv_aliases(net: Net) -> None:
    """``CS <command>`` and ``CHANSERV <command>`` reach ChanServ like a PRIVMSG."""
    eve = net.user("eve")
    for verb in ("CS", "CHANSERV"):
        feed(eve, f"{verb} INFO #nowhere")
        net.turn()
        notices = [m for m in sent(eve) if m.command == "NOTICE"]
        assert notices[0].source.startswith("ChanServ!") and notices[0].params[-1] == "#nowhere is not registered."


def test_dropped_founder_account_is_founder_no_more(net: Net) -> None:
    """A founder whose account was dropped (and registered again by someone) has no founder rights; INFO says so."""
    alice = net.registered("alice")
    net.host.accounts.drop("alice")
    net.core.clock.advance(10)
    net.account("alice")
    assert net.cs_say(alice, "SET #c TOPICLOCK on") == [
        "Permission denied: SET TOPICLOCK in #c needs MGR access or more (yours: none)."]
    info = net.cs_say(alice, "INFO #c")
    assert "  Founder:    alice (account dropped: only a services administrator may DROP the channel)" in info


def test_nickserv_drop_drops_founded_channels_and_entries(net: Net) -> None:
    """NickServ DROP of a founder's account drops its channels; of an AOP's account, its entries."""
    alice = net.registered("alice")
    bob = net.user("bob", "bob")
    net.cs_say(alice, "ACCESS #c ADD bob AOP")
    net.registered("carol", "#d")
    feed(bob, "PRIVMSG NickServ :DROP secret-pw")
    net.turn()
    assert "bob" not in net.cs.registry["#c"].access
    feed(alice, "PRIVMSG NickServ :DROP secret-pw")
    net.turn()
    assert "#c" not in net.cs.registry and "#d" in net.cs.registry
    net.control.disable("test")
    net.control.enable()
    assert "#c" not in net.cs.registry and "#d" in net.cs.registry
    assert net.cs.registry["#d"].access == {}


@pytest.mark.parametrize("text", [
    "REGISTER #", "REGISTER &local", "REGISTER " + "#" + "x" * 300, "ACCESS #c ADD", "ACCESS #c ADD x",
    "ACCESS #c ADD " + "a" * 400 + " AOP", "ACCESS #c ADD *!*@* 0", "ACCESS #c ADD *!*@* 9", "ACCESS #c DEL",
    "AKICK #c ADD", "AKICK #c DEL", "AKICK #c ADD :x", "SET #c", "SET #c MLOCK", "SET #c MLOCK +l",
    "SET #c MLOCK +kl a", "SET #c SECUREOPS", "OP", "OP #c " + "n" * 400, "INVITE", "UNBAN #nope", "INFO",
    "DROP", "HELP NOTHING", "HELP ACCESS ADD", "\x01VERSION\x01", "   ",
])
def test_bad_input_gets_a_sentence_never_an_internal_error(net: Net, text: str) -> None:
    """Malformed or hostile commands get a plain reply (or none for CTCP); never the internal-error notice."""
    alice = net.registered("alice")
    replies = net.cs_say(alice, text)
    assert not any("internal error" in r for r in replies), replies
    assert all(len(r.encode()) <= 400 for r in replies)
    if not text.startswith("\x01"):
        assert replies, text


def test_access_add_gives_the_mode_to_a_matching_member_at_once(net: Net) -> None:
    """Adding an entry for someone already in the channel gives its level's mode without a rejoin."""
    alice = net.registered("alice")
    bob = net.user("bob", "bob")
    feed(bob, "JOIN #c")
    net.turn()
    assert net.status(bob) == set()
    net.cs_say(alice, "ACCESS #c ADD bob VOP")
    assert net.status(bob) == {"v"}
    net.cs_say(alice, "ACCESS #c ADD bob AOP")
    assert net.status(bob) == {"o", "v"}
