"""The wire format: parsing, formatting, tag escaping, length limits, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conferenceroom.wire import (
    ascii_number,
    MAX_LINE,
    Message,
    ParseError,
    encode_line,
    escape_tag_value,
    format_message,
    message_from_words,
    parse,
    unescape_tag_value,
)

# -- parsing ---------------------------------------------------------------


def test_parse_plain_command() -> None:
    """A bare command has no source, no tags and no parameters."""
    msg = parse("PING")
    assert msg == Message("PING")
    assert msg.source is None and msg.tags == {} and msg.params == ()


def test_parse_command_is_uppercased() -> None:
    """Commands are case-insensitive and stored upper-case."""
    assert parse("privmsg #a :hi").command == "PRIVMSG"


def test_parse_source_and_params() -> None:
    """A ``:source`` prefix, middle parameters and a trailing parameter."""
    msg = parse(":nick!user@host PRIVMSG #chan :hello there")
    assert msg.source == "nick!user@host"
    assert msg.command == "PRIVMSG"
    assert msg.params == ("#chan", "hello there")


def test_parse_trailing_keeps_colons_and_spaces() -> None:
    """Everything after `` :`` is one parameter, colons and double spaces kept."""
    msg = parse("PRIVMSG #a :  two  spaces :and: colons ")
    assert msg.params == ("#a", "  two  spaces :and: colons ")


def test_parse_empty_trailing() -> None:
    """``:`` alone gives an empty last parameter."""
    assert parse("TOPIC #a :").params == ("#a", "")


def test_parse_colon_inside_middle_parameter() -> None:
    """A colon that does not start a parameter is part of it."""
    assert parse("MODE #a +b a:b").params == ("#a", "+b", "a:b")


def test_parse_multiple_spaces_between_parameters() -> None:
    """Runs of spaces separate parameters like one space."""
    msg = parse(":src   USER   a  0 *   :Real  Name")
    assert msg.source == "src"
    assert msg.params == ("a", "0", "*", "Real  Name")


def test_parse_leading_spaces_ignored() -> None:
    """Spaces before the command are ignored."""
    assert parse("   NICK bob").params == ("bob",)


def test_parse_strips_crlf_and_lf() -> None:
    """A CR LF or a bare LF at the end is not part of the last parameter."""
    assert parse(b"PRIVMSG a :b\r\n").params == ("a", "b")
    assert parse(b"PRIVMSG a :b\n").params == ("a", "b")
    assert parse("PRIVMSG a b\r").params == ("a", "b")


def test_parse_removes_nul() -> None:
    """NUL bytes are dropped wherever they are."""
    msg = parse(b"PRIV\x00MSG a\x00b :c\x00d")
    assert msg.command == "PRIVMSG"
    assert msg.params == ("ab", "cd")


def test_parse_invalid_utf8_falls_back_to_latin1() -> None:
    """Bytes that are not UTF-8 are decoded as Latin-1, so no byte is lost."""
    raw = b"PRIVMSG #a :caf\xe9 \xff\xfe"
    msg = parse(raw)
    assert msg.params[1] == "caf\xe9 \xff\xfe"
    assert msg.params[1].encode("latin-1") == b"caf\xe9 \xff\xfe"


def test_parse_valid_utf8() -> None:
    """UTF-8 text is decoded as such."""
    assert parse("PRIVMSG #a :h\u00e9llo \u2603".encode()).params[1] == "h\u00e9llo \u2603"


def test_parse_numeric_command() -> None:
    """A three-digit numeric is a command."""
    msg = parse(":srv 001 nick :Welcome")
    assert msg.command == "001" and msg.params == ("nick", "Welcome")


@pytest.mark.parametrize(
    "line",
    ["", "   ", "\r\n", ":source", ":source   ", "@a=b", "@a=b :src", ": PRIVMSG a", ":x :y z",
     "PRIV-MSG a", "PRIVMSG\ta"],
)
def test_parse_errors(line: str) -> None:
    """Lines without a usable command raise ParseError (a ValueError)."""
    with pytest.raises(ParseError):
        parse(line)
    assert issubclass(ParseError, ValueError)


# -- tags --------------------------------------------------------------------


def test_parse_tags_with_values() -> None:
    """``@k=v;k2=v2`` becomes a dict; the command follows after a space."""
    msg = parse("@time=2020-01-01T00:00:00.000Z;+example.com/x=1 :a!b@c PRIVMSG #a :hi")
    assert msg.tags == {"time": "2020-01-01T00:00:00.000Z", "+example.com/x": "1"}
    assert msg.source == "a!b@c" and msg.params == ("#a", "hi")


def test_parse_valueless_and_empty_tags() -> None:
    """A key without ``=`` or with an empty value has the value ``""``."""
    assert parse("@a;b=;c=x TAGMSG #a").tags == {"a": "", "b": "", "c": "x"}


def test_parse_duplicate_tag_last_wins() -> None:
    """When a key repeats, the last occurrence is kept."""
    assert parse("@a=1;b=2;a=3 PING x").tags == {"a": "3", "b": "2"}


def test_parse_tag_escapes() -> None:
    """``\\:`` ``\\s`` ``\\\\`` ``\\r`` ``\\n`` are unescaped; others drop the backslash."""
    msg = parse(r"@a=x\:y\sz\\w\r\n;b=\q;c=end\ PING t")
    assert msg.tags == {"a": "x;y z\\w\r\n", "b": "q", "c": "end"}


def test_parse_empty_tag_items_ignored() -> None:
    """Empty items between semicolons and items without a key are skipped."""
    assert parse("@;a=1;;=2; PING x").tags == {"a": "1"}


def test_tag_escape_round_trip() -> None:
    """escape_tag_value and unescape_tag_value are inverses."""
    value = "semi; space \\back\r\nslash\\s"
    escaped = escape_tag_value(value)
    assert not any(ch in escaped for ch in "; \r\n")
    assert unescape_tag_value(escaped) == value


def test_tags_are_not_compared() -> None:
    """Message equality ignores tags (they are transport metadata)."""
    assert Message("PING", ("a",), tags={"x": "1"}) == Message("PING", ("a",))


# -- formatting --------------------------------------------------------------


def test_format_simple() -> None:
    """Source, command and parameters, last one trailing only when needed."""
    assert format_message(Message("NICK", ("bob",), "a!b@c")) == ":a!b@c NICK bob"
    assert format_message(Message("PRIVMSG", ("#a", "hi there"))) == "PRIVMSG #a :hi there"
    assert format_message(Message("PRIVMSG", ("#a", ":)"))) == "PRIVMSG #a ::)"
    assert format_message(Message("TOPIC", ("#a", ""))) == "TOPIC #a :"


def test_format_tags_escaped() -> None:
    """Tag values are escaped; empty values are written as the bare key."""
    line = format_message(Message("PING", ("x",), tags={"a": "b c;d", "e": ""}))
    assert line == r"@a=b\sc\:d;e PING x"


def test_to_line_is_format() -> None:
    """Message.to_line is format_message."""
    msg = Message("PING", ("x y",), "srv")
    assert msg.to_line() == format_message(msg) == ":srv PING :x y"


def test_with_tags_copies() -> None:
    """with_tags returns an equal message carrying the new tags."""
    msg = Message("PING", ("x",))
    tagged = msg.with_tags({"a": "1"})
    assert tagged == msg and tagged.tags == {"a": "1"} and msg.tags == {}


@pytest.mark.parametrize(
    "line",
    [":a!b@c PRIVMSG #chan :hello world", "PING x", "MODE #a +ov x y", ":srv 005 n A=1 :are here",
     "@a=1;b PRIVMSG #a ::-)", r"@x=\:\s\\ TAGMSG #a", "TOPIC #a :"],
)
def test_parse_format_round_trip(line: str) -> None:
    """format(parse(line)) gives back a canonical line that parses the same."""
    msg = parse(line)
    again = parse(format_message(msg))
    assert again == msg and again.tags == msg.tags
    assert format_message(msg) == line


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\x00b"])
def test_format_rejects_line_breaks_and_nul(bad: str) -> None:
    """CR, LF or NUL in any parameter (last included) is a ValueError."""
    with pytest.raises(ValueError):
        format_message(Message("PRIVMSG", ("#a", bad)))
    with pytest.raises(ValueError):
        format_message(Message("PRIVMSG", (bad, "text")))


@pytest.mark.parametrize("bad", ["a b", ":ab", ""])
def test_format_rejects_bad_middle_parameter(bad: str) -> None:
    """A middle parameter with a space, a leading colon, or empty is a ValueError."""
    with pytest.raises(ValueError):
        format_message(Message("MODE", ("#a", bad, "x")))


def test_format_rejects_bad_source_command_and_tags() -> None:
    """A source or command that would change the line's meaning is refused."""
    with pytest.raises(ValueError):
        format_message(Message("PING", ("x",), "a b"))
    with pytest.raises(ValueError):
        format_message(Message("PING", ("x",), "a\r\nQUIT"))
    with pytest.raises(ValueError):
        format_message(Message("PRIV MSG", ("x",)))
    with pytest.raises(ValueError):
        format_message(Message("", ("x",)))
    with pytest.raises(ValueError):
        format_message(Message("PING", ("x",), tags={"a b": "1"}))
    with pytest.raises(ValueError):
        format_message(Message("PING", ("x",), tags={"a": "nul\x00"}))


# -- encoding and truncation -----------------------------------------------------


def test_format_trailing_colon_only_when_needed() -> None:
    """A last parameter without space or leading colon is written bare."""
    assert format_message(Message("PING", ("x",))) == "PING x"
    assert parse("PING :x") == parse("PING x")


@pytest.mark.parametrize(
    "msg, line",
    [
        (Message("PRIVMSG", ("#a", "hi"), "n!u@h"), ":n!u@h PRIVMSG #a :hi"),
        (Message("NOTICE", ("bob", "x" * 40)), "NOTICE bob :" + "x" * 40),
        (Message("TOPIC", ("#a", "news")), "TOPIC #a :news"),
        (Message("PART", ("#a", "bye")), "PART #a :bye"),
        (Message("KICK", ("#a", "bob", "out")), "KICK #a bob :out"),
        (Message("QUIT", ("gone",)), "QUIT :gone"),
        (Message("AWAY", ("lunch",)), "AWAY :lunch"),
        (Message("KILL", ("bob", "flood")), "KILL bob :flood"),
        (Message("WALLOPS", ("hello",)), "WALLOPS :hello"),
        (Message("SETNAME", ("Bob",)), "SETNAME :Bob"),
        (Message("ERROR", ("closing",)), "ERROR :closing"),
    ],
)
def test_format_free_text_always_trailing(msg: Message, line: str) -> None:
    """The free text of PRIVMSG/NOTICE, TOPIC, PART/QUIT/KICK/KILL reasons, AWAY,
    WALLOPS, SETNAME and ERROR keeps its ':' even when it is one word, as hybrid,
    InspIRCd and Solanum write it."""
    assert format_message(msg) == line
    assert parse(line) == msg


def test_format_free_text_rule_leaves_other_positions_bare() -> None:
    """A PART without reason, an AWAY without text and other commands' last
    parameters stay bare when they are one word."""
    assert format_message(Message("PART", ("#a",), "n!u@h")) == ":n!u@h PART #a"
    assert format_message(Message("KICK", ("#a", "bob"))) == "KICK #a bob"
    assert format_message(Message("AWAY", ())) == "AWAY"
    assert format_message(Message("JOIN", ("#a",))) == "JOIN #a"
    assert format_message(Message("NICK", ("bob",))) == "NICK bob"
    assert format_message(Message("MODE", ("#a", "+o", "bob"))) == "MODE #a +o bob"


def test_encode_line_adds_crlf() -> None:
    """encode_line gives UTF-8 bytes ending in CR LF."""
    assert encode_line(Message("PRIVMSG", ("#a", "h\u00e9 x"), "s")) == ":s PRIVMSG #a :h\u00e9 x\r\n".encode()


def test_encode_line_truncates_to_512() -> None:
    """A long line is cut to 512 bytes, CR LF included."""
    data = encode_line(Message("PRIVMSG", ("#a", "x " * 500), "srv"))
    assert len(data) == MAX_LINE and data.endswith(b"\r\n")
    assert data.startswith(b":srv PRIVMSG #a :x x")


@pytest.mark.parametrize("char", ["\u00e9", "\u20ac", "\U0001f600"])
@pytest.mark.parametrize("pad", range(4))
def test_encode_line_never_splits_utf8(char: str, pad: int) -> None:
    """Truncation lands on a character boundary whatever the alignment."""
    data = encode_line(Message("PRIVMSG", ("#a", "p" * pad + char * 400), "srv"))
    assert len(data) <= MAX_LINE and data.endswith(b"\r\n")
    text = data[:-2].decode("utf-8")  # raises if a character was split
    assert text.endswith(char)
    assert len(data) > MAX_LINE - len(char.encode()) - 2


def test_encode_line_tags_not_counted_or_cut() -> None:
    """The tag section is outside the 512-byte limit and never cut."""
    tags = {"+long": "v" * 3000}
    data = encode_line(Message("PRIVMSG", ("#a", "x" * 1000), "srv", tags))
    tag_part, _, rest = data.partition(b" ")
    assert tag_part == b"@+long=" + b"v" * 3000
    assert len(rest) == MAX_LINE
    assert parse(data[:-2]).tags == tags


def test_encode_line_short_untouched() -> None:
    """A line within the limit is unchanged."""
    msg = Message("PRIVMSG", ("#a", "y" * 400), "srv")
    assert encode_line(msg) == (format_message(msg) + "\r\n").encode()


# -- fuzzing -----------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_parse_bytes_only_parse_error(data: bytes) -> None:
    """parse() of arbitrary bytes returns a Message or raises ParseError, nothing else."""
    try:
        msg = parse(data)
    except ParseError:
        return
    assert isinstance(msg, Message) and msg.command


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_parse_text_only_parse_error(text: str) -> None:
    """parse() of arbitrary text returns a Message or raises ParseError."""
    try:
        msg = parse(text)
    except ParseError:
        return
    assert isinstance(msg, Message) and msg.command


_SAFE = st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",))
_WORD = st.text(
    st.characters(blacklist_characters=" \r\n\x00", blacklist_categories=("Cs",)), min_size=1, max_size=20
)
_MIDDLE = _WORD.filter(lambda w: not w.startswith(":"))
_COMMAND = st.one_of(
    st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=1, max_size=10),
    st.text(st.sampled_from("0123456789"), min_size=3, max_size=3),
)
_TAG_KEY = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/.+"),
    min_size=1, max_size=15,
)
_TAG_VALUE = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=20)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    """Valid messages: any command, source, middle and last parameters, tags."""
    middles = draw(st.lists(_MIDDLE, max_size=6))
    last = draw(st.one_of(st.none(), st.text(_SAFE, max_size=40)))
    params = tuple(middles + ([last] if last is not None else []))
    source = draw(st.one_of(st.none(), _WORD))
    tags = draw(st.dictionaries(_TAG_KEY, _TAG_VALUE, max_size=4))
    return Message(draw(_COMMAND), params, source, tags)


@settings(max_examples=400, deadline=None)
@given(messages())
def test_fuzz_format_parse_round_trip(msg: Message) -> None:
    """parse(format(m)) == m, tags included, for every valid message."""
    line = format_message(msg)
    assert "\r" not in line and "\n" not in line and "\x00" not in line
    again = parse(line)
    assert again == msg
    assert again.tags == msg.tags
    assert parse(line.encode("utf-8")) == msg


@pytest.mark.parametrize(
    "text, value",
    [("0", 0), ("302", 302), ("007", 7), ("²", None), ("\u0661\u0662", None), ("", None),
     ("-1", None), (" 1", None), ("1_000", None), ("1" * 10, None)],
)
def test_ascii_number_reads_only_ascii_digits(text: str, value: int | None) -> None:
    """Client numbers are 1-9 ASCII digits; superscripts, other scripts'
    digits, signs, spaces and underscores (all of which isdigit or int take)
    are not numbers."""
    assert ascii_number(text) == value


def _reference_parse(line: str | bytes) -> Message:
    """parse() as it was written before its fast path: the behaviour the fast path must keep."""
    from conferenceroom.wire import ParseError, _parse_tags, decode

    if isinstance(line, bytes):
        line = decode(line)
    line = line.rstrip("\r\n").replace("\x00", "")
    tags: dict[str, str] = {}
    source = None
    rest = line.lstrip(" ")
    if rest.startswith("@"):
        section, _, rest = rest[1:].partition(" ")
        tags = _parse_tags(section)
        rest = rest.lstrip(" ")
    if rest.startswith(":"):
        source, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
        if not source:
            raise ParseError("empty source")
    if not rest:
        raise ParseError("no command")
    trailing = None
    if " :" in rest:
        rest, trailing = rest.split(" :", 1)
    elif rest.startswith(":"):
        raise ParseError("no command")
    words = [w for w in rest.split(" ") if w]
    command, params = words[0], words[1:]
    if trailing is not None:
        params.append(trailing)
    if not command.isalnum():
        raise ParseError(f"invalid command {command!r}")
    return Message(command.upper(), tuple(params), source, tags)


_LINE_PIECES = st.lists(st.sampled_from(
    [" ", "  ", ":", " :", "@", "@a=b;c", "=", ";", "\r", "\n", "\x00", "x", "PRIVMSG", "uid", "9FD", "9FDAAAAAB",
     "#chan", "é", "ü", "\\s", "SJOIN", "1", "+nt", "@+", "!"]), max_size=14).map("".join)


@settings(max_examples=3000)
@given(_LINE_PIECES)
def test_parse_reads_every_line_as_the_reference_parser(line: str) -> None:
    """Any line (spaces, colons, tags, NULs, line ends, non-ASCII) parses to the same Message or the same error."""
    from conferenceroom.wire import ParseError

    for raw in (line, line.encode("utf-8"), line.encode("latin-1", "replace")):
        try:
            expected = _reference_parse(raw)
        except ParseError as exc:
            with pytest.raises(ParseError) as got:
                parse(raw)
            assert str(got.value) == str(exc)
            continue
        got_msg = parse(raw)
        assert (got_msg, got_msg.tags) == (expected, expected.tags)
        assert hash(got_msg) == hash(expected)


_WORD = st.text(alphabet=st.characters(blacklist_characters=" \r\n\x00", blacklist_categories=("Cs",)),
                min_size=1, max_size=12).filter(lambda w: not w.startswith(":"))


@settings(max_examples=300, deadline=None)
@given(source=_WORD, command=st.text(alphabet="abcXYZ019_-", min_size=1, max_size=6),
       middle=st.lists(_WORD, max_size=5),
       trailing=st.none() | st.text(alphabet=st.characters(blacklist_characters="\r\n\x00",
                                                            blacklist_categories=("Cs",)), max_size=20))
def test_a_split_server_line_reads_as_parse_reads_it(source, command, middle, trailing) -> None:
    """A peer's line split once at ' :' and spaces gives parse()'s Message, or None where parse refuses it."""
    line = " ".join([":" + source, command, *middle]) + ("" if trailing is None else " :" + trailing)
    head, colon, rest = line.partition(" :")
    words = head.split(" ")
    built = message_from_words(words, rest if colon else None)
    if built is None:
        with pytest.raises(ParseError):
            parse(line)
    else:
        parsed = parse(line)
        assert (built.command, built.params, built.source, built.tags) == (
            parsed.command, parsed.params, parsed.source, parsed.tags)
