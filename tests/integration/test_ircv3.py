"""
The IRCv3 extensions against a real ``twistd -n conferenceroom`` process: MONITOR
and extended-monitor, labeled-response with batch, setname, bot mode, UTF8ONLY,
draft/channel-rename, the mute extban and client-only tags on TAGMSG.
"""

from __future__ import annotations

import pytest

from tests.integration.ircclient import isupport_tokens, unique_nick


@pytest.fixture(scope="module")
def shared_server_config():
    """UTF8ONLY on, so its refusal can be seen; everything else at its default."""
    return {"extra": ["general set utf8only on"]}


def _chan() -> str:
    return "#" + unique_nick("v3")


def test_isupport_and_caps(shared_server, irc_client):
    """005 advertises MONITOR, BOT, UTF8ONLY, EXTBAN and WHOX; CAP LS the new capabilities."""
    c = irc_client(shared_server)
    caps = ["labeled-response", "batch", "setname", "extended-monitor", "draft/channel-rename"]
    burst = c.register(unique_nick("is"), caps=caps)  # fails unless every one is ACKed
    tokens = isupport_tokens(burst)
    assert tokens["MONITOR"] == "100" and tokens["BOT"] == "B" and "UTF8ONLY" in tokens
    assert tokens["EXTBAN"] == ",m" and "WHOX" in tokens
    assert set(caps) <= c.caps


def test_monitor_sign_on_nick_change_and_quit(shared_server, irc_client):
    """A watcher sees 731 for an absent nick, 730 with the mask when it signs on, 731/730 around
    its nick change and 731 when it quits; MONITOR L lists the targets."""
    target, renamed = unique_nick("mt"), unique_nick("mr")
    watcher = irc_client(shared_server, unique_nick("mw"))
    watcher.send(f"MONITOR + {target},{renamed}")
    assert set(watcher.expect("731").params[1].split(",")) == {target, renamed}
    other = irc_client(shared_server, target)
    online = watcher.expect("730")
    assert online.params[1].startswith(f"{target}!") and online.params[1].endswith("@127.0.0.1")
    other.send(f"NICK {renamed}")
    assert watcher.expect("731").params[1] == target
    assert watcher.expect("730").params[1].startswith(renamed + "!")
    other.send("QUIT :bye")
    assert watcher.expect("731").params[1] == renamed
    watcher.send("MONITOR L")
    listed = watcher.expect("732").params[1].split(",")
    watcher.expect("733")
    assert sorted(listed) == sorted([target, renamed])


def test_labeled_response_single_batch_and_ack(shared_server, irc_client):
    """A labeled PING gets a labeled PONG; a labeled JOIN one labeled-response batch; a labeled
    PONG an ACK."""
    c = irc_client(shared_server, unique_nick("lr"), caps=["labeled-response", "batch"])
    c.send("@label=p1 PING :hello")
    pong = c.expect("PONG")
    assert pong.tags.get("label") == "p1"
    chan = _chan()
    c.send(f"@label=j1 JOIN {chan}")
    start = c.expect("BATCH")
    assert start.tags.get("label") == "j1" and start.params[1] == "labeled-response"
    ident = start.params[0][1:]
    inside = c.collect("BATCH")
    assert inside[-1].params == [f"-{ident}"]
    assert all(m.tags.get("batch") == ident for m in inside[:-1]) and inside[0].command == "JOIN"
    c.send("@label=a1 PONG :x")
    ack = c.expect("ACK")
    assert ack.tags.get("label") == "a1"


def test_setname_and_bot_mode(shared_server, irc_client):
    """SETNAME reaches a channel peer with setname; +B adds the bot tag, 335 in WHOIS, B in WHO."""
    chan = _chan()
    bot = irc_client(shared_server, unique_nick("bt"), caps=["setname", "message-tags"])
    peer = irc_client(shared_server, unique_nick("pr"), caps=["setname", "message-tags"])
    bot.join(chan)
    peer.join(chan)
    bot.send("SETNAME :Beep Boop")
    assert bot.expect("SETNAME").params == ["Beep Boop"]
    assert peer.expect("SETNAME").params == ["Beep Boop"]
    bot.send(f"MODE {bot.nick} +B")
    bot.expect("MODE")
    bot.send(f"PRIVMSG {chan} :beep")
    got = peer.expect("PRIVMSG")
    assert "bot" in got.tags, got.raw
    peer.send(f"WHOIS {bot.nick}")
    whois = peer.collect("318")
    assert any(m.command == "335" for m in whois)
    assert [m.params[-1] for m in whois if m.command == "311"] == ["Beep Boop"]
    peer.send(f"WHO {bot.nick}")
    assert "B" in peer.expect("352").params[6]


def test_utf8only_refuses_latin1(shared_server, irc_client):
    """With UTF8ONLY on, a Latin-1 PRIVMSG gets FAIL PRIVMSG INVALID_UTF8 and is not delivered."""
    a = irc_client(shared_server, unique_nick("ua"))
    b = irc_client(shared_server, unique_nick("ub"))
    a.send_raw(f"PRIVMSG {b.nick} :caf\xe9\r\n".encode("latin-1"))
    fail = a.expect("FAIL")
    assert fail.params[:2] == ["PRIVMSG", "INVALID_UTF8"]
    a.send(f"PRIVMSG {b.nick} :café")
    assert b.expect("PRIVMSG").params[-1] == "café"


def test_rename_mute_and_tagmsg(shared_server, irc_client):
    """RENAME shows as RENAME or PART/JOIN; a muted user gets 404; a TAGMSG with +typing
    reaches a message-tags member only."""
    chan, new = _chan(), _chan()
    op = irc_client(shared_server, unique_nick("op"), caps=["draft/channel-rename", "message-tags"])
    legacy = irc_client(shared_server, unique_nick("lg"))
    tagged = irc_client(shared_server, unique_nick("tg"), caps=["message-tags"])
    for c in (op, legacy, tagged):
        c.join(chan)
    op.send(f"RENAME {chan} {new} :moving")
    assert op.expect("RENAME").params == [chan, new, "moving"]
    assert legacy.expect("PART").params[0] == chan
    assert legacy.expect("JOIN").params == [new]
    op.send(f"MODE {new} +b m:{legacy.nick}")
    op.expect("MODE")
    legacy.send(f"PRIVMSG {new} :can I talk?")
    assert legacy.expect("404").params[1] == new
    op.send(f"@+typing=active TAGMSG {new}")
    got = tagged.expect("TAGMSG")
    assert got.tags.get("+typing") == "active"
    legacy.assert_silent(lambda m: m.command == "TAGMSG", timeout=0.5)


def test_multiline_redact_and_markread(shared_server, irc_client):
    """A multiline batch reaches a multiline client whole and a plain one line by line; its
    sender redacts it (REDACT to clients with the cap); MARKREAD stores a timestamp."""
    chan = _chan()
    caps = ["message-tags", "batch", "echo-message", "draft/multiline", "draft/message-redaction",
            "draft/read-marker"]
    alice = irc_client(shared_server, unique_nick("ml"), caps=caps)
    bob = irc_client(shared_server, unique_nick("mb"), caps=caps)
    carl = irc_client(shared_server, unique_nick("mc"), caps=["message-tags"])
    for c in (alice, bob, carl):
        c.join(chan)
    alice.send(f"BATCH +b1 draft/multiline {chan}")
    alice.send(f"@batch=b1 PRIVMSG {chan} :line one")
    alice.send(f"@batch=b1 PRIVMSG {chan} :line two")
    alice.send("BATCH -b1")
    start = bob.expect("BATCH")
    msgid = start.tags["msgid"]
    inner = bob.collect("BATCH")
    assert [m.params[1] for m in inner[:-1]] == ["line one", "line two"]
    assert [carl.expect("PRIVMSG").params[1] for _ in range(2)] == ["line one", "line two"]
    alice.send(f"REDACT {chan} {msgid} :typo")
    assert bob.expect("REDACT").params == [chan, msgid, "typo"]
    carl.assert_silent(lambda m: m.command == "REDACT", timeout=0.5)
    alice.send(f"MARKREAD {chan} timestamp=2024-01-01T00:00:00.000Z")
    got = alice.expect("MARKREAD")
    assert got.params == [chan, "timestamp=2024-01-01T00:00:00.000Z"]
