"""The in-process connect harness (benchmarks/connectprofile.py) measures what a real burst does:
clients welcomed over the registration pacing, operators told of each connect and exit."""

from __future__ import annotations

from tests.unit.benchmod import load_benchmark

connectprofile = load_benchmark("connectprofile")


def test_a_round_welcomes_every_client_over_paced_turns_and_tells_the_operator() -> None:
    """40 clients (more than one turn's share) are all welcomed, the +s operator gets one
    'Client connecting' notice each, then one 'Client exiting' each after their QUITs."""
    harness = connectprofile.Harness(opers=1)
    oper = harness.opers[0]
    conns = harness.connect(40)
    harness.check(conns)
    told = oper.transport.value().decode()
    assert told.count("*** Notice -- Client connecting: ") == 40
    harness.quit(conns)
    told = oper.transport.value().decode()
    assert told.count("*** Notice -- Client exiting: ") == 40
    assert all(conn.transport.value().endswith(b"(Quit: done)\r\n") for conn in conns)
    assert len(harness.core.network.me.users) == 1  # the operator alone


def test_measure_gives_a_cpu_figure_per_connect_and_per_quit_for_each_round() -> None:
    """Two rounds of 10 clients: two positive figures of each kind, and nobody left behind."""
    harness = connectprofile.Harness(opers=0)
    connect, leave = connectprofile.measure(harness, 10, 2)
    assert len(connect) == len(leave) == 2 and min(connect) > 0 and min(leave) > 0
    assert len(harness.core.network.me.users) == 0
