"""Tests for loading and saving the config file (AS lines without /as)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conferenceroom.admin import ConfigError, Settings, build_tree, load_config, save_config
from conferenceroom.admin.configfile import render_config
from conferenceroom.passwords import hash_password, verify_password

TREE = build_tree(bcrypt_rounds=4)
HASH = hash_password("secret", rounds=4)
REPO = Path(__file__).resolve().parents[2]

SPEC_EXAMPLE = """\
general set name soprano.webmaster.com
general set description Soprano test server
general set serial 102-0000-001
general set ports 7000
general set hub
oper admin add secret ac
services enable
"""


def write(tmp_path: Path, text: str, name: str = "test.conf") -> str:
    """Write *text* to a config file in *tmp_path* and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_spec_example_loads(tmp_path):
    """The SPEC section 9 example loads; its plain password is hashed; a rewrite is asked for."""
    loaded = load_config(write(tmp_path, SPEC_EXAMPLE), tree=TREE)
    s = loaded.settings
    assert (s.name, s.description, s.serial, s.ports, s.role) == (
        "soprano.webmaster.com", "Soprano test server", "102-0000-001", (7000,), "hub")
    assert verify_password("secret", s.oper("admin").password_hash)
    assert loaded.needs_rewrite
    assert any(":6: plain-text password hashed" in w for w in loaded.warnings)


def test_rewrite_removes_plaintext(tmp_path):
    """After save_config the file holds only the hash and loads without a rewrite."""
    path = write(tmp_path, SPEC_EXAMPLE)
    loaded = load_config(path, tree=TREE)
    save_config(loaded.settings, path, tree=TREE)
    text = Path(path).read_text()
    assert "secret" not in text and "$2b$04$" in text
    again = load_config(path, tree=TREE)
    assert not again.needs_rewrite and again.settings == loaded.settings


def test_hashed_password_kept(tmp_path):
    """A line that already holds a hash keeps it and needs no rewrite."""
    loaded = load_config(write(tmp_path, f"oper admin add {HASH} ac\n"), tree=TREE)
    assert loaded.settings.oper("admin").password_hash == HASH
    assert not loaded.needs_rewrite


def test_comments_blank_lines_and_case(tmp_path):
    """# comment lines and blank lines are skipped; keywords are case-insensitive."""
    text = "# a comment\n\n   # indented comment\nGENERAL SET Leaf\n\tSecurity CPS 4  \n"
    s = load_config(write(tmp_path, text), tree=TREE).settings
    assert s.role == "leaf" and s.cps == 4


@pytest.mark.parametrize("text, lineno, fragment", [
    ("general set hub\n\nservices frob\n", 3, "Unknown SERVICES keyword (word 2)"),
    ("security kline frob *@x\n", 1, "Unknown SECURITY KLINE keyword (word 3)"),
    ("server tenor add\nserver tenor enable\n", 2, "needs a serial or a password"),
    ("# c\n\ngeneral set frob 1\n", 3, "Unknown GENERAL SET keyword (word 3)"),
    ("general set ports 70000\n", 1, "port 70000 is not from 1 to 65535"),
    ("general set hub\n\ngeneral set name\n", 3, "Missing <name>"),
    ("oper admin add x ac\noper admin add y a\n", 2, "already exists"),
    ("oper admin flag add g\n", 1, "No oper named admin"),
    ("general\n", 1, "Incomplete command GENERAL"),
])
def test_bad_line_reports_file_and_line(tmp_path, text, lineno, fragment):
    """The first bad line stops the load with file:line: reason (and the syntax)."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path, tree=TREE)
    assert str(err.value).startswith(f"{path}:{lineno}: ")
    assert fragment in str(err.value)
    assert "Syntax:" in str(err.value)
    assert (err.value.path, err.value.lineno) == (path, lineno)


def test_missing_file(tmp_path):
    """A missing file is a ConfigError 'file: cannot read: ...'."""
    path = str(tmp_path / "nope.conf")
    with pytest.raises(ConfigError) as err:
        load_config(path, tree=TREE)
    assert str(err.value).startswith(f"{path}: cannot read: ")


def test_undecodable_file(tmp_path):
    """A file that is not UTF-8 is a ConfigError, not a traceback."""
    path = tmp_path / "bin.conf"
    path.write_bytes(b"general set description \xff\xfe\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(path), tree=TREE)
    assert "cannot read" in str(err.value)


def test_paths_relative_to_config(tmp_path):
    """MOTD and data paths resolve beside the config file."""
    loaded = load_config(write(tmp_path, "general set motd m/motd.txt\n"), tree=TREE)
    assert loaded.settings.motd == str(tmp_path / "m" / "motd.txt")
    assert loaded.settings.datadir_path() == str(tmp_path / "data")


def test_problems_become_warnings(tmp_path):
    """Suspicious combinations load but produce warnings."""
    text = "general set secureonly on\ngeneral ssl enable\ngeneral ssl port 6667\n"
    warnings = load_config(write(tmp_path, text), tree=TREE).warnings
    assert any("SSL port 6667 is also listed as a plain port" in w for w in warnings)


def test_shipped_config_loads():
    """etc/conferenceroom.conf loads, needs no rewrite, and has oper admin with flags ac."""
    loaded = load_config(str(REPO / "etc" / "conferenceroom.conf"), tree=TREE)
    assert not loaded.needs_rewrite and loaded.warnings == []
    admin = loaded.settings.oper("admin")
    assert admin.flags == {"a", "c"} and admin.password_hash.startswith("$2b$")
    assert loaded.settings.services_enabled and loaded.settings.role == "hub"


def test_save_round_trip(tmp_path):
    """save_config then load_config gives equal settings."""
    path = str(tmp_path / "cr.conf")
    s = Settings(config_dir=str(tmp_path)).apply([
        "general set name a.example.com", f"oper x add {HASH} g", "oper x access add *@*.lan",
        "security trigger add 127.0.0.1 0", "general set contact me at example dot com",
    ], tree=TREE)
    save_config(s, path, tree=TREE)
    assert load_config(path, tree=TREE).settings == s
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_save_tightens_mode_to_0600(tmp_path):
    """A config file readable by others (0644, 0640) is saved as 0600, since
    it holds password hashes and link passwords; the save says so once."""
    path = write(tmp_path, "general set hub\n")
    os.chmod(path, 0o644)
    notes = save_config(Settings().apply(["server t add", "server t set password linkpw"], tree=TREE), path, tree=TREE)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert notes == [f"{path} was mode 0644; now 0600: it holds password hashes and link passwords"]
    assert save_config(Settings().apply(["general set leaf"], tree=TREE), path, tree=TREE) == []
    assert os.stat(path).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("victim", ["replace", "fsync"])
def test_failed_save_leaves_old_file(tmp_path, monkeypatch, victim):
    """If the save fails midway the old file is untouched, loadable, and no temp file is left."""
    path = write(tmp_path, SPEC_EXAMPLE.replace("secret", HASH))
    before = Path(path).read_text()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, victim, boom)
    with pytest.raises(OSError):
        save_config(Settings().apply(["general set leaf"], tree=TREE), path, tree=TREE)
    monkeypatch.undo()
    assert Path(path).read_text() == before
    assert os.listdir(tmp_path) == ["test.conf"]
    assert load_config(path, tree=TREE).settings.role == "hub"


def test_render_has_header_and_canonical_lines():
    """The saved text starts with a comment header followed by the canonical lines."""
    text = render_config(Settings(), tree=TREE)
    lines = text.splitlines()
    assert lines[0].startswith("#")
    assert lines[-1] == "services enable"
    assert text.endswith("\n")


@pytest.mark.parametrize("text, secret", [
    ("server tenor add\nserver tenor set password :Hunter2link\n", "Hunter2link"),
    ("server tenor add\nserver tenor set password s\u00e9cretlink\n", "s\u00e9cretlink"),
    (f"oper bob add {'Hunter2' * 11} ac\n", "Hunter2"),
])
def test_bad_password_line_does_not_echo_the_password(tmp_path, text, secret):
    """A refused oper or link password is named as ``'****'`` in the error:
    the file:line: reason of a failed load or REHASH is logged and sent to
    every operator, so it must not carry the password."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path, tree=TREE)
    assert secret not in str(err.value)
    assert "'****'" in str(err.value) and "Syntax:" in str(err.value)

