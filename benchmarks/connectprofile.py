#!/usr/bin/env python3
"""Connects in one process: our CPU per connect and per quit, without sockets.

The server is configured as ``compare.py`` configures ours (flood control
off, no per-IP limits, services disabled) and logs through the chain twistd
would use (:class:`~conferenceroom.logs.BoundedLogObserver` writing to a
temporary file), with ``--opers`` local operators (+s) who receive the
"Client connecting"/"Client exiting" notices.  ``--clients`` connections
are made through the real listener factory on in-memory transports
(Twisted's StringTransport: Twisted's socket paths are not counted), each
sending ``NICK``/``USER`` in one read as ``load.py`` does; the registration
pacing runs over turns of a ``task.Clock``.  Then each sends ``QUIT`` and its
connection is lost.  Reported: CPU microseconds (``time.process_time``) per
connect (accept to welcome written: what ``load.py``'s burst phase measures)
and per quit, the minimum and median of ``--rounds`` rounds (the minimum is
the steady figure on a shared machine).  ``--profile connect|quit`` prints
the top functions of that part.  Never part of ``make test``.

Usage: ``python3 benchmarks/connectprofile.py [--clients 1000] [--rounds 9]``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import statistics
import sys
import tempfile
import time
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from twisted.internet import address, task  # noqa: E402
from twisted.internet.testing import StringTransport  # noqa: E402
from twisted.logger import globalLogBeginner  # noqa: E402

from conferenceroom import logs, services  # noqa: E402
from conferenceroom.admin.configfile import parse_config  # noqa: E402
from conferenceroom.client.protocol import ClientFactory  # noqa: E402
from conferenceroom.service import build_core  # noqa: E402

NOW = 1_800_000_000.0
#: what compare.py writes for ours (the port is not opened here)
CONF = """\
general set name bench.conferenceroom.local
general set ports 6667
general set bindip 127.0.0.1
general set hub
security set flood off
security set deftrigger 0
services disable
"""


class Harness:
    """One server core, its listener factory and a clock; connections made and dropped in rounds."""

    def __init__(self, opers: int) -> None:
        self.clock = task.Clock()
        self.clock.advance(NOW)
        settings = parse_config(CONF, "bench.conf").settings
        self.core = build_core(settings, self.clock)
        services.attach(self.core, start=False)
        self.factory = ClientFactory(self.core)
        self.serial = 0
        self.opers = [self._oper(i) for i in range(opers)]

    def _oper(self, i: int) -> Any:
        conn = self._accept()
        conn.dataReceived(b"NICK oper%d\r\nUSER oper 0 * :oper\r\n" % i)
        self._turns()
        user = conn.user
        if user is None:
            raise SystemExit(f"oper{i} did not register: {conn.transport.value()[:300]!r}")
        self.core.network.set_oper(user, f"oper{i}", frozenset("oO"), also="s")  # as OPER does: +o and +s
        conn.transport.clear()
        return conn

    def _accept(self) -> Any:
        self.serial += 1
        n = self.serial
        peer = address.IPv4Address("TCP", f"10.{n // 62500 % 250}.{n // 250 % 250}.{n % 250 + 1}", 40000)
        conn = self.factory.buildProtocol(peer)
        conn.makeConnection(StringTransport(peerAddress=peer,
                                            hostAddress=address.IPv4Address("TCP", "127.0.0.1", 6667)))
        return conn

    def _turns(self) -> None:
        pace = self.core.registration_pace
        while pace.waiting or pace._timer is not None:
            self.clock.advance(0)

    def connect(self, count: int) -> list[Any]:
        """``count`` clients accepted, each sending NICK and USER in one read, welcomed over the turns."""
        conns = []
        for _ in range(count):
            conn = self._accept()
            nick = b"c%db%d" % (self.serial % 7, self.serial)
            conn.dataReceived(b"NICK %s\r\nUSER %s 0 * :load\r\n" % (nick, nick[:9]))
            conns.append(conn)
        self._turns()
        return conns

    def quit(self, conns: list[Any]) -> None:
        """Each client says QUIT and its connection is then lost."""
        for conn in conns:
            conn.dataReceived(b"QUIT :done\r\n")
            conn.connectionLost(None)
        self._turns()

    def check(self, conns: list[Any]) -> None:
        for conn in conns:
            if conn.user is None or b" 001 " not in conn.transport.value():
                raise SystemExit(f"a client was not welcomed: {conn.transport.value()[:300]!r}")


def measure(harness: Harness, clients: int, rounds: int) -> tuple[list[float], list[float]]:
    """CPU microseconds per connect and per quit, one figure per round."""
    connect, leave = [], []
    for _ in range(rounds):
        gc.collect()
        start = time.process_time()
        conns = harness.connect(clients)
        mid = time.process_time()
        harness.check(conns)
        gc.collect()
        mid2 = time.process_time()
        harness.quit(conns)
        end = time.process_time()
        connect.append((mid - start) / clients * 1e6)
        leave.append((end - mid2) / clients * 1e6)
        for oper in harness.opers:
            oper.transport.clear()
    return connect, leave


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--opers", type=int, default=1, help="local +s operators told of each connect and exit")
    ap.add_argument("--profile", choices=("connect", "quit"))
    args = ap.parse_args()
    if not 1 <= args.clients <= 20_000 or not 1 <= args.rounds <= 1000 or not 0 <= args.opers <= 100:
        raise SystemExit("--clients 1..20000, --rounds 1..1000, --opers 0..100")
    with tempfile.TemporaryDirectory() as tmp:
        observer = logs.BoundedLogObserver(logs.LogOptions(os.path.join(tmp, "bench.log")), task.Clock())
        globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False, discardBuffer=True)
        harness = Harness(args.opers)
        measure(harness, args.clients, 1)  # warm up: caches, templates, the log's collapsed kinds
        if args.profile:
            profile = cProfile.Profile()
            if args.profile == "connect":
                profile.enable()
                conns = harness.connect(args.clients)
                profile.disable()
                harness.quit(conns)
            else:
                conns = harness.connect(args.clients)
                profile.enable()
                harness.quit(conns)
                profile.disable()
            stats = pstats.Stats(profile)
            stats.sort_stats("cumulative").print_stats(35)
            stats.sort_stats("tottime").print_stats(25)
            return
        connect, leave = measure(harness, args.clients, args.rounds)
        print(f"CPU us per connect: min {min(connect):.1f} median {statistics.median(connect):.1f}; "
              f"per quit: min {min(leave):.1f} median {statistics.median(leave):.1f} "
              f"({args.clients} clients x {args.rounds} rounds, {args.opers} oper(s))")


if __name__ == "__main__":
    main()
