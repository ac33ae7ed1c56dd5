"""compare.py's table (benchmarks/report.py): ours beside each reference, the
ratio to the best C server, the issue's targets and whether they hold."""

from __future__ import annotations

from tests.unit.benchmod import load_benchmark

report = load_benchmark("report")


def server(**phases):
    return {"phases": phases}


def sample(ours_fanout=0.0006, ours_churn=0.02):
    return {
        "ngircd": server(fanout={"server_cpu_s_per_1000_lines": 0.0005},
                         burst={"server_cpu_ms_per_client": 0.06, "connects_per_s": 4000},
                         churn={"server_cpu_ms_per_join_part": 0.018}),
        "inspircd": server(fanout={"server_cpu_s_per_1000_lines": 0.0004},
                           burst={"server_cpu_ms_per_client": 0.05, "connects_per_s": 900},
                           churn={"server_cpu_ms_per_join_part": 0.012}),
        "hybrid": server(fanout={"server_cpu_s_per_1000_lines": 0.002},
                         burst={"server_cpu_ms_per_client": 0.09, "connects_per_s": 7000}),
        "floor": server(fanout={"server_cpu_s_per_1000_lines": 0.001},
                        churn={"server_cpu_ms_per_join_part": 0.024}),
        "ours": server(fanout={"server_cpu_s_per_1000_lines": ours_fanout},
                       burst={"server_cpu_ms_per_client": 0.2, "connects_per_s": 3500},
                       churn={"server_cpu_ms_per_join_part": ours_churn}),
    }


def row(rows, key):
    (found,) = [r for r in rows if r["key"] == key and r["phase"] in ("fanout", "burst", "churn")]
    return found


def test_ratio_is_to_the_best_c_server_lowest_for_cpu():
    """CPU per line: ours is divided by the lowest C figure (InspIRCd here), not by the floor."""
    r = row(report.rows(sample()), "server_cpu_s_per_1000_lines")
    assert r["best_c"] == "inspircd"
    assert abs(r["ratio_c"] - 1.5) < 1e-9
    assert abs(r["ratio_floor"] - 0.6) < 1e-9
    assert r["target"] == 1.0 and r["holds"] is False


def test_higher_is_better_metrics_take_the_highest_c_figure():
    """connects/s: the best C server is the fastest one (hybrid), ratio below 1 means slower."""
    r = row(report.rows(sample()), "connects_per_s")
    assert r["best_c"] == "hybrid"
    assert abs(r["ratio_c"] - 0.5) < 1e-9
    assert r["holds"] is None


def test_connect_target_is_two_times():
    """CPU per connect holds at up to 2x the best C server and misses beyond it."""
    r = row(report.rows(sample()), "server_cpu_ms_per_client")
    assert abs(r["ratio_c"] - 4.0) < 1e-9 and r["holds"] is False
    runs = sample()
    runs["ours"]["phases"]["burst"]["server_cpu_ms_per_client"] = 0.1
    r = row(report.rows(runs), "server_cpu_ms_per_client")
    assert abs(r["ratio_c"] - 2.0) < 1e-9 and r["holds"] is True


def test_missing_reference_figures_are_skipped_and_unmeasured_metrics_left_out():
    """A C server without a churn figure is left out of the best; unmeasured metrics get no row."""
    rows = report.rows(sample())
    r = row(rows, "server_cpu_ms_per_join_part")
    assert r["best_c"] == "inspircd"
    assert not [x for x in rows if x["phase"] == "idle"]


def test_no_c_figure_gives_no_ratio_and_no_verdict():
    """When no C server was measured the ratio and verdict are '-' and 'n/a', not an error."""
    runs = {"floor": sample()["floor"], "ours": sample()["ours"]}
    text = report.table(runs)
    line = [x for x in text.splitlines() if x.startswith("server CPU s per 1000 fan-out")][0]
    assert "n/a" in line and "ok" not in line and "MISS" not in line


def test_table_shows_each_server_ratio_target_and_verdict():
    """The printed table has a column per server, ours, the ratios, the target and ok/MISS."""
    text = report.table(sample())
    head = text.splitlines()[0].split()
    assert head[:6] == ["metric", "ngircd", "inspircd", "hybrid", "floor", "ours"]
    churn = [x for x in text.splitlines() if x.startswith("churn server CPU")][0]
    assert "1.67x (inspircd)" in churn and "0.83x" in churn and "<= 1x" in churn
    assert churn.rstrip().endswith("MISS")
    good = report.table(sample(ours_churn=0.012))
    churn = [x for x in good.splitlines() if x.startswith("churn server CPU")][0]
    assert churn.rstrip().endswith("ok")


def test_markdown_table_has_one_row_per_measured_metric():
    """--markdown gives a pipe table with a header, a rule and one row per metric."""
    md = report.table(sample(), markdown=True).splitlines()
    assert md[0].startswith("| metric | ngircd |") and md[1].startswith("|---|")
    assert len(md) == 2 + len(report.rows(sample()))


def test_summary_over_two_runs_says_held_only_when_every_run_held():
    """Two consecutive runs: a target held in one run only is 'NOT held', and the last line says no."""
    good = sample(ours_fanout=0.0003, ours_churn=0.01)
    text = report.summary([good, sample(ours_fanout=0.0003, ours_churn=0.013)])
    churn = [x for x in text.splitlines() if "churn" in x][0]
    assert "0.83x, 1.08x" in churn and churn.endswith("NOT held")
    fan = [x for x in text.splitlines() if "fan-out lines" in x][0]
    assert fan.endswith("held") and not fan.endswith("NOT held")
    assert text.splitlines()[-1] == "All targets held in every run: no"


def test_summary_all_held():
    """When every target holds in every run, the summary says yes."""
    runs = sample(ours_fanout=0.0003, ours_churn=0.01)
    runs["ours"]["phases"]["burst"]["server_cpu_ms_per_client"] = 0.08
    text = report.summary([runs, runs])
    assert text.splitlines()[-1] == "All targets held in every run: yes"


def test_notes_name_errors_and_partial_phases():
    """Errors, skipped and partial phases are listed per server, a missing server too."""
    runs = {"hybrid": None,
            "ours": server(fanout={"complete": False, "stage": "join"},
                           latency={"error": "timeout after 60.0s"})}
    got = report.notes(runs)
    assert "hybrid: no results" in got
    assert "ours fanout: PARTIAL results (stopped during join)" in got
    assert "ours latency: error: timeout after 60.0s" in got


def test_fmt_keeps_small_figures_readable():
    """Figures keep about three significant digits; missing ones print as '-'."""
    assert report.fmt(None) == "-"
    assert report.fmt(0.00047) == "0.00047"
    assert report.fmt(0.0123) == "0.012"
    assert report.fmt(2.345) == "2.35"
    assert report.fmt(12345.6) == "12346"


def test_latency_rows_show_server_cpu_per_round_trip_and_the_load_beside():
    """The latency phase's server CPU per round trip gets rows with ratios (no target),
    and one line gives each server's load average during its latency phase."""
    lat = {"ping_p99_ms": 0.2, "ping_server_cpu_us": 40.0, "privmsg_self_server_cpu_us": 60.0,
           "load_average_start": [0.5, 0.6, 0.7], "load_average_end": [0.8, 0.6, 0.7]}
    runs = {"inspircd": server(latency=dict(lat, ping_server_cpu_us=20.0)),
            "ours": server(latency=lat)}
    rows = {r["key"]: r for r in report.rows(runs, "ours")}
    assert rows["ping_server_cpu_us"]["ratio_c"] == 2.0
    assert rows["ping_server_cpu_us"]["target"] is None
    assert rows["privmsg_self_server_cpu_us"]["metric"] == "server CPU us per PRIVMSG-self round trip"
    assert report.latency_load(runs) == (
        "load average (1 min) during each latency phase: inspircd 0.50-0.80, ours 0.50-0.80")
    assert report.latency_load({"ours": server(fanout={})}) is None


def _latency_run(ours_p99, best_p99, load):
    lat = {"load_average_start": [load, 1.0, 1.0], "load_average_end": [load, 1.0, 1.0]}
    return {"hybrid": server(latency=dict(lat, ping_p99_ms=best_p99)),
            "ours": server(latency=dict(lat, ping_p99_ms=ours_p99))}


def test_p99_target_is_not_judged_when_the_latency_phase_ran_on_a_busy_machine():
    """Above the core count's load average a p99 'pass' is the scheduler's: the row says BUSY
    and the target does not hold; on a quiet machine the same ratio is ok."""
    busy = report.rows(_latency_run(3.0, 4.0, 5.4), busy_load=2.0)
    (row,) = [r for r in busy if r["key"] == "ping_p99_ms"]
    assert row["ratio_c"] == 0.75 and row["holds"] is False and row["busy"] == 5.4
    assert report._verdict_text(row) == "BUSY (load 5.4)"
    (quiet,) = [r for r in report.rows(_latency_run(3.0, 4.0, 0.7), busy_load=2.0)
                if r["key"] == "ping_p99_ms"]
    assert quiet["holds"] is True and report._verdict_text(quiet) == "ok"


def test_summary_says_a_busy_run_kept_the_p99_target_from_holding(monkeypatch):
    """The targets summary names the busy load when it is why p99 did not hold."""
    monkeypatch.setattr(report, "BUSY_LOAD", 2.0)
    monkeypatch.setattr(report.rows, "__defaults__", ("ours", 2.0))
    text = report.summary([_latency_run(3.0, 4.0, 0.5), _latency_run(3.0, 4.0, 6.1)])
    line = next(x for x in text.splitlines() if "PING p99" in x)
    assert "0.75x, 0.75x" in line and "NOT held (machine busy: load 6.1 above 2)" in line
    assert text.splitlines()[-1] == "All targets held in every run: no"
