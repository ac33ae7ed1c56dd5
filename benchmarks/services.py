#!/usr/bin/env python3
"""Services benchmark: 10,000 REGISTERs then 10,000 IDENTIFYs against one real server.

Starts ``twistd -n conferenceroom`` on a free 127.0.0.1 port with services
enabled (``services set passwordcost --cost``, 4 by default: bcrypt cost 12,
the production default, makes each check ~250 ms of CPU, so 10,000 of them
would measure bcrypt, not the server) in a temporary folder, then:

1. REGISTER phase: ``--workers`` connections each take their share of
   ``--count`` nicks; per nick one pipelined round trip
   ``NICK <n>`` + ``PRIVMSG NickServ :REGISTER <pw>`` + ``LOGOUT``, waiting
   for the LOGOUT reply (so each registration is acknowledged, committed to
   SQLite with synchronous=FULL, before the next one of that worker);
2. IDENTIFY phase: the same workers, each ``IDENTIFY <account> <pw>`` for
   its accounts, waiting for "You are now identified".

Throughout, a bystander client (in a process of its own, so the workers'
threads never delay its reads) sends PING every 20 ms and records each
round trip: the worst (and the 99th percentile) per phase shows whether the
reactor ever waits on SQLite or bcrypt, beside a baseline of the same
bystander before any work starts (the machine's own noise).  Reported: operations per second per
phase, bystander worst/p99 round trip, the server's CPU seconds.

Bounds: every wait has a timeout, each phase at most ``--phase-timeout``
seconds; only 127.0.0.1; the server is stopped by PID.
Usage: ``make bench-services`` or ``python3 benchmarks/services.py [--count N] [--cost C] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import stop_proc  # noqa: E402

HOST = "127.0.0.1"
PASSWORD = "benchpass1"


def log(msg: str) -> None:
    print(f"[services-bench] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(workdir: Path, twistd: str, cost: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    config = workdir / "bench.conf"
    config.write_text("\n".join([
        "general set name bench.conferenceroom.local",
        f"general set ports {port}",
        f"general set bindip {HOST}",
        "general set hub",
        "security set flood off",
        "security set deftrigger 0",
        "services enable",
        f"services set passwordcost {cost}",
    ]) + "\n")
    (workdir / "motd.txt").write_text("bench\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    with open(workdir / "twistd.stdout", "wb") as out:
        proc = subprocess.Popen([twistd, "-n", "--pidfile=", f"--logfile={workdir / 'bench.log'}",
                                 "conferenceroom", "--config", str(config)], cwd=workdir, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"services-bench: the server exited with status {proc.returncode}; see {workdir}")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    stop_proc(proc)
    raise SystemExit(f"services-bench: the server did not listen within 30 s; see {workdir}")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    """A blocking line client with a deadline on every read."""

    def __init__(self, port: int, nick: str) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.send(f"NICK {nick}\r\nUSER {nick} 0 * :bench\r\n")
        self.wait(lambda line: " 001 " in line)

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def wait(self, pred, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            while b"\r\n" in self.buf:
                raw, self.buf = self.buf.split(b"\r\n", 1)
                line = raw.decode("utf-8", "replace")
                if line.startswith("PING "):
                    self.send("PONG " + line[5:] + "\r\n")
                    continue
                if pred(line):
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply in time")
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            self.buf += data

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def bystander_main(port: int, interval: float, stop, out) -> None:
    """In a process of its own (so the workers' threads never delay its reads): PING every
    ``interval`` seconds until ``stop`` is set; send ``[(monotonic time sent, round trip s), ...]`` to ``out``."""
    client = Client(port, "bystander")
    samples: list[tuple[float, float]] = []
    n = 0
    while not stop.is_set():
        n += 1
        start = time.monotonic()
        client.send(f"PING :b{n}\r\n")
        try:
            client.wait(lambda line, n=n: f"b{n}" in line and " PONG " in line, timeout=30)
        except (TimeoutError, OSError):
            samples.append((start, 30.0))
            break
        samples.append((start, time.monotonic() - start))
        time.sleep(interval)
    client.close()
    out.send(samples)
    out.close()


class Bystander:
    """The bystander process and the phases (monotonic time windows) its samples are sorted into."""

    def __init__(self, port: int, interval: float = 0.02) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self._stop = ctx.Event()
        self._recv, send = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=bystander_main, args=(port, interval, self._stop, send), daemon=True)
        self.windows: dict[str, tuple[float, float]] = {}
        self.samples: dict[str, list[float]] = {}
        self._phase: tuple[str, float] | None = None

    def start(self) -> None:
        self.process.start()

    def phase(self, name: str | None) -> None:
        """End the current phase (if any) and start ``name`` (None: none)."""
        now = time.monotonic()
        if self._phase is not None:
            self.windows[self._phase[0]] = (self._phase[1], now)
        self._phase = (name, now) if name else None

    def finish(self) -> None:
        """Stop the process and sort its samples into the phases."""
        self.phase(None)
        self._stop.set()
        samples = self._recv.recv() if self._recv.poll(35) else []
        self.process.join(5)
        for name, (begin, end) in self.windows.items():
            self.samples[name] = [rtt for sent, rtt in samples if begin <= sent < end]

    def kill(self) -> None:
        self._stop.set()
        if self.process.is_alive():
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()


def run_phase(name: str, workers: list[Client], jobs: list[list[str]], step, timeout: float) -> float:
    """Each worker runs ``step(client, item)`` over its items; the seconds the whole phase took."""
    errors: list[str] = []
    deadline = time.monotonic() + timeout

    def work(client: Client, items: list[str]) -> None:
        try:
            for item in items:
                if time.monotonic() > deadline:
                    errors.append("phase timeout")
                    return
                step(client, item)
        except Exception as exc:  # reported, not raised: the other workers finish
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=work, args=(c, items)) for c, items in zip(workers, jobs)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 30)
    took = time.monotonic() - start
    if errors:
        raise SystemExit(f"services-bench: {name} phase failed: {errors[:3]}")
    return took


def register(client: Client, nick: str) -> None:
    client.send(f"NICK {nick}\r\nPRIVMSG NickServ :REGISTER {PASSWORD}\r\nPRIVMSG NickServ :LOGOUT\r\n")
    line = client.wait(lambda line: "NOTICE" in line and any(
        word in line for word in ("You are now logged out", "is already registered", "You are not identified")))
    if "logged out" not in line:
        raise RuntimeError(f"REGISTER {nick}: {line}")


def identify(client: Client, nick: str) -> None:
    client.send(f"PRIVMSG NickServ :IDENTIFY {nick} {PASSWORD}\r\n")
    line = client.wait(lambda line: "NOTICE" in line and ("identified for" in line or "Invalid" in line
                                                          or "busy" in line))
    if "identified for" not in line:
        raise RuntimeError(f"IDENTIFY {nick}: {line}")


def summary(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"pings": 0}
    ordered = sorted(samples)
    return {"pings": len(samples), "worst_ms": round(ordered[-1] * 1000, 1),
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1 if len(ordered) > 1 else 0] * 1000, 1),
            "median_ms": round(statistics.median(ordered) * 1000, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--count", type=int, default=10_000, help="registrations, then as many IDENTIFYs")
    p.add_argument("--workers", type=int, default=16, help="client connections doing the work")
    p.add_argument("--cost", type=int, default=4, help="bcrypt cost (services set passwordcost), 4..16")
    p.add_argument("--phase-timeout", type=float, default=900.0)
    p.add_argument("--baseline", type=float, default=10.0,
                   help="seconds of bystander PINGs before the work starts (the machine's own noise)")
    p.add_argument("--twistd", default=str(REPO / ".venv" / "bin" / "twistd"))
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("--keep", action="store_true", help="keep the server's folder")
    args = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cr-bench-services-"))
    proc, port = start_server(workdir, args.twistd, args.cost)
    log(f"server pid {proc.pid} on {HOST}:{port}, bcrypt cost {args.cost}, folder {workdir}")
    result: dict[str, object] = {"count": args.count, "workers": args.workers, "bcrypt_cost": args.cost}
    workers: list[Client] = []
    bystander = None
    try:
        bystander = Bystander(port)
        bystander.start()
        time.sleep(1.0)
        bystander.phase("baseline")
        time.sleep(args.baseline)  # the same bystander with no services work: what this machine gives
        bystander.phase(None)
        workers = [Client(port, f"w{i}") for i in range(args.workers)]
        nicks = [f"acct{i:06d}" for i in range(args.count)]
        jobs = [nicks[i::args.workers] for i in range(args.workers)]
        cpu0 = cpu_seconds(proc.pid)
        bystander.phase("register")
        took = run_phase("REGISTER", workers, jobs, register, args.phase_timeout)
        cpu1 = cpu_seconds(proc.pid)
        result["register"] = {"seconds": round(took, 2), "per_second": round(args.count / took, 1),
                              "server_cpu_s": round(cpu1 - cpu0, 2)}
        log(f"REGISTER: {args.count} in {took:.1f} s ({args.count / took:.0f}/s)")
        for i, client in enumerate(workers):
            client.send(f"NICK idle{i}\r\n")
        bystander.phase(None)
        time.sleep(0.5)
        bystander.phase("identify")
        took = run_phase("IDENTIFY", workers, jobs, identify, args.phase_timeout)
        cpu2 = cpu_seconds(proc.pid)
        result["identify"] = {"seconds": round(took, 2), "per_second": round(args.count / took, 1),
                              "server_cpu_s": round(cpu2 - cpu1, 2)}
        log(f"IDENTIFY: {args.count} in {took:.1f} s ({args.count / took:.0f}/s)")
        bystander.finish()
        result["baseline"] = {"seconds": args.baseline,
                              "bystander_ping": summary(bystander.samples.get("baseline", []))}
        for phase in ("register", "identify"):
            result[phase]["bystander_ping"] = summary(bystander.samples.get(phase, []))  # type: ignore[index]
        result["store"] = "group commit (see docs/services.md)"
    finally:
        if bystander is not None:
            bystander.kill()
        for c in workers:
            c.close()
        stop_proc(proc)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
