# -*- test-case-name: tests.unit.test_network -*-
"""The network state: servers, users, channels, memberships.

This is the only mutable network state.  Every change goes through a
:class:`Network` method that takes ``origin=`` and emits an event from
:mod:`conferenceroom.events`.  ``origin`` is :data:`HERE` (the default) for a
change decided on this server, or the route (server link, services
pseudo-server) it arrived through; ``None`` is refused, so no caller is
ambiguous about it.  Defaults that only the deciding server applies (a new
channel's modes and its creator's op) follow :func:`decided_here`.  TS rules
(nick collisions, channel TS, topic bursts) are decided in :mod:`.ts` and
applied here, so every server of a network decides alike.  Nothing here
knows about sockets or the wire format.  A user behind a server link or a
services pseudo-user is the same :class:`User` with another ``route`` and
``server``.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from . import events as ev
from . import ts as tsrules
from .events import HERE, decided_here
from .casemap import FoldedDict, fold, fold_key, match
from .entities import (  # the records the model holds (imported from here by most of the tree)
    NO_CHANNELS, NO_INVITES, NO_STATUS, Channel, ListEntry, Membership, Server, User, WhowasEntry,
)
from .modes import ModeChange, ModeKind, CHANNEL_MODES, STATUS_PREFIXES
from .ts import Loser, NetjoinResult, NickCollision

UID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#: every pair of UID characters, in counting order: a UID's six characters are three of them
_UID_PAIRS = tuple(a + b for a in UID_CHARS for b in UID_CHARS)
_PAIRS = len(_UID_PAIRS)
INDEXED_USER_MODES = "oi"
ACCOUNT_MODE = "r"  # "identified for this nick": logged in under the account's own nick; server-set only
WHOWAS_MAX = 2000


_STATUS_ORDERS: dict[str, tuple[str, ...]] = {}
_new_object = object.__new__


def _granted(mode: str, user: "User") -> ModeChange:
    """``ModeChange(True, mode, user.nick, user)`` without the frozen dataclass's four ``object.__setattr__``.

    A burst gives thousands of statuses; the result is the same immutable change.
    """
    change = _new_object(ModeChange)
    fields = change.__dict__
    fields["adding"] = True
    fields["mode"] = mode
    fields["param"] = user.nick
    fields["member"] = user
    return change


def _status_order(status: str) -> tuple[str, ...]:
    """The status modes in ``status`` (``"vo"``) in prefix order (``("o", "v")``); a few strings, cached."""
    order = _STATUS_ORDERS.get(status)
    if order is None:
        order = tuple(mode for mode, _ in STATUS_PREFIXES if mode in status)
        if len(_STATUS_ORDERS) < 64:
            _STATUS_ORDERS[status] = order
    return order


class Network:
    """Every server, user and channel this server knows, and their changes."""

    def __init__(self, me: Server, clock: Any) -> None:
        self.me = me
        self.clock = clock
        self.events = ev.EventBus()
        self.servers: FoldedDict[Server] = FoldedDict()
        self.servers_by_sid: dict[str, Server] = {}
        self.users: FoldedDict[User] = FoldedDict()
        self.users_by_uid: dict[str, User] = {}
        self.channels: FoldedDict[Channel] = FoldedDict()
        self.whowas: deque[WhowasEntry] = deque(maxlen=WHOWAS_MAX)
        self.max_local = 0
        self.max_global = 0
        self.default_channel_modes = "nt"  # flags of a channel created on this server
        # Users holding the user modes that are counted often (LUSERS, oper notices).
        self.by_mode: dict[str, set[User]] = {mode: set() for mode in INDEXED_USER_MODES}
        self._uid_counter = itertools.count()
        self._add_server_state(me)

    # -- queries ---------------------------------------------------------

    def now(self) -> float:
        """Current time from the injected clock."""
        return self.clock.seconds()

    def find_user(self, nick: str) -> User | None:
        """The user with ``nick`` (case-insensitive), or None."""
        return self.users.get(nick)

    def find_channel(self, name: str) -> Channel | None:
        """The channel named ``name`` (case-insensitive), or None."""
        return self.channels.get(name)

    def find_server(self, name: str) -> Server | None:
        """The server named ``name`` (case-insensitive), or None."""
        return self.servers.get(name)

    def server_named(self, ref: str) -> Server | None:
        """The server ``ref`` names: a SID, a name, or the first name (sorted) the mask matches."""
        found = self.servers_by_sid.get(ref) or self.servers.get(ref)
        if found is not None:
            return found
        return next((s for _, s in sorted(self.servers.items()) if match(ref, s.name)), None)

    def names_me(self, ref: str) -> bool:
        """True if ``ref`` (SID, name or mask) names this server."""
        me = self.me
        return ref == me.sid or fold(ref) == fold(me.name) or match(ref, me.name)

    def services_server(self) -> Server | None:
        """The server the network's services run on (the pseudo-server), or None."""
        return next((s for s in self.servers.values() if s.is_services), None)

    def speaks_for_services(self, server: Server) -> bool:
        """True if ``server`` may log users in and out: the services server or the server hosting it."""
        return server.is_services or any(
            s.is_services and s.uplink is server for s in self.servers.values())

    def local_users(self) -> list[User]:
        """Users connected to this server."""
        return list(self.me.users)

    def peers_of(self, user: User) -> set[User]:
        """Every user sharing at least one channel with ``user`` (and itself)."""
        peers = {user}
        for channel in user.channels:
            peers.update(channel.members)
        return peers

    def next_uid(self) -> str:
        """A new network-unique user id: our SID and six characters."""
        pairs = _UID_PAIRS
        while True:
            n = next(self._uid_counter)  # its six base-36 digits (A=0 .. 9=35), the lowest last
            uid = (self.me.sid + pairs[n // (_PAIRS * _PAIRS) % _PAIRS] + pairs[n // _PAIRS % _PAIRS]
                   + pairs[n % _PAIRS])
            if uid not in self.users_by_uid:
                return uid

    def nick_available(self, nick: str, user: User | None = None) -> bool:
        """True if ``nick`` is free (or already belongs to ``user``)."""
        owner = self.users.get(nick)
        return owner is None or owner is user

    # -- servers ---------------------------------------------------------

    def _add_server_state(self, server: Server) -> None:
        self.servers[server.name] = server
        self.servers_by_sid[server.sid] = server

    def add_server(self, server: Server, origin: Any = HERE) -> None:
        """Introduce ``server`` to the network."""
        self._add_server_state(server)
        self.events.emit(ev.ServerIntroduced(server, origin=origin))

    def remove_server(self, server: Server, reason: str, origin: Any = HERE) -> ev.NetSplit:
        """Remove ``server``, the servers behind it and all their users: one :class:`~.events.NetSplit`."""
        lost = [server]
        for behind in lost:  # grows while walked: breadth first, nearest first
            lost.extend(other for other in self.servers.values() if other.uplink is behind)
        users = tuple(user for gone in lost for user in gone.users)
        local_peers = self._local_peers(users)
        for user in users:
            self._detach_user(user)
        for gone in lost:
            if self.servers.get(gone.name) is gone:
                del self.servers[gone.name]
            if self.servers_by_sid.get(gone.sid) is gone:
                del self.servers_by_sid[gone.sid]
        event = ev.NetSplit(server, tuple(lost), users, reason, local_peers, origin=origin)
        self.events.emit(event)
        return event

    def _local_peers(self, users: Iterable[User]) -> dict[User, frozenset[User]]:
        """For each of ``users``, the local users sharing a channel with it."""
        result = {}
        for user in users:
            peers: set[User] = set()
            for channel in user.channels:
                peers.update(channel.local_members)
            result[user] = frozenset(peers)
        return result

    # -- users -----------------------------------------------------------

    def add_user(self, user: User, origin: Any = HERE) -> NickCollision | None:
        """Register ``user`` and announce it, resolving a nick collision by the TS rules.

        A nick already held by another user is never overwritten: the
        loser(s) of :func:`conferenceroom.ts.nick_collision` die (a user we
        had is killed with a ``UserKilled`` from this server; a losing
        newcomer is simply not added) and the collision is returned, so the
        link layer can send the KILLs.  A UID already in use raises
        ``ValueError`` (a protocol error for the link that sent it).
        """
        uid = user.uid
        by_uid = self.users_by_uid
        if uid in by_uid:
            raise ValueError(f"UID {uid} is already in use")
        collision = None
        key = fold_key(user.nick)  # once: a burst brings thousands; kept, so shared when equal
        users = self.users
        holder = users.get_folded(key)
        if holder is not None:
            collision = self._collide(holder, user, user.nick_ts, tsrules.NICK_COLLISION)
            if not collision.accepted:
                return collision
        users.set_folded(key, user)
        by_uid[uid] = user
        server = user.server
        server.users.add(user)
        modes = user.modes
        if user.account is not None or ACCOUNT_MODE in modes:
            self._derive_identified(user)
        if modes:
            for mode, holders in self.by_mode.items():
                if mode in modes:
                    holders.add(user)
        if server is self.me and len(server.users) > self.max_local:
            self.max_local = len(server.users)
        if len(by_uid) > self.max_global:  # as many as by nick
            self.max_global = len(by_uid)
        self.events.emit(ev.UserIntroduced(user, origin=origin))
        return collision

    def _collide(self, holder: User, incoming: User, incoming_ts: float, reason: str) -> NickCollision:
        """Apply a nick collision between ``holder`` and ``incoming``; kill whoever loses here."""
        loser = tsrules.nick_collision(
            holder.nick_ts, holder.ident, holder.ip, incoming_ts, incoming.ident, incoming.ip
        )
        killed = {
            Loser.BOTH: (holder, incoming), Loser.EXISTING: (holder,), Loser.INCOMING: (incoming,),
        }[loser]
        for victim in killed:
            self.kill_user(victim, self.me, reason)  # a newcomer not added yet is skipped
        return NickCollision(holder.nick, holder, incoming, killed, reason)

    def _remember(self, user: User) -> None:
        self.whowas.append(
            WhowasEntry(user.nick, user.ident, user.host, user.realname, user.server.name, self.now())
        )

    def change_nick(
        self, user: User, new: str, origin: Any = HERE, ts: float | None = None
    ) -> NickCollision | None:
        """Rename ``user`` to ``new``; a nick held by another user collides by the TS rules.

        On a collision the loser(s) are killed (``UserKilled`` from this
        server); if ``user`` survives it takes the nick.  Returns the
        collision, or None.
        """
        ts = self.now() if ts is None else ts
        collision = None
        holder = self.users.get(new)
        if holder is not None and holder is not user:
            collision = self._collide(holder, user, ts, tsrules.NICK_CHANGE_COLLISION)
            if not collision.accepted:
                return collision
        old, old_mask = user.nick, user.mask
        peers = frozenset(self.peers_of(user))
        if fold(old) != fold(new):
            self._remember(user)
        del self.users[old]
        user.nick = new
        user.nick_ts = ts
        self.users[new] = user
        identified = self._derive_identified(user)
        self.events.emit(ev.NickChanged(user, old, old_mask, peers, identified=identified, origin=origin))
        return collision

    def remove_user(self, user: User, reason: str, origin: Any = HERE) -> None:
        """``user`` leaves the network by itself (QUIT, lost connection): :class:`~.events.UserQuit`."""
        if self.users_by_uid.get(user.uid) is not user:
            return
        peers = frozenset(self.peers_of(user))
        self._detach_user(user)
        self.events.emit(ev.UserQuit(user, reason, peers, origin=origin))

    def kill_user(
        self, user: User, killer: User | Server, reason: str, path: str | None = None, origin: Any = HERE
    ) -> bool:
        """``killer`` removes ``user`` from the network: :class:`~.events.UserKilled`.

        ``path`` defaults to the killer's own (``server!host!ident!nick`` or a
        server name).  A kill for a user already gone is ignored (both sides
        of a collision kill each other's users): returns False.
        """
        if self.users_by_uid.get(user.uid) is not user:
            return False
        if path is None:
            path = (
                f"{killer.server.name}!{killer.host}!{killer.ident}!{killer.nick}"
                if isinstance(killer, User) else killer.name
            )
        peers = frozenset(self.peers_of(user))
        self._detach_user(user)
        self.events.emit(ev.UserKilled(user, killer, path, reason, peers, origin=origin))
        return True

    def _detach_user(self, user: User) -> None:
        """Take ``user`` out of every table and channel, remembering it for WHOWAS."""
        self._remember(user)
        for channel in list(user.channels):
            self._drop_member(user, channel)
        for name in user.invited:
            invited_to = self.channels.get(name)
            if invited_to is not None:
                invited_to.invited.discard(user)
        user.invited = NO_INVITES
        if self.users.get(user.nick) is user:
            del self.users[user.nick]
        del self.users_by_uid[user.uid]
        user.server.users.discard(user)
        for holders in self.by_mode.values():
            holders.discard(user)

    def set_away(self, user: User, text: str | None, origin: Any = HERE) -> None:
        """Set (text) or clear (None) ``user``'s away message."""
        user.away = text or None
        self.events.emit(ev.AwayChanged(user, origin=origin))

    def set_account(self, user: User, account: str | None, origin: Any = HERE) -> bool:
        """Log ``user`` in to ``account`` (None or "*": log out); False if nothing changed.

        Services (IDENTIFY, SASL) call it with their route, links with theirs
        (SVSACCOUNT).  User mode ``r`` follows :meth:`_derive_identified`.
        """
        if account == "*":
            account = None
        old = user.account
        if account == old:
            return False
        user.account = account
        identified = self._derive_identified(user)
        self.events.emit(ev.AccountChanged(user, old, identified=identified, origin=origin))
        return True

    @staticmethod
    def _derive_identified(user: User) -> bool | None:
        """Set or clear ``user``'s mode ``r`` from its account and nick; True/False if it changed, else None.

        As on Anope-run networks, ``r`` means "identified for this nick": the
        user is logged in and its nick is its account's name (we have no nick
        grouping).  Every server derives it alike, whatever a link said.
        """
        wanted = user.account is not None and fold(user.account) == fold(user.nick)
        if wanted == (ACCOUNT_MODE in user.modes):
            return None
        user.set_mode(ACCOUNT_MODE, wanted)
        return wanted

    def set_host(self, user: User, ident: str, host: str, origin: Any = HERE) -> None:
        """Change ``user``'s displayed ident and host."""
        old_mask = user.mask
        user.ident, user.host = ident, host
        self.events.emit(ev.HostChanged(user, old_mask, frozenset(self.peers_of(user)), origin=origin))

    def rename_channel(
        self, source: User | Server, channel: Channel, new: str, reason: str, origin: Any = HERE
    ) -> None:
        """Give ``channel`` the name ``new`` (free, or the same name folded); members and invites follow."""
        old = channel.name
        del self.channels[old]
        channel.name = new
        self.channels[new] = channel
        if fold(old) != fold(new):
            for user in channel.invited:
                user.invited.discard(fold(old))
                user.invite(fold(new))
        self.events.emit(ev.ChannelRenamed(source, channel, old, reason, origin=origin))

    def set_realname(self, user: User, realname: str, origin: Any = HERE) -> None:
        """Change ``user``'s real name (SETNAME)."""
        user.realname = realname
        self.events.emit(ev.RealnameChanged(user, frozenset(self.peers_of(user)), origin=origin))

    def apply_user_modes(
        self, source: User | Server, user: User, changes: Iterable[ModeChange], origin: Any = HERE
    ) -> list[ModeChange]:
        """Apply already-permitted user mode ``changes``; return what changed."""
        applied = []
        for change in changes:
            if change.adding == (change.mode in user.modes):
                continue
            holders = self.by_mode.get(change.mode)
            if change.adding:
                user.set_mode(change.mode)
                if holders is not None:
                    holders.add(user)
            else:
                user.set_mode(change.mode, False)
                if holders is not None:
                    holders.discard(user)
                if change.mode == "o":
                    user.oper_name, user.oper_flags = None, frozenset()
            applied.append(change)
        if applied:
            self.events.emit(ev.UserModesChanged(source, user, tuple(applied), origin=origin))
        return applied

    def set_oper(self, user: User, name: str, flags: frozenset[str], origin: Any = HERE,
                 also: str = "") -> list[ModeChange]:
        """Make ``user`` an operator with ConferenceRoom ``flags``.

        Sets user mode o, A for flag a, a for flag s, and the user modes in
        ``also`` (OPER adds s, server notices) in the same change.
        """
        user.oper_name, user.oper_flags = name, flags
        wanted = [ModeChange(True, "o")]
        if "a" in flags:
            wanted.append(ModeChange(True, "A"))
        if "s" in flags:
            wanted.append(ModeChange(True, "a"))
        wanted.extend(ModeChange(True, mode) for mode in also)
        applied = self.apply_user_modes(user, user, wanted, origin)
        user.oper_name, user.oper_flags = name, flags
        return applied

    # -- channels --------------------------------------------------------

    def join(
        self,
        user: User,
        name: str,
        origin: Any = HERE,
        status: Iterable[str] = (),
        ts: int | None = None,
    ) -> Membership:
        """Put ``user`` in channel ``name``, creating it if needed.

        The creator of a new channel gets operator status unless ``status``
        says otherwise (links pass what the remote side decided).  A link's
        JOIN into an existing channel with a channel ``ts`` follows the TS
        rules of :meth:`netjoin` (a lower TS resets our side).
        """
        key = fold(name)
        channel = self.channels.get_folded(key)
        if channel is not None and ts is not None and ts != channel.ts and not decided_here(origin):
            self.netjoin(user.server, name, ts, (), [(user, "".join(status))], origin)
            return channel.members[user]
        created = channel is None
        granted = frozenset(status) if status else NO_STATUS
        if channel is None:
            channel = Channel(name, int(self.now()) if ts is None else ts)
            self.channels.set_folded(key, channel)
            if origin is HERE or decided_here(origin):
                channel.flags.update(self.default_channel_modes)
                if not status:
                    status = ("o",)
        membership = self._add_member(user, channel, status)
        # (positional: a keyword call costs a third more, once per JOIN)
        self.events.emit(ev.ChannelJoined(user, channel, membership, created, granted, origin=origin))
        return membership

    def netjoin(
        self,
        source: Server,
        name: str,
        ts: int,
        modes: Sequence[ModeChange],
        members: Sequence[tuple[User, str]],
        origin: Any,
    ) -> NetjoinResult:
        """Apply an SJOIN from ``source``: channel ``name`` at ``ts`` with ``modes`` and ``members``.

        ``modes`` are the flags, key and limit of the SJOIN; ``members`` pairs
        each user with its status modes (``"o"``, ``"qv"``, ``""``).  The TS
        rules of :mod:`conferenceroom.ts` decide what is kept.  Local effects
        are emitted as events with ``netjoin=True`` (our side wiped, one
        ``MembersNetjoined`` for the new members, then one MODE change of their modes and statuses), then one
        ``ChannelNetjoined`` for the links.
        """
        key = fold(name)
        channel = self.channels.get_folded(key)
        created = channel is None
        lowered = False
        if channel is None:
            channel = Channel(name, ts)
            self.channels.set_folded(key, channel)
        elif ts < channel.ts:
            lowered = True
            self._wipe_channel(source, channel, origin)
            channel.ts = ts
        kept_theirs = ts <= channel.ts
        changes = tsrules.merge_simple_modes(channel, modes) if kept_theirs else []
        joined = self._add_members(channel, members)
        statuses = []  # (membership, mode): their statuses in prefix order (q, o, v)
        if kept_theirs:
            current = channel.members
            for user, status in members:
                if status:
                    membership = current[user]
                    held = membership.status
                    statuses += [(membership, mode) for mode in _status_order(status) if mode not in held]
        if joined:  # one event for the SJOIN's new members, not one per member
            self.events.emit(ev.MembersNetjoined(channel, tuple(joined), created, origin=origin, netjoin=True))
        applied = [c for c in changes if self._apply_channel_mode(channel, c, source.name)]
        for membership, mode in statuses:  # given once (a member named twice gets it once)
            held = membership.status
            if mode not in held and channel.members.get(membership.user) is membership:
                held.add(mode)
                applied.append(_granted(mode, membership.user))
        if applied:
            self.events.emit(
                ev.ChannelModesChanged(source, channel, tuple(applied), origin=origin, netjoin=True)
            )
        if not channel.members and self.channels.get_folded(key) is channel:
            del self.channels[name]  # an SJOIN naming nobody we know leaves nothing behind
        result = NetjoinResult(channel, created, lowered, kept_theirs, tuple(joined))
        self.events.emit(ev.ChannelNetjoined(source, channel, ts, result, origin=origin))
        return result

    def _wipe_channel(self, source: Server, channel: Channel, origin: Any) -> None:
        """Our side of ``channel`` lost on TS: drop its modes, lists, statuses and topic."""
        changes = [ModeChange(False, flag) for flag in sorted(channel.flags)]
        if channel.key is not None:
            changes.append(ModeChange(False, "k", channel.key))
        if channel.limit is not None:
            changes.append(ModeChange(False, "l"))
        for mode, entries in channel.lists.items():
            changes += [ModeChange(False, mode, entry.mask) for entry in entries]
        changes += tsrules.status_wiped(channel.members)
        applied = [c for c in changes if self._apply_channel_mode(channel, c, source.name)]
        if applied:
            self.events.emit(
                ev.ChannelModesChanged(source, channel, tuple(applied), origin=origin, netjoin=True)
            )
        if channel.topic:
            channel.topic, channel.topic_setter, channel.topic_ts = "", "", 0
            self.events.emit(ev.TopicChanged(source, channel, origin=origin, netjoin=True))

    def burst_topic(
        self, source: User | Server, channel: Channel, channel_ts: int, topic_ts: int, text: str,
        setter: str, origin: Any, services: bool = False,
    ) -> bool:
        """Apply a TBURST: True if it wins over our topic (see :func:`conferenceroom.ts.topic_burst_wins`).

        A winning topic with the same text updates setter and time without
        a line to clients.
        """
        if not tsrules.topic_burst_wins(channel.ts, channel.topic_ts, channel_ts, topic_ts, services):
            return False
        changed = text != channel.topic
        channel.topic = text
        channel.topic_setter, channel.topic_ts = (setter, topic_ts) if text else ("", 0)
        if changed:
            self.events.emit(ev.TopicChanged(source, channel, origin=origin))
        return True

    @staticmethod
    def ts_accepts(channel: Channel, ts: int) -> bool:
        """True if a TMODE/BMASK with channel TS ``ts`` applies to ``channel`` (not higher than ours)."""
        return tsrules.ts_accepts(channel.ts, ts)

    def _add_members(self, channel: Channel, members: Sequence[tuple[User, str]]) -> list[Membership]:
        """Put each of ``members`` not in ``channel`` yet in it, without status: the new memberships.

        :meth:`_add_member` for a netjoin's many members at once (same state).
        """
        joined = []
        current = channel.members
        local = channel.local_members
        name = None
        invited = channel.invited
        route: Any = None
        is_client = False
        for user, _ in members:
            if user in current:
                continue
            membership = Membership(user, channel, set())
            current[user] = membership
            if user.route is not route:  # members of an SJOIN mostly share one route
                route = user.route
                is_client = getattr(route, "is_client", False)
            if is_client:
                local.add(user)
            if user.channels is NO_CHANNELS:
                user.channels = {}
            user.channels[channel] = membership
            if user.invited:
                if name is None:
                    name = fold(channel.name)
                user.invited.discard(name)
            if invited:
                invited.discard(user)
            joined.append(membership)
        return joined

    def _add_member(self, user: User, channel: Channel, status: Iterable[str]) -> Membership:
        membership = Membership(user, channel, set(status))
        channel.members[user] = membership
        if user.is_local:
            channel.local_members.add(user)
        if user.channels is NO_CHANNELS:
            user.channels = {}
        user.channels[channel] = membership
        if user.invited:  # folding the name for every member of a burst costs more than the check
            user.invited.discard(fold(channel.name))
        if channel.invited:
            channel.invited.discard(user)
        return membership

    def _drop_member(self, user: User, channel: Channel) -> None:
        channel.members.pop(user, None)
        channel.local_members.discard(user)
        if user.channels is not NO_CHANNELS:
            user.channels.pop(channel, None)
        if not channel.members and self.channels.discard_value(channel.name, channel):
            # An INVITE is to this channel, not to a later one of the same name.
            if channel.invited:
                name = fold(channel.name)
                for invitee in channel.invited:
                    invitee.invited.discard(name)
                channel.invited.clear()

    def part(self, user: User, channel: Channel, reason: str | None, origin: Any = HERE) -> None:
        """Take ``user`` out of ``channel``."""
        members = channel.members.copy().keys()  # a snapshot without hashing every member again
        self.events.emit(ev.ChannelParted(user, channel, reason, members, origin=origin))
        self._drop_member(user, channel)

    def kick(
        self, source: User | Server, channel: Channel, target: User, reason: str, origin: Any = HERE
    ) -> None:
        """``source`` removes ``target`` from ``channel``."""
        members = channel.members.copy().keys()
        self.events.emit(ev.UserKicked(source, channel, target, reason, members, origin=origin))
        self._drop_member(target, channel)

    def set_topic(
        self, source: User | Server, channel: Channel, text: str, setter: str, ts: int | None = None,
        origin: Any = HERE,
    ) -> None:
        """Set the topic of ``channel`` (empty ``text`` clears it)."""
        channel.topic = text
        channel.topic_setter = setter if text else ""
        channel.topic_ts = (int(self.now()) if ts is None else ts) if text else 0
        self.events.emit(ev.TopicChanged(source, channel, origin=origin))

    def invite(self, source: User, target: User, channel: Channel, origin: Any = HERE) -> None:
        """Record that ``target`` may join ``channel`` past +i, and announce it."""
        target.invite(fold(channel.name))
        channel.invited.add(target)
        self.events.emit(ev.UserInvited(source, target, channel, origin=origin))

    def apply_channel_modes(
        self, source: User | Server, channel: Channel, changes: Iterable[ModeChange],
        origin: Any = HERE,
    ) -> list[ModeChange]:
        """Apply already-validated ``changes``; return those that changed state.

        Status changes name their member by ``change.member`` (a
        :class:`User`; the nick in ``param`` is not looked up); list changes
        carry the mask.
        """
        applied: list[ModeChange] = []
        setter = source.mask if isinstance(source, User) else source.name
        for change in changes:
            if self._apply_channel_mode(channel, change, setter):
                applied.append(change)
        if applied:
            self.events.emit(ev.ChannelModesChanged(source, channel, tuple(applied), origin=origin))
        return applied

    def _apply_channel_mode(self, channel: Channel, change: ModeChange, setter: str) -> bool:
        kind = CHANNEL_MODES[change.mode]
        mode, param = change.mode, change.param
        if kind is ModeKind.FLAG:
            if change.adding == (mode in channel.flags):
                return False
            (channel.flags.add if change.adding else channel.flags.discard)(mode)
            return True
        if kind is ModeKind.STATUS:
            target = change.member
            membership = channel.members.get(target) if target is not None else None
            if membership is None or change.adding == (mode in membership.status):
                return False
            (membership.status.add if change.adding else membership.status.discard)(mode)
            return True
        if kind is ModeKind.LIST:
            entries = channel.lists[mode]
            existing = [e for e in entries if fold(e.mask) == fold(param or "")]
            if change.adding:
                if existing:
                    return False
                entries.append(ListEntry(param or "", setter, int(self.now())))
                return True
            for entry in existing:
                entries.remove(entry)
            return bool(existing)
        if mode == "k":
            if change.adding:
                channel.key = param
                return True
            if channel.key is None:
                return False
            channel.key = None
            return True
        if mode == "l":
            if change.adding:
                channel.limit = int(param or 0)
                return True
            if channel.limit is None:
                return False
            channel.limit = None
            return True
        return False
