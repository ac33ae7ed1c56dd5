"""A blocking WebSocket client for integration tests: the opening handshake and frames over a socket.

Written from RFC 6455 so tests can also send what a browser never would
(invalid UTF-8 in a text message, oversized messages, forged headers).
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import struct
import time
from typing import Callable, Optional

from tests.unit.wsclient import frame

DEFAULT_TIMEOUT = 10.0
TEXT, BINARY, CLOSE, PING, PONG = 1, 2, 8, 9, 10


class HandshakeRefused(AssertionError):
    """The server answered the opening handshake with something other than 101."""

    def __init__(self, status: int, response: bytes) -> None:
        super().__init__(f"HTTP {status}: {response[:300]!r}")
        self.status = status
        self.response = response


def client_frame(payload: bytes, opcode: int) -> bytes:
    """One masked, final client frame (the unit tests' framing)."""
    return frame(payload, opcode)


class WSClient:
    """One WebSocket connection to a test server."""

    def __init__(self, sock: socket.socket, response: bytes, rest: bytes) -> None:
        self.sock = sock
        self.response = response
        self._buf = rest
        self.close_code: Optional[int] = None
        self.close_reason = b""
        self.closed = False

    @classmethod
    def connect(cls, host: str, port: int, protocols: tuple[str, ...] = ("text.ircv3.net",),
                origin: Optional[str] = None, headers: tuple[str, ...] = (),
                timeout: float = DEFAULT_TIMEOUT, rcvbuf: Optional[int] = None,
                tls: bool = False, path: str = "/") -> "WSClient":
        """Open a socket (TLS without certificate checks when ``tls``) and shake hands;
        :class:`HandshakeRefused` unless the answer is 101."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(timeout)
        sock.connect((host, port))
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=host)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
        if origin is not None:
            lines.append(f"Origin: {origin}")
        lines.extend(headers)
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in data:
            if time.monotonic() > deadline:
                raise AssertionError(f"no handshake answer: {data!r}")
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
        if status != 101:
            sock.close()
            raise HandshakeRefused(status, data)
        return cls(sock, head, rest)

    def header(self, name: str) -> Optional[str]:
        """A header of the handshake answer, or None."""
        for line in self.response.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip().decode()
        return None

    def send(self, payload: "str | bytes", opcode: Optional[int] = None) -> None:
        """One message: text for str, binary for bytes (unless ``opcode`` says otherwise)."""
        if isinstance(payload, str):
            payload, opcode = payload.encode("utf-8"), opcode or TEXT
        self.sock.sendall(client_frame(payload, opcode or BINARY))

    def recv(self, timeout: float = DEFAULT_TIMEOUT) -> Optional[tuple[int, bytes]]:
        """The next data message (opcode, payload); None once closed.  Pings are answered."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self._parse()
            if frame is not None:
                opcode, payload = frame
                if opcode == CLOSE:
                    self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    self.close_reason = payload[2:]
                    self.closed = True
                    try:
                        self.sock.sendall(client_frame(payload[:2], CLOSE))
                    except OSError:
                        pass
                    return None
                if opcode == PING:
                    self.sock.sendall(client_frame(payload, PONG))
                    continue
                return frame
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no WebSocket message in time")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
                return None
            self._buf += chunk

    def _parse(self) -> Optional[tuple[int, bytes]]:
        data = self._buf
        if len(data) < 2:
            return None
        opcode, n, pos = data[0] & 0x0F, data[1] & 0x7F, 2
        if n == 126:
            if len(data) < 4:
                return None
            n, pos = struct.unpack("!H", data[2:4])[0], 4
        elif n == 127:
            if len(data) < 10:
                return None
            n, pos = struct.unpack("!Q", data[2:10])[0], 10
        if len(data) < pos + n:
            return None
        self._buf = data[pos + n:]
        return opcode, data[pos:pos + n]

    def lines(self, until: Callable[[str], bool], timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        """Lines received until one satisfies ``until`` (included); AssertionError if closed first."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(max(0.01, deadline - time.monotonic()))
            if frame is None:
                raise AssertionError(f"closed (code {self.close_code}) while waiting; saw {seen[-10:]}")
            seen.append(frame[1].decode("utf-8", "replace"))
            if until(seen[-1]):
                return seen

    def until_closed(self, timeout: float = DEFAULT_TIMEOUT) -> list[tuple[int, bytes]]:
        """Every message up to the close."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(max(0.01, deadline - time.monotonic()))
            if frame is None:
                return got
            got.append(frame)

    def register(self, nick: str) -> list[str]:
        """NICK and USER, then wait for 001 and the end of the MOTD."""
        self.send(f"NICK {nick}")
        self.send(f"USER {nick} 0 * :Web {nick}")
        return self.lines(lambda line: " 376 " in line or " 422 " in line)

    def close(self) -> None:
        """Drop the socket."""
        try:
            self.sock.close()
        except OSError:
            pass
