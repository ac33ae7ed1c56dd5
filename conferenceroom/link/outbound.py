# -*- test-case-name: tests.unit.test_link_outbound -*-
"""Network changes and relayed messages as TS6 lines, sent to server links.

:func:`render_relay` turns one :class:`~conferenceroom.routing.Relay` (a
message from a user or server on its way over a link) into TS6 lines with
UID/SID sources and UID/channel targets.  :class:`LinkAnnouncer` subscribes
to the network's events and sends each state change to every accepted
link except the one it came from (split horizon), once per link.  The line
builders here are shared with :mod:`conferenceroom.link.burst`.

A link object has ``route``, ``peer``, ``capabilities`` and ``send(msg)``
(see ``docs/link-protocol.md``, section 7).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from twisted.logger import Logger

from .. import events as ev
from ..modes import MODE_OF_PREFIX, ModeChange, format_mode_changes, peer_status, peer_status_change
from ..network import Channel, Network, Server, User
from ..routing import Relay
from ..wire import MAX_LINE, Message, format_message

#: TS6 status prefixes in SJOIN, highest first (owner travels as hybrid's ``~``).
TS6_PREFIX = {"q": "~", "o": "@", "v": "+"}
#: Parameters per TMODE line at most (hybrid's MAXMODEPARAMS).
TMODE_MAX_PARAMS = 4
#: Room for the line ending and a margin on every line we build to fit 512 bytes.
LINE_BUDGET = MAX_LINE - 2
#: SID flag of the services pseudo-server: its SVSACCOUNT/SVSMODE are obeyed (hybrid ignores it).
SERVICES_FLAG = "S"


def has_owner(link: Any) -> bool:
    """True if ``link``'s peer carries channel owner (CR-OWNER or hybrid's QOP)."""
    caps = getattr(link, "capabilities", frozenset())
    return "CR-OWNER" in caps or "QOP" in caps


def is_conferenceroom(link: Any) -> bool:
    """True if ``link``'s peer is one of ours (it announced a CR- CAPAB token)."""
    return any(token.startswith("CR-") for token in getattr(link, "capabilities", ()))


def wire_id(obj: User | Server) -> str:
    """A user's UID or a server's SID."""
    return obj.uid if isinstance(obj, User) else obj.sid


def behind(obj: User | Server | None, link: Any) -> bool:
    """True if ``obj`` is reached through ``link`` (so it cannot be a source on it)."""
    return obj is not None and obj.route is not None and obj.route is link.route


def source_for(obj: User | Server, link: Any, me: Server) -> str:
    """The source to write on ``link`` for a change made by ``obj`` (our SID if it is behind the link)."""
    return me.sid if behind(obj, link) else wire_id(obj)


def fits(msg: Message) -> bool:
    """True if ``msg`` fits one line."""
    return len(format_message(msg).encode("utf-8")) <= LINE_BUDGET


# -- line builders (also used by the burst) -----------------------------------------


def sid_line(server: Server) -> Message:
    """``:<uplink SID> SID <name> <hops> <SID> +<flags> :<description>``."""
    uplink = server.uplink
    assert uplink is not None
    flags = "+" + (SERVICES_FLAG if server.is_services else "")
    return Message("SID", (server.name, str(server.hopcount + 1), server.sid, flags,
                           server.description or server.name), uplink.sid)


def wire_ip(ip: str) -> str:
    """An IP address as a UID parameter: ``0`` if unknown, ``0::1`` for ``::1`` (a word cannot start with ':')."""
    if not ip:
        return "0"
    return "0" + ip if ip[0] == ":" else ip


def uid_line(user: User) -> Message:
    """``:<SID> UID <nick> <hops> <TS> +<umodes> <user> <host> <realhost> <ip> <UID> <account> :<gecos>``."""
    return Message("UID", (
        user.nick, str(user.server.hopcount + 1), str(int(user.nick_ts)),
        "+" + "".join(sorted(user.modes)), user.ident, user.host, user.realhost, wire_ip(user.ip),
        user.uid, user.account or "*", user.realname,
    ), user.server.sid)


def certfp_lines(user: User) -> list[Message]:
    """``:<UID> CERTFP <fingerprint>`` after a TLS user's UID (hybrid 8.2), when it has a certificate."""
    return [Message("CERTFP", (user.certfp,), user.uid)] if user.certfp else []


def member_token(user: User, status: Iterable[str], owner: bool) -> str:
    """A member of an SJOIN: status prefixes (``~@+``) and the UID."""
    if not status:
        return user.uid  # most members of a burst
    shown = peer_status(frozenset(status), owner)
    return "".join(TS6_PREFIX[m] for m in "qov" if m in shown) + user.uid


def _head_size(head: Message) -> int:
    """Bytes of ``head`` written with a trailing list parameter still to come (its ' :' counted)."""
    return len(format_message(Message(head.command, (*head.params, "a b"), head.source)).encode("utf-8")) - 3


def sjoin_lines(
    sid: str, channel: Channel, members: Sequence[tuple[User, Iterable[str]]], owner: bool,
    with_modes: bool = True,
) -> list[Message]:
    """SJOIN lines for ``members`` of ``channel``, split so that each fits 512 bytes.

    ``with_modes`` False sends ``+`` (a channel whose modes the peer must not take).
    """
    modes = channel.mode_string() if with_modes else ["+"]
    head = ("SJOIN", (str(channel.ts), channel.name, *modes))
    tokens = [member_token(user, status, owner) for user, status in members]
    base = _head_size(Message(head[0], head[1], sid))
    lines: list[Message] = []
    chunk: list[str] = []
    size = base
    for token in tokens:
        extra = len(token) + (1 if chunk else 0)
        if chunk and size + extra > LINE_BUDGET:
            lines.append(Message(head[0], (*head[1], " ".join(chunk)), sid))
            chunk, size = [], base
            extra = len(token)
        chunk.append(token)
        size += extra
    if chunk:
        lines.append(Message(head[0], (*head[1], " ".join(chunk)), sid))
    return lines


def bmask_lines(sid: str, channel: Channel) -> list[Message]:
    """``BMASK`` lines for each non-empty list of ``channel``, split to fit 512 bytes."""
    lines = []
    for mode in ("b", "e", "I"):
        masks = [entry.mask for entry in channel.lists[mode]]
        head = (str(channel.ts), channel.name, mode)
        base = _head_size(Message("BMASK", head, sid))
        chunk: list[str] = []
        size = base
        for mask in masks:
            extra = len(mask.encode("utf-8")) + (1 if chunk else 0)
            if chunk and size + extra > LINE_BUDGET:
                lines.append(Message("BMASK", (*head, " ".join(chunk)), sid))
                chunk, size, extra = [], base, len(mask.encode("utf-8"))
            chunk.append(mask)
            size += extra
        if chunk:
            lines.append(Message("BMASK", (*head, " ".join(chunk)), sid))
    return lines


def tburst_line(sid: str, channel: Channel) -> Message:
    """``:<SID> TBURST <channel TS> <channel> <topic TS> <setter> :<topic>``."""
    return Message("TBURST", (str(channel.ts), channel.name, str(channel.topic_ts),
                              channel.topic_setter or "*", channel.topic), sid)


def tmode_lines(source: str, channel: Channel, changes: Sequence[ModeChange]) -> list[Message]:
    """``TMODE`` lines for ``changes`` (status members as UIDs), at most 4 parameters and 512 bytes each."""
    lines: list[Message] = []
    chunk: list[ModeChange] = []

    def flush() -> None:
        if chunk:
            lines.append(Message("TMODE", (str(channel.ts), channel.name, *format_mode_changes(chunk)),
                                 source))
            chunk.clear()

    for change in changes:
        if change.member is not None:
            change = ModeChange(change.adding, change.mode, change.member.uid, change.member)
        candidate = chunk + [change]
        params = sum(1 for c in candidate if c.param is not None)
        msg = Message("TMODE", (str(channel.ts), channel.name, *format_mode_changes(candidate)), source)
        if chunk and (params > TMODE_MAX_PARAMS or not fits(msg)):
            flush()
        chunk.append(change)
    flush()
    return lines


# -- relays ---------------------------------------------------------------------------


#: Message tags a ConferenceRoom peer is given with a PRIVMSG, NOTICE or TAGMSG (and
#: client-only ``+`` tags): hybrid gets none, and no TAGMSG (it has no message tags).
RELAYED_TAGS = frozenset({"msgid"})
TAGGED_COMMANDS = frozenset({"PRIVMSG", "NOTICE", "TAGMSG"})


def render_relay(relay: Relay, link: Any) -> list[Message]:
    """The TS6 lines that carry ``relay`` over ``link`` (none if the peer has no use for it).

    A ConferenceRoom peer also gets the message's client-only tags and msgid, and TAGMSG.
    """
    msg = relay.message
    ours = is_conferenceroom(link)
    if msg.command == "TAGMSG" and not ours:
        return []
    lines = _render_relay(relay, link)
    if not ours or not msg.tags or msg.command not in TAGGED_COMMANDS:
        return lines
    tags = {k: v for k, v in msg.tags.items() if k[:1] == "+" or k in RELAYED_TAGS}
    return [line.with_tags(tags) for line in lines] if tags else lines


def _render_relay(relay: Relay, link: Any) -> list[Message]:
    msg = relay.message
    sender, target = relay.sender, relay.target
    source = wire_id(sender)
    command = msg.command
    params = list(msg.params)
    if command.isdigit():
        # A numeric reply from a server to a user behind this link: first parameter is its UID.
        if isinstance(target, User):
            return [Message(command, (target.uid, *params[1:]), source)]
        return []
    if isinstance(target, User):
        if params:
            params[0] = target.uid
        return [Message(command, tuple(params), source)]
    if isinstance(target, Channel):
        prefix = TS6_PREFIX.get(relay.status or "", "")
        if relay.status == "q" and not has_owner(link):
            prefix = "@"
        if params:
            params[0] = prefix + target.name
        return [Message(command, tuple(params), source)]
    if isinstance(target, Server):
        # A query forwarded toward a server (MOTD, VERSION, TRACE, ...): the
        # target parameter stays a name, which every TS6 server resolves.
        return [Message(command, tuple(params), source)]
    # A string target: ``*`` (a broadcast such as WALLOPS) or a mask ($$, $#).
    if command == "OPERWALL" and not is_conferenceroom(link):
        return []  # ircd-hybrid 8.2 has no OPERWALL
    if command == "WALLOPS" or target == "*":
        return [Message(command, tuple(params[-1:]), source)]
    return [Message(command, tuple(params), source)]


# -- the announcer ----------------------------------------------------------------------


class LinkAnnouncer:
    """Network events -> TS6 lines on every link except the event's origin (split horizon).

    ``links`` returns the accepted links now, each with its burst written (a
    new collection each call);
    each change is sent once per link.  Subscribe it with ``network.events.subscribe(announcer)``.
    """

    log = Logger()

    def __init__(self, network: Network, links: Callable[[], Iterable[Any]]) -> None:
        self.network = network
        self.links = links
        self._handlers: dict[type, Callable[[Any, Any], list[Message]]] = {
            ev.UserIntroduced: self._introduced,
            ev.NickChanged: self._nick,
            ev.UserQuit: self._quit,
            ev.UserKilled: self._killed,
            ev.ChannelJoined: self._joined,
            ev.ChannelNetjoined: self._netjoined,
            ev.ChannelParted: self._parted,
            ev.UserKicked: self._kicked,
            ev.TopicChanged: self._topic,
            ev.ChannelModesChanged: self._channel_modes,
            ev.UserModesChanged: self._user_modes,
            ev.AwayChanged: self._away,
            ev.AccountChanged: self._account,
            ev.UserInvited: self._invited,
            ev.HostChanged: self._host,
            ev.RealnameChanged: self._realname,
            ev.ChannelRenamed: self._renamed,
            ev.ServerIntroduced: self._server,
            ev.NetSplit: self._split,
        }
        # Lines an event sends back on the link it came from (split horizon's one exception).
        self._echoes: dict[type, Callable[[Any, Any], list[Message]]] = {
            ev.NickChanged: self._identified_lines,
        }
        # Status changes of a netjoin in progress, per channel, relayed with its SJOIN.
        self._netjoin_status: dict[Channel, dict[User, None]] = {}

    @property
    def me(self) -> Server:
        """This server."""
        return self.network.me

    def __call__(self, event: ev.Event) -> None:
        """Send ``event`` to every link but its origin."""
        if event.netjoin:
            if isinstance(event, ev.ChannelModesChanged):
                pending = self._netjoin_status.setdefault(event.channel, {})
                for change in event.changes:
                    if change.member is not None and change.adding:
                        pending[change.member] = None
            return
        handler = self._handlers.get(type(event))
        if handler is None:
            return
        for link in self.links():  # a fresh tuple or list each call
            # Every link given here has had its burst written: a change made before its
            # peer's SVINFO arrives is not in that burst and must follow it.
            render = handler
            if link.route is event.origin:
                render = self._echoes.get(type(event))
                if render is None:
                    continue
            try:
                lines = render(event, link)
            except Exception:  # a bug here must not stop the other links or the change
                self.log.failure("rendering {event} for {peer}", event=type(event).__name__,
                                 peer=getattr(link, "name", "?"))
                continue
            for line in lines:
                link.send(line)
        if isinstance(event, ev.ChannelNetjoined):
            self._netjoin_status.pop(event.channel, None)

    # -- users ---------------------------------------------------------------------

    def _introduced(self, event: ev.UserIntroduced, link: Any) -> list[Message]:
        user = event.user
        if behind(user, link):
            return []
        lines = [uid_line(user), *certfp_lines(user)]
        if user.away:
            lines.append(Message("AWAY", (user.away,), user.uid))
        return lines

    def _nick(self, event: ev.NickChanged, link: Any) -> list[Message]:
        user = event.user
        lines = [] if behind(user, link) else [Message("NICK", (user.nick, str(int(user.nick_ts))), user.uid)]
        return lines + self._identified_lines(event, link)

    def _identified_lines(self, event: ev.NickChanged, link: Any) -> list[Message]:
        """SVSMODE +r after a nick change back to the account's nick, for a peer that is not ours.

        A ConferenceRoom peer derives ``r`` itself.  hybrid drops ``r`` by
        itself on any nick change (not a case change) and waits for services
        to set it again, so it gets the SVSMODE even when the user is behind it.
        """
        if not event.identified or is_conferenceroom(link):
            return []
        return [self._svsmode_r(event.user, True, link)]

    def _svsmode_r(self, user: User, identified: bool, link: Any) -> Message:
        """``SVSMODE <UID> <TS> +r|-r``."""
        sign = "+r" if identified else "-r"
        return Message("SVSMODE", (user.uid, str(int(user.nick_ts)), sign), self._services_source(link))

    def _services_source(self, link: Any) -> str:
        """The services server's SID (whose SVS* lines hybrid and we obey) on ``link``, else ours."""
        services = self.network.services_server()
        return services.sid if services is not None and not behind(services, link) else self.me.sid

    def _quit(self, event: ev.UserQuit, link: Any) -> list[Message]:
        if behind(event.user, link):
            return []
        return [Message("QUIT", (event.reason,), event.user.uid)]

    def _killed(self, event: ev.UserKilled, link: Any) -> list[Message]:
        source = source_for(event.killer, link, self.me)
        return [Message("KILL", (event.user.uid, f"{event.path} ({event.reason})"), source)]

    def _away(self, event: ev.AwayChanged, link: Any) -> list[Message]:
        user = event.user
        if behind(user, link):
            return []
        return [Message("AWAY", (user.away,) if user.away else (), user.uid)]

    def _user_modes(self, event: ev.UserModesChanged, link: Any) -> list[Message]:
        user = event.user
        if behind(user, link):
            return []
        return [Message("MODE", (user.uid, *format_mode_changes(event.changes)), user.uid)]

    def _account(self, event: ev.AccountChanged, link: Any) -> list[Message]:
        # As services speak to hybrid: the account, then +r/-r (hybrid's "identified for
        # this nick" mode) if it changed with it.
        user = event.user
        lines = [Message("SVSACCOUNT", (user.uid, str(int(user.nick_ts)), user.account or "*"),
                         self._services_source(link))]
        if event.identified is not None:
            lines.append(self._svsmode_r(user, event.identified, link))
        return lines

    def _host(self, event: ev.HostChanged, link: Any) -> list[Message]:
        user = event.user
        return [Message("ENCAP", ("*", "CHGHOST", user.uid, user.host), self.me.sid)]

    def _renamed(self, event: ev.ChannelRenamed, link: Any) -> list[Message]:
        # Only ConferenceRoom peers can rename (RENAME refuses while a hybrid is linked).
        channel = event.channel
        return [Message("ENCAP", ("*", "RENAME", str(channel.ts), event.old, channel.name, event.reason),
                        wire_id(event.source))]

    def _realname(self, event: ev.RealnameChanged, link: Any) -> list[Message]:
        # ENCAP: a ConferenceRoom server applies it; hybrid (no SETNAME) passes it on unread.
        user = event.user
        return [Message("ENCAP", ("*", "SETNAME", user.realname), user.uid)]

    def _invited(self, event: ev.UserInvited, link: Any) -> list[Message]:
        if not behind(event.target, link):
            return []  # only the target's server needs it
        return [Message("INVITE", (event.target.uid, event.channel.name, str(event.channel.ts)),
                        source_for(event.source, link, self.me))]

    # -- channels ------------------------------------------------------------------

    def _joined(self, event: ev.ChannelJoined, link: Any) -> list[Message]:
        user, channel = event.user, event.channel
        if behind(user, link):
            return []
        if event.created or event.granted:
            status = event.membership.status if event.created else event.granted
            return sjoin_lines(user.server.sid, channel, [(user, status)], has_owner(link),
                               with_modes=event.created)
        return [Message("JOIN", (str(channel.ts), channel.name, "+"), user.uid)]

    def _netjoined(self, event: ev.ChannelNetjoined, link: Any) -> list[Message]:
        channel, result = event.channel, event.result
        if self.network.channels.get(channel.name) is not channel:
            return []
        members: dict[User, None] = {m.user: None for m in result.joined}
        members.update(self._netjoin_status.get(channel, {}))
        listed = [(u, channel.members[u].status) for u in members
                  if u in channel.members and not behind(u, link)]
        if not listed and result.kept_theirs:
            # Nobody new (its members lost collisions), but our TS or modes may have
            # changed: the SJOIN names members this link already knows.
            listed = [(u, m.status) for u, m in channel.members.items() if not behind(u, link)]
        if not listed:
            return []
        source = source_for(event.source, link, self.me)
        return sjoin_lines(source, channel, listed, has_owner(link), with_modes=result.kept_theirs)

    def _parted(self, event: ev.ChannelParted, link: Any) -> list[Message]:
        if behind(event.user, link):
            return []
        return [Message("PART", (event.channel.name, event.reason or ""), event.user.uid)]

    def _kicked(self, event: ev.UserKicked, link: Any) -> list[Message]:
        source = source_for(event.source, link, self.me)
        return [Message("KICK", (event.channel.name, event.target.uid, event.reason), source)]

    def _topic(self, event: ev.TopicChanged, link: Any) -> list[Message]:
        channel = event.channel
        source = source_for(event.source, link, self.me)
        if isinstance(event.source, Server) and channel.topic and event.origin is not ev.HERE:
            # A topic burst (TBURST) that won here: relayed as one, with its own times, to
            # peers that take TBURST; any other peer gets the topic as a TOPIC.
            if "TBURST" in getattr(link, "capabilities", ()):
                return [tburst_line(source, channel)]
        return [Message("TOPIC", (channel.name, channel.topic), source)]

    def _channel_modes(self, event: ev.ChannelModesChanged, link: Any) -> list[Message]:
        channel = event.channel
        owner = has_owner(link)
        shown: list[ModeChange] = []
        for change in event.changes:
            if change.member is not None:
                membership = channel.members.get(change.member)
                after = membership.status if membership is not None else set()
                mapped = peer_status_change(change, after, owner)
                if mapped is None:
                    continue
                change = mapped
            shown.append(change)
        if not shown:
            return []
        return tmode_lines(source_for(event.source, link, self.me), channel, shown)

    # -- servers -------------------------------------------------------------------

    def _server(self, event: ev.ServerIntroduced, link: Any) -> list[Message]:
        server = event.server
        if behind(server, link) or server.uplink is None:
            return []
        return [sid_line(server)]

    def _split(self, event: ev.NetSplit, link: Any) -> list[Message]:
        return [Message("SQUIT", (event.server.sid, event.reason))]


def status_of_prefixes(prefixes: str) -> str:
    """Status modes of SJOIN prefixes: ``~`` owner, ``@``/``&`` op, ``%``/``+`` voice."""
    out = ""
    for ch in prefixes:
        mode = {"~": "q", "@": "o", "&": "o", "%": "v", "+": "v"}.get(ch) or MODE_OF_PREFIX.get(ch)
        if mode and mode not in out:
            out += mode
    return out

