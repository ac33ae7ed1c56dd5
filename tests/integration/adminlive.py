"""
Helpers for the live-administration integration tests: an operator who types
``AS`` commands over a real connection and collects the NOTICE replies, and
small probes of what the server does (can a client connect, register, oper).

Replies to ``AS`` are asynchronous (the command runs off the reactor thread),
but the server answers later lines only after it; so ``AS <cmd>`` followed by
``PING :<token>`` returns exactly that command's replies once the PONG comes.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import socket
import time
from pathlib import Path
from typing import Optional

from tests.integration.conftest import ADMIN_OPER, ServerProcess
from tests.integration.ircclient import IRCClient, Message, unique_nick

_tokens = itertools.count(1)
SERVER_NOTICE = "*** Notice -- "

#: Every AS command run through L{run_as} in this process, so a test can
#: check that every declared verb was typed at least once.
TYPED: list[str] = []


def run_as(client: IRCClient, command: str, timeout: float = 15.0) -> list[str]:
    """Send ``AS <command>`` and return the text of each NOTICE it got back
    (server notices to all operators left out)."""
    __tracebackhide__ = True
    token = f"as{next(_tokens)}"
    TYPED.append(command)
    client.send(f"AS {command}")
    client.send(f"PING :{token}")
    lines = client.collect(lambda m: m.command == "PONG" and m.trailing == token, timeout=timeout)
    return [m.trailing for m in lines
            if m.command == "NOTICE" and not m.trailing.startswith(SERVER_NOTICE)]


def answers(client: IRCClient, command: str, timeout: float = 5.0) -> list[Message]:
    """Send ``AS <command>`` and return every line up to our PONG (numerics too)."""
    token = f"as{next(_tokens)}"
    client.send(f"AS {command}")
    client.send(f"PING :{token}")
    return client.collect(lambda m: m.command == "PONG" and m.trailing == token, timeout=timeout)


def command_lines(path: Path) -> list[str]:
    """The command lines of a config file (no comments, no blank lines)."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.strip().startswith("#")]


def can_connect(port: int, host: str = "127.0.0.1", source: Optional[str] = None) -> bool:
    """True if ``host:port`` accepts a TCP connection (from ``source``)."""
    try:
        socket.create_connection((host, port), timeout=2,
                                 source_address=(source, 0) if source else None).close()
        return True
    except OSError:
        return False


def wait_port(port: int, up: bool = True, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    """Wait until ``port`` accepts (``up``) or refuses connections."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    while can_connect(port, host) != up:
        if time.monotonic() > deadline:
            raise AssertionError(f"port {host}:{port} still {'closed' if up else 'open'} after {timeout}s")
        time.sleep(0.1)


def attempt(port: int, nick: str, user: Optional[str] = None, source: Optional[str] = None,
            tls: bool = False, host: str = "127.0.0.1", timeout: float = 8.0) -> tuple[IRCClient, list[Message]]:
    """Connect and register; return the client and the lines up to 001, or up
    to the ERROR that refused it (then the connection is closed)."""
    __tracebackhide__ = True
    c = IRCClient.connect(host, port, name=nick, source=source, tls=tls)
    try:
        c.send(f"NICK {nick}")
        c.send(f"USER {user or nick} 0 * :live admin test")
    except OSError:  # refused at once (Z-line, SECUREONLY, trigger): the ERROR is still to be read
        pass
    try:
        lines = c.collect(lambda m: m.command in ("001", "ERROR"), timeout=timeout)
    except AssertionError:
        if not c.closed:
            raise
        lines = list(c.history)
    if lines[-1].command == "ERROR":
        c.close()
    return c, lines


def refused(lines: list[Message]) -> bool:
    """True if registration ended in an ERROR (the connection was refused):
    the last line is ERROR and no 001 came (a connection dropped without an
    ERROR, e.g. by a crash, is not a refusal)."""
    return bool(lines) and lines[-1].command == "ERROR" and not any(m.command == "001" for m in lines)


def oper_numeric(client: IRCClient, name: str, password: str) -> Message:
    """Send OPER and return the answering numeric (381, 464 or 491)."""
    client.send(f"OPER {name} {password}")
    return client.expect(["381", "464", "491"], timeout=8)


def fingerprint(der: bytes) -> str:
    """SHA-256 fingerprint as the server logs it (AA:BB:...)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def consecutive_free_ports(count: int) -> int:
    """The first of ``count`` consecutive ports that are free on 127.0.0.1."""
    for base in range(21000 + (int(time.time() * 1000) % 20000), 64000, 37):
        socks = []
        try:
            for p in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no consecutive free ports")


class Operator:
    """An ``ac`` operator on a server, reconnected when its connection is gone."""

    def __init__(self, server: ServerProcess, prefix: str = "adm"):
        self.server = server
        self.prefix = prefix
        self._client: Optional[IRCClient] = None
        self._seen = 0  # history index after the last notice() found

    @property
    def client(self) -> IRCClient:
        """The registered, opered connection (made on first use)."""
        if self._client is None or self._client.closed:
            c = IRCClient.connect(self.server.host, self.server.port, name=self.prefix)
            c.register(unique_nick(self.prefix))
            c.oper(*ADMIN_OPER[:2])
            c.drain(0.1)
            self._client = c
            self._seen = len(c.history)
        return self._client

    def __call__(self, command: str) -> list[str]:
        """Run ``AS <command>`` and return its NOTICE replies."""
        __tracebackhide__ = True
        return run_as(self.client, command)

    def one(self, command: str) -> str:
        """Run a command that answers with exactly one NOTICE; return it."""
        __tracebackhide__ = True
        got = self(command)
        assert len(got) == 1, f"AS {command}: expected one reply, got {got}"
        return got[0]

    def notice(self, text: str, timeout: float = 15.0) -> Message:
        """The next server notice containing ``text``, whether it already
        arrived among the replies of an earlier command or comes later."""
        __tracebackhide__ = True
        c = self.client
        history = c.history
        for i in range(self._seen, len(history)):
            m = history[i]
            if m.command == "NOTICE" and text in (m.trailing or ""):
                self._seen = i + 1
                return m
        m = c.expect(lambda m: m.command == "NOTICE" and text in (m.trailing or ""), timeout=timeout)
        self._seen = len(history)
        return m

    def lines(self) -> list[str]:
        """The command lines of the server's config file."""
        return command_lines(self.server.config_path)

    def text(self) -> str:
        """The server's config file as text."""
        return self.server.config_path.read_text(encoding="utf-8")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def ban_line(lines: list[str], kind: str, mask: str) -> Optional[re.Match]:
    """The canonical ``security <kind> add <mask> ...`` line, parsed, or None."""
    rx = re.compile(rf"^security {kind} add {re.escape(mask)}(?: until=(\d+))?(?: by=(\S+))?"
                    rf"(?: at=(\d+))? ?(.*)$")
    for line in lines:
        m = rx.match(line)
        if m:
            return m
    return None


def verb_of(paths: list[tuple[str, ...]], command: str) -> Optional[tuple[str, ...]]:
    """The longest declared path (keywords, ``<param>`` for a parameter)
    that the words of ``command`` start with, or None."""
    words = command.lower().split()
    best = None
    for path in paths:
        if len(path) > len(words):
            continue
        if all(p.startswith("<") or p == w for p, w in zip(path, words)):
            if best is None or len(path) > len(best):
                best = path
    return best
