"""Tests for saving the config file: operator comments kept, ConfRoom.conf
migration, load(save(state)) == state, and crash safety of the writer."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from conferenceroom.admin import AdminError, Settings, build_tree, load_config, save_config
from conferenceroom.admin.configfile import HEADER
from conferenceroom.admin.settings import BanEntry, ServerDef
from conferenceroom.passwords import verify_password
from tests.unit.test_admin_tree import COMMANDS, HASH, NOW, STATEFUL_REFUSALS

TREE = build_tree(bcrypt_rounds=4, clock=lambda: NOW)
REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "ConfRoom.conf"


def write(tmp_path: Path, text: str, name: str = "cr.conf") -> str:
    """Write *text* (dedented) to a config file in *tmp_path* and return its path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def change(path: str, *lines: str) -> Settings:
    """Load *path*, run AS *lines* on it, save it, and return the new settings."""
    s = load_config(path, tree=TREE).settings.apply(lines, tree=TREE)
    save_config(s, path, tree=TREE)
    return s


OPERATOR_FILE = f"""\
# My server.  Edited by hand, keep these notes!

general set name tenor.webmaster.com
general set description Tenor
general set serial 101-0001-001

# plain port plus the old one
general set ports 6667,7000
general set hub
services enable

# Alice runs the place
oper alice add {HASH} ac
oper alice access add *@10.*

# --- links ---
# soprano is our hub
server soprano add
server soprano set serial 102-0000-001
server soprano enable

# spammers
security kline add *@*.spam.example at={NOW} Spam
# end of file
"""


def test_unchanged_save_keeps_file_exactly(tmp_path):
    """Saving the settings a hand-written canonical file gives leaves it byte for byte."""
    path = write(tmp_path, OPERATOR_FILE)
    s = load_config(path, tree=TREE).settings
    save_config(s, path, tree=TREE)
    assert Path(path).read_text() == OPERATOR_FILE


def test_changed_line_keeps_its_comment(tmp_path):
    """A changed setting is rewritten in place, under the comment the operator put above it."""
    path = write(tmp_path, OPERATOR_FILE)
    change(path, "general set ports 6667", "general set leaf", "server soprano set serial 102-0000-009")
    text = Path(path).read_text()
    assert "# plain port plus the old one\ngeneral set ports 6667\ngeneral set leaf\nservices enable\n" in text
    assert "# soprano is our hub\nserver soprano add\nserver soprano set serial 102-0000-009\n" in text
    assert text.startswith("# My server.  Edited by hand, keep these notes!\n\ngeneral set name")


def test_removed_line_leaves_its_comments(tmp_path):
    """Deleting an entry removes its lines; the comments above it stay, above the next line."""
    path = write(tmp_path, OPERATOR_FILE)
    change(path, "oper alice del", "security kline del *@*.spam.example")
    text = Path(path).read_text()
    assert "oper alice" not in text and "kline" not in text
    assert "services enable\n\n# Alice runs the place\n\n# --- links ---\n# soprano is our hub\nserver soprano add" in text
    assert text.endswith("server soprano enable\n\n# spammers\n# end of file\n")


def test_new_lines_go_to_their_entry_or_family(tmp_path):
    """New lines join their entry (before its later lines), then their family, then the file's end."""
    path = write(tmp_path, OPERATOR_FILE)
    s = change(path, "server soprano set host 209.133.1.1", "server alto add", "server alto set password pw",
               "oper alice access add *@192.168.*", "security akill add evil@* at=1 Evil",
               "general set contact ops@webmaster.com", "security set deftrigger 3")
    text = Path(path).read_text()
    assert ("# --- links ---\n# soprano is our hub\n"
            "server soprano add\nserver soprano set serial 102-0000-001\nserver soprano set host 209.133.1.1\n"
            "server soprano enable\nserver alto add\nserver alto set password pw\n") in text
    assert "oper alice access add *@10.*\noper alice access add *@192.168.*\n" in text
    assert "general set serial 101-0001-001\ngeneral set contact ops@webmaster.com\n" in text
    assert f"security kline add *@*.spam.example at={NOW} Spam\nsecurity akill add evil@* at=1 Evil\n" in text
    assert load_config(path, tree=TREE).settings == s


def test_role_switch_keeps_comment(tmp_path):
    """GENERAL SET HUB -> LEAF replaces the line under the same comment (same setting, other verb)."""
    path = write(tmp_path, "# we route for the west coast\ngeneral set hub\n")
    change(path, "general set leaf")
    assert "# we route for the west coast\ngeneral set leaf\n" in Path(path).read_text()


def test_new_file_gets_header(tmp_path):
    """A file that does not exist yet is written as the header and canonical lines."""
    path = str(tmp_path / "new.conf")
    save_config(Settings(), path, tree=TREE)
    assert Path(path).read_text() == "\n".join([*HEADER, "", *TREE.write(Settings())]) + "\n"


def test_comment_only_file_keeps_comments_first(tmp_path):
    """A file of comments only stays as it is while the settings are the
    defaults it gives; a change goes after the comments, set off by a blank line."""
    path = write(tmp_path, "# only a comment\n")
    save_config(Settings(), path, tree=TREE)
    assert Path(path).read_text() == "# only a comment\n"
    change(path, "general set contact me", "security cps 3")
    assert Path(path).read_text() == "# only a comment\n\ngeneral set contact me\n\nsecurity cps 3\n"


def test_file_header_stays_on_top(tmp_path):
    """A new line of a family joins that family's lines; the header and the comment above a line stay put."""
    path = write(tmp_path, "# file header\n\n# about the description\ngeneral set description x\n")
    change(path, "general set contact me", "general set name x.example")
    assert Path(path).read_text() == ("# file header\n\n# about the description\ngeneral set description x\n"
                                      "general set name x.example\ngeneral set contact me\n")


def test_hand_written_modifier_lines_give_way(tmp_path):
    """A hand-written ``OPER x FLAG ADD`` or ``PASSWORD`` line later in the
    file that would undo an AS change is removed with it; nothing else moves."""
    path = write(tmp_path, f"# opers\noper bob add {HASH} ac\n# night shift\noper bob flag add g\n"
                           f"oper bob password {HASH}\nKEY abc\n")
    s = change(path, "oper bob flag del g")
    assert s.oper("bob").flags == {"a", "c"}
    assert Path(path).read_text() == (f"# opers\noper bob add {HASH} ac\n# night shift\n"
                                      f"oper bob password {HASH}\nKEY abc\n")
    s = change(path, "oper bob password other1")
    text = Path(path).read_text()
    assert verify_password("other1", s.oper("bob").password_hash) and load_config(path, tree=TREE).settings == s
    assert text.startswith("# opers\noper bob add $2b$04$") and text.endswith(" ac\n# night shift\nKEY abc\n")


# -- migration from ConferenceRoom ---------------------------------------------------


def test_confroom_conf_loads(tmp_path):
    """ConferenceRoom's ConfRoom.conf loads: what we implement takes effect, the rest is reported once each."""
    path = write(tmp_path, FIXTURE.read_text(), "ConfRoom.conf")
    loaded = load_config(path, tree=TREE)
    s = loaded.settings
    assert (s.name, s.description, s.serial, s.contact, s.ports, s.role) == (
        "soprano.webmaster.com", "WebMaster Soprano Server", "102-0000-001", "support@webmaster.com",
        (6666, 6667, 6668, 6669, 7000), "hub")
    assert s.ssl.enabled and s.ssl.port == 994 and s.services_enabled
    assert verify_password("letmein", s.oper("admin").password_hash) and s.oper("admin").flags == {"a", "c"}
    assert s.oper("helper").access == ("*@*.webmaster.com",)
    assert s.server("tenor") == ServerDef("tenor", name="tenor.*", serial="101-0001-001", enabled=True)
    assert s.server("alto") == ServerDef("alto", name="alto.webmaster.com", serial="103-0000-001", role="hub",
                                         host="209.133.1.3", port=994, ping=300, auto=True, secure=True,
                                         secureonly=True, enabled=True)
    assert s.klines == (BanEntry("*@*.spammer.example", "Spam bots", "", NOW, 0),
                        BanEntry("baduser@*", "Harassment, one week", "", NOW, NOW + 7 * 86400))
    assert s.akills == (BanEntry("*@203.0.113.*", "Network abuse", "", NOW, 0),)
    assert s.zlines == (BanEntry("192.0.2.0/24", "Open proxies", "", NOW, 0),)
    assert s.trigger_for("127.0.0.1") == 0
    assert loaded.unsupported == ("KEY", "WEB", "NEWS", "BOT", "CLIENT", "EVENT")
    unsupported = [w for w in loaded.warnings if "not supported" in w]
    assert unsupported == [f"{path}:{n}: {fam} commands are not supported by conferenceroom; kept in the file unchanged"
                           for n, fam in ((4, "KEY"), (17, "WEB"), (19, "NEWS"), (20, "BOT"), (21, "CLIENT"),
                                          (22, "EVENT"))]
    assert loaded.needs_rewrite


def test_confroom_conf_save_and_reload(tmp_path):
    """After a save the migrated file reloads identical, keeps every unsupported line and comment, and is stable."""
    original = FIXTURE.read_text()
    path = write(tmp_path, original, "ConfRoom.conf")
    loaded = load_config(path, tree=TREE)
    save_config(loaded.settings, path, tree=TREE)
    text = Path(path).read_text()
    again = load_config(path, tree=TREE)
    assert again.settings == loaded.settings and not again.needs_rewrite
    assert again.unsupported == loaded.unsupported
    lines = text.splitlines()
    for line in original.splitlines():
        if not line.strip() or line.startswith("#") or line.split()[0] in ("KEY", "WEB", "NEWS", "BOT", "CLIENT",
                                                                           "EVENT"):
            assert line in lines
    assert "letmein" not in text and "helpme" not in text
    assert lines.index("WEB ENABLE") == lines.index("WEB SET PORT 8080") + 1
    assert lines[-1] == "WEB SET ROOT /usr/local/confroom/web"
    assert "SECURITY KLINE ADD baduser@* until=" in text and " 1w " not in text
    save_config(again.settings, path, tree=TREE)
    assert Path(path).read_text() == text


def test_unknown_verb_in_known_family_is_an_error(tmp_path):
    """Only unknown families are tolerated: a bad verb in GENERAL still stops the load."""
    path = write(tmp_path, "NEWS ADD hello\nGENERAL SET COLOUR red\n")
    with pytest.raises(Exception) as err:
        load_config(path, tree=TREE)
    assert str(err.value).startswith(f"{path}:2: Unknown GENERAL SET keyword (word 3)")


def test_expired_bans_dropped_on_load(tmp_path):
    """Bans already expired when the file is read are not loaded (and so not written back)."""
    path = write(tmp_path, f"security kline add *@old.example until={NOW - 5} old\n"
                           f"security kline add *@new.example until={NOW + 5} new\n")
    assert [e.mask for e in load_config(path, tree=TREE).settings.klines] == ["*@new.example"]
    assert [e.mask for e in load_config(path, tree=TREE, now=NOW + 10).settings.klines] == []


# -- properties ------------------------------------------------------------------------

BASE_FILE = f"""\
# header comment
KEY 1234
general set name a.example.com

# opers
oper admin add {HASH} ac
# links
server tenor add
server tenor set serial 101-0001-001
WEB ENABLE
# bans
security kline add *@x.example at={NOW} x
# trailing
"""


@hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(COMMANDS, max_size=25), st.booleans())
def test_load_save_round_trip(commands, over_existing):
    """load(save(state)) == state for random settings (servers and bans too), into a new or a commented file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cr.conf")
        s = Settings(config_dir=tmp)
        if over_existing:
            Path(path).write_text(BASE_FILE)
            s = load_config(path, tree=TREE).settings
        for line in commands:
            try:
                s = TREE.execute_line(s, line).settings
            except AdminError as exc:
                assert exc.reason.startswith(STATEFUL_REFUSALS), exc
        save_config(s, path, tree=TREE)
        loaded = load_config(path, tree=TREE)
        assert loaded.settings == s
        text = Path(path).read_text()
        if over_existing:
            for kept in ("# header comment", "KEY 1234", "WEB ENABLE", "# trailing", "# opers"):
                assert kept in text.splitlines()
        save_config(loaded.settings, path, tree=TREE)
        assert Path(path).read_text() == text


WRITER = """\
import os, sys
from conferenceroom.admin import Settings, build_tree, save_config
tree = build_tree(hasher=lambda p: p, clock=lambda: {now})
states = []
for n in (0, 1):
    lines = ["general set description state %d" % n]
    lines += ["security kline add *@h%d-%d.example at={now} reason %d" % (n, i, i) for i in range(300)]
    lines += ["server s%d-%d add" % (n, i) for i in range(50)]
    states.append(Settings().apply(lines, tree=tree))
if sys.argv[2] == "step":
    # Stop before each fsync and rename until the test says go on (or kills us there).
    def hook(name, real):
        def step(*args):
            sys.stdout.write(name + "\\n")
            sys.stdout.flush()
            sys.stdin.readline()
            return real(*args)
        return step
    os.fsync = hook("fsync", os.fsync)
    os.replace = hook("replace", os.replace)
i = 0
while True:
    save_config(states[i % 2], sys.argv[1], tree=tree)
    sys.stdout.write("saved %d\\n" % i)
    sys.stdout.flush()
    i += 1
"""


def _writer(path: Path, mode: str) -> subprocess.Popen:
    """Start a process saving two alternating settings to *path* in a loop."""
    return subprocess.Popen([sys.executable, "-c", WRITER.format(now=NOW), str(path), mode], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the writer and reap it."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        stream.close()
    assert proc.returncode == -signal.SIGKILL


def _check_loads(path: Path) -> Settings:
    """The file loads completely, holding one of the two states, with the operator's note on top."""
    loaded = load_config(str(path), tree=TREE).settings
    assert loaded.description in ("state 0", "state 1")
    assert len(loaded.klines) == 300 and len(loaded.servers) == 50
    assert path.read_text().startswith("# operator note\n\ngeneral set description state ")
    return loaded


def test_kill_9_at_each_step_of_a_save(tmp_path):
    """SIGKILL before the temp file's fsync, before the rename and before the folder's fsync leaves a loadable file."""
    path = tmp_path / "cr.conf"
    path.write_text("# operator note\n\ngeneral set description start\n")
    rng = random.Random(9)
    steps_seen = []
    for target in ("fsync", "replace", "dir-fsync", "fsync", "replace"):
        proc = _writer(path, "step")
        try:
            skip = rng.randint(0, 2)  # let a few whole saves complete first
            while True:
                line = proc.stdout.readline().strip()
                assert line, proc.stderr.read()
                step = "dir-fsync" if line == "fsync" and steps_seen[-1:] == ["replace"] else line
                if not line.startswith("saved"):
                    steps_seen.append(step)
                    if step == target and skip == 0:
                        break
                    proc.stdin.write("\n")
                    proc.stdin.flush()
                elif step.startswith("saved"):
                    skip = max(0, skip - 1)
        finally:
            _kill(proc)
        _check_loads(path)
    leftovers = [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    assert leftovers  # some kills did land mid-save: their temp files are never read as the config


def test_kill_9_during_saves_leaves_loadable_file(tmp_path):
    """SIGKILL of a process saving in a loop, at random moments, always leaves a complete, loadable file."""
    path = tmp_path / "cr.conf"
    path.write_text("# operator note\n\ngeneral set description start\n")
    rng = random.Random(4)
    for _ in range(5):
        proc = _writer(path, "free")
        try:
            for _ in range(rng.randint(1, 30)):
                line = proc.stdout.readline()
                assert line, proc.stderr.read()
        finally:
            _kill(proc)
        _check_loads(path)
