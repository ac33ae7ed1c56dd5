"""benchmarks/churnprofile.py: the churn phase's traffic in one process, every JOIN and PART checked."""

from __future__ import annotations

import sys

import pytest

from tests.unit.benchmod import load_benchmark

churnprofile = load_benchmark("churnprofile")


def test_churn_gives_one_cpu_figure_per_sample_with_every_echo_back() -> None:
    """Each sample is a positive CPU time per JOIN+PART, and the run only counts when every
    JOIN and PART came back to its sender (a server refusing them would look cheap)."""
    figures = churnprofile.churn(clients=3, window=2, rounds=4, samples=2, services=False)
    assert len(figures) == 2 and all(f > 0 for f in figures)


def test_churn_refuses_a_run_whose_echoes_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the server stopped echoing (here: JOIN handled as an unknown command), the harness
    says so instead of reporting a figure."""
    real_core = churnprofile._core

    def broken_core(services: bool):  # type: ignore[no-untyped-def]
        core = real_core(services)
        del core.commands.specs["JOIN"]
        return core

    monkeypatch.setattr(churnprofile, "_core", broken_core)
    with pytest.raises(SystemExit, match="echoes"):
        churnprofile.churn(clients=2, window=1, rounds=2, samples=1, services=False)


def test_command_line_refuses_unbounded_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Out-of-range sizes are refused with a usage line, before any work."""
    monkeypatch.setattr(sys, "argv", ["churnprofile.py", "--clients", "0"])
    with pytest.raises(SystemExit, match="--clients 1..5000"):
        churnprofile.main()
