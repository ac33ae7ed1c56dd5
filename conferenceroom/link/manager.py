# -*- test-case-name: tests.unit.test_link_manager -*-
"""LinkManager: the server definitions as child services, auto-connect with failover, CONNECT.

One :class:`LinkDefinition` child per server definition, named by its
handle's settings key.  :meth:`LinkManager.reconfigure` compares settings
by difference (as Buildbot does): unchanged definitions keep their child
objects, a disabled or deleted definition drops its links, a role switch or
SECURENETWORK drops the links the new rules forbid.

Auto-connect follows :func:`~conferenceroom.link.policy.autoconnect_order`:
the eligible definitions are dialled one at a time in configuration order;
a failure moves on to the next at once (a leaf's failover); when all have
failed, the next round waits per :class:`~conferenceroom.link.connector.Backoff`
(5 s doubling to 300 s, ±20 % jitter).  While the role rules say stop (a
leaf with a link, a hub linked to a hub) nothing is dialled and attempts
under way are called off; when such a link drops, auto-connect resumes after
5 s, or after the next longer wait if the link lasted under
:data:`STABLE_LINK` seconds (a peer that accepts and then drops us is not
redialled in a tight loop).

An attempt has one deadline, the link protocol's: 30 s from the TCP
connection (:data:`~conferenceroom.link.handshake.REGISTRATION_TIMEOUT`,
TLS handshake and certificate check included), after which
:class:`~conferenceroom.link.protocol.LinkConnection` sends ERROR, closes and
reports :meth:`LinkManager.link_lost`: the attempt's failure.  The TCP
connection itself is bounded by the endpoint's connect timeout (30 s).

Seams the integrator wires in:

- ``protocol_factory(definition) -> IProtocol`` builds the active side of a
  link for an outgoing connection to *definition*.  The protocol it returns
  should provide :class:`~conferenceroom.link.interfaces.ILinkConnection`
  and is the object reported to :meth:`LinkManager.link_established` /
  :meth:`LinkManager.link_lost` (matched by identity to the attempt).
  Inbound links report through the same two methods.
- ``endpoints`` turns an endpoint string into a client endpoint
  (:func:`~conferenceroom.link.connector.string_endpoints` on the reactor);
  ``client_tls(definition)`` gives the TLS client connection creator for a
  ``secure`` definition (fingerprint pin or CA and name check).
- ``notify(sentence)`` receives the operator-visible events (connecting,
  failed with the retry wait, resumed); each is also logged.
- :class:`~conferenceroom.link.keepalive.LinkKeepalive` is for the protocol
  to use per link; :meth:`ILinkConnection.set_ping_interval` is how a PING
  change reaches a live link.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

from twisted.application import service
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from conferenceroom.admin.settings import ServerDef, Settings
from conferenceroom.casemap import fold, match
from conferenceroom.link.connector import Backoff, EndpointFactory, describe_failure, make_endpoint
from conferenceroom.link.definition import (
    Attempt, ConnectError, DialFactory, LinkDefinition, connect_port, label, plain_to_secureonly,
)
from conferenceroom.link.policy import LinkView, autoconnect_order
from conferenceroom.tls import TLSError

#: A link that lasted at least this long resets the back-off when it drops.
STABLE_LINK = 60

ProtocolFactory = Callable[[ServerDef], Any]
ClientTLS = Callable[[ServerDef], Any]

__all__ = ["Attempt", "ConnectError", "LinkDefinition", "LinkManager", "STABLE_LINK", "label"]


class LinkManager(service.MultiService):
    """Server definitions, auto-connect with failover and back-off, and CONNECT."""

    log = Logger()

    def __init__(
        self,
        settings: Settings,
        protocol_factory: ProtocolFactory,
        *,
        clock: IReactorTime,
        endpoints: EndpointFactory,
        client_tls: ClientTLS | None = None,
        notify: Callable[[str], None] | None = None,
        backoff: Backoff | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.clock = clock
        self._protocol_factory = protocol_factory
        self._endpoints = endpoints
        self._client_tls = client_tls
        self._notify = notify
        self.backoff = backoff or Backoff()
        self._rand = rand
        self._links: list[Any] = []
        self._since: dict[int, float] = {}
        self._tried: set[str] = set()
        self._failures = 0
        self._timer: IDelayedCall | None = None
        self._hold = 0
        for key, d in settings.servers.items():
            LinkDefinition(key, d).setServiceParent(self)

    # -- queries ---------------------------------------------------------------

    def definition_service(self, handle: str) -> LinkDefinition | None:
        """The child for *handle* (any case), or None."""
        for child in self._children():
            if fold(child.definition.handle) == fold(handle):
                return child
        return None

    @property
    def links(self) -> tuple[Any, ...]:
        """The established links, oldest first."""
        return tuple(self._links)

    def link_views(self) -> list[LinkView]:
        """Our links as :func:`~conferenceroom.link.policy.decide` wants them."""
        return [LinkView(link.name, link.role, link.handle) for link in self._links]

    def known_roles(self) -> dict[str, str]:
        """Handle -> the role its peer announced on its last link."""
        return {c.definition.handle: c.known_role for c in self._children() if c.known_role}

    # -- service ---------------------------------------------------------------

    def startService(self) -> None:
        """Start the children, then auto-connect where the rules allow."""
        super().startService()
        self._step()

    def stopService(self) -> Any:
        """Stop retrying and call off attempts under way."""
        self._cancel_timer()
        return super().stopService()

    # -- reports from link protocols ------------------------------------------

    def link_established(self, link: Any) -> None:
        """A link (ours or the peer's initiative) passed the handshake and policy."""
        if any(known is link for known in self._links):
            return
        owner = self._attempt_owner(link)
        if owner is not None and owner.attempt is not None:
            owner.attempt.finish()
            owner.attempt = None
        self._links.append(link)
        self._since[id(link)] = self.clock.seconds()
        child = self.definition_service(link.handle) if link.handle else None
        if child is not None:
            child.links.append(link)
            child.known_role = link.role
        self._tried.clear()
        self._step()

    def link_lost(self, link: Any, reason: str) -> None:
        """A link closed, or an outgoing connection ended before it became one."""
        owner = self._attempt_owner(link)
        if owner is not None and owner.attempt is not None:
            self._failed(owner, owner.attempt, reason)
            return
        if not any(known is link for known in self._links):
            return  # an inbound handshake that never became a link, or one we dropped
        was_idle = not self._order()
        since = self._forget(link)
        if self._hold or not self.running:
            return
        if was_idle and self._order():
            lasted = self.clock.seconds() - since
            self._failures = 0 if lasted >= STABLE_LINK else self._failures + 1
            delay = self.backoff.delay(self._failures, self._rand())
            self._cancel_timer()
            self._tried.clear()
            self._say(f"Link to {link.name} lost ({reason}); auto-connect resumes in {delay:.0f} s")
            self._timer = self.clock.callLater(delay, self._retry_due)
        else:
            self._step()

    # -- CONNECT ---------------------------------------------------------------

    def connect_now(self, mask: str, port: int | str | None = None) -> str:
        """Dial the definition *mask* names now (``CONNECT soprano.* 7000``).

        Returns the sentence for the operator; raises :class:`ConnectError`
        with the reason when the rules or the definition do not allow it.
        """
        child = self._find(mask)
        d = child.definition
        port = connect_port(d, port)
        if not d.enabled:
            raise ConnectError(f"Server definition {label(d)} is disabled (SERVER {d.handle} ENABLE)")
        if not d.host:
            raise ConnectError(
                f"Server definition {label(d)} has no host to connect to (SERVER {d.handle} SET HOST <address>)"
            )
        if port is None:
            raise ConnectError(
                f"Server definition {label(d)} has no port: give one (CONNECT {mask} <port>) "
                f"or set it (SERVER {d.handle} SET PORT <port>)"
            )
        linked = child.links[0] if child.links else next((l for l in self._links if match(mask, l.name)), None)
        if linked is not None:
            raise ConnectError(f"Already linked to {linked.name}")
        if child.attempt is not None:
            raise ConnectError(f"Already connecting to {label(d)} at {child.attempt.address}")
        if self.settings.securenetwork and not d.secure:
            raise ConnectError(
                "Server links must use TLS on this network (SECURENETWORK is on); "
                f"definition {d.handle} does not (SERVER {d.handle} SET SECURE ON)"
            )
        if d.secure and self._client_tls is None:
            raise ConnectError(f"Definition {d.handle} uses TLS, but TLS is not available for outgoing links")
        plain = plain_to_secureonly(d)
        if plain is not None:
            raise ConnectError(plain)
        if self.settings.role == "leaf":
            self._leaf_may_connect(child)
        attempt = self._dial(child, port, auto=False)
        return f"Connecting to {label(d)} at {attempt.address}"

    def _leaf_may_connect(self, child: LinkDefinition) -> None:
        """Role rules for CONNECT on a leaf; calls off auto-connect attempts to other definitions."""
        d = child.definition
        if self._links:
            raise ConnectError(
                f"This server is a leaf and already linked to {self._links[0].name}; a leaf holds one link"
            )
        expected = child.known_role or (d.role if d.serial is None else None)
        if expected == "leaf":
            raise ConnectError(
                f"Leaf-to-leaf links are not allowed: {label(d)} is a leaf and so is this server"
            )
        for other in self._children():
            if other is not child and other.attempt is not None:
                dropped = other.cancel_attempt(f"CONNECT to {d.handle} was asked for")
                if dropped is not None:
                    self._say(f"Stopped connecting to {label(other.definition)}: CONNECT to {d.handle} was asked for")

    def _find(self, mask: str) -> LinkDefinition:
        """The definition CONNECT means: by handle, by name matching the mask, or the mask matching."""
        children = self._children()
        for child in children:
            if fold(child.definition.handle) == fold(mask):
                return child
        found = [c for c in children if match(mask, c.definition.name)]
        if not found:
            found = [c for c in children if c.definition.matches_name(mask)]
        if not found:
            raise ConnectError(f"No server definition matches {mask}")
        if len(found) > 1:
            usable = [c for c in found if c.definition.enabled and c.definition.host]
            if len(usable) > 1:
                handles = ", ".join(c.definition.handle for c in usable)
                raise ConnectError(f"{mask} matches several server definitions ({handles}); name one by its handle")
            found = usable or found
        return found[0]

    # -- reconfiguration -------------------------------------------------------

    def reconfigure(self, settings: Settings) -> list[str]:
        """Put *settings* into force by difference; return sentences for what it did to links."""
        old = self.settings
        before = {c.name: c.definition for c in self._order()}
        report: list[str] = []
        self._hold += 1
        try:
            self.settings = settings
            self._reconcile(settings, report)
            if settings.role != old.role and settings.role == "leaf":
                self._become_leaf(report)
            if settings.role != old.role:
                self._announce_role(settings.role, report)
            if settings.securenetwork and not old.securenetwork:
                self._require_tls(report)
        finally:
            self._hold -= 1
        after = self._order()
        if any(before.get(c.name) != c.definition for c in after):
            # A new or changed upstream: a fresh round, at once.
            self._cancel_timer()
            self._failures = 0
            self._tried.clear()
        self._step()
        return report

    def _reconcile(self, settings: Settings, report: list[str]) -> None:
        for key in [k for k in self.namedServices if k not in settings.servers]:
            child = self.namedServices[key]
            self._shut(child, f"Server definition {child.definition.handle} was deleted", report)
            child.disownServiceParent()
        for key, new in settings.servers.items():
            child = self.namedServices.get(key)
            if child is None:
                LinkDefinition(key, new).setServiceParent(self)
                continue
            old = child.definition
            if old == new:
                continue
            child.definition = new
            if not new.enabled:
                self._shut(child, f"Server definition {new.handle} was disabled", report)
                continue
            for link in list(child.links):
                if not new.matches_name(link.name):
                    self._drop(link, f"Server definition {label(new)} no longer matches {link.name}", report)
            if new.secureonly and not old.secureonly:  # as SECURENETWORK: a plain link no longer qualifies
                for link in list(child.links):
                    if not link.secure:
                        self._drop(link, f"Definition {new.handle} accepts {link.name} only over TLS (SECUREONLY)",
                                   report)
            if new.ping != old.ping:
                for link in child.links:
                    link.set_ping_interval(new.ping)
            moved = (old.host, old.port, old.bindip, old.secure) != (new.host, new.port, new.bindip, new.secure)
            if moved and child.attempt is not None:
                dropped = child.cancel_attempt(f"Server definition {new.handle} changed its address")
                if dropped is not None:
                    report.append(f"Stopped connecting to {label(old)} at {dropped.address}: its address changed")

    def _shut(self, child: LinkDefinition, reason: str, report: list[str]) -> None:
        """Call off *child*'s attempt and drop its links, for *reason*."""
        dropped = child.cancel_attempt(reason)
        if dropped is not None:
            report.append(f"Stopped connecting to {label(dropped.definition)}: {reason}")
        for link in list(child.links):
            self._drop(link, reason, report)

    def _become_leaf(self, report: list[str]) -> None:
        """Now a leaf: keep the oldest link to a hub, drop every other link."""
        keep = next((link for link in self._links if link.role == "hub"), None)
        for link in list(self._links):
            if link is keep:
                continue
            if keep is not None and link.role == "hub":
                reason = f"This server is now a leaf and keeps its one link, to {keep.name}"
            else:
                reason = "This server is now a leaf, and leaf-to-leaf links are not allowed"
            self._drop(link, reason, report)

    def _announce_role(self, role: str, report: list[str]) -> None:
        """Tell the peers of the links we keep that this server is now a *role*."""
        told = []
        for link in self._links:
            link.announce_role(role)
            told.append(link.name)
        if told:
            report.append(f"Told {', '.join(told)} that this server is now a {role}")

    def link_role_changed(self, link: Any) -> None:
        """A linked peer switched role live (it said so): the rules and auto-connect use its new role."""
        child = self.definition_service(link.handle) if link.handle else None
        if child is not None:
            child.known_role = link.role
        if self.settings.role == "leaf" and link.role == "leaf" and any(known is link for known in self._links):
            reason = f"Leaf-to-leaf links are not allowed: {link.name} is now a leaf and so is this server"
            self._say(f"Dropped the link to {link.name}: {reason}")
            self._forget(link)
            link.drop(reason)
        self._step()

    def _require_tls(self, report: list[str]) -> None:
        """SECURENETWORK turned on: drop plain links, call off plain attempts."""
        reason = "Server links must use TLS on this network (SECURENETWORK is on)"
        for link in list(self._links):
            if not link.secure:
                self._drop(link, reason, report)
        for child in self._children():
            if child.attempt is not None and not child.definition.secure:
                dropped = child.cancel_attempt(reason)
                if dropped is not None:
                    report.append(f"Stopped connecting to {label(child.definition)}: {reason}")

    def _drop(self, link: Any, reason: str, report: list[str]) -> None:
        """Forget *link* at once (the rules no longer count it) and close it."""
        self._forget(link)
        report.append(f"Dropped the link to {link.name}: {reason}")
        link.drop(reason)

    # -- auto-connect ----------------------------------------------------------

    def _children(self) -> list[LinkDefinition]:
        """The definitions' children in configuration order."""
        named = self.namedServices
        return [named[key] for key in self.settings.servers if key in named]

    def _order(self) -> list[LinkDefinition]:
        """The children auto-connect may dial now, first choice first."""
        children = self._children()
        defs: Iterable[ServerDef] = [c.definition for c in children]
        if self.settings.securenetwork:
            defs = [d for d in defs if d.secure]
        roles = {c.definition.handle: c.known_role for c in children if c.known_role}
        chosen = {id(d) for d in autoconnect_order(self.settings.role, self.link_views(), defs, roles)}
        return [c for c in children if id(c.definition) in chosen]

    def _step(self) -> None:
        """Dial the next definition if auto-connect should and nothing is under way."""
        if not self.running or self._hold:
            return
        order = self._order()
        allowed = {c.name for c in order}
        for child in self._children():
            if child.attempt is not None and child.attempt.auto and child.name not in allowed:
                why = self._why_not()
                child.cancel_attempt(why)
                self._say(f"Stopped connecting to {label(child.definition)}: {why}")
        if not order:
            self._cancel_timer()
            self._tried.clear()
            return
        busy = [c for c in self._children() if c.attempt is not None]
        if self._timer is not None or any(c.attempt.auto for c in busy if c.attempt):
            return
        if busy and self.settings.role == "leaf":
            return  # a leaf's CONNECT is under way
        nxt = next((c for c in order if c.name not in self._tried and c.attempt is None), None)
        if nxt is not None:
            self._dial(nxt, None, auto=True)

    def _why_not(self) -> str:
        """Why auto-connect stopped dialling a definition, as a phrase."""
        if self.settings.role == "leaf" and self._links:
            return f"this server is a leaf and is now linked to {self._links[0].name}"
        hub = next((link for link in self._links if link.role == "hub"), None)
        if self.settings.role == "hub" and hub is not None:
            return f"this hub is now linked to hub {hub.name}"
        return "auto-connect no longer applies to it"

    def _dial(self, child: LinkDefinition, port: int | None, *, auto: bool) -> Attempt:
        d = child.definition
        assert d.host is not None
        attempt = Attempt(d, d.host, port or d.port or 0, auto)
        child.attempt = attempt
        self._say(f"Connecting to {label(d)} at {attempt.address}{' over TLS' if d.secure else ''}")
        try:
            plain = plain_to_secureonly(d)
            if plain is not None:
                raise ConnectError(plain)
            tls = self._tls_for(d) if d.secure else None
            endpoint = make_endpoint(self._endpoints, attempt.host, attempt.port, d.bindip, tls)
        except (ConnectError, TLSError, OSError, ValueError) as exc:
            self.log.warn("cannot prepare the connection to {handle}: {why}", handle=d.handle, why=exc)
            self._failed(child, attempt, str(exc) or type(exc).__name__)
            return attempt
        except Exception as exc:  # a bug: keep the traceback in the log
            self.log.failure("cannot prepare the connection to {handle}", handle=d.handle)
            self._failed(child, attempt, str(exc) or type(exc).__name__)
            return attempt

        def build() -> Any:
            attempt.protocol = self._protocol_factory(attempt.definition)
            return attempt.protocol

        attempt.deferred = endpoint.connect(DialFactory(build))
        attempt.deferred.addCallbacks(
            lambda _proto: self._connected(child, attempt),
            lambda failure: self._connect_failed(child, attempt, failure),
        )
        return attempt

    def _tls_for(self, d: ServerDef) -> Any:
        if self._client_tls is None:
            raise ConnectError("TLS is not available for outgoing links")
        return self._client_tls(d)

    def _connected(self, child: LinkDefinition, attempt: Attempt) -> None:
        """TCP is up; the link protocol's own handshake deadline (the only one) runs from here."""
        if attempt.over:
            return
        self.log.info("connected to {who} at {address}; handshake under way",
                      who=label(attempt.definition), address=attempt.address)

    def _connect_failed(self, child: LinkDefinition, attempt: Attempt, failure: Failure) -> None:
        if not attempt.over:
            self._failed(child, attempt, describe_failure(failure))

    def _failed(self, child: LinkDefinition, attempt: Attempt, reason: str) -> None:
        """An attempt ended without a link: report it, fail over or wait."""
        if child.attempt is attempt:
            child.attempt = None
        attempt.finish()
        head = f"Connection to {label(attempt.definition)} at {attempt.address} failed: {reason}"
        if not attempt.auto or not self.running:
            self._say(head)
            self._step()
            return
        self._tried.add(child.name)
        order = self._order()
        nxt = next((c for c in order if c.name not in self._tried and c.attempt is None), None)
        if nxt is not None:
            self._say(f"{head}; trying {label(nxt.definition)} next")
            self._step()
            return
        self._tried.clear()
        if not order:
            self._say(head)
            return
        self._failures += 1
        delay = self.backoff.delay(self._failures, self._rand())
        self._say(f"{head}; retrying in {delay:.0f} s")
        self._cancel_timer()
        self._timer = self.clock.callLater(delay, self._retry_due)

    def _retry_due(self) -> None:
        self._timer = None
        self._tried.clear()
        self._step()

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    # -- bookkeeping -----------------------------------------------------------

    def _attempt_owner(self, link: Any) -> LinkDefinition | None:
        for child in self._children():
            if child.attempt is not None and child.attempt.protocol is link:
                return child
        return None

    def _forget(self, link: Any) -> float:
        """Remove *link* from the books; return when it was established."""
        self._links = [known for known in self._links if known is not link]
        for child in self._children():
            child.links = [known for known in child.links if known is not link]
        return self._since.pop(id(link), self.clock.seconds())

    def _say(self, text: str) -> None:
        self.log.info("{text}", text=text)
        if self._notify is not None:
            self._notify(text)
