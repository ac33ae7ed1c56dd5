#!/usr/bin/env python3
"""Scale phases of issue 11 (stdlib only, asyncio; loopback only).

Against one running server (``--port N --pid PID``, like load.py):

1. idle     ``--idle-clients`` (20,000) clients connect and register from
            ``--workers`` loader processes (5,000 clients each at most); then
            nothing happens for ``--idle-seconds`` (20).  Reported: server CPU
            ms per connect at that scale, KiB RSS per idle client, and server
            CPU over the idle interval (ms per s, and us per client per s:
            timers must not cost per client per second).
2. bigchan  ``--big-members`` (5,000) clients JOIN one channel, at most
            ``--join-concurrency`` (50) JOINs in flight per loader: the JOIN
            storm's server CPU.  Then one more client JOINs and PARTs it
            ``--join-cycles`` (10) times (each JOIN and PART reaches every
            member; the JOIN also lists them in 353s): server CPU ms per
            JOIN+PART into it.  Then a sender sends ``--big-messages`` (100)
            PRIVMSGs, ``--repeat`` (3) times: server CPU s per 1,000 delivered
            lines (median).

With ``--network ours|hybrid`` instead (no --port), it starts ``--servers``
(20) servers of that kind linked in a tree -- a root hub, ``--hubs`` (4) hubs
below it, the other servers leaves spread over those hubs -- puts a receiver on
every server in one channel, and a sender on a leaf:

3. network  ``--net-messages`` (500) channel PRIVMSGs from the leaf, each
            relayed over all 19 links: the CPU of all servers together per
            relayed line per hop (us); then ``--rounds`` (200) sequential
            PRIVMSGs to a user three hops away (leaf -> its hub -> root ->
            another hub): median and p99 ms.

Ours are configured with the AS grammar (``server X add / set name / set
password / set host / set port / set role / set auto on / enable``), each
child dialling its parent; hybrid's with ``connect {}`` blocks and an
operator's CONNECT from each child.  Every wait is bounded (``--timeout``);
servers and loaders are stopped by their PIDs.

    python3 benchmarks/scale.py --port 16667 --pid 1234            # idle, bigchan
    python3 benchmarks/scale.py --port 16667 --pid 1234 --phases idle --idle-clients 5000
    python3 benchmarks/scale.py --network ours --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import resource
import shlex
import shutil
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import load  # noqa: E402
from load import ServerProc, cpu_delta, pct  # noqa: E402

PER_WORKER = 5000
NOFILE = 65536
#: descriptors a server keeps for itself (listeners, logs, databases, DNS)
FD_MARGIN = 200


def log(msg: str) -> None:
    print("[scale] " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Loader worker (a child process holding thousands of clients)
# ---------------------------------------------------------------------------

class Bulk(asyncio.Protocol):
    """A lean client for thousands of connections: no per-line parsing unless
    a line can matter (PING from the server, a PONG or 366 it waits for)."""

    def __init__(self, nick: str, loop, group: "Group") -> None:
        self.nick = nick
        self.loop = loop
        self.group = group
        self.transport = None
        self.tail = b""
        self.registered = loop.create_future()
        self.registered.add_done_callback(load._consume)
        self.wait_for: Optional[bytes] = None
        self.waiter = None
        self.counted = 0

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        transport.write(b"NICK %s\r\nUSER %s 0 * :scale\r\n"
                        % (self.nick.encode(), self.nick[:9].encode()))

    def data_received(self, data: bytes) -> None:
        buf = self.tail + data if self.tail else data
        cut = buf.rfind(b"\n")
        if cut < 0:
            self.tail = buf
            return
        chunk, self.tail = buf[:cut + 1], buf[cut + 1:]
        if not self.registered.done() and b" 001 " in chunk:
            self.registered.set_result(True)
        if b"PING " in chunk:
            for line in chunk.split(b"\n"):
                if line.startswith(b"PING "):
                    self.transport.write(b"PONG " + line[5:].rstrip(b"\r") + b"\r\n")
        if self.wait_for is not None and self.wait_for in chunk:
            self.wait_for = None
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(True)
        marker = self.group.marker
        if marker is not None:
            n = chunk.count(marker)
            if n:
                self.counted += n
                self.group.add(n)

    def connection_lost(self, exc) -> None:
        self.transport = None
        if not self.registered.done():
            self.registered.set_exception(ConnectionError("closed before 001: %r" % (exc,)))
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))

    def expect(self, token: bytes):
        """A future set when a chunk holds ``token``."""
        self.waiter = self.loop.create_future()
        self.waiter.add_done_callback(load._consume)
        self.wait_for = token
        return self.waiter

    def send(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)


class Group:
    """Counts marker occurrences over all of one worker's clients."""

    def __init__(self) -> None:
        self.marker: Optional[bytes] = None
        self.total = 0
        self.target = 0
        self.done = None

    def add(self, n: int) -> None:
        self.total += n
        if self.done is not None and self.total >= self.target and not self.done.done():
            self.done.set_result(True)


async def _register(host, port, nick, loop, group, deadline, attempt_timeout):
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise asyncio.TimeoutError("registration deadline")
        try:
            _, c = await asyncio.wait_for(
                loop.create_connection(lambda: Bulk(nick, loop, group), host, port),
                timeout=min(remaining, attempt_timeout))
        except (OSError, asyncio.TimeoutError):
            await asyncio.sleep(0.1)
            continue
        try:
            await asyncio.wait_for(asyncio.shield(c.registered),
                                   timeout=max(0.001, min(deadline - time.monotonic(),
                                                          attempt_timeout)))
            return c
        except (asyncio.TimeoutError, ConnectionError):
            if c.transport is not None:
                c.transport.abort()
            await asyncio.sleep(0.1)


async def _worker(args) -> int:
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + args.timeout
    group = Group()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    sem = asyncio.Semaphore(args.concurrency)
    clients: list[Bulk] = []
    errors = []

    async def one(i):
        async with sem:
            try:
                clients.append(await _register(args.host, args.port, "%s%d" % (args.tag, i),
                                               loop, group, deadline, 10.0))
            except Exception as e:   # noqa: BLE001 - counted
                errors.append(repr(e))

    await asyncio.gather(*(one(i) for i in range(args.count)))

    def say(*words):
        sys.stdout.write(" ".join(str(w) for w in words) + "\n")
        sys.stdout.flush()

    say("READY", len(clients), len(errors))
    seq = 0
    while True:
        line = await reader.readline()
        if not line:
            break
        words = line.decode().split()
        if not words:
            continue
        cmd = words[0]
        left = max(0.001, deadline - time.monotonic())
        try:
            if cmd == "JOIN":
                chan, conc = words[1].encode(), int(words[2])
                jsem = asyncio.Semaphore(conc)

                async def join(c):
                    async with jsem:
                        fut = c.expect(b" 366 ")
                        c.send(b"JOIN " + chan + b"\r\n")
                        await fut
                await asyncio.wait_for(asyncio.gather(*(join(c) for c in clients)), left)
                say("JOINED", len(clients))
            elif cmd == "SYNC":
                seq += 1
                futs = []
                for i, c in enumerate(clients):
                    token = b"sy%d.%d" % (seq, i)
                    futs.append(c.expect(token))
                    c.send(b"PING :" + token + b"\r\n")
                await asyncio.wait_for(asyncio.gather(*futs), left)
                say("SYNCED")
            elif cmd == "EXPECT":
                group.marker = b" PRIVMSG " + words[1].encode() + b" :"
                group.total = 0
                group.target = int(words[2]) * len(clients)
                group.done = loop.create_future()
                say("ARMED")
                await asyncio.wait_for(group.done, left)
                group.marker = None
                say("GOT", group.total)
            elif cmd == "QUIT":
                break
        except Exception as e:   # noqa: BLE001 - reported to the coordinator
            say("FAILED", cmd, repr(e)[:200])
    for c in clients:
        if c.transport is not None:
            c.transport.abort()
    say("BYE")
    return 0


# ---------------------------------------------------------------------------
# Coordinator side
# ---------------------------------------------------------------------------

class Worker:
    """One loader process, talked to over its stdin/stdout."""

    def __init__(self, proc) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, args, tag: str, count: int, concurrency: int, timeout: float):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, os.path.abspath(__file__), "--worker", "--host", args.host,
            "--port", str(args.port), "--count", str(count), "--tag", tag,
            "--concurrency", str(concurrency), "--timeout", str(timeout),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            preexec_fn=_raise_nofile)
        return cls(proc)

    async def read(self, timeout: float) -> list[str]:
        line = await asyncio.wait_for(self.proc.stdout.readline(), max(0.001, timeout))
        if not line:
            raise RuntimeError("loader process %d ended" % self.proc.pid)
        words = line.decode().split()
        if words and words[0] == "FAILED":
            raise RuntimeError("loader %d: %s" % (self.proc.pid, " ".join(words[1:])))
        return words

    def tell(self, *words) -> None:
        self.proc.stdin.write((" ".join(str(w) for w in words) + "\n").encode())

    async def stop(self) -> None:
        if self.proc.returncode is None:
            try:
                self.tell("QUIT")
                await asyncio.wait_for(self.proc.wait(), 10)
            except (asyncio.TimeoutError, ConnectionError, BrokenPipeError):
                pass
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def all_say(workers, timeout, want: str) -> list[list[str]]:
    got = await asyncio.gather(*(w.read(timeout) for w in workers))
    for words in got:
        if not words or words[0] != want:
            raise RuntimeError("loader said %r, expected %s" % (" ".join(words), want))
    return got


async def start_workers(args, tag, total, deadline, concurrency=100):
    """Loaders holding ``total`` registered clients; (workers, registered, errors, wall)."""
    n = max(1, math.ceil(total / PER_WORKER))
    share = [total // n + (1 if i < total % n else 0) for i in range(n)]
    t0 = time.perf_counter()
    workers = [await Worker.start(args, "%s%d_" % (tag, i), k, concurrency,
                                  deadline - time.monotonic()) for i, k in enumerate(share)]
    try:
        ready = await all_say(workers, deadline - time.monotonic(), "READY")
    except BaseException:
        await asyncio.gather(*(w.stop() for w in workers))
        raise
    wall = time.perf_counter() - t0
    return workers, sum(int(r[1]) for r in ready), sum(int(r[2]) for r in ready), wall


def open_files_limit(pid: Optional[int]) -> Optional[int]:
    """The server's soft RLIMIT_NOFILE, from /proc/PID/limits."""
    if not pid:
        return None
    try:
        with open("/proc/%d/limits" % pid) as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        return None
    return None


def idle_count(wanted: int, limit: Optional[int]) -> int:
    """How many idle clients to connect: ``wanted``, or fewer when the server
    may not open that many descriptors (keeping FD_MARGIN for its own)."""
    if limit is None:
        return wanted
    return max(1, min(wanted, limit - FD_MARGIN))


async def phase_idle(args, srv, res, tag):
    """Many idle clients: RSS per client, CPU per connect, CPU while idle."""
    deadline = time.monotonic() + args.phase_budget
    limit = open_files_limit(args.pid)
    count = idle_count(args.idle_clients, limit)
    res.update(clients=count, idle_s=args.idle_seconds, complete=False)
    if count < args.idle_clients:
        res["clients_wanted"] = args.idle_clients
        res["note"] = ("%d clients, not %d: the server may open %d files (RLIMIT_NOFILE; "
                       "raising the hard limit needs CAP_SYS_RESOURCE)"
                       % (count, args.idle_clients, limit))
    await asyncio.sleep(0.5)
    rss0 = srv.rss_kib()
    cpu0 = srv.cpu()
    workers, registered, errors, wall = await start_workers(args, tag + "i", count, deadline)
    try:
        cpu1 = srv.cpu()
        res.update(registered=registered, errors=errors, workers=len(workers),
                   connect_wall_s=wall)
        cpu, src = cpu_delta(cpu0, cpu1)
        res["cpu_source"] = src
        if cpu is not None and registered:
            res["server_cpu_ms_per_connect"] = 1000.0 * cpu / registered
        await asyncio.sleep(2.0)
        rss1 = srv.rss_kib()
        res["rss_before_kib"], res["rss_after_kib"] = rss0, rss1
        if rss0 is not None and rss1 is not None and registered:
            res["rss_kib_per_client"] = (rss1 - rss0) / registered
        res["stage"] = "idle"
        c0 = srv.cpu()
        await asyncio.sleep(args.idle_seconds)
        idle, _ = cpu_delta(c0, srv.cpu())
        if idle is not None:
            res["idle_server_cpu_s"] = idle
            res["server_cpu_ms_per_s"] = 1000.0 * idle / args.idle_seconds
            if registered:
                res["server_cpu_us_per_client_s"] = 1e6 * idle / args.idle_seconds / registered
        res["alive_after"] = srv.alive()
        res["complete"] = registered == count
        res.pop("stage", None)
    finally:
        await asyncio.gather(*(w.stop() for w in workers))


async def _cpu_of(srv, coro):
    c0 = srv.cpu()
    await coro
    return cpu_delta(c0, srv.cpu())[0]


async def phase_bigchan(args, srv, res, tag):
    """A channel of thousands: the JOIN storm, a JOIN+PART into it, fan-out."""
    deadline = time.monotonic() + args.phase_budget
    m = args.big_members
    chan = "#big%s" % tag
    res.update(members=m, complete=False, stage="register")
    workers, registered, errors, _ = await start_workers(args, tag + "g", m, deadline)
    extra = []
    try:
        res.update(registered=registered, errors=errors)
        res["stage"] = "join storm"

        async def storm():
            for w in workers:
                w.tell("JOIN", chan, args.join_concurrency)
            await all_say(workers, deadline - time.monotonic(), "JOINED")
            for w in workers:
                w.tell("SYNC")
            await all_say(workers, deadline - time.monotonic(), "SYNCED")
        t0 = time.perf_counter()
        res["join_storm_cpu_s"] = await _cpu_of(srv, storm())
        res["join_storm_wall_s"] = time.perf_counter() - t0

        async def sync():
            for w in workers:
                w.tell("SYNC")
            await all_say(workers, deadline - time.monotonic(), "SYNCED")
        res["stage"] = "join into it"
        sync_cpu = [await _cpu_of(srv, sync()) for _ in range(2)]
        res["sync_cpu_s"] = min(sync_cpu)
        joiner = await load.connect_and_register(args.host, args.port, "%sj" % tag, deadline)
        extra.append(joiner)
        state = {}

        def hook(line):
            want = state.get("want")
            if want is not None and want(line):
                fut = state.pop("fut")
                state.pop("want")
                if not fut.done():
                    fut.set_result(True)
            return True
        joiner.on_line = hook
        loop = asyncio.get_running_loop()
        me = joiner.nick.encode()

        async def wait_line(send, want):
            state["fut"] = loop.create_future()
            state["want"] = want
            fut = state["fut"]
            joiner.send(send)
            await asyncio.wait_for(fut, max(0.001, deadline - time.monotonic()))

        async def cycles():
            for _ in range(args.join_cycles):
                await wait_line(b"JOIN %s\r\n" % chan.encode(),
                                lambda ln: b" 366 " in ln)
                await wait_line(b"PART %s\r\n" % chan.encode(),
                                lambda ln: ln.startswith(b":" + me + b"!") and b" PART " in ln)
            await sync()
        cyc = await _cpu_of(srv, cycles())
        if cyc is not None:
            res["join_cpu_ms"] = 1000.0 * max(0.0, cyc - res["sync_cpu_s"]) / args.join_cycles
        joiner.on_line = None

        res["stage"] = "fanout"
        sender = await load.connect_and_register(args.host, args.port, "%ss" % tag, deadline)
        extra.append(sender)
        fut = loop.create_future()
        sender.on_line = load._join_hook(sender, fut)
        sender.send(b"JOIN %s\r\n" % chan.encode())
        await asyncio.wait_for(fut, max(0.001, deadline - time.monotonic()))
        sender.on_line = None
        await sync()
        runs = []
        payload = b"x" * 40
        for rep in range(args.repeat):
            for w in workers:
                w.tell("EXPECT", chan, args.big_messages)
            await all_say(workers, deadline - time.monotonic(), "ARMED")
            c0 = srv.cpu()
            t0 = time.perf_counter()
            sent = 0
            while sent < args.big_messages:
                k = min(20, args.big_messages - sent)
                sender.send(b"".join(b"PRIVMSG %s :%d %d %s\r\n"
                                     % (chan.encode(), rep, sent + j, payload)
                                     for j in range(k)))
                sent += k
                await load.ping(sender, deadline)
            got = await all_say(workers, deadline - time.monotonic(), "GOT")
            wall = time.perf_counter() - t0
            cpu, _ = cpu_delta(c0, srv.cpu())
            delivered = sum(int(g[1]) for g in got)
            runs.append({"delivered": delivered, "wall_s": wall, "server_cpu_s": cpu,
                         "server_cpu_s_per_1000_lines":
                             cpu / (delivered / 1000.0) if cpu is not None and delivered
                             else None})
        res["runs"] = runs
        good = [r["server_cpu_s_per_1000_lines"] for r in runs
                if r["server_cpu_s_per_1000_lines"] is not None]
        if good:
            res["server_cpu_s_per_1000_lines"] = statistics.median(good)
        res["complete"] = registered == m
        res.pop("stage", None)
    finally:
        await load.close_all(extra)
        await asyncio.gather(*(w.stop() for w in workers))


PHASES = {"idle": phase_idle, "bigchan": phase_bigchan}


async def run(args):
    srv = ServerProc(args.pid)
    tag = args.tag or "".join(random.choice(string.ascii_lowercase) for _ in range(3))
    results = {"target": "%s:%d" % (args.host, args.port), "pid": args.pid,
               "label": args.label, "phases": {}}
    start = time.monotonic()
    for name in args.phases:
        remaining = args.timeout - (time.monotonic() - start)
        if remaining <= 5:
            results["phases"][name] = {"skipped": "overall timeout"}
            continue
        if args.pid and not srv.alive():
            results["phases"][name] = {"skipped": "server process gone"}
            continue
        res = {}
        results["phases"][name] = res
        args.phase_budget = remaining - 5
        t = time.monotonic()
        try:
            await asyncio.wait_for(PHASES[name](args, srv, res, tag), timeout=remaining)
        except asyncio.TimeoutError:
            res["error"] = "timeout after %.1fs" % (time.monotonic() - t)
        except Exception as e:   # noqa: BLE001 - reported, the run goes on
            res["error"] = repr(e)[:300]
        res["phase_s"] = time.monotonic() - t
        log("%s %s: %s" % (args.label or results["target"], name, ", ".join(
            "%s=%s" % (k, "%.4g" % v if isinstance(v, float) else v)
            for k, v in sorted(res.items()) if k != "runs")))
        await asyncio.sleep(1.0)
    results["total_s"] = time.monotonic() - start
    return results


# ---------------------------------------------------------------------------
# The 20-server network
# ---------------------------------------------------------------------------

LINK_PASSWORD = "net-bench-secret"
OPER = ("bench", "benchpass")


def tree(servers: int, hubs: int) -> list[Optional[int]]:
    """parent[i] of each server: 0 is the root, 1..hubs its hubs, the rest
    leaves dealt round the hubs (or under the root when there are no hubs)."""
    hubs = max(0, min(hubs, servers - 1))
    parent: list[Optional[int]] = [None]
    for i in range(1, servers):
        if i <= hubs:
            parent.append(0)
        else:
            parent.append(1 + (i - hubs - 1) % hubs if hubs else 0)
    return parent


def three_hop_pair(parent: list[Optional[int]], hubs: int) -> tuple[int, int]:
    """(a leaf under hub 1, hub 2): leaf -> hub 1 -> root -> hub 2."""
    leaf = next(i for i in range(len(parent)) if parent[i] == 1 and i > hubs)
    return leaf, 2


def ours_conf(i: int, parent: list[Optional[int]], ports: list[int]) -> str:
    """The AS grammar for server i of the tree: children as downstream
    definitions, the parent as an upstream one it dials (auto on)."""
    children = [c for c, p in enumerate(parent) if p == i]
    lines = [f"general set name s{i}.net.bench",
             f"general set description scale network server {i}",
             f"general set serial {100 + i}-0000-001",
             f"general set ports {ports[i]}",
             "general set bindip 127.0.0.1",
             "general set hub" if children or i == 0 else "general set leaf",
             "security set flood off", "security set deftrigger 0", "services disable",
             f"oper {OPER[0]} add {OPER[1]} ac"]
    for c in children:
        lines += [f"server s{c} add", f"server s{c} set name s{c}.net.bench",
                  f"server s{c} set password {LINK_PASSWORD}",
                  f"server s{c} set role {'hub' if any(p == c for p in parent) else 'leaf'}",
                  f"server s{c} enable"]
    p = parent[i]
    if p is not None:
        lines += [f"server s{p} add", f"server s{p} set name s{p}.net.bench",
                  f"server s{p} set password {LINK_PASSWORD}",
                  "server s%d set host 127.0.0.1" % p, f"server s{p} set port {ports[p]}",
                  f"server s{p} set role hub", f"server s{p} set auto on",
                  f"server s{p} enable"]
    return "\n".join(lines) + "\n"


class Net:
    """Started servers of a network: PIDs, client ports, stop()."""

    def __init__(self, pids, ports, stop, workdir=""):
        self.pids, self.ports, self.stop, self.workdir = pids, ports, stop, workdir


def distinct_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def start_ours_net(parent, args) -> Net:
    from procs import stop_proc
    workdir = tempfile.mkdtemp(prefix="cr-scale-net-")
    ports = distinct_ports(len(parent))
    procs = []
    twistd = os.path.join(REPO, ".venv", "bin", "twistd")

    def stop():
        for p in procs:
            stop_proc(p)
    try:
        for i in range(len(parent)):
            conf = os.path.join(workdir, f"s{i}.conf")
            with open(conf, "w") as f:
                f.write(ours_conf(i, parent, ports))
            if args.ours_cmd:
                argv = [a.format(port=ports[i], conf=conf) for a in shlex.split(args.ours_cmd)]
            else:
                argv = [twistd, "-n", "--pidfile=",
                        f"--logfile={os.path.join(workdir, f's{i}.log')}",
                        "conferenceroom", "--config", conf]
            out = open(os.path.join(workdir, f"s{i}.stdout"), "wb")
            procs.append(subprocess.Popen(argv, cwd=REPO, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT,
                                          preexec_fn=_raise_nofile))
            out.close()
        for i, p in enumerate(procs):
            _wait_port(ports[i], p, 60)
    except Exception:
        stop()
        raise
    return Net([p.pid for p in procs], ports, stop, workdir)


def _wait_port(port, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server on port %d exited (rc=%s)" % (port, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nothing listening on %d after %.0fs" % (port, timeout))


def start_hybrid_net(parent, args) -> Net:
    sys.path.insert(0, REPO)
    from tests.integration import hybrid as hy
    inst = hy.install()
    n = len(parent)
    server_ports = distinct_ports(n)
    procs = []
    for i in range(n):
        children = [c for c, p in enumerate(parent) if p == i]
        connects = [hy.Connect(f"s{c}.net.bench", server_ports[c], LINK_PASSWORD,
                               hub_mask="*" if any(p == c for p in parent) else None)
                    for c in children]
        if parent[i] is not None:
            connects.append(hy.Connect(f"s{parent[i]}.net.bench", server_ports[parent[i]],
                                       LINK_PASSWORD, hub_mask="*"))
        procs.append(hy.HybridProcess(hy.HybridConfig(
            f"s{i}.net.bench", "9%s" % string.ascii_uppercase[i % 26] + "%d" % (i // 26),
            description=f"scale network server {i}", hub=bool(children) or i == 0,
            server_port=server_ports[i], oper=OPER, server_ping=600, client_ping=600,
            connects=connects), inst))

    def stop():
        for p in procs:
            p.stop()
            p.cleanup()
    try:
        for p in procs:
            p.start()
        for i in range(1, n):
            procs[i].connect_server(f"s{parent[i]}.net.bench", timeout=30)
    except Exception:
        stop()
        raise
    return Net([p.pid for p in procs], [p.port for p in procs], stop)


async def _lusers_servers(port, deadline, want, tag):
    """Wait until LUSERS on the server at ``port`` counts ``want`` servers."""
    c = await load.connect_and_register("127.0.0.1", port, "%sq" % tag, deadline)
    seen = {"n": 0}
    try:
        while time.monotonic() < deadline:
            loop = asyncio.get_running_loop()
            fut = loop.create_future()

            def hook(line):
                parts = line.split(b" ")
                if len(parts) > 2 and parts[1] == b"251":
                    words = line.split(b" :", 1)[-1].split()
                    if b"servers" in words:
                        seen["n"] = int(words[words.index(b"servers") - 1])
                    if not fut.done():
                        fut.set_result(True)
                return False
            c.on_line = hook
            c.send(b"LUSERS\r\n")
            await asyncio.wait_for(fut, max(0.001, deadline - time.monotonic()))
            if seen["n"] >= want:
                return seen["n"]
            await asyncio.sleep(0.5)
        raise RuntimeError("LUSERS counts %d servers of %d" % (seen["n"], want))
    finally:
        await load.close_all([c])


async def measure_network(net: Net, parent, args, res):
    deadline = time.monotonic() + args.timeout - 10
    tag = "".join(random.choice(string.ascii_lowercase) for _ in range(3))
    n = len(parent)
    res.update(servers=n, links=n - 1, complete=False, stage="linking")
    t0 = time.perf_counter()
    res["servers_seen"] = await _lusers_servers(net.ports[0], deadline, n, tag)
    res["link_up_s"] = time.perf_counter() - t0
    leaf, far = three_hop_pair(parent, args.hubs)
    res["three_hop_path"] = f"s{leaf} -> s{parent[leaf]} -> s0 -> s{far}"
    chan = ("#net%s" % tag).encode()
    srvs = [ServerProc(pid) for pid in net.pids]
    clients = []
    try:
        res["stage"] = "join"
        for i, port in enumerate(net.ports):
            c = await load.connect_and_register("127.0.0.1", port, "%sr%d" % (tag, i), deadline)
            clients.append(c)
            fut = asyncio.get_running_loop().create_future()
            c.on_line = load._join_hook(c, fut)
            c.send(b"JOIN %s\r\n" % chan)
            await asyncio.wait_for(fut, max(0.001, deadline - time.monotonic()))
            c.on_line = None
        sender = await load.connect_and_register("127.0.0.1", net.ports[leaf], "%ssnd" % tag,
                                                 deadline)
        clients.append(sender)
        fut = asyncio.get_running_loop().create_future()
        sender.on_line = load._join_hook(sender, fut)
        sender.send(b"JOIN %s\r\n" % chan)
        await asyncio.wait_for(fut, max(0.001, deadline - time.monotonic()))
        sender.on_line = None
        receivers = clients[:n]
        # every receiver sees the sender's JOIN before the measurement
        await asyncio.sleep(1.0)
        await load.sync_all(clients, deadline)

        res["stage"] = "relay"
        m = args.net_messages
        prefix = b":" + sender.nick.encode() + b"!"
        marker = b" PRIVMSG " + chan + b" :"
        counts = [0] * n
        done = asyncio.get_running_loop().create_future()
        left = [n]

        def make_hook(i):
            def hook(line):
                if line.startswith(prefix) and marker in line:
                    counts[i] += 1
                    if counts[i] == m:
                        left[0] -= 1
                        if left[0] == 0 and not done.done():
                            done.set_result(True)
                    return True
                return False
            return hook
        for i, c in enumerate(receivers):
            c.on_line = make_hook(i)
        c0 = [s.cpu() for s in srvs]
        t0 = time.perf_counter()
        sent = 0
        while sent < m:
            k = min(50, m - sent)
            sender.send(b"".join(b"PRIVMSG %s :%d %s\r\n" % (chan, sent + j, b"y" * 40)
                                 for j in range(k)))
            sent += k
            await load.ping(sender, deadline)
        await asyncio.wait_for(done, max(0.001, deadline - time.monotonic()))
        wall = time.perf_counter() - t0
        cpus = [cpu_delta(a, s.cpu())[0] for a, s in zip(c0, srvs)]
        total = sum(x for x in cpus if x is not None)
        res["relay_wall_s"] = wall
        res["relay_server_cpu_s"] = total
        res["delivered"] = sum(counts)
        res["server_cpu_us_per_line_hop"] = 1e6 * total / (m * (n - 1))
        res["server_cpu_us_per_message_network"] = 1e6 * total / m
        res["busiest_server_cpu_s"] = max(x for x in cpus if x is not None)
        for c in receivers:
            c.on_line = None

        res["stage"] = "three hops"
        target = receivers[far]
        got = {}

        def far_hook(line):
            tok = got.get("tok")
            if tok is not None and line.rstrip().endswith(tok):
                fut = got.pop("fut")
                got.pop("tok")
                if not fut.done():
                    fut.set_result(time.perf_counter())
                return True
            return False
        target.on_line = far_hook
        rtts = []
        tnick = target.nick.encode()
        for r in range(args.rounds):
            tok = b"hop%d" % r
            got["tok"] = tok
            got["fut"] = asyncio.get_running_loop().create_future()
            fut = got["fut"]
            t1 = time.perf_counter()
            sender.send(b"PRIVMSG " + tnick + b" :" + tok + b"\r\n")
            t2 = await asyncio.wait_for(fut, max(0.001, deadline - time.monotonic()))
            rtts.append(t2 - t1)
        res["three_hop_n"] = len(rtts)
        res["three_hop_p50_ms"] = statistics.median(rtts) * 1000
        res["three_hop_p99_ms"] = pct(rtts, 99) * 1000
        res["complete"] = True
        res.pop("stage", None)
    finally:
        await load.close_all(clients)


def run_network(args) -> dict:
    parent = tree(args.servers, args.hubs)
    res: dict = {"side": args.network}
    t = time.monotonic()
    try:
        net = (start_ours_net if args.network == "ours" else start_hybrid_net)(parent, args)
    except Exception as e:   # noqa: BLE001 - reported
        res["error"] = "could not start the network: %s" % str(e).splitlines()[0][:300]
        return {"label": args.network, "phases": {"network": res}}
    log("%s network: %d servers, pids %s" % (args.network, len(parent), net.pids))
    try:
        asyncio.run(asyncio.wait_for(measure_network(net, parent, args, res),
                                     args.timeout - (time.monotonic() - t)))
    except asyncio.TimeoutError:
        res["error"] = "timeout"
    except Exception as e:   # noqa: BLE001 - reported
        res["error"] = repr(e)[:300]
    finally:
        net.stop()
        if net.workdir:
            if res.get("complete"):
                shutil.rmtree(net.workdir, ignore_errors=True)
            else:
                res["logs"] = net.workdir
    return {"label": args.network, "phases": {"network": res}}


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

def _raise_nofile():
    """RLIMIT_NOFILE up to NOFILE (raising the hard limit too when we are root)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = NOFILE
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return
        except (ValueError, OSError):
            want = hard
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def table(results) -> str:
    out = ["scale: %s" % (results.get("label") or results.get("target"))]
    for name, p in results.get("phases", {}).items():
        for k in sorted(p):
            if k == "runs":
                continue
            v = p[k]
            out.append("  %-8s %-36s %s" % (name, k, "%.5g" % v if isinstance(v, float) else v))
    return "\n".join(out)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="Scale phases of issue 11 (loopback only).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--pid", type=int, default=None)
    ap.add_argument("--phases", default="idle,bigchan")
    ap.add_argument("--idle-clients", type=int, default=20000)
    ap.add_argument("--idle-seconds", type=float, default=20.0)
    ap.add_argument("--big-members", type=int, default=5000)
    ap.add_argument("--join-concurrency", type=int, default=50)
    ap.add_argument("--join-cycles", type=int, default=10)
    ap.add_argument("--big-messages", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--network", choices=("ours", "hybrid"), default=None,
                    help="start a network of this kind and measure it instead")
    ap.add_argument("--servers", type=int, default=20)
    ap.add_argument("--hubs", type=int, default=4)
    ap.add_argument("--net-messages", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--ours-cmd", default=None,
                    help="with --network ours: command per server ({port}, {conf})")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--tag", default=None)
    ap.add_argument("--label", default=None)
    ap.add_argument("--json", action="store_true")
    # loader worker (internal)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--concurrency", type=int, default=100, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    for p in args.phases:
        if p not in PHASES:
            ap.error("unknown phase %r" % p)
    for name, hi in (("idle_clients", 50000), ("big_members", 20000), ("servers", 40),
                     ("join_cycles", 1000), ("big_messages", 10000), ("repeat", 20),
                     ("net_messages", 100000), ("rounds", 100000)):
        if not 0 < getattr(args, name) <= hi:
            ap.error("--%s must be in 1..%d" % (name.replace("_", "-"), hi))
    if args.network and args.servers < 4:
        ap.error("--servers must be at least 4 for a three-hop path")
    if not 0 < args.timeout <= 3600:
        ap.error("--timeout must be in (0, 3600]")
    if not args.worker and not args.network and args.port is None:
        ap.error("--port (and --pid) or --network is needed")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    load.check_loopback(args.host)
    _raise_nofile()
    if args.worker:
        return asyncio.run(_worker(args))
    if args.network:
        if args.hubs < 2:
            args.hubs = 2
        results = run_network(args)
    else:
        results = asyncio.run(run(args))
    if args.json:
        json.dump(results, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
