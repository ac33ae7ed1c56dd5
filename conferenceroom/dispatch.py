# -*- test-case-name: tests.unit.test_dispatch -*-
"""Declarative command tables with the checks made in one place.

A handler module marks its functions with :func:`command`; a
:class:`CommandTable` built from those modules (one per server instance, no
module-level registry) checks registration (451), parameters (461) and
operator privileges (481) before any handler runs, so no handler repeats
those checks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

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


def command(
    verb: str,
    *,
    min_params: int = 0,
    registered: bool = True,
    oper: str | None = None,
    penalty: int = 1,
    syntax: str = "",
) -> Callable[[Handler], Handler]:
    """Declare the decorated function as the handler of ``verb``."""

    def mark(func: Handler) -> Handler:
        specs = getattr(func, _SPEC_ATTR, [])
        specs.append(
            dict(verb=verb.upper(), min_params=min_params, registered=registered,
                 oper=oper, penalty=penalty, syntax=syntax)
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


class CommandTable:
    """Verbs to :class:`CommandSpec`, built from handler modules."""

    def __init__(self, specs: Iterable[CommandSpec] = ()) -> None:
        self.specs: dict[str, CommandSpec] = {}
        self.counts: Counter[str] = Counter()  # handler runs per verb (STATS m)
        for spec in specs:
            self.add(spec)

    @classmethod
    def from_modules(cls, *modules: ModuleType) -> "CommandTable":
        """Collect every function marked with :func:`command` in ``modules``."""
        table = cls()
        for module in modules:
            for value in vars(module).values():
                for spec in getattr(value, _SPEC_ATTR, ()):
                    if getattr(value, "__module__", None) == module.__name__:
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


# Verbs whose last required parameter may legitimately be empty.
_EMPTY_LAST_OK = frozenset({"TOPIC", "AWAY", "QUIT", "PART", "KICK", "PONG", "PING"})
