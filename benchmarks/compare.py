#!/usr/bin/env python3
"""Run load.py against reference IRC servers and ours, in one run; print
ratios ours / reference for every metric.

Each server runs alone (one after the other) on its own loopback port, so
they do not compete for the 2 cores; the load generator is the same.

    python3 benchmarks/compare.py                      # ngircd, inspircd, ours
    python3 benchmarks/compare.py --refs ngircd --clients 500
    python3 benchmarks/compare.py --ours-cmd 'python3 myserver.py --port {port}'
    python3 benchmarks/compare.py --ours-port 6667 --ours-pid 1234   # running
    python3 benchmarks/compare.py --no-ours            # references only

By default ours is started as
    .venv/bin/twistd -n --pidfile= conferenceroom --config CONF
from the repository root, with CONF a generated file that sets the name,
the port, bindip 127.0.0.1, hub, "security set flood off" and
"security set deftrigger 0".  In --ours-cmd, {port} and {conf} are replaced
by the port and by the path of that generated file.
"""

import argparse
import json
import os
import resource
import shlex
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
import reference  # noqa: E402
from procs import stop_proc  # noqa: E402

NOFILE = 16384

# (phase, key, label, better)
METRICS = [
    ("burst", "connects_per_s", "burst: connects/s", "higher"),
    ("burst", "wall_s", "burst: wall time (s)", "lower"),
    ("burst", "server_cpu_s", "burst: server CPU (s)", "lower"),
    ("burst", "rss_kib_per_client", "burst: RSS KiB per idle client", "lower"),
    ("fanout", "server_cpu_s_per_1000_lines",
     "fanout: server CPU s per 1000 lines", "lower"),
    ("fanout", "lines_per_s", "fanout: delivered lines/s", "higher"),
    ("latency", "ping_median_ms", "latency: PING median (ms)", "lower"),
    ("latency", "ping_p95_ms", "latency: PING p95 (ms)", "lower"),
    ("latency", "ping_p99_ms", "latency: PING p99 (ms)", "lower"),
    ("latency", "privmsg_self_median_ms", "latency: PRIVMSG-self median (ms)",
     "lower"),
    ("latency", "privmsg_self_p95_ms", "latency: PRIVMSG-self p95 (ms)",
     "lower"),
    ("latency", "privmsg_self_p99_ms", "latency: PRIVMSG-self p99 (ms)",
     "lower"),
]

OURS_CONF = """\
general set name bench.conferenceroom.local
general set ports {port}
general set bindip 127.0.0.1
general set hub
security set flood off
security set deftrigger 0
"""


def log(msg):
    print("[compare] " + msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = NOFILE if hard == resource.RLIM_INFINITY else min(NOFILE, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def run_load(port, pid, label, load_args, timeout):
    cmd = [sys.executable, os.path.join(HERE, "load.py"), "--host",
           "127.0.0.1", "--port", str(port), "--pid", str(pid), "--label",
           label, "--timeout", str(timeout), "--json"] + load_args
    log("%s: %s" % (label, " ".join(shlex.quote(c) for c in cmd[1:])))
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=timeout + 60,
                             check=False, preexec_fn=_raise_nofile)
    except subprocess.TimeoutExpired:
        log("%s: load.py did not finish in time" % label)
        return None
    try:
        return json.loads(out.stdout)
    except ValueError:
        log("%s: load.py gave no JSON (rc=%s)" % (label, out.returncode))
        return None


def start_ours(args, workdir):
    port = args.ours_port_fixed or free_port()
    conf = os.path.join(workdir, "ours.conf")
    with open(conf, "w") as f:
        f.write(OURS_CONF.format(port=port))
    if args.ours_cmd:
        argv = [a.format(port=port, conf=conf)
                for a in shlex.split(args.ours_cmd)]
    else:
        twistd = os.path.join(REPO, ".venv", "bin", "twistd")
        if not os.path.exists(twistd) or not os.path.exists(
                os.path.join(REPO, "conferenceroom", "tap.py")):
            raise RuntimeError("no %s or conferenceroom/tap.py" % twistd)
        argv = [twistd, "-n", "--pidfile=", "conferenceroom", "--config",
                conf]
    logf = open(os.path.join(workdir, "ours.log"), "ab")
    log("ours: " + " ".join(shlex.quote(a) for a in argv))
    proc = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.DEVNULL,
                            stdout=logf, stderr=subprocess.STDOUT,
                            preexec_fn=_raise_nofile)
    logf.close()
    try:
        reference.wait_listening("127.0.0.1", port, timeout=30, proc=proc)
    except Exception:
        stop_proc(proc)
        raise
    return proc, port




def get(results, phase, key):
    if not results:
        return None
    p = results.get("phases", {}).get(phase) or {}
    v = p.get(key)
    return v if isinstance(v, (int, float)) else None


def fmtv(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 1:
        return "%.3f" % v
    return "%.5f" % v


def report(runs, refs, ours_label):
    names = [r for r in refs if r in runs] + \
        ([ours_label] if ours_label in runs else [])
    lines = []
    head = ["metric", "better"] + names
    if ours_label in runs:
        head += ["ours/%s" % r for r in refs if r in runs]
    rows = []
    for phase, key, label, better in METRICS:
        vals = [get(runs[n], phase, key) for n in names]
        if all(v is None for v in vals):
            continue
        row = [label, better] + [fmtv(v) for v in vals]
        if ours_label in runs:
            ov = get(runs[ours_label], phase, key)
            for r in refs:
                if r not in runs:
                    continue
                rv = get(runs[r], phase, key)
                row.append("%.2f" % (ov / rv) if ov is not None and rv
                           else "-")
        rows.append(row)
    widths = [max(len(str(x[i])) for x in [head] + rows)
              for i in range(len(head))]
    lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    notes = []
    for n in names:
        r = runs[n]
        if not r:
            notes.append("%s: no results" % n)
            continue
        for ph, p in r.get("phases", {}).items():
            for k in ("error", "skipped", "first_error"):
                if p.get(k):
                    notes.append("%s %s: %s: %s" % (n, ph, k, p[k]))
            if "complete" in p and not p["complete"]:
                notes.append("%s %s: PARTIAL results%s" % (
                    n, ph, " (stopped during %s)" % p["stage"]
                    if p.get("stage") else ""))
    lines.append("")
    lines.append("ratio = ours / reference; for 'lower' metrics < 1 means ours "
                 "is better, for 'higher' metrics > 1 means ours is better.")
    lines.append("Wall-clock figures are lower bounds that vary up to 2x between"
                 " runs; server CPU per unit of work is the steadier figure.")
    if "ngircd" in names:
        lines.append("ngircd listens with a backlog of 10: its burst wall time"
                     " includes clients' SYN retries (1 s or more).")
    if "inspircd" in names:
        lines.append("inspircd completes registrations on a 1 s timer: its "
                     "burst wall time measures that timer, not capacity.")
    lines += notes
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Compare ours against reference IRC servers (ratios).",
        epilog="Unknown options are passed on to load.py "
               "(e.g. --clients 500 --messages 200 --phases fanout).")
    ap.add_argument("--refs", default="ngircd,inspircd",
                    help="comma-separated reference servers "
                         "(ngircd, inspircd; default both); empty for none")
    ap.add_argument("--ours-cmd", default=None,
                    help="command starting our server in the foreground; "
                         "{port} and {conf} are substituted")
    ap.add_argument("--ours-port", type=int, default=None,
                    help="with --ours-pid: measure an already running server")
    ap.add_argument("--ours-pid", type=int, default=None)
    ap.add_argument("--ours-label", default="ours")
    ap.add_argument("--no-ours", action="store_true")
    ap.add_argument("--ref-dir", default=reference.DEFAULT_DIR)
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="load.py --timeout for each server (default 120)")
    ap.add_argument("--json", default=None, metavar="FILE",
                    help="also write all raw results to FILE")
    args, load_args = ap.parse_known_args(argv)
    args.ours_port_fixed = None
    refs = [r.strip() for r in args.refs.split(",") if r.strip()]
    for r in refs:
        if r not in reference.PACKAGES:
            ap.error("unknown reference %r" % r)
    _raise_nofile()

    runs = {}
    if refs:
        reference.install(refs, args.ref_dir)
    for name in refs:
        port = free_port()
        try:
            proc = reference.start(name, port, args.ref_dir)
        except Exception as e:   # noqa: BLE001
            log("%s: could not start: %s" % (name, e))
            runs[name] = None
            continue
        try:
            time.sleep(0.5)
            runs[name] = run_load(port, proc.pid, name, load_args,
                                  args.timeout)
        finally:
            reference.stop(proc.pid, args.ref_dir)

    if not args.no_ours:
        if args.ours_port and args.ours_pid:
            runs[args.ours_label] = run_load(args.ours_port, args.ours_pid,
                                             args.ours_label, load_args,
                                             args.timeout)
        else:
            workdir = tempfile.mkdtemp(prefix="cr-bench-ours-")
            if args.ours_port:
                args.ours_port_fixed = args.ours_port
            try:
                proc, port = start_ours(args, workdir)
            except Exception as e:   # noqa: BLE001
                log("ours: could not start: %s (log in %s)" % (e, workdir))
                proc = None
            if proc is not None:
                try:
                    time.sleep(0.5)
                    runs[args.ours_label] = run_load(
                        port, proc.pid, args.ours_label, load_args,
                        args.timeout)
                finally:
                    stop_proc(proc)
                log("ours: log in %s" % workdir)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=2, sort_keys=True)
    print(report(runs, refs, args.ours_label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
