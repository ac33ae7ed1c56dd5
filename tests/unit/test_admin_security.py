"""Tests for the SECURITY family of AS commands."""

from __future__ import annotations

import pytest

from conferenceroom.admin import Settings, build_tree
from tests.helpers import admin_refusal

TREE = build_tree(bcrypt_rounds=4)


def run(line: str, settings: Settings | None = None):
    """Run one AS line on *settings* (defaults when None)."""
    return TREE.execute_line(settings or Settings(), line)


@pytest.mark.parametrize("line, attr, value", [
    ("security set flood off", "enabled", False),
    ("security set flood penalties 5", "penalties", 5),
    ("security set flood seconds 30", "seconds", 30),
    ("security set flood kill 50", "kill", 50),
    ("security set flood oper off", "oper_exempt", False),
])
def test_flood_settings(line, attr, value):
    """SECURITY SET FLOOD ... change the matching FloodSettings field only."""
    result = run(line)
    assert getattr(result.settings.flood, attr) == value
    assert result.changed and result.replies
    assert line in TREE.write(result.settings)


def test_deftrigger_and_cps():
    """SECURITY SET DEFTRIGGER and SECURITY CPS store their numbers (0 = no limit)."""
    s = run("security set deftrigger 0").settings
    s = run("security cps 20", s).settings
    assert (s.deftrigger, s.cps) == (0, 20)
    assert s.trigger_for("1.2.3.4") == 0


def test_trigger_add_update_del_list():
    """SECURITY TRIGGER ADD/DEL/LIST manage per-IP exceptions in order."""
    s = run("security trigger add 127.0.0.1 0").settings
    s = run("security trigger add 10.1.0.0/16 3", s).settings
    s = run("security trigger add 127.0.0.1 9", s).settings
    assert s.triggers == (("127.0.0.1", 9), ("10.1.0.0/16", 3))
    assert run("security trigger list", s).replies == ["Trigger exceptions:", "  127.0.0.1 9", "  10.1.0.0/16 3"]
    s = run("security trigger del 127.0.0.1", s).settings
    assert s.triggers == (("10.1.0.0/16", 3),)
    assert run("security trigger list").replies == ["Trigger exceptions: none (default 5)"]


def test_trigger_normalises_masks():
    """IP addresses and networks are stored in canonical form."""
    s = run("security trigger add 10.1.2.3/16 1").settings
    s = run("security trigger add 2001:DB8::0001 2", s).settings
    assert s.triggers == (("10.1.0.0/16", 1), ("2001:db8::1", 2))


def test_security_list():
    """SECURITY LIST shows ban counts, flood settings, triggers and CPS."""
    s = run("security trigger add 127.0.0.1 0").settings
    assert [line.strip() for line in run("security list", s).replies] == [
        "SECURITY settings:",
        "K-lines: 0 (SECURITY KLINE LIST)", "AKILLs: 0 (SECURITY AKILL LIST)", "Z-lines: 0 (SECURITY ZLINE LIST)",
        "Flood control: on", "Flood penalties: 10", "Flood seconds: 10", "Flood kill: 20",
        "Opers exempt from flood: on", "Default trigger: 5",
        "Trigger exceptions:", "127.0.0.1 unlimited",
        "Connections per second: 0",
    ]


@pytest.mark.parametrize("line, fragment", [
    ("security set flood maybe", "on or off"),
    ("security set flood penalties 0", "from 1 to 100000"),
    ("security set flood seconds -1", "whole number"),
    ("security set flood kill", "Missing <n>"),
    ("security set flood oper", "Missing on|off"),
    ("security set deftrigger many", "whole number"),
    ("security trigger add 127.0.0.1", "Missing <n>"),
    ("security trigger add example.com 1", "IP address"),
    ("security trigger add 10.0.0.0/33 1", "CIDR"),
    ("security trigger del 8.8.8.8", "No trigger exception"),
    ("security cps", "Missing <n>"),
    ("security set", "Incomplete command SECURITY SET"),
])
def test_security_bad_commands(line, fragment):
    """Malformed SECURITY commands are refused with the reason and a SECURITY syntax line."""
    refusal = admin_refusal(run, line)
    assert fragment in refusal
    assert "Syntax: SECURITY" in refusal
