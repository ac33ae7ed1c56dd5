"""benchmarks/turnprobe.py: the reactor-turn and collector probe's per-phase report."""

from __future__ import annotations

import json

from tests.unit.benchmod import load_benchmark

turnprobe = load_benchmark("turnprobe")


def _turns(*polls):
    """Flat probe samples from (poll start, poll end, events, cpu at start, cpu at end) rows."""
    return [x for row in polls for x in row]


def test_work_per_turn_runs_from_a_polls_end_to_the_next_polls_start():
    """Only turns whose work began inside the window count; wall and CPU come from poll to poll."""
    turns = _turns((0.0, 1.0, 1, 0.0, 0.0),      # before the window
                   (1.5, 10.0, 1, 0.1, 0.1),     # work 10.0 -> 10.0001: 100 us wall, 40 us CPU
                   (10.0001, 10.5, 1, 0.10004, 0.10004),  # work 10.5 -> 10.5003: 300 us wall, 300 us CPU
                   (10.5003, 20.0, 1, 0.10034, 0.10034))
    got = turnprobe.summarise(turns, [], 5.0, 15.0)
    assert got["turns"] == 2
    assert round(got["work_wall_us"]["median"]) == 200 and round(got["work_wall_us"]["max"]) == 300
    assert round(got["work_cpu_us"]["max"]) == 300 and round(got["work_cpu_us"]["p99"]) == 300


def test_collections_in_the_window_are_counted_by_generation():
    """A gen0 and a gen2 inside the window are reported with count, total and max ms; others not."""
    gc_rows = [[1.0, 0, 0.001, 0], [6.0, 0, 0.0003, 0], [7.0, 2, 0.035, 12], [16.0, 1, 0.002, 0]]
    got = turnprobe.summarise([], gc_rows, 5.0, 15.0)
    assert got["turns"] == 0 and "work_wall_us" not in got
    assert got["collections"] == {"0": {"count": 1, "total_ms": 0.3, "max_ms": 0.3},
                                  "2": {"count": 1, "total_ms": 35.0, "max_ms": 35.0}}


def test_report_cuts_the_probe_by_each_phases_clock_stamps(tmp_path):
    """--report reads compare.py's JSON and gives one summary per phase stamped with clock_start/end."""
    probe = tmp_path / "probe.json"
    probe.write_text(json.dumps({"turns": _turns((0.0, 1.0, 1, 0.0, 0.0), (1.001, 3.0, 1, 0.0, 0.0),
                                                 (3.002, 4.0, 0, 0.0, 0.0)),
                                 "gc": [[3.5, 1, 0.004, 0]]}))
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"ours": {"phases": {
        "burst": {"clock_start": 0.5, "clock_end": 2.0},
        "latency": {"clock_start": 2.5, "clock_end": 3.9},
        "churn": {"error": "timeout"}}}}))
    got = turnprobe.report(str(probe), str(run))
    assert set(got) == {"burst", "latency"}
    assert got["burst"]["turns"] == 1 and round(got["burst"]["work_wall_us"]["max"]) == 1000
    assert got["latency"]["collections"] == {"1": {"count": 1, "total_ms": 4.0, "max_ms": 4.0}}


def test_poller_times_each_poll_and_passes_everything_else_through():
    """The wrapped epoll object records one sample row per poll and still registers descriptors."""
    class FakeEpoll:
        registered = []

        def poll(self, timeout, most):
            return [(3, 1)]

        def register(self, fd, events):
            self.registered.append((fd, events))

    import array
    samples = array.array("d")
    poller = turnprobe._Poller(FakeEpoll(), samples)
    assert poller.poll(0.1, 4) == [(3, 1)]
    poller.register(7, 1)
    assert FakeEpoll.registered == [(7, 1)]
    assert len(samples) == turnprobe.FIELDS and samples[2] == 1 and samples[1] >= samples[0]
