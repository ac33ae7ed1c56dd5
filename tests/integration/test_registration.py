"""
Registration against a real ``twistd -n conferenceroom`` process: PASS, NICK
and USER in any order, CAP negotiation (LS 302, REQ, LIST, END, NAK), the
contents of 001-005, and nick collisions before and after registration.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import NETWORK, SERVER_NAME
from tests.integration.ircclient import isupport_tokens, unique_nick

WELCOME = ("001", "002", "003", "004", "005")


def _cap_ls(client, version="302"):
    """Send CAP LS and return (lines, set of capability names offered)."""
    client.send(f"CAP LS {version}".strip())
    lines = client.collect(lambda m: m.command == "CAP" and m.params[1] == "LS"
                           and m.params[2] != "*")
    offered = set()
    for m in lines:
        if m.command == "CAP":
            offered.update(item.split("=", 1)[0] for item in m.params[-1].split())
    return lines, offered


def test_nick_then_user_registers(shared_server, irc_client):
    """NICK then USER registers: 001 names the nick, ~ident and 127.0.0.1."""
    nick = unique_nick("nu")
    c = irc_client(shared_server)
    c.send(f"NICK {nick}")
    c.send("USER nuident 0 * :Nick First")
    welcome = c.expect("001")
    assert welcome.params[0] == nick
    assert welcome.trailing.endswith(f"{nick}!~nuident@127.0.0.1"), welcome.raw
    c.expect("376")


def test_user_then_nick_registers(shared_server, irc_client):
    """USER before NICK also registers, and nothing is answered before NICK."""
    nick = unique_nick("un")
    c = irc_client(shared_server)
    c.send("USER unident 0 * :User First")
    c.assert_silent(timeout=0.3)
    c.send(f"NICK {nick}")
    welcome = c.expect("001")
    assert welcome.params[0] == nick, welcome.raw
    assert f"{nick}!~unident@" in welcome.trailing, welcome.raw


def test_pass_before_nick_user_is_accepted(shared_server, irc_client):
    """PASS before NICK/USER (no server password set) does not hinder
    registration; PASS and USER after registration get 462."""
    nick = unique_nick("pw")
    c = irc_client(shared_server)
    burst = c.register(nick, password="anything")
    assert burst[0].command != "464"
    assert any(m.command == "001" for m in burst)
    c.send("PASS again")
    assert c.expect(["462", "464"]).command == "462"
    c.send("USER x 0 * :again")
    err = c.expect("462")
    assert err.params[0] == nick, err.raw


def test_cap_ls_302_holds_registration_until_cap_end(shared_server, irc_client):
    """
    After CAP LS 302 the server withholds 001 until CAP END; the LS reply
    is addressed to ``*`` and offers the advertised capabilities.
    """
    nick = unique_nick("cap")
    c = irc_client(shared_server)
    lines, offered = _cap_ls(c)
    assert lines[-1].params[0] == "*", lines[-1].raw
    for cap in ("multi-prefix", "server-time", "message-tags", "echo-message",
                "away-notify", "userhost-in-names", "cap-notify"):
        assert cap in offered, offered
    c.send(f"NICK {nick}")
    c.send("USER capper 0 * :Cap User")
    c.assert_silent("001", timeout=0.5)
    c.send("CAP END")
    assert c.expect("001").params[0] == nick


def test_cap_req_ack_and_list(shared_server, irc_client):
    """CAP REQ of offered caps is ACKed with the same list; CAP LIST then
    names them (cap-notify is implied by 302); -cap removes one."""
    c = irc_client(shared_server)
    _cap_ls(c)
    c.send("CAP REQ :multi-prefix server-time")
    ack = c.expect("CAP")
    assert ack.params[1] == "ACK", ack.raw
    assert set(ack.trailing.split()) == {"multi-prefix", "server-time"}
    c.send("CAP LIST")
    listed = c.expect("CAP")
    assert listed.params[1] == "LIST", listed.raw
    assert {"multi-prefix", "server-time", "cap-notify"} <= set(listed.trailing.split())
    c.send("CAP REQ :-server-time")
    assert c.expect("CAP").params[1:] == ["ACK", "-server-time"]
    c.send("CAP LIST")
    now = set(c.expect("CAP").trailing.split())
    assert "server-time" not in now and "multi-prefix" in now, now
    c.send(f"NICK {unique_nick('cl')}")
    c.send("USER cl 0 * :x")
    c.send("CAP END")
    c.expect("001")
    c.send("CAP LIST")
    assert "multi-prefix" in c.expect("CAP").trailing.split()


def test_cap_req_unknown_is_nakked_whole(shared_server, irc_client):
    """A CAP REQ naming one unknown cap is NAKed as a whole: none of the
    list is enabled."""
    c = irc_client(shared_server)
    _cap_ls(c)
    c.send("CAP REQ :multi-prefix bogus-cap-xyz")
    nak = c.expect("CAP")
    assert nak.params[1] == "NAK", nak.raw
    assert nak.trailing == "multi-prefix bogus-cap-xyz", nak.raw
    c.send("CAP LIST")
    assert "multi-prefix" not in c.expect("CAP").trailing.split()


def test_cap_ls_without_version_and_bad_subcommand(shared_server, irc_client):
    """Plain CAP LS lists caps without values or continuation; an unknown
    CAP subcommand gets 410 naming it; CAP alone gets 461."""
    c = irc_client(shared_server)
    lines, offered = _cap_ls(c, version="")
    assert "multi-prefix" in offered
    assert all(m.params[2] != "*" for m in lines if m.command == "CAP")
    c.send("CAP FROB")
    err = c.expect("410")
    assert err.params[1] == "FROB", err.raw
    c.send("CAP")
    assert c.expect("461").params[1] == "CAP"


def test_cap_after_registration(shared_server, irc_client):
    """CAP REQ works after registration too (ACK addressed to the nick)."""
    nick = unique_nick("late")
    c = irc_client(shared_server, nick)
    c.send("CAP REQ :echo-message")
    ack = c.expect("CAP")
    assert ack.params[:2] == [nick, "ACK"], ack.raw
    c.send(f"PRIVMSG {nick} :echo to myself")
    got = c.expect("PRIVMSG")
    assert got.trailing == "echo to myself"


def test_welcome_numerics_contents(shared_server, irc_client):
    """
    001-005 are sent in order with the documented contents: 002 names the
    server and version, 003 a creation date, 004 server/version/user modes/
    channel modes/parameter modes, and 005 the ISUPPORT tokens clients use;
    LUSERS (251-266) follows.
    """
    nick = unique_nick("w")
    c = irc_client(shared_server)
    burst = c.register(nick)
    by = {}
    for m in burst:
        by.setdefault(m.command, m)
    order = [m.command for m in burst if m.command in WELCOME]
    assert order[:4] == ["001", "002", "003", "004"] and set(order[4:]) == {"005"}, order
    assert NETWORK in by["001"].trailing
    assert SERVER_NAME in by["002"].trailing and "conferenceroom" in by["002"].trailing
    assert "created" in by["003"].trailing
    myinfo = by["004"].params
    assert myinfo[1] == SERVER_NAME and myinfo[2].startswith("conferenceroom")
    assert set("iosw") <= set(myinfo[3]), myinfo
    assert set("beIklimnpstqov") <= set(myinfo[4]), myinfo
    tokens = isupport_tokens(burst, fold_keys=False)
    assert tokens["CASEMAPPING"] == "rfc1459"
    assert tokens["NETWORK"] == NETWORK
    assert tokens["PREFIX"] == "(qov)~@+", tokens["PREFIX"]
    assert tokens["CHANTYPES"] == "#&"
    assert tokens["CHANMODES"].split(",")[0] == "beI", tokens["CHANMODES"]
    assert tokens["STATUSMSG"] == "~@+", tokens["STATUSMSG"]
    assert "WHOX" in tokens and "EXCEPTS" in tokens
    assert int(tokens["NICKLEN"]) >= 9
    assert tokens["ELIST"], tokens
    for code in ("251", "252", "253", "254", "255", "265", "266"):
        assert code in by, f"missing {code} in burst"


def test_nick_in_use_before_registration(shared_server, irc_client):
    """A nick taken by a registered user (compared with rfc1459 case mapping)
    gets 433 with the nick; a second NICK then completes registration."""
    base = unique_nick("Col")
    first = irc_client(shared_server, base + "[")
    c = irc_client(shared_server)
    c.send(f"NICK {base.lower()}{{")
    c.send("USER dup 0 * :dup")
    err = c.expect("433")
    assert err.params[:2] == ["*", f"{base.lower()}{{"], err.raw
    c.assert_silent("001", timeout=0.3)
    other = unique_nick("free")
    c.send(f"NICK {other}")
    assert c.expect("001").params[0] == other
    assert first.nick == base + "["


def test_nick_race_between_unregistered_clients(shared_server, irc_client):
    """Two unregistered clients may both hold a NICK; whoever completes USER
    first gets it and the other is told 433 when it sends USER."""
    nick = unique_nick("race")
    a, b = irc_client(shared_server), irc_client(shared_server)
    a.send(f"NICK {nick}")
    b.send(f"NICK {nick}")
    a.send("USER a 0 * :a")
    assert a.expect("001").params[0] == nick
    b.send("USER b 0 * :b")
    assert b.expect(["433", "001"]).command == "433"


def test_nick_change_collision_and_announce(shared_server, irc_client):
    """After registration NICK to a taken nick gets 433 (nothing changes);
    a free nick is announced to channel peers as :old!user@host NICK new."""
    a_nick, b_nick, new = unique_nick("nca"), unique_nick("ncb"), unique_nick("ncn")
    a = irc_client(shared_server, a_nick)
    b = irc_client(shared_server, b_nick)
    chan = "#" + unique_nick("nickch")
    a.join(chan)
    b.join(chan)
    a.send(f"NICK {b_nick.upper()}")
    err = a.expect("433")
    assert err.params[:2] == [a_nick, b_nick.upper()], err.raw
    a.send(f"NICK {new}")
    mine = a.expect("NICK")
    assert mine.nick == a_nick and mine.params == [new], mine.raw
    seen = b.expect("NICK")
    assert seen.source.startswith(f"{a_nick}!") and seen.params == [new], seen.raw


@pytest.mark.parametrize("bad", ["1abc", "a*b", "#chan", "a" * 40, "nick!x"])
def test_erroneous_nick(shared_server, irc_client, bad):
    """An invalid nick (leading digit, wildcard, channel prefix, too long,
    !) gets 432 naming it, and registration does not complete."""
    c = irc_client(shared_server)
    c.send(f"NICK {bad}")
    c.send("USER e 0 * :e")
    err = c.expect(["432", "001"])
    assert err.command == "432", err.raw
    assert err.params[1] == bad
    c.assert_silent("001", timeout=0.3)


def test_nick_without_parameter(shared_server, irc_client):
    """NICK with no nick gets 431, before and after registration."""
    c = irc_client(shared_server)
    c.send("NICK")
    assert c.expect(["431", "461"]).command == "431"
    nick = unique_nick("nn")
    c.register(nick)
    c.send("NICK :")
    assert c.expect(["431", "461"]).command == "431"


def test_quit_before_registration(shared_server, irc_client):
    """QUIT before registration is answered with ERROR and the close."""
    c = irc_client(shared_server)
    c.send("NICK " + unique_nick("qb"))
    c.send("QUIT :leaving early")
    lines = c.wait_closed()
    assert any(m.command == "ERROR" for m in lines), [m.raw for m in lines]

