"""The scale benchmark's logic (benchmarks/scale.py, netscale.py, loader.py):
the network's tree and its AS-grammar configs, the idle client count under a
descriptor limit, and the lean loader client's handling of what servers send."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str, file: str):
    spec = importlib.util.spec_from_file_location(name, _DIR / file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


sys.path.insert(0, str(_DIR))
try:
    scale = _load("bench_scale", "scale.py")
    netscale = sys.modules["netscale"]
    loader = sys.modules["loader"]
finally:
    sys.path.remove(str(_DIR))
    for _name in ("load", "ircload", "loadphases", "loader", "netscale", "procs"):
        sys.modules.pop(_name, None)


class FakeTransport:
    def __init__(self):
        self.written = []

    def write(self, data):
        self.written.append(data)

    def get_extra_info(self, name):
        return None


def test_tree_of_twenty_has_a_root_four_hubs_and_fifteen_leaves():
    """20 servers: s0 is the root, s1-s4 hang off it, the 15 leaves are dealt over s1-s4."""
    parent = netscale.tree(20, 4)
    assert parent[0] is None
    assert parent[1:5] == [0, 0, 0, 0]
    leaves = parent[5:]
    assert len(leaves) == 15 and set(leaves) == {1, 2, 3, 4}
    assert max(leaves.count(h) for h in (1, 2, 3, 4)) == 4


def test_three_hop_pair_crosses_leaf_hub_root_hub():
    """The measured pair: a leaf under s1 and the hub s2, three links apart."""
    parent = netscale.tree(20, 4)
    leaf, far = netscale.three_hop_pair(parent, 4)
    path = [leaf, parent[leaf], parent[parent[leaf]]]
    assert path == [leaf, 1, 0] and parent[far] == 0 and far == 2
    assert leaf > 4


def test_ours_conf_dials_the_parent_and_defines_children_without_host():
    """A hub's config: its parent as an upstream it dials (host, port, auto on, role hub);
    each child a definition with name, password and role, and no host."""
    parent = netscale.tree(20, 4)
    ports = list(range(7000, 7020))
    conf = netscale.ours_conf(1, parent, ports).splitlines()
    assert "general set hub" in conf and "general set ports 7001" in conf
    assert "services disable" in conf and "security set flood off" in conf
    assert "server s0 set host 127.0.0.1" in conf and "server s0 set port 7000" in conf
    assert "server s0 set auto on" in conf and "server s0 set role hub" in conf
    kids = [i for i, p in enumerate(parent) if p == 1]
    for k in kids:
        assert f"server s{k} set name s{k}.net.bench" in conf
        assert f"server s{k} set role leaf" in conf
        assert not any(line.startswith(f"server s{k} set host") for line in conf)


def test_ours_conf_root_has_hub_children_and_no_upstream_leaf_is_a_leaf():
    """The root defines its hubs with role hub and dials nobody; a leaf says general set leaf."""
    parent = netscale.tree(20, 4)
    root = netscale.ours_conf(0, parent, list(range(20)))
    assert "server s1 set role hub" in root and "set auto on" not in root
    leaf = netscale.ours_conf(7, parent, list(range(20)))
    assert "general set leaf" in leaf and f"server s{parent[7]} set auto on" in leaf


def test_idle_count_keeps_a_margin_under_the_servers_descriptor_limit():
    """20,000 wanted under a 20,000 descriptor limit: the server keeps FD_MARGIN for itself."""
    assert scale.idle_count(20000, None) == 20000
    assert scale.idle_count(20000, 65536) == 20000
    assert scale.idle_count(20000, 20000) == 20000 - scale.FD_MARGIN


def test_open_files_limit_reads_proc_limits_of_a_process():
    """The limit is read from /proc/PID/limits (our own process here)."""
    import os
    import resource
    assert scale.open_files_limit(os.getpid()) == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert scale.open_files_limit(None) is None


def test_bulk_client_registers_on_001_and_answers_server_pings():
    """The loader's client sends NICK/USER, sees 001 across chunk boundaries, answers PING."""
    async def go():
        loop = asyncio.get_running_loop()
        c = loader.Bulk("n1", loop, loader.Group())
        t = FakeTransport()
        c.connection_made(t)
        assert t.written == [b"NICK n1\r\nUSER n1 0 * :scale\r\n"]
        c.data_received(b":srv 001 n1 :Wel")
        assert not c.registered.done()
        c.data_received(b"come\r\nPING :abc\r\n:srv 002 n1 :x\r\n")
        assert c.registered.done()
        assert t.written[-1] == b"PONG :abc\r\n"
    asyncio.run(go())


def test_bulk_client_counts_channel_lines_for_its_group_and_wakes_waiters():
    """Channel PRIVMSG lines are counted per group (split lines once); a token wakes a waiter."""
    async def go():
        loop = asyncio.get_running_loop()
        g = loader.Group()
        a, b = loader.Bulk("a", loop, g), loader.Bulk("b", loop, g)
        for c in (a, b):
            c.connection_made(FakeTransport())
        g.marker = b" PRIVMSG #big :"
        g.target = 4
        g.done = loop.create_future()
        line = b":s!u@h PRIVMSG #big :1 x\r\n"
        a.data_received(line + line[:10])
        a.data_received(line[10:])
        assert g.total == 2 and not g.done.done()
        b.data_received(line * 2)
        assert g.total == 4 and g.done.done()
        fut = a.expect(b"tok9")
        a.data_received(b":srv PONG srv :tok9\r\n")
        assert fut.done()
    asyncio.run(go())


def test_bulk_client_username_has_letters_and_digits_only():
    """ircd-hybrid refuses '_' in a username, so USER carries the nick's letters and digits."""
    async def go():
        loop = asyncio.get_running_loop()
        c = loader.Bulk("abc0w_12", loop, loader.Group())
        t = FakeTransport()
        c.connection_made(t)
        assert t.written == [b"NICK abc0w_12\r\nUSER abc0w12 0 * :scale\r\n"]
    asyncio.run(go())


PER_IP = "ERROR :Closing Link: 127.0.0.1 (Too many connections from your IP address (5))"


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_bulk_client_fails_registration_with_the_servers_error_line():
    """A connection closed before 001 fails with the ERROR line the server sent, not a bare 'closed'."""
    async def go():
        loop = asyncio.get_running_loop()
        c = loader.Bulk("n1", loop, loader.Group())
        c.connection_made(FakeTransport())
        c.data_received(b":srv NOTICE * :hi\r\n" + PER_IP.encode() + b"\r\n")
        c.connection_lost(None)
        assert str(c.registered.exception()) == PER_IP
        quiet = loader.Bulk("n2", loop, loader.Group())
        quiet.connection_made(FakeTransport())
        quiet.connection_lost(None)
        assert str(quiet.registered.exception()) == "closed before 001 (by the server)"
    asyncio.run(go())


def test_refusals_stop_after_two_seconds_of_per_ip_refusals_and_name_the_limit():
    """20 ERROR refusals in a row over 2 s stall the loader; the verdict quotes the ERROR and names the per-IP limit."""
    clock = FakeClock()
    r = loader.Refusals(clock=clock)
    for _ in range(25):
        r.failed(PER_IP)
    assert not r.stalled()              # many refusals, but under 2 s
    clock.now += 2.0
    assert r.stalled()
    verdict = r.verdict(5)
    assert PER_IP in verdict and "per-IP client limit (5 clients" in verdict
    r.ok()                              # one registration resets the streak
    assert not r.stalled()


def test_refusals_give_a_slow_server_fifteen_seconds():
    """Timeouts (no answer) stall only after 15 s without a registration: a busy server is not a limit."""
    clock = FakeClock()
    r = loader.Refusals(clock=clock)
    for _ in range(30):
        r.failed(loader.failure_reason(asyncio.TimeoutError(), 10.0))
    clock.now += 14.0
    assert not r.stalled()
    clock.now += 1.0
    assert r.stalled()
    assert "no answer within 10 s" in r.verdict(0) and "too slow" in r.verdict(0)


def test_failure_reasons_name_descriptor_refused_and_rate_limits():
    """The loader's EMFILE, a refused connect, a throttle ERROR and a silent close each name their limit."""
    import errno
    emfile = loader.failure_reason(OSError(errno.EMFILE, "Too many open files"), 10.0)
    assert "out of descriptors" in emfile
    assert "loader's descriptor limit" in loader.limit_named(emfile, 1000)
    refused = loader.failure_reason(ConnectionRefusedError(errno.ECONNREFUSED, "x"), 10.0)
    assert refused == "connection refused"
    assert "nothing accepts connections" in loader.limit_named(refused, 0)
    throttle = "ERROR :Closing Link: 127.0.0.1 (Too many new connections, try again shortly)"
    assert "connection-rate limit" in loader.limit_named(throttle, 3)
    assert "descriptor limit" in loader.limit_named("closed before 001 (by the server)", 900)
