# -*- test-case-name: tests.unit.test_admin_tree -*-
"""The ``AS`` admin grammar: a tree built from declarations.

Every verb is declared once (in ``families/``) as a :class:`Verb`: its path
(keywords and ``<param>`` words), typed arguments, a one-line help text, how it
changes a :class:`Settings` snapshot, what it contributes to the family LIST
and how the canonical writer writes it back.  The parser, HELP, the error
messages with their syntax lines and the writer are all derived from those
declarations; nothing here knows about any particular verb.

The same :class:`AdminTree` runs the config file at start-up and the ``AS``
commands operators type live.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Generic, Iterable, Mapping, Sequence, TypeVar

from conferenceroom.admin.settings import Settings, fold_name, get_field, with_field
from conferenceroom.admin.types import ArgType, BindIP, Text
from conferenceroom.passwords import DEFAULT_ROUNDS, hash_password


class AdminError(Exception):
    """A bad AS command: says what was wrong and the right syntax."""

    def __init__(self, reason: str, syntax: str = ""):
        self.reason = reason
        self.syntax = syntax
        super().__init__(f"{reason}. Syntax: {syntax}" if syntax else reason)


def redact(words: list[str]) -> str:
    """The command as it may be logged: the word after PASSWORD (and an
    ``OPER <name> ADD`` password) replaced by ``****``."""
    out = list(words)
    low = [word.lower() for word in words]
    for i, word in enumerate(low[:-1]):
        if word == "password" or (word == "add" and low[0] == "oper" and i == 2):
            out[i + 1] = "****"
    return " ".join(out)


def changed_lines(tree: "AdminTree", old: Settings, new: Settings, now: float | None = None) -> list[str]:
    """What differs between two snapshots, as canonical lines (passwords hidden).

    ``set: <line>`` for a new or changed line, ``removed: <line>`` for a line
    whose setting or entry (its :meth:`AdminTree.line_key`) is gone.
    """
    before, after = tree.write(old, now=now), tree.write(new, now=now)
    before_set, after_set = set(before), set(after)
    kept_keys = {tree.line_key(line.split()) for line in after}
    gone = [
        f"removed: {redact(line.split())}"
        for line in before
        if line not in after_set and tree.line_key(line.split()) not in kept_keys
    ]
    came = [f"set: {redact(line.split())}" for line in after if line not in before_set]
    return gone + came


class Refused(Exception):
    """Raised by a verb's ``apply`` for a well-formed command that cannot be
    done (``OPER x DEL`` for an unknown oper); becomes an :class:`AdminError`
    carrying that verb's syntax."""


# --------------------------------------------------------------------------
# Declarations.


@dataclass(frozen=True)
class Param:
    """A variable word inside a path, such as the oper name in ``OPER <name> ADD``."""

    name: str
    type: ArgType


E = TypeVar("E")


@dataclass(frozen=True)
class Entries(Generic[E]):
    """Named entries kept in one map field of :class:`Settings` (``opers``,
    ``servers``) under their folded name: the look-up, store and removal
    that every verb on one entry (``OPER <name> ...``) shares."""

    attr: str
    unknown: str  # the refusal for a missing entry; ``{name}`` is the name asked for

    def get(self, s: Settings, name: str) -> E:
        """The entry called ``name``; :class:`Refused` when there is none."""
        entry = getattr(s, self.attr).get(fold_name(name))
        if entry is None:
            raise Refused(self.unknown.format(name=name))
        return entry

    def put(self, s: Settings, name: str, entry: E) -> Settings:
        """``s`` with ``entry`` stored (added or replaced) under ``name``."""
        return replace(s, **{self.attr: getattr(s, self.attr).set(fold_name(name), entry)})

    def drop(self, s: Settings, name: str) -> Settings:
        """``s`` without the entry called ``name``."""
        return replace(s, **{self.attr: getattr(s, self.attr).remove(fold_name(name))})


@dataclass(frozen=True)
class Arg:
    """A typed argument after the path.  ``rest`` takes the rest of the line;
    ``shown`` replaces the syntax text (``[duration] [reason]``)."""

    name: str
    type: ArgType
    optional: bool = False
    rest: bool = False
    default: Any = None
    shown: str | None = None

    @property
    def label(self) -> str:
        """The argument's placeholder as syntax lines show it (``<mask>``, ``on|off``)."""
        if self.shown:
            return self.shown
        return self.type.placeholder if self.type.literal else f"<{self.type.placeholder}>"

    @property
    def syntax(self) -> str:
        """:attr:`label`, in brackets when the argument is optional."""
        if self.shown:
            return self.shown
        return f"[{self.label}]" if self.optional else self.label


@dataclass(frozen=True)
class Context:
    """What a verb may use besides the settings (injected; no globals).

    ``clock`` returns the current unix time (the reactor's ``seconds``);
    None when the tree has no clock, and then verbs that need the time (a
    ban duration) refuse.  ``actor`` names who runs the command ("" for
    the config file).
    """

    hash_password: Callable[[str], str]
    clock: Callable[[], float] | None = None
    actor: str = ""

    def now(self) -> int | None:
        """The current unix time in whole seconds, or None without a clock."""
        return None if self.clock is None else int(self.clock())


@dataclass(frozen=True)
class Outcome:
    """What a verb's ``apply`` returns."""

    settings: Settings
    replies: tuple[str, ...] = ()
    restart_needed: str | None = None
    #: True (or a sentence saying why) when the source line must be rewritten.
    rewrite: bool | str = False


#: ``apply(context, settings, values)`` where values maps param/arg names to parsed values.
ApplyFn = Callable[[Context, Settings, Mapping[str, Any]], Outcome]
#: ``write(settings)`` yields (param values, argument words) for each line of
#: its own verb, or a whole canonical line as a str (a family writing its
#: entries grouped, e.g. every line of one server definition together).
WriteFn = Callable[[Settings], Iterable["tuple[Mapping[str, str], Sequence[str]] | str"]]
#: ``listing(settings)`` yields lines for the family LIST.
ListFn = Callable[[Settings], Iterable[str]]


@dataclass(frozen=True)
class Verb:
    """One declared command."""

    path: tuple[str | Param, ...]
    help: str
    apply: ApplyFn
    args: tuple[Arg, ...] = ()
    write: WriteFn | None = None
    listing: ListFn | None = None
    #: Which setting a line of this verb sets, when verbs share one
    #: (``GENERAL SET HUB``/``LEAF``); used to keep comments beside it.
    slot: str | None = None
    #: How many leading arguments identify an entry (``TRIGGER ADD <mask>``).
    key_args: int = 0

    @property
    def syntax(self) -> str:
        """The verb's full syntax line, e.g. ``OPER <name> ADD <password> [<flags>]``."""
        words = [p.upper() if isinstance(p, str) else f"<{p.name}>" for p in self.path]
        words += [a.syntax for a in self.args]
        return " ".join(words)

    def render(self, params: Mapping[str, str], args: Sequence[str]) -> str:
        """The canonical config line for this verb (lowercase keywords)."""
        words = [p if isinstance(p, str) else params[p.name] for p in self.path]
        words += [a for a in args if a != ""]
        return " ".join(words)


@dataclass(frozen=True)
class Family:
    """A top-level keyword with its verbs; ``listing`` adds ``<FAMILY> LIST``."""

    name: str
    summary: str
    verbs: tuple[Verb, ...]
    listing: bool = False


def split_path(path: str | Sequence[str | Param]) -> tuple[str | Param, ...]:
    """Turn ``"general set name"`` into a path tuple; tuples pass through."""
    if isinstance(path, str):
        return tuple(path.lower().split())
    return tuple(p.lower() if isinstance(p, str) else p for p in path)


def setting(
    path: str | Sequence[str | Param],
    field_name: str,
    argtype: ArgType,
    *,
    label: str,
    help: str,
    reply: str | None = None,
    always: bool = False,
    restart: str | None = None,
    unset: str = "(not set)",
) -> Verb:
    """Declare a scalar setting ``<path> <value>`` stored at ``field_name``."""
    default = get_field(Settings(), field_name)
    reply = reply or f"{label} set to {{value}}"

    def apply(ctx: Context, s: Settings, values: Mapping[str, Any]) -> Outcome:
        value = values["value"]
        return Outcome(with_field(s, field_name, value), (reply.format(value=argtype.display(value)),), restart)

    def write(s: Settings):
        value = get_field(s, field_name)
        if always or value != default:
            yield {}, (argtype.format(value),)

    def listing(s: Settings):
        value = get_field(s, field_name)
        missing = value is None or (value == "" and not isinstance(argtype, BindIP))
        yield f"{label}: {unset if missing else argtype.display(value)}"

    return Verb(split_path(path), help, apply, (Arg("value", argtype, rest=isinstance(argtype, Text)),), write, listing,
                slot=field_name)


@dataclass(frozen=True)
class Option:
    """One keyword of a :func:`choice`: ``GENERAL SET HUB`` stores ``"hub"``."""

    value: Any
    path: str
    help: str
    display: str


def choice(
    field_name: str,
    options: Sequence[Option],
    *,
    label: str,
    always: bool = False,
    restart: str | None = None,
) -> tuple[Verb, ...]:
    """Declare a setting chosen by keyword (``SSL ENABLE``/``SSL DISABLE``).

    Each option writes its own line when the setting holds its value; the
    first option's verb carries the LIST line.
    """
    default = get_field(Settings(), field_name)
    by_value = {o.value: o for o in options}
    verbs = []

    def listing(s: Settings):
        yield f"{label}: {by_value[get_field(s, field_name)].display}"

    for i, opt in enumerate(options):
        def apply(ctx: Context, s: Settings, values: Mapping[str, Any], opt: Option = opt) -> Outcome:
            return Outcome(with_field(s, field_name, opt.value), (f"{label} set to {opt.display}",), restart)

        def write(s: Settings, opt: Option = opt):
            value = get_field(s, field_name)
            if value == opt.value and (always or value != default):
                yield {}, ()

        verbs.append(Verb(split_path(opt.path), opt.help, apply, (), write, listing if i == 0 else None,
                          slot=field_name))
    return tuple(verbs)


# --------------------------------------------------------------------------
# The tree.


@dataclass(frozen=True)
class Result:
    """The outcome of one AS command.

    ``settings`` is the very same object when nothing changed.  ``rewrite``
    is True when a plain-text password was hashed, so the source (the config
    file) must be rewritten.
    """

    settings: Settings
    replies: list[str]
    changed: bool
    restart_needed: str | None = None
    rewrite: bool | str = False


@dataclass
class _Node:
    """One word of the grammar: its keyword and parameter children and the verb ending here."""

    words: tuple[str, ...]  # display path, e.g. ("OPER", "<name>")
    topic: tuple[str, ...]  # keyword-only path, for HELP
    keywords: dict[str, "_Node"] = field(default_factory=dict)
    param: tuple[Param, "_Node"] | None = None
    verb: Verb | None = None
    verbs_below: list[Verb] = field(default_factory=list)

    def summary_syntax(self) -> str:
        """The syntax of this node's own verb and of the words that may follow it."""
        parts = []
        if self.verb is not None:
            parts.append(self.verb.syntax)
        alts = [k.upper() for k in self.keywords]
        if self.param is not None:
            alts.append(f"<{self.param[0].name}>")
        if alts:
            prefix = " ".join(self.words)
            parts.append(f"{prefix} {'|'.join(alts)} ...".strip())
        text = " or ".join(parts)
        topic = " ".join(w.upper() for w in self.topic)
        return f"{text} (see HELP {topic})" if topic else f"{text} (see HELP)"


class AdminTree:
    """The AS command tree built from :class:`Family` declarations."""

    def __init__(self, families: Sequence[Family], context: Context):
        self.context = context
        self.families = tuple(families)
        self._root = _Node((), ())
        self._verbs: list[Verb] = []
        for fam in self.families:
            for verb in fam.verbs:
                self._add(verb, fam)
            if fam.listing:
                self._add(self._family_list_verb(fam), fam)
        topic = Text("family [topic]")
        topic.literal = True
        self._add(Verb(("help",), "show AS commands; HELP <family> or HELP <family> <topic> for details",
                       self._apply_help, (Arg("topic", topic, optional=True, rest=True),)), None)

    # -- building ------------------------------------------------------------

    def _add(self, verb: Verb, fam: Family | None) -> None:
        if not verb.help.strip():
            raise ValueError(f"{verb.syntax}: declared without help")
        node = self._root
        nodes = [node]
        for part in verb.path:
            if isinstance(part, str):
                child = node.keywords.get(part)
                if child is None:
                    child = node.keywords[part] = _Node(node.words + (part.upper(),), node.topic + (part,))
            else:
                if node.param is None:
                    node.param = (part, _Node(node.words + (f"<{part.name}>",), node.topic))
                elif node.param[0] != part:
                    raise ValueError(f"{verb.syntax}: conflicting parameter <{part.name}>")
                child = node.param[1]
            node = child
            nodes.append(node)
        if node.verb is not None:
            raise ValueError(f"{verb.syntax}: declared twice")
        node.verb = verb
        for n in nodes:
            n.verbs_below.append(verb)
        self._verbs.append(verb)

    def _family_list_verb(self, fam: Family) -> Verb:
        listers = [v.listing for v in fam.verbs if v.listing is not None]

        def apply(ctx: Context, s: Settings, values: Mapping[str, Any]) -> Outcome:
            lines = [f"{fam.name.upper()} settings:"]
            for lister in listers:
                lines.extend(f"  {line}" for line in lister(s))
            return Outcome(s, tuple(lines))

        return Verb((fam.name, "list"), f"list every {fam.name.upper()} setting", apply)

    def _apply_help(self, ctx: Context, s: Settings, values: Mapping[str, Any]) -> Outcome:
        topic = (values.get("topic") or "").split()
        return Outcome(s, tuple(self.help(topic)))

    # -- running -------------------------------------------------------------

    def _resolve(self, words: Sequence[str]) -> tuple[Verb, dict[str, Any], list[str], _Node]:
        node = self._root
        values: dict[str, Any] = {}
        i = 0
        while i < len(words):
            child = node.keywords.get(words[i].lower())
            if child is not None:
                node = child
            elif node.param is not None:
                param, child = node.param
                try:
                    values[param.name] = param.type.parse(words[i])
                except ValueError as exc:
                    raise AdminError(f"Bad <{param.name}> '{words[i]}': {exc}", child.summary_syntax()) from None
                node = child
            else:
                break
            i += 1
        if node.verb is None:
            if i < len(words):
                what = f"{' '.join(node.words)} keyword" if node.words else "AS command"
                raise AdminError(f"Unknown {what} '{words[i]}'", node.summary_syntax())
            if node is self._root:
                raise AdminError("No command given", self._root.summary_syntax())
            raise AdminError(f"Incomplete command {' '.join(node.words)}", node.summary_syntax())
        return node.verb, values, list(words[i:]), node

    def _parse_args(self, verb: Verb, rest: list[str], node: _Node, values: dict[str, Any]) -> None:
        j = 0
        for arg in verb.args:
            if j >= len(rest):
                if arg.optional:
                    values[arg.name] = arg.default
                    continue
                raise AdminError(f"Missing {arg.label}", verb.syntax)
            if arg.rest:
                text, j = " ".join(rest[j:]), len(rest)
            else:
                text, j = rest[j], j + 1
            try:
                values[arg.name] = arg.type.parse(text)
            except ValueError as exc:
                shown = "****" if arg.type.secret else text  # never repeat a password
                raise AdminError(f"Bad {arg.label} '{shown}': {exc}", verb.syntax) from None
        if j < len(rest):
            extra = " ".join(rest[j:])
            if node.keywords or node.param:
                raise AdminError(f"Unknown {' '.join(node.words)} keyword '{rest[j]}'", node.summary_syntax())
            raise AdminError(f"Too many arguments: '{extra}'", verb.syntax)

    def execute(self, settings: Settings, words: Sequence[str], *,
                now: float | None = None, actor: str | None = None) -> Result:
        """Run one AS command given as words (without the ``AS`` itself).

        *now* (unix time, read from the reactor by the caller) overrides the
        tree's clock; *actor* names who runs it (recorded on bans).  Raises
        :class:`AdminError` for a bad command; *settings* is never changed.
        This is pure (no shared state), so it may run in a thread.
        """
        ctx = self.context
        if now is not None:
            ctx = replace(ctx, clock=lambda: now)
        if actor is not None:
            ctx = replace(ctx, actor=actor)
        return self._execute(ctx, settings, words)

    def _execute(self, ctx: Context, settings: Settings, words: Sequence[str]) -> Result:
        verb, values, rest, node = self._resolve(words)
        self._parse_args(verb, rest, node, values)
        try:
            outcome = verb.apply(ctx, settings, values)
        except Refused as exc:
            raise AdminError(str(exc), verb.syntax) from None
        new = outcome.settings
        changed = new != settings
        if not changed:
            new = settings
        return Result(new, list(outcome.replies), changed,
                      outcome.restart_needed if changed else None, outcome.rewrite)

    def execute_line(self, settings: Settings, line: str, *, now: float | None = None) -> Result:
        """Run one AS command given as a line of text (as in the config file)."""
        return self.execute(settings, line.split(), now=now)

    def without_clock(self) -> "AdminTree":
        """A copy of this tree whose verbs see no clock (for checking a written file)."""
        copy = object.__new__(AdminTree)
        copy.__dict__.update(self.__dict__)
        copy.context = replace(self.context, clock=None, actor="")
        return copy

    # -- identifying lines (for keeping comments when saving) ---------------------

    @property
    def family_words(self) -> frozenset[str]:
        """The first words this tree understands (family names and ``help``)."""
        return frozenset(self._root.keywords)

    def line_key(self, words: Sequence[str]) -> tuple[Any, ...] | None:
        """What setting or entry a command line sets, or None if it does not parse.

        Two lines with the same key set the same thing (``general set hub`` and
        ``general set leaf``; ``server tenor set port 1`` and ``... port 2``).
        The first element is the family, the second the folded parameters.
        """
        try:
            verb, values, rest, _node = self._resolve(words)
        except AdminError:
            return None
        params = tuple(fold_name(str(values[p.name])) for p in verb.path if isinstance(p, Param))
        what = verb.slot or tuple(p for p in verb.path if isinstance(p, str))
        ident = tuple(fold_name(w) for w in rest[:verb.key_args])
        return (verb.path[0], params, what, ident)

    # -- help ----------------------------------------------------------------

    def _help_node(self, words: Sequence[str]) -> _Node:
        node = self._root
        for word in words:
            low = word.lower()
            if low in node.keywords:
                node = node.keywords[low]
            elif node.param is not None and low in node.param[1].keywords:
                node = node.param[1].keywords[low]
            elif node.param is not None:
                node = node.param[1]
            else:
                raise AdminError(f"No help for '{' '.join(words)}'", "HELP [family [topic]]")
        return node

    def help(self, words: Sequence[str] = ()) -> list[str]:
        """Help lines for a topic (``[]`` lists the families)."""
        if not words:
            lines = ["AS commands (HELP <family> for details):"]
            for fam in self.families:
                lines.append(f"  {fam.name.upper()} - {fam.summary}")
            lines.append("  HELP [family [topic]] - this help")
            return lines
        node = self._help_node(words)
        return [f"{v.syntax} - {v.help}" for v in node.verbs_below]

    def topics(self) -> list[tuple[str, ...]]:
        """Every help topic (keyword path) in the tree, for tests and docs."""
        out: list[tuple[str, ...]] = []

        def walk(node: _Node) -> None:
            if node.topic not in out:
                out.append(node.topic)
            for child in node.keywords.values():
                walk(child)
            if node.param is not None:
                walk(node.param[1])

        walk(self._root)
        return out

    @property
    def verbs(self) -> tuple[Verb, ...]:
        """Every declared verb, in declaration order."""
        return tuple(self._verbs)

    # -- writing -------------------------------------------------------------

    def write(self, settings: Settings, now: float | None = None) -> list[str]:
        """Canonical AS lines that rebuild *settings* when run from defaults.

        Bans expired at *now* (default: the tree's clock, if any) are left out.
        """
        if now is None:
            now = self.context.now()
        if now is not None:
            settings = settings.without_expired(now)
        lines = []
        for verb in self._verbs:
            if verb.write is None:
                continue
            for item in verb.write(settings):
                lines.append(item if isinstance(item, str) else verb.render(*item))
        return lines


def build_tree(*, bcrypt_rounds: int = DEFAULT_ROUNDS,
               families: Sequence[Callable[[], Family]] | None = None,
               hasher: Callable[[str], str] | None = None,
               clock: Any = None) -> AdminTree:
    """Build a fresh AS tree from the family declarations.

    *bcrypt_rounds* sets the cost of hashing plain-text passwords (tests use
    4); *hasher* replaces hashing entirely.  *families* defaults to every
    family in :mod:`conferenceroom.admin.families`.  *clock* is an
    ``IReactorTime`` (or a function returning unix time) for verbs that need
    the time (ban expiry); without one they refuse durations.
    """
    if families is None:
        from conferenceroom.admin.families import ALL_FAMILIES

        families = ALL_FAMILIES
    if hasher is None:
        def hasher(plain: str) -> str:
            return hash_password(plain, rounds=bcrypt_rounds)
    now = getattr(clock, "seconds", clock)
    return AdminTree([make() for make in families], Context(hash_password=hasher, clock=now))
