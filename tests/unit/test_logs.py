"""Bounded logs: level filter, repeated events collapsed (on task.Clock), capped rotated files."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from twisted.internet import task
from twisted.logger import Logger, LogPublisher, formatEvent
from twisted.python.failure import Failure

from conferenceroom.logs import BoundedLogObserver, LogOptions, RepeatCollapser
from tests.helpers import connect, feed, make_core, make_settings


class Lines:
    """A downstream observer keeping the text of each event it gets (and its traceback, if any)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    @property
    def text(self) -> list[str]:
        return [formatEvent(e) for e in self.events]


def collapsing(window: float = 10.0, burst: int = 3) -> tuple[Logger, Lines, RepeatCollapser, task.Clock]:
    """A logger whose events go through a RepeatCollapser on a task.Clock into a Lines list."""
    clock = task.Clock()
    lines = Lines()
    collapser = RepeatCollapser(lines, clock, window=window, burst=burst)
    publisher = LogPublisher(collapser)
    return Logger(namespace="conferenceroom.core.ServerCore", observer=publisher), lines, collapser, clock


def test_refused_connections_collapse_into_one_line_with_a_count() -> None:
    """515 refused connections from different addresses in 10 s: three lines as they come,
    then one line at the end of the window saying how many more there were."""
    log, lines, _, clock = collapsing()
    for n in range(515):
        log.info("refused connection from {ip}: {why}", ip=f"127.0.0.{n % 250 + 2}", why="Too many connections")
        clock.advance(1 / 64)
    assert lines.text == [f"refused connection from 127.0.0.{n}: Too many connections" for n in (2, 3, 4)]
    clock.advance(10.0 - 515 / 64)
    assert lines.text[3:] == [
        "refused connection from 127.0.0.16: Too many connections (repeated 512 more times in 10 s)"]


def test_a_continuing_flood_gives_one_line_per_window_and_a_quiet_window_resets() -> None:
    """While the same warning keeps coming, each window adds just one summary line; after a
    quiet window the next ones are written as they come again."""
    log, lines, _, clock = collapsing(window=10.0, burst=1)
    for _ in range(3 * 40):  # three windows of 40 warnings each
        log.warn("failed OPER {name}", name="x")
        clock.advance(0.25)
    clock.advance(10.0)  # a quiet window
    assert lines.text == [
        "failed OPER x",
        "failed OPER x (repeated 39 more times in 10 s)",
        "failed OPER x (repeated 40 more times in 10 s)",
        "failed OPER x (repeated 40 more times in 10 s)",
    ]
    log.warn("failed OPER {name}", name="y")
    assert lines.text[-1] == "failed OPER y"


def test_a_single_held_back_event_is_written_as_it_was() -> None:
    """One event over the burst is written at the window's end without a count."""
    log, lines, _, clock = collapsing(burst=1)
    log.warn("cannot read {path}", path="a")
    log.warn("cannot read {path}", path="b")
    assert lines.text == ["cannot read a"]
    clock.advance(10)
    assert lines.text == ["cannot read a", "cannot read b"]


def test_different_kinds_of_event_do_not_hide_each_other() -> None:
    """Events with another format, level or namespace are counted apart."""
    log, lines, _, clock = collapsing(burst=1)
    other = Logger(namespace="conferenceroom.service.Listener", observer=log.observer)
    for _ in range(5):
        log.warn("alpha {n}", n=1)
        log.error("alpha {n}", n=1)
        log.warn("beta {n}", n=1)
        other.warn("alpha {n}", n=1)
    assert lines.text == ["alpha 1", "alpha 1", "beta 1", "alpha 1"]
    clock.advance(10)
    assert sorted(lines.text[4:]) == ["alpha 1 (repeated 4 more times in 10 s)"] * 3 + [
        "beta 1 (repeated 4 more times in 10 s)"]


def test_legacy_and_stdout_text_is_told_apart_by_its_text() -> None:
    """Events without a format of their own (log.msg text, print output) are one kind per text."""
    _, lines, collapser, clock = collapsing(burst=1)
    for text in ("Starting factory", "Stopping factory", "Starting factory"):
        collapser({"log_format": "{log_text}", "log_text": text, "log_namespace": "log_legacy",
                   "log_level": None, "log_time": clock.seconds()})
    assert lines.text == ["Starting factory", "Stopping factory"]


def test_repeated_tracebacks_are_written_once_then_counted() -> None:
    """The first failure is written with its traceback; the summary line carries none."""
    log, lines, _, clock = collapsing(burst=1)
    for _ in range(50):
        try:
            1 / 0
        except ZeroDivisionError:
            log.failure("error handling {command} from {ip}", Failure(), command="CAP", ip="127.0.0.9")
    clock.advance(10)
    assert [("log_failure" in e) for e in lines.events] == [True, False]
    assert lines.text[1] == "error handling CAP from 127.0.0.9 (repeated 49 more times in 10 s)"


def test_flush_writes_pending_counts_at_shutdown() -> None:
    """At shutdown the held-back events are written at once and no timer is left."""
    log, lines, collapser, clock = collapsing(burst=1)
    for _ in range(7):
        log.warn("garbage from {ip}", ip="127.0.0.2")
    clock.advance(2.5)
    collapser.flush()
    assert lines.text == ["garbage from 127.0.0.2", "garbage from 127.0.0.2 (repeated 6 more times in 2.5 s)"]
    assert clock.getDelayedCalls() == []


def test_window_zero_collapses_nothing() -> None:
    """``--log-repeat 0`` writes every event."""
    log, lines, _, _ = collapsing(window=0)
    for _ in range(10):
        log.warn("same")
    assert lines.text == ["same"] * 10


def observed(tmp_path: Path, **options: Any) -> tuple[Logger, BoundedLogObserver, task.Clock]:
    """A logger writing through a BoundedLogObserver into tmp_path/server.log."""
    clock = task.Clock()
    observer = BoundedLogObserver(LogOptions(str(tmp_path / "server.log"), **options), clock)
    return Logger(namespace="test", observer=LogPublisher(observer)), observer, clock


def test_debug_is_off_by_default_and_can_be_turned_on(tmp_path: Path) -> None:
    """The default level writes info but not debug; ``--log-level debug`` writes both."""
    (tmp_path / "a").mkdir()
    log, _, _ = observed(tmp_path / "a")
    log.debug("unparseable line from {ip}", ip="127.0.0.2")
    log.info("started")
    text = (tmp_path / "a" / "server.log").read_text()
    assert "started" in text and "unparseable" not in text
    (tmp_path / "b").mkdir()
    log, _, _ = observed(tmp_path / "b", level="debug")
    log.debug("unparseable line from {ip}", ip="127.0.0.2")
    assert "unparseable line from 127.0.0.2" in (tmp_path / "b" / "server.log").read_text()


def test_rotated_files_are_bounded_in_number_and_size(tmp_path: Path) -> None:
    """5,000 distinct lines with a 4,000-byte cap and 3 old files: the log and at most 3
    rotated files remain, each near the cap, and the newest lines are in the current file."""
    log, _, _ = observed(tmp_path, size=4000, files=3, repeat_window=0)
    for n in range(5000):
        log.info("line {n} of distinct text", n=n)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["server.log", "server.log.1", "server.log.2", "server.log.3"]
    assert all(p.stat().st_size < 4000 + 200 for p in tmp_path.iterdir())
    assert "line 4999 of distinct text" in (tmp_path / "server.log").read_text()


def test_garbage_from_200_clients_adds_a_few_lines_not_780_kb(tmp_path: Path) -> None:
    """200 clients each sending 26 garbage lines (and 200 refused connections) through a real
    ClientConnection add a handful of log lines, not one per line."""
    from twisted.logger import globalLogPublisher

    log, observer, clock = observed(tmp_path)
    globalLogPublisher.addObserver(observer)
    try:
        core = make_core(make_settings(deftrigger=1))
        garbage = ["\x01\x02", ":", ": x", "@", "@a=b", "\xff\xfe", "!!!", "\x7f PRIVMSG"] * 3 + [":a", "@x :y"]
        for n in range(200):
            ip = f"127.0.{n // 250}.{n % 250 + 2}"
            conn = connect(core, ip=ip)
            feed(conn, *garbage)
            connect(core, ip=ip)  # a second one from the same address is refused (trigger 1)
        clock.advance(10)
    finally:
        globalLogPublisher.removeObserver(observer)
    text = (tmp_path / "server.log").read_text()
    refused = [line for line in text.splitlines() if "refused connection from" in line]
    assert len(refused) == 4  # three as they came, then one with the count
    assert refused[-1].endswith("(repeated 197 more times in 10 s)")
    assert len(text) < 4000


def test_operator_notices_collapse_by_sentence_not_by_wrapper() -> None:
    """"notice to operators: {text}" lines: connects and exits are counted apart, and within
    each, lines differing only in nick, user@host and address are one kind."""
    log, lines, _, clock = collapsing(burst=1)
    for n in range(10):
        log.info("notice to operators: {text}", text=f"Client connecting: f{n}x1 (~f{n}x1@127.0.0.{n}) [127.0.0.{n}]")
        log.info("notice to operators: {text}", text=f"Client exiting: f{n}x1 (~f{n}x1@127.0.0.{n}) [Excess Flood]")
    clock.advance(10)
    assert lines.text == [
        "notice to operators: Client connecting: f0x1 (~f0x1@127.0.0.0) [127.0.0.0]",
        "notice to operators: Client exiting: f0x1 (~f0x1@127.0.0.0) [Excess Flood]",
        "notice to operators: Client connecting: f9x1 (~f9x1@127.0.0.9) [127.0.0.9] (repeated 9 more times in 10 s)",
        "notice to operators: Client exiting: f9x1 (~f9x1@127.0.0.9) [Excess Flood] (repeated 9 more times in 10 s)",
    ]


def test_distinct_config_warnings_are_all_written() -> None:
    """Start-up warnings ("{warning}") that say different things are each written."""
    log, lines, _, _ = collapsing(burst=1)
    warnings = ["c.conf:3: family KEY is not supported; kept", "c.conf:9: family WEB is not supported; kept",
                "c.conf:12: plain-text password hashed; the file must be rewritten", "no MOTD file"]
    for warning in warnings:
        log.warn("{warning}", warning=warning)
    assert lines.text == warnings


def test_sentences_made_to_differ_are_still_capped_per_format() -> None:
    """A flood of one format whose sentences all differ (plain-letter nicks) still passes at most
    ``format_burst`` lines per window, then one line with the count."""
    log, lines, _, clock = collapsing(burst=3)
    nicks = ["".join(chr(97 + (n // 26 ** i) % 26) for i in range(3)) for n in range(500)]
    for nick in nicks:
        log.info("notice to operators: {text}", text=f"Client connecting: {nick} (~{nick}@host) [x]")
    clock.advance(10)
    assert len(lines.text) == 21
    assert lines.text[-1].endswith("(repeated 480 more times in 10 s)")


def test_log_file_rotates_on_request(tmp_path) -> None:
    """``rotate()`` (what SIGUSR1 calls) moves the current log to FILE.1 and starts a new one."""
    observer = BoundedLogObserver(LogOptions(str(tmp_path / "x.log")), task.Clock())
    log = Logger(namespace="test", observer=LogPublisher(observer))
    log.info("before rotation")
    observer.rotate()
    log.info("after rotation")
    assert "before rotation" in (tmp_path / "x.log.1").read_text()
    assert "after rotation" in (tmp_path / "x.log").read_text()
    assert "before rotation" not in (tmp_path / "x.log").read_text()


def test_a_log_file_that_cannot_be_opened_stops_start_up_with_a_message(tmp_path: Path, capsys) -> None:
    """``--logfile`` in a missing folder: exit status 1 and one line saying which file and why."""
    import pytest

    observer = BoundedLogObserver(LogOptions(str(tmp_path / "missing" / "x.log")), task.Clock())
    with pytest.raises(SystemExit) as raised:
        observer.open()
    assert raised.value.code == 1
    assert capsys.readouterr().err == (
        f"conferenceroom: cannot open the log file {tmp_path / 'missing' / 'x.log'}: No such file or directory\n")


def test_link_notices_of_different_servers_are_all_written() -> None:
    """Link events name servers (hub1.sd.com, hub2.sd.com): each server's events are
    their own kind, so a network linking up writes every one; one server's
    repeated refusals from changing addresses still collapse."""
    log, lines, _, clock = collapsing(burst=1)
    fmt = "notice to operators (links): {text}"
    for n in range(1, 7):
        log.info(fmt, text=f"Link with leaf{n}.sd.com[127.0.0.{n}] established (burst: 12 lines)")
    for n in range(5):
        log.info(fmt, text=f"Link with fake.example[127.0.1.{n}] refused: wrong password")
    clock.advance(10)
    assert lines.text[:6] == [
        f"notice to operators (links): Link with leaf{n}.sd.com[127.0.0.{n}] established (burst: 12 lines)"
        for n in range(1, 7)]
    assert lines.text[6:] == [
        "notice to operators (links): Link with fake.example[127.0.1.0] refused: wrong password",
        "notice to operators (links): Link with fake.example[127.0.1.4] refused: wrong password"
        " (repeated 4 more times in 10 s)",
    ]


def test_link_notices_are_logged_as_their_own_kind() -> None:
    """A server notice about links is logged under the link-notice format, apart from client notices."""
    from twisted.logger import Logger, formatEvent

    events: list[dict] = []
    core = make_core()
    core.log = Logger(observer=events.append)
    core.notice_opers("Link with tenor.example[127.0.0.1] lost: Ping timeout: 90 seconds", topic="links")
    core.notice_opers("Client connecting: bob (~bob@h) [127.0.0.1]")
    assert [(e["log_format"], formatEvent(e)) for e in events] == [
        ("notice to operators (links): {text}",
         "notice to operators (links): Link with tenor.example[127.0.0.1] lost: Ping timeout: 90 seconds"),
        ("notice to operators: {text}", "notice to operators: Client connecting: bob (~bob@h) [127.0.0.1]"),
    ]


def test_event_text_read_directly_matches_formatting() -> None:
    """The sentence used to tell kinds apart is the same whether read from the one field or
    formatted by Twisted (operator notices, legacy text, fields with a spec or conversion)."""
    from twisted.logger import formatEvent

    from conferenceroom.logs import _event_text

    events = [
        {"log_format": "notice to operators: {text}", "text": "Client connecting: a (~a@1.2.3.4) [1.2.3.4]"},
        {"log_format": "{log_text}", "log_text": "legacy {braces} text"},
        {"log_format": "{text!r}", "text": "quoted"},
        {"log_format": "count: {n:>5}", "n": 42},
        {"log_format": "{text}", "text": 17},
        {"log_format": "missing {text}"},
    ]
    for event in events:
        assert _event_text(event, event["log_format"]) == formatEvent(event)


def test_quick_logger_events_are_twisted_loggers_events() -> None:
    """The core's logger (QuickLogger) hands its observer the event Twisted's Logger would: same keys,
    same values, the same line in the log; a traced event records the same hop."""
    from twisted.logger import LogLevel

    from conferenceroom.logs import QuickLogger

    ours_events: list[dict] = []
    theirs_events: list[dict] = []
    ours = QuickLogger(namespace="conferenceroom.core.ServerCore", source="src", observer=ours_events.append)
    theirs = Logger(namespace="conferenceroom.core.ServerCore", source="src", observer=theirs_events.append)
    for logger in (ours, theirs):
        logger.info("notice to operators: {text}", text="Client connecting: a (~a@h) [1.2.3.4]")
        logger.warn("disk {n}", n=3)
        logger.emit(LogLevel.debug, "traced", log_trace=[])
    assert len(ours_events) == len(theirs_events) == 3
    for mine, twisted_one in zip(ours_events, theirs_events):
        assert set(mine) == set(twisted_one)
        for key in mine:
            if key not in ("log_logger", "log_time", "log_trace"):
                assert mine[key] == twisted_one[key], key
        assert formatEvent(mine) == formatEvent(twisted_one)
    assert ours_events[2]["log_trace"] == [(ours, ours_events.append)]


def test_quick_logger_reports_an_invalid_level_as_twisted_does() -> None:
    """A level that is not a LogLevel is not logged as given: a critical 'invalid log level' event
    takes its place, as with Twisted's Logger."""
    from conferenceroom.logs import QuickLogger

    for level in ("loud", ["a", "list"]):
        events: list[dict] = []
        QuickLogger(namespace="t", observer=events.append).emit(level, "hello")  # type: ignore[arg-type]
        assert len(events) == 1
        assert "Got invalid log level" in formatEvent(events[0])


def test_the_core_logs_through_a_quick_logger_named_as_before() -> None:
    """ServerCore's log keeps the namespace the log and its collapser key on (the class's path)."""
    from dataclasses import replace

    from conferenceroom.admin.settings import Settings
    from conferenceroom.core import ServerCore
    from conferenceroom.logs import QuickLogger

    core = ServerCore(replace(Settings(), name="irc.example.net"), task.Clock())
    assert isinstance(core.log, QuickLogger)
    assert core.log.namespace == "conferenceroom.core.ServerCore"
    assert core.log.source is core


def test_events_from_other_threads_pass_uncollapsed() -> None:
    """The collapser only counts events of the reactor (main) thread: 10 alike events logged from a
    worker thread are all written, while the same 10 from the main thread give 3 lines."""
    log, lines, _collapser, _clock = collapsing()
    worker = threading.Thread(target=lambda: [log.info("refused connection from {ip}", ip="10.0.0.1")
                                              for _ in range(10)])
    worker.start()
    worker.join()
    assert len(lines.events) == 10
    for _ in range(10):
        log.info("refused connection from {ip}", ip="10.0.0.1")
    assert len(lines.events) == 13
