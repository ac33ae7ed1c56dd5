"""twistd entry point: options and :func:`makeService`."""

from __future__ import annotations

import sys

from twisted.python import usage

DEFAULT_CONFIG = "etc/conferenceroom.conf"


class Options(usage.Options):
    """``twistd conferenceroom --config FILE``."""

    optParameters = [
        ["config", "c", DEFAULT_CONFIG, "Config file of AS commands."],
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
    return ConferenceRoomService(loaded, reactor)
