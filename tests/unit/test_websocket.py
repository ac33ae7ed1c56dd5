"""Web clients over WebSocket: the handshake rules, frames as lines, and the ordinary client limits."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest

from conferenceroom.admin.settings import BanEntry, FloodSettings, WebSocketSettings
from conferenceroom.client import protocol
from conferenceroom.client.websocket import WebSocketFactory, client_address, origin_allowed
from twisted.internet import error
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from conferenceroom.wire import Message
from tests.helpers import feed, make_core, make_settings, register, sent
from tests.unit.wsclient import SocketTransport, frame, open_ws, register_ws


def ws_core(**ws: object):  # type: ignore[no-untyped-def]
    """A core whose WebSocket settings are ``ws``."""
    return make_core(make_settings(websocket=WebSocketSettings(enabled=True, **ws)))  # type: ignore[arg-type]


def close_code(frames: list[tuple[int, bytes]]) -> int | None:
    """The code of the close frame among ``frames``, or None."""
    for opcode, payload in frames:
        if opcode == 8:
            return struct.unpack("!H", payload[:2])[0]
    return None


# -- subprotocols and framing -----------------------------------------------------


def test_text_subprotocol_one_line_per_message() -> None:
    """text.ircv3.net: the server agrees, and every reply is one text message without CR LF."""
    core = ws_core()
    client = open_ws(core, protocols=("text.ircv3.net",))
    assert client.status == 101
    assert client.header("Sec-WebSocket-Protocol") == "text.ircv3.net"
    client.send("NICK webby")
    client.send("USER w 0 * :Web user")
    frames = client.read()
    assert frames and all(op == 1 for op, _ in frames)
    assert all(b"\r" not in p and b"\n" not in p for _, p in frames)
    assert frames[0][1].startswith(b":test.local 001 webby ")
    assert core.network.find_user("webby") is not None


def test_client_preference_order_wins() -> None:
    """The first of the client's subprotocols we support is chosen: binary first gives binary messages."""
    core = ws_core()
    client = open_ws(core, protocols=("binary.ircv3.net", "text.ircv3.net"))
    assert client.header("Sec-WebSocket-Protocol") == "binary.ircv3.net"
    client.send(b"NICK bin")
    client.send(b"USER b 0 * :Bin")
    frames = client.read()
    assert frames and all(op == 2 for op, _ in frames)
    other = open_ws(core, protocols=("text.ircv3.net", "binary.ircv3.net"))
    assert other.header("Sec-WebSocket-Protocol") == "text.ircv3.net"


def test_no_subprotocol_text_out_either_kind_in() -> None:
    """Without a subprotocol no Sec-WebSocket-Protocol is sent, replies are text, binary input is taken."""
    core = ws_core()
    client = open_ws(core, protocols=())
    assert client.status == 101 and client.header("Sec-WebSocket-Protocol") is None
    client.send(b"NICK legacy")  # binary
    client.send("USER l 0 * :Legacy")  # text
    frames = client.read()
    assert frames[0][0] == 1 and b" 001 legacy " in frames[0][1]


def test_unknown_subprotocols_only_connect_without_one() -> None:
    """A client offering only other subprotocols gets no Sec-WebSocket-Protocol (its own choice to go on)."""
    core = ws_core()
    client = open_ws(core, protocols=("chat.example",))
    assert client.status == 101 and client.header("Sec-WebSocket-Protocol") is None


def test_trailing_crlf_forgiven_inner_break_refused() -> None:
    """A trailing CR LF is dropped; two lines in one message get 400 and neither runs."""
    core = ws_core()
    client = register_ws(core, "alice")
    client.send("PING :one\r\n")
    assert client.lines() == [":test.local PONG test.local one"]
    client.send("PING :two\r\nPING :three")
    [line] = client.lines()
    assert line == ":test.local 400 alice * :A WebSocket message must hold exactly one IRC line"


def test_text_client_gets_replacement_characters() -> None:
    """A line that is not UTF-8 reaches a text client with U+FFFD in place of the bad bytes, a binary one as it is."""
    core = ws_core()
    text = register_ws(core, "texty", protocols=("text.ircv3.net",))
    binary = register_ws(core, "binny", protocols=("binary.ircv3.net",))
    text.proto.conn.transport.write(b":x NOTICE texty :caf\xe9\r\n")
    binary.proto.conn.transport.write(b":x NOTICE binny :caf\xe9\r\n")
    assert text.read() == [(1, ":x NOTICE texty :caf\ufffd".encode("utf-8"))]
    assert binary.read() == [(2, b":x NOTICE binny :caf\xe9")]


def test_latin1_from_plain_client_reaches_web_clients_as_utf8() -> None:
    """A plain client's Latin-1 message reaches text and binary web clients as the same UTF-8 text."""
    core = ws_core()
    text = register_ws(core, "texty", protocols=("text.ircv3.net",))
    binary = register_ws(core, "binny", protocols=("binary.ircv3.net",))
    plain = register(core, "plain")
    plain.dataReceived(b"PRIVMSG texty :caf\xe9\r\nPRIVMSG binny :caf\xe9\r\n")
    assert text.read() == [(1, "PRIVMSG texty :café".join([":plain!~plain@127.0.0.1 ", ""]).encode())]
    assert binary.read() == [(2, ":plain!~plain@127.0.0.1 PRIVMSG binny :café".encode())]


def test_invalid_utf8_text_fails_with_1007() -> None:
    """A text message that is not UTF-8 ends the client: ERROR, close code 1007, QUIT for the others."""
    core = ws_core()
    client = register_ws(core, "bad")
    client.proto.dataReceived(frame(b"PRIVMSG x :\xff\xfe", opcode=1))
    frames = client.read()
    assert frames[0][1].startswith(b"ERROR :Closing Link: 203.0.113.5 (Invalid UTF-8")
    assert close_code(frames) == 1007
    assert core.network.find_user("bad") is None


def test_oversized_message_fails_with_1009() -> None:
    """A message over 16 KiB ends the client with ERROR and close code 1009."""
    core = ws_core()
    client = register_ws(core, "big")
    client.send(b"PRIVMSG x :" + b"a" * 20000)
    frames = client.read()
    assert b"WebSocket message too big" in frames[0][1]
    assert close_code(frames) == 1009
    assert core.network.find_user("big") is None


def test_long_line_gets_417_and_stays() -> None:
    """A line over the IRC limit but under the message limit gets 417, as on a plain port."""
    core = ws_core()
    client = register_ws(core, "longy")
    client.send("PRIVMSG x :" + "a" * 1000)
    assert client.lines() == [":test.local 417 longy :Input line was too long"]
    client.send("PING :ok")
    assert client.lines() == [":test.local PONG test.local ok"]


def test_server_opening_stays_a_client() -> None:
    """SERVER first on a WebSocket is an unregistered client's command (451), never a server link."""
    core = ws_core()
    client = open_ws(core)
    client.send("SERVER evil.example 1 :x")
    assert client.lines() == [":test.local 451 * :You have not registered"]
    assert client.proto.conn.link is None


# -- the handshake ------------------------------------------------------------------


def test_origin_rules() -> None:
    """No Origin: allowed; same host as dialled: allowed; another site: refused; listed globs win."""
    assert origin_allowed(None, "irc.example.org:8067", ())
    assert origin_allowed("https://irc.example.org", "irc.example.org:8067", ())
    assert not origin_allowed("https://evil.example", "irc.example.org:8067", ())
    assert not origin_allowed("null", "irc.example.org", ())
    listed = ("https://*.example.net",)
    assert origin_allowed("https://kiwi.example.net", "irc.example.org", listed)
    assert not origin_allowed("https://irc.example.org", "irc.example.org", listed)
    assert origin_allowed("null", "x", ("*",))


def test_foreign_origin_refused_403() -> None:
    """A page from another site gets HTTP 403 with the reason, and no client is made."""
    core = ws_core()
    client = open_ws(core, origin="https://evil.example")
    assert client.status == 403
    assert client.proto.conn is None
    allowed = open_ws(ws_core(origins=("https://evil.example",)), origin="https://evil.example")
    assert allowed.status == 101


def test_proxy_header_trusted_only_from_proxies() -> None:
    """X-Forwarded-For names the client only when the socket is a trusted proxy, read from the right."""
    assert client_address("198.51.100.1", "192.0.2.9", ()) == "198.51.100.1"
    assert client_address("10.0.0.1", "192.0.2.9", ("10.0.0.0/8",)) == "192.0.2.9"
    # a client's own forged entry comes first; the proxy appends the real one
    assert client_address("10.0.0.1", "6.6.6.6, 192.0.2.9", ("10.0.0.0/8",)) == "192.0.2.9"
    assert client_address("10.0.0.1", "192.0.2.9, 10.0.0.2", ("10.0.0.0/8",)) == "192.0.2.9"
    with pytest.raises(ValueError):
        client_address("10.0.0.1", "not-an-ip", ("10.0.0.0/8",))


def test_proxied_client_has_its_real_address() -> None:
    """Behind a trusted proxy the user's IP is the forwarded one; a forged header from elsewhere is ignored."""
    core = ws_core(proxies=("10.0.0.1",))
    client = register_ws(core, "proxied", ip="10.0.0.1", extra=("X-Forwarded-For: 192.0.2.9",))
    assert core.network.find_user("proxied").ip == "192.0.2.9"
    forged = register_ws(core, "forger", ip="198.51.100.7", extra=("X-Forwarded-For: 192.0.2.10",))
    assert core.network.find_user("forger").ip == "198.51.100.7"
    bad = open_ws(core, ip="10.0.0.1", extra=("X-Forwarded-For: nonsense",))
    assert bad.status == 400
    assert client.proto.conn is not None and forged.proto.conn is not None


def test_zline_and_trigger_apply_to_real_address() -> None:
    """A Z-line on the forwarded address refuses the client with ERROR; the per-IP trigger counts it."""
    settings = make_settings(websocket=WebSocketSettings(enabled=True, proxies=("10.0.0.1",)),
                             zlines=(BanEntry("192.0.2.66", "web abuse"),), deftrigger=1)
    core = make_core(settings)
    banned = open_ws(core, ip="10.0.0.1", extra=("X-Forwarded-For: 192.0.2.66",))
    assert banned.status == 101
    frames = banned.read()
    assert frames[0][1] == b"ERROR :Closing Link: 192.0.2.66 (Banned (Z-line: web abuse))"
    first = open_ws(core, ip="10.0.0.1", extra=("X-Forwarded-For: 192.0.2.7",))
    assert first.read() == []
    second = open_ws(core, ip="10.0.0.1", extra=("X-Forwarded-For: 192.0.2.7",))
    assert b"Too many connections from your IP address (1)" in second.read()[0][1]


def test_oversized_handshake_refused_431() -> None:
    """A handshake request over 8 KiB is answered with HTTP 431 and closed."""
    core = ws_core()
    client = open_ws(core, extra=("X-Junk: " + "a" * 9000,))
    assert client.status == 431
    assert client.transport.disconnecting


def test_handshake_deadline() -> None:
    """A socket that never finishes the handshake is dropped after 10 s (on the core's clock)."""
    core = ws_core()
    factory = WebSocketFactory(core)
    from twisted.internet import address
    from twisted.internet.testing import StringTransport

    peer = address.IPv4Address("TCP", "203.0.113.9", 4000)
    proto = factory.buildProtocol(peer)
    transport = SocketTransport(peerAddress=peer)
    proto.makeConnection(transport)
    proto.dataReceived(b"GET / HTTP/1.1\r\n")
    core.clock.advance(9)
    assert not transport.disconnecting
    core.clock.advance(1.5)
    assert transport.disconnecting
    proto.connectionLost(Failure(error.ConnectionLost()))
    assert factory.pending == {}


def test_throttled_address_refused_at_accept() -> None:
    """An address throttled for abuse gets HTTP 429 at once, before any handshake."""
    core = make_core(make_settings(websocket=WebSocketSettings(enabled=True), deftrigger=3))
    core.abused("203.0.113.5", "Excess Flood")
    client = open_ws(core)
    assert client.status == 429
    assert client.transport.disconnecting


def test_handshakes_per_address_bounded() -> None:
    """One address cannot hold more handshakes in progress than its connection trigger."""
    core = make_core(make_settings(websocket=WebSocketSettings(enabled=True), deftrigger=2))
    factory = WebSocketFactory(core)
    from twisted.internet import address

    peer = address.IPv4Address("TCP", "203.0.113.5", 4000)
    first, second = factory.buildProtocol(peer), factory.buildProtocol(peer)
    third = factory.buildProtocol(peer)
    assert type(third).__name__ == "Refusal"
    assert type(first).__name__ == type(second).__name__ == "IRCWebSocket"


# -- the limits of ordinary clients ----------------------------------------------------


def test_flood_excess_drops_web_client() -> None:
    """Flooding over WebSocket ends with ERROR Excess Flood, as on a plain port."""
    core = make_core(make_settings(websocket=WebSocketSettings(enabled=True), flood=FloodSettings()))
    client = register_ws(core, "flooder")
    for i in range(40):
        if client.proto.conn.closing:
            break
        client.send(f"PRIVMSG flooder :{i}")
    frames = client.read()
    assert any(p.endswith(b"(Excess Flood)") for _, p in frames)
    assert core.network.find_user("flooder") is None
    assert core.throttle.remaining("203.0.113.5")


def test_flood_charges_message_bytes() -> None:
    """Blank and junk messages are charged like blank lines: enough of them is Excess Flood too."""
    core = make_core(make_settings(websocket=WebSocketSettings(enabled=True), flood=FloodSettings()))
    client = register_ws(core, "blanky")
    for _ in range(20000):
        if client.proto.conn.closing:
            break
        client.send("")
    assert client.proto.conn.closing
    assert any(p.endswith(b"(Excess Flood)") for _, p in client.read())


def test_sendq_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output the web client does not take counts against the SendQ; over it the client is dropped."""
    monkeypatch.setattr(protocol, "MAX_SENDQ", 4096)
    core = ws_core()
    client = register_ws(core, "slow")
    # the peer never reads: everything written stays queued in the socket's buffer
    monkeypatch.setattr(StringTransport, "dataBuffer", property(lambda self: self.io.getvalue()), raising=False)
    conn = client.proto.conn
    for _ in range(100):
        if conn.closing or conn.dead:
            break
        conn.send(Message("NOTICE", ("slow", "x" * 200)))
    core.clock.advance(0)
    assert conn.closing and core.network.find_user("slow") is None
    assert any(p.endswith(b"(SendQ exceeded)") for _, p in client.read())


def test_registration_timeout() -> None:
    """A web client that never registers gets ERROR Registration timed out after 60 s."""
    core = ws_core()
    client = open_ws(core)
    core.clock.advance(61)
    frames = client.read()
    assert frames[0][1].endswith(b"(Registration timed out)")
    assert close_code(frames) == 1000


def test_quit_closes_websocket_and_peers_see_quit() -> None:
    """QUIT from a web client: ERROR, a normal close frame, and QUIT to channel peers."""
    core = ws_core()
    client = register_ws(core, "leaver")
    bob = register(core, "bob")
    feed(bob, "JOIN #c")
    client.send("JOIN #c")
    sent(bob)
    client.send("QUIT :bye")
    frames = client.read()
    assert close_code(frames) == 1000
    [quit_msg] = sent(bob)
    assert quit_msg.command == "QUIT" and quit_msg.params == ("Quit: bye",)


def test_stats_and_whois_see_the_web_client() -> None:
    """An operator's WHOIS shows the web client's real address like any other client's."""
    core = ws_core(proxies=("10.0.0.1",))
    register_ws(core, "webuser", ip="10.0.0.1", extra=("X-Forwarded-For: 192.0.2.44",))
    user = core.network.find_user("webuser")
    assert (user.ip, user.realhost) == ("192.0.2.44", "192.0.2.44")


def test_secure_transport_or_https_proxy() -> None:
    """A trusted proxy saying X-Forwarded-Proto https makes the client secure; a plain socket is not."""
    core = ws_core(proxies=("10.0.0.1",))
    plain = register_ws(core, "plainweb")
    assert not plain.proto.conn.secure
    proxied = register_ws(core, "tlsweb", ip="10.0.0.1",
                          extra=("X-Forwarded-For: 192.0.2.8", "X-Forwarded-Proto: https"))
    assert proxied.proto.conn.secure
    forged = register_ws(core, "forgedtls", extra=("X-Forwarded-Proto: https",))
    assert not forged.proto.conn.secure


def test_settings_read_live() -> None:
    """Origins and proxies are read from the settings in force at each handshake (AS changes apply at once)."""
    core = ws_core()
    assert open_ws(core, origin="https://kiwi.example").status == 403
    core.apply_settings(replace(core.settings, websocket=replace(core.settings.websocket,
                                                                  origins=("https://kiwi.example",))))
    assert open_ws(core, origin="https://kiwi.example").status == 101


def test_pings_answered_and_charged() -> None:
    """A WebSocket ping is answered with a pong, and a ping flood ends in Excess Flood like any flood."""
    core = make_core(make_settings(websocket=WebSocketSettings(enabled=True), flood=FloodSettings()))
    client = register_ws(core, "pinger")
    client.proto.dataReceived(frame(b"hello", opcode=9))
    assert client.read() == [(10, b"hello")]
    for _ in range(5000):
        if client.proto.conn.closing:
            break
        client.proto.dataReceived(frame(b"x" * 100, opcode=9))
    assert client.proto.conn.closing
    assert core.network.find_user("pinger") is None


def test_unmasked_frame_is_a_protocol_error() -> None:
    """An unmasked client frame (not WebSocket) ends the client with ERROR and close code 1002."""
    core = ws_core()
    client = register_ws(core, "raw")
    client.proto.dataReceived(b"\x81\x04PING")  # no mask bit
    frames = client.read()
    assert frames[0][1].startswith(b"ERROR :Closing Link: 203.0.113.5 (WebSocket protocol error: ")
    assert close_code(frames) == 1002
    assert core.network.find_user("raw") is None


def test_fragmented_message_is_one_line() -> None:
    """A message sent in several frames is reassembled into one line."""
    core = ws_core()
    client = register_ws(core, "frag")
    client.proto.dataReceived(frame(b"PING :in ", opcode=1, fin=False) + frame(b"two parts", opcode=0))
    assert client.lines() == [":test.local PONG test.local :in two parts"]


def test_huge_declared_frame_closed_at_once() -> None:
    """A frame header announcing 2**40 bytes ends the client before any of it is read."""
    core = ws_core()
    client = register_ws(core, "huge")
    import struct as _struct

    client.proto.dataReceived(b"\x82\xff" + _struct.pack("!Q", 2 ** 40) + b"mask" + b"x" * 100)
    frames = client.read()
    assert b"WebSocket message too big" in frames[0][1] and close_code(frames) == 1009
    core.clock.advance(6)  # the client never answers the close: dropped after the grace period
    assert client.transport.disconnecting
