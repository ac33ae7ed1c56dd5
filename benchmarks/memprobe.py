#!/usr/bin/env python3
"""Where a server's memory per idle client goes: RSS from /proc, and Python's own view.

Starts ours (``twistd conferenceroom`` with compare.py's configuration) or the
Twisted floor, connects and registers N clients (all at once, or with
``--concurrency`` at most so many at a time: 1 is a trickle of connects),
waits 0.5 s and prints the RSS growth per client.  With ``--trace FRAMES``
the server runs under ``tracemalloc`` (a ``sitecustomize`` put first on its
path dumps a snapshot on SIGUSR2; nothing of it is in the server's code):
it also prints the Python bytes held per client, the peak reached during the
burst above what was held before it, and the lines that hold the most, per
client (RSS is not measured then: the snapshots themselves move it).
tracemalloc slows the server several times: use it with at most a few
thousand clients.

    python3 benchmarks/memprobe.py --clients 1000
    python3 benchmarks/memprobe.py --clients 1000 --trace 1 --top 30
    python3 benchmarks/memprobe.py --clients 1000 --trace 4 --group traceback --top 10
    python3 benchmarks/memprobe.py --floor --clients 2000 --concurrency 1
    python3 benchmarks/memprobe.py --tree /tmp/old-checkout --clients 1000   # another checkout's code
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import compare  # noqa: E402
import load  # noqa: E402
from procs import stop_proc  # noqa: E402

#: put first on the server's path with --trace: a snapshot per SIGUSR2, with the traced
#: current/peak bytes read before the snapshot (which allocates) and the peak reset after
HOOK = '''\
import gc, os, signal, tracemalloc

_taken = [0]


def _dump(signum, frame):
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    snapshot = tracemalloc.take_snapshot()
    _taken[0] += 1
    path = os.path.join(os.environ["MEMPROBE_DIR"], "snap%d" % _taken[0])
    snapshot.dump(path)
    with open(path + ".done", "w") as f:
        f.write("%d %d" % (current, peak))
    tracemalloc.reset_peak()


if os.environ.get("MEMPROBE_DIR") and tracemalloc.is_tracing():
    signal.signal(signal.SIGUSR2, _dump)
'''


def rss_kib(pid: int) -> int:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


def start(args: argparse.Namespace, work: str) -> tuple[subprocess.Popen, int]:
    tree = os.path.abspath(args.tree)
    port = compare.free_port()
    env = dict(os.environ)
    path = [tree]
    if args.trace:
        hook = os.path.join(work, "hook")
        os.makedirs(hook)
        with open(os.path.join(hook, "sitecustomize.py"), "w") as f:
            f.write(HOOK)
        path.insert(0, hook)
        env.update(PYTHONTRACEMALLOC=str(args.trace), MEMPROBE_DIR=work)
    env["PYTHONPATH"] = os.pathsep.join(path + [p for p in [os.environ.get("PYTHONPATH")] if p])
    if args.floor:
        argv = [os.path.join(tree, ".venv", "bin", "python"), os.path.join(HERE, "floor.py"),
                "--port", str(port)]
    else:
        conf = os.path.join(work, "ours.conf")
        with open(conf, "w") as f:
            f.write(compare.OURS_CONF.format(port=port))
        argv = [os.path.join(tree, ".venv", "bin", "twistd"), "-n", "--pidfile=", "conferenceroom",
                "--config", conf]
    proc = compare.spawn_listening(argv, port, os.path.join(work, "server.log"), cwd=tree, env=env)
    return proc, port


def snapshot(proc: subprocess.Popen, work: str, n: int, timeout: float = 120.0) -> str:
    """Ask the server for snapshot ``n``; its path once written."""
    os.kill(proc.pid, signal.SIGUSR2)
    path = os.path.join(work, "snap%d" % n)
    deadline = time.monotonic() + timeout
    while not os.path.exists(path + ".done"):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("no snapshot from the server")
        time.sleep(0.05)
    return path


async def probe(args: argparse.Namespace, proc: subprocess.Popen, port: int, work: str) -> int:
    await asyncio.sleep(0.5)
    before = snapshot(proc, work, 1) if args.trace else None
    rss0 = rss_kib(proc.pid)
    deadline = time.monotonic() + args.timeout
    nicks = ["mp%d" % i for i in range(args.clients)]
    clients, errors = await load.register_many("127.0.0.1", port, nicks, deadline, args.concurrency)
    try:
        if not clients:
            print("no client registered (%d errors)" % len(errors))
            return 1
        await asyncio.sleep(0.5)
        rss1 = rss_kib(proc.pid)
        n = len(clients)
        print("registered %d of %d" % (n, args.clients))
        if args.trace:  # the first snapshot itself grows the heap and frees it: RSS says nothing here
            print("KiB RSS per idle client: not measured under --trace")
        else:
            print("KiB RSS per idle client: %.3f" % ((rss1 - rss0) / n))
        if args.trace:
            after = snapshot(proc, work, 2)
            with open(before + ".done") as f:
                current0, _ = map(int, f.read().split())
            with open(after + ".done") as f:
                current1, peak1 = map(int, f.read().split())
            print("traced bytes per idle client: %.0f" % ((current1 - current0) / n))
            print("traced peak during the burst, per client, above before: %.0f" % ((peak1 - current0) / n))
            stats = tracemalloc.Snapshot.load(after).compare_to(tracemalloc.Snapshot.load(before), args.group)
            for stat in stats[: args.top]:
                where = ("\n        ".join(stat.traceback.format()) if args.group == "traceback"
                         else str(stat.traceback))
                print("%8.1f B %6.2f objects per client  %s" % (stat.size_diff / n, stat.count_diff / n, where))
        return 0 if n == args.clients else 1
    finally:
        await load.close_all(clients)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=None,
                    help="at most so many connects at once (default: all at once, a burst)")
    ap.add_argument("--floor", action="store_true", help="measure the Twisted floor (floor.py) instead of ours")
    ap.add_argument("--tree", default=REPO, help="the checkout whose code runs (default: this one)")
    ap.add_argument("--trace", type=int, default=0, metavar="FRAMES",
                    help="run the server under tracemalloc with so many frames per allocation")
    ap.add_argument("--group", default="lineno", choices=("lineno", "traceback", "filename"))
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args(argv)
    load.raise_nofile(compare.NOFILE)
    work = tempfile.mkdtemp(prefix="memprobe-")
    proc, port = start(args, work)
    try:
        return asyncio.run(probe(args, proc, port, work))
    finally:
        stop_proc(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
