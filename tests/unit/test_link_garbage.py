"""A linked peer's unreadable lines: logged (a few) and told to operators (once), ignored; many close the link."""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger

from conferenceroom.link.protocol import GARBAGE_LIMIT, GARBAGE_WINDOW, LOGGED_PER_WINDOW, LinkConnection
from tests.helpers import feed, register, sent
from tests.unit.linkkit import real_pair
from tests.unit.linkpair import notices, oper_on

UNREADABLE = (b":", b"@a=b", b"!!!", b": PRIVMSG #x :hi", b":2BB", b"@x :y")


def _logged(monkeypatch: Any) -> list[dict]:
    """Capture what LinkConnection logs from now on."""
    events: list[dict] = []
    monkeypatch.setattr(LinkConnection, "log", Logger(observer=events.append))
    return events


def test_unreadable_lines_are_ignored_logged_and_told_once(monkeypatch: Any) -> None:
    """Six unreadable lines and two from unknown sources from tenor: the link stays, soprano's operators
    read one notice naming the peer and the first fault, the log holds a few lines, and the next good
    line is delivered."""
    soprano, tenor, pair = real_pair()
    watcher = oper_on(soprano, "watcher")
    alice = register(soprano, "alice")
    feed(alice, "JOIN #room")
    bob = register(tenor, "bob")
    feed(bob, "JOIN #room")
    pair.pump()
    sent(alice)
    events = _logged(monkeypatch)
    link = pair.passive
    link.dataReceived(b"\r\n".join(UNREADABLE) + b"\r\n")
    link.dataReceived(b":9ZZZZZZZZ PRIVMSG #room :ghost\r\n:nowhere.example NOTICE #room :ghost\r\n")
    feed(bob, "PRIVMSG #room :still here")
    pair.pump()
    assert not link.closing and soprano.network.find_server("tenor.webmaster.com") is not None
    told = [n for n in notices(watcher) if "unreadable" in n]
    assert told == [f"Link with tenor.webmaster.com[127.0.0.2]: ignored an unreadable line (empty source); "
                    f"{GARBAGE_LIMIT} in {GARBAGE_WINDOW:g} seconds close the link"]
    unreadable_logs = [e for e in events if "unreadable" in e.get("log_format", "")]
    assert len(unreadable_logs) == LOGGED_PER_WINDOW
    assert [m.params[-1] for m in sent(alice) if m.command == "PRIVMSG"] == ["still here"]


def test_a_stream_of_garbage_closes_the_link_with_a_reason() -> None:
    """As many unreadable lines as the limit within the window: ERROR with the count, split, notice."""
    soprano, tenor, pair = real_pair()
    watcher = oper_on(soprano, "watcher")
    pair.passive.dataReceived(b"!!!\r\n" * GARBAGE_LIMIT)
    pair.pump()
    reason = f"Too many unreadable lines ({GARBAGE_LIMIT} in {GARBAGE_WINDOW:g} seconds; the last: invalid command '!!!')"
    assert [m.params[0] for m in pair.lines("p>a") if m.command == "ERROR"] == [f"Closing Link: 127.0.0.2 ({reason})"]
    assert soprano.network.find_server("tenor.webmaster.com") is None
    assert f"Link with tenor.webmaster.com[127.0.0.2] lost: protocol error: {reason}" in notices(watcher)


def test_garbage_spread_over_time_is_forgiven() -> None:
    """One line short of the limit, then a window later as many again: the link stays up."""
    soprano, tenor, pair = real_pair()
    pair.passive.dataReceived(b"!!!\r\n" * (GARBAGE_LIMIT - 1))
    soprano.clock.advance(GARBAGE_WINDOW)
    pair.passive.dataReceived(b"!!!\r\n" * (GARBAGE_LIMIT - 1))
    pair.pump()
    assert not pair.passive.closing and soprano.network.find_server("tenor.webmaster.com") is not None


def test_garbage_during_the_handshake_still_refuses() -> None:
    """Before the peer registered an unreadable line is still a refusal (nothing is linked yet)."""
    from tests.unit.linkpair import dial, soprano_and_tenor

    soprano, tenor = soprano_and_tenor()
    pair = dial(tenor, tenor.settings.servers["soprano"], soprano)
    pair.passive.dataReceived(b"!!!\r\n")
    assert pair.passive.closing
    assert b"Unreadable line (invalid command '!!!')" in pair.passive.transport.value()
