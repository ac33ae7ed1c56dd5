# -*- test-case-name: tests.unit.test_link_handshake -*-
"""The link handshake as a sans-IO state machine.

Feed it the peer's parsed lines; it says what to send, when a decision on
the peer is due (after SERVER, see :mod:`conferenceroom.link.policy`) and
when the handshake is complete (after SVINFO).  Everything the peer
announced ends up in one immutable :class:`PeerAnnouncement`; anything
malformed, missing, out of order or contradictory raises
:class:`HandshakeError` whose ``reason`` is the text for our ERROR line.

Active side (we connected out): ``start()`` gives PASS, CAPAB, SERVER; the
peer answers with its own and SVINFO; on its SERVER we decide, and
``accept()`` gives our SVINFO.  Passive side (they connected in): we wait
for their SERVER, decide, and ``accept(password)`` gives PASS, CAPAB,
SERVER and SVINFO.  Both sides then wait for the peer's SVINFO.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from twisted.internet.interfaces import IReactorTime

from conferenceroom.casemap import fold
from conferenceroom.link import ts6
from conferenceroom.wire import Message, ascii_number

MAX_TS_DELTA = 60  # seconds the peer's clock may differ from ours
REGISTRATION_TIMEOUT = 30  # seconds to complete the handshake, as hybrid
MAX_LINES_BEFORE_SERVER = 16
MAX_CAPAB_TOKENS = 64
_IGNORED = frozenset({"NOTICE"})  # hybrid's auth notices before registration


class HandshakeError(Exception):
    """The peer's handshake is unacceptable; ``reason`` goes into our ERROR line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PeerClosed(Exception):
    """The peer sent ERROR during the handshake; ``reason`` is its text (we answer nothing)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class State(enum.Enum):
    """Where a handshake stands."""

    START = "start"  # active side, before start()
    WAIT_SERVER = "wait-server"  # reading PASS / CAPAB until SERVER
    DECIDE = "decide"  # the caller must accept() or refuse()
    WAIT_SVINFO = "wait-svinfo"  # our lines are out; the peer's SVINFO completes it
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class LocalIdentity:
    """Who we are on a link: name, SID, description, serial and role (hub or leaf)."""

    name: str
    sid: str
    description: str
    serial: str
    role: str
    hidden: bool = False
    services: str | None = None  # the services server our side of the network has


@dataclass(frozen=True)
class PeerAnnouncement:
    """Everything the peer said about itself in PASS, CAPAB, SERVER and SVINFO.

    ``serial`` and ``role`` are None for a plain TS6 peer (it sends no
    ConferenceRoom tokens).  ``capabilities`` holds the other CAPAB tokens
    upper-cased.  The SVINFO fields stay None until the handshake is complete;
    ``clock_delta`` is the peer's clock minus ours, in seconds.
    """

    name: str
    sid: str
    description: str
    hops: int = 1
    hidden: bool = False
    password: str | None = field(default=None, repr=False)
    capabilities: frozenset[str] = frozenset()
    serial: str | None = None
    role: str | None = None
    services: str | None = None  # CR-SERVICES: the services server the peer's side has
    ts_version: int | None = None
    ts_min: int | None = None
    clock_delta: int | None = None

    @property
    def is_conferenceroom(self) -> bool:
        """True if the peer announced a ConferenceRoom serial and role."""
        return self.serial is not None

    @property
    def supports_owner(self) -> bool:
        """True if channel owner (+q) can be sent as such (CR-OWNER or hybrid's QOP)."""
        return ts6.CR_OWNER in self.capabilities or "QOP" in self.capabilities


@dataclass(frozen=True)
class Step:
    """The result of one received line: lines to send, and what happened."""

    send: tuple[Message, ...] = ()
    decide: bool = False  # SERVER arrived: call accept() or refuse() before the next line
    complete: bool = False  # SVINFO arrived: the handshake is over
    peer: PeerAnnouncement | None = None


class Handshake:
    """One link's handshake, active (we connected) or passive (they connected)."""

    def __init__(
        self,
        me: LocalIdentity,
        clock: IReactorTime,
        *,
        active: bool,
        password: str | None = None,
        max_ts_delta: int = MAX_TS_DELTA,
        timeout: float = REGISTRATION_TIMEOUT,
    ) -> None:
        """*password* is what we send when connecting out (active side only)."""
        self.me = me
        self.clock = clock
        self.active = active
        self.max_ts_delta = max_ts_delta
        self.timeout = timeout
        self.started = clock.seconds()
        self.state = State.START if active else State.WAIT_SERVER
        self.peer: PeerAnnouncement | None = None
        self._password = password
        self._peer_password: str | None = None
        self._pass_seen = False
        self._pass_sid: str | None = None
        self._tokens: set[str] = set()
        self._cr: dict[str, str] = {}
        self._lines = 0

    # -- driving ---------------------------------------------------------------

    def start(self) -> tuple[Message, ...]:
        """Our opening lines: PASS (if we have a password), CAPAB, SERVER when active; none when passive."""
        if not self.active:
            return ()
        self._expect(State.START)
        self.state = State.WAIT_SERVER
        return self._introduction(self._password, ())

    def receive(self, msg: Message) -> Step:
        """Take one line from the peer.  Raises HandshakeError or PeerClosed."""
        if self.state in (State.START, State.DECIDE, State.DONE, State.FAILED):
            raise RuntimeError(f"handshake cannot read lines in state {self.state.value}")
        try:
            if msg.command == "ERROR":
                raise PeerClosed(msg.params[0] if msg.params else "")
            if self.state is State.WAIT_SERVER:
                return self._before_server(msg)
            return self._before_svinfo(msg)
        except (HandshakeError, PeerClosed):
            self.state = State.FAILED
            raise

    def accept(self, password: str | None = None) -> tuple[Message, ...]:
        """The policy accepted the peer: our answer (passive: PASS with *password*, CAPAB, SERVER; then SVINFO)."""
        self._expect(State.DECIDE)
        self.state = State.WAIT_SVINFO
        svinfo = ts6.build_svinfo(self.me.sid, self.clock.seconds())
        if self.active:
            return (svinfo,)
        assert self.peer is not None
        mirrored = tuple(t for t in ts6.MIRRORED_CAPABS if t in self.peer.capabilities)
        return (*self._introduction(password, mirrored), svinfo)

    def refuse(self, reason: str, host: str) -> Message:
        """End the handshake; the ERROR line to send to the peer at *host*."""
        self.state = State.FAILED
        return ts6.build_error(host, reason)

    def check_timeout(self) -> None:
        """Raise HandshakeError if the handshake has run past its time limit."""
        if self.state in (State.DONE, State.FAILED):
            return
        if self.clock.seconds() - self.started >= self.timeout:
            self.state = State.FAILED
            raise HandshakeError(f"Link registration timed out after {self.timeout:g} seconds")

    # -- phases ----------------------------------------------------------------

    def _before_server(self, msg: Message) -> Step:
        self._lines += 1
        if self._lines > MAX_LINES_BEFORE_SERVER:
            raise HandshakeError(f"Too many lines before SERVER (at most {MAX_LINES_BEFORE_SERVER})")
        command = msg.command
        if command == "PASS":
            self._read_pass(msg.params)
        elif command == "CAPAB":
            self._read_capab(msg.params)
        elif command == "SERVER":
            self.peer = self._read_server(msg.params)
            self.state = State.DECIDE
            return Step(decide=True, peer=self.peer)
        elif command not in _IGNORED and not command.isdigit() and command != "PING":
            raise HandshakeError(
                f"Unexpected {command} before SERVER: this port expects a server link (PASS, CAPAB, SERVER)"
            )
        return Step()

    def _before_svinfo(self, msg: Message) -> Step:
        assert self.peer is not None
        command = msg.command
        if command == "SVINFO":
            self.peer = self._read_svinfo(msg)
            self.state = State.DONE
            return Step(complete=True, peer=self.peer)
        if command == "PING":
            return Step(send=(ts6.build_pong(self.me.sid, self.me.name, self.peer.sid),))
        if command in _IGNORED or command.isdigit():
            return Step()
        if command in ("PASS", "CAPAB", "SERVER"):
            raise HandshakeError(f"Unexpected {command} after SERVER")
        raise HandshakeError(f"Unexpected {command} before SVINFO: the burst must start with SVINFO")

    # -- the peer's lines ------------------------------------------------------

    def _read_pass(self, params: tuple[str, ...]) -> None:
        if self._pass_seen:
            raise HandshakeError("PASS sent twice")
        if not params or not params[0]:
            raise HandshakeError("PASS needs the link password")
        self._pass_seen = True
        self._peer_password = params[0]
        # The TS6 proposal's form, PASS <password> TS <version> :<SID>; hybrid sends the password only.
        if len(params) >= 3 and params[1].upper() == "TS":
            version = ascii_number(params[2], max_digits=20)
            if version is None or version < ts6.TS_MIN:
                raise HandshakeError(_ts_text(params[2], params[2]))
            if len(params) >= 4:
                if not ts6.valid_sid(params[3]):
                    raise HandshakeError(_sid_text(params[3]))
                self._pass_sid = params[3]

    def _read_capab(self, params: tuple[str, ...]) -> None:
        tokens = " ".join(params).split()
        if not tokens:
            raise HandshakeError("CAPAB needs a list of capabilities")
        for token in tokens:
            key, sep, value = token.partition("=")
            key = key.upper()
            if sep and key in (ts6.CR_SERIAL, ts6.CR_ROLE, ts6.CR_SERVICES):
                self._read_cr_token(key, value)
            else:
                self._tokens.add(token.upper())
            if len(self._tokens) + len(self._cr) > MAX_CAPAB_TOKENS:
                raise HandshakeError(f"Too many CAPAB tokens (at most {MAX_CAPAB_TOKENS})")

    def _read_cr_token(self, key: str, value: str) -> None:
        if key == ts6.CR_SERIAL and not ts6.valid_serial(value):
            raise HandshakeError(f"Invalid serial {value} in CAPAB: expected a serial like 102-0000-001")
        if key == ts6.CR_SERVICES and not ts6.valid_server_name(value):
            raise HandshakeError(f"Invalid services server name {value} in CAPAB CR-SERVICES")
        if key == ts6.CR_ROLE:
            value = value.lower()
            if value not in ts6.ROLES:
                raise HandshakeError(f"Invalid role {value} in CAPAB: expected CR-ROLE=hub or CR-ROLE=leaf")
        old = self._cr.setdefault(key, value)
        if old != value:
            raise HandshakeError(f"Conflicting {key} in CAPAB: {old} and {value}")

    def _read_server(self, params: tuple[str, ...]) -> PeerAnnouncement:
        if len(params) != 5:
            raise HandshakeError(
                "SERVER needs 5 parameters (name, hop count, server ID, +flags, description), "
                f"got {len(params)}: this server speaks TS6 as ircd-hybrid 8.2 does"
            )
        name, hops, sid, flags, description = params
        if not ts6.valid_server_name(name):
            raise HandshakeError(
                f"Invalid server name {name}: expected a host-like name with at least one dot, "
                f"at most {ts6.MAX_SERVER_NAME} characters"
            )
        if not ts6.valid_sid(sid):
            raise HandshakeError(_sid_text(sid))
        if hops != "1":
            raise HandshakeError(f"Hop count {hops} in SERVER: a directly linked server must say 1")
        if not ts6.valid_flags(flags):
            raise HandshakeError(f"Invalid server flags {flags}: expected + followed by letters, like + or +h")
        if fold(name) == fold(self.me.name):
            raise HandshakeError(f"The peer introduced itself as {name}, which is this server's name")
        if sid == self.me.sid:
            raise HandshakeError(f"The peer introduced itself with server ID {sid}, which is this server's ID")
        if self._pass_sid is not None and self._pass_sid != sid:
            raise HandshakeError(f"Server ID mismatch: PASS says {self._pass_sid} but SERVER says {sid}")
        if (ts6.CR_SERIAL in self._cr) != (ts6.CR_ROLE in self._cr):
            raise HandshakeError("A ConferenceRoom server must announce both CR-SERIAL and CR-ROLE in CAPAB")
        missing = sorted(ts6.REQUIRED_CAPABS - self._tokens)
        if missing:
            raise HandshakeError(
                f"Missing required capability {' '.join(missing)}: this server needs end-of-burst markers "
                "(CAPAB EOB)"
            )
        return PeerAnnouncement(
            name=name,
            sid=sid,
            description=description,
            hops=1,
            hidden="h" in flags,
            password=self._peer_password,
            capabilities=frozenset(self._tokens),
            serial=self._cr.get(ts6.CR_SERIAL),
            role=self._cr.get(ts6.CR_ROLE),
            services=self._cr.get(ts6.CR_SERVICES),
        )

    def _read_svinfo(self, msg: Message) -> PeerAnnouncement:
        peer = self.peer
        assert peer is not None
        if msg.source is not None and msg.source not in (peer.sid, peer.name):
            raise HandshakeError(
                f"SVINFO from {msg.source}, but the peer introduced itself as {peer.name} ({peer.sid})"
            )
        numbers = [ascii_number(p, max_digits=20) for p in msg.params[:4]]
        if len(numbers) < 4 or None in numbers:
            raise HandshakeError("Malformed SVINFO: expected SVINFO <current TS> <minimum TS> 0 :<unix time>")
        current, minimum, _, their_time = numbers
        assert current is not None and minimum is not None and their_time is not None
        if current < ts6.TS_MIN or minimum > ts6.TS_CURRENT:
            raise HandshakeError(_ts_text(str(minimum), str(current)))
        delta = their_time - int(self.clock.seconds())
        if abs(delta) > self.max_ts_delta:
            side = "ahead of" if delta > 0 else "behind"
            raise HandshakeError(
                f"Excessive TS delta: the peer's clock is {abs(delta)} seconds {side} ours "
                f"(at most {self.max_ts_delta} allowed)"
            )
        return replace(peer, ts_version=current, ts_min=minimum, clock_delta=delta)

    # -- ours ------------------------------------------------------------------

    def _introduction(self, password: str | None, extra: tuple[str, ...]) -> tuple[Message, ...]:
        me = self.me
        lines = [] if password is None else [ts6.build_pass(password)]
        lines.append(ts6.build_capab(ts6.our_capab_tokens(me.serial, me.role, extra, me.services)))
        lines.append(ts6.build_server(me.name, me.sid, me.description, me.hidden))
        return tuple(lines)

    def _expect(self, state: State) -> None:
        if self.state is not state:
            raise RuntimeError(f"handshake is in state {self.state.value}, not {state.value}")


def _sid_text(sid: str) -> str:
    return f"Invalid server ID {sid}: expected a digit followed by two of A-Z or 0-9"


def _ts_text(minimum: str, current: str) -> str:
    speaks = current if minimum == current else f"{minimum} to {current}"
    return f"Incompatible TS version: the peer speaks TS {speaks}, this server needs TS {ts6.TS_CURRENT}"
