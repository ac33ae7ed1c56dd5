"""Web clients over WebSocket against a real ``twistd conferenceroom``: subprotocols,
UTF-8 rules, origin refusal, proxy header trust, and the limits every client shares."""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import free_port
from tests.integration.ircclient import unique_nick
from tests.integration.wsclient import BINARY, TEXT, HandshakeRefused, WSClient


def ws_server(irc_server, *lines: str, **options):  # type: ignore[no-untyped-def]
    """A started server with the WebSocket listener on a free port (``server.ws_port``)."""
    port = free_port()
    srv = irc_server(["general websocket enable", f"general websocket port {port}", *lines], **options)
    srv.ws_port = port
    srv.wait_for_log(r"listening for WebSocket clients", timeout=10)
    return srv


@pytest.fixture
def web(request):  # type: ignore[no-untyped-def]
    """Factory: web(server, **connect options) -> WSClient (closed at teardown)."""
    made: list[WSClient] = []

    def make(srv, **kw):  # type: ignore[no-untyped-def]
        client = WSClient.connect(srv.host, srv.ws_port, **kw)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def test_text_client_talks_with_plain_client(irc_server, irc_client, web) -> None:
    """A text.ircv3.net client registers, joins and talks with a plain TCP client; one line per text message."""
    srv = ws_server(irc_server)
    ws = web(srv, protocols=("text.ircv3.net",))
    assert ws.header("Sec-WebSocket-Protocol") == "text.ircv3.net"
    nick = unique_nick("web")
    welcome = ws.register(nick)
    assert welcome[0].startswith(f":{srv.name} 001 {nick} ")
    bob = irc_client(srv, unique_nick("bob"))
    bob.join("#web")
    ws.send("JOIN #web")
    ws.lines(lambda line: " 366 " in line)
    bob.expect("JOIN")
    bob.send("PRIVMSG #web :héllo from TCP")
    [line] = ws.lines(lambda line: "PRIVMSG" in line)
    assert line.endswith("PRIVMSG #web :héllo from TCP") and "\r" not in line and "\n" not in line
    ws.send("PRIVMSG #web :and back from the web")
    msg = bob.expect("PRIVMSG")
    assert msg.nick == nick and msg.trailing == "and back from the web"


def test_binary_client_gets_binary_messages(irc_server, irc_client, web) -> None:
    """binary.ircv3.net (asked first) gives binary messages holding the bytes as they are."""
    srv = ws_server(irc_server)
    ws = web(srv, protocols=("binary.ircv3.net", "text.ircv3.net"))
    assert ws.header("Sec-WebSocket-Protocol") == "binary.ircv3.net"
    ws.send(b"NICK " + unique_nick("bin").encode())
    ws.send(b"USER b 0 * :Binary")
    opcode, payload = ws.recv()
    assert opcode == BINARY and b" 001 " in payload and not payload.endswith(b"\r\n")


def test_no_subprotocol_is_text(irc_server, web) -> None:
    """A legacy client asking no subprotocol gets none in the answer, and text messages."""
    srv = ws_server(irc_server)
    ws = web(srv, protocols=())
    assert ws.header("Sec-WebSocket-Protocol") is None
    ws.send(b"NICK " + unique_nick("leg").encode())
    ws.send("USER l 0 * :Legacy")
    opcode, payload = ws.recv()
    assert opcode == TEXT and b" 001 " in payload


def test_invalid_utf8_in_text_closes_1007(irc_server, irc_client, web) -> None:
    """Invalid UTF-8 in a text message: ERROR, close code 1007, and channel peers see the QUIT."""
    srv = ws_server(irc_server)
    ws = web(srv)
    nick = unique_nick("bad")
    ws.register(nick)
    bob = irc_client(srv, unique_nick("bob"))
    bob.join("#utf")
    ws.send("JOIN #utf")
    bob.expect("JOIN")
    ws.send(b"PRIVMSG #utf :\xff\xfe broken", opcode=TEXT)
    got = ws.until_closed()
    assert any(p.startswith(b"ERROR :Closing Link") and b"Invalid UTF-8" in p for _, p in got)
    assert ws.close_code == 1007
    quit_msg = bob.expect("QUIT")
    assert quit_msg.nick == nick and "Invalid UTF-8" in quit_msg.trailing


def test_oversized_message_closes_1009(irc_server, web) -> None:
    """A 64 KiB message ends the client with ERROR and close code 1009, no traceback in the log."""
    srv = ws_server(irc_server)
    ws = web(srv)
    ws.register(unique_nick("big"))
    ws.send("PRIVMSG x :" + "a" * 65536)
    got = ws.until_closed()
    assert any(b"WebSocket message too big" in p for _, p in got)
    assert ws.close_code == 1009


def test_foreign_origin_refused(irc_server, web) -> None:
    """With no origin listed, a page from another site gets HTTP 403; one from the server's host connects."""
    srv = ws_server(irc_server)
    with pytest.raises(HandshakeRefused) as refused:
        web(srv, origin="https://evil.example")
    assert refused.value.status == 403
    assert b"origin may not connect" in refused.value.response
    ws = web(srv, origin=f"http://{srv.host}:8080")
    ws.register(unique_nick("same"))


def test_listed_origin_only(irc_server, web) -> None:
    """With origins listed, only those connect (the server's own host no longer counts)."""
    srv = ws_server(irc_server, "general websocket origin add https://*.example.org")
    web(srv, origin="https://kiwi.example.org").register(unique_nick("kiwi"))
    for origin in (f"http://{srv.host}", "https://example.org.evil.example"):
        with pytest.raises(HandshakeRefused):
            web(srv, origin=origin)


def test_proxy_header_only_from_trusted_proxy(irc_server, web) -> None:
    """X-Forwarded-For gives the client's address only when 127.0.0.1 is a trusted proxy."""
    srv = ws_server(irc_server)
    forged = web(srv, headers=("X-Forwarded-For: 192.0.2.77",))
    nick = unique_nick("fx")
    forged.register(nick)
    forged.send("JOIN #px")
    [join] = forged.lines(lambda line: " JOIN " in line)
    assert join.startswith(f":{nick}!~{nick}@127.0.0.1 JOIN")

    trusted = ws_server(irc_server, "general websocket proxy add 127.0.0.1")
    ws = web(trusted, headers=("X-Forwarded-For: 198.51.100.1, 192.0.2.77",))
    nick = unique_nick("px")
    ws.register(nick)
    ws.send("JOIN #px")
    [join] = ws.lines(lambda line: " JOIN " in line)
    assert join.startswith(f":{nick}!~{nick}@192.0.2.77 JOIN")
    with pytest.raises(HandshakeRefused) as refused:
        web(trusted, headers=("X-Forwarded-For: not-an-address",))
    assert refused.value.status == 400


def test_zline_on_forwarded_address(irc_server, web) -> None:
    """A Z-line on the address a trusted proxy forwards refuses that web client with ERROR."""
    srv = ws_server(irc_server, "general websocket proxy add 127.0.0.1", "security zline add 192.0.2.66 web abuse")
    ws = web(srv, headers=("X-Forwarded-For: 192.0.2.66",))
    got = ws.until_closed()
    assert got and got[0][1] == b"ERROR :Closing Link: 192.0.2.66 (Banned (Z-line: web abuse))"
    web(srv, headers=("X-Forwarded-For: 192.0.2.67",)).register(unique_nick("ok"))


def test_per_ip_trigger_counts_web_clients(irc_server, irc_client, web) -> None:
    """The per-IP connection trigger counts WebSocket and plain clients of one address together."""
    srv = ws_server(irc_server, deftrigger=2)
    irc_client(srv, unique_nick("tcp"))
    web(srv).register(unique_nick("w1"))
    third = web(srv)
    got = third.until_closed()
    assert got and b"Too many connections from your IP address (2)" in got[0][1]


def test_flood_applies_to_web_clients(irc_server, web) -> None:
    """A web client flooding is dropped with Excess Flood as a plain one would be."""
    srv = ws_server(irc_server, flood=True, deftrigger=5)
    ws = web(srv)
    ws.register(unique_nick("fl"))
    for i in range(300):
        try:
            ws.send(f"PRIVMSG #nowhere :flood line {i}")
        except OSError:
            break
    got = ws.until_closed(timeout=20)
    assert any(p.endswith(b"(Excess Flood)") for _, p in got)
    srv.wait_for_log(r"throttling 127\.0\.0\.1", timeout=5)


def test_sendq_applies_to_web_clients(irc_server, irc_client, web) -> None:
    """A web client that stops reading is dropped for SendQ; the sender sees it quit."""
    srv = ws_server(irc_server)
    nick = unique_nick("slow")
    ws = web(srv, rcvbuf=4096)
    ws.register(nick)
    ws.send("JOIN #sq")
    ws.lines(lambda line: " 366 " in line)
    bob = irc_client(srv, unique_nick("bob"))
    bob.join("#sq")
    text = "x" * 400
    deadline = time.monotonic() + 60
    sent = 0
    while time.monotonic() < deadline and sent < 20000:
        for _ in range(200):
            bob.send(f"PRIVMSG #sq :{text}")
        sent += 200
        quits = [m for m in bob.drain(0.05) if m.command == "QUIT"]
        if quits:
            assert quits[0].nick == nick and quits[0].trailing == "SendQ exceeded"
            return
    pytest.fail(f"web client not dropped for SendQ after {sent} lines")


def test_registration_and_garbage(irc_server, web) -> None:
    """Two lines in one message get 400; garbage lines are answered as on a plain port; no traceback."""
    srv = ws_server(irc_server)
    ws = web(srv)
    nick = unique_nick("gb")
    ws.register(nick)
    ws.send("PING :a\r\nPING :b")
    [line] = ws.lines(lambda line: " 400 " in line)
    assert line.endswith("A WebSocket message must hold exactly one IRC line")
    ws.send(b"\x00\x01\x02 garbage", opcode=BINARY)
    ws.send("")
    ws.send("PING :alive")
    ws.lines(lambda line: "PONG" in line and line.endswith("alive"))


def test_plain_http_request_answered(irc_server) -> None:
    """A plain HTTP GET (no upgrade) gets an HTTP error answer, never a traceback."""
    import socket

    srv = ws_server(irc_server)
    with socket.create_connection((srv.host, srv.ws_port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 4")
