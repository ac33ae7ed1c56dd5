#!/usr/bin/env python3
"""Where a server's reactor turns go: run ``twistd`` with a probe, report per phase.

Run (as compare.py's ``--ours-cmd``; ``{conf}`` is compare's config file)::

    python3 benchmarks/compare.py --refs '' --phases burst,fanout,latency \\
        --json /tmp/run.json --ours-cmd '.venv/bin/python benchmarks/turnprobe.py \\
        /tmp/probe.json -n --pidfile= conferenceroom --config {conf}'
    python3 benchmarks/turnprobe.py --report /tmp/probe.json /tmp/run.json

The probe installs the epoll reactor with its poller wrapped: the wall and
thread CPU time of every ``epoll_wait`` and of the work between two of
them, and ``gc.callbacks`` timing every collection.  At exit it writes
them to the JSON file.  Times are ``time.perf_counter()``, the system-wide
monotonic clock that load.py stamps each phase with (``clock_start``,
``clock_end``), so ``--report`` gives, per phase: turns, the work per
turn (wall and CPU, median/p99/max), and the collections by generation.
Arrays, not objects, hold the samples: the probe adds no garbage for the
collector it watches.
"""

from __future__ import annotations

import array
import atexit
import gc
import json
import statistics
import sys
import time
from typing import Any

FIELDS = 5  # poll start, poll end (= work start), events, thread CPU at poll start, at poll end


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of sorted ``values``."""
    return values[min(len(values) - 1, max(0, int(round(p / 100.0 * len(values))) - 1))]


def summarise(turns: list[float], collections: list[list[float]], start: float, end: float) -> dict:
    """What the reactor did between ``start`` and ``end``: work per turn and collections.

    ``turns`` is the flat probe array (FIELDS per poll); a turn's work runs
    from one poll's end to the next poll's start.  ``collections`` holds
    ``[start, generation, seconds, collected]`` rows."""
    wall, cpu = [], []
    for i in range(0, len(turns) - FIELDS, FIELDS):
        done = turns[i + 1]
        if start <= done <= end:
            wall.append(turns[i + FIELDS] - done)
            cpu.append(turns[i + FIELDS + 3] - turns[i + 4])
    out: dict[str, Any] = {"turns": len(wall)}
    for name, vals in (("work_wall_us", wall), ("work_cpu_us", cpu)):
        if vals:
            vals.sort()
            out[name] = {"median": 1e6 * statistics.median(vals), "p99": 1e6 * pct(vals, 99),
                         "max": 1e6 * vals[-1]}
    during = [c for c in collections if start <= c[0] <= end]
    out["collections"] = {
        str(gen): {"count": len(got), "total_ms": 1e3 * sum(c[2] for c in got),
                   "max_ms": 1e3 * max(c[2] for c in got)}
        for gen in (0, 1, 2) if (got := [c for c in during if int(c[1]) == gen])}
    return out


def report(probe_path: str, run_path: str, label: str = "ours") -> dict:
    """Per phase of ``label``'s run in compare.py's JSON: :func:`summarise` of the probe."""
    with open(probe_path) as f:
        probe = json.load(f)
    with open(run_path) as f:
        run = json.load(f)
    phases = (run.get(label) or run).get("phases", {})
    return {name: summarise(probe["turns"], probe["gc"], p["clock_start"], p["clock_end"])
            for name, p in phases.items() if "clock_start" in p and "clock_end" in p}


class _Poller:
    """The reactor's epoll object, its ``poll`` timed into ``samples``."""

    def __init__(self, poller: Any, samples: array.array) -> None:
        self._poller = poller
        self._samples = samples

    def poll(self, *args: Any) -> Any:
        clock, cpu = time.perf_counter, time.thread_time
        t0, c0 = clock(), cpu()
        events = self._poller.poll(*args)
        self._samples.extend((t0, clock(), len(events), c0, cpu()))
        return events

    def __getattr__(self, name: str) -> Any:  # register, modify, unregister, close, fileno
        return getattr(self._poller, name)


def probe(out_path: str, twistd_args: list[str]) -> None:
    """Run twistd with the probe; write the samples to ``out_path`` at exit."""
    turns = array.array("d")
    collections = array.array("d")
    began = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            collections.extend((began[0], info["generation"], time.perf_counter() - began[0],
                                info["collected"]))

    gc.callbacks.append(on_gc)
    from twisted.internet import epollreactor
    epollreactor.install()
    from twisted.internet import reactor
    reactor._poller = _Poller(reactor._poller, turns)  # type: ignore[attr-defined]

    def dump() -> None:
        rows = [list(collections[i:i + 4]) for i in range(0, len(collections), 4)]
        with open(out_path, "w") as f:
            json.dump({"turns": list(turns), "gc": rows}, f)

    atexit.register(dump)
    from twisted.scripts.twistd import run
    sys.argv = ["twistd", *twistd_args]
    run()


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "--report":
        print(json.dumps(report(argv[1], argv[2], *argv[3:4]), indent=2, sort_keys=True))
        return 0
    if len(argv) < 2 or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    probe(argv[0], argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
