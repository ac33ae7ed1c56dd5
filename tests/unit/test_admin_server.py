"""Tests for the SERVER family of AS commands (server definitions)."""

from __future__ import annotations

import pytest

from conferenceroom.admin import Settings, build_tree
from conferenceroom.admin.families.server import FIELDS
from conferenceroom.admin.settings import ServerDef
from tests.helpers import admin_refusal

TREE = build_tree(bcrypt_rounds=4)
FP = "ab" * 32


def run(line: str, settings: Settings | None = None):
    """Run one AS line on *settings* (defaults when None)."""
    return TREE.execute_line(settings or Settings(), line)


def apply(*lines: str) -> Settings:
    """Settings after running *lines* from defaults."""
    return Settings().apply(lines, tree=TREE)


TENOR = apply("server tenor add")


def test_add_defaults():
    """SERVER <handle> ADD creates a disabled definition with SPEC section 4 defaults."""
    result = run("server tenor add")
    d = result.settings.server("TENOR")
    assert d == ServerDef("tenor")
    assert (d.name, d.serial, d.role, d.host, d.port, d.bindip, d.ping) == ("*", None, "leaf", None, None, "", 90)
    assert not (d.auto or d.secure or d.secureonly or d.enabled) and d.password is None and d.fingerprint is None
    assert result.replies == ["Server definition tenor added (disabled; set a serial or a password, then ENABLE)"]
    assert list(result.settings.servers) == ["tenor"]


def test_add_twice_refused():
    """Adding a handle that exists (in any case) is refused and changes nothing."""
    refusal = admin_refusal(run, "server TENOR add", TENOR)
    assert "already exists" in refusal and "Syntax: SERVER <handle> ADD" in refusal


@pytest.mark.parametrize("line, attr, value, reply", [
    ("server tenor set name Tenor.*", "name", "tenor.*", "Server tenor: name mask set to tenor.*"),
    ("server tenor set serial 101-0001-001", "serial", "101-0001-001", "Server tenor: serial set to 101-0001-001"),
    ("server tenor set role HUB", "role", "hub", "Server tenor: role set to hub"),
    ("server tenor set host Hub1.SD.com", "host", "hub1.sd.com", "Server tenor: host set to hub1.sd.com"),
    ("server tenor set host 2001:DB8::1", "host", "2001:db8::1", "Server tenor: host set to 2001:db8::1"),
    ("server tenor set port 7000", "port", 7000, "Server tenor: port set to 7000"),
    ("server tenor set bindip 192.0.2.1", "bindip", "192.0.2.1", "Server tenor: bind ip set to 192.0.2.1"),
    ("server tenor set ping 300", "ping", 300, "Server tenor: ping set to 300"),
    ("server tenor set auto on", "auto", True, "Server tenor: auto-connect set to on"),
    ("server tenor set secure yes", "secure", True, "Server tenor: secure set to on"),
    ("server tenor set secureonly on", "secureonly", True, "Server tenor: secure only set to on"),
    ("server tenor set password pa$$:word", "password", "pa$$:word", "Server tenor: password set"),
    ("server tenor set fingerprint " + ":".join(["AB"] * 32), "fingerprint", FP,
     "Server tenor: fingerprint set to " + ":".join(["AB"] * 32)),
])
def test_set_fields(line, attr, value, reply):
    """Each SERVER <handle> SET field stores its normalised value, says so and is written back."""
    result = run(line, TENOR)
    assert getattr(result.settings.server("tenor"), attr) == value
    assert result.replies == [reply]
    assert apply(*TREE.write(result.settings)) == result.settings


def test_password_never_shown():
    """The link password is stored as given (it is sent to the peer) but LIST shows only (set)."""
    s = apply("server tenor add", "server tenor set password Sup3r-secret", "server tenor enable")
    assert s.server("tenor").password == "Sup3r-secret"
    for line in ("server tenor list", "server"):
        text = "\n".join(run(line, s).replies)
        assert "Sup3r-secret" not in text
    assert "  Password: (set)" in run("server tenor list", s).replies
    assert "server tenor set password Sup3r-secret" in TREE.write(s)


def test_enable_needs_serial_or_password():
    """ENABLE is refused, saying why, until a serial or a password is set; both ENABLE forms work."""
    for verb in ("enable", "set enable"):
        refusal = admin_refusal(run, f"server tenor {verb}", TENOR)
        assert "needs a serial or a password before it can be enabled" in refusal
    with_serial = run("server tenor set serial 101-0001-001", TENOR).settings
    with_pass = run("server tenor set password x", TENOR).settings
    for s in (with_serial, with_pass):
        for verb in ("enable", "set enable"):
            result = run(f"server tenor {verb}", s)
            assert result.settings.server("tenor").enabled and result.replies == ["Server tenor enabled"]


def test_disable_both_forms():
    """DISABLE and SET DISABLE turn an enabled definition off."""
    s = apply("server tenor add", "server tenor set serial 101-0001-001", "server tenor enable")
    for verb in ("disable", "set disable"):
        result = run(f"server tenor {verb}", s)
        assert not result.settings.server("tenor").enabled and result.replies == ["Server tenor disabled"]


def test_clearing_last_secret_of_enabled_refused():
    """An enabled definition cannot lose both its serial and its password."""
    s = apply("server tenor add", "server tenor set serial 101-0001-001", "server tenor enable")
    refusal = admin_refusal(run, "server tenor set serial none", s)
    assert "is enabled and needs a serial or a password" in refusal
    s2 = run("server tenor set password pw", s).settings
    result = run("server tenor set serial none", s2)
    assert result.settings.server("tenor").serial is None and result.replies == ["Server tenor: serial cleared"]


@pytest.mark.parametrize("field", ["serial", "password", "fingerprint", "host", "port"])
def test_none_clears(field):
    """SET <field> none clears an optional field back to unset."""
    values = {"serial": "101-0001-001", "password": "pw", "fingerprint": FP, "host": "h.example", "port": "7000"}
    s = run(f"server tenor set {field} {values[field]}", TENOR).settings
    result = run(f"server tenor set {field} none", s)
    assert getattr(result.settings.server("tenor"), field) is None
    assert result.replies == [f"Server tenor: {field} cleared"]


def test_del_and_unknown_handle():
    """DEL removes a definition; commands on an unknown handle are refused with the syntax."""
    result = run("server Tenor del", TENOR)
    assert result.settings.servers == {} and result.replies == ["Server definition tenor deleted"]
    for line in ("server nope del", "server nope list", "server nope enable", "server nope set port 1"):
        refusal = admin_refusal(run, line)
        assert "No server definition nope" in refusal and "Syntax: SERVER <handle>" in refusal


def test_list_all_and_one():
    """SERVER alone lists every definition in one line each; SERVER <h> LIST shows every field."""
    assert run("server").replies == ["No server definitions (SERVER <handle> ADD creates one)"]
    s = apply("server tenor add", "server tenor set name tenor.*", "server tenor set serial 101-0001-001",
              "server tenor enable", "server soprano add", "server soprano set host 209.133.1.1",
              "server soprano set port 7000", "server soprano set auto on", "server soprano set password pw",
              "server soprano set secure on")
    assert run("server", s).replies == [
        "Server definitions (2):",
        "  soprano: name *, serial (none), leaf, host 209.133.1.1:7000, upstream (auto), TLS, password set; disabled",
        "  tenor: name tenor.*, serial 101-0001-001, leaf, downstream; enabled",
    ]
    assert run("server tenor list", s).replies == [
        "Server tenor (enabled):",
        "  Name mask: tenor.*",
        "  Serial: 101-0001-001",
        "  Password: (not set)",
        "  Fingerprint: (not set)",
        "  Role: leaf",
        "  Host: (not set)",
        "  Port: (not set)",
        "  Bind IP: * (all interfaces)",
        "  Ping: 90 seconds",
        "  Auto-connect: off",
        "  Secure: off",
        "  Secure only: off",
    ]


def test_writer_groups_each_definition():
    """The canonical writer keeps one definition's lines together, ADD first and ENABLE last."""
    s = apply("server tenor add", "server soprano add", "server tenor set serial 101-0001-001",
              "server soprano set password pw", "server tenor set port 7000", "server tenor enable",
              "server soprano set ping 300")
    lines = [line for line in TREE.write(s) if line.startswith("server")]
    assert lines == [
        "server soprano add",
        "server soprano set password pw",
        "server soprano set ping 300",
        "server tenor add",
        "server tenor set serial 101-0001-001",
        "server tenor set port 7000",
        "server tenor enable",
    ]


def test_manual_example():
    """The linking manual's commands for tenor and soprano load as written."""
    s = apply(
        "server soprano add", "server soprano set name soprano.webmaster.com",
        "server soprano set host 209.133.1.1", "server soprano set port 7000", "server soprano set ping 300",
        "server soprano set serial 102-0000-001", "server soprano set auto on", "server soprano enable",
        "server soprano set secure on", "server soprano set secureonly on", "server soprano set port 994",
    )
    d = s.server("soprano")
    assert (d.name, d.host, d.port, d.ping, d.serial, d.auto, d.enabled, d.secure, d.secureonly) == (
        "soprano.webmaster.com", "209.133.1.1", 994, 300, "102-0000-001", True, True, True, True)
    assert d.matches_name("SOPRANO.webmaster.com") and not d.matches_name("tenor.webmaster.com")


def test_auto_without_host_is_a_problem():
    """An enabled AUTO definition without host and port loads with a warning-worthy problem."""
    s = apply("server tenor add", "server tenor set serial 101-0001-001", "server tenor set auto on",
              "server tenor enable")
    assert "server tenor has AUTO on but no host and port: it cannot connect out" in s.problems()


@pytest.mark.parametrize("line, fragment", [
    ("server bad!handle add", "Bad <handle>"),
    ("server tenor", "Incomplete command SERVER <handle>"),
    ("server tenor set", "Incomplete command SERVER <handle> SET"),
    ("server tenor set colour red", "Unknown SERVER <handle> SET keyword 'colour'"),
    ("server tenor set name bad_name!", "server name or a mask"),
    ("server tenor set serial 12-34", "serial like 101-0001-001"),
    ("server tenor set role middle", "must be hub or leaf"),
    ("server tenor set host bad_host!", "host name or an IP address"),
    ("server tenor set port 0", "from 1 to 65535"),
    ("server tenor set ping 5", "from 10 to 86400"),
    ("server tenor set bindip example.com", "IP address"),
    ("server tenor set auto maybe", "on or off"),
    ("server tenor set password :colon", "not starting with ':'"),
    ("server tenor set fingerprint abc", "64 hex digits"),
    ("server tenor set port", "Missing <port>"),
    ("server tenor add extra", "Too many arguments"),
])
def test_bad_server_commands(line, fragment):
    """Malformed SERVER commands are refused with the reason and a SERVER syntax line."""
    refusal = admin_refusal(run, line, TENOR)
    assert fragment in refusal
    assert "Syntax: SERVER" in refusal


def test_every_field_has_a_set_verb_and_help():
    """Every declared field has its SET verb in HELP SERVER SET."""
    help_text = "\n".join(TREE.help(["server", "set"]))
    for f in FIELDS:
        assert f"SERVER <handle> SET {f.keyword.upper()} " in help_text
    for word in ("ENABLE", "DISABLE"):
        assert f"SERVER <handle> SET {word} - " in help_text
