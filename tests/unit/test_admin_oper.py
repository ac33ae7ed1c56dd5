"""Tests for the OPER family of AS commands."""

from __future__ import annotations

import pytest

from conferenceroom.admin import Settings, build_tree
from conferenceroom.passwords import hash_password, looks_hashed, verify_password
from tests.helpers import admin_refusal

TREE = build_tree(bcrypt_rounds=4)
HASH = hash_password("secret", rounds=4)
BASE = TREE.execute_line(Settings(), f"oper admin add {HASH} ac").settings


def run(line: str, settings: Settings = BASE):
    """Run one AS line on *settings*."""
    return TREE.execute_line(settings, line)


def test_add_plaintext_is_hashed():
    """OPER ADD with a plain password stores only a bcrypt hash and asks for a rewrite."""
    result = run("oper bob add hunter2 gh")
    bob = result.settings.oper("bob")
    assert bob.name == "bob" and bob.flags == {"g", "h"} and bob.access == ()
    assert looks_hashed(bob.password_hash) and "hunter2" not in bob.password_hash
    assert verify_password("hunter2", bob.password_hash)
    assert result.rewrite and result.changed
    assert result.replies == ["Oper bob added with flags gh"]
    assert all("hunter2" not in line for line in TREE.write(result.settings))


def test_add_hash_is_kept():
    """OPER ADD with an existing hash keeps it as it is and needs no rewrite."""
    result = run(f"oper bob add {HASH}")
    assert result.settings.oper("bob").password_hash == HASH
    assert result.settings.oper("bob").flags == frozenset()
    assert not result.rewrite
    assert f"oper bob add {HASH}" in TREE.write(result.settings)


def test_add_existing_refused():
    """Adding an oper that exists (in any case) is refused with the syntax."""
    refusal = admin_refusal(run, "oper ADMIN add other a")
    assert "already exists" in refusal
    assert "Syntax: OPER <name> ADD <password> [<flags>]" in refusal


def test_del():
    """OPER <name> DEL removes the oper; deleting a missing one is refused."""
    result = run("oper Admin del")
    assert result.settings.oper("admin") is None and result.replies == ["Oper admin deleted"]
    refusal = admin_refusal(run, "oper admin del", result.settings)
    assert "No oper named admin" in refusal and "Syntax: OPER <name> DEL" in refusal


def test_list_one_and_all():
    """OPER <name> LIST shows one oper; OPER alone lists all; no hash is shown."""
    s = run("oper admin access add *@127.0.0.1").settings
    s = run("oper bob add x g", s).settings
    assert run("oper admin list", s).replies == ["admin: flags ac; access from *@127.0.0.1"]
    assert run("oper", s).replies == [
        "Opers (2):",
        "  admin: flags ac; access from *@127.0.0.1",
        "  bob: flags g; access from anywhere",
    ]
    assert run("oper", Settings()).replies == ["No opers defined"]
    assert all("$2b$" not in line for line in run("oper", s).replies)


def test_password():
    """OPER <name> PASSWORD changes the hash; the old password stops working."""
    result = run("oper admin password n3w")
    entry = result.settings.oper("admin")
    assert verify_password("n3w", entry.password_hash)
    assert not verify_password("secret", entry.password_hash)
    assert result.rewrite and entry.flags == {"a", "c"}
    assert result.replies == ["Password for oper admin changed"]


def test_access_add_del_list():
    """OPER ACCESS ADD/DEL/LIST manage user@host masks in order."""
    s = run("oper admin access add *@127.0.0.1").settings
    s = run("oper admin access add ~me@*.example.com", s).settings
    assert s.oper("admin").access == ("*@127.0.0.1", "~me@*.example.com")
    assert run("oper admin access list", s).replies == [
        "Access masks for oper admin:", "  *@127.0.0.1", "  ~me@*.example.com",
    ]
    again = run("oper admin access add *@127.0.0.1", s)
    assert not again.changed and again.settings is s
    s = run("oper admin access del *@127.0.0.1", s).settings
    assert s.oper("admin").access == ("~me@*.example.com",)
    refusal = admin_refusal(run, "oper admin access del *@127.0.0.1", s)
    assert "no access mask" in refusal
    assert run("oper admin access list").replies == ["Oper admin may log in from anywhere"]


def test_access_written_back():
    """Access masks are written after the oper's ADD line and round-trip."""
    s = run("oper admin access add *@127.0.0.1").settings
    lines = TREE.write(s)
    assert lines.index(f"oper admin add {HASH} ac") < lines.index("oper admin access add *@127.0.0.1")
    assert Settings().apply(lines, tree=TREE) == s


def test_flag_add_del_list():
    """OPER FLAG ADD/DEL/LIST change and show the flags."""
    s = run("oper admin flag add +gs").settings
    assert s.oper("admin").flags == {"a", "c", "g", "s"}
    s = run("oper admin flag del c", s).settings
    assert s.oper("admin").flags == {"a", "g", "s"}
    assert run("oper admin flag list", s).replies == [
        "Flags for oper admin: ags",
        "  a server administrator", "  g global operator", "  s services administrator",
    ]
    assert f"oper admin add {HASH} ags" in TREE.write(s)


@pytest.mark.parametrize("line, fragment", [
    ("oper admin add pw x", "unknown flag(s) x"),
    ("oper admin flag add ab", "unknown flag(s) b"),
    ("oper admin flag add +", "no flags given"),
    ("oper admin flag del z", "unknown flag(s) z"),
    ("oper admin flag add", "Missing <flags>"),
    ("oper bob add", "Missing <password>"),
    ("oper bob add " + "x" * 73, "longer than 72 bytes"),
    ("oper admin password", "Missing <password>"),
    ("oper admin access add nohost", "user@host"),
    ("oper admin access add a@b@c", "user@host"),
    ("oper admin access del", "Missing <user@host>"),
    ("oper bad!name list", "Bad <name>"),
    ("oper nobody list", "No oper named nobody"),
    ("oper nobody password x", "No oper named nobody"),
    ("oper nobody access add *@*", "No oper named nobody"),
    ("oper nobody flag add a", "No oper named nobody"),
    ("oper admin", "Incomplete command OPER <name>"),
    ("oper admin flag", "Incomplete command OPER <name> FLAG"),
])
def test_oper_bad_commands(line, fragment):
    """Malformed OPER commands are refused with the reason and an OPER syntax line."""
    refusal = admin_refusal(run, line)
    assert fragment in refusal
    assert "Syntax: OPER" in refusal
