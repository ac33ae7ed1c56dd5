"""Tests for GENERAL WEBSOCKET: the WebSocket listener's AS commands."""

from __future__ import annotations

from conferenceroom.admin import Settings, build_tree
from tests.helpers import admin_refusal

TREE = build_tree(bcrypt_rounds=4)


def run(line: str, settings: Settings | None = None):
    """Run one AS line on *settings* (defaults when None)."""
    return TREE.execute_line(settings or Settings(), line)


def test_enable_port_secure():
    """ENABLE, PORT and SECURE store the listener settings and say so."""
    s = run("general websocket enable").settings
    assert s.websocket.enabled
    result = run("general websocket port 8097", s)
    assert result.replies == ["WebSocket port set to 8097"]
    result = run("general websocket secure on", result.settings)
    assert result.replies == ["WebSocket TLS set to on"]
    ws = result.settings.websocket
    assert (ws.enabled, ws.port, ws.secure) == (True, 8097, True)
    assert not run("general websocket disable", result.settings).settings.websocket.enabled


def test_defaults_are_off_and_8067():
    """Out of the box there is no WebSocket listener; its port would be 8067, plain."""
    ws = Settings().websocket
    assert (ws.enabled, ws.port, ws.secure, ws.origins, ws.proxies) == (False, 8067, False, (), ())


def test_origin_add_del_list():
    """ORIGIN ADD lower-cases and keeps origins, LIST shows them, DEL removes one."""
    s = run("general websocket origin add https://Chat.Example.org/").settings
    s = run("general websocket origin add https://*.example.net:8443", s).settings
    assert s.websocket.origins == ("https://chat.example.org", "https://*.example.net:8443")
    assert run("general websocket origin list", s).replies == [
        "Allowed origins: https://chat.example.org https://*.example.net:8443"]
    s = run("general websocket origin del https://chat.example.org", s).settings
    assert s.websocket.origins == ("https://*.example.net:8443",)
    assert "not listed" in admin_refusal(run, "general websocket origin del https://chat.example.org", s)


def test_origin_list_empty_explains_default():
    """With no origin listed, LIST says what is admitted instead."""
    assert run("general websocket origin list").replies == [
        "Allowed origins: none (only clients sending no Origin and pages from this server's own host)"]


def test_bad_origin_refused():
    """A path, a missing scheme or a strange scheme is refused with what an origin looks like."""
    for bad in ("chat.example.org", "ftp://x.org", "https://x.org/path", "https://"):
        assert "must be an origin like" in admin_refusal(run, f"general websocket origin add {bad}")


def test_proxy_add_del_and_bad():
    """PROXY ADD takes IPs and CIDR networks; a host name is refused."""
    s = run("general websocket proxy add 10.0.0.0/8").settings
    s = run("general websocket proxy add ::1", s).settings
    assert s.websocket.proxies == ("10.0.0.0/8", "::1")
    s = run("general websocket proxy del ::1", s).settings
    assert s.websocket.proxies == ("10.0.0.0/8",)
    assert "must be an IP address" in admin_refusal(run, "general websocket proxy add proxy.example.org")


def test_written_lines_read_back():
    """The config writer writes every WebSocket setting and reading them back gives the same settings."""
    s = Settings().apply([
        "general websocket enable", "general websocket port 8097", "general websocket secure on",
        "general websocket origin add https://a.example.org", "general websocket proxy add 127.0.0.1",
    ], TREE)
    lines = TREE.write(s)
    for line in ("general websocket enable", "general websocket port 8097", "general websocket secure on",
                 "general websocket origin add https://a.example.org", "general websocket proxy add 127.0.0.1"):
        assert line in lines
    assert Settings().apply([line for line in lines if line.startswith("general websocket")], TREE).websocket \
        == s.websocket


def test_help_and_list_mention_websocket():
    """GENERAL LIST shows the WebSocket settings and HELP names the verbs."""
    listing = run("general list").replies
    assert "  WebSocket: disabled" in listing
    assert "  WebSocket port: 8067" in listing
    assert "  Allowed origins: none (only clients sending no Origin and pages from this server's own host)" in listing
    help_text = "\n".join(TREE.help(["general"]))
    assert "WEBSOCKET ORIGIN ADD" in help_text.upper()


def test_port_clash_warned():
    """A WebSocket port that is also a plain client port is reported as a problem."""
    s = Settings().apply(["general set ports 6667", "general websocket enable", "general websocket port 6667"], TREE)
    assert any("WebSocket port 6667" in p for p in s.problems())
