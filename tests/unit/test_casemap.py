"""rfc1459 case mapping, FoldedDict, name validity, glob masks."""

from __future__ import annotations

import pytest

from conferenceroom.casemap import (
    FoldedDict,
    match_folded,
    fold,
    is_channel,
    match,
    normalize_mask,
    valid_channel,
    valid_nick,
)


def test_fold_ascii_letters() -> None:
    """A-Z fold to a-z; other characters are unchanged."""
    assert fold("HeLLo-123_`") == "hello-123_`"


def test_fold_rfc1459_specials() -> None:
    """``[]\\~`` fold to ``{}|^`` (rfc1459), and the lower forms stay."""
    assert fold("[]\\~") == "{}|^"
    assert fold("{}|^") == "{}|^"
    assert fold("[Nick]") == fold("{nick}")


def test_fold_leaves_non_ascii_alone() -> None:
    """Only ASCII is folded: rfc1459 knows nothing of other scripts."""
    assert fold("\u00c9") == "\u00c9"


def test_folded_dict_lookup_any_case() -> None:
    """Keys are matched by their folded form."""
    d: FoldedDict[int] = FoldedDict()
    d["[Alice]"] = 1
    assert d["{alice}"] == 1 and d["[ALICE]"] == 1
    assert "{ALICE}" in d and "alice" not in d
    assert d.get("{aLiCe}") == 1
    assert d.get("bob") is None and d.get("bob", 7) == 7


def test_folded_dict_discard_value_only_removes_that_object() -> None:
    """discard_value removes a key in any case only while it still maps to the object given."""
    d: FoldedDict[object] = FoldedDict()
    old, new = object(), object()
    d["#Chan[1]"] = old
    assert not d.discard_value("#chan{1}", new) and d["#CHAN[1]"] is old
    assert d.discard_value("#CHAN{1}", old) and "#chan[1]" not in d
    assert not d.discard_value("#chan[1]", old)


def test_folded_dict_overwrite_and_delete() -> None:
    """Setting a differently-cased key overwrites; deleting works in any case."""
    d: FoldedDict[int] = FoldedDict()
    d["Bob~"] = 1
    d["bob^"] = 2
    assert len(d) == 1 and d["BOB~"] == 2
    del d["BOB^"]
    assert len(d) == 0 and "bob~" not in d
    with pytest.raises(KeyError):
        del d["bob"]


def test_folded_dict_iterates_folded_keys() -> None:
    """Iteration yields folded keys (display forms live on the objects)."""
    d: FoldedDict[str] = FoldedDict()
    d["#Chan[1]"] = "x"
    assert list(d) == ["#chan{1}"]
    assert dict(d.items()) == {"#chan{1}": "x"}


def test_folded_dict_non_string_key() -> None:
    """``in`` with a non-string is simply False."""
    d: FoldedDict[int] = FoldedDict()
    assert 3 not in d


@pytest.mark.parametrize(
    "nick", ["a", "Alice", "[x]", "\\o", "_under", "`tick", "^caret", "{b}|", "a-b", "a1", "x" * 30]
)
def test_valid_nicks(nick: str) -> None:
    """Letters or specials first, then letters, digits, specials and ``-``."""
    assert valid_nick(nick)


@pytest.mark.parametrize(
    "nick",
    ["", "1abc", "-abc", "a b", "a!b", "a@b", "a,b", "#chan", ":x", "a*", "a?", "x" * 31,
     "caf\u00e9", "a.b", "&a", "a\n", "\u212a", "a\u0661"],
)
def test_invalid_nicks(nick: str) -> None:
    """Digits or ``-`` first, spaces, ``!@,:*?.``, non-ASCII and overlong nicks are refused."""
    assert not valid_nick(nick)


def test_valid_nick_maxlen() -> None:
    """The maximum length is a parameter."""
    assert valid_nick("abcde", maxlen=5)
    assert not valid_nick("abcdef", maxlen=5)


@pytest.mark.parametrize("name", ["#a", "&local", "#chan.with-stuff", "#\u00e9t\u00e9", "##", "#" + "x" * 49])
def test_valid_channels(name: str) -> None:
    """``#`` or ``&`` then anything but space, comma, BEL, NUL, CR, LF, up to 50."""
    assert valid_channel(name)


@pytest.mark.parametrize(
    "name", ["", "#", "&", "chan", "+chan", "!chan", "#a b", "#a,b", "#a\x07", "#a\x00", "#a\r", "#a\n",
             "#" + "x" * 50]
)
def test_invalid_channels(name: str) -> None:
    """Missing prefix, too short or long, or a forbidden character."""
    assert not valid_channel(name)


def test_is_channel() -> None:
    """is_channel looks only at the prefix."""
    assert is_channel("#") and is_channel("&x")
    assert not is_channel("") and not is_channel("nick")


@pytest.mark.parametrize(
    "mask, name",
    [
        ("*", ""),
        ("*", "anything!at@all"),
        ("nick!*@*", "nick!user@host"),
        ("NICK!*@*", "nick!User@Host"),
        ("[x]!*@*", "{X}!u@h"),
        ("*!*@*.example.com", "a!b@irc.example.com"),
        ("a?c!*@*", "abc!u@h"),
        ("a*c", "ac"),
        ("*.*", "a.b"),
        ("a.c", "a.c"),
        ("(x)+", "(x)+"),
    ],
)
def test_match_hits(mask: str, name: str) -> None:
    """``*`` is any run, ``?`` one character, the rest literal and case-folded."""
    assert match(mask, name)


@pytest.mark.parametrize(
    "mask, name",
    [
        ("nick!*@*", "nick2!u@h"),
        ("a?c", "ac"),
        ("a?c", "abbc"),
        ("*.example.com", "example.com"),
        ("a.c", "abc"),
        ("(x)+", "xx"),
        ("abc", "abcd"),
        ("?", ""),
    ],
)
def test_match_misses(mask: str, name: str) -> None:
    """Regex metacharacters are literal; the whole name must match."""
    assert not match(mask, name)


def test_match_across_newline() -> None:
    """``*`` matches any character, even an odd one like LF."""
    assert match("a*b", "a\nb")


@pytest.mark.parametrize(
    "mask, expected",
    [
        ("nick", "nick!*@*"),
        ("*", "*!*@*"),
        ("host.example.com", "*!*@host.example.com"),
        ("2001:db8::1", "*!*@2001:db8::1"),
        ("user@host", "*!user@host"),
        ("nick!user", "nick!user@*"),
        ("n!u@h", "n!u@h"),
        ("*!*@*", "*!*@*"),
    ],
)
def test_normalize_mask(mask: str, expected: str) -> None:
    """Partial ban masks are completed to ``nick!user@host``."""
    assert normalize_mask(mask) == expected


@pytest.mark.parametrize(
    "mask, name, expected",
    [
        ("*a*b*c", "xaybzc", True),
        ("*a*b*c", "xaybzcd", False),
        ("a*a", "a", False),
        ("a*a", "aa", True),
        ("*?*?*", "ab", True),
        ("*?*?*", "a", False),
        ("**a**", "ba", True),
        ("*ab*ab", "abab", True),
        ("*ab*ab", "aabab", True),
        ("*ab*ab", "abba", False),
        ("?*a", "aa", True),
        ("a*?", "a", False),
    ],
)
def test_match_several_wildcards(mask: str, name: str, expected: bool) -> None:
    """Several stars and question marks combine like shell globs."""
    assert match(mask, name) is expected


def test_match_many_stars_is_fast() -> None:
    """A mask full of stars (a ban any chanop can set, a WHO or LIST mask)
    is matched in time proportional to mask x name, not exponential: the
    server must not stall on ``*a*a*a*a*a*a*a*a*a*a*a*a*b`` against a long name."""
    import time

    for stars, length in ((6, 60), (8, 60), (12, 300), (24, 300)):
        start = time.process_time()
        assert not match("*a" * stars + "*b", "a" * length)
        assert match("*a" * stars + "*b", "a" * length + "b")
        assert time.process_time() - start < 0.2, (stars, length)


def test_match_folded_takes_a_folded_name() -> None:
    """match_folded matches a name folded beforehand as match does the unfolded one."""
    assert match_folded("*!*@Host.[Example]", fold("Nick!~u@HOST.{example}"))
    assert match("*!*@Host.[Example]", "Nick!~u@HOST.{example}")
    assert not match_folded("a*b", fold("ac"))
