"""Operator commands: OPER (flags, access masks, bcrypt off-thread), KILL, REHASH."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twisted.internet import defer

from conferenceroom.admin.configfile import ConfigError
from conferenceroom.admin.settings import FrozenMap, OperEntry, fold_name
from conferenceroom.passwords import hash_password
from tests.helpers import (
    feed, make_core, make_oper, make_remote_server, make_remote_user, make_settings, register, sent,
)

PASSWORD = "s3cret"
HASH = hash_password(PASSWORD, rounds=4)


def _core(*entries: OperEntry) -> Any:
    """A core whose settings hold ``entries`` and whose blocking work runs inline."""
    opers = FrozenMap({fold_name(e.name): e for e in entries})
    core = make_core(make_settings(opers=opers))
    core.defer_to_thread = defer.maybeDeferred
    return core


def _hold_checks(core: Any) -> list[defer.Deferred[bool]]:
    """Make ``core``'s password checks wait: each returns a Deferred kept in the list returned."""
    pending: list[defer.Deferred[bool]] = []

    def run(func: Any, *args: Any) -> defer.Deferred[bool]:
        d: defer.Deferred[bool] = defer.Deferred()
        pending.append(d)
        return d

    core.defer_to_thread = run
    return pending


def _watcher(core: Any, nick: str = "watcher") -> Any:
    """A local operator with +s who sees server notices."""
    conn = register(core, nick)
    core.network.set_oper(conn.user, "Watch", frozenset("g"))
    conn.user.modes.add("s")
    sent(conn)
    return conn


def _notices(conn: Any) -> list[str]:
    """Server notices ``conn`` received, without client connect/exit notices."""
    return [
        m.params[1] for m in sent(conn)
        if m.command == "NOTICE" and not m.params[1].startswith("*** Notice -- Client ")
    ]


# -- OPER ---------------------------------------------------------------------------


def test_oper_success_sets_modes_and_notices() -> None:
    """The right name and password give 381 and MODE +oA; other opers are told."""
    core = _core(OperEntry("God", HASH, frozenset("ac")))
    watcher = _watcher(core)
    conn = register(core, "alice")
    feed(conn, f"OPER god {PASSWORD}")
    out = sent(conn)
    assert out[0].command == "381"
    assert out[0].params == ("alice", "You are now an IRC operator")
    modes = [m for m in out if m.command == "MODE"]
    assert len(modes) == 1 and modes[0].params[0] == "alice"
    assert set(modes[0].params[1]) == set("+oA")
    assert conn.user.oper_name == "God" and conn.user.oper_flags == frozenset("ac")
    assert _notices(watcher) == ["*** Notice -- alice (~alice@127.0.0.1) is now an operator (ac)"]


def test_oper_services_flag_sets_mode_a() -> None:
    """Flag s gives user mode +a besides +o."""
    core = _core(OperEntry("Svc", HASH, frozenset("s")))
    conn = register(core, "alice")
    feed(conn, f"OPER Svc {PASSWORD}")
    assert {"o", "a"} <= conn.user.modes and "A" not in conn.user.modes


def test_oper_password_check_goes_through_defer_to_thread() -> None:
    """The bcrypt check runs through core.defer_to_thread with the stored hash."""
    core = _core(OperEntry("God", HASH, frozenset("a")))
    calls = []

    def run(func: Any, *args: Any) -> Any:
        calls.append(args)
        return defer.maybeDeferred(func, *args)

    core.defer_to_thread = run
    conn = register(core, "alice")
    feed(conn, f"OPER God {PASSWORD}")
    assert calls == [(PASSWORD, HASH)]
    assert sent(conn)[0].command == "381"


def test_oper_unknown_name_is_491() -> None:
    """An unknown operator name gives 491 and a notice to operators."""
    core = _core(OperEntry("God", HASH, frozenset("a")))
    watcher = _watcher(core)
    conn = register(core, "alice")
    feed(conn, f"OPER nobody {PASSWORD}")
    assert [m.command for m in sent(conn)] == ["491"]
    assert not conn.user.is_oper
    assert _notices(watcher) == [
        "*** Notice -- Failed OPER attempt as nobody by alice (~alice@127.0.0.1): no such operator name"
    ]


def test_oper_wrong_password_is_464() -> None:
    """A wrong password gives 464 and a notice to operators."""
    core = _core(OperEntry("God", HASH, frozenset("a")))
    watcher = _watcher(core)
    conn = register(core, "alice")
    feed(conn, "OPER God wrong")
    assert [m.command for m in sent(conn)] == ["464"]
    assert not conn.user.is_oper
    assert _notices(watcher)[0].endswith(": wrong password")


def test_oper_disabled_entry_is_491() -> None:
    """Flag d refuses the login even with the right password."""
    core = _core(OperEntry("God", HASH, frozenset("ad")))
    conn = register(core, "alice")
    feed(conn, f"OPER God {PASSWORD}")
    assert [m.command for m in sent(conn)] == ["491"]
    assert not conn.user.is_oper


def test_oper_tls_only_entry() -> None:
    """Flag e refuses a plain connection with a NOTICE saying why and 491; TLS is accepted."""
    core = _core(OperEntry("God", HASH, frozenset("ae")))
    conn = register(core, "alice")
    feed(conn, f"OPER God {PASSWORD}")
    out = sent(conn)
    assert [m.command for m in out] == ["NOTICE", "491"]
    assert "TLS" in out[0].params[1]
    secure = register(core, "bob")
    secure.secure = True
    feed(secure, f"OPER God {PASSWORD}")
    assert sent(secure)[0].command == "381"


def test_oper_access_masks() -> None:
    """With access masks, user@host or user@ip must match one of them."""
    core = _core(
        OperEntry("Far", HASH, frozenset("a"), ("*@10.*",)),
        OperEntry("Near", HASH, frozenset("a"), ("nobody@*", "~alice@127.0.0.*")),
    )
    conn = register(core, "alice")
    feed(conn, f"OPER Far {PASSWORD}")
    assert [m.command for m in sent(conn)] == ["491"]
    feed(conn, f"OPER Near {PASSWORD}")
    assert sent(conn)[0].command == "381"
    assert conn.user.oper_name == "Near"


def test_oper_needs_two_params() -> None:
    """OPER with only a name gives 461."""
    core = _core()
    conn = register(core, "alice")
    feed(conn, "OPER God")
    assert [(m.command, m.params[1]) for m in sent(conn)] == [("461", "OPER")]


def test_oper_user_leaves_before_check_finishes() -> None:
    """A password check that ends after the connection dropped changes nothing
    and sends nothing.  (A QUIT sent after OPER waits for the check: lines
    run in order, so the OPER reply comes first.)"""
    core = _core(OperEntry("God", HASH, frozenset("a")))
    pending = _hold_checks(core)
    conn = register(core, "alice")
    user = conn.user
    feed(conn, f"OPER God {PASSWORD}")
    conn.connectionLost(None)
    conn.transport.clear()
    pending[0].callback(True)
    assert conn.transport.value() == b""
    assert not user.is_oper and core.network.find_user("alice") is None


def test_oper_check_failure_is_reported() -> None:
    """An error while checking the password is a 464 and a NOTICE, not silence."""
    core = _core(OperEntry("God", HASH, frozenset("a")))
    core.defer_to_thread = lambda func, *args: defer.fail(RuntimeError("pool gone"))
    conn = register(core, "alice")
    feed(conn, f"OPER God {PASSWORD}")
    assert [m.command for m in sent(conn)] == ["NOTICE", "464"]
    assert not conn.user.is_oper


# -- KILL ---------------------------------------------------------------------------


def _oper(core: Any, nick: str = "oper") -> Any:
    conn = register(core, nick)
    make_oper(conn, "a", "God")
    return conn


def test_kill_needs_operator_and_reason() -> None:
    """KILL by a non-operator is 481; without a reason it is 461."""
    core = _core()
    conn = register(core, "alice")
    register(core, "bob")
    feed(conn, "KILL bob :go away")
    assert [m.command for m in sent(conn)] == ["481"]
    oper = _oper(core)
    feed(oper, "KILL bob")
    assert [m.command for m in sent(oper)] == ["461"]
    assert core.network.find_user("bob") is not None


def test_kill_unknown_nick_and_server() -> None:
    """KILL of an unknown nick is 401; of a server name 483."""
    core = _core()
    oper = _oper(core)
    feed(oper, "KILL ghost :bye")
    assert [(m.command, m.params[1]) for m in sent(oper)] == [("401", "ghost")]
    feed(oper, "KILL test.local :bye")
    assert [m.command for m in sent(oper)] == ["483"]


def test_kill_local_user() -> None:
    """The victim gets KILL and ERROR; channel peers see QUIT Killed (<killer> (<reason>))."""
    core = _core()
    oper = _oper(core)
    victim = register(core, "bob")
    peer = register(core, "carol")
    core.network.join(victim.user, "#room")
    core.network.join(peer.user, "#room")
    sent(victim), sent(peer)
    feed(oper, "KILL bob :flooding")
    out = sent(victim)
    assert [m.command for m in out] == ["KILL", "ERROR"]
    assert out[0].params == ("bob", "flooding") and out[0].source == "oper!~oper@127.0.0.1"
    assert out[1].params[0] == "Closing Link: 127.0.0.1 (Killed (oper (flooding)))"
    assert victim.transport.disconnecting
    quits = [m for m in sent(peer) if m.command == "QUIT"]
    assert [(m.source, m.params) for m in quits] == [
        ("bob!~bob@127.0.0.1", ("Killed (oper (flooding))",))
    ]
    assert core.network.find_user("bob") is None
    assert sent(oper) == []


def test_kill_remote_user() -> None:
    """Killing a remote user removes it from the network; local peers see the QUIT."""
    core = _core()
    oper = _oper(core)
    remote = make_remote_server(core)
    rita = make_remote_user(core, remote, "rita")
    peer = register(core, "carol")
    core.network.join(rita, "#room", origin=remote.route)
    core.network.join(peer.user, "#room")
    sent(peer)
    feed(oper, "KILL rita :spam")
    assert core.network.find_user("rita") is None
    quits = [m for m in sent(peer) if m.command == "QUIT"]
    assert [m.params for m in quits] == [("Killed (oper (spam))",)]
    assert sent(oper) == []


# -- REHASH ---------------------------------------------------------------------------


@dataclass
class _Report:
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def test_rehash_needs_flag_a_or_c() -> None:
    """REHASH by a non-operator, or an operator without a or c, is 481."""
    core = _core()
    core.rehash = lambda: _Report()
    conn = register(core, "alice")
    feed(conn, "REHASH")
    assert [m.command for m in sent(conn)] == ["481"]
    core.network.set_oper(conn.user, "Helper", frozenset("h"))
    sent(conn)
    feed(conn, "REHASH")
    assert [m.command for m in sent(conn)] == ["481"]


def test_rehash_success_reports_changes() -> None:
    """REHASH: 382 with the config file, a NOTICE per change and warning; opers told."""
    core = _core()
    core.config_path = "/etc/conferenceroom.conf"
    core.rehash = lambda: _Report(["description is now 'x'", "opened port 7000"], ["be careful"])
    watcher = _watcher(core)
    oper = _oper(core)
    feed(oper, "REHASH")
    out = sent(oper)
    assert out[0].command == "382"
    assert out[0].params == ("oper", "/etc/conferenceroom.conf", "Rehashing")
    assert [m.params[1] for m in out[1:]] == [
        "*** REHASH: description is now 'x'",
        "*** REHASH: opened port 7000",
        "*** REHASH warning: be careful",
    ]
    assert _notices(watcher) == [
        "*** Notice -- oper is rehashing the server config file: "
        "description is now 'x'; opened port 7000"
    ]


def test_rehash_nothing_changed() -> None:
    """A REHASH that changes nothing says so."""
    core = _core()
    core.rehash = lambda: _Report()
    oper = _oper(core)
    feed(oper, "REHASH")
    out = sent(oper)
    assert [m.command for m in out] == ["382", "NOTICE"]
    assert out[1].params[1] == "*** REHASH: nothing changed"


def test_rehash_failure_reports_file_and_line() -> None:
    """A bad config file: NOTICE with file:line: reason, settings untouched, opers told."""
    core = _core()
    before = core.settings

    def fail() -> Any:
        raise ConfigError("/etc/cr.conf", 12, "unknown command 'bogus'")

    core.rehash = fail
    watcher = _watcher(core)
    oper = _oper(core)
    feed(oper, "REHASH")
    out = sent(oper)
    assert [m.command for m in out] == ["382", "NOTICE"]
    assert out[1].params[1] == "*** REHASH failed, nothing changed: /etc/cr.conf:12: unknown command 'bogus'"
    assert core.settings is before
    assert _notices(watcher)[0].endswith("it failed: /etc/cr.conf:12: unknown command 'bogus'")


def test_rehash_without_service() -> None:
    """Without a rehash function (no config file) REHASH says it is unavailable."""
    core = _core()
    oper = _oper(core)
    feed(oper, "REHASH")
    out = sent(oper)
    assert [m.command for m in out] == ["382", "NOTICE"]
    assert "not available" in out[1].params[1]


def test_lines_after_oper_wait_for_the_password_check() -> None:
    """Lines sent after OPER are answered only after the OPER reply, so a
    client that sends OPER then PING sees 381 before the PONG."""
    core = _core(OperEntry("God", HASH, frozenset("a")))
    pending = _hold_checks(core)
    conn = register(core, "alice")
    feed(conn, f"OPER God {PASSWORD}", "PING :sync")
    assert [m.command for m in sent(conn)] == []
    pending[0].callback(True)
    commands = [m.command for m in sent(conn)]
    assert commands[0] == "381" and commands[-1] == "PONG"


def test_rehash_waits_for_an_admin_command_in_progress() -> None:
    """REHASH runs after an AS command that holds the admin lock; later lines wait for its report."""
    core = _core()
    core.rehash = lambda: _Report(["opened port 7000"])
    oper = _oper(core)
    core.admin_lock.acquire()  # an AS command (or SIGHUP rehash) still running
    feed(oper, "REHASH", "PING :after")
    out = sent(oper)
    assert [m.command for m in out] == ["382"]
    core.admin_lock.release()
    out = sent(oper)
    assert [m.command for m in out] == ["NOTICE", "PONG"]
    assert out[0].params[1] == "*** REHASH: opened port 7000"
