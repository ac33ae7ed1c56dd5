"""
ChanServ against a real ``twistd -n conferenceroom`` process running services:
every command with its success and its errors as a user sees them, the
auto-modes of each level, AKICK on join, mode lock, topic lock and
SECUREOPS, a registered channel's modes and topic back when it is
recreated, and registrations that survive a restart and ``kill -9``.
"""

from __future__ import annotations

import pytest

from tests.integration.ircclient import IRCClient, Message, unique_nick

PASSWORD = "correct-horse-9"


@pytest.fixture(scope="module")
def shared_server_config():
    """The shared server runs services."""
    return {"services": True}


# -- helpers (also used by tests/network/test_chanserv_network.py) ------------------------------


def notices_from(client: IRCClient, bot: str, until: str, timeout: float = 10.0) -> list[str]:
    """NOTICE texts from ``bot`` up to and including the first one containing ``until``."""
    lines = client.collect(lambda m: m.command == "NOTICE" and (m.nick or "").lower() == bot.lower()
                           and until in (m.trailing or ""), timeout=timeout)
    return [m.trailing for m in lines if m.command == "NOTICE" and (m.nick or "").lower() == bot.lower()]


def login(client: IRCClient, password: str = PASSWORD) -> str:
    """Register the client's nick with NickServ and identify to it; the account name."""
    client.send(f"PRIVMSG NickServ :REGISTER {password}")
    client.expect(lambda m: m.command == "NOTICE" and (m.nick or "") == "NickServ", timeout=15.0)
    client.drain(0.3)
    identify(client, password)
    return client.nick


def identify(client: IRCClient, password: str = PASSWORD) -> None:
    """IDENTIFY to NickServ and wait until logged in (900, or NickServ saying so)."""
    client.send(f"PRIVMSG NickServ :IDENTIFY {password}")
    client.expect(lambda m: m.command == "900" or (
        m.command == "NOTICE" and (m.nick or "") == "NickServ"
        and any(word in (m.trailing or "").lower() for word in ("identified", "logged in"))),
        timeout=15.0)
    client.drain(0.3)


def cs(client: IRCClient, text: str, until: str, timeout: float = 10.0) -> list[str]:
    """Send ``text`` to ChanServ; its NOTICEs up to the one containing ``until``."""
    client.send(f"PRIVMSG ChanServ :{text}")
    return notices_from(client, "ChanServ", until, timeout)


def chanserv_mode(client: IRCClient, channel: str, *params: str, timeout: float = 10.0) -> Message:
    """Wait for a MODE on ``channel`` from ChanServ with exactly ``params`` after the channel."""
    return client.expect(lambda m: m.command == "MODE" and (m.nick or "") == "ChanServ"
                         and m.params[0].lower() == channel.lower() and list(m.params[1:]) == list(params),
                         timeout=timeout)


def fresh_channel() -> str:
    """A channel name no other test uses."""
    return "#" + unique_nick("cs")


def founded(server, irc_client, nick_prefix: str = "f") -> tuple[IRCClient, str]:
    """A logged-in user who created and registered a fresh channel (its +q seen)."""
    founder = irc_client(server, unique_nick(nick_prefix))
    login(founder)
    chan = fresh_channel()
    founder.join(chan)
    replies = cs(founder, f"REGISTER {chan}", "registered")
    assert replies[-1] == f"{chan} is now registered to your account {founder.nick}; you are its founder."
    chanserv_mode(founder, chan, "+q", founder.nick)
    return founder, chan


def names(client: IRCClient, channel: str) -> list[str]:
    """NAMES of ``channel`` with prefixes."""
    client.send(f"NAMES {channel}")
    return [n for m in client.collect("366") if m.command == "353" for n in m.trailing.split()]


# -- REGISTER ----------------------------------------------------------------------------------


def test_register_founder_owner_on_every_join(shared_server, irc_client):
    """REGISTER gives the founder +q from ChanServ; after PART and JOIN the founder gets +q again (NAMES ``~``)."""
    founder, chan = founded(shared_server, irc_client)
    founder.send(f"PART {chan}")
    founder.expect("PART")
    founder.join(chan)
    chanserv_mode(founder, chan, "+q", founder.nick)
    assert f"~{founder.nick}" in names(founder, chan)[0]


def test_register_refusals(shared_server, irc_client):
    """Not logged in, not op, already registered, no such name: each a plain NOTICE."""
    founder, chan = founded(shared_server, irc_client)
    guest = irc_client(shared_server, unique_nick("g"))
    assert cs(guest, f"REGISTER {chan}", "logged in")[-1].startswith(
        "You must be logged in to register a channel")
    login(guest)
    other = fresh_channel()
    assert cs(guest, f"REGISTER {other}", "must be in")[-1] == f"You must be in {other} to register it."
    guest.join(chan)
    assert cs(guest, f"REGISTER {chan}", "already")[-1] == f"{chan} is already registered."
    guest.join(other)
    founder.join(other)
    assert cs(founder, f"REGISTER {other}", "operator")[-1] == \
        f"You must be a channel operator in {other} to register it."
    assert cs(guest, "REGISTER", "Syntax")[-1] == "Syntax: REGISTER <#channel>"
    assert cs(guest, "FROB", "Unknown")[-1].startswith("Unknown command FROB.")


# -- ACCESS and auto-modes ---------------------------------------------------------------------


def test_access_levels_and_auto_modes(shared_server, irc_client):
    """ACCESS ADD at SOP, AOP, VOP, UOP: on join SOP and AOP get +o, VOP +v, UOP nothing; LIST and DEL."""
    founder, chan = founded(shared_server, irc_client)
    users = {}
    for level in ("SOP", "AOP", "VOP", "UOP"):
        user = irc_client(shared_server, unique_nick(level.lower()))
        login(user)
        users[level] = user
        assert cs(founder, f"ACCESS {chan} ADD {user.nick} {level}", "access list")[-1] == \
            f"{user.nick} added to the access list of {chan} at {level}."
    for level, mode in (("SOP", "+o"), ("AOP", "+o"), ("VOP", "+v")):
        users[level].join(chan)
        chanserv_mode(founder, chan, mode, users[level].nick)
    users["UOP"].join(chan)
    founder.assert_silent(lambda m: m.command == "MODE", timeout=1.0)
    listing = cs(founder, f"ACCESS {chan} LIST", "End of the access list")
    assert listing[1].split() == ["FOUNDER", founder.nick]
    assert [line.split()[0] for line in listing[2:-1]] == ["SOP", "AOP", "VOP", "UOP"]
    sop = users["SOP"]
    assert cs(sop, f"ACCESS {chan} ADD {users['VOP'].nick} SOP", "Permission")[-1] == \
        "Permission denied: with SOP access you may ADD entries up to AOP only."
    assert cs(sop, f"ACCESS {chan} DEL {users['UOP'].nick}", "removed")[-1] == \
        f"{users['UOP'].nick} removed from the access list of {chan}."
    assert cs(sop, f"ACCESS {chan} ADD nosuchaccount AOP", "not")[-1] == \
        "nosuchaccount is not a registered account."
    assert cs(sop, f"ACCESS {chan} ADD x BOSS", "Unknown")[-1] == \
        "Unknown level BOSS: one of MGR, SOP, AOP, VOP, UOP."


def test_mask_entry_without_account(shared_server, irc_client):
    """A nick!user@host entry gives its level to a user who never logged in."""
    founder, chan = founded(shared_server, irc_client)
    guest_nick = unique_nick("m")
    assert cs(founder, f"ACCESS {chan} ADD {guest_nick}!*@* VOP", "added")[-1] == \
        f"{guest_nick}!*@* added to the access list of {chan} at VOP."
    guest = irc_client(shared_server, guest_nick)
    guest.join(chan)
    chanserv_mode(founder, chan, "+v", guest_nick)


# -- AKICK ----------------------------------------------------------------------------------------


def test_akick_bans_and_kicks_on_join(shared_server, irc_client):
    """AKICK ADD: a matching user is banned (+b) and kicked with the reason on join; LIST and DEL."""
    founder, chan = founded(shared_server, irc_client)
    bad_nick = unique_nick("bad")
    assert cs(founder, f"AKICK {chan} ADD {bad_nick}!*@* no spam please", "AKICK list")[-1] == \
        f"{bad_nick}!*@* added to the AKICK list of {chan}."
    bad = irc_client(shared_server, bad_nick)
    bad.send(f"JOIN {chan}")
    kick = bad.expect("KICK")
    assert kick.nick == "ChanServ" and kick.params == [chan, bad_nick, "no spam please"]
    chanserv_mode(founder, chan, "+b", f"{bad_nick}!*@*")
    bad.send(f"JOIN {chan}")
    assert bad.expect(["474", "JOIN"]).command == "474"
    listing = cs(founder, f"AKICK {chan} LIST", "End of the AKICK list")
    assert listing[1].startswith(f"  {bad_nick}!*@* :no spam please (added by {founder.nick}")
    assert cs(founder, f"AKICK {chan} DEL {bad_nick}!*@*", "removed")[-1].startswith(
        f"{bad_nick}!*@* removed from the AKICK list of {chan}")
    assert cs(founder, f"AKICK {chan} DEL {bad_nick}!*@*", "not on")[-1] == \
        f"{bad_nick}!*@* is not on the AKICK list of {chan}."
    guest = irc_client(shared_server, unique_nick("g"))
    assert cs(guest, f"AKICK {chan} ADD *!*@*", "Permission")[-1] == \
        f"Permission denied: AKICK ADD in {chan} needs SOP access or more (yours: none)."


# -- OP / DEOP / VOICE / DEVOICE / INVITE / UNBAN --------------------------------------------------


def test_op_deop_voice_devoice(shared_server, irc_client):
    """The founder ops, deops, voices and devoices a user through ChanServ; a stranger is refused."""
    founder, chan = founded(shared_server, irc_client)
    guest = irc_client(shared_server, unique_nick("g"))
    guest.join(chan)
    for verb, mode in (("OP", "+o"), ("DEOP", "-o"), ("VOICE", "+v"), ("DEVOICE", "-v")):
        founder.send(f"PRIVMSG ChanServ :{verb} {chan} {guest.nick}")
        chanserv_mode(guest, chan, mode, guest.nick)
    assert cs(founder, f"DEVOICE {chan} {guest.nick}", "voiced")[-1] == f"{guest.nick} is not voiced in {chan}."
    assert cs(guest, f"OP {chan}", "Permission")[-1] == \
        f"Permission denied: OP in {chan} needs AOP access or more (yours: none)."
    assert cs(founder, f"OP {chan} nobody-here", "No such")[-1] == "No such nick: nobody-here."
    assert cs(founder, f"OP {fresh_channel()}", "not registered")[-1].endswith("is not registered.")


def test_invite_and_unban(shared_server, irc_client):
    """A UOP banned from a +i channel: UNBAN lifts the ban, INVITE lets it in."""
    founder, chan = founded(shared_server, irc_client)
    user = irc_client(shared_server, unique_nick("u"))
    login(user)
    cs(founder, f"ACCESS {chan} ADD {user.nick} UOP", "added")
    founder.send(f"MODE {chan} +ib {user.nick}!*@*")
    founder.expect("MODE")
    assert cs(user, f"UNBAN {chan}", "ban")[-1] == f"Removed 1 ban matching you from {chan}."
    user.send(f"JOIN {chan}")
    assert user.expect(["473", "JOIN"]).command == "473"
    replies = cs(user, f"INVITE {chan}", "invited")
    assert replies[-1] == f"You have been invited to {chan}."
    user.join(chan)
    stranger = irc_client(shared_server, unique_nick("s"))
    assert cs(stranger, f"INVITE {chan}", "Permission")[-1] == \
        f"Permission denied: INVITE in {chan} needs UOP access or more (yours: none)."
    assert cs(user, f"UNBAN {chan}", "No ban")[-1] == f"No ban in {chan} matches you."


# -- SET, locks, recreation -------------------------------------------------------------------------


def test_mlock_and_topic_restored_when_recreated(shared_server, irc_client):
    """With MLOCK +ntk-s key and a topic: MODE +s is undone, and an emptied channel comes back with both."""
    founder, chan = founded(shared_server, irc_client)
    assert cs(founder, f"SET {chan} MLOCK +ntk-s sekrit", "Mode lock")[-1] == \
        f"Mode lock of {chan} is now +ntk-s sekrit."
    chanserv_mode(founder, chan, "+k", "sekrit")
    founder.send(f"MODE {chan} +s")
    chanserv_mode(founder, chan, "-s")
    founder.send(f"TOPIC {chan} :Remember me")
    founder.expect("TOPIC")
    founder.send(f"PART {chan}")
    founder.expect("PART")
    other = irc_client(shared_server, unique_nick("o"))
    other.send(f"JOIN {chan} sekrit")
    topic = other.expect(lambda m: m.command == "TOPIC" and (m.nick or "") == "ChanServ")
    assert topic.params == [chan, "Remember me"]
    other.send(f"MODE {chan}")
    assert other.expect("324").params[2:] == ["+ntk", "sekrit"]
    assert cs(founder, f"SET {chan} MLOCK +o", "cannot")[-1] == "Mode o cannot be locked (lockable: imnpstkl)."


def test_topiclock_and_secureops(shared_server, irc_client):
    """TOPICLOCK puts back a topic set by an op without access; SECUREOPS takes back an op given to one."""
    founder, chan = founded(shared_server, irc_client)
    guest = irc_client(shared_server, unique_nick("g"))
    guest.join(chan)
    founder.send(f"TOPIC {chan} :Official")
    founder.expect("TOPIC")
    assert cs(founder, f"SET {chan} TOPICLOCK on", "TOPICLOCK")[-1] == f"TOPICLOCK of {chan} is now on."
    founder.send(f"MODE {chan} +o {guest.nick}")
    founder.expect("MODE")
    guest.send(f"TOPIC {chan} :hijacked")
    back = founder.expect(lambda m: m.command == "TOPIC" and (m.nick or "") == "ChanServ")
    assert back.params == [chan, "Official"]
    assert cs(founder, f"SET {chan} SECUREOPS on", "SECUREOPS")[-1] == f"SECUREOPS of {chan} is now on."
    chanserv_mode(founder, chan, "-o", guest.nick)
    founder.send(f"MODE {chan} +o {guest.nick}")
    chanserv_mode(founder, chan, "-o", guest.nick)
    assert cs(founder, f"SET {chan} SECUREOPS maybe", "ON or OFF")[-1] == "SECUREOPS takes ON or OFF."


def test_info_drop_and_help(shared_server, irc_client):
    """INFO shows founder and settings to anyone; DROP is the founder's; HELP covers every command."""
    founder, chan = founded(shared_server, irc_client)
    stranger = irc_client(shared_server, unique_nick("s"))
    info = cs(stranger, f"INFO {chan}", "End of information")
    assert f"  Founder:    {founder.nick}" in info and "  Mode lock:  +nt" in info
    assert cs(stranger, f"DROP {chan}", "Permission")[-1] == \
        f"Permission denied: only the founder of {chan} or a services administrator may drop it."
    assert cs(founder, f"DROP {chan}", "dropped")[-1] == f"{chan} has been dropped: it is no longer registered."
    assert cs(stranger, f"INFO {chan}", "not registered")[-1] == f"{chan} is not registered."
    listing = cs(stranger, "HELP", "HELP <command>")
    for name in ("REGISTER", "ACCESS", "AKICK", "OP", "DEOP", "VOICE", "DEVOICE", "INVITE", "UNBAN", "INFO",
                 "SET", "DROP"):
        assert any(line.split()[:1] == [name] for line in listing), name
        text = cs(stranger, f"HELP {name}", "Syntax:")
        assert text[-1].startswith("Syntax: "), name


# -- durability ----------------------------------------------------------------------------------------


def test_registration_survives_kill_and_restart(irc_server, irc_client):
    """An acknowledged REGISTER, ACCESS ADD and SET survive kill -9; the founder gets +q after the restart."""
    server = irc_server(services=True)
    founder, chan = founded(server, irc_client)
    helper = irc_client(server, unique_nick("h"))
    login(helper)
    cs(founder, f"ACCESS {chan} ADD {helper.nick} AOP", "added")
    cs(founder, f"SET {chan} TOPICLOCK on", "TOPICLOCK")
    server.kill()
    server.start(write_config=False)
    again = irc_client(server, founder.nick)
    identify(again)
    again.join(chan)
    chanserv_mode(again, chan, "+q", founder.nick)
    info = cs(again, f"INFO {chan}", "End of information")
    assert "  Options:    TOPICLOCK on, SECUREOPS off" in info
    listing = cs(again, f"ACCESS {chan} LIST", "End of the access list")
    assert listing[2].split()[:2] == ["AOP", helper.nick]
