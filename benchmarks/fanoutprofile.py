#!/usr/bin/env python3
"""Fan-out in one process: CPU per delivered line and per channel message, without sockets.

``--members`` clients (200) and a sender join one channel; the sender's
reads carry ``--per-read`` lines each (1 and 10 by default: one line per read
is everyday chat, ten is a paste or a busy bot), on in-memory transports
(Twisted's StringTransport, so Twisted's socket write path is not counted).
Reported: CPU microseconds (``time.process_time``) per delivered line, the
minimum and median of ``--samples`` samples (the minimum is the steady figure
on a shared machine).  Then a PRIVMSG to a 2-member channel, without bans
and with ``--bans`` bans, per message.  ``--profile K`` prints the top
functions of the K-lines-per-read case.  Never part of ``make test``.

Usage: ``python3 benchmarks/fanoutprofile.py [--members 200] [--profile 1]``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from dataclasses import replace
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from twisted.internet import address, task  # noqa: E402
from twisted.internet.testing import StringTransport  # noqa: E402

from conferenceroom.admin.settings import FloodSettings, Settings  # noqa: E402
from conferenceroom.client.protocol import ClientConnection  # noqa: E402
from conferenceroom.network import ListEntry  # noqa: E402
from conferenceroom.service import build_core  # noqa: E402

NOW = 1_800_000_000.0


def _core() -> Any:
    clock = task.Clock()
    clock.advance(NOW)
    settings = replace(Settings(), name="bench.local", network="BenchNet", flood=FloodSettings(enabled=False))
    return build_core(settings, clock)


def _client(core: Any, nick: str, serial: int, channel: str) -> ClientConnection:
    conn = ClientConnection(core)
    ip = f"10.{serial // 62500 % 250}.{serial // 250 % 250}.{serial % 250 + 1}"
    conn.makeConnection(StringTransport(peerAddress=address.IPv4Address("TCP", ip, 4000)))
    conn.dataReceived(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN {channel}\r\n".encode())
    if conn.user is None:
        raise SystemExit(f"{nick} did not register: {conn.transport.value()!r}")
    conn.transport.clear()
    return conn


def fanout(members: int, per_read: int, samples: int, reads: int = 20) -> list[float]:
    """CPU microseconds per delivered line, one figure per sample."""
    core = _core()
    receivers = [_client(core, f"r{i}", i, "#bench") for i in range(members)]
    sender = _client(core, "sender", members, "#bench")
    chunk = b"".join(b"PRIVMSG #bench :message %d from the sender, of an ordinary length\r\n" % i
                     for i in range(per_read))
    figures = []
    for _ in range(samples):
        start = time.process_time()
        for _ in range(reads):
            sender.dataReceived(chunk)
        spent = time.process_time() - start
        for conn in receivers:
            conn.transport.clear()
        figures.append(spent / (reads * per_read * members) * 1e6)
    return figures


def small_channel(bans: int, count: int = 2000) -> float:
    """CPU microseconds per PRIVMSG from a member without voice to a 2-member channel with ``bans`` bans."""
    core = _core()
    op = _client(core, "op", 0, "#c")  # creates #c: channel operator
    speaker = _client(core, "speaker", 1, "#c")
    channel = core.network.find_channel("#c")
    channel.lists["b"].extend(ListEntry(f"*!*@spam{i}.example.net", "op", 0) for i in range(bans))
    line = b"PRIVMSG #c :hello there, how is everyone doing today?\r\n"
    start = time.process_time()
    for _ in range(count):
        speaker.dataReceived(line)
    spent = time.process_time() - start
    op.transport.clear()
    return spent / count * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--members", type=int, default=200)
    ap.add_argument("--per-read", default="1,10", help="lines per sender read, comma-separated")
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--bans", type=int, default=50)
    ap.add_argument("--profile", type=int, default=0, metavar="K", help="cProfile the K-lines-per-read case")
    args = ap.parse_args()
    if not 1 <= args.members <= 20_000 or not 1 <= args.samples <= 1000:
        raise SystemExit("--members 1..20000, --samples 1..1000")
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        fanout(args.members, args.profile, 5)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)
        return
    for per_read in (int(k) for k in args.per_read.split(",")):
        figures = fanout(args.members, per_read, args.samples)
        print(f"fan-out {args.members} members, {per_read} line(s) per read: CPU us per delivered line "
              f"min {min(figures):.3f} median {statistics.median(figures):.3f}")
    for bans in (0, args.bans):
        print(f"PRIVMSG to a 2-member channel with {bans} bans: CPU us per message {small_channel(bans):.1f}")


if __name__ == "__main__":
    main()
