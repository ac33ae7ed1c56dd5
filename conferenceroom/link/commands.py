# -*- test-case-name: tests.unit.test_link_commands -*-
"""Server-origin commands after the handshake: TS6 lines applied to the network.

Each handler is declared ``@command(VERB, origin="server")`` and called as
``handler(side, link, source, msg)``; :func:`build_table` binds the
:class:`LinkSide` (network, router, links, notices) so the
:class:`~conferenceroom.dispatch.ServerCommandTable` calls it with
``(link, source, msg)``.  The table has already resolved ``source`` and
checked that it is behind ``link``; a short message was a protocol error.
State changes go through :class:`~conferenceroom.network.Network` with
``origin=link.route``; the :class:`~conferenceroom.link.outbound.LinkAnnouncer`
passes them on to the other links.  Lines that are not state (ENCAP for
others, EOB, PING, numerics, queries for other servers) are forwarded here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from twisted.logger import Logger

from ..casemap import fold, is_channel, match, valid_channel, valid_nick
from ..limits import REALNAMELEN
from ..dispatch import CommandSpec, ServerCommandTable, command
from ..modes import CHANNEL_MODES, STATUS_RANK, ModeChange, ModeKind, parse_mode_string
from ..network import Channel, Network, Server, User
from ..wire import Message
from . import queries, remoteops
from .outbound import SERVICES_FLAG, status_of_prefixes
from .policy import two_services
from .saslrelay import encap_sasl
from .ts6 import looks_like_services, valid_sid, valid_server_name

log = Logger()

#: Channel modes a TS6 peer may send: ours, hybrid's admin (``a``, taken as op)
#: and halfop (``h``, taken as voice).
PEER_CHANNEL_MODES = dict(CHANNEL_MODES, a=ModeKind.STATUS, h=ModeKind.STATUS)
PEER_STATUS = {"a": "o", "h": "v"}
USER_MODE_LETTERS = "iowsAazB"  # B: IRCv3 bot mode, kept across CR links
_USER_MODE_SET = frozenset(USER_MODE_LETTERS)
#: hybrid 8.2 marks a TLS user with both +S and +z: both mean our +z
PEER_USER_MODES = {"S": "z"}
#: a certificate fingerprint as peers send it (hex; hybrid upper-case, others lower-case)
_CERTFP = re.compile(r"[0-9A-Fa-f]{40,128}")


@dataclass
class LinkSide:
    """What server handlers use: the network, the router, the links and operator notices.

    ``core`` (optional) answers remote queries (MOTD, VERSION, ...).
    """

    network: Network
    router: Any
    links: Callable[[], Iterable[Any]] = lambda: ()
    notice: Callable[[str], None] = lambda text: None
    core: Any = None

    @property
    def me(self) -> Server:
        """This server."""
        return self.network.me

    def others(self, link: Any) -> list[Any]:
        """Every link but ``link`` (accepted, its burst written: lines after it are in order there)."""
        return [other for other in self.links() if other is not link]

    def link_of(self, route: Any) -> Any:
        """The link whose route is ``route`` (None if none)."""
        return next((other for other in self.links() if other.route is route), None)

    def forward(self, link: Any, msg: Message) -> None:
        """Pass ``msg`` unchanged to every other link."""
        for other in self.others(link):
            other.send(msg)

    def toward(self, obj: User | Server, msg: Message) -> bool:
        """Send ``msg`` on the link that reaches ``obj``; False if there is none."""
        target = self.link_of(obj.route)
        if target is None:
            return False
        target.send(msg)
        return True


def build_table(side: LinkSide) -> ServerCommandTable:
    """The server command table of this module, bound to ``side``."""
    from . import commands as this

    base = ServerCommandTable.from_modules(this, remoteops, origin="server")
    table = ServerCommandTable()
    table.network = side.network
    for spec in base.specs.values():
        table.add(replace(spec, handler=partial(spec.handler, side)))
    for number in range(1, 1000):  # every numeric: a reply on its way to a user
        code = f"{number:03d}"
        if code not in table.specs:
            table.add(CommandSpec(code, partial(handle_numeric, side), min_params=1, origin="server"))
    for verb, split in SPLIT_HANDLERS.items():
        table.add_split(verb, partial(split, side))
    table.side = side  # type: ignore[attr-defined]
    return table


def _int(value: str) -> int | None:
    """``value`` as a non-negative integer (ASCII digits only), or None."""
    return int(value) if value.isascii() and value.isdecimal() else None


def _user(network: Network, ref: str) -> User | None:
    """A user named by UID (or, from older peers, by nick)."""
    return network.users_by_uid.get(ref) or network.find_user(ref)


def _server_of(source: User | Server) -> Server:
    return source.server if isinstance(source, User) else source


def _our(side: LinkSide, ref: str) -> bool:
    """True if ``ref`` (a SID or a server name/mask) means this server."""
    return ref == side.me.sid or fold(ref) == fold(side.me.name) or match(ref, side.me.name)


# -- servers -------------------------------------------------------------------------


@command("SID", min_params=5, origin="server")
def handle_sid(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<uplink> SID <name> <hops> <SID> +<flags> :<description>``: a server behind the link."""
    name, hops, sid = msg.params[0], msg.params[1], msg.params[2]
    description = msg.params[-1]
    network = side.network
    peer = link.peer
    if isinstance(source, User):
        link.protocol_error(f"SID {name} introduced by a user ({source.nick})")
        return
    if getattr(peer, "role", "hub") == "leaf":
        link.protocol_error(f"Leaf {peer.name} introduced a server ({name})")
        return
    if not valid_server_name(name):
        link.protocol_error(f"Invalid server name {name} in SID")
        return
    if not valid_sid(sid):
        link.protocol_error(f"Invalid server ID {sid} in SID for {name}")
        return
    if network.find_server(name) is not None:
        link.protocol_error(f"Server {name} already exists in this network")
        return
    if sid in network.servers_by_sid:
        link.protocol_error(f"Server ID {sid} is already in use in this network")
        return
    if looks_like_services(name):
        ours = next((s.name for s in network.servers.values()
                     if s is not network.me and looks_like_services(s.name)), None)
        if ours is not None:
            link.protocol_error(two_services(name, link.peer.name if link.peer is not None else name, ours))
            return
    server = Server(name, sid, description, uplink=source, route=link.route,
                    hopcount=_int(hops) or source.hopcount + 1)
    server.services = len(msg.params) > 4 and SERVICES_FLAG in msg.params[3]
    network.add_server(server, origin=link.route)
    side.notice(f"Server {name} ({sid}) introduced by {source.name}")


@command("SQUIT", min_params=1, origin="server")
def handle_squit(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``[:<source>] SQUIT <SID or name> :<reason>``: a server leaves, or a request to drop one."""
    network = side.network
    ref = msg.params[0]
    reason = msg.params[1] if len(msg.params) > 1 else "No reason"
    if _our(side, ref):
        target = link.peer  # "this link": the peer drops us
    else:
        target = network.servers_by_sid.get(ref) or network.find_server(ref)
    if target is None or target is side.me:
        log.info("SQUIT for unknown server {ref} ignored", ref=ref)
        return
    if target is link.peer and getattr(link, "drop", None) is not None:
        link.drop(reason)  # the link closes; losing it splits the peer's side
        return
    if target.route is link.route:
        uplink = target.uplink.name if target.uplink is not None else "?"
        network.remove_server(target, reason, origin=link.route)
        side.notice(f"Server {target.name} split from {uplink} ({reason})")
        return
    by = getattr(source, "nick", None) or source.name
    squit_here = getattr(target.route, "squit", None)
    if squit_here is not None:  # our services pseudo-server: we drop it ourselves
        side.notice(f"Remote SQUIT {target.name} from {by} ({reason})")
        squit_here(reason, by)
        return
    # A remote SQUIT of a server on our side: pass it toward that server.
    src = source.uid if isinstance(source, User) else source.sid
    side.notice(f"Remote SQUIT {target.name} from {getattr(source, 'nick', None) or source.name} ({reason})")
    side.toward(target, Message("SQUIT", (target.sid, reason), src))


@command("EOB", origin="server")
def handle_eob(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<SID> EOB``: a server finished its burst (the peer's ends the link's burst)."""
    if source is link.peer:
        end = getattr(link, "end_of_burst", None)
        if end is not None:
            end()
    side.forward(link, msg)


@command("PING", min_params=1, origin="server")
def handle_ping(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``PING :<origin>`` or ``PING <origin> :<destination>``: answered here or passed on."""
    dest = msg.params[1] if len(msg.params) > 1 and msg.params[1] else None
    if dest is None or _our(side, dest):
        link.send(Message("PONG", (side.me.name, msg.params[0]), side.me.sid))
        return
    target = side.network.servers_by_sid.get(dest) or side.network.find_server(dest)
    if target is not None:
        side.toward(target, msg)


@command("PONG", min_params=1, origin="server")
def handle_pong(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<SID> PONG <name> :<destination>``: ours ends here (keepalive), others are passed on."""
    dest = msg.params[1] if len(msg.params) > 1 else None
    if dest is None or _our(side, dest):
        return
    target = side.network.servers_by_sid.get(dest) or side.network.find_server(dest)
    if target is not None:
        side.toward(target, msg)


@command("ERROR", registered=False, origin="server")
def handle_error(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``ERROR :<text>``: the peer is closing the link; logged and noticed."""
    text = msg.params[0] if msg.params else ""
    log.warn("ERROR from {peer}: {text}", peer=getattr(link, "name", "?"), text=text)
    side.notice(f"ERROR from {getattr(link, 'name', '?')}: {text}")


# -- users ---------------------------------------------------------------------------


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
    ts = _int(msg.params[1]) if len(msg.params) > 1 else None
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
    if not _server_of(source).name.lower().startswith("services."):
        log.info("SVSNICK from {source}, not a services server, ignored", source=_server_of(source).name)
        return
    target = _user(side.network, msg.params[0])
    new, old_ts, new_ts = msg.params[2], _int(msg.params[1]), _int(msg.params[3])
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
    """``:<source> KILL <UID> :<path> (<reason>)``; a KILL for an unknown UID is ignored."""
    target = side.network.users_by_uid.get(msg.params[0])
    if target is None:
        return
    path, reason = split_kill_text(msg.params[1] if len(msg.params) > 1 else "")
    side.network.kill_user(target, source, reason or "No reason", path=path or None, origin=link.route)


def _set_certfp(side: LinkSide, link: Any, user: Any, fp: str) -> None:
    """Record a user's client certificate fingerprint (lower-case hex); junk is ignored."""
    if isinstance(user, User) and _CERTFP.fullmatch(fp):
        user.certfp = fp.lower()


@command("CERTFP", min_params=1, origin="server")
def handle_certfp(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> CERTFP <fingerprint>`` (hybrid 8.2, after UID): the user's client certificate; passed on."""
    if isinstance(source, User) and _CERTFP.fullmatch(msg.params[0]):
        _set_certfp(side, link, source, msg.params[0])
        side.forward(link, msg)


@command("AWAY", origin="server")
def handle_away(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> AWAY :<text>`` (away) or ``:<UID> AWAY`` (back)."""
    if isinstance(source, User):
        side.network.set_away(source, msg.params[0] if msg.params else None, origin=link.route)


def _user_mode(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    target = _user(side.network, msg.params[0])
    if target is None or target.route is not link.route:
        return
    parsed = parse_mode_string(msg.params[1:], {m: ModeKind.FLAG for m in USER_MODE_LETTERS}, 99)
    side.network.apply_user_modes(source, target, parsed.changes, origin=link.route)


def _from_services(side: LinkSide, link: Any, source: Any, verb: str) -> bool:
    """True if ``source`` may log users in and out (services, or the server hosting them).

    As hybrid obeys SVS* only from a ``service {}`` server, anything else is
    ignored (and logged).
    """
    if side.network.speaks_for_services(_server_of(source)):
        return True
    log.warn("{verb} from {source} ignored: not the services server (link {peer})", verb=verb,
             source=getattr(source, "name", None) or getattr(source, "nick", "?"),
             peer=getattr(link, "name", "?"))
    return False


def _services_target(side: LinkSide, link: Any, source: Any, msg: Message) -> User | None:
    """The user an SVS* line from services names by UID (None: unknown, or not from services)."""
    target = side.network.users_by_uid.get(msg.params[0])
    if target is None or not _from_services(side, link, source, msg.command):
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


# -- channels ------------------------------------------------------------------------


_PREFIX_CHARS = frozenset("~&@%+.")


#: SJOIN prefix strings seen (``@``, ``@+``, ...) -> their status modes; a handful in practice, bounded.
_STATUS_OF: dict[str, str] = {}


def _members(side: LinkSide, link: Any, text: str) -> list[tuple[User, str]]:
    """SJOIN members (``@+UID``) that exist and live behind ``link``."""
    found = []
    known = side.network.users_by_uid.get
    route = link.route
    status_of = _STATUS_OF.get
    for token in text.split():
        if token[0] in _PREFIX_CHARS:
            uid = token.lstrip("~&@%+.")
            prefixes = token[: len(token) - len(uid)]
            status = status_of(prefixes)
            if status is None:
                status = status_of_prefixes(prefixes)
                if len(_STATUS_OF) < 256:
                    _STATUS_OF[prefixes] = status
        else:  # most members of a burst: no status
            uid, status = token, ""
        user = known(uid)
        if user is not None and user.route is route:
            found.append((user, status))
    return found


#: SJOIN mode words already read (most channels of a burst share a few): tuple of words -> flags, key, limit.
_SJOIN_MODES: dict[tuple[str, ...], list[ModeChange]] = {}
_SJOIN_MODES_MAX = 512


def _sjoin_modes(args: tuple[str, ...]) -> list[ModeChange]:
    """The flags, key and limit of an SJOIN's mode words (lists and statuses have no place there)."""
    modes = _SJOIN_MODES.get(args)
    if modes is None:
        parsed = parse_mode_string(args, CHANNEL_MODES, 99)
        modes = [c for c in parsed.changes if CHANNEL_MODES[c.mode] not in (ModeKind.LIST, ModeKind.STATUS)]
        if len(_SJOIN_MODES) >= _SJOIN_MODES_MAX:
            _SJOIN_MODES.clear()
        _SJOIN_MODES[args] = modes
    return list(modes)


@command("SJOIN", min_params=4, origin="server")
def handle_sjoin(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<SID> SJOIN <TS> <channel> +<modes> [<params>] :<members>``: the netjoin TS rules."""
    _sjoin(side, link, source, msg.params[0], msg.params[1], msg.params[2:-1], msg.params[-1])


def split_sjoin(side: LinkSide, link: Any, source: Any, words: list[str], members: str | None) -> bool:
    """An SJOIN line split at spaces (see ``ServerCommandTable.dispatch_split``): the members trail."""
    if members is None or len(words) < 5:
        return False
    _sjoin(side, link, source, words[2], words[3], tuple(words[4:]), members)
    return True


def _sjoin(
    side: LinkSide, link: Any, source: Any, ts_word: str, name: str, mode_words: tuple[str, ...], text: str,
) -> None:
    ts = _int(ts_word)
    if ts is None or not valid_channel(name):
        log.info("SJOIN for {name} with TS {ts} ignored", name=name, ts=ts_word)
        return
    modes = _sjoin_modes(mode_words)
    members = _members(side, link, text)
    if not members:
        # Nobody it names is here (they lost nick collisions or left in flight): the
        # sender's channel is gone with them, so its TS and modes must not touch ours.
        log.info("SJOIN for {name} naming nobody we know ignored", name=name)
        return
    side.network.netjoin(_server_of(source), name, ts, modes, members, origin=link.route)


#: Verbs whose lines are handled from their words (the bulk of a burst), beside their @command handler.
SPLIT_HANDLERS = {"UID": split_uid, "SJOIN": split_sjoin}


@command("JOIN", min_params=1, origin="server")
def handle_join(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> JOIN <TS> <channel> +`` (``JOIN 0`` leaves every channel)."""
    if not isinstance(source, User):
        return
    network = side.network
    if msg.params[0] == "0":
        for channel in list(source.channels):
            network.part(source, channel, "Left all channels", origin=link.route)
        return
    if len(msg.params) < 2:
        link.protocol_error(f"JOIN from {source.uid}: 2 parameters needed, 1 given")
        return
    ts, name = _int(msg.params[0]), msg.params[1]
    if ts is None or not valid_channel(name):
        return
    channel = network.find_channel(name)
    if channel is not None and source in channel.members:
        return
    network.join(source, name, origin=link.route, ts=ts)


@command("PART", min_params=1, origin="server")
def handle_part(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> PART <channel>[,<channel>] :<reason>``."""
    if not isinstance(source, User):
        return
    reason = msg.params[1] if len(msg.params) > 1 else None
    for name in msg.params[0].split(","):
        channel = side.network.find_channel(name)
        if channel is not None and source in channel.members:
            side.network.part(source, channel, reason, origin=link.route)


@command("KICK", min_params=2, origin="server")
def handle_kick(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> KICK <channel> <UID> :<reason>``."""
    channel = side.network.find_channel(msg.params[0])
    target = _user(side.network, msg.params[1])
    if channel is None or target is None or target not in channel.members:
        return
    reason = msg.params[2] if len(msg.params) > 2 else (getattr(source, "nick", None) or source.name)
    side.network.kick(source, channel, target, reason, origin=link.route)


def _channel_changes(side: LinkSide, args: tuple[str, ...]) -> list[ModeChange]:
    """Mode changes from a peer: status targets by UID (a and h mapped), unknown letters dropped."""
    parsed = parse_mode_string(args, PEER_CHANNEL_MODES, 99)
    changes = []
    for change in parsed.changes:
        mode = PEER_STATUS.get(change.mode, change.mode)
        if CHANNEL_MODES[mode] is ModeKind.STATUS:
            member = _user(side.network, change.param or "")
            if member is None:
                continue
            changes.append(ModeChange(change.adding, mode, member.nick, member))
        elif CHANNEL_MODES[mode] is ModeKind.LIST and not change.param:
            continue
        elif mode == "l" and change.adding and not _int(change.param or ""):
            continue  # a limit must be a positive number
        else:
            changes.append(ModeChange(change.adding, mode, change.param))
    return changes


def _apply_modes(side: LinkSide, link: Any, source: Any, channel: Channel, args: tuple[str, ...]) -> None:
    changes = [c for c in _channel_changes(side, args) if c.member is None or c.member in channel.members]
    if changes:
        side.network.apply_channel_modes(source, channel, changes, origin=link.route)


@command("TMODE", min_params=3, origin="server")
def handle_tmode(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> TMODE <TS> <channel> <modes> [<params>]``: ignored when its TS is higher than ours."""
    ts = _int(msg.params[0])
    channel = side.network.find_channel(msg.params[1])
    if ts is None or channel is None or not side.network.ts_accepts(channel, ts):
        return
    _apply_modes(side, link, source, channel, msg.params[2:])


@command("MODE", min_params=2, origin="server")
def handle_mode(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> MODE <UID> :+<modes>`` (user modes), or a channel MODE without TS."""
    if is_channel(msg.params[0]):
        channel = side.network.find_channel(msg.params[0])
        if channel is not None:
            _apply_modes(side, link, source, channel, msg.params[1:])
        return
    _user_mode(side, link, source, msg)


@command("BMASK", min_params=4, origin="server")
def handle_bmask(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<SID> BMASK <TS> <channel> <b|e|I> :<mask> ...``: list entries, only with our channel TS.

    A higher TS is ignored (the TMODE rule); a lower one can only follow an
    SJOIN we ignored because it named nobody we know.
    """
    ts = _int(msg.params[0])
    channel = side.network.find_channel(msg.params[1])
    mode = msg.params[2]
    if ts is None or channel is None or mode not in ("b", "e", "I"):
        return
    if ts != channel.ts:  # higher: ignored (TS rule); lower: its SJOIN named nobody we know
        return
    changes = [ModeChange(True, mode, mask) for mask in msg.params[3].split()]
    if changes:
        side.network.apply_channel_modes(_server_of(source), channel, changes, origin=link.route)


@command("TBURST", min_params=5, origin="server")
def handle_tburst(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<SID> TBURST <channel TS> <channel> <topic TS> <setter> :<topic>``: kept by the TS rules.

    Its SJOIN came first and lowered our TS if theirs was lower; a TBURST
    with a lower channel TS still (its SJOIN named nobody we know) is ignored.
    """
    channel_ts, name, topic_ts, setter, text = msg.params[:5]
    channel = side.network.find_channel(name)
    if channel is None or _int(channel_ts) is None or _int(topic_ts) is None:
        return
    server = _server_of(source)
    services = getattr(server, "services", False)
    if int(channel_ts) < channel.ts and not services:
        return  # its SJOIN would have lowered our TS: it named nobody we know, the channel is gone there
    side.network.burst_topic(server, channel, int(channel_ts), int(topic_ts), text, setter,
                             origin=link.route, services=services)


@command("TOPIC", min_params=1, origin="server")
def handle_topic(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> TOPIC <channel> :<text>``: a live topic change."""
    channel = side.network.find_channel(msg.params[0])
    if channel is None:
        return
    text = msg.params[1] if len(msg.params) > 1 else ""
    setter = source.mask if isinstance(source, User) else source.name
    side.network.set_topic(source, channel, text, setter, origin=link.route)


@command("INVITE", min_params=2, origin="server")
def handle_invite(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> INVITE <target UID> <channel> <channel TS>``: ignored for a newer channel."""
    target = _user(side.network, msg.params[0])
    channel = side.network.find_channel(msg.params[1])
    if not isinstance(source, User) or target is None or channel is None:
        return
    ts = _int(msg.params[2]) if len(msg.params) > 2 else None
    if ts is not None and ts > channel.ts:
        return
    side.network.invite(source, target, channel, origin=link.route)  # the announcer passes it on


# -- messages ------------------------------------------------------------------------


def _message(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    verb, target = msg.command, msg.params[0]
    text = msg.params[1] if verb != "TAGMSG" else None
    network, router = side.network, side.router
    # From a ConferenceRoom peer: client-only tags and msgid (hybrid sends none); TAGMSG
    # goes only to clients with message-tags.
    tags = {k: v for k, v in msg.tags.items() if k[:1] == "+" or k == "msgid"} if msg.tags else {}
    if isinstance(source, User) and source.account:
        tags["account"] = source.account
    cap = "message-tags" if verb == "TAGMSG" else None
    rest = (text,) if text is not None else ()
    if target.startswith("$"):
        if text is None:
            return
        mask = target[2:] if target[:2] in ("$$", "$#") else target[1:]
        if target.startswith("$#"):
            readers = [u for u in network.users_by_uid.values() if match(mask, u.host)]
        else:
            readers = [u for u in network.users_by_uid.values() if match(mask, u.server.name)]
        router.deliver(source, target, verb, (target, text), origin=link.route, recipients=readers, tags=tags)
        return
    prefixes = ""
    name = target
    while name and name[0] in "~@%+" and len(name) > 1 and is_channel(name[1:].lstrip("~@%+")):
        prefixes, name = prefixes + name[0], name[1:]
    if is_channel(name):
        channel = network.find_channel(name)
        if channel is None:
            return
        status = status_of_prefixes(prefixes)
        lowest = min(status, key=lambda m: STATUS_RANK[m]) if status else None
        shown = prefixes + channel.name
        router.deliver(source, channel, verb, (shown, *rest), origin=link.route, status=lowest,
                       tags=tags, cap=cap)
        return
    recipient = _user(network, target.split("@", 1)[0])
    if recipient is None:
        if verb == "PRIVMSG" and isinstance(source, User):
            link.send(Message("401", (source.uid, target, "No such nick/channel"), side.me.sid))
        return
    router.deliver(source, recipient, verb, (recipient.nick, *rest), origin=link.route, tags=tags, cap=cap)


@command("PRIVMSG", min_params=2, origin="server")
def handle_privmsg(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> PRIVMSG <UID | channel | @channel | $$mask> :<text>``."""
    _message(side, link, source, msg)


@command("NOTICE", min_params=2, origin="server")
def handle_notice(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> NOTICE <UID | channel | @channel | $$mask> :<text>``."""
    _message(side, link, source, msg)


@command("TAGMSG", min_params=1, origin="server")
def handle_tagmsg(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``@<tags> :<source> TAGMSG <UID | channel>`` (between ConferenceRoom servers)."""
    _message(side, link, source, msg)


@command("WALLOPS", min_params=1, origin="server")
def handle_wallops(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> WALLOPS :<text>``: to every user with +w, and on to the other links."""
    readers = [u for u in side.network.local_users() if "w" in u.modes]  # links: all get a broadcast
    # A broadcast: also passed on to links with no +w reader behind them (a hub relays it).
    side.router.deliver(source, "*", "WALLOPS", (msg.params[-1],), origin=link.route, recipients=readers)


def _wall(side: LinkSide, source: Any, label: str, text: str) -> None:
    """GLOBOPS / OPERWALL to local operators, as the client side shows them."""
    name = getattr(source, "nick", None) or source.name
    me = side.me.name
    if label == "GLOBOPS":
        line = f"*** Global -- from {name}: {text}"
        side.router.to_opers(lambda u: Message("NOTICE", (u.nick, line), me), user_mode="s")
    else:
        mask = source.mask if isinstance(source, User) else source.name
        side.router.to_opers(lambda u: Message("WALLOPS", (f"{label} - {text}",), mask), user_mode="w")


@command("GLOBOPS", min_params=1, origin="server")
def handle_globops(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> GLOBOPS :<text>``: to local operators with +s, and on to the other links."""
    _wall(side, source, "GLOBOPS", msg.params[-1])
    side.forward(link, msg)


@command("OPERWALL", min_params=1, origin="server")
def handle_operwall(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> OPERWALL :<text>``: to local operators with +w, and on to the other links."""
    _wall(side, source, "OPERWALL", msg.params[-1])
    side.forward(link, msg)


# -- ENCAP ---------------------------------------------------------------------------


def _encap_chghost(side: LinkSide, link: Any, source: Any, args: tuple[str, ...]) -> None:
    if len(args) < 2:
        return
    user = side.network.users_by_uid.get(args[0])
    if user is not None and args[1] != user.host:
        side.network.set_host(user, user.ident, args[1], origin=link.route)


def _encap_wall(label: str) -> Callable[..., None]:
    def handle(side: LinkSide, link: Any, source: Any, args: tuple[str, ...]) -> None:
        if args:
            _wall(side, source, label, args[-1])
    return handle


def _encap_login(side: LinkSide, link: Any, source: Any, args: tuple[str, ...]) -> None:
    """``ENCAP * SU <UID> [<account>]`` (charybdis/atheme) or ``ENCAP * LOGIN <account>``."""
    if isinstance(source, User) and len(args) == 1:
        user, account = source, args[0]
    else:
        user = side.network.users_by_uid.get(args[0]) if args else None
        account = args[1] if len(args) > 1 else "*"
    if user is not None and _from_services(side, link, source, "ENCAP SU"):
        side.network.set_account(user, account, origin=link.route)


def _encap_certfp(side: LinkSide, link: Any, source: Any, args: tuple[str, ...]) -> None:
    """``:<UID> ENCAP * CERTFP :<fingerprint>`` (charybdis family)."""
    if args:
        _set_certfp(side, link, source, args[-1])


def _encap_setname(side: LinkSide, link: Any, source: Any, args: tuple[str, ...]) -> None:
    """``:<UID> ENCAP * SETNAME :<real name>`` (IRCv3 setname between ConferenceRoom servers)."""
    if isinstance(source, User) and args and args[-1] != source.realname:
        side.network.set_realname(source, args[-1][:REALNAMELEN], origin=link.route)


def _encap_rename(side: LinkSide, link: Any, source: Any, args: tuple[str, ...]) -> None:
    """``:<source> ENCAP * RENAME <channel TS> <old> <new> :<reason>`` (draft/channel-rename).

    Applied when the channel has that TS and the new name is free (or the same name folded).
    """
    if len(args) < 3:
        return
    network = side.network
    channel = network.find_channel(args[1])
    new = args[2]
    taken = network.find_channel(new)
    if channel is None or str(channel.ts) != args[0] or not valid_channel(new) or (
        taken is not None and taken is not channel
    ):
        side.notice(f"RENAME of {args[1]} to {new} from {getattr(source, 'name', None) or source.nick} "
                    "does not fit this server's channels; ignored")
        return
    network.rename_channel(source, channel, new, args[3] if len(args) > 3 else "", origin=link.route)


ENCAP_HANDLERS: dict[str, Callable[..., None]] = {
    "CHGHOST": _encap_chghost,
    "CERTFP": _encap_certfp,
    "RENAME": _encap_rename,
    "SETNAME": _encap_setname,
    "GLOBOPS": _encap_wall("GLOBOPS"),
    "OPERWALL": _encap_wall("OPERWALL"),
    "SU": _encap_login,
    "LOGIN": _encap_login,
    "CR-ROLE": remoteops.encap_role,
}


#: ENCAP commands that change network state: the announcer passes the change on.
STATE_ENCAPS = frozenset({"CHGHOST", "SU", "LOGIN", "SETNAME", "RENAME", "CR-ROLE"})  # CR-ROLE: for the peer only


@command("ENCAP", min_params=2, origin="server")
def handle_encap(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<source> ENCAP <server mask> <command> ...``: passed on, and handled here if it matches us.

    A state change we apply (CHGHOST, SU, LOGIN) reaches the other links as
    our own announcement, so it is not passed on a second time.
    """
    mask, sub = msg.params[0], msg.params[1].upper()
    if sub == "SASL":
        encap_sasl(side, link, source, msg)
        return
    for_us = match(mask, side.me.name) or mask == side.me.sid
    handler = ENCAP_HANDLERS.get(sub) if for_us else None
    if handler is None or sub not in STATE_ENCAPS:
        side.forward(link, msg)
    if handler is not None:
        handler(side, link, source, msg.params[2:])


# -- numerics and remote queries -----------------------------------------------------


def handle_numeric(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<SID> <numeric> <UID> ...``: a reply for a user, delivered here or passed toward it."""
    target = side.network.users_by_uid.get(msg.params[0])
    if target is None:
        return
    if target.is_local:
        shown = Message(msg.command, (target.nick, *msg.params[1:]), _server_of(source).name)
        target.route.send(shown)
    elif target.route is not link.route:
        side.toward(target, msg)


def _query(verb: str) -> Callable[..., None]:
    def handle(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
        if not isinstance(source, User):
            return
        ref = msg.params[-1] if msg.params else side.me.name
        if msg.params and not _our(side, ref):
            target = side.network.servers_by_sid.get(ref) or side.network.find_server(ref)
            if target is not None and target.route is not link.route:
                side.toward(target, msg)
            return
        queries.answer(side, link, source, verb, msg)
    handle.__doc__ = f"``:<UID> {verb} :<server>``: answered here with numerics, or passed on."
    return handle


for _verb in queries.SERVER_QUERIES:
    globals()[f"handle_{_verb.lower()}"] = command(_verb, origin="server")(_query(_verb))
    globals()[f"handle_{_verb.lower()}"].__module__ = __name__


@command("WHOIS", min_params=1, origin="server")
def handle_whois(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """``:<UID> WHOIS <target UID> :<nick>``: answered by the target's server."""
    if not isinstance(source, User):
        return
    target = _user(side.network, msg.params[0]) or _user(side.network, msg.params[-1])
    if target is None:
        asked = msg.params[-1] or "*"  # an empty nick cannot be a middle parameter
        link.send(Message("401", (source.uid, asked, "No such nick/channel"), side.me.sid))
        link.send(Message("318", (source.uid, asked, "End of /WHOIS list"), side.me.sid))
        return
    if target.server is not side.me and not getattr(target.route, "decides_here", False):
        if target.route is not link.route:
            side.toward(target, msg)
        return
    queries.whois(side, link, source, target)


# Lines of a hybrid burst we have no use for.
@command("MLOCK", origin="server")
@command("METADATA", origin="server")
@command("SVSTAG", origin="server")
def handle_ignored(side: LinkSide, link: Any, source: Any, msg: Message) -> None:
    """Accepted and ignored (services mode locks, certificate data)."""
