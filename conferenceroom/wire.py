# -*- test-case-name: tests.unit.test_wire -*-
"""The IRC wire format: one line in, one :class:`Message` out, and back.

Lines are at most 512 bytes (CR LF included) for the source, command and
parameters, plus up to 8191 bytes of IRCv3 message tags.  Bytes that are not
valid UTF-8 are decoded as Latin-1 so that no input is ever lost or fatal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_LINE = 512  # bytes, CR LF included, without tags
MAX_TAGS = 8191  # bytes of the tag section, '@' and trailing space included
MAX_INPUT = MAX_LINE + MAX_TAGS
MAX_CLIENT_TAG_DATA = 4094  # bytes of tag data a client may send (IRCv3 message-tags)

_TAG_ESCAPES = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}
_TAG_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}


class ParseError(ValueError):
    """A line that cannot be read as an IRC message."""


@dataclass(frozen=True)
class Message:
    """One IRC message: tags, optional source, command and parameters."""

    command: str
    params: tuple[str, ...] = ()
    source: str | None = None
    tags: dict[str, str] = field(default_factory=dict, compare=False)

    def with_tags(self, tags: dict[str, str]) -> "Message":
        """Return a copy of this message carrying ``tags``."""
        return Message(self.command, self.params, self.source, tags)

    def to_line(self) -> str:
        """The message as a line without CR LF (see :func:`format_message`)."""
        return format_message(self)


def decode(data: bytes) -> str:
    """Decode bytes as UTF-8, falling back to Latin-1 for other encodings."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def unescape_tag_value(value: str) -> str:
    """Undo IRCv3 tag value escaping; a lone trailing backslash is dropped."""
    out = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            i += 1
            if i < len(value):
                out.append(_TAG_UNESCAPES.get(value[i], value[i]))
        else:
            out.append(ch)
        i += 1
    return "".join(out)


_TAG_ESCAPE_TABLE = str.maketrans(_TAG_ESCAPES)


def escape_tag_value(value: str) -> str:
    """Escape a tag value for the wire."""
    return value.translate(_TAG_ESCAPE_TABLE)


def _parse_tags(section: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in section.split(";"):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not key:
            continue
        tags[key] = unescape_tag_value(value) if sep else ""
    return tags


_new_object = object.__new__


def _message(command: str, params: tuple[str, ...], source: str | None, tags: dict[str, str]) -> Message:
    """A :class:`Message` without the frozen dataclass's per-field ``object.__setattr__`` (parse's hot path)."""
    msg = _new_object(Message)
    fields = msg.__dict__
    fields["command"] = command
    fields["params"] = params
    fields["source"] = source
    fields["tags"] = tags
    return msg


def parse(line: str | bytes) -> Message:
    """Parse one line (without its line ending) into a :class:`Message`.

    Raises :class:`ParseError` for an empty line or one with no command.
    """
    if isinstance(line, bytes):
        try:  # decode(), inline: every client line comes here
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            line = line.decode("latin-1")
    line = line.rstrip("\r\n")
    if "\x00" in line:
        line = line.replace("\x00", "")
    tags: dict[str, str] = {}
    source = None
    rest = line.lstrip(" ") if line[:1] == " " else line
    if rest[:1] == "@":
        section, _, rest = rest[1:].partition(" ")
        tags = _parse_tags(section)
        rest = rest.lstrip(" ")
    if rest[:1] == ":":
        source, _, rest = rest[1:].partition(" ")
        if rest[:1] == " ":
            rest = rest.lstrip(" ")
        if not source:
            raise ParseError("empty source")
    if not rest or rest[0] == ":" and " :" not in rest:
        raise ParseError("no command")
    rest, colon, trailing = rest.partition(" :")
    words = rest.split(" ")
    if "" in words:
        words = [w for w in words if w]
    command = words[0]
    if not command.isalnum():
        raise ParseError(f"invalid command {command!r}")
    if colon:
        words.append(trailing)
    msg = _new_object(Message)  # _message(), inline
    fields = msg.__dict__
    fields["command"] = command.upper()
    fields["params"] = tuple(words[1:])
    fields["source"] = source
    fields["tags"] = tags
    return msg


def message_from_words(words: list[str], trailing: str | None) -> Message | None:
    """The Message :func:`parse` makes of ``:<source> <command> <words>... [:<trailing>]``, already split.

    ``words`` is the line before its first `` :`` split at single spaces
    (source with its colon, command, middle parameters), none empty, no
    NUL; None if the command is not one parse takes (it then says why).
    """
    command = words[1]
    if not command.isalnum():
        return None
    params = words[2:]
    if trailing is not None:
        params.append(trailing)
    return _message(command.upper(), tuple(params), words[0][1:], {})


_UNSENDABLE = re.compile("[\r\n\x00]")
_UNSENDABLE_WORD = re.compile("[ \r\n\x00]")  # in a source or a middle parameter
_UNSENDABLE_COMMAND = re.compile("[ :\r\n\x00]")
_UNSENDABLE_TAG_KEY = re.compile("[=; \r\n\x00]")


def check_param(param: str, last: bool) -> None:
    """Raise ValueError if ``param`` cannot be sent in its position."""
    if _UNSENDABLE.search(param):
        raise ValueError(f"parameter contains a line break or NUL: {param!r}")
    if not last and (param == "" or " " in param or param.startswith(":")):
        raise ValueError(f"middle parameter cannot be sent: {param!r}")


#: Commands whose parameter at this index is free text (a message, topic,
#: reason): written as a trailing ``:`` parameter even when it is one word, as
#: hybrid, InspIRCd and Solanum do (clients and irctest count on that ``:``).
FREE_TEXT_INDEX: dict[str, int] = {
    "PRIVMSG": 1, "NOTICE": 1, "TOPIC": 1, "PART": 1, "KICK": 2, "KILL": 1,
    "QUIT": 0, "AWAY": 0, "WALLOPS": 0, "SETNAME": 0, "ERROR": 0,
}


def format_message(msg: Message) -> str:
    """Serialise ``msg`` to a line without CR LF.

    The last parameter is written as trailing when it needs to be, and always
    when it is the free text of its command (:data:`FREE_TEXT_INDEX`).  Raises
    ValueError for a parameter that could not be read back the same.
    """
    if msg.tags:
        items = []
        for key, value in msg.tags.items():
            if not key or _UNSENDABLE_TAG_KEY.search(key) or "\x00" in (value or ""):
                raise ValueError(f"tag cannot be sent: {key!r}={value!r}")
            items.append(f"{key}={value.translate(_TAG_ESCAPE_TABLE)}" if value else key)
        return "@" + ";".join(items) + " " + format_untagged(msg.source, msg.command, msg.params)
    return format_untagged(msg.source, msg.command, msg.params)


def format_untagged(source: str | None, command: str, params: tuple[str, ...]) -> str:
    """The line :func:`format_message` writes for a message without tags (no CR LF), from its parts.

    Raises ValueError as :func:`format_message` does.  (Tag values are escaped,
    so only this part of a line can hold a CR, LF or NUL.)
    """
    parts = []
    if source:
        if " " in source:
            raise ValueError(f"source cannot be sent: {source!r}")
        parts.append(":" + source)
    if not command or " " in command or ":" in command:
        raise ValueError(f"command cannot be sent: {command!r}")
    parts.append(command)
    if params:
        middle = params[:-1]
        for param in middle:
            if not param or param[0] == ":" or " " in param:
                check_param(param, False)
        last = params[-1]
        parts.extend(middle)
        if not last or last[0] == ":" or " " in last or FREE_TEXT_INDEX.get(command) == len(middle):
            last = ":" + last
        parts.append(last)
    line = " ".join(parts)
    # CR, LF and NUL are looked for once in the whole line; only a line
    # holding one is taken apart to say where.
    if "\r" in line or "\n" in line or "\x00" in line:
        _refuse_unsendable(_message(command, params, source, {}))
    return line


def _refuse_unsendable(msg: Message) -> None:
    """Raise ValueError naming the part of ``msg`` that holds a CR, LF or NUL."""
    if msg.source and _UNSENDABLE_WORD.search(msg.source):
        raise ValueError(f"source cannot be sent: {msg.source!r}")
    if _UNSENDABLE_COMMAND.search(msg.command):
        raise ValueError(f"command cannot be sent: {msg.command!r}")
    for index, param in enumerate(msg.params):
        check_param(param, index == len(msg.params) - 1)
    raise ValueError(f"message cannot be sent: {msg!r}")


def ascii_number(text: str, max_digits: int = 9) -> int | None:
    """``text`` as a whole number if it is 1 to ``max_digits`` ASCII digits, else None.

    ``str.isdigit`` and ``int`` also accept other scripts' digits and
    superscripts (``"²".isdigit()`` is true, ``int("²")`` raises), so
    numbers from clients are read with this instead.
    """
    if 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


def cut_to_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8, never inside a character."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def encode_line(msg: Message, limit: int = MAX_LINE) -> bytes:
    """Encode ``msg`` with CR LF, cutting the untagged part to ``limit`` bytes.

    Cutting never splits a UTF-8 character.
    """
    line = format_message(msg)
    tag_part = b""
    if msg.tags:
        tag_text, _, line = line.partition(" ")
        tag_part = tag_text.encode("utf-8") + b" "
    body = line.encode("utf-8", "replace")
    if len(body) > limit - 2:
        body = body[: limit - 2].decode("utf-8", "ignore").encode("utf-8")
    return tag_part + body + b"\r\n"


def encode_untagged(msg: Message) -> bytes:
    """``msg`` without its tags, as :func:`encode_line` encodes it (a client that sees no tags).

    Raises ValueError as :func:`format_message` does.
    """
    return encode_body(format_untagged(msg.source, msg.command, msg.params))


def untagged_line(source: str | None, command: str, params: tuple[str, ...]) -> bytes | None:
    """The bytes :func:`encode_untagged` makes of these parts, or None if the line cannot be sent.

    A line of one parameter that needs no ``:`` (a JOIN or PART echo) is checked and
    joined in one go; anything else goes through :func:`format_untagged`.
    """
    if source and len(params) == 1 and command not in FREE_TEXT_INDEX:
        param = params[0]
        line = f":{source} {command} {param}"
        if (param and param[0] != ":" and " " not in param and " " not in source and " " not in command
                and ":" not in command and command and "\r" not in line and "\n" not in line
                and "\x00" not in line):
            data = line.encode("utf-8", "replace")
            if len(data) <= MAX_LINE - 2:
                return data + b"\r\n"
    try:
        return encode_body(format_untagged(source, command, params))
    except ValueError:
        return None


def encode_body(line: str) -> bytes:
    """A formatted line without tags (no CR LF) encoded as :func:`encode_line` does: cut to 510 bytes, CR LF."""
    body = line.encode("utf-8", "replace")
    if len(body) > MAX_LINE - 2:
        body = body[: MAX_LINE - 2].decode("utf-8", "ignore").encode("utf-8")
    return body + b"\r\n"


def sendable_word(text: str) -> bool:
    """True if ``text`` is written as it is as a source or middle parameter (not empty, no
    leading ``:``, no space, CR, LF or NUL): what :func:`format_untagged` takes unchanged."""
    return bool(text) and text[0] != ":" and _UNSENDABLE_WORD.search(text) is None
