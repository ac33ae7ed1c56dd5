"""
The benchmark scripts still run end to end, on tiny counts: compare.py
against the Twisted floor and ours (the table with ratios and targets),
scale.py's idle and big-channel phases against the floor, and a network of
four of our servers linked with the AS grammar. The figures themselves are
not judged here (they belong in benchmarks, never in tests); what is checked
is what an operator running `make bench` would see.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"
PY = sys.executable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([PY, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_compare_prints_every_server_ratio_and_target(tmp_path):
    """compare.py with the floor as reference: a row per metric with ours, the
    floor, ours/floor and the target, and the verdict line; every JOIN and
    PART of the churn phase came back."""
    out = tmp_path / "bench.json"
    proc = _run([str(BENCH / "compare.py"), "--refs", "floor", "--phases", "burst,churn",
                 "--clients", "30", "--churn-clients", "4", "--churn-rounds", "3",
                 "--repeat", "1", "--timeout", "60", "--json", str(out)], timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    head = next(x for x in lines if x.startswith("metric"))
    assert head.split()[:3] == ["metric", "floor", "ours"]
    churn = next(x for x in lines if x.startswith("churn server CPU ms per JOIN+PART"))
    assert "<= 1x" in churn and "x" in churn.split("<= 1x")[0]
    assert lines[-1] in ("All targets held in every run: no", "All targets held in every run: yes")
    data = json.loads(out.read_text())
    ours = data["ours"]["phases"]["churn"]
    assert ours["complete"] and ours["echoes"] == ours["echoes_expected"] == 4 * 3 * 4 * 1
    assert data["floor"]["phases"]["burst"]["registered"] == 30


def test_scale_phases_against_the_floor(tmp_path):
    """scale.py's idle and big-channel phases on a running floor server: all
    clients registered, RSS and idle CPU per client reported, every member got
    every channel line."""
    port = _free_port()
    floor = subprocess.Popen([PY, str(BENCH / "floor.py"), "--port", str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "floor.py did not listen"
                time.sleep(0.1)
        proc = _run([str(BENCH / "scale.py"), "--port", str(port), "--pid", str(floor.pid),
                     "--idle-clients", "40", "--idle-seconds", "0.5", "--big-members", "30",
                     "--join-cycles", "2", "--big-messages", "10", "--repeat", "1",
                     "--timeout", "90", "--json"], timeout=150)
    finally:
        floor.terminate()
        floor.wait(10)
    assert proc.returncode == 0, proc.stderr[-2000:]
    phases = json.loads(proc.stdout)["phases"]
    idle, big = phases["idle"], phases["bigchan"]
    assert idle["complete"] and idle["registered"] == 40
    assert idle["rss_kib_per_client"] is not None and "server_cpu_us_per_client_s" in idle
    assert big["complete"] and big["registered"] == 30
    assert big["runs"][0]["delivered"] == 30 * 10
    assert big["join_cpu_ms"] >= 0 and big["join_storm_cpu_s"] > 0


def test_latency_phase_alternates_kinds_and_reads_server_cpu_per_round_trip(server):
    """load.py's latency phase on ours: every round trip of both kinds done (250
    each, in blocks of 100 and 50), the server's CPU per round trip of each kind
    and the load average at start and end reported, and the table shows them."""
    args = [str(BENCH / "load.py"), "--port", str(server.port), "--pid",
            str(server.process.pid), "--phases", "latency", "--rounds", "250",
            "--timeout", "60"]
    proc = _run(args + ["--json"], timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lat = json.loads(proc.stdout)["phases"]["latency"]
    assert lat["complete"] and lat["ping_n"] == lat["privmsg_self_n"] == 250
    assert lat["block"] == 100
    assert 0 < lat["ping_server_cpu_us"] < 100000 and 0 < lat["privmsg_self_server_cpu_us"] < 100000
    assert len(lat["load_average_start"]) == len(lat["load_average_end"]) == 3
    table = _run(args, timeout=120).stdout
    assert "PING rtt server CPU us" in table and "load average start / end" in table


def test_turn_probe_reports_ours_reactor_turns_in_the_latency_phase(tmp_path):
    """compare.py with ours started under turnprobe.py: the probe's file is written at
    exit and --report gives the latency phase's turns (one per round trip at
    least) with work per turn, cut by the phase's clock stamps."""
    run, probe = tmp_path / "run.json", tmp_path / "probe.json"
    cmd = "%s %s %s -n --pidfile= conferenceroom --config {conf}" % (
        PY, BENCH / "turnprobe.py", probe)
    proc = _run([str(BENCH / "compare.py"), "--refs", "", "--phases", "latency", "--rounds", "100",
                 "--timeout", "60", "--json", str(run), "--ours-cmd", cmd], timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = _run([str(BENCH / "turnprobe.py"), "--report", str(probe), str(run)], timeout=60)
    assert rep.returncode == 0, rep.stderr[-2000:]
    latency = json.loads(rep.stdout)["latency"]
    assert latency["turns"] >= 200
    assert 0 < latency["work_cpu_us"]["median"] <= latency["work_cpu_us"]["max"]


@pytest.mark.server_config(deftrigger=None)
def test_scale_idle_phase_names_the_per_ip_limit_instead_of_timing_out(server):
    """scale.py against ours with the default per-IP limit: the idle phase stops
    within seconds (not at its deadline) and says the per-IP limit stopped it,
    quoting the server's ERROR line."""
    t0 = time.monotonic()
    proc = _run([str(BENCH / "scale.py"), "--port", str(server.port), "--pid",
                 str(server.process.pid), "--phases", "idle", "--idle-clients", "20",
                 "--idle-seconds", "0.5", "--timeout", "120", "--json"], timeout=150)
    took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]
    idle = json.loads(proc.stdout)["phases"]["idle"]
    assert not idle["complete"]
    assert "registration stopped early: 5 registered" in idle["error"]
    assert "Too many connections from your IP address (5)" in idle["error"]
    assert "per-IP client limit" in idle["error"] and "per-IP client limit" in proc.stderr
    assert took < 60


def test_network_of_four_of_ours_relays_over_three_hops():
    """scale.py --network ours: four of our servers link in a tree by the AS
    grammar (children dial their parents), a channel line reaches a receiver
    on each, and PRIVMSGs cross three links."""
    proc = _run([str(BENCH / "scale.py"), "--network", "ours", "--servers", "4", "--hubs", "2",
                 "--net-messages", "20", "--rounds", "5", "--timeout", "120", "--json"],
                timeout=200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    net = json.loads(proc.stdout)["phases"]["network"]
    assert net.get("error") is None, net
    assert net["complete"] and net["servers_seen"] == 4 and net["delivered"] == 4 * 20
    assert net["three_hop_path"] == "s3 -> s1 -> s0 -> s2" and net["three_hop_n"] == 5
    assert net["server_cpu_us_per_line_hop"] > 0


def test_memprobe_says_what_an_idle_client_holds():
    """memprobe.py on tiny counts: RSS per idle client of ours and of the floor (a trickle of
    connects), and under tracemalloc the bytes held per client, the burst's peak and the lines
    holding most, with our ClientConnection among them."""
    proc = _run([str(BENCH / "memprobe.py"), "--clients", "20"], timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "registered 20 of 20"
    assert lines[1].startswith("KiB RSS per idle client: ") and float(lines[1].split(": ")[1]) > -1000
    proc = _run([str(BENCH / "memprobe.py"), "--floor", "--clients", "10", "--concurrency", "1"], timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[0] == "registered 10 of 10"
    proc = _run([str(BENCH / "memprobe.py"), "--clients", "20", "--trace", "1", "--top", "40"], timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[1] == "KiB RSS per idle client: not measured under --trace"
    held = int(lines[2].split(": ")[1])
    peak = int(lines[3].split(": ")[1])
    assert lines[2].startswith("traced bytes per idle client: ") and held > 0 and peak >= held
    assert any("conferenceroom/client/protocol.py" in line and " B " in line for line in lines[4:])
