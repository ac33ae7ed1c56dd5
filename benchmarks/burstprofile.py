#!/usr/bin/env python3
"""The link burst in one process: where our CPU goes, without sockets or a second machine.

The same data set as ``linkburst.py`` (``--users`` UIDs in ``--channels``
channels from a fake feeder) is fed into a server X; X then links to a
server Y over in-memory transports (real ``LinkConnection`` on both ends, the
real TS6 modules, an operator with +s on each side).  Reported: CPU seconds
X spends writing its burst and Y spends reading it (``time.process_time``
around each side's calls), lines and bytes, garbage collections during the link; ``--profile X|Y`` prints the
top functions of that side by cumulative and by own time; ``--no-pause``
leaves the garbage collector running (link/quiet.py off); ``--check``
compares X's and Y's full state (users, channels, modes, lists, topics,
statuses) and exits 1 if they differ.  Never part of ``make test``.

Usage: ``python3 benchmarks/burstprofile.py [--repeat 5] [--profile Y]``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import statistics
import sys
import time
from dataclasses import replace
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from twisted.internet import address, task  # noqa: E402
from twisted.internet.testing import StringTransport  # noqa: E402

from conferenceroom.admin.settings import FloodSettings, FrozenMap, ServerDef, Settings, fold_name  # noqa: E402
from conferenceroom.client.protocol import ClientConnection  # noqa: E402
from conferenceroom.link.protocol import LinkConnection  # noqa: E402
from conferenceroom.service import build_core  # noqa: E402
from linkburst import FEEDER_NAME, FEEDER_SID, burst_lines  # noqa: E402

NOW = 1_800_000_000
FEED_PASSWORD = "feed-secret"
LINK_PASSWORD = "link-secret"


def _core(name: str, serial: str, role: str, clock: task.Clock, *defs: ServerDef) -> Any:
    settings = replace(
        Settings(), name=name, serial=serial, network="BenchNet", role=role, description=name,
        flood=FloodSettings(enabled=False), servers=FrozenMap((fold_name(d.handle), d) for d in defs),
    )
    core = build_core(settings, clock)
    core.link_manager = None
    return core


def _oper(core: Any, nick: str) -> ClientConnection:
    conn = ClientConnection(core)
    conn.makeConnection(StringTransport(peerAddress=address.IPv4Address("TCP", "127.0.0.1", 40000)))
    conn.dataReceived(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
    core.network.set_oper(conn.user, "admin", frozenset("a"), also="s")
    conn.transport.clear()
    return conn


def _transport(port: int) -> StringTransport:
    return StringTransport(peerAddress=address.IPv4Address("TCP", "127.0.0.1", port))


class Timed:
    """Per-side CPU time and an optional profiler around each call into that side."""

    def __init__(self, profile: bool) -> None:
        self.cpu = 0.0
        self.profiler = cProfile.Profile() if profile else None

    def run(self, func: Any, *args: Any) -> None:
        start = time.process_time()
        if self.profiler is not None:
            self.profiler.runcall(func, *args)
        else:
            func(*args)
        self.cpu += time.process_time() - start


def pump(clock: task.Clock, ends: list[tuple[Any, Any, Timed]], rounds: int = 100000) -> int:
    """Carry bytes between the ends (and run the clock's due calls) until all is quiet; bytes moved."""
    moved_bytes = 0
    for _ in range(rounds):
        moved = False
        for src, dst, timer in ends:
            data = src.transport.value()
            if data:
                src.transport.clear()
                moved_bytes += len(data)
                timer.run(dst.dataReceived, data)
                moved = True
        for _, dst, timer in ends:
            if dst._drain_call is not None:  # the reading side's next turn of LINES_PER_TURN lines
                timer.run(clock.advance, 0)
                moved = True
                break
        if not moved:
            break
    return moved_bytes


def build(users: int, channels: int, seed: int) -> tuple[Any, Any, task.Clock]:
    """X holding the feeder's network, and Y; not linked yet."""
    clock = task.Clock()
    clock.advance(NOW)
    feeder_def = ServerDef("feeder", name=FEEDER_NAME, password=FEED_PASSWORD, role="leaf", enabled=True)
    beta_def = ServerDef("beta", name="beta.bench", password=LINK_PASSWORD, role="leaf", host="127.0.0.1",
                         port=7001, enabled=True)
    alpha_def = ServerDef("alpha", name="alpha.bench", password=LINK_PASSWORD, role="hub", enabled=True)
    x = _core("alpha.bench", "101-0000-001", "hub", clock, feeder_def, beta_def)
    y = _core("beta.bench", "102-0000-001", "leaf", clock, alpha_def)
    feed = LinkConnection(x)
    feed.makeConnection(_transport(40100))
    lines = [f"PASS {FEED_PASSWORD}", "CAPAB :EOB ENCAP TBURST CLUSTER RHOST HOP",
             f"SERVER {FEEDER_NAME} 1 {FEEDER_SID} + :feeder", f":{FEEDER_SID} SVINFO 6 6 0 :{NOW}"]
    lines += burst_lines(users, channels, seed, NOW)
    lines.append(f":{FEEDER_SID} EOB")
    data = "".join(line + "\r\n" for line in lines).encode()
    feed.dataReceived(data)
    while feed._drain_call is not None:
        clock.advance(0)
    assert len(x.network.users) >= users, "the feed did not arrive whole"
    return x, y, clock


def link_once(users: int, channels: int, seed: int, profile: str | None) -> dict[str, Any]:
    """Feed X, link X to Y; CPU of each side while the link's bursts cross."""
    x, y, clock = build(users, channels, seed)
    _oper(x, "xoper")
    _oper(y, "yoper")
    gc.collect()
    gc.freeze()  # as the service does after start-up (here: X's feed too)
    tx, ty = Timed(profile == "X"), Timed(profile == "Y")
    active = LinkConnection(x, x.settings.servers["beta"])
    passive = LinkConnection(y)
    ty.run(passive.makeConnection, _transport(40001))
    tx.run(active.makeConnection, _transport(7001))
    before = [g["collections"] for g in gc.get_stats()]
    moved = pump(clock, [(active, passive, ty), (passive, active, tx)])
    collections = [g["collections"] - b for g, b in zip(gc.get_stats(), before)]
    assert active.registered and passive.registered, "the link did not register"
    out = {"cpu_x": tx.cpu, "cpu_y": ty.cpu, "bytes": moved, "lines": active.burst_lines, "x": x, "y": y,
           "collections": collections}
    prof = tx.profiler or ty.profiler
    if prof is not None:
        out["profile"] = prof
    return out


def state(core: Any) -> dict[str, Any]:
    """Everything the feeder's burst carried, comparable across servers."""
    net = core.network
    users = {
        u.uid: (u.nick, u.ident, u.host, u.realhost, u.ip, u.realname, int(u.nick_ts), "".join(sorted(u.modes)),
                u.away, u.account)
        for u in net.users_by_uid.values() if u.server.name == FEEDER_NAME
    }
    chans = {}
    for c in net.channels.values():
        chans[c.name] = (
            c.ts, "".join(sorted(c.flags)), c.key, c.limit,
            {m: sorted(e.mask for e in entries) for m, entries in c.lists.items()},
            (c.topic, c.topic_setter, c.topic_ts),
            sorted((u.uid, "".join(sorted(m.status))) for u, m in c.members.items() if u.server.name == FEEDER_NAME),
        )
    return {"users": users, "channels": chans}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=10000)
    p.add_argument("--channels", type=int, default=2000)
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--profile", choices=("X", "Y"))
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--check", action="store_true", help="compare X's and Y's state after the link")
    p.add_argument("--no-pause", action="store_true",
                   help="leave the garbage collector running during the bursts (link/quiet.py off)")
    args = p.parse_args(argv)
    if args.no_pause:
        from conferenceroom.link import quiet

        class Running:
            """A collector that is never paused."""

            def isenabled(self) -> bool:
                return True

            def disable(self) -> None:
                pass

            def enable(self) -> None:
                pass

        quiet.PAUSE = quiet.CollectorPause(Running())
    xs, ys = [], []
    for _ in range(args.repeat):
        run = link_once(args.users, args.channels, args.seed, args.profile)
        xs.append(run["cpu_x"])
        ys.append(run["cpu_y"])
        print(f"CPU X {run['cpu_x']:.3f} s, CPU Y {run['cpu_y']:.3f} s "
              f"({run['lines']} burst lines, {run['bytes']} bytes; "
              f"garbage collections by generation {run['collections']})")
        if args.check:
            sx, sy = state(run["x"]), state(run["y"])
            if sx != sy:
                print("STATE DIFFERS between X and Y")
                return 1
            print(f"state identical: {len(sx['users'])} users, {len(sx['channels'])} channels")
        gc.unfreeze()
        if "profile" in run:
            for order in ("cumulative", "tottime"):
                buf = io.StringIO()
                pstats.Stats(run["profile"], stream=buf).sort_stats(order).print_stats(args.top)
                print(buf.getvalue())
    print(f"median CPU X {statistics.median(xs):.3f} s, CPU Y {statistics.median(ys):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
