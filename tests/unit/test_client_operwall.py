"""GLOBOPS, OPERWALL, LOCOPS, TRACE and CHGHOST."""

from __future__ import annotations

from typing import Any

from tests.helpers import (
    feed, make_core, make_oper, make_remote_server, make_remote_user, register, sent,
)


def _oper(core: Any, nick: str, flags: str = "o", modes: str = "") -> Any:
    conn = register(core, nick)
    make_oper(conn, flags, nick.capitalize())
    conn.user.set_modes(conn.user.modes | set(modes))
    return conn


def test_operwall_and_locops_reach_opers_with_w() -> None:
    """OPERWALL and LOCOPS arrive as WALLOPS from the sender at operators with
    +w (the sender too), not at operators without +w nor at users with +w."""
    core = make_core()
    sender = _oper(core, "sender", modes="w")
    wall = _oper(core, "wall", modes="w")
    quiet = _oper(core, "quiet")
    user = register(core, "user")
    user.user.set_mode("w")
    for verb in ("OPERWALL", "LOCOPS"):
        feed(sender, f"{verb} :maintenance at noon")
        for conn in (sender, wall):
            [msg] = sent(conn)
            assert (msg.source, msg.command, msg.params) == (
                "sender!~sender@127.0.0.1", "WALLOPS", (f"{verb} - maintenance at noon",))
        assert sent(quiet) == [] and sent(user) == []


def test_globops_is_a_notice_to_opers_with_s() -> None:
    """GLOBOPS is a server notice to operators with +s."""
    core = make_core()
    sender = _oper(core, "sender")
    watcher = _oper(core, "watcher", modes="s")
    feed(sender, "GLOBOPS :split coming")
    assert [m.params[1] for m in sent(watcher)] == ["*** Global -- from sender: split coming"]
    assert sent(sender) == []


def test_walls_are_oper_only() -> None:
    """A normal user gets 481 for each wall command."""
    core = make_core()
    user = register(core, "user")
    for verb in ("OPERWALL", "LOCOPS", "GLOBOPS"):
        feed(user, f"{verb} :hi")
        assert [m.command for m in sent(user)] == ["481"]


def test_trace_for_opers_lists_users_opers_and_servers() -> None:
    """TRACE by an operator: 204 for operators, 205 for users, 206 per linked
    server with its servers and clients, then 262."""
    core = make_core()
    oper = _oper(core, "oper")
    register(core, "alice")
    remote = make_remote_server(core)
    make_remote_user(core, remote, "rob")
    core.clock.advance(5)
    feed(oper, "TRACE")
    out = sent(oper)
    assert [(m.command, m.params[1:4]) for m in out] == [
        ("205", ("User", "users", "alice[~alice@127.0.0.1]")),
        ("204", ("Oper", "opers", "oper[~oper@127.0.0.1]")),
        ("206", ("Serv", "servers", "1S")),
        ("262", ("test.local", core.version, "End of TRACE")),
    ]
    assert out[0].params[4:] == ("(127.0.0.1)", "5", "5")
    assert out[2].params[4:] == ("1C", "remote.test", "*!*@test.local", "0")


def test_trace_by_a_user_shows_opers_and_itself() -> None:
    """A non-operator's TRACE shows operators and itself, not other users."""
    core = make_core()
    _oper(core, "oper")
    register(core, "bob")
    alice = register(core, "alice")
    feed(alice, "TRACE")
    assert [(m.command, m.params[3]) for m in sent(alice)][:-1] == [
        ("205", "alice[~alice@127.0.0.1]"), ("204", "oper[~oper@127.0.0.1]")]


def test_trace_one_nick_and_unknown_target() -> None:
    """TRACE <nick> shows that user; an unknown target is 402."""
    core = make_core()
    oper = _oper(core, "oper")
    register(core, "alice")
    feed(oper, "TRACE alice")
    assert [(m.command, m.params[3]) for m in sent(oper)] == [
        ("205", "alice[~alice@127.0.0.1]"), ("262", "End of TRACE")]
    feed(oper, "TRACE nowhere.example")
    assert [m.command for m in sent(oper)] == ["402"]


def test_trace_remote_user_is_forwarded() -> None:
    """TRACE of a user on another server is passed to that server's route."""
    core = make_core()
    oper = _oper(core, "oper")
    remote = make_remote_server(core)
    make_remote_user(core, remote, "rob")
    feed(oper, "TRACE rob")
    assert sent(oper) == []
    [(message, target, _)] = remote.route.relayed[-1:]
    assert (message.command, message.params, target) == ("TRACE", ("rob",), remote)


def test_chghost_changes_the_shown_host() -> None:
    """CHGHOST nick host changes the host WHOIS shows; chghost peers see
    CHGHOST, others QUIT and JOIN; the user gets 396; operators are told."""
    core = make_core()
    oper = _oper(core, "oper", flags="a", modes="s")
    alice = register(core, "alice")
    modern = register(core, "modern", caps="chghost")
    plain = register(core, "plain")
    for conn in (alice, modern, plain):
        feed(conn, "JOIN #c")
    for conn in (oper, alice, modern, plain):
        sent(conn)
    feed(oper, "CHGHOST alice cloak.example")
    assert alice.user.host == "cloak.example" and alice.user.realhost == "127.0.0.1"
    assert [(m.command, m.params[1:]) for m in sent(alice)] == [
        ("396", ("cloak.example", "is now your displayed host"))]
    assert [(m.source, m.command, m.params) for m in sent(modern)] == [
        ("alice!~alice@127.0.0.1", "CHGHOST", ("~alice", "cloak.example"))]
    assert [(m.source, m.command) for m in sent(plain)][:2] == [
        ("alice!~alice@127.0.0.1", "QUIT"), ("alice!~alice@cloak.example", "JOIN")]
    assert any("changed the host of alice from 127.0.0.1 to cloak.example" in m.params[1]
               for m in sent(oper) if m.command == "NOTICE")


def test_chghost_errors() -> None:
    """An unknown nick is 401, a bad host a NOTICE; a helper is told it needs flag a, c or s."""
    core = make_core()
    oper = _oper(core, "oper", flags="a")
    register(core, "alice")
    feed(oper, "CHGHOST nobody x.example")
    assert [m.command for m in sent(oper)] == ["401"]
    for bad in ("bad host", "-x", "a@b", "x" * 70):
        feed(oper, f"CHGHOST alice :{bad}")
        out = sent(oper)
        assert [m.command for m in out] == ["NOTICE"] and "not a valid host" in out[0].params[1], bad
    helper = _oper(core, "helper", flags="h")
    feed(helper, "CHGHOST alice x.example")
    assert [m.params[1] for m in sent(helper)] == ["Permission Denied - you need operator flag a or c or s"]


def test_globops_and_operwall_reach_every_linked_server_locops_does_not() -> None:
    """GLOBOPS and OPERWALL go once to each linked server (even with no
    operator known behind it, since that server decides who sees it);
    LOCOPS stays on this server."""
    core = make_core()
    oper = _oper(core, "oper")
    near, far = make_remote_server(core, "near.test", "1NE"), make_remote_server(core, "far.test", "2FA")
    make_remote_user(core, near, "nina")
    for line in ("GLOBOPS :hello all", "OPERWALL :walls up", "LOCOPS :just here"):
        feed(oper, line)
    for server in (near, far):
        assert [(r.message.command, r.message.params, r.target, r.sender)
                for r in server.route.relays] == [
            ("GLOBOPS", ("hello all",), "*", oper.user),
            ("OPERWALL", ("walls up",), "*", oper.user),
        ]
