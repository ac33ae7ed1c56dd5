#!/usr/bin/env python3
"""Load generator for IRC servers (stdlib only, asyncio).

Measures one IRC server listening on a loopback address:

1. burst    N clients connect and register at once (NICK/USER, wait for 001,
            answer PINGs): wall time, connects/s, server CPU seconds, and
            server RSS before/after (KiB per idle client).
2. fanout   R receivers + 1 sender in one channel; the sender sends M
            PRIVMSGs; measured until every receiver got all M: server CPU
            seconds per 1,000 delivered lines, and delivered lines/s.
3. latency  one client does K sequential PING->PONG round trips and K
            PRIVMSG-to-self round trips, the kinds alternating in blocks of
            100: median/p95/p99, server CPU us per round trip, and the load
            average at the start and end.
4. churn    C clients each JOIN+PART a channel of their own, then a shared
            channel, R rounds (a PING round trip every W rounds): server CPU
            ms per JOIN+PART pair (median of up to 3 runs).

Server CPU time is read from /proc/PID/stat (utime+stime, 10 ms ticks) and,
where the kernel provides it, from /proc/PID/task/*/schedstat (nanoseconds);
the finer figure is the one used for the derived metrics.

Everything is bounded: each phase by --phase-timeout and the whole run by
--timeout; on timeout the partial results gathered so far are reported.
Only loopback targets are accepted.

Example:
    python3 benchmarks/load.py --host 127.0.0.1 --port 16667 --pid 1234
    python3 benchmarks/load.py --port 16667 --pid 1234 --json
"""

import argparse
import asyncio
import json
import random
import string
import sys
import time

from ircload import (  # re-exported: loader, scale, netscale, soak and reference use load.X
    CLK_TCK, Client, ServerProc, _consume, _join_hook, check_loopback, close_all, connect_and_register,
    cpu_delta, load_average, no_delay, open_client, oper_up, pct, ping, raise_nofile, register_many, sync_all,
)
from loadphases import LATENCY_BLOCK, PHASES, phase_burst, phase_churn, phase_fanout, phase_latency

#: what the other scripts take from here (the plumbing lives in ircload.py, the phases in loadphases.py)
__all__ = [
    "CLK_TCK", "Client", "LATENCY_BLOCK", "PHASES", "ServerProc", "_consume", "_join_hook", "check_loopback",
    "close_all", "connect_and_register", "cpu_delta", "load_average", "main", "no_delay", "open_client",
    "oper_up", "pct",
    "phase_burst", "phase_churn", "phase_fanout", "phase_latency", "ping", "raise_nofile", "register_many",
    "run", "run_phases", "sync_all", "table",
]


async def run_phases(args, phases, *, min_left, budget_for, after_phase):
    """Run ``args.phases`` from the table ``phases`` against one server, each
    bounded by ``budget_for(args, seconds left)``; a phase that fails or
    overruns is reported in its results and the next one still runs.
    ``after_phase(args, name, res, results)`` is awaited after each."""
    srv = ServerProc(args.pid)
    tag = args.tag or "".join(random.choice(string.ascii_lowercase)
                              for _ in range(3))
    results = {"target": "%s:%d" % (args.host, args.port), "pid": args.pid,
               "label": args.label, "phases": {}}
    start = time.monotonic()
    for name in args.phases:
        remaining = args.timeout - (time.monotonic() - start)
        if remaining <= min_left:
            results["phases"][name] = {"skipped": "overall timeout"}
            continue
        if args.pid and not srv.alive():
            results["phases"][name] = {"skipped": "server process gone"}
            continue
        res = {}
        results["phases"][name] = res
        budget = budget_for(args, remaining)
        t = time.monotonic()
        # The system-wide monotonic clock, as a probe in the server sees it
        # (turnprobe.py --report cuts its samples by these).
        res["clock_start"] = time.perf_counter()
        try:
            await asyncio.wait_for(phases[name](args, srv, res, tag),
                                   timeout=budget)
        except asyncio.TimeoutError:
            res["error"] = "timeout after %.1fs" % (time.monotonic() - t)
        except Exception as e:   # noqa: BLE001 - reported, run continues
            res["error"] = repr(e)[:300]
        res["phase_s"] = time.monotonic() - t
        res["clock_end"] = time.perf_counter()
        await after_phase(args, name, res, results)
    results["server_rss_end_kib"] = srv.rss_kib()
    results["total_s"] = time.monotonic() - start
    return results


def _load_budget(args, remaining):
    budget = min(remaining, args.phase_timeout)
    args.phase_budget = max(budget - 6, budget * 0.8)   # keep time to clean up
    return budget


async def _pause_between(args, name, res, results):
    if args.pause and name != args.phases[-1]:
        await asyncio.sleep(args.pause)


async def run(args):
    return await run_phases(args, PHASES, min_left=1, budget_for=_load_budget,
                            after_phase=_pause_between)


def fmt(v, spec):
    if v is None:
        return "-"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def table(results):
    out = []
    add = out.append
    add("IRC load: %s (pid %s)%s" % (results["target"], results["pid"],
                                     " [%s]" % results["label"]
                                     if results.get("label") else ""))
    ph = results["phases"]
    rows = []
    b = ph.get("burst")
    if b is not None:
        rows += [
            ("burst", "clients registered", "%s / %s" % (
                b.get("registered", "-"), b.get("clients", "-"))),
            ("burst", "reconnects after --reg-timeout",
             fmt(b.get("retries"), "d")),
            ("burst", "wall time (s)", fmt(b.get("wall_s"), ".3f")),
            ("burst", "connects/s", fmt(b.get("connects_per_s"), ".0f")),
            ("burst", "server CPU (s)", fmt(b.get("server_cpu_s"), ".3f")),
            ("burst", "server CPU ms/client",
             fmt(b.get("server_cpu_ms_per_client"), ".3f")),
            ("burst", "registration p50/p99 (s)", "%s / %s" % (
                fmt(b.get("reg_time_p50_s"), ".3f"),
                fmt(b.get("reg_time_p99_s"), ".3f"))),
            ("burst", "RSS before/after (KiB)", "%s / %s" % (
                fmt(b.get("rss_before_kib"), "d"),
                fmt(b.get("rss_after_kib"), "d"))),
            ("burst", "RSS KiB per idle client",
             fmt(b.get("rss_kib_per_client"), ".2f")),
        ]
    f = ph.get("fanout")
    if f is not None:
        rows += [
            ("fanout", "receivers x messages x runs", "%s x %s x %s" % (
                f.get("receivers", "-"), f.get("messages", "-"),
                len(f.get("runs", [])))),
            ("fanout", "lines delivered", "%s / %s" % (
                f.get("delivered", "-"), f.get("expected", "-"))),
            ("fanout", "wall time, all runs (s)", fmt(f.get("wall_s"), ".3f")),
            ("fanout", "server CPU, all runs (s)",
             fmt(f.get("server_cpu_s"), ".4f")),
            ("fanout", "delivered lines/s (median)",
             fmt(f.get("lines_per_s"), ".0f")),
            ("fanout", "server CPU s/1000 lines (median)",
             fmt(f.get("server_cpu_s_per_1000_lines"), ".5f")),
            ("fanout", "  per run", " ".join(
                fmt(r.get("server_cpu_s_per_1000_lines"), ".5f")
                for r in f.get("runs", []))),
        ]
    la = ph.get("latency")
    if la is not None:
        for key, label in (("ping", "PING rtt"),
                           ("privmsg_self", "PRIVMSG-self rtt")):
            rows.append(("latency", "%s n" % label,
                         fmt(la.get(key + "_n"), "d")))
            rows.append(("latency", "%s median/p95/p99 (ms)" % label,
                         "%s / %s / %s" % (
                             fmt(la.get(key + "_median_ms"), ".3f"),
                             fmt(la.get(key + "_p95_ms"), ".3f"),
                             fmt(la.get(key + "_p99_ms"), ".3f"))))
            rows.append(("latency", "%s server CPU us" % label,
                         fmt(la.get(key + "_server_cpu_us"), ".1f")))
        rows.append(("latency", "load average start / end", "%s / %s" % (
            " ".join("%.2f" % x for x in la.get("load_average_start") or []) or "-",
            " ".join("%.2f" % x for x in la.get("load_average_end") or []) or "-")))
    ch = ph.get("churn")
    if ch is not None:
        rows += [
            ("churn", "clients x rounds x runs", "%s x %s x %s" % (
                ch.get("clients", "-"), ch.get("rounds", "-"),
                len(ch.get("runs", [])))),
            ("churn", "JOIN+PART pairs/s", fmt(ch.get("join_parts_per_s"), ".0f")),
            ("churn", "server CPU ms per JOIN+PART (median)",
             fmt(ch.get("server_cpu_ms_per_join_part"), ".4f")),
        ]
    w = max([len(r[1]) for r in rows] + [10])
    for phase, label, val in rows:
        add("  %-8s %-*s  %s" % (phase, w, label, val))
    for name, p in ph.items():
        notes = []
        if p.get("skipped"):
            notes.append("skipped: " + p["skipped"])
        if p.get("error"):
            notes.append("error: " + p["error"])
        if p.get("first_error"):
            notes.append("first client error: " + p["first_error"])
        if "complete" in p and not p["complete"]:
            notes.append("PARTIAL results" + (
                " (stopped during %s)" % p["stage"] if p.get("stage") else ""))
        for n in notes:
            add("  %-8s %s" % (name, n))
    add("  total %.1fs" % results["total_s"])
    return "\n".join(out)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description="Bounded IRC server load test (loopback only).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, default=None,
                    help="server PID, for CPU time and RSS from /proc")
    ap.add_argument("--clients", type=int, default=1000,
                    help="burst: clients connecting at once (default 1000)")
    ap.add_argument("--reg-timeout", type=float, default=5.0,
                    help="a client not registered after this many seconds "
                         "drops its connection and reconnects (default 5)")
    ap.add_argument("--members", type=int, default=200,
                    help="fanout: receiving channel members (default 200)")
    ap.add_argument("--messages", type=int, default=500,
                    help="fanout: messages sent (default 500)")
    ap.add_argument("--payload", type=int, default=40,
                    help="fanout: extra bytes of text per message (default 40)")
    ap.add_argument("--repeat", type=int, default=5,
                    help="fanout: measured runs of M messages; figures are "
                         "the median over runs (default 5)")
    ap.add_argument("--window", type=int, default=100,
                    help="fanout: sender writes this many lines, then waits "
                         "for a PING round trip; 0 = all at once (default 100)")
    ap.add_argument("--rounds", type=int, default=5000,
                    help="latency: round trips of each kind (default 5000, so p99 "
                         "is the 50th worst, not the 10th)")
    ap.add_argument("--churn-clients", type=int, default=50,
                    help="churn: clients joining and parting (default 50)")
    ap.add_argument("--churn-rounds", type=int, default=50,
                    help="churn: rounds per client, each a JOIN+PART of its "
                         "own channel and of a shared one (default 50)")
    ap.add_argument("--churn-window", type=int, default=10,
                    help="churn: rounds sent before a PING round trip "
                         "(default 10)")
    ap.add_argument("--phases", default="burst,fanout,latency,churn",
                    help="comma-separated subset of burst,fanout,latency,churn")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="overall time limit in seconds (default 120)")
    ap.add_argument("--phase-timeout", type=float, default=60.0,
                    help="per-phase time limit in seconds (default 60)")
    ap.add_argument("--setup-concurrency", type=int, default=0,
                    help="fanout: max concurrent registrations while "
                         "setting up (0 = all at once)")
    ap.add_argument("--pause", type=float, default=0.5,
                    help="seconds to idle between phases (default 0.5)")
    ap.add_argument("--oper", default=None, metavar="NAME:PASS",
                    help="OPER the fanout sender and latency client")
    ap.add_argument("--umode", default=None,
                    help="user modes to set after --oper, e.g. +F on ngIRCd")
    ap.add_argument("--tag", default=None, help="nick prefix (default random)")
    ap.add_argument("--label", default=None, help="name shown in the output")
    ap.add_argument("--json", action="store_true",
                    help="print results as JSON instead of a table")
    args = ap.parse_args(argv)
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    for p in args.phases:
        if p not in PHASES:
            ap.error("unknown phase %r" % p)
    for name in ("clients", "members", "messages", "rounds", "repeat",
                 "churn_clients", "churn_rounds"):
        v = getattr(args, name)
        if not 0 < v <= 100000:
            ap.error("--%s must be in 1..100000" % name)
    if not 0 < args.timeout <= 3600:
        ap.error("--timeout must be in (0, 3600]")
    return args


def main(argv=None):
    args = parse_args(argv)
    check_loopback(args.host)
    need = max(args.clients, args.members + 1, args.churn_clients) + 64
    got = raise_nofile(max(4096, need))
    if got < need:
        print("warning: RLIMIT_NOFILE is %d, need %d" % (got, need),
              file=sys.stderr)
    results = asyncio.run(run(args))
    if args.json:
        json.dump(results, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
