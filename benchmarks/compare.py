#!/usr/bin/env python3
"""Run the load phases against the reference IRC servers, the Twisted echo
floor and ours, in one run; print, per metric, every server's figure, ours /
best C server, ours / floor, and issue 11's target beside it.

Each server runs alone (one after the other) on its own loopback port, so
they do not compete for the 2 cores; the load generator is the same.

    python3 benchmarks/compare.py                  # ngircd inspircd hybrid floor ours
    python3 benchmarks/compare.py --runs 2         # the whole comparison twice in a row
    python3 benchmarks/compare.py --scale          # + 20,000 idle clients, 5,000-member
                                                   #   channel, 20-server network
    python3 benchmarks/compare.py --refs ngircd --clients 500
    python3 benchmarks/compare.py --ours-cmd 'python3 myserver.py --port {port}'
    python3 benchmarks/compare.py --ours-port 6667 --ours-pid 1234   # running
    python3 benchmarks/compare.py --no-ours        # references only

By default ours is started as
    .venv/bin/twistd -n --pidfile= conferenceroom --config CONF
from the repository root, with CONF a generated file that sets the name,
the port, bindip 127.0.0.1, hub, "security set flood off",
"security set deftrigger 0" and "services disable".  In --ours-cmd, {port}
and {conf} are replaced by the port and by the path of that generated file.
"""

import argparse
import json
import os
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
import report  # noqa: E402
from procs import stop_proc  # noqa: E402
from loader import raise_nofile  # noqa: E402

NOFILE = 20000
#: with --scale: 20,000 clients need this many descriptors in the server
SCALE_NOFILE = 65536
REFS = ("ngircd", "inspircd", "hybrid", "floor")
#: every server PINGs an idle client after this long (ours: PING_INTERVAL, fixed)
PING_SECONDS = 90

OURS_CONF = """\
general set name bench.conferenceroom.local
general set ports {port}
general set bindip 127.0.0.1
general set hub
security set flood off
security set deftrigger 0
services disable
"""


def log(msg):
    print("[compare] " + msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_NOFILE_WANT = [NOFILE]


def _raise_nofile():
    raise_nofile(_NOFILE_WANT[0])


def run_json(cmd, label, timeout):
    """Run a measuring script that prints JSON; its parsed output or None."""
    log("%s: %s" % (label, " ".join(shlex.quote(c) for c in cmd[1:])))
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=timeout + 60,
                             check=False, preexec_fn=_raise_nofile)
    except subprocess.TimeoutExpired:
        log("%s: %s did not finish in time" % (label, os.path.basename(cmd[1])))
        return None
    try:
        return json.loads(out.stdout)
    except ValueError:
        log("%s: %s gave no JSON (rc=%s)" % (label, os.path.basename(cmd[1]),
                                              out.returncode))
        return None


def run_load(port, pid, label, load_args, timeout):
    cmd = [sys.executable, os.path.join(HERE, "load.py"), "--host",
           "127.0.0.1", "--port", str(port), "--pid", str(pid), "--label",
           label, "--timeout", str(timeout), "--json"] + load_args
    return run_json(cmd, label, timeout)


def run_scale(port, pid, label, scale_args, timeout):
    cmd = [sys.executable, os.path.join(HERE, "scale.py"), "--port", str(port),
           "--pid", str(pid), "--label", label, "--timeout", str(timeout),
           "--json"] + scale_args
    return run_json(cmd, label + " scale", timeout)


def repo_env():
    """The environment for our server: this checkout first on PYTHONPATH.

    The venv's conferenceroom is an editable install of one checkout (and
    twistd does not put the working directory on sys.path), so without this
    a worktree would measure that other checkout's code."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [REPO, os.environ.get("PYTHONPATH")])))


def venv_python():
    """The repository's venv Python (it has Twisted), else this one."""
    py = os.path.join(REPO, ".venv", "bin", "python")
    return py if os.path.exists(py) else sys.executable


class Started:
    """A server this script started: its PID (for /proc), port and stop()."""

    def __init__(self, name, pid, port, stop, where=""):
        self.name, self.pid, self.port = name, pid, port
        self._stop = stop
        self.where = where

    def stop(self):
        self._stop()


def spawn_listening(argv, port, logpath, *, cwd=REPO, env=None):
    """Start ``argv`` (its output appended to ``logpath``) and wait until it
    listens on 127.0.0.1:``port``; stopped by its PID if it never does."""
    with open(logpath, "ab") as logf:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=subprocess.STDOUT,
                                preexec_fn=_raise_nofile)
    try:
        reference.wait_listening("127.0.0.1", port, timeout=30, proc=proc)
    except Exception:
        stop_proc(proc)
        raise
    return proc


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
        argv = [twistd, "-n", "--pidfile="]
        if args.ours_profile:
            argv += ["--profile=" + args.ours_profile, "--profiler=cprofile",
                     "--savestats"]
        argv += ["conferenceroom", "--config", conf]
    log("ours: " + " ".join(shlex.quote(a) for a in argv))
    proc = spawn_listening(argv, port, os.path.join(workdir, "ours.log"), env=repo_env())
    return proc, port


def start_floor(workdir):
    port = free_port()
    proc = spawn_listening([venv_python(), os.path.join(HERE, "floor.py"), "--port", str(port)],
                           port, os.path.join(workdir, "floor.log"))
    return Started("floor", proc.pid, port, lambda: stop_proc(proc))


def hybrid_module():
    """tests/integration/hybrid.py (installs and runs ircd-hybrid as irc)."""
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    from tests.integration import hybrid
    return hybrid


def start_hybrid(max_clients):
    """ircd-hybrid 8.2 from Debian's .deb, run as the irc user, on 127.0.0.1:
    per-IP and per-CIDR limits, throttling and flood counts lifted
    (``can_flood``, ``exceed_limit``), ident off, DNS answered NXDOMAIN at once."""
    hy = hybrid_module()
    inst = hy.install()
    proc = hy.HybridProcess(hy.HybridConfig(
        "ref.hybrid.local", "1HB", description="benchmark reference",
        max_clients=max_clients, client_ping=PING_SECONDS), inst)
    proc.start()

    def stop():
        proc.stop()
        proc.cleanup()
    return Started("hybrid", proc.pid, proc.port, stop,
                   "ircd-hybrid %s" % inst.version())


def start_server(name, args, workdir):
    """Start reference ``name`` on a free loopback port; a Started."""
    if name == "floor":
        return start_floor(workdir)
    if name == "hybrid":
        return start_hybrid(30000 if args.scale else 4000)
    port = free_port()
    proc = reference.start(name, port, args.ref_dir)
    return Started(name, proc.pid, port,
                   lambda: reference.stop(proc.pid, args.ref_dir))


def measure(name, started, args, load_args, scale_args):
    """Every phase against one running server: load.py, then scale.py."""
    time.sleep(0.5)
    res = run_load(started.port, started.pid, name, load_args, args.timeout)
    if args.scale and res is not None:
        sc = run_scale(started.port, started.pid, name, scale_args,
                       args.scale_timeout)
        if sc:
            res.setdefault("phases", {}).update(sc.get("phases", {}))
        else:
            res.setdefault("phases", {})["idle"] = {"error": "scale.py failed"}
    if res is not None and started.where:
        res["server"] = started.where
    return res


def network_phase(side, args, network_args):
    """scale.py network: 20 servers of ``side`` in a tree; its results or None."""
    cmd = [sys.executable, os.path.join(HERE, "scale.py"), "--network", side,
           "--timeout", str(args.scale_timeout), "--json"] + network_args
    res = run_json(cmd, side + " network", args.scale_timeout)
    return (res or {}).get("phases", {}).get("network")


def one_comparison(args, refs, load_args, scale_args, network_args):
    """One run over every server; {name: results}."""
    runs = {}
    workdir = tempfile.mkdtemp(prefix="cr-bench-")
    for name in refs:
        try:
            started = start_server(name, args, workdir)
        except Exception as e:   # noqa: BLE001 - reported, the run goes on
            log("%s: could not start: %s" % (name, str(e).splitlines()[0]))
            runs[name] = {"error": "could not start: %s"
                          % str(e).splitlines()[0], "phases": {}}
            continue
        try:
            runs[name] = measure(name, started, args, load_args, scale_args)
        finally:
            started.stop()

    if not args.no_ours:
        if args.ours_port and args.ours_pid:
            runs[args.ours_label] = measure(
                args.ours_label, Started("ours", args.ours_pid, args.ours_port,
                                         lambda: None),
                args, load_args, scale_args)
        else:
            if args.ours_port:
                args.ours_port_fixed = args.ours_port
            try:
                proc, port = start_ours(args, workdir)
            except Exception as e:   # noqa: BLE001
                log("ours: could not start: %s (log in %s)" % (e, workdir))
                runs[args.ours_label] = {"error": "could not start: %s" % e,
                                         "phases": {}}
                proc = None
            if proc is not None:
                try:
                    runs[args.ours_label] = measure(
                        args.ours_label, Started("ours", proc.pid, port, None),
                        args, load_args, scale_args)
                finally:
                    stop_proc(proc)
                log("ours: log in %s" % workdir)

    if args.scale and not args.no_network:
        for side, label in (("hybrid", "hybrid"), ("ours", args.ours_label)):
            if side == "hybrid" and "hybrid" not in refs:
                continue
            if side == "ours" and args.no_ours:
                continue
            net = network_phase(side, args, network_args)
            entry = runs.setdefault(label, {"phases": {}}) or {"phases": {}}
            runs[label] = entry
            entry.setdefault("phases", {})["network"] = net or {
                "error": "scale.py --network %s gave no result" % side}
    return runs


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def print_run(runs, label, index, total):
    print("== comparison %d of %d (load average at the end: %s) =="
          % (index, total, load_average()))
    print(report.table(runs, label))
    print()
    print("ratio = ours / reference; best C = the best of ngIRCd, InspIRCd and "
          "ircd-hybrid for that metric\n(lowest for costs, highest for rates). "
          "Server CPU per unit of work is the firm figure; wall-clock\n"
          "rates are lower bounds on this shared 2-core machine.")
    busy = report.latency_load(runs)
    if busy:
        print(busy)
    for n in report.notes(runs):
        print("  note: " + n)
    print()


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Compare ours against reference IRC servers (ratios).",
        epilog="Unknown options are passed on to load.py "
               "(e.g. --clients 500 --messages 200 --phases fanout).")
    ap.add_argument("--refs", default=",".join(REFS),
                    help="comma-separated reference servers (%s; default all); "
                         "empty for none" % ", ".join(REFS))
    ap.add_argument("--runs", type=int, default=1,
                    help="do the whole comparison this many times in a row "
                         "(issue 11: targets hold in two consecutive runs)")
    ap.add_argument("--scale", action="store_true",
                    help="also the scale phases (scale.py): idle clients, a "
                         "big channel, and a 20-server network")
    ap.add_argument("--scale-args", default="",
                    help="options for scale.py's idle/bigchan phases, e.g. "
                         "'--idle-clients 5000 --big-members 1000'")
    ap.add_argument("--network-args", default="",
                    help="options for scale.py --network, e.g. '--servers 8'")
    ap.add_argument("--no-network", action="store_true",
                    help="with --scale: skip the 20-server network")
    ap.add_argument("--scale-timeout", type=float, default=900.0,
                    help="scale.py --timeout per server (default 900)")
    ap.add_argument("--ours-cmd", default=None,
                    help="command starting our server in the foreground; "
                         "{port} and {conf} are substituted")
    ap.add_argument("--ours-profile", default=None, metavar="FILE",
                    help="run ours under twistd --profile=FILE (cProfile "
                         "stats, read with pstats)")
    ap.add_argument("--ours-port", type=int, default=None,
                    help="with --ours-pid: measure an already running server")
    ap.add_argument("--ours-pid", type=int, default=None)
    ap.add_argument("--ours-label", default="ours")
    ap.add_argument("--no-ours", action="store_true")
    ap.add_argument("--ref-dir", default=reference.DEFAULT_DIR)
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="load.py --timeout for each server (default 120)")
    ap.add_argument("--markdown", action="store_true",
                    help="print the tables as Markdown")
    ap.add_argument("--json", default=None, metavar="FILE",
                    help="also write all raw results to FILE")
    args, load_args = ap.parse_known_args(argv)
    args.ours_port_fixed = None
    if not 1 <= args.runs <= 5:
        ap.error("--runs must be in 1..5")
    refs = [r.strip() for r in args.refs.split(",") if r.strip()]
    for r in refs:
        if r not in REFS:
            ap.error("unknown reference %r" % r)
    if args.scale:
        _NOFILE_WANT[0] = SCALE_NOFILE
    _raise_nofile()
    c_refs = [r for r in refs if r in reference.PACKAGES]
    if c_refs:
        reference.install(c_refs, args.ref_dir)
    scale_args = shlex.split(args.scale_args)
    network_args = shlex.split(args.network_args)

    all_runs = []
    for i in range(args.runs):
        runs = one_comparison(args, refs, load_args, scale_args, network_args)
        all_runs.append(runs)
        if args.markdown:
            print(report.table(runs, args.ours_label, markdown=True))
            print()
        else:
            print_run(runs, args.ours_label, i + 1, args.runs)
        sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(all_runs if args.runs > 1 else all_runs[0], f, indent=2,
                      sort_keys=True)
    print(report.summary(all_runs, args.ours_label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
