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


def _core(*entries: OperEntry, **changes: Any) -> Any:
    """A core whose settings hold ``entries`` (and ``changes``) and whose password checks run inline."""
    opers = FrozenMap({fold_name(e.name): e for e in entries})
    core = make_core(make_settings(opers=opers, **changes))
    core.check_password = defer.maybeDeferred
    return core


def _hold_checks(core: Any) -> list[defer.Deferred[bool]]:
    """Make ``core``'s password checks wait: each returns a Deferred kept in the list returned."""
    pending: list[defer.Deferred[bool]] = []

    def run(func: Any, *args: Any) -> defer.Deferred[bool]:
        d: defer.Deferred[bool] = defer.Deferred()
        pending.append(d)
        return d

    core.check_password = run
    return pending


def _watcher(core: Any, nick: str = "watcher") -> Any:
    """A local operator with +s who sees server notices."""
    conn = register(core, nick)
    core.network.set_oper(conn.user, "Watch", frozenset("g"))
    conn.user.set_mode("s")
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
    """The right name and password give 381 and one MODE +oAs (server notices
    on by default); other opers are told."""
    core = _core(OperEntry("God", HASH, frozenset("ac")))
    watcher = _watcher(core)
    conn = register(core, "alice")
    feed(conn, f"OPER god {PASSWORD}")
    out = sent(conn)
    assert out[0].command == "381"
    assert out[0].params == ("alice", "You are now an IRC operator")
    modes = [m for m in out if m.command == "MODE"]
    assert len(modes) == 1 and modes[0].params[0] == "alice"
    assert set(modes[0].params[1]) == set("+oAs")
    assert conn.user.oper_name == "God" and conn.user.oper_flags == frozenset("ac")
    assert _notices(watcher) == ["*** Notice -- alice (~alice@127.0.0.1) is now an operator (ac)"]


def test_new_oper_sees_server_notices() -> None:
    """Right after OPER, the new operator gets server notices (like another
    user's failed OPER) without setting +s by hand."""
    core = _core(OperEntry("God", HASH, frozenset("h")))
    conn = register(core, "alice")
    feed(conn, f"OPER God {PASSWORD}")
    sent(conn)
    bob = register(core, "bob")
    feed(bob, "OPER God wrong")
    notes = _notices(conn)
    assert notes == ["*** Notice -- Failed OPER attempt as God by bob (~bob@127.0.0.1) [127.0.0.1]: "
                     "wrong password"], notes


def test_oper_services_flag_sets_mode_a() -> None:
    """Flag s gives user mode +a besides +o."""
    core = _core(OperEntry("Svc", HASH, frozenset("s")))
    conn = register(core, "alice")
    feed(conn, f"OPER Svc {PASSWORD}")
    assert {"o", "a"} <= conn.user.modes and "A" not in conn.user.modes


def test_oper_password_check_goes_through_the_password_pool() -> None:
    """The bcrypt check runs through core.check_password (the password pool) with the stored hash."""
    core = _core(OperEntry("God", HASH, frozenset("a")))
    calls = []

    def run(func: Any, *args: Any) -> Any:
        calls.append(args)
        return defer.maybeDeferred(func, *args)

    core.check_password = run
    conn = register(core, "alice")
    feed(conn, f"OPER God {PASSWORD}")
    assert calls == [(PASSWORD, HASH, 4)]
    assert sent(conn)[0].command == "381"


def test_oper_refusals_all_look_alike() -> None:
    """Unknown name, wrong password (a TLS-only entry's too), disabled entry
    and wrong host all get exactly one 464 and nothing else; operators with
    +s learn the real reason."""
    core = _core(
        OperEntry("God", HASH, frozenset("a")),
        OperEntry("Off", HASH, frozenset("ad")),
        OperEntry("Tls", HASH, frozenset("ae")),
        OperEntry("Far", HASH, frozenset("a"), ("*@10.*",)),
    )
    watcher = _watcher(core)
    attempts = {
        f"OPER nobody {PASSWORD}": "no such operator name",
        "OPER God wrong": "wrong password",
        f"OPER Off {PASSWORD}": "operator entry is disabled (flag d)",
        "OPER Tls wrong": "wrong password",
        f"OPER Far {PASSWORD}": "host does not match the operator entry",
    }
    for i, (line, reason) in enumerate(attempts.items()):
        conn = register(core, f"user{i}", ip=f"192.0.2.{i}")
        feed(conn, line)
        assert [(m.command, m.params[1:]) for m in sent(conn)] == [("464", ("Password incorrect",))], line
        assert not conn.user.is_oper
        assert _notices(watcher)[-1].endswith(f"[192.0.2.{i}]: {reason}"), line


def test_oper_refusals_cost_one_bcrypt_check_each() -> None:
    """Every refusal costs one bcrypt check of the same cost: an unknown name
    is checked against a dummy hash with the cost of the real entries."""
    core = _core(
        OperEntry("God", HASH, frozenset("a")),
        OperEntry("Off", HASH, frozenset("ad")),
        OperEntry("Tls", HASH, frozenset("ae")),
        OperEntry("Far", HASH, frozenset("a"), ("*@10.*",)),
    )
    calls = []

    def run(func: Any, *args: Any) -> Any:
        calls.append(args)
        return defer.maybeDeferred(func, *args)

    core.check_password = run
    for i, line in enumerate(("OPER nobody pw", "OPER God pw", "OPER Off pw", "OPER Tls pw", "OPER Far pw")):
        conn = register(core, f"user{i}", ip=f"192.0.2.{i}")
        feed(conn, line)
        assert sent(conn)[0].command == "464"
    assert calls == [("pw", None, 4)] + [("pw", HASH, 4)] * 4


def test_dummy_check_really_runs_bcrypt() -> None:
    """check_password for an unknown name runs bcrypt on a dummy hash of the
    asked cost (and never matches)."""
    from conferenceroom.operauth import check_password, dummy_hash

    assert check_password(PASSWORD, None, 4) is False
    assert dummy_hash(4).startswith("$2b$04$")
    assert check_password(PASSWORD, HASH, 4) is True


def test_oper_back_off_per_address() -> None:
    """After the free attempts, the checked attempts of one address are spaced out, the
    spacing doubling each time (bounded): an attempt before the wait is over gets 464
    when it is; one after it is checked at once.  Another address is not slowed down."""
    from conferenceroom import operauth

    core = _core(OperEntry("God", HASH, frozenset("a")))
    conn = register(core, "alice", ip="198.51.100.7")
    for i in range(operauth.FREE_ATTEMPTS):
        feed(conn, f"OPER guess{i} wrong")
        assert [m.command for m in sent(conn)] == ["464"]
    waits = []
    for i in range(9):
        feed(conn, f"OPER early{i} wrong")  # during the back-off: answered when it ends
        assert sent(conn) == []
        waited = 0.0
        while True:
            core.clock.advance(0.5)
            waited += 0.5
            out = sent(conn)
            if out:
                break
        assert [m.command for m in out] == ["464"]
        waits.append(waited)
        feed(conn, f"OPER other{i} wrong")  # after it: checked and answered at once
        assert [m.command for m in sent(conn)] == ["464"]
    assert waits[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert waits[-1] == operauth.MAX_DELAY
    bob = register(core, "bob", ip="198.51.100.8")
    feed(bob, f"OPER God {PASSWORD}")
    assert sent(bob)[0].command == "381"


def test_oper_back_off_per_name() -> None:
    """Guesses at one name from many addresses slow that name down: an attempt from
    another, clean address waits for the name's back-off and is then checked, so
    the real operator is delayed but never locked out; a wrong password there is
    464 after the same wait, and the success clears the name."""
    from conferenceroom import operauth

    core = _core(OperEntry("God", HASH, frozenset("a")))
    for i in range(operauth.FREE_ATTEMPTS):
        conn = register(core, f"u{i}", ip=f"203.0.113.{i}")
        feed(conn, "OPER God wrong")
        assert [m.command for m in sent(conn)] == ["464"]
    guess = register(core, "guess", ip="203.0.113.100")
    feed(guess, "OPER God wrong")
    late = register(core, "late", ip="203.0.113.200")
    feed(late, f"OPER God {PASSWORD}")
    assert sent(guess) == [] and sent(late) == []
    core.clock.advance(operauth.BASE_DELAY)
    assert [m.command for m in sent(guess)] == ["464"]
    assert [m.command for m in sent(late)][0] == "381"
    # The success cleared the name: the next attempt is answered at once.
    again = register(core, "again", ip="203.0.113.201")
    feed(again, "OPER God wrong")
    assert [m.command for m in sent(again)] == ["464"]


def test_parallel_guesses_during_a_back_off_are_answered_when_it_ends() -> None:
    """Many connections from one address guessing at once: the free attempts are
    checked, the others are answered 464 together when the back-off ends, unchecked."""
    from conferenceroom import operauth

    core = _core(OperEntry("God", HASH, frozenset("a")), deftrigger=0)
    calls = _counting(core)
    conns = [register(core, f"p{i}", ip="198.51.100.9") for i in range(operauth.FREE_ATTEMPTS + 2)]
    for i, conn in enumerate(conns):
        feed(conn, f"OPER name{i} wrong")
    answered = [bool(sent(c)) for c in conns]
    assert answered == [True] * operauth.FREE_ATTEMPTS + [False] * 2
    core.clock.advance(1.0)
    assert [[m.command for m in sent(c)] for c in conns[operauth.FREE_ATTEMPTS:]] == [["464"], ["464"]]
    assert len(calls) == operauth.FREE_ATTEMPTS


def test_oper_tls_only_entry() -> None:
    """Flag e: a plain connection with the right password gets 491 and a
    notice saying TLS is needed (a wrong one gets 464 like any mistake); a
    TLS connection is accepted."""
    core = _core(OperEntry("God", HASH, frozenset("ae")))
    conn = register(core, "alice")
    feed(conn, f"OPER God {PASSWORD}")
    assert [m.command for m in sent(conn)] == ["491", "NOTICE"]
    feed(conn, "OPER God wrong")
    assert [m.command for m in sent(conn)] == ["464"]
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
    assert [m.command for m in sent(conn)] == ["464"]
    feed(conn, f"OPER Near {PASSWORD}")
    assert sent(conn)[0].command == "381"
    assert conn.user.oper_name == "Near"


def test_too_many_pending_attempts_answer_try_again() -> None:
    """When too many attempts wait for their back-off at once, OPER gets 263 at once
    rather than another waiting attempt."""
    from conferenceroom import operauth

    core = _core(OperEntry("God", HASH, frozenset("a")), deftrigger=0)
    guesser = register(core, "guesser", ip="10.1.0.1")
    for i in range(operauth.FREE_ATTEMPTS):
        feed(guesser, f"OPER n{i} pw")
    waiting = [register(core, f"w{i}", ip="10.1.0.1") for i in range(operauth.MAX_PENDING)]
    for conn in waiting:
        feed(conn, "OPER God pw")
    assert [sent(c) for c in waiting] == [[]] * operauth.MAX_PENDING
    conn = register(core, "late", ip="10.9.9.9")
    feed(conn, "OPER God pw")
    assert [(m.command, m.params[1]) for m in sent(conn)] == [("263", "OPER")]


def _counting(core: Any) -> list[tuple[Any, ...]]:
    """Count ``core``'s password checks (they still run, inline); returns the list of their arguments."""
    calls: list[tuple[Any, ...]] = []

    def run(func: Any, *args: Any) -> Any:
        calls.append(args)
        return defer.maybeDeferred(func, *args)

    core.check_password = run
    return calls


def test_attempts_during_a_back_off_get_464_after_the_wait_without_a_check() -> None:
    """Once an address has used its free attempts, guesses during its back-off cost no
    bcrypt check: each gets the same 464 when the wait is over, even the right password;
    the first attempt after the wait is checked again."""
    from conferenceroom import operauth

    core = _core(OperEntry("God", HASH, frozenset("a")), deftrigger=0)
    calls = _counting(core)
    first = register(core, "first", ip="198.51.100.20")
    for i in range(operauth.FREE_ATTEMPTS):
        feed(first, f"OPER guess{i} wrong")
    assert [m.command for m in sent(first)] == ["464"] * operauth.FREE_ATTEMPTS
    guessers = [register(core, f"g{i}", ip="198.51.100.20") for i in range(20)]
    for i, conn in enumerate(guessers):
        feed(conn, f"OPER God wrong{i}" if i else f"OPER God {PASSWORD}")
    assert [sent(c) for c in guessers] == [[]] * 20
    core.clock.advance(operauth.BASE_DELAY)
    assert [[m.command for m in sent(c)] for c in guessers] == [["464"]] * 20
    assert len(calls) == operauth.FREE_ATTEMPTS
    feed(first, f"OPER God {PASSWORD}")
    assert [m.command for m in sent(first)][0] == "381"
    assert len(calls) == operauth.FREE_ATTEMPTS + 1


def test_password_checks_at_once_are_few() -> None:
    """Guesses from many addresses at many names never queue more than a few bcrypt
    checks: past that, OPER gets 263 (try again) at once; a slot that frees up is used."""
    from conferenceroom import operauth

    core = _core(OperEntry("God", HASH, frozenset("a")))
    pending = _hold_checks(core)
    conns = [register(core, f"w{i}", ip=f"10.2.0.{i}") for i in range(operauth.MAX_CHECKING + 5)]
    for i, conn in enumerate(conns):
        feed(conn, f"OPER n{i} pw")
    assert len(pending) == operauth.MAX_CHECKING
    assert [[(m.command, m.params[1]) for m in sent(c)] for c in conns[operauth.MAX_CHECKING:]] == [
        [("263", "OPER")]] * 5
    pending[0].callback(False)
    assert [m.command for m in sent(conns[0])] == ["464"]
    feed(conns[-1], "OPER God pw")
    assert len(pending) == operauth.MAX_CHECKING + 1


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
    core.check_password = lambda func, *args: defer.fail(RuntimeError("pool gone"))
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


# -- DIE / RESTART --------------------------------------------------------------------


class _Reactor:
    """A task.Clock that records stop()."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.stopped = 0

    def callLater(self, *args: Any, **kw: Any) -> Any:
        return self.clock.callLater(*args, **kw)

    def stop(self) -> None:
        self.stopped += 1


def _lifecycle(core: Any) -> tuple[Any, list[Any], list[Any]]:
    """Give ``core`` a Lifecycle on a recording reactor; returns (reactor, exec calls, exit hooks)."""
    from conferenceroom.lifecycle import Lifecycle

    reactor = _Reactor(core.clock)
    execs: list[Any] = []
    hooks: list[Any] = []
    core.lifecycle = Lifecycle(reactor, argv=["python", "twistd", "-n", "conferenceroom"],
                               executable="/usr/bin/python3",
                               execv=lambda path, argv: execs.append((path, argv)), at_exit=hooks.append)
    return reactor, execs, hooks


def test_die_needs_the_server_name_and_flag_a() -> None:
    """DIE without this server's name only says how to confirm; a helper is
    told it needs flag a; nothing stops."""
    core = _core()
    reactor, _, _ = _lifecycle(core)
    conn = register(core, "alice")
    make_oper(conn, "a", "God")
    feed(conn, "DIE")
    assert [m.params[1] for m in sent(conn)] == ["*** DIE needs this server's name to confirm: DIE test.local"]
    feed(conn, "DIE other.server")
    assert [m.params[1] for m in sent(conn)] == ["*** DIE names other.server, not this server: DIE test.local"]
    helper = register(core, "helper")
    make_oper(helper, "h", "Helper")
    feed(helper, "DIE test.local")
    assert [m.params[1] for m in sent(helper)] == ["Permission Denied - you need operator flag a"]
    core.clock.advance(5)
    assert reactor.stopped == 0


def test_die_closes_clients_then_stops() -> None:
    """DIE test.local: every client gets ERROR naming who did it, then the
    reactor stops once they are gone (or after a short wait); no re-exec."""
    core = _core()
    reactor, execs, hooks = _lifecycle(core)
    conn = register(core, "alice")
    make_oper(conn, "a", "God")
    bob = register(core, "bob")
    feed(conn, "DIE TEST.LOCAL")
    assert b"ERROR :Closing Link: 127.0.0.1 (Server terminating: DIE by alice)" in bob.transport.value()
    assert core.network.find_user("bob") is None
    core.clock.pump([0.1] * 19)
    assert reactor.stopped == 0  # still waiting for the closing clients
    core.clock.pump([0.1] * 2)
    assert reactor.stopped == 1 and hooks == [] and execs == []


def test_restart_reexecutes_the_same_command_line() -> None:
    """RESTART test.local stops like DIE, and once the process exits runs the
    same command line again with os.execv."""
    core = _core()
    reactor, execs, hooks = _lifecycle(core)
    conn = register(core, "alice")
    make_oper(conn, "a", "God")
    feed(conn, "RESTART test.local")
    core.clock.pump([0.1] * 21)
    assert reactor.stopped == 1 and len(hooks) == 1
    hooks[0]()
    assert execs == [("/usr/bin/python3", ["python", "twistd", "-n", "conferenceroom"])]


def test_command_line_is_the_original_one() -> None:
    """The re-executed command line is the interpreter's original argv."""
    import sys

    from conferenceroom.lifecycle import command_line

    assert command_line()[1:] == sys.orig_argv[1:]
