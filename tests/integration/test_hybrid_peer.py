"""
The ircd-hybrid peer helper (tests/integration/hybrid.py), proved without our
link code: two helper-started hybrids link to each other (by CONNECT and by
autoconn) and share users, channels and messages; a raw-socket TS6 server
written here (the handshake the interop lab found hybrid 8.2.43 accepts)
links to a hybrid whose clients then see its user, channel and topic.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Optional

import pytest

from tests.integration.hybrid import (  # noqa: F401  (hybrid is a fixture)
    HOST, Connect, HybridConfig, HybridProcess, NxDomainResolver, free_port, hybrid,
)
from tests.integration.ircclient import IRCClient

LINK_PASSWORD = "test-link-secret"
LINK_TIMEOUT = 10.0
#: hybrid's first autoconn attempt comes 20-80 s after it starts (its timer)
AUTOCONN_TIMEOUT = 90.0


def whois_server(client: IRCClient, nick: str, timeout: float = LINK_TIMEOUT) -> Optional[str]:
    """Ask WHOIS until ``nick`` is known; the server name from 312 (None if never)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.send(f"WHOIS {nick}")
        lines = client.collect(["318", "401"], timeout=5.0)
        for m in lines:
            if m.command == "312" and m.params[1].lower() == nick.lower():
                return m.params[2]
        time.sleep(0.2)
    return None


def linked_pair(hybrid, autoconn: bool = False) -> tuple[HybridProcess, HybridProcess]:
    """alpha.test (hub, 1AA) and beta.test (leaf, 2BB), started, not yet linked
    (unless beta has autoconn, which links within hybrid's own timer)."""
    alpha = hybrid(HybridConfig("alpha.test", "1AA", description="hybrid hub A"), start=False)
    beta = hybrid(HybridConfig("beta.test", "2BB", hub=False, description="hybrid leaf B"),
                  start=False)
    alpha.config.server_port, beta.config.server_port = free_port(), free_port()
    alpha.config.connects.append(Connect("beta.test", beta.server_port, LINK_PASSWORD))
    beta.config.connects.append(Connect("alpha.test", alpha.server_port, LINK_PASSWORD,
                                        hub_mask=None, autoconn=autoconn))
    alpha.start()
    beta.start()
    return alpha, beta


def test_two_hybrids_link_on_connect_and_share_users_channels_and_messages(hybrid):
    """An oper's CONNECT on one helper-started hybrid links it to the other;
    then a client on each side finds the other in WHOIS (on the right server),
    sees the other's JOIN, channel messages and private messages."""
    alpha, beta = linked_pair(hybrid)
    alice = alpha.client("alice")
    boper = beta.oper_client("boper")
    assert whois_server(alice, "boper", timeout=1.0) is None, "linked before CONNECT"

    notice = beta.connect_server("alpha.test")
    assert notice.startswith("*** Notice -- Link with alpha.test[") and notice.endswith(")")
    assert whois_server(alice, "boper") == "beta.test"
    assert whois_server(boper, "alice") == "alpha.test"

    alice.join("#bridge")
    boper.join("#bridge")
    joined = alice.expect(lambda m: m.command == "JOIN" and m.nick == "boper")
    assert joined.params[0] == "#bridge"
    boper.send("PRIVMSG #bridge :hello from beta")
    said = alice.expect("PRIVMSG")
    assert (said.nick, said.params) == ("boper", ["#bridge", "hello from beta"])
    alice.send("PRIVMSG boper :hello from alpha")
    said = boper.expect("PRIVMSG")
    assert (said.nick, said.params) == ("alice", ["boper", "hello from alpha"])


def test_hybrid_with_autoconn_links_to_its_hub_by_itself(hybrid):
    """A leaf whose connect{} block has autoconn links to the hub without any
    command (hybrid tries 20-80 s after start); a client on the hub then sees
    the leaf in LINKS and its user in WHOIS."""
    alpha, beta = linked_pair(hybrid, autoconn=True)
    bob = beta.client("bob")
    watcher = alpha.client("watcher")
    assert whois_server(watcher, "bob", timeout=AUTOCONN_TIMEOUT) == "beta.test"
    watcher.send("LINKS")
    links = watcher.collect("365")
    assert {m.params[1] for m in links if m.command == "364"} == {"alpha.test", "beta.test"}
    bob.send("PRIVMSG watcher :autoconnected")
    said = watcher.expect("PRIVMSG")
    assert (said.nick, said.params[-1]) == ("bob", "autoconnected")


class FakeTS6Server:
    """A raw-socket TS6 server (SID 9FK) speaking the handshake hybrid 8.2
    accepts; a reader thread keeps every line and answers PINGs."""

    def __init__(self, port: int, name: str = "fake.test", sid: str = "9FK",
                 password: str = LINK_PASSWORD):
        self.name, self.sid, self.password = name, sid, password
        self.sock = socket.create_connection((HOST, port), timeout=5.0)
        self.lines: list[str] = []
        self.closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(f"{line}\r\n" for line in lines).encode())

    def link(self, burst: list[str]) -> None:
        """Handshake (PASS, CAPAB, SERVER, SVINFO), the burst, then EOB."""
        self.send(f"PASS {self.password}", "CAPAB :EOB CLUSTER RHOST HOP",
                  f"SERVER {self.name} 1 {self.sid} + :raw-socket TS6 test server",
                  f":{self.sid} SVINFO 6 6 0 :{int(time.time())}", *burst, f":{self.sid} EOB")

    def _read(self) -> None:
        buf = b""
        self.sock.settimeout(None)
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            buf += data
            *complete, buf = buf.split(b"\n")
            for raw in complete:
                line = raw.decode("utf-8", "replace").rstrip("\r")
                words = line.split()
                if words[:1] == ["PING"]:
                    self.send(f":{self.sid} PONG {self.name} {words[1]}")
                with self._cond:
                    self.lines.append(line)
                    self._cond.notify_all()
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def expect(self, words: list[str], timeout: float = LINK_TIMEOUT) -> str:
        """The first line whose leading words are ``words`` (``None`` matches any)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            i = 0
            while True:
                for line in self.lines[i:]:
                    got = line.split()[:len(words)]
                    if len(got) == len(words) and all(w is None or w == g for w, g in zip(words, got)):
                        return line
                i = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError(f"fake server never got {words}; got:\n  "
                                         + "\n  ".join(self.lines[-30:]))
                self._cond.wait(left)

    def close(self) -> None:
        self.sock.close()
        self._thread.join(2.0)


def test_fake_ts6_server_links_to_hybrid_and_its_user_and_channel_are_seen(hybrid):
    """A raw-socket TS6 server links to a helper-started hybrid with PASS,
    CAPAB, SERVER, SVINFO, a UID, an SJOIN with a TBURST topic and EOB, and
    answers hybrid's PING: hybrid answers with its own handshake, burst and
    EOB; a hybrid client finds the fake user on the fake server, sees its
    channel's topic and op, and messages pass both ways."""
    alpha = hybrid(HybridConfig("alpha.test", "1AA", connects=[
        Connect("fake.test", 1, LINK_PASSWORD, hub_mask=None)]))
    hank = alpha.client("hank")
    now = int(time.time())
    fake = FakeTS6Server(alpha.server_port)
    try:
        fake.link([
            f":9FK UID fiona 1 {now - 60} +i fiona fake.test 127.0.0.1 127.0.0.1 9FKAAAAAA * :Fiona on fake",
            f":9FK SJOIN {now - 60} #fakechan +nt :@9FKAAAAAA",
            f":9FK TBURST {now - 60} #fakechan {now - 30} fiona!fiona@fake.test :topic from the fake server",
        ])
        assert fake.expect(["PASS", LINK_PASSWORD]).split() == ["PASS", LINK_PASSWORD]
        assert fake.expect(["SERVER", "alpha.test", "1", "1AA"])
        assert fake.expect([":1AA", "SVINFO", "6", "6", "0"])
        assert fake.expect([":1AA", "UID", "hank"])
        fake.expect([":1AA", "EOB"])
        fake.expect(["PING"])

        assert whois_server(hank, "fiona") == "fake.test"
        joined = hank.join("#fakechan")
        topic = next(m for m in joined if m.command == "332")
        assert topic.params[-1] == "topic from the fake server"
        names = next(m for m in joined if m.command == "353")
        assert sorted(names.params[-1].split()) == ["@fiona", "hank"]
        uid = fake.expect([":1AA", "UID", "hank"]).split()[10]
        fake.expect([f":{uid}", "JOIN", None, "#fakechan"])

        fake.send(":9FKAAAAAA PRIVMSG #fakechan :hello from the fake side")
        said = hank.expect("PRIVMSG")
        assert (said.nick, said.params) == ("fiona", ["#fakechan", "hello from the fake side"])
        hank.send("PRIVMSG fiona :hello fiona")
        line = fake.expect([f":{uid}", "PRIVMSG", "9FKAAAAAA"])
        assert line.endswith(":hello fiona")
    finally:
        fake.close()


def test_fake_server_with_a_wrong_password_is_refused_with_an_error(hybrid):
    """The helper's connect{} password is enforced: a TS6 peer sending another
    password gets hybrid's ERROR and the link closes; hybrid's clients never
    see its user."""
    alpha = hybrid(HybridConfig("alpha.test", "1AA", connects=[
        Connect("fake.test", 1, LINK_PASSWORD, hub_mask=None)]))
    hank = alpha.client("hank")
    fake = FakeTS6Server(alpha.server_port, password="not-the-password")
    try:
        fake.link([f":9FK UID fiona 1 {int(time.time())} +i fiona fake.test 127.0.0.1 "
                   "127.0.0.1 9FKAAAAAA * :Fiona on fake"])
        error = fake.expect(["ERROR"])
        assert "Invalid password" in error
        hank.send("WHOIS fiona")
        assert hank.expect(["318", "401"]).command == "401"
    finally:
        fake.close()


def test_hybrid_lookups_stay_on_loopback_and_registration_is_immediate(hybrid):
    """hybrid resolves client addresses only through our NXDOMAIN responder
    on 127.0.0.1, so a client is told "Couldn't look up your hostname" and is
    welcomed within a second instead of waiting for a resolver timeout."""
    alpha = hybrid(HybridConfig("alpha.test", "1AA"))
    start = time.monotonic()
    c = alpha.client()
    c.register("quick")
    elapsed = time.monotonic() - start
    notices = [m.params[-1] for m in c.history if m.command == "NOTICE"]
    assert "*** Couldn't look up your hostname" in notices
    assert elapsed < 1.0, f"registration took {elapsed:.2f}s"
    if NxDomainResolver._instance is not None:
        assert NxDomainResolver._instance.answered >= 1


def test_nxdomain_answer_echoes_the_query_and_ignores_malformed_ones():
    """The responder hybrid asks answers a PTR query with the same id and
    question, flags QR/RD/RA and rcode NXDOMAIN (3), and no records; a
    truncated query or a reply gets no answer at all."""
    question = b"\x011\x010\x010\x03127\x07in-addr\x04arpa\x00\x00\x0c\x00\x01"
    query = b"\xbe\xef\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + question
    reply = NxDomainResolver.answer(query)
    assert reply[:2] == b"\xbe\xef"
    assert reply[2:4] == b"\x81\x83"
    assert reply[4:12] == b"\x00\x01\x00\x00\x00\x00\x00\x00"
    assert reply[12:] == question
    assert NxDomainResolver.answer(query[:20]) is None
    assert NxDomainResolver.answer(reply) is None


def test_stop_ends_the_hybrid_process_by_pid(hybrid):
    """stop() signals hybrid's own PID (a child of its timeout wrapper): the
    process is gone afterwards and its client port refuses connections."""
    alpha = hybrid(HybridConfig("alpha.test", "1AA"))
    pid, port = alpha.pid, alpha.port
    assert pid is not None and open(f"/proc/{pid}/comm").read().strip() == "ircd-hybrid"
    alpha.stop()
    with pytest.raises(FileNotFoundError):
        open(f"/proc/{pid}/comm").read()
    with pytest.raises(OSError):
        socket.create_connection((HOST, port), timeout=1.0).close()
