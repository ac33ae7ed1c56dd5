#!/usr/bin/env python3
"""Load generator for IRC servers (stdlib only, asyncio).

Measures one IRC server listening on a loopback address:

1. burst    N clients connect and register at once (NICK/USER, wait for 001,
            answer PINGs): wall time, connects/s, server CPU seconds, and
            server RSS before/after (KiB per idle client).
2. fanout   R receivers + 1 sender in one channel; the sender sends M
            PRIVMSGs; measured until every receiver got all M: server CPU
            seconds per 1,000 delivered lines, and delivered lines/s.
3. latency  one client does K sequential PING->PONG round trips and K
            PRIVMSG-to-self round trips, the kinds alternating in blocks of
            100: median/p95/p99, server CPU us per round trip, and the load
            average at the start and end.
4. churn    C clients each JOIN+PART a channel of their own, then a shared
            channel, R rounds (a PING round trip every W rounds): server CPU
            ms per JOIN+PART pair (median of up to 3 runs).

Server CPU time is read from /proc/PID/stat (utime+stime, 10 ms ticks) and,
where the kernel provides it, from /proc/PID/task/*/schedstat (nanoseconds);
the finer figure is the one used for the derived metrics.

Everything is bounded: each phase by --phase-timeout and the whole run by
--timeout; on timeout the partial results gathered so far are reported.
Only loopback targets are accepted.

Example:
    python3 benchmarks/load.py --host 127.0.0.1 --port 16667 --pid 1234
    python3 benchmarks/load.py --port 16667 --pid 1234 --json
"""

import argparse
import asyncio
import ipaddress
import json
import os
import random
import resource
import socket
import statistics
import string
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------
# Server process sampling
# --------------------------------------------------------------------------

class ServerProc:
    """Reads CPU time and resident memory of the server process."""

    def __init__(self, pid):
        self.pid = pid

    def alive(self):
        return self.pid is not None and os.path.exists("/proc/%d" % self.pid)

    def cpu_ticks(self):
        """utime+stime in seconds from /proc/PID/stat (10 ms resolution)."""
        if not self.pid:
            return None
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                data = f.read()
        except OSError:
            return None
        # The command name may contain spaces: split after the last ')'.
        fields = data[data.rindex(")") + 2:].split()
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / CLK_TCK

    def cpu_precise(self):
        """Sum of sum_exec_runtime over all threads, in seconds (ns resolution)
        or None when schedstat is not available."""
        if not self.pid:
            return None
        total = 0
        try:
            tasks = os.listdir("/proc/%d/task" % self.pid)
        except OSError:
            return None
        for tid in tasks:
            try:
                with open("/proc/%d/task/%s/schedstat" % (self.pid, tid)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
        return total / 1e9 if total else None

    def cpu(self):
        """(precise_or_ticks, ticks) snapshot."""
        return (self.cpu_precise(), self.cpu_ticks())

    def rss_kib(self):
        if not self.pid:
            return None
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None


def cpu_delta(before, after):
    """Return (seconds, source) between two ServerProc.cpu() snapshots."""
    if before is None or after is None:
        return None, None
    (p0, t0), (p1, t1) = before, after
    if p0 is not None and p1 is not None:
        return p1 - p0, "schedstat"
    if t0 is not None and t1 is not None:
        return t1 - t0, "stat"
    return None, None


# --------------------------------------------------------------------------
# IRC client protocol
# --------------------------------------------------------------------------

def _consume(fut):
    if not fut.cancelled():
        fut.exception()


class Client(asyncio.Protocol):
    """A minimal IRC client.  Answers PINGs; other lines go to hooks."""

    def __init__(self, nick, loop):
        self.nick = nick
        self.loop = loop
        self.transport = None
        self.buf = b""
        self.registered = loop.create_future()
        self.closed = loop.create_future()
        self.t_connect = None
        self.t_registered = None
        self.on_line = None          # callable(line: bytes) or None
        self.waiters = {}            # token(bytes) -> future
        self.nick_tries = 0
        # Failed registrations are reported through counters; keep asyncio
        # from warning about futures whose exception nobody retrieved.
        self.registered.add_done_callback(_consume)

    # asyncio.Protocol -----------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.t_connect = time.perf_counter()
        self.send(b"NICK %s\r\nUSER %s 0 * :load\r\n"
                  % (self.nick.encode(), self.nick[:9].encode()))

    def data_received(self, data):
        buf = self.buf + data
        lines = buf.split(b"\n")
        self.buf = lines.pop()
        for line in lines:
            self.handle(line.rstrip(b"\r"))

    def connection_lost(self, exc):
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(exc)
        if not self.registered.done():
            self.registered.set_exception(
                ConnectionError("closed before registration: %r" % (exc,)))
        for fut in self.waiters.values():
            if not fut.done():
                fut.set_exception(ConnectionError("connection lost"))

    # IRC ------------------------------------------------------------------
    def send(self, data):
        if self.transport is not None:
            self.transport.write(data)

    def handle(self, line):
        if line.startswith(b"PING"):
            self.send(b"PONG" + line[4:] + b"\r\n")
            return
        hook = self.on_line
        if hook is not None and hook(line):
            return
        parts = line.split(b" ", 3)
        if len(parts) < 2:
            return
        if line.startswith(b":"):
            cmd = parts[1]
        else:
            cmd = parts[0]
        if cmd == b"001":
            if not self.registered.done():
                self.t_registered = time.perf_counter()
                self.registered.set_result(True)
        elif cmd in (b"432", b"433", b"436", b"437") and \
                not self.registered.done():
            self.nick_tries += 1
            self.nick = self.nick[:20] + random.choice(string.ascii_lowercase)
            self.send(b"NICK %s\r\n" % self.nick.encode())
        elif cmd == b"PONG" and self.waiters:
            self._wake(line)
        elif cmd == b"ERROR":
            if not self.registered.done():
                self.registered.set_exception(
                    ConnectionError(line.decode("utf-8", "replace")))

    def _wake(self, line):
        # Token is the last parameter of the line.
        token = line.rsplit(b" ", 1)[-1].lstrip(b":")
        fut = self.waiters.pop(token, None)
        if fut is not None and not fut.done():
            fut.set_result(time.perf_counter())

    def wait_token(self, token):
        fut = self.loop.create_future()
        self.waiters[token] = fut
        return fut

    def quit(self):
        if self.transport is not None:
            self.send(b"QUIT :done\r\n")
            self.transport.close()


async def open_client(host, port, nick, deadline, retries=5):
    """Connect (retrying refused/reset connects) and return the Client.
    Registration is not awaited here."""
    loop = asyncio.get_running_loop()
    last = None
    for attempt in range(retries + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(lambda: Client(nick, loop), host, port),
                timeout=remaining)
            return proto
        except (ConnectionError, OSError) as e:
            last = e
            await asyncio.sleep(min(0.05 * (attempt + 1), 0.5))
    raise ConnectionError("connect failed: %r" % (last,))


async def connect_and_register(host, port, nick, deadline, attempt_timeout=5.0,
                               stats=None):
    """Connect and register, for the (unmeasured) setup of a phase.

    A connection that is not registered within attempt_timeout is dropped
    and retried: a server whose accept queue overflowed (ngIRCd listens with
    a backlog of 10) can leave a client waiting for tens of seconds on
    SYN-ACK retransmissions."""
    last = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise last or asyncio.TimeoutError()
        c = await open_client(host, port, nick, deadline)
        try:
            await asyncio.wait_for(asyncio.shield(c.registered),
                                   timeout=max(min(remaining, attempt_timeout),
                                               0.001))
            return c
        except (asyncio.TimeoutError, ConnectionError) as e:
            last = e
            if stats is not None:
                stats["retries"] = stats.get("retries", 0) + 1
            if c.transport is not None:
                c.transport.abort()
            await asyncio.sleep(0.05)
        except BaseException:
            # Cancelled (phase timeout): do not leave the socket behind.
            if c.transport is not None:
                c.transport.abort()
            raise


async def register_many(host, port, nicks, deadline, concurrency=None):
    """Connect and register all nicks; return (clients, errors)."""
    sem = asyncio.Semaphore(concurrency) if concurrency else None
    clients = []
    errors = []

    async def one(nick):
        try:
            if sem is None:
                c = await connect_and_register(host, port, nick, deadline)
            else:
                async with sem:
                    c = await connect_and_register(host, port, nick, deadline)
            clients.append(c)
        except Exception as e:   # noqa: BLE001 - counted and reported
            errors.append(repr(e))

    await asyncio.gather(*(one(n) for n in nicks))
    return clients, errors


async def close_all(clients, timeout=5.0):
    for c in clients:
        c.quit()
    waits = [c.closed for c in clients if not c.closed.done()]
    if waits:
        await asyncio.wait(waits, timeout=timeout)
    for c in clients:
        if c.transport is not None:
            c.transport.abort()


def pct(values, q):
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(q / 100.0 * (len(s) - 1)))))
    return s[k]


# --------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------

async def phase_burst(args, srv, res, tag):
    """N clients connect and register at once."""
    n = args.clients
    res.update(clients=n, complete=False)
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + args.phase_budget
    await asyncio.sleep(0.2)                  # let the server settle
    res["rss_before_kib"] = srv.rss_kib()
    nicks = ["%sb%d" % (tag, i) for i in range(n)]
    clients = []
    errors = []
    cpu0 = srv.cpu()
    t0 = time.perf_counter()
    t_last = [t0]

    stats = {}

    async def one(nick):
        try:
            c = await connect_and_register(args.host, args.port, nick,
                                           deadline, args.reg_timeout, stats)
        except Exception as e:   # noqa: BLE001
            errors.append(repr(e))
            return
        clients.append(c)
        t_last[0] = max(t_last[0], c.t_registered)

    tasks = [loop.create_task(one(nk)) for nk in nicks]
    try:
        await asyncio.gather(*tasks)
        res["complete"] = True
    finally:
        for t in tasks:
            t.cancel()
        cpu1 = srv.cpu()
        done = [c for c in clients if c.registered.done()
                and not c.registered.cancelled()
                and c.registered.exception() is None]
        wall = (t_last[0] - t0) if done else (time.perf_counter() - t0)
        cpu, src = cpu_delta(cpu0, cpu1)
        res["registered"] = len(done)
        res["retries"] = stats.get("retries", 0)
        res["errors"] = len(errors)
        if errors:
            res["first_error"] = errors[0]
        res["wall_s"] = wall
        res["connects_per_s"] = len(done) / wall if wall > 0 else None
        res["server_cpu_s"] = cpu
        res["cpu_source"] = src
        res["server_cpu_ms_per_client"] = (1000.0 * cpu / len(done)
                                           if cpu is not None and done else None)
        regs = [c.t_registered - t0 for c in done]
        res["reg_time_p50_s"] = pct(regs, 50)
        res["reg_time_p99_s"] = pct(regs, 99)
        res["complete"] = res["complete"] and len(done) == n
        # Idle memory: let the server settle with all clients connected.
        if done:
            try:
                await asyncio.sleep(0.5)
            except asyncio.CancelledError:
                pass
        res["rss_after_kib"] = srv.rss_kib()
        if res["rss_before_kib"] is not None and res["rss_after_kib"] \
                is not None and done:
            res["rss_kib_per_client"] = ((res["rss_after_kib"]
                                          - res["rss_before_kib"]) / len(done))
        await close_all(clients)


async def phase_fanout(args, srv, res, tag):
    """R receivers in one channel; one sender sends M PRIVMSGs."""
    r, m = args.members, args.messages
    chan = ("#bench%s" % tag).encode()
    res.update(receivers=r, messages=m, complete=False)
    deadline = time.monotonic() + args.phase_budget
    payload = b"x" * max(0, args.payload)
    clients = []
    try:
        # -- setup (not measured) -----------------------------------------
        res["stage"] = "register"
        sender = await connect_and_register(args.host, args.port,
                                            "%ss" % tag, deadline,
                                            args.reg_timeout)
        clients.append(sender)
        await oper_up(args, sender, deadline)
        members, errors = await register_many(
            args.host, args.port, ["%sm%d" % (tag, i) for i in range(r)],
            deadline, concurrency=args.setup_concurrency)
        clients.extend(members)
        if errors:
            res["setup_errors"] = len(errors)
            res["first_error"] = errors[0]
        res["receivers"] = len(members)
        sender_prefix = b":" + sender.nick.encode() + b"!"
        res["stage"] = "join"
        joined = []
        for c in [sender] + members:
            fut = asyncio.get_running_loop().create_future()
            joined.append(fut)
            c.on_line = _join_hook(c, fut)
            c.send(b"JOIN %s\r\n" % chan)
        await asyncio.wait_for(asyncio.gather(*joined),
                               timeout=max(deadline - time.monotonic(), 0.001))
        # Everyone drains the JOIN storm: a PING round trip per client, so
        # the server has processed everything queued before the measurement.
        for c in [sender] + members:
            c.on_line = None
        res["stage"] = "sync"
        await sync_all([sender] + members, deadline)
        res["stage"] = "measure"

        # -- measured part: `repeat` runs of M messages ---------------------
        if not members:
            raise RuntimeError("no receivers")
        marker = b" PRIVMSG " + chan + b" :"
        loop = asyncio.get_running_loop()
        reps = []
        res["runs"] = reps
        for rep in range(args.repeat):
            run = {"counts": [0] * len(members), "t_done": None,
                   "fut": loop.create_future(), "left": len(members)}

            def make_hook(i, run=run):
                counts = run["counts"]

                def hook(line):
                    if line.startswith(sender_prefix) and marker in line:
                        counts[i] += 1
                        if counts[i] == m:
                            run["left"] -= 1
                            if run["left"] == 0:
                                run["t_done"] = time.perf_counter()
                                if not run["fut"].done():
                                    run["fut"].set_result(True)
                        return True
                    return False
                return hook

            for i, c in enumerate(members):
                c.on_line = make_hook(i)
            rec = {"rep": rep}
            reps.append(rec)
            rec["_run"] = run
            rec["_cpu0"] = srv.cpu()
            rec["_t0"] = time.perf_counter()
            window = args.window if args.window > 0 else m
            sent = 0
            while sent < m:
                k = min(window, m - sent)
                sender.send(b"".join(
                    b"PRIVMSG %s :%d %d %s\r\n" % (chan, rep, sent + j, payload)
                    for j in range(k)))
                sent += k
                if sent < m:
                    # Wait until the server has read this window.
                    await ping(sender, deadline)
            await asyncio.wait_for(
                run["fut"], timeout=max(deadline - time.monotonic(), 0.001))
            _finish_rep(rec, srv, m)
            if rep + 1 < args.repeat:
                await asyncio.sleep(0.1)
        res["complete"] = True
        res.pop("stage", None)
    finally:
        reps = res.get("runs", [])
        for rec in reps:
            if "_run" in rec:
                _finish_rep(rec, srv, m)
        good = [r for r in reps if r.get("server_cpu_s_per_1000_lines")
                is not None]
        if good:
            res["delivered"] = sum(r["delivered"] for r in reps)
            res["expected"] = len(reps) * res["receivers"] * m
            res["wall_s"] = sum(r["wall_s"] for r in reps)
            res["server_cpu_s"] = sum(r["server_cpu_s"] for r in good)
            res["cpu_source"] = good[0]["cpu_source"]
            # Median over the runs: robust against one disturbed run.
            res["lines_per_s"] = statistics.median(
                r["lines_per_s"] for r in good)
            res["server_cpu_s_per_1000_lines"] = statistics.median(
                r["server_cpu_s_per_1000_lines"] for r in good)
        await close_all(clients)


def _finish_rep(rec, srv, m):
    """Compute one fan-out run's figures (also for an interrupted run)."""
    run = rec.pop("_run")
    cpu0 = rec.pop("_cpu0")
    t0 = rec.pop("_t0")
    cpu1 = srv.cpu()
    t1 = run["t_done"] or time.perf_counter()
    delivered = sum(run["counts"])
    cpu, src = cpu_delta(cpu0, cpu1)
    wall = t1 - t0
    rec["complete"] = run["t_done"] is not None
    rec["delivered"] = delivered
    rec["wall_s"] = wall
    rec["lines_per_s"] = delivered / wall if wall > 0 else None
    rec["server_cpu_s"] = cpu
    rec["cpu_source"] = src
    rec["server_cpu_s_per_1000_lines"] = (
        cpu / (delivered / 1000.0) if cpu is not None and delivered else None)


def _join_hook(client, fut):
    def hook(line):
        parts = line.split(b" ", 3)
        if len(parts) >= 2 and parts[1] in (b"366", b"403", b"405", b"421",
                                            b"471", b"473", b"474", b"475"):
            if not fut.done():
                if parts[1] == b"366":
                    fut.set_result(True)
                else:
                    fut.set_exception(RuntimeError(
                        "JOIN failed: " + line.decode("utf-8", "replace")))
            return True
        return False
    return hook


_ping_seq = [0]


async def ping(client, deadline):
    """One PING/PONG round trip; returns the RTT in seconds."""
    _ping_seq[0] += 1
    token = b"lt%d" % _ping_seq[0]
    fut = client.wait_token(token)
    t0 = time.perf_counter()
    client.send(b"PING " + token + b"\r\n")
    t1 = await asyncio.wait_for(fut, timeout=max(deadline - time.monotonic(),
                                                 0.001))
    return t1 - t0


async def sync_all(clients, deadline):
    await asyncio.gather(*(ping(c, deadline) for c in clients))


async def oper_up(args, client, deadline):
    """Optionally OPER the client and set user modes (e.g. ngIRCd +F)."""
    if not args.oper:
        return
    name, _, password = args.oper.partition(":")
    client.send(b"OPER %s %s\r\n" % (name.encode(), password.encode()))
    if args.umode:
        client.send(b"MODE %s %s\r\n" % (client.nick.encode(),
                                         args.umode.encode()))
    await ping(client, deadline)


def load_average():
    """The machine's 1, 5 and 15 minute load averages, or None."""
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except (OSError, ValueError):
        return None


#: latency: round trips of one kind in a row before switching to the other kind
LATENCY_BLOCK = 100


async def phase_latency(args, srv, res, tag):
    """Sequential round trips: PING->PONG and PRIVMSG to self, in alternating blocks.

    The kinds alternate every LATENCY_BLOCK round trips, so a stretch of
    scheduling noise from the rest of the machine falls on both alike, and
    server CPU is read around every block (firm where p99 is noisy): server
    CPU microseconds per round trip of each kind.  The load average at the
    start and end is kept beside the figures."""
    k = args.rounds
    res.update(rounds=k, complete=False, block=LATENCY_BLOCK)
    deadline = time.monotonic() + args.phase_budget
    rtts = {"ping": [], "privmsg_self": []}
    cpu = {"ping": [], "privmsg_self": []}
    client = None
    try:
        client = await connect_and_register(args.host, args.port,
                                            "%sl" % tag, deadline)
        await oper_up(args, client, deadline)
        for _ in range(min(20, k)):             # warm-up, not recorded
            await ping(client, deadline)
        nick = client.nick.encode()
        state = {}

        def hook(line):
            tok = state.get("tok")
            # The text may come with or without a ':' (one-word trailing).
            if tok is not None and b" PRIVMSG " in line and \
                    line.rsplit(b" ", 1)[-1].lstrip(b":") == tok:
                fut = state.pop("fut")
                state.pop("tok")
                if not fut.done():
                    fut.set_result(time.perf_counter())
                return True
            return False

        client.on_line = hook
        loop = asyncio.get_running_loop()
        seq = [0]

        async def self_message():
            seq[0] += 1
            tok = b"self%d" % seq[0]
            fut = loop.create_future()
            state["tok"], state["fut"] = tok, fut
            t0 = time.perf_counter()
            client.send(b"PRIVMSG " + nick + b" :" + tok + b"\r\n")
            t1 = await asyncio.wait_for(
                fut, timeout=max(deadline - time.monotonic(), 0.001))
            return t1 - t0

        res["load_average_start"] = load_average()
        kinds = (("ping", lambda: ping(client, deadline)),
                 ("privmsg_self", self_message))
        done = 0
        while done < k:
            n = min(LATENCY_BLOCK, k - done)
            for name, once in kinds:
                c0 = srv.cpu()
                for _ in range(n):
                    rtts[name].append(await once())
                spent, _ = cpu_delta(c0, srv.cpu())
                if spent is not None:
                    cpu[name].append((spent, n))
            done += n
        res["load_average_end"] = load_average()
        res["complete"] = True
    finally:
        for name, vals in rtts.items():
            res[name + "_n"] = len(vals)
            if vals:
                res[name + "_median_ms"] = statistics.median(vals) * 1000
                res[name + "_p95_ms"] = pct(vals, 95) * 1000
                res[name + "_p99_ms"] = pct(vals, 99) * 1000
            if cpu[name]:
                res[name + "_server_cpu_us"] = 1e6 * sum(c for c, _ in cpu[name]) / sum(
                    n for _, n in cpu[name])
        if client is not None:
            await close_all([client])


async def phase_churn(args, srv, res, tag):
    """C clients each JOIN/PART a channel of their own and a shared one, in
    windows of W rounds with a PING round trip after each window."""
    n, rounds = args.churn_clients, args.churn_rounds
    window = max(1, args.churn_window)
    shared = ("#churn%s" % tag).encode()
    res.update(clients=n, rounds=rounds, complete=False)
    deadline = time.monotonic() + args.phase_budget
    clients = []
    try:
        res["stage"] = "register"
        clients, errors = await register_many(
            args.host, args.port, ["%sc%d" % (tag, i) for i in range(n)],
            deadline, concurrency=args.setup_concurrency)
        if errors:
            res["setup_errors"] = len(errors)
            res["first_error"] = errors[0]
        if not clients:
            raise RuntimeError("no churn clients registered")
        res["clients"] = len(clients)
        await sync_all(clients, deadline)
        res["stage"] = "measure"
        runs = []
        res["runs"] = runs

        echoes = [0] * len(clients)

        def echo_hook(i, c):
            mine = b":" + c.nick.encode() + b"!"

            def hook(line):
                if line.startswith(mine) and (b" JOIN " in line or b" PART " in line):
                    echoes[i] += 1
                    return True
                return False
            return hook

        for i, c in enumerate(clients):
            c.on_line = echo_hook(i, c)

        async def churn(i, c):
            own = ("#c%s%d" % (tag, i)).encode()
            block = (b"JOIN %s\r\nPART %s\r\nJOIN %s\r\nPART %s\r\n"
                     % (own, own, shared, shared))
            done = 0
            while done < rounds:
                k = min(window, rounds - done)
                c.send(block * k)
                done += k
                await ping(c, deadline)

        for rep in range(max(1, min(args.repeat, 3))):
            cpu0 = srv.cpu()
            t0 = time.perf_counter()
            await asyncio.gather(*(churn(i, c) for i, c in enumerate(clients)))
            wall = time.perf_counter() - t0
            cpu, src = cpu_delta(cpu0, srv.cpu())
            ops = 2 * rounds * len(clients)
            runs.append({"join_parts": ops, "wall_s": wall, "server_cpu_s": cpu,
                         "cpu_source": src,
                         "server_cpu_ms_per_join_part":
                             1000.0 * cpu / ops if cpu is not None else None})
        # Every JOIN and PART must have been carried out (each echoed to its
        # sender): a server refusing them would look cheap.
        res["echoes"] = sum(echoes)
        res["echoes_expected"] = 2 * sum(r["join_parts"] for r in runs)
        if res["echoes"] != res["echoes_expected"]:
            raise RuntimeError("only %d of %d JOIN/PART echoes came back"
                               % (res["echoes"], res["echoes_expected"]))
        good = [r["server_cpu_ms_per_join_part"] for r in runs
                if r["server_cpu_ms_per_join_part"] is not None]
        res["join_parts"] = sum(r["join_parts"] for r in runs)
        res["wall_s"] = sum(r["wall_s"] for r in runs)
        res["join_parts_per_s"] = res["join_parts"] / res["wall_s"]
        if good:
            res["server_cpu_ms_per_join_part"] = statistics.median(good)
            res["cpu_source"] = runs[0]["cpu_source"]
        res["complete"] = True
        res.pop("stage", None)
    finally:
        await close_all(clients)


PHASES = {"burst": phase_burst, "fanout": phase_fanout,
          "latency": phase_latency, "churn": phase_churn}


# --------------------------------------------------------------------------
# Driver and output
# --------------------------------------------------------------------------

def raise_nofile(want):
    """Raise RLIMIT_NOFILE to ``want`` (the hard limit too when we are root
    with CAP_SYS_RESOURCE, else up to the hard limit); the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            want = hard
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def check_loopback(host):
    try:
        addrs = {ai[4][0] for ai in socket.getaddrinfo(host, None)}
    except socket.gaierror as e:
        raise SystemExit("cannot resolve %s: %s" % (host, e))
    for a in addrs:
        if not ipaddress.ip_address(a.split("%")[0]).is_loopback:
            raise SystemExit("refusing non-loopback target %s (%s)" % (host, a))


async def run_phases(args, phases, *, min_left, budget_for, after_phase):
    """Run ``args.phases`` from the table ``phases`` against one server, each
    bounded by ``budget_for(args, seconds left)``; a phase that fails or
    overruns is reported in its results and the next one still runs.
    ``after_phase(args, name, res, results)`` is awaited after each."""
    srv = ServerProc(args.pid)
    tag = args.tag or "".join(random.choice(string.ascii_lowercase)
                              for _ in range(3))
    results = {"target": "%s:%d" % (args.host, args.port), "pid": args.pid,
               "label": args.label, "phases": {}}
    start = time.monotonic()
    for name in args.phases:
        remaining = args.timeout - (time.monotonic() - start)
        if remaining <= min_left:
            results["phases"][name] = {"skipped": "overall timeout"}
            continue
        if args.pid and not srv.alive():
            results["phases"][name] = {"skipped": "server process gone"}
            continue
        res = {}
        results["phases"][name] = res
        budget = budget_for(args, remaining)
        t = time.monotonic()
        # The system-wide monotonic clock, as a probe in the server sees it
        # (turnprobe.py --report cuts its samples by these).
        res["clock_start"] = time.perf_counter()
        try:
            await asyncio.wait_for(phases[name](args, srv, res, tag),
                                   timeout=budget)
        except asyncio.TimeoutError:
            res["error"] = "timeout after %.1fs" % (time.monotonic() - t)
        except Exception as e:   # noqa: BLE001 - reported, run continues
            res["error"] = repr(e)[:300]
        res["phase_s"] = time.monotonic() - t
        res["clock_end"] = time.perf_counter()
        await after_phase(args, name, res, results)
    results["server_rss_end_kib"] = srv.rss_kib()
    results["total_s"] = time.monotonic() - start
    return results


def _load_budget(args, remaining):
    budget = min(remaining, args.phase_timeout)
    args.phase_budget = max(budget - 6, budget * 0.8)   # keep time to clean up
    return budget


async def _pause_between(args, name, res, results):
    if args.pause and name != args.phases[-1]:
        await asyncio.sleep(args.pause)


async def run(args):
    return await run_phases(args, PHASES, min_left=1, budget_for=_load_budget,
                            after_phase=_pause_between)


def fmt(v, spec):
    if v is None:
        return "-"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def table(results):
    out = []
    add = out.append
    add("IRC load: %s (pid %s)%s" % (results["target"], results["pid"],
                                     " [%s]" % results["label"]
                                     if results.get("label") else ""))
    ph = results["phases"]
    rows = []
    b = ph.get("burst")
    if b is not None:
        rows += [
            ("burst", "clients registered", "%s / %s" % (
                b.get("registered", "-"), b.get("clients", "-"))),
            ("burst", "reconnects after --reg-timeout",
             fmt(b.get("retries"), "d")),
            ("burst", "wall time (s)", fmt(b.get("wall_s"), ".3f")),
            ("burst", "connects/s", fmt(b.get("connects_per_s"), ".0f")),
            ("burst", "server CPU (s)", fmt(b.get("server_cpu_s"), ".3f")),
            ("burst", "server CPU ms/client",
             fmt(b.get("server_cpu_ms_per_client"), ".3f")),
            ("burst", "registration p50/p99 (s)", "%s / %s" % (
                fmt(b.get("reg_time_p50_s"), ".3f"),
                fmt(b.get("reg_time_p99_s"), ".3f"))),
            ("burst", "RSS before/after (KiB)", "%s / %s" % (
                fmt(b.get("rss_before_kib"), "d"),
                fmt(b.get("rss_after_kib"), "d"))),
            ("burst", "RSS KiB per idle client",
             fmt(b.get("rss_kib_per_client"), ".2f")),
        ]
    f = ph.get("fanout")
    if f is not None:
        rows += [
            ("fanout", "receivers x messages x runs", "%s x %s x %s" % (
                f.get("receivers", "-"), f.get("messages", "-"),
                len(f.get("runs", [])))),
            ("fanout", "lines delivered", "%s / %s" % (
                f.get("delivered", "-"), f.get("expected", "-"))),
            ("fanout", "wall time, all runs (s)", fmt(f.get("wall_s"), ".3f")),
            ("fanout", "server CPU, all runs (s)",
             fmt(f.get("server_cpu_s"), ".4f")),
            ("fanout", "delivered lines/s (median)",
             fmt(f.get("lines_per_s"), ".0f")),
            ("fanout", "server CPU s/1000 lines (median)",
             fmt(f.get("server_cpu_s_per_1000_lines"), ".5f")),
            ("fanout", "  per run", " ".join(
                fmt(r.get("server_cpu_s_per_1000_lines"), ".5f")
                for r in f.get("runs", []))),
        ]
    la = ph.get("latency")
    if la is not None:
        for key, label in (("ping", "PING rtt"),
                           ("privmsg_self", "PRIVMSG-self rtt")):
            rows.append(("latency", "%s n" % label,
                         fmt(la.get(key + "_n"), "d")))
            rows.append(("latency", "%s median/p95/p99 (ms)" % label,
                         "%s / %s / %s" % (
                             fmt(la.get(key + "_median_ms"), ".3f"),
                             fmt(la.get(key + "_p95_ms"), ".3f"),
                             fmt(la.get(key + "_p99_ms"), ".3f"))))
            rows.append(("latency", "%s server CPU us" % label,
                         fmt(la.get(key + "_server_cpu_us"), ".1f")))
        rows.append(("latency", "load average start / end", "%s / %s" % (
            " ".join("%.2f" % x for x in la.get("load_average_start") or []) or "-",
            " ".join("%.2f" % x for x in la.get("load_average_end") or []) or "-")))
    ch = ph.get("churn")
    if ch is not None:
        rows += [
            ("churn", "clients x rounds x runs", "%s x %s x %s" % (
                ch.get("clients", "-"), ch.get("rounds", "-"),
                len(ch.get("runs", [])))),
            ("churn", "JOIN+PART pairs/s", fmt(ch.get("join_parts_per_s"), ".0f")),
            ("churn", "server CPU ms per JOIN+PART (median)",
             fmt(ch.get("server_cpu_ms_per_join_part"), ".4f")),
        ]
    w = max([len(r[1]) for r in rows] + [10])
    for phase, label, val in rows:
        add("  %-8s %-*s  %s" % (phase, w, label, val))
    for name, p in ph.items():
        notes = []
        if p.get("skipped"):
            notes.append("skipped: " + p["skipped"])
        if p.get("error"):
            notes.append("error: " + p["error"])
        if p.get("first_error"):
            notes.append("first client error: " + p["first_error"])
        if "complete" in p and not p["complete"]:
            notes.append("PARTIAL results" + (
                " (stopped during %s)" % p["stage"] if p.get("stage") else ""))
        for n in notes:
            add("  %-8s %s" % (name, n))
    add("  total %.1fs" % results["total_s"])
    return "\n".join(out)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description="Bounded IRC server load test (loopback only).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, default=None,
                    help="server PID, for CPU time and RSS from /proc")
    ap.add_argument("--clients", type=int, default=1000,
                    help="burst: clients connecting at once (default 1000)")
    ap.add_argument("--reg-timeout", type=float, default=5.0,
                    help="a client not registered after this many seconds "
                         "drops its connection and reconnects (default 5)")
    ap.add_argument("--members", type=int, default=200,
                    help="fanout: receiving channel members (default 200)")
    ap.add_argument("--messages", type=int, default=500,
                    help="fanout: messages sent (default 500)")
    ap.add_argument("--payload", type=int, default=40,
                    help="fanout: extra bytes of text per message (default 40)")
    ap.add_argument("--repeat", type=int, default=5,
                    help="fanout: measured runs of M messages; figures are "
                         "the median over runs (default 5)")
    ap.add_argument("--window", type=int, default=100,
                    help="fanout: sender writes this many lines, then waits "
                         "for a PING round trip; 0 = all at once (default 100)")
    ap.add_argument("--rounds", type=int, default=5000,
                    help="latency: round trips of each kind (default 5000, so p99 "
                         "is the 50th worst, not the 10th)")
    ap.add_argument("--churn-clients", type=int, default=50,
                    help="churn: clients joining and parting (default 50)")
    ap.add_argument("--churn-rounds", type=int, default=50,
                    help="churn: rounds per client, each a JOIN+PART of its "
                         "own channel and of a shared one (default 50)")
    ap.add_argument("--churn-window", type=int, default=10,
                    help="churn: rounds sent before a PING round trip "
                         "(default 10)")
    ap.add_argument("--phases", default="burst,fanout,latency,churn",
                    help="comma-separated subset of burst,fanout,latency,churn")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="overall time limit in seconds (default 120)")
    ap.add_argument("--phase-timeout", type=float, default=60.0,
                    help="per-phase time limit in seconds (default 60)")
    ap.add_argument("--setup-concurrency", type=int, default=0,
                    help="fanout: max concurrent registrations while "
                         "setting up (0 = all at once)")
    ap.add_argument("--pause", type=float, default=0.5,
                    help="seconds to idle between phases (default 0.5)")
    ap.add_argument("--oper", default=None, metavar="NAME:PASS",
                    help="OPER the fanout sender and latency client")
    ap.add_argument("--umode", default=None,
                    help="user modes to set after --oper, e.g. +F on ngIRCd")
    ap.add_argument("--tag", default=None, help="nick prefix (default random)")
    ap.add_argument("--label", default=None, help="name shown in the output")
    ap.add_argument("--json", action="store_true",
                    help="print results as JSON instead of a table")
    args = ap.parse_args(argv)
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    for p in args.phases:
        if p not in PHASES:
            ap.error("unknown phase %r" % p)
    for name in ("clients", "members", "messages", "rounds", "repeat",
                 "churn_clients", "churn_rounds"):
        v = getattr(args, name)
        if not 0 < v <= 100000:
            ap.error("--%s must be in 1..100000" % name)
    if not 0 < args.timeout <= 3600:
        ap.error("--timeout must be in (0, 3600]")
    return args


def main(argv=None):
    args = parse_args(argv)
    check_loopback(args.host)
    need = max(args.clients, args.members + 1, args.churn_clients) + 64
    got = raise_nofile(max(4096, need))
    if got < need:
        print("warning: RLIMIT_NOFILE is %d, need %d" % (got, need),
              file=sys.stderr)
    results = asyncio.run(run(args))
    if args.json:
        json.dump(results, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
