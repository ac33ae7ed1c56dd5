# -*- test-case-name: tests.unit.test_client_admin -*-
"""AS: live administration, through the same tree that reads the config file.

``AS <family> <verb> ...`` runs one admin command for an operator with flag
a or c.  The command is parsed and applied off the reactor thread (it may
hash a password), one at a time; then the lines of the config file that
change are edited in place, and the new settings put into force (neither,
when the file cannot be written or was edited by hand since it was last
read: the operator is told to REHASH first).  Replies are server NOTICEs;
the log and other operators see the command with its secrets masked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.logger import Logger

from ...admin import AdminError, ConfigFile
from ...dispatch import command
from ...wire import Message

if TYPE_CHECKING:
    from ..protocol import ClientConnection

log = Logger()

@command("AS", oper="ac", penalty=2, syntax="AS <family> [<verb> ...] | AS HELP [<family> [<topic>]]")
def handle_as(conn: "ClientConnection", msg: Message) -> Any:
    """AS <family> <verb> [args]: change or list the configuration live."""
    words = [word for param in msg.params for word in param.split()]
    if not words or words[0].lower() == "help":
        _help(conn, words[1:])
        return None
    return run_admin_command(conn, words)


def run_admin_command(conn: "ClientConnection", words: list[str]) -> Any:
    """Run the admin command ``words`` for ``conn``'s operator exactly as ``AS <words>``:
    one at a time, saved, put into force, replied to by NOTICE (KLINE, DLINE, ... use this)."""
    core = conn.core
    user = conn.user
    # Later lines wait until this command is done, so its replies come
    # before the replies to whatever the client sent next.
    conn.gate.hold()
    # The admin lock is held until the replies are out, so a REHASH
    # waiting for it (SIGHUP) reports after them.
    d = core.admin_lock.acquire()
    d.addCallback(lambda _: _run(core, words, user.nick))
    d.addCallbacks(_report, _refused, callbackArgs=(conn,), errbackArgs=(conn,))
    d.addBoth(lambda _: _release(core, conn))
    return d


def _release(core: Any, conn: "ClientConnection") -> None:
    """Let the next admin change run, then the client's next lines."""
    core.admin_lock.release()
    conn.gate.release()


def _help(conn: "ClientConnection", topic: list[str]) -> None:
    try:
        lines = conn.core.admin_tree.help(topic)
    except AdminError as exc:
        conn.notice(str(exc))
        return
    for line in lines:
        conn.notice(line)


def apply_admin_words(core: Any, words: list[str], actor: str) -> Any:
    """Apply ``AS <words>`` decided by the server itself (*actor* names why): saved, then in force.

    The caller holds ``core.admin_lock``; the Deferred fires with the
    result and the extra sentences, or fails with AdminError / OSError.
    """
    return _run(core, words, actor)


@defer.inlineCallbacks
def _run(core: Any, words: list[str], actor: str) -> Any:
    """Parse and apply in a thread, then put the result into force and save it."""
    now = core.clock.seconds()
    result = yield core.defer_to_thread(
        core.admin_tree.execute, core.settings, words, now=now, actor=actor
    )
    extra: list[str] = []
    if result.changed:
        # Say so when this change makes a likely mistake (SECUREONLY without
        # SSL, no oper left who can use AS): it is still done, as asked.
        known = set(core.settings.problems())
        extra = [f"Warning: {p}" for p in result.settings.problems() if p not in known]
    if result.changed and core.reconfigure is not None:
        # Saved first: if the file cannot be written nothing changes, and
        # a REHASH meanwhile reads the old file with the old settings in
        # force, or the new file just before the new settings come in.
        config_file = _config_file(core)
        if config_file is not None:
            notes = yield core.defer_to_thread(config_file.save, core.settings, result.settings, now)
            for note in notes:
                log.info("{note}", note=note)
        extra += core.reconfigure(result.settings)
    elif [word.lower() for word in words[:2]] == ["services", "enable"]:
        # Already enabled in the settings, but dropped by SQUIT: ENABLE brings them back.
        control = getattr(core, "services_control", None)
        if control is not None:
            extra += control.settings_changed(result.settings, force=True)
    return result, extra


def _who(conn: "ClientConnection") -> tuple[str, str]:
    user = conn.user
    return (user.nick, user.oper_name or "?") if user is not None else ("?", "?")


def _config_file(core: Any) -> ConfigFile | None:
    """The server's config file (one read lazily for a core started without the service)."""
    config_file = getattr(core, "config_file", None)
    if config_file is None and core.config_path:
        config_file = core.config_file = ConfigFile(core.config_path, core.admin_tree)
    return config_file


def _report(outcome: tuple[Any, list[str]], conn: "ClientConnection") -> None:
    """Reply to the operator; log the command (as parsed, secrets masked) and tell the other opers."""
    result, extra = outcome
    nick, oper = _who(conn)
    log.info("{nick} ({oper}) AS {command}", nick=nick, oper=oper, command=result.shown)
    for line in [*result.replies, *extra]:
        conn.notice(line)
    if result.restart_needed:
        conn.notice(f"Saved; {result.restart_needed}")
    if result.changed and conn.user is not None:
        conn.core.notice_opers(f"{conn.user.nick} changed the configuration: AS {result.shown}")


def _refused(failure: Any, conn: "ClientConnection") -> None:
    """Tell the operator why; log only what the grammar says is safe to show."""
    nick, oper = _who(conn)
    if failure.check(AdminError):
        exc = failure.value
        conn.notice(str(exc))  # to the one who typed it: may quote any of its words
        log.info("{nick} ({oper}) AS {command} refused: {why}", nick=nick, oper=oper,
                 command=exc.command or "(nothing)", why=exc.public)
        return
    if failure.check(OSError):  # the config file could not be read or written: a reason, not a traceback
        log.error("AS by {nick} ({oper}) not saved: {why}", nick=nick, oper=oper, why=failure.getErrorMessage())
    else:
        log.failure("AS command by {nick} failed", failure, nick=nick)
    conn.notice(f"AS failed: {failure.getErrorMessage()}; nothing was changed")
