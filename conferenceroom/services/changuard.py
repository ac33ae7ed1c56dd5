# -*- test-case-name: tests.unit.test_chanserv -*-
"""What ChanServ does on its own: levels, auto-modes, AKICK, locks, remembered topics.

ChanServ watches the network's events: a join to a registered channel
(here, or anywhere on the network through the links) gets its auto-mode or
its AKICK, a channel recreated after it emptied gets its mode lock and its
topic back, a mode change against the lock or SECUREOPS is undone, and a
topic change is remembered (or undone under TOPICLOCK).  It reacts one
reactor turn after the event, as a remote services server would, so the
event has reached every client and link first.  Every change it makes goes
through :class:`~conferenceroom.network.Network` with the ChanServ user as
source and the services route as origin, so links see it come from the
services server.  Its commands are in :mod:`.chancommands`; its rules in
:mod:`.chanrules`; its records and tables in :mod:`.chandb`.

An account name (founder or access entry) counts only while that account
exists and is older than the entry: an account dropped and registered
again by someone else inherits nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from .. import events as ev
from ..casemap import fold, match
from ..modes import MAX_LIST_ENTRIES, ModeChange
from ..network import Channel, Membership, User
from . import chandb
from .chandb import ChannelRecord, Registry
from .chanrules import (
    AUTO_MODE,
    SECUREOPS_LEVEL,
    TOPIC_LEVEL,
    Level,
    is_mask,
    level_of,
    lock_corrections,
    user_masks,
)

if TYPE_CHECKING:
    from .bot import ServiceBot

#: Users on the access list at this level or above are never AKICKed.
AKICK_EXEMPT_LEVEL = Level.AOP
#: The kick reason of an AKICK added without one.
DEFAULT_AKICK_REASON = "You are banned from this channel"


def masks_of(user: User) -> tuple[str, ...]:
    """The ``n!u@h`` forms of ``user`` that access entries, AKICKs and bans match."""
    return user_masks(user.nick, user.ident, user.host, user.realhost, user.ip)


class ChanServ:
    """The ChanServ service: the registry, its store, and what it does on network events."""

    log = Logger()

    def __init__(self, bot: "ServiceBot", store: Any, network: Any, clock: Any, route: Any,
                 accounts: Any = None) -> None:
        self.bot = bot
        self.accounts = accounts
        self.store = store
        self.network = network
        self.clock = clock
        self.route = route
        self.registry = Registry()
        self.pending: set[str] = set()  # folded names being registered
        self.watching = False
        self._queue: list[Callable[[], None]] = []
        self._flush_call: Any = None
        self._handlers: dict[type, Callable[[Any], None]] = {
            ev.ChannelJoined: self._on_joined,
            ev.ChannelNetjoined: self._on_netjoined,
            ev.ChannelModesChanged: self._on_modes,
            ev.TopicChanged: self._on_topic,
        }

    # -- life ----------------------------------------------------------------------

    def start(self) -> Deferred:
        """Bring the tables up to date, load every registered channel, then watch the network."""
        d = self.store.migrate(chandb.COMPONENT, chandb.MIGRATIONS)
        d.addCallback(lambda _: self.store.read(chandb.load_all))
        d.addCallback(self._loaded)
        return d

    def _loaded(self, records: list[ChannelRecord]) -> None:
        self.registry.clear()
        for record in records:
            self.registry[record.name] = record
        if not self.watching:
            self.watching = True
            self.network.events.subscribe(self, kinds=self._handlers)
        # Channels that lived on while services were away: their members as if they just joined.
        for record in records:
            channel = self.network.find_channel(record.name)
            if channel is not None:
                self._later(lambda channel=channel: self.joined(channel, list(channel.members), False))

    def stop(self) -> None:
        """Stop watching the network (the records stay in the store)."""
        if self.watching:
            self.watching = False
            self.network.events.unsubscribe(self)
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None
        self._queue.clear()

    @property
    def me(self) -> User | None:
        """The ChanServ user, or None while it is not on the network."""
        user = self.bot.user
        if user is None or self.network.users_by_uid.get(user.uid) is not user:
            return None
        return user

    # -- levels ----------------------------------------------------------------------

    def account_valid(self, name: str, since: int) -> bool:
        """True if account ``name`` exists and was registered by ``since`` (not dropped and re-made)."""
        if self.accounts is None:
            return True
        account = self.accounts.get(name)
        return account is not None and account.registered <= since

    def level(self, record: ChannelRecord, user: User) -> Level:
        """``user``'s access level in ``record``'s channel (by its account and its masks)."""
        account = user.account
        founder = record.founder
        if account is not None and fold(account) == fold(founder) \
                and not self.account_valid(founder, record.registered):
            founder = ""  # the founding account is gone: nobody is founder
        entries = ((e.entry, e.level) for e in record.access.values()
                   if is_mask(e.entry) or account is None or fold(e.entry) != fold(account)
                   or self.account_valid(e.entry, e.added))
        return level_of(founder, entries, account, masks_of(user))

    def is_founder(self, record: ChannelRecord, user: User) -> bool:
        """True if ``user`` is logged in to the channel's (still valid) founding account."""
        return self.level(record, user) == Level.FOUNDER

    def command_level(self, record: ChannelRecord, user: User) -> Level:
        """The level ``user``'s commands act with: a services administrator (flag s) acts as founder."""
        if user.has_oper_flag("s"):
            return Level.FOUNDER
        return self.level(record, user)

    # -- accounts dropped -------------------------------------------------------------------

    def account_dropped(self, account: Any) -> None:
        """An account was dropped: the channels it founded are dropped, its access entries removed."""
        key = fold(account.name)
        for record in list(self.registry.values()):
            if fold(record.founder) == key:
                d = self.store.run(chandb.delete_channel, record.folded)
                d.addCallback(lambda _, record=record: self._forget(record, account.name))
            elif key in record.access and not is_mask(record.access[key].entry):
                d = self.store.run(chandb.delete_access, record.folded, key)
                d.addCallback(lambda _, record=record: record.access.pop(key, None))
            else:
                continue
            d.addErrback(lambda failure, name=record.name: self.log.failure(
                "ChanServ: forgetting the dropped account {account} in {channel}", failure,
                account=account.name, channel=name))

    def _forget(self, record: ChannelRecord, account: str) -> None:
        if self.registry.get(record.name) is record:
            del self.registry[record.name]
        self.log.info("ChanServ: {channel} dropped with its founder's account {account}",
                      channel=record.name, account=account)

    # -- acting on the network ------------------------------------------------------------

    def set_modes(self, channel: Channel, changes: list[ModeChange]) -> None:
        """Apply ``changes`` to ``channel`` from ChanServ."""
        me = self.me
        if me is not None and changes:
            self.network.apply_channel_modes(me, channel, changes, origin=self.route)

    def kick(self, channel: Channel, user: User, reason: str) -> None:
        """Kick ``user`` out of ``channel`` from ChanServ."""
        me = self.me
        if me is not None and user in channel.members:
            self.network.kick(me, channel, user, reason, origin=self.route)

    def status_change(self, adding: bool, mode: str, user: User) -> ModeChange:
        """A status change (q, o, v) for ``user``."""
        return ModeChange(adding, mode, user.nick, user)

    def enforce_lock(self, record: ChannelRecord, channel: Channel) -> None:
        """Bring ``channel``'s modes back under the record's mode lock."""
        changes = [ModeChange(adding, mode, param)
                   for adding, mode, param in lock_corrections(record.mlock, channel.flags, channel.key,
                                                               channel.limit)]
        self.set_modes(channel, changes)

    def restore_topic(self, record: ChannelRecord, channel: Channel) -> None:
        """Put the remembered topic back on ``channel``."""
        me = self.me
        if me is not None and record.topic and channel.topic != record.topic:
            self.network.set_topic(me, channel, record.topic, record.topic_setter or me.nick,
                                   record.topic_ts or None, origin=self.route)

    def auto_mode(self, record: ChannelRecord, channel: Channel, user: User) -> None:
        """Give ``user`` its level's mode; under SECUREOPS take away what its level does not allow."""
        membership = channel.members.get(user)
        if membership is None:
            return
        level = self.level(record, user)
        changes = self.secure_changes(record, membership, level)
        want = AUTO_MODE.get(level)
        if want and want not in membership.status:
            changes.insert(0, self.status_change(True, want, user))
        self.set_modes(channel, changes)

    def secure_changes(self, record: ChannelRecord, membership: Membership, level: Level) -> list[ModeChange]:
        """Under SECUREOPS: the -q / -o a member holding more than its level allows must lose."""
        if not record.secureops:
            return []
        changes = []
        if "q" in membership.status and level < Level.FOUNDER:
            changes.append(self.status_change(False, "q", membership.user))
        if "o" in membership.status and level < SECUREOPS_LEVEL:
            changes.append(self.status_change(False, "o", membership.user))
        return changes

    def akick_match(self, record: ChannelRecord, user: User) -> chandb.AkickEntry | None:
        """The AKICK ``user`` matches, unless its access exempts it."""
        if not record.akicks or self.level(record, user) >= AKICK_EXEMPT_LEVEL:
            return None
        masks = masks_of(user)
        for entry in record.akicks.values():
            if any(match(entry.mask, mask) for mask in masks):
                return entry
        return None

    def enforce_akick(self, record: ChannelRecord, channel: Channel, user: User) -> bool:
        """Ban and kick ``user`` if an AKICK matches it; True if it did."""
        entry = self.akick_match(record, user)
        if entry is None:
            return False
        bans = channel.lists["b"]
        if len(bans) < MAX_LIST_ENTRIES and not any(fold(b.mask) == fold(entry.mask) for b in bans):
            self.set_modes(channel, [ModeChange(True, "b", entry.mask)])
        self.kick(channel, user, entry.reason)
        return True

    # -- events ---------------------------------------------------------------------------

    def __call__(self, event: ev.Event) -> None:
        """Watch one network event (the subscriber)."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _later(self, action: Callable[[], None]) -> None:
        """Run ``action`` on the next reactor turn, after the event reached everyone."""
        self._queue.append(action)
        if self._flush_call is None:
            self._flush_call = self.clock.callLater(0, self._flush)

    def _flush(self) -> None:
        self._flush_call = None
        queue, self._queue = self._queue, []
        for action in queue:
            try:
                action()
            except Exception:  # one bad action must not stop the others
                self.log.failure("ChanServ action failed")

    def _current(self, channel: Channel) -> ChannelRecord | None:
        """The record of ``channel`` if it is registered and still the live channel of its name."""
        if self.network.channels.get(channel.name) is not channel:
            return None
        return self.registry.get(channel.name)

    def _is_service(self, user: User) -> bool:
        me = self.me
        return me is not None and user.server is me.server

    def _on_joined(self, event: ev.ChannelJoined) -> None:
        if event.netjoin or event.channel.name not in self.registry:
            return
        self._later(lambda: self.joined(event.channel, [event.user], event.created))

    def _on_netjoined(self, event: ev.ChannelNetjoined) -> None:
        result = event.result
        if event.channel.name not in self.registry or not (result.joined or result.lowered):
            return
        if result.lowered:
            # Our side lost on channel TS: its modes, statuses and topic were wiped; set them again.
            users = list(event.channel.members)
        else:
            users = [membership.user for membership in result.joined]
        self._later(lambda: self.joined(event.channel, users, result.created or result.lowered))

    def joined(self, channel: Channel, users: list[User], created: bool) -> None:
        """``users`` joined registered ``channel`` (``created``: it was empty before)."""
        record = self._current(channel)
        if record is None:
            return
        self.enforce_lock(record, channel)  # a netjoin may have merged other modes in
        if created and not channel.topic:
            self.restore_topic(record, channel)
        for user in users:
            if user not in channel.members or self._is_service(user):
                continue
            if not self.enforce_akick(record, channel, user):
                self.auto_mode(record, channel, user)

    def _on_modes(self, event: ev.ChannelModesChanged) -> None:
        if event.netjoin or event.source is self.me or event.channel.name not in self.registry:
            return
        self._later(lambda: self.modes_changed(event.channel, event.changes))

    def modes_changed(self, channel: Channel, changes: tuple[ModeChange, ...]) -> None:
        """Someone else changed ``channel``'s modes: undo what breaks the lock or SECUREOPS."""
        record = self._current(channel)
        if record is None:
            return
        self.enforce_lock(record, channel)
        if record.secureops:
            undo: list[ModeChange] = []
            for change in changes:
                if change.adding and change.member is not None and change.mode in "qo":
                    membership = channel.members.get(change.member)
                    if membership is not None:
                        undo += [c for c in self.secure_changes(record, membership,
                                                                self.level(record, change.member))
                                 if c not in undo]
            self.set_modes(channel, undo)

    def _on_topic(self, event: ev.TopicChanged) -> None:
        if event.netjoin or event.source is self.me or event.channel.name not in self.registry:
            return
        self._later(lambda: self.topic_changed(event.channel, event.source))

    def topic_changed(self, channel: Channel, source: Any) -> None:
        """``source`` changed ``channel``'s topic: remember it, or put ours back under TOPICLOCK."""
        record = self._current(channel)
        if record is None:
            return
        allowed = isinstance(source, User) and self.command_level(record, source) >= TOPIC_LEVEL
        if record.topiclock and not allowed:
            if channel.topic != record.topic:
                me = self.me
                if me is not None:
                    self.network.set_topic(me, channel, record.topic, record.topic_setter or me.nick,
                                           record.topic_ts or None, origin=self.route)
            return
        if (channel.topic, channel.topic_setter, channel.topic_ts) == (
                record.topic, record.topic_setter, record.topic_ts):
            return
        record.topic, record.topic_setter, record.topic_ts = channel.topic, channel.topic_setter, channel.topic_ts
        d = self.store.run(chandb.update_channel, record.folded, {
            "topic": record.topic, "topic_setter": record.topic_setter, "topic_ts": record.topic_ts})
        d.addErrback(lambda failure: self.log.failure("remembering the topic of {channel}", failure,
                                                      channel=record.name))
