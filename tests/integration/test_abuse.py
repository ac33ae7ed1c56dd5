"""
Abuse costs only the abuser, against a real ``twistd -n conferenceroom``:
blank-line and overlong-line floods end in "Excess Flood" while a witness's
PINGs stay fast, a bare CR ends a line on a real socket, and LIST of 12,000
channels (about 4.7 MB, more than the 4 MB SendQ) reaches a slow but
reading client whole.
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.integration.ircclient import unique_nick

FLOOD_SECONDS = 10.0  # longest an abuser is allowed to write


def _flood_until_dropped(host: str, port: int, payload: bytes, seconds: float = FLOOD_SECONDS) -> bytes:
    """Register, then write ``payload`` over and over until the server closes
    the connection or ``seconds`` pass; return everything the server sent."""
    sock = socket.create_connection((host, port), timeout=5)
    nick = unique_nick("ab")
    sock.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :x\r\n".encode())
    received = b""
    while b" 376 " not in received and b" 422 " not in received:
        data = sock.recv(65536)
        assert data, received[-300:]
        received += data
    sock.settimeout(0.05)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                sock.send(payload)
            except socket.timeout:
                pass
            except OSError:
                break
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            received = (received + data)[-65536:]
        # Whatever is still in flight (the ERROR line).
        sock.settimeout(2)
        while True:
            data = sock.recv(65536)
            if not data:
                break
            received = (received + data)[-65536:]
    except OSError:
        pass
    finally:
        sock.close()
    return received


@pytest.mark.server_config(flood=True)
@pytest.mark.parametrize(
    "payload",
    [b"\n" * 65536, b"\r" * 65536, (b"PRIVMSG x :" + b"y" * 700 + b"\r\n") * 90],
    ids=["blank-lines", "bare-crs", "overlong-lines"],
)
def test_junk_flood_is_dropped_and_witness_stays_fast(server, irc_client, payload):
    """With default flood control, a client writing blank lines, bare CRs or
    lines answered with 417 as fast as it can is closed with "Excess Flood"
    within seconds (it used to be kept forever while other clients waited
    200-900 ms); a witness's PING round trips stay fast meanwhile."""
    witness = irc_client(server, unique_nick("w"))
    start = time.monotonic()
    received = _flood_until_dropped(server.host, server.port, payload)
    took = time.monotonic() - start
    assert b"Excess Flood" in received, received[-300:]
    assert took < FLOOD_SECONDS - 1, f"dropped only after {took:.1f} s"
    worst = 0.0
    for i in range(5):
        sent_at = time.monotonic()
        witness.send(f"PING :w{i}")
        witness.expect(lambda m, i=i: m.command == "PONG" and m.params[-1] == f"w{i}", timeout=5)
        worst = max(worst, time.monotonic() - sent_at)
        time.sleep(0.1)
    assert worst < 0.5, f"witness PING took {worst * 1000:.0f} ms"


def test_bare_cr_ends_a_line_on_a_real_socket(server, irc_client):
    """"PING a\\rPING b\\r" with no LF is answered twice at once: a CR alone
    ends a line (RFC 2812 2.3.1), also when it is the last byte read."""
    c = irc_client(server, unique_nick("cr"))
    c.send_raw(b"PING a\rPING b\r")
    assert c.expect("PONG", timeout=3).params[-1] == "a"
    assert c.expect("PONG", timeout=3).params[-1] == "b"
    c.send_raw(b"\nPING :c d\r\n")
    assert c.expect("PONG", timeout=3).params[-1] == "c d"


def _make_channels(host: str, port: int, count: int, topic: str) -> None:
    """Create ``count`` channels with ``topic``, 50 per filler client (CHANLIMIT).

    Each filler sends its JOINs and TOPICs in one write, then a PING, and
    reads until the PONG; every step is bounded by socket timeouts.
    """
    per_client = 50
    fillers = []
    for start in range(0, count, per_client):
        sock = socket.create_connection((host, port), timeout=30)
        nick = f"f{start // per_client}x{unique_nick('')[-4:]}"
        names = [f"#{'l' * 40}{i:06d}" for i in range(start, min(start + per_client, count))]
        lines = [f"NICK {nick}", f"USER f 0 * :f"]
        for i in range(0, len(names), 9):
            lines.append("JOIN " + ",".join(names[i:i + 9]))
        lines += [f"TOPIC {name} :{topic}" for name in names]
        lines.append("PING :filled")
        sock.sendall(("\r\n".join(lines) + "\r\n").encode())
        fillers.append(sock)
    for sock in fillers:
        received = b""
        while b"filled" not in received:
            data = sock.recv(1 << 20)
            assert data, received[-300:]
            received = (received + data)[-4096:]
    return fillers


def test_list_of_12000_channels_reaches_a_slow_reader_whole(server, irc_client):
    """LIST of 12,000 channels with long names and topics (about 4.7 MB, more
    than the 4 MB SendQ) reaches a client that reads slowly but completely:
    321, all 12,000 322s, 323, and it stays connected (SAFELIST).  A witness
    is answered while the list is being written."""
    fillers = _make_channels(server.host, server.port, 12000, "t" * 290)
    try:
        witness = irc_client(server, unique_nick("w"))
        reader = irc_client(server, unique_nick("slow"))
        sock = reader.sock
        sock.settimeout(10)
        sock.sendall(b"LIST\r\n")
        buf = b""
        count = 0
        deadline = time.monotonic() + 120
        witness_rtt = None
        while time.monotonic() < deadline:
            data = sock.recv(16384)
            assert data, "connection closed: " + buf[-300:].decode("utf-8", "replace")
            buf += data
            *lines, buf = buf.split(b"\r\n")
            count += sum(1 for line in lines if b" 322 " in line)
            assert not any(line.startswith(b"ERROR") for line in lines), lines[-1]
            if any(b" 323 " in line for line in lines):
                break
            if witness_rtt is None and count > 1000:
                sent_at = time.monotonic()
                witness.send("PING :meanwhile")
                witness.expect("PONG", timeout=5)
                witness_rtt = time.monotonic() - sent_at
            time.sleep(0.002)
        assert count == 12000
        assert witness_rtt is not None and witness_rtt < 1.0
        reader.send("PING :still-here")
        assert reader.expect("PONG", timeout=5).params[-1] == "still-here"
    finally:
        for sock in fillers:
            sock.close()
