"""Start-up and logs of a real ``twistd -n conferenceroom``: no port, no server; bounded logs."""

from __future__ import annotations

import re
import socket
import subprocess
import time

import pytest

from tests.integration.conftest import HOST, ServerProcess, _check_after, free_port


class LoggingServer(ServerProcess):
    """A server process started with extra ``conferenceroom`` options (the --log-* ones)."""

    def __init__(self, *args, plugin_args: tuple[str, ...] = (), **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.plugin_args = plugin_args

    def command(self) -> list[str]:
        return super().command() + list(self.plugin_args)


@pytest.fixture
def logging_server(tmp_path):
    """Factory for LoggingServer processes, stopped by PID (and checked for tracebacks) at teardown."""
    made: list[LoggingServer] = []

    def make(*plugin_args: str, **options) -> LoggingServer:  # type: ignore[no-untyped-def]
        srv = LoggingServer(tmp_path / f"server{len(made)}", plugin_args=plugin_args, **options)
        made.append(srv)
        return srv

    yield make
    problems = []
    for srv in made:
        srv.stop()
        problems += _check_after(srv, False)
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


def test_server_exits_non_zero_when_its_only_port_is_taken(logging_server) -> None:
    """With its only port held by another socket, twistd exits with status 1 within seconds, and both
    the log and the terminal say which port could not be opened and why."""
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((HOST, port))
        holder.listen()
        srv = logging_server(port=port)
        srv.write_config()
        started = time.monotonic()
        done = subprocess.run(srv.command(), cwd=srv.directory, env=srv._env(), stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=30)
    assert done.returncode == 1
    assert time.monotonic() - started < 20
    message = (f"no client port could be opened (port {port} on {HOST}: Address already in use); stopping")
    assert f"conferenceroom: {message}" in done.stderr.decode()
    assert f"[conferenceroom.service.ConferenceRoomService#critical] {message}" in srv.read_log()
    assert "Traceback" not in done.stderr.decode() + srv.read_log()


def test_server_keeps_running_when_one_of_two_ports_is_taken(logging_server) -> None:
    """One port taken, one free: the server serves on the free one and logs why the other failed."""
    busy = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((HOST, busy))
        holder.listen()
        srv = logging_server()
        srv.extra = [f"general set ports {busy},{srv.port}"]
        srv.start()
        srv.client().register("alice")
        assert srv.is_running()
        srv.wait_for_log(rf"cannot listen on {HOST}:{busy}: .*Address already in use")
        assert "no client port could be opened" not in srv.read_log()


def refuse(srv: LoggingServer, count: int) -> int:
    """Hold one registered connection (the trigger is 1) and have ``count`` more refused;
    returns how many were refused in all."""
    for attempt in range(20):  # the start-up probe may still count for a moment
        try:
            srv.client("holder").register("holder")
            break
        except AssertionError:
            time.sleep(0.1)
    for _ in range(count):
        srv.client().wait_closed()
    return count + attempt


def test_old_log_files_are_capped(logging_server) -> None:
    """With ``--log-size 600 --log-files 2`` and 40 refused connections logged one line each
    (``--log-repeat 0``), the log has rotated yet at most two old files are kept."""
    srv = logging_server("--log-size", "600", "--log-files", "2", "--log-repeat", "0", deftrigger=1)
    srv.start()
    refuse(srv, 40)
    srv.wait_for_log(r"refused connection from")
    logs = sorted(p.name for p in srv.directory.glob("conferenceroom.log*"))
    assert logs == ["conferenceroom.log", "conferenceroom.log.1", "conferenceroom.log.2"]
    assert all(p.stat().st_size < 600 + 300 for p in srv.directory.glob("conferenceroom.log*"))


def test_refused_connections_collapse_into_a_count(logging_server) -> None:
    """With ``--log-repeat 1``, 40 refused connections are a few lines as they came plus lines
    saying how many more there were: every refusal (the start-up probe may add one) is accounted for, in well under 40 lines."""
    srv = logging_server("--log-repeat", "1", deftrigger=1)
    srv.start()
    total = refuse(srv, 40)
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in srv.read_log().splitlines() if "refused connection from 127.0.0.1" in line]
        counted = sum(int(m.group(1)) if m else 1
                      for m in (re.search(r"\(repeated (\d+) more times in [\d.]+ s\)$", line) for line in lines))
        if counted >= total or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert counted == total, lines
    assert 4 <= len(lines) <= 10
