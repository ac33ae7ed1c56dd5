"""The comparison table of compare.py: ours, each reference, and ratios.

For each metric: ours, every reference, ``ours / best C server`` (the best
of ngIRCd, InspIRCd and ircd-hybrid in the same run: lowest for "lower is
better" metrics, highest for "higher"), ``ours / floor`` (the Twisted echo
floor) and, where issue 11 sets one, the target ratio and whether it holds.
Pure functions over the JSON results of load.py / scale.py (stdlib only).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

C_SERVERS = ("ngircd", "inspircd", "hybrid")
FLOOR = "floor"
#: a latency phase run at a load average above this (the machine's cores) has
#: its p99 set by the scheduler, not the server: its p99 targets are not judged
BUSY_LOAD = float(os.cpu_count() or 1)


@dataclass(frozen=True)
class Metric:
    """One row: where the figure sits in a server's results, and its target."""

    phase: str
    key: str
    label: str
    better: str                     # "lower" or "higher"
    target: Optional[float] = None  # max ours / best C (lower) or min (higher)


METRICS = [
    Metric("burst", "server_cpu_ms_per_client", "server CPU ms per connect", "lower", 2.0),
    Metric("burst", "rss_kib_per_client", "KiB RSS per idle client (1,000)", "lower", 1.0),
    Metric("burst", "connects_per_s", "connects/s (wall, lower bound)", "higher"),
    Metric("fanout", "server_cpu_s_per_1000_lines", "server CPU s per 1000 fan-out lines",
           "lower", 1.0),
    Metric("fanout", "lines_per_s", "fan-out lines/s (wall, lower bound)", "higher"),
    Metric("latency", "ping_median_ms", "PING median ms", "lower"),
    Metric("latency", "ping_p99_ms", "PING p99 ms", "lower", 1.0),
    Metric("latency", "privmsg_self_median_ms", "PRIVMSG-self median ms", "lower"),
    Metric("latency", "privmsg_self_p99_ms", "PRIVMSG-self p99 ms", "lower", 1.0),
    Metric("latency", "ping_server_cpu_us", "server CPU us per PING round trip", "lower"),
    Metric("latency", "privmsg_self_server_cpu_us", "server CPU us per PRIVMSG-self round trip",
           "lower"),
    Metric("churn", "server_cpu_ms_per_join_part", "churn server CPU ms per JOIN+PART",
           "lower", 1.0),
    Metric("idle", "rss_kib_per_client", "KiB RSS per idle client (scale)", "lower", 1.0),
    Metric("idle", "server_cpu_us_per_client_s", "idle server CPU us per client per s",
           "lower"),
    Metric("idle", "server_cpu_ms_per_connect", "server CPU ms per connect (scale)", "lower",
           2.0),
    Metric("bigchan", "join_storm_cpu_s", "big channel: JOIN storm server CPU s", "lower"),
    Metric("bigchan", "join_cpu_ms", "big channel: server CPU ms per JOIN+PART into it",
           "lower", 1.0),
    Metric("bigchan", "server_cpu_s_per_1000_lines", "big channel: CPU s per 1000 fan-out lines",
           "lower", 1.0),
    Metric("network", "server_cpu_us_per_line_hop",
           "network: server CPU us per relayed line per hop", "lower"),
    Metric("network", "three_hop_p50_ms", "network: 3-hop PRIVMSG median ms", "lower"),
]


def value(results: Optional[dict], phase: str, key: str) -> Optional[float]:
    """The figure ``key`` of ``phase`` in one server's results, or None."""
    if not results:
        return None
    v = (results.get("phases", {}).get(phase) or {}).get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def best_c(runs: dict, metric: Metric) -> tuple[Optional[str], Optional[float]]:
    """The best C server's name and figure for ``metric`` (None when none has it)."""
    found = [(name, value(runs.get(name), metric.phase, metric.key)) for name in C_SERVERS]
    found = [(n, v) for n, v in found if v is not None]
    if not found:
        return None, None
    pick = min if metric.better == "lower" else max
    return pick(found, key=lambda nv: nv[1])


def ratio(ours: Optional[float], ref: Optional[float]) -> Optional[float]:
    """ours / ref, or None when either is missing or ref is zero."""
    if ours is None or ref is None or ref == 0:
        return None
    return ours / ref


def holds(metric: Metric, r: Optional[float]) -> Optional[bool]:
    """Whether ratio ``r`` meets the metric's target (None: no target or no ratio)."""
    if metric.target is None or r is None:
        return None
    return r <= metric.target if metric.better == "lower" else r >= metric.target


def fmt(v: Optional[float]) -> str:
    """A figure with three significant digits or so; '-' when missing."""
    if v is None:
        return "-"
    a = abs(v)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    if a >= 0.01:
        return "%.3f" % v
    if a == 0:
        return "0"
    return "%.2g" % v


def latency_busiest(runs: dict) -> Optional[float]:
    """The highest 1-minute load average at the start or end of any server's latency phase."""
    seen = []
    for res in runs.values():
        la = ((res or {}).get("phases") or {}).get("latency") or {}
        seen += [x[0] for x in (la.get("load_average_start"), la.get("load_average_end")) if x]
    return max(seen) if seen else None


def rows(runs: dict, ours: str = "ours", busy_load: float = BUSY_LOAD) -> list[dict]:
    """One dict per metric that any server has: figures, ratios, target, verdict.

    A latency target is not met in a run whose latency phases ran at a load
    average above ``busy_load`` (the row says "busy"): p99 then measures the
    machine, and a pass would be as meaningless as a miss."""
    out = []
    names = [n for n in (*C_SERVERS, FLOOR) if n in runs]
    busiest = latency_busiest(runs)
    for m in METRICS:
        figures = {n: value(runs.get(n), m.phase, m.key) for n in names}
        ov = value(runs.get(ours), m.phase, m.key)
        if ov is None and all(v is None for v in figures.values()):
            continue
        best_name, best = best_c(runs, m)
        r_c = ratio(ov, best)
        r_floor = ratio(ov, figures.get(FLOOR))
        verdict = holds(m, r_c)
        busy = None
        if m.phase == "latency" and verdict is not None and busiest is not None \
                and busiest > busy_load:
            busy, verdict = busiest, False
        out.append({"metric": m.label, "phase": m.phase, "key": m.key,
                    "better": m.better, "figures": figures, "ours": ov,
                    "best_c": best_name, "ratio_c": r_c, "ratio_floor": r_floor,
                    "target": m.target, "holds": verdict, "busy": busy})
    return out


def _target_text(row: dict) -> str:
    if row["target"] is None:
        return ""
    return ("<= %gx" if row["better"] == "lower" else ">= %gx") % row["target"]


def _verdict_text(row: dict) -> str:
    if row["target"] is None:
        return ""
    if row["holds"] is None:
        return "n/a"
    if row.get("busy") is not None:
        return "BUSY (load %.1f)" % row["busy"]
    return "ok" if row["holds"] else "MISS"


def table(runs: dict, ours: str = "ours", markdown: bool = False) -> str:
    """The comparison as aligned text (or a Markdown table)."""
    names = [n for n in (*C_SERVERS, FLOOR) if n in runs]
    head = ["metric"] + names + [ours, "ours/best C", "ours/floor", "target", "verdict"]
    body = []
    for row in rows(runs, ours):
        rc = row["ratio_c"]
        body.append([row["metric"]] + [fmt(row["figures"][n]) for n in names]
                    + [fmt(row["ours"]),
                       ("%.2fx (%s)" % (rc, row["best_c"])) if rc is not None else "-",
                       ("%.2fx" % row["ratio_floor"]) if row["ratio_floor"] is not None else "-",
                       _target_text(row), _verdict_text(row)])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
    return "\n".join(lines)


def notes(runs: dict) -> list[str]:
    """Errors, skipped and partial phases of every server, one line each."""
    out = []
    for name, res in runs.items():
        if not res:
            out.append("%s: no results" % name)
            continue
        if res.get("error"):
            out.append("%s: %s" % (name, res["error"]))
        for ph, p in sorted(res.get("phases", {}).items()):
            for k in ("error", "skipped", "first_error"):
                if p.get(k):
                    out.append("%s %s: %s: %s" % (name, ph, k, p[k]))
            if "complete" in p and not p["complete"]:
                out.append("%s %s: PARTIAL results%s" % (
                    name, ph, " (stopped during %s)" % p["stage"] if p.get("stage") else ""))
    return out


def latency_load(runs: dict) -> Optional[str]:
    """The load average (1 min) at the start and end of each server's latency
    phase, one line: p99 is scheduling noise when the machine is busy."""
    parts = []
    for name, res in runs.items():
        la = ((res or {}).get("phases") or {}).get("latency") or {}
        start, end = la.get("load_average_start"), la.get("load_average_end")
        if start and end:
            parts.append("%s %.2f-%.2f" % (name, start[0], end[0]))
    if not parts:
        return None
    return "load average (1 min) during each latency phase: " + ", ".join(parts)


def summary(all_runs: list[dict], ours: str = "ours") -> str:
    """Targets over consecutive runs: each run's ratio, and whether all held."""
    per_metric: dict[str, list] = {}
    order = []
    for runs in all_runs:
        for row in rows(runs, ours):
            if row["target"] is None:
                continue
            if row["metric"] not in per_metric:
                per_metric[row["metric"]] = []
                order.append(row)
            per_metric[row["metric"]].append(row)
    lines = ["Targets over %d consecutive run%s (ours / best C server):"
             % (len(all_runs), "" if len(all_runs) == 1 else "s")]
    every = True
    for first in order:
        got = per_metric[first["metric"]]
        ratios = ", ".join("%.2fx" % r["ratio_c"] if r["ratio_c"] is not None else "-"
                           for r in got)
        ok = len(got) == len(all_runs) and all(r["holds"] for r in got)
        every = every and ok
        busy = [r["busy"] for r in got if r.get("busy") is not None]
        lines.append("  %-52s %-8s %-20s %s" % (
            first["metric"], _target_text(first), ratios, "held" if ok else "NOT held" + (
                " (machine busy: load %.1f above %g)" % (max(busy), BUSY_LOAD) if busy else "")))
    if not order:
        lines.append("  (no metric with a target was measured)")
        every = False
    lines.append("All targets held in every run: %s" % ("yes" if every else "no"))
    return "\n".join(lines)
