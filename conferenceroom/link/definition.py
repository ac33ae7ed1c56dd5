# -*- test-case-name: tests.unit.test_link_manager -*-
"""What the :class:`~conferenceroom.link.manager.LinkManager` keeps per server definition.

A :class:`LinkDefinition` child service holds one definition's links, its
outgoing :class:`Attempt` and its peer's last announced role; CONNECT's
refusals are :class:`ConnectError` sentences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.application import service
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory

from conferenceroom.admin.settings import ServerDef
from conferenceroom.link.connector import display_address
from conferenceroom.link.interfaces import ILinkConnection


class ConnectError(Exception):
    """CONNECT refused; ``reason`` is the sentence for the operator's NOTICE."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def label(d: ServerDef) -> str:
    """How notices name a definition: ``soprano (soprano.webmaster.com)``."""
    return f"{d.handle} ({d.name})"


@dataclass(eq=False)
class Attempt:
    """One outgoing connection, from dialling until a link comes up or it fails."""

    definition: ServerDef
    host: str
    port: int
    auto: bool
    deferred: Deferred[Any] | None = None
    protocol: Any = None
    over: bool = False  # finished, failed or called off: later news about it is ignored

    @property
    def address(self) -> str:
        """``host:port`` dialled."""
        return display_address(self.host, self.port)

    def finish(self) -> None:
        """Mark it over."""
        self.over = True


class DialFactory(Factory):
    """Hands the endpoint the protocol the manager builds for one attempt."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build

    def buildProtocol(self, addr: Any) -> Any:
        return self._build()


def _close(link: Any, reason: str) -> None:
    """Close *link* (an ILinkConnection, or a bare protocol in its handshake)."""
    if ILinkConnection.providedBy(link):
        link.drop(reason)
    elif getattr(link, "transport", None) is not None:
        link.transport.loseConnection()


class LinkDefinition(service.Service):
    """One server definition: its current links, its outgoing attempt, its peer's last role."""

    def __init__(self, key: str, definition: ServerDef) -> None:
        self.name = key
        self.definition = definition
        self.links: list[Any] = []
        self.attempt: Attempt | None = None
        self.known_role: str | None = None

    def cancel_attempt(self, reason: str) -> Attempt | None:
        """Call off the outgoing attempt (not a failure); return it, or None if there was none."""
        attempt, self.attempt = self.attempt, None
        if attempt is None:
            return None
        attempt.finish()
        if attempt.protocol is not None:
            _close(attempt.protocol, reason)
        elif attempt.deferred is not None:
            attempt.deferred.cancel()
        return attempt

    def stopService(self) -> Any:
        """Shutting down or removed: call off the attempt (links are closed by their owner)."""
        self.cancel_attempt("Server shutting down")
        return super().stopService()


def plain_to_secureonly(d: ServerDef) -> str | None:
    """Why *d* must not be dialled without TLS (it would send its password in clear, then be refused)."""
    if d.secureonly and not d.secure:
        return (f"Definition {d.handle} accepts {d.name} only over TLS (SECUREONLY) but does not dial it over "
                f"TLS: SERVER {d.handle} SET SECURE ON (and SET PORT to its TLS port)")
    return None


def connect_port(d: ServerDef, port: int | str | None) -> int | None:
    """CONNECT's port override, checked, or the definition's port."""
    if port is None:
        return d.port
    text = str(port).strip()
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 65535):
        raise ConnectError("The port must be a number from 1 to 65535")
    return int(text)
