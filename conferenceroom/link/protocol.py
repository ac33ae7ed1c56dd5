# -*- test-case-name: tests.unit.test_link_protocol -*-
"""LinkConnection: the Twisted protocol of one server link, active or passive.

It drives :class:`~conferenceroom.link.handshake.Handshake` with the peer's
lines, asks :func:`~conferenceroom.link.policy.decide` about the peer with
the live settings and network, and once the peer is accepted: writes our
burst, adds the peer :class:`~conferenceroom.network.Server` (its users and
servers behind it come as SID/UID lines) and hands every later line to
``core.server_commands``.  A lost link (closed, SQUIT, protocol error, ping
timeout) splits the peer's side of the network with one ``NetSplit``.

The TS6 rendering of relays and the burst come from the :class:`TS6Output`
wired in :func:`conferenceroom.link.wiring.attach` (``core.link_side``); every link
event is a server notice to operators with +s and a log line, and is
reported to the :class:`~conferenceroom.link.manager.LinkManager`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twisted.internet import interfaces
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from conferenceroom.casemap import fold
from conferenceroom.link.connector import describe_loss, plain_to_tls_reason
from conferenceroom.link.handshake import Handshake, HandshakeError, LocalIdentity, PeerClosed
from conferenceroom.link.interfaces import ILinkConnection
from conferenceroom.link import quiet
from conferenceroom.link.guard import failed_login
from conferenceroom.link.keepalive import LinkKeepalive
from conferenceroom.link.policy import Accept, LinkView, decide
from conferenceroom.link.tlsclient import PeerCheck, first_use_notice, judge_peer
from conferenceroom.link.ts6 import build_error, looks_like_services
from conferenceroom.network import Server
from conferenceroom.sendq import queued_bytes
from conferenceroom.wire import MAX_INPUT, MAX_LINE, Message, ParseError, encode_line, message_from_words, parse

if TYPE_CHECKING:
    from conferenceroom.admin.settings import ServerDef
    from conferenceroom.core import ServerCore
    from conferenceroom.routing import Relay

#: Lines a peer we dialled over TLS may send before its certificate is judged (held until then).
MAX_LINES_BEFORE_VERDICT = 64
#: Lines handled per reactor turn before reading pauses for a turn (bounds memory, never drops a line).
LINES_PER_TURN = 2000
#: Bytes a link may have queued for sending beyond what is left of its burst before it is closed.
LINK_SENDQ = 32 * 1024 * 1024
SENDQ_CHECK_EVERY = 63  # check the send queue on every 64th write (a bit mask)
#: Seconds at most that the collector waits for an accepted peer's burst (see :mod:`.quiet`).
BURST_QUIET_SECONDS = 60.0
_BLANK = frozenset(b" \t\n\r\x0b\x0c")  # bytes.strip() removes these: a line of only them is skipped


@dataclass(frozen=True)
class TS6Output:
    """What links need from the TS6 modules: the burst and the rendering of relays.

    ``burst(network, link)`` gives every line of our burst for *link*;
    ``render_relay(relay, link)`` the TS6 lines of one relayed message;
    ``burst_text(network, link)`` (optional) the burst's lines as checked text.
    """

    burst: Callable[[Any, Any], Iterable[Message]]
    render_relay: Callable[["Relay", Any], Iterable[Message]]
    #: the same burst as lines without CR LF, each already fitting 512 bytes (faster to write)
    burst_text: Callable[[Any, Any], list[str]] | None = None


class LinkRoute:
    """The route of every server and user behind one link: relays go out as TS6 lines."""

    is_client = False

    def __init__(self, link: "LinkConnection") -> None:
        self.link = link

    def relay(self, relay: "Relay") -> None:
        """Render *relay* for this link and send each line."""
        link = self.link
        side = link.side
        if side is None or link.closing:
            return
        for msg in side.render_relay(relay, link):
            link.send(msg)

    def __repr__(self) -> str:
        return f"<LinkRoute {self.link.name}>"


def identity(core: "ServerCore") -> LocalIdentity:
    """Who this server is on a link, from the live settings."""
    s = core.settings
    me = core.network.me
    return LocalIdentity(me.name, me.sid, s.description or me.name, s.serial, s.role,
                         services=services_server(core.network))


def services_server(network: Any, besides: Any = None) -> str | None:
    """The name of a services server in ``network`` (ours or one behind a link; not ``besides``), or None."""
    for server in network.servers.values():
        if server is not besides and server is not network.me and looks_like_services(server.name):
            return server.name
    return None


@implementer(ILinkConnection, interfaces.IHandshakeListener)
class LinkConnection(Protocol):
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

    def _start(self) -> None:
        assert self.handshake is not None
        for msg in self.handshake.start():
            self.send(msg)

    def handshakeCompleted(self) -> None:
        """TLS is up: on a link we dialled, judge the peer's certificate (off the reactor thread)."""
        if not self._tls_pending or self.closing or self.definition is None:
            return  # a link the peer dialled: its certificate is judged with its handshake (policy.decide)
        d = judge_peer(self.core, self.definition, self.transport)
        d.addCallback(self._tls_checked)
        d.addErrback(self._tls_check_failed)

    def _tls_checked(self, found: PeerCheck) -> None:
        if self.closing:
            return
        self._tls_pending = False
        if found.refusal is not None:
            self._refuse(found.refusal)
            return
        self.tls_how = found.how
        if found.learned_pin is not None:
            self._learn_pin(found.learned_pin)
        self.log.info("link to {who}: TLS peer verified ({how}); handshake started", who=self._who(), how=found.how)
        self._start()
        if self._pending and not self._paused:
            self._drain()  # what the peer sent while its certificate was judged

    def _tls_check_failed(self, failure: Failure) -> None:
        self.log.failure("{who}: error checking the TLS certificate", failure, who=self._who())
        self._refuse("Internal error checking the peer's TLS certificate")

    def _learn_pin(self, fingerprint: str) -> None:
        """Trust on first use: tell the operators, and save the pin into the definition."""
        assert self.definition is not None
        handle = self.definition.handle
        self._notice(first_use_notice(self._who(), self.name, handle, fingerprint))
        save = getattr(self.core, "save_link_pin", None)
        if save is not None:
            save(handle, fingerprint)

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

    # -- the handshake ---------------------------------------------------------

    def _handshake_line(self, msg: Message) -> None:
        hs = self.handshake
        assert hs is not None
        try:
            step = hs.receive(msg)
        except HandshakeError as exc:
            self._refuse(exc.reason)
            return
        except PeerClosed as exc:
            self._closed_by_peer(exc.reason)
            return
        for line in step.send:
            self.send(line)
        if step.decide:
            self._decide()
        elif step.complete:
            self._complete()

    def _decide(self) -> None:
        hs = self.handshake
        assert hs is not None and hs.peer is not None
        peer = hs.peer
        self.name = peer.name
        core = self.core
        settings = core.settings
        network = core.network
        crossed = self._crossed(peer.name)
        winner = crossed is not None and self._wins_over(crossed)
        ours = crossed.peer if winner and crossed is not None else None  # our other link to it: we replace it
        verdict = decide(
            peer,
            settings.servers.values(),
            our_role=settings.role,
            secure_transport=self.secure,
            peer_fingerprint=self._peer_fingerprint(),
            server_exists=lambda name: network.find_server(name) not in (None, ours),
            sid_exists=lambda sid: network.servers_by_sid.get(sid) not in (None, ours),
            links=[LinkView(l.name, l.role, l.handle) for l in self._links() if l is not self and l is not
                   (crossed if winner else None)],
            secure_network=settings.securenetwork,
            connecting_to=self.definition.handle if self.definition is not None else None,
            our_services=services_server(network, besides=ours),
        )
        if crossed is not None and not winner:
            self._refuse(self._crossed_reason())
            return
        if not isinstance(verdict, Accept):
            self._refuse(verdict.reason)
            if verdict.login:
                throttled = failed_login(core, self.ip)
                if throttled is not None:
                    self._notice(throttled)
            return
        if self.side is None:
            self._refuse("This server cannot link yet: its TS6 modules are not installed")
            return
        if crossed is not None:
            crossed.drop(self._crossed_reason())
        self._accept(verdict)

    def _crossed(self, name: str) -> "LinkConnection | None":
        """Our link in the other direction to the server called *name*, if both sides dialled at once."""
        folded = fold(name)
        for link in self._links():
            if link is not self and link.active != self.active and link.peer is not None \
                    and fold(link.peer.name) == folded:
                return link
        return None

    def _wins_over(self, crossed: "LinkConnection") -> bool:
        """Of two crossed connections, both servers keep the one dialled by the server whose name sorts first."""
        me = fold(self.core.network.me.name)
        them = fold(self.name)
        return (me < them) if self.active else (them < me)

    def _crossed_reason(self) -> str:
        me, them = self.core.network.me.name, self.name
        first = min(me, them, key=fold)
        return f"Crossed links between {me} and {them}: keeping the connection {first} opened"

    def _accept(self, verdict: Accept) -> None:
        hs = self.handshake
        assert hs is not None and hs.peer is not None
        peer = hs.peer
        core = self.core
        self.definition = verdict.definition
        self.handle = verdict.definition.handle
        self.role = verdict.role
        self.capabilities = peer.capabilities
        self.accepted_at = core.clock.seconds()
        if self.secure and not self.active and verdict.definition.fingerprint:
            self.tls_how = "pinned certificate"
        for line in hs.accept(verdict.definition.password):
            self.send(line)
        self._pause_collector()
        links = self._links()
        links.append(self)
        self._write_burst()
        self.peer = Server(
            peer.name, peer.sid, peer.description, uplink=core.network.me, route=self.route,
            hopcount=1, serial=peer.serial or "", role=verdict.role,
        )
        core.network.add_server(self.peer, origin=self.route)
        self.log.info("link with {who} accepted under definition {handle} as a {role}",
                      who=self._who(), handle=self.handle, role=self.role)

    def _write_burst(self) -> None:
        """Write our whole burst in one go (a snapshot: live changes follow it in order)."""
        assert self.side is not None
        if self.side.burst_text is not None:
            lines = self.side.burst_text(self.core.network, self)
            data = ("\r\n".join(lines) + "\r\n").encode("utf-8", "replace") if lines else b""
            count = len(lines)
        else:
            chunks = []
            for msg in self.side.burst(self.core.network, self):
                encoded = self._encode(msg)
                if encoded is not None:
                    chunks.append(encoded)
            data = b"".join(chunks)
            count = len(chunks)
        self.burst_lines = count
        self._sendq_limit = LINK_SENDQ + len(data)
        if data and self.transport is not None:
            self.transport.write(data)
            self.lines_out += count
            self.bytes_out += len(data)

    def _complete(self) -> None:
        """The peer's SVINFO: the link is registered and runs its keepalive."""
        self._stop_timers()
        self.registered = True
        assert self.definition is not None
        self.keepalive = LinkKeepalive(
            self.core.clock, self.definition.ping, send_ping=self._send_ping, timeout=self._ping_timeout
        )
        self.keepalive.start()
        if self.secure:
            how = f"; {self.tls_how}" if self.tls_how else ""
            state = f"established over TLS ({self.role}, definition {self.handle}{how})"
        else:
            state = f"established ({self.role}, definition {self.handle})"
        self._notice(f"Link with {self._who()} {state}; sent a burst of {self.burst_lines} lines")
        manager = self._manager()
        if manager is not None:
            manager.link_established(self)

    def _peer_fingerprint(self) -> str | None:
        if not self.secure:
            return None
        try:
            cert = self.transport.getPeerCertificate()
        except Exception:  # no TLS session (yet): nothing to compare
            return None
        if cert is None:
            return None
        from cryptography.hazmat.primitives import hashes

        return cert.to_cryptography().fingerprint(hashes.SHA256()).hex()

    def _handshake_timeout(self) -> None:
        self._timer = None
        hs = self.handshake
        if hs is None or self.registered or self.closing:
            return
        try:
            hs.check_timeout()
        except HandshakeError as exc:
            reason = exc.reason
            if self._tls_pending:
                reason = (f"no TLS session within {hs.timeout:g} seconds of connecting "
                          "(is that port a TLS port? the peer never finished the TLS handshake)")
            self._refuse(reason)

    def _refuse(self, reason: str) -> None:
        """ERROR to the peer, notice and log naming it, close; an accepted peer is split off."""
        if self.closing:
            return
        self.log.warn("link with {who} refused: {reason}", who=self._who(), reason=reason)
        self._notice(f"Link with {self._who()} refused: {reason}")
        self._close(reason, notice=False)

    def _closed_by_peer(self, text: str) -> None:
        self.log.warn("link with {who} closed by the peer: {text}", who=self._who(), text=text)
        if self.active or self.name != "*":
            self._notice(f"Link with {self._who()} closed by the peer: {text}")
        else:  # the peer dialled us and gave up before introducing itself (its TLS check of us failed)
            self._notice(f"Link attempt from {self.ip}{' over TLS' if self.secure else ''} "
                         f"ended by the peer: {text}")
        self._close(f"Closed by the peer: {text}", error_line=False, notice=False)

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

    def send(self, msg: Message) -> None:
        """Write one TS6 line; a send queue past its bound closes the link."""
        if self.closing or self.transport is None:
            return
        data = self._encode(msg)
        if data is None:
            return
        self.transport.write(data)
        self.lines_out += 1
        self.bytes_out += len(data)
        self._writes += 1
        if not self._writes & SENDQ_CHECK_EVERY:
            self._check_sendq()

    def _check_sendq(self) -> None:
        """Close past the bound; else shrink our burst's allowance to what may still be queued of it."""
        queued = queued_bytes(self.transport)
        if queued > self._sendq_limit:
            self.core.clock.callLater(0, self._sendq_exceeded)
        elif self._sendq_limit > LINK_SENDQ:  # what is left of the burst is at most what is queued
            self._sendq_limit = LINK_SENDQ + min(self._sendq_limit - LINK_SENDQ, queued)

    def _encode(self, msg: Message) -> bytes | None:
        try:
            return encode_line(msg)
        except ValueError:
            self.log.error("refused to send malformed line {msg!r} to {peer}", msg=msg, peer=self.name)
            return None

    def _sendq_exceeded(self) -> None:
        if not self.closing:
            self._notice(f"Link with {self._who()} lost: SendQ exceeded")
            self._close("SendQ exceeded", notice=False)

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

