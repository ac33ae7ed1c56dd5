"""Config mistakes are errors: unknown families and keywords get a "did you
mean", ban masks and durations must parse, only ConferenceRoom's own
unimplemented families are kept; and no password reaches a log line, an
error message or another operator's notice, whatever the typo."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from conferenceroom.admin import AdminError, ConfigError, Settings, build_tree, changed_lines, load_config
from conferenceroom.admin.families import UNSUPPORTED_FAMILIES
from conferenceroom.passwords import hash_password

NOW = 1_700_000_000
TREE = build_tree(bcrypt_rounds=4, clock=lambda: NOW)
HASH = hash_password("x", rounds=4)
FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "ConfRoom.conf"


def write(tmp_path: Path, text: str) -> str:
    """Write *text* to a config file and return its path."""
    path = tmp_path / "cr.conf"
    path.write_text(text, encoding="utf-8")
    return str(path)


def refusal(line: str) -> AdminError:
    """The AdminError a live ``AS <line>`` gets."""
    with pytest.raises(AdminError) as err:
        TREE.execute(Settings(), line.split())
    return err.value


# -- unknown words: errors with a suggestion ----------------------------------------------


@pytest.mark.parametrize("text, lineno, fragment", [
    ("general set hub\nsecutiry kline add *@x.example spam\n", 2, "Unknown family (word 1); did you mean SECURITY?"),
    ("genral set ports 7000\n", 1, "Unknown family (word 1); did you mean GENERAL?"),
    ("# c\n\nopers admin list\n", 3, "did you mean OPER?"),
    ("general sett ports 7000\n", 1, "Unknown GENERAL keyword (word 2); did you mean SET?"),
    ("general set prots 7000\n", 1, "did you mean PORTS?"),
    ("security kline ad *@x.example\n", 1, "did you mean ADD?"),
    ("server tenor add\nserver tenor set pasword x\n", 2, "did you mean PASSWORD?"),
])
def test_typo_stops_the_load_with_a_suggestion(tmp_path, text, lineno, fragment):
    """A misspelt family or keyword is not kept as "unsupported": the load
    stops with file:line: reason and names the word it probably is."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path, tree=TREE)
    assert str(err.value).startswith(f"{path}:{lineno}: ")
    assert fragment in str(err.value)


def test_far_off_first_word_has_no_suggestion(tmp_path):
    """A first word like no family at all is an error too, listing the families instead of guessing."""
    path = write(tmp_path, "xyzzy plugh\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, tree=TREE)
    assert str(err.value).startswith(f"{path}:1: Unknown family")
    assert "did you mean" not in str(err.value)
    assert "GENERAL|OPER" in str(err.value)


@pytest.mark.parametrize("line, fragment", [
    ("secutiry kline add *@x.example spam", "did you mean SECURITY?"),
    ("oper admin passwd secret", "did you mean PASSWORD?"),
    ("general set descripton hello", "did you mean DESCRIPTION?"),
    ("server tenor st name x.y", "did you mean SET?"),
])
def test_live_typo_gets_a_suggestion(line, fragment):
    """The same suggestion comes back to an operator typing the command live."""
    assert fragment in str(refusal(line))


def test_unsupported_families_are_the_confroom_ones():
    """The list of kept-but-unimplemented families is ConferenceRoom's own, in one place."""
    assert {"KEY", "WEB", "NEWS", "BOT", "CLIENT", "EVENT"} <= set(UNSUPPORTED_FAMILIES)
    fixture_families = {line.split()[0].upper() for line in FIXTURE.read_text().splitlines()
                        if line.strip() and not line.startswith("#")}
    assert fixture_families - {"GENERAL", "SERVICES", "OPER", "SERVER", "SECURITY"} <= set(UNSUPPORTED_FAMILIES)
    assert not {f.lower() for f in UNSUPPORTED_FAMILIES} & TREE.family_words


def test_unsupported_family_live_says_so():
    """AS WEB ... live: told that conferenceroom does not implement it (not "unknown")."""
    err = refusal("web set port 8080")
    assert "WEB" in str(err) and "not implemented" in str(err)


# -- durations and masks must parse ----------------------------------------------------------


@pytest.mark.parametrize("line, fragment", [
    ("security kline add *@1.2.3.4 2x bad", "'2x' is not a duration"),
    ("security akill add *@1.2.3.4 1hour bad", "'1hour' is not a duration"),
    ("security zline add 192.0.2.0/24 3days proxies", "'3days' is not a duration"),
    ("security kline add carol 2h x", "user@host"),
    ("security akill add carol 2h x", "user@host"),
    ("security kline add carol@ 2h x", "user@host"),
    ("security zline add carol 2h x", "IP address"),
    ("security zline add 10.0.0.0/33 x", "CIDR"),
])
def test_bad_ban_terms_are_refused(line, fragment):
    """A duration that does not parse is an error (not a permanent ban with
    the typo in its reason); a K-line/AKILL mask needs user@host, a Z-line an IP."""
    err = refusal(line)
    assert fragment in str(err)
    assert "Syntax:" in str(err)


def test_bad_duration_in_file_is_a_file_error(tmp_path):
    """The same strictness applies to the config file, with file:line."""
    path = write(tmp_path, "general set hub\nsecurity kline add *@1.2.3.4 2x bad\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, tree=TREE)
    assert str(err.value).startswith(f"{path}:2: ") and "'2x' is not a duration" in str(err.value)


@pytest.mark.parametrize("line, mask, reason, expires", [
    ("security kline add *@x.example 1d12h Spam", "*@x.example", "Spam", NOW + 36 * 3600),
    ("security kline add *@x.example 90 Spam", "*@x.example", "Spam", NOW + 90 * 60),
    ("security kline add *@x.example :3rd strike", "*@x.example", "3rd strike", 0),
    ("security kline add *!bob@x.example Bob", "bob@x.example", "Bob", 0),
    ("security akill add evil@* 2h three words here", "evil@*", "three words here", NOW + 7200),
    ("security zline add 192.0.2.0/24 1w Open proxies", "192.0.2.0/24", "Open proxies", NOW + 7 * 86400),
])
def test_good_ban_terms_still_work(line, mask, reason, expires):
    """Valid masks and durations keep working; a reason starting with a digit is written after ':'."""
    s = TREE.execute(Settings(), line.split()).settings
    entry = (s.klines + s.akills + s.zlines)[0]
    assert (entry.mask, entry.reason, entry.expires) == (mask, reason, expires)
    written = TREE.write(s)
    assert Settings().apply(written, tree=TREE) == s


# -- secrets never shown ----------------------------------------------------------------------------


@pytest.mark.parametrize("line, secret, shown", [
    ("oper bob add hunter2x ac", "hunter2x", "oper bob add **** ac"),
    ("OPER bob PASSWORD hunter2x", "hunter2x", "OPER bob PASSWORD ****"),
    ("server tenor set password linkpw99", "linkpw99", "server tenor set password ****"),
    ("general set name x.example", None, "general set name x.example"),
])
def test_shown_masks_secret_positions(line, secret, shown):
    """The loggable form of a parsed command masks exactly the secret arguments."""
    assert TREE.shown(line.split()) == shown


@pytest.mark.parametrize("line, secret", [
    ("oper x passwd secretpw9", "secretpw9"),
    ("oper x PASSWORD secretpw9 extra words", "secretpw9"),
    ("oper x secretpw9 password", "secretpw9"),
    ("oper x add secretpw9 zz", "secretpw9"),
    ("server tenor set pasword secretpw9", "secretpw9"),
    ("opre x password secretpw9", "secretpw9"),
    ("secretpw9", "secretpw9"),
    ("oper x password secret pw9", "pw9"),
])
def test_refusals_never_show_the_secret_publicly(line, secret):
    """Whatever the typo, the loggable form of the command and the public
    error text (logged, sent to other opers, printed for a config file) do
    not contain what might be a password; the family and verb stay."""
    err = refusal(line)
    assert secret not in err.command and secret not in err.public
    assert err.command.split()[0].upper() in ("OPER", "SERVER", "AS") or err.command.startswith("(")
    assert secret not in TREE.shown(line.split())


def test_config_error_does_not_echo_a_password(tmp_path):
    """A config line with a mistyped keyword before a password is reported without the password."""
    path = write(tmp_path, f"oper x add {HASH} a\noper x passwd hunter2x\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, tree=TREE)
    assert "hunter2x" not in str(err.value)
    assert str(err.value).startswith(f"{path}:2: ") and "did you mean PASSWORD?" in str(err.value)


def test_rehash_report_masks_link_passwords():
    """REHASH's change report hides oper hashes and link passwords."""
    old = Settings().apply(["server tenor add"], tree=TREE)
    new = TREE.execute(old, "server tenor set password linkpw99".split()).settings
    lines = changed_lines(TREE, old, new)
    assert lines == ["set: server tenor set password ****"]


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c"])
def test_line_separators_are_spaces(tmp_path, separator):
    """A Unicode line separator typed into a value counts as a space, so a
    config line never holds one and reads back as the same one line."""
    s = TREE.execute(Settings(), f"general set description one{separator}two".split()).settings
    assert s.description == "one two"
    path = tmp_path / "cr.conf"
    path.write_text("\n".join(TREE.write(s)) + "\n")
    assert load_config(str(path), tree=TREE).settings == replace(s, config_dir=str(tmp_path))


def test_only_newline_ends_a_config_line(tmp_path):
    """A stray separator character in a hand-written comment does not cut the file's lines."""
    path = write(tmp_path, "# note\u2028more note\ngeneral set description Fine\n")
    assert load_config(path, tree=TREE).settings.description == "Fine"


def test_suggestion_reads_as_a_question_then_the_syntax():
    """The did-you-mean is followed by the syntax without a stray full stop."""
    assert "did you mean PASSWORD? Syntax: OPER <name> ADD|" in str(refusal("oper x passwd y"))
