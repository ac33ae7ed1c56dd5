# -*- test-case-name: tests.unit.test_client_registration -*-
"""ServerCore: the collaborators every connection of one server shares.

It holds the network state, the router, the command table, the current
settings snapshot and the injected clock; it knows no sockets and imports
nothing from ``client/``: :func:`conferenceroom.service.build_core` attaches
the client side (command table, capabilities, announcer) beside it.
"""

from __future__ import annotations

import string
import zlib
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import DeferredLock, maybeDeferred
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger

from . import __version__, bans, modes
from .logs import QuickLogger
from .admin import build_tree
from .bans import BanMatch
from .dispatch import CommandTable, ServerCommandTable
from .lifecycle import Lifecycle
from .limits import (
    AWAYLEN, CHANNELLEN, HOSTLEN, KEYLEN, KICKLEN, MAX_TARGETS, MONITOR_LIMIT, NICKLEN, TOPICLEN, USERLEN,
)
from .network import Network, Server, User
from .operauth import OperAuthenticator
from .passwords import PasswordPool
from .routing import Router
from .throttle import REASON as THROTTLED, Throttle
from .wire import Message, _message

if TYPE_CHECKING:
    from .client.flood import FloodLimits

VERSION = f"conferenceroom-{__version__}"
SID_CHARS = string.digits + string.ascii_uppercase


def make_sid(name: str, serial: str) -> str:
    """A TS6 server id (digit + two of A-Z0-9) derived from name and serial."""
    n = zlib.crc32(f"{name.lower()}|{serial}".encode())
    return SID_CHARS[n % 10] + SID_CHARS[(n // 10) % 36] + SID_CHARS[(n // 360) % 36]


#: the log format of an operator notice (the one logged for every connect and quit)
_OPER_NOTICE = "notice to operators: {text}"


class ServerCore:
    """Network, router, commands and settings of one running server."""

    log = QuickLogger()

    def __init__(self, settings: Any, clock: Any, config_path: str | None = None) -> None:
        # The class's Logger made once for this core (the descriptor builds a new one per access,
        # and every connect and quit logs an operator notice); same namespace and source.
        self.log: Logger = vars(ServerCore)["log"].__get__(self, type(self))
        self.settings = settings
        self.clock = clock
        self.config_path = config_path
        me = Server(
            settings.name,
            make_sid(settings.name, settings.serial),
            settings.description,
            serial=settings.serial,
            role=settings.role,
        )
        self.network = Network(me, clock)
        self.router = Router(self.network)
        # Filled by the side that serves clients (``client.attach``), so the
        # core itself imports nothing from ``client/``.
        self.commands = CommandTable()
        self.capabilities: dict[str, Any] = {}
        # Server-origin verbs (filled by the link side), sources resolved in this network.
        self.server_commands = ServerCommandTable()
        self.server_commands.network = self.network
        self.boot_time = clock.seconds()
        self.created = datetime.fromtimestamp(self.boot_time, timezone.utc).strftime(
            "%a %b %d %Y at %H:%M:%S UTC"
        )
        self.motd_lines: list[str] | None = None
        self.connections: set[Any] = set()
        # Connections per IP, closing ones included until they are really gone.
        self.connections_by_ip: dict[str, int] = {}
        self._recent_connects = []
        # Addresses refused at accept for a while after being dropped for abuse.
        self.throttle = Throttle(clock)
        # Lines of unregistered clients per reactor turn (a client.pacing.TurnBudget, set by the listeners).
        self.registration_pace: Any = None
        self.rehash: Callable[[], Any] | None = None  # set by the service
        self.reconfigure: Callable[[Any], list[str]] | None = None  # set by the service
        self.config_file: Any = None  # the ConfigFile AS edits in place; set by the service
        # Runs blocking work (password hashing, file writes) off the reactor
        # thread and returns a Deferred; tests swap in a synchronous runner.
        self.defer_to_thread: Callable[..., Any] = _thread_runner(clock)
        # Operator logins (OPER, manhole): bcrypt on a pool of their own
        # (started and stopped by the service); tests swap check_password.
        self.password_pool = PasswordPool(clock)
        self.check_password: Callable[..., Any] = self.password_pool.run
        self.oper_auth = OperAuthenticator(clock, lambda: self.settings,
                                           lambda *a: self.check_password(*a))
        self.lifecycle = Lifecycle(clock)  # DIE and RESTART
        self.admin_tree = build_tree(clock=clock)
        self.admin_lock = DeferredLock()  # AS commands run one at a time

    # -- identity --------------------------------------------------------

    @property
    def name(self) -> str:
        """This server's name."""
        return self.network.me.name

    @property
    def version(self) -> str:
        """Version string shown in 002, 004 and VERSION."""
        return VERSION

    def isupport(self) -> list[str]:
        """The RPL_ISUPPORT tokens (built once per settings snapshot)."""
        cached = self._isupport
        if cached is not None and cached[0] is self.settings:
            return cached[1]
        tokens = self._isupport_tokens(self.settings)
        self._isupport = (self.settings, tokens)
        return tokens

    _isupport: tuple[Any, list[str]] | None = None

    @staticmethod
    def _isupport_tokens(s: Any) -> list[str]:
        return [
            f"AWAYLEN={AWAYLEN}",
            f"BOT={modes.BOT_MODE}",
            "CASEMAPPING=rfc1459",
            "CHANLIMIT=#&:50",
            f"CHANMODES={modes.isupport_chanmodes()}",
            f"CHANNELLEN={CHANNELLEN}",
            "CHANTYPES=#&",
            "ELIST=CMNTU",
            "EXCEPTS=e",
            "EXTBAN=,m",
            f"HOSTLEN={HOSTLEN}",
            "INVEX=I",
            f"KEYLEN={KEYLEN}",
            f"KICKLEN={KICKLEN}",
            "LINELEN=512",
            f"MAXLIST=beI:{modes.MAX_LIST_ENTRIES}",
            f"MAXTARGETS={MAX_TARGETS}",
            f"MODES={modes.MAX_PARAM_MODES}",
            f"MONITOR={MONITOR_LIMIT}",
            f"NETWORK={s.network}",
            f"NICKLEN={NICKLEN}",
            f"PREFIX={modes.isupport_prefix()}",
            "SAFELIST",
            "STATUSMSG=" + "".join(p for _, p in modes.STATUS_PREFIXES),
            # What each verb really accepts (407 beyond): JOIN and PART are
            # bounded by CHANLIMIT, LIST by the line length.
            f"TARGMAX=JOIN:,KICK:{MAX_TARGETS},LIST:,NAMES:{MAX_TARGETS},NOTICE:{MAX_TARGETS},PART:,"
            f"PRIVMSG:{MAX_TARGETS},TAGMSG:{MAX_TARGETS},WHOIS:1",
            f"TOPICLEN={TOPICLEN}",
            f"USERLEN={USERLEN}",
            "WHOX",
        ] + (["UTF8ONLY"] if s.utf8only else [])

    def myinfo(self) -> tuple[str, str, str, str]:
        """RPL_MYINFO fields after the server name: version, user, channel, param modes."""
        return (self.version, "ABaiorswz", "beIiklmnopqstv", "beIklqov")

    # -- configuration ---------------------------------------------------

    def apply_settings(self, settings: Any) -> None:
        """Swap in a new settings snapshot (validated by the caller).

        New or changed bans are enforced on connected users at once, right
        after the current reactor turn, so the operator who set the ban sees
        the reply first (even when the ban matches themselves).
        """
        old = self.settings
        self.settings = settings
        self.network.me.description = settings.description
        self.network.me.role = settings.role
        if (old.klines, old.akills, old.zlines) != (settings.klines, settings.akills, settings.zlines):
            self.clock.callLater(0, self.enforce_bans)

    # -- bans --------------------------------------------------------------

    def find_ban(self, ident: str, host: str, ip: str) -> BanMatch | None:
        """The saved ban matching a client now, or None."""
        settings = self.settings
        if not (settings.zlines or settings.klines or settings.akills):  # every kind of BAN_KINDS: none saved
            return None
        return bans.find_ban(settings, ident, host, ip, self.clock.seconds())

    def refuse_banned(self, conn: Any, found: BanMatch, ident: str, nick: str) -> None:
        """Tell a banned client why (465), tell operators, and disconnect it."""
        entry = found.entry
        conn.reply("ERR_YOUREBANNEDCREEP", bans.describe(found, self.clock.seconds()))
        self.notice_opers(
            f"{found.label} active for {nick} ({ident}@{conn.host}) [{conn.ip}]: {entry.mask}"
            f" ({entry.reason or 'no reason'})"
        )
        conn.close(f"Banned ({found.label}: {entry.reason or 'no reason given'})")

    def enforce_bans(self) -> int:
        """Disconnect every local user a saved ban now matches; return how many."""
        count = 0
        for user in list(self.network.me.users):
            if not user.is_local:
                continue
            found = self.find_ban(user.ident, user.realhost, user.ip)
            if found is not None:
                self.refuse_banned(user.route, found, user.ident, user.nick)
                count += 1
        return count

    def flood_limits(self, user: User | None) -> "FloodLimits | None":
        """The flood budget of a connection, or None where flood control is off."""
        from .client.flood import limits_for  # only client connections ask

        return limits_for(self.settings.flood, user)

    def add_connection(self, conn: Any) -> None:
        """Count a new client connection (before :meth:`admission_refusal`)."""
        self.connections.add(conn)
        self.connections_by_ip[conn.ip] = self.connections_by_ip.get(conn.ip, 0) + 1

    def remove_connection(self, conn: Any) -> None:
        """Forget a connection that is really gone (its socket closed)."""
        if conn in self.connections:
            self.connections.discard(conn)
            left = self.connections_by_ip.get(conn.ip, 0) - 1
            if left > 0:
                self.connections_by_ip[conn.ip] = left
            else:
                self.connections_by_ip.pop(conn.ip, None)

    def admission_refusal(self, ip: str, secure: bool | None = False) -> str | None:
        """Why a new connection from ``ip`` is refused (None: admitted).

        Applies SECUREONLY (unless ``secure`` is None: the caller applies
        :meth:`secureonly_refusal` itself, later), the per-IP connection
        trigger (counting every connection from ``ip`` not yet gone, closing
        ones too, this one included) and the connections-per-second limit of
        SECURITY settings.
        """
        settings = self.settings
        if self.throttled(ip):
            return THROTTLED
        if secure is not None and (why := self.secureonly_refusal(secure)) is not None:
            return why
        found = self.find_ban("", ip, ip)
        if found is not None and found.kind == "zline":
            return f"Banned ({found.label}: {found.entry.reason or 'no reason given'})"
        limit = settings.trigger_for(ip)
        if limit and self.connections_by_ip.get(ip, 0) > limit:
            return f"Too many connections from your IP address ({limit})"
        if settings.cps:
            now = self.clock.seconds()
            self._recent_connects = [t for t in self._recent_connects if now - t < 1.0]
            if len(self._recent_connects) >= settings.cps:
                return "Too many new connections, try again shortly"
            self._recent_connects.append(now)
        return None

    _recent_connects: list[float] = []

    def secureonly_refusal(self, secure: bool) -> str | None:
        """The ERROR reason for a plain-text client under SECUREONLY (None: TLS, or SECUREONLY off)."""
        settings = self.settings
        if settings.secureonly and not secure:
            return f"This server accepts only TLS connections (port {settings.ssl.port})"
        return None

    def throttled(self, ip: str) -> bool:
        """True while ``ip`` is refused for recent abuse (cheap: checked at accept)."""
        return bool(self.throttle.remaining(ip)) and self.settings.trigger_for(ip) > 0

    def abused(self, ip: str, reason: str) -> None:
        """A connection from ``ip`` was dropped for ``reason`` (abuse): refuse the address for a while.

        Addresses exempt from the connection trigger (limit 0) are never throttled.
        """
        if self.settings.trigger_for(ip) <= 0:
            return
        wait = self.throttle.abused(ip)
        self.log.info("throttling {ip} for {wait:g} s after {reason}", ip=ip, wait=wait, reason=reason)

    # -- notices -----------------------------------------------------------

    def notice_opers(
        self, text: str, flag: str = "", snomask: bool = True, exclude: User | None = None,
        topic: str = "operators",
    ) -> None:
        """A server notice to local operators (with user mode +s unless told not to).

        ``topic`` names the kind in the log ("links" for link events), so a
        storm of client notices is never what hides a link event there.
        """
        self.log.info(_OPER_NOTICE if topic == "operators" else f"notice to operators ({topic}): {{text}}", text=text)
        line = f"*** Notice -- {text}"

        def build(user: User) -> Message:
            return _message("NOTICE", (user.nick, line), self.name, {})

        self.router.to_opers(build, flag, user_mode="s" if snomask else None, exclude=exclude)


def _thread_runner(reactor: Any) -> Callable[..., Any]:
    """deferToThread on ``reactor``'s pool; synchronous for a reactor without threads."""
    if hasattr(reactor, "getThreadPool"):
        return lambda f, *a, **kw: deferToThreadPool(reactor, reactor.getThreadPool(), f, *a, **kw)
    return maybeDeferred

