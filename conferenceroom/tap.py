"""twistd entry point: options and :func:`makeService`."""

from __future__ import annotations

import sys

from twisted.python import usage

from . import logs

DEFAULT_CONFIG = "etc/conferenceroom.conf"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"{text} is not a positive number")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 3600:
        raise ValueError(f"{text} is not between 0 and 3600 seconds")
    return value


def _level(text: str) -> str:
    if text.lower() not in logs.LEVELS:
        raise ValueError(f"{text} is not one of {', '.join(logs.LEVELS)}")
    return text.lower()


class Options(usage.Options):
    """``twistd conferenceroom --config FILE [--log-size N --log-files N --log-level L --log-repeat S]``."""

    optParameters = [
        ["config", "c", DEFAULT_CONFIG, "Config file of AS commands."],
        ["log-size", None, logs.DEFAULT_LOG_SIZE,
         "Start a new --logfile when it reaches this many bytes.", _positive_int],
        ["log-files", None, logs.DEFAULT_LOG_FILES,
         "Keep this many old log files (the oldest is removed).", _positive_int],
        ["log-level", None, logs.DEFAULT_LOG_LEVEL,
         "Lowest level logged: debug, info, warn, error or critical.", _level],
        ["log-repeat", None, logs.DEFAULT_REPEAT_WINDOW,
         "Collapse repeats of one kind of log line into one line per this many seconds (0: never).",
         _seconds],
    ]


def makeService(options: Options):  # type: ignore[no-untyped-def]
    """Load the config (a bad line stops here, before any port opens) and build the service."""
    from twisted.internet import reactor

    from .admin import ConfigError, load_config
    from .service import ConferenceRoomService

    try:
        loaded = load_config(options["config"], now=reactor.seconds())
    except ConfigError as exc:
        sys.stderr.write(f"conferenceroom: {exc}\n")
        raise SystemExit(1)
    service = ConferenceRoomService(loaded, reactor)
    log_options = logs.LogOptions.from_twistd(options.parent, options)
    if log_options is not None:
        service.log_observer = logs.BoundedLogObserver(log_options, reactor)
    return service
