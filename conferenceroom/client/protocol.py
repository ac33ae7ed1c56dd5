# -*- test-case-name: tests.unit.test_client_protocol -*-
"""The client connection: bytes in, lines through flood control, dispatch.

A :class:`ClientConnection` is the route of one local user.  It splits input
on LF or CR (either ends a line), answers overlong lines with 417, runs each
line through the flood gate and the command table, and writes messages with
the tags the client's capabilities allow.  Every byte received is charged to
the flood budget, and while lines wait in the gate the socket is not read
(``pauseProducing``), so what a client can make us hold is bounded: at once,
except for a new client whose lines are held within budget (a paced
registration), which is paused as soon as more input arrives while they wait.  Long
replies go through :class:`~conferenceroom.client.output.ReplyStream`.  A
closed connection that does not drain is aborted after ``CLOSE_GRACE``.
Registration and ping timeouts use the injected clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from twisted.internet import error, interfaces
from twisted.internet.protocol import Factory, Protocol
from zope.interface import implementer
from twisted.logger import Logger
from twisted.python.failure import Failure

from ..link.connector import not_tls
from ..numerics import numeric
from ..routing import register_direct_route
from ..tls import peer_fingerprint
from ..sendq import queued_bytes
from ..throttle import REASON as THROTTLED
from ..wire import (
    MAX_CLIENT_TAG_DATA, MAX_INPUT, MAX_LINE, Message, ParseError, _message, encode_line, encode_untagged,
    format_message, parse,
)
from .caps import visible_tags
from .flood import BYTES_PER_PENALTY as BYTES_PER_LINE, ConnectionGate, FloodLimits, byte_cost, limits_for
from .labels import LabeledReply, label_of, raw_label
from .output import BATCH, ReplyStream, write_now
from .pacing import TurnBudget
from .timers import TimerWheel
from . import sasl

if TYPE_CHECKING:
    from ..core import ServerCore
    from ..network import User

REGISTRATION_TIMEOUT = 60.0
PING_INTERVAL = 90.0
MAX_SENDQ = 4 * 1024 * 1024
# The send queue is measured once 4 KiB were written since it last was, each
# write counting 256 bytes more than its size: about every 16th write of short
# lines, at once for a long one.
SENDQ_CHECK_BYTES = 4096
SENDQ_WRITE_WEIGHT = 256
# Counted in 32-byte units (rounded up), so the count stays under 256: a small int CPython
# shares, where a byte count past 256 would be a new 32-byte int held by every idle client.
_SENDQ_UNIT_SHIFT = 5
_SENDQ_CHECK_UNITS = SENDQ_CHECK_BYTES >> _SENDQ_UNIT_SHIFT
_SENDQ_ROUND = (1 << _SENDQ_UNIT_SHIFT) - 1 + SENDQ_WRITE_WEIGHT
CLOSE_GRACE = 5.0  # seconds a closed connection may take to drain before it is aborted
# Bytes read from a client socket at once (Twisted's default is 64 KiB): a line
# is at most 512 bytes plus 4 KiB of tags, and a smaller read bounds the work
# one client causes in one reactor pass, so other clients wait less.  With the
# socket paused while lines wait, one read must still be able to pass the
# default flood kill threshold (20 penalties of 512 bytes beyond a budget of
# 10), or a flooder would be slowed down forever instead of dropped.
READ_SIZE = 16384
# Lines from clients not yet registered handled per reactor turn, all clients
# together (two make a registration): a burst of new clients is welcomed over
# several turns while registered clients are served in between.
REGISTRATION_LINES_PER_TURN = 16
# A line's content: from its first character that is not blank to its end.
# Runs of blank lines, CRs and LFs between lines are never split in Python.
_CONTENT = re.compile(rb"[^\r\n \t][^\r\n]*")
NO_CAPS: frozenset[str] = frozenset()  # shared by every client without capabilities (not a singleton)


#: The capabilities that decide which tags a client sees (see caps.visible_tags), as bits of its profile.
_PROFILE_BITS = (
    ("message-tags", 1), ("server-time", 2), ("account-tag", 4), ("batch", 8), ("labeled-response", 16),
)


#: the local port numbers seen (our listeners'), each held once (a port past 256 is a 32-byte int)
_LOCAL_PORTS: dict[int, int] = {}


class Registration:
    """What a connection has told us before it is a user."""

    __slots__ = ("nick", "ident", "realname", "password", "cap_negotiating")

    def __init__(self) -> None:
        self.nick: str | None = None
        self.ident: str | None = None
        self.realname: str | None = None
        self.password: str | None = None
        self.cap_negotiating = False


@implementer(interfaces.IHandshakeListener)
class ClientConnection(Protocol):
    """One client's connection; the route of its :class:`User`."""

    is_client = True
    #: False for connections that can never become a server link (WebSocket clients).
    accepts_links = True
    log = Logger()
    # Slots: an instance __dict__ past 30 keys stops sharing its keys and costs
    # about 1.5 KiB per client; rare attributes (SASL, multiline) still go to __dict__.
    __slots__ = (
        "core", "user", "pending", "_caps", "_profile", "cap_version", "ip", "host", "port", "local_port",
        "secure", "closing", "dead", "_buffer", "_due_key", "_last_input",
        "_ping_sent", "_input_paused", "bytes_in", "lines_in",
        "bytes_out", "lines_out", "gate", "_stream", "label",
        "pace", "transport", "connected", "factory", "_out", "_unchecked",
    )
    # Rare state: class defaults, written to the instance __dict__ only by the connections that
    # need it (8 bytes of slot each saved on every idle client; the dict stays empty otherwise).
    #: the client certificate's SHA-256 (hex), once TLS is up with one
    certfp: str | None = None
    _discarding = False  # the tail of an overlong line is being skipped
    _abort_timer: Any = None  # closing: the transport is aborted if still open when it fires
    lost = False
    junk_lines = 0  # unusable lines (STATS-like counter, not logged each)
    #: the LinkConnection this connection became, if it did
    link: Any = None
    _prelude: tuple[bytes, ...] = ()  # PASS lines a server may have opened with
    _quit_reason: str | None = None

    def __init__(self, core: "ServerCore") -> None:
        self.core = core
        self.transport: Any = None
        self.connected = 0
        self.factory: Any = None
        #: Shares out the lines of unregistered clients over reactor turns (set by
        #: the listener's factory; None: every line at once).
        self.pace: TurnBudget | None = None
        self.user: "User | None" = None
        self.pending: Registration | None = Registration()
        self._caps: frozenset[str] = NO_CAPS
        self._profile: int | None = None  # which tags this client sees (bits); None: none
        self.cap_version = 0
        self.ip = "0"
        self.host = "0"
        self.port = 0
        self.local_port = 0
        self.secure = False
        self.closing = False
        self.dead = False  # SendQ exceeded: nothing more is written; closing on the next turn
        self._buffer = b""
        self._due_key: int | None = None  # this connection's bucket in the core's TimerWheel
        self._last_input = 0.0
        self._ping_sent = False
        self._input_paused = False
        # What this connection moved (STATS l): input bytes and command lines,
        # output bytes and lines (junk_lines, a class default, counts unusable ones).
        self.bytes_in = 0
        self.lines_in = 0
        self.bytes_out = 0
        self.lines_out = 0
        #: The labeled command whose replies are being gathered (labeled-response), if any.
        self.label: LabeledReply | None = None
        self.gate = ConnectionGate(self)
        self._stream: ReplyStream | None = None  # made on the first long reply
        #: Lines waiting for the end of the current output batch (None: nothing waits).
        self._out: list[bytes] | None = None
        self._unchecked = 0  # 32-byte units written (with write weights) since the SendQ was last measured

    @property
    def stream(self) -> ReplyStream:
        """The pacer of this connection's long replies (made on first use)."""
        stream = self._stream
        if stream is None:
            stream = self._stream = ReplyStream(self, self.core.clock)
        return stream

    def _stop_stream(self) -> None:
        if self._stream is not None:
            self._stream.stop()

    def _wheel(self) -> TimerWheel:
        """The core's one timer for client deadlines (made on first use)."""
        wheel = getattr(self.core, "client_timers", None)
        if wheel is None:
            wheel = self.core.client_timers = TimerWheel(self.core.clock)
        return wheel

    def _gate_released(self) -> None:
        """A hold on the gate ended: a labeled command waiting on it may be done."""
        if self.label is not None:
            self.label.gate_released()

    # -- connection events -------------------------------------------------

    def connectionMade(self) -> None:
        """Note the peer, refuse it if it is banned or over a limit, start the registration timer."""
        if self.ip == "0":  # not told by the listener's factory (which has the accepted address)
            peer = self.transport.getPeer()
            self.ip = getattr(peer, "host", "0") or "0"
            self.port = getattr(peer, "port", 0)
        self.host = "0" + self.ip if self.ip.startswith(":") else self.ip
        self.secure = interfaces.ISSLTransport.providedBy(self.transport)
        if self.secure:  # told when a plaintext peer is refused on it, after the socket is gone
            self.local_port = self._local_port()
        # Replies are small and interactive: no Nagle delay (~40 ms per round trip otherwise).
        no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if no_delay is not None:
            no_delay(True)
        _bound_reads(self.transport)
        self._last_input = self.core.clock.seconds()
        self.core.add_connection(self)
        # SECUREONLY waits for the first line: a server may link in on any client port
        # (the link rules decide about TLS for it); a client is refused there.
        refusal = self.core.admission_refusal(self.ip, secure=None)
        if refusal is not None:
            self.core.log.info("refused connection from {ip}: {why}", ip=self.ip, why=refusal)
            self.close(refusal)
            return
        self._wheel().add(self, self._last_input + REGISTRATION_TIMEOUT)

    def _local_port(self) -> int:
        """The port this client connected to (asked of the socket: a system call, so only when told)."""
        port = getattr(self.transport.getHost(), "port", 0)
        return _LOCAL_PORTS.setdefault(port, port)  # one int per listening port, not per client

    def handshakeCompleted(self) -> None:
        """TLS is up: note the client certificate's fingerprint (asked for, never required)."""
        get = getattr(self.transport, "getPeerCertificate", None)
        try:
            fingerprint = peer_fingerprint(get() if get is not None else None)
        except Exception:  # an unreadable certificate is no certificate, never a lost client
            self.log.info("{ip}: client certificate unreadable", ip=self.ip)
            fingerprint = None
        if fingerprint is not None or self.certfp is not None:
            self.certfp = fingerprint

    def connectionLost(self, reason: Failure | None = None) -> None:
        """Stop the timers and, for a registered user, quit the network."""
        if self.link is not None:
            self.link.connectionLost(reason)
            return
        if self.secure and not self.bytes_in and reason is not None and not_tls(reason):
            port = self.local_port
            self.core.notice_opers(
                f"Plaintext connection from {self.ip} on TLS port {port} refused: it did not start a TLS "
                "handshake (a server linking without TLS? SERVER <handle> SET SECURE ON on its side)",
                topic="links")
        self.lost = True
        self.gate.close()
        self._stop_stream()
        self._cancel_timer()
        sasl.connection_lost(self)
        if self._abort_timer is not None and self._abort_timer.active():
            self._abort_timer.cancel()
        self._abort_timer = None
        self.core.remove_connection(self)
        if self.junk_lines:
            self.log.debug("{ip} sent {count} unusable lines", ip=self.ip, count=self.junk_lines)
        if self.user is not None:
            if reason is None or reason.check(error.ConnectionDone):
                text = "Connection closed"
            else:
                text = "Read error: Connection reset by peer"
            self._leave_network(self._quit_reason or text)
        self.closing = True

    def dataReceived(self, data: bytes) -> None:
        """Split ``data`` into lines, charge every byte, run lines through the flood gate.

        A line ends at LF or CR (so ``PING a\\rPING b\\r\\n`` is two lines and
        no parameter carries a CR).  Runs of line endings and blank lines
        are found by a regular expression, never split one by one.  A line
        costs its command's penalty, or more when it is long; everything
        else (blank lines, the tail of an overlong line) costs its size.
        While lines wait in the gate the socket is not read (see :meth:`_pause_if_waiting`).
        """
        if self.link is not None:
            self.link.dataReceived(data)
            return
        if self.closing or self.dead:
            return
        batch = BATCH
        batch.depth += 1  # what these lines make anyone receive is written once per connection, at the end
        try:
            self._lines_received(data)
        finally:
            batch.end()

    def _lines_received(self, data: bytes) -> None:
        """The body of :meth:`dataReceived`, inside an output batch."""
        if not self.bytes_in and not self.secure and data[:1] == TLS_HANDSHAKE_RECORD:
            self._tls_on_plain_port()
            return
        self.bytes_in += len(data)
        self._last_input = self.core.clock.seconds()
        self._ping_sent = False
        gate = self.gate
        waited = bool(gate.queue)  # lines already waited before this read
        if self._discarding:  # the tail of a line already answered with 417
            cut = _line_break(data)
            if cut < 0:
                gate.charge(byte_cost(len(data)))
                self._pause_if_waiting(waited)
                return
            gate.charge(byte_cost(cut))
            data = data[cut:]
            self._discarding = False
        buf = self._buffer + data if self._buffer else data
        self._buffer = b""
        cut = max(buf.rfind(b"\n"), buf.rfind(b"\r")) + 1
        rest = buf[cut:]
        pos = 0
        penalty = self.core.commands.penalty
        pace = self.pace
        for match in _CONTENT.finditer(buf, 0, cut):
            if self.closing:
                return
            start, end = match.span()
            if start - pos > 2:  # blank lines and extra line endings before this line
                gate.charge(byte_cost(start - pos - 2))
            pos = end
            piece = match.group()
            # (first-byte and setting checks inline: every line of a new client passes here)
            if self.user is None and piece[:1] in _LINK_OPENERS and self._server_opening(piece):
                self._become_link(buf[start:])  # this line, the rest of the input, the partial line
                return
            if self.pending is not None and self.core.settings.secureonly and self._refused_as_plain(piece):
                return
            cost = (end - start + 2) / BYTES_PER_LINE  # byte_cost, inline (once per line)
            if end - start > MAX_LINE - 2 and too_long(piece):  # a shorter line is never too long
                self.junk_lines += 1
                gate.charge(max(1.0, cost))
                if self.closing:
                    return
                self.reply("ERR_INPUTTOOLONG")
            else:
                self.lines_in += 1
                if gate.held or gate.queue or (self.user is None and pace is not None and pace.busy()):
                    # It will wait (behind other lines, or for a later turn of a burst of new
                    # clients): kept raw and parsed once when it runs, so a waiting client
                    # holds its line's bytes and not a parsed Message (the heap keeps the
                    # peak of a burst). Priced by its command word.
                    gate.submit(piece, max(penalty(_verb(piece)), cost))
                    continue
                try:  # parsed once, here: its command prices it, and it runs as parsed
                    msg: Message | None = parse(piece)
                except ParseError:
                    msg = None
                price = penalty(msg.command if msg is not None else _verb(piece))
                gate.submit((piece, msg), price if price > cost else cost)  # the larger (max(), without its call)
        if self.closing:
            return
        if cut - pos > 2:
            gate.charge(byte_cost(cut - pos - 2))
        if len(rest) > MAX_INPUT:
            self._discarding = True
            self.junk_lines += 1
            gate.charge(max(1.0, byte_cost(len(rest))))
            if self.closing:
                return
            self.reply("ERR_INPUTTOOLONG")
            rest = b""
        self._buffer = rest
        if gate.queue and not self._input_paused:
            self._pause_if_waiting(waited)

    def charge_input(self, size: int) -> None:
        """``size`` bytes of input that carry no line (a framing adapter's overhead): charged, counted."""
        if self.closing or self.dead:
            return
        self.bytes_in += size
        self._last_input = self.core.clock.seconds()
        self._ping_sent = False
        waited = bool(self.gate.queue)
        self.gate.charge(byte_cost(size))
        self._pause_if_waiting(waited)

    def reject_input(self, size: int, why: str) -> None:
        """Input of ``size`` bytes a framing adapter could not use: charged (at least one line), answered with 400."""
        self.junk_lines += 1
        self.charge_input(max(size, BYTES_PER_LINE))
        if not self.closing and not self.dead:
            self.reply("ERR_UNKNOWNERROR", "*", why)

    def _pause_if_waiting(self, waited: bool) -> None:
        """Stop reading while lines wait in the gate (over budget, or held).

        One case waits for more input first: a new client whose lines are only held (a paced
        registration's NICK and USER, one read, within budget) and did not wait before this
        read (``waited``).  Nothing more usually comes before they ran, so pausing and resuming
        would be two epoll calls for nothing; more input while they wait is charged as usual
        and then pauses reading, so the socket is read at most one read further.
        """
        gate = self.gate
        if gate.queue and not self.closing and not self._input_paused and (
                waited or self.user is not None or gate._timer is not None):
            pause = getattr(self.transport, "pauseProducing", None)
            if pause is not None:  # every TCP and TLS transport; fakes may lack it
                self._input_paused = True
                pause()

    def _resume_input(self) -> None:
        """The gate emptied: read the socket again."""
        if self._input_paused and not self.closing and self.transport is not None:
            self._input_paused = False
            self.transport.resumeProducing()

    # -- a server link on a client port ------------------------------------

    def _server_opening(self, piece: bytes) -> bool:
        """True if ``piece`` makes this unregistered connection a server link (CAPAB or SERVER first).

        A PASS before it is kept, to be handed over with the link's lines.
        The caller has checked the first byte (_LINK_OPENERS): NICK, USER, CAP never come here.
        """
        pending = self.pending
        if not self.accepts_links or pending is None or pending.nick or pending.ident or pending.cap_negotiating:
            return False
        verb = _verb(piece)
        if verb == "PASS" and len(self._prelude) < 2:
            self._prelude += (piece,)
        if verb == "ERROR":  # a server we dialled us refusing over TLS (our certificate failed its check)
            return self.secure and getattr(self.core, "link_acceptor", None) is not None
        return verb in ("CAPAB", "SERVER") and getattr(self.core, "link_acceptor", None) is not None

    def _refused_as_plain(self, piece: bytes) -> bool:
        """SECUREONLY: close a plain connection at its first client line (a PASS may still open a link)."""
        if self.secure or not self.core.settings.secureonly:  # the usual case: no verb to read
            return False
        why = self.core.secureonly_refusal(self.secure)
        if why is None or _verb(piece) == "PASS":
            return False
        self.core.log.info("refused connection from {ip}: {why}", ip=self.ip, why=why)
        self.close(why)
        return True

    def _tls_on_plain_port(self) -> None:
        """A TLS handshake on a plaintext port: refuse it in plain words (the peer's TLS reports it)."""
        port = self._local_port()
        settings = self.core.settings
        where = f"TLS is on port {settings.ssl.port}" if settings.ssl.enabled else "this server has no TLS port open"
        self.core.notice_opers(
            f"TLS handshake from {self.ip} on plaintext port {port} refused: a server (or client) set to use TLS "
            f"dialled a plaintext port; {where}", topic="links")
        self.close(f"Port {port} does not speak TLS; {where}")

    def _become_link(self, unread: bytes) -> None:
        """Hand this connection to a server link with what it sent so far; this object only forwards now."""
        self.flush_output()
        self.gate.close()
        self._stop_stream()
        self._cancel_timer()
        self.core.remove_connection(self)
        self.pending = None
        self.link = self.core.link_acceptor()
        self.log.info("connection from {ip} opened as a server link", ip=self.ip)
        self.link.makeConnection(self.transport)
        if self._input_paused:  # the link reads at its own pace
            self._input_paused = False
            self.transport.resumeProducing()
        self.link.dataReceived(b"".join(line + b"\n" for line in self._prelude) + unread)

    # -- line handling -----------------------------------------------------

    def _run_line(self, line: tuple[bytes, Message | None] | bytes) -> None:
        """Run one line the flood gate let through: ``(raw, parsed)``, ``parsed`` None if it did
        not parse, or the raw line alone (it waited: parsed now)."""
        if self.closing:
            return
        if self.user is None and self.pace is not None and not self.pace.take():
            # Over this turn's share for new clients: this line runs in a later
            # turn, and the lines after it wait behind it (the gate is held).
            self.gate.hold()
            self.pace.later(self._run_paced, line)
            return
        self._run(line)

    def _run_paced(self, line: tuple[bytes, Message | None] | bytes) -> None:
        """A line whose turn came (see :meth:`_run_line`); then let the next ones through.

        Inside an output batch read as this client's, like :meth:`dataReceived`: the replies
        to its own lines (the welcome) go to its socket at once, in one write.
        """
        batch = BATCH
        if not batch.depth:
            batch.reader = self
        batch.depth += 1
        try:
            self._run(line)
            self.gate.release()
        finally:
            batch.end()

    def _run(self, line: tuple[bytes, Message | None] | bytes) -> None:
        """Handle a gate's line: ``(raw, parsed)``, or the raw line alone (it waited: parsed now)."""
        if type(line) is bytes:
            self._handle(line, _parsed(line))
        else:
            self._handle(*line)

    def _handle(self, raw: bytes, msg: Message | None) -> None:
        if self.closing:
            return
        if msg is None:
            word = _verb(raw) or "*"
            self.junk_lines += 1  # counted, not logged: junk must not grow the log
            if word and word.isalnum():
                return
            if self.registered:
                reply = self.numeric("ERR_UNKNOWNCOMMAND", word)
                label = raw_label(self, raw)
                self.send(reply.with_tags({"label": label}) if label else reply)
            return
        label = label_of(self, msg) if self._profile is not None else None  # (no tags: no labeled-response)
        if label is not None:
            self.label = LabeledReply(self, label)
        try:
            if self.core.settings.utf8only and not _is_utf8(raw):
                self.send(Message("FAIL", (msg.command, "INVALID_UTF8", "Message rejected: not valid UTF-8"),
                                  self.core.name))
            else:
                self.core.commands.dispatch(self, msg)
        except Exception:
            # Only the verb is logged: the line may carry a password (OPER, AS).
            self.log.failure("error handling {command} from {ip}", command=msg.command, ip=self.ip)
            self.reply("ERR_UNKNOWNERROR", msg.command, "Internal error processing that command")
        if label is not None and self.label is not None:
            self.label.handler_returned()

    def _flood_limits(self) -> FloodLimits | None:
        return limits_for(self.core.settings.flood, self.user)

    def _excess_flood(self) -> None:
        self.core.abused(self.ip, "Excess Flood")
        self.close("Excess Flood")

    # -- what the dispatcher needs -------------------------------------------

    @property
    def registered(self) -> bool:
        """True once NICK/USER (and CAP END) completed registration."""
        return self.user is not None

    @property
    def nick(self) -> str:
        """Our nick, or ``*`` before one is set."""
        if self.user is not None:
            return self.user.nick
        return (self.pending.nick if self.pending and self.pending.nick else None) or "*"

    def is_oper(self, flags: str) -> bool:
        """True if this user is an operator with any of ``flags`` ('' = any)."""
        return self.user is not None and self.user.has_oper_flag(flags)

    # -- output --------------------------------------------------------------

    def send(self, msg: Message) -> int:
        """Write ``msg`` (to the labeled reply being gathered, if it is one); return the bytes written.

        Every delivery to a local client comes here, once per recipient: the
        line is written here, with no further call (see :meth:`write_message`).
        """
        label = self.label
        if label is not None and label.take(msg):
            # Held for the labeled reply: about its size, so a long reply is still paced.
            return 16 + sum(len(p) for p in msg.params)
        if self.closing or self.dead or self.transport is None:
            return 0
        cache = msg.__dict__.get("_encoded")  # (a lookup, not a raised AttributeError, when none)
        data = cache.get(self._profile) if cache is not None else None
        if data is None:
            data = self._encoded(msg)
            if data is None:
                return 0
        out = self._out
        if out is None:
            return self._put(data)
        out.append(data)
        return len(data)

    def write_message(self, msg: Message) -> int:
        """Write ``msg`` with the tags this client may see, never gathered into a labeled reply.

        The encoded line is cached on the message per tag profile, so a
        channel message is formatted once per kind of recipient, not once
        per recipient.  Inside an :class:`~conferenceroom.client.output.OutputBatch`
        the line joins this connection's held output (one write at the
        batch's end); otherwise it is written at once.  Returns its size.
        """
        label = self.label
        if label is None:
            return self.send(msg)
        self.label = None  # the labeled reply writes through here: past itself
        try:
            return self.send(msg)
        finally:
            self.label = label

    def send_encoded(self, data: bytes, lines: int) -> None:
        """Write ``lines`` already encoded lines (``data``, CRLF-ended) in order after what is held."""
        if self.closing or self.dead or self.transport is None:
            return
        self.lines_out += lines - 1  # the flush counts this chunk as one line
        out = self._out
        if out is None:
            self._put(data)
        else:
            out.append(data)

    def _put(self, data: bytes) -> int:
        """The first line since the last write: held if an output batch is open, else written now."""
        self._out = [data]
        if BATCH.depth:
            BATCH.dirty.append(self)
        else:
            self.flush_output()
        return len(data)

    def _encoded(self, msg: Message) -> bytes | None:
        """``msg`` as this client's tag profile shows it, encoded once per profile and kept on ``msg``."""
        fields = msg.__dict__
        cache = fields.get("_encoded")
        if cache is None:
            cache = fields["_encoded"] = {}
        data = self._encode(msg, self._caps)
        if data is not None:
            cache[self._profile] = data
        return data

    def flush_output(self, now: bool = False) -> None:
        """Write the held lines in one write (``now``: to the socket at once if it can); drop the client past the SendQ.

        The SendQ is measured every 4 KiB (see ``SENDQ_WRITE_WEIGHT``), so a
        client that does not read is found within a bounded overshoot,
        without measuring on every write.
        """
        out = self._out
        if out is None:
            return
        self._out = None
        transport = self.transport
        if self.closing or self.dead or transport is None:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        if now:
            write_now(transport, data)
        else:
            transport.write(data)
        size = len(data)
        self.bytes_out += size
        self.lines_out += len(out)
        unchecked = self._unchecked + ((size + _SENDQ_ROUND) >> _SENDQ_UNIT_SHIFT)
        if unchecked < _SENDQ_CHECK_UNITS:
            self._unchecked = unchecked
            return
        self._unchecked = 0
        if queued_bytes(transport) > MAX_SENDQ:
            self._sendq_exceeded()

    def send_stream(self, messages: Iterable[Message]) -> None:
        """Send a reply that may be long, paced by what the client reads.

        ``messages`` is consumed lazily, a chunk per reactor turn while the
        transport's buffer has room; input lines wait until it is done.
        """
        if self.label is not None:
            messages = self.label.stream(messages)
        self.stream.add(messages)

    def numeric(self, name: str, *args: object) -> Message:
        """Numeric ``name`` to this client, as a message (for :meth:`send_stream`)."""
        return numeric(name, self.core.name, self.nick, *args)

    def _sendq_exceeded(self) -> None:
        """Stop writing now and leave the network on the next reactor turn.

        A send happens in the middle of a fan-out or of an event being
        delivered; removing the user right there would change the channel
        being iterated and let later subscribers see the change after the
        QUIT.  Like the "dead client" of other servers, the connection is
        only marked here and closed once the current work is done.
        """
        self.dead = True
        self.gate.close()
        self._stop_stream()
        self.core.abused(self.ip, "SendQ exceeded")
        self.core.clock.callLater(0, self.close, "SendQ exceeded")

    @property
    def caps(self) -> frozenset[str]:
        """The IRCv3 capabilities this client negotiated."""
        return self._caps

    @caps.setter
    def caps(self, caps: frozenset[str] | set[str]) -> None:
        caps = frozenset(caps)
        self._caps = caps
        # What decides which tags this client sees; lines are cached per profile.
        # (A small int, cheap to hash per line; None, like no capabilities, when none of them counts.)
        self._profile = sum(bit for cap, bit in _PROFILE_BITS if cap in caps) or None

    def _encode(self, msg: Message, caps: frozenset[str]) -> bytes | None:
        if self._profile is None:  # a client that sees no tags: the line without them
            try:
                return encode_untagged(msg)
            except ValueError:
                self.log.error("refused to send malformed message {msg!r}", msg=msg)
                return None
        tags = msg.tags
        if "server-time" in caps and "time" not in tags:
            stamp = msg.__dict__.get("_time") or msg.__dict__.setdefault("_time", self.core_time())
            tags = {**tags, "time": stamp}
        visible = visible_tags(tags, caps)
        try:
            return encode_line(msg if visible == msg.tags else msg.with_tags(visible))
        except ValueError:
            self.log.error("refused to send malformed message {msg!r}", msg=msg)
            return None

    def core_time(self) -> str:
        """The current time in the IRCv3 server-time format."""
        from datetime import datetime, timezone

        now = datetime.fromtimestamp(self.core.clock.seconds(), timezone.utc)
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"

    def reply(self, name: str, *args: object) -> None:
        """Send numeric ``name`` to this client."""
        self.send(numeric(name, self.core.name, self.nick, *args))

    def notice(self, text: str) -> None:
        """Send a server NOTICE to this client."""
        self.send(Message("NOTICE", (self.nick, text), self.core.name))

    def send_raw_line(self, line: str) -> None:
        """Send an already formatted line (used for ERROR before closing), after what is held."""
        if self.transport is not None and not self.closing:
            self.flush_output()
            data = line.encode("utf-8", "replace") + b"\r\n"
            self.transport.write(data)
            self.bytes_out += len(data)
            self.lines_out += 1

    # -- leaving -------------------------------------------------------------

    def close(self, reason: str, quit_reason: str | None = None) -> None:
        """Send ERROR with ``reason``, remove the user, and drop the connection.

        A client that does not read what is queued for it is aborted after
        ``CLOSE_GRACE`` seconds; until it is really gone it still counts
        toward the per-IP connection limits.
        """
        if self.closing:
            return
        self.send_raw_line(format_message(_message("ERROR", (f"Closing Link: {self.host} ({reason})",), None, {})))
        self._quit_reason = quit_reason or reason
        self.closing = True  # ERROR is the last line this client gets
        if self.user is not None:
            self._leave_network(self._quit_reason)
        self.gate.close()
        self._stop_stream()
        self._cancel_timer()
        if self.transport is not None:
            self.transport.loseConnection()
            if not self.lost and self._abort_timer is None:
                self._abort_timer = self.core.clock.callLater(CLOSE_GRACE, self._abort)

    def _abort(self) -> None:
        """The closed connection did not drain in time: drop it and its queued output."""
        self._abort_timer = None
        if not self.lost and self.transport is not None:
            self.transport.abortConnection()

    def _leave_network(self, reason: str) -> None:
        user, self.user = self.user, None
        if user is not None:
            self.core.network.remove_user(user, reason)

    # -- timers ----------------------------------------------------------------

    def _cancel_timer(self) -> None:
        if self._due_key is not None:
            self._wheel().remove(self)

    def timer_due(self) -> None:
        """The deadline in the core's timer wheel passed: registration timeout, or an idle check."""
        if self.closing or self.link is not None:
            return
        if self.user is None:
            self.close("Registration timed out")
        else:
            self._check_idle()

    def start_ping_timer(self) -> None:
        """Begin idle checks once registered (replaces the registration timer)."""
        self._wheel().add(self, self.core.clock.seconds() + PING_INTERVAL)

    def _check_idle(self) -> None:
        now = self.core.clock.seconds()
        if self._input_paused:
            self._last_input = now  # its input waits in the gate, unread: not idle
        idle = now - self._last_input
        if self._ping_sent and idle >= 2 * PING_INTERVAL - 0.001:
            self.close(f"Ping timeout: {int(PING_INTERVAL)} seconds")
            return
        if idle >= PING_INTERVAL - 0.001 and not self._ping_sent:
            self._ping_sent = True
            self.send(Message("PING", (self.core.name,)))
            self._wheel().add(self, now + PING_INTERVAL)
            return
        wait = max(PING_INTERVAL - idle, 1.0) if not self._ping_sent else 2 * PING_INTERVAL - idle
        self._wheel().add(self, now + wait)


register_direct_route(ClientConnection)  # its held output is appended to inline by the router


def _bound_reads(transport: Any) -> None:
    """Read at most ``READ_SIZE`` bytes at once from the socket under ``transport`` (TLS too)."""
    while transport is not None:
        if getattr(transport, "bufferSize", 0) > READ_SIZE:
            transport.bufferSize = READ_SIZE
        transport = getattr(transport, "transport", None)



def _is_utf8(raw: bytes) -> bool:
    """True if ``raw`` is valid UTF-8 (plain ASCII, the usual case, is checked fastest)."""
    if raw.isascii():
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _line_break(data: bytes) -> int:
    """Index of the first CR or LF in ``data``, or -1."""
    lf, cr = data.find(b"\n"), data.find(b"\r")
    if lf < 0 or (0 <= cr < lf):
        return cr
    return lf


def too_long(line: bytes) -> bool:
    """True if ``line`` (without CR LF) breaks the client input limits.

    The tag data a client sends (between ``@`` and the space) may be at most
    4094 bytes, and the rest of the line at most 510 bytes (512 with CR LF).
    """
    rest = line.lstrip(b" ")
    if rest.startswith(b"@"):
        tags, _, rest = rest[1:].partition(b" ")
        if len(tags) > MAX_CLIENT_TAG_DATA:
            return True
        rest = rest.lstrip(b" ")
    return len(rest) > MAX_LINE - 2


#: The first bytes of lines that may open a server link (CAPAB, SERVER, PASS, ERROR, any case) or carry
#: tags or a prefix before their verb: every other line is a client's.
_LINK_OPENERS = frozenset(bytes([c]) for c in b"CSPEcspe@:")

#: The first byte of a TLS handshake record (a ClientHello).
TLS_HANDSHAKE_RECORD = b"\x16"


def _parsed(line: bytes) -> Message | None:
    """``line`` parsed, or None if it does not parse."""
    try:
        return parse(line)
    except ParseError:
        return None


def _verb(line: bytes) -> str:
    """The command word of a raw line, upper-cased, without decoding it fully."""
    rest = line.lstrip(b" ")
    if rest.startswith(b"@"):
        rest = rest.partition(b" ")[2].lstrip(b" ")
    if rest.startswith(b":"):
        rest = rest.partition(b" ")[2].lstrip(b" ")
    return rest.partition(b" ")[0].decode("latin-1").upper()


class ClientFactory(Factory):
    """Builds a :class:`ClientConnection` per accepted client."""

    noisy = False

    def __init__(self, core: "ServerCore") -> None:
        self.core = core
        # One budget for every listener of this server.
        if getattr(core, "registration_pace", None) is None:
            core.registration_pace = TurnBudget(core.clock, REGISTRATION_LINES_PER_TURN)
        self.pace = core.registration_pace

    def buildProtocol(self, addr: Any) -> Protocol:
        """A new :class:`ClientConnection` for the core, or a :class:`Throttled` refusal."""
        if self.core.throttled(getattr(addr, "host", "")):
            self.core.throttle.refused += 1
            return Throttled(self.core.clock)
        proto = ClientConnection(self.core)
        proto.factory = self
        proto.pace = self.pace
        host = getattr(addr, "host", None)
        if host:  # the peer of the accepted socket (what transport.getPeer() would build again)
            proto.ip = host
            proto.port = getattr(addr, "port", 0)
        return proto


class Throttled(Protocol):
    """A connection from a throttled address: one ERROR line, then closed, nothing read.

    Like any closed client, it is aborted if it is not gone after ``CLOSE_GRACE``.
    """

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self._abort_timer: Any = None

    def connectionMade(self) -> None:
        """Say why and close at once (before any registration, notice or log line)."""
        host = getattr(self.transport.getPeer(), "host", "0")
        host = "0" + host if host.startswith(":") else host
        self.transport.write(format_message(Message("ERROR", (f"Closing Link: {host} ({THROTTLED})",))).encode() + b"\r\n")
        self.transport.loseConnection()
        self._abort_timer = self.clock.callLater(CLOSE_GRACE, self.transport.abortConnection)

    def connectionLost(self, reason: Failure | None = None) -> None:
        """Gone in time: no abort needed."""
        if self._abort_timer is not None and self._abort_timer.active():
            self._abort_timer.cancel()
        self._abort_timer = None

    def dataReceived(self, data: bytes) -> None:
        """Input from a refused client is ignored."""
