#!/usr/bin/env python3
"""Install, start and stop reference IRC servers for benchmarking.

The reference servers come from Debian's own packages.  ngIRCd and InspIRCd
conflict with each other as packages, so they are not installed with dpkg:
their .deb files are fetched with ``apt-get download`` and unpacked with
``dpkg-deb -x`` under a private directory (default /tmp/cr-bench-ref).  Each
server is then started from that directory, in the foreground, on a loopback
port, with a generated configuration that:

* lifts per-IP and global connection limits,
* turns flood control / penalties off,
* turns DNS and ident lookups off.

Usage::

    python3 benchmarks/reference.py install
    python3 benchmarks/reference.py start ngircd --port 16667   # prints PID
    python3 benchmarks/reference.py stop --pid PID

It is also imported by compare.py (install(), start(), stop()).
Traffic stays on 127.0.0.1; stop() only signals the PID it is given, and only
after checking that this PID runs a binary from our unpack directory.
"""

import argparse
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import raise_nofile  # noqa: E402

DEFAULT_DIR = "/tmp/cr-bench-ref"
NOFILE = 20000

# Debian packages to unpack per server (the server itself plus any shared
# library it needs that is not already on the machine).
PACKAGES = {
    "ngircd": ["ngircd", "libident"],
    "inspircd": ["inspircd"],
}
BINARIES = {
    "ngircd": "usr/sbin/ngircd",
    "inspircd": "usr/sbin/inspircd",
}
# ngIRCd's operator, used to set user mode +F (relaxed flood protection) on
# the load generator's sending client; see load.py --oper/--umode.
OPER_NAME = "bench"
OPER_PASS = "benchpass"


def log(msg):
    print("[reference] " + msg, file=sys.stderr, flush=True)


def _apt_updated_recently():
    lists = glob.glob("/var/lib/apt/lists/*_Packages")
    if not lists:
        return False
    newest = max(os.path.getmtime(p) for p in lists)
    return time.time() - newest < 24 * 3600


def install(names=("ngircd", "inspircd"), root=DEFAULT_DIR, update=True):
    """Fetch and unpack the .deb files of the named servers under root."""
    os.makedirs(root, exist_ok=True)
    debdir = os.path.join(root, "debs")
    os.makedirs(debdir, exist_ok=True)
    todo = []
    for name in names:
        if os.path.exists(binary_path(name, root)):
            continue
        todo.append(name)
    if not todo:
        return
    if update and not _apt_updated_recently():
        log("apt-get update")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
    for name in todo:
        dest = os.path.join(root, name)
        os.makedirs(dest, exist_ok=True)
        for pkg in PACKAGES[name]:
            before = set(os.listdir(debdir))
            log("apt-get download " + pkg)
            subprocess.run(["apt-get", "download", "-q", pkg], cwd=debdir,
                           check=True, stdout=subprocess.DEVNULL)
            new = sorted(set(os.listdir(debdir)) - before)
            debs = new or sorted(glob.glob(os.path.join(debdir, pkg + "_*.deb")))
            for deb in debs:
                subprocess.run(["dpkg-deb", "-x", os.path.join(debdir, deb),
                                dest], check=True)
        if not os.path.exists(binary_path(name, root)):
            raise RuntimeError("%s: binary missing after unpack" % name)
        log("unpacked %s into %s" % (name, dest))


def binary_path(name, root=DEFAULT_DIR):
    return os.path.join(root, name, BINARIES[name])


def _lib_path(name, root):
    base = os.path.join(root, name)
    dirs = [os.path.join(base, "usr/lib/x86_64-linux-gnu"),
            os.path.join(base, "lib/x86_64-linux-gnu"),
            os.path.join(base, "usr/lib")]
    dirs += glob.glob(os.path.join(base, "usr/lib/*-linux-gnu"))
    return ":".join(d for d in dirs if os.path.isdir(d))


def ngircd_conf(port, run):
    return """\
[Global]
    Name = ref.ngircd.local
    Info = conferenceroom benchmark reference
    Listen = 127.0.0.1
    Ports = {port}
    MotdPhrase = bench
    AdminInfo1 = bench
    AdminInfo2 = bench
    AdminEMail = bench@localhost

[Limits]
    MaxConnections = 0
    MaxConnectionsIP = 0
    MaxJoins = 0
    MaxNickLength = 30
    MaxPenaltyTime = 0
    PingTimeout = 90
    PongTimeout = 90

[Options]
    DNS = no
    Ident = no
    PAM = no
    OperCanUseMode = yes

[Operator]
    Name = {oper}
    Password = {opass}
""".format(port=port, run=run, oper=OPER_NAME, opass=OPER_PASS)


def inspircd_conf(port, run, root):
    mods = os.path.join(root, "inspircd/usr/lib/inspircd/modules")
    return """\
<path configdir="{run}" datadir="{run}" logdir="{run}" runtimedir="{run}"
      moduledir="{mods}">
<server name="ref.inspircd.local" description="conferenceroom benchmark reference"
        network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="{port}" type="clients">
<power diepass="{opass}" restartpass="{opass}">
<connect name="bench" allow="*"
         timeout="60" pingfreq="90"
         hardsendq="8M" softsendq="1M" recvq="1M"
         threshold="1000000" commandrate="1000000000" fakelag="no"
         localmax="1000000" globalmax="1000000" maxconnwarn="no"
         resolvehostnames="no" useident="no" limit="1000000"
         maxchans="1000">
<class name="Shutdown" commands="DIE RESTART REHASH"
       privs="users/flood/no-fakelag users/flood/increased-buffers users/flood/no-throttle">
<type name="Bench" classes="Shutdown">
<oper name="{oper}" password="{opass}" host="*@*" type="Bench">
<dns server="127.0.0.1" timeout="1">
<pid file="{run}/inspircd.pid">
<options prefixquit="Quit: " syntaxhints="no" announcets="yes"
         hostintopic="yes" pingwarning="15" splitwhois="no" exemptchanops="">
<security hideserver="" userstats="Pu" customversion="" flatlinks="no"
          hidesplits="no" hideulines="no" hidebans="no" maxtargets="20">
<performance quietbursts="yes" softlimit="{nofile}" somaxconn="4096"
             netbuffersize="65536" clonesonconnect="no">
<limits maxnick="30" maxchan="64" maxmodes="20" maxident="10" maxhost="64"
        maxquit="255" maxtopic="307" maxkick="255" maxreal="128"
        maxaway="200">
<channels users="1000" opers="1000">
<whowas groupsize="10" maxgroups="100000" maxkeep="3d">
""".format(port=port, run=run, mods=mods, oper=OPER_NAME, opass=OPER_PASS,
           nofile=NOFILE - 100)


def _raise_nofile():
    raise_nofile(NOFILE)


def wait_listening(host, port, timeout=10.0, proc=None):
    """Wait until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited early (rc=%s)" % proc.returncode)
        try:
            with socket.create_connection((host, port), timeout=0.5) as s:
                s.sendall(b"QUIT\r\n")
            return True
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listening on %s:%d after %.0fs"
                       % (host, port, timeout))


def start(name, port, root=DEFAULT_DIR, logfile=None):
    """Start reference server `name` on 127.0.0.1:port; return its Popen.

    The process started is the server itself (run in the foreground), so
    Popen.pid is the PID whose CPU time and RSS load.py reads.
    """
    install([name], root)
    run = os.path.join(root, "run-%s-%d" % (name, port))
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(run)
    env = dict(os.environ)
    libs = _lib_path(name, root)
    if libs:
        env["LD_LIBRARY_PATH"] = libs + (":" + env["LD_LIBRARY_PATH"]
                                         if env.get("LD_LIBRARY_PATH") else "")
    binary = binary_path(name, root)
    if name == "ngircd":
        conf = os.path.join(run, "ngircd.conf")
        with open(conf, "w") as f:
            f.write(ngircd_conf(port, run))
        argv = [binary, "--nodaemon", "--config", conf]
    elif name == "inspircd":
        conf = os.path.join(run, "inspircd.conf")
        with open(conf, "w") as f:
            f.write(inspircd_conf(port, run, root))
        argv = [binary, "--nofork", "--nopid", "--config=" + conf]
        if os.geteuid() == 0:
            argv.append("--runasroot")
    else:
        raise ValueError("unknown reference server %r" % name)
    out = open(logfile or os.path.join(run, "stdout.log"), "ab")
    proc = subprocess.Popen(argv, cwd=run, env=env, stdin=subprocess.DEVNULL,
                            stdout=out, stderr=subprocess.STDOUT,
                            preexec_fn=_raise_nofile)
    out.close()
    try:
        wait_listening("127.0.0.1", port, proc=proc)
    except Exception:
        stop(proc.pid, root)
        raise
    return proc


def _owned(pid, root):
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return False
    return exe.startswith(os.path.realpath(root) + os.sep)


def stop(pid, root=DEFAULT_DIR, timeout=5.0):
    """SIGTERM the given PID (only if it runs one of our unpacked binaries),
    then SIGKILL it if it has not exited after `timeout` seconds."""
    if not _owned(pid, root):
        log("PID %d is not a reference server from %s; not touching it"
            % (pid, root))
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return True
        except ChildProcessError:
            if not os.path.exists("/proc/%d" % pid):
                return True
        time.sleep(0.05)
    if _owned(pid, root):
        os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=DEFAULT_DIR,
                    help="unpack/run directory (default %(default)s)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("install", help="apt-get download + dpkg-deb -x")
    p.add_argument("names", nargs="*", default=["ngircd", "inspircd"])
    p = sub.add_parser("start", help="start a server in the background, "
                       "print its PID")
    p.add_argument("name", choices=sorted(PACKAGES))
    p.add_argument("--port", type=int, required=True)
    p = sub.add_parser("stop", help="stop a server started by 'start'")
    p.add_argument("--pid", type=int, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "install":
        install(args.names, args.dir)
    elif args.cmd == "start":
        proc = start(args.name, args.port, args.dir)
        print(proc.pid)
        # Popen object is dropped deliberately: the server keeps running
        # detached from this short-lived process.
    elif args.cmd == "stop":
        return 0 if stop(args.pid, args.dir) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
