#!/usr/bin/env python3
"""Join/part churn in one process: CPU per JOIN+PART, without sockets.

The same traffic as ``load.py``'s churn phase: ``--clients`` registered
clients (50), each read carrying ``--window`` rounds (10) of ``JOIN #own``,
``PART #own``, ``JOIN #shared``, ``PART #shared`` followed by a PING, on
in-memory transports (Twisted's StringTransport: the parse, flood gate,
dispatch, model, events, announcer and write path are counted, Twisted's
socket write path is not).  Reported: CPU microseconds (``time.process_time``)
per JOIN+PART, minimum and median of ``--samples`` samples (the minimum is
the steady figure on a shared machine).  ``--profile`` prints the top
functions instead.  ``--services`` starts the services (ChanServ and its
registry check) as ``services enable`` would; compare.py runs ours without.
Never part of ``make test``.

Usage: ``PYTHONPATH=. python3 benchmarks/churnprofile.py [--samples 15] [--profile]``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from twisted.internet import address, task  # noqa: E402
from twisted.internet.testing import StringTransport  # noqa: E402

from conferenceroom.admin.settings import FloodSettings, Settings  # noqa: E402
from conferenceroom.client.protocol import ClientConnection  # noqa: E402
from conferenceroom.service import build_core  # noqa: E402

NOW = 1_800_000_000.0


def _core(services: bool) -> Any:
    clock = task.Clock()
    clock.advance(NOW)
    settings = replace(Settings(), name="bench.local", network="BenchNet", flood=FloodSettings(enabled=False),
                       services_enabled=services, datadir=tempfile.mkdtemp(prefix="churnprofile-"))
    core = build_core(settings, clock)
    if services:
        control = getattr(core, "services_control", None)
        if control is not None:
            control.start()
    return core


def _client(core: Any, serial: int) -> ClientConnection:
    conn = ClientConnection(core)
    ip = f"10.0.{serial // 250 % 250}.{serial % 250 + 1}"
    conn.makeConnection(StringTransport(peerAddress=address.IPv4Address("TCP", ip, 4000)))
    nick = f"churn{serial}"
    conn.dataReceived(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
    if conn.user is None:
        raise SystemExit(f"{nick} did not register: {conn.transport.value()!r}")
    conn.transport.clear()
    return conn


def churn(clients: int, window: int, rounds: int, samples: int, services: bool) -> list[float]:
    """CPU microseconds per JOIN+PART, one figure per sample (every echo checked)."""
    core = _core(services)
    conns = [_client(core, i) for i in range(clients)]
    reads = []
    for i, conn in enumerate(conns):
        own = b"#c%d" % i
        block = b"JOIN %s\r\nPART %s\r\nJOIN #churn\r\nPART #churn\r\n" % (own, own)
        reads.append((conn, block * window + b"PING :w\r\n"))
    figures = []
    for _ in range(samples):
        start = time.process_time()
        for _ in range(rounds // window):
            for conn, data in reads:
                conn.dataReceived(data)
        spent = time.process_time() - start
        ops = 2 * clients * (rounds // window) * window
        echoes = 0
        for conn in conns:
            out = conn.transport.value()
            echoes += out.count(b" JOIN #") + out.count(b" PART #")  # (a 421 reads " JOIN :")
            conn.transport.clear()
        if echoes < 2 * ops:  # each JOIN and PART comes back to its sender at least
            raise SystemExit(f"only {echoes} of {2 * ops} echoes")
        figures.append(spent / ops * 1e6)
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--samples", type=int, default=15)
    ap.add_argument("--services", action="store_true", help="run the services (ChanServ) too")
    ap.add_argument("--profile", action="store_true", help="print the top functions (cProfile) instead")
    args = ap.parse_args()
    if not 1 <= args.clients <= 5000 or not 1 <= args.samples <= 1000 or not 1 <= args.window <= args.rounds:
        raise SystemExit("--clients 1..5000, --samples 1..1000, --window 1..rounds")
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        churn(args.clients, args.window, args.rounds, 3, args.services)
        profile.disable()
        stats = pstats.Stats(profile)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)
        return
    figures = churn(args.clients, args.window, args.rounds, args.samples, args.services)
    print(f"churn {args.clients} clients, {args.window} rounds per read: CPU us per JOIN+PART "
          f"min {min(figures):.2f} median {statistics.median(figures):.2f}")


if __name__ == "__main__":
    main()
