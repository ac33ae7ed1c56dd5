"""What the link tests share: fixtures, peers, recorded hybrid traffic and TLS stand-ins.

- (the fixtures ``mesh``, ``alpha`` and ``beta`` are in tests/unit/conftest.py);
- :data:`DAVE` and :data:`CAROL`: users beta.lab introduces;
- :func:`peer_link` and :func:`dispatch`: a fake hybrid peer beside a real core;
- :func:`real_pair`: soprano and tenor linked with the real TS6 modules;
- :func:`trace` and :func:`hybrid_trace`: ircd-hybrid 8.2 traffic from tests/fixtures/ts6,
  with :data:`ALPHA`, :func:`clock_at` and :func:`handshake_feed` to replay a handshake;
- :class:`TLSTransport`, the certificates and :func:`tls_dial`: a link "over TLS" without a session.
"""

from __future__ import annotations

import datetime
from dataclasses import replace
from pathlib import Path
from typing import Any

from OpenSSL import crypto
from twisted.internet import address, task
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.testing import StringTransport
from zope.interface import implementer

from conferenceroom.link.handshake import Handshake, LocalIdentity, State
from conferenceroom.link.protocol import LinkConnection
from conferenceroom.link.wiring import attach, load_ts6
from conferenceroom.network import Server
from conferenceroom.wire import Message, parse
from tests.helpers import START
from tests.tlscerts import Issued, self_signed
from tests.unit.linknet import CR_CAPS, FakeLink, Mesh
from tests.unit.linkpair import SOPRANO_DEF, TENOR_DEF, Pair, linked, oper_on, soprano_and_tenor

DAVE = ":2BB UID dave 1 1795607297 + ~dave 127.0.0.1 127.0.0.1 127.0.0.1 2BBAAAAAB * :Dave on B"
CAROL = ":2BB UID carol 1 1795607297 +aosw ~carol 127.0.0.1 127.0.0.1 127.0.0.1 2BBAAAAAA * :Carol on B"


# -- a real core beside a fake peer ---------------------------------------------------


def peer_link(core: Any, name: str = "beta.lab", sid: str = "2BB", description: str = "TS6 lab server B",
              *, linked: bool = True, capabilities: frozenset[str] = CR_CAPS) -> FakeLink:
    """A fake peer of a real core; ``linked``: its server joins the core's network and the link is
    the core's only link, else it is only a link to burst to."""
    link = FakeLink(Mesh(), None, capabilities)
    link.name = name
    link.peer = Server(name, sid, description, uplink=core.network.me, route=link.route, hopcount=1)
    if linked:
        core.links = [link]
        core.network.add_server(link.peer, origin=link.route)
    return link


def dispatch(core: Any, link: FakeLink, *lines: str) -> None:
    """Hand ``lines`` to the core's server command table as if ``link``'s peer sent them."""
    for line in lines:
        core.server_commands.dispatch(link, parse(line))


def real_pair() -> tuple[Any, Any, Pair]:
    """soprano (hub) and tenor (leaf) with the real TS6 handlers, burst and relays, linked."""
    soprano, tenor = soprano_and_tenor()
    ts6 = load_ts6()
    for core in (soprano, tenor):
        attach(core, ts6)
    pair = linked(soprano, tenor)
    assert len(soprano.links) == len(tenor.links) == 1
    return soprano, tenor, pair


# -- recorded ircd-hybrid 8.2 traffic ---------------------------------------------------


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ts6"
NOW = 1795607300  # the time of the burst trace
ALPHA = LocalIdentity("alpha.lab", "1AA", "TS6 lab server A (hub)", serial="102-0000-001", role="hub")


def hybrid_trace(name: str, conn: str = "c1") -> list[tuple[str, Message]]:
    """(direction, message) of every line of connection ``conn`` in fixture ``name``."""
    out = []
    for raw in (FIXTURES / name).read_text().splitlines():
        if raw.startswith("#") or not raw.strip():
            continue
        _, c, direction, line = raw.split(" ", 3)
        if c == conn:
            out.append((direction, parse(line)))
    return out


def trace(name: str, conn: str, direction: str) -> list[Message]:
    """The lines of connection *conn* sent in *direction* (``A>B``) in fixture *name*."""
    return [msg for d, msg in hybrid_trace(name, conn) if d == direction]


def clock_at(now: float = NOW) -> task.Clock:
    """A task.Clock set to *now*."""
    clock = task.Clock()
    clock.advance(now)
    return clock


def handshake_feed(hs: Handshake, msgs: list[Message]) -> list[Message]:
    """Feed *msgs* until the handshake asks for a decision or completes; return what is left."""
    rest = list(msgs)
    while rest:
        step = hs.receive(rest.pop(0))
        assert step.send == () or hs.state is State.WAIT_SVINFO
        if step.decide or step.complete:
            break
    return rest


# -- links "over TLS" -------------------------------------------------------------------


TLS_NOW = datetime.datetime.fromtimestamp(START, datetime.timezone.utc)
SOPRANO_CERT = self_signed("soprano.webmaster.com", TLS_NOW)
TENOR_CERT = self_signed("tenor.webmaster.com", TLS_NOW)


@implementer(ISSLTransport)
class TLSTransport(StringTransport):
    """A StringTransport that is a TLS session showing *cert* as the peer's certificate."""

    def __init__(self, ip: str, port: int, cert: Issued | None) -> None:
        super().__init__(peerAddress=address.IPv4Address("TCP", ip, port))
        self._cert = cert

    def getPeerCertificate(self) -> Any:
        return None if self._cert is None else crypto.X509.from_cryptography(self._cert.cert)


def tls_dial(soprano_shows: Issued, tenor_pin: str | None = None,
             **soprano_def: Any) -> tuple[Any, Any, Pair, Any, Any]:
    """tenor dials soprano over TLS; soprano shows *soprano_shows*, tenor shows its own certificate
    (soprano pins *tenor_pin* in its definition of tenor, SECUREONLY)."""
    tenor_def = replace(SOPRANO_DEF, secure=True, **soprano_def)
    soprano, tenor = soprano_and_tenor(soprano_defs=(replace(TENOR_DEF, secureonly=True, fingerprint=tenor_pin),),
                                       tenor_defs=(tenor_def,))
    saved: list[tuple[str, str]] = []
    tenor.save_link_pin = lambda handle, fp: saved.append((handle, fp))
    watch_s, watch_t = oper_on(soprano, "sop"), oper_on(tenor, "top")
    active = LinkConnection(tenor, tenor_def)
    passive = LinkConnection(soprano)
    passive.makeConnection(TLSTransport("127.0.0.2", 40001, TENOR_CERT))
    active.makeConnection(TLSTransport("127.0.0.3", 994, soprano_shows))
    pair = Pair(active, passive)
    pair.saved = saved  # type: ignore[attr-defined]
    return soprano, tenor, pair, watch_s, watch_t
