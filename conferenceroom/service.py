# -*- test-case-name: tests.integration.test_smoke -*-
"""ConferenceRoomService: the MultiService that runs one server.

It owns the :class:`ServerCore`, opens one listener per configured port,
rewrites the config file when a plain-text password was hashed, and
re-reads the file on REHASH or SIGHUP, changing only what changed.
"""

from __future__ import annotations

import datetime
import errno
import gc
import os
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

from twisted.application import service
from twisted.internet import defer
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ServerEndpoint, TCP6ServerEndpoint
from twisted.logger import Logger

from .admin import AdminError, ConfigError, ConfigFile, LoadedConfig, changed_lines
from .client.protocol import ClientFactory
from .client.websocket import WebSocketFactory
from . import client, logs, services, tls
from .signals import install_stop_handlers
from .tlskeeper import TLSKeeper
from .core import ServerCore
from .link import wiring
from .link.connector import string_endpoints
from .link.manager import LinkManager
from .link.protocol import LinkConnection
from .link.tlsclient import client_tls_factory
from .manhole import MANHOLE_HOST, ManholeService
from .modes import ModeChange
from .wire import Message

LISTEN_BACKLOG = 1024
MOTD_MAX_BYTES = 64 * 1024


class Listener(service.Service):
    """A client listener on one address and port."""

    log = Logger()

    def __init__(self, reactor: Any, factory: Any, port: int, bindip: str, tls: Any = None,
                 after: Any = None) -> None:
        self.reactor = reactor
        self.factory = factory
        self.port = port
        self.bindip = bindip
        self.tls = tls
        #: a Deferred to wait for before listening (listeners being closed
        #: that may still hold this port, e.g. on a BINDIP change)
        self.after = after
        self.name = f"{'tls' if tls else 'listener'}:{bindip or '*'}:{port}"
        self.listening: Any = None
        self.failure: str | None = None  # why listening failed, if it did
        self.reason: str | None = None  # the same, in a few words ("Address already in use")

    @property
    def key(self) -> tuple[int, str, bool]:
        """What identifies this listener when settings are compared."""
        return (self.port, self.bindip, self.tls is not None)

    def startService(self) -> None:
        """Start listening on the port (TLS when configured)."""
        super().startService()
        if self.tls is not None:
            endpoint: Any = SSL4ServerEndpoint(
                self.reactor, self.port, self.tls, LISTEN_BACKLOG, self.bindip
            )
        elif ":" in self.bindip:
            endpoint = TCP6ServerEndpoint(self.reactor, self.port, LISTEN_BACKLOG, self.bindip)
        else:
            endpoint = TCP4ServerEndpoint(self.reactor, self.port, LISTEN_BACKLOG, self.bindip)
        if self.after is not None:
            after, self.after = self.after, None
            self.ready = after.addCallback(lambda _: endpoint.listen(self.factory))
        else:
            self.ready = endpoint.listen(self.factory)
        self.ready.addCallbacks(self._listening, self._failed)

    #: what the log and notices call this listener's clients
    kind = ""

    @property
    def label(self) -> str:
        """``TLS``, ``plain``, ``WebSocket`` or ``WebSocket TLS``."""
        return " ".join(filter(None, (self.kind, "TLS" if self.tls else ("" if self.kind else "plain"))))

    def _listening(self, port: Any) -> Any:
        self.listening = port
        self.log.info(
            "listening for {kind} clients on {addr}:{port}",
            kind=self.label, addr=self.bindip or "*", port=self.port,
        )
        return port

    def _failed(self, failure: Any) -> Any:
        self.failure = failure.getErrorMessage()
        socket_error = getattr(failure.value, "socketError", None)
        self.reason = getattr(socket_error, "strerror", None) or self.failure
        self.log.error(
            "cannot listen on {addr}:{port}: {why}",
            addr=self.bindip or "*", port=self.port, why=failure.getErrorMessage(),
        )
        core = getattr(self.factory, "core", None)
        if core is not None and self.running:
            core.notice_opers(
                f"cannot listen on {self.bindip or '*'}:{self.port}: {failure.getErrorMessage()}",
                snomask=False,
            )
        return None

    def stopService(self) -> Any:
        """Stop listening; the result fires when the port is closed."""
        super().stopService()
        if self.listening is not None:
            port, self.listening = self.listening, None
            return defer.maybeDeferred(port.stopListening)
        return None


class WebSocketListener(Listener):
    """The WebSocket client listener (plain, or TLS with the server's certificate)."""

    kind = "WebSocket"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name = f"websocket:{self.bindip or '*'}:{self.port}"


class NoClientPort(SystemExit):
    """Start-up stops: not one client port could be opened (exit status 1)."""

    def __init__(self, message: str) -> None:
        super().__init__(1)
        self.message = message


@dataclass
class RehashReport:
    """What a REHASH changed, as sentences for operators."""

    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def build_core(settings: Any, clock: Any, config_path: str | None = None) -> ServerCore:
    """A :class:`ServerCore` with the client side and the link side attached (services later)."""
    core = ServerCore(settings, clock, config_path)
    client.attach(core)
    wiring.attach(core, wiring.load_ts6())
    return core



class ConferenceRoomService(service.MultiService):
    """One running server: core, listeners and configuration."""

    log = Logger()
    _tls_opening: tuple[int, str, bool] | None = None
    _tls_failure: str | None = None  # why the TLS port could not open at start-up
    tls_fingerprint: str | None = None
    #: set by tap.makeService: offered to the twistd application as its log observer
    log_observer: "logs.BoundedLogObserver | None" = None

    def __init__(self, loaded: LoadedConfig, reactor: Any) -> None:
        super().__init__()
        self.reactor = reactor
        self.config_path = loaded.path
        self.loaded = loaded
        self.core = build_core(loaded.settings, reactor, loaded.path)
        #: the client TLS certificate in force, renewed in place by REHASH
        self.tls_keeper = TLSKeeper(reactor, self._tls_context, self.core.defer_to_thread,
                                    lambda text: self.core.notice_opers(text))
        self.core.admin_tree = self.core.admin_tree.with_context(live=self._live_status)
        #: The file as last read or written: AS edits it in place, REHASH re-reads it.
        self.config_file = ConfigFile.from_loaded(loaded, self.core.admin_tree)
        self.core.config_file = self.config_file
        self.core.rehash = self.rehash
        self.core.reconfigure = self.reconfigure
        self.core.password_pool.setServiceParent(self)
        self.factory = ClientFactory(self.core)
        self.ws_factory = WebSocketFactory(self.core)
        self._link_identity: Any = None  # our certificate, presented on outgoing TLS links
        self.link_manager = LinkManager(
            loaded.settings, lambda definition: LinkConnection(self.core, definition), clock=reactor,
            endpoints=string_endpoints(reactor), client_tls=self._client_tls, notify=self._link_notice,
        )
        self.core.link_manager = self.link_manager
        self.core.save_link_pin = self._save_link_pin
        self.link_manager.setServiceParent(self)
        services.attach(self.core, start=False)  # started with the service
        self._load_motd()
        for port in loaded.settings.ports:
            Listener(reactor, self.factory, port, loaded.settings.bindip).setServiceParent(self)
        if loaded.settings.ssl.enabled:
            self._open_tls_now(loaded.settings)
        if loaded.settings.websocket.enabled:
            self._open_websocket_now(loaded.settings)
        if loaded.settings.manhole.enabled:
            ManholeService(self.core, self, loaded.settings.manhole.port, reactor).setServiceParent(self)

    @property
    def settings(self) -> Any:
        """The settings snapshot in force."""
        return self.core.settings

    def setServiceParent(self, parent: Any) -> Any:
        """Under twistd the parent is the application: offer it our bounded log observer first."""
        if self.log_observer is not None:
            logs.offer_to_application(parent, self.log_observer, self.reactor)
        return super().setServiceParent(parent)

    def startService(self) -> None:
        """Log the config warnings, rewrite the file if it must be, start the children, catch SIGHUP.

        Raises :class:`NoClientPort` (twistd exits with status 1) when no
        client port could be opened; a port that fails while another opens
        is only logged.
        """
        for warning in self.loaded.warnings:
            self.log.warn("{warning}", warning=warning)
        if self.loaded.needs_rewrite:
            why = self._rewrite()
            if why is None:
                self.log.info("rewrote the lines of {path} holding plain-text passwords or ban durations",
                              path=self.config_path)
            else:
                self.log.error("{why}", why=why)
        super().startService()
        self._check_client_ports()
        self.core.services_control.start()
        self.log.info(
            "{name} ({serial}, {role}) started with {path}",
            name=self.settings.name, serial=self.settings.serial,
            role=self.settings.role, path=self.config_path,
        )
        try:
            signal.signal(signal.SIGHUP, self._sighup)
        except ValueError:  # not the main thread (tests)
            pass
        # Twisted puts its own SIGTERM/SIGINT handlers in when the reactor runs: replace them then.
        self.reactor.callWhenRunning(install_stop_handlers, self.reactor)
        # What start-up loaded (modules, settings, tables) lives as long as the
        # process: out of the collector's sight, a full collection under load
        # walks only what clients made, and pauses everyone less.
        gc.freeze()

    def _check_client_ports(self) -> None:
        """Stop start-up, naming every port and why, when no client listener opened."""
        ports = [child for child in self if isinstance(child, Listener)]
        if any(child.failure is None for child in ports):
            return  # listening, or still opening
        reasons = [f"{child.label + ' ' if child.kind or child.tls else ''}port {child.port} on "
                   f"{child.bindip or '*'}: {child.reason}" for child in ports]
        if self._tls_failure is not None:
            reasons.append(self._tls_failure)
        if reasons:
            message = f"no client port could be opened ({'; '.join(reasons)}); stopping"
        else:
            message = "no client port is configured (general set ports ...); stopping"
        self.log.critical("{message}", message=message)
        if self.log_observer is not None and self.log_observer.options.path is not None:
            # The log is in a file: say it where the operator started us too.
            sys.__stderr__.write(f"conferenceroom: {message}\n")
        super().stopService()
        raise NoClientPort(message)

    def stopService(self) -> Any:
        """Tell every linked server we are going (SQUIT and ERROR), stop the children,
        write pending "repeated" log lines."""
        for link in list(getattr(self.core, "links", ())):
            link.drop("Server shutting down")
        self.core.services_control.shutdown()
        self.tls_keeper.stop()
        result = super().stopService()
        if self.log_observer is not None:
            self.log_observer.flush()
        return result

    def _live_status(self, topic: str) -> list[str]:
        """Lines about the running server for an AS LIST (``ssl``: the certificate in force)."""
        return self.tls_keeper.status() if topic == "ssl" else []

    def _link_notice(self, text: str) -> None:
        """The link manager's sentences, as server notices about links."""
        self.core.notice_opers(text, topic="links")

    def _client_tls(self, definition: Any) -> Any:
        """The TLS client connection creator for an outgoing link (our certificate when we have one)."""
        return client_tls_factory(self._link_identity)(definition)

    def _save_link_pin(self, handle: str, fingerprint: str) -> Any:
        """Save a certificate trusted on first use as the definition's pin (``SERVER h SET FINGERPRINT``)."""
        from .client.commands.admin import apply_admin_words

        words = ["server", handle, "set", "fingerprint", fingerprint]
        d = self.core.admin_lock.run(apply_admin_words, self.core, words, "TLS first use")

        def saved(_: Any) -> None:
            self.log.info("saved the TLS pin of definition {handle}: AS server {handle} set fingerprint {fp}",
                          handle=handle, fp=fingerprint)

        def failed(failure: Any) -> None:
            why = failure.getErrorMessage()
            self.log.error("cannot save the TLS pin of definition {handle}: {why}", handle=handle, why=why)
            self.core.notice_opers(f"Could not save the TLS pin of definition {handle}: {why}; "
                                   f"the next link to it is pinned on first use again", topic="links")

        return d.addCallbacks(saved, failed)

    def _sighup(self, signum: int, frame: Any) -> None:
        self.reactor.callFromThread(self._rehash_from_signal)

    def _rehash_from_signal(self) -> Any:
        """Rehash once any AS command in progress is applied and saved (they share a lock)."""
        return self.core.admin_lock.run(self._rehash_and_report)

    def _rehash_and_report(self) -> None:
        try:
            report = self.rehash()
        except ConfigError as exc:
            self.core.notice_opers(f"REHASH (SIGHUP) failed: {exc}", snomask=False)
            return
        text = "; ".join(report.changes) or "nothing changed"
        self.core.notice_opers(f"REHASH (SIGHUP): {text}", snomask=False)

    def _load_motd(self) -> None:
        """Read the MOTD file: a regular file, at most MOTD_MAX_BYTES of it."""
        path = self.settings.motd
        try:
            if not os.path.isfile(path):
                raise OSError(errno.ENOENT, "not a regular file")
            with open(path, "rb") as fh:
                data = fh.read(MOTD_MAX_BYTES + 1)
        except OSError as exc:
            self.core.motd_lines = None
            self.log.warn("no MOTD: cannot read {path}: {why}", path=path, why=exc.strerror)
            return
        if len(data) > MOTD_MAX_BYTES:
            self.log.warn("MOTD {path} is longer than {n} bytes: the rest is not shown",
                          path=path, n=MOTD_MAX_BYTES)
            data = data[:MOTD_MAX_BYTES]
        text = data.decode("utf-8", "replace")
        self.core.motd_lines = [line.rstrip("\r") for line in text.split("\n")] or None
        if self.core.motd_lines and self.core.motd_lines[-1] == "":
            self.core.motd_lines.pop()
        self.core.motd_lines = self.core.motd_lines or None

    def rehash(self) -> RehashReport:
        """Re-read the config file and apply what changed.

        Raises :class:`ConfigError` (and changes nothing) on a bad file.
        """
        loaded = self.config_file.load(now=self.reactor.seconds())
        old, new = self.settings, loaded.settings
        report = RehashReport(warnings=list(loaded.warnings))
        report.changes.extend(
            changed_lines(self.core.admin_tree, old, new, now=self.reactor.seconds())
        )
        for attr, what in (("name", "the server name"), ("serial", "the serial")):
            if getattr(new, attr) != getattr(old, attr):
                report.changes.append(
                    f"{what} stays {getattr(old, attr)} until a restart"
                    f" (the file says {getattr(new, attr)})"
                )
        self._reconcile_listeners(old, new, report, reload_tls=True)
        self._reconcile_websocket(old, new, report)
        self._reconcile_manhole(new, report)
        self.core.apply_settings(new)
        self._recheck_opers(new)
        report.changes.extend(self.link_manager.reconfigure(new))
        report.changes.extend(self.core.services_control.settings_changed(new, force=True))
        self.loaded = loaded
        if loaded.needs_rewrite:
            why = self._rewrite()
            if why is not None:
                report.warnings.append(why)
        self._load_motd()
        return report

    def _rewrite(self) -> str | None:
        """Rewrite the lines a load asked for (only their words); None, or why it could not be."""
        try:
            notes = self.config_file.rewrite()
        except (OSError, AdminError) as exc:
            why = getattr(exc, "strerror", None) or exc
            return (f"cannot rewrite {self.config_path}: {why}; it still holds the lines "
                    "to rewrite (a plain-text password, a ban duration) until it can be saved")
        for note in notes:
            self.log.info("{note}", note=note)
        return None

    def reconfigure(self, new: Any) -> list[str]:
        """Put ``new`` settings (from a live AS command) into force.

        Returns sentences about what changed beyond the setting itself
        (ports opened or closed).  The caller saves the file.
        """
        old = self.settings
        report = RehashReport()
        self._reconcile_listeners(old, new, report)
        self._reconcile_websocket(old, new, report)
        self._reconcile_manhole(new, report)
        self.core.apply_settings(new)
        self._recheck_opers(new)
        report.changes.extend(self.link_manager.reconfigure(new))
        report.changes.extend(self.core.services_control.settings_changed(new))
        if new.motd != old.motd:
            self._load_motd()
        return report.changes

    def _recheck_opers(self, new: Any) -> None:
        """De-oper local operators whose oper entry is gone from ``new`` or disabled (flag d).

        The user is told by NOTICE and the log says so.  An operator
        otherwise keeps the flags of their OPER session (taking flags from
        an entry applies at its next OPER).
        """
        network = self.core.network
        for user in network.local_users():
            name = user.oper_name
            if name is None:
                continue
            entry = new.oper(name)
            if entry is not None and not entry.disabled:
                continue
            why = "was removed" if entry is None else "is disabled"
            network.apply_user_modes(
                network.me, user, [ModeChange(False, mode) for mode in "oAa" if mode in user.modes])
            user.oper_name, user.oper_flags = None, frozenset()
            user.route.send(Message("NOTICE", (user.nick, f"*** You are no longer an IRC operator: "
                                                          f"oper entry {name} {why}"), self.core.name))
            self.log.info("{nick} is no longer an operator: oper entry {name} {why}",
                          nick=user.nick, name=name, why=why)

    def _reconcile_listeners(self, old: Any, new: Any, report: RehashReport, reload_tls: bool = False) -> None:
        """Open and close listeners so they match ``new``; unchanged ones stay.

        A TLS port stays open when its certificate files change: the pair is
        loaded again and used for new handshakes (also on every REHASH,
        ``reload_tls``: certbot renews at the same path).
        """
        if old.bindip != new.bindip:
            report.changes.append(f"listeners move to {new.bindip or 'all interfaces'}")
        wanted = {(port, new.bindip, False) for port in new.ports}
        tls_changed = (old.ssl.cert, old.ssl.key) != (new.ssl.cert, new.ssl.key)
        if new.ssl.enabled:
            wanted.add((new.ssl.port, new.bindip, True))
        current = {child.key: child for child in self if type(child) is Listener}
        for key, child in list(current.items()):
            if child.failure is not None:  # never listened: forget it, try again below
                child.disownServiceParent()
                del current[key]
        closing = []
        for key, child in current.items():
            if key not in wanted:
                stopped = child.disownServiceParent()
                if isinstance(stopped, defer.Deferred):
                    closing.append(stopped)
                report.changes.append(f"closed {'TLS ' if key[2] else ''}port {key[0]}")
        if not new.ssl.enabled:
            self.tls_keeper.forget()
        # New listeners wait until the closed ones have let go of their
        # sockets (the same port on another address cannot be bound before).
        after = defer.DeferredList(closing) if closing else None
        for port, bindip, secure in sorted(wanted):
            key = (port, bindip, secure)
            if key in current:
                if secure and (tls_changed or reload_tls):
                    report.changes.append("reloading the TLS certificate")
                    self.tls_keeper.reload(new).addCallback(self._tls_reloaded)
                continue
            if secure and self._tls_opening == key:
                continue  # opening: it checks the files it loaded are still the configured ones
            if secure:
                report.changes.append(f"opening TLS port {port}")
                self._tls_opening = key
                self._open_tls(new)
            else:
                listener = Listener(self.reactor, self.factory, port, bindip, after=after)
                listener.setServiceParent(self)
                if listener.failure is not None:
                    report.changes.append(f"could not open port {port}: {listener.failure}")
                elif listener.listening is not None:
                    report.changes.append(f"opened port {port}")
                else:
                    report.changes.append(f"opening port {port}")

    def _reconcile_websocket(self, old: Any, new: Any, report: RehashReport) -> None:
        """Open, close or move the WebSocket listener; an unchanged one stays (the settings it reads
        at each handshake, origins and proxies, apply at once)."""
        ws = new.websocket
        wanted = (ws.port, new.bindip, ws.secure) if ws.enabled else None
        tls_changed = ws.secure and (old.ssl.cert, old.ssl.key) != (new.ssl.cert, new.ssl.key)
        current = next((child for child in self if isinstance(child, WebSocketListener)), None)
        if self._ws_opening != wanted:
            self._ws_opening = None  # a TLS opening still under way for other settings is dropped
        after = None
        if current is not None and (current.failure is not None or current.key != wanted or tls_changed):
            stopped = current.disownServiceParent()
            if current.failure is None:
                report.changes.append(f"closed {current.label} port {current.port}")
            after = stopped if isinstance(stopped, defer.Deferred) else None
            current = None
        if wanted is None or current is not None or self._ws_opening == wanted:
            return
        if ws.secure:
            report.changes.append(f"opening WebSocket TLS port {ws.port}")
            self._ws_opening = wanted
            d = self.core.defer_to_thread(self._tls_context, new)
            if after is not None:
                d.addCallback(lambda context: after.addCallback(lambda _: context))

            def opened(context: Any) -> None:
                if self._ws_opening == wanted:
                    self._ws_opening = None
                    self._add_websocket_listener(new, context)

            d.addCallbacks(opened, lambda failure: self._websocket_tls_failed(new, failure))
        else:
            listener = self._add_websocket_listener(new, None, after)
            if listener.failure is not None:
                report.changes.append(f"could not open WebSocket port {ws.port}: {listener.failure}")
            else:
                report.changes.append(f"{'opened' if listener.listening else 'opening'} WebSocket port {ws.port}")

    _ws_opening: tuple[int, str, bool] | None = None

    def _open_websocket_now(self, settings: Any) -> None:
        """At start-up: a TLS problem is logged and the other ports still open."""
        context = None
        if settings.websocket.secure:
            try:
                context = self._tls_context(settings)
            except (tls.TLSError, OSError) as exc:
                self.log.error("WebSocket TLS port {port} not opened: {why}", port=settings.websocket.port, why=exc)
                return
        WebSocketListener(self.reactor, self.ws_factory, settings.websocket.port, settings.bindip,
                          tls=context.options if context is not None else None).setServiceParent(self)

    def _add_websocket_listener(self, settings: Any, context: Any, after: Any = None) -> "Listener":
        """Listen for web clients; operators are told once it really listens."""
        listener = WebSocketListener(self.reactor, self.ws_factory, settings.websocket.port, settings.bindip,
                                     tls=context.options if context is not None else None, after=after)
        listener.setServiceParent(self)

        def announce(result: Any) -> Any:
            if listener.listening is not None:
                extra = f"; certificate fingerprint {context.fingerprint}" if context is not None else ""
                self.core.notice_opers(f"{listener.label} port {listener.port} open{extra}", snomask=False)
            return result

        ready = getattr(listener, "ready", None)
        if ready is not None:
            ready.addCallback(announce)
        return listener

    def _websocket_tls_failed(self, settings: Any, failure: Any) -> None:
        self._ws_opening = None
        why = failure.getErrorMessage()
        self.log.error("WebSocket TLS port {port} not opened: {why}", port=settings.websocket.port, why=why)
        self.core.notice_opers(f"WebSocket TLS port {settings.websocket.port} not opened: {why}", snomask=False)

    def _reconcile_manhole(self, new: Any, report: RehashReport) -> None:
        """Open, close or move the manhole; an unchanged one stays the same object."""
        current = next((child for child in self if isinstance(child, ManholeService)), None)
        wanted = new.manhole.port if new.manhole.enabled else None
        if current is not None and current.port != wanted:
            current.disownServiceParent()
            report.changes.append(f"closed the manhole on {MANHOLE_HOST}:{current.port}")
            current = None
        if wanted is not None and current is None:
            ManholeService(self.core, self, wanted, self.reactor).setServiceParent(self)
            report.changes.append(f"opened the manhole on {MANHOLE_HOST}:{wanted}")

    def _tls_context(self, settings: Any) -> Any:
        now = datetime.datetime.fromtimestamp(self.reactor.seconds(), datetime.timezone.utc)
        cert, key = settings.ssl_files
        return tls.load_or_create(settings.name, settings.datadir_path(self.config_path), cert, key, now)

    def _open_tls_now(self, settings: Any) -> None:
        """At start-up: a TLS problem is logged and the plain ports still open."""
        try:
            context = self._tls_context(settings)
        except (tls.TLSError, OSError) as exc:
            self.log.error("TLS port {port} not opened: {why}", port=settings.ssl.port, why=exc)
            self._tls_failure = f"TLS port {settings.ssl.port}: {exc}"
            return
        self._add_tls_listener(settings, context)

    def _open_tls(self, settings: Any) -> None:
        """Live: build the context off the reactor thread, then listen."""
        d = self.core.defer_to_thread(self._tls_context, settings)

        def opened(context: Any) -> None:
            self._tls_opening = None
            if self.settings.ssl.enabled and self.settings.ssl.port == settings.ssl.port:
                listener = self._add_tls_listener(settings, context)
                if self.settings.ssl_files != settings.ssl_files:  # changed while loading
                    self.tls_keeper.reload(self.settings).addCallback(self._tls_reloaded)

                def announce(result: Any) -> Any:
                    # Only once it really listens (a failure is noticed by the listener).
                    if listener.listening is not None:
                        self.core.notice_opers(
                            f"TLS port {settings.ssl.port} open; certificate fingerprint {context.fingerprint}",
                            snomask=False,
                        )
                    return result

                ready = getattr(listener, "ready", None)
                if ready is not None:
                    ready.addCallback(announce)

        def failed(failure: Any) -> None:
            self._tls_opening = None
            why = failure.getErrorMessage()
            self.log.error("TLS port {port} not opened: {why}", port=settings.ssl.port, why=why)
            self.core.notice_opers(f"TLS port {settings.ssl.port} not opened: {why}", snomask=False)

        d.addCallbacks(opened, failed)

    def _tls_reloaded(self, _sentence: str) -> None:
        """A reload finished: outgoing links present the certificate now in force."""
        current = self.tls_keeper.current
        if current is not None:
            self.tls_fingerprint = current.fingerprint
            self._link_identity = _identity(current.options)

    def _add_tls_listener(self, settings: Any, context: Any) -> "Listener":
        if context.generated:
            self.log.info("generated a self-signed certificate {path}", path=context.cert_path)
        self.log.info("TLS certificate fingerprint (SHA-256): {fp}, expires {when}",
                      fp=context.fingerprint, when=context.not_after)
        creator = self.tls_keeper.install(context)
        self._tls_reloaded("")
        listener = Listener(
            self.reactor, self.factory, settings.ssl.port, settings.bindip, tls=creator
        )
        listener.setServiceParent(self)
        return listener


def _identity(options: Any) -> Any:
    """Our certificate and key from server TLS options, to present on outgoing links (None if absent)."""
    from twisted.internet import ssl

    key, cert = getattr(options, "privateKey", None), getattr(options, "certificate", None)
    if key is None or cert is None:
        return None
    return ssl.PrivateCertificate.fromCertificateAndKeyPair(ssl.Certificate(cert), ssl.KeyPair(key))
