"""Tests for the GENERAL family of AS commands."""

from __future__ import annotations

import pytest

from conferenceroom.admin import Settings, build_tree
from conferenceroom.admin.settings import get_field
from tests.helpers import admin_refusal

TREE = build_tree(bcrypt_rounds=4)


def run(line: str, settings: Settings | None = None):
    """Run one AS line on *settings* (defaults when None)."""
    return TREE.execute_line(settings or Settings(), line)


@pytest.mark.parametrize("line, attr, value, reply", [
    ("general set name soprano.webmaster.com", "name", "soprano.webmaster.com",
     "Server name set to soprano.webmaster.com"),
    ("general set description Soprano  test server", "description", "Soprano test server",
     "Description set to Soprano test server"),
    ("general set serial 102-0000-001", "serial", "102-0000-001", "Serial set to 102-0000-001"),
    ("general set contact Jane <jane@example.com>", "contact", "Jane <jane@example.com>",
     "Contact set to Jane <jane@example.com>"),
    ("general set network ExampleNet", "network", "ExampleNet", "Network name set to ExampleNet"),
    ("general set ports 7000,6666-6669", "ports", (6666, 6667, 6668, 6669, 7000),
     "Ports set to 6666-6669,7000"),
    ("general set bindip 192.0.2.1", "bindip", "192.0.2.1", "Bind IP set to 192.0.2.1"),
    ("general set bindip ::1", "bindip", "::1", "Bind IP set to ::1"),
    ("general set leaf", "role", "leaf", "Role set to leaf"),
    ("general set datadir /var/lib/cr", "datadir", "/var/lib/cr", "Data folder set to /var/lib/cr"),
    ("general set motd welcome.txt", "motd_file", "welcome.txt", "MOTD file set to welcome.txt"),
    ("general set secureonly on", "secureonly", True, "Secure only set to on"),
    ("general set securenetwork yes", "securenetwork", True, "Secure network set to on"),
    ("general set utf8only on", "utf8only", True, "UTF-8 only set to on"),
    ("general set manhole on", "manhole.enabled", True, "Manhole set to on"),
    ("general set manholeport 7022", "manhole.port", 7022, "Manhole port set to 7022"),
    ("general set manholekeys keys/manhole", "manhole.authorized_keys", "keys/manhole",
     "Manhole keys set to keys/manhole"),
])
def test_general_set(line, attr, value, reply):
    """Each GENERAL SET verb stores its typed value and says so."""
    result = run(line)
    assert get_field(result.settings, attr) == value
    assert result.replies == [reply]
    assert result.changed


def test_set_hub_after_leaf():
    """GENERAL SET HUB switches back from leaf."""
    leaf = run("general set leaf").settings
    assert run("general set hub", leaf).settings.role == "hub"
    assert run("general set hub", leaf).settings.is_hub


def test_bindip_star_means_all():
    """GENERAL SET BINDIP * goes back to all interfaces."""
    s = run("general set bindip 10.0.0.1").settings
    assert run("general set bindip *", s).settings.bindip == ""


def test_ssl_verbs():
    """GENERAL SSL ENABLE|DISABLE|PORT|CERT|KEY set the TLS listener."""
    s = run("general ssl enable").settings
    assert s.ssl.enabled
    s = run("general ssl port 6697", s).settings
    s = run("general ssl cert certs/a.pem", s).settings
    s = run("general ssl key certs/a.key", s).settings
    assert (s.ssl.port, s.ssl.cert, s.ssl.key) == (6697, "certs/a.pem", "certs/a.key")
    assert not run("general ssl disable", s).settings.ssl.enabled
    assert TREE.write(s)[-5:-1] == [
        "general ssl enable", "general ssl port 6697", "general ssl cert certs/a.pem", "general ssl key certs/a.key",
    ]


def test_manhole_defaults_and_keys_none():
    """The manhole is off on port 6022 by default; MANHOLEKEYS none removes the keys file."""
    assert (Settings().manhole.enabled, Settings().manhole.port, Settings().manhole.authorized_keys) == (
        False, 6022, None)
    s = run("general set manholekeys /etc/cr/keys").settings
    assert "general set manholekeys /etc/cr/keys" in TREE.write(s)
    cleared = run("general set manholekeys none", s)
    assert cleared.settings.manhole.authorized_keys is None
    assert cleared.replies == ["Manhole keys set to none"]
    assert not any("manhole" in line for line in TREE.write(cleared.settings))


def test_ports_writer_compresses_ranges():
    """Ports are expanded, sorted, de-duplicated and written back as ranges."""
    s = run("general set ports 7000,6669,6666-6668,6667,7001").settings
    assert s.ports == (6666, 6667, 6668, 6669, 7000, 7001)
    assert "general set ports 6666-6669,7000-7001" in TREE.write(s)


def test_rename_needs_restart():
    """A new server name reports that a restart is needed."""
    assert "restart" in run("general set name new.example.com").restart_needed


@pytest.mark.parametrize("line, fragment", [
    ("general set name localhost", "at least one dot"),
    ("general set name bad_name.com", "host name"),
    ("general set name -x.com", "host name"),
    ("general set name " + "a" * 60 + ".com", "longer than 63"),
    ("general set serial 102-000-001", "like 102-0000-001"),
    ("general set serial 1020000001", "like 102-0000-001"),
    ("general set network two words", "Too many arguments"),
    ("general set network bad!name", "one word"),
    ("general set ports", "Missing <ports>"),
    ("general set ports 0", "from 1 to 65535"),
    ("general set ports 65536", "from 1 to 65535"),
    ("general set ports 7000-6000", "backwards"),
    ("general set ports 7000,,7001", "not a port"),
    ("general set ports abc", "not a port"),
    ("general set ports 1-5000", "more than 100"),
    ("general set bindip 300.1.1.1", "IP address"),
    ("general set bindip example.com", "IP address"),
    ("general ssl port 0", "from 1 to 65535"),
    ("general ssl port 99999", "from 1 to 65535"),
    ("general ssl port x", "whole number"),
    ("general set secureonly maybe", "on or off"),
    ("general set securenetwork", "Missing on|off"),
    ("general set manhole sometimes", "on or off"),
    ("general set manholeport 0", "from 1 to 65535"),
    ("general set manholeport 70000", "from 1 to 65535"),
    ("general set manholekeys", "Missing <path>"),
    ("general set description", "Missing <description>"),
    ("general ssl cert", "Missing <path>"),
])
def test_general_bad_values(line, fragment):
    """Bad GENERAL values are refused with the reason and the verb's syntax."""
    refusal = admin_refusal(run, line)
    assert fragment in refusal
    assert "Syntax: GENERAL" in refusal


def test_general_list():
    """GENERAL LIST shows every GENERAL setting with its current value."""
    s = Settings().apply([
        "general set name soprano.webmaster.com", "general set ports 7000,6666-6669",
        "general set leaf", "general ssl enable",
    ], tree=TREE)
    replies = run("general list", s).replies
    assert replies[0] == "GENERAL settings:"
    body = [line.strip() for line in replies[1:]]
    assert body == [
        "Server name: soprano.webmaster.com",
        "Description: ConferenceRoom IRC server",
        "Serial: 100-0000-001",
        "Contact: (not set)",
        "Network name: ConferenceRoom",
        "Ports: 6666-6669,7000",
        "Bind IP: * (all interfaces)",
        "Role: leaf",
        "Data folder: (default: data beside the config file)",
        "MOTD file: motd.txt",
        "SSL: enabled",
        "SSL port: 994",
        "SSL certificate: (self-signed, generated)",
        "SSL key: (self-signed, generated)",
        "SSL CA file: (the system's CAs; self-signed peers pinned on first use)",
        "STS: off",
        "STS duration: 1d (86400 seconds)",
        "WebSocket: disabled",
        "WebSocket port: 8067",
        "WebSocket TLS: off",
        "Allowed origins: none (only clients sending no Origin and pages from this server's own host)",
        "Trusted proxies: none (the client is always the socket's address)",
        "Secure only: off",
        "Secure network: off",
        "UTF-8 only: off",
        "Manhole: off",
        "Manhole port: 6022",
        "Manhole keys: (none: admin oper passwords only)",
    ]


def test_ssl_sts_settings_are_saved_and_listed():
    """GENERAL SSL STS on and STSDURATION 30d are replied to, written back as
    lines, shown by GENERAL SSL LIST; 0 is allowed (clients forget the policy)."""
    s = Settings()
    r = run("general ssl sts on", s)
    assert r.replies == ["STS set to on"]
    r2 = run("general ssl stsduration 30d", r.settings)
    assert r2.replies == ["STS duration set to 30d (2592000 seconds)"]
    assert r2.settings.ssl.sts and r2.settings.ssl.sts_duration == 2592000
    assert {"general ssl sts on", "general ssl stsduration 30d"} <= set(TREE.write(r2.settings))
    listing = run("general ssl list", r2.settings).replies
    assert listing[0] == "GENERAL SSL settings:"
    assert "  STS: on" in listing and "  STS duration: 30d (2592000 seconds)" in listing
    assert run("general ssl stsduration 0", r2.settings).settings.ssl.sts_duration == 0
    assert "not a duration" in admin_refusal(run, "general ssl stsduration soon")


def test_ssl_list_shows_the_certificate_in_force_from_the_running_server():
    """GENERAL SSL LIST adds what the running server says about its certificate."""
    live = TREE.with_context(live=lambda topic: ["Fingerprint (SHA-256): AB:CD"] if topic == "ssl" else [])
    replies = live.execute(Settings(), ["general", "ssl", "list"]).replies
    assert replies[-1] == "  Fingerprint (SHA-256): AB:CD"


def test_sts_warnings_for_likely_mistakes():
    """STS without SSL, or with the generated self-signed certificate, is flagged as a likely mistake."""
    s = Settings().apply(["general ssl sts on"], tree=TREE)
    assert "STS is on but SSL is disabled: no sts policy is advertised" in s.problems()
    s = s.apply(["general ssl enable"], tree=TREE)
    assert any(p.startswith("STS is on with the generated self-signed certificate") for p in s.problems())
    s = s.apply(["general ssl cert /etc/ssl/irc.pem"], tree=TREE)
    assert not [p for p in s.problems() if "STS" in p]
