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
import math
import os
import socket
import sys
import time
from typing import Optional

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402

#: clients per loader process at most
PER_WORKER = 5000
NOFILE = 65536


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

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
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
    return workers, sum(int(r[1]) for r in ready), sum(int(r[2]) for r in ready), wall


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
