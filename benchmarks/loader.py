#!/usr/bin/env python3
"""Loader processes for scale.py: each holds thousands of registered clients.

The coordinator (scale.py) starts ``loader.py --port N --count K --tag T``
processes and talks to each over its stdin/stdout, one command a line:
``JOIN <chan> <in-flight>`` (every client joins, waiting for its 366),
``SYNC`` (a PING round trip per client), ``EXPECT <chan> <n>`` (answered
``ARMED``, then ``GOT <total>`` once every client has n PRIVMSGs of that
channel), ``QUIT``.  The client (:class:`Bulk`) is lean: it looks at a line
only when it may matter (a server PING, a token it waits for) and counts
channel lines with ``bytes.count``, so the loaders cost less than the server.
Loopback only; every wait bounded by ``--timeout``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import errno
import math
import os
import sys
import time
from typing import Optional

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402

#: clients per loader process at most
PER_WORKER = 5000
NOFILE = 65536
#: a loader stops registering when this many attempts in a row failed and none
#: succeeded for STALL_SECONDS: a limit (per-IP clients, descriptors) stops it,
#: and waiting for the deadline would only hide which one
STALL_ATTEMPTS = 20
STALL_SECONDS = 15.0
#: ... or for REFUSED_SECONDS when every one of them was a refusal the server
#: said (an ERROR line) or a refused connect: an answer, not slowness
REFUSED_SECONDS = 2.0


def raise_nofile(want: int = NOFILE) -> None:
    """RLIMIT_NOFILE up to ``want`` (NOFILE by default; see load.raise_nofile)."""
    load.raise_nofile(want)


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
        self.error_line: Optional[str] = None   # the server's ERROR before 001

    def connection_made(self, transport) -> None:
        self.transport = transport
        load.no_delay(transport)
        # ircd-hybrid refuses a username with '_' ("Invalid username"): letters and digits only.
        user = "".join(ch for ch in self.nick if ch.isalnum())[:9] or "scale"
        transport.write(b"NICK %s\r\nUSER %s 0 * :scale\r\n"
                        % (self.nick.encode(), user.encode()))

    def data_received(self, data: bytes) -> None:
        buf = self.tail + data if self.tail else data
        cut = buf.rfind(b"\n")
        if cut < 0:
            self.tail = buf
            return
        chunk, self.tail = buf[:cut + 1], buf[cut + 1:]
        if not self.registered.done():
            if b" 001 " in chunk:
                self.registered.set_result(True)
            elif b"ERROR " in chunk and self.error_line is None:
                self.error_line = next(
                    (ln.rstrip(b"\r").decode("utf-8", "replace") for ln in chunk.split(b"\n")
                     if ln.startswith(b"ERROR ")), None)
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
            why = self.error_line or "closed before 001 (%s)" % (
                "by the server" if exc is None else exc)
            self.registered.set_exception(ConnectionError(why))
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


class Refusals:
    """Why registration attempts failed, and whether they have stalled.

    Stalled: ``attempts`` failures in a row (no registration between them)
    over at least ``seconds``, or ``refused_seconds`` when each was a refusal
    (the server's ERROR line, a refused connect).  :meth:`verdict` names the
    likely limit."""

    def __init__(self, attempts: int = STALL_ATTEMPTS, seconds: float = STALL_SECONDS,
                 refused_seconds: float = REFUSED_SECONDS, clock=time.monotonic) -> None:
        self.attempts, self.seconds, self.clock = attempts, seconds, clock
        self.refused_seconds = refused_seconds
        self.in_a_row = 0
        self.vague_in_a_row = 0   # failures that were no answer (timeouts, resets)
        self.last_ok = clock()
        self.reasons: collections.Counter = collections.Counter()

    def ok(self) -> None:
        self.in_a_row = self.vague_in_a_row = 0
        self.last_ok = self.clock()

    def failed(self, why: str) -> None:
        self.in_a_row += 1
        if not (why.startswith("ERROR ") or "refused" in why):
            self.vague_in_a_row += 1
        self.reasons[why] += 1

    def stalled(self) -> bool:
        if self.in_a_row < self.attempts:
            return False
        wait = self.seconds if self.vague_in_a_row else self.refused_seconds
        return self.clock() - self.last_ok >= wait

    def verdict(self, registered: int) -> str:
        """One line: how many registered, what the failures said, which limit."""
        why, times = self.reasons.most_common(1)[0]
        return ("%d registered, then %d attempts in a row failed (%.0f s without a "
                "registration), most often: %s (%dx): %s"
                % (registered, self.in_a_row, self.clock() - self.last_ok, why, times,
                   limit_named(why, registered)))


def failure_reason(exc: BaseException, attempt_timeout: float) -> str:
    """A failed attempt in a few words (the server's ERROR line when it sent one)."""
    if isinstance(exc, asyncio.TimeoutError):
        return "no answer within %.0f s" % attempt_timeout
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            return "this loader is out of descriptors (%s)" % os.strerror(exc.errno)
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__


def limit_named(why: str, registered: int) -> str:
    """Which limit a failure most likely hit, said for an operator."""
    low = why.lower()
    if "out of descriptors" in low:
        return "the loader's descriptor limit (RLIMIT_NOFILE); raise it or use more loaders"
    if low.startswith("error "):
        if any(w in low for w in ("too many connections", "clones", "per ip", "from your ip",
                                  "max connections", "maximum connections", "limit")):
            return ("the server's per-IP client limit (%d clients from 127.0.0.1 got in); "
                    "lift it for benchmarks" % registered)
        if any(w in low for w in ("new connections", "throttl", "too fast", "reconnecting too")):
            return "the server's connection-rate limit (throttling); lift it for benchmarks"
        if any(w in low for w in ("server is full", "too many clients", "no more connections")):
            return "the server's client limit (%d got in)" % registered
        return "the server refused these clients (its ERROR line says why)"
    if "refused" in low:
        return "nothing accepts connections on that port (the server stopped or its backlog is full)"
    if "reset" in low or "closed before 001" in low:
        return ("the server closed connections before registering them: its descriptor limit "
                "(RLIMIT_NOFILE) or a per-IP limit that says nothing")
    if "no answer" in low:
        return "the server is too slow to register or stopped answering"
    return "unknown; see the server's log"


async def _register(host, port, nick, loop, group, deadline, attempt_timeout,
                    refusals: Optional[Refusals] = None):
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise asyncio.TimeoutError("registration deadline")
        try:
            _, c = await asyncio.wait_for(
                loop.create_connection(lambda: Bulk(nick, loop, group), host, port),
                timeout=min(remaining, attempt_timeout))
        except (OSError, asyncio.TimeoutError) as e:
            if refusals is not None:
                refusals.failed(failure_reason(e, attempt_timeout))
            await asyncio.sleep(0.1)
            continue
        try:
            await asyncio.wait_for(asyncio.shield(c.registered),
                                   timeout=max(0.001, min(deadline - time.monotonic(),
                                                          attempt_timeout)))
            if refusals is not None:
                refusals.ok()
            return c
        except (asyncio.TimeoutError, ConnectionError) as e:
            if refusals is not None:
                refusals.failed(failure_reason(e, attempt_timeout))
            if c.transport is not None:
                c.transport.abort()
            await asyncio.sleep(0.1)


async def serve(args) -> int:
    """A loader process: register ``--count`` clients, then obey the coordinator."""
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + args.timeout
    group = Group()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    sem = asyncio.Semaphore(args.concurrency)
    clients: list[Bulk] = []
    errors = []
    refusals = Refusals()

    async def one(i):
        async with sem:
            try:
                clients.append(await _register(args.host, args.port, "%s%d" % (args.tag, i),
                                               loop, group, deadline, 10.0, refusals))
            except Exception as e:   # noqa: BLE001 - counted
                errors.append(repr(e))

    everyone = asyncio.ensure_future(asyncio.gather(*(one(i) for i in range(args.count))))
    stopped = None
    while not everyone.done():
        await asyncio.wait([everyone], timeout=0.25)
        if not everyone.done() and refusals.stalled():
            stopped = refusals.verdict(len(clients))
            everyone.cancel()
            try:
                await everyone
            except asyncio.CancelledError:
                pass

    def say(*words):
        sys.stdout.write(" ".join(str(w) for w in words) + "\n")
        sys.stdout.flush()

    if stopped is None:
        say("READY", len(clients), len(errors))
    else:
        say("READY", len(clients), args.count - len(clients), "STOPPED", stopped)
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


# -- the coordinator's side ---------------------------------------------------

class Worker:
    """One loader process, talked to over its stdin/stdout."""

    def __init__(self, proc) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, args, tag: str, count: int, concurrency: int, timeout: float):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, os.path.abspath(__file__), "--host", args.host,
            "--port", str(args.port), "--count", str(count), "--tag", tag,
            "--concurrency", str(concurrency), "--timeout", str(timeout),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            preexec_fn=raise_nofile)
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
    workers = [await Worker.start(args, "%s%dw" % (tag, i), k, concurrency,
                                  deadline - time.monotonic()) for i, k in enumerate(share)]
    try:
        ready = await all_say(workers, deadline - time.monotonic(), "READY")
    except BaseException:
        await asyncio.gather(*(w.stop() for w in workers))
        raise
    wall = time.perf_counter() - t0
    stopped = [" ".join(r[4:]) for r in ready if len(r) > 3 and r[3] == "STOPPED"]
    if stopped:
        await asyncio.gather(*(w.stop() for w in workers))
        raise RegistrationStopped("registration stopped early: " + stopped[0])
    return workers, sum(int(r[1]) for r in ready), sum(int(r[2]) for r in ready), wall


class RegistrationStopped(RuntimeError):
    """A loader gave up registering: a limit stopped it (the message says which)."""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="A scale.py loader process (loopback only).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=900.0)
    args = ap.parse_args(argv)
    if not 0 < args.count <= 50000:
        ap.error("--count must be in 1..50000")
    load.check_loopback(args.host)
    raise_nofile()
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
