"""
A real browser as a web client: headless Chromium opens a page this test serves
on 127.0.0.1, whose script connects over WebSocket (text.ircv3.net) to a real
``twistd conferenceroom``, registers, joins, receives a plain TCP client's
message and answers it.  The test reads what the page wrote into its DOM over
Chromium's DevTools protocol.

Chromium (Debian package ``chromium``) is installed with apt-get when it is
missing; the test is skipped only when that is impossible.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.integration.conftest import free_port
from tests.integration.debian import require
from tests.integration.wsclient import TEXT, WSClient

BROWSER_NICK = "chromium1"
CHANNEL = "#browser"
DEADLINE = 60.0

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>conferenceroom web client test</title></head>
<body><div id="result">loading</div><div id="protocol"></div><pre id="log"></pre>
<script>
const result = document.getElementById("result");
const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };
const ws = new WebSocket("ws://127.0.0.1:WS_PORT/", ["text.ircv3.net"]);
ws.onopen = () => {
  document.getElementById("protocol").textContent = ws.protocol;
  result.textContent = "open";
  ws.send("NICK NICKNAME");
  ws.send("USER web 0 * :Chromium web client");
};
ws.onmessage = (event) => {
  if (typeof event.data !== "string") { result.textContent = "binary message"; return; }
  const line = event.data;
  log(line);
  const words = line.split(" ");
  if (words[0] === "PING") { ws.send("PONG " + words.slice(1).join(" ")); return; }
  if (words[1] === "001") { result.textContent = "registered"; ws.send("JOIN CHANNEL"); }
  if (words[1] === "366") { result.textContent = "joined"; }
  if (words[1] === "PRIVMSG" && words[2] === "CHANNEL") {
    const text = line.slice(line.indexOf(" :") + 2);
    ws.send("PRIVMSG CHANNEL :echo " + text);
    result.textContent = "done";
  }
};
ws.onerror = () => { result.textContent = "error"; };
ws.onclose = (event) => { log("closed " + event.code); };
</script></body></html>
"""


class PageServer:
    """The test page over HTTP on 127.0.0.1, in a thread of this process."""

    def __init__(self, page: str) -> None:
        body = page.encode("utf-8")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Chromium:
    """Headless Chromium in its own process group, with DevTools on a port it picks."""

    def __init__(self, binary: str, profile: Path, url: str) -> None:
        self.profile = profile
        self.stderr = open(profile.parent / "chromium.stderr", "wb")
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-dev-shm-usage", "--disable-extensions", "--remote-debugging-port=0",
             "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}", url],
            stdout=subprocess.DEVNULL, stderr=self.stderr, start_new_session=True)

    def devtools_port(self, timeout: float = 60.0) -> int:
        """The DevTools port Chromium wrote into its profile."""
        path = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and path.read_text().strip():
                return int(path.read_text().split()[0])
            assert self.process.poll() is None, f"chromium exited with {self.process.returncode}"
            time.sleep(0.1)
        raise AssertionError("chromium did not open its DevTools port")

    def page(self, url: str, timeout: float = 60.0) -> "DevToolsPage":
        """The DevTools connection to the tab showing ``url``."""
        port = self.devtools_port()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
                targets = json.load(answer)
            for target in targets:
                if target.get("type") == "page" and target.get("url") == url:
                    path = "/" + target["webSocketDebuggerUrl"].split("/", 3)[3]
                    return DevToolsPage(WSClient.connect("127.0.0.1", port, protocols=(), path=path))
            time.sleep(0.2)
        raise AssertionError(f"no tab showing {url}")

    def stop(self) -> None:
        """Stop the browser we started (its process group), then close its log."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.stderr.close()


class DevToolsPage:
    """Runtime.evaluate on one tab."""

    def __init__(self, client: WSClient) -> None:
        self.client = client
        self.next_id = 0

    def evaluate(self, expression: str, timeout: float = 10.0) -> object:
        """The value of ``expression`` in the page."""
        self.next_id += 1
        ident = self.next_id
        self.client.send(json.dumps({"id": ident, "method": "Runtime.evaluate",
                                     "params": {"expression": expression, "returnByValue": True}}), TEXT)
        deadline = time.monotonic() + timeout
        while True:
            frame = self.client.recv(max(0.01, deadline - time.monotonic()))
            assert frame is not None, "DevTools connection closed"
            answer = json.loads(frame[1])
            if answer.get("id") == ident:
                return answer["result"]["result"].get("value")

    def wait_for(self, expression: str, wanted: object, timeout: float = DEADLINE) -> None:
        """Poll ``expression`` until it equals ``wanted``."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value == wanted:
                return
            time.sleep(0.2)
        log = self.evaluate("document.getElementById('log').textContent")
        raise AssertionError(f"{expression} is {value!r}, not {wanted!r}; page log:\n{log}")


@pytest.fixture
def chromium_binary():
    """Path to chromium (installed on demand)."""
    return require("chromium", "chromium")


def test_browser_web_client(chromium_binary, irc_server, irc_client, tmp_path) -> None:
    """Chromium's page registers over WebSocket, joins, gets a TCP client's message (UTF-8) and answers it;
    the page's DOM shows the text subprotocol, the welcome and the message."""
    ws_port = free_port()
    srv = irc_server(["general websocket enable", f"general websocket port {ws_port}"])
    srv.wait_for_log(r"listening for WebSocket clients", timeout=10)
    bob = irc_client(srv, "bob")
    bob.join(CHANNEL)
    page = PageServer(PAGE.replace("WS_PORT", str(ws_port)).replace("NICKNAME", BROWSER_NICK)
                      .replace("CHANNEL", CHANNEL))
    browser = Chromium(chromium_binary, tmp_path / "profile", page.url)
    tab = None
    try:
        tab = browser.page(page.url)
        joined = bob.expect(lambda m: m.command == "JOIN" and m.nick == BROWSER_NICK, timeout=DEADLINE)
        assert joined.raw.startswith(f":{BROWSER_NICK}!~web@127.0.0.1 JOIN")
        bob.send(f"PRIVMSG {CHANNEL} :héllo from TCP ✓")
        echo = bob.expect(lambda m: m.command == "PRIVMSG" and m.nick == BROWSER_NICK, timeout=DEADLINE)
        assert echo.trailing == "echo héllo from TCP ✓"
        tab.wait_for("document.getElementById('result').textContent", "done")
        assert tab.evaluate("document.getElementById('protocol').textContent") == "text.ircv3.net"
        log = tab.evaluate("document.getElementById('log').textContent")
        lines = log.splitlines()
        assert lines[0].startswith(f":{srv.name} 001 {BROWSER_NICK} ")
        assert f":bob!~bob@127.0.0.1 PRIVMSG {CHANNEL} :héllo from TCP ✓" in lines
    finally:
        if tab is not None:
            tab.client.close()
        browser.stop()
        page.close()
    quit_msg = bob.expect("QUIT", timeout=15)
    assert quit_msg.nick == BROWSER_NICK
