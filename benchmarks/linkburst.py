#!/usr/bin/env python3
"""Link burst benchmark: 10,000 users in 2,000 channels bursting across one link.

For each side (ircd-hybrid 8.2 -> ircd-hybrid 8.2, then ours -> ours, in the
same run on the same machine):

1. start two servers, X (hub) and Y (leaf), on free 127.0.0.1 ports;
2. a feeder (a fake TS6 server written here, non-blocking socket) links to X
   and bursts ``--users`` UIDs and ``--channels`` channels (SJOIN with members
   spread unevenly over channels, ops and voices, +ntkmlis modes, BMASK ban and
   exception lists, TBURST topics), ends with EOB and a PING, and waits for X's
   EOB and PONG (X has then taken in all of it);
3. an operator on X sends ``CONNECT <Y>``; the clock starts;
4. an operator client on Y polls LUSERS (266 global users, 254 channels) until
   Y has every user and channel of X; the clock stops.

Reported (median of ``--repeat`` runs, 3 by default, each on fresh servers):
the time from CONNECT until Y has everything, CPU seconds used by X
and by Y in that interval (from /proc/PID/task/*/schedstat, nanoseconds, or
/proc/PID/stat ticks when the kernel lacks schedstat), the feed time, and the
ratio ours/hybrid.  ``--side hybrid`` or ``--side ours`` runs one side only.

Ours is two ``twistd -n conferenceroom`` processes configured with the AS
grammar (``server <handle> add``, ``set name/password/host/port/role``,
``enable``; ``general set hub``/``leaf``).  If our link code cannot take the
feeder's burst, or X never links to Y, that side fails with a sentence saying
which step did not happen (and the last lines seen), not a traceback.

Bounds: every wait has a timeout; a whole side is abandoned after
``--side-timeout`` (180 s).  Only 127.0.0.1.  Servers are stopped by PID.
Usage: ``make bench-link`` or ``python3 benchmarks/linkburst.py [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import select
import shlex
import shutil
import statistics
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from procs import stop_proc  # noqa: E402
from tests.integration.hybrid import (  # noqa: E402
    Connect, HybridConfig, HybridProcess, HybridUnavailable, install,
)

HOST = "127.0.0.1"
FEEDER_NAME, FEEDER_SID = "feeder.bench", "9FD"
FEED_PASSWORD = "feed-bench-secret"
LINK_PASSWORD = "link-bench-secret"
OPER = ("bench", "benchpass")
CLK_TCK = os.sysconf("SC_CLK_TCK")
UID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class SideFailed(Exception):
    """One side could not be measured; the message says which step failed."""


def log(msg: str) -> None:
    print(f"[linkburst] {msg}", file=sys.stderr, flush=True)


# -- the data set ------------------------------------------------------------------

def uid(sid: str, n: int) -> str:
    """The n-th UID of a server: SID, a letter, five base-36 digits."""
    digits = []
    for _ in range(5):
        n, r = divmod(n, 36)
        digits.append(UID_ALPHABET[r])
    return f"{sid}{UID_ALPHABET[n % 26]}{''.join(reversed(digits))}"


def burst_lines(users: int, channels: int, seed: int, now: int,
                sid: str = FEEDER_SID, server: str = FEEDER_NAME) -> list[str]:
    """The feeder's burst: UIDs, then per channel SJOIN(s), BMASK, TBURST."""
    rng = random.Random(seed)
    lines = []
    for i in range(users):
        modes = "+i" if i % 3 == 0 else "+"
        lines.append(f":{sid} UID u{i:05d} 1 {now - 86400 + i} {modes} user{i % 1000} "
                     f"h{i}.{server} h{i}.{server} 127.0.0.1 {uid(sid, i)} * :bench user {i}")
    members: list[list[int]] = [[] for _ in range(channels)]
    for i in range(users):
        if i < channels:
            members[i].append(i)            # every channel has at least one member
        for _ in range(rng.randint(0, 4)):  # about 3 channels each, skewed to low numbers
            c = int(channels * rng.random() ** 2)
            if i not in members[c][-1:]:
                members[c].append(i)
    for c in range(channels):
        name = f"#bench{c:04d}"
        ts = now - 3600 - c
        modes, params = "+nt", []
        if c % 10 == 0:
            modes, params = modes + "k", params + [f"key{c}"]
        if c % 7 == 0:
            modes, params = modes + "l", params + [str(100 + c)]
        if c % 13 == 0:
            modes += "m"
        if c % 11 == 0:
            modes += "s"
        if c % 17 == 0:
            modes += "i"
        head = f":{sid} SJOIN {ts} {name} {' '.join([modes] + params)} :"
        chunk: list[str] = []
        seen = set()
        for k, m in enumerate(members[c]):
            if m in seen:
                continue
            seen.add(m)
            roll = rng.random()
            prefix = "@" if k == 0 or roll < 0.03 else "+" if roll < 0.13 else ""
            chunk.append(prefix + uid(sid, m))
            if len(head) + sum(len(x) + 1 for x in chunk) > 480:
                lines.append(head + " ".join(chunk))
                chunk = []
        if chunk:
            lines.append(head + " ".join(chunk))
        if c % 4 == 0:
            bans = " ".join(f"*!*@ban{c}-{b}.example" for b in range(1 + c % 3))
            lines.append(f":{sid} BMASK {ts} {name} b :{bans}")
        if c % 20 == 0:
            lines.append(f":{sid} BMASK {ts} {name} e :*!*@friend{c}.example")
        if c % 2 == 0:
            setter = f"u{members[c][0]:05d}!user@h.{server}"
            lines.append(f":{sid} TBURST {ts} {name} {ts + 60} {setter} :topic of {name} for the link burst")
    return lines


# -- measuring -----------------------------------------------------------------------

def stat_cpu(pid: int) -> float:
    """utime+stime of ``pid`` from /proc/PID/stat, in seconds (clock-tick resolution)."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds(pid: int) -> tuple[float, str, float]:
    """CPU used so far by ``pid``: (best figure, its source, /proc/PID/stat figure).

    The best figure is the nanosecond sum_exec_runtime over all threads from
    /proc/PID/task/*/schedstat when the kernel has it, else the stat figure."""
    ticks = stat_cpu(pid)
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        total = 0
    return (total / 1e9, "schedstat", ticks) if total else (ticks, "stat", ticks)


class LineConn:
    """A small blocking line client with deadlines (operators and pollers)."""

    def __init__(self, port: int, what: str):
        self.what = what
        try:
            self.sock = socket.create_connection((HOST, port), timeout=5.0)
        except OSError as e:
            raise SideFailed(f"{what}: cannot connect to {HOST}:{port}: {e}") from None
        self.buf = b""
        self.seen: list[str] = []

    def send(self, line: str) -> None:
        self.sock.sendall((line + "\r\n").encode())

    def read_until(self, pred: Callable[[list[str]], bool], deadline: float, step: str) -> list[str]:
        """Lines (prefix, command, params...) until ``pred(words)``; SideFailed on timeout."""
        while True:
            while b"\n" in self.buf:
                raw, self.buf = self.buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").rstrip("\r")
                self.seen = (self.seen + [line])[-20:]
                words = line.split()
                if words[:1] == ["PING"]:
                    self.send("PONG " + " ".join(words[1:]))
                    continue
                if pred(words):
                    return words
            left = deadline - time.monotonic()
            if left <= 0:
                raise SideFailed(f"{self.what}: {step} did not happen in time; last lines: "
                                 + " | ".join(self.seen[-6:]))
            self.sock.settimeout(min(left, 1.0))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError as e:
                raise SideFailed(f"{self.what}: connection lost while waiting for {step}: {e}") from None
            if not data:
                raise SideFailed(f"{self.what}: server closed the connection while waiting for "
                                 f"{step}; last lines: " + " | ".join(self.seen[-6:]))
            self.buf += data

    def register_oper(self, nick: str, deadline: float) -> None:
        self.send(f"NICK {nick}")
        self.send(f"USER {nick} 0 * :link burst bench")
        self.read_until(lambda w: len(w) > 1 and w[1] in ("001", "433", "ERROR"), deadline,
                        "registration (001)")
        self.read_until(lambda w: len(w) > 1 and w[1] in ("376", "422"), deadline, "end of MOTD")
        self.send(f"OPER {OPER[0]} {OPER[1]}")
        w = self.read_until(lambda w: len(w) > 1 and w[1] in ("381", "464", "491"), deadline,
                            "OPER reply")
        if w[1] != "381":
            raise SideFailed(f"{self.what}: OPER {OPER[0]} refused: {' '.join(w)}")

    def lusers(self, deadline: float) -> tuple[int, int]:
        """(global users, channels) from LUSERS (266, else 251; 254)."""
        self.send("LUSERS")
        users = channels = None
        while True:
            w = self.read_until(lambda w: len(w) > 1 and w[1] in ("251", "254", "266", "263"),
                                deadline, "LUSERS reply")
            if w[1] == "263":
                raise SideFailed(f"{self.what}: LUSERS refused (263): {' '.join(w)}")
            if w[1] == "254":
                channels = int(w[3])
            elif w[1] == "251":
                m = re.search(r"There are (\d+) users and (\d+) invisible", " ".join(w))
                if m:
                    users = int(m.group(1)) + int(m.group(2))
            elif w[1] == "266":
                users = int(w[3]) if w[3].isdigit() else users
                return users or 0, channels or 0

    def channel_view(self, name: str, deadline: float) -> tuple[str, list[str]]:
        """(LIST line for ``name``, sorted NAMES with status prefixes)."""
        self.send(f"LIST {name}")
        listing = ""
        while True:
            w = self.read_until(lambda w: len(w) > 1 and w[1] in ("322", "323"), deadline, "LIST reply")
            if w[1] == "323":
                break
            listing = " ".join(w[3:])
        self.send(f"NAMES {name}")
        members: list[str] = []
        while True:
            w = self.read_until(lambda w: len(w) > 1 and w[1] in ("353", "366"), deadline, "NAMES reply")
            if w[1] == "366":
                return listing, sorted(members)
            members += [w[5].lstrip(":")] + w[6:] if len(w) > 5 else []

    def close(self) -> None:
        self.sock.close()


class Feeder:
    """The fake TS6 server that bursts the data set into X (non-blocking writes)."""

    def __init__(self, port: int, lines: list[str]):
        self.port = port
        self.payload = "".join(line + "\r\n" for line in lines).encode()
        self.sock: Optional[socket.socket] = None
        self.peer_sid: Optional[str] = None
        self.received: list[str] = []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _handle(self, line: str, out: bytearray) -> None:
        self.received = (self.received + [line])[-30:]
        w = line.split()
        if w[:1] == ["PING"]:
            out += f":{FEEDER_SID} PONG {FEEDER_NAME} {w[1]}\r\n".encode()
        elif len(w) > 1 and w[1] == "PING" and w[0].startswith(":"):
            out += f":{FEEDER_SID} PONG {FEEDER_NAME} :{w[0][1:]}\r\n".encode()
        elif w[:1] == ["SERVER"] and len(w) > 3:
            self.peer_sid = w[3]

    def feed(self, timeout: float) -> float:
        """Handshake, burst, EOB, PING; wait for X's EOB and PONG. Seconds taken."""
        handshake = (f"PASS {FEED_PASSWORD}\r\nCAPAB :EOB ENCAP TBURST CLUSTER RHOST HOP\r\n"
                     f"SERVER {FEEDER_NAME} 1 {FEEDER_SID} + :link burst feeder\r\n"
                     f":{FEEDER_SID} SVINFO 6 6 0 :{int(time.time())}\r\n").encode()
        out = bytearray(handshake + self.payload + f":{FEEDER_SID} EOB\r\nPING :{FEEDER_SID}\r\n".encode())
        start = time.monotonic()
        deadline = start + timeout
        self.sock = socket.create_connection((HOST, self.port), timeout=5.0)
        self.sock.setblocking(False)
        buf = b""
        got_eob = got_pong = False
        while not (got_eob and got_pong and not out):
            left = deadline - time.monotonic()
            if left <= 0:
                raise SideFailed(self._story("its burst was not taken in (no EOB and PONG from X)",
                                             timeout))
            r, w, _ = select.select([self.sock], [self.sock] if out else [], [], min(left, 1.0))
            if w:
                try:
                    out = out[self.sock.send(out[:1 << 20]):]
                except BlockingIOError:
                    pass
                except OSError as e:
                    raise SideFailed(self._story(f"sending failed ({e})")) from None
            if r:
                try:
                    data = self.sock.recv(1 << 20)
                except BlockingIOError:
                    continue
                except OSError as e:
                    raise SideFailed(self._story(f"connection lost ({e})")) from None
                if not data:
                    raise SideFailed(self._story("X closed the link"))
                buf += data
                *complete, buf = buf.split(b"\n")
                for raw in complete:
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    self._handle(line, out)
                    w2 = line.split()
                    if self.peer_sid and w2[:2] == [f":{self.peer_sid}", "EOB"]:
                        got_eob = True
                    if len(w2) > 1 and w2[1] == "PONG":
                        got_pong = True
                    if w2[:1] == ["ERROR"]:
                        raise SideFailed(self._story(f"X refused the link: {line}"))
                    if self.peer_sid is None and len(w2) > 1 and w2[1] in ("421", "451"):
                        raise SideFailed(self._story(
                            f"X answered the server handshake as a client ({' '.join(w2[1:])}); "
                            "it does not speak the link protocol"))
        took = time.monotonic() - start
        self._thread = threading.Thread(target=self._idle, daemon=True)
        self._thread.start()
        return took

    def _story(self, what: str, timeout: Optional[float] = None) -> str:
        last = " | ".join(self.received[-6:]) or "(nothing)"
        within = f" within {timeout:.0f}s" if timeout is not None else ""
        return f"feeder link to X: {what}{within}; last lines from X: {last}"

    def _idle(self) -> None:
        """Keep the link alive (answer PINGs) while X bursts to Y."""
        buf = b""
        while not self._stop.is_set():
            r, _, _ = select.select([self.sock], [], [], 0.2)
            if not r:
                continue
            try:
                data = self.sock.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError:
                return
            if not data:
                return
            buf += data
            *complete, buf = buf.split(b"\n")
            out = bytearray()
            for raw in complete:
                self._handle(raw.decode("utf-8", "replace").rstrip("\r"), out)
            if out:
                self.sock.setblocking(True)
                try:
                    self.sock.sendall(out)
                except OSError:
                    return
                self.sock.setblocking(False)

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(2.0)
        if self.sock:
            self.sock.close()


# -- the two sides -----------------------------------------------------------------------

@dataclass
class Result:
    side: str
    ok: bool = False
    error: str = ""
    feed_s: Optional[float] = None
    link_s: Optional[float] = None
    cpu_x: Optional[float] = None
    cpu_y: Optional[float] = None
    users_y: Optional[int] = None
    channels_y: Optional[int] = None
    cpu_x_stat: Optional[float] = None   # the same from /proc/PID/stat ticks
    cpu_y_stat: Optional[float] = None
    cpu_source: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Pair:
    """Two started servers: X (the feeder's hub) and Y (linked to X on CONNECT)."""

    x_link_port: int   # where the feeder links to X
    x_port: int        # X's client port
    y_port: int        # Y's client port
    x_pid: int
    y_pid: int
    y_name: str
    stop: Callable[[], None]
    logs: Callable[[], str]
    succeeded: Callable[[], None] = lambda: None


def measure(pair: Pair, args, side: str, deadline: float) -> Result:
    res = Result(side)
    now = int(time.time())
    lines = burst_lines(args.users, args.channels, args.seed, now)
    feeder = Feeder(pair.x_link_port, lines)
    x_oper = y_poll = None
    try:
        log(f"{side}: feeding {args.users} users / {args.channels} channels "
            f"({len(lines)} lines, {len(feeder.payload) // 1024} KiB) into X")
        res.feed_s = feeder.feed(min(args.feed_timeout, deadline - time.monotonic()))
        x_oper = LineConn(pair.x_port, f"{side} X operator")
        x_oper.register_oper("xoper", deadline)
        y_poll = LineConn(pair.y_port, f"{side} Y poller")
        y_poll.register_oper("ypoll", deadline)
        x_users, x_channels = x_oper.lusers(deadline)
        if x_users < args.users or x_channels < args.channels:
            raise SideFailed(f"X holds {x_users} users / {x_channels} channels after the feed, "
                             f"expected {args.users} / {args.channels}")
        y_users0, _ = y_poll.lusers(deadline)
        want_users = x_users + y_users0
        cx0, res.cpu_source, tx0 = cpu_seconds(pair.x_pid)
        cy0, _, ty0 = cpu_seconds(pair.y_pid)
        start = time.monotonic()
        x_oper.send(f"CONNECT {pair.y_name}")
        link_deadline = min(deadline, start + args.link_timeout)
        users = channels = 0
        while True:
            users, channels = y_poll.lusers(link_deadline)
            if users >= want_users and channels >= args.channels:
                break
            if time.monotonic() > link_deadline:
                raise SideFailed(f"X did not link to Y within {args.link_timeout:.0f}s of "
                                 f"CONNECT {pair.y_name}: Y holds {users}/{want_users} users, "
                                 f"{channels}/{args.channels} channels; X's operator saw: "
                                 + " | ".join(x_oper.seen[-4:]))
            time.sleep(args.poll)
        res.link_s = time.monotonic() - start
        cx1, _, tx1 = cpu_seconds(pair.x_pid)
        cy1, _, ty1 = cpu_seconds(pair.y_pid)
        res.cpu_x, res.cpu_y = cx1 - cx0, cy1 - cy0
        res.cpu_x_stat, res.cpu_y_stat = tx1 - tx0, ty1 - ty0
        res.users_y, res.channels_y = users, channels
        # spot check (public channels: NAMES hides +s channels and +i users from outsiders)
        for c in sorted({c for c in (1, 2, 7, 20, args.channels - 1) if c % 11 and c < args.channels}):
            name = f"#bench{c:04d}"
            seen_x = x_oper.channel_view(name, deadline)
            seen_y = y_poll.channel_view(name, deadline)
            if seen_x != seen_y or not seen_x[1]:
                raise SideFailed(f"after the burst Y's view of {name} differs from X's: "
                                 f"X has {seen_x[0]!r} with {len(seen_x[1])} members, "
                                 f"Y has {seen_y[0]!r} with {len(seen_y[1])}")
        res.ok = True
    except SideFailed as e:
        res.error = str(e)
    except OSError as e:
        res.error = f"socket error: {e}"
    finally:
        for c in (x_oper, y_poll):
            if c is not None:
                c.close()
        feeder.close()
    return res


def distinct_ports(count: int) -> list[int]:
    """``count`` different free ports: each stays bound until all are picked (two calls of
    free_port() can return the same port, and the second server then fails to listen)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def hybrid_pair(args) -> Pair:
    try:
        inst = install()
    except HybridUnavailable as e:
        raise SideFailed(f"ircd-hybrid unavailable: {e}") from None
    x_server, y_server = distinct_ports(2)
    x = HybridProcess(HybridConfig(
        "alpha.bench", "1AA", description="hybrid X", server_port=x_server,
        oper=OPER, server_ping=300, connects=[
            Connect(FEEDER_NAME, 1, FEED_PASSWORD, hub_mask=None),
            Connect("beta.bench", y_server, LINK_PASSWORD, hub_mask=None)]), inst)
    y = HybridProcess(HybridConfig(
        "beta.bench", "2BB", description="hybrid Y", hub=False, server_port=y_server,
        oper=OPER, server_ping=300, connects=[
            Connect("alpha.bench", x_server, LINK_PASSWORD, hub_mask="*")]), inst)

    def stop() -> None:
        for p in (x, y):
            p.stop()
            if not args.keep:
                p.cleanup()

    try:
        x.start()
        y.start()
    except AssertionError as e:
        stop()
        raise SideFailed(f"hybrid did not start: {str(e).splitlines()[0]}") from None
    log(f"hybrid: X pid {x.pid} ports {x.port}/{x.server_port}, Y pid {y.pid} ports "
        f"{y.port}/{y.server_port} ({inst.version()})")
    return Pair(x.server_port, x.port, y.port, x.pid, y.pid, "beta.bench", stop,
                lambda: f"X: {x.describe(30)}\nY: {y.describe(30)}")


OURS_X = """\
general set name alpha.bench
general set description ours X (hub)
general set serial 102-0000-001
general set ports {port}
general set bindip 127.0.0.1
general set hub
security set flood off
security set deftrigger 0
services disable
oper {oper} add {opass} ac
server feeder add
server feeder set name {feeder}
server feeder set password {feedpw}
server feeder set role leaf
server feeder enable
server beta add
server beta set name beta.bench
server beta set password {linkpw}
server beta set host 127.0.0.1
server beta set port {peer}
server beta set role leaf
server beta enable
"""

OURS_Y = """\
general set name beta.bench
general set description ours Y (leaf)
general set serial 101-0001-001
general set ports {port}
general set bindip 127.0.0.1
general set leaf
security set flood off
security set deftrigger 0
services disable
oper {oper} add {opass} ac
server alpha add
server alpha set name alpha.bench
server alpha set password {linkpw}
server alpha set host 127.0.0.1
server alpha set port {peer}
server alpha set role hub
server alpha enable
"""


def start_ours(template: str, port: int, peer: int, workdir: str, label: str,
               args) -> subprocess.Popen:
    conf = os.path.join(workdir, f"{label}.conf")
    with open(conf, "w") as f:
        f.write(template.format(port=port, peer=peer, oper=OPER[0], opass=OPER[1],
                                feeder=FEEDER_NAME, feedpw=FEED_PASSWORD, linkpw=LINK_PASSWORD))
    if args.ours_cmd:
        argv = [a.format(port=port, conf=conf) for a in shlex.split(args.ours_cmd)]
    else:
        argv = [os.path.join(REPO, ".venv", "bin", "twistd"), "-n", "--pidfile=",
                f"--logfile={os.path.join(workdir, label + '.log')}", "conferenceroom",
                "--config", conf]
        if not os.path.exists(argv[0]):
            raise SideFailed(f"no {argv[0]}: run `make .venv/.installed` first")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
    out = open(os.path.join(workdir, f"{label}.stdout"), "wb")
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                            stdout=out, stderr=subprocess.STDOUT)
    out.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SideFailed(f"ours {label} exited with status {proc.returncode} at start; "
                             f"see {workdir}/{label}.log")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    stop_proc(proc)
    raise SideFailed(f"ours {label} did not listen on {port} within 30s")


def ours_pair(args) -> Pair:
    workdir = tempfile.mkdtemp(prefix="cr-linkburst-")
    x_port, y_port = distinct_ports(2)
    procs: list[subprocess.Popen] = []
    ok = [False]   # set once measured: a failed run keeps its logs

    def stop() -> None:
        for p in procs:
            stop_proc(p)
        if ok[0] and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    def logs() -> str:
        parts = []
        for label in ("x", "y"):
            path = os.path.join(workdir, f"{label}.log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    parts.append(f"--- ours {label} ---\n" + "".join(f.readlines()[-30:]))
        return "\n".join(parts)

    try:
        procs.append(start_ours(OURS_X, x_port, y_port, workdir, "x", args))
        procs.append(start_ours(OURS_Y, y_port, x_port, workdir, "y", args))
    except SideFailed:
        stop()
        raise
    log(f"ours: X pid {procs[0].pid} port {x_port}, Y pid {procs[1].pid} port {y_port} "
        f"(logs in {workdir})")
    pair = Pair(x_port, x_port, y_port, procs[0].pid, procs[1].pid, "beta.bench", stop, logs)
    pair.succeeded = lambda: ok.__setitem__(0, True)
    return pair


def run_once(side: str, args) -> Result:
    deadline = time.monotonic() + args.side_timeout
    try:
        pair = hybrid_pair(args) if side == "hybrid" else ours_pair(args)
    except SideFailed as e:
        return Result(side, error=str(e))
    try:
        res = measure(pair, args, side, deadline)
        if res.ok:
            pair.succeeded()
        elif args.verbose:
            log(pair.logs())
        return res
    finally:
        pair.stop()


def run_side(side: str, args) -> tuple[Result, list[Result]]:
    """``--repeat`` runs on fresh servers; the medians (or the first failure)."""
    runs: list[Result] = []
    for i in range(args.repeat):
        res = run_once(side, args)
        runs.append(res)
        if not res.ok:
            return res, runs
        log(f"{side} run {i + 1}: link {res.link_s:.3f}s, CPU X {res.cpu_x:.3f}s, "
            f"Y {res.cpu_y:.3f}s, feed {res.feed_s:.3f}s")
    median = Result(side, ok=True, cpu_source=runs[0].cpu_source,
                    users_y=runs[-1].users_y, channels_y=runs[-1].channels_y)
    for key in ("feed_s", "link_s", "cpu_x", "cpu_y", "cpu_x_stat", "cpu_y_stat"):
        setattr(median, key, statistics.median(getattr(r, key) for r in runs))
    return median, runs


# -- report -----------------------------------------------------------------------------

def table(results: dict[str, Result], args) -> str:
    h, o = results.get("hybrid"), results.get("ours")
    rows = [("feed into X (s)", "feed_s"), ("CONNECT -> Y has all (s)", "link_s"),
            ("CPU X during link (s)", "cpu_x"), ("CPU Y during link (s)", "cpu_y"),
            ("  same, /proc/PID/stat X", "cpu_x_stat"), ("  same, /proc/PID/stat Y", "cpu_y_stat")]
    source = next((r.cpu_source for r in (h, o) if r and r.cpu_source), "/proc")
    out = [f"link burst: {args.users} users, {args.channels} channels, one link X -> Y; "
           f"median of {args.repeat} run(s); CPU from {source}",
           f"{'':28} {'hybrid->hybrid':>15} {'ours->ours':>12} {'ours/hybrid':>12}"]
    for label, key in rows:
        hv = getattr(h, key) if h and h.ok else None
        ov = getattr(o, key) if o and o.ok else None
        ratio = f"{ov / hv:.2f}" if hv and ov is not None else "-"
        out.append(f"{label:28} {_fmt(hv, h):>15} {_fmt(ov, o):>12} {ratio:>12}")
    for r in (h, o):
        if r is not None and not r.ok:
            out.append(f"{r.side}: FAILED: {r.error}")
    return "\n".join(out)


def _fmt(value: Optional[float], res: Optional[Result]) -> str:
    if res is None:
        return "(not run)"
    if not res.ok:
        return "FAILED"
    return f"{value:.3f}" if value is not None else "-"


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=10000)
    p.add_argument("--channels", type=int, default=2000)
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--side", choices=("both", "hybrid", "ours"), default="both")
    p.add_argument("--repeat", type=int, default=3, help="runs per side on fresh servers; medians")
    p.add_argument("--side-timeout", type=float, default=180.0, help="seconds per run (default 180)")
    p.add_argument("--feed-timeout", type=float, default=120.0)
    p.add_argument("--link-timeout", type=float, default=60.0)
    p.add_argument("--poll", type=float, default=0.01, help="seconds between LUSERS polls on Y")
    p.add_argument("--ours-cmd", help="start ours as CMD (with {port} and {conf})")
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("--keep", action="store_true",
                   help="keep run directories (ours keeps them anyway after a failure)")
    p.add_argument("--verbose", action="store_true", help="print server log tails on failure")
    args = p.parse_args(argv)
    if not (0 < args.users <= 100000 and 0 < args.channels <= min(args.users, 20000)):
        p.error("--users must be 1..100000 and --channels 1..min(users, 20000)")
    if not 1 <= args.repeat <= 20:
        p.error("--repeat must be 1..20")
    sides = ("hybrid", "ours") if args.side == "both" else (args.side,)
    done = {side: run_side(side, args) for side in sides}
    results = {side: median for side, (median, _) in done.items()}
    print(table(results, args))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({side: {"median": vars(median), "runs": [vars(r) for r in runs]}
                       for side, (median, runs) in done.items()}, f, indent=2)
    return 0 if all(r.ok for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
