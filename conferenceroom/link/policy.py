# -*- test-case-name: tests.unit.test_link_policy -*-
"""Who may link, and where we auto-connect: SPEC sections 3 and 4 as pure functions.

:func:`decide` judges what a peer really announced in its handshake against
our server definitions, our role and the network we already have.  Every
refusal is one sentence an operator understands: it goes to the peer in
ERROR and to local operators in a server notice.  :func:`should_autoconnect`
and :func:`autoconnect_order` say which definitions the link manager may dial.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from conferenceroom.admin.settings import ServerDef
from conferenceroom.casemap import fold
from conferenceroom.link.handshake import PeerAnnouncement
from conferenceroom.link.tlsclient import show_fingerprint
from conferenceroom.link.ts6 import ROLES, looks_like_services


def two_services(theirs: str, peer: str, ours: str) -> str:
    """The refusal when two services servers would meet (ERROR text and operator notice)."""
    via = "" if theirs == peer else f" (through {peer})"
    return (f"Two services servers would meet: this network has {ours} and {theirs} comes with the new "
            f"link{via}. Only one server of a network may run services: type /as services disable on one "
            f"of them, then link again")


@dataclass(frozen=True)
class LinkView:
    """One of our current server links: the peer's name, its role, and the definition it uses."""

    name: str
    role: str
    handle: str | None = None


@dataclass(frozen=True)
class Accept:
    """Link accepted under *definition*; *role* is the peer's effective role."""

    definition: ServerDef
    role: str


@dataclass(frozen=True)
class Refuse:
    """Link refused; *reason* is the sentence for ERROR and the operator notice.

    *login* is True when the peer failed the definition checks (name, serial,
    password, TLS, pin): a failed link login, counted against its address.
    """

    reason: str
    login: bool = field(default=False, compare=False)


# How far a definition's checks got before one failed: the furthest explains a refusal.
_SERIAL, _PASSWORD, _SECUREONLY, _FINGERPRINT = range(4)


def decide(
    peer: PeerAnnouncement,
    definitions: Iterable[ServerDef],
    *,
    our_role: str,
    secure_transport: bool,
    peer_fingerprint: str | None,
    server_exists: Callable[[str], bool],
    sid_exists: Callable[[str], bool],
    links: Sequence[LinkView],
    secure_network: bool = False,
    connecting_to: str | None = None,
    our_services: str | None = None,
) -> Accept | Refuse:
    """Accept or refuse *peer*.

    *secure_transport* says whether the link runs over TLS and
    *peer_fingerprint* is the SHA-256 of the peer's certificate (hex, any
    case, colons allowed).  *server_exists* / *sid_exists* answer for every
    server already in our network, ourselves included.  *links* are our
    other links.  *secure_network* is GENERAL SET SECURENETWORK.
    *connecting_to* is the handle of the definition we dialled (active
    side); the peer must then match that definition.  *our_services* names
    the services server our side of the network has: a peer that brings
    another one (CR-SERVICES, or a peer that is itself a services server)
    is refused, since one network holds one services server.

    Checks run in this order: TLS required network-wide, the definition
    (name mask, enabled, serial, password, SECUREONLY, fingerprint pin),
    then duplicates (name and SID), then the hub/leaf rules.  Credentials
    come before duplicates, so a stranger learns nothing about our network.
    """
    if our_role not in ROLES:
        raise ValueError(f"our_role must be hub or leaf, not {our_role!r}")
    if secure_network and not secure_transport:
        return Refuse("Server links must use TLS on this network (SECURENETWORK is on)")
    found = _definition(peer, list(definitions), connecting_to, secure_transport, peer_fingerprint)
    if isinstance(found, Refuse):
        return found if connecting_to is not None else Refuse(found.reason, login=True)
    if server_exists(peer.name):
        return Refuse(f"Server {peer.name} already exists in this network")
    if sid_exists(peer.sid):
        return Refuse(f"Server ID {peer.sid} is already in use in this network")
    theirs = peer.services or (peer.name if looks_like_services(peer.name) else None)
    if our_services and theirs:
        return Refuse(two_services(theirs, peer.name, our_services))
    role = peer.role or found.role
    if our_role == "leaf":
        if links:
            return Refuse(
                f"This server is a leaf and already linked to {links[0].name}; a leaf holds one link"
            )
        if role == "leaf":
            return Refuse(
                f"Leaf-to-leaf links are not allowed: {peer.name} and this server are both leaves"
            )
    return Accept(found, role)


def _definition(
    peer: PeerAnnouncement,
    definitions: list[ServerDef],
    connecting_to: str | None,
    secure_transport: bool,
    peer_fingerprint: str | None,
) -> ServerDef | Refuse:
    """The first enabled definition the peer satisfies, or the most telling refusal."""
    if connecting_to is not None:
        chosen = [d for d in definitions if fold(d.handle) == fold(connecting_to)]
        if not chosen:
            return Refuse(f"Connected to definition {connecting_to}, which no longer exists")
        d = chosen[0]
        if not d.enabled:
            return _disabled(d)
        if not d.matches_name(peer.name):
            return Refuse(
                f"Connected to definition {d.handle} ({d.name}), but the server there calls itself {peer.name}"
            )
        candidates = [d]
    else:
        named = [d for d in definitions if d.matches_name(peer.name)]
        candidates = [d for d in named if d.enabled]
        if not candidates:
            return _disabled(named[0]) if named else Refuse(f"No server definition matches {peer.name}")
    best: tuple[int, Refuse] | None = None
    for d in candidates:
        failed = _check(peer, d, secure_transport, peer_fingerprint)
        if failed is None:
            return d
        if best is None or failed[0] > best[0]:
            best = failed
    assert best is not None
    return best[1]


def _check(
    peer: PeerAnnouncement, d: ServerDef, secure_transport: bool, peer_fingerprint: str | None
) -> tuple[int, Refuse] | None:
    """Why *peer* fails definition *d* (with how far it got), or None if it passes."""
    if d.serial is not None:
        if peer.serial is None:
            return _SERIAL, Refuse(f"{peer.name} presented no serial; definition {d.handle} requires one")
        if peer.serial != d.serial:
            return _SERIAL, Refuse(
                f"Serial {peer.serial} of {peer.name} does not match definition {d.handle}"
            )
    if d.password is not None:
        if peer.password is None:
            return _PASSWORD, Refuse(f"{peer.name} sent no password; definition {d.handle} requires one")
        if not hmac.compare_digest(peer.password.encode(), d.password.encode()):
            return _PASSWORD, Refuse(f"Invalid password from {peer.name} for definition {d.handle}")
    if d.secureonly and not secure_transport:
        return _SECUREONLY, Refuse(f"Definition {d.handle} accepts {peer.name} only over TLS (SECUREONLY)")
    if d.fingerprint:
        if not secure_transport:
            return _FINGERPRINT, Refuse(
                f"Definition {d.handle} pins a TLS certificate, but {peer.name} linked without TLS"
            )
        presented = (peer_fingerprint or "").replace(":", "").lower()
        if not hmac.compare_digest(presented.encode("ascii", "replace"), d.fingerprint.replace(":", "").lower().encode()):
            got = show_fingerprint(presented) if presented else "no certificate"
            return _FINGERPRINT, Refuse(
                f"TLS certificate fingerprint mismatch for {peer.name} (definition {d.handle}): "
                f"expected {show_fingerprint(d.fingerprint)}, got {got}"
            )
    return None


def _disabled(d: ServerDef) -> Refuse:
    return Refuse(f"Server definition {d.handle} ({d.name}) is disabled")


# -- auto-connect --------------------------------------------------------------


def target_role(definition: ServerDef, known_role: str | None = None) -> str:
    """The role we expect behind *definition* before dialling it.

    The role the peer announced on its last link wins.  Otherwise a plain
    TS6 peer (a definition without serial) has the definition's role, and a
    ConferenceRoom peer set to AUTO is an upstream, which is a hub.
    """
    if known_role is not None:
        return known_role
    return definition.role if definition.serial is None else "hub"


def should_autoconnect(
    our_role: str,
    links: Sequence[LinkView],
    definition: ServerDef,
    *,
    known_role: str | None = None,
) -> bool:
    """True if we may auto-connect to *definition* now.

    Only enabled AUTO definitions with a host and port, not already linked,
    whose peer is a hub.  A leaf dials only while it has no link; a hub
    stops once it holds a link to another hub (links to leaves do not count).
    """
    if our_role not in ROLES:
        raise ValueError(f"our_role must be hub or leaf, not {our_role!r}")
    if not (definition.enabled and definition.auto and definition.host and definition.port):
        return False
    if any(link.handle is not None and fold(link.handle) == fold(definition.handle) for link in links):
        return False
    if target_role(definition, known_role) != "hub":
        return False
    if our_role == "leaf":
        return not links
    return not any(link.role == "hub" for link in links)


def autoconnect_order(
    our_role: str,
    links: Sequence[LinkView],
    definitions: Iterable[ServerDef],
    known_roles: Mapping[str, str] | None = None,
) -> list[ServerDef]:
    """The definitions to try, in configuration order: the first is dialled, the next on failure.

    *known_roles* maps a handle to the role its peer announced last time.
    """
    known = {fold(k): v for k, v in (known_roles or {}).items()}
    return [
        d
        for d in definitions
        if should_autoconnect(our_role, links, d, known_role=known.get(fold(d.handle)))
    ]
