# -*- test-case-name: tests.unit.test_services_operserv -*-
"""OperServ: network-wide AKILLs, GLOBAL notices and services STATS, for services administrators.

Only IRC operators with flag ``s`` (services administrator) or ``a``
(server administrator) may use it; anyone may read its HELP.  On other
servers of the network those flags show as user modes ``a`` and ``A``
(what OPER sets), so a remote operator is recognised by them.

An AKILL is a :class:`~conferenceroom.admin.settings.BanEntry` (the model of
``SECURITY AKILL``) kept in the services store, so it survives restarts and
``SQUIT services``.  Enforcement is the services' own, since no link carries
the ``SECURITY`` bans: adding one kills every matching user on the network
(the KILL reaches every server, hybrid's too), and any user who later
arrives on any server and matches is killed as it is introduced.  A
duration (``+30m``, ``+2h``, ``+1d``) makes it expire; expired entries are
dropped by a timer on the core's clock.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from twisted.internet import task

from .. import events as ev
from ..admin.settings import BanEntry
from ..admin.types import BanMask, format_duration, parse_duration
from ..bans import userhost_matches
from ..casemap import fold
from ..network import User
from .bot import CommandError, Request, ServiceBot

if TYPE_CHECKING:
    from .host import ServicesHost

#: Seconds between sweeps of expired AKILLs.
SWEEP_EVERY = 60.0
#: AKILLs at most (each is checked against every arriving user).
MAX_AKILLS = 2000
#: An AKILL matching more than this share (%) of the network's users is refused as too wide.
MAX_REACH_PERCENT = 95
#: GLOBAL text at most.
MAX_GLOBAL = 400

MIGRATIONS = [
    """CREATE TABLE akills (
        folded TEXT PRIMARY KEY,
        mask TEXT NOT NULL,
        reason TEXT NOT NULL,
        set_by TEXT NOT NULL,
        set_at INTEGER NOT NULL,
        expires INTEGER NOT NULL
    );""",
]


def is_services_admin(user: User) -> bool:
    """An operator with flag s or a here, or with user mode a or A when on another server."""
    if user.has_oper_flag("sa"):
        return True
    return user.is_oper and not user.is_local and bool({"a", "A"} & user.modes)


class OperServBot(ServiceBot):
    """OperServ's bot: every command but HELP is for services administrators."""

    def dispatch(self, user: User, text: str, nick: str | None = None) -> Any:
        words = text.split()
        if words and words[0].upper() != "HELP" and not is_services_admin(user):
            self.notice(user, "Permission denied: OperServ is for services administrators "
                              "(IRC operators with flag s or a).")
            return None
        return super().dispatch(user, text, nick)


def setup(host: "ServicesHost") -> ServiceBot:
    """The OperServ bot and its commands."""
    bot = OperServBot(host, "OperServ", "Operator Services", "network bans, notices and statistics for "
                      "services administrators")
    os_ = OperServ(host, bot)
    host.operserv = os_  # type: ignore[attr-defined]
    bot.add("AKILL", None, "ban user@host from the whole network", "AKILL ADD|DEL|LIST ...",
            ("Users matching an AKILL are disconnected on every server, now and whenever they connect.",),
            subcommands=(
                ServiceBot.sub("ADD", os_.akill_add, "add an AKILL", "AKILL ADD <user@host> [+<duration>] <reason>",
                               ("<duration>: 30m, 2h, 1d, 1w or minutes; without one the AKILL is permanent.",
                                "Matching users are killed at once. Example: AKILL ADD *@spam.example +1d spambot"),
                               min_args=2),
                ServiceBot.sub("DEL", os_.akill_del, "remove an AKILL", "AKILL DEL <user@host>", min_args=1),
                ServiceBot.sub("LIST", os_.akill_list, "show the AKILLs", "AKILL LIST [<mask>]",
                               ("With a mask: only the AKILLs whose mask matches it.",)),
            ))
    bot.add("GLOBAL", os_.global_, "send a notice to every user of the network", "GLOBAL <text>",
            ("Every user on every server gets <text> as a NOTICE from OperServ.",), min_args=1)
    bot.add("STATS", os_.stats, "show services statistics", "STATS",
            ("Accounts, registered channels, users and servers on the network, AKILLs, uptimes.",))
    return bot


def start(host: "ServicesHost") -> Any:
    """Create or migrate the table, load the AKILLs, start enforcing them."""
    ops: OperServ = host.operserv  # type: ignore[attr-defined]
    d = host.store.migrate("operserv", MIGRATIONS)
    d.addCallback(lambda _: host.store.read(_load))
    d.addCallback(ops.loaded)
    return d


class OperServ:
    """OperServ's state (the AKILLs) and command handlers."""

    def __init__(self, host: "ServicesHost", bot: ServiceBot) -> None:
        self.host = host
        self.bot = bot
        self.akills: dict[str, BanEntry] = {}
        self.started = host.core.clock.seconds()
        self._sweeper: task.LoopingCall | None = None

    # -- loading and enforcing -----------------------------------------------------------

    def loaded(self, entries: list[BanEntry]) -> None:
        """The stored AKILLs are in: enforce them now and on every arriving user."""
        self.akills = {e.folded: e for e in entries}
        network = self.host.core.network
        network.events.subscribe(self._event, kinds=(ev.UserIntroduced,))
        self._sweeper = task.LoopingCall(self.sweep)
        self._sweeper.clock = self.host.core.clock
        self._sweeper.start(SWEEP_EVERY, now=False)

        def stop() -> None:
            network.events.unsubscribe(self._event)
            if self._sweeper is not None and self._sweeper.running:
                self._sweeper.stop()

        self.host.stopped.append(stop)
        for entry in list(self.akills.values()):
            self.enforce(entry)

    def now(self) -> float:
        return self.host.core.clock.seconds()

    def matching(self, user: User) -> BanEntry | None:
        """The active AKILL ``user`` matches, or None (services' own users never match)."""
        if user.server is self.host.server or not self.akills:
            return None
        now = self.now()
        for entry in self.akills.values():
            if entry.active(now) and userhost_matches(entry.mask, user.ident, user.realhost, user.ip):
                return entry
        return None

    def _event(self, event: ev.Event) -> None:
        if isinstance(event, ev.UserIntroduced) and self.akills:
            entry = self.matching(event.user)
            if entry is not None:
                self.kill(event.user, entry)

    def kill(self, user: User, entry: BanEntry) -> None:
        """Kill ``user`` for ``entry`` from OperServ (every server removes it)."""
        network = self.host.core.network
        if network.users_by_uid.get(user.uid) is not user:
            return
        killer = self.bot.user or self.host.server
        network.kill_user(user, killer, f"AKILLed: {entry.reason or 'no reason given'}",
                          origin=self.host.route)

    def enforce(self, entry: BanEntry) -> int:
        """Kill every user on the network matching ``entry``; how many."""
        now = self.now()
        if not entry.active(now):
            return 0
        victims = [u for u in list(self.host.core.network.users_by_uid.values())
                   if u.server is not self.host.server
                   and userhost_matches(entry.mask, u.ident, u.realhost, u.ip)]
        for user in victims:
            self.kill(user, entry)
        return len(victims)

    def sweep(self) -> Any:
        """Drop expired AKILLs from memory and the store."""
        now = self.now()
        gone = [key for key, e in self.akills.items() if not e.active(now)]
        if not gone:
            return None
        for key in gone:
            del self.akills[key]
        return self.host.store.run(_delete_many, gone)

    # -- AKILL ----------------------------------------------------------------------------

    def akill_add(self, request: Request) -> Any:
        args = list(request.args)
        try:
            mask = BanMask().parse(args.pop(0))
        except ValueError as exc:
            raise CommandError(f"Bad mask: {exc}.")
        expires = seconds = 0
        if args and args[0].startswith("+"):
            try:
                seconds = parse_duration(args.pop(0)[1:])
            except ValueError as exc:
                raise CommandError(f"Bad duration: {exc}.")
            expires = int(self.now()) + seconds if seconds else 0
        reason = " ".join(args).strip()
        if not reason:
            raise CommandError("Syntax: AKILL ADD <user@host> [+<duration>] <reason> (a reason is needed).")
        self._check_reach(request.user, mask)
        key = fold(mask)
        if key not in self.akills and len(self.akills) >= MAX_AKILLS:
            raise CommandError(f"There are already {MAX_AKILLS} AKILLs; remove some first.")
        by = request.user.oper_name or request.user.nick
        entry = BanEntry(mask, reason, by, int(self.now()), expires)
        verb = "updated" if key in self.akills else "added"

        def done(_: Any) -> None:
            self.akills[key] = entry
            killed = self.enforce(entry)
            until = "permanent" if not expires else f"expires in {format_duration(seconds)}"
            request.reply(f"AKILL {verb}: {mask} ({reason}) [{until}]; {killed} user"
                          f"{'s' if killed != 1 else ''} disconnected.")
            self.host.core.notice_opers(f"{request.user.nick} {verb} AKILL {mask} ({reason}) [{until}]")

        return self.host.store.run(_upsert, entry).addCallback(done)

    def _check_reach(self, oper: User, mask: str) -> None:
        """Refuse a mask matching ``oper`` or more than :data:`MAX_REACH_PERCENT` of the network's users."""
        if userhost_matches(mask, oper.ident, oper.realhost, oper.ip):
            raise CommandError(f"{mask} would disconnect you too ({oper.nick}!{oper.ident}@{oper.realhost}): "
                               "give a narrower mask.")
        users = [u for u in self.host.core.network.users_by_uid.values() if u.server is not self.host.server]
        hit = sum(1 for u in users if userhost_matches(mask, u.ident, u.realhost, u.ip))
        if hit > 1 and hit * 100 > MAX_REACH_PERCENT * len(users):
            raise CommandError(f"{mask} would disconnect {hit} of the network's {len(users)} users: "
                               "give a narrower mask.")

    def akill_del(self, request: Request) -> Any:
        mask = request.args[0]
        key = fold(mask if "@" in mask else f"*@{mask}")
        entry = self.akills.get(key)
        if entry is None:
            raise CommandError(f"No AKILL for {mask}. See AKILL LIST.")

        def done(_: Any) -> None:
            self.akills.pop(key, None)
            request.reply(f"AKILL for {entry.mask} removed.")
            self.host.core.notice_opers(f"{request.user.nick} removed AKILL {entry.mask}")

        return self.host.store.run(_delete_many, [key]).addCallback(done)

    def akill_list(self, request: Request) -> None:
        now = self.now()
        pattern = request.args[0] if request.args else "*"
        from ..casemap import match

        shown = [e for e in self.akills.values() if e.active(now) and match(pattern, e.mask)]
        if not shown:
            request.reply("No AKILLs." if pattern == "*" else f"No AKILLs matching {pattern}.")
            return
        request.reply(f"AKILLs ({len(shown)}):")
        for n, e in enumerate(sorted(shown, key=lambda e: e.set_at), 1):
            left = e.remaining(now)
            until = "permanent" if left is None else f"expires in {format_duration(left)}"
            request.reply(f"{n}. {e.mask} - {e.reason} [set by {e.set_by}; {until}]")
        request.reply("End of AKILL list.")

    # -- GLOBAL ---------------------------------------------------------------------------

    def global_(self, request: Request) -> None:
        text = " ".join(request.args)
        if len(text) > MAX_GLOBAL:
            raise CommandError(f"That notice is too long: at most {MAX_GLOBAL} characters.")
        network = self.host.core.network
        bot_user = self.bot.user
        if bot_user is None:
            return
        readers = [u for u in network.users_by_uid.values() if u.server is not self.host.server]
        self.host.core.router.deliver(bot_user, "$$*", "NOTICE", ("$$*", f"[Global] {text}"),
                                      recipients=readers)
        request.reply(f"Global notice sent to {len(readers)} user{'s' if len(readers) != 1 else ''}.")

    # -- STATS ----------------------------------------------------------------------------

    def stats(self, request: Request) -> Any:
        host = self.host
        network = host.core.network
        now = self.now()
        users = [u for u in network.users_by_uid.values() if u.server is not host.server]
        logged = sum(1 for u in users if u.account)
        akills = sum(1 for e in self.akills.values() if e.active(now))

        def show(channels: int | None) -> None:
            request.reply("Services statistics:")
            request.reply(f"  Accounts:            {len(host.accounts)}")
            request.reply(f"  Registered channels: {'n/a (ChanServ not running)' if channels is None else channels}")
            request.reply(f"  Users online:        {len(users)} ({logged} logged in) on "
                          f"{len(network.servers)} servers")
            request.reply(f"  AKILLs:              {akills}")
            request.reply(f"  Services uptime:     {format_duration(now - self.started)}")
            request.reply(f"  Server uptime:       {format_duration(now - host.core.boot_time)} "
                          f"({network.me.name})")

        return host.store.read(_count_channels).addCallback(show)


# -- store functions (run on the store's worker) --------------------------------------------


def _load(conn: sqlite3.Connection) -> list[BanEntry]:
    rows = conn.execute("SELECT mask, reason, set_by, set_at, expires FROM akills").fetchall()
    return [BanEntry(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def _upsert(conn: sqlite3.Connection, entry: BanEntry) -> None:
    conn.execute("INSERT OR REPLACE INTO akills (folded, mask, reason, set_by, set_at, expires) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
                 (entry.folded, entry.mask, entry.reason, entry.set_by, entry.set_at, entry.expires))


def _delete_many(conn: sqlite3.Connection, keys: list[str]) -> None:
    conn.executemany("DELETE FROM akills WHERE folded = ?", [(k,) for k in keys])


#: Tables ChanServ may keep its registered channels in (its own module decides).
CHANNEL_TABLES = ("channels", "chanserv_channels", "registered_channels")


def _count_channels(conn: sqlite3.Connection) -> int | None:
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table in CHANNEL_TABLES:
        if table in names:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    return None
