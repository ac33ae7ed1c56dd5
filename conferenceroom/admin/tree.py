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

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from conferenceroom.admin.settings import OPER_FLAGS, Settings, get_field, with_field
from conferenceroom.passwords import DEFAULT_ROUNDS, check_plaintext, hash_password, looks_hashed


class AdminError(Exception):
    """A bad AS command: says what was wrong and the right syntax."""

    def __init__(self, reason: str, syntax: str = ""):
        self.reason = reason
        self.syntax = syntax
        super().__init__(f"{reason}. Syntax: {syntax}" if syntax else reason)


class Refused(Exception):
    """Raised by a verb's ``apply`` for a well-formed command that cannot be
    done (``OPER x DEL`` for an unknown oper); becomes an :class:`AdminError`
    carrying that verb's syntax."""


# --------------------------------------------------------------------------
# Argument types.  parse() raises ValueError(reason); format() is its inverse.


class ArgType:
    """Base for argument types: a placeholder, a parser and a formatter."""

    placeholder = "value"
    #: True if the placeholder is literal syntax (``on|off``), not ``<name>``.
    literal = False

    def parse(self, text: str) -> Any:
        return text

    def format(self, value: Any) -> str:
        return str(value)

    def display(self, value: Any) -> str:
        return self.format(value)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Text(ArgType):
    """Free text, the rest of the line; runs of spaces become one space."""

    def __init__(self, placeholder: str = "text", max_len: int = 200):
        self.placeholder = placeholder
        self.max_len = max_len

    def parse(self, text: str) -> str:
        if _CONTROL.search(text):
            raise ValueError("control characters are not allowed")
        value = " ".join(text.split())
        if not value:
            raise ValueError("must not be empty")
        if len(value) > self.max_len:
            raise ValueError(f"longer than {self.max_len} characters")
        return value


class Token(ArgType):
    """One word matching a regular expression."""

    def __init__(self, placeholder: str, pattern: str, what: str, max_len: int = 200):
        self.placeholder = placeholder
        self.pattern = re.compile(pattern)
        self.what = what
        self.max_len = max_len

    def parse(self, text: str) -> str:
        if len(text) > self.max_len:
            raise ValueError(f"longer than {self.max_len} characters")
        if not self.pattern.fullmatch(text):
            raise ValueError(f"must be {self.what}")
        return text


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"


def hostname(placeholder: str = "name") -> Token:
    """A DNS-style server name with at least one dot, at most 63 characters."""
    return Token(placeholder, rf"{_LABEL}(?:\.{_LABEL})+", "a host name with at least one dot, like irc.example.com", 63)


class Int(ArgType):
    """A whole number within [lo, hi]."""

    def __init__(self, placeholder: str = "n", lo: int = 0, hi: int = 1_000_000):
        self.placeholder = placeholder
        self.lo = lo
        self.hi = hi

    def parse(self, text: str) -> int:
        if not re.fullmatch(r"[0-9]{1,9}", text):
            raise ValueError(f"must be a whole number from {self.lo} to {self.hi}")
        value = int(text)
        if not self.lo <= value <= self.hi:
            raise ValueError(f"must be from {self.lo} to {self.hi}")
        return value


class OnOff(ArgType):
    """A switch: on/off (also yes/no, true/false, 1/0)."""

    placeholder = "on|off"
    literal = True
    _ON = {"on", "yes", "true", "1", "enable", "enabled"}
    _OFF = {"off", "no", "false", "0", "disable", "disabled"}

    def parse(self, text: str) -> bool:
        low = text.lower()
        if low in self._ON:
            return True
        if low in self._OFF:
            return False
        raise ValueError("must be on or off")

    def format(self, value: bool) -> str:
        return "on" if value else "off"


class Ports(ArgType):
    """A port list like ``7000,6666-6669``: expanded, sorted, no duplicates."""

    placeholder = "ports"
    MAX_PORTS = 100

    def parse(self, text: str) -> tuple[int, ...]:
        ports: set[int] = set()
        for part in text.split(","):
            m = re.fullmatch(r"([0-9]{1,5})(?:-([0-9]{1,5}))?", part)
            if not m:
                raise ValueError(f"'{part}' is not a port or a range like 6666-6669")
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else lo
            for p in (lo, hi):
                if not 1 <= p <= 65535:
                    raise ValueError(f"port {p} is not from 1 to 65535")
            if lo > hi:
                raise ValueError(f"range {part} goes backwards")
            if hi - lo >= self.MAX_PORTS:
                raise ValueError(f"more than {self.MAX_PORTS} ports")
            ports.update(range(lo, hi + 1))
        if len(ports) > self.MAX_PORTS:
            raise ValueError(f"more than {self.MAX_PORTS} ports")
        return tuple(sorted(ports))

    def format(self, value: Sequence[int]) -> str:
        parts = []
        ports = sorted(value)
        i = 0
        while i < len(ports):
            j = i
            while j + 1 < len(ports) and ports[j + 1] == ports[j] + 1:
                j += 1
            parts.append(str(ports[i]) if i == j else f"{ports[i]}-{ports[j]}")
            i = j + 1
        return ",".join(parts)


class BindIP(ArgType):
    """An IPv4/IPv6 address to listen on; ``*`` means all interfaces."""

    placeholder = "ip"

    def parse(self, text: str) -> str:
        if text == "*":
            return ""
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            raise ValueError("must be an IP address, or * for all interfaces") from None

    def format(self, value: str) -> str:
        return value or "*"

    def display(self, value: str) -> str:
        return value or "* (all interfaces)"


class Path(Text):
    """A file or folder path (relative paths are relative to the config file)."""

    def __init__(self, placeholder: str = "path"):
        super().__init__(placeholder, max_len=1024)


class Password(ArgType):
    """A password in plain text, or an existing bcrypt hash."""

    placeholder = "password"

    def parse(self, text: str) -> str:
        if looks_hashed(text):
            return text
        if any(c.isspace() for c in text):
            raise ValueError("must be one word")
        check_plaintext(text)
        return text


class Flags(ArgType):
    """Oper flags, letters from ``acdeghs`` (a leading + is allowed)."""

    placeholder = "flags"

    def parse(self, text: str) -> frozenset[str]:
        letters = text[1:] if text.startswith("+") else text
        if not letters:
            raise ValueError("no flags given")
        bad = sorted(set(letters) - set(OPER_FLAGS))
        if bad:
            raise ValueError(f"unknown flag(s) {''.join(bad)}; flags are {''.join(OPER_FLAGS)}")
        return frozenset(letters)

    def format(self, value: frozenset[str]) -> str:
        return "".join(sorted(value))


class UserHostMask(Token):
    """A ``user@host`` mask with ``*`` and ``?`` wildcards."""

    def __init__(self) -> None:
        super().__init__("user@host", r"[^@\s,\x00-\x1f]+@[^@\s,\x00-\x1f]+", "a user@host mask like *@127.0.0.1", 200)


class IPMask(ArgType):
    """An IP address, a CIDR network or a glob of IP characters (``10.0.*``)."""

    placeholder = "ip-or-mask"

    def parse(self, text: str) -> str:
        if "/" in text:
            try:
                return str(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise ValueError("is not a valid CIDR network") from None
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            pass
        if re.fullmatch(r"[0-9A-Fa-f.:*?]{1,64}", text) and ("*" in text or "?" in text):
            return text.lower()
        raise ValueError("must be an IP address, a CIDR network or a mask like 10.0.*")


# --------------------------------------------------------------------------
# Declarations.


@dataclass(frozen=True)
class Param:
    """A variable word inside a path, such as the oper name in ``OPER <name> ADD``."""

    name: str
    type: ArgType


@dataclass(frozen=True)
class Arg:
    """A typed argument after the path.  ``rest`` takes the rest of the line."""

    name: str
    type: ArgType
    optional: bool = False
    rest: bool = False
    default: Any = None

    @property
    def label(self) -> str:
        return self.type.placeholder if self.type.literal else f"<{self.type.placeholder}>"

    @property
    def syntax(self) -> str:
        return f"[{self.label}]" if self.optional else self.label


@dataclass(frozen=True)
class Context:
    """What a verb may use besides the settings (injected; no globals)."""

    hash_password: Callable[[str], str]


@dataclass(frozen=True)
class Outcome:
    """What a verb's ``apply`` returns."""

    settings: Settings
    replies: tuple[str, ...] = ()
    restart_needed: str | None = None
    rewrite: bool = False


#: ``apply(context, settings, values)`` where values maps param/arg names to parsed values.
ApplyFn = Callable[[Context, Settings, Mapping[str, Any]], Outcome]
#: ``write(settings)`` yields (param values, argument words) for each line to write.
WriteFn = Callable[[Settings], Iterable[tuple[Mapping[str, str], Sequence[str]]]]
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

    @property
    def syntax(self) -> str:
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

    return Verb(split_path(path), help, apply, (Arg("value", argtype, rest=isinstance(argtype, Text)),), write, listing)


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

        verbs.append(Verb(split_path(opt.path), opt.help, apply, (), write, listing if i == 0 else None))
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
    rewrite: bool = False


@dataclass
class _Node:
    words: tuple[str, ...]  # display path, e.g. ("OPER", "<name>")
    topic: tuple[str, ...]  # keyword-only path, for HELP
    keywords: dict[str, "_Node"] = field(default_factory=dict)
    param: tuple[Param, "_Node"] | None = None
    verb: Verb | None = None
    verbs_below: list[Verb] = field(default_factory=list)

    def summary_syntax(self) -> str:
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
                raise AdminError(f"Bad {arg.label} '{text}': {exc}", verb.syntax) from None
        if j < len(rest):
            extra = " ".join(rest[j:])
            if node.keywords or node.param:
                raise AdminError(f"Unknown {' '.join(node.words)} keyword '{rest[j]}'", node.summary_syntax())
            raise AdminError(f"Too many arguments: '{extra}'", verb.syntax)

    def execute(self, settings: Settings, words: Sequence[str]) -> Result:
        """Run one AS command given as words (without the ``AS`` itself).

        Raises :class:`AdminError` for a bad command; *settings* is never
        changed.  This is pure (no shared state), so it may run in a thread.
        """
        verb, values, rest, node = self._resolve(words)
        self._parse_args(verb, rest, node, values)
        try:
            outcome = verb.apply(self.context, settings, values)
        except Refused as exc:
            raise AdminError(str(exc), verb.syntax) from None
        new = outcome.settings
        changed = new != settings
        if not changed:
            new = settings
        return Result(new, list(outcome.replies), changed,
                      outcome.restart_needed if changed else None, outcome.rewrite)

    def execute_line(self, settings: Settings, line: str) -> Result:
        """Run one AS command given as a line of text (as in the config file)."""
        return self.execute(settings, line.split())

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

    def write(self, settings: Settings) -> list[str]:
        """Canonical AS lines that rebuild *settings* when run from defaults."""
        lines = []
        for verb in self._verbs:
            if verb.write is None:
                continue
            for params, args in verb.write(settings):
                lines.append(verb.render(params, args))
        return lines


def build_tree(*, bcrypt_rounds: int = DEFAULT_ROUNDS,
               families: Sequence[Callable[[], Family]] | None = None,
               hasher: Callable[[str], str] | None = None) -> AdminTree:
    """Build a fresh AS tree from the family declarations.

    *bcrypt_rounds* sets the cost of hashing plain-text passwords (tests use
    4); *hasher* replaces hashing entirely.  *families* defaults to every
    family in :mod:`conferenceroom.admin.families`.
    """
    if families is None:
        from conferenceroom.admin.families import ALL_FAMILIES

        families = ALL_FAMILIES
    if hasher is None:
        def hasher(plain: str) -> str:
            return hash_password(plain, rounds=bcrypt_rounds)
    return AdminTree([make() for make in families], Context(hash_password=hasher))
