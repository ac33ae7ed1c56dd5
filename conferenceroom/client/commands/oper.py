# -*- test-case-name: tests.unit.test_client_oper -*-
"""Operator commands: OPER, KILL, DIE, RESTART, REHASH, CONNECT, SQUIT.

OPER goes through ``core.oper_auth`` (:mod:`conferenceroom.operauth`): the
same 464 and the same bcrypt cost whatever is wrong, with back-off per
address and per name.  CONNECT asks ``core.link_manager``; SQUIT drops a
link (``server.route.link``) or sends SQUIT toward a server further away.
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
from ...operauth import LoginResult, TryAgain
from ...wire import Message

if TYPE_CHECKING:
    from ..protocol import ClientConnection

log = Logger()


# -- OPER -------------------------------------------------------------------------


def _fail(conn: "ClientConnection", user: User, name: str, reason: str) -> None:
    """464 whatever went wrong; the reason only in the log and to operators with +s."""
    conn.reply("ERR_PASSWDMISMATCH")
    who = f"{user.nick} ({user.ident}@{user.realhost}) [{user.ip}]"
    log.warn("failed OPER {name} by {who}: {reason}", name=name, who=who, reason=reason)
    conn.core.notice_opers(f"Failed OPER attempt as {name} by {who}: {reason}")


def _needs_tls(conn: "ClientConnection", user: User, name: str, reason: str) -> None:
    """The right password over plain text for a TLS-only entry (flag e): 491 and a NOTICE saying why."""
    conn.reply("ERR_NOOPERHOST")
    ssl = conn.core.settings.ssl
    where = f"connect to port {ssl.port} with TLS" if ssl.enabled else "connect with TLS (no TLS port is open yet)"
    conn.notice(f"*** OPER {name} needs a TLS connection (oper flag e): {where} and try again; "
                "the password just crossed the network unencrypted, consider changing it")
    who = f"{user.nick} ({user.ident}@{user.realhost}) [{user.ip}]"
    log.warn("failed OPER {name} by {who}: {reason} (right password, plain connection)",
             name=name, who=who, reason=reason)
    conn.core.notice_opers(f"Failed OPER attempt as {name} by {who}: {reason} (right password sent in plain text)")


@command("OPER", min_params=2, penalty=5, syntax="OPER <name> <password>")
def handle_oper(conn: "ClientConnection", msg: Message) -> None:
    """OPER <name> <password>: become an IRC operator.

    Any mistake gets the same 464 after the same delay; repeated mistakes
    from one address or for one name wait longer each time."""
    user = conn.user
    assert user is not None
    name, password = msg.params[0], msg.params[1]
    who = (f"{user.ident}@{user.realhost}", f"{user.ident}@{user.ip}")
    # Lines after OPER wait until the password is checked, so the client
    # sees the OPER reply before the replies to whatever it sent next.
    conn.gate.hold()
    d = conn.core.oper_auth.login(name, password, user.ip, who, conn.secure)

    def checked(result: LoginResult) -> None:
        if conn.user is not user or conn.closing:
            log.info("OPER {name}: {nick} left before the password was checked", name=name, nick=user.nick)
            return
        if result.needs_tls:
            _needs_tls(conn, user, name, result.reason or "requires TLS")
            return
        if result.entry is None:
            _fail(conn, user, name, result.reason or "refused")
            return
        _succeed(conn, user, result.entry)

    def failed(failure: Failure) -> None:
        if conn.user is not user or conn.closing:
            return
        if failure.check(TryAgain):
            log.warn("OPER by {nick} [{ip}] refused: too many password checks pending",
                     nick=user.nick, ip=user.ip)
            conn.reply("RPL_TRYAGAIN", "OPER")
            return
        log.failure("checking the OPER password for {name}", failure, name=name)
        conn.notice("*** OPER failed: the password could not be checked")
        _fail(conn, user, name, "password check failed")

    d.addCallbacks(checked, failed)
    d.addBoth(lambda _: conn.gate.release())


def _succeed(conn: "ClientConnection", user: User, entry: OperEntry) -> None:
    flags = entry.flag_string or "-"
    conn.reply("RPL_YOUREOPER")
    # +s like other servers' default snomask: a new operator sees server notices.
    conn.core.network.set_oper(user, entry.name, entry.flags, also="s")
    who = f"{user.nick} ({user.ident}@{user.realhost})"
    log.info("OPER {name} by {who} with flags {flags}", name=entry.name, who=who, flags=flags)
    conn.core.notice_opers(f"{who} is now an operator ({flags})", exclude=user)


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


# -- DIE / RESTART -------------------------------------------------------------------


def _confirm(conn: "ClientConnection", msg: Message, verb: str) -> bool:
    """True if ``msg`` names this server, as ``DIE <server>`` must (a NOTICE otherwise)."""
    name = conn.core.name
    given = msg.params[0] if msg.params else ""
    if given.lower() != name.lower():
        what = "needs this server's name to confirm" if not given else f"names {given}, not this server"
        conn.notice(f"*** {verb} {what}: {verb} {name}")
        return False
    return True


def _stop(conn: "ClientConnection", verb: str, restart: bool) -> None:
    user = conn.user
    assert user is not None
    core = conn.core
    what = "restarting" if restart else "shutting down"
    log.warn("{verb} by {nick} ({oper})", verb=verb, nick=user.nick, oper=user.oper_name)
    core.notice_opers(f"{user.nick} is {what} the server ({verb})", snomask=False)
    reason = f"Server {'restarting' if restart else 'terminating'}: {verb} by {user.nick}"
    core.lifecycle.stop(core, reason, restart=restart)


@command("DIE", oper="a", syntax="DIE <server name>")
def handle_die(conn: "ClientConnection", msg: Message) -> None:
    """DIE <server name>: shut the server down cleanly (the name confirms it)."""
    if _confirm(conn, msg, "DIE"):
        _stop(conn, "DIE", restart=False)


@command("RESTART", oper="a", syntax="RESTART <server name>")
def handle_restart(conn: "ClientConnection", msg: Message) -> None:
    """RESTART <server name>: shut down cleanly and start again with the same
    command line (the name confirms it)."""
    if _confirm(conn, msg, "RESTART"):
        _stop(conn, "RESTART", restart=True)


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


# -- CONNECT / SQUIT ----------------------------------------------------------------



def _services_server(conn: "ClientConnection") -> Any:
    """The services server ``SQUIT services`` means: ours when running, else one elsewhere on the network."""
    network = conn.core.network
    host = getattr(conn.core, "services", None)
    if host is not None:
        return host.server
    return next((s for _, s in sorted(network.servers.items())
                 if s is not network.me and s.name.lower().startswith("services.")), None)


@command("CONNECT", min_params=1, oper="", syntax="CONNECT <server mask> [<port> [<remote server>]]")
def handle_connect(conn: "ClientConnection", msg: Message) -> None:
    """CONNECT <server mask> [<port> [<remote server>]]: link now to the server
    definition the mask names (CONNECT soprano.* 7000); the hub and leaf rules
    still apply.  With a remote server, that server dials instead (port 0 or *:
    its definition's port)."""
    mask = msg.params[0]
    port = msg.params[1] if len(msg.params) > 1 else None
    if len(msg.params) > 2 and not conn.core.network.names_me(msg.params[2]):
        _remote_connect(conn, mask, port or "0", msg.params[2])
        return
    if port in ("0", "*"):
        port = None
    manager = getattr(conn.core, "link_manager", None)
    if manager is None:
        conn.notice("*** CONNECT: this server runs no server links")
        return
    try:
        text = manager.connect_now(mask, port)
    except Exception as exc:
        reason = getattr(exc, "reason", None)  # the manager's ConnectError: one sentence
        if reason is None:
            raise
        conn.notice(f"*** CONNECT {mask}: {reason}")
        return
    user = conn.user
    assert user is not None
    conn.notice(f"*** {text}")
    log.info("CONNECT {mask} by {nick}: {text}", mask=mask, nick=user.nick, text=text)


def _remote_connect(conn: "ClientConnection", mask: str, port: str, remote: str) -> None:
    """Ask the server *remote* names to dial *mask*: ``:<UID> CONNECT <mask> <port> :<SID>`` toward it."""
    user = conn.user
    assert user is not None
    server = conn.core.network.server_named(remote)
    if server is None:
        conn.reply("ERR_NOSUCHSERVER", remote)
        return
    if port == "*":
        port = "0"
    if not (port.isascii() and port.isdigit() and int(port) <= 65535):
        conn.notice(f"*** CONNECT {mask}: the port must be a number from 1 to 65535 (0 or * for the "
                    f"definition's port on {server.name})")
        return
    link = getattr(server.route, "link", None)
    if link is None:
        conn.notice(f"*** CONNECT: {server.name} makes no server links")
        return
    link.send(Message("CONNECT", (mask, str(int(port)), server.sid), user.uid))
    conn.notice(f"*** Asked {server.name} to connect to {mask}{f' on port {int(port)}' if int(port) else ''}")
    log.info("remote CONNECT {mask} {port} on {server} by {nick}", mask=mask, port=port, server=server.name,
             nick=user.nick)


@command("SQUIT", min_params=1, oper="", syntax="SQUIT <server mask> [:<reason>]")
def handle_squit(conn: "ClientConnection", msg: Message) -> None:
    """SQUIT <server mask> [:<reason>]: drop that server from the network; a
    server linked elsewhere is dropped by the server it is linked to."""
    user = conn.user
    assert user is not None
    network = conn.core.network
    mask = msg.params[0]
    reason = msg.params[1] if len(msg.params) > 1 and msg.params[1] else f"SQUIT by {user.nick}"
    server = network.find_server(mask) or next(
        (s for _, s in sorted(network.servers.items()) if s is not network.me and match(mask, s.name)), None)
    if server is None and mask.lower() == "services":
        server = _services_server(conn)
        if server is None:
            control = getattr(conn.core, "services_control", None)
            why = control.squit(user.nick, reason) if control is not None else "this server runs no services"
            conn.notice(f"*** SQUIT services: {why}")
            return
    if server is None:
        conn.reply("ERR_NOSUCHSERVER", mask)
        return
    if server is network.me:
        conn.notice(f"*** SQUIT: {server.name} is this server (DIE stops it)")
        return
    squit_here = getattr(server.route, "squit", None)
    if squit_here is not None:  # our own services pseudo-server
        conn.core.notice_opers(f"Received SQUIT {server.name} from {user.nick} ({reason})")
        log.info("SQUIT {server} by {nick}: {reason}", server=server.name, nick=user.nick, reason=reason)
        conn.notice(f"*** SQUIT {server.name}: {squit_here(reason, user.nick)}")
        return
    link = getattr(server.route, "link", None)
    if link is None:
        conn.notice(f"*** SQUIT: no link leads to {server.name}")
        return
    conn.core.notice_opers(f"Received SQUIT {server.name} from {user.nick} ({reason})")
    log.info("SQUIT {server} by {nick}: {reason}", server=server.name, nick=user.nick, reason=reason)
    if link.peer is server:
        conn.notice(f"*** SQUIT: dropping the link to {server.name} ({reason})")
        link.drop(reason)
    else:
        conn.notice(f"*** SQUIT: asked {link.name} to drop {server.name} ({reason})")
        link.send(Message("SQUIT", (server.sid, reason), user.uid))
