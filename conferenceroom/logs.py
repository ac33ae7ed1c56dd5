# -*- test-case-name: tests.unit.test_logs -*-
"""Bounded logging: a level filter, repeated events collapsed, capped rotation.

twistd writes ``--logfile`` through :class:`twisted.python.logfile.LogFile`
with no limit on the number of old files, and every event becomes a line.
Under twistd our service offers the application an
:class:`~twisted.logger.ILogObserver` component (twistd's documented hook,
used unless ``--logger`` is given) built here from twistd's own options
(``--logfile``, ``--nodaemon``, ``--syslog``) and ours (``--log-size``,
``--log-files``, ``--log-level``, ``--log-repeat``):

    level filter -> :class:`RepeatCollapser` -> text lines -> file or stdout

A flood of one kind of event (garbage from clients, refused connections,
failed OPERs, even tracebacks) costs a few lines per window, whatever the
details (addresses, nicks) in each event.
"""

from __future__ import annotations

import functools
import re
import signal
import string
import sys
import threading
from dataclasses import dataclass, field
from time import time
from typing import Any, Callable

from twisted.logger import (
    ILogObserver, LogLevel, Logger, formatEvent,
    textFileLogObserver,
)
from twisted.python.components import Componentized
from twisted.python.logfile import LogFile
from zope.interface import implementer

DEFAULT_LOG_SIZE = 10_000_000
DEFAULT_LOG_FILES = 5
DEFAULT_LOG_LEVEL = "info"
DEFAULT_REPEAT_WINDOW = 10.0
#: events of one kind written as they come in each window before collapsing
DEFAULT_REPEAT_BURST = 3
#: events of one format written per window, whatever their sentences (so
#: sentences made to differ, e.g. by nick, cannot flood the log either)
DEFAULT_FORMAT_BURST = 20
#: kinds of event followed at once; beyond this, events count under their format
MAX_TRACKED_KINDS = 1000
#: formats whose text, not their format, tells one kind from another
#: (legacy ``log.msg`` text and redirected stdout/stderr)
_TEXT_FORMATS = frozenset({"{log_text}", "{log_io}"})

LEVELS = {level.name: level for level in LogLevel.iterconstants()}
_VALID_LEVELS = frozenset(LEVELS.values())
_INFO = LogLevel.info


class QuickLogger(Logger):
    """Twisted's :class:`~twisted.logger.Logger` whose ``emit`` checks the level by a set.

    Twisted's ``emit`` walks ``LogLevel.iterconstants()`` on every event to
    check its level; every connect and quit logs an operator notice.  The
    event is the same dict with the same keys, given to the same observer;
    an invalid level is reported by Twisted's own ``emit``.
    """

    def emit(self, level: LogLevel, format: str | None = None, **kwargs: object) -> None:
        try:
            valid = level in _VALID_LEVELS
        except TypeError:  # unhashable: not a level either
            valid = False
        if not valid:
            super().emit(level, format, **kwargs)
            return
        self._observe(level, format, kwargs)

    def info(self, format: str | None = None, **kwargs: object) -> None:
        """``emit`` at ``info`` (the operator notices), without the level check."""
        self._observe(_INFO, format, kwargs)

    def _observe(self, level: LogLevel, format: str | None, event: dict[str, object]) -> None:
        """Fill in the event's ``log_*`` keys as Twisted's ``emit`` does and hand it to the observer."""
        event.update(
            log_logger=self, log_level=level, log_namespace=self.namespace, log_source=self.source,
            log_format=format, log_time=time(),
        )
        if "log_trace" in event:
            event["log_trace"].append((self, self.observer))  # type: ignore[attr-defined]
        self.observer(event)


_VARIABLE_WORD = re.compile(r"\S*[\d@!~]\S*")
#: link notices name servers (``hub1.sd.com``): only their addresses, numbers
#: and masks vary within a kind, so one server's events never hide another's
_LINK_NOTICES = "notice to operators (links): "
_ADDRESS_OR_NUMBER = re.compile(r"\S*[@!~]\S*|\b\d+(?:\.\d+)*\b|[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:]*")


@functools.lru_cache(maxsize=256)
def _wraps_text(fmt: str) -> bool:
    """True for formats that are one field, alone or after a colon (``"notice to operators: {text}"``)."""
    try:
        parts = [(text, name) for text, name, _, _ in string.Formatter().parse(fmt)]
    except ValueError:
        return False
    fields = [name for _, name in parts if name is not None]
    if len(fields) != 1 or parts[-1][1] is None:
        return False
    prefix = parts[-1][0]
    return len(parts) == 1 and (prefix == "" or prefix.endswith(": "))


@functools.lru_cache(maxsize=256)
def _wrapped_field(fmt: str) -> tuple[str, str] | None:
    """``(prefix, name)`` for a format that is a prefix and one plain field (``"notice: {text}"``), else None."""
    try:
        parts = list(string.Formatter().parse(fmt))
    except ValueError:
        return None
    if len(parts) != 1:
        return None
    prefix, name, spec, conversion = parts[0]
    if not name or not name.isidentifier() or spec or conversion:
        return None
    return prefix, name


def _event_text(event: dict[str, Any], fmt: str | None) -> str:
    """The event's text: a wrapped string field read directly (the operator notice of every
    connect comes this way), anything else through ``formatEvent``."""
    wrapped = _wrapped_field(fmt) if fmt is not None else None
    if wrapped is not None:
        value = event.get(wrapped[1])
        if type(value) is str:
            return wrapped[0] + value
    return formatEvent(event)


def event_kind(event: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two events "the same": namespace, level, format and, for formats that wrap a
    whole sentence (and legacy or stdout text), that sentence with its variable words
    (those with digits, ``@``, ``!`` or ``~``: addresses, numbers, most masks) masked;
    in link notices only addresses, numbers and masks, so server names tell kinds apart."""
    head, wrapped = _kind_head(event)
    return head + ((_kind_detail(event) if wrapped else None),)


def _kind_head(event: dict[str, Any]) -> tuple[tuple[Any, ...], bool]:
    """Namespace, level and format of an event's kind, and whether its sentence is part of it."""
    fmt = event.get("log_format")
    if fmt is None or fmt in _TEXT_FORMATS or _wraps_text(fmt):
        return (event.get("log_namespace"), event.get("log_level"), None if fmt in _TEXT_FORMATS else fmt), True
    return (event.get("log_namespace"), event.get("log_level"), fmt), False


def _kind_detail(event: dict[str, Any]) -> str:
    """The masked sentence of an event whose format wraps one (see :func:`event_kind`)."""
    fmt = event.get("log_format")
    variable = _ADDRESS_OR_NUMBER if fmt is not None and fmt.startswith(_LINK_NOTICES) else _VARIABLE_WORD
    return variable.sub("*", _event_text(event, fmt))


@dataclass
class _Kind:
    """One kind of event within the current window."""

    passed: int = 0
    suppressed: int = 0
    last: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0
    timer: Any = None


@implementer(ILogObserver)
class RepeatCollapser:
    """Pass the first ``burst`` events of a kind per ``window`` seconds, count the rest.

    A kind is what :func:`event_kind` says; at most ``format_burst`` events
    of one format pass per window however their sentences differ.

    At the end of a window where some were held back, one line says so: the
    last held-back event with "(repeated N more times in W s)". While the
    kind keeps coming, each further window yields just that one line; a
    quiet window forgets the kind.  Time comes from ``clock``.  Events
    from threads other than the main (reactor) thread pass unfiltered.
    """

    def __init__(self, observer: Callable[[dict[str, Any]], None], clock: Any,
                 window: float = DEFAULT_REPEAT_WINDOW, burst: int = DEFAULT_REPEAT_BURST,
                 format_burst: int = DEFAULT_FORMAT_BURST) -> None:
        self.observer = observer
        self.clock = clock
        self.window = window
        self.burst = burst
        self.format_burst = format_burst
        self._kinds: dict[tuple[Any, ...], _Kind] = {}
        self._formats: dict[tuple[Any, ...], list[float]] = {}
        self._main = threading.main_thread().ident

    def __call__(self, event: dict[str, Any]) -> None:
        if self.window <= 0 or threading.get_ident() != self._main:
            self.observer(event)
            return
        head, wrapped = _kind_head(event)
        if not wrapped:
            key = head + (None,)
        elif self._format_over(head):
            # Past its format's burst: the catch-all, without masking the sentence
            # (a connect burst's "Client connecting" notices end up here).
            key = head + ("*",)
        else:
            key = head + (_kind_detail(event),)
        kind = self._kinds.get(key)
        if kind is None:
            if len(self._kinds) >= MAX_TRACKED_KINDS:
                key = key[:3] + ("*",)
                kind = self._kinds.get(key)
        if kind is None:
            # A format's catch-all only counts: its format already wrote its share.
            kind = self._kinds[key] = _Kind(passed=self.burst if key[3] == "*" else 0,
                                            started=self.clock.seconds())
            kind.timer = self.clock.callLater(self.window, self._window_over, key)
        if kind.passed < self.burst:
            kind.passed += 1
            self.observer(event)
        else:
            kind.suppressed += 1
            kind.last = event

    def _format_over(self, head: tuple[Any, ...]) -> bool:
        """Count one more event of format ``head`` in this window; True once past ``format_burst``."""
        now = self.clock.seconds()
        seen = self._formats.get(head)
        if seen is None or now - seen[0] >= self.window:
            seen = self._formats[head] = [now, 0]
        seen[1] += 1
        return seen[1] > self.format_burst

    def _window_over(self, key: tuple[Any, ...]) -> None:
        kind = self._kinds.pop(key)
        if not kind.suppressed:
            return
        self._summarise(kind)
        # Still coming: the next window only counts (one line per window).
        hot = self._kinds[key] = _Kind(passed=self.burst, started=self.clock.seconds())
        hot.timer = self.clock.callLater(self.window, self._window_over, key)

    def _summarise(self, kind: _Kind) -> None:
        """Write the held-back events of ``kind`` as one line."""
        event = dict(kind.last)
        if kind.suppressed > 1:
            seconds = self.clock.seconds() - kind.started
            event.pop("log_failure", None)  # the first one was written with its traceback
            if event.get("log_format") is None or event.get("log_format") in _TEXT_FORMATS:
                event["log_text"] = formatEvent(kind.last)
                event["log_format"] = "{log_text}"
            event["log_format"] += " (repeated {log_repeated} more times in {log_repeat_seconds} s)"
            event["log_repeated"] = kind.suppressed
            event["log_repeat_seconds"] = f"{seconds:.3g}"
            event["log_time"] = self.clock.seconds()
        self.observer(event)

    def flush(self) -> None:
        """Write every pending summary now and forget all kinds (at shutdown)."""
        kinds, self._kinds = self._kinds, {}
        for kind in kinds.values():
            if kind.timer is not None and kind.timer.active():
                kind.timer.cancel()
            if kind.suppressed:
                self._summarise(kind)


@implementer(ILogObserver)
class _LevelFilter:
    """Pass events at ``level`` or above that have a namespace, drop the rest: what Twisted's
    ``FilteringLogObserver`` with a ``LogLevelFilterPredicate`` of one default level decides,
    by a set of the passing levels (``LogLevel``'s ordering walks its constants per compare)."""

    __slots__ = ("observer", "passing")

    def __init__(self, observer: Callable[[dict[str, Any]], None], level: str) -> None:
        floor = LEVELS[level]
        self.observer = observer
        self.passing = frozenset(each for each in LogLevel.iterconstants() if not each < floor)

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("log_level") in self.passing and event.get("log_namespace"):
            if "log_trace" in event:
                event["log_trace"].append((self, self.observer))
            self.observer(event)


def level_filter(observer: Any, level: str) -> _LevelFilter:
    """Drop events below ``level`` (debug, info, warn, error, critical)."""
    return _LevelFilter(observer, level)


@dataclass(frozen=True)
class LogOptions:
    """Where and how much to log, from twistd's options and ours."""

    path: str | None  # None: standard output
    size: int = DEFAULT_LOG_SIZE
    files: int = DEFAULT_LOG_FILES
    level: str = DEFAULT_LOG_LEVEL
    repeat_window: float = DEFAULT_REPEAT_WINDOW
    repeat_burst: int = DEFAULT_REPEAT_BURST

    @classmethod
    def from_twistd(cls, twistd: Any, ours: Any) -> "LogOptions | None":
        """Mirror twistd's choice of destination; None when twistd logs elsewhere (syslog)."""
        if twistd is None or twistd.get("syslog"):
            return None
        logfile = twistd.get("logfile") or ""
        if logfile == "-" or (not logfile and twistd.get("nodaemon")):
            path = None
        else:
            path = logfile or "twistd.log"
        return cls(path, size=ours["log-size"], files=ours["log-files"], level=ours["log-level"],
                   repeat_window=ours["log-repeat"])


@implementer(ILogObserver)
class BoundedLogObserver:
    """The observer twistd adopts: filter, collapse, then write lines.

    A file is opened once twistd adopts the observer (or on the first
    event), so nothing is created when twistd uses another one; it is
    rotated at ``size`` bytes, keeping ``files`` old files; SIGUSR1
    rotates it, as with twistd's own.
    """

    def __init__(self, options: LogOptions, clock: Any) -> None:
        self.options = options
        self.logfile: LogFile | None = None
        # Standard output is taken now: once logging begins, twistd replaces
        # sys.stdout by a file that logs what is written to it.
        self._writer: Any = textFileLogObserver(sys.stdout) if options.path is None else None
        self.collapser = RepeatCollapser(self._write, clock, options.repeat_window, options.repeat_burst)
        self._chain = level_filter(self.collapser, options.level)

    def __call__(self, event: dict[str, Any]) -> None:
        self._chain(event)

    def open(self) -> None:
        """Open the log file now; exit with a clear message (status 1) when it cannot be."""
        if self._writer is not None:
            return
        try:
            self.logfile = LogFile.fromFullPath(
                self.options.path, rotateLength=self.options.size, maxRotatedFiles=self.options.files)
        except OSError as exc:
            sys.stderr.write(f"conferenceroom: cannot open the log file {self.options.path}: "
                             f"{exc.strerror or exc}\n")
            raise SystemExit(1)
        self._writer = textFileLogObserver(self.logfile)

    def _write(self, event: dict[str, Any]) -> None:
        if self._writer is None:
            self.open()
        self._writer(event)

    def rotate(self) -> None:
        """Start a new file now (the oldest beyond the limit is removed)."""
        if self.logfile is not None:
            self.logfile.rotate()

    def flush(self) -> None:
        """Write pending "repeated" lines (at shutdown)."""
        self.collapser.flush()


def offer_to_application(parent: Any, observer: BoundedLogObserver, reactor: Any) -> bool:
    """Make ``observer`` the log observer of a twistd application ``parent``.

    Only a :class:`Componentized` application without an observer of its own
    takes it.  Also rotates on SIGUSR1 (twistd does so only for its own
    file).  Returns whether it was taken.
    """
    if not isinstance(parent, Componentized) or parent.getComponent(ILogObserver, None) is not None:
        return False
    parent.setComponent(ILogObserver, observer)
    if observer.options.path is not None:
        observer.open()  # a bad --logfile stops start-up here, as with twistd's own
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGUSR1, lambda *_: reactor.callFromThread(observer.rotate))
    return True
