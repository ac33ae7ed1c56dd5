#!/usr/bin/env python3
"""Scale phases of issue 11 (stdlib only, asyncio; loopback only).

Against one running server (``--port N --pid PID``, like load.py):

1. idle     ``--idle-clients`` (20,000) clients connect and register from
            loader processes (loader.py, 5,000 clients each at most); then
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
import os
import statistics
import sys
import time
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import load  # noqa: E402
from load import cpu_delta  # noqa: E402
from loader import RegistrationStopped, all_say, raise_nofile, start_workers  # noqa: E402
import netscale  # noqa: E402

#: descriptors a server keeps for itself (listeners, logs, databases, DNS)
FD_MARGIN = 200


def log(msg: str) -> None:
    print("[scale] " + msg, file=sys.stderr, flush=True)


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


def open_files(pid: Optional[int]) -> Optional[int]:
    """How many descriptors the server holds now, from /proc/PID/fd."""
    if not pid:
        return None
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


async def register_or_say_why(args, res, tag, count, deadline):
    """start_workers, or None with ``res["error"]`` saying which limit stopped it.

    A loader stops on its own when attempts keep failing (a per-IP client
    limit, a descriptor limit) instead of retrying until the phase's deadline;
    the server's own descriptor count is added when it is at its limit."""
    try:
        return await start_workers(args, tag, count, deadline)
    except RegistrationStopped as e:
        why = str(e)
        held, limit = open_files(args.pid), open_files_limit(args.pid)
        if held is not None and limit is not None and held >= limit - 5:
            why += "; the server holds %d descriptors of its %d (RLIMIT_NOFILE): its descriptor limit" % (
                held, limit)
        res["error"] = why
        log(why)
        return None


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
    started = await register_or_say_why(args, res, tag + "i", count, deadline)
    if started is None:
        return
    workers, registered, errors, wall = started
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
    started = await register_or_say_why(args, res, tag + "g", m, deadline)
    if started is None:
        return
    workers, registered, errors, _ = started
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


def _scale_budget(args, remaining):
    args.phase_budget = remaining - 5
    return remaining


async def _log_phase(args, name, res, results):
    log("%s %s: %s" % (args.label or results["target"], name, ", ".join(
        "%s=%s" % (k, "%.4g" % v if isinstance(v, float) else v)
        for k, v in sorted(res.items()) if k != "runs")))
    await asyncio.sleep(1.0)


async def run(args):
    return await load.run_phases(args, PHASES, min_left=5, budget_for=_scale_budget,
                                 after_phase=_log_phase)


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

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
    if not args.network and args.port is None:
        ap.error("--port (and --pid) or --network is needed")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    load.check_loopback(args.host)
    raise_nofile()
    if args.network:
        if args.hubs < 2:
            args.hubs = 2
        results = netscale.run_network(args)
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
