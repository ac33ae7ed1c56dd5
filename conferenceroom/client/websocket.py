# -*- test-case-name: tests.unit.test_websocket -*-
"""Web clients over WebSocket (IRCv3 WebSocket), as ordinary clients.

:class:`IRCWebSocket` is an autobahn server protocol: it checks the opening
handshake (allowed ``Origin``, the real client address from a trusted
proxy's ``X-Forwarded-For``, the subprotocol), then runs an ordinary
:class:`~conferenceroom.client.protocol.ClientConnection` over a
:class:`FrameTransport`: every WebSocket message in is one line of input,
every line out is one message.  Admission, K/Z-lines, flood control, SendQ,
per-IP limits, throttling and the registration and ping timeouts are the
ClientConnection's own; nothing is forked here.

Subprotocols (the client's preference order wins): ``binary.ircv3.net``
sends and takes binary messages (bytes as they are); ``text.ircv3.net``
sends text messages, non-UTF-8 bytes replaced by U+FFFD.  Without a
subprotocol, text goes out and either kind is taken in.  A text message
that is not UTF-8 fails the connection (close code 1007, RFC 6455 8.1).
Every timer runs on the core's injected clock.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.internet import interfaces
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import alsoProvides, implementer

from ..casemap import ip_matches
from ..throttle import REASON as THROTTLED
from .protocol import CLOSE_GRACE, ClientConnection, _bound_reads

BINARY = "binary.ircv3.net"
TEXT = "text.ircv3.net"
SUBPROTOCOLS = (BINARY, TEXT)
#: The largest WebSocket message taken (and sent).  An IRC line is at most
#: 4094 bytes of tags plus 510; anything between that and this gets 417 as on
#: a plain port; beyond this the connection fails with close code 1009.
MAX_MESSAGE = 16384
#: The HTTP opening handshake (request line and headers) may be this big.
MAX_HANDSHAKE = 8192
#: Seconds a connection may take to complete the opening handshake.
HANDSHAKE_TIMEOUT = 10.0
#: Bytes of framing a client message costs at least (header and mask), charged to the flood budget
#: like the CR LF of a plain line, so empty messages are not free.
FRAME_OVERHEAD = 6
CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR, CLOSE_INVALID_UTF8, CLOSE_TOO_BIG = 1000, 1002, 1007, 1009
ONE_LINE = "A WebSocket message must hold exactly one IRC line"


_log = Logger(namespace="conferenceroom.client.websocket")


class _LibraryLog:
    """What autobahn logs about each connection, kept at debug level.

    Its info and warning lines repeat for every refused handshake or failed
    connection, each naming the peer's port (so they never collapse as
    repeats); this module logs the events that matter once, in its own
    words.  ``failure`` (an exception inside the library) stays an error.
    """

    def __init__(self) -> None:
        self._logger = Logger(namespace="autobahn.websocket")

    def __getattr__(self, level: str) -> Any:
        if level in ("failure", "critical"):
            return getattr(self._logger, level)
        return self._logger.debug


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(".*?".join(".".join(map(re.escape, part.split("?"))) for part in pattern.split("*")))


def origin_allowed(origin: str | None, host: str | None, allowed: tuple[str, ...]) -> bool:
    """True if a handshake with this ``Origin`` header may open.

    No ``Origin`` (not a browser) is always allowed.  With allowed origins
    listed, the origin must match one of them (globs, ``*`` for any);
    with none listed only a page from the host the client dialled (the
    ``Host`` header's name) may connect, so a page on another site cannot
    make its visitors' browsers connect.
    """
    if origin is None:
        return True
    origin = origin.strip().lower().rstrip("/")
    if allowed:
        return any(_glob(pattern).fullmatch(origin) for pattern in allowed)
    if host is None:
        return False
    try:
        origin_host = urlsplit(origin).hostname
        dialled = urlsplit("//" + host.strip().lower()).hostname
    except ValueError:
        return False
    return origin_host is not None and origin_host == dialled


def client_address(peer_ip: str, forwarded: str | None, proxies: tuple[str, ...]) -> str:
    """The client's IP: the socket's, or from ``X-Forwarded-For`` when the socket is a trusted proxy.

    The header is read from the right, skipping trusted proxies, so a
    client cannot pick its own address by sending the header itself.
    ValueError when a trusted proxy sent an entry that is not an IP address.
    """
    if not forwarded or not any(ip_matches(mask, peer_ip) for mask in proxies):
        return peer_ip
    address = peer_ip
    for entry in reversed([part.strip() for part in forwarded.split(",")]):
        if not entry:
            continue
        try:
            address = str(ipaddress.ip_address(entry.strip("[]")))
        except ValueError:
            raise ValueError(f"X-Forwarded-For entry {entry[:64]!r} is not an IP address") from None
        if not any(ip_matches(mask, address) for mask in proxies):
            return address
    return address


def choose_subprotocol(offered: list[str]) -> str | None:
    """The first IRC subprotocol the client asked for, in its order; None if it asked for none of ours."""
    for name in offered:
        if name in SUBPROTOCOLS:
            return name
    return None


@implementer(interfaces.ITransport, interfaces.IConsumer)
class FrameTransport:
    """What a :class:`ClientConnection` writes to: lines out as WebSocket messages.

    ``transport`` is the socket's transport (plain or TLS), so the SendQ
    measure and the read-size bound find the real buffers; pausing and
    producers go to it too.  ``getPeer`` gives the real client address.
    """

    def __init__(self, ws: "IRCWebSocket", peer: Any, secure: bool) -> None:
        self.ws = ws
        self.transport = ws.transport
        self._peer = peer
        self._partial = b""
        if secure:
            alsoProvides(self, interfaces.ISSLTransport)

    def write(self, data: bytes) -> None:
        """Send each complete line of ``data`` as one message, without its CR LF."""
        data = self._partial + data if self._partial else data
        *lines, self._partial = data.split(b"\r\n")
        for line in lines:
            self.ws.send_line(line)

    def writeSequence(self, seq: Any) -> None:
        """Write each piece of ``seq``."""
        self.write(b"".join(seq))

    def loseConnection(self) -> None:
        """Close the WebSocket (the close handshake, then the socket)."""
        self.ws.close_socket()

    def abortConnection(self) -> None:
        """Drop the socket now, with what is queued."""
        if self.transport is not None:
            self.transport.abortConnection()

    def getPeer(self) -> Any:
        """The client's address (from a trusted proxy's header when there is one)."""
        return self._peer

    def getHost(self) -> Any:
        """Our end of the socket."""
        return self.transport.getHost()

    def pauseProducing(self) -> None:
        """Stop reading the socket (lines wait in the flood gate)."""
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        """Read the socket again."""
        self.transport.resumeProducing()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """A long reply paced by the socket's buffer."""
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        """The long reply is done."""
        self.transport.unregisterProducer()

    @property
    def producer(self) -> Any:
        """The producer registered on the socket, if any."""
        return getattr(self.transport, "producer", None)


class IRCWebSocket(WebSocketServerProtocol):
    """One WebSocket client: the handshake checks, then a ClientConnection over frames."""

    log = _LibraryLog()

    def __init__(self, core: Any) -> None:
        super().__init__()
        self.core = core
        self.conn: ClientConnection | None = None
        self.subprotocol: str | None = None
        self.client_ip = "0"
        self.secure = False
        self._deadline: Any = None
        self._abort_timer: Any = None
        self._close_code = CLOSE_NORMAL
        self._close_reason = ""

    # -- the socket ----------------------------------------------------------

    def connectionMade(self) -> None:
        """Bound reads, start the handshake deadline."""
        _bound_reads(self.transport)  # the handshake too is read 16 KiB at a time
        self.secure = interfaces.ISSLTransport.providedBy(self.transport)
        super().connectionMade()
        self._deadline = self.core.clock.callLater(HANDSHAKE_TIMEOUT, self._handshake_timeout)

    def dataReceived(self, data: bytes) -> None:
        """Refuse an oversized handshake request; the rest is autobahn's."""
        if self.state == self.STATE_CONNECTING and len(self.data) + len(data) > MAX_HANDSHAKE:
            _log.info("WebSocket handshake from {ip} refused: request too large", ip=self._socket_ip())
            self.failHandshake("Request header too large", 431)
            return
        super().dataReceived(data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        """Stop the timers; the client (if it got that far) leaves as a lost connection does."""
        self._cancel(self._deadline)
        self._cancel(self._abort_timer)
        self._deadline = self._abort_timer = None
        factory = getattr(self, "factory", None)
        if factory is not None:
            factory.handshake_done(self)
        try:
            super().connectionLost(reason)
        finally:
            if self.conn is not None:
                self.conn.connectionLost(reason)

    def _socket_ip(self) -> str:
        peer = self.transport.getPeer() if self.transport is not None else None
        return getattr(peer, "host", "0") or "0"

    def _handshake_timeout(self) -> None:
        self._deadline = None
        if self.state == self.STATE_CONNECTING and self.transport is not None:
            _log.info("WebSocket handshake from {ip} timed out", ip=self._socket_ip())
            self.transport.abortConnection()

    @staticmethod
    def _cancel(call: Any) -> None:
        if call is not None and call.active():
            call.cancel()

    # -- the opening handshake -----------------------------------------------

    def onConnect(self, request: Any) -> str | None:
        """Check origin and proxy header, pick the subprotocol (raise ConnectionDeny to refuse)."""
        settings = self.core.settings.websocket
        socket_ip = self._socket_ip()
        headers = request.headers
        try:
            ip = client_address(socket_ip, headers.get("x-forwarded-for"), settings.proxies)
        except ValueError as exc:
            _log.info("WebSocket handshake from {ip} refused: {why}", ip=socket_ip, why=exc)
            raise ConnectionDeny(400, str(exc)) from None
        origin = headers.get("origin")
        if not origin_allowed(origin, headers.get("host"), settings.origins):
            _log.info("WebSocket handshake from {ip} refused: origin {origin} not allowed",
                          ip=ip, origin=origin[:100])
            raise ConnectionDeny(403, "This web page's origin may not connect to this server")
        if self.core.throttled(ip):
            raise ConnectionDeny(429, THROTTLED)
        self.client_ip = ip
        if ip != socket_ip and headers.get("x-forwarded-proto", "").strip().lower() == "https":
            self.secure = True  # the trusted proxy took the client over TLS
        self.subprotocol = choose_subprotocol(request.protocols)
        return self.subprotocol

    def onOpen(self) -> None:
        """The handshake is done: an ordinary client from here on."""
        self._cancel(self._deadline)
        self._deadline = None
        self.factory.handshake_done(self)
        ip = self.client_ip
        address = IPv6Address if ":" in ip else IPv4Address
        port = getattr(self.transport.getPeer(), "port", 0)
        conn = ClientConnection(self.core)
        conn.accepts_links = False
        conn.pace = self.core.registration_pace
        self.conn = conn
        conn.makeConnection(FrameTransport(self, address("TCP", ip, port), self.secure))

    # -- messages ------------------------------------------------------------

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        """One message in: one IRC line (a trailing CR LF is forgiven, any other line break is not)."""
        conn = self.conn
        if conn is None or conn.closing:
            return
        conn.charge_input(FRAME_OVERHEAD)
        line = payload.rstrip(b"\r\n")
        if conn.closing:
            return
        if b"\r" in line or b"\n" in line:
            conn.reject_input(len(payload), ONE_LINE)
            return
        conn.dataReceived(line + b"\n")

    def onPing(self, payload: bytes) -> None:
        """A ping is answered (by autobahn) and charged like any input."""
        super().onPing(payload)
        if self.conn is not None:
            self.conn.charge_input(FRAME_OVERHEAD + len(payload))

    def send_line(self, line: bytes) -> None:
        """One IRC line out as one message: binary as it is, or UTF-8 text (bad bytes replaced)."""
        if self.state != self.STATE_OPEN:
            return
        if self.subprotocol == BINARY:
            self.sendMessage(line, isBinary=True)
            return
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            line = line.decode("utf-8", "replace").encode("utf-8")
        self.sendMessage(line, isBinary=False)

    # -- closing ---------------------------------------------------------------

    def close_socket(self) -> None:
        """The client is done (ERROR was its last message): close the WebSocket."""
        if self.state == self.STATE_OPEN:
            reason = self._close_reason.encode("utf-8")[:123] or None
            self.sendCloseFrame(code=self._close_code, reasonUtf8=reason, isReply=False)
        elif self.transport is not None:
            self.transport.loseConnection()

    def sendCloseFrame(self, code: int | None = None, reasonUtf8: bytes | None = None,
                       isReply: bool = False) -> None:
        """Send the close frame; the socket is dropped if the client does not answer in time."""
        super().sendCloseFrame(code=code, reasonUtf8=reasonUtf8, isReply=isReply)
        if self._abort_timer is None and self.transport is not None:
            self._abort_timer = self.core.clock.callLater(CLOSE_GRACE, self._abort)

    def _abort(self) -> None:
        self._abort_timer = None
        if self.transport is not None:
            self.transport.abortConnection()

    def _fail(self, code: int, why: str) -> None:
        """End the client with ERROR ``why`` and close code ``code`` (once)."""
        if self.failedByMe:
            return
        _log.info("WebSocket client {ip} dropped: {why}", ip=self.client_ip, why=why)
        self.failedByMe = True  # autobahn delivers nothing more of this message
        if self.conn is not None and not self.conn.closing:
            self._close_code, self._close_reason = code, why
            self.conn.close(why)
        else:
            self._fail_connection(code, why)

    def _max_message_size_exceeded(self, msg_size: int, max_msg_size: int, reason: str) -> None:
        """A message over MAX_MESSAGE: ERROR and close code 1009."""
        self._fail(CLOSE_TOO_BIG, f"WebSocket message too big (over {MAX_MESSAGE} bytes)")

    def _protocol_violation(self, reason: str) -> bool:
        """Broken framing (an unmasked frame, a bad opcode, ...): ERROR and close code 1002."""
        self._fail(CLOSE_PROTOCOL_ERROR, f"WebSocket protocol error: {reason}")
        return False

    def _invalid_payload(self, reason: str) -> bool:
        """Text that is not UTF-8: ERROR and close code 1007; only the close reply is read after it."""
        self._fail(CLOSE_INVALID_UTF8, "Invalid UTF-8 in a text WebSocket message")
        return False


class Refusal(Protocol):
    """An HTTP refusal written at accept (throttled address, too many handshakes), then closed."""

    def __init__(self, status: str, reason: str, clock: Any) -> None:
        self.body = reason.encode() + b"\r\n"
        self.status = status
        self.clock = clock
        self._abort: Any = None

    def connectionMade(self) -> None:
        """Say why and close at once."""
        self.transport.write(
            f"HTTP/1.1 {self.status}\r\nContent-Type: text/plain\r\nContent-Length: {len(self.body)}\r\n"
            f"Connection: close\r\n\r\n".encode() + self.body)
        self.transport.loseConnection()
        self._abort = self.clock.callLater(CLOSE_GRACE, self.transport.abortConnection)

    def connectionLost(self, reason: Failure | None = None) -> None:
        """Gone in time."""
        if self._abort is not None and self._abort.active():
            self._abort.cancel()

    def dataReceived(self, data: bytes) -> None:
        """Nothing is read from a refused connection."""


class WebSocketFactory(WebSocketServerFactory):
    """Builds an :class:`IRCWebSocket` per accepted socket (refusals at accept are cheap)."""

    noisy = False

    def __init__(self, core: Any, secure: bool = False) -> None:
        super().__init__(url=f"{'wss' if secure else 'ws'}://localhost", server="conferenceroom",
                         reactor=core.clock)
        self.core = core
        self.setProtocolOptions(
            webStatus=False, maxFramePayloadSize=MAX_MESSAGE, maxMessagePayloadSize=MAX_MESSAGE,
            failByDrop=False, openHandshakeTimeout=0, closeHandshakeTimeout=0, autoPingInterval=0,
            perMessageCompressionAccept=lambda offers: None,  # no compression: sizes stay what we bound
        )
        from .protocol import REGISTRATION_LINES_PER_TURN
        from .pacing import TurnBudget

        if getattr(core, "registration_pace", None) is None:
            core.registration_pace = TurnBudget(core.clock, REGISTRATION_LINES_PER_TURN)
        #: handshakes in progress per socket address
        self.pending: dict[str, int] = {}
        self._pending_of: dict[int, str] = {}

    def buildProtocol(self, addr: Any) -> Protocol:
        """An :class:`IRCWebSocket`, or an HTTP refusal for a throttled or overbusy address."""
        ip = getattr(addr, "host", "") or ""
        core = self.core
        settings = core.settings
        proxy = any(ip_matches(mask, ip) for mask in settings.websocket.proxies)
        if not proxy:
            if core.throttled(ip):
                core.throttle.refused += 1
                return Refusal("429 Too Many Requests", THROTTLED, core.clock)
            limit = settings.trigger_for(ip)
            if limit and self.pending.get(ip, 0) >= limit:
                return Refusal("429 Too Many Requests", "Too many connections from your IP address",
                               core.clock)
        proto = IRCWebSocket(core)
        proto.factory = self
        self.pending[ip] = self.pending.get(ip, 0) + 1
        self._pending_of[id(proto)] = ip
        return proto

    def handshake_done(self, proto: IRCWebSocket) -> None:
        """``proto`` opened or went away: no longer a handshake in progress."""
        ip = self._pending_of.pop(id(proto), None)
        if ip is not None:
            left = self.pending.get(ip, 0) - 1
            if left > 0:
                self.pending[ip] = left
            else:
                self.pending.pop(ip, None)
