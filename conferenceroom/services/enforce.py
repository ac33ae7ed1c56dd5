# -*- test-case-name: tests.unit.test_services_nickserv -*-
"""Nick enforcement: a registered nick used by someone not identified to it.

The user is warned by NickServ; if they have not identified when the delay
(``services set enforcedelay``, 60 s) runs out on ``core.clock``, they are
renamed to ``Guest<number>`` and the nick is held by an enforcer (a
pseudo-user on the services server) for :data:`HOLD_SECONDS`, or until its
owner RELEASEs it.  A user here is renamed by this server; a user elsewhere
by its own server, asked with ``SVSNICK`` (hybrid's form) through the link,
and the hold starts once its NICK came back.  A user whose ``ident@host``
is on the account's access list is not renamed; one whose TLS certificate
fingerprint is on the account's list is logged in.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

from .. import events as ev
from ..casemap import fold
from ..network import User
from ..wire import Message

if TYPE_CHECKING:
    from .host import ServicesHost

log = Logger()

#: Seconds a nick taken from an impostor stays held by an enforcer.
HOLD_SECONDS = 60


class Enforcer:
    """Warns, renames and holds (see the module docstring)."""

    def __init__(self, host: "ServicesHost") -> None:
        self.host = host
        self.timers: dict[User, Any] = {}  # user -> DelayedCall of its rename
        self.holds: dict[str, tuple[User, Any]] = {}  # folded nick -> (enforcer user, DelayedCall)
        self.renaming: dict[User, str] = {}  # remote users asked to leave a nick -> the nick to hold

    @property
    def network(self) -> Any:
        return self.host.core.network

    @property
    def delay(self) -> float:
        return float(getattr(self.host.core.settings, "services_enforce_delay", 60))

    # -- events --------------------------------------------------------------------

    def start(self) -> None:
        """Follow the network's events; check everyone already here."""
        self.network.events.subscribe(
            self, kinds=(ev.UserIntroduced, ev.NickChanged, ev.AccountChanged, ev.UserQuit, ev.UserKilled, ev.NetSplit))
        for user in list(self.network.users_by_uid.values()):
            self.check(user)

    def stop(self) -> None:
        """Stop following events and cancel every timer (the enforcers leave with the server)."""
        if self in self.network.events._subscribers:
            self.network.events.unsubscribe(self)
        for call in self.timers.values():
            if call.active():
                call.cancel()
        for _, call in self.holds.values():
            if call.active():
                call.cancel()
        self.timers.clear()
        self.holds.clear()
        self.renaming.clear()

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.UserIntroduced):
            self.check(event.user)
        elif isinstance(event, ev.NickChanged):
            self.cancel(event.user)
            nick = self.renaming.pop(event.user, None)
            if nick is not None and fold(event.old) == fold(nick):
                self.hold(nick)
            self.check(event.user)
        elif isinstance(event, ev.AccountChanged):
            if self._identified(event.user, event.user.nick):
                self.cancel(event.user)
        elif isinstance(event, (ev.UserQuit, ev.UserKilled)):
            self.forget(event.user)
        elif isinstance(event, ev.NetSplit):
            for user in event.users:
                self.forget(user)

    # -- deciding --------------------------------------------------------------------

    def _identified(self, user: User, nick: str) -> bool:
        account = self.host.accounts.get(nick)
        return account is not None and user.account is not None and fold(user.account) == account.key

    def check(self, user: User, auto_login: bool = True) -> None:
        """Warn ``user`` (and start its timer) if its nick is protected and it is not identified to it.

        A certificate on the account's list logs the user in instead (not
        when ``auto_login`` is False: right after a LOGOUT).
        """
        if user.server is self.host.server or not self.host.running:
            return
        account = self.host.accounts.get(user.nick)
        if account is None or not account.enforce or self._identified(user, user.nick):
            return
        nickserv = self.host.bot("nickserv")
        if nickserv is None:
            return
        fp = getattr(user, "certfp", None)
        if fp and auto_login and self.host.accounts.by_certfp(fp) is account:
            self.host.log_in(user, account, lambda: nickserv.notice(
                user, f"You are now identified for {account.name} by your TLS certificate."))
            return
        if account.access_matches(f"{user.ident}@{user.realhost}") or account.access_matches(
                f"{user.ident}@{user.host}"):
            nickserv.notice(user, f"This nickname is registered; your address is on its access list, so it "
                                  f"is not changed. Identify to log in: /msg NickServ IDENTIFY <password>.")
            return
        seconds = int(self.delay)
        nickserv.notice(user, f"This nickname is registered and protected. If it is yours, identify with "
                              f"/msg NickServ IDENTIFY <password> within {seconds} seconds; otherwise your nick "
                              f"will be changed.")
        self.cancel(user)
        self.timers[user] = self.host.core.clock.callLater(self.delay, self.enforce, user, user.nick)

    def cancel(self, user: User) -> None:
        """Stop the rename timer of ``user``."""
        call = self.timers.pop(user, None)
        if call is not None and call.active():
            call.cancel()

    def forget(self, user: User) -> None:
        """``user`` left the network."""
        self.cancel(user)
        self.renaming.pop(user, None)
        for key, (holder, call) in list(self.holds.items()):
            if holder is user:
                if call.active():
                    call.cancel()
                del self.holds[key]

    # -- acting ----------------------------------------------------------------------

    def enforce(self, user: User, nick: str) -> None:
        """The delay ran out: rename ``user`` off ``nick`` and hold it."""
        self.timers.pop(user, None)
        if self.network.users_by_uid.get(user.uid) is not user or fold(user.nick) != fold(nick):
            return
        if self._identified(user, nick):
            return
        nickserv = self.host.bot("nickserv")
        if nickserv is not None:
            nickserv.notice(user, f"You did not identify for {nick}: your nick is being changed.")
        self.rename(user, self.guest_nick(), hold=nick)

    def guest_nick(self) -> str:
        """A free ``Guest<number>``."""
        while True:
            nick = f"Guest{random.randint(10000, 99999)}"
            if self.network.find_user(nick) is None:
                return nick

    def rename(self, user: User, new: str, hold: str | None = None) -> None:
        """Change ``user``'s nick to ``new`` (here at once, elsewhere by SVSNICK); hold the old nick if asked."""
        old = user.nick
        if user.is_local:
            self.network.change_nick(user, new, origin=self.host.route)
            if hold is not None:
                self.hold(hold)
            return
        link = getattr(user.route, "link", None)
        if link is None:
            return
        if hold is not None:
            self.renaming[user] = hold
        now = int(self.host.core.clock.seconds())
        link.send(Message("SVSNICK", (user.uid, str(int(user.nick_ts)), new, str(now)), self.host.server.sid))
        log.info("asked {server} to rename {old} to {new}", server=user.server.name, old=old, new=new)

    def hold(self, nick: str) -> User | None:
        """Put an enforcer on ``nick`` for :data:`HOLD_SECONDS` (None if the nick is taken meanwhile)."""
        if self.network.find_user(nick) is not None or not self.host.running:
            return None
        host = self.host
        user = User(host._next_uid(), nick, "enforcer", host.name, "Held by NickServ for its owner (RELEASE)",
                    host.server, host.route, ip="0", signon=host.core.clock.seconds())
        collision = self.network.add_user(user, origin=host.route)
        if collision is not None and not collision.accepted:
            return None
        call = host.core.clock.callLater(HOLD_SECONDS, self.release, nick)
        self.holds[fold(nick)] = (user, call)
        return user

    def held(self, nick: str) -> bool:
        """True while an enforcer holds ``nick``."""
        return fold(nick) in self.holds

    def release(self, nick: str) -> bool:
        """Take the enforcer off ``nick``; False if it was not held."""
        entry = self.holds.pop(fold(nick), None)
        if entry is None:
            return False
        user, call = entry
        if call.active():
            call.cancel()
        if self.network.users_by_uid.get(user.uid) is user:
            self.network.remove_user(user, "Nick released", origin=self.host.route)
        return True
