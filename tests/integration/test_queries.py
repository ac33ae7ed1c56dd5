"""
Queries against a real ``twistd -n conferenceroom`` process: WHO (with
WHOX), WHOIS of oneself, others, operators and away users, WHOWAS after a
nick change and a quit, LIST with ELIST filters, and the server queries
MOTD, LUSERS, VERSION, TIME, ADMIN, INFO, STATS, LINKS and MAP.
"""

from __future__ import annotations

import re

from tests.integration.conftest import ADMIN_OPER, MOTD_LINES, NETWORK, SERVER_NAME
from tests.integration.ircclient import unique_nick


def _chan(prefix="q"):
    """A channel name no other test uses."""
    return "#" + unique_nick(prefix)


# -- WHO --------------------------------------------------------------------------


def test_who_channel(shared_server, irc_client):
    """WHO #chan gives one 352 per member (channel, ~user, host, server,
    nick, H/G flags with @, "hops realname") and 315 naming the mask."""
    a = irc_client(shared_server, unique_nick("wa"), realname="Real A")
    b = irc_client(shared_server, unique_nick("wb"))
    chan = _chan("who")
    a.join(chan)
    b.join(chan)
    b.send("AWAY :away now")
    b.expect("306")
    a.send(f"WHO {chan}")
    lines = a.collect("315")
    replies = {m.params[5]: m for m in lines if m.command == "352"}
    assert set(replies) == {a.nick, b.nick}
    ra = replies[a.nick]
    assert ra.params[1:6] == [chan, f"~{a.nick.lower()}", "127.0.0.1", SERVER_NAME, a.nick], ra.raw
    assert ra.params[6] == "H@", ra.raw
    assert ra.trailing == "0 Real A", ra.raw
    assert replies[b.nick].params[6] == "G", replies[b.nick].raw
    assert lines[-1].params[1] == chan


def test_who_nick_and_oper_flag(shared_server, irc_client):
    """WHO <nick> gives that user with channel *; an operator has * in its
    flags; WHO <mask> o lists only operators."""
    a = irc_client(shared_server, unique_nick("wn"))
    oper = irc_client(shared_server, unique_nick("wo"))
    oper.oper(*ADMIN_OPER[:2])
    a.send(f"WHO {oper.nick}")
    lines = a.collect("315")
    reply = next(m for m in lines if m.command == "352")
    assert reply.params[1] == "*" and reply.params[5] == oper.nick
    assert reply.params[6] == "H*", reply.raw
    a.send(f"WHO {a.nick[:3]}* o")
    lines = a.collect("315")
    assert not any(m.command == "352" for m in lines), [m.raw for m in lines]
    a.send("WHO w* o")
    listed = {m.params[5] for m in a.collect("315") if m.command == "352"}
    assert oper.nick in listed and a.nick not in listed, listed


def test_whox(shared_server, irc_client):
    """WHO #chan %tcuhnfar,42 gives 354 with the token and the requested
    fields in the fixed t c u i h s n f d l a o r order."""
    a = irc_client(shared_server, unique_nick("xa"), realname="Whox Real")
    chan = _chan("wx")
    a.join(chan)
    a.send(f"WHO {chan} %tcuhnfar,42")
    lines = a.collect("315")
    reply = next(m for m in lines if m.command == "354")
    assert reply.params == [a.nick, "42", chan, f"~{a.nick.lower()}", "127.0.0.1",
                            a.nick, "H@", "0", "Whox Real"], reply.raw
    a.send(f"WHO {a.nick} %na")
    reply = a.expect("354")
    assert reply.params == [a.nick, a.nick, "0"], reply.raw


def test_who_hides_invisible_users(shared_server, irc_client):
    """An invisible (+i) user is not found by a WHO mask from someone who
    shares no channel, but is by its exact nick and by channel mates."""
    hidden = irc_client(shared_server, unique_nick("inv"))
    hidden.send(f"MODE {hidden.nick} +i")
    hidden.expect("MODE")
    visible = irc_client(shared_server, unique_nick("inv"))
    other = irc_client(shared_server, unique_nick("see"))
    other.send(f"WHO {hidden.nick[:3]}*")
    found = {m.params[5] for m in other.collect("315") if m.command == "352"}
    assert visible.nick in found and hidden.nick not in found, found
    other.send(f"WHO {hidden.nick}")
    assert [m.params[5] for m in other.collect("315") if m.command == "352"] == [hidden.nick]
    chan = _chan("inv")
    hidden.join(chan)
    other.join(chan)
    other.send(f"WHO {hidden.nick[:3]}*")
    found = {m.params[5] for m in other.collect("315") if m.command == "352"}
    assert {visible.nick, hidden.nick} <= found, found


# -- WHOIS ------------------------------------------------------------------------


def test_whois_self(shared_server, irc_client):
    """WHOIS of oneself: 311 (nick ~user host * realname), 319 with @#chan,
    312 server, 378 real host, 317 idle/signon, 318 last."""
    a = irc_client(shared_server, unique_nick("ws"), realname="Self Real")
    chan = _chan("wi")
    a.join(chan)
    a.send(f"WHOIS {a.nick}")
    lines = a.collect("318")
    by = {m.command: m for m in lines}
    assert by["311"].params[1:] == [a.nick, f"~{a.nick.lower()}", "127.0.0.1", "*", "Self Real"]
    assert f"@{chan}" in by["319"].trailing.split()
    assert by["312"].params[1:3] == [a.nick, SERVER_NAME]
    assert "378" in by and "127.0.0.1" in by["378"].trailing
    assert by["317"].params[1] == a.nick and by["317"].params[3].isdigit()
    assert lines[-1].command == "318" and lines[-1].params[1] == a.nick
    assert "313" not in by and "301" not in by


def test_whois_other_oper_and_away(shared_server, irc_client):
    """WHOIS of another user shows no real-host 378; of an operator 313; of
    an away user 301 with the text; of an unknown nick 401 then 318."""
    a = irc_client(shared_server, unique_nick("wo"))
    b = irc_client(shared_server, unique_nick("wt"))
    b.oper(*ADMIN_OPER[:2])
    b.send("AWAY :lunch")
    b.expect("306")
    a.send(f"WHOIS {b.nick}")
    by = {m.command: m for m in a.collect("318")}
    assert "378" not in by
    assert by["313"].params[1] == b.nick, by["313"].raw
    assert by["301"].params[1:] == [b.nick, "lunch"]
    a.send("WHOIS nosuchnick44")
    lines = a.collect("318")
    assert [m.command for m in lines] == ["401", "318"], [m.raw for m in lines]
    assert lines[0].params[1] == "nosuchnick44"


# -- WHOWAS -------------------------------------------------------------------------


def test_whowas_after_nick_change_and_quit(shared_server, irc_client):
    """WHOWAS finds a nick given up by a nick change and one that quit: 314
    (nick ~user host * realname), 312 and 369; an unknown nick 406 + 369."""
    a = irc_client(shared_server, unique_nick("wwa"), realname="Was A")
    b = irc_client(shared_server, unique_nick("wwb"))
    old = a.nick
    a.send(f"NICK {unique_nick('wwn')}")
    a.expect("NICK")
    b.send(f"WHOWAS {old}")
    lines = b.collect("369")
    entry = next(m for m in lines if m.command == "314")
    assert entry.params[1:] == [old, f"~{old.lower()}", "127.0.0.1", "*", "Was A"], entry.raw
    assert next(m for m in lines if m.command == "312").params[2] == SERVER_NAME
    quitter = irc_client(shared_server, unique_nick("wwq"))
    gone = quitter.nick
    quitter.quit()
    b.send(f"WHOWAS {gone}")
    lines = b.collect("369")
    assert next(m for m in lines if m.command == "314").params[1] == gone
    b.send("WHOWAS neverseen99")
    lines = b.collect("369")
    assert [m.command for m in lines] == ["406", "369"]


# -- LIST ----------------------------------------------------------------------------


def test_list_elist_filters(shared_server, irc_client):
    """LIST with ELIST conditions: >n/<n users, a name mask, a !mask, and
    C</T< creation and topic age (in minutes)."""
    a = irc_client(shared_server, unique_nick("la"))
    b = irc_client(shared_server, unique_nick("lb"))
    tag = unique_nick("el")
    big, small = f"#{tag}big", f"#{tag}sml"
    a.join(big)
    b.join(big)
    a.join(small)
    a.send(f"TOPIC {small} :small topic")
    a.expect("TOPIC")

    def listed(spec):
        a.send(f"LIST {spec}")
        return {m.params[1] for m in a.collect("323") if m.command == "322"}

    mine = {big, small}
    assert listed(">1") & mine == {big}
    assert listed("<2") & mine == {small}
    assert listed(f"#{tag}*") == mine
    assert listed(f"#{tag}*,!*big") == {small}
    assert listed("C<5") & mine == mine
    assert listed("C>5") & mine == set()
    assert listed("T<5") & mine == {small}
    assert listed(big) == {big}


# -- server queries --------------------------------------------------------------------


def test_motd_and_lusers(shared_server, irc_client):
    """MOTD sends 375, the file as 372s, 376; LUSERS 251-255 and 265/266 with
    counts that include this user."""
    a = irc_client(shared_server, unique_nick("ml"))
    a.send("MOTD")
    lines = a.collect("376")
    assert lines[0].command == "375"
    body = [m.trailing for m in lines if m.command == "372"]
    assert all(any(line in t for t in body) for line in MOTD_LINES), body
    a.send("LUSERS")
    lines = a.collect("266")
    by = {m.command: m for m in lines}
    assert {"251", "252", "253", "254", "255", "265", "266"} <= set(by)
    assert int(by["265"].params[1]) >= 1 and int(by["266"].params[1]) >= 1
    assert "1 servers" in by["251"].trailing, by["251"].raw


def test_version_time_admin_info(shared_server, irc_client):
    """VERSION gives 351 (version, server) and ISUPPORT; TIME 391 with the
    server name; ADMIN 256-259; INFO 371 lines and 374."""
    a = irc_client(shared_server, unique_nick("vt"))
    a.send("VERSION")
    v = a.expect("351")
    assert v.params[1].startswith("conferenceroom") and v.params[2] == SERVER_NAME, v.raw
    isupport = a.expect(lambda m: m.command == "005" and any(
        p.startswith("NETWORK=") for p in m.params))
    assert "NETWORK=" + NETWORK in isupport.params, isupport.raw
    a.send("TIME")
    t = a.expect("391")
    assert t.params[1] == SERVER_NAME, t.raw
    a.send("ADMIN")
    lines = a.collect("259")
    assert [m.command for m in lines] == ["256", "257", "258", "259"]
    assert lines[0].params[1] == SERVER_NAME
    a.send("INFO")
    lines = a.collect("374")
    assert any("conferenceroom" in m.trailing for m in lines if m.command == "371")
    a.send("VERSION no.such.server")
    assert a.expect("402").params[1] == "no.such.server"


def test_stats(shared_server, irc_client):
    """STATS u gives 242 uptime; STATS o needs an operator (481 otherwise,
    243 per oper entry for one); STATS l lists one's own connection; every
    STATS ends with 219 naming the letter."""
    a = irc_client(shared_server, unique_nick("sa"))
    a.send("STATS u")
    lines = a.collect("219")
    assert lines[0].command == "242" and "Server Up" in lines[0].trailing
    assert lines[-1].params[1] == "u"
    a.send("STATS o")
    assert [m.command for m in a.collect("219")] == ["481", "219"]
    a.send("STATS l")
    lines = a.collect("219")
    links = [m for m in lines if m.command == "211"]
    assert len(links) == 1 and links[0].params[1].startswith(f"{a.nick}["), links
    oper = irc_client(shared_server, unique_nick("so"))
    oper.oper(*ADMIN_OPER[:2])
    oper.send("STATS o")
    olines = [m for m in oper.collect("219") if m.command == "243"]
    assert all(m.params[1:4] == ["O", "*@*", "*"] for m in olines), [m.raw for m in olines]
    names = {m.params[4] for m in olines}
    assert {"admin", "helper"} <= names, names
    oper.send("STATS m")
    counted = {m.params[1] for m in oper.collect("219") if m.command == "212"}
    assert "STATS" in counted, counted


def test_links_and_map(shared_server, irc_client):
    """LINKS lists this server (364, hop 0) then 365; MAP shows it with its
    user count then 017."""
    a = irc_client(shared_server, unique_nick("lm"))
    a.send("LINKS")
    lines = a.collect("365")
    assert lines[0].command == "364"
    assert lines[0].params[1:3] == [SERVER_NAME, SERVER_NAME], lines[0].raw
    assert lines[0].trailing.startswith("0 "), lines[0].raw
    a.send("MAP")
    lines = a.collect("017")
    assert lines[0].command == "015" and SERVER_NAME in lines[0].trailing
    count = re.search(r" (\d+) users? \[\d+\.\d%\]$", lines[0].trailing)
    assert count and int(count.group(1)) >= 1, lines[0].raw  # this client at least
