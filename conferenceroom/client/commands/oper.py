# -*- test-case-name: tests.unit.test_client_oper -*-
"""Operator commands: OPER, KILL, REHASH.

OPER checks the operator entry of the settings (flags ``d`` disabled, ``e``
TLS only, access masks) and then the bcrypt password, which runs off the
reactor thread through ``core.defer_to_thread``.  CONNECT and SQUIT belong
to the link layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.logger import Logger
from twisted.python.failure import Failure

from ...admin.configfile import ConfigError
from ...admin.settings import OperEntry
from ...casemap import match
from ...dispatch import command
from ...network import User
from ...passwords import verify_password
from ...wire import Message

if TYPE_CHECKING:
    from ..protocol import ClientConnection

log = Logger()


# -- OPER -------------------------------------------------------------------------


def oper_refusal(conn: "ClientConnection", user: User, entry: OperEntry | None) -> str | None:
    """Why ``user`` may not use ``entry`` before its password is checked (None: may)."""
    if entry is None:
        return "no such operator name"
    if entry.disabled:
        return "operator entry is disabled"
    if entry.has_flag("e") and not conn.secure:
        return "operator entry requires a TLS connection"
    if entry.access:
        candidates = (f"{user.ident}@{user.realhost}", f"{user.ident}@{user.ip}")
        if not any(match(mask, who) for mask in entry.access for who in candidates):
            return "host does not match the operator entry"
    return None


def _fail(conn: "ClientConnection", user: User, name: str, reason: str, numeric: str) -> None:
    conn.reply(numeric)
    who = f"{user.nick} ({user.ident}@{user.realhost})"
    log.warn("failed OPER {name} by {who}: {reason}", name=name, who=who, reason=reason)
    conn.core.notice_opers(f"Failed OPER attempt as {name} by {who}: {reason}")


@command("OPER", min_params=2, penalty=5, syntax="OPER <name> <password>")
def handle_oper(conn: "ClientConnection", msg: Message) -> None:
    """OPER <name> <password>: become an IRC operator."""
    user = conn.user
    assert user is not None
    name, password = msg.params[0], msg.params[1]
    entry = conn.core.settings.oper(name)
    refusal = oper_refusal(conn, user, entry)
    if refusal is not None:
        if entry is not None and entry.has_flag("e") and not conn.secure:
            conn.notice("*** This operator login is only allowed over a TLS connection")
        _fail(conn, user, name, refusal, "ERR_NOOPERHOST")
        return
    assert entry is not None
    # Lines after OPER wait until the password is checked, so the client
    # sees the OPER reply before the replies to whatever it sent next.
    conn.gate.hold()
    d = conn.core.defer_to_thread(verify_password, password, entry.password_hash)

    def checked(ok: bool) -> None:
        if conn.user is not user or conn.closing:
            log.info("OPER {name}: {nick} left before the password was checked", name=name, nick=user.nick)
            return
        if not ok:
            _fail(conn, user, name, "wrong password", "ERR_PASSWDMISMATCH")
            return
        _succeed(conn, user, entry)

    def failed(failure: Failure) -> None:
        log.failure("checking the OPER password for {name}", failure, name=name)
        if conn.user is user and not conn.closing:
            conn.notice("*** OPER failed: the password could not be checked")
            _fail(conn, user, name, "password check failed", "ERR_PASSWDMISMATCH")

    d.addCallbacks(checked, failed)
    d.addBoth(lambda _: conn.gate.release())


def _succeed(conn: "ClientConnection", user: User, entry: OperEntry) -> None:
    flags = entry.flag_string or "-"
    conn.reply("RPL_YOUREOPER")
    conn.core.network.set_oper(user, entry.name, entry.flags)
    who = f"{user.nick} ({user.ident}@{user.realhost})"
    log.info("OPER {name} by {who} with flags {flags}", name=entry.name, who=who, flags=flags)
    text = f"{who} is now an operator ({flags})"
    for other in conn.core.network.local_users():
        if other is not user and other.is_oper and "s" in other.modes:
            other.route.send(Message("NOTICE", (other.nick, f"*** Notice -- {text}"), conn.core.name))


# -- KILL -------------------------------------------------------------------------


@command("KILL", min_params=2, oper="", syntax="KILL <nickname> :<reason>")
def handle_kill(conn: "ClientConnection", msg: Message) -> None:
    """KILL <nickname> :<reason>: disconnect a user anywhere on the network."""
    killer = conn.user
    assert killer is not None
    core = conn.core
    network = core.network
    target, reason = msg.params[0], msg.params[1]
    victim = network.find_user(target)
    if victim is None:
        if network.find_server(target) is not None:
            conn.reply("ERR_CANTKILLSERVER")
        else:
            conn.reply("ERR_NOSUCHNICK", target)
        return
    core.notice_opers(
        f"Received KILL message for {victim.nick} ({victim.ident}@{victim.realhost}) "
        f"from {killer.nick}: {reason}"
    )
    log.info("KILL {victim} by {killer}: {reason}", victim=victim.mask, killer=killer.mask, reason=reason)
    # The announcer sends a local victim its KILL and closes it; links relay it.
    network.kill_user(victim, killer, reason)


# -- REHASH -----------------------------------------------------------------------


@command("REHASH", oper="ac", syntax="REHASH")
def handle_rehash(conn: "ClientConnection", msg: Message) -> Any:
    """REHASH: re-read the config file and apply what changed."""
    user = conn.user
    assert user is not None
    core = conn.core
    conn.reply("RPL_REHASHING", core.config_path or "*")
    if core.rehash is None:
        conn.notice("*** REHASH is not available: this server was not started from a config file")
        return None
    # One at a time with AS commands and SIGHUP; later lines wait for the report.
    conn.gate.hold()
    d = core.admin_lock.run(_rehash, conn, user)
    d.addBoth(_release, conn)
    return d


def _release(result: Any, conn: "ClientConnection") -> Any:
    conn.gate.release()
    return result


def _rehash(conn: "ClientConnection", user: Any) -> None:
    """Re-read the file and report to ``user`` and the other operators."""
    core = conn.core
    try:
        report = core.rehash()
    except ConfigError as exc:
        conn.notice(f"*** REHASH failed, nothing changed: {exc}")
        log.warn("REHASH by {nick} failed: {why}", nick=user.nick, why=str(exc))
        _tell_other_opers(conn, f"{user.nick} tried to rehash the server; it failed: {exc}")
        return
    changes = list(report.changes)
    for change in changes or ["nothing changed"]:
        conn.notice(f"*** REHASH: {change}")
    for warning in report.warnings:
        conn.notice(f"*** REHASH warning: {warning}")
    summary = "; ".join(changes) or "nothing changed"
    log.info("REHASH by {nick}: {summary}", nick=user.nick, summary=summary)
    _tell_other_opers(conn, f"{user.nick} is rehashing the server config file: {summary}")


def _tell_other_opers(conn: "ClientConnection", text: str) -> None:
    """A server notice to local operators other than ``conn``'s user (no +s needed)."""
    conn.core.notice_opers(text, snomask=False, exclude=conn.user)
