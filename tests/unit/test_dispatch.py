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


# -- server-origin commands ---------------------------------------------------------------


class FakeLink:
    """A server link as the dispatcher sees it: its route, its peer, and what it reported."""

    def __init__(self, route: Any, peer: Any, registered: bool = True) -> None:
        self.route = route
        self.peer = peer
        self.registered = registered
        self.errors: list[str] = []
        self.replies: list[Any] = []

    def protocol_error(self, reason: str) -> None:
        """Record a protocol error (the real link sends ERROR and closes)."""
        self.errors.append(reason)

    def reply(self, *args: Any) -> None:  # a client numeric must never be sent to a link
        """Record a client-style reply."""
        self.replies.append(args)


class ServerWorld:
    """A network with two links: near.test (with user nina) on one, far.test (with user fred) on another."""

    def __init__(self) -> None:
        from twisted.internet import task
        from twisted.logger import Logger

        from conferenceroom.network import Network, Server, User
        from tests.helpers import RecordingRoute

        self.network = Network(Server("me.test", "0AA"), task.Clock())
        self.near_route, self.far_route = RecordingRoute(), RecordingRoute()
        self.near = Server("near.test", "1NE", uplink=self.network.me, route=self.near_route, hopcount=1)
        self.behind = Server("behind.test", "3BE", uplink=self.near, route=self.near_route, hopcount=2)
        self.far = Server("far.test", "2FA", uplink=self.network.me, route=self.far_route, hopcount=1)
        for server in (self.near, self.behind, self.far):
            self.network.add_server(server, origin=server.route)
        self.nina = User("1NEAAAAAA", "nina", "n", "h", "r", self.near, self.near_route)
        self.fred = User("2FAAAAAAA", "fred", "f", "h", "r", self.far, self.far_route)
        self.network.add_user(self.nina, origin=self.near_route)
        self.network.add_user(self.fred, origin=self.far_route)
        self.calls: list[tuple[str, Any, Message]] = []
        module = types.ModuleType("servercmds")

        def topic(link: Any, source: Any, msg: Message) -> None:
            self.calls.append(("TOPIC", source, msg))

        def server_verb(link: Any, source: Any, msg: Message) -> None:
            self.calls.append(("SERVER", source, msg))

        for func, verb, kw in ((topic, "TOPIC", dict(min_params=2)),
                               (server_verb, "SERVER", dict(min_params=3, registered=False))):
            func.__module__ = module.__name__
            setattr(module, verb.lower(), command(verb, origin="server", **kw)(func))

        def client_topic(ctx: Any, msg: Message) -> None:
            self.calls.append(("client TOPIC", ctx, msg))

        client_topic.__module__ = module.__name__
        module.client_topic = command("TOPIC", min_params=1)(client_topic)
        self.module = module
        self.logged: list[str] = []
        self.table = ServerCommandTable.from_modules(module, origin="server")
        self.table.log = Logger(observer=lambda event: self.logged.append(formatEvent(event)))
        self.table.network = self.network
        self.link = FakeLink(self.near_route, self.near)


from twisted.logger import formatEvent  # noqa: E402

from conferenceroom.dispatch import ServerCommandTable  # noqa: E402


def test_server_and_client_tables_are_separate() -> None:
    """The same verb has a client handler and a server handler; each table holds only its own."""
    w = ServerWorld()
    client = CommandTable.from_modules(w.module)
    assert set(client.specs) == {"TOPIC"} and client.specs["TOPIC"].origin == "client"
    assert set(w.table.specs) == {"TOPIC", "SERVER"} and w.table.specs["TOPIC"].origin == "server"
    assert client.specs["TOPIC"].handler is not w.table.specs["TOPIC"].handler


def test_server_message_from_behind_its_link_runs_with_source_object() -> None:
    """A message whose source (UID, SID, or none = the peer) lives behind the link it came on runs."""
    w = ServerWorld()
    w.table.dispatch(w.link, Message("TOPIC", ("#c", "hi"), "1NEAAAAAA"))
    w.table.dispatch(w.link, Message("TOPIC", ("#c", "hi"), "3BE"))
    w.table.dispatch(w.link, Message("TOPIC", ("#c", "hi"), "behind.test"))
    w.table.dispatch(w.link, Message("TOPIC", ("#c", "hi")))
    assert [source for _, source, _ in w.calls] == [w.nina, w.behind, w.behind, w.near]
    assert w.link.errors == [] and w.link.replies == [] and w.logged == []


def test_message_from_the_wrong_direction_is_dropped_and_logged() -> None:
    """A link naming a user or server that lives behind another link gets nothing done, and it is logged."""
    w = ServerWorld()
    w.table.dispatch(w.link, Message("TOPIC", ("#c", "spoof"), "2FAAAAAAA"))
    w.table.dispatch(w.link, Message("TOPIC", ("#c", "spoof"), "2FA"))
    w.table.dispatch(w.link, Message("TOPIC", ("#c", "spoof"), "0AA"))  # claims to be us
    assert w.calls == [] and w.link.errors == [] and w.link.replies == []
    assert len(w.logged) == 3
    assert "wrong direction" in w.logged[0] and "TOPIC" in w.logged[0] and "2FAAAAAAA" in w.logged[0]
    assert "near.test" in w.logged[0]


def test_unknown_source_is_dropped_and_logged() -> None:
    """A source nobody knows (a user already killed, say) is dropped with a log line, the link kept."""
    w = ServerWorld()
    w.table.dispatch(w.link, Message("TOPIC", ("#c", "x"), "1NEZZZZZZ"))
    assert w.calls == [] and w.link.errors == []
    assert len(w.logged) == 1 and "unknown source 1NEZZZZZZ" in w.logged[0]


def test_short_server_message_is_a_protocol_error_not_a_numeric() -> None:
    """TOPIC with one parameter from a server is reported to the link as a protocol error; no 461."""
    w = ServerWorld()
    w.table.dispatch(w.link, Message("TOPIC", ("#c",), "1NEAAAAAA"))
    assert w.calls == [] and w.link.replies == []
    assert w.link.errors == ["TOPIC from 1NEAAAAAA: 2 parameters needed, 1 given"]


def test_unknown_server_command_is_logged_not_fatal() -> None:
    """A verb we have no server handler for is logged and ignored (peers may speak newer extensions)."""
    w = ServerWorld()
    w.table.dispatch(w.link, Message("FROBNICATE", ("x",), "1NE"))
    assert w.link.errors == [] and w.link.replies == [] and w.calls == []
    assert len(w.logged) == 1 and "FROBNICATE" in w.logged[0]


def test_unregistered_link_runs_only_handshake_verbs() -> None:
    """Before the handshake completes only verbs declared registered=False run; others are protocol errors."""
    w = ServerWorld()
    link = FakeLink(RecordingRouteForDispatch(), None, registered=False)
    w.table.dispatch(link, Message("SERVER", ("new.test", "1", "New")))
    assert [(verb, source) for verb, source, _ in w.calls] == [("SERVER", None)]
    w.table.dispatch(link, Message("TOPIC", ("#c", "x"), "1NEAAAAAA"))
    assert link.errors == ["TOPIC before the link registered"] and len(w.calls) == 1


class RecordingRouteForDispatch:
    """A route nobody is behind yet."""

    is_client = False


def test_stats_m_counts_each_verb_run_and_nothing_else() -> None:
    """Each handled line counts once for its verb (STATS m's figures); a verb never run counts 0
    and is not listed; unknown and refused lines count nothing."""
    core = make_core()
    conn = register(core, "counter")
    before = dict(core.commands.counts)
    feed(conn, "PING a", "ping b", "NOSUCHVERB x", "JOIN")
    counts = core.commands.counts
    assert counts["PING"] - before.get("PING", 0) == 2
    assert counts["NEVERSENT"] == 0 and "NEVERSENT" not in counts
    assert "NOSUCHVERB" not in counts and counts["JOIN"] == before.get("JOIN", 0)
    assert isinstance(counts, dict) and sorted(counts.items()) == sorted(dict(counts).items())
