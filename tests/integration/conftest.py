"""
Integration fixtures: a real ``twistd -n conferenceroom`` process per test
(or per module), on a free 127.0.0.1 port, stopped by PID.

Fixtures
========

``irc_server``
    Function-scoped factory. ``irc_server(extra=(), **options)`` writes a
    config in ``tmp_path``, starts the server, waits for its port and returns
    a L{ServerProcess}; every server it started is stopped at teardown.
    Options: C{flood} (default C{False}: ``security set flood off`` is
    written; C{True} leaves the server's flood defaults alone),
    C{deftrigger} (default 0; C{None} writes nothing), C{motd} (text, or
    C{None} for no MOTD file), C{opers} (default C{True}: the admin and
    helper opers below), C{name}, C{description}, C{network}, C{serial},
    C{hub} (C{True} hub, C{False} leaf, C{None} nothing), C{port} (default:
    a free one), C{start} (default C{True}; else call C{.start()}),
    C{services} (default C{False}: ``services disable`` is written; C{True}
    runs services with bcrypt cost C{password_cost}, 4 unless given).

``server``
    Function-scoped started server with the default config; extra lines and
    options come from ``@pytest.mark.server_config("line", ..., flood=True)``.

``shared_server``
    Module-scoped started server for read-mostly tests. A module changes its
    config by defining a module-scoped ``shared_server_config`` fixture that
    returns a dict of L{ServerProcess} keyword arguments
    (e.g. ``{"extra": ["security set flood on"]}``). Tests that share it
    should use L{ircclient.unique_nick} and their own channel names.

``irc_client``
    Function-scoped factory. ``irc_client(server)`` connects;
    ``irc_client(server, "alice")`` also registers (further keyword
    arguments go to L{IRCClient.register}). All are closed at teardown.

When a test fails, the tail of each server log it used is printed in the
captured teardown output. A server process that died by itself during a test,
or that wrote a Python traceback to its log, is an error at teardown (set
C{server.allow_tracebacks = True} for a test that expects one).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, Optional

import pytest

from tests.integration.ircclient import IRCClient

REPO_ROOT = Path(__file__).resolve().parents[2]
TWISTD = Path(sys.executable).parent / "twistd"

HOST = "127.0.0.1"
SERVER_NAME = "test.conferenceroom.local"
SERVER_DESCRIPTION = "Test server"
NETWORK = "TestNet"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

#: (oper name, plaintext password, flags) written into every default config.
ADMIN_OPER = ("admin", "adminpass", "ac")
HELPER_OPER = ("helper", "helperpass", "h")

MOTD_LINES = [
    "Welcome to the conferenceroom integration test server.",
    "This MOTD line is checked by the smoke tests.",
]
MOTD_TEXT = "\n".join(MOTD_LINES) + "\n"

TRACEBACK_MARKERS = ("Traceback (most recent call last)", "Unhandled Error")

#: a server definition's host in a config file: a test server may dial only these
_DIAL_HOST = re.compile(r"^\s*server\s+\S+\s+set\s+host\s+(\S+)", re.IGNORECASE | re.MULTILINE)
LOOPBACK_HOSTS = ("127.", "::1", "localhost")


def assert_loopback_only(config_path: Path) -> None:
    """Refuse to start a test server whose config could dial anything but loopback."""
    if not config_path.exists():
        return
    for host in _DIAL_HOST.findall(config_path.read_text(encoding="utf-8", errors="replace")):
        assert host.lower().startswith(LOOPBACK_HOSTS), (
            f"{config_path}: a test server must dial only loopback, not {host}")


def free_port(host: str = HOST) -> int:
    """A TCP port that was free a moment ago (bind port 0, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def read_log(server: "ServerProcess") -> str:
    """The server's whole log (twistd log file plus stderr) as text."""
    return server.read_log()


class ServerStartError(AssertionError):
    pass


class ServerProcess:
    """
    One ``twistd -n conferenceroom`` subprocess and its files.

    @ivar host: always 127.0.0.1.
    @ivar port: the client port it listens on.
    @ivar directory: its own folder (config, MOTD, log, data/).
    @ivar config_path: the config file (the server may rewrite it).
    @ivar log_path: the twistd log file.
    @ivar stderr_path: stdout+stderr of the process (start-up errors).
    @ivar motd_path: the MOTD file, or C{None}.
    @ivar process: the C{subprocess.Popen}, or C{None} when stopped.
    """

    def __init__(self, directory: Path, extra: Iterable[str] = (), *,
                 name: str = SERVER_NAME,
                 description: str = SERVER_DESCRIPTION,
                 network: str = NETWORK,
                 hub: Optional[bool] = True,
                 flood: bool = False,
                 deftrigger: Optional[int] = 0,
                 motd: Optional[str] = MOTD_TEXT,
                 opers: bool = True,
                 serial: Optional[str] = None,
                 port: Optional[int] = None,
                 services: bool = False,
                 password_cost: Optional[int] = 4):
        self.host = HOST
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.description = description
        self.network = network
        self.hub = hub
        self.flood = flood
        self.deftrigger = deftrigger
        self.motd = motd
        self.opers = opers
        self.serial = serial
        self.services = services
        self.password_cost = password_cost
        self.extra = list(extra)
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.config_path = self.directory / "conferenceroom.conf"
        self.log_path = self.directory / "conferenceroom.log"
        self.stderr_path = self.directory / "twistd.stderr"
        self.motd_path = self.directory / "motd.txt" if motd is not None else None
        self.process: Optional[subprocess.Popen] = None
        self.unexpected_exit: Optional[int] = None
        self.allow_tracebacks = False
        #: set by the irc_server factory, which prints the log tail itself
        self.reports_own_log = False
        self._clients: list[IRCClient] = []
        self._stderr_file = None
        self._runs = 0

    # -- config -------------------------------------------------------------

    def config_lines(self) -> list[str]:
        """The config this server is (re)started with, one AS line each."""
        lines = [
            f"general set name {self.name}",
            f"general set description {self.description}",
            f"general set network {self.network}",
            f"general set ports {self.port}",
            f"general set bindip {self.host}",
        ]
        if self.serial is not None:
            lines.append(f"general set serial {self.serial}")
        if self.hub is True:
            lines.append("general set hub")
        elif self.hub is False:
            lines.append("general set leaf")
        if self.motd_path is not None:
            lines.append(f"general set motd {self.motd_path}")
        if self.deftrigger is not None:
            lines.append(f"security set deftrigger {self.deftrigger}")
        if not self.flood:
            lines.append("security set flood off")
        if self.opers:
            for oper, password, flags in (ADMIN_OPER, HELPER_OPER):
                lines.append(f"oper {oper} add {password} {flags}")
        lines.append("services enable" if self.services else "services disable")
        if self.services and self.password_cost is not None:
            lines.append(f"services set passwordcost {self.password_cost}")
        lines.extend(self.extra)
        return lines

    def write_config(self) -> None:
        """Write the MOTD file and the config file from L{config_lines}."""
        if self.motd_path is not None:
            self.motd_path.write_text(self.motd, encoding="utf-8")
        self.config_path.write_text("\n".join(self.config_lines()) + "\n",
                                    encoding="utf-8")

    # -- process ------------------------------------------------------------

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process is not None else None

    def command(self) -> list[str]:
        return [str(TWISTD), "-n", "--pidfile=", f"--logfile={self.log_path}",
                "conferenceroom", "--config", str(self.config_path)]

    def _env(self) -> dict:
        env = dict(os.environ)
        # The editable install does not put twisted/plugins/ on the plugin
        # path; the repository root on PYTHONPATH does.
        paths = [str(REPO_ROOT)]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self, timeout: float = START_TIMEOUT, write_config: bool = True) -> None:
        """
        Start the process and wait until the port accepts connections.

        When the port was picked automatically and another process took it
        meanwhile, a new port is picked (up to three times).
        """
        attempts = 1 if self._fixed_port or not write_config else 3
        for attempt in range(attempts):
            if write_config:
                self.write_config()
            try:
                self._start_once(timeout)
                return
            except ServerStartError:
                if attempt + 1 < attempts and "Address already in use" in self.read_log():
                    self.port = free_port()
                    continue
                raise

    def _start_once(self, timeout: float) -> None:
        assert self.process is None, "server already running"
        assert_loopback_only(self.config_path)
        assert TWISTD.exists(), f"twistd not found at {TWISTD}"
        # Keep the logs of an earlier run (restart) for the traceback check.
        self._runs += 1
        for path in (self.log_path, self.stderr_path):
            if path.exists():
                path.rename(path.with_name(f"{path.name}.run{self._runs - 1}"))
        self.unexpected_exit = None
        self._stderr_file = open(self.stderr_path, "wb")
        self.process = subprocess.Popen(
            self.command(), cwd=self.directory, env=self._env(),
            stdin=subprocess.DEVNULL, stdout=self._stderr_file,
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            rc = self.process.poll()
            if rc is not None:
                self._reap()
                raise ServerStartError(
                    f"server exited with status {rc} before listening on "
                    f"{self.host}:{self.port}\n{self.describe()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self._kill()
                raise ServerStartError(
                    f"server did not accept connections on {self.host}:"
                    f"{self.port} within {timeout}s\n{self.describe()}")
            time.sleep(0.1)

    def _reap(self) -> None:
        self.process = None
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None

    def _kill(self) -> Optional[int]:
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(STOP_TIMEOUT)
        rc = proc.returncode
        self._reap()
        return rc

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> Optional[int]:
        """
        Close our clients, then stop the process by PID: SIGTERM, wait,
        SIGKILL if it is still there. Returns the exit status (C{None} if
        it was not running). Records a death we did not cause in
        C{unexpected_exit}.
        """
        self.close_clients()
        if self.process is not None and self.process.poll() is not None:
            self.unexpected_exit = self.process.returncode
        return self._kill()

    def kill(self) -> Optional[int]:
        """SIGKILL the process at once (a crash, for split tests)."""
        self.close_clients()
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(STOP_TIMEOUT)
        self._reap()
        return proc.returncode

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        """Stop and start again on the same port with the config file as it
        now is (the server may have rewritten it)."""
        self.stop()
        self.unexpected_exit = None
        self._fixed_port = True
        self.start(timeout=timeout, write_config=False)

    # -- logs ---------------------------------------------------------------

    def read_log(self) -> str:
        """The current run's twistd log plus the process's own stdout/stderr."""
        parts = []
        for path in (self.log_path, self.stderr_path):
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace")
                if text:
                    parts.append(text)
        return "\n".join(parts)

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.read_log().splitlines()[-lines:])

    def describe(self, lines: int = 80) -> str:
        """Command, config and log tail, for assertion messages."""
        config = (self.config_path.read_text(errors="replace")
                  if self.config_path.exists() else "(no config file)")
        return (f"command: {' '.join(self.command())}\n"
                f"--- config {self.config_path} ---\n{config}"
                f"--- last {lines} lines of {self.log_path.name} + "
                f"{self.stderr_path.name} ---\n"
                f"{self.log_tail(lines) or '(empty log)'}")

    def wait_for_log(self, pattern: str, timeout: float = 5.0) -> re.Match:
        """Wait until the log matches the regular expression C{pattern}."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.read_log())
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"log never matched {pattern!r} within {timeout}s\n"
                    f"{self.describe()}")
            time.sleep(0.1)

    def all_logs(self) -> str:
        """Every log this server wrote: earlier runs, twistd's own rotated
        files, the current log and stderr."""
        paths = sorted(self.directory.glob(self.log_path.name + ".*"))
        paths += sorted(self.directory.glob(self.stderr_path.name + ".*"))
        paths += [self.log_path, self.stderr_path]
        return "\n".join(p.read_text(encoding="utf-8", errors="replace")
                         for p in paths if p.exists())

    def tracebacks(self) -> list[str]:
        """Log lines (of every run) that show a Python traceback or an
        unhandled error."""
        return [line for line in self.all_logs().splitlines()
                if any(marker in line for marker in TRACEBACK_MARKERS)]

    # -- clients ------------------------------------------------------------

    def client(self, name: Optional[str] = None) -> IRCClient:
        """Connect a raw client; it is closed when the server stops."""
        c = IRCClient.connect(self.host, self.port, name=name)
        self._clients.append(c)
        return c

    def close_clients(self) -> None:
        for c in self._clients:
            c.close()
        self._clients.clear()

    def __repr__(self) -> str:
        return f"<ServerProcess {self.name} {self.host}:{self.port} pid={self.pid}>"


def _check_after(server: ServerProcess, failed: bool) -> list[str]:
    """Problems to report about a server at teardown (after stopping it)."""
    problems = []
    if failed:
        sys.stdout.write(f"\n=== {server!r} log tail ===\n{server.log_tail(120)}\n")
    if server.unexpected_exit is not None:
        problems.append(
            f"{server.name} exited by itself with status "
            f"{server.unexpected_exit} during the test")
    if not server.allow_tracebacks:
        tb = server.tracebacks()
        if tb:
            problems.append(
                f"{server.name} logged {len(tb)} traceback(s)/unhandled "
                f"error(s), first: {tb[0]}")
    return problems


def _failed(request) -> bool:
    rep = getattr(request.node, "rep_call", None)
    return rep is None or rep.failed


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "server_config(*lines, **options): extra config lines and "
        "ServerProcess options for the `server` fixture")


@pytest.fixture
def irc_server(tmp_path, request):
    """Factory: irc_server(extra=(), **options) -> started ServerProcess."""
    servers: list[ServerProcess] = []

    def make(extra: Iterable[str] = (), start: bool = True, **options) -> ServerProcess:
        srv = ServerProcess(tmp_path / f"server{len(servers)}", extra, **options)
        srv.reports_own_log = True
        servers.append(srv)
        if start:
            srv.start()
        return srv

    yield make

    for srv in servers:
        srv.stop()
    problems: list[str] = []
    for srv in servers:
        problems += _check_after(srv, _failed(request))
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture
def server(irc_server, request):
    """A started server; see ``@pytest.mark.server_config``."""
    marker = request.node.get_closest_marker("server_config")
    lines = list(marker.args) if marker else []
    options = dict(marker.kwargs) if marker else {}
    return irc_server(lines, **options)


@pytest.fixture(scope="module")
def shared_server_config():
    """Override in a module to change the shared server's options."""
    return {}


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory, shared_server_config):
    """One server for a whole module."""
    srv = ServerProcess(tmp_path_factory.mktemp("shared"), **shared_server_config)
    srv.start()
    yield srv
    srv.stop()
    problems = _check_after(srv, False)
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture
def irc_client(request):
    """Factory: irc_client(server, nick=None, **register_kwargs) -> IRCClient."""
    made: list[tuple[IRCClient, ServerProcess]] = []

    def make(srv: ServerProcess, nick: Optional[str] = None,
             name: Optional[str] = None, **register_kwargs) -> IRCClient:
        c = IRCClient.connect(srv.host, srv.port, name=name or nick)
        made.append((c, srv))
        if nick is not None:
            c.register(nick, **register_kwargs)
        return c

    yield make

    for c, _ in made:
        c.close()
    if _failed(request):
        seen = set()
        for _, srv in made:
            if id(srv) not in seen and not srv.reports_own_log:
                seen.add(id(srv))
                sys.stdout.write(
                    f"\n=== {srv!r} log tail ===\n{srv.log_tail(120)}\n")
