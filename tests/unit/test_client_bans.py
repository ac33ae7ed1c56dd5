"""KLINE, UNKLINE, DLINE, UNDLINE: thin aliases over AS SECURITY KLINE/ZLINE."""

from __future__ import annotations

from typing import Any

from tests.helpers import START, feed, make_core, make_oper, register, sent


def _core() -> Any:
    """A core whose admin changes are put into force at once (as the service does)."""
    core = make_core()
    core.reconfigure = lambda new: core.apply_settings(new) or []
    return core


def _notices(conn: Any) -> list[str]:
    return [m.params[-1] for m in sent(conn) if m.command == "NOTICE"]


def _admin(core: Any, nick: str = "oper") -> Any:
    conn = register(core, nick)
    make_oper(conn, "a", "God")
    return conn


def test_kline_is_saved_like_as_security_kline_add() -> None:
    """KLINE [duration] user@host :reason (hybrid's order) gives the same
    entry and the same reply as AS SECURITY KLINE ADD."""
    core = _core()
    oper = _admin(core)
    feed(oper, "KLINE 120 *@bad.example :spam and more spam")
    via_kline = core.settings.klines
    assert _notices(oper)[0] == ("K-line added: *@bad.example - spam and more spam "
                                 "[set by oper; expires in 2h]")
    feed(oper, "AS SECURITY KLINE DEL *@bad.example")
    sent(oper)
    feed(oper, "AS SECURITY KLINE ADD *@bad.example 2h spam and more spam")
    assert core.settings.klines == via_kline
    assert via_kline[0].expires == int(START) + 7200


def test_kline_without_duration_is_permanent_and_reason_may_look_like_one() -> None:
    """Without a duration the K-line is permanent, even when the reason starts like a duration."""
    core = _core()
    oper = _admin(core)
    feed(oper, "KLINE ~joe@1.2.3.4 :5 bots from here")
    [entry] = core.settings.klines
    assert (entry.mask, entry.reason, entry.expires) == ("~joe@1.2.3.4", "5 bots from here", 0)


def test_kline_is_enforced_on_connected_users() -> None:
    """A KLINE matching a connected user disconnects it after the operator's reply."""
    core = _core()
    oper = _admin(core)
    victim = register(core, "victim", ip="192.0.2.5")
    feed(oper, "KLINE *@192.0.2.5 :go away")
    core.clock.advance(0)
    lines = victim.transport.value().decode()
    assert "465" in lines and "go away" in lines
    assert core.network.find_user("victim") is None


def test_kline_by_nick_bans_its_host() -> None:
    """KLINE <nick> bans *@ that user's host; an unknown nick is 401."""
    core = _core()
    oper = _admin(core)
    register(core, "victim", ip="192.0.2.9")
    feed(oper, "KLINE victim :bye")
    assert [e.mask for e in core.settings.klines] == ["*@192.0.2.9"]
    sent(oper)
    feed(oper, "KLINE nobody :bye")
    assert [m.command for m in sent(oper)] == ["401"]


def test_kline_on_another_server_is_402() -> None:
    """KLINE ... ON <server> for a server other than this one is 402 and changes nothing."""
    core = _core()
    oper = _admin(core)
    feed(oper, "KLINE *@x.example ON other.server :no")
    assert [m.command for m in sent(oper)] == ["402"]
    assert core.settings.klines == ()
    feed(oper, "KLINE *@x.example ON test.local :yes")
    assert [e.mask for e in core.settings.klines] == ["*@x.example"]


def test_unkline_removes() -> None:
    """UNKLINE user@host removes the K-line; an unknown one is answered by NOTICE."""
    core = _core()
    oper = _admin(core)
    feed(oper, "KLINE *@bad.example :spam")
    feed(oper, "UNKLINE *@bad.example")
    assert core.settings.klines == ()
    assert _notices(oper)[-1] == "K-line for *@bad.example removed"
    feed(oper, "UNKLINE *@bad.example")
    assert _notices(oper)[0].startswith("No K-line for *@bad.example")


def test_dline_and_undline_are_zlines() -> None:
    """DLINE [duration] ip/cidr :reason is a Z-line (refused at connect); UNDLINE removes it."""
    core = _core()
    oper = _admin(core)
    feed(oper, "DLINE 1d 198.51.100.0/24 :open proxies")
    [entry] = core.settings.zlines
    assert (entry.mask, entry.reason, entry.expires) == ("198.51.100.0/24", "open proxies", int(START) + 86400)
    assert core.admission_refusal("198.51.100.7") is not None
    feed(oper, "UNDLINE 198.51.100.0/24")
    assert core.settings.zlines == ()
    assert core.admission_refusal("198.51.100.7") is None


def test_bad_masks_are_refused_by_the_same_rules() -> None:
    """A mask the AS grammar refuses (banning everyone) is refused for KLINE and DLINE too."""
    core = _core()
    oper = _admin(core)
    feed(oper, "KLINE *@* :everyone")
    feed(oper, "DLINE 0.0.0.0/0 :everyone")
    notes = _notices(oper)
    assert len(notes) == 2 and all("ban everyone" in n for n in notes), notes
    assert core.settings.klines == () and core.settings.zlines == ()


def test_ban_commands_need_flag_a_or_c() -> None:
    """A helper operator is told which flag KLINE needs."""
    core = _core()
    conn = register(core, "helper")
    make_oper(conn, "h", "Helper")
    feed(conn, "KLINE *@x.example :no")
    assert [m.params[1] for m in sent(conn)] == ["Permission Denied - you need operator flag a or c"]


def test_kline_of_a_bare_host_bans_every_user_there() -> None:
    """KLINE spam.example (a host, no user@) bans *@spam.example, as other servers read it."""
    core = _core()
    oper = _admin(core)
    feed(oper, "KLINE spam.example :no spam")
    assert [e.mask for e in core.settings.klines] == ["*@spam.example"]
    feed(oper, "KLINE 10 2001:db8::7 :one address")
    assert [e.mask for e in core.settings.klines] == ["*@spam.example", "*@2001:db8::7"]


def test_dline_by_nick_bans_its_address() -> None:
    """DLINE <nick> Z-lines that user's IP (and disconnects it); an unknown nick is 401."""
    core = _core()
    oper = _admin(core)
    register(core, "victim", ip="192.0.2.77")
    feed(oper, "DLINE victim :bye")
    assert [e.mask for e in core.settings.zlines] == ["192.0.2.77"]
    core.clock.advance(0)
    assert core.network.find_user("victim") is None
    sent(oper)
    feed(oper, "DLINE nobody :bye")
    assert [m.command for m in sent(oper)] == ["401"]


def test_a_saved_ban_of_every_kind_refuses_a_new_client() -> None:
    """With one saved ban of each kind the server keeps (every kind of BAN_KINDS, alone), a new
    client from the banned address is refused with 465 and closed; with none it registers."""
    from dataclasses import replace

    from conferenceroom.admin.settings import BAN_KINDS, BanEntry
    from tests.helpers import connect

    for kind, attr in BAN_KINDS.items():
        core = _core()
        mask = "192.0.2.9" if kind == "zline" else "*@192.0.2.9"
        core.apply_settings(replace(core.settings, **{attr: (BanEntry(mask, f"no {kind}"),)}))
        conn = connect(core, "192.0.2.9")
        feed(conn, "NICK banned", "USER b 0 * :B")
        out = conn.transport.value().decode()
        assert conn.user is None and "ERROR :Closing Link" in out, kind
        assert kind == "zline" or " 465 " in out, kind
        other = connect(core, "192.0.2.10")
        feed(other, "NICK fine", "USER f 0 * :F")
        assert other.user is not None, kind
