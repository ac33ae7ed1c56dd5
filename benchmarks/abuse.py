#!/usr/bin/env python3
"""Witness round trips while one client abuses the server (stdlib only).

Witness clients (``--witnesses``, default 5) register and each does one
PING -> PONG round trip a second (so flood control never delays them);
one abuser registers and then writes hostile input as fast as the socket
takes it, for at most ``--seconds`` (20 s cap), reconnecting when it is
dropped (at most ``--reconnects`` times).  Kinds of input (``--kind``):

* ``blank``    ``"\\n" * 65536`` per write
* ``cr``       ``"\\r" * 65536`` per write
* ``garbage``  lines that do not parse (``:x`` and ``!!!``), 64 KiB per write
* ``long``     600-byte lines (each answered with 417), 64 KiB per write
* ``partial``  one endless line with no line ending

Prints the witness's round-trip figures (ms), how long the abuser stayed
connected and why it was dropped, the bytes it got in, and, with ``--pid``,
the server's CPU seconds over the run.  Loopback targets only.

    python3 benchmarks/abuse.py --port 6667 --kind blank --seconds 10 --pid 1234
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import socket
import statistics
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
CHUNK = 65536
PAYLOADS = {
    "blank": b"\n" * CHUNK,
    "cr": b"\r" * CHUNK,
    "garbage": (b":x\r\n!!! ???\r\n" * (CHUNK // 14 + 1))[:CHUNK],
    "long": ((b"PRIVMSG nobody :" + b"x" * 584 + b"\r\n") * (CHUNK // 602 + 1))[:CHUNK],
    "partial": b"x" * CHUNK,
}


def cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of ``pid`` in seconds (None without a pid)."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except OSError:
        return None


def register(host: str, port: int, nick: str, timeout: float = 10.0) -> socket.socket:
    """A registered client socket (001 received)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
    buf = b""
    deadline = time.monotonic() + timeout
    while b" 001 " not in buf:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{nick} did not register: {buf[-300:]!r}")
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"{nick} closed during registration: {buf[-300:]!r}")
        buf += data
        if b"PING " in buf:
            token = buf.split(b"PING ", 1)[1].split(b"\r\n", 1)[0]
            sock.sendall(b"PONG " + token + b"\r\n")
    return sock


class Abuser(threading.Thread):
    """Writes one kind of hostile input until told to stop."""

    def __init__(self, host: str, port: int, kind: str, stop: threading.Event, reconnects: int) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.kind, self.stop_event = host, port, kind, stop
        self.reconnects = reconnects
        self.sent = 0
        self.drops: list[tuple[float, str]] = []  # (seconds connected, reason)

    def run(self) -> None:
        payload = PAYLOADS[self.kind]
        for attempt in range(self.reconnects + 1):
            if self.stop_event.is_set():
                return
            try:
                sock = register(self.host, self.port, f"ab{os.getpid() % 100000}x{attempt}")
            except (OSError, TimeoutError, ConnectionError) as exc:
                self.drops.append((0.0, f"could not register: {exc}"))
                return
            start = time.monotonic()
            reason = self._flood(sock, payload)
            self.drops.append((time.monotonic() - start, reason))
            sock.close()
            if reason == "stopped":
                return

    def _flood(self, sock: socket.socket, payload: bytes) -> str:
        sock.settimeout(0.2)
        received = b""
        while not self.stop_event.is_set():
            try:
                self.sent += sock.send(payload)
            except socket.timeout:
                pass
            except OSError as exc:
                return f"send failed: {exc.__class__.__name__}" + _error_line(received)
            try:
                sock.setblocking(False)
                data = sock.recv(65536)
                if not data:
                    return "closed" + _error_line(received)
                received = (received + data)[-4096:]
            except BlockingIOError:
                pass
            except OSError as exc:
                return f"recv failed: {exc.__class__.__name__}" + _error_line(received)
            finally:
                sock.settimeout(0.2)
        return "stopped"


def _error_line(received: bytes) -> str:
    if b"ERROR" in received:
        return " (" + received.rsplit(b"ERROR", 1)[1].split(b"\r\n")[0].decode("utf-8", "replace").strip() + ")"
    return ""


def witness(host: str, port: int, nick: str, stop: threading.Event, rtts: list[float]) -> None:
    """One PING round trip a second (within the default flood budget) until ``stop`` is set."""
    sock = register(host, port, nick)
    sock.settimeout(5.0)
    buf = b""
    n = 0
    while not stop.is_set():
        n += 1
        token = f"w{n}".encode()
        start = time.perf_counter()
        sock.sendall(b"PING " + token + b"\r\n")
        while b"PONG" not in buf or token not in buf:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                rtts.append(5.0)
                break
            if not data:
                return
            buf += data
        else:
            rtts.append(time.perf_counter() - start)
        buf = b""
        stop.wait(max(0.0, 1.0 - (time.perf_counter() - start)))
    sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int)
    parser.add_argument("--kind", choices=sorted(PAYLOADS), default="blank")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--reconnects", type=int, default=20)
    parser.add_argument("--witnesses", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not ipaddress.ip_address(args.host).is_loopback:
        parser.error("only loopback targets")
    seconds = min(args.seconds, 20.0)
    stop = threading.Event()
    rtts: list[float] = []
    cpu0 = cpu_seconds(args.pid)
    witnesses = [
        threading.Thread(target=witness, args=(args.host, args.port, f"w{os.getpid() % 100000}x{i}", stop, rtts), daemon=True)
        for i in range(args.witnesses)
    ]
    for w in witnesses:
        w.start()
        time.sleep(1.0 / args.witnesses)
    abuser = Abuser(args.host, args.port, args.kind, stop, args.reconnects)
    abuser.start()
    time.sleep(seconds)
    stop.set()
    abuser.join(5)
    for w in witnesses:
        w.join(6)
    cpu1 = cpu_seconds(args.pid)
    ms = sorted(r * 1000 for r in rtts)
    result = {
        "kind": args.kind,
        "seconds": seconds,
        "witness_round_trips": len(ms),
        "witness_median_ms": round(statistics.median(ms), 2) if ms else None,
        "witness_p99_ms": round(ms[int(len(ms) * 0.99) - 1], 2) if ms else None,
        "witness_max_ms": round(ms[-1], 2) if ms else None,
        "abuser_bytes_sent": abuser.sent,
        "abuser_connections": [{"seconds": round(s, 2), "end": why} for s, why in abuser.drops],
        "server_cpu_s": round(cpu1 - cpu0, 2) if cpu0 is not None and cpu1 is not None else None,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            if key == "abuser_connections":
                ends = {}
                for item in value:
                    ends[item["end"]] = ends.get(item["end"], 0) + 1
                longest = max((item["seconds"] for item in value), default=0)
                print(f"{key:22} {len(value)} (longest {longest} s): {ends}")
            else:
                print(f"{key:22} {value}")


if __name__ == "__main__":
    main()
