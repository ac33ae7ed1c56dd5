"""What the load generators share (stdlib only, asyncio): a server process's
CPU time and RSS from /proc, a lean IRC client, registering many clients,
PING round trips, the descriptor limit and the loopback-only check.

Used by load.py and its phases (loadphases.py), loader.py, scale.py,
netscale.py, soak.py and reference.py.
"""

import asyncio
import ipaddress
import os
import random
import resource
import socket
import string
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


def no_delay(transport):
    """Turn Nagle off on an asyncio transport's socket (each line leaves at once)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


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
        no_delay(transport)
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
