"""
The SSH manhole of a real ``twistd -n conferenceroom`` process, reached with
the real OpenSSH client: a wrong password is refused, an admin oper's
password or a listed key opens a Python prompt that sees the live network,
and ``AS GENERAL SET MANHOLEPORT`` moves it while the server runs.

ssh reads passwords from its terminal, so each ssh runs on a pseudo-terminal
(the ``pty`` module) that the test reads and types into, with deadlines.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import socket
import subprocess
import time
from typing import Optional, Sequence

import pytest

from tests.integration.conftest import ADMIN_OPER, HELPER_OPER, free_port
from tests.integration.debian import require

SSH_TIMEOUT = 20.0


def _ssh_binary() -> str:
    """Path of OpenSSH ``ssh``, installing openssh-client with apt when missing."""
    return require("ssh", "openssh-client")


@pytest.fixture(scope="module")
def ssh() -> str:
    """The ssh executable."""
    return _ssh_binary()


class Terminal:
    """One program on a pseudo-terminal: read until a text appears, type."""

    def __init__(self, argv: Sequence[str], timeout: float = SSH_TIMEOUT) -> None:
        self.deadline = time.monotonic() + timeout
        self.output = b""
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the program
            try:
                os.execvp(argv[0], list(argv))
            finally:
                os._exit(127)

    def expect(self, text: str) -> str:
        """Wait until *text* has appeared in the output; return all output so far."""
        __tracebackhide__ = True
        want = text.encode()
        while want not in self.output:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} never appeared; ssh printed:\n{self.text()}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO: the program ended
                data = b""
            if not data:
                raise AssertionError(f"ssh ended before {text!r}; it printed:\n{self.text()}")
            self.output += data
        return self.text()

    def type(self, text: str) -> None:
        """Type *text* (a line ends with ``\\r``, as a terminal sends Enter)."""
        os.write(self.fd, text.encode())

    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def close(self) -> None:
        """Kill the program (by its PID) and reap it."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def ssh_argv(ssh: str, port: int, user: str = ADMIN_OPER[0], key: Optional[str] = None) -> list[str]:
    """An ssh command line for the manhole on 127.0.0.1:*port*."""
    argv = [ssh, "-tt", "-F", "/dev/null",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=10", "-o", "NumberOfPasswordPrompts=1", "-p", str(port)]
    if key is None:
        argv += ["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password"]
    else:
        argv += ["-i", key, "-o", "IdentitiesOnly=yes", "-o", "PasswordAuthentication=no",
                 "-o", "PreferredAuthentications=publickey"]
    return argv + [f"{user}@127.0.0.1"]


def password_login(ssh: str, port: int, user: str, password: str) -> Terminal:
    """Start ssh, answer the password prompt, return the terminal."""
    term = Terminal(ssh_argv(ssh, port, user))
    term.expect("password:")
    term.type(password + "\n")
    return term


def manhole_server(irc_server, *extra: str, keys_file: Optional[bytes] = None):
    """A started server with the manhole on a free port; returns (server, manhole port)."""
    port = free_port()
    lines = ["general set manhole on", f"general set manholeport {port}", *extra]
    srv = irc_server(lines, start=False)
    if keys_file is not None:
        (srv.directory / "manhole_keys").write_bytes(keys_file)
    srv.start()
    srv.wait_for_log(rf"manhole listening on 127\.0\.0\.1:{port} \(SSH host key SHA256:", timeout=10)
    return srv, port


def test_password_login_and_live_prompt(irc_server, irc_client, ssh):
    """
    A wrong password is refused by ssh; the admin oper's password opens a
    prompt where ``len(network.users)`` counts the connected IRC user and
    ``show()`` lists it; both logins are logged with their reason; the host
    key is stored with mode 0600; the manhole does not listen beyond
    127.0.0.1.
    """
    srv, port = manhole_server(irc_server)
    irc_client(srv, "alice")

    term = password_login(ssh, port, ADMIN_OPER[0], "not-the-password")
    try:
        term.expect("Permission denied")
    finally:
        term.close()
    srv.wait_for_log(r"manhole login refused for 'admin' \(password\): wrong password")

    term = password_login(ssh, port, ADMIN_OPER[0], ADMIN_OPER[1])
    try:
        term.expect(">>> ")
        term.type('"users=%d" % len(network.users)\r')
        term.expect("'users=1'")
        term.type("show()\r")
        assert "alice!" in term.expect("channel(s):")
        term.type("settings.manhole.port\r")
        term.expect(f"\r\n{port}\r\n")
    finally:
        term.close()
    srv.wait_for_log(r"manhole login accepted for 'admin': password of admin oper admin")

    key_path = srv.directory / "data" / "manhole_host_ed25519"
    assert oct(key_path.stat().st_mode & 0o777) == "0o600"
    with socket.socket() as s:  # another local address of this host is refused
        s.settimeout(2)
        assert s.connect_ex(("127.0.0.2", port)) != 0


def test_non_admin_oper_refused(irc_server, ssh):
    """An oper without flag a is refused even with its right password."""
    srv, port = manhole_server(irc_server)
    term = password_login(ssh, port, HELPER_OPER[0], HELPER_OPER[1])
    try:
        term.expect("Permission denied")
    finally:
        term.close()
    srv.wait_for_log(r"manhole login refused for 'helper' \(password\): operator entry lacks flag a")


def test_access_masks_apply_over_ssh(irc_server, ssh):
    """An admin oper whose access masks do not cover 127.0.0.1 is refused over
    SSH with its right password, as OPER refuses it on IRC; a mask naming the
    login name at 127.0.0.1 lets the same password in."""
    srv, port = manhole_server(irc_server, "oper faradmin add farpass a",
                               "oper faradmin access add *@10.9.8.*",
                               "oper nearadmin add nearpass a",
                               "oper nearadmin access add nearadmin@127.0.0.1")
    term = password_login(ssh, port, "faradmin", "farpass")
    try:
        term.expect("Permission denied")
    finally:
        term.close()
    srv.wait_for_log(r"manhole login refused for 'faradmin' \(password\): host does not match")
    term = password_login(ssh, port, "nearadmin", "nearpass")
    try:
        term.expect(">>> ")
    finally:
        term.close()


def test_connection_cap(irc_server):
    """At most MAX_SESSIONS connections are open at once: one more is closed
    by the server at once, without an SSH greeting."""
    from conferenceroom.manhole import MAX_SESSIONS

    srv, port = manhole_server(irc_server)
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(MAX_SESSIONS)]
    try:
        for s in held:
            assert s.recv(64).startswith(b"SSH-2.0-")
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        with extra:
            assert extra.recv(64) == b""
        srv.wait_for_log(rf"manhole connection from 127\.0\.0\.1 refused: {MAX_SESSIONS} connections")
    finally:
        for s in held:
            s.close()
    deadline = time.monotonic() + 10
    while True:  # once they are closed, a new connection gets a greeting again
        with socket.create_connection(("127.0.0.1", port), timeout=5) as again:
            if again.recv(64).startswith(b"SSH-2.0-"):
                break
        assert time.monotonic() < deadline, "the manhole never accepted a connection again"
        time.sleep(0.2)


def test_key_login_from_authorized_keys(irc_server, ssh, tmp_path):
    """A key listed in the MANHOLEKEYS file logs in with ``ssh -i``; an unlisted one is refused."""
    keygen = require("ssh-keygen", "openssh-client")
    for name in ("listed", "other"):
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / name)],
                       check=True, timeout=30)
    srv, port = manhole_server(irc_server, "general set manholekeys manhole_keys",
                               keys_file=(tmp_path / "listed.pub").read_bytes())

    term = Terminal(ssh_argv(ssh, port, "anyone", key=str(tmp_path / "listed")))
    try:
        term.expect(">>> ")
        term.type("server_name = core.name; server_name\r")
        term.expect("'test.conferenceroom.local'")
    finally:
        term.close()
    srv.wait_for_log(r"manhole login accepted for 'anyone': public key SHA256:\S+ listed in ")

    term = Terminal(ssh_argv(ssh, port, "anyone", key=str(tmp_path / "other")))
    try:
        term.expect("Permission denied")
    finally:
        term.close()
    srv.wait_for_log(r"manhole login refused for 'anyone' \(publickey\): key SHA256:\S+ is not listed")


def test_as_command_moves_and_closes_manhole(irc_server, irc_client, ssh):
    """``AS GENERAL SET MANHOLEPORT`` moves the live manhole; ``MANHOLE off`` closes it."""
    srv, port = manhole_server(irc_server)
    oper = irc_client(srv, "boss")
    oper.oper(*ADMIN_OPER[:2])
    new_port = free_port()
    oper.send(f"AS general set manholeport {new_port}")
    oper.expect(lambda m: m.command == "NOTICE" and f"opened the manhole on 127.0.0.1:{new_port}" in m.trailing)
    srv.wait_for_log(rf"manhole listening on 127\.0\.0\.1:{new_port} ")

    term = password_login(ssh, new_port, ADMIN_OPER[0], ADMIN_OPER[1])
    try:
        term.expect(">>> ")
    finally:
        term.close()

    oper.send("AS general set manhole off")
    oper.expect(lambda m: m.command == "NOTICE" and f"closed the manhole on 127.0.0.1:{new_port}" in m.trailing)
    srv.wait_for_log(rf"manhole closed on 127\.0\.0\.1:{new_port}")
    for closed in (port, new_port):
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex(("127.0.0.1", closed)) != 0
