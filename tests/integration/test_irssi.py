"""
Interop: a real irssi, driven through tmux, talks to a real conferenceroom
process while a raw-socket client watches from the same channel.

irssi is installed with apt-get when it is missing; the test is skipped only
when neither irssi nor tmux can be made available.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.debian import require
from tests.integration.ircclient import unique_nick

TMUX = shutil.which("tmux") or "/usr/bin/tmux"
IRSSI_NICK = "irssinick"
CHANNEL = "#chat"


@pytest.fixture
def irssi_binary():
    """Path to irssi (installed on demand) after checking tmux exists too."""
    if not (os.path.exists(TMUX) or shutil.which("tmux")):
        require("tmux", "tmux")
    return require("irssi", "irssi")


class Tmux:
    """One detached tmux session on a private socket, so that only what we
    created is ever killed."""

    def __init__(self, workdir: Path):
        self.socket_name = f"crtest-{uuid.uuid4().hex[:10]}"
        self.session = "irssi"
        self.workdir = workdir
        self.started = False

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([TMUX, "-L", self.socket_name, "-f", "/dev/null", *args],
                              capture_output=True, text=True, timeout=10, check=check)

    def start(self, command: list[str], env: dict) -> None:
        self._run("new-session", "-d", "-s", self.session, "-x", "200", "-y", "50",
                  "-c", str(self.workdir),
                  *[a for k, v in env.items() for a in ("-e", f"{k}={v}")],
                  *command)
        self.started = True

    def send_line(self, text: str, check: bool = True) -> None:
        """Type C{text} literally, then Enter."""
        self._run("send-keys", "-t", self.session, "-l", text, check=check)
        self._run("send-keys", "-t", self.session, "Enter", check=check)

    def screen(self) -> str:
        proc = self._run("capture-pane", "-p", "-J", "-t", self.session, "-S", "-200",
                         check=False)
        return proc.stdout

    def wait_for_screen(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"irssi screen never showed {text!r} within {timeout}s; "
                    f"screen:\n{screen}")
            time.sleep(0.2)

    def alive(self) -> bool:
        return self.started and self._run("has-session", "-t", self.session,
                                          check=False).returncode == 0

    def socket_path(self) -> Path:
        base = os.environ.get("TMUX_TMPDIR") or "/tmp"
        return Path(base) / f"tmux-{os.getuid()}" / self.socket_name

    def kill(self) -> None:
        """Kill our session (its tmux server then exits) and remove our socket."""
        if self.started:
            self._run("kill-session", "-t", self.session, check=False)
            self.started = False
        deadline = time.monotonic() + 3
        while self._run("has-session", "-t", self.session, check=False).returncode == 0:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        try:
            self.socket_path().unlink()
        except FileNotFoundError:
            pass


@pytest.fixture
def tmux(tmp_path, request):
    """A private tmux session; on failure its screen is printed; at the end
    irssi is asked to quit and the session is killed."""
    t = Tmux(tmp_path)
    yield t
    try:
        rep = getattr(request.node, "rep_call", None)
        if t.alive() and (rep is None or rep.failed):
            print(f"\n=== irssi screen ===\n{t.screen()}")
        if t.alive():
            # irssi may be exiting already (the test sent /quit): no check.
            t.send_line("/quit interop test done", check=False)
            deadline = time.monotonic() + 3
            while t.alive() and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        t.kill()


def _irssi_home(home: Path, port: int) -> Path:
    """A throwaway irssi home whose config knows only our test server."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config").write_text(f"""
servers = (
  {{
    address = "127.0.0.1";
    chatnet = "TestNet";
    port = "{port}";
    use_tls = "no";
    tls_verify = "no";
    autoconnect = "no";
  }}
);
chatnets = {{
  TestNet = {{
    type = "IRC";
    nick = "{IRSSI_NICK}";
    username = "irssiuser";
    realname = "Irssi Interop";
  }};
}};
settings = {{
  core = {{
    real_name = "Irssi Interop";
    user_name = "irssiuser";
    nick = "{IRSSI_NICK}";
    settings_autosave = "no";
  }};
  "fe-common/core" = {{
    autolog = "no";
    timestamps = "no";
  }};
}};
""", encoding="utf-8")
    return home


def test_irssi_joins_and_chats_with_raw_client(irc_server, irc_client, irssi_binary,
                                                tmux, tmp_path):
    """
    A real irssi connects to conferenceroom and joins #chat; a raw client
    already in #chat sees irssi's JOIN and the PRIVMSG typed into irssi,
    and irssi's screen shows the raw client's reply.
    """
    srv = irc_server()
    raw_nick = unique_nick("raw")
    raw = irc_client(srv, raw_nick)
    raw.join(CHANNEL)

    home = _irssi_home(tmp_path / "irssi-home", srv.port)
    tmux.start([irssi_binary, f"--home={home}", "-c", "127.0.0.1",
                "-p", str(srv.port), "-n", IRSSI_NICK],
               env={"TERM": "screen", "LANG": "C.UTF-8", "HOME": str(home)})

    # irssi shows the 001 text once it is registered.
    tmux.wait_for_screen("Welcome", timeout=20)
    tmux.send_line(f"/join {CHANNEL}")
    join = raw.expect(lambda m: m.command == "JOIN" and m.nick == IRSSI_NICK,
                      timeout=15)
    assert join.params[0].lower() == CHANNEL, join.raw
    assert join.source.startswith(f"{IRSSI_NICK}!"), join.raw
    assert "irssiuser@" in join.source, join.raw

    # After /join the channel window is active: plain text goes to #chat.
    tmux.wait_for_screen(f"{CHANNEL}", timeout=10)
    tmux.send_line("hello from irssi")
    msg = raw.expect(lambda m: m.command == "PRIVMSG" and m.nick == IRSSI_NICK,
                     timeout=10)
    assert msg.params == [CHANNEL, "hello from irssi"], msg.raw

    raw.send(f"PRIVMSG {CHANNEL} :hello back from {raw_nick}")
    screen = tmux.wait_for_screen(f"hello back from {raw_nick}", timeout=10)
    line = next(l for l in screen.splitlines() if f"hello back from {raw_nick}" in l)
    assert raw_nick in line.replace(f"hello back from {raw_nick}", ""), (
        f"sender nick not shown on irssi's line: {line!r}")

    # irssi's own QUIT reaches the raw client with its reason.
    tmux.send_line("/quit interop done")
    quit_ = raw.expect(lambda m: m.command == "QUIT" and m.nick == IRSSI_NICK,
                       timeout=10)
    assert "interop done" in (quit_.trailing or ""), quit_.raw
