"""A WebSocket client side for unit tests: the HTTP handshake and frames, on a StringTransport."""

from __future__ import annotations

import base64
import os
import struct
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import address
from twisted.internet.testing import StringTransport

from conferenceroom.client.websocket import IRCWebSocket, WebSocketFactory


class SocketTransport(StringTransport):
    """A StringTransport that, like a TCP or TLS transport, lets go of no producer quietly."""

    def unregisterProducer(self) -> None:
        """Forget the producer, if any."""
        self.producer = None


def frame(payload: bytes, opcode: int = 1, fin: bool = True) -> bytes:
    """One masked client frame (text opcode 1, binary 2, close 8)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def unframe(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Server frames (opcode, payload) in ``data`` and what is left of a partial one."""
    out = []
    while len(data) >= 2:
        opcode, n = data[0] & 0x0F, data[1] & 0x7F
        pos = 2
        if n == 126:
            n, pos = struct.unpack("!H", data[2:4])[0], 4
        elif n == 127:
            n, pos = struct.unpack("!Q", data[2:10])[0], 10
        if len(data) < pos + n:
            break
        out.append((opcode, data[pos:pos + n]))
        data = data[pos + n:]
    return out, data


@dataclass
class WSClient:
    """A client of an :class:`IRCWebSocket` over a StringTransport."""

    proto: Any
    transport: StringTransport
    response: bytes = b""
    _rest: bytes = b""
    frames: list[tuple[int, bytes]] = field(default_factory=list)

    @property
    def status(self) -> int:
        """The HTTP status of the handshake response."""
        return int(self.response.split(b" ", 2)[1])

    def header(self, name: str) -> str | None:
        """A header of the handshake response, or None."""
        for line in self.response.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip().decode()
        return None

    def send(self, payload: bytes | str, opcode: int | None = None) -> None:
        """One message: text for str (or opcode 1), binary for bytes unless told."""
        if isinstance(payload, str):
            payload, opcode = payload.encode("utf-8"), opcode or 1
        self.proto.dataReceived(frame(payload, opcode or 2))

    def read(self) -> list[tuple[int, bytes]]:
        """Frames written by the server since the last read."""
        data = self._rest + self.transport.value()
        self.transport.clear()
        frames, self._rest = unframe(data)
        return frames

    def lines(self) -> list[str]:
        """The IRC lines (text and binary messages) since the last read, decoded."""
        return [p.decode("utf-8", "replace") for op, p in self.read() if op in (1, 2)]


def handshake_request(protocols: tuple[str, ...] = ("text.ircv3.net",), origin: str | None = None,
                      host: str = "irc.example.org:8067", extra: tuple[str, ...] = ()) -> bytes:
    """A browser-like opening handshake."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ["GET / HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if protocols:
        lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
    if origin is not None:
        lines.append(f"Origin: {origin}")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def open_ws(core: Any, ip: str = "203.0.113.5", factory: WebSocketFactory | None = None, **request: Any) -> WSClient:
    """Accept a socket from ``ip`` and send the handshake; the response is read."""
    factory = factory or WebSocketFactory(core)
    peer = address.IPv4Address("TCP", ip, 50000)
    proto = factory.buildProtocol(peer)
    transport = SocketTransport(peerAddress=peer, hostAddress=address.IPv4Address("TCP", "192.0.2.1", 8067))
    proto.makeConnection(transport)
    client = WSClient(proto, transport)
    if isinstance(proto, IRCWebSocket):
        proto.dataReceived(handshake_request(**request))
    data = transport.value()
    head, sep, rest = data.partition(b"\r\n\r\n")
    client.response = head
    transport.clear()
    client._rest = rest
    return client


def register_ws(core: Any, nick: str, **kw: Any) -> WSClient:
    """A WebSocket client registered as ``nick`` (its welcome read)."""
    client = open_ws(core, **kw)
    assert client.status == 101, client.response
    client.send(f"NICK {nick}")
    client.send(f"USER {nick} 0 * :Web {nick}")
    assert any(" 001 " in line for line in client.lines())
    return client
