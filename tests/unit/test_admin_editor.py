"""The config file is the operator's: AS changes edit only their own lines,
a file edited by hand since it was read is never overwritten, and every
comment, blank line, unsupported line and line order survives."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from conferenceroom.admin import AdminError, ConfigChanged, ConfigFile, Settings, build_tree, load_config
from conferenceroom.admin.editor import comparable
from tests.unit.test_admin_tree import COMMANDS, HASH, NOW, STATEFUL_REFUSALS

TREE = build_tree(bcrypt_rounds=4, clock=lambda: NOW)

ISSUE_FILE = """\
# Production server.  Notes below are mine.

general set name tenor.example.net
general set ports 6667

# --- operators ---
# alice is on call this week
OPER alice ADD {hash} ac

# --- bans ---
security kline add *@old.example at=1690000000 Old spam
# end of bans

WEB SET PORT 8080
""".format(hash=HASH)


def open_file(tmp_path: Path, text: str) -> tuple[ConfigFile, Settings]:
    """Write *text*, read it as a running server would; (file, settings in force)."""
    path = tmp_path / "cr.conf"
    path.write_text(text, encoding="utf-8")
    cf = ConfigFile(str(path), TREE)
    return cf, cf.load(NOW).settings


def as_change(cf: ConfigFile, settings: Settings, line: str) -> Settings:
    """Run ``AS <line>`` as the AS handler does: save first, then it is in force."""
    new = TREE.execute(settings, line.split(), now=NOW).settings
    cf.save(settings, new, NOW)
    return new


def kept_in_order(before: list[str], after: list[str]) -> list[str]:
    """Assert ``before`` is a subsequence of ``after``; return the other lines of ``after``."""
    added, i = [], 0
    for line in after:
        if i < len(before) and line == before[i]:
            i += 1
        else:
            added.append(line)
    assert i == len(before), f"lost or moved: {before[i]!r}\n{''.join(after)}"
    return added


def test_issue_reproduction_keeps_every_line(tmp_path):
    """Issue 7 item 1, step by step: a Z-line by AS, a K-line appended by
    hand then REHASH, a K-line by AS: every earlier line stays byte for
    byte and in order, each AS change adds one line beside its kind."""
    cf, s = open_file(tmp_path, ISSUE_FILE)
    path = Path(cf.path)
    s = as_change(cf, s, "security zline add 192.0.2.0/24 1d Open proxies")
    text = path.read_text()
    assert kept_in_order(ISSUE_FILE.splitlines(True), text.splitlines(True)) == [
        f"security zline add 192.0.2.0/24 until={NOW + 86400} at={NOW} Open proxies\n"]
    assert "Old spam\nsecurity zline add 192.0.2.0/24" in text
    with open(path, "a") as fh:
        fh.write("# hand-added ban\nsecurity kline add *@c.example Hand\n")
    hand = path.read_text()
    s = cf.load(NOW).settings
    s = as_change(cf, s, "security kline add *@d.example 2h D")
    text = path.read_text()
    assert kept_in_order(hand.splitlines(True), text.splitlines(True)) == [
        f"security kline add *@d.example until={NOW + 7200} at={NOW} D\n"]
    assert text.endswith("security kline add *@c.example Hand\n" + f"security kline add *@d.example until={NOW + 7200} at={NOW} D\n")
    assert comparable(load_config(cf.path, tree=TREE).settings) == comparable(s)


def test_hand_edit_without_rehash_is_never_overwritten(tmp_path):
    """A line appended by hand and not yet REHASHed: the next AS change is
    refused with a message saying to REHASH first; the file keeps the hand
    edit byte for byte; after REHASH the change goes through and keeps it."""
    cf, s = open_file(tmp_path, ISSUE_FILE)
    path = Path(cf.path)
    with open(path, "a") as fh:
        fh.write("security kline add *@hand.example Hand\n")
    edited = path.read_bytes()
    with pytest.raises(ConfigChanged) as err:
        as_change(cf, s, "general set description Changed")
    assert "REHASH first" in str(err.value) and "Nothing was changed" in str(err.value)
    assert path.read_bytes() == edited
    s = cf.load(NOW).settings
    s = as_change(cf, s, "general set description Changed")
    lines = path.read_text().splitlines()
    assert lines[-1] == "security kline add *@hand.example Hand" and "general set description Changed" in lines
    assert [e.mask for e in load_config(cf.path, tree=TREE).settings.klines] == ["*@old.example", "*@hand.example"]


def test_removed_file_is_not_written_blindly(tmp_path):
    """A config file moved away since it was read: the AS change fails and nothing is written."""
    cf, s = open_file(tmp_path, ISSUE_FILE)
    os.rename(cf.path, cf.path + ".moved")
    with pytest.raises(OSError):
        as_change(cf, s, "general set description Changed")
    assert not os.path.exists(cf.path)


def test_line_endings_case_and_spacing_are_kept(tmp_path):
    """CRLF lines, upper-case keywords, extra spaces and a missing final
    newline stay as they are; only the changed line is rewritten."""
    text = "# dos file\r\nGENERAL  SET  DESCRIPTION  Old one\r\nGENERAL SET PORTS 6667\r\nKEY x"
    cf, s = open_file(tmp_path, text)
    s = as_change(cf, s, "general set ports 7000")
    assert Path(cf.path).read_bytes() == (
        b"# dos file\r\nGENERAL  SET  DESCRIPTION  Old one\r\ngeneral set ports 7000\r\nKEY x")
    as_change(cf, s, "security cps 5")
    assert Path(cf.path).read_bytes() == (
        b"# dos file\r\nGENERAL  SET  DESCRIPTION  Old one\r\ngeneral set ports 7000\r\nKEY x\r\n\r\nsecurity cps 5\r\n")


def test_rewrite_at_load_changes_only_the_secret_word(tmp_path):
    """A plain-text password or a ban duration read at start-up is replaced
    in place: the rest of its line (case, spacing, comment above) stays."""
    text = "# the boss\nOPER  Boss  ADD  plainpw9  ac\nSECURITY KLINE ADD *@x.example 1h  Go away\n"
    path = tmp_path / "cr.conf"
    path.write_text(text)
    loaded = load_config(str(path), tree=TREE)
    cf = ConfigFile.from_loaded(loaded, TREE)
    cf.rewrite()
    lines = path.read_text().splitlines()
    hashed = loaded.settings.oper("boss").password_hash
    assert lines == ["# the boss", f"OPER  Boss  ADD  {hashed}  ac",
                     f"SECURITY KLINE ADD *@x.example until={NOW + 3600} at={NOW} Go away"]
    assert load_config(str(path), tree=TREE).settings == loaded.settings


def test_changed_line_keeps_its_place_and_neighbours(tmp_path):
    """Changing, adding and deleting entries touches only their lines."""
    cf, s = open_file(tmp_path, ISSUE_FILE)
    s = as_change(cf, s, "oper alice flag add g")
    s = as_change(cf, s, "oper bob add " + HASH + " h")
    s = as_change(cf, s, "security kline del *@old.example")
    text = Path(cf.path).read_text()
    assert text == ISSUE_FILE.replace(f"OPER alice ADD {HASH} ac\n",
                                      f"oper alice add {HASH} acg\noper bob add {HASH} h\n").replace(
        "security kline add *@old.example at=1690000000 Old spam\n", "")


# -- the property ---------------------------------------------------------------------------

_NOISE = st.sampled_from([
    "# a comment", "", "   ", "# --- section ---", "KEY 4F2A-91C3", "WEB SET PORT 8080", "NEWS ADD Hello all",
    "BOT Guardian ADD #lobby", "CLIENT SET JAVAPORT 7000", "EVENT ADD DAILY 04:00 /squit x", "\t# indented",
])
#: Commands on a few entries, so that adds, modifiers and deletes of one entry meet often.
_ENTRY = st.sampled_from([
    *(f"oper {n} {v}" for n in ("bob", "BOB") for v in (
        f"add {HASH} ac", f"add {HASH}", "del", "flag add g", "flag del a", f"password {HASH}",
        "access add *@10.*", "access del *@10.*", "access add u@h.example")),
    *(f"server {h} {v}" for h in ("t", "T") for v in (
        "add", "del", "set serial 101-0001-001", "set serial none", "set password pw", "enable", "disable",
        "set ping 60", "set enable")),
    *(f"security {k} {v}" for k in ("kline", "akill") for v in (
        f"add *@a.example at={NOW} A", f"add *@A.Example at={NOW} changed", "del *@a.example",
        f"add *!x@b.example until={NOW + 99} at={NOW} B", "del x@b.example")),
    "security zline add 192.0.2.0/24 at=1 Z", "security zline del 192.0.2.0/24",
    "security trigger add 10.0.0.0/8 3", "security trigger del 10.0.0.0/8",
    "general set hub", "general set leaf", "services disable", "services enable",
])
#: Any command one time in three, else one of _ENTRY (st.one_of would flatten COMMANDS' many branches
#: and drown _ENTRY).
_ANY = st.builds(lambda pick, anything, entry: anything if pick == 0 else entry, st.integers(0, 2), COMMANDS, _ENTRY)
_FILE_ITEM = st.one_of(_NOISE.map(lambda line: ("noise", line)), _ANY.map(lambda line: ("command", line)))
#: An AS change, or (one time in four) lines appended by hand, REHASHed or not.
_STEP = st.builds(lambda pick, line, lines, rehash: ("hand", lines, rehash) if pick == 0 else ("as", line),
                  st.integers(0, 3), _ANY, st.lists(st.one_of(_NOISE, _ANY), min_size=1, max_size=3),
                  st.booleans())


def _shout(line: str) -> str:
    """The first two words in upper case (keywords are case-insensitive), for variety."""
    words = line.split(" ")
    return " ".join([w.upper() for w in words[:2]] + words[2:])


def _build(items: list[tuple[str, str]], upper: list[bool]) -> str:
    """A loadable file from random items: commands that cannot run where they stand are left out."""
    s = Settings()
    out = []
    for (kind, line), shout in zip(items, upper):
        if kind == "command":
            try:
                s = TREE.execute(s, line.split(), now=NOW).settings
            except AdminError:
                continue
            line = _shout(line) if shout else line
        out.append(line + "\n")
    return "".join(out)


def _changed_keys(old: Settings, new: Settings) -> set:
    """The keys (settings, entries' lines) whose canonical lines differ."""
    before, after = set(TREE.write(old, NOW)), set(TREE.write(new, NOW))
    return {TREE.line_key(line.split()) for line in before ^ after}


def _check_edit(before: str, after: str, old: Settings, new: Settings, path: str) -> None:
    """Only the lines of what changed were touched, and the file gives the new settings."""
    keys = _changed_keys(old, new)
    groups = {(k[0], k[1]) for k in keys}
    b, a = before.splitlines(True), after.splitlines(True)
    survivors = []
    for line in b:
        words = line.split()
        key = TREE.line_key(words) if words and not words[0].startswith("#") and words[0].upper() not in \
            TREE.unsupported else None
        if key is None or (key[0], key[1]) not in groups:
            survivors.append(line)
    # Every line outside the entries changed is still there, byte for byte, in order; the rest are
    # their lines (and a blank line setting off a new family at the end).
    added = [line for line in kept_in_order(survivors, a) if line.strip()]
    for line in added:
        key = TREE.line_key(line.split())
        assert key is not None and (key[0], key[1]) in groups, (line, groups)
    assert len([line for line in added if line not in b]) <= len(keys)
    assert comparable(load_config(path, tree=TREE, now=NOW).settings) == comparable(new)


@hsettings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_FILE_ITEM, max_size=25), st.lists(st.booleans(), min_size=25, max_size=25),
       st.lists(_STEP, min_size=1, max_size=12), st.booleans())
def test_random_files_changes_and_hand_edits(items, upper, steps, dos):
    """Random files (comments, blanks, KEY/WEB/NEWS... lines, commands in
    any case, Unix or DOS line endings) x random AS changes x random hand
    edits (REHASHed or not): an AS change keeps every line outside the entries it changes byte for
    byte and in order, adds lines only for them, and the saved file loads
    as the running settings; a hand edit not yet REHASHed refuses the
    change and stays byte for byte."""
    _run(items, upper, steps, dos)


_ENTRY_ITEM = st.one_of(_NOISE.map(lambda line: ("noise", line)), _ENTRY.map(lambda line: ("command", line)))
_ENTRY_STEP = st.builds(lambda pick, line, lines, rehash: ("hand", lines, rehash) if pick == 0 else ("as", line),
                        st.integers(0, 3), _ENTRY, st.lists(st.one_of(_NOISE, _ENTRY), min_size=1, max_size=3),
                        st.booleans())


@hsettings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_ENTRY_ITEM, min_size=8, max_size=30), st.lists(st.booleans(), min_size=30, max_size=30),
       st.lists(_ENTRY_STEP, min_size=3, max_size=15), st.booleans())
def test_random_entry_edits(items, upper, steps, dos):
    """The same property on a few opers, server definitions and bans only,
    so that adds, hand-written modifiers (FLAG, PASSWORD, SET) and deletes
    of one entry meet often."""
    _run(items, upper, steps, dos)


def _run(items: list[tuple[str, str]], upper: list[bool], steps: list, dos: bool) -> None:
    """Build the file, then run the steps, checking every AS change (see the tests above)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cr.conf")
        Path(path).write_bytes(_build(items, upper).replace("\n", "\r\n" if dos else "\n").encode())
        loaded = load_config(path, tree=TREE, now=NOW)
        cf = ConfigFile.from_loaded(loaded, TREE)
        cf.rewrite()
        s = loaded.settings
        for step in steps:
            before = Path(path).read_bytes().decode()
            if step[0] == "as":
                try:
                    new = TREE.execute(s, step[1].split(), now=NOW).settings
                except AdminError as exc:
                    assert exc.reason.startswith(STATEFUL_REFUSALS), exc
                    continue
                cf.save(s, new, NOW)
                _check_edit(before, Path(path).read_bytes().decode(), s, new, path)
                s = new
                continue
            _, lines, rehash = step
            appended = before + "".join(line + "\n" for line in lines)
            Path(path).write_text(appended)
            try:
                load_config(path, tree=TREE, now=NOW)
            except Exception:
                Path(path).write_text(before)  # a hand edit that does not load: taken back
                continue
            if rehash:
                s = cf.load(NOW).settings
                cf.rewrite()  # as the server does after a REHASH that hashed a password or dated a ban
                assert not load_config(path, tree=TREE, now=NOW).needs_rewrite
                continue
            other = TREE.execute(s, ["security", "cps", "77"], now=NOW).settings
            with pytest.raises(ConfigChanged):
                cf.save(s, other, NOW)
            assert Path(path).read_bytes().decode() == appended
            Path(path).write_text(before)


def test_deleting_an_entry_takes_its_hand_written_lines(tmp_path):
    """OPER x DEL / SERVER x DEL remove every line of that entry, also
    hand-written FLAG or SET lines that would no longer load; the comments
    and other entries stay."""
    text = (f"# bob\noper bob add {HASH} ac\noper bob flag add g\noper bob access add *@10.*\n"
            f"oper carol add {HASH} h\n# links\nserver t add\nserver t set serial 101-0001-001\n"
            "server t enable\nserver t set ping 60\nKEY abc\n")
    cf, s = open_file(tmp_path, text)
    s = as_change(cf, s, "oper bob del")
    s = as_change(cf, s, "server t del")
    assert Path(cf.path).read_text() == f"# bob\noper carol add {HASH} h\n# links\nKEY abc\n"
    assert load_config(cf.path, tree=TREE).settings == s
