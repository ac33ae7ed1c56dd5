#!/usr/bin/env python3
"""scale.py's network phase: N servers of ours or of ircd-hybrid in a tree.

A root hub s0, ``hubs`` hubs under it, the other servers leaves dealt over
the hubs.  Ours are configured with the manual's AS grammar (each child an
upstream definition for its parent that it dials: ``set host``, ``set port``,
``set role hub``, ``set auto on``; each parent a definition per child with
name, password and role, no host); hybrid with ``connect {}`` blocks and an
operator's CONNECT from each child (tests/integration/hybrid.py).  Measured
by :func:`measure_network`: CPU of all servers per relayed line per link, and
PRIVMSG latency over three links.  Servers are stopped by PID.
"""

from __future__ import annotations

import asyncio
import os
import random
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
from loader import raise_nofile  # noqa: E402


def log(msg: str) -> None:
    print("[scale] " + msg, file=sys.stderr, flush=True)


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
    # this checkout's code, not the one the venv's editable install points at
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [REPO, os.environ.get("PYTHONPATH")])))

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
            procs.append(subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT,
                                          preexec_fn=raise_nofile))
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
