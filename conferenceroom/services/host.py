# -*- test-case-name: tests.unit.test_services_host -*-
"""ServicesHost: the services pseudo-server, its route and its bots.

The pseudo-server ``services.<domain of this server>`` has a SID of its own
and is introduced as a :class:`~conferenceroom.network.Server` behind this
one; its bots (NickServ, ChanServ, ...) are users behind it.  Both are
added and removed through the :class:`~conferenceroom.network.Network`
mutators with ``origin=`` the :class:`ServicesRoute`, so the link layer
bursts and announces them as it does any remote server and its users, and
the router reaches them as it reaches a remote user: a PRIVMSG for a bot,
from a client here or from anywhere behind a link, is handed to
:meth:`ServicesRoute.relay`, and the bot's replies go back through the
router.  The route decides here (``decides_here``): a channel a bot creates
gets this server's defaults.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.logger import Logger

from .. import events as ev
from ..casemap import fold
from ..core import SID_CHARS
from ..network import Server, User
from ..routing import Relay
from .accounts import Accounts
from .bot import ServiceBot
from .store import Store

if TYPE_CHECKING:
    from ..core import ServerCore

log = Logger()

#: The service modules, in the order their bots are introduced; each has
#: ``setup(host) -> ServiceBot``.  A module not present is skipped.
SERVICE_MODULES = ("nickserv", "chanserv", "memoserv", "operserv")

DESCRIPTION = "ConferenceRoom services"


def services_name(server_name: str, configured: str | None = None) -> str:
    """``configured`` (``services set name``), else ``services.<domain of this server>``:
    soprano.webmaster.com -> services.webmaster.com."""
    if configured:
        return configured
    parts = server_name.split(".")
    domain = ".".join(parts[1:]) if len(parts) > 2 else server_name
    return f"services.{domain}"


def services_sid(name: str, serial: str, taken: Callable[[str], bool]) -> str:
    """A SID for the pseudo-server, derived from its name and our serial, not ``taken``."""
    n = zlib.crc32(f"services|{name.lower()}|{serial}".encode())
    for step in range(10 * 36 * 36):
        m = n + step
        sid = SID_CHARS[m % 10] + SID_CHARS[(m // 10) % 36] + SID_CHARS[(m // 360) % 36]
        if not taken(sid):
            return sid
    raise RuntimeError("no free server id for services")


class ServicesRoute:
    """The route to the pseudo-server and its bots (never a client, decides here)."""

    is_client = False
    decides_here = True

    def __init__(self, host: "ServicesHost") -> None:
        self.host = host

    def relay(self, relay: Relay) -> None:
        """A message on its way to a bot (or a broadcast passing by): a PRIVMSG to a bot is a command."""
        self.host.deliver(relay)

    def squit(self, reason: str, by: str) -> str:
        """A SQUIT of the services server (from an operator here or relayed by a link)."""
        return self.host.control.squit(by, reason)

    def __repr__(self) -> str:
        return f"<ServicesRoute {self.host.name}>"


class ServicesHost:
    """The running services: pseudo-server, bots, store and accounts."""

    def __init__(self, core: "ServerCore", control: Any, store_path: str, rounds: int) -> None:
        self.core = core
        self.control = control
        network = core.network
        self.name = services_name(network.me.name, getattr(core.settings, "services_server_name", None))
        sid = services_sid(self.name, core.settings.serial,
                           lambda s: s in network.servers_by_sid or s == network.me.sid)
        self.route = ServicesRoute(self)
        self.server = Server(self.name, sid, DESCRIPTION, uplink=network.me, route=self.route, hopcount=1)
        self.store = Store(store_path, core.clock)
        self.accounts = Accounts(self.store, core.clock, core.password_pool.run, rounds)
        self.bots: dict[User, ServiceBot] = {}
        self.by_name: dict[str, ServiceBot] = {}  # "nickserv" -> its bot
        self.modules: dict[str, Any] = {}
        self._uids = 0
        self.ready: defer.Deferred = defer.Deferred()
        self.running = False
        self.stopped: list[Callable[[], None]] = []  # module clean-ups (timers) at stop
        #: called as hook(user, account) after a login (MemoServ's new-memo notice, ...)
        self.login_hooks: list[Callable[[User, Any], None]] = []
        #: called as hook(account) once a dropped account is gone from the store
        self.drop_hooks: list[Callable[[Any], None]] = []
        for module_name in SERVICE_MODULES:
            module = _import(module_name)
            if module is None:
                continue
            bot = module.setup(self)
            self.modules[module_name] = module
            if bot is not None:
                self.by_name[module_name] = bot

    # -- bots -------------------------------------------------------------------------

    def bot(self, module_name: str) -> ServiceBot | None:
        """The bot of a service module (``"nickserv"``), or None."""
        return self.by_name.get(module_name)

    def _next_uid(self) -> str:
        network = self.core.network
        while True:
            n, self._uids = self._uids, self._uids + 1
            chars = []
            for _ in range(6):
                n, r = divmod(n, 36)
                chars.append(SID_CHARS[r] if r < 10 else chr(ord("A") + r - 10))
            uid = self.server.sid + "".join(reversed(chars))
            if uid not in network.users_by_uid:
                return uid

    # -- start and stop -----------------------------------------------------------------

    def start(self) -> defer.Deferred:
        """Introduce the pseudo-server and the bots, open the store; fires when commands can run."""
        network = self.core.network
        now = self.core.clock.seconds()
        self.running = True
        network.add_server(self.server, origin=self.route)
        for bot in self.by_name.values():
            self._introduce(bot, now)
        network.events.subscribe(self._watch, kinds=(ev.UserKilled, ev.UserQuit))
        self.stopped.append(lambda: network.events.unsubscribe(self._watch))
        d = self.store.start()
        d.addCallback(lambda _: self.accounts.start())
        for module in self.modules.values():
            start = getattr(module, "start", None)
            if start is not None:
                d.addCallback(lambda _, start=start: start(self))
        d.addCallbacks(self._ready, self._broken)
        return d

    def _introduce(self, bot: ServiceBot, now: float) -> None:
        """Add ``bot``'s user to the network (a user holding its nick is killed: the nick is reserved)."""
        network = self.core.network
        holder = network.find_user(bot.nick)
        if holder is not None:
            network.kill_user(holder, network.me, f"Nick {bot.nick} is reserved for services")
        user = User(self._next_uid(), bot.nick, "services", self.name, bot.realname, self.server,
                    self.route, ip="0", signon=now)
        bot.user = user
        self.bots[user] = bot
        network.add_user(user, origin=self.route)

    def _watch(self, event: Any) -> None:
        """A bot killed (an operator's KILL, a collision) comes back at once with a new UID."""
        if isinstance(event, (ev.UserKilled, ev.UserQuit)) and event.user in self.bots:
            bot = self.bots.pop(event.user)
            bot.user = None
            log.info("{nick} was removed ({why}); introducing it again", nick=bot.nick,
                     why=getattr(event, "reason", ""))
            self.core.clock.callLater(0, self._reintroduce, bot)

    def _reintroduce(self, bot: ServiceBot) -> None:
        if self.running and bot.user is None:
            self._introduce(bot, self.core.clock.seconds())

    def _ready(self, _: Any) -> None:
        log.info("services {name} ({sid}) ready: {bots}; {n} accounts in {path}", name=self.name,
                 sid=self.server.sid, bots=", ".join(b.nick for b in self.by_name.values()),
                 n=len(self.accounts), path=self.store.path)
        self.ready.callback(self)

    def _broken(self, failure: Any) -> None:
        why = failure.getErrorMessage()
        log.error("services not started: {why}", why=why)
        self.core.notice_opers(f"Services not started: {why}", snomask=False)
        self.control.stop_host(self, f"Services database unavailable: {why}")

    def stop(self, reason: str) -> defer.Deferred:
        """Remove the pseudo-server and the bots from the network, close the store."""
        if not self.running:
            return defer.succeed(None)
        self.running = False
        for cleanup in self.stopped:
            cleanup()
        self.stopped.clear()
        network = self.core.network
        if network.servers_by_sid.get(self.server.sid) is self.server:
            network.remove_server(self.server, reason)
        for bot in self.by_name.values():
            bot.user = None
        self.bots.clear()
        return self.store.close()

    # -- logins -----------------------------------------------------------------------------

    def log_in(self, user: User, account: Any, reply: Callable[[], None] | None = None) -> None:
        """Log ``user`` in to ``account`` (network.set_account with our route), ``reply()``, run the login hooks."""
        self.core.network.set_account(user, account.name, origin=self.route)
        if reply is not None:
            reply()
        self.logged_in(user, account)

    def logged_in(self, user: User, account: Any) -> None:
        """Record the login time and run the login hooks (``user`` is already logged in)."""
        self.accounts.seen(account).addErrback(
            lambda f: log.failure("recording the login of {name}", f, name=account.name))
        for hook in list(self.login_hooks):
            try:
                hook(user, account)
            except Exception:
                log.failure("login hook {hook} for {name}", hook=hook, name=account.name)

    def dropped(self, account: Any) -> None:
        """``account`` was dropped: log out everyone logged in to it, run the drop hooks."""
        for user in list(self.core.network.users_by_uid.values()):
            if user.account is not None and fold(user.account) == fold(account.name):
                self.core.network.set_account(user, None, origin=self.route)
        for hook in list(self.drop_hooks):
            try:
                hook(account)
            except Exception:
                log.failure("drop hook {hook} for {name}", hook=hook, name=account.name)

    # -- messages -------------------------------------------------------------------------

    def deliver(self, relay: Relay) -> None:
        """Hand a PRIVMSG addressed to a bot to that bot (anything else is dropped)."""
        if not self.running or relay.message.command != "PRIVMSG":
            return
        bot = self.bots.get(relay.target) if isinstance(relay.target, User) else None
        sender = relay.sender
        if bot is None or not isinstance(sender, User) or sender in self.bots:
            return
        text = relay.message.params[-1] if len(relay.message.params) > 1 else ""
        if self.ready.called:
            bot.receive(sender, text)
        else:
            self.ready.addCallback(lambda result: (bot.receive(sender, text), result)[1])


def _import(name: str) -> Any:
    """``conferenceroom.services.<name>``, or None when that module does not exist."""
    full = f"{__package__}.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name != full:
            raise
        return None
