# -*- test-case-name: tests.unit.test_link_protocol -*-
"""LinkConnection: the Twisted protocol of one server link, active or passive.

It drives :class:`~conferenceroom.link.handshake.Handshake` with the peer's
lines, asks :func:`~conferenceroom.link.policy.decide` about the peer with
the live settings and network, and once the peer is accepted: writes our
burst, adds the peer :class:`~conferenceroom.network.Server` (its users and
servers behind it come as SID/UID lines) and hands every later line to
``core.server_commands``.  A lost link (closed, SQUIT, protocol error, ping
timeout) splits the peer's side of the network with one ``NetSplit``.  A
registered peer's unreadable line is ignored (logged and told within
bounds); only a stream of them, or a line that would desynchronise the
network, closes the link.

This module reads lines (in turns, split once) and closes links; the
handshake half is :class:`~conferenceroom.link.admission.LinkAdmission`, the
output half (relays, burst, SendQ) :class:`~conferenceroom.link.sending.LinkSending`.
Every link event is a server notice to operators with +s and a log line, and
is reported to the :class:`~conferenceroom.link.manager.LinkManager`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet import interfaces
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from conferenceroom.link import quiet
from conferenceroom.link.admission import LinkAdmission, identity, services_server
from conferenceroom.link.connector import describe_loss, plain_to_tls_reason
from conferenceroom.link.handshake import Handshake
from conferenceroom.link.interfaces import ILinkConnection
from conferenceroom.link.keepalive import LinkKeepalive
from conferenceroom.link.sending import LINK_SENDQ, SENDQ_CHECK_EVERY, LinkRoute, LinkSending, TS6Output
from conferenceroom.link.ts6 import build_error
from conferenceroom.network import Server
from conferenceroom.wire import MAX_INPUT, MAX_LINE, Message, ParseError, message_from_words, parse

if TYPE_CHECKING:
    from conferenceroom.admin.settings import ServerDef
    from conferenceroom.core import ServerCore

__all__ = [
    "GARBAGE_LIMIT", "GARBAGE_WINDOW", "LINES_PER_TURN", "LINK_SENDQ", "LOGGED_PER_WINDOW", "MAX_LINES_BEFORE_VERDICT", "SENDQ_CHECK_EVERY", "LinkConnection",
    "LinkRoute", "TS6Output", "identity", "services_server",
]

#: Lines a peer we dialled over TLS may send before its certificate is judged (held until then).
MAX_LINES_BEFORE_VERDICT = 64
#: Lines handled per reactor turn before reading pauses for a turn (bounds memory, never drops a line).
LINES_PER_TURN = 2000
#: A registered peer's unreadable lines are ignored (as hybrid and Solanum do) and counted per window of
#: this many seconds; the first few of a window are logged, the first told to operators.
GARBAGE_WINDOW = 60.0
#: Unreadable lines within one window that close the link.
GARBAGE_LIMIT = 20
#: Unreadable lines logged per window (the rest are counted only).
LOGGED_PER_WINDOW = 3
#: Seconds at most that the collector waits for an accepted peer's burst (see :mod:`.quiet`).
BURST_QUIET_SECONDS = 60.0
_BLANK = frozenset(b" \t\n\r\x0b\x0c")  # bytes.strip() removes these: a line of only them is skipped


@implementer(ILinkConnection, interfaces.IHandshakeListener)
class LinkConnection(LinkAdmission, LinkSending, Protocol):
    """One server link: handshake, policy, burst, then server commands until it closes.

    *definition* makes it the active side (we dialled that definition);
    without it the link is passive (the peer connected to one of our ports).
    """

    log = Logger()

    def __init__(self, core: "ServerCore", definition: "ServerDef | None" = None) -> None:
        self.core = core
        self.definition = definition
        self.active = definition is not None
        self.side: TS6Output | None = getattr(core, "link_side", None)
        self.route = LinkRoute(self)
        self.peer: Server | None = None
        self.registered = False
        self.closing = False
        self.capabilities: frozenset[str] = frozenset()
        self.name = definition.name if definition is not None else "*"
        self.handle: str | None = definition.handle if definition is not None else None
        self.role = "leaf"
        self.secure = False
        self.tls_how = ""  # how the peer's certificate was verified ("" when not, or not TLS)
        self._tls_pending = False  # active over TLS: our first line waits for check_peer
        self.ip = "0"
        self.handshake: Handshake | None = None
        self.keepalive: LinkKeepalive | None = None
        self.accepted_at: float | None = None
        self.burst_lines = 0  # lines of our burst
        self.lines_in = self.bytes_in = self.lines_out = self.bytes_out = 0  # STATS l
        self.connected_at = self.last_input = core.clock.seconds()
        self._pending: deque[bytes] = deque()
        self._buffer = b""
        self._paused = False
        self._drain_call: Any = None
        self._timer: Any = None
        self._writes = 0
        self._sendq_limit = LINK_SENDQ
        self._finished = False
        self._quiet_call: Any = None  # the time bound of the collector's pause for the peer's burst
        self._garbage_since = 0.0  # the start of the current window of unreadable lines
        self._garbage = 0  # unreadable lines from the registered peer in that window

    # -- connection events -----------------------------------------------------

    def connectionMade(self) -> None:
        """Note the peer and TLS; the active side opens with PASS, CAPAB, SERVER."""
        peer = self.transport.getPeer()
        self.ip = getattr(peer, "host", "0") or "0"
        self.secure = interfaces.ISSLTransport.providedBy(self.transport)
        clock = self.core.clock
        self.connected_at = self.last_input = clock.seconds()
        password = self.definition.password if self.definition is not None else None
        self.handshake = Handshake(identity(self.core), clock, active=self.active, password=password)
        self._timer = clock.callLater(self.handshake.timeout, self._handshake_timeout)
        if self.active and self.secure:
            # PASS carries the link password: nothing leaves before the peer's certificate is judged.
            self._tls_pending = True
            self.log.info("link to {who} at {ip}: TLS handshake started", who=self._who(), ip=self.ip)
            return
        if self.active:
            self.log.info("link to {who} at {ip}: handshake started", who=self._who(), ip=self.ip)
        self._start()

    def dataReceived(self, data: bytes) -> None:
        """Queue complete lines and handle them, at most :data:`LINES_PER_TURN` per reactor turn."""
        if self.closing:
            return
        self.bytes_in += len(data)
        *lines, rest = (self._buffer + data).split(b"\n")
        self._pending.extend(lines)
        self._buffer = rest
        if len(rest) > MAX_INPUT:
            self._buffer = b""
            self.protocol_error(f"Line too long (more than {MAX_INPUT} bytes without a line end)")
            return
        if self._sendq_limit > LINK_SENDQ:
            self._check_sendq()
        if self._tls_pending:
            # The peer's certificate is still being judged: its lines (a hybrid greets with
            # NOTICEs) wait for the verdict, a few at most.
            if len(self._pending) > MAX_LINES_BEFORE_VERDICT:
                self.protocol_error(f"More than {MAX_LINES_BEFORE_VERDICT} lines before its TLS certificate was judged")
            return
        if not self._paused:
            self._drain()

    def _drain(self) -> None:
        self._drain_call = None
        handled = self._run_lines(self._pending, self._line)
        if handled:
            # the peer is alive: once per turn (the clock does not move within one)
            self.last_input = self.core.clock.seconds()
            if self.keepalive is not None:
                self.keepalive.data_received()
        if self._drain_call is None and self._paused and not self.closing:
            self._paused = False
            self.transport.resumeProducing()

    def _pause_collector(self) -> None:
        """The accepted peer's burst is coming: the collector waits (see :mod:`.quiet`), for a while at most."""
        quiet.PAUSE.hold(self)
        self._quiet_call = self.core.clock.callLater(BURST_QUIET_SECONDS, self._resume_collector)

    def _resume_collector(self) -> None:
        """The peer's burst ended (EOB), the link went or the time bound passed."""
        call, self._quiet_call = self._quiet_call, None
        if call is not None and call.active():
            call.cancel()
        quiet.PAUSE.release(self)

    def _run_lines(self, pending: deque[bytes], line: Callable[[bytes], None]) -> int:
        """Handle queued lines, at most :data:`LINES_PER_TURN`; the next turn is scheduled if more wait."""
        handled = 0
        while pending and not self.closing:
            if handled >= LINES_PER_TURN:
                # A big burst: let the reactor breathe, and stop reading meanwhile.
                if not self._paused:
                    self._paused = True
                    self.transport.pauseProducing()
                self._drain_call = self.core.clock.callLater(0, self._drain)
                break
            handled += 1
            line(pending.popleft())
        return handled

    def _line(self, raw: bytes) -> None:
        if raw[-1:] == b"\r":
            raw = raw.rstrip(b"\r")
        if not raw or raw[0] in _BLANK and not raw.strip():
            return
        body = raw.partition(b" ")[2] if raw[0] == 64 else raw  # 64: '@', tags
        if len(body) > MAX_LINE - 2:
            self.protocol_error(f"Line too long ({len(body)} bytes, at most {MAX_LINE - 2})")
            return
        msg = None
        if raw[0] == 58 and self.registered:  # 58: ':', a peer's line with its source
            # Split once: UID and SJOIN (a burst's bulk) are handled from the words, other
            # verbs get the Message parse() would make; any other shape goes through parse().
            try:
                text = raw.decode()
            except UnicodeDecodeError:
                text = ""
            head, colon, rest = text.partition(" :")
            words = head.split(" ")
            if len(words) > 1 and len(words[0]) > 1 and "" not in words and "\x00" not in text:
                trailing = rest if colon else None
                if self._split_line(words, trailing):
                    self.lines_in += 1
                    return
                msg = message_from_words(words, trailing)
        if msg is None:
            try:
                msg = parse(raw)
            except ParseError as exc:
                if self.registered:
                    self._unreadable(raw, str(exc))
                else:
                    self.protocol_error(f"Unreadable line ({exc})")
                return
        self.lines_in += 1
        if not self.registered:
            try:
                self._handshake_line(msg)
            except Exception:
                self.log.failure("{who}: error in the link handshake at {verb}", who=self._who(), verb=msg.command)
                self.protocol_error(f"Internal error handling {msg.command} during the handshake")
            return
        if msg.command == "ERROR":
            # The peer is closing: its text is the reason of the split that follows.
            self._peer_error = msg.params[0] if msg.params else "no reason given"
        try:
            self.core.server_commands.dispatch(self, msg)
        except Exception:
            self.log.failure("{peer}: error handling {verb}", peer=self.name, verb=msg.command)
            self.protocol_error(f"Internal error handling {msg.command}")

    def _unreadable(self, raw: bytes, why: str) -> None:
        """A registered peer's line we cannot read: ignored, logged and told within bounds; too many close."""
        now = self.core.clock.seconds()
        if not self._garbage or now - self._garbage_since >= GARBAGE_WINDOW:
            self._garbage_since, self._garbage = now, 0
        self._garbage += 1
        count = self._garbage
        if count >= GARBAGE_LIMIT:
            self.protocol_error(f"Too many unreadable lines ({count} in {GARBAGE_WINDOW:g} seconds; the last: {why})")
            return
        if count <= LOGGED_PER_WINDOW:
            self.log.warn("{who}: unreadable line ignored ({why}): {line!r}", who=self._who(), why=why, line=raw[:100])
        if count == 1:
            self._notice(f"Link with {self._who()}: ignored an unreadable line ({why}); "
                         f"{GARBAGE_LIMIT} in {GARBAGE_WINDOW:g} seconds close the link")

    def _split_line(self, words: list[str], trailing: str | None) -> bool:
        """A well-formed ``:<source> <VERB> ...`` line handled from its words if the verb has a split handler.

        The bulk of a burst (UID, SJOIN) skips the Message; False (another
        verb, or a shape its handler does not take) changed nothing.
        """
        table = self.core.server_commands
        if words[1] not in table.split_handlers:
            return False
        try:
            return table.dispatch_split(self, words, trailing)
        except Exception:
            self.log.failure("{peer}: error handling {verb}", peer=self.name, verb=words[1])
            self.protocol_error(f"Internal error handling {words[1]}")
            return True

    def connectionLost(self, reason: Failure | None = None) -> None:
        """The connection is gone: split the peer's side (if it had joined) and tell the manager."""
        self._stop_timers()
        if self.closing:
            self._finish(self._close_reason)
            return
        self.closing = True
        if self._peer_error is not None:
            text = self._peer_error
        else:
            text = describe_loss(reason)
        if self.active and not self.secure and not self.lines_in:
            text = plain_to_tls_reason(text, self._buffer, self.handle)
        self._close_reason = text
        self._lost(text)
        self._finish(text)

    _close_reason = "Connection closed"
    _peer_error: str | None = None

    # -- ILinkConnection and the contract with the TS6 handlers ---------------------

    def drop(self, reason: str) -> None:
        """Close the link: SQUIT and ERROR to the peer carrying *reason*, split, notice."""
        if self.closing:
            return
        if self.peer is not None:
            me = self.core.network.me
            self.send(Message("SQUIT", (me.sid, reason), me.sid))
        self._close(reason)

    def announce_role(self, role: str) -> None:
        """This server switched role live: ``:<our SID> ENCAP <peer> CR-ROLE <role>`` (a TS6 peer ignores it)."""
        if self.peer is not None:
            self.send(Message("ENCAP", (self.peer.name, "CR-ROLE", role), self.core.network.me.sid))

    def set_ping_interval(self, seconds: int) -> None:
        """The definition's PING changed: the keepalive uses it from now on."""
        if self.keepalive is not None:
            self.keepalive.set_interval(seconds)

    def protocol_error(self, reason: str) -> None:
        """A bad line from the peer: ERROR with *reason*, notice, log, close, split (a refusal before acceptance)."""
        if self.closing:
            return
        if self.peer is None:
            self._refuse(reason)
            return
        self.log.warn("protocol error on the link with {who}: {reason}", who=self._who(), reason=reason)
        self._notice(f"Link with {self._who()} lost: protocol error: {reason}")
        self._close(reason, notice=False)

    def end_of_burst(self) -> None:
        """The peer's EOB: how long its burst took and how many lines it had."""
        self._resume_collector()
        started = self.accepted_at if self.accepted_at is not None else self.core.clock.seconds()
        took = self.core.clock.seconds() - started
        self._notice(f"End of burst from {self.name} ({self.lines_in} lines, {took:.2f} s)")

    # -- keepalive ---------------------------------------------------------------

    def _send_ping(self) -> None:
        self.send(Message("PING", (self.core.network.me.sid,)))

    def _ping_timeout(self) -> None:
        assert self.keepalive is not None
        self._close(self.keepalive.reason)

    # -- closing -----------------------------------------------------------------

    def _close(self, reason: str, *, error_line: bool = True, notice: bool = True) -> None:
        """End the link for *reason*: ERROR (unless the peer closed), split, notice, manager."""
        if self.closing:
            return
        if error_line:
            self.send(build_error(self.ip, reason))
        self.closing = True
        self._close_reason = reason
        self._stop_timers()
        if notice:
            self._lost(reason)
        else:
            self._split(reason)
        if self.transport is not None:
            self.transport.loseConnection()
        self._finish(reason)

    def _lost(self, reason: str) -> None:
        """Notice (for a link that was accepted) and split."""
        if self.peer is not None:
            self._notice(f"Link with {self._who()} lost: {reason}")
        elif self.handshake is not None and self.handshake.peer is not None or self.active:
            self._notice(f"Link with {self._who()} closed during the handshake: {reason}")
        self._split(reason)

    def _split(self, reason: str) -> None:
        links = self._links()
        if any(l is self for l in links):
            links[:] = [l for l in links if l is not self]
        peer = self.peer
        network = self.core.network
        if peer is not None and network.servers_by_sid.get(peer.sid) is peer:
            network.remove_server(peer, reason, origin=self.route)

    def _finish(self, reason: str) -> None:
        """Tell the manager once."""
        self._resume_collector()
        if self._finished:
            return
        self._finished = True
        if self.keepalive is not None:
            self.keepalive.stop()
        manager = self._manager()
        if manager is not None:
            manager.link_lost(self, reason)

    def _stop_timers(self) -> None:
        for name in ("_timer", "_drain_call"):
            call = getattr(self, name)
            if call is not None and call.active():
                call.cancel()
            setattr(self, name, None)
        if self.keepalive is not None and self.closing:
            self.keepalive.stop()

    # -- helpers -----------------------------------------------------------------

    def _links(self) -> list[Any]:
        links = getattr(self.core, "links", None)
        if links is None:
            links = self.core.links = []
        return links

    def _manager(self) -> Any:
        return getattr(self.core, "link_manager", None)

    def _who(self) -> str:
        return f"{self.name}[{self.ip}]"

    def _notice(self, text: str) -> None:
        self.core.notice_opers(text, topic="links")

    def __repr__(self) -> str:
        return f"<LinkConnection {self.name} {'active' if self.active else 'passive'}>"

