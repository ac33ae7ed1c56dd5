# -*- test-case-name: tests.unit.test_chanserv -*-
"""ChanServ: channel registration, access levels, AKICK, mode and topic locks.

The services host calls :func:`setup` to make the bot and declare its
commands (:mod:`.chancommands`), then :func:`start` once the store is open:
the tables are migrated, every registered channel is loaded and ChanServ
starts watching the network (:mod:`.changuard`).  When NickServ drops an
account, the channels it founded are dropped and its access entries go.  It stops watching when
the services server leaves the network; the records stay in the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred

from .bot import ServiceBot
from .chancommands import add_commands
from .changuard import ChanServ

if TYPE_CHECKING:
    from .host import ServicesHost

NICK = "ChanServ"


def setup(host: "ServicesHost") -> ServiceBot:
    """The ChanServ bot, its commands, and the service they share (``bot.service``)."""
    bot = ServiceBot(host, NICK, "Channel Services",
                     "registers channels and keeps their access lists, AKICKs, topics and modes")
    core = host.core
    service = ChanServ(bot, host.store, core.network, core.clock, host.route, host.accounts)
    bot.service = service  # type: ignore[attr-defined]
    add_commands(bot, service)
    return bot


def start(host: "ServicesHost") -> Deferred:
    """Load the registered channels and watch the network until the host stops."""
    bot = host.bot("chanserv")
    service: Any = getattr(bot, "service", None)
    assert service is not None
    host.stopped.append(service.stop)
    host.drop_hooks.append(service.account_dropped)
    return service.start()
