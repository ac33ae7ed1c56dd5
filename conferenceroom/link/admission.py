# -*- test-case-name: tests.unit.test_link_protocol -*-
"""The handshake half of a :class:`~conferenceroom.link.protocol.LinkConnection`.

On a link we dialled over TLS the peer's certificate is judged first (off
the reactor thread); then the peer's PASS/CAPAB/SERVER/SVINFO drive the
sans-IO :class:`~conferenceroom.link.handshake.Handshake`,
:func:`~conferenceroom.link.policy.decide` judges the peer with the live
settings and network (crossed links settled by server name), and an
accepted peer gets our burst and its :class:`~conferenceroom.network.Server`.
Its SVINFO completes the link; a refusal is an ERROR, a notice and a log line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.python.failure import Failure

from conferenceroom.casemap import fold
from conferenceroom.link.guard import failed_login
from conferenceroom.link.handshake import HandshakeError, LocalIdentity, PeerClosed
from conferenceroom.link.keepalive import LinkKeepalive
from conferenceroom.link.policy import Accept, LinkView, decide
from conferenceroom.link.tlsclient import PeerCheck, first_use_notice, judge_peer
from conferenceroom.link.ts6 import looks_like_services
from conferenceroom.network import Server
from conferenceroom.wire import Message

if TYPE_CHECKING:
    from conferenceroom.core import ServerCore
    from conferenceroom.link.protocol import LinkConnection


def identity(core: "ServerCore") -> LocalIdentity:
    """Who this server is on a link, from the live settings."""
    s = core.settings
    me = core.network.me
    return LocalIdentity(me.name, me.sid, s.description or me.name, s.serial, s.role,
                         services=services_server(core.network))


def services_server(network: Any, besides: Any = None) -> str | None:
    """The name of a services server in ``network`` (ours or one behind a link; not ``besides``), or None."""
    for server in network.servers.values():
        if server is not besides and server is not network.me and looks_like_services(server.name):
            return server.name
    return None


class LinkAdmission:
    """Mixin of :class:`~conferenceroom.link.protocol.LinkConnection`: from the first line to SVINFO."""

    def _start(self) -> None:
        assert self.handshake is not None
        for msg in self.handshake.start():
            self.send(msg)

    def handshakeCompleted(self) -> None:
        """TLS is up: on a link we dialled, judge the peer's certificate (off the reactor thread)."""
        if not self._tls_pending or self.closing or self.definition is None:
            return  # a link the peer dialled: its certificate is judged with its handshake (policy.decide)
        d = judge_peer(self.core, self.definition, self.transport)
        d.addCallback(self._tls_checked)
        d.addErrback(self._tls_check_failed)

    def _tls_checked(self, found: PeerCheck) -> None:
        if self.closing:
            return
        self._tls_pending = False
        if found.refusal is not None:
            self._refuse(found.refusal)
            return
        self.tls_how = found.how
        if found.learned_pin is not None:
            self._learn_pin(found.learned_pin)
        self.log.info("link to {who}: TLS peer verified ({how}); handshake started", who=self._who(), how=found.how)
        self._start()
        if self._pending and not self._paused:
            self._drain()  # what the peer sent while its certificate was judged

    def _tls_check_failed(self, failure: Failure) -> None:
        self.log.failure("{who}: error checking the TLS certificate", failure, who=self._who())
        self._refuse("Internal error checking the peer's TLS certificate")

    def _learn_pin(self, fingerprint: str) -> None:
        """Trust on first use: tell the operators, and save the pin into the definition."""
        assert self.definition is not None
        handle = self.definition.handle
        self._notice(first_use_notice(self._who(), self.name, handle, fingerprint))
        save = getattr(self.core, "save_link_pin", None)
        if save is not None:
            save(handle, fingerprint)

    def _handshake_line(self, msg: Message) -> None:
        hs = self.handshake
        assert hs is not None
        try:
            step = hs.receive(msg)
        except HandshakeError as exc:
            self._refuse(exc.reason)
            return
        except PeerClosed as exc:
            self._closed_by_peer(exc.reason)
            return
        for line in step.send:
            self.send(line)
        if step.decide:
            self._decide()
        elif step.complete:
            self._complete()

    def _decide(self) -> None:
        hs = self.handshake
        assert hs is not None and hs.peer is not None
        peer = hs.peer
        self.name = peer.name
        core = self.core
        settings = core.settings
        network = core.network
        crossed = self._crossed(peer.name)
        winner = crossed is not None and self._wins_over(crossed)
        ours = crossed.peer if winner and crossed is not None else None  # our other link to it: we replace it
        verdict = decide(
            peer,
            settings.servers.values(),
            our_role=settings.role,
            secure_transport=self.secure,
            peer_fingerprint=self._peer_fingerprint(),
            server_exists=lambda name: network.find_server(name) not in (None, ours),
            sid_exists=lambda sid: network.servers_by_sid.get(sid) not in (None, ours),
            links=[LinkView(l.name, l.role, l.handle) for l in self._links() if l is not self and l is not
                   (crossed if winner else None)],
            secure_network=settings.securenetwork,
            connecting_to=self.definition.handle if self.definition is not None else None,
            our_services=services_server(network, besides=ours),
        )
        if crossed is not None and not winner:
            self._refuse(self._crossed_reason())
            return
        if not isinstance(verdict, Accept):
            self._refuse(verdict.reason)
            if verdict.login:
                throttled = failed_login(core, self.ip)
                if throttled is not None:
                    self._notice(throttled)
            return
        if self.side is None:
            self._refuse("This server cannot link yet: its TS6 modules are not installed")
            return
        if crossed is not None:
            crossed.drop(self._crossed_reason())
        self._accept(verdict)

    def _crossed(self, name: str) -> "LinkConnection | None":
        """Our link in the other direction to the server called *name*, if both sides dialled at once."""
        folded = fold(name)
        for link in self._links():
            if link is not self and link.active != self.active and link.peer is not None \
                    and fold(link.peer.name) == folded:
                return link
        return None

    def _wins_over(self, crossed: "LinkConnection") -> bool:
        """Of two crossed connections, both servers keep the one dialled by the server whose name sorts first."""
        me = fold(self.core.network.me.name)
        them = fold(self.name)
        return (me < them) if self.active else (them < me)

    def _crossed_reason(self) -> str:
        me, them = self.core.network.me.name, self.name
        first = min(me, them, key=fold)
        return f"Crossed links between {me} and {them}: keeping the connection {first} opened"

    def _accept(self, verdict: Accept) -> None:
        hs = self.handshake
        assert hs is not None and hs.peer is not None
        peer = hs.peer
        core = self.core
        self.definition = verdict.definition
        self.handle = verdict.definition.handle
        self.role = verdict.role
        self.capabilities = peer.capabilities
        self.accepted_at = core.clock.seconds()
        if self.secure and not self.active and verdict.definition.fingerprint:
            self.tls_how = "pinned certificate"
        for line in hs.accept(verdict.definition.password):
            self.send(line)
        self._pause_collector()
        links = self._links()
        links.append(self)
        self._write_burst()
        self.peer = Server(
            peer.name, peer.sid, peer.description, uplink=core.network.me, route=self.route,
            hopcount=1, serial=peer.serial or "", role=verdict.role,
        )
        core.network.add_server(self.peer, origin=self.route)
        self.log.info("link with {who} accepted under definition {handle} as a {role}",
                      who=self._who(), handle=self.handle, role=self.role)

    def _complete(self) -> None:
        """The peer's SVINFO: the link is registered and runs its keepalive."""
        self._stop_timers()
        self.registered = True
        assert self.definition is not None
        self.keepalive = LinkKeepalive(
            self.core.clock, self.definition.ping, send_ping=self._send_ping, timeout=self._ping_timeout
        )
        self.keepalive.start()
        if self.secure:
            how = f"; {self.tls_how}" if self.tls_how else ""
            state = f"established over TLS ({self.role}, definition {self.handle}{how})"
        else:
            state = f"established ({self.role}, definition {self.handle})"
        self._notice(f"Link with {self._who()} {state}; sent a burst of {self.burst_lines} lines")
        manager = self._manager()
        if manager is not None:
            manager.link_established(self)

    def _peer_fingerprint(self) -> str | None:
        if not self.secure:
            return None
        try:
            cert = self.transport.getPeerCertificate()
        except Exception:  # no TLS session (yet): nothing to compare
            return None
        if cert is None:
            return None
        from cryptography.hazmat.primitives import hashes

        return cert.to_cryptography().fingerprint(hashes.SHA256()).hex()

    def _handshake_timeout(self) -> None:
        self._timer = None
        hs = self.handshake
        if hs is None or self.registered or self.closing:
            return
        try:
            hs.check_timeout()
        except HandshakeError as exc:
            reason = exc.reason
            if self._tls_pending:
                reason = (f"no TLS session within {hs.timeout:g} seconds of connecting "
                          "(is that port a TLS port? the peer never finished the TLS handshake)")
            self._refuse(reason)

    def _refuse(self, reason: str) -> None:
        """ERROR to the peer, notice and log naming it, close; an accepted peer is split off."""
        if self.closing:
            return
        self.log.warn("link with {who} refused: {reason}", who=self._who(), reason=reason)
        self._notice(f"Link with {self._who()} refused: {reason}")
        self._close(reason, notice=False)

    def _closed_by_peer(self, text: str) -> None:
        self.log.warn("link with {who} closed by the peer: {text}", who=self._who(), text=text)
        if self.active or self.name != "*":
            self._notice(f"Link with {self._who()} closed by the peer: {text}")
        else:  # the peer dialled us and gave up before introducing itself (its TLS check of us failed)
            self._notice(f"Link attempt from {self.ip}{' over TLS' if self.secure else ''} "
                         f"ended by the peer: {text}")
        self._close(f"Closed by the peer: {text}", error_line=False, notice=False)
