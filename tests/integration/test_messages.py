"""
Messages against a real ``twistd -n conferenceroom`` process: PRIVMSG and
NOTICE to users and channels, STATUSMSG, operator $server and #host masks,
echo-message, message-tags relaying, server-time, AWAY replies, ISON and
USERHOST.
"""

from __future__ import annotations

import re

from tests.integration.conftest import ADMIN_OPER, SERVER_NAME
from tests.integration.ircclient import IRCClient, unique_nick

TIME_TAG = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _chan(prefix="m"):
    """A channel name no other test uses."""
    return "#" + unique_nick(prefix)


def _pair(shared_server, irc_client, **kwargs):
    """Two registered clients (the second with ``kwargs`` for register)."""
    a = irc_client(shared_server, unique_nick("ma"))
    b = irc_client(shared_server, unique_nick("mb"), **kwargs)
    return a, b


def test_privmsg_and_notice_to_user(shared_server, irc_client):
    """PRIVMSG and NOTICE to a nick (case-insensitively) arrive with the
    sender's full mask and the recipient's nick as target."""
    a, b = _pair(shared_server, irc_client)
    a.send(f"PRIVMSG {b.nick.upper()} :hi there")
    got = b.expect("PRIVMSG")
    assert got.source.startswith(f"{a.nick}!~") and got.source.endswith("@127.0.0.1")
    assert got.params == [b.nick, "hi there"], got.raw
    a.send(f"NOTICE {b.nick} :a notice")
    got = b.expect("NOTICE")
    assert got.nick == a.nick and got.params == [b.nick, "a notice"]


def test_one_word_free_text_keeps_its_colon_on_the_wire(shared_server, irc_client):
    """A one-word PRIVMSG, NOTICE, TOPIC, PART reason and QUIT reason reach
    others with the text as a ':' trailing parameter, as hybrid writes them."""
    a, b = _pair(shared_server, irc_client)
    chan = _chan()
    a.join(chan)
    b.join(chan)
    a.send(f"PRIVMSG {b.nick} hello")
    assert b.expect("PRIVMSG").raw.endswith(f" PRIVMSG {b.nick} :hello")
    a.send(f"NOTICE {chan} psst")
    assert b.expect("NOTICE").raw.endswith(f" NOTICE {chan} :psst")
    a.send(f"TOPIC {chan} news")
    assert b.expect("TOPIC").raw.endswith(f" TOPIC {chan} :news")
    a.send(f"PART {chan} bye")
    assert b.expect("PART").raw.endswith(f" PART {chan} :bye")
    a.join(chan)
    b.expect("JOIN")
    a.send("QUIT gone")
    assert b.expect("QUIT").raw.endswith(" QUIT :Quit: gone")


def test_ctcp_action_passes_intact(shared_server, irc_client):
    """A CTCP ACTION (with \\x01 delimiters) reaches the channel unchanged."""
    a, b = _pair(shared_server, irc_client)
    chan = _chan()
    a.join(chan)
    b.join(chan)
    a.send(f"PRIVMSG {chan} :\x01ACTION waves\x01")
    assert b.expect("PRIVMSG").trailing == "\x01ACTION waves\x01"


def test_privmsg_errors_and_silent_notice(shared_server, irc_client):
    """PRIVMSG to an unknown nick gets 401, with no target 411, without text
    412; the same mistakes with NOTICE get no reply at all."""
    a = irc_client(shared_server, unique_nick("pe"))
    a.send("PRIVMSG nosuchnick11 :hello")
    assert a.expect("401").params[1] == "nosuchnick11"
    a.send("PRIVMSG")
    assert a.expect(["411", "461"]).command == "411"
    a.send(f"PRIVMSG {a.nick}")
    assert a.expect(["412", "461"]).command == "412"
    a.send("NOTICE nosuchnick11 :hello")
    a.send("NOTICE")
    a.send("NOTICE #nosuchchan11 :x")
    a.assert_silent(timeout=0.4)


def test_multiple_targets_and_too_many(shared_server, irc_client):
    """PRIVMSG a,b reaches both; more than MAXTARGETS (4) distinct targets
    gets 407 and nothing is delivered."""
    a, b = _pair(shared_server, irc_client)
    c = irc_client(shared_server, unique_nick("mc"))
    a.send(f"PRIVMSG {b.nick},{c.nick} :to both")
    assert b.expect("PRIVMSG").params == [b.nick, "to both"]
    assert c.expect("PRIVMSG").params == [c.nick, "to both"]
    a.send(f"PRIVMSG {b.nick},{c.nick},x1,x2,x3 :too many")
    assert a.expect("407").params[1] == "x3", "407 names the first target over the limit (the fifth)"
    b.assert_silent("PRIVMSG", timeout=0.3)
    c.assert_silent("PRIVMSG", timeout=0.1)


def test_channel_message_not_echoed_to_sender(shared_server, irc_client):
    """A channel PRIVMSG reaches every other member but not its sender
    (without echo-message); a NOTICE to the channel does too."""
    a, b = _pair(shared_server, irc_client)
    c = irc_client(shared_server, unique_nick("mc"))
    chan = _chan()
    for x in (a, b, c):
        x.join(chan)
    a.send(f"PRIVMSG {chan} :to the channel")
    for x in (b, c):
        got = x.expect("PRIVMSG")
        assert got.nick == a.nick and got.params == [chan, "to the channel"]
    a.send(f"NOTICE {chan} :channel notice")
    assert c.expect("NOTICE").params == [chan, "channel notice"]
    a.assert_silent(["PRIVMSG", "NOTICE"], timeout=0.3)


def test_statusmsg(shared_server, irc_client):
    """PRIVMSG @#chan reaches only ops; +#chan reaches voiced users and ops;
    the target keeps its prefix."""
    op = irc_client(shared_server, unique_nick("sop"))
    voiced = irc_client(shared_server, unique_nick("svo"))
    plain = irc_client(shared_server, unique_nick("spl"))
    chan = _chan("sm")
    for x in (op, voiced, plain):
        x.join(chan)
    op.send(f"MODE {chan} +v {voiced.nick}")
    voiced.expect("MODE")
    plain.expect("MODE")
    voiced.send(f"PRIVMSG @{chan} :ops only")
    got = op.expect("PRIVMSG")
    assert got.params == [f"@{chan}", "ops only"], got.raw
    plain.send(f"PRIVMSG +{chan} :voice and up")
    got = voiced.expect("PRIVMSG")
    assert got.params == [f"+{chan}", "voice and up"], got.raw
    assert op.expect("PRIVMSG").params[0] == f"+{chan}"
    plain.assert_silent("PRIVMSG", timeout=0.3)
    voiced.assert_silent("PRIVMSG", timeout=0.1)


def test_server_mask_message_by_oper(shared_server, irc_client):
    """An operator's PRIVMSG $<servermask> reaches users on the matching
    server; a non-operator gets 481; a mask without a dot gets 413 and a
    wildcard top-level domain 414."""
    oper = irc_client(shared_server, unique_nick("smo"))
    oper.oper(*ADMIN_OPER[:2])
    user = irc_client(shared_server, unique_nick("smu"))
    oper.send("PRIVMSG $*.local :server-wide hello")
    got = user.expect("PRIVMSG")
    assert got.nick == oper.nick and got.params == ["$*.local", "server-wide hello"], got.raw
    user.send("PRIVMSG $*.local :me too")
    assert user.expect(["481", "401"]).command == "481"
    oper.send("PRIVMSG $nodot :x")
    assert oper.expect(["413", "414"]).command == "413"
    oper.send("PRIVMSG $conferenceroom.* :x")
    assert oper.expect(["413", "414"]).command == "414"


def test_host_mask_message_by_oper(shared_server, irc_client):
    """An operator's NOTICE #<hostmask> reaches users whose host matches
    and no one else (a user connected from 127.0.0.2 does not get it)."""
    oper = irc_client(shared_server, unique_nick("hmo"))
    oper.oper(*ADMIN_OPER[:2])
    user = irc_client(shared_server, unique_nick("hmu"))
    elsewhere = IRCClient.connect(shared_server.host, shared_server.port, name="hm-elsewhere",
                                  source="127.0.0.2")
    try:
        elsewhere.register(unique_nick("hme"))
        oper.send("NOTICE #*.0.0.1 :host mask notice")
        got = user.expect(lambda m: m.command == "NOTICE" and m.nick == oper.nick)
        assert got.params == ["#*.0.0.1", "host mask notice"], got.raw
        elsewhere.assert_silent(lambda m: m.command == "NOTICE" and m.nick == oper.nick, timeout=0.3)
    finally:
        elsewhere.close()


def test_echo_message(shared_server, irc_client):
    """With echo-message the sender gets its own PRIVMSG (to a channel and to
    a nick) back as the recipients see it; with message-tags too the echo
    carries the same msgid as the delivered copy."""
    a = irc_client(shared_server, unique_nick("em"), caps=["echo-message", "message-tags"])
    b = irc_client(shared_server, unique_nick("er"), caps=["message-tags"])
    chan = _chan("ec")
    a.join(chan)
    b.join(chan)
    a.send(f"PRIVMSG {chan} :echo me")
    echo = a.expect("PRIVMSG")
    got = b.expect("PRIVMSG")
    assert echo.params == got.params == [chan, "echo me"]
    assert echo.source == got.source
    assert echo.tags.get("msgid") and echo.tags.get("msgid") == got.tags.get("msgid")
    a.send(f"NOTICE {b.nick} :notice echo")
    assert a.expect("NOTICE").params == [b.nick, "notice echo"]


def test_client_tags_relayed_only_to_message_tags_clients(shared_server, irc_client):
    """Client-only tags (+example) are relayed to recipients with
    message-tags and stripped for others; TAGMSG reaches only message-tags
    clients."""
    sender = irc_client(shared_server, unique_nick("ts"), caps=["message-tags"])
    tagged = irc_client(shared_server, unique_nick("tt"), caps=["message-tags"])
    plain = irc_client(shared_server, unique_nick("tp"))
    chan = _chan("tg")
    for x in (sender, tagged, plain):
        x.join(chan)
    sender.send(f"@+example=hello\\sworld;+draft/react=1 PRIVMSG {chan} :tagged")
    got = tagged.expect("PRIVMSG")
    assert got.tags.get("+example") == "hello world", got.raw
    assert got.tags.get("+draft/react") == "1", got.raw
    assert "msgid" in got.tags
    bare = plain.expect("PRIVMSG")
    assert bare.tags == {} and bare.trailing == "tagged", bare.raw
    sender.send(f"@+typing=active TAGMSG {chan}")
    tm = tagged.expect("TAGMSG")
    assert tm.tags.get("+typing") == "active" and tm.params == [chan], tm.raw
    plain.assert_silent("TAGMSG", timeout=0.3)


def test_server_time(shared_server, irc_client):
    """With server-time every message carries @time in the IRCv3 format;
    without it no tags appear."""
    a = irc_client(shared_server, unique_nick("st"))
    b = irc_client(shared_server, unique_nick("sr"), caps=["server-time"])
    a.send(f"PRIVMSG {b.nick} :what time")
    got = b.expect("PRIVMSG")
    assert TIME_TAG.match(got.tags.get("time", "")), got.raw
    assert "msgid" not in got.tags
    b.send("PING :tok")
    pong = b.expect("PONG")
    assert TIME_TAG.match(pong.tags.get("time", "")), pong.raw
    b.send(f"PRIVMSG {a.nick} :back")
    assert a.expect("PRIVMSG").tags == {}


def test_away_replies_and_notify(shared_server, irc_client):
    """AWAY :text gets 306; a PRIVMSG to the away user gets 301 with the
    text (a NOTICE does not); a channel peer with away-notify sees AWAY;
    AWAY alone gets 305 and ends the 301s."""
    a = irc_client(shared_server, unique_nick("aw"))
    b = irc_client(shared_server, unique_nick("ab"))
    watcher = irc_client(shared_server, unique_nick("an"), caps=["away-notify"])
    chan = _chan("aw")
    a.join(chan)
    watcher.join(chan)
    a.send("AWAY :gone fishing")
    assert a.expect("306").params[0] == a.nick
    notify = watcher.expect("AWAY")
    assert notify.nick == a.nick and notify.params == ["gone fishing"], notify.raw
    b.send(f"PRIVMSG {a.nick} :you there?")
    away = b.expect("301")
    assert away.params[1:] == [a.nick, "gone fishing"], away.raw
    assert a.expect("PRIVMSG").trailing == "you there?"
    b.send(f"NOTICE {a.nick} :quiet")
    b.assert_silent("301", timeout=0.3)
    a.send("AWAY")
    a.expect("305")
    assert watcher.expect("AWAY").params == []
    b.send(f"PRIVMSG {a.nick} :back?")
    b.assert_silent("301", timeout=0.3)


def test_ison(shared_server, irc_client):
    """ISON answers 303 with the online nicks in their own case, in order,
    omitting unknown ones."""
    a, b = _pair(shared_server, irc_client)
    a.send(f"ISON {b.nick.upper()} nosuchnick22 {a.nick}")
    got = a.expect("303")
    assert got.trailing.split() == [b.nick, a.nick], got.raw
    a.send("ISON nosuchnick22")
    assert a.expect("303").trailing == ""


def test_userhost(shared_server, irc_client):
    """USERHOST answers 302 with nick=+user@host; an operator has * and an
    away user -; unknown nicks are left out."""
    a, b = _pair(shared_server, irc_client)
    oper = irc_client(shared_server, unique_nick("uo"))
    oper.oper(*ADMIN_OPER[:2])
    b.send("AWAY :brb")
    b.expect("306")
    a.send(f"USERHOST {a.nick} {b.nick} {oper.nick} nosuchnick33")
    got = a.expect("302")
    entries = got.trailing.split()
    assert entries == [
        f"{a.nick}=+~{a.nick.lower()}@127.0.0.1",
        f"{b.nick}=-~{b.nick.lower()}@127.0.0.1",
        f"{oper.nick}*=+~{oper.nick.lower()}@127.0.0.1",
    ], got.raw


def test_wallops_to_plus_w_users(shared_server, irc_client):
    """An operator's WALLOPS reaches users with +w; a non-operator gets 481."""
    oper = irc_client(shared_server, unique_nick("wo"))
    oper.oper(*ADMIN_OPER[:2])
    listener = irc_client(shared_server, unique_nick("wl"))
    listener.send(f"MODE {listener.nick} +w")
    listener.expect("MODE")
    oper.send("WALLOPS :attention all")
    got = listener.expect("WALLOPS")
    assert got.nick == oper.nick and got.params == ["attention all"], got.raw
    listener.send("WALLOPS :me too")
    assert listener.expect("481")


def test_server_notice_source(shared_server, irc_client):
    """Replies come from the server name (checked on a PONG)."""
    a = irc_client(shared_server, unique_nick("sn"))
    a.send("PING :x")
    assert a.expect("PONG").source == SERVER_NAME
