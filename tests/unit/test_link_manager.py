"""LinkManager: definitions as child services, auto-connect with failover and back-off, CONNECT.

Everything runs on a MemoryReactorClock: dials are recorded ``connectTCP``
calls that a test refuses, or accepts and then reports as an established
link, as the link protocol will.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from twisted.internet import error, ssl
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure
from zope.interface import implementer
from zope.interface.verify import verifyObject

from conferenceroom.admin.settings import FrozenMap, ServerDef, Settings, fold_name
from conferenceroom.link.connector import string_endpoints
from conferenceroom.link.interfaces import ILinkConnection
from conferenceroom.link.manager import ConnectError, LinkManager
from conferenceroom.tls import TLSError

SOPRANO = ServerDef("soprano", name="soprano.webmaster.com", serial="102-0000-001", host="209.133.1.1",
                    port=7000, ping=300, auto=True, enabled=True)
HUB_SD = ServerDef("hubsd", name="hub1.sd.com", serial="201-0000-001", host="10.1.0.1", port=7000,
                   auto=True, enabled=True)
HUB_NY = ServerDef("hubny", name="hub1.ny.com", serial="202-0000-001", host="10.2.0.1", port=7000,
                   auto=True, enabled=True)
TENOR = ServerDef("tenor", name="tenor.*", serial="101-0001-001", enabled=True)
LEAF2 = ServerDef("leaf2", name="leaf2.sd.com", serial="201-0000-003", enabled=True)


def make_settings(*defs: ServerDef, role: str = "hub", securenetwork: bool = False) -> Settings:
    """Settings holding *defs* in this order."""
    servers = FrozenMap((fold_name(d.handle), d) for d in defs)
    return Settings(name="me.example.com", role=role, securenetwork=securenetwork, servers=servers)


@implementer(ILinkConnection)
class FakeLink(Protocol):
    """A link protocol stand-in: records drops and PING changes, reports its close to the manager."""

    def __init__(self, manager: LinkManager, handle: str | None, name: str, role: str = "hub",
                 secure: bool = False) -> None:
        self.manager = manager
        self.handle = handle
        self.name = name
        self.role = role
        self.secure = secure
        self.dropped: list[str] = []
        self.ping_intervals: list[int] = []
        self.roles_announced: list[str] = []

    def announce_role(self, role: str) -> None:
        self.roles_announced.append(role)

    def drop(self, reason: str) -> None:
        self.dropped.append(reason)
        self.manager.link_lost(self, reason)

    def set_ping_interval(self, seconds: int) -> None:
        self.ping_intervals.append(seconds)


class Harness:
    """A LinkManager on a MemoryReactorClock, with the notices it sent and the links it built."""

    def __init__(self, settings: Settings, *, rand: float = 0.5, client_tls: Any = None) -> None:
        self.reactor = MemoryReactorClock()
        self.notices: list[str] = []
        self.built: list[FakeLink] = []
        self.manager = LinkManager(
            settings, self._build, clock=self.reactor, endpoints=string_endpoints(self.reactor),
            client_tls=client_tls, notify=self.notices.append, rand=lambda: rand,
        )

    def _build(self, d: ServerDef) -> FakeLink:
        link = FakeLink(self.manager, d.handle, d.name, secure=d.secure)
        self.built.append(link)
        return link

    def start(self) -> Harness:
        self.manager.startService()
        return self

    def dials(self) -> list[tuple[str, int]]:
        """Every (host, port) dialled so far, in order."""
        return [(host, port) for host, port, *_ in self.reactor.tcpClients]

    def refuse(self, index: int = -1) -> None:
        """The peer's port refuses the connection."""
        factory = self.reactor.tcpClients[index][2]
        factory.clientConnectionFailed(self.reactor.connectors[index], Failure(error.ConnectionRefusedError()))

    def tcp_up(self, index: int = -1) -> FakeLink:
        """The TCP connection is made; the link protocol is in its handshake."""
        factory = self.reactor.tcpClients[index][2]
        protocol = factory.buildProtocol(None)
        protocol.makeConnection(StringTransport())
        return self.built[-1]

    def establish(self, index: int = -1, *, role: str = "hub", name: str | None = None) -> FakeLink:
        """The dial succeeds and the handshake is accepted: the protocol reports its link."""
        link = self.tcp_up(index)
        link.role = role
        if name:
            link.name = name
        self.manager.link_established(link)
        return link

    def inbound(self, handle: str, name: str, role: str = "hub", secure: bool = False) -> FakeLink:
        """A peer linked in to us under definition *handle*."""
        link = FakeLink(self.manager, handle, name, role, secure)
        self.manager.link_established(link)
        return link

    def advance(self, seconds: float) -> None:
        self.reactor.advance(seconds)


# -- the interface -------------------------------------------------------------


def test_fake_link_provides_the_interface() -> None:
    """The test double satisfies ILinkConnection, so the manager is tested against the real contract."""
    h = Harness(make_settings())
    verifyObject(ILinkConnection, FakeLink(h.manager, "x", "x.example.com"))


# -- children and reconfiguration ----------------------------------------------


def test_one_named_child_per_definition() -> None:
    """Every server definition is a child service named by its handle's key, in any case."""
    h = Harness(make_settings(SOPRANO, TENOR, replace(LEAF2, handle="Leaf2")))
    names = sorted(child.name for child in h.manager)
    assert names == ["leaf2", "soprano", "tenor"]
    assert h.manager.definition_service("LEAF2").definition.handle == "Leaf2"
    assert h.manager.getServiceNamed("tenor").definition == TENOR


def test_reconfigure_by_difference_keeps_unchanged_children() -> None:
    """A changed port, a new and a deleted definition: untouched definitions keep the same objects."""
    h = Harness(make_settings(SOPRANO, TENOR, LEAF2)).start()
    soprano, tenor, leaf2 = (h.manager.getServiceNamed(n) for n in ("soprano", "tenor", "leaf2"))
    h.manager.reconfigure(make_settings(SOPRANO, replace(TENOR, port=7001), HUB_NY))
    assert h.manager.getServiceNamed("soprano") is soprano
    assert h.manager.getServiceNamed("tenor") is tenor
    assert tenor.definition.port == 7001
    assert leaf2.parent is None and "leaf2" not in h.manager.namedServices
    assert h.manager.getServiceNamed("hubny").running


def test_disable_drops_that_link_only() -> None:
    """SERVER tenor DISABLE drops tenor's link with a reason naming the definition; others stay."""
    h = Harness(make_settings(TENOR, LEAF2)).start()
    tenor = h.inbound("tenor", "tenor.webmaster.com", "leaf")
    leaf2 = h.inbound("leaf2", "leaf2.sd.com", "leaf")
    report = h.manager.reconfigure(make_settings(replace(TENOR, enabled=False), LEAF2))
    assert tenor.dropped == ["Server definition tenor was disabled"]
    assert leaf2.dropped == []
    assert [v.name for v in h.manager.link_views()] == ["leaf2.sd.com"]
    assert report == ["Dropped the link to tenor.webmaster.com: Server definition tenor was disabled"]


def test_delete_drops_that_link() -> None:
    """SERVER tenor DEL drops tenor's link and removes its child."""
    h = Harness(make_settings(TENOR, LEAF2)).start()
    tenor = h.inbound("tenor", "tenor.webmaster.com", "leaf")
    h.manager.reconfigure(make_settings(LEAF2))
    assert tenor.dropped == ["Server definition tenor was deleted"]
    assert h.manager.links == ()


def test_disable_calls_off_the_attempt_under_way() -> None:
    """Disabling a definition being dialled stops the dial; it is not reported as a failure."""
    h = Harness(make_settings(SOPRANO, role="leaf")).start()
    assert h.dials() == [("209.133.1.1", 7000)]
    report = h.manager.reconfigure(make_settings(replace(SOPRANO, enabled=False), role="leaf"))
    assert h.reactor.connectors[0].stoppedConnecting
    assert report == ["Stopped connecting to soprano (soprano.webmaster.com): Server definition soprano was disabled"]
    assert not any("failed" in n for n in h.notices)
    h.advance(1000)
    assert len(h.dials()) == 1


def test_ping_change_reaches_the_live_link() -> None:
    """SERVER soprano SET PING 60 while linked: the link's keepalive is told at once, the link stays."""
    h = Harness(make_settings(SOPRANO, role="leaf")).start()
    link = h.establish()
    h.manager.reconfigure(make_settings(replace(SOPRANO, ping=60), role="leaf"))
    assert link.ping_intervals == [60]
    assert link.dropped == []


def test_name_mask_that_no_longer_matches_drops_link() -> None:
    """Changing a definition's name so the linked peer no longer matches it drops that link."""
    h = Harness(make_settings(TENOR)).start()
    link = h.inbound("tenor", "tenor.webmaster.com", "leaf")
    h.manager.reconfigure(make_settings(replace(TENOR, name="alto.*")))
    assert link.dropped == ["Server definition tenor (alto.*) no longer matches tenor.webmaster.com"]


def test_switch_to_leaf_keeps_only_the_hub_link() -> None:
    """GENERAL SET LEAF on a hub with several links keeps its link to a hub and drops the rest."""
    h = Harness(make_settings(HUB_SD, TENOR, LEAF2)).start()
    leaf_a = h.inbound("tenor", "tenor.webmaster.com", "leaf")
    hub = h.establish(0)
    leaf_b = h.inbound("leaf2", "leaf2.sd.com", "leaf")
    h.manager.reconfigure(make_settings(HUB_SD, TENOR, LEAF2, role="leaf"))
    assert hub.dropped == []
    assert leaf_a.dropped == ["This server is now a leaf, and leaf-to-leaf links are not allowed"]
    assert leaf_b.dropped == leaf_a.dropped
    assert [v.name for v in h.manager.link_views()] == ["hub1.sd.com"]


def test_switch_to_leaf_with_two_hub_links_keeps_the_oldest() -> None:
    """A hub linked to two hubs that becomes a leaf keeps the first hub link only."""
    h = Harness(make_settings(HUB_SD, HUB_NY)).start()
    first = h.establish(0)
    second = h.inbound("hubny", "hub1.ny.com", "hub")
    h.manager.reconfigure(make_settings(HUB_SD, HUB_NY, role="leaf"))
    assert first.dropped == []
    assert second.dropped == ["This server is now a leaf and keeps its one link, to hub1.sd.com"]


def test_switch_to_leaf_without_a_hub_link_drops_every_link() -> None:
    """A hub linked only to leaves (one reporting no role yet) that becomes a leaf drops them all, without failing."""
    h = Harness(make_settings(TENOR, LEAF2)).start()
    leaf = h.inbound("tenor", "tenor.webmaster.com", "leaf")
    unknown = h.inbound("leaf2", "leaf2.sd.com", "")
    report = h.manager.reconfigure(make_settings(TENOR, LEAF2, role="leaf"))
    assert leaf.dropped == unknown.dropped == ["This server is now a leaf, and leaf-to-leaf links are not allowed"]
    assert len(report) == 2 and h.manager.links == ()


def test_securenetwork_drops_plain_links() -> None:
    """GENERAL SET SECURENETWORK ON drops links without TLS, with the same reason the policy gives."""
    h = Harness(make_settings(TENOR, LEAF2)).start()
    plain = h.inbound("tenor", "tenor.webmaster.com", "leaf", secure=False)
    tls = h.inbound("leaf2", "leaf2.sd.com", "leaf", secure=True)
    h.manager.reconfigure(make_settings(TENOR, LEAF2, securenetwork=True))
    assert plain.dropped == ["Server links must use TLS on this network (SECURENETWORK is on)"]
    assert tls.dropped == []


# -- auto-connect ----------------------------------------------------------------


def test_auto_definition_is_dialled_on_start() -> None:
    """An enabled AUTO definition with host and port is dialled at start, and operators are told."""
    h = Harness(make_settings(SOPRANO, TENOR, role="leaf")).start()
    assert h.dials() == [("209.133.1.1", 7000)]
    assert h.notices == ["Connecting to soprano (soprano.webmaster.com) at 209.133.1.1:7000"]


def test_definitions_that_are_not_upstreams_are_never_dialled() -> None:
    """Downstream, disabled or host-less definitions are never dialled, however long we wait."""
    defs = (TENOR, replace(SOPRANO, handle="off", enabled=False), replace(HUB_NY, host=None))
    h = Harness(make_settings(*defs)).start()
    h.advance(3600)
    assert h.dials() == []
    assert h.notices == []


def test_bind_ip_is_used_for_the_dial() -> None:
    """SERVER x SET BINDIP makes the outgoing connection leave from that address."""
    h = Harness(make_settings(replace(SOPRANO, bindip="10.9.9.9"), role="leaf")).start()
    assert h.reactor.tcpClients[0][4] == ("10.9.9.9", 0)


def test_failed_dial_is_retried_with_growing_waits() -> None:
    """Refused dials are retried after 5, 10, 20 ... seconds, each failure told with its wait."""
    h = Harness(make_settings(SOPRANO, role="leaf")).start()
    waits = []
    for expected in (5, 10, 20, 40, 80, 160, 300, 300):
        h.refuse()
        waits.append(expected)
        assert h.notices[-1] == (
            "Connection to soprano (soprano.webmaster.com) at 209.133.1.1:7000 failed: "
            f"connection refused; retrying in {expected} s"
        )
        dials = len(h.dials())
        h.advance(expected - 0.5)
        assert len(h.dials()) == dials, "no dial before the wait is over"
        h.advance(0.5)
        assert len(h.dials()) == dials + 1


def test_jitter_spreads_the_wait() -> None:
    """The injected randomness moves the wait within ±20%, so leaves do not all dial at once."""
    h = Harness(make_settings(SOPRANO, role="leaf"), rand=1.0).start()
    h.refuse()
    assert h.notices[-1].endswith("retrying in 6 s")
    h.advance(5.9)
    assert len(h.dials()) == 1
    h.advance(0.1)
    assert len(h.dials()) == 2


def test_leaf_fails_over_to_next_upstream() -> None:
    """A leaf whose first upstream refuses tries the next at once; when all fail it waits, then starts over."""
    h = Harness(make_settings(HUB_SD, HUB_NY, role="leaf")).start()
    assert h.dials() == [("10.1.0.1", 7000)]
    h.refuse()
    assert h.dials() == [("10.1.0.1", 7000), ("10.2.0.1", 7000)]
    assert h.notices[1] == ("Connection to hubsd (hub1.sd.com) at 10.1.0.1:7000 failed: connection refused; "
                            "trying hubny (hub1.ny.com) next")
    h.refuse()
    assert h.notices[-1].endswith("retrying in 5 s")
    h.advance(5)
    assert h.dials()[-1] == ("10.1.0.1", 7000)


def test_handshake_refusal_counts_as_a_failure() -> None:
    """A peer that accepts TCP but refuses the link (ERROR) makes the leaf fail over as a refused dial does."""
    h = Harness(make_settings(HUB_SD, HUB_NY, role="leaf")).start()
    link = h.tcp_up()
    h.manager.link_lost(link, "Serial 201-0000-009 of leaf1.sd.com does not match definition leaf1")
    assert h.dials()[-1] == ("10.2.0.1", 7000)
    assert h.notices[1] == (
        "Connection to hubsd (hub1.sd.com) at 10.1.0.1:7000 failed: Serial 201-0000-009 of leaf1.sd.com "
        "does not match definition leaf1; trying hubny (hub1.ny.com) next"
    )


def test_handshake_timeout_reported_by_the_link_counts_as_a_failure() -> None:
    """The link protocol's handshake deadline (it closes and reports the reason) is the attempt's failure:
    the manager keeps no timer of its own and retries after the back-off."""
    h = Harness(make_settings(SOPRANO, role="leaf")).start()
    link = h.tcp_up()
    assert h.reactor.getDelayedCalls() == []
    h.manager.link_lost(link, "Link registration timed out after 30 seconds")
    assert h.notices[-1] == ("Connection to soprano (soprano.webmaster.com) at 209.133.1.1:7000 failed: "
                             "Link registration timed out after 30 seconds; retrying in 5 s")
    h.advance(5)
    assert len(h.dials()) == 2


def test_leaf_with_a_link_stops_dialling() -> None:
    """Once a leaf is linked nothing more is dialled, and its back-off timer is gone."""
    h = Harness(make_settings(HUB_SD, HUB_NY, role="leaf")).start()
    h.establish()
    h.advance(3600)
    assert len(h.dials()) == 1
    assert h.reactor.getDelayedCalls() == []


def test_inbound_link_calls_off_a_leafs_dial() -> None:
    """A hub linking in to a leaf that is dialling: the dial is called off, not counted as a failure."""
    h = Harness(make_settings(HUB_SD, HUB_NY, role="leaf")).start()
    h.inbound("hubny", "hub1.ny.com", "hub")
    assert h.reactor.connectors[0].stoppedConnecting
    assert h.notices[-1] == ("Stopped connecting to hubsd (hub1.sd.com): "
                             "this server is a leaf and is now linked to hub1.ny.com")
    h.advance(3600)
    assert len(h.dials()) == 1


def test_hub_stops_once_linked_to_a_hub_but_not_to_a_leaf() -> None:
    """A hub keeps dialling its hub upstream while linked only to leaves, and stops once a hub links."""
    h = Harness(make_settings(HUB_NY, TENOR)).start()
    h.inbound("tenor", "tenor.webmaster.com", "leaf")
    h.refuse()
    h.advance(5)
    assert len(h.dials()) == 2, "links to leaves do not stop a hub's auto-connect"
    h.inbound("hubny", "hub1.ny.com", "hub")
    h.advance(3600)
    assert len(h.dials()) == 2


def test_auto_connect_resumes_after_the_link_drops() -> None:
    """When the leaf's link drops after a stable while, it dials its upstreams again after 5 s, first one first."""
    h = Harness(make_settings(HUB_SD, HUB_NY, role="leaf")).start()
    h.refuse()
    link = h.establish()  # hub1.ny
    h.advance(3600)
    h.manager.link_lost(link, "Ping timeout: 90 seconds")
    assert h.notices[-1] == "Link to hub1.ny.com lost (Ping timeout: 90 seconds); auto-connect resumes in 5 s"
    h.advance(4.9)
    assert len(h.dials()) == 2
    h.advance(0.1)
    assert h.dials()[-1] == ("10.1.0.1", 7000)


def test_manual_network_hub_dies_and_leaf_fails_over() -> None:
    """The manual's network: leaf1.sd linked to hub1.sd for an hour; hub1.sd is killed; the leaf re-links to hub1.ny."""
    h = Harness(make_settings(HUB_SD, HUB_NY, role="leaf")).start()
    hub_sd = h.establish(name="hub1.sd.com")
    h.advance(3600)
    h.manager.link_lost(hub_sd, "Remote host closed the connection")
    h.advance(5)
    assert h.dials()[-1] == ("10.1.0.1", 7000)
    h.refuse()  # hub1.sd is down
    assert h.dials()[-1] == ("10.2.0.1", 7000)
    h.establish(name="hub1.ny.com")
    assert [v.name for v in h.manager.link_views()] == ["hub1.ny.com"]
    assert h.notices[-3:] == [
        "Connecting to hubsd (hub1.sd.com) at 10.1.0.1:7000",
        "Connection to hubsd (hub1.sd.com) at 10.1.0.1:7000 failed: connection refused; trying hubny (hub1.ny.com) next",
        "Connecting to hubny (hub1.ny.com) at 10.2.0.1:7000",
    ]
    h.advance(3600)
    assert len(h.dials()) == 3, "a linked leaf attempts nothing further, even when its first upstream returns"


def test_a_link_that_drops_at_once_does_not_redial_in_a_loop() -> None:
    """A peer that links and drops within seconds, again and again, is redialled after ever longer waits."""
    h = Harness(make_settings(SOPRANO, role="leaf")).start()
    waits = []
    for _ in range(4):
        link = h.establish()
        h.advance(1)
        h.manager.link_lost(link, "Remote host closed the connection")
        waits.append(h.notices[-1].rsplit(" ", 2)[-2])
        h.advance(1000)
    assert waits == ["5", "10", "20", "40"]


def test_enabling_an_upstream_dials_at_once_even_while_waiting() -> None:
    """SERVER x ENABLE on an upstream starts a fresh round now, not after the current back-off."""
    h = Harness(make_settings(HUB_SD, replace(HUB_NY, enabled=False), role="leaf")).start()
    for _ in range(5):
        h.refuse()
        h.advance(1000)
    h.refuse()  # now waiting 160 s
    h.manager.reconfigure(make_settings(HUB_SD, HUB_NY, role="leaf"))
    assert h.dials()[-1] == ("10.1.0.1", 7000), "the fresh round starts with the first upstream"
    h.refuse()
    assert h.dials()[-1] == ("10.2.0.1", 7000)
    h.refuse()
    assert h.notices[-1].endswith("retrying in 5 s"), "the back-off starts over"


def test_address_change_redials_the_new_address() -> None:
    """SERVER soprano SET PORT while it is being dialled calls off the old dial and dials the new port."""
    h = Harness(make_settings(SOPRANO, role="leaf")).start()
    report = h.manager.reconfigure(make_settings(replace(SOPRANO, port=7001), role="leaf"))
    assert report == ["Stopped connecting to soprano (soprano.webmaster.com) at 209.133.1.1:7000: "
                      "its address changed"]
    assert h.dials() == [("209.133.1.1", 7000), ("209.133.1.1", 7001)]


def test_secure_definition_dials_over_tls_with_the_given_context() -> None:
    """SERVER x SET SECURE ON: the link runs over TLS, with the context the caller gives for that definition."""
    asked: list[str] = []

    def client_tls(d: ServerDef) -> Any:
        asked.append(d.handle)
        return ssl.optionsForClientTLS("soprano.webmaster.com")

    h = Harness(make_settings(replace(SOPRANO, secure=True, port=994), role="leaf"), client_tls=client_tls).start()
    assert h.notices == ["Connecting to soprano (soprano.webmaster.com) at 209.133.1.1:994 over TLS"]
    link = h.tcp_up()
    assert asked == ["soprano"]
    assert ISSLTransport.providedBy(link.transport)


def test_secure_definition_without_tls_fails_with_a_reason() -> None:
    """A secure upstream with no TLS client context available fails with a sentence, never a traceback."""
    h = Harness(make_settings(replace(SOPRANO, secure=True), role="leaf")).start()
    assert h.dials() == []
    assert h.notices[-1] == ("Connection to soprano (soprano.webmaster.com) at 209.133.1.1:7000 failed: "
                             "TLS is not available for outgoing links; retrying in 5 s")


def test_tls_context_error_is_a_sentence_not_a_traceback() -> None:
    """A TLS client context that cannot be built (unreadable certificate) fails the dial with its reason, logged without a traceback."""

    def client_tls(d: ServerDef) -> Any:
        raise TLSError("cannot read /etc/cr/cert.pem: No such file or directory")

    with capturedLogs() as events:
        h = Harness(make_settings(replace(SOPRANO, secure=True), role="leaf"), client_tls=client_tls).start()
    assert h.notices[-1] == ("Connection to soprano (soprano.webmaster.com) at 209.133.1.1:7000 failed: "
                             "cannot read /etc/cr/cert.pem: No such file or directory; retrying in 5 s")
    assert not [e for e in events if "log_failure" in e]
    assert any("cert.pem" in formatEvent(e) for e in events)


def test_securenetwork_calls_off_a_plain_dial() -> None:
    """SECURENETWORK turned on while a plain upstream is being dialled stops that dial, saying why."""
    h = Harness(make_settings(SOPRANO, role="leaf")).start()
    report = h.manager.reconfigure(make_settings(SOPRANO, role="leaf", securenetwork=True))
    assert report == ["Stopped connecting to soprano (soprano.webmaster.com): "
                      "Server links must use TLS on this network (SECURENETWORK is on)"]
    assert h.reactor.connectors[0].stoppedConnecting
    h.advance(3600)
    assert len(h.dials()) == 1


def test_securenetwork_skips_plain_upstreams() -> None:
    """With SECURENETWORK on, auto-connect dials only upstreams set to use TLS."""
    h = Harness(make_settings(HUB_SD, replace(HUB_NY, secure=True), role="leaf", securenetwork=True),
                client_tls=lambda d: ssl.optionsForClientTLS(d.name)).start()
    assert h.dials() == [("10.2.0.1", 7000)]


def test_stop_calls_off_the_dial_under_way() -> None:
    """Stopping the manager calls off a dial in progress and closes a connection still in its handshake."""
    h = Harness(make_settings(HUB_SD, HUB_NY, role="leaf")).start()
    in_handshake = h.tcp_up()
    h.manager.link_lost(in_handshake, "Closing Link: 10.1.0.1 (refused)")
    h.manager.stopService()
    assert h.reactor.connectors[1].stoppedConnecting
    h2 = Harness(make_settings(HUB_SD, role="leaf")).start()
    link = h2.tcp_up()
    h2.manager.stopService()
    assert link.dropped == ["Server shutting down"]
    for harness in (h, h2):
        harness.advance(3600)
        assert harness.reactor.getDelayedCalls() == []
    assert len(h.dials()) == 2 and len(h2.dials()) == 1


def test_stop_while_waiting_cancels_the_retry() -> None:
    """Stopping the manager during a back-off wait leaves no timer: nothing is dialled afterwards."""
    h = Harness(make_settings(SOPRANO, role="leaf")).start()
    h.refuse()
    assert len(h.reactor.getDelayedCalls()) == 1
    h.manager.stopService()
    assert h.reactor.getDelayedCalls() == []
    h.advance(3600)
    assert len(h.dials()) == 1


def test_leaf_retry_waits_for_its_connect() -> None:
    """While a leaf's CONNECT is under way, the auto-connect retry that falls due dials nothing else."""
    h = Harness(make_settings(HUB_SD, replace(HUB_NY, auto=False), role="leaf")).start()
    h.refuse()  # hub1.sd refused: retry in 5 s
    h.manager.connect_now("hubny")
    h.advance(5)
    assert h.dials() == [("10.1.0.1", 7000), ("10.2.0.1", 7000)]
    h.refuse()  # the CONNECT failed: auto-connect goes on
    assert h.dials()[-1] == ("10.1.0.1", 7000)


# -- CONNECT ---------------------------------------------------------------------


def tenor_side(*extra: ServerDef, role: str = "leaf") -> Harness:
    """tenor in the manual: soprano defined with host and port but not AUTO (CONNECT only)."""
    return Harness(make_settings(replace(SOPRANO, auto=False), *extra, role=role)).start()


def test_connect_by_mask_with_port() -> None:
    """/connect soprano.* 7000 dials the definition whose name the mask matches, on the port given."""
    h = tenor_side()
    answer = h.manager.connect_now("soprano.*", 7001)
    assert answer == "Connecting to soprano (soprano.webmaster.com) at 209.133.1.1:7001"
    assert h.dials() == [("209.133.1.1", 7001)]


def test_connect_by_handle_or_full_name() -> None:
    """CONNECT accepts the handle or a full name the definition's mask matches, with its own port."""
    h = Harness(make_settings(replace(TENOR, host="10.0.0.2", port=7000))).start()
    assert h.manager.connect_now("tenor.webmaster.com") == "Connecting to tenor (tenor.*) at 10.0.0.2:7000"
    h.refuse()
    assert h.notices[-1] == "Connection to tenor (tenor.*) at 10.0.0.2:7000 failed: connection refused"
    h.manager.connect_now("TENOR")
    assert len(h.dials()) == 2


def test_failed_connect_is_not_retried() -> None:
    """A CONNECT that fails is reported once and not retried (that is auto-connect's job)."""
    h = tenor_side()
    h.manager.connect_now("soprano.*")
    h.refuse()
    assert h.notices[-1].endswith("failed: connection refused")
    h.advance(3600)
    assert len(h.dials()) == 1


@pytest.mark.parametrize(
    ("defs", "mask", "port", "reason"),
    [
        ((), "alto.*", None, "No server definition matches alto.*"),
        ((replace(SOPRANO, auto=False, enabled=False),), "soprano.*", None,
         "Server definition soprano (soprano.webmaster.com) is disabled (SERVER soprano ENABLE)"),
        ((TENOR,), "tenor.*", None,
         "Server definition tenor (tenor.*) has no host to connect to (SERVER tenor SET HOST <address>)"),
        ((replace(SOPRANO, auto=False, port=None),), "soprano.*", None,
         "Server definition soprano (soprano.webmaster.com) has no port: give one (CONNECT soprano.* <port>) "
         "or set it (SERVER soprano SET PORT <port>)"),
        ((replace(SOPRANO, auto=False),), "soprano.*", "70000", "The port must be a number from 1 to 65535"),
        ((replace(SOPRANO, auto=False),), "soprano.*", "７０００", "The port must be a number from 1 to 65535"),
        ((replace(SOPRANO, auto=False), replace(SOPRANO, handle="soprano2", auto=False)), "soprano.*", None,
         "soprano.* matches several server definitions (soprano, soprano2); name one by its handle"),
    ],
)
def test_connect_refusals_say_why(defs: tuple[ServerDef, ...], mask: str, port: Any, reason: str) -> None:
    """Every CONNECT that cannot go ahead is refused with one sentence saying why, and nothing is dialled."""
    h = Harness(make_settings(*defs)).start()
    with pytest.raises(ConnectError) as refused:
        h.manager.connect_now(mask, port)
    assert refused.value.reason == reason
    assert h.dials() == []


def test_connect_when_already_linked_or_connecting() -> None:
    """CONNECT to a server already linked, or being dialled, is answered with what is going on."""
    h = tenor_side(role="hub")
    h.manager.connect_now("soprano.*")
    with pytest.raises(ConnectError, match=r"^Already connecting to soprano \(soprano.webmaster.com\) "
                                           r"at 209.133.1.1:7000$"):
        h.manager.connect_now("soprano.*")
    h.establish(name="soprano.webmaster.com")
    with pytest.raises(ConnectError, match=r"^Already linked to soprano.webmaster.com$"):
        h.manager.connect_now("soprano.*")


def test_connect_on_a_linked_leaf_is_refused() -> None:
    """A leaf holds one link: CONNECT to another hub while linked is refused with the role rule."""
    h = tenor_side(replace(HUB_NY, auto=False))
    h.manager.connect_now("soprano.*")
    h.establish(name="soprano.webmaster.com")
    with pytest.raises(ConnectError) as refused:
        h.manager.connect_now("hub1.ny.com")
    assert refused.value.reason == ("This server is a leaf and already linked to soprano.webmaster.com; "
                                    "a leaf holds one link")


def test_connect_leaf_to_known_leaf_is_refused() -> None:
    """A leaf will not CONNECT to a server known to be a leaf (a plain TS6 leaf here)."""
    hybrid = ServerDef("hyb", name="hyb.lab", password="pw", role="leaf", host="10.0.0.9", port=6667, enabled=True)
    h = Harness(make_settings(hybrid, role="leaf")).start()
    with pytest.raises(ConnectError) as refused:
        h.manager.connect_now("hyb")
    assert refused.value.reason == "Leaf-to-leaf links are not allowed: hyb (hyb.lab) is a leaf and so is this server"


def test_connect_on_a_leaf_replaces_its_auto_dial() -> None:
    """On an unlinked leaf, CONNECT to the second upstream calls off the dial to the first."""
    h = Harness(make_settings(HUB_SD, HUB_NY, role="leaf")).start()
    h.manager.connect_now("hub1.ny.*")
    assert h.reactor.connectors[0].stoppedConnecting
    assert h.dials()[-1] == ("10.2.0.1", 7000)
    h.refuse()  # the CONNECT failed: auto-connect takes over again
    assert h.dials()[-1] == ("10.1.0.1", 7000)


def test_connect_with_securenetwork_needs_a_secure_definition() -> None:
    """With SECURENETWORK on, CONNECT to a definition without TLS is refused, saying how to fix it."""
    h = Harness(make_settings(replace(SOPRANO, auto=False), securenetwork=True)).start()
    with pytest.raises(ConnectError) as refused:
        h.manager.connect_now("soprano.*")
    assert refused.value.reason == ("Server links must use TLS on this network (SECURENETWORK is on); "
                                    "definition soprano does not (SERVER soprano SET SECURE ON)")


def test_connect_then_link_records_the_peer_role() -> None:
    """A link made by CONNECT counts for the role rules and remembers the role the peer announced."""
    h = tenor_side(role="hub")
    h.manager.connect_now("soprano.*")
    h.establish(role="leaf", name="soprano.webmaster.com")
    assert h.manager.known_roles() == {"soprano": "leaf"}
    assert [(v.name, v.role, v.handle) for v in h.manager.link_views()] == [
        ("soprano.webmaster.com", "leaf", "soprano")
    ]


def test_secureonly_definition_is_never_dialled_in_plain_text() -> None:
    """SECUREONLY without SECURE: CONNECT is refused, saying what to set, and auto-connect reports the same
    reason instead of sending the link password in clear to a peer that must refuse it."""
    plain_only = replace(SOPRANO, secureonly=True)
    h = Harness(make_settings(replace(plain_only, auto=False))).start()
    with pytest.raises(ConnectError) as refused:
        h.manager.connect_now("soprano.*")
    reason = ("Definition soprano accepts soprano.webmaster.com only over TLS (SECUREONLY) but does not dial it "
              "over TLS: SERVER soprano SET SECURE ON (and SET PORT to its TLS port)")
    assert refused.value.reason == reason
    auto = Harness(make_settings(plain_only, role="leaf")).start()
    assert auto.dials() == []
    assert auto.notices[-1].startswith(f"Connection to soprano (soprano.webmaster.com) at 209.133.1.1:7000 "
                                       f"failed: {reason}; retrying in ")


def test_role_switch_is_announced_on_the_links_kept() -> None:
    """GENERAL SET LEAF on a hub linked to two hubs: the first link is kept and told 'leaf', the other dropped."""
    h = Harness(make_settings(HUB_SD, HUB_NY)).start()
    first = h.inbound("hubsd", "hub1.sd.com")
    second = h.inbound("hubny", "hub1.ny.com")
    report = h.manager.reconfigure(make_settings(HUB_SD, HUB_NY, role="leaf"))
    assert first.roles_announced == ["leaf"] and second.roles_announced == []
    assert second.dropped and not first.dropped
    assert "Told hub1.sd.com that this server is now a leaf" in report


def test_peer_turning_leaf_on_a_leaf_is_dropped() -> None:
    """Our hub switched to leaf while we are a leaf: leaf-to-leaf, so the link is dropped with that reason."""
    h = Harness(make_settings(HUB_SD, HUB_NY, role="leaf")).start()
    link = h.establish()
    link.role = "leaf"
    h.manager.link_role_changed(link)
    assert link.dropped == ["Leaf-to-leaf links are not allowed: hub1.sd.com is now a leaf and so is this server"]
    assert h.dials() == [("10.1.0.1", 7000), ("10.2.0.1", 7000)]  # on to the next upstream, a hub
