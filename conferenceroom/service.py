# -*- test-case-name: tests.integration.test_smoke -*-
"""ConferenceRoomService: the MultiService that runs one server.

It owns the :class:`ServerCore`, opens one listener per configured port,
rewrites the config file when a plain-text password was hashed, and
re-reads the file on REHASH or SIGHUP, changing only what changed.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import Any

from twisted.application import service
from twisted.internet import defer
from twisted.internet.endpoints import TCP4ServerEndpoint, TCP6ServerEndpoint
from twisted.logger import Logger

from .admin import ConfigError, LoadedConfig, load_config, save_config
from .client.protocol import ClientFactory
from .core import ServerCore

LISTEN_BACKLOG = 1024


class Listener(service.Service):
    """A client listener on one address and port."""

    log = Logger()

    def __init__(self, reactor: Any, factory: Any, port: int, bindip: str) -> None:
        self.reactor = reactor
        self.factory = factory
        self.port = port
        self.bindip = bindip
        self.name = f"listener:{bindip or '*'}:{port}"
        self.listening: Any = None

    def startService(self) -> None:
        super().startService()
        if ":" in self.bindip:
            endpoint = TCP6ServerEndpoint(self.reactor, self.port, LISTEN_BACKLOG, self.bindip)
        else:
            endpoint = TCP4ServerEndpoint(self.reactor, self.port, LISTEN_BACKLOG, self.bindip)
        self.ready = endpoint.listen(self.factory)
        self.ready.addCallbacks(self._listening, self._failed)

    def _listening(self, port: Any) -> Any:
        self.listening = port
        self.log.info("listening for clients on {addr}:{port}", addr=self.bindip or "*", port=self.port)
        return port

    def _failed(self, failure: Any) -> Any:
        self.log.error(
            "cannot listen on {addr}:{port}: {why}",
            addr=self.bindip or "*", port=self.port, why=failure.getErrorMessage(),
        )
        return failure

    def stopService(self) -> Any:
        super().stopService()
        if self.listening is not None:
            port, self.listening = self.listening, None
            return defer.maybeDeferred(port.stopListening)
        return None


@dataclass
class RehashReport:
    """What a REHASH changed, as sentences for operators."""

    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class ConferenceRoomService(service.MultiService):
    """One running server: core, listeners and configuration."""

    log = Logger()

    def __init__(self, loaded: LoadedConfig, reactor: Any) -> None:
        super().__init__()
        self.reactor = reactor
        self.config_path = loaded.path
        self.loaded = loaded
        self.core = ServerCore(loaded.settings, reactor, loaded.path)
        self.core.rehash = self.rehash
        self.core.reconfigure = self.reconfigure
        self.factory = ClientFactory(self.core)
        self._load_motd()
        for port in loaded.settings.ports:
            Listener(reactor, self.factory, port, loaded.settings.bindip).setServiceParent(self)

    @property
    def settings(self) -> Any:
        """The settings snapshot in force."""
        return self.core.settings

    def startService(self) -> None:
        for warning in self.loaded.warnings:
            self.log.warn("{warning}", warning=warning)
        if self.loaded.needs_rewrite:
            save_config(self.settings, self.config_path)
            self.log.info("rewrote {path} with hashed passwords", path=self.config_path)
        super().startService()
        self.log.info(
            "{name} ({serial}, {role}) started with {path}",
            name=self.settings.name, serial=self.settings.serial,
            role=self.settings.role, path=self.config_path,
        )
        try:
            signal.signal(signal.SIGHUP, self._sighup)
        except ValueError:  # not the main thread (tests)
            pass

    def _sighup(self, signum: int, frame: Any) -> None:
        self.reactor.callFromThread(self._rehash_from_signal)

    def _rehash_from_signal(self) -> None:
        try:
            report = self.rehash()
        except ConfigError as exc:
            self.core.notice_opers(f"REHASH (SIGHUP) failed: {exc}", snomask=False)
            return
        text = "; ".join(report.changes) or "nothing changed"
        self.core.notice_opers(f"REHASH (SIGHUP): {text}", snomask=False)

    def _load_motd(self) -> None:
        path = self.settings.motd
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                self.core.motd_lines = [line.rstrip("\r\n") for line in fh] or None
        except OSError as exc:
            self.core.motd_lines = None
            self.log.warn("no MOTD: cannot read {path}: {why}", path=path, why=exc.strerror)

    def rehash(self) -> RehashReport:
        """Re-read the config file and apply what changed.

        Raises :class:`ConfigError` (and changes nothing) on a bad file.
        """
        loaded = load_config(self.config_path)
        old, new = self.settings, loaded.settings
        report = RehashReport(warnings=list(loaded.warnings))
        if new.name != old.name:
            report.changes.append(
                f"server name stays {old.name}: renaming a server needs a restart"
            )
            new = _replace(new, name=old.name)
        if new.serial != old.serial:
            report.changes.append(f"serial stays {old.serial}: changing it needs a restart")
            new = _replace(new, serial=old.serial)
        for attr in ("description", "network", "contact", "role"):
            if getattr(new, attr) != getattr(old, attr):
                report.changes.append(f"{attr} is now {getattr(new, attr)!r}")
        if new.opers != old.opers:
            report.changes.append("operator entries changed")
        if new.flood != old.flood:
            report.changes.append("flood settings changed")
        self._reconcile_listeners(old, new, report)
        self.core.apply_settings(new)
        self.loaded = loaded
        if loaded.needs_rewrite:
            save_config(new, self.config_path)
        self._load_motd()
        return report

    def reconfigure(self, new: Any) -> list[str]:
        """Put ``new`` settings (from a live AS command) into force.

        Returns sentences about what changed beyond the setting itself
        (ports opened or closed).  The caller saves the file.
        """
        old = self.settings
        report = RehashReport()
        self._reconcile_listeners(old, new, report)
        self.core.apply_settings(new)
        if new.motd != old.motd:
            self._load_motd()
        return report.changes

    def _reconcile_listeners(self, old: Any, new: Any, report: RehashReport) -> None:
        if old.bindip != new.bindip:
            report.changes.append(f"listeners move to {new.bindip or 'all interfaces'}")
        wanted = {(port, new.bindip) for port in new.ports}
        current = {(child.port, child.bindip): child for child in self if isinstance(child, Listener)}
        for key, child in current.items():
            if key not in wanted:
                child.disownServiceParent()
                report.changes.append(f"closed port {key[0]}")
        for port, bindip in sorted(wanted - set(current)):
            Listener(self.reactor, self.factory, port, bindip).setServiceParent(self)
            report.changes.append(f"opened port {port}")


def _replace(settings: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(settings, **changes)
