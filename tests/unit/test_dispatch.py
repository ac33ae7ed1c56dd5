"""The command table: 451, 461, 481 and 421 are decided centrally, for every verb."""

from __future__ import annotations

import types
from typing import Any

import pytest

from conferenceroom.dispatch import CommandSpec, CommandTable, command
from conferenceroom.wire import Message
from tests.helpers import connect, feed, make_core, register, sent

_TABLE = make_core().commands.specs
NEEDS_PARAMS = sorted(v for v, s in _TABLE.items() if s.min_params > 0)
REGISTERED_ONLY = sorted(v for v, s in _TABLE.items() if s.registered)
OPER_ONLY = sorted(v for v, s in _TABLE.items() if s.oper is not None)


@pytest.mark.parametrize("verb", sorted(_TABLE))
def test_every_verb_with_zero_params(verb: str) -> None:
    """Every verb sent bare gets 451 before registration (if it needs it) and 461 after
    (if it declares a minimum), through the central checks.

    Verbs declaring ``min_params=0`` are exempt from 461: they answer in their own
    way (NICK 431, PRIVMSG 411, ...), which their family's tests cover.  QUIT is
    also skipped after registration since it ends the connection.
    """
    spec = _TABLE[verb]
    core = make_core()
    conn = connect(core)
    feed(conn, verb)
    out = sent(conn)
    if spec.registered:
        assert [m.command for m in out] == ["451"], (verb, out)
        assert out[0].params == ("*", "You have not registered")
    elif spec.min_params > 0:
        assert [m.command for m in out][:1] == ["461"], (verb, out)
        assert out[0].params[:2] == ("*", verb)
    if verb == "QUIT":
        return
    conn = register(core, "tester")
    feed(conn, verb)
    out = sent(conn)
    if spec.min_params > 0:
        assert [m.command for m in out] == ["461"], (verb, out)
        assert out[0].params == ("tester", verb, "Not enough parameters")
    else:
        assert not conn.transport.disconnecting
        assert all(m.command not in ("461", "400") for m in out), (verb, out)


@pytest.mark.parametrize("verb", NEEDS_PARAMS)
def test_one_short_gives_461(verb: str) -> None:
    """One parameter fewer than the declared minimum is 461 too."""
    spec = _TABLE[verb]
    core = make_core()
    conn = register(core, "tester")
    feed(conn, verb + " x" * (spec.min_params - 1))
    assert [m.command for m in sent(conn)] == ["461"]


@pytest.mark.parametrize("verb", OPER_ONLY)
def test_oper_only_verbs_481_for_non_opers(verb: str) -> None:
    """An oper-only verb with enough parameters gets 481 from a normal user."""
    spec = _TABLE[verb]
    core = make_core()
    conn = register(core, "tester")
    feed(conn, verb + " x" * spec.min_params)
    out = sent(conn)
    assert [m.command for m in out] == ["481"], out
    assert out[0].params == ("tester", "Permission Denied- You're not an IRC operator")


def test_unknown_command_421_after_registration() -> None:
    """An unknown verb is 421 naming it, once registered."""
    core = make_core()
    conn = register(core, "tester")
    feed(conn, "FROBNICATE a b", "frob")
    out = sent(conn)
    assert [(m.command, m.params) for m in out] == [
        ("421", ("tester", "FROBNICATE", "Unknown command")),
        ("421", ("tester", "FROB", "Unknown command")),
    ]


def test_unknown_command_451_before_registration() -> None:
    """An unknown verb before registration gets 451."""
    core = make_core()
    conn = connect(core)
    feed(conn, "FROBNICATE a b")
    assert [m.command for m in sent(conn)] == ["451"]


def test_verbs_are_case_insensitive() -> None:
    """``ping`` is PING."""
    core = make_core()
    conn = register(core, "tester")
    feed(conn, "ping :tok")
    assert [m.command for m in sent(conn)] == ["PONG"]


# -- a table of our own -------------------------------------------------------------


class Ctx:
    """A dispatch context recording replies and handler calls."""

    def __init__(self, registered: bool = True, oper_flags: str | None = None) -> None:
        self.registered = registered
        self.oper_flags = oper_flags
        self.replies: list[tuple[str, tuple[object, ...]]] = []
        self.calls: list[Message] = []

    def is_oper(self, flags: str) -> bool:
        """Oper with any of ``flags`` ('' = any oper)."""
        if self.oper_flags is None:
            return False
        return not flags or any(f in self.oper_flags for f in flags)

    def reply(self, name: str, *args: object) -> None:
        """Record a numeric."""
        self.replies.append((name, args))


def make_table() -> CommandTable:
    """A table built from a throwaway module of marked handlers."""
    module = types.ModuleType("fake_commands")

    def handler(ctx: Any, msg: Message) -> str:
        ctx.calls.append(msg)
        return "ran"

    handler.__module__ = "fake_commands"
    for verb, kw in [
        ("OPEN", dict(registered=False)),
        ("NEED2", dict(min_params=2)),
        ("TOPIC", dict(min_params=1)),
        ("ANYOPER", dict(min_params=1, oper="")),
        ("CONFIG", dict(oper="ac", penalty=5)),
    ]:
        func = command(verb, **kw)(lambda ctx, msg, _h=handler: _h(ctx, msg))  # type: ignore[arg-type]
        func.__module__ = "fake_commands"
        setattr(module, verb.lower(), func)
    imported = command("IMPORTED")(lambda ctx, msg: None)
    imported.__module__ = "elsewhere"
    module.imported = imported  # type: ignore[attr-defined]
    return CommandTable.from_modules(module)


def test_table_from_module_skips_imported_handlers() -> None:
    """Only handlers defined in the module itself are collected."""
    table = make_table()
    assert set(table.specs) == {"OPEN", "NEED2", "TOPIC", "ANYOPER", "CONFIG"}


def test_table_duplicate_verb_refused() -> None:
    """A verb may be declared once per table."""
    table = make_table()
    with pytest.raises(ValueError):
        table.add(CommandSpec("OPEN", lambda c, m: None))


def test_table_get_and_penalty() -> None:
    """get() and penalty() are case-insensitive; unknown verbs cost 1."""
    table = make_table()
    assert table.get("config") is table.specs["CONFIG"]
    assert table.penalty("Config") == 5 and table.penalty("OPEN") == 1
    assert table.penalty("NOPE") == 1 and table.get("nope") is None


def test_table_order_of_checks() -> None:
    """451 comes first, then 461, then 481; the handler runs only when all pass."""
    table = make_table()
    ctx = Ctx(registered=False)
    table.dispatch(ctx, Message("ANYOPER"))
    table.dispatch(ctx, Message("OPEN"))
    assert [r[0] for r in ctx.replies] == ["ERR_NOTREGISTERED"] and len(ctx.calls) == 1
    ctx = Ctx()
    table.dispatch(ctx, Message("ANYOPER"))
    table.dispatch(ctx, Message("ANYOPER", ("x",)))
    assert [r[0] for r in ctx.replies] == ["ERR_NEEDMOREPARAMS", "ERR_NOPRIVILEGES"]
    assert ctx.replies[0][1] == ("ANYOPER",) and ctx.calls == []
    ctx = Ctx(oper_flags="g")
    assert table.dispatch(ctx, Message("ANYOPER", ("x",))) == "ran"
    table.dispatch(ctx, Message("CONFIG"))
    assert [r[0] for r in ctx.replies] == ["ERR_NOOPERFLAG"]
    ctx = Ctx(oper_flags="c")
    assert table.dispatch(ctx, Message("CONFIG")) == "ran"


def test_table_empty_last_required_param() -> None:
    """An empty last required parameter counts as missing, except for verbs that allow it."""
    table = make_table()
    ctx = Ctx()
    table.dispatch(ctx, Message("NEED2", ("a", "")))
    assert [r[0] for r in ctx.replies] == ["ERR_NEEDMOREPARAMS"]
    table.dispatch(ctx, Message("NEED2", ("a", "b", "")))
    table.dispatch(ctx, Message("TOPIC", ("",)))
    assert len(ctx.calls) == 2 and len(ctx.replies) == 1


def test_table_unknown_verb() -> None:
    """Unknown verbs: 421 once registered, 451 before."""
    table = make_table()
    ctx = Ctx()
    table.dispatch(ctx, Message("WHAT"))
    assert ctx.replies == [("ERR_UNKNOWNCOMMAND", ("WHAT",))]
    ctx = Ctx(registered=False)
    table.dispatch(ctx, Message("WHAT"))
    assert ctx.replies == [("ERR_NOTREGISTERED", ())]


def test_one_function_many_verbs() -> None:
    """A function may carry several @command declarations."""
    module = types.ModuleType("multi")

    @command("ONE")
    @command("TWO", min_params=1)
    def both(ctx: Any, msg: Message) -> None:
        ctx.calls.append(msg)

    both.__module__ = "multi"
    module.both = both  # type: ignore[attr-defined]
    table = CommandTable.from_modules(module)
    assert table.specs["ONE"].min_params == 0 and table.specs["TWO"].min_params == 1
    assert table.specs["ONE"].handler is table.specs["TWO"].handler


FLAGGED = sorted(v for v, s in _TABLE.items() if s.oper)


@pytest.mark.parametrize("verb", FLAGGED)
def test_oper_without_the_flag_is_told_which_flag(verb: str) -> None:
    """An operator lacking the needed flag gets 481 naming the flag(s), not
    "You're not an IRC operator"; a normal user keeps the usual text."""
    spec = _TABLE[verb]
    core = make_core()
    conn = register(core, "tester")
    core.network.set_oper(conn.user, "helper", frozenset("h"))
    sent(conn)
    feed(conn, verb + " x" * max(spec.min_params, 1))
    out = sent(conn)
    flags = " or ".join(spec.oper)
    assert [(m.command, m.params[1:]) for m in out] == [
        ("481", (f"Permission Denied - you need operator flag {flags}",))], out
    plain = register(core, "plain")
    feed(plain, verb + " x" * max(spec.min_params, 1))
    assert [m.params[1:] for m in sent(plain)] == [("Permission Denied- You're not an IRC operator",)]
