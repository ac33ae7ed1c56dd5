"""
Interop: an operator configures a fresh conferenceroom entirely from a real
irssi (driven through tmux), the way the docs tell them to: ``/alias AS quote
AS $*`` and then ``/as ...`` (and ``/quote as ...``). irssi's screen shows the
NOTICE replies; after a restart a raw client finds everything as it was left.
"""

from __future__ import annotations

from tests.integration.adminlive import attempt, oper_numeric, refused, run_as, wait_port
from tests.integration.conftest import ADMIN_OPER, free_port
from tests.integration.ircclient import unique_nick
from tests.integration.test_irssi import IRSSI_NICK, _irssi_home, irssi_binary, tmux  # noqa: F401

NEW_NAME = "irssi.conferenceroom.test"


def _type(tmux, command: str, shows: str, timeout: float = 15.0) -> str:
    """Type ``command`` into irssi and wait until its screen shows ``shows``."""
    tmux.send_line(command)
    return tmux.wait_for_screen(shows, timeout=timeout)


def test_operator_configures_server_from_irssi_and_it_persists(irc_server, irc_client, irssi_binary,
                                                                tmux, tmp_path):
    """In irssi: /alias AS, /oper, then /as commands set the description,
    the name, the ports, a new oper, a K-line and a server definition; each
    NOTICE reply (and the one for a mistyped command) shows on irssi's
    screen. After the server restarts from the file it wrote, a raw client
    sees the new name in 001, registers on the new port, opers up as the new
    oper, lists the server definition and the K-line, and the K-lined user
    is refused."""
    srv = irc_server()
    second = free_port()
    home = _irssi_home(tmp_path / "irssi-home", srv.port)
    # irssi paces the commands it sends (2.2 s apart after the first five);
    # an operator typing a dozen /as lines in a row should not wait for that.
    config = home / "config"
    config.write_text(config.read_text(encoding="utf-8").replace(
        '"fe-common/core" = {',
        '"irc/core" = { cmd_queue_speed = "0msec"; cmds_max_at_once = "100"; };\n  "fe-common/core" = {', 1),
        encoding="utf-8")
    tmux.start([irssi_binary, f"--home={home}", "-c", "127.0.0.1", "-p", str(srv.port), "-n", IRSSI_NICK],
               env={"TERM": "screen", "LANG": "C.UTF-8", "HOME": str(home)})
    tmux.wait_for_screen("Welcome", timeout=20)
    _type(tmux, "/alias AS quote AS $*", "Alias AS added")
    _type(tmux, f"/oper {ADMIN_OPER[0]} {ADMIN_OPER[1]}", "You are now an IRC operator")

    steps = [
        ("/as general set description Configured from irssi", "Description set to Configured from irssi"),
        (f"/as general set name {NEW_NAME}", "A new server name takes effect after a restart"),
        (f"/as general set ports {srv.port},{second}", f"port {second}"),
        ("/as oper irssiop add irssipass ac", "Oper irssiop added with flags ac"),
        ("/as oper irssiop access add *@127.0.0.1", "Access mask *@127.0.0.1 added to oper irssiop"),
        ("/as security kline add ~baddie@* Banned from irssi", "K-line added: ~baddie@* - Banned from irssi"),
        ("/as server tenor add", "Server definition tenor added"),
        ("/as server tenor set name tenor.*", "Server tenor: name mask set to tenor.*"),
        ("/as server tenor set serial 101-0001-001", "Server tenor: serial set to 101-0001-001"),
        ("/as server tenor enable", "Server tenor enabled"),
        ("/as general set colour blue", "Unknown GENERAL SET keyword 'colour'"),
        ("/quote as general list", f"Server name: {NEW_NAME}"),
    ]
    for command, shows in steps:
        _type(tmux, command, shows)
    screen = tmux.screen()
    flat = " ".join(screen.split())  # irssi wraps long lines itself
    assert "Unknown GENERAL SET keyword 'colour'. Syntax: GENERAL SET NAME|DESCRIPTION|" in flat, screen
    assert f"Ports: {min(srv.port, second)},{max(srv.port, second)}" in flat, screen
    assert "irssipass" not in srv.config_path.read_text(encoding="utf-8")

    srv.restart()
    wait_port(second)
    raw = irc_client(srv)
    burst = raw.register(unique_nick("ir"))
    assert burst[0].source == NEW_NAME, burst[0].raw
    assert oper_numeric(raw, "irssiop", "irssipass").command == "381"
    raw.drain(0.2)
    general = run_as(raw, "GENERAL LIST")
    assert "  Description: Configured from irssi" in general, general
    assert run_as(raw, "SERVER") == ["Server definitions (1):",
                                     "  tenor: name tenor.*, serial 101-0001-001, leaf, downstream; enabled"]
    klines = run_as(raw, "SECURITY KLINE LIST")
    assert klines[1].startswith("  ~baddie@* - Banned from irssi [set by "), klines
    assert run_as(raw, "OPER irssiop LIST") == ["irssiop: flags ac; access from *@127.0.0.1"]
    other, lines = attempt(second, unique_nick("i2"))
    other.close()
    assert lines[-1].command == "001", [m.raw for m in lines]
    banned, lines = attempt(srv.port, unique_nick("bd"), user="baddie")
    assert refused(lines) and any(m.command == "465" for m in lines), [m.raw for m in lines]
