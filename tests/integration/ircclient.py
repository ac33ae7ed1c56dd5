"""
A small synchronous IRC client for integration tests.

It speaks raw IRC over a plain socket, the way a test wants to: send a line,
wait (with a bound) for the line you expect, and fail with an assertion that
lists every line that arrived meanwhile, so a failing test explains itself.

    c = IRCClient.connect(server.host, server.port)
    c.register("alice")
    c.send("JOIN #test")
    join = c.expect("JOIN")
    assert join.params == ["#test"]

Messages the server sends that a call to L{IRCClient.expect} skips over are
consumed (kept only in L{IRCClient.history}); PING from the server is
answered with PONG automatically and still handed to the caller.
"""

from __future__ import annotations

import itertools
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Union

__all__ = [
    "Message",
    "parse",
    "IRCClient",
    "connect",
    "unique_nick",
    "ConnectionClosed",
]

DEFAULT_TIMEOUT = 5.0

_TAG_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}


def _unescape_tag_value(value: str) -> str:
    out = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_TAG_UNESCAPES.get(nxt, nxt))
        else:
            out.append(ch)
    return "".join(out)


@dataclass
class Message:
    """
    One parsed IRC line.

    @ivar tags: message tags, values unescaped (C{None} for a bare tag).
    @ivar source: the prefix without its leading colon, or C{None}.
    @ivar command: the command, upper-cased (numerics stay as three digits).
    @ivar params: all parameters, the trailing one included, colon removed.
    @ivar raw: the line as received, without CR/LF.
    """

    tags: dict = field(default_factory=dict)
    source: Optional[str] = None
    command: str = ""
    params: list = field(default_factory=list)
    raw: str = ""

    @property
    def nick(self) -> Optional[str]:
        """The nick (or server name) part of the source."""
        if self.source is None:
            return None
        return self.source.split("!", 1)[0].split("@", 1)[0]

    @property
    def trailing(self) -> Optional[str]:
        """The last parameter, or C{None} when there are none."""
        return self.params[-1] if self.params else None

    @property
    def is_numeric(self) -> bool:
        return len(self.command) == 3 and self.command.isdigit()

    def __str__(self) -> str:
        return self.raw or self.command


def parse(line: Union[str, bytes]) -> Message:
    """
    Parse one IRC line (tags, source, command, params) into a L{Message}.

    This is a deliberately simple parser for tests, not the server's.
    """
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    raw = line.rstrip("\r\n")
    rest = raw
    tags: dict = {}
    source = None
    if rest.startswith("@"):
        tagpart, _, rest = rest[1:].partition(" ")
        for item in tagpart.split(";"):
            if not item:
                continue
            key, eq, value = item.partition("=")
            tags[key] = _unescape_tag_value(value) if eq else None
        rest = rest.lstrip(" ")
    if rest.startswith(":"):
        source, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    trailing = None
    if " :" in rest:
        rest, _, trailing = rest.partition(" :")
    elif rest.startswith(":"):
        # "CMD" can never start with a colon; treat defensively.
        trailing, rest = rest[1:], ""
    words = [w for w in rest.split(" ") if w]
    command = words[0].upper() if words else ""
    params = words[1:]
    if trailing is not None:
        params.append(trailing)
    return Message(tags=tags, source=source, command=command, params=params, raw=raw)


Matcher = Union[str, Iterable[str], Callable[[Message], bool]]


def _matcher(what: Matcher) -> tuple[Callable[[Message], bool], str]:
    """Turn a command, a list of commands or a predicate into a predicate."""
    if callable(what):
        name = getattr(what, "__name__", repr(what))
        return what, name
    if isinstance(what, str):
        wanted = {what.upper()}
    else:
        wanted = {w.upper() for w in what}
    return (lambda m: m.command in wanted), " or ".join(sorted(wanted))


class ConnectionClosed(AssertionError):
    """The server closed the connection while we were waiting for a line."""


_nick_counter = itertools.count(1)


def isupport_tokens(burst: Iterable[Message], fold_keys: bool = True) -> dict[str, str]:
    """RPL_ISUPPORT (005) tokens of a welcome burst as NAME -> value.

    Each 005 is ``<nick> <token>... :are supported by this server``; names
    are upper-cased unless C{fold_keys} is false.
    """
    tokens: dict[str, str] = {}
    for msg in burst:
        if msg.command == "005":
            for token in msg.params[1:-1]:
                key, _, value = token.partition("=")
                tokens[key.upper() if fold_keys else key] = value
    return tokens


def unique_nick(prefix: str = "t") -> str:
    """
    A nick no other test in this process has used, at most 9 characters.

    Useful with a module-scoped server shared by many tests.
    """
    n = next(_nick_counter)
    suffix = str(n)
    return prefix[: 9 - len(suffix)] + suffix


class IRCClient:
    """
    A blocking line-based IRC connection.

    @ivar history: every L{Message} received on this connection, in order.
    @ivar sent: every line sent, in order.
    @ivar nick: the nick given to L{register}, if any.
    @ivar closed: C{True} once the server closed the connection.
    """

    def __init__(self, sock: socket.socket, name: str = "client",
                 auto_pong: bool = True):
        self.sock = sock
        self.name = name
        self.auto_pong = auto_pong
        self._buffer = b""
        self._pending: list[Message] = []
        self.history: list[Message] = []
        self.sent: list[str] = []
        self.nick: Optional[str] = None
        self.closed = False
        self.caps: set[str] = set()
        #: the server's certificate (DER bytes) on a TLS connection
        self.peer_certificate: Optional[bytes] = None

    # -- connection ---------------------------------------------------------

    @classmethod
    def connect(cls, host: str, port: int, timeout: float = DEFAULT_TIMEOUT,
                name: Optional[str] = None, auto_pong: bool = True,
                source: Optional[str] = None, tls: bool = False) -> "IRCClient":
        """
        Open a TCP connection to C{host:port}.

        C{source} binds the local end to that address first (another
        loopback address such as C{127.0.0.2}, to look like another host);
        C{tls} wraps the socket in TLS without verifying the certificate
        (the server's DER certificate is then in L{peer_certificate}).
        """
        source_address = (source, 0) if source else None
        sock = socket.create_connection((host, port), timeout=timeout,
                                        source_address=source_address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cert = None
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            try:
                sock = context.wrap_socket(sock, server_hostname=host)
            except (OSError, ssl.SSLError):
                sock.close()
                raise
            cert = sock.getpeercert(binary_form=True)
        client = cls(sock, name=name or f"client@{port}", auto_pong=auto_pong)
        client.peer_certificate = cert
        return client

    def close(self) -> None:
        """Close the socket (without sending QUIT)."""
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    def __enter__(self) -> "IRCClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sending ------------------------------------------------------------

    def send(self, line: Union[str, bytes]) -> None:
        """Send one line; CRLF is appended."""
        if isinstance(line, str):
            data = line.encode("utf-8")
        else:
            data = line
        assert b"\r" not in data and b"\n" not in data, (
            f"send() takes one line without CR/LF, got {data!r}")
        self.sent.append(data.decode("utf-8", "replace"))
        self.send_raw(data + b"\r\n")

    def send_raw(self, data: bytes) -> None:
        """Send bytes exactly as given (for malformed-input tests)."""
        self.sock.sendall(data)

    # -- receiving ----------------------------------------------------------

    def _read_some(self, deadline: float) -> bool:
        """
        Read from the socket until at least one full line is buffered or the
        deadline passes. Return C{False} on timeout.
        """
        while True:
            if self.closed:
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError, OSError):
                data = b""
            if not data:
                self.closed = True
                self._split_lines(final=True)
                return bool(self._pending)
            self._buffer += data
            if self._split_lines():
                return True

    def _split_lines(self, final: bool = False) -> bool:
        got = False
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            self._accept(line.rstrip(b"\r"))
            got = True
        if final and self._buffer:
            self._accept(self._buffer.rstrip(b"\r"))
            self._buffer = b""
            got = True
        return got

    def _accept(self, line: bytes) -> None:
        if not line:
            return
        msg = parse(line)
        self.history.append(msg)
        self._pending.append(msg)
        if self.auto_pong and msg.command == "PING" and not self.closed:
            token = msg.params[-1] if msg.params else ""
            try:
                self.send(f"PONG :{token}")
            except OSError:
                pass

    def _next(self, deadline: float) -> Optional[Message]:
        if not self._pending:
            self._read_some(deadline)
        if self._pending:
            msg = self._pending.pop(0)
            return msg
        return None

    def _fail(self, waiting_for: str, timeout: float, seen: list[Message]) -> None:
        __tracebackhide__ = True
        lines = "\n".join(f"    {m.raw}" for m in seen) or "    (nothing)"
        why = "connection closed by server" if self.closed else f"timed out after {timeout}s"
        cls = ConnectionClosed if self.closed else AssertionError
        raise cls(
            f"[{self.name}] {why} waiting for {waiting_for}; "
            f"lines received meanwhile:\n{lines}")

    def expect(self, what: Matcher, timeout: float = DEFAULT_TIMEOUT) -> Message:
        """
        Wait for and return the first message that matches C{what}.

        C{what} is a command or numeric (C{"PRIVMSG"}, C{"001"}), a list of
        them, or a predicate taking a L{Message}. Messages before the match
        are consumed. Raises C{AssertionError} listing those messages when
        nothing matches within C{timeout} seconds or the connection closes.
        """
        __tracebackhide__ = True
        return self.collect(what, timeout=timeout)[-1]

    def expect_numeric(self, numeric: Union[str, int],
                       timeout: float = DEFAULT_TIMEOUT) -> Message:
        """Wait for the numeric reply C{numeric} (e.g. C{"001"} or C{433})."""
        __tracebackhide__ = True
        code = f"{int(numeric):03d}" if not isinstance(numeric, str) else numeric
        return self.expect(code, timeout=timeout)

    def collect(self, until: Matcher, timeout: float = DEFAULT_TIMEOUT) -> list[Message]:
        """
        Return every message up to and including the first one matching
        C{until} (same forms as L{expect}).
        """
        __tracebackhide__ = True
        pred, name = _matcher(until)
        deadline = time.monotonic() + timeout
        seen: list[Message] = []
        while True:
            msg = self._next(deadline)
            if msg is None:
                self._fail(name, timeout, seen)
            seen.append(msg)
            if pred(msg):
                return seen

    def drain(self, timeout: float = 0.5) -> list[Message]:
        """
        Return every message that arrives within C{timeout} seconds (and
        whatever was already buffered). Never fails.
        """
        deadline = time.monotonic() + timeout
        seen: list[Message] = []
        while True:
            msg = self._next(deadline)
            if msg is None:
                return seen
            seen.append(msg)

    def assert_silent(self, what: Matcher = lambda m: True,
                      timeout: float = 0.5) -> None:
        """Fail if a message matching C{what} arrives within C{timeout}."""
        __tracebackhide__ = True
        pred, name = _matcher(what)
        got = [m for m in self.drain(timeout) if pred(m)]
        assert not got, (
            f"[{self.name}] expected no {name}, got:\n"
            + "\n".join(f"    {m.raw}" for m in got))

    def wait_closed(self, timeout: float = DEFAULT_TIMEOUT) -> list[Message]:
        """
        Wait until the server closes the connection; return the messages
        received meanwhile. Fails if it is still open after C{timeout}.
        """
        __tracebackhide__ = True
        deadline = time.monotonic() + timeout
        seen: list[Message] = []
        while not (self.closed and not self._pending):
            msg = self._next(deadline)
            if msg is None:
                if self.closed:
                    break
                lines = "\n".join(f"    {m.raw}" for m in seen) or "    (nothing)"
                raise AssertionError(
                    f"[{self.name}] connection still open after {timeout}s; "
                    f"lines received meanwhile:\n{lines}")
            seen.append(msg)
        return seen

    # -- registration -------------------------------------------------------

    def register(self, nick: str, user: Optional[str] = None,
                 realname: Optional[str] = None, password: Optional[str] = None,
                 caps: Iterable[str] = (), timeout: float = 10.0) -> list[Message]:
        """
        Register as C{nick} (PASS, CAP, NICK, USER) and return the welcome
        burst: every message up to and including the end of the MOTD (376)
        or ERR_NOMOTD (422).

        With C{caps}, negotiate them (CAP LS 302, CAP REQ, CAP END) and fail
        if the server does not ACK all of them.

        A registration error (432, 433, 436, 451, 461, 464, 465, ERROR) is an
        assertion failure that lists the lines received.
        """
        __tracebackhide__ = True
        user = user or nick.lower()
        realname = realname or f"Test user {nick}"
        caps = list(caps)
        deadline = time.monotonic() + timeout
        burst: list[Message] = []
        if password is not None:
            self.send(f"PASS :{password}")
        if caps:
            self.send("CAP LS 302")
        self.send(f"NICK {nick}")
        self.send(f"USER {user} 0 * :{realname}")
        self.nick = nick
        if caps:
            burst += self._negotiate_caps(caps, deadline, timeout)
        failures = {"432", "433", "436", "451", "461", "464", "465", "ERROR"}
        while True:
            msg = self._next(deadline)
            if msg is None:
                self._fail(f"end of welcome burst (376/422) for {nick}", timeout, burst)
            burst.append(msg)
            if msg.command in failures:
                lines = "\n".join(f"    {m.raw}" for m in burst)
                raise AssertionError(
                    f"[{self.name}] registration as {nick} failed with "
                    f"{msg.command}:\n{lines}")
            if msg.command == "001" and msg.params:
                self.nick = msg.params[0]
            if msg.command in ("376", "422"):
                return burst

    def _negotiate_caps(self, caps: list[str], deadline: float,
                        timeout: float) -> list[Message]:
        __tracebackhide__ = True
        seen: list[Message] = []
        available: set[str] = set()
        while True:
            msg = self._next(deadline)
            if msg is None:
                self._fail("CAP LS", timeout, seen)
            seen.append(msg)
            if msg.command == "CAP" and len(msg.params) >= 3 and msg.params[1].upper() == "LS":
                available.update(t.split("=", 1)[0] for t in msg.params[-1].split())
                if msg.params[2] != "*":
                    break
        missing = [c for c in caps if c not in available]
        assert not missing, (
            f"[{self.name}] server does not offer {missing}; CAP LS said "
            f"{sorted(available)}")
        self.send("CAP REQ :" + " ".join(caps))
        while True:
            msg = self._next(deadline)
            if msg is None:
                self._fail("CAP ACK/NAK", timeout, seen)
            seen.append(msg)
            if msg.command == "CAP" and len(msg.params) >= 3:
                sub = msg.params[1].upper()
                if sub == "ACK":
                    self.caps.update(msg.params[-1].split())
                    break
                if sub == "NAK":
                    raise AssertionError(
                        f"[{self.name}] CAP REQ {caps} refused: {msg.raw}")
        self.send("CAP END")
        return seen

    # -- conveniences -------------------------------------------------------

    def join(self, channel: str, timeout: float = DEFAULT_TIMEOUT) -> list[Message]:
        """
        JOIN C{channel} and return the lines up to RPL_ENDOFNAMES (366).
        An error numeric instead (403, 405, 421, 451, 461, 471, 473-476) is
        an assertion failure.
        """
        __tracebackhide__ = True
        errors = {"403", "405", "421", "451", "461", "471", "473", "474", "475", "476"}
        self.send(f"JOIN {channel}")
        lines = self.collect(
            lambda m: (m.command == "366" and len(m.params) > 1
                       and m.params[1].lower() == channel.lower())
            or m.command in errors,
            timeout=timeout)
        if lines[-1].command in errors:
            raise AssertionError(
                f"[{self.name}] JOIN {channel} refused:\n"
                + "\n".join(f"    {m.raw}" for m in lines))
        return lines

    def oper(self, name: str, password: str,
              timeout: float = DEFAULT_TIMEOUT) -> list[Message]:
        """OPER and return the lines up to RPL_YOUREOPER (381); 464 or 491
        instead is an assertion failure."""
        __tracebackhide__ = True
        self.send(f"OPER {name} {password}")
        lines = self.collect(["381", "464", "491", "461", "421"], timeout=timeout)
        if lines[-1].command != "381":
            raise AssertionError(
                f"[{self.name}] OPER {name} refused:\n"
                + "\n".join(f"    {m.raw}" for m in lines))
        return lines

    def quit(self, reason: str = "bye", timeout: float = DEFAULT_TIMEOUT) -> list[Message]:
        """Send QUIT and wait for the server to close the connection."""
        self.send(f"QUIT :{reason}")
        try:
            return self.wait_closed(timeout)
        finally:
            self.close()


def connect(host: str, port: int, timeout: float = DEFAULT_TIMEOUT,
            name: Optional[str] = None) -> IRCClient:
    """Open a raw IRC connection; see L{IRCClient.connect}."""
    return IRCClient.connect(host, port, timeout=timeout, name=name)
