"""Saved bans enforced by the server: at registration, at connect, and at once when added."""

from dataclasses import replace

from conferenceroom.admin.settings import BanEntry
from tests.helpers import connect, feed, make_core, register, sent


def _ban(mask: str, reason: str = "go away", expires: int = 0) -> BanEntry:
    return BanEntry(mask, reason, "admin", 0, expires)


def test_kline_refuses_registration_with_465() -> None:
    """A K-lined user@host gets 465 and ERROR when it tries to register."""
    core = make_core()
    core.apply_settings(replace(core.settings, klines=(_ban("~bad@127.0.0.1", "spamming"),)))
    conn = connect(core)
    feed(conn, "NICK bad", "USER bad 0 * :Bad")
    out = sent(conn)
    assert out[0].command == "465" and "spamming" in out[0].params[-1]
    assert out[-1].command == "ERROR" and "K-line" in out[-1].params[0]
    assert core.network.find_user("bad") is None


def test_zline_refuses_at_connect() -> None:
    """A Z-lined IP is refused before it sends anything."""
    core = make_core()
    core.apply_settings(replace(core.settings, zlines=(_ban("10.0.0.0/8", "proxy"),)))
    conn = connect(core, ip="10.1.2.3")
    out = sent(conn)
    assert out[-1].command == "ERROR" and "Z-line" in out[-1].params[0]
    assert conn.transport.disconnecting
    ok = connect(core, ip="192.0.2.1")
    assert not ok.transport.disconnecting


def test_new_ban_disconnects_connected_users_and_tells_peers() -> None:
    """Adding a ban disconnects matching users at once; others see them QUIT."""
    core = make_core()
    victim = register(core, "victim")
    watcher = register(core, "watcher", ip="192.0.2.9")
    feed(victim, "JOIN #c")
    feed(watcher, "JOIN #c")
    sent(victim)
    sent(watcher)
    core.apply_settings(replace(core.settings, akills=(_ban("*@127.0.0.1", "network ban"),)))
    core.clock.advance(0)
    out = sent(victim)
    assert out[0].command == "465"
    assert out[-1].command == "ERROR"
    quits = [m for m in sent(watcher) if m.command == "QUIT"]
    assert quits and "AKILL" in quits[0].params[0]
    assert core.network.find_user("watcher") is not None


def test_expired_ban_is_not_enforced() -> None:
    """A ban whose expiry has passed lets the user in."""
    core = make_core()
    past = int(core.clock.seconds()) - 10
    core.apply_settings(replace(core.settings, klines=(_ban("*@127.0.0.1", "old", expires=past),)))
    conn = connect(core)
    feed(conn, "NICK fine", "USER fine 0 * :Fine")
    assert any(m.command == "001" for m in sent(conn))


def test_oper_banning_themselves_sees_the_reply_first() -> None:
    """An AS KLINE that matches the oper's own host: the NOTICE reply arrives, then the ban."""
    core = make_core()
    core.reconfigure = lambda new: core.apply_settings(new) or []
    oper = register(core, "oper")
    core.network.set_oper(oper.user, "admin", frozenset("a"))
    sent(oper)
    feed(oper, "AS security kline add *@127.0.0.1 oops")
    core.clock.advance(0)
    out = sent(oper)
    kinds = [m.command for m in out]
    assert kinds.index("NOTICE") < kinds.index("465")
    assert out[-1].command == "ERROR"
