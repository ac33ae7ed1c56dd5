"""
Multi-server fixtures: several real ``twistd -n conferenceroom`` processes on
127.0.0.1 linked into one network the way the manual does it.

Each server starts from a minimal bootstrap file (name, description, serial,
port, hub or leaf, the ``admin`` operator); everything about linking is then
typed as ``AS`` lines by an operator connected to that server.

``network``
    Function-scoped factory: ``network.server(name, serial, hub=True)``
    starts a server and returns a L{Node} (the process plus its operator's
    connection).  Every server is stopped by PID at teardown; a traceback in
    any log, or a server that died by itself, fails the test.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Callable, Iterable, Optional

import pytest

from tests.integration.adminlive import SERVER_NOTICE, run_as
from tests.integration.conftest import (  # noqa: F401 - the report hook is needed here too
    ADMIN_OPER, ServerProcess, _check_after, _failed, pytest_runtest_makereport,
)
from tests.integration.ircclient import IRCClient, Message, unique_nick

#: Seconds a link may take to come up (auto-connect waits up to 6 s after a drop).
LINK_TIMEOUT = 25.0


class Node:
    """One server of a test network and the operator typing its AS lines."""

    def __init__(self, proc: ServerProcess) -> None:
        self.proc = proc
        self.name = proc.name
        self.port = proc.port
        self.admin: Optional[IRCClient] = None

    def operator(self) -> IRCClient:
        """The operator's connection (registered and OPERed on first use; OPER gives +s)."""
        if self.admin is None or self.admin.sock is None:
            c = self.proc.client(f"op@{self.name}")
            c.register(unique_nick("op"))
            c.oper(ADMIN_OPER[0], ADMIN_OPER[1])
            self.admin = c
        return self.admin

    def as_(self, *commands: str) -> list[str]:
        """Type each ``AS`` command; return every reply NOTICE (a refusal fails the test)."""
        replies: list[str] = []
        for command in commands:
            got = run_as(self.operator(), command)
            bad = [r for r in got if "syntax" in r.lower() or "unknown" in r.lower() or "error" in r.lower()]
            assert not bad, f"AS {command} on {self.name} refused: {got}"
            replies += got
        return replies

    def define(self, handle: str, **fields: object) -> None:
        """``AS SERVER <handle> ADD``, then ``SET <FIELD> <value>`` for each field, then ENABLE."""
        lines = [f"server {handle} add"]
        for key, value in fields.items():
            if isinstance(value, bool):
                value = "on" if value else "off"
            lines.append(f"server {handle} set {key} {value}")
        lines.append(f"server {handle} enable")
        self.as_(*lines)

    def server_notice(self, pattern: str, timeout: float = LINK_TIMEOUT) -> str:
        """Wait for a server notice to the operator matching the regular expression *pattern*."""
        rx = re.compile(pattern)
        msg = self.operator().expect(
            lambda m: m.command == "NOTICE" and m.trailing is not None
            and m.trailing.startswith(SERVER_NOTICE) and rx.search(m.trailing[len(SERVER_NOTICE):]) is not None,
            timeout=timeout)
        return msg.trailing[len(SERVER_NOTICE):]

    def user(self, nick: str) -> IRCClient:
        """A registered client on this server."""
        c = self.proc.client(nick)
        c.register(nick)
        return c

    def __repr__(self) -> str:
        return f"<Node {self.name}:{self.port}>"


def query(client: IRCClient, line: str, end: str) -> list[Message]:
    """Send *line*; return what came back up to and including the numeric *end*."""
    client.send(line)
    return client.collect(end, timeout=10.0)


def names(client: IRCClient, channel: str) -> list[str]:
    """The nicks NAMES *channel* lists (prefixes removed), sorted."""
    found: list[str] = []
    for m in query(client, f"NAMES {channel}", "366"):
        if m.command == "353":
            found += [n.lstrip("~.@%+") for n in m.trailing.split()]
    return sorted(found)


def links(client: IRCClient) -> list[str]:
    """The server names LINKS lists, sorted."""
    return sorted(m.params[1] for m in query(client, "LINKS", "365") if m.command == "364")


def lusers(client: IRCClient) -> str:
    """The RPL_LUSERCLIENT text (``There are N users and M invisible on S servers``)."""
    return next(m.trailing for m in query(client, "LUSERS", "266") if m.command == "251")


def wait_until(check: Callable[[], bool], what: str, timeout: float = LINK_TIMEOUT) -> None:
    """Poll *check* (bounded) until it is true."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not true after {timeout:g}s")
        time.sleep(0.25)


class Network:
    """The servers of one test."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes: list[Node] = []

    def server(self, name: str, serial: str, hub: bool = True, extra: Iterable[str] = (),
               services: bool = False) -> Node:
        """Start a server from a minimal bootstrap file (``services``: run services there)."""
        proc = ServerProcess(self.root / f"{len(self.nodes)}-{name}", extra, name=name, description=f"{name.split('.')[0]} test server",
                             serial=serial, hub=hub, services=services)
        proc.reports_own_log = True
        node = Node(proc)
        self.nodes.append(node)
        proc.start()
        node.port = proc.port
        return node


@pytest.fixture
def network(tmp_path, request):
    """Factory of linked test servers; see the module docstring."""
    net = Network(tmp_path)
    yield net
    for node in net.nodes:
        node.proc.stop()
    problems: list[str] = []
    for node in net.nodes:
        problems += _check_after(node.proc, _failed(request))
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)
