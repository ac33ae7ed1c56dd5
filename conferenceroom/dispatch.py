# -*- test-case-name: tests.unit.test_dispatch -*-
"""Declarative command tables with the checks made in one place.

A handler module marks its functions with :func:`command`; a table built
from those modules (one per server instance, no module-level registry) makes
the checks before any handler runs, so no handler repeats them.  Each verb
is declared per origin, as Solanum's msgtab does:

- ``origin="client"`` (the default): :class:`CommandTable` checks
  registration (451), parameters (461) and operator privileges (481) and
  calls ``handler(conn, msg)``.
- ``origin="server"``: :class:`ServerCommandTable` resolves the message's
  source (UID, SID or server name; none = the peer itself), drops and logs a
  message whose source is unknown or does not live behind the link it came
  on (the "wrong direction" check), reports a short message to the link as a
  protocol error (never a client numeric), and calls
  ``handler(link, source, msg)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from twisted.logger import Logger

from .wire import Message

Handler = Callable[[Any, Message], Any]

_SPEC_ATTR = "__irc_commands__"


@dataclass(frozen=True)
class CommandSpec:
    """How a verb is dispatched.

    ``registered``: True (only after registration), False (also before).
    ``oper``: None (anyone), "" (any operator) or flags of which one is needed.
    ``penalty``: flood-control cost of one line of this command.
    """

    verb: str
    handler: Handler
    min_params: int = 0
    registered: bool = True
    oper: str | None = None
    penalty: int = 1
    syntax: str = ""
    origin: str = "client"  # "client" or "server": which table the handler belongs to


def command(
    verb: str,
    *,
    min_params: int = 0,
    registered: bool = True,
    oper: str | None = None,
    penalty: int = 1,
    syntax: str = "",
    origin: str = "client",
) -> Callable[[Handler], Handler]:
    """Declare the decorated function as the handler of ``verb`` from ``origin`` ("client" or "server")."""
    if origin not in ORIGINS:
        raise ValueError(f"command {verb}: origin must be one of {ORIGINS}")

    def mark(func: Handler) -> Handler:
        specs = getattr(func, _SPEC_ATTR, [])
        specs.append(
            dict(verb=verb.upper(), min_params=min_params, registered=registered,
                 oper=oper, penalty=penalty, syntax=syntax, origin=origin)
        )
        setattr(func, _SPEC_ATTR, specs)
        return func

    return mark


class DispatchContext(Protocol):
    """What the dispatcher needs of a connection."""

    @property
    def registered(self) -> bool:
        """True once the connection has completed registration."""
        ...

    def is_oper(self, flags: str) -> bool:
        """True if the user is an operator with any of ``flags`` ('' = any)."""
        ...

    def reply(self, name: str, *args: object) -> None:
        """Send the numeric ``name`` with ``args``."""
        ...


class Counts(dict):  # type: ignore[type-arg]
    """Runs per verb; a verb never run counts 0 (as a Counter, whose Python-level ``__delitem__``
    would make every ``counts[verb] += 1`` call Python code: ~1,000 instructions a line)."""

    __slots__ = ()

    def __missing__(self, key: str) -> int:
        return 0


class CommandTable:
    """Verbs to :class:`CommandSpec`, built from handler modules."""

    def __init__(self, specs: Iterable[CommandSpec] = ()) -> None:
        self.specs: dict[str, CommandSpec] = {}
        self.counts: dict[str, int] = Counts()  # handler runs per verb (STATS m)
        for spec in specs:
            self.add(spec)

    origin = "client"

    @classmethod
    def from_modules(cls, *modules: ModuleType, origin: str | None = None) -> "CommandTable":
        """Collect every function marked with :func:`command` for ``origin`` in ``modules``.

        ``origin`` defaults to the table's own (client for :class:`CommandTable`).
        """
        table = cls()
        wanted = origin or cls.origin
        for module in modules:
            for value in vars(module).values():
                for spec in getattr(value, _SPEC_ATTR, ()):
                    if getattr(value, "__module__", None) == module.__name__ and spec["origin"] == wanted:
                        table.add(CommandSpec(handler=value, **spec))
        return table

    def add(self, spec: CommandSpec) -> None:
        """Add ``spec``; a verb may be declared once."""
        if spec.verb in self.specs:
            raise ValueError(f"command {spec.verb} declared twice")
        self.specs[spec.verb] = spec

    def get(self, verb: str) -> CommandSpec | None:
        """The spec for ``verb``, or None."""
        return self.specs.get(verb.upper())

    def penalty(self, verb: str) -> int:
        """Flood cost of ``verb`` (1 for unknown verbs)."""
        spec = self.specs.get(verb.upper())
        return spec.penalty if spec else 1

    def dispatch(self, ctx: DispatchContext, msg: Message) -> Any:
        """Run the handler for ``msg`` after the central checks."""
        spec = self.specs.get(msg.command)
        if spec is None:
            if ctx.registered:
                ctx.reply("ERR_UNKNOWNCOMMAND", msg.command)
            else:
                ctx.reply("ERR_NOTREGISTERED")
            return None
        if spec.registered and not ctx.registered:
            ctx.reply("ERR_NOTREGISTERED")
            return None
        if len(msg.params) < spec.min_params or (
            spec.min_params and msg.params[spec.min_params - 1] == ""
            and spec.verb not in _EMPTY_LAST_OK
        ):
            ctx.reply("ERR_NEEDMOREPARAMS", msg.command)
            return None
        if spec.oper is not None and not ctx.is_oper(spec.oper):
            if spec.oper and ctx.is_oper(""):
                # An operator is told which flag the command needs.
                ctx.reply("ERR_NOOPERFLAG", " or ".join(spec.oper))
            else:
                ctx.reply("ERR_NOPRIVILEGES")
            return None
        self.counts[spec.verb] += 1
        return spec.handler(ctx, msg)


ORIGINS = ("client", "server")


class LinkContext(Protocol):
    """What the server dispatcher needs of a server link."""

    @property
    def route(self) -> Any:
        """The route object of every user and server behind this link."""
        ...

    @property
    def peer(self) -> Any:
        """The server at the other end (None before the handshake)."""
        ...

    @property
    def registered(self) -> bool:
        """True once the link handshake completed."""
        ...

    def protocol_error(self, reason: str) -> None:
        """Report a protocol error: the link tells operators and the peer, and closes."""
        ...


#: ``handler(link, source, words, trailing) -> bool``: a split line handled (True) or declined unchanged
SplitHandler = Callable[[Any, Any, list[str], "str | None"], bool]


class ServerCommandTable(CommandTable):
    """Server-origin verbs: source resolution, the direction check and protocol errors.

    ``network`` must be set (the service wires it) to resolve sources.
    """

    origin = "server"
    log = Logger()
    network: Any = None

    def __init__(self, specs: Iterable[CommandSpec] = ()) -> None:
        super().__init__(specs)
        #: verb -> (its spec, the handler of its line split at spaces): see :meth:`dispatch_split`
        self.split_handlers: dict[str, tuple[CommandSpec, SplitHandler]] = {}

    def add_split(self, verb: str, handler: SplitHandler) -> None:
        """Handle ``verb``'s well-formed lines with ``handler`` too, while its spec stays the one added."""
        self.split_handlers[verb] = (self.specs[verb], handler)

    def dispatch_split(self, link: LinkContext, words: list[str], trailing: str | None) -> bool:
        """Handle a registered link's ``:<source> <VERB> <word>... [:<trailing>]`` without a Message.

        ``words`` is the line before `` :`` split at single spaces (source and
        verb included).  Only verbs with a split handler (the bulk of a burst:
        UID, SJOIN) and a source behind ``link`` are taken, and the handler
        takes only the shape it knows; True if handled.  False changed nothing:
        the caller parses the line and :meth:`dispatch` checks and reports it.
        """
        split = self.split_handlers.get(words[1])
        if split is None or self.specs.get(words[1]) is not split[0]:
            return False  # no split handler, or the verb's handler was replaced since (tests wrap them)
        handler = split[1]
        name = words[0][1:]
        source = self.network.servers_by_sid.get(name) if len(name) == 3 else None  # a burst's SID
        if source is None:
            source = self.resolve_source(link, name)
        if source is None or source.route is not link.route or source.route is None:
            return False
        if not handler(link, source, words, trailing):
            return False
        self.counts[words[1]] += 1
        return True

    def resolve_source(self, link: LinkContext, source: str | None) -> Any:
        """The server or user ``source`` names (UID, SID or server name).

        No source means the peer itself; None if nobody is known by it.
        """
        if not source:
            return link.peer
        network = self.network
        if len(source) == 9 and source[0].isdigit():
            return network.users_by_uid.get(source)
        return network.servers_by_sid.get(source) or network.find_server(source)

    def dispatch(self, link: LinkContext, msg: Message) -> Any:  # type: ignore[override]
        """Run the server handler for ``msg`` after the central checks."""
        spec = self.specs.get(msg.command)
        if spec is None:
            self.log.info("{peer}: unknown server command {verb} ignored",
                          peer=_name(link.peer), verb=msg.command)
            return None
        if not link.registered:
            if spec.registered:
                link.protocol_error(f"{msg.command} before the link registered")
                return None
            source = None
        else:
            source = self.resolve_source(link, msg.source)
            if source is None:
                self.log.info("{peer}: {verb} from unknown source {source} dropped",
                              peer=_name(link.peer), verb=msg.command, source=msg.source)
                return None
            if source.route is not link.route or source.route is None:
                self.log.warn(
                    "{peer}: {verb} from {source} came from the wrong direction "
                    "(it is behind {where}); dropped",
                    peer=_name(link.peer), verb=msg.command, source=msg.source,
                    where=_name(getattr(source, "server", source)),
                )
                return None
        if len(msg.params) < spec.min_params:
            who = msg.source or _name(link.peer)
            link.protocol_error(
                f"{msg.command} from {who}: {spec.min_params} parameters needed, {len(msg.params)} given"
            )
            return None
        self.counts[spec.verb] += 1
        return spec.handler(link, source, msg)


def _name(server: Any) -> str:
    """A server's name for a log line ('an unregistered link' if none)."""
    return getattr(server, "name", None) or "an unregistered link"


# Verbs whose last required parameter may legitimately be empty.
_EMPTY_LAST_OK = frozenset({"TOPIC", "AWAY", "QUIT", "PART", "KICK", "PONG", "PING"})
