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

import difflib
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Generic, Iterable, Mapping, Sequence, TypeVar

from conferenceroom.admin.settings import Settings, fold_name, get_field, with_field
from conferenceroom.admin.types import ArgType, BindIP, Text
from conferenceroom.passwords import DEFAULT_ROUNDS, hash_password


class AdminError(Exception):
    """A bad AS command: says what was wrong and the right syntax.

    ``str()`` is for the operator who typed the command and may quote any
    word of it.  :attr:`public` is for everyone else (logs, other operators,
    config-file errors): it quotes no word the grammar could not place, nor
    any secret.  :attr:`command` is the command as it may be logged: masked
    by the grammar when it parsed, else its family and verb only.
    """

    def __init__(self, reason: str, syntax: str = "", public: str | None = None, command: str = ""):
        self.reason = reason
        self.syntax = syntax
        self.public_reason = reason if public is None else public
        self.command = command
        super().__init__(self._with_syntax(reason))

    def _with_syntax(self, reason: str) -> str:
        if not self.syntax:
            return reason
        return f"{reason}{'' if reason.endswith('?') else '.'} Syntax: {self.syntax}"

    @property
    def public(self) -> str:
        """The message with nothing that might be a secret in it."""
        return self._with_syntax(self.public_reason)


def _suggest(word: str, options: Iterable[str]) -> str | None:
    """The keyword ``word`` is probably a typo of (upper-case), or None."""
    close = difflib.get_close_matches(word.lower(), list(options), n=1, cutoff=0.6)
    return close[0].upper() if close else None


def redact(words: list[str]) -> str:
    """The command with the word after PASSWORD (and an ``OPER <name> ADD``
    password) replaced by ``****``: a guess by position for callers without
    a tree; :meth:`AdminTree.shown` masks by the grammar and is preferred."""
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
        f"removed: {tree.shown(line.split())}"
        for line in before
        if line not in after_set and tree.line_key(line.split()) not in kept_keys
    ]
    came = [f"set: {tree.shown(line.split())}" for line in after if line not in before_set]
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
    the config file).  ``live(topic)`` gives lines about the running server
    for a LIST (``"ssl"``: the certificate in force); None outside one.
    """

    hash_password: Callable[[str], str]
    clock: Callable[[], float] | None = None
    actor: str = ""
    live: Callable[[str], Sequence[str]] | None = None

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
    #: The words to write instead of an argument when rewriting the source
    #: line (argument name -> text): a password's hash, a ban's expiry time.
    rewrite_args: Mapping[str, str] = field(default_factory=dict)


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
    #: The command as it may be logged (secret arguments masked).
    shown: str = ""
    #: How to rewrite the source line: (first word, end word, new text) spans.
    rewritten: tuple[tuple[int, int, str], ...] = ()


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

    def __init__(self, families: Sequence[Family], context: Context, unsupported: Sequence[str] = ()):
        self.context = context
        self.families = tuple(families)
        #: ConferenceRoom families we do not implement (upper-case): kept in
        #: a config file with a warning, refused live with a clear reason.
        self.unsupported = frozenset(f.upper() for f in unsupported)
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

    def _walk(self, words: Sequence[str]) -> tuple[_Node, dict[str, Any], int]:
        """Follow keywords and parameters as far as they go: (node, values, index of the next word)."""
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
                    raise AdminError(f"Bad <{param.name}> '{words[i]}': {exc}", child.summary_syntax(),
                                     f"Bad <{param.name}> (word {i + 1}): {exc}",
                                     " ".join(child.words)) from None
                node = child
            else:
                break
            i += 1
        return node, values, i

    def _resolve(self, words: Sequence[str]) -> tuple[Verb, dict[str, Any], list[str], _Node]:
        node, values, i = self._walk(words)
        if node.verb is None:
            if i < len(words):
                raise self._unknown(node, words[i], i)
            if node is self._root:
                raise AdminError("No command given", self._root.summary_syntax())
            where = " ".join(node.words)
            raise AdminError(f"Incomplete command {where}", node.summary_syntax(), command=where)
        return node.verb, values, list(words[i:]), node

    def _unknown(self, node: _Node, word: str, i: int) -> AdminError:
        """The error for ``word`` (the ``i``-th) that is no keyword here, with a suggestion if one is close.

        Only the public text leaves the word out (it says which word it is):
        a word in the wrong place may be a password, even one that looks
        like a keyword.
        """
        if node is self._root and word.upper() in self.unsupported:
            return AdminError(f"{word.upper()} commands are a ConferenceRoom feature not implemented by "
                              "conferenceroom", command=word.upper())
        what = "family" if node is self._root else f"{' '.join(node.words)} keyword"
        suggestion = _suggest(word, node.keywords)
        hint = f"; did you mean {suggestion}?" if suggestion else ""
        reason, public = f"Unknown {what} '{word}'{hint}", f"Unknown {what} (word {i + 1}){hint}"
        return AdminError(reason, node.summary_syntax(), public, " ".join(node.words) or "(unknown family)")

    def _parse_args(self, verb: Verb, rest: list[str], node: _Node, values: dict[str, Any],
                    offset: int = 0) -> dict[str, tuple[int, int]]:
        """Parse the arguments into ``values``; return each one's word span (``offset`` = first word's index)."""
        spans: dict[str, tuple[int, int]] = {}
        where = " ".join(node.words)
        j = 0
        for arg in verb.args:
            if j >= len(rest):
                if arg.optional:
                    values[arg.name] = arg.default
                    continue
                raise AdminError(f"Missing {arg.label}", verb.syntax, command=where)
            end = len(rest) if arg.rest else j + 1
            text = " ".join(rest[j:end])
            try:
                values[arg.name] = arg.type.parse(text)
            except ValueError as exc:
                if j == 0 and _suggest(rest[0], node.keywords):
                    raise self._unknown(node, rest[0], offset) from None  # SET FLOOD PENALTIS 5
                shown = "****" if arg.type.secret else text  # never repeat a password
                raise AdminError(f"Bad {arg.label} '{shown}': {exc}", verb.syntax, command=where) from None
            spans[arg.name] = (offset + j, offset + end)
            j = end
        if j < len(rest):
            if node.keywords or node.param:
                raise self._unknown(node, rest[j], offset + j)
            extra = len(rest) - j
            raise AdminError(f"Too many arguments: '{' '.join(rest[j:])}'", verb.syntax,
                             f"Too many arguments ({extra} extra word{'s' if extra > 1 else ''})", where)
        return spans

    @staticmethod
    def _mask(words: Sequence[str], verb: Verb, spans: Mapping[str, tuple[int, int]]) -> str:
        """``words`` with every secret argument replaced by ``****``."""
        out = list(words)
        secret = sorted((spans[a.name] for a in verb.args if a.type.secret and a.name in spans), reverse=True)
        for start, end in secret:
            out[start:end] = ["****"]
        return " ".join(out)

    def shown(self, words: Sequence[str]) -> str:
        """The command as it may be logged or shown to others: secret
        arguments masked; for a command that does not parse, its family and
        verb only (``OPER <name>``)."""
        try:
            verb, values, rest, node = self._resolve(words)
            spans = self._parse_args(verb, rest, node, values, len(words) - len(rest))
        except AdminError as exc:
            return exc.command or "(nothing)"
        return self._mask(words, verb, spans)

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
        spans = self._parse_args(verb, rest, node, values, len(words) - len(rest))
        shown = self._mask(words, verb, spans)
        try:
            outcome = verb.apply(ctx, settings, values)
        except Refused as exc:
            raise AdminError(str(exc), verb.syntax, command=shown) from None
        new = outcome.settings
        changed = new != settings
        if not changed:
            new = settings
        rewritten = tuple((*spans[name], text) for name, text in outcome.rewrite_args.items() if name in spans)
        return Result(new, list(outcome.replies), changed,
                      outcome.restart_needed if changed else None, outcome.rewrite, shown, rewritten)

    def execute_line(self, settings: Settings, line: str, *, now: float | None = None) -> Result:
        """Run one AS command given as a line of text (as in the config file)."""
        return self.execute(settings, line.split(), now=now)

    def without_clock(self) -> "AdminTree":
        """A copy of this tree whose verbs see no clock (for checking a written file)."""
        return self.with_context(clock=None, actor="")

    def with_context(self, **changes: Any) -> "AdminTree":
        """A copy of this tree whose verbs see a changed :class:`Context` (e.g. no hashing)."""
        copy = object.__new__(AdminTree)
        copy.__dict__.update(self.__dict__)
        copy.context = replace(self.context, **changes)
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
        ident = []
        for arg, word in zip(verb.args[:verb.key_args], rest):
            try:
                word = arg.type.format(arg.type.parse(word))  # *@D.example and *@d.example: one ban
            except ValueError:
                pass
            ident.append(fold_name(word))
        return (verb.path[0], params, what, tuple(ident))

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
    from conferenceroom.admin.families import ALL_FAMILIES, UNSUPPORTED_FAMILIES

    if families is None:
        families = ALL_FAMILIES
    if hasher is None:
        def hasher(plain: str) -> str:
            return hash_password(plain, rounds=bcrypt_rounds)
    now = getattr(clock, "seconds", clock)
    return AdminTree([make() for make in families], Context(hash_password=hasher, clock=now), UNSUPPORTED_FAMILIES)
