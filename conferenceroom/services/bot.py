# -*- test-case-name: tests.unit.test_services_host -*-
"""ServiceBot: one service user (NickServ, ...) and its command table.

A bot is an ordinary :class:`~conferenceroom.network.User` behind the
services route.  Its commands are a table of :class:`BotCommand` (name ->
handler, one-line summary, syntax, HELP text, subcommands where the service
has them), so HELP, the syntax replies and the unknown-command reply are
made here once for every service.  A handler gets a :class:`Request` and
may return a Deferred: the commands of one user run one after the other, so
replies keep the order of the commands.  Errors become a NOTICE in clear
words, never a traceback.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.logger import Logger

from ..network import User

if TYPE_CHECKING:
    from .host import ServicesHost

log = Logger()

#: Commands of one user waiting behind the one running; more are refused.
MAX_QUEUED = 4
#: A NOTICE text is cut into lines of at most this many characters.
NOTICE_WIDTH = 400

Handler = Callable[["Request"], Any]


class CommandError(Exception):
    """A command refused: ``str()`` is the sentence the user is told."""


@dataclass(frozen=True)
class BotCommand:
    """One command of a bot (or one subcommand of a command such as SET)."""

    name: str
    handler: Handler | None
    summary: str
    syntax: str
    help: tuple[str, ...] = ()
    min_args: int = 0
    oper: str | None = None  # None: anyone; "": any operator; letters: one of these flags
    subcommands: dict[str, "BotCommand"] = field(default_factory=dict)


@dataclass
class Request:
    """One command as a bot received it."""

    bot: "ServiceBot"
    user: User
    name: str  # the command (with the subcommand: "SET PASSWORD")
    args: list[str]
    nick: str = ""  # the user's nick when the command arrived (it may change while earlier ones run)

    def reply(self, text: str) -> None:
        """A NOTICE from the bot to the user."""
        self.bot.notice(self.user, text)

    @property
    def host(self) -> "ServicesHost":
        """The services host."""
        return self.bot.host


class ServiceBot:
    """A services pseudo-user and its commands."""

    def __init__(self, host: "ServicesHost", nick: str, realname: str, description: str) -> None:
        self.host = host
        self.nick = nick
        self.realname = realname
        self.description = description
        self.commands: dict[str, BotCommand] = {}
        self.user: User | None = None  # set by the host when introduced
        self._queues: dict[User, list[tuple[str, str]]] = {}
        self.add("HELP", self._help, "show the commands, or how to use one", "HELP [<command> [<subcommand>]]",
                 ("Without a command: every command with a line about it.",
                  f"HELP <command>: how to use that command, e.g. /msg {nick} HELP REGISTER."))

    # -- the table ------------------------------------------------------------------

    def add(self, name: str, handler: Handler | None, summary: str, syntax: str, help: Sequence[str] = (),
            min_args: int = 0, oper: str | None = None,
            subcommands: Iterable[BotCommand] = ()) -> BotCommand:
        """Declare a command; with ``subcommands`` its first argument picks one of them."""
        spec = BotCommand(name.upper(), handler, summary, syntax, tuple(help), min_args, oper,
                          {sub.name.upper(): sub for sub in subcommands})
        self.commands[spec.name] = spec
        return spec

    @staticmethod
    def sub(name: str, handler: Handler, summary: str, syntax: str, help: Sequence[str] = (),
            min_args: int = 0, oper: str | None = None) -> BotCommand:
        """A subcommand for :meth:`add` (``SET PASSWORD`` ...)."""
        return BotCommand(name.upper(), handler, summary, syntax, tuple(help), min_args, oper)

    # -- receiving ------------------------------------------------------------------

    def notice(self, user: User, text: str) -> None:
        """A NOTICE from the bot to ``user``, wherever it is (long text cut into lines)."""
        if self.user is None or self.host.core.network.users_by_uid.get(user.uid) is not user:
            return
        for line in textwrap.wrap(text, NOTICE_WIDTH, break_long_words=True, replace_whitespace=False) or [""]:
            self.host.core.router.deliver(self.user, user, "NOTICE", (user.nick, line))

    def receive(self, user: User, text: str) -> None:
        """A PRIVMSG from ``user``: run it after the user's earlier commands to this bot."""
        if text.startswith("\x01"):
            return  # CTCP: nothing to say
        queue = self._queues.get(user)
        if queue is None:
            self._queues[user] = []
            self._run(user, text, user.nick)
        elif len(queue) >= MAX_QUEUED:
            self.notice(user, "Slow down: wait for the replies to your earlier commands.")
        else:
            queue.append((text, user.nick))

    def _run(self, user: User, text: str, nick: str) -> None:
        d = defer.maybeDeferred(self.dispatch, user, text, nick)
        d.addErrback(self._failed, user, text)
        d.addBoth(lambda _: self._next(user))

    def _next(self, user: User) -> None:
        queue = self._queues.get(user)
        if not queue:
            self._queues.pop(user, None)
            return
        self._run(user, *queue.pop(0))

    def _failed(self, failure: Any, user: User, text: str) -> None:
        if failure.check(CommandError):
            self.notice(user, str(failure.value))
            return
        verb = text.split(" ", 1)[0].upper()[:32]
        log.failure("{bot} {verb} from {nick} failed", failure, bot=self.nick, verb=verb, nick=user.nick)
        self.notice(user, f"{verb} failed: an internal error on the services server; nothing was changed. "
                          "Try again later.")

    def dispatch(self, user: User, text: str, nick: str | None = None) -> Any:
        """Look the command up, check its arguments and privileges, run its handler.

        ``nick`` is the user's nick when the command arrived (default: now).
        """
        words = text.split()
        if not words:
            self.notice(user, f"Type /msg {self.nick} HELP for a list of commands.")
            return None
        spec = self.commands.get(words[0].upper())
        if spec is None:
            self.notice(user, f"Unknown command {words[0].upper()[:32]}. "
                              f"Type /msg {self.nick} HELP for a list of commands.")
            return None
        args = words[1:]
        name = spec.name
        if spec.subcommands:
            if not args:
                self.notice(user, f"Syntax: {spec.syntax}")
                self.notice(user, f"Type /msg {self.nick} HELP {spec.name} for more.")
                return None
            sub = spec.subcommands.get(args[0].upper())
            if sub is None:
                self.notice(user, f"Unknown {spec.name} option {args[0].upper()[:32]}; one of: "
                                  f"{', '.join(sorted(spec.subcommands))}. Type /msg {self.nick} HELP {spec.name}.")
                return None
            spec, args, name = sub, args[1:], f"{spec.name} {sub.name}"
        if spec.oper is not None and not user.has_oper_flag(spec.oper):
            self.notice(user, f"Permission denied: {name} is for IRC operators"
                              f"{' with flag ' + ' or '.join(spec.oper) if spec.oper else ''}.")
            return None
        if len(args) < spec.min_args:
            self.notice(user, f"Syntax: {spec.syntax}")
            self.notice(user, f"Type /msg {self.nick} HELP {name} for more.")
            return None
        assert spec.handler is not None
        return spec.handler(Request(self, user, name, args, nick or user.nick))

    # -- HELP -----------------------------------------------------------------------

    def _help(self, request: Request) -> None:
        reply = request.reply
        if not request.args:
            reply(f"{self.nick}: {self.description}")
            reply("Commands:")
            for spec in sorted(self.commands.values(), key=lambda s: s.name):
                if spec.oper is None or request.user.has_oper_flag(spec.oper):
                    reply(f"  {spec.name:<10} {spec.summary}")
            reply(f"Type /msg {self.nick} HELP <command> for how to use a command.")
            return
        spec = self.commands.get(request.args[0].upper())
        if spec is None:
            reply(f"No help for {request.args[0].upper()[:32]}: {self.nick} has no such command. "
                  f"Type /msg {self.nick} HELP for a list of commands.")
            return
        if len(request.args) > 1 and spec.subcommands:
            sub = spec.subcommands.get(request.args[1].upper())
            if sub is None:
                reply(f"{spec.name} has no option {request.args[1].upper()[:32]}; one of: "
                      f"{', '.join(sorted(spec.subcommands))}.")
                return
            spec = sub
        reply(f"Help for {spec.name if spec in self.commands.values() else request.args[0].upper() + ' ' + spec.name}:"
              f" {spec.summary}")
        reply(f"Syntax: {spec.syntax}")
        for line in spec.help:
            reply(line)
        if spec.subcommands:
            reply("Options:")
            for sub in sorted(spec.subcommands.values(), key=lambda s: s.name):
                reply(f"  {sub.name:<10} {sub.summary}")
            reply(f"Type /msg {self.nick} HELP {spec.name} <option> for more.")
