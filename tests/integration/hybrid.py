"""
A real ircd-hybrid 8.2 server for integration tests and benchmarks.

ircd-hybrid is what our link protocol must interoperate with (see
``docs/link-protocol.md`` and ``shared/interop/``).  This module gives a test
(or ``benchmarks/linkburst.py``) real hybrid processes on 127.0.0.1:

* **Install on demand.** The Debian package conflicts with other IRC daemon
  packages and refuses to run as root, so it is not installed with dpkg: the
  ``.deb`` files of ``ircd-hybrid`` and ``libltdl7`` are fetched with
  ``apt-get download`` (``apt-get update`` and a retry when that fails) and
  unpacked with ``dpkg-deb -x`` under :data:`INSTALL_ROOT`, once per machine.
  When that is impossible, :func:`install` raises :class:`HybridUnavailable`
  with apt's words and the ``hybrid`` fixture skips the test with them.
* **Paths and DNS.** hybrid loads its core modules from a built-in path
  (``/usr/lib/ircd-hybrid/modules/``, whatever ``modules {}`` says) and looks
  up every connection's address with its own resolver, configured only by
  ``/etc/resolv.conf``.  The copy we run has those built-in strings replaced
  (same offsets, NUL-padded) by paths under :data:`INSTALL_ROOT`; its
  resolv.conf names 127.0.0.1, where :class:`NxDomainResolver` answers every
  query with NXDOMAIN at once ("Couldn't look up your hostname"), so no
  connection waits and no query leaves the loopback interface.  Ident is off
  (``disable_auth``).
* **As the irc user.** When we are root, hybrid runs as ``irc`` (created as a
  system user when missing); otherwise as ourselves.  Its run directory is
  outside pytest's private tmp folder so that user can write there.
* **Bounded.** Each process runs under ``timeout`` (:data:`LIFETIME`), is
  waited for with timeouts, and is stopped by its PID (SIGTERM, then
  SIGKILL), never by name.

Usage in a test::

    from tests.integration.hybrid import HybridConfig, Connect, hybrid  # noqa: F401

    def test_x(hybrid, irc_server):
        ours = irc_server([...])            # our server, with a definition for alpha.test
        a = hybrid(HybridConfig("alpha.test", "1AA", connects=[
            Connect("ours.test", ours.port, "link-secret")]))
        alice = a.client("alice")           # registered IRCClient on hybrid
        a.connect_server("ours.test")       # oper CONNECT, waits for "Link with ... established"

``hybrid(config)`` picks free ports for ``client_port``/``server_port`` left at
0, starts the server, waits for its client port and returns a
:class:`HybridProcess`; all are stopped at teardown and their config and logs
are printed when the test failed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

HOST = "127.0.0.1"
#: where the unpacked packages and the patched binary live (shared by runs)
INSTALL_ROOT = Path("/tmp/cr-hybrid")
#: stands in for /etc/resolv.conf in our copy of the binary (no longer than it)
RESOLV_CONF = "/tmp/cr-hybrid/r"
_BUILTIN_MODULES = "/usr/lib/ircd-hybrid/modules"
#: bump when install() changes what it makes, so old copies are redone
_INSTALL_FORMAT = "resolver+modules 1"
PACKAGES = ("ircd-hybrid", "libltdl7")
RUN_USER = "irc"
#: seconds after which ``timeout`` ends a hybrid that nobody stopped
LIFETIME = 1800
APT_TIMEOUT = 600
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
DNS_PORT = 53


class HybridUnavailable(Exception):
    """ircd-hybrid cannot be installed or run here; the message says why."""


def free_port(host: str = HOST) -> int:
    """A TCP port that was free a moment ago (bind port 0, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# -- installation -------------------------------------------------------------

@dataclass(frozen=True)
class HybridInstall:
    """An unpacked ircd-hybrid: the binary we run, its modules and libraries."""

    root: Path = INSTALL_ROOT

    @property
    def binary(self) -> Path:
        """Our copy of ircd-hybrid, resolving through :data:`RESOLV_CONF`."""
        return self.root / "ircd-hybrid"

    @property
    def unpacked(self) -> Path:
        return self.root / "pkg"

    @property
    def module_dir(self) -> Path:
        return self.unpacked / "usr/lib/ircd-hybrid/modules"

    @property
    def library_path(self) -> str:
        """LD_LIBRARY_PATH for libltdl.so.7 from the unpacked libltdl7."""
        return os.pathsep.join(str(p) for p in sorted(self.unpacked.glob("usr/lib/*-linux-gnu")))

    @property
    def stamp(self) -> Path:
        """Written last by :func:`install`: its content says which patch made the binary."""
        return self.root / "ready"

    def ready(self) -> bool:
        try:
            stamp = self.stamp.read_text().strip()
        except OSError:
            return False
        return (stamp == _INSTALL_FORMAT and self.binary.exists()
                and (self.module_dir / "autoload").is_dir() and Path(RESOLV_CONF).exists())

    def version(self) -> str:
        """The package version unpacked (from the .deb file name)."""
        debs = sorted((self.root / "debs").glob("ircd-hybrid_*.deb"))
        return debs[0].name.split("_")[1].replace("%3a", ":") if debs else "?"


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    INSTALL_ROOT.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{INSTALL_ROOT}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(cmd: list[str], cwd: Optional[Path] = None) -> tuple[bool, str]:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=APT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"{' '.join(cmd)}: {e}"
    return proc.returncode == 0, (proc.stdout[-1500:] + proc.stderr[-1500:]).strip()


def _download(debs: Path) -> None:
    """``apt-get download`` each package; ``apt-get update`` once if needed."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise HybridUnavailable("apt-get and dpkg-deb are needed to fetch ircd-hybrid")
    updated = False
    for package in PACKAGES:
        if list(debs.glob(f"{package}_*.deb")):
            continue
        while True:
            ok, output = _run(["apt-get", "download", "-q", package], cwd=debs)
            if ok and list(debs.glob(f"{package}_*.deb")):
                break
            if updated:
                raise HybridUnavailable(
                    f"`apt-get download {package}` failed: {output[-500:]}")
            ok, output = _run(["apt-get", "update"])
            if not ok:
                raise HybridUnavailable(f"`apt-get update` failed: {output[-500:]}")
            updated = True


def _patch_paths(source: Path, target: Path, replacements: dict[str, str]) -> None:
    """Copy the binary with built-in paths replaced (each found exactly once,
    the new one no longer, padded with NUL bytes so offsets stay put)."""
    data = source.read_bytes()
    for old, new in replacements.items():
        needle = old.encode() + b"\0"
        if data.count(needle) != 1 or len(new) > len(old):
            raise HybridUnavailable(
                f"{source}: cannot point its built-in path {old} at {new} "
                f"(found {data.count(needle)} times); is this hybrid 8.2?")
        data = data.replace(needle, new.encode().ljust(len(needle), b"\0"))
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o755)
    tmp.rename(target)


def install(root: Path = INSTALL_ROOT) -> HybridInstall:
    """Fetch and unpack ircd-hybrid once; raise HybridUnavailable if impossible."""
    inst = HybridInstall(root)
    with _install_lock():
        if inst.ready():
            return inst
        debs = root / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        _download(debs)
        for deb in sorted(debs.glob("*.deb")):
            ok, output = _run(["dpkg-deb", "-x", str(deb), str(inst.unpacked)])
            if not ok:
                raise HybridUnavailable(f"dpkg-deb -x {deb.name} failed: {output[-500:]}")
        modules = root / "m"
        if not modules.is_symlink():
            modules.symlink_to(inst.module_dir)
        _patch_paths(inst.unpacked / "usr/sbin/ircd-hybrid", inst.binary, {
            "/etc/resolv.conf": RESOLV_CONF,
            f"{_BUILTIN_MODULES}/": f"{modules}/",
            f"{_BUILTIN_MODULES}//autoload/": f"{modules}/autoload/",
        })
        Path(RESOLV_CONF).write_text(f"nameserver {HOST}\n")
        for path in [root, *root.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o044 | (0o011 if path.is_dir() else 0))
        inst.stamp.write_text(_INSTALL_FORMAT + "\n")
        if not inst.ready():
            raise HybridUnavailable(f"ircd-hybrid incomplete after unpacking into {root}")
    return inst


def run_user() -> Optional[pwd.struct_passwd]:
    """The account hybrid runs as: ``irc`` when we are root (created if
    missing), else ``None`` (run as ourselves; hybrid refuses only root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(RUN_USER)
    except KeyError:
        pass
    ok, output = _run(["useradd", "--system", "--user-group", "--no-create-home",
                       "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                       RUN_USER])
    if not ok:
        raise HybridUnavailable(f"no {RUN_USER} user and useradd failed: {output}")
    return pwd.getpwnam(RUN_USER)


# -- DNS ------------------------------------------------------------------------

class NxDomainResolver:
    """
    A DNS responder on 127.0.0.1:53 (UDP) that answers every query NXDOMAIN.

    Shared: :meth:`acquire` starts it on first use, :meth:`release` stops it
    after the last.  The socket uses SO_REUSEPORT so that two test runs can
    both answer (their answers are identical).  Binding port 53 needs root;
    without it hybrid's lookups time out instead (slower, still local).
    """

    _lock = threading.Lock()
    _users = 0
    _instance: Optional["NxDomainResolver"] = None

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self.sock.bind((HOST, DNS_PORT))
        self.answered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="nxdomain", daemon=True)
        self._thread.start()

    @classmethod
    def acquire(cls) -> Optional[str]:
        """Start (or share) the responder; a warning string if it cannot run."""
        with cls._lock:
            if cls._instance is None:
                try:
                    cls._instance = cls()
                except OSError as e:
                    return f"no NXDOMAIN responder on {HOST}:{DNS_PORT} ({e}); hybrid's lookups will time out"
            cls._users += 1
            return None

    @classmethod
    def release(cls) -> None:
        with cls._lock:
            if cls._instance is None:
                return
            cls._users -= 1
            if cls._users <= 0:
                cls._instance.close()
                cls._instance, cls._users = None, 0

    @staticmethod
    def answer(query: bytes) -> Optional[bytes]:
        """The NXDOMAIN reply to one query, or None for a malformed one."""
        if len(query) < 12:
            return None
        ident, flags, qdcount = struct.unpack("!HHH", query[:6])
        if flags & 0x8000 or qdcount != 1:
            return None
        i = 12
        while i < len(query) and query[i]:
            if query[i] & 0xC0:
                return None
            i += query[i] + 1
        end = i + 5
        if end > len(query):
            return None
        reply_flags = 0x8000 | (flags & 0x7900) | 0x0080 | 3   # QR, opcode, RD, RA, NXDOMAIN
        return struct.pack("!HHHHHH", ident, reply_flags, 1, 0, 0, 0) + query[12:end]

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.2)
            if not ready:
                continue
            try:
                query, peer = self.sock.recvfrom(1500)
            except OSError:
                continue
            reply = self.answer(query)
            if reply is not None:
                with contextlib.suppress(OSError):
                    self.sock.sendto(reply, peer)
                    self.answered += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.sock.close()


# -- configuration ------------------------------------------------------------

@dataclass
class Connect:
    """A ``connect {}`` block: a server hybrid links with.

    ``hub_mask`` lets that peer introduce servers behind it (``None``: it may
    not; hybrid then drops it with ``No matching hub_mask.``).  ``autoconn``
    makes hybrid dial it by itself; hybrid's first try comes 20-80 s after
    start (its try_connections timer), so tests link faster with CONNECT.
    """

    name: str
    port: int
    password: str
    host: str = HOST
    hub_mask: Optional[str] = "*"
    autoconn: bool = False
    #: dial this peer over TLS (``flags = tls``)
    tls: bool = False
    #: the peer's certificate must have this SHA-256 (hex, any case, colons allowed)
    fingerprint: Optional[str] = None

    def render(self) -> str:
        lines = [f'\tname = "{self.name}";', f'\thost = "{self.host}";', f"\tport = {self.port};",
                 f'\tsend_password = "{self.password}";', f'\taccept_password = "{self.password}";',
                 "\tencrypted = no;", '\tclass = "server";', "\ttimeout = 10 seconds;"]
        if self.hub_mask is not None:
            lines.append(f'\thub_mask = "{self.hub_mask}";')
        flags = [flag for flag, on in (("autoconn", self.autoconn), ("tls", self.tls)) if on]
        if flags:
            lines.append(f"\tflags = {', '.join(flags)};")
        if self.fingerprint:
            lines.append(f'\ttls_certificate_fingerprint = "{self.fingerprint.replace(":", "").upper()}";')
        return "connect {\n" + "\n".join(lines) + "\n};\n"


@dataclass
class HybridConfig:
    """What a test says about one hybrid; :meth:`render` writes ircd.conf.

    Ports left at 0 are picked free when the server starts.  Clients are
    allowed from 127.0.0.1 with flood limits lifted; servers get a class with
    ``server_ping`` seconds between PINGs and a SendQ big enough for a burst
    of tens of thousands of users.  ``oper`` is (name, password) with every
    privilege (CONNECT, SQUIT, KILL, ...).
    """

    name: str
    sid: str
    connects: list[Connect] = field(default_factory=list)
    description: str = "ircd-hybrid test peer"
    hub: bool = True
    client_port: int = 0
    server_port: int = 0
    network: str = "TestNet"
    oper: tuple[str, str] = ("hyboper", "hybpass")
    client_ping: int = 120
    server_ping: int = 60
    connectfreq: int = 10
    max_clients: int = 2000
    extra: str = ""
    #: (certificate, key) PEM file names inside hybrid's directory: enables TLS and a TLS server port
    tls_files: Optional[tuple[str, str]] = None
    tls_port: int = 0

    def render(self, install: HybridInstall, directory: Path) -> str:
        hub = "yes" if self.hub else "no"
        oper_name, oper_password = self.oper
        connects = "".join(c.render() for c in self.connects)
        tls_info = tls_listen = ""
        if self.tls_files is not None:
            cert, key = (directory / name for name in self.tls_files)
            tls_info = f'\trsa_private_key_file = "{key}";\n\ttls_certificate_file = "{cert}";\n'
            tls_listen = f'\tflags = tls, server;\n\thost = "{HOST}";\n\tport = {self.tls_port};\n'
        return f"""/* ircd-hybrid test config for {self.name} (written by tests/integration/hybrid.py) */
serverinfo {{
\tname = "{self.name}";
\tsid = "{self.sid}";
\tdescription = "{self.description}";
\tnetwork_name = "{self.network}";
\tnetwork_description = "{self.network}";
\thub = {hub};
\tdefault_max_clients = {self.max_clients};
\tmax_nick_length = 15;
\tmax_topic_length = 300;
{tls_info}}};
admin {{ name = "test"; description = "test"; email = "<test@localhost>"; }};
class {{
\tname = "users";
\tping_time = {self.client_ping} seconds;
\tnumber_per_ip_local = 100000;
\tnumber_per_ip_global = 100000;
\tcidr_bitlen_ipv4 = 32;
\tnumber_per_cidr = 100000;
\tmax_number = 100000;
\tsendq = 4 megabytes;
\trecvq = 64 kbytes;
}};
class {{
\tname = "server";
\tping_time = {self.server_ping} seconds;
\tconnectfreq = {self.connectfreq} seconds;
\tmax_number = 20;
\tsendq = 256 megabytes;
}};
listen {{
\tflags = client;
\thost = "{HOST}";
\tport = {self.client_port};
\tflags = server;
\thost = "{HOST}";
\tport = {self.server_port};
{tls_listen}}};
auth {{
\tuser = "*@{HOST}";
\tclass = "users";
\tflags = exceed_limit, can_flood, kline_exempt, xline_exempt, resv_exempt;
}};
operator {{
\tname = "{oper_name}";
\tuser = "*@{HOST}";
\tpassword = "{oper_password}";
\tencrypted = no;
\tclass = "users";
\tumodes = servnotice, wallop;
\tflags = admin, connect, connect:remote, die, globops, kill, kill:remote,
\t\trehash, squit, squit:remote, wallops, set, resv, unresv, xline, unxline;
}};
{connects}
general {{
\tdisable_auth = yes;
\tthrottle_count = 100000;
\tthrottle_time = 0;
\tts_warn_delta = 30 seconds;
\tts_max_delta = 300 seconds;
\tanti_nick_flood = no;
\tinvisible_on_connect = no;
\tping_cookie = no;
\twarn_no_connect_block = yes;
\tmax_targets = 20;
\tdefault_floodcount = 100000;
\tdefault_floodtime = 1 second;
\toper_umodes = servnotice, wallop;
}};
channel {{
\tenable_owner = no;
\tenable_admin = no;
\tmax_channels = 1000;
\tdefault_join_flood_count = 100000;
\tdefault_join_flood_time = 1 second;
}};
serverhide {{ flatten_links = no; hidden = no; }};
modules {{
\tpath = "{install.module_dir}";
\tpath = "{install.module_dir}/autoload";
}};
log {{
\tuse_logging = yes;
\tfile {{ type = oper; name = "{directory}/oper.log"; size = 10 megabytes; }};
\tfile {{ type = kill; name = "{directory}/kill.log"; size = 10 megabytes; }};
\tfile {{ type = debug; name = "{directory}/debug.log"; size = 10 megabytes; }};
}};
{self.extra}
"""


# -- process --------------------------------------------------------------------

class HybridStartError(AssertionError):
    pass


class HybridProcess:
    """
    One ircd-hybrid process: ``timeout LIFETIME ircd-hybrid -foreground``.

    @ivar directory: its run directory (config, pid file, logs, .db files).
    @ivar pid: hybrid's own PID once started (for /proc/PID/stat and stop).
    """

    def __init__(self, config: HybridConfig, install: HybridInstall,
                 directory: Optional[Path] = None, lifetime: int = LIFETIME):
        self.config = config
        self.install = install
        self.lifetime = lifetime
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix=f"cr-hybrid-{config.name}-"))
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path = self.directory / "ircd.conf"
        self.pid_path = self.directory / "ircd.pid"
        self.log_path = self.directory / "ircd.log"
        self.stdout_path = self.directory / "stdout.log"
        self.wrapper: Optional[subprocess.Popen] = None
        self.pid: Optional[int] = None
        self.unexpected_exit: Optional[int] = None
        self._clients: list = []
        self._oper = None
        self._resolver = False

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def sid(self) -> str:
        return self.config.sid

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        """The client port (so IRCClient helpers treat it like our servers)."""
        return self.config.client_port

    @property
    def server_port(self) -> int:
        return self.config.server_port

    def command(self) -> list[str]:
        d = self.directory
        return [shutil.which("timeout") or "timeout", "-k", "5", str(self.lifetime),
                str(self.install.binary), "-foreground",
                "-configfile", str(self.config_path), "-pidfile", str(self.pid_path),
                "-logfile", str(self.log_path), "-klinefile", str(d / "kline.db"),
                "-dlinefile", str(d / "dline.db"), "-xlinefile", str(d / "xline.db"),
                "-resvfile", str(d / "resv.db")]

    def start(self, timeout: float = START_TIMEOUT) -> "HybridProcess":
        """Write the config, start hybrid and wait until its client port answers."""
        assert self.wrapper is None, f"{self.name} already running"
        if not self.config.client_port:
            self.config.client_port = free_port()
        if not self.config.server_port:
            self.config.server_port = free_port()
        if self.config.tls_files is not None and not self.config.tls_port:
            self.config.tls_port = free_port()
        self.config_path.write_text(self.config.render(self.install, self.directory))
        user = run_user()
        if user is not None:
            for path in [self.directory, *self.directory.iterdir()]:
                os.chown(path, user.pw_uid, user.pw_gid)
        self.directory.chmod(0o755)
        warning = NxDomainResolver.acquire()
        self._resolver = True
        if warning:
            print(f"[hybrid] {warning}", file=sys.stderr)
        env = dict(os.environ, LD_LIBRARY_PATH=self.install.library_path)
        with open(self.stdout_path, "wb") as out:
            self.wrapper = subprocess.Popen(
                self.command(), cwd=self.directory, env=env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                user=user.pw_uid if user else None, group=user.pw_gid if user else None,
                extra_groups=[] if user else None)
        deadline = time.monotonic() + timeout
        while True:
            rc = self.wrapper.poll()
            if rc is not None:
                self.wrapper = None
                raise HybridStartError(f"{self.name}: ircd-hybrid exited with status {rc} "
                                       f"before listening\n{self.describe()}")
            if self.pid is None:
                self.pid = self._read_pid()
            if self.pid is not None:
                try:
                    with socket.create_connection((HOST, self.config.client_port), timeout=0.5):
                        return self
                except OSError:
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise HybridStartError(f"{self.name}: client port {self.config.client_port} "
                                       f"not answering after {timeout}s\n{self.describe()}")
            time.sleep(0.05)

    def _read_pid(self) -> Optional[int]:
        """hybrid's PID from its pid file, if it is our wrapper's child."""
        try:
            pid = int(self.pid_path.read_text().split()[0])
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (OSError, ValueError, IndexError):
            return None
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        return pid if self.wrapper is not None and ppid == self.wrapper.pid else None

    def is_running(self) -> bool:
        return self.wrapper is not None and self.wrapper.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> Optional[int]:
        """Close our clients, signal hybrid by PID, wait; SIGKILL if it stays."""
        for c in self._clients:
            c.close()
        self._clients.clear()
        self._oper = None
        wrapper = self.wrapper
        if wrapper is None:
            return None
        if wrapper.poll() is not None and sig == signal.SIGTERM and self.unexpected_exit is None:
            self.unexpected_exit = wrapper.returncode
        for signum in (sig, signal.SIGKILL):
            if wrapper.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid or wrapper.pid, signum)
            try:
                wrapper.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                continue
        if wrapper.poll() is None:
            os.kill(wrapper.pid, signal.SIGKILL)
            wrapper.wait(STOP_TIMEOUT)
        self.wrapper = None
        self.pid = None
        if self._resolver:
            NxDomainResolver.release()
            self._resolver = False
        return wrapper.returncode

    def kill(self) -> Optional[int]:
        """SIGKILL hybrid at once (a crash: its peers see the link drop)."""
        return self.stop(signal.SIGKILL)

    # -- clients ---------------------------------------------------------------

    def client(self, nick: Optional[str] = None, **register_kwargs):
        """A raw IRCClient on the client port, registered as ``nick`` if given."""
        from tests.integration.ircclient import IRCClient

        c = IRCClient.connect(HOST, self.config.client_port, name=f"{nick or 'client'}@{self.name}")
        self._clients.append(c)
        if nick is not None:
            c.register(nick, **register_kwargs)
        return c

    def oper_client(self, nick: str):
        """A registered client that is an IRC operator (may CONNECT, SQUIT, KILL)."""
        c = self.client(nick)
        c.oper(*self.config.oper)
        return c

    def connect_server(self, name: str, timeout: float = 10.0) -> str:
        """CONNECT ``name`` as an operator here and wait for hybrid's
        "Link with <name>[...] established" notice; return its text."""
        if self._oper is None or self._oper.closed:
            self._oper = self.oper_client(f"op{self.sid.lower()}")
        self._oper.send(f"CONNECT {name}")
        notice = self._oper.expect(
            lambda m: m.command == "NOTICE" and f"Link with {name}" in m.params[-1], timeout=timeout)
        if "established" not in notice.params[-1]:
            raise AssertionError(f"{self.name}: CONNECT {name}: {notice.params[-1]}\n{self.describe()}")
        return notice.params[-1]

    # -- logs --------------------------------------------------------------------

    def read_log(self) -> str:
        """hybrid's own log, its stdout/stderr and its log{} files."""
        parts = []
        for path in (self.log_path, self.stdout_path, self.directory / "oper.log",
                     self.directory / "kill.log", self.directory / "debug.log"):
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace")
                if text.strip():
                    parts.append(f"--- {path.name} ---\n{text.rstrip()}")
        return "\n".join(parts)

    def describe(self, lines: int = 80) -> str:
        """Command, config and log tails, for failure messages."""
        config = self.config_path.read_text() if self.config_path.exists() else "(none)"
        log = "\n".join(self.read_log().splitlines()[-lines:]) or "(empty logs)"
        return (f"command: {' '.join(self.command())}\n--- {self.config_path} ---\n"
                f"{config}\n{log}")

    def wait_for_log(self, text: str, timeout: float = 10.0) -> str:
        """Wait until ``text`` appears in hybrid's logs; return the line."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.read_log().splitlines():
                if text in line:
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: log never showed {text!r} within "
                                     f"{timeout}s\n{self.describe()}")
            time.sleep(0.1)

    def cleanup(self) -> None:
        """Remove the run directory (after stop)."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def __repr__(self) -> str:
        return f"<HybridProcess {self.name} {self.sid} clients {HOST}:{self.config.client_port} " \
               f"servers :{self.config.server_port} pid={self.pid}>"


# -- pytest fixture ---------------------------------------------------------------

try:
    import pytest
except ImportError:   # benchmarks import this module without pytest
    pytest = None

if pytest is not None:
    @pytest.fixture
    def hybrid(request):
        """Factory: ``hybrid(HybridConfig(...), start=True)`` -> HybridProcess.

        Skips the test (with the reason) when ircd-hybrid cannot be installed;
        stops every process at teardown, printing configs and logs on failure.
        """
        try:
            inst = install()
            run_user()
        except HybridUnavailable as e:
            pytest.skip(f"ircd-hybrid unavailable: {e}")
        made: list[HybridProcess] = []

        def make(config: HybridConfig, start: bool = True) -> HybridProcess:
            proc = HybridProcess(config, inst)
            made.append(proc)
            if start:
                proc.start()
            return proc

        yield make

        rep = getattr(request.node, "rep_call", None)
        failed = rep is None or rep.failed
        problems = []
        for proc in made:
            proc.stop()
            if failed:
                sys.stdout.write(f"\n=== {proc!r} ===\n{proc.describe(120)}\n")
            if proc.unexpected_exit is not None:
                problems.append(f"{proc.name} exited by itself with status "
                                f"{proc.unexpected_exit} during the test")
            proc.cleanup()
        if problems:
            pytest.fail("; ".join(problems), pytrace=False)
