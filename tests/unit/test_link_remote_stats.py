"""STATS and LUSERS naming another server: that server answers, with its own operator checks."""

from __future__ import annotations

from typing import Any

from tests.helpers import feed, make_oper, register, sent
from tests.unit.linkkit import real_pair
from tests.unit.linkpair import notices, oper_on


def replies(conn: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    """(source, command, params after the nick) of what *conn* received since the last call."""
    return [(m.source, m.command, m.params[1:]) for m in sent(conn)]


def test_remote_stats_u_is_answered_by_that_server() -> None:
    """STATS u soprano.webmaster.com typed on tenor: soprano's uptime and end of report, from soprano."""
    soprano, tenor, pair = real_pair()
    watcher = oper_on(soprano, "watcher")
    user = register(tenor, "bob")
    pair.pump()
    feed(user, "STATS u soprano.webmaster.com")
    pair.pump()
    got = replies(user)
    assert [(s, c) for s, c, _ in got] == [("soprano.webmaster.com", "242"), ("soprano.webmaster.com", "219")]
    assert got[1][2] == ("u", "End of /STATS report")
    assert "STATS u requested by bob (~bob@tenor.webmaster.com)" in notices(watcher)


def test_remote_stats_l_for_an_operator_lists_that_servers_links() -> None:
    """An operator's STATS l soprano.*: soprano's 211 lines (its link to tenor, its clients) end with 219."""
    soprano, tenor, pair = real_pair()
    register(soprano, "alice")
    op = register(tenor, "op")
    make_oper(op, "o")
    pair.pump()
    feed(op, "STATS l soprano.*")
    pair.pump()
    got = replies(op)
    rows = [p[0] for s, c, p in got if c == "211"]
    assert rows[0] == "tenor.webmaster.com[127.0.0.2]" and rows[1].startswith("alice[")
    assert all(s == "soprano.webmaster.com" for s, _, _ in got) and got[-1][1] == "219"


def test_remote_oper_only_stats_refused_to_a_user() -> None:
    """STATS o soprano.* from a user who is not an operator: 481 from soprano, then 219."""
    soprano, tenor, pair = real_pair()
    user = register(tenor, "bob")
    pair.pump()
    feed(user, "STATS o soprano.*")
    pair.pump()
    assert [(s, c) for s, c, _ in replies(user)] == [("soprano.webmaster.com", "481"),
                                                      ("soprano.webmaster.com", "219")]


def test_lusers_with_a_server_is_answered_there() -> None:
    """LUSERS * soprano.webmaster.com: the counts come from soprano (255 says soprano has 2 clients)."""
    soprano, tenor, pair = real_pair()
    register(soprano, "alice")
    register(soprano, "carol")
    user = register(tenor, "bob")
    pair.pump()
    feed(user, "LUSERS * soprano.webmaster.com")
    pair.pump()
    got = replies(user)
    assert all(s == "soprano.webmaster.com" for s, _, _ in got)
    assert ("soprano.webmaster.com", "255", ("I have 2 clients and 1 servers",)) in got
