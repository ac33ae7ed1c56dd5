# -*- test-case-name: tests.unit.test_services_host -*-
"""Built-in services: NickServ, ChanServ, MemoServ, OperServ behind a pseudo-server.

:func:`attach` gives a core its :class:`ServicesControl` (``core.services_control``);
``core.services`` is the running :class:`~.host.ServicesHost` or None.  The
control starts the host when ``services enable`` is in force, and acts live
on ``AS SERVICES ENABLE|DISABLE`` and ``SQUIT services``:

- DISABLE removes the pseudo-server and its bots from the network (every
  server sees a split of ``services.<domain>``), ENABLE brings them back;
- SQUIT drops them the same way; they stay down until ``AS SERVICES
  ENABLE``, a REHASH or a restart (the setting itself is unchanged).  A
  SQUIT when they are already down says so and changes nothing.

The data lives in ``services.db`` in DATADIR and survives all of it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.logger import Logger

from ..passwords import DEFAULT_ROUNDS
from .store import FILENAME

if TYPE_CHECKING:
    from ..core import ServerCore
    from .host import ServicesHost

log = Logger()

#: The word that names the services server in SQUIT, whatever its name.
SQUIT_WORD = "services"


class ServicesControl:
    """Starts, stops and restarts the services host of one server, live."""

    def __init__(self, core: "ServerCore", store_path: str | None = None) -> None:
        self.core = core
        self._store_path = store_path
        self.host: "ServicesHost | None" = None
        self.squitted = False  # dropped by SQUIT while the setting says enabled
        self.closing: defer.Deferred | None = None  # the last host's store closing
        self.refusal: str | None = None  # why the last enable() did not start services
        self.setting: bool | None = None  # ``services enable`` as last put into force (None: not yet)

    def elsewhere(self) -> Any:
        """A services server of another server already on the network, or None."""
        from ..link.ts6 import looks_like_services

        network = self.core.network
        for server in network.servers.values():
            if server is not network.me and server.route is not None and looks_like_services(server.name) \
                    and not getattr(server.route, "decides_here", False):
                return server
        return None

    @property
    def store_path(self) -> str:
        """``services.db`` in DATADIR."""
        if self._store_path is not None:
            return self._store_path
        return os.path.join(self.core.settings.datadir_path(self.core.config_path), FILENAME)

    @property
    def rounds(self) -> int:
        """bcrypt cost for new account passwords."""
        return getattr(self.core.settings, "services_password_cost", DEFAULT_ROUNDS)

    @property
    def running(self) -> bool:
        """True while the pseudo-server is on the network."""
        return self.host is not None

    def start(self) -> None:
        """At start-up: run services if the settings say so."""
        self.setting = self.core.settings.services_enabled
        if self.setting:
            self.enable()

    def enable(self) -> bool:
        """Introduce services now (False if they already run)."""
        from .host import ServicesHost

        if self.host is not None:
            return False
        elsewhere = self.elsewhere()
        if elsewhere is not None:
            self.refusal = (f"services not started: {elsewhere.name} already serves this network (behind "
                            f"{elsewhere.uplink.name if elsewhere.uplink else '?'}); only one server of a "
                            "network may run services")
            log.warn("{why}", why=self.refusal)
            self.core.notice_opers(self.refusal.capitalize(), snomask=False)
            return False
        self.refusal = None
        self.squitted = False
        host = ServicesHost(self.core, self, self.store_path, self.rounds)
        self.host = host
        self.core.services = host

        def start(_: Any = None) -> None:
            if self.host is host:
                host.start()

        if self.closing is not None and not self.closing.called:
            # The last host's store is still finishing its commits: open after it.
            self.closing.addBoth(start)
        else:
            start()
        return True

    def stop_host(self, host: "ServicesHost", reason: str) -> None:
        """Take ``host`` off the network (a failed start)."""
        if self.host is host:
            self.host = None
            self.core.services = None
        self.closing = host.stop(reason)

    def disable(self, reason: str) -> bool:
        """Remove services now (False if they were not running)."""
        host = self.host
        if host is None:
            return False
        self.core.notice_opers(f"Services server {host.name} leaves the network: {reason}", topic="links")
        self.stop_host(host, reason)
        return True

    def squit(self, by: str, reason: str) -> str:
        """``SQUIT services`` by ``by``: drop them until ENABLE; the sentence for the operator."""
        host = self.host
        if host is None:
            if self.core.settings.services_enabled:
                return ("services are not on the network (already dropped by SQUIT); "
                        "AS SERVICES ENABLE brings them back")
            return ("services are not running here (AS SERVICES DISABLE is in force); "
                    "nothing to drop")
        name = host.name
        self.disable(f"SQUIT by {by} ({reason})")
        self.squitted = True
        return (f"dropped {name}; services stay down until AS SERVICES ENABLE, a REHASH or a restart "
                "(their data is kept)")

    def settings_changed(self, new: Any, force: bool = False) -> list[str]:
        """Put ``services enable|disable`` of ``new`` into force; sentences about what happened.

        Services that are down while enabled (dropped by SQUIT, or refused because another server runs
        them) start again only when the setting turns on or ``force`` says the operator asked (AS
        SERVICES ENABLE typed again, REHASH): an unrelated AS change neither brings them back nor
        repeats the refusal.
        """
        if self.host is not None:
            self.host.accounts.rounds = getattr(new, "services_password_cost", self.host.accounts.rounds)
        turned_on = new.services_enabled and self.setting is not True
        self.setting = new.services_enabled
        if new.services_enabled and self.host is None and (turned_on or force):
            if not self.enable():
                return [self.refusal or "services not started"]
            host = self.host
            if host is None:
                return ["services not started"]
            bots = ", ".join(bot.nick for bot in host.by_name.values())
            return [f"Services server {host.name} introduced with {bots}"]
        if not new.services_enabled and self.host is not None:
            name = self.host.name
            self.disable("services disabled by an operator (AS SERVICES DISABLE)")
            return [f"Services server {name} removed from the network"]
        return []

    def shutdown(self) -> None:
        """At server stop: no more commands; the store finishes its commits and closes in the reactor's
        shutdown (its own trigger), so the process never waits on a worker thread left running."""
        host = self.host
        if host is not None:
            host.running = False
            for cleanup in host.stopped:
                cleanup()
            host.stopped.clear()


def attach(core: "ServerCore", store_path: str | None = None, start: bool = True) -> ServicesControl:
    """Give ``core`` its :class:`ServicesControl` and start services if enabled."""
    control = ServicesControl(core, store_path)
    core.services_control = control
    core.services = None
    if start:
        control.start()
    return control


def is_services_mask(mask: str, core: Any) -> bool:
    """True if a SQUIT ``mask`` names the services server: the word ``services`` or its name."""
    from ..casemap import fold, match
    from .host import services_name

    name = services_name(core.network.me.name, getattr(core.settings, "services_server_name", None))
    return fold(mask) == SQUIT_WORD or fold(mask) == fold(name) or match(mask, name)
