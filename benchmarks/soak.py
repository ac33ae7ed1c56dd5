#!/usr/bin/env python3
"""Hostile-traffic soak: a million bad lines at a real server while two witnesses chat.

Starts ``twistd -n conferenceroom`` (flood control on with its default limits,
a per-IP trigger of 4) on a free 127.0.0.1 port, then:

1. two witness clients (in a child process, so the attack's own CPU does not
   delay them) register, OPER (operators are exempt from flood control, so
   pinging ten times a second is allowed) and PING the server and each other
   (CTCP PING, answered by the other witness) every 100 ms;
2. attackers from 127.0.0.2 .. 127.0.0.250 send blank lines, garbage bytes and
   invalid UTF-8, overlong lines, command floods, SendQ fillers from clients
   that never read (``MODE #c b``, LIST, NAMES, WHO, HELP ...) and OPER guesses
   with wrong passwords, reconnecting when dropped, until ``--lines`` lines are
   sent or ``--seconds`` have passed;
3. all attack connections are closed at once, and the server's CPU
   (``/proc/PID/task/*/schedstat`` or ``/proc/PID/stat``) is watched until it is
   idle again.

It prints the witnesses' worst and p99 round trips, the server's RSS before and
after, log growth, seconds back to idle and whether a traceback was logged, and
exits with status 1 when a target is missed (2 when the run itself failed).
Stdlib only; all traffic stays on loopback; every loop is bounded in count
and time. Run by hand or with ``make soak``; never part of ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import ServerProc, raise_nofile  # noqa: E402
from procs import stop_proc  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
WITNESS_OPER = ("witness", "witness-soak-pass")
ADMIN_OPER = ("admin", "admin-soak-pass")
TRACEBACK_MARKERS = ("Traceback (most recent call last)", "Unhandled Error")

#: share of the line budget per kind of attack, and how many connections send it
KINDS = {
    #        share  attackers
    "blank": (0.40, 20),
    "garbage": (0.25, 50),
    "overlong": (0.02, 10),
    "flood": (0.25, 60),
    "filler": (0.06, 40),
    "oper": (0.02, 20),
}
REGISTERED = {"flood", "filler", "oper"}


# --------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(workdir: Path, twistd: str, trigger: int) -> tuple[subprocess.Popen, int, Path]:
    """Write a config, start twistd in the foreground, wait for its port."""
    port = free_port()
    config = workdir / "soak.conf"
    config.write_text("\n".join([
        "general set name soak.conferenceroom.local",
        "general set description Soak test server",
        f"general set ports {port}",
        f"general set bindip {HOST}",
        "general set hub",
        f"security set deftrigger {trigger}",
        f"oper {ADMIN_OPER[0]} add {ADMIN_OPER[1]} ac",
        f"oper {WITNESS_OPER[0]} add {WITNESS_OPER[1]} h",
    ]) + "\n")
    (workdir / "motd.txt").write_text("soak\n")
    log = workdir / "soak.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    with open(workdir / "twistd.stdout", "wb") as out:
        proc = subprocess.Popen([twistd, "-n", "--pidfile=", f"--logfile={log}", "conferenceroom",
                                 "--config", str(config)], cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"soak: the server exited with status {proc.returncode}; see {workdir}")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return proc, port, log
        except OSError:
            time.sleep(0.1)
    stop_proc(proc)
    raise SystemExit(f"soak: the server did not listen on {HOST}:{port} within 30 s; see {workdir}")


def log_bytes(log: Path) -> int:
    """Bytes in the log and its rotated files."""
    return sum(p.stat().st_size for p in log.parent.glob(log.name + "*") if p.is_file())


def log_tracebacks(log: Path) -> list[str]:
    lines = []
    for p in sorted(log.parent.glob(log.name + "*")):
        with open(p, errors="replace") as f:
            lines += [line.rstrip() for line in f if any(m in line for m in TRACEBACK_MARKERS)]
    return lines


def cpu_seconds(srv: ServerProc) -> float | None:
    precise, ticks = srv.cpu()
    return precise if precise is not None else ticks


# --------------------------------------------------------------------------
# witnesses (child process)
# --------------------------------------------------------------------------

class Witness(asyncio.Protocol):
    """A registered operator that PINGs the server and CTCP-PINGs its partner."""

    def __init__(self, nick: str, partner: str, results: dict) -> None:
        self.nick, self.partner, self.results = nick, partner, results
        self.buffer = b""
        self.pending: dict[str, float] = {}
        self.ready = asyncio.get_running_loop().create_future()
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport
        self.send(f"NICK {self.nick}", f"USER {self.nick} 0 * :soak witness")

    def send(self, *lines: str) -> None:
        self.transport.write("".join(line + "\r\n" for line in lines).encode())

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        for raw in lines:
            parts = raw.decode("utf-8", "replace").rstrip("\r").split(" ")
            if parts[0].startswith(":"):
                parts = parts[1:]
            if not parts:
                continue
            verb = parts[0]
            text = " ".join(parts[1:])
            if verb == "PING":
                self.send(f"PONG {parts[1] if len(parts) > 1 else ''}")
            elif verb == "001":
                self.send(f"OPER {WITNESS_OPER[0]} {WITNESS_OPER[1]}")
            elif verb == "381" and not self.ready.done():
                self.ready.set_result(True)
            elif verb in ("464", "491") and not self.ready.done():
                self.ready.set_exception(RuntimeError(f"witness OPER refused: {text}"))
            elif verb == "PONG":
                self._answered("server", parts[-1].lstrip(":"), now)
            elif verb == "PRIVMSG" and "\x01PING " in text:
                token = text.split("\x01PING ", 1)[1].rstrip("\x01")
                self.send(f"NOTICE {self.partner} :\x01PING {token}\x01")
            elif verb == "NOTICE" and "\x01PING " in text:
                self._answered("partner", text.split("\x01PING ", 1)[1].rstrip("\x01"), now)

    def _answered(self, kind: str, token: str, now: float) -> None:
        sent = self.pending.pop(token, None)
        if sent is not None:
            self.results[kind].append((sent, now - sent))

    def ping(self, seq: int) -> None:
        now = time.monotonic()
        server_token, partner_token = f"s{self.nick}-{seq}", f"p{self.nick}-{seq}"
        self.pending[server_token] = self.pending[partner_token] = now
        self.send(f"PING :{server_token}", f"PRIVMSG {self.partner} :\x01PING {partner_token}\x01")

    def connection_lost(self, exc) -> None:  # type: ignore[no-untyped-def]
        if not self.lost.done():
            self.lost.set_result(str(exc or "closed"))
        if not self.ready.done():
            self.ready.set_exception(RuntimeError("witness connection lost before OPER"))


async def witnesses_main(port: int, control, interval: float, max_seconds: float) -> dict:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    results = {"server": [], "partner": [], "lost_pings": 0, "disconnected": None}
    pair = []
    for nick, partner in (("witnessA", "witnessB"), ("witnessB", "witnessA")):
        _, proto = await loop.create_connection(lambda: Witness(nick, partner, results), HOST, port)
        pair.append(proto)
    await asyncio.wait_for(asyncio.gather(*(w.ready for w in pair)), 20)
    control.send("ready")
    seq = 0
    deadline = time.monotonic() + max_seconds
    next_at = time.monotonic()
    while time.monotonic() < deadline and not control.poll():
        if any(w.lost.done() for w in pair):
            results["disconnected"] = next(w.lost.result() for w in pair if w.lost.done())
            break
        for w in pair:
            w.ping(seq)
        seq += 1
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    await asyncio.sleep(1.0)  # late answers still count
    now = time.monotonic()
    for w in pair:
        for token, sent in w.pending.items():
            results["lost_pings"] += 1
            results["server" if token.startswith("s") else "partner"].append((sent, now - sent))
        w.transport.close()
    return results


def witness_process(port: int, control, interval: float, max_seconds: float) -> None:  # type: ignore[no-untyped-def]
    try:
        results = asyncio.run(witnesses_main(port, control, interval, max_seconds))
        control.send(json.dumps(results))
    except Exception as exc:  # reported by the parent
        control.send(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))


# --------------------------------------------------------------------------
# attackers
# --------------------------------------------------------------------------

GARBAGE = [
    b"\xff\xfe\xfd", b"\xc3\x28\xa0\xa1", b"\x00\x01\x02\x03", b":", b": :", b"@", b"@a=b", b"@;;;= :x",
    b"CAP LS \xc2\xb2", b"LIST <\xef\xbc\x91\xef\xbc\x90", b"PRIVMSG", b"\x1b[31m\x07", b"NICK \xe2\x80\xae",
    b"USER", b":nick!user@host", b"\t\t\t", b"JOIN #\xff\xff", b"MODE", b"PING", b"\x7f\x7f",
]
FLOOD = [
    "PRIVMSG #soak :spam spam spam spam spam spam spam spam", "NOTICE #soak :noise", "JOIN #soak{n}",
    "PART #soak{n} :bye", "NICK f{n}x{r}", "WHOIS witnessA", "TOPIC #soak :flood {r}", "AWAY :gone {r}",
    "AWAY", "MODE #soak +b *!*@h{r}.example", "PRIVMSG witnessA :hi", "WHO #soak", "ISON a b c d e f",
    "USERHOST witnessA witnessB", "JOIN #s{r}", "PRIVMSG #s{r} :x", "KICK #soak witnessA :x",
]
FILLERS = ["MODE #soak b", "MODE #soak beI", "LIST", "NAMES #soak", "WHO #soak", "HELP", "MOTD", "LUSERS",
           "INFO", "ADMIN", "VERSION", "NAMES", "WHO *", "LIST >0", "STATS u", "LINKS"]


class Stats:
    """What the attack did, and the line budget left per kind."""

    def __init__(self, total_lines: int, kinds: list[str]) -> None:
        shares = sum(KINDS[kind][0] for kind in kinds)
        self.budget = {kind: int(total_lines * KINDS[kind][0] / shares) if kind in kinds else 0 for kind in KINDS}
        self.sent = {kind: 0 for kind in KINDS}
        self.bytes = 0
        self.connections = 0
        self.failed = 0
        self.closed_by_server = 0
        self.stop = False

    @property
    def lines(self) -> int:
        return sum(self.sent.values())


class Attacker(asyncio.Protocol):
    """One hostile connection; the server's replies are read and dropped (unless it is a filler)."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.closed = loop.create_future()
        self.can_write = asyncio.Event()
        self.can_write.set()
        self.error_line = False

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if b"ERROR :" in data:
            self.error_line = True

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    def connection_lost(self, exc) -> None:  # type: ignore[no-untyped-def]
        self.can_write.set()
        if not self.closed.done():
            self.closed.set_result(exc)


def batch(kind: str, rng: random.Random, n: int, left: int) -> tuple[bytes, int]:
    """The next bytes to send (at most about ``left`` lines) and how many lines they hold."""
    if kind == "blank":
        count = max(1, min(8192, left))
        return b"\n" * count, count
    if kind == "garbage":
        lines = []
        for _ in range(64):
            if rng.random() < 0.5:
                lines.append(rng.choice(GARBAGE))
            else:
                lines.append(bytes(rng.choice(b"\x00\x01\x7f\x80\x9f\xc0\xff abcXYZ:#@!") for _ in range(rng.randint(1, 120))))
        return b"\r\n".join(lines) + b"\r\n", len(lines)
    if kind == "overlong":
        lines = [b"PRIVMSG #soak :" + b"x" * rng.randint(600, 12000) for _ in range(4)]
        return b"\r\n".join(lines) + b"\n", len(lines)
    if kind == "flood":
        lines = [rng.choice(FLOOD).format(n=n % 50, r=rng.randint(0, 999)) for _ in range(32)]
    elif kind == "filler":
        lines = [rng.choice(FILLERS) for _ in range(16)]
    else:  # oper
        lines = [rng.choice([f"OPER admin guess{rng.randint(0, 10**6)}", f"OPER nosuch{rng.randint(0, 999)} x",
                             f"OPER Admin {rng.randint(0, 999)}"]) for _ in range(4)]
    return ("\r\n".join(lines) + "\r\n").encode(), len(lines)


async def attacker(kind: str, index: int, port: int, stats: Stats, deadline: float, live: set) -> None:
    """Connect from 127.0.0.X and send ``kind`` until the budget, the deadline or the stop; reconnect when dropped."""
    loop = asyncio.get_running_loop()
    rng = random.Random(index)
    source = f"127.0.0.{2 + index % 249}"
    serial = 0
    while not stats.stop and stats.budget[kind] > 0 and time.monotonic() < deadline:
        serial += 1
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        if kind == "filler":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            sock.bind((source, 0))
            await asyncio.wait_for(loop.sock_connect(sock, (HOST, port)), 5)
            transport, proto = await loop.create_connection(Attacker, sock=sock)
        except (OSError, asyncio.TimeoutError):
            sock.close()
            stats.failed += 1
            await asyncio.sleep(0.2)
            continue
        stats.connections += 1
        live.add(transport)
        if kind == "filler":
            transport.pause_reading()  # never reads: the server's replies pile up
        try:
            if kind in REGISTERED:
                nick = f"{kind[0]}{index}x{serial}"
                data = f"NICK {nick}\r\nUSER {nick} 0 * :soak\r\nJOIN #soak\r\n".encode()
                transport.write(data)
                stats.sent[kind] += 3
                stats.budget[kind] -= 3
            while not stats.stop and stats.budget[kind] > 0 and not proto.closed.done():
                if time.monotonic() >= deadline:
                    break
                try:
                    await asyncio.wait_for(proto.can_write.wait(), 2.0)
                except asyncio.TimeoutError:
                    break  # the server stopped reading us: start again elsewhere
                if proto.closed.done() or stats.stop or stats.budget[kind] <= 0:
                    break
                data, count = batch(kind, rng, index, stats.budget[kind])
                transport.write(data)
                stats.sent[kind] += count
                stats.budget[kind] -= count
                stats.bytes += len(data)
                # Give the other connections (and the witnesses' partner process) a turn.
                await asyncio.sleep(0.01 if kind in REGISTERED else 0)
            if proto.closed.done() or proto.error_line:
                stats.closed_by_server += 1
        finally:
            if not stats.stop:
                transport.abort()
                live.discard(transport)
        await asyncio.sleep(0.05)


async def attack(port: int, stats: Stats, seconds: float) -> tuple[float, float]:
    """Run every attacker; close all their connections at the end. Returns (start, stop) monotonic times."""
    live: set = set()
    start = time.monotonic()
    deadline = start + seconds
    tasks = []
    index = 0
    for kind, (_, count) in KINDS.items():
        for _ in range(count if stats.budget[kind] > 0 else 0):
            tasks.append(asyncio.ensure_future(attacker(kind, index, port, stats, deadline, live)))
            index += 1
    while time.monotonic() < deadline and any(b > 0 for b in stats.budget.values()) \
            and not all(t.done() for t in tasks):
        await asyncio.sleep(0.1)
    stats.stop = True
    stop = time.monotonic()
    for transport in list(live):
        transport.abort()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return start, stop


# --------------------------------------------------------------------------
# measurement and report
# --------------------------------------------------------------------------

def wait_idle(srv: ServerProc, since: float, limit: float, window: float = 0.5, share: float = 0.05) -> float | None:
    """Seconds from ``since`` until the server used under ``share`` of a CPU over ``window``; None if never."""
    samples = []
    end = since + limit
    while time.monotonic() < end:
        cpu = cpu_seconds(srv)
        now = time.monotonic()
        if cpu is None:
            return None
        samples.append((now, cpu))
        while len(samples) > 1 and now - samples[1][0] >= window:
            samples.pop(0)
        t0, c0 = samples[0]
        if now - t0 >= window and (cpu - c0) / (now - t0) < share:
            return max(0.0, t0 - since)
        time.sleep(0.05)
    return None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=1_000_000, help="stop after this many hostile lines (1000000)")
    p.add_argument("--seconds", type=float, default=120.0, help="or after this many seconds of attack (120)")
    p.add_argument("--twistd", default=str(REPO / ".venv" / "bin" / "twistd"), help="the twistd to run")
    p.add_argument("--trigger", type=int, default=4, help="security set deftrigger for the server (4)")
    p.add_argument("--max-rtt-ms", type=float, default=50.0, help="target: witness round trips (50)")
    p.add_argument("--max-idle-s", type=float, default=2.0, help="target: seconds back to idle CPU (2)")
    p.add_argument("--max-log-growth", type=int, default=256 * 1024, help="target: log growth in bytes (262144)")
    p.add_argument("--kinds", default=",".join(KINDS),
                   help=f"which attacks, comma-separated (default all: {','.join(KINDS)})")
    p.add_argument("--attack-nice", type=int, default=10,
                   help="niceness added to the attacking process (10; 0: none), so that on a shared machine "
                        "its CPU does not delay the server and the witnesses, as a remote attacker's would not")
    p.add_argument("--keep", action="store_true", help="keep the server's folder (config, logs)")
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args(argv)

    raise_nofile(8192)
    workdir = Path(tempfile.mkdtemp(prefix="cr-soak-"))
    proc, port, log = start_server(workdir, args.twistd, args.trigger)
    srv = ServerProc(proc.pid)
    parent_end, child_end = multiprocessing.Pipe()
    witness = multiprocessing.Process(
        target=witness_process, args=(port, child_end, 0.1, args.seconds + 120), daemon=True)
    figures: dict = {"workdir": str(workdir)}
    try:
        witness.start()
        if not parent_end.poll(30) or parent_end.recv() != "ready":
            raise SystemExit("soak: the witnesses could not register and OPER within 30 s")
        time.sleep(2.0)  # a quiet baseline
        rss_before, log_before = srv.rss_kib(), log_bytes(log)
        cpu_before = cpu_seconds(srv)
        client_before = resource.getrusage(resource.RUSAGE_SELF)
        kinds = [kind for kind in args.kinds.split(",") if kind]
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise SystemExit(f"soak: unknown kinds {', '.join(sorted(unknown))}")
        stats = Stats(args.lines, kinds)
        print(f"soak: attacking 127.0.0.1:{port} (pid {proc.pid}) with {args.lines} lines "
              f"for at most {args.seconds:g} s ...", file=sys.stderr)
        if args.attack_nice:
            os.nice(args.attack_nice)  # this process only: the server and the witnesses were started before
        attack_start, attack_stop = asyncio.run(attack(port, stats, args.seconds))
        client_after = resource.getrusage(resource.RUSAGE_SELF)
        cpu_attack = (cpu_seconds(srv) or 0) - (cpu_before or 0)
        idle = wait_idle(srv, attack_stop, limit=60.0)
        time.sleep(1.0)
        parent_end.send("stop")
        results = json.loads(parent_end.recv()) if parent_end.poll(15) else {"error": "no witness results"}
        witness.join(5)
        alive = proc.poll() is None
        rss_after = srv.rss_kib()
        growth = log_bytes(log) - log_before
        tracebacks = log_tracebacks(log)
    finally:
        if witness.is_alive():
            witness.terminate()
        stop_proc(proc)
    if "error" in results:
        print(f"soak: witnesses failed: {results['error']}", file=sys.stderr)
        return 2

    def during(kind: str) -> list[float]:
        return [rtt * 1000 for sent, rtt in results[kind] if sent >= attack_start]

    server_rtt, partner_rtt = during("server"), during("partner")
    figures.update(
        lines=stats.lines, lines_by_kind=stats.sent, bytes=stats.bytes, attack_seconds=attack_stop - attack_start,
        connections=stats.connections, connect_failures=stats.failed, closed_by_server=stats.closed_by_server,
        server_cpu_during_attack=cpu_attack,
        client_cpu=(client_after.ru_utime + client_after.ru_stime) - (client_before.ru_utime + client_before.ru_stime),
        ping_samples=len(server_rtt), ping_worst_ms=max(server_rtt, default=float("nan")),
        ping_p99_ms=percentile(server_rtt, 99), ping_median_ms=percentile(server_rtt, 50),
        partner_worst_ms=max(partner_rtt, default=float("nan")), partner_p99_ms=percentile(partner_rtt, 99),
        lost_pings=results["lost_pings"], witness_disconnected=results["disconnected"],
        rss_before_kib=rss_before, rss_after_kib=rss_after, log_growth_bytes=growth,
        idle_after_s=idle, tracebacks=len(tracebacks), first_traceback=tracebacks[0] if tracebacks else None,
        server_alive=alive, attack_nice=args.attack_nice, load_average=os.getloadavg(),
    )
    checks = [
        ("witness PING round trip, worst (ms)", figures["ping_worst_ms"], args.max_rtt_ms),
        ("witness PING round trip, p99 (ms)", figures["ping_p99_ms"], args.max_rtt_ms),
        ("witness to witness CTCP PING, worst (ms)", figures["partner_worst_ms"], args.max_rtt_ms),
        ("witness to witness CTCP PING, p99 (ms)", figures["partner_p99_ms"], args.max_rtt_ms),
        ("seconds back to idle CPU", idle if idle is not None else float("inf"), args.max_idle_s),
        ("log growth (bytes)", growth, args.max_log_growth),
        ("tracebacks in the log", len(tracebacks), 0),
    ]
    missed = [name for name, value, limit in checks if not value <= limit]
    if results["disconnected"] or results["lost_pings"] or not alive:
        missed.append("witnesses stayed connected and answered, server alive")

    print(f"\nsoak against conferenceroom (pid {proc.pid}), {figures['attack_seconds']:.1f} s of attack")
    print(f"  hostile lines sent  {stats.lines:>10}  ({', '.join(f'{k} {v}' for k, v in stats.sent.items())})")
    print(f"  bytes sent          {stats.bytes:>10}")
    print(f"  connections         {stats.connections:>10}  (closed by the server {stats.closed_by_server}, "
          f"connect failures {stats.failed})")
    print(f"  server CPU, attack  {cpu_attack:>10.1f} s    soak client CPU {figures['client_cpu']:.1f} s")
    print(f"  RSS before / after  {rss_before:>10} / {rss_after} KiB")
    print(f"  load average        {' '.join(f'{x:.2f}' for x in os.getloadavg()):>10}  (attack niced +{args.attack_nice})")
    print(f"  PING median         {figures['ping_median_ms']:>10.1f} ms  ({len(server_rtt)} samples, "
          f"{results['lost_pings']} unanswered)")
    print()
    print(f"  {'target':<44} {'measured':>10} {'limit':>10}  ok")
    for name, value, limit in checks:
        shown = "never" if value == float("inf") else f"{value:.1f}" if isinstance(value, float) else str(value)
        print(f"  {name:<44} {shown:>10} {limit:>10g}  {'yes' if value <= limit else 'NO'}")
    if tracebacks:
        print(f"  first traceback line: {tracebacks[0]}")
    if results["disconnected"]:
        print(f"  a witness was disconnected: {results['disconnected']}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    if args.keep or missed:
        print(f"  server folder (config, logs): {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{'all targets met' if not missed else 'targets missed: ' + '; '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
