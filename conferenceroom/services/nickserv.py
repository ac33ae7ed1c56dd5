# -*- test-case-name: tests.unit.test_services_nickserv -*-
"""NickServ: nickname registration, logins and nick protection.

An account is the nick it was registered with.  REGISTER and IDENTIFY log
the user in (``network.set_account`` with the services route, so every
server learns it); replies that report a change are sent only once the
change is committed to the store.  Wrong passwords are spaced out by
:meth:`~.accounts.Accounts.verify_password`.  Enforcement (warning, Guest
rename, hold) is in :mod:`.enforce`.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from twisted.internet import defer

from ..casemap import fold
from ..passwords import MAX_ACCOUNT_PASSWORD_BYTES
from .accounts import Account, AccountError, TryAgain, normalize_fp
from .bot import CommandError, Request, ServiceBot
from .enforce import Enforcer

if TYPE_CHECKING:
    from .host import ServicesHost

MIN_PASSWORD = 5
#: Registrations one address may make per REGISTER_WINDOW seconds (addresses with
#: connection trigger 0, a gateway or a benchmark, are not counted).
REGISTER_BURST = 3
REGISTER_WINDOW = 600.0
#: Addresses remembered for that count at most (the oldest forgotten first).
REGISTER_KEYS = 10_000
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
GUEST_RE = re.compile(r"^guest\d+$", re.IGNORECASE)
FP_RE = re.compile(r"^[0-9a-f]{40,128}$")


def setup(host: "ServicesHost") -> ServiceBot:
    """The NickServ bot and its commands."""
    bot = ServiceBot(host, "NickServ", "Nickname Services", "registers nicknames and logs you in to your account")
    ns = NickServ(host, bot)
    host.nickserv = ns  # type: ignore[attr-defined]
    bot.add("REGISTER", ns.register, "register your current nick as an account", "REGISTER <password> [<email>]",
            ("Registers the nick you are using now; you are logged in at once.",
             "The password must not be your nick nor too short (at least 5 characters unless the",
             "operators chose otherwise).",
             "The email address is optional (shown only to you and to operators)."), min_args=1)
    bot.add("IDENTIFY", ns.identify, "log in to your account", "IDENTIFY [<account>] <password>",
            ("Logs you in to the account of your nick, or to <account>.",
             "Without a password, logs you in if your TLS certificate is on the account's CERT list.",
             "Wrong passwords make the next attempts wait longer."))
    bot.add("LOGOUT", ns.logout, "log out of your account", "LOGOUT", ("Logs you out; your nick stays.",))
    bot.add("GHOST", ns.ghost, "disconnect someone using your nick", "GHOST <nick> [<password>]",
            ("Disconnects the user holding <nick>, a nick registered to you.",
             "Give the password unless you are identified to that account."), min_args=1)
    bot.add("RECOVER", ns.recover, "take your nick back from someone using it", "RECOVER <nick> [<password>]",
            ("The user holding <nick> is renamed to a guest nick (or disconnected when on another server),",
             "and your nick becomes <nick>. Give the password unless you are identified to that account."),
            min_args=1)
    bot.add("RELEASE", ns.release, "free your nick held by NickServ", "RELEASE <nick> [<password>]",
            ("After a user was renamed for not identifying, NickServ holds the nick for a while.",
             "RELEASE frees it at once so you can use it."), min_args=1)
    bot.add("DROP", ns.drop, "delete your account", "DROP <password> | DROP <account> (services operators)",
            ("Deletes the account you are identified to, with its memos and lists; give its password to confirm.",
             "An operator with flag s or a may drop any account by name."), min_args=1)
    bot.add("INFO", ns.info, "show what is known about a registered nick", "INFO [<nick>]",
            ("Registration time, last login, whether it is online and protected.",
             "The email address is shown to the account's owner and to operators."))
    bot.add("SET", None, "change your account's settings", "SET PASSWORD|EMAIL|ENFORCE <value>",
            ("Needs you to be identified.",), subcommands=(
                ServiceBot.sub("PASSWORD", ns.set_password, "change your password", "SET PASSWORD <new password>",
                               ("Not your nick, and as long as REGISTER asks.",), min_args=1),
                ServiceBot.sub("EMAIL", ns.set_email, "set or clear your email address", "SET EMAIL <address>|NONE",
                               min_args=1),
                ServiceBot.sub("ENFORCE", ns.set_enforce, "protect your nick from others", "SET ENFORCE ON|OFF",
                               ("ON: someone using your nick without identifying is renamed after a delay.",),
                               min_args=1),
            ))
    bot.add("ACCESS", None, "host masks that are never renamed", "ACCESS ADD|DEL|LIST [<user@host>]",
            ("A user with your nick whose user@host matches is not renamed (it still has to identify to log in).",),
            subcommands=(
                ServiceBot.sub("ADD", ns.access_add, "add a user@host mask", "ACCESS ADD <user@host>", min_args=1),
                ServiceBot.sub("DEL", ns.access_del, "remove a mask", "ACCESS DEL <user@host>", min_args=1),
                ServiceBot.sub("LIST", ns.access_list, "show your masks", "ACCESS LIST"),
            ))
    bot.add("CERT", None, "TLS certificate fingerprints that log you in", "CERT ADD|DEL|LIST [<fingerprint>]",
            ("With your certificate's fingerprint on the list, IDENTIFY needs no password (and SASL EXTERNAL works).",),
            subcommands=(
                ServiceBot.sub("ADD", ns.cert_add, "add a fingerprint (default: the one you connected with)",
                               "CERT ADD [<fingerprint>]"),
                ServiceBot.sub("DEL", ns.cert_del, "remove a fingerprint", "CERT DEL <fingerprint>", min_args=1),
                ServiceBot.sub("LIST", ns.cert_list, "show your fingerprints", "CERT LIST"),
            ))
    return bot


def start(host: "ServicesHost") -> None:
    """Once the accounts are loaded: start enforcing."""
    ns: NickServ = host.nickserv  # type: ignore[attr-defined]
    ns.enforcer.start()
    host.stopped.append(ns.enforcer.stop)


def _when(seconds: float | None) -> str:
    if not seconds:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def check_password(nick: str, password: str, minimum: int = MIN_PASSWORD) -> None:
    """Raise CommandError with the reason a new password is refused (``minimum``: fewest characters)."""
    if len(password) < minimum:
        raise CommandError(f"That password is too short: use at least {minimum} characters.")
    if len(password.encode("utf-8")) > MAX_ACCOUNT_PASSWORD_BYTES:
        raise CommandError(f"That password is too long: at most {MAX_ACCOUNT_PASSWORD_BYTES} bytes.")
    if fold(password) == fold(nick):
        raise CommandError("Your password must not be your nick.")


class NickServ:
    """NickServ's command handlers."""

    def __init__(self, host: "ServicesHost", bot: ServiceBot) -> None:
        self.host = host
        self.bot = bot
        self.enforcer = Enforcer(host)
        self._registered_from: dict[str, list[float]] = {}  # address -> times of its registrations

    def _register_wait(self, ip: str) -> float:
        """Seconds before ``ip`` may register again (0: now)."""
        if not ip or ip == "0" or self.host.core.settings.trigger_for(ip) <= 0:
            return 0.0
        now = self.host.core.clock.seconds()
        times = [t for t in self._registered_from.get(ip, ()) if now - t < REGISTER_WINDOW]
        if times:
            self._registered_from[ip] = times
        else:
            self._registered_from.pop(ip, None)
        if len(times) < REGISTER_BURST:
            return 0.0
        return times[0] + REGISTER_WINDOW - now

    def _count_registration(self, ip: str) -> None:
        if not ip or ip == "0" or self.host.core.settings.trigger_for(ip) <= 0:
            return
        self._registered_from.setdefault(ip, []).append(self.host.core.clock.seconds())
        while len(self._registered_from) > REGISTER_KEYS:
            del self._registered_from[next(iter(self._registered_from))]

    @property
    def accounts(self) -> Any:
        return self.host.accounts

    def _min_password(self) -> int:
        """Fewest characters of a new password (``services set minpassword``)."""
        return getattr(self.host.core.settings, "services_min_password", MIN_PASSWORD)

    def _mine(self, request: Request) -> Account:
        """The account the user is identified to (CommandError if none)."""
        name = request.user.account
        account = self.accounts.get(name) if name else None
        if account is None:
            raise CommandError(f"You are not identified. Use /msg {self.bot.nick} IDENTIFY <password> first.")
        return account

    def _authorized(self, request: Request, nick: str, password: str | None) -> defer.Deferred:
        """Fires with the account of ``nick`` if the user may act for it (identified to it, or right password)."""
        account = self.accounts.get(nick)
        if account is None:
            return defer.fail(CommandError(f"{nick} is not a registered nickname."))
        user = request.user
        if user.account is not None and fold(user.account) == account.key:
            return defer.succeed(account)
        if password is None:
            return defer.fail(CommandError(f"You are not identified to {account.name}: give its password "
                                           f"({request.name} {nick} <password>)."))
        d = self.accounts.verify_password(account.name, password, user.ip)

        def decide(name: str | None) -> Account:
            if name is None:
                raise CommandError(f"Invalid password for {account.name}.")
            return account
        return d.addCallback(decide).addErrback(_busy)

    # -- REGISTER / IDENTIFY / LOGOUT -------------------------------------------------

    def register(self, request: Request) -> Any:
        user = request.user
        nick = request.nick  # the nick it was sent from, even if a NICK came in meanwhile
        password = request.args[0]
        email = request.args[1] if len(request.args) > 1 else None
        if user.account is not None:
            raise CommandError(f"You are already identified as {user.account}; LOGOUT before registering "
                               "another nick.")
        if GUEST_RE.match(nick):
            raise CommandError("Guest nicks cannot be registered: change your nick first.")
        if self.accounts.get(nick) is not None:
            raise CommandError(f"{nick} is already registered. If it is yours, use IDENTIFY.")
        check_password(nick, password, self._min_password())
        if email is not None and (len(email) > 254 or not EMAIL_RE.match(email)):
            raise CommandError(f"{email} is not a valid email address.")
        wait = self._register_wait(user.ip)
        if wait > 0:
            raise CommandError(f"Too many registrations from your address: try again in "
                               f"{max(1, round(wait / 60))} minute{'s' if round(wait / 60) > 1 else ''}.")
        self._count_registration(user.ip)
        d = self.accounts.register(nick, password, email)

        def done(account: Account) -> None:
            request.reply(f"{account.name} is now registered to you. Keep your password safe: you need it "
                          f"to IDENTIFY.")
            if self.host.core.network.users_by_uid.get(user.uid) is user:
                if fold(user.nick) == account.key and user.account is None:
                    self.host.log_in(user, account,
                                     lambda: request.reply(f"You are now identified for {account.name}."))

        return d.addCallback(done).addErrback(_sentence)

    def identify(self, request: Request) -> Any:
        user = request.user
        args = request.args
        if not args:
            return self._identify_by_cert(request)
        name, password = (args[0], args[1]) if len(args) > 1 else (user.nick, args[0])
        account = self.accounts.get(name)
        if account is None:
            raise CommandError(f"{name} is not a registered nickname.")
        if user.account is not None and fold(user.account) == account.key:
            raise CommandError(f"You are already identified as {account.name}.")
        d = self.accounts.verify_password(account.name, password, user.ip)

        def decide(ok: str | None) -> None:
            if ok is None:
                raise CommandError(f"Invalid password for {account.name}.")
            current = self.accounts.get(ok)
            if current is None or self.host.core.network.users_by_uid.get(user.uid) is not user:
                return
            self.host.log_in(user, current, lambda: request.reply(f"You are now identified for {current.name}."))

        return d.addCallback(decide).addErrback(_busy)

    def _identify_by_cert(self, request: Request) -> None:
        user = request.user
        fp = getattr(user, "certfp", None)
        account = self.accounts.by_certfp(fp) if fp else None
        if account is None:
            raise CommandError(f"Syntax: IDENTIFY [<account>] <password> (your connection has no TLS certificate "
                               f"on any account's CERT list).")
        if user.account is not None and fold(user.account) == account.key:
            raise CommandError(f"You are already identified as {account.name}.")
        self.host.log_in(user, account, lambda: request.reply(
            f"You are now identified for {account.name} by your TLS certificate."))

    def logout(self, request: Request) -> None:
        user = request.user
        if user.account is None:
            raise CommandError("You are not identified.")
        name = user.account
        self.host.core.network.set_account(user, None, origin=self.host.route)
        request.reply(f"You are now logged out of {name}.")
        self.enforcer.check(user, auto_login=False)

    # -- GHOST / RECOVER / RELEASE -----------------------------------------------------

    def ghost(self, request: Request) -> Any:
        nick = request.args[0]
        network = self.host.core.network
        target = network.find_user(nick)
        if target is None:
            raise CommandError(f"{nick} is not online.")
        if target is request.user:
            raise CommandError("You cannot GHOST yourself.")
        d = self._authorized(request, nick, request.args[1] if len(request.args) > 1 else None)

        def act(account: Account) -> None:
            holder = network.find_user(nick)
            if holder is None or holder is request.user:
                request.reply(f"{nick} is no longer online.")
                return
            if self.enforcer.held(nick):
                self.enforcer.release(nick)
            elif holder.server is self.host.server:
                raise CommandError(f"{nick} is a services user.")
            else:
                network.kill_user(holder, self.bot.user, f"GHOST command used by {request.user.nick}")
            request.reply(f"{nick} has been disconnected; the nick is free.")

        return d.addCallback(act)

    def recover(self, request: Request) -> Any:
        nick = request.args[0]
        user = request.user
        network = self.host.core.network
        if fold(user.nick) == fold(nick):
            raise CommandError(f"You already use {nick}.")
        password = request.args[1] if len(request.args) > 1 else None
        d = self._authorized(request, nick, password)

        def act(account: Account) -> None:
            holder = network.find_user(nick)
            if holder is not None and holder is not user:
                if self.enforcer.held(nick):
                    self.enforcer.release(nick)
                elif holder.server is self.host.server:
                    raise CommandError(f"{nick} is a services user.")
                elif holder.is_local:
                    self.bot.notice(holder, f"{user.nick} recovered the nick {nick}: your nick is being changed.")
                    self.enforcer.rename(holder, self.enforcer.guest_nick())
                else:
                    network.kill_user(holder, self.bot.user, f"RECOVER command used by {user.nick}")
            if user.account is None or fold(user.account) != account.key:
                self.host.log_in(user, account)
            if network.find_user(nick) is None:
                self.enforcer.rename(user, account.name)
            request.reply(f"You have recovered {account.name}.")

        return d.addCallback(act)

    def release(self, request: Request) -> Any:
        nick = request.args[0]
        if not self.enforcer.held(nick):
            raise CommandError(f"{nick} is not being held by {self.bot.nick}.")
        d = self._authorized(request, nick, request.args[1] if len(request.args) > 1 else None)

        def act(account: Account) -> None:
            self.enforcer.release(nick)
            request.reply(f"{account.name} is released: you may use it now.")

        return d.addCallback(act)

    # -- DROP / INFO -------------------------------------------------------------------

    def drop(self, request: Request) -> Any:
        user = request.user
        arg = request.args[0]
        other = self.accounts.get(arg)
        admin = user.has_oper_flag("sa")
        if admin and other is not None and (user.account is None or fold(user.account) != other.key):
            return self._drop(request, other, by_oper=True)
        account = self._mine(request)
        d = self.accounts.verify_password(account.name, arg, user.ip)

        def decide(ok: str | None) -> Any:
            if ok is None:
                raise CommandError(f"Invalid password for {account.name}: the account was not dropped.")
            return self._drop(request, account, by_oper=False)

        return d.addCallback(decide).addErrback(_busy)

    def _drop(self, request: Request, account: Account, by_oper: bool) -> Any:
        d = self.accounts.drop(account.name)

        def done(dropped: Account) -> None:
            self.host.dropped(dropped)
            self.enforcer.release(dropped.name)
            request.reply(f"{dropped.name} has been dropped: the account and its data are deleted.")
            if by_oper:
                self.host.core.notice_opers(f"{request.user.nick} dropped the account {dropped.name}")

        return d.addCallback(done).addErrback(_sentence)

    def info(self, request: Request) -> None:
        user = request.user
        nick = request.args[0] if request.args else user.nick
        account = self.accounts.get(nick)
        if account is None:
            raise CommandError(f"{nick} is not a registered nickname.")
        reply = request.reply
        mine = user.account is not None and fold(user.account) == account.key
        reply(f"{account.name} is registered since {_when(account.registered)}.")
        online = [u.nick for u in self.host.core.network.users_by_uid.values()
                  if u.account is not None and fold(u.account) == account.key]
        if online:
            reply(f"Logged in now as: {', '.join(sorted(online)[:10])}.")
        else:
            reply(f"Last login: {_when(account.last_seen)}.")
        reply(f"Nick protection: {'on' if account.enforce else 'off'}.")
        if mine or user.has_oper_flag(""):
            reply(f"Email: {account.email or 'none'}.")

    # -- SET ---------------------------------------------------------------------------

    def set_password(self, request: Request) -> Any:
        account = self._mine(request)
        password = request.args[0]
        check_password(account.name, password, self._min_password())
        d = self.accounts.set_password(account, password)
        return d.addCallback(lambda _: request.reply("Your password is changed.")).addErrback(_sentence)

    def set_email(self, request: Request) -> Any:
        account = self._mine(request)
        value = request.args[0]
        email = None if value.upper() == "NONE" else value
        if email is not None and (len(email) > 254 or not EMAIL_RE.match(email)):
            raise CommandError(f"{email} is not a valid email address.")
        d = self.accounts.set_email(account, email)
        return d.addCallback(lambda _: request.reply(
            f"Your email address is now {email}." if email else "Your email address is removed."))

    def set_enforce(self, request: Request) -> Any:
        account = self._mine(request)
        value = request.args[0].upper()
        if value not in ("ON", "OFF"):
            raise CommandError("Syntax: SET ENFORCE ON|OFF")
        d = self.accounts.set_enforce(account, value == "ON")
        return d.addCallback(lambda _: request.reply(
            f"Nick protection for {account.name} is now {value.lower()}."))

    # -- ACCESS ------------------------------------------------------------------------

    def access_add(self, request: Request) -> Any:
        account = self._mine(request)
        mask = request.args[0]
        if "@" not in mask or " " in mask or len(mask) > 128 or mask.startswith("@") or mask.endswith("@"):
            raise CommandError(f"{mask[:128]} is not a user@host mask (e.g. *@home.example.org).")
        if mask.replace("*", "").replace("?", "").replace("@", "").replace(".", "") == "":
            raise CommandError(f"{mask} matches everyone: give a host.")
        d = self.accounts.add_access(account, mask)
        return d.addCallback(lambda _: request.reply(f"{mask} added to your access list.")).addErrback(_sentence)

    def access_del(self, request: Request) -> Any:
        account = self._mine(request)
        mask = request.args[0]
        d = self.accounts.del_access(account, mask)
        return d.addCallback(lambda _: request.reply(f"{mask} removed from your access list.")).addErrback(
            _sentence)

    def access_list(self, request: Request) -> None:
        account = self._mine(request)
        if not account.access:
            request.reply("Your access list is empty.")
            return
        request.reply(f"Access list of {account.name}:")
        for number, mask in enumerate(account.access, 1):
            request.reply(f"  {number}. {mask}")
        request.reply("End of the access list.")

    # -- CERT --------------------------------------------------------------------------

    def cert_add(self, request: Request) -> Any:
        account = self._mine(request)
        fp = request.args[0] if request.args else getattr(request.user, "certfp", None)
        if not fp:
            raise CommandError("Your connection has no TLS client certificate: give a fingerprint "
                               "(CERT ADD <fingerprint>).")
        fp = normalize_fp(fp)
        if not FP_RE.match(fp):
            raise CommandError(f"{fp[:40]} is not a certificate fingerprint (hex digits, e.g. a SHA-256).")
        d = self.accounts.add_certfp(account, fp)
        return d.addCallback(lambda _: request.reply(f"{fp} added to your certificate list.")).addErrback(
            _sentence)

    def cert_del(self, request: Request) -> Any:
        account = self._mine(request)
        fp = normalize_fp(request.args[0])
        d = self.accounts.del_certfp(account, fp)
        return d.addCallback(lambda _: request.reply(f"{fp} removed from your certificate list.")).addErrback(
            _sentence)

    def cert_list(self, request: Request) -> None:
        account = self._mine(request)
        if not account.certfps:
            request.reply("Your certificate list is empty.")
            return
        request.reply(f"Certificate fingerprints of {account.name}:")
        for fp in sorted(account.certfps):
            request.reply(f"  {fp}")
        request.reply("End of the certificate list.")


def _sentence(failure: Any) -> None:
    """An AccountError as the user's sentence."""
    failure.trap(AccountError)
    raise CommandError(str(failure.value))


def _busy(failure: Any) -> None:
    """TryAgain (and other account refusals) as the user's sentence."""
    failure.trap(TryAgain, AccountError)
    raise CommandError(str(failure.value))
