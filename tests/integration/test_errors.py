"""
Error paths against a real ``twistd -n conferenceroom`` process: 421, 461,
451, 417, bad bytes, empty lines and LF-only line endings, mode errors,
flood control (throttling, then "Excess Flood") and the per-IP connection
limit. After every test the server log must hold no traceback, and every
error leaves the connection (and other clients) working.
"""

from __future__ import annotations

import socket
import struct
import time

import pytest

from tests.integration.ircclient import unique_nick

FLOOD_CONFIG = [
    "security set flood penalties 10",
    "security set flood seconds 2",
    "security set flood kill 30",
]


@pytest.fixture(autouse=True)
def no_tracebacks(shared_server):
    """Fail a test after which the shared server's log shows a traceback."""
    before = len(shared_server.tracebacks())
    yield
    after = shared_server.tracebacks()
    assert len(after) == before, f"server logged a traceback: {after[before:]}"
    assert shared_server.is_running(), "the shared server died"


def _alive(client, token="still-alive"):
    """The connection still works: PING is answered with PONG."""
    client.send(f"PING :{token}")
    pong = client.expect(lambda m: m.command == "PONG" and m.trailing == token)
    return pong


def test_unknown_command_421(shared_server, irc_client):
    """An unknown command gets 421 naming it; the connection stays usable."""
    c = irc_client(shared_server, unique_nick("uc"))
    c.send("FROBNICATE a b c")
    err = c.expect("421")
    assert err.params[:2] == [c.nick, "FROBNICATE"], err.raw
    _alive(c)


def test_lowercase_commands_work(shared_server, irc_client):
    """Commands are case-insensitive (``privmsg`` works like PRIVMSG)."""
    a = irc_client(shared_server, unique_nick("lc"))
    b = irc_client(shared_server, unique_nick("ld"))
    a.send(f"privmsg {b.nick} :lower case")
    assert b.expect("PRIVMSG").trailing == "lower case"


NEED_MORE_PARAMS = [
    "JOIN", "PART", "TOPIC", "INVITE", "INVITE somebody", "KICK", "KICK #chan",
    "MODE", "OPER", "OPER admin", "WHO", "ISON", "USERHOST", "STATS", "TAGMSG",
    "KILL", "KILL somebody", "WALLOPS", "PING", "PASS", "USER a 0 *", "CAP",
]


@pytest.mark.parametrize("line", NEED_MORE_PARAMS)
def test_missing_parameters_461(shared_server, irc_client, line):
    """Every command short of its required parameters gets 461 naming the
    command (checked before operator privileges)."""
    c = irc_client(shared_server, unique_nick("np"))
    c.send(line)
    err = c.expect(lambda m: m.is_numeric and m.command not in ("005",))
    assert err.command == "461", err.raw
    assert err.params[1] == line.split()[0], err.raw
    _alive(c)


@pytest.mark.parametrize("line", ["JOIN #x", "PRIVMSG x :y", "WHOIS x", "MODE x",
                                  "LIST", "AWAY :x", "FROBNICATE"])
def test_not_registered_451(shared_server, irc_client, line):
    """Before registration, commands that need it (and unknown ones) get 451;
    registration still works afterwards."""
    c = irc_client(shared_server)
    c.send(line)
    err = c.expect(lambda m: m.is_numeric)
    assert err.command == "451", err.raw
    assert err.params[0] == "*", err.raw
    c.register(unique_nick("nr"))


def test_overlong_line_417_connection_survives(shared_server, irc_client):
    """A line over 512 bytes gets 417 and is not run; the connection goes on
    (as it does after an overlong tag section)."""
    a = irc_client(shared_server, unique_nick("ol"))
    b = irc_client(shared_server, unique_nick("om"))
    a.send(f"PRIVMSG {b.nick} :" + "x" * 600)
    assert a.expect("417").params[0] == a.nick
    b.assert_silent("PRIVMSG", timeout=0.3)
    a.send("@+t=" + "y" * 5000 + f" PRIVMSG {b.nick} :tags too long")
    a.expect("417")
    _alive(a)
    a.send(f"PRIVMSG {b.nick} :short one")
    assert b.expect("PRIVMSG").trailing == "short one"


def test_huge_line_without_newline(shared_server, irc_client):
    """20 kB without a newline is answered with one 417 and discarded up to
    the next newline; the line after it runs."""
    c = irc_client(shared_server, unique_nick("hl"))
    c.send_raw(b"PRIVMSG x :" + b"z" * 20000)
    c.send_raw(b"\r\n")
    c.expect("417")
    _alive(c)
    assert sum(1 for m in c.history if m.command == "417") == 1


def test_invalid_utf8_delivered_as_latin1(shared_server, irc_client):
    """A PRIVMSG with bytes that are not UTF-8 is delivered (decoded as
    Latin-1, sent on as UTF-8) without harming anyone."""
    a = irc_client(shared_server, unique_nick("u8"))
    b = irc_client(shared_server, unique_nick("u9"))
    a.send_raw(f"PRIVMSG {b.nick} :caf\xe9 cr\xe8me".encode("latin-1") + b"\r\n")
    got = b.expect("PRIVMSG")
    assert got.trailing == "café crème", got.raw
    a.send(f"PRIVMSG {b.nick} :ünïcödé")
    assert b.expect("PRIVMSG").trailing == "ünïcödé"
    _alive(a)


def test_garbage_bytes_and_nul(shared_server, irc_client):
    """NUL bytes, control bytes and lines with only a source or colon do not
    crash anything; the client can carry on."""
    c = irc_client(shared_server, unique_nick("gb"))
    for raw in (b"\x00\x01\x02\xff\xfe\r\n", b":onlyasource\r\n", b":\r\n",
                b"PRIVMSG\x00 x :y\r\n", b"@\r\n", b"@a=b\r\n", b" : : :\r\n",
                b"NICK \xff\xfe\r\n", b"MODE " + b"+" * 400 + b"\r\n"):
        c.send_raw(raw)
    _alive(c)


def test_empty_lines_ignored(shared_server, irc_client):
    """Empty lines and lines of spaces get no reply at all."""
    c = irc_client(shared_server, unique_nick("el"))
    c.send_raw(b"\r\n\n   \r\n\r\n")
    c.assert_silent(timeout=0.3)
    _alive(c)


def test_lf_only_line_endings(shared_server, irc_client):
    """LF alone ends a line, for registration and for commands."""
    c = irc_client(shared_server)
    nick = unique_nick("lf")
    c.send_raw(f"NICK {nick}\nUSER lf 0 * :lf only\n".encode())
    assert c.expect("001").params[0] == nick
    c.send_raw(b"PING :lf-token\n")
    assert c.expect("PONG").trailing == "lf-token"


def test_user_mode_errors(shared_server, irc_client):
    """MODE on another user gets 502, an unknown user mode 501, an unknown
    nick 401."""
    a = irc_client(shared_server, unique_nick("ma"))
    b = irc_client(shared_server, unique_nick("mb"))
    a.send(f"MODE {b.nick} +i")
    assert a.expect(["502", "501", "401"]).command == "502"
    a.send(f"MODE {a.nick} +Z")
    assert a.expect(["502", "501", "401"]).command == "501"
    a.send("MODE nosuchnick22 +i")
    assert a.expect(["502", "501", "401"]).command == "401"


def test_nick_change_errors_keep_connection(shared_server, irc_client):
    """Bad NICK changes (432, 433) leave the user registered as before."""
    a = irc_client(shared_server, unique_nick("na"))
    b = irc_client(shared_server, unique_nick("nb"))
    a.send("NICK 9bad")
    a.expect("432")
    a.send(f"NICK {b.nick}")
    a.expect("433")
    a.send(f"WHOIS {a.nick}")
    assert a.expect("311").params[1] == a.nick


def test_abrupt_disconnect_seen_as_quit(shared_server, irc_client):
    """A client that vanishes mid-line (connection reset) is seen by channel
    peers as a QUIT, and its nick is free again at once."""
    gone = irc_client(shared_server, unique_nick("rs"))
    peer = irc_client(shared_server, unique_nick("rt"))
    chan = "#" + unique_nick("reset")
    gone.join(chan)
    peer.join(chan)
    gone.send_raw(b"PRIVMSG " + chan.encode() + b" :half a li")
    gone.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    gone.close()
    quit_ = peer.expect(lambda m: m.command == "QUIT" and m.nick == gone.nick)
    assert quit_.trailing, quit_.raw
    assert not any(m.command == "PRIVMSG" for m in peer.history)
    again = irc_client(shared_server, gone.nick)
    assert again.nick == gone.nick


# -- flood control ------------------------------------------------------------------


def test_flood_paste_is_throttled(irc_server, irc_client):
    """With flood control on (10 lines per 2 s), a paste of 25 lines is not
    refused but delivered in order over more than a second; the pasting
    client stays connected."""
    srv = irc_server(FLOOD_CONFIG, flood=True)
    a = irc_client(srv, unique_nick("fp"))
    b = irc_client(srv, unique_nick("fq"))
    time.sleep(2.0)  # let the registration lines' penalty expire
    start = time.monotonic()
    a.send_raw(b"".join(f"PRIVMSG {b.nick} :line {i}\r\n".encode() for i in range(25)))
    got, stamps = [], []
    for _ in range(25):
        got.append(b.expect("PRIVMSG", timeout=8).trailing)
        stamps.append(time.monotonic() - start)
    assert got == [f"line {i}" for i in range(25)]
    assert stamps[0] < 1.0, stamps
    assert stamps[-1] > 1.5, f"25 lines arrived within {stamps[-1]:.2f}s: not throttled"
    _alive(a)


def test_huge_flood_excess_flood(irc_server, irc_client):
    """A flood far over the budget disconnects the flooder with ERROR
    "Excess Flood"; channel peers see its QUIT and another client is
    unaffected."""
    srv = irc_server(FLOOD_CONFIG, flood=True)
    flooder = irc_client(srv, unique_nick("ff"))
    other = irc_client(srv, unique_nick("fo"))
    chan = "#" + unique_nick("flood")
    flooder.join(chan)
    other.join(chan)
    flooder.send_raw(b"".join(f"PRIVMSG {chan} :spam {i}\r\n".encode() for i in range(300)))
    lines = flooder.wait_closed(timeout=5)
    error = next(m for m in lines if m.command == "ERROR")
    assert "Excess Flood" in error.trailing, error.raw
    quit_ = other.expect(lambda m: m.command == "QUIT" and m.nick == flooder.nick)
    assert "Excess Flood" in quit_.trailing, quit_.raw
    received = [m for m in other.history if m.command == "PRIVMSG"]
    assert len(received) < 300, len(received)
    _alive(other)
    newcomer = irc_client(srv, unique_nick("fn"))
    _alive(newcomer)


def test_flood_off_lets_a_paste_through_at_once(shared_server, irc_client):
    """With flood control off (the shared server), 50 lines arrive at once."""
    a = irc_client(shared_server, unique_nick("fx"))
    b = irc_client(shared_server, unique_nick("fy"))
    start = time.monotonic()
    a.send_raw(b"".join(f"PRIVMSG {b.nick} :n{i}\r\n".encode() for i in range(50)))
    for i in range(50):
        assert b.expect("PRIVMSG").trailing == f"n{i}"
    assert time.monotonic() - start < 2.0


# -- connection limit --------------------------------------------------------------------


def test_per_ip_connection_limit(irc_server, irc_client):
    """With deftrigger 2 the third connection from 127.0.0.1 gets an ERROR
    and is closed; the first two keep working, and a new one is admitted
    once one of them leaves."""
    srv = irc_server(deftrigger=2)
    first = irc_client(srv, unique_nick("ip"))
    second = irc_client(srv, unique_nick("iq"))
    third = irc_client(srv)
    lines = third.wait_closed(timeout=3)
    error = next(m for m in lines if m.command == "ERROR")
    assert "Too many connections" in error.trailing, error.raw
    _alive(first)
    _alive(second)
    first.quit()
    fourth = irc_client(srv, unique_nick("ir"))
    _alive(fourth)


def test_flood_opers_exempt(irc_server, irc_client):
    """With flood control on, an operator (exempt by default) may paste 60
    lines at once: all arrive promptly and it stays connected."""
    srv = irc_server(FLOOD_CONFIG, flood=True)
    oper = irc_client(srv, unique_nick("fe"))
    oper.oper("admin", "adminpass")
    b = irc_client(srv, unique_nick("fr"))
    start = time.monotonic()
    oper.send_raw(b"".join(f"PRIVMSG {b.nick} :o{i}\r\n".encode() for i in range(60)))
    for i in range(60):
        assert b.expect("PRIVMSG").trailing == f"o{i}"
    assert time.monotonic() - start < 1.5
    _alive(oper)
