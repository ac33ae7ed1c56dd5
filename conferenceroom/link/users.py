# -*- test-case-name: tests.unit.test_link_commands -*-
"""User lines from a peer: UID (also from a burst line's words), NICK, SVSNICK, QUIT, KILL, CERTFP,
AWAY, user modes and what services may set (SVSACCOUNT, SVSMODE)."""

from __future__ import annotations

import re
from typing import Any

from twisted.logger import Logger

from ..casemap import valid_nick
from ..dispatch import command
from ..modes import ModeChange, ModeKind, parse_mode_string
from ..network import Server, User
from ..wire import Message
from .side import LinkSide, int_of, server_of, user_by_ref

log = Logger()

USER_MODE_LETTERS = "iowsAazB"  # B: IRCv3 bot mode, kept across CR links
_USER_MODE_SET = frozenset(USER_MODE_LETTERS)
#: hybrid 8.2 marks a TLS user with both +S and +z: both mean our +z
PEER_USER_MODES = {"S": "z"}
#: a certificate fingerprint as peers send it (hex; hybrid upper-case, others lower-case)
_CERTFP = re.compile(r"[0-9A-Fa-f]{40,128}")


@command("UID", min_params=11, origin="server")
def handle_uid(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<SID> UID <nick> <hops> <TS> +<umodes> <user> <host> <realhost> <ip> <UID> <account> :<gecos>``."""
    _introduce(side, link, source, *msg.params[:11])


def split_uid(side: LinkSide, link: Any, source: Any, words: list[str], gecos: str | None) -> bool:
    """A UID line split at spaces (see ``ServerCommandTable.dispatch_split``): 10 words and the gecos."""
    if gecos is None or len(words) != 12:
        return False
    _introduce(side, link, source, *words[2:], gecos)
    return True


def _introduce(
    side: LinkSide, link: Any, source: Any, nick: str, _hops: str, ts: str, umodes: str, ident: str,
    host: str, realhost: str, ip: str, uid: str, account: str, gecos: str,
) -> None:
    """A user introduced by UID: checked, then added (nick collisions by the TS rules)."""
    network = side.network
    if not isinstance(source, Server):
        link.protocol_error(f"UID {uid} introduced by a user")
        return
    if len(uid) != 9 or not uid.startswith(source.sid):
        link.protocol_error(f"UID {uid} does not belong to server {source.name} ({source.sid})")
        return
    if uid in network.users_by_uid:
        link.protocol_error(f"UID {uid} is already in use")
        return
    if not (ts.isascii() and ts.isdecimal()) or not valid_nick(nick):
        link.send(Message("KILL", (uid, f"{side.me.name} (Bad nickname or TS)"), side.me.sid))
        return
    user = User(uid, nick, ident, host, gecos, source, link.route, ip=ip, signon=int(ts))
    user.realhost = realhost
    if umodes != "+":
        user.set_modes({PEER_USER_MODES.get(m, m) for m in umodes.lstrip("+")} & _USER_MODE_SET)
    if account not in ("*", "0", ""):
        user.account = account  # add_user derives +r from it and the nick, whatever the umodes said
    collision = network.add_user(user, origin=link.route)
    if collision is not None and not collision.accepted:
        link.send(Message("KILL", (uid, f"{side.me.name} ({collision.reason})"), side.me.sid))


@command("NICK", min_params=1, origin="server")
def handle_nick(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> NICK <new nick> :<TS>``: a nick change, collisions by TS."""
    if not isinstance(source, User):
        link.protocol_error("NICK from a server (users are introduced with UID)")
        return
    new = msg.params[0]
    ts = int_of(msg.params[1]) if len(msg.params) > 1 else None
    if not valid_nick(new):
        side.network.kill_user(source, side.me, "Bad nickname")
        return
    side.network.change_nick(source, new, origin=link.route, ts=side.network.now() if ts is None else ts)


@command("SVSNICK", min_params=4, origin="server")
def handle_svsnick(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<services> SVSNICK <UID> <old TS> <new nick> <new TS>``: services rename a user (hybrid's form).

    Only a services server (or a user on one) may; a user here is renamed
    by this server (every link sees the NICK), one elsewhere is passed on
    toward its server.  A nick taken by someone else, a bad nick or a stale
    old TS changes nothing.
    """
    if not server_of(source).name.lower().startswith("services."):
        log.info("SVSNICK from {source}, not a services server, ignored", source=server_of(source).name)
        return
    target = user_by_ref(side.network, msg.params[0])
    new, old_ts, new_ts = msg.params[2], int_of(msg.params[1]), int_of(msg.params[3])
    if target is None or not valid_nick(new):
        return
    if old_ts and old_ts != int(target.nick_ts):
        return
    if not target.is_local:
        if target.route is not link.route:
            side.toward(target, msg)
        return
    if not side.network.nick_available(new, target):
        log.info("SVSNICK {old} -> {new} refused: the nick is taken", old=target.nick, new=new)
        return
    side.network.change_nick(target, new, ts=float(new_ts) if new_ts else None)


@command("QUIT", origin="server")
def handle_quit(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> QUIT :<reason>``."""
    if isinstance(source, User):
        side.network.remove_user(source, msg.params[0] if msg.params else "", origin=link.route)


def split_kill_text(text: str) -> tuple[str, str]:
    """``path (reason)`` -> (path, reason); text without a path is all reason."""
    if text.endswith(")") and " (" in text:
        path, _, reason = text.partition(" (")
        return path, reason[:-1]
    return "", text


@command("KILL", min_params=1, origin="server")
def handle_kill(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> KILL <UID> :<path> (<reason>)``; a KILL for an unknown UID is ignored.

    Every server the KILL reaches tells its +s operators (as hybrid does),
    not only the killer's.
    """
    target = side.network.users_by_uid.get(msg.params[0])
    if target is None:
        return
    path, reason = split_kill_text(msg.params[1] if len(msg.params) > 1 else "")
    by = getattr(source, "nick", None) or source.name
    side.notice(f"Received KILL message for {target.nick} ({target.ident}@{target.realhost}) "
                f"From {by} Path: {path or by} ({reason or 'No reason'})")
    side.network.kill_user(target, source, reason or "No reason", path=path or None, origin=link.route)


def set_certfp(side: LinkSide, link: Any, user: Any, fp: str) -> None:
    """Record a user's client certificate fingerprint (lower-case hex); junk is ignored."""
    if isinstance(user, User) and _CERTFP.fullmatch(fp):
        user.certfp = fp.lower()


@command("CERTFP", min_params=1, origin="server")
def handle_certfp(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> CERTFP <fingerprint>`` (hybrid 8.2, after UID): the user's client certificate; passed on."""
    if isinstance(source, User) and _CERTFP.fullmatch(msg.params[0]):
        set_certfp(side, link, source, msg.params[0])
        side.forward(link, msg)


@command("AWAY", origin="server")
def handle_away(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> AWAY :<text>`` (away) or ``:<UID> AWAY`` (back)."""
    if isinstance(source, User):
        side.network.set_away(source, msg.params[0] if msg.params else None, origin=link.route)


def user_mode(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> MODE <UID> :+<modes>``: a user's modes, applied if the user is behind ``link``."""
    target = user_by_ref(side.network, msg.params[0])
    if target is None or target.route is not link.route:
        return
    parsed = parse_mode_string(msg.params[1:], {m: ModeKind.FLAG for m in USER_MODE_LETTERS}, 99)
    side.network.apply_user_modes(source, target, parsed.changes, origin=link.route)


def from_services(side: LinkSide, link: Any, source: Any, verb: str) -> bool:
    """True if ``source`` may log users in and out (services, or the server hosting them).

    As hybrid obeys SVS* only from a ``service {}`` server, anything else is
    ignored (and logged).
    """
    if side.network.speaks_for_services(server_of(source)):
        return True
    log.warn("{verb} from {source} ignored: not the services server (link {peer})", verb=verb,
             source=getattr(source, "name", None) or getattr(source, "nick", "?"),
             peer=getattr(link, "name", "?"))
    return False


def _services_target(side: LinkSide, link: Any, source: Any, msg: Message) -> User | None:
    """The user an SVS* line from services names by UID (None: unknown, or not from services)."""
    target = side.network.users_by_uid.get(msg.params[0])
    if target is None or not from_services(side, link, source, msg.command):
        return None
    return target


@command("SVSACCOUNT", min_params=3, origin="server")
def handle_svsaccount(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<services> SVSACCOUNT <UID> <TS> <account or *>``: a login or logout by services.

    The user is named by UID, so the TS is not compared (hybrid drops a
    change whose TS is not the user's nick TS; a nick change crossing the
    login would then leave servers disagreeing).
    """
    target = _services_target(side, link, source, msg)
    if target is not None:
        side.network.set_account(target, msg.params[2], origin=link.route)


@command("SVSMODE", min_params=3, origin="server")
def handle_svsmode(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<services> SVSMODE <UID> <TS> <+modes|-modes>``: user modes set by services.

    ``r`` follows the account (SVSACCOUNT), so it is not taken from here;
    ``i`` and ``w`` are applied, ``-o`` takes operator status away.
    """
    target = _services_target(side, link, source, msg)
    if target is None:
        return
    parsed = parse_mode_string(msg.params[2:3], {m: ModeKind.FLAG for m in USER_MODE_LETTERS + "rR"}, 99)
    changes = [c for c in parsed.changes if c.mode in "iw" or (c.mode == "o" and not c.adding)]
    if any(c.mode == "o" for c in changes):
        changes += [ModeChange(False, m) for m in "Aa"]
    side.network.apply_user_modes(source, target, changes, origin=link.route)

