# -*- test-case-name: tests.unit.test_client_monitor -*-
"""MONITOR: who watches which nick, and the 730/731 notices from network events.

The watch lists live here, keyed by folded nick; the notices come from the
network model's events (sign-on, nick change, quit, kill, netsplit), so a
user behind a server link is seen exactly like a local one.  With the
``extended-monitor`` capability a watcher also gets the AWAY, CHGHOST,
ACCOUNT and SETNAME lines of the nicks it monitors, when it does not
already get them by sharing a channel (never twice).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..casemap import fold
from ..network import User
from ..wire import MAX_LINE, Message

if TYPE_CHECKING:
    from ..core import ServerCore
    from .protocol import ClientConnection

from ..limits import MONITOR_LIMIT


def chunked(items: Iterable[str], room: int) -> Iterator[str]:
    """Comma-joined runs of ``items``, each at most ``room`` bytes."""
    run: list[str] = []
    used = 0
    for item in items:
        size = len(item.encode("utf-8")) + (1 if run else 0)
        if run and used + size > room:
            yield ",".join(run)
            run, used = [], 0
            size = len(item.encode("utf-8"))
        run.append(item)
        used += size
    if run:
        yield ",".join(run)


class Monitors:
    """The watch lists of every local client, and the event subscriber that serves them."""

    def __init__(self, core: "ServerCore") -> None:
        self.core = core
        self.watchers: dict[str, set["ClientConnection"]] = {}  # folded nick -> watchers
        self.lists: dict["ClientConnection", dict[str, str]] = {}  # watcher -> folded -> as given

    # -- watch lists -----------------------------------------------------------

    def targets(self, conn: "ClientConnection") -> dict[str, str]:
        """The nicks ``conn`` monitors (folded -> as given)."""
        return self.lists.get(conn, {})

    def add(self, conn: "ClientConnection", nick: str) -> bool:
        """Watch ``nick`` for ``conn``; False if its list is full."""
        mine = self.lists.setdefault(conn, {})
        key = fold(nick)
        if key in mine:
            return True
        if len(mine) >= MONITOR_LIMIT:
            return False
        mine[key] = nick
        self.watchers.setdefault(key, set()).add(conn)
        return True

    def remove(self, conn: "ClientConnection", nick: str) -> None:
        """Stop watching ``nick`` for ``conn``."""
        key = fold(nick)
        mine = self.lists.get(conn)
        if mine is None or mine.pop(key, None) is None:
            return
        self._unwatch(conn, key)
        if not mine:
            del self.lists[conn]

    def clear(self, conn: "ClientConnection") -> None:
        """Forget every nick ``conn`` watches."""
        for key in self.lists.pop(conn, {}):
            self._unwatch(conn, key)

    def _unwatch(self, conn: "ClientConnection", key: str) -> None:
        held = self.watchers.get(key)
        if held is not None:
            held.discard(conn)
            if not held:
                del self.watchers[key]

    # -- replies -----------------------------------------------------------------

    def send_status(self, conn: "ClientConnection", nicks: Iterable[str]) -> None:
        """730 for the online nicks of ``nicks`` (with their masks), 731 for the others."""
        network = self.core.network
        online, offline = [], []
        for nick in nicks:
            user = network.find_user(nick)
            if user is None:
                offline.append(nick)
            else:
                online.append(user.mask)
        self.send_list(conn, "RPL_MONONLINE", online)
        self.send_list(conn, "RPL_MONOFFLINE", offline)

    def send_list(self, conn: "ClientConnection", name: str, items: list[str]) -> None:
        """Numeric ``name`` with ``items`` comma-joined, split to fit 512-byte lines."""
        if not items:
            return
        room = MAX_LINE - 2 - len(f":{self.core.name} 730 {conn.nick} :".encode("utf-8"))
        for text in chunked(items, room):
            conn.reply(name, text)

    def _tell(self, nick: str, name: str, item: str) -> None:
        for conn in list(self.watchers.get(fold(nick), ())):
            if not conn.closing:
                conn.reply(name, item)

    # -- network events ---------------------------------------------------------

    def __call__(self, event: ev.Event) -> None:
        kind = type(event)
        if kind is ev.UserIntroduced:
            self._online(event.user)
        elif kind is ev.NickChanged:
            if fold(event.old) != fold(event.user.nick):
                self._tell(event.old, "RPL_MONOFFLINE", event.old)
                self._online(event.user)
        elif kind is ev.UserQuit or kind is ev.UserKilled:
            self._offline(event.user)
        elif kind is ev.NetSplit:
            if self.watchers:
                for user in event.users:
                    self._tell(user.nick, "RPL_MONOFFLINE", user.nick)
        elif kind is ev.AwayChanged:
            user = event.user
            self._extended(user, "away-notify", Message("AWAY", (user.away,) if user.away else (), user.mask))
        elif kind is ev.HostChanged:
            user = event.user
            self._extended(user, "chghost", Message("CHGHOST", (user.ident, user.host), event.old_mask))
        elif kind is ev.AccountChanged:
            user = event.user
            self._extended(user, "account-notify", Message("ACCOUNT", (user.account or "*",), user.mask))
        elif kind is ev.RealnameChanged:
            user = event.user
            self._extended(user, "setname", Message("SETNAME", (user.realname,), user.mask))

    def _online(self, user: User) -> None:
        if self.watchers:
            self._tell(user.nick, "RPL_MONONLINE", user.mask)

    def _offline(self, user: User) -> None:
        if user.is_local:
            self.clear(user.route)
        if self.watchers:
            self._tell(user.nick, "RPL_MONOFFLINE", user.nick)

    def _extended(self, user: User, cap: str, msg: Message) -> None:
        """``msg`` about ``user`` to its extended-monitor watchers with ``cap`` that share no channel."""
        watchers = self.watchers.get(fold(user.nick))
        if not watchers:
            return
        for conn in list(watchers):
            caps = conn.caps
            if "extended-monitor" not in caps or cap not in caps or conn.closing:
                continue
            watcher = conn.user
            if watcher is None or watcher is user or _shares_channel(watcher, user):
                continue
            conn.send(msg)


def _shares_channel(a: User, b: User) -> bool:
    small, large = (a, b) if len(a.channels) <= len(b.channels) else (b, a)
    return any(channel in large.channels for channel in small.channels)


#: The events :meth:`Monitors.__call__` acts on (the bus calls it for no other).
MONITORED_EVENTS = (
    ev.UserIntroduced, ev.NickChanged, ev.UserQuit, ev.UserKilled, ev.NetSplit, ev.AwayChanged,
    ev.HostChanged, ev.AccountChanged, ev.RealnameChanged,
)


def attach(core: Any) -> Monitors:
    """Give ``core`` its monitors, subscribed to the network's events."""
    core.monitor = Monitors(core)
    core.network.events.subscribe(core.monitor, kinds=MONITORED_EVENTS)
    return core.monitor
