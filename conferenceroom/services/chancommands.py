# -*- test-case-name: tests.unit.test_chanserv -*-
"""ChanServ's commands, each with its HELP text beside it.

``REGISTER``, ``ACCESS``, ``AKICK``, ``OP``/``DEOP``/``VOICE``/``DEVOICE``,
``INVITE``, ``UNBAN``, ``INFO``, ``SET`` and ``DROP``.  A refusal raises
:class:`~conferenceroom.services.bot.CommandError` (the bot tells the user);
a change is acknowledged only after its transaction committed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from twisted.internet.defer import Deferred

from ..casemap import fold, match, normalize_mask, valid_channel, valid_nick
from ..limits import KICKLEN
from ..modes import ModeChange, rank
from ..network import Channel
from ..wire import cut_to_bytes
from . import chandb
from .bot import CommandError, Request, ServiceBot
from .chandb import AccessEntry, AkickEntry, ChannelRecord
from .chanrules import (
    AKICK_LEVEL,
    INVITE_LEVEL,
    LIST_LEVEL,
    OP_LEVEL,
    SECUREOPS_LEVEL,
    SET_LEVEL,
    VOICE_LEVEL,
    Level,
    ModeLock,
    ModeLockError,
    entry_key,
    entry_matches,
    highest_grantable,
    is_mask,
    may_change,
    parse_level,
    parse_mode_lock,
)
from .changuard import DEFAULT_AKICK_REASON, ChanServ, masks_of

#: Channels one account may found.
MAX_CHANNELS_PER_ACCOUNT = 20
#: Entries per access list, and per AKICK list.
MAX_ACCESS = 200
MAX_AKICK = 100
#: The longest access entry or AKICK mask (as a ban mask).
MASKLEN = 195
OP_RANK = 2

LEVELS_HELP = (
    "Levels, highest first: FOUNDER (the registering account: +q on join, everything),",
    "MGR (manager: +o; ACCESS up to SOP, AKICK, SET), SOP (super op: +o; ACCESS up to AOP, AKICK),",
    "AOP (auto op: +o; OP/DEOP, VOICE/DEVOICE, topic under TOPICLOCK), VOP (auto voice: +v; VOICE itself),",
    "UOP (user: no mode; INVITE and UNBAN itself).",
)


def when(ts: int) -> str:
    """A timestamp as operators read it: ``2026-12-01 23:40:00 UTC``."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def on_off(words: list[str], option: str) -> bool:
    """ON or OFF (any case) as a bool; anything else is refused."""
    word = words[0].upper() if words else ""
    if word not in ("ON", "OFF"):
        raise CommandError(f"{option} takes ON or OFF.")
    return word == "ON"


class ChanServCommands:
    """The handlers of ChanServ's commands, bound to one :class:`ChanServ`."""

    def __init__(self, cs: ChanServ) -> None:
        self.cs = cs

    @property
    def network(self) -> Any:
        """The network."""
        return self.cs.network

    # -- shared checks ----------------------------------------------------------------

    def record(self, name: str) -> ChannelRecord:
        """The registered channel ``name`` (refused if it is not registered)."""
        record = self.cs.registry.get(name)
        if record is None:
            raise CommandError(f"{name} is not registered.")
        return record

    def require(self, request: Request, record: ChannelRecord, level: Level, what: str) -> Level:
        """``request``'s user's command level in ``record``, refused below ``level``."""
        mine = self.cs.command_level(record, request.user)
        if mine < level:
            raise CommandError(f"Permission denied: {what} in {record.name} needs {level.name} access"
                               f"{' or more' if level < Level.FOUNDER else ''}"
                               f" (yours: {mine.name if mine else 'none'}).")
        return mine

    def live_channel(self, record: ChannelRecord) -> Channel:
        """The channel of ``record`` as it is now (refused if nobody is in it)."""
        channel = self.network.find_channel(record.name)
        if channel is None:
            raise CommandError(f"{record.name} is empty.")
        return channel

    def saved(self, d: Deferred, request: Request, on_commit: Any) -> Deferred:
        """Call ``on_commit(result)`` once the change is on disk; a failed write is said plainly."""
        def failed(failure: Any) -> None:
            self.cs.log.failure("ChanServ {name} from {nick}", failure, name=request.name, nick=request.user.nick)
            request.reply(f"{request.name} failed: the services database could not save it; "
                          "nothing was changed. Try again later.")

        d.addCallbacks(on_commit, failed)
        return d

    # -- REGISTER / DROP ----------------------------------------------------------------

    def register(self, request: Request) -> Deferred | None:
        """REGISTER <#channel>"""
        user, name = request.user, request.args[0]
        if not name.startswith("#") or not valid_channel(name):
            raise CommandError(f"{name} is not a channel name (a network channel starts with #).")
        if user.account is None:
            raise CommandError("You must be logged in to register a channel: "
                               "/msg NickServ IDENTIFY <password> first.")
        existing = self.cs.registry.get(name)
        if existing is not None or fold(name) in self.cs.pending:
            raise CommandError(f"{existing.name if existing else name} is already registered.")
        channel = self.network.find_channel(name)
        membership = channel.members.get(user) if channel is not None else None
        if channel is None or membership is None:
            raise CommandError(f"You must be in {name} to register it.")
        if rank(membership.status) < OP_RANK:
            raise CommandError(f"You must be a channel operator in {channel.name} to register it.")
        founded = sum(1 for r in self.cs.registry.values() if fold(r.founder) == fold(user.account))
        if founded >= MAX_CHANNELS_PER_ACCOUNT:
            raise CommandError(f"Your account already founds {founded} channels, the most allowed.")
        record = ChannelRecord(channel.name, user.account, int(self.cs.clock.seconds()), channel.topic,
                               channel.topic_setter, channel.topic_ts)
        folded = record.folded
        self.cs.pending.add(folded)

        def done(inserted: bool) -> None:
            if not inserted:
                request.reply(f"{record.name} is already registered.")
                return
            self.cs.registry[record.name] = record
            request.reply(f"{record.name} is now registered to your account {record.founder}; "
                          "you are its founder.")
            live = self.cs._current(channel)
            if live is not None:
                self.cs.enforce_lock(record, channel)
                self.cs.auto_mode(record, channel, user)

        d = self.cs.store.run(chandb.insert_channel, record)
        d.addBoth(lambda result: (self.cs.pending.discard(folded), result)[1])
        return self.saved(d, request, done)

    def drop(self, request: Request) -> Deferred:
        """DROP <#channel>"""
        user = request.user
        record = self.record(request.args[0])
        if not self.cs.is_founder(record, user) and not user.has_oper_flag("s"):
            raise CommandError(f"Permission denied: only the founder of {record.name} "
                               "or a services administrator may drop it.")

        def done(deleted: bool) -> None:
            if self.cs.registry.get(record.name) is record:
                del self.cs.registry[record.name]
            request.reply(f"{record.name} has been dropped: it is no longer registered.")

        return self.saved(self.cs.store.run(chandb.delete_channel, record.folded), request, done)

    # -- ACCESS -------------------------------------------------------------------------

    def access(self, request: Request) -> Deferred | None:
        """ACCESS <#channel> ADD <account|mask> <level> | DEL <account|mask> | LIST"""
        record = self.record(request.args[0])
        verb = request.args[1].upper()
        rest = request.args[2:]
        if verb == "LIST":
            return self.access_list(request, record)
        if verb == "ADD" and len(rest) >= 2:
            return self.access_add(request, record, rest[0], rest[1])
        if verb == "DEL" and rest:
            return self.access_del(request, record, rest[0])
        raise CommandError("Syntax: ACCESS <#channel> ADD <account|mask> <level> | "
                           "ACCESS <#channel> DEL <account|mask> | ACCESS <#channel> LIST")

    def access_add(self, request: Request, record: ChannelRecord, raw: str, level_text: str) -> Deferred:
        """ACCESS #channel ADD <account|mask> <level>"""
        mine = self.cs.command_level(record, request.user)
        level = parse_level(level_text)
        if level is None:
            raise CommandError(f"Unknown level {level_text[:20]}: one of MGR, SOP, AOP, VOP, UOP.")
        entry = entry_key(raw)
        if is_mask(entry):
            if len(entry) > MASKLEN or " " in entry:
                raise CommandError(f"Invalid mask {raw[:60]}.")
        else:
            if not valid_nick(entry):
                raise CommandError(f"{raw[:60]} is neither an account name nor a nick!user@host mask.")
            accounts = getattr(self.cs, "accounts", None)
            account = accounts.get(entry) if accounts is not None else None
            if accounts is not None and account is None:
                raise CommandError(f"{entry} is not a registered account.")
            if account is not None:
                entry = account.name
            if fold(entry) == fold(record.founder):
                raise CommandError(f"{entry} is the founder of {record.name}.")
        old = record.access.get(fold(entry))
        if not may_change(mine, old.level if old else None, level):
            raise CommandError(self._ladder_refusal(record, mine, "ADD"))
        if old is None and len(record.access) >= MAX_ACCESS:
            raise CommandError(f"The access list of {record.name} is full ({MAX_ACCESS} entries).")
        if old is not None and old.level == level:
            raise CommandError(f"{old.entry} already has {level.name} access in {record.name}.")
        new = AccessEntry(entry, level, request.user.account or request.user.nick,
                          int(self.cs.clock.seconds()))

        def done(_: Any) -> None:
            live = self.cs.registry.get(record.name)
            if live is not None:
                live.access[fold(entry)] = new
            if old is None:
                request.reply(f"{entry} added to the access list of {record.name} at {level.name}.")
            else:
                request.reply(f"{entry} changed from {old.level.name} to {level.name} in {record.name}.")
            channel = self.network.find_channel(record.name)
            if live is not None and channel is not None and self.cs._current(channel) is live:
                for member in list(channel.members):  # those the entry matches get their mode now
                    if not self.cs._is_service(member) and entry_matches(entry, member.account, masks_of(member)):
                        self.cs.auto_mode(live, channel, member)

        return self.saved(self.cs.store.run(chandb.put_access, record.folded, new), request, done)

    def _ladder_refusal(self, record: ChannelRecord, mine: Level, verb: str) -> str:
        top = highest_grantable(mine)
        if top == Level.NONE:
            return (f"Permission denied: changing the access list of {record.name} needs SOP access "
                    f"or more (yours: {mine.name if mine else 'none'}).")
        return f"Permission denied: with {mine.name} access you may {verb} entries up to {top.name} only."

    def access_del(self, request: Request, record: ChannelRecord, raw: str) -> Deferred:
        """ACCESS #channel DEL <account|mask>"""
        key = fold(entry_key(raw))
        old = record.access.get(key)
        if old is None:
            raise CommandError(f"{raw[:60]} is not on the access list of {record.name}.")
        user = request.user
        own = not is_mask(old.entry) and user.account is not None and fold(user.account) == key
        mine = self.cs.command_level(record, user)
        if not own and not may_change(mine, old.level, None):
            raise CommandError(self._ladder_refusal(record, mine, "DEL"))

        def done(_: Any) -> None:
            live = self.cs.registry.get(record.name)
            if live is not None:
                live.access.pop(key, None)
            request.reply(f"{old.entry} removed from the access list of {record.name}.")

        return self.saved(self.cs.store.run(chandb.delete_access, record.folded, key), request, done)

    def access_list(self, request: Request, record: ChannelRecord) -> None:
        """ACCESS #channel LIST"""
        self.require(request, record, LIST_LEVEL, "ACCESS LIST")
        reply = request.reply
        reply(f"Access list of {record.name}:")
        reply(f"  {'FOUNDER':<7} {record.founder}")
        entries = sorted(record.access.values(), key=lambda e: (-e.level, fold(e.entry)))
        for number, entry in enumerate(entries, 1):
            reply(f"  {entry.level.name:<7} {entry.entry} (added by {entry.added_by}, {when(entry.added)})")
        reply(f"End of the access list of {record.name}: {len(entries)} "
              f"entr{'y' if len(entries) == 1 else 'ies'} besides the founder.")

    # -- AKICK --------------------------------------------------------------------------

    def akick(self, request: Request) -> Deferred | None:
        """AKICK <#channel> ADD <mask> [reason] | DEL <mask> | LIST"""
        record = self.record(request.args[0])
        verb = request.args[1].upper()
        rest = request.args[2:]
        if verb == "LIST":
            return self.akick_list(request, record)
        if verb == "ADD" and rest:
            return self.akick_add(request, record, rest[0], " ".join(rest[1:]))
        if verb == "DEL" and rest:
            return self.akick_del(request, record, rest[0])
        raise CommandError("Syntax: AKICK <#channel> ADD <mask> [<reason>] | AKICK <#channel> DEL <mask> | "
                           "AKICK <#channel> LIST")

    def akick_add(self, request: Request, record: ChannelRecord, raw: str, reason: str) -> Deferred:
        """AKICK #channel ADD <mask> [reason]"""
        self.require(request, record, AKICK_LEVEL, "AKICK ADD")
        mask = normalize_mask(raw)
        if len(mask) > MASKLEN or mask.startswith(":"):
            raise CommandError(f"Invalid mask {raw[:60]}.")
        if fold(mask) in record.akicks:
            raise CommandError(f"{mask} is already on the AKICK list of {record.name}.")
        if len(record.akicks) >= MAX_AKICK:
            raise CommandError(f"The AKICK list of {record.name} is full ({MAX_AKICK} entries).")
        above = self._akick_reaches_above(record, request.user, mask)
        if above is not None:
            raise CommandError(f"Permission denied: {mask} would match {above}, who has more access in "
                               f"{record.name} than you.")
        entry = AkickEntry(mask, cut_to_bytes(reason or DEFAULT_AKICK_REASON, KICKLEN),
                           request.user.account or request.user.nick, int(self.cs.clock.seconds()))

        def done(_: Any) -> None:
            live = self.cs.registry.get(record.name)
            if live is None:
                return
            live.akicks[fold(mask)] = entry
            request.reply(f"{mask} added to the AKICK list of {record.name}.")
            channel = self.network.find_channel(record.name)
            if channel is not None and self.cs._current(channel) is live:
                kicked = [user for user in list(channel.members)
                          if not self.cs._is_service(user) and self.cs.enforce_akick(live, channel, user)]
                if kicked:
                    request.reply(f"Kicked {len(kicked)} matching user{'s' if len(kicked) > 1 else ''} "
                                  f"from {record.name}.")

        return self.saved(self.cs.store.run(chandb.put_akick, record.folded, entry), request, done)

    def _akick_reaches_above(self, record: ChannelRecord, user: Any, mask: str) -> str | None:
        """Whom an AKICK ``mask`` from ``user`` would catch among those with more access, or None.

        Checked: the founder's and the access accounts' nicks from any host (``name!*@*``), and the
        addresses of users on the network now.  The founder (or a services administrator) is never refused.
        """
        mine = self.cs.command_level(record, user)
        if mine >= Level.FOUNDER:
            return None
        accounts = [(record.founder, Level.FOUNDER)] + [
            (e.entry, e.level) for e in record.access.values() if not is_mask(e.entry)]
        for name, level in accounts:
            if level > mine and match(mask, f"{name}!*@*"):
                return name
        for other in self.network.users_by_uid.values():
            if other is user or self.cs._is_service(other):
                continue
            level = self.cs.level(record, other)
            if level > mine and any(match(mask, m) for m in masks_of(other)):
                return other.nick
        return None

    def akick_del(self, request: Request, record: ChannelRecord, raw: str) -> Deferred:
        """AKICK #channel DEL <mask>"""
        self.require(request, record, AKICK_LEVEL, "AKICK DEL")
        key = fold(normalize_mask(raw))
        old = record.akicks.get(key)
        if old is None:
            raise CommandError(f"{raw[:60]} is not on the AKICK list of {record.name}.")

        def done(_: Any) -> None:
            live = self.cs.registry.get(record.name)
            if live is not None:
                live.akicks.pop(key, None)
            request.reply(f"{old.mask} removed from the AKICK list of {record.name} "
                          "(a ban it set stays until removed: /msg ChanServ UNBAN or MODE -b).")

        return self.saved(self.cs.store.run(chandb.delete_akick, record.folded, key), request, done)

    def akick_list(self, request: Request, record: ChannelRecord) -> None:
        """AKICK #channel LIST"""
        self.require(request, record, Level.AOP, "AKICK LIST")
        reply = request.reply
        reply(f"AKICK list of {record.name}:")
        entries = sorted(record.akicks.values(), key=lambda e: fold(e.mask))
        for entry in entries:
            reply(f"  {entry.mask} :{entry.reason} (added by {entry.added_by}, {when(entry.added)})")
        reply(f"End of the AKICK list of {record.name}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}.")

    # -- OP / DEOP / VOICE / DEVOICE ----------------------------------------------------------

    def status(self, request: Request, mode: str, adding: bool) -> None:
        """OP/DEOP/VOICE/DEVOICE <#channel> [<nick>]"""
        user = request.user
        record = self.record(request.args[0])
        channel = self.live_channel(record)
        target = user
        if len(request.args) > 1:
            found = self.network.find_user(request.args[1])
            if found is None:
                raise CommandError(f"No such nick: {request.args[1][:40]}.")
            target = found
        verb = request.name
        needed = VOICE_LEVEL if mode == "v" and target is user else OP_LEVEL
        mine = self.require(request, record, needed, verb if target is user else f"{verb} for another user")
        membership = channel.members.get(target)
        if membership is None:
            raise CommandError(f"{target.nick} is not in {channel.name}.")
        if adding and mode == "o" and record.secureops and self.cs.level(record, target) < SECUREOPS_LEVEL:
            raise CommandError(f"SECUREOPS is on in {channel.name}: {target.nick} has no AOP access.")
        if not adding and target is not user and self.cs.level(record, target) > mine:
            raise CommandError(f"Permission denied: {target.nick} has more access in {channel.name} than you.")
        if adding == (mode in membership.status):
            state = {"o": "an operator", "v": "voiced"}[mode]
            raise CommandError(f"{target.nick} is {'already' if adding else 'not'} {state} in {channel.name}.")
        self.cs.set_modes(channel, [self.cs.status_change(adding, mode, target)])

    def op(self, request: Request) -> None:
        """OP <#channel> [<nick>]"""
        self.status(request, "o", True)

    def deop(self, request: Request) -> None:
        """DEOP <#channel> [<nick>]"""
        self.status(request, "o", False)

    def voice(self, request: Request) -> None:
        """VOICE <#channel> [<nick>]"""
        self.status(request, "v", True)

    def devoice(self, request: Request) -> None:
        """DEVOICE <#channel> [<nick>]"""
        self.status(request, "v", False)

    # -- INVITE / UNBAN -----------------------------------------------------------------------

    def invite(self, request: Request) -> None:
        """INVITE <#channel>"""
        user = request.user
        record = self.record(request.args[0])
        self.require(request, record, INVITE_LEVEL, "INVITE")
        channel = self.network.find_channel(record.name)
        if channel is None:
            raise CommandError(f"{record.name} is empty: just join it.")
        if user in channel.members:
            raise CommandError(f"You are already in {channel.name}.")
        me = self.cs.me
        if me is None:
            raise CommandError("ChanServ is not on the network.")
        self.network.invite(me, user, channel, origin=self.cs.route)
        request.reply(f"You have been invited to {channel.name}.")

    def unban(self, request: Request) -> None:
        """UNBAN <#channel>"""
        user = request.user
        record = self.record(request.args[0])
        self.require(request, record, INVITE_LEVEL, "UNBAN")
        channel = self.network.find_channel(record.name)
        if channel is None:
            raise CommandError(f"{record.name} is empty: no bans to remove.")
        masks = masks_of(user)
        bans = [entry.mask for entry in channel.lists["b"] if any(match(entry.mask, m) for m in masks)]
        if not bans:
            raise CommandError(f"No ban in {channel.name} matches you.")
        self.cs.set_modes(channel, [ModeChange(False, "b", mask) for mask in bans])
        request.reply(f"Removed {len(bans)} ban{'s' if len(bans) > 1 else ''} matching you from {channel.name}.")

    # -- INFO / SET ---------------------------------------------------------------------------

    def info(self, request: Request) -> None:
        """INFO <#channel>"""
        record = self.record(request.args[0])
        reply = request.reply
        reply(f"Information for {record.name}:")
        gone = "" if self.cs.account_valid(record.founder, record.registered) else \
            " (account dropped: only a services administrator may DROP the channel)"
        reply(f"  Founder:    {record.founder}{gone}")
        reply(f"  Registered: {when(record.registered)}")
        channel = self.network.find_channel(record.name)
        hidden = channel is not None and ("s" in channel.flags or "p" in channel.flags) \
            and request.user not in channel.members and self.cs.command_level(record, request.user) == Level.NONE
        if record.topic and not hidden:
            reply(f"  Topic:      {record.topic}")
            reply(f"  Topic set:  by {record.topic_setter} on {when(record.topic_ts)}")
        reply(f"  Mode lock:  {record.mlock.text()}")
        reply(f"  Options:    TOPICLOCK {'on' if record.topiclock else 'off'}, "
              f"SECUREOPS {'on' if record.secureops else 'off'}")
        reply(f"  Access:     {len(record.access)} entr{'y' if len(record.access) == 1 else 'ies'}, "
              f"{len(record.akicks)} AKICK{'' if len(record.akicks) == 1 else 's'}")
        reply(f"End of information for {record.name}.")

    def set(self, request: Request) -> Deferred:
        """SET <#channel> TOPICLOCK on|off | MLOCK <modes>|OFF | SECUREOPS on|off"""
        record = self.record(request.args[0])
        option = request.args[1].upper()
        words = request.args[2:]
        if option not in ("TOPICLOCK", "MLOCK", "SECUREOPS"):
            raise CommandError(f"Unknown SET option {option[:20]}: one of TOPICLOCK, MLOCK, SECUREOPS.")
        self.require(request, record, SET_LEVEL, f"SET {option}")
        values: dict[str, object]
        if option == "MLOCK":
            if words and words[0].upper() in ("OFF", "NONE"):
                lock = ModeLock()
            else:
                try:
                    lock = parse_mode_lock(words)
                except ModeLockError as exc:
                    raise CommandError(f"{exc}.") from exc
            values = chandb.lock_columns(lock)
        else:
            flag = on_off(words, option)
            values = {option.lower(): int(flag)}

        def done(_: Any) -> None:
            live = self.cs.registry.get(record.name)
            if live is None:
                return
            if option == "MLOCK":
                live.mlock = lock
                request.reply(f"Mode lock of {live.name} is now {lock.text()}.")
            elif option == "TOPICLOCK":
                live.topiclock = bool(values["topiclock"])
                request.reply(f"TOPICLOCK of {live.name} is now {'on' if live.topiclock else 'off'}.")
            else:
                live.secureops = bool(values["secureops"])
                request.reply(f"SECUREOPS of {live.name} is now {'on' if live.secureops else 'off'}.")
            channel = self.network.find_channel(live.name)
            if channel is not None and self.cs._current(channel) is live:
                if option == "MLOCK":
                    self.cs.enforce_lock(live, channel)
                elif option == "SECUREOPS" and live.secureops:
                    changes = [c for m in list(channel.members.values()) if not self.cs._is_service(m.user)
                               for c in self.cs.secure_changes(live, m, self.cs.level(live, m.user))]
                    self.cs.set_modes(channel, changes)

        return self.saved(self.cs.store.run(chandb.update_channel, record.folded, values), request, done)


def add_commands(bot: ServiceBot, cs: ChanServ) -> ChanServCommands:
    """Declare ChanServ's commands (with their HELP) on ``bot``."""
    c = ChanServCommands(cs)
    nick = bot.nick
    bot.add("REGISTER", c.register, "register a channel you operate, to your account",
            "REGISTER <#channel>", (
                "Registers the channel to the account you are logged in to: you become its founder,",
                "get +q (owner) now and on every join, and its topic and mode lock are kept when it",
                "empties. You must be logged in (NickServ IDENTIFY) and an operator (@ or .) in it.",
            ), min_args=1)
    bot.add("DROP", c.drop, "unregister a channel", "DROP <#channel>", (
        "Forgets the channel's registration, access list and AKICKs.",
        "Only its founder or a services administrator (oper flag s) may drop it.",
    ), min_args=1)
    bot.add("ACCESS", c.access, "add, remove or list who has access to a channel",
            "ACCESS <#channel> ADD <account|mask> <level> | DEL <account|mask> | LIST", (
                "An entry is an account name (matches whoever is logged in to it) or a",
                "nick!user@host mask. Who may change what: the founder adds and removes up to MGR,",
                "a MGR up to SOP, a SOP up to AOP; anyone may DEL their own account's entry.",
                "LIST needs UOP access or more. ADD on an existing entry changes its level;",
                "members the entry matches get their mode at once.",
                *LEVELS_HELP,
                f"Example: /msg {nick} ACCESS #chat ADD bob AOP",
            ), min_args=2)
    bot.add("AKICK", c.akick, "keep users matching a mask out of a channel",
            "AKICK <#channel> ADD <mask> [<reason>] | DEL <mask> | LIST", (
                "Users matching an AKICK mask are banned and kicked when they join, on any server",
                "of the network; ADD also kicks matching users already there. Users with AOP access",
                "or more are never AKICKed. ADD and DEL need SOP access or more, LIST needs AOP.",
                f"Example: /msg {nick} AKICK #chat ADD *!*@spam.example Spamming",
            ), min_args=2)
    for name, handler, what in (("OP", c.op, "give operator status (+o)"),
                                ("DEOP", c.deop, "take operator status (-o)"),
                                ("VOICE", c.voice, "give voice (+v)"),
                                ("DEVOICE", c.devoice, "take voice (-v)")):
        bot.add(name, handler, f"{what} in a channel", f"{name} <#channel> [<nick>]", (
            "Without a nick it acts on you. OP and DEOP need AOP access or more; VOICE and",
            "DEVOICE on yourself need VOP, on someone else AOP. You cannot take status from",
            "someone with more access than you; under SECUREOPS only AOP or more may be opped.",
        ), min_args=1)
    bot.add("INVITE", c.invite, "invite yourself into a channel", "INVITE <#channel>", (
        "ChanServ invites you, which lets you past +i, +l and bans (not a key).",
        "Needs UOP access or more.",
    ), min_args=1)
    bot.add("UNBAN", c.unban, "remove the bans that match you", "UNBAN <#channel>", (
        "Removes every ban of the channel matching your nick!user@host, real host or IP.",
        "Needs UOP access or more.",
    ), min_args=1)
    bot.add("INFO", c.info, "show a registered channel's founder, topic and settings", "INFO <#channel>", (
        "Anyone may ask. The topic of a secret or private channel is shown only to its members",
        "and to users with access.",
    ), min_args=1)
    bot.add("SET", c.set, "change a channel's TOPICLOCK, MLOCK or SECUREOPS",
            "SET <#channel> TOPICLOCK on|off | MLOCK <modes>|OFF | SECUREOPS on|off", (
                "Needs MGR access or more (the founder, a manager).",
                "TOPICLOCK on: only users with AOP access or more may change the topic; other",
                "changes are put back. The topic is remembered either way and restored when the",
                "channel is recreated.",
                "MLOCK: modes kept on (+) and off (-), e.g. +nt-s+k key or +l 50 or -k; lockable:",
                "i m n p s t k l. A new registration locks +nt. MLOCK OFF locks nothing.",
                "SECUREOPS on: only users with AOP access or more may hold +o (and only the founder +q).",
            ), min_args=2)
    return c
