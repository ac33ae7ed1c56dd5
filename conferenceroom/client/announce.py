# -*- test-case-name: tests.unit.test_announce -*-
"""Tell local clients about network changes.

The announcer subscribes to the network's events and writes the lines a
client expects (JOIN, PART, QUIT, KILL, NICK, MODE, TOPIC, KICK, AWAY, INVITE,
CHGHOST, ACCOUNT) to the local users who can see the change, honouring their
capabilities.  Handlers never write these lines themselves, so a change made
by a remote server looks the same to local clients as a local one.
Server links learn of the same changes from their own event subscriber
(the link layer), in their own protocol.
"""

from __future__ import annotations

from functools import singledispatchmethod
from types import MethodType
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Callable

from .. import events as ev
from ..modes import MAX_PARAM_MODES, STATUS_PREFIXES, format_mode_changes
from ..numerics import numeric
from ..network import ACCOUNT_MODE, Server, User
from ..routing import DIRECT_ROUTE, account_tags
from ..wire import MAX_LINE, Message, _message, untagged_line

if TYPE_CHECKING:
    from ..core import ServerCore


def source_of(source: User | Server) -> str:
    """The prefix of a message from ``source``."""
    return source.mask if isinstance(source, User) else source.name


def from_source(source: User | Server, command: str, params: tuple[str, ...], mask: str | None = None) -> Message:
    """A line from ``source``: a user's mask (or ``mask``) and its ``account`` tag, or a server's name.

    Built with :func:`~conferenceroom.wire._message` (the same Message, without the frozen
    dataclass's per-field setattr): every JOIN, PART, QUIT and NICK line starts here.
    """
    if isinstance(source, User):
        return _message(command, params, mask or source.mask, account_tags(source))
    return _message(command, params, source.name, {})


class ClientAnnouncer:
    """An event subscriber that writes each change to the local clients it concerns."""

    def __init__(self, core: "ServerCore") -> None:
        self.core = core
        self.router = core.router
        # The handler of each event type, bound once: going through the
        # singledispatchmethod builds a wrapper and looks the type up on every event.
        self._handlers: dict[type, Callable[[ev.Event], None]] = {}

    def __call__(self, event: ev.Event) -> None:
        kind = type(event)
        handler = self._handlers.get(kind)
        if handler is None:
            method = type(self).__dict__["announce"].dispatcher.dispatch(kind)
            handler = self._handlers[kind] = MethodType(method, self)
        handler(event)

    @singledispatchmethod
    def announce(self, event: ev.Event) -> None:
        """Events that local clients are not told about."""

    @announce.register
    def _(self, event: ev.UserIntroduced) -> None:
        user = event.user
        if self.router.is_local(user):
            self.core.notice_opers(
                f"Client connecting: {user.nick} ({user.ident}@{user.realhost}) [{user.ip}]"
            )

    @announce.register
    def _(self, event: ev.NickChanged) -> None:
        user = event.user
        self.router.to_local(event.peers, from_source(user, "NICK", (user.nick,), event.old_mask))
        if event.identified is not None and self.router.is_local(user):
            self._identified(user, event.identified)

    def _identified(self, user: User, identified: bool) -> None:
        """Tell a local user its mode ``r`` was set or removed (by the server)."""
        sign = "+" if identified else "-"
        user.route.send(Message("MODE", (user.nick, sign + ACCOUNT_MODE), self.core.name))

    @announce.register
    def _(self, event: ev.UserQuit) -> None:
        self._quit(event.user, event.reason, event.peers)

    def _quit(self, user: User, reason: str, peers: Any) -> None:
        msg = from_source(user, "QUIT", (reason,))
        self.router.to_local(peers, msg, exclude=user)
        if self.router.is_local(user):
            self.core.notice_opers(
                f"Client exiting: {user.nick} ({user.ident}@{user.realhost}) [{reason}]"
            )

    @announce.register
    def _(self, event: ev.UserKilled) -> None:
        user = event.user
        reason = event.quit_reason
        if self.router.is_local(user):
            # The victim learns who killed it, then its connection closes
            # (the user is already gone from the network, so closing it
            # removes nothing twice).
            user.route.send(from_source(event.killer, "KILL", (user.nick, event.reason)))
            user.route.close(reason)
        self._quit(user, reason, event.peers)

    @announce.register
    def _(self, event: ev.NetSplit) -> None:
        reason = event.quit_reason
        for user in event.users:
            peers = event.local_peers.get(user)
            if peers:
                self.router.to_local(peers, from_source(user, "QUIT", (reason,)))

    @announce.register
    def _(self, event: ev.ChannelJoined) -> None:
        user, channel = event.user, event.channel
        if not channel.local_members:
            return  # nobody here to tell
        self._tell_join(user, channel, channel.local_members)
        if event.granted:
            self._modes(user.server, channel, _status_changes(event))

    @announce.register
    def _(self, event: ev.MembersNetjoined) -> None:
        channel = event.channel
        if not channel.local_members:
            return  # nobody here to tell (most channels of a link burst)
        # Each member's JOIN goes to the local members present when it joined:
        # a local user among the joined sees only those after it.
        later_local = {m.user for m in event.joined if m.user in channel.local_members}
        members = [u for u in channel.local_members if u not in later_local]
        for membership in event.joined:
            user = membership.user
            if user in later_local:
                members.append(user)
            if members:
                self._tell_join(user, channel, members)

    def _tell_join(self, user: User, channel: Any, members: Iterable[User]) -> None:
        """JOIN (extended-join aware) and AWAY of ``user`` in ``channel`` to the local ``members``.

        ``members`` are local clients (``channel.local_members`` or a part of
        it): one pass, the extended form built only if someone asked for it.
        """
        name = channel.name
        plain = extended = data = None
        direct = DIRECT_ROUTE[0]
        for member in members:
            route = member.route
            if (route.__class__ is direct and route._profile is None and route.label is None
                    and "extended-join" not in route._caps):
                # No tags for this client: the line's bytes, made once (what the message encodes to).
                if data is None:
                    data = untagged_line(user.mask, "JOIN", (name,)) or b""
                if data:
                    route.send_encoded(data, 1)
                    continue
            elif "extended-join" in route.caps:
                if extended is None:
                    extended = from_source(user, "JOIN", (name, user.account or "*", user.realname))
                route.send(extended)
                continue
            if plain is None:
                plain = from_source(user, "JOIN", (name,))
            route.send(plain)
        if user.away:
            away = from_source(user, "AWAY", (user.away,))
            self.router.to_local(members, away, exclude=user, cap="away-notify")

    @announce.register
    def _(self, event: ev.ChannelParted) -> None:
        channel = event.channel
        if not channel.local_members:
            return  # nobody here to tell
        params = (channel.name,) if event.reason is None else (channel.name, event.reason)
        user = event.user
        msg = data = None
        direct = DIRECT_ROUTE[0]
        # Emitted before the member leaves: the local members now are the local ones of event.members.
        for member in channel.local_members:
            route = member.route
            if route.__class__ is direct and route._profile is None and route.label is None:
                if data is None:  # no tags for this client: the line's bytes, made once
                    data = untagged_line(user.mask, "PART", params) or b""
                if data:
                    route.send_encoded(data, 1)
                    continue
            if msg is None:
                msg = from_source(user, "PART", params)
            route.send(msg)

    @announce.register
    def _(self, event: ev.UserKicked) -> None:
        channel = event.channel
        if not channel.local_members:
            return  # nobody here to tell
        msg = from_source(event.source, "KICK", (channel.name, event.target.nick, event.reason))
        for member in channel.local_members:  # the target is still among them
            member.route.send(msg)

    @announce.register
    def _(self, event: ev.TopicChanged) -> None:
        channel = event.channel
        msg = from_source(event.source, "TOPIC", (channel.name, channel.topic))
        self.router.to_local(channel.members, msg)

    @announce.register
    def _(self, event: ev.ChannelModesChanged) -> None:
        if not event.channel.local_members:
            return  # nobody here to tell (most channels of a link burst)
        self._modes(event.source, event.channel, list(event.changes))

    def _modes(self, source: User | Server, channel: Any, changes: list[Any]) -> None:
        prefix = source_of(source)
        tags = account_tags(source)
        changes = [change.shown() for change in changes]
        # Each line carries at most MAX_PARAM_MODES modes with a parameter
        # (ISUPPORT MODES); modes without one ride along, as long as the
        # line stays within 510 bytes (":prefix MODE #chan " counted, plus
        # one byte for a ":" before the last parameter).
        room = MAX_LINE - 2 - len(f":{prefix} MODE {channel.name} :".encode("utf-8"))
        chunks: list[list[Any]] = [[]]
        params = used = 0
        sign = None
        for change in changes:
            cost = 1 + (change.adding != sign)
            if change.param is not None:
                cost += 1 + len(change.param.encode("utf-8"))
            full = change.param is not None and params == MAX_PARAM_MODES
            if chunks[-1] and (full or used + cost > room):
                chunks.append([])
                params = 0
                cost += sign == change.adding  # the new line starts with its sign
                used = 0
            if change.param is not None:
                params += 1
            sign = change.adding
            used += cost
            chunks[-1].append(change)
        for chunk in chunks:
            if chunk:
                msg = Message("MODE", (channel.name, *format_mode_changes(chunk)), prefix, tags)
                self.router.to_local(channel.members, msg)

    @announce.register
    def _(self, event: ev.UserModesChanged) -> None:
        user = event.user
        if self.router.is_local(user):
            params = (user.nick, *format_mode_changes(event.changes))
            source = user.nick if event.source is user else source_of(event.source)
            user.route.send(Message("MODE", params, source))

    @announce.register
    def _(self, event: ev.AwayChanged) -> None:
        user = event.user
        params = (user.away,) if user.away else ()
        msg = from_source(user, "AWAY", params)
        self.router.to_local(self.core.network.peers_of(user), msg, exclude=user, cap="away-notify")

    @announce.register
    def _(self, event: ev.AccountChanged) -> None:
        # A local user sees 900/901, then +r/-r if its nick gained or lost it;
        # channel peers (and the user) with account-notify see ACCOUNT.
        user = event.user
        local = self.router.is_local(user)
        in_sasl = local and getattr(user.route, "sasl", None) is not None
        if local and not in_sasl:
            # (a SASL exchange sends its own 900, 903 and MODE, in that order)
            core = self.core
            if user.account:
                user.route.send(numeric("RPL_LOGGEDIN", core.name, user.nick, user.mask, user.account))
            else:
                user.route.send(numeric("RPL_LOGGEDOUT", core.name, user.nick, user.mask))
            if event.identified is not None:
                self._identified(user, event.identified)
        msg = from_source(user, "ACCOUNT", (user.account or "*",))
        # (nothing to the user itself in the middle of its SASL exchange: its 900 comes next)
        self.router.to_local(self.core.network.peers_of(user), msg, cap="account-notify",
                             exclude=user if in_sasl else None)

    @announce.register
    def _(self, event: ev.ChannelRenamed) -> None:
        # Members with draft/channel-rename see RENAME; the others see themselves leave
        # the old name and join the new one, with its topic and names.
        from .commands.channel import send_names, send_topic

        channel = event.channel
        rename = Message("RENAME", (event.old, channel.name, event.reason), source_of(event.source))
        self.router.to_local(channel.local_members, rename, cap="draft/channel-rename")
        for user in list(channel.local_members):
            conn = user.route
            if "draft/channel-rename" in conn.caps:
                continue
            conn.send(Message("PART", (event.old, f"Channel renamed to {channel.name}: {event.reason}"),
                              user.mask))
            conn.send(Message("JOIN", (channel.name,), user.mask))
            if channel.topic:
                send_topic(conn, channel)
            send_names(conn, channel)

    @announce.register
    def _(self, event: ev.RealnameChanged) -> None:
        # The user itself (its confirmation) and its peers, if they took setname.
        user = event.user
        msg = Message("SETNAME", (user.realname,), user.mask)
        self.router.to_local(event.peers | {user}, msg, cap="setname")

    @announce.register
    def _(self, event: ev.UserInvited) -> None:
        msg = from_source(event.source, "INVITE", (event.target.nick, event.channel.name))
        if self.router.is_local(event.target):
            event.target.route.send(msg)
        notify = [u for u, m in event.channel.members.items() if m.status & {"q", "o"}]
        self.router.to_local(
            [u for u in notify if u is not event.target and u is not event.source],
            msg,
            cap="invite-notify",
        )

    @announce.register
    def _(self, event: ev.HostChanged) -> None:
        user = event.user
        msg = from_source(user, "CHGHOST", (user.ident, user.host), event.old_mask)
        self.router.to_local(event.peers, msg, cap="chghost")
        # Peers without chghost see the user leave and come back with the
        # new host (QUIT, then JOIN and status MODE per shared channel).
        others = [peer for peer in event.peers if peer is not user]
        self.router.to_local(others, from_source(user, "QUIT", ("Changing host",), event.old_mask),
                             without_cap="chghost")
        for channel, membership in user.channels.items():
            members = [m for m in channel.local_members if m is not user]
            self.router.to_local(members, from_source(user, "JOIN", (channel.name,)), without_cap="chghost")
            status = "".join(mode for mode, _ in STATUS_PREFIXES if mode in membership.status)
            if status:
                mode = Message("MODE", (channel.name, "+" + status, *[user.nick] * len(status)), self.core.name)
                self.router.to_local(members, mode, without_cap="chghost")


def _status_changes(event: ev.ChannelJoined) -> list[Any]:
    from ..modes import ModeChange, STATUS_PREFIXES

    status = event.granted
    user = event.user
    return [ModeChange(True, mode, user.nick, user) for mode, _ in STATUS_PREFIXES if mode in status]
