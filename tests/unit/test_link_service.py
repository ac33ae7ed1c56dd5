"""The service's link side: the LinkManager child, dials that build LinkConnections, live reconfiguration."""

from __future__ import annotations

import signal
from dataclasses import replace


from twisted.internet.testing import MemoryReactorClock

from conferenceroom.admin import LoadedConfig
from conferenceroom.admin.settings import FrozenMap, OperEntry, fold_name
from conferenceroom.link.manager import LinkManager
from conferenceroom.link.protocol import LinkConnection
from conferenceroom.link.wiring import attach
from conferenceroom.service import ConferenceRoomService
from tests.helpers import START, make_settings
from tests.unit.linkpair import (
    SOPRANO_DEF, SOPRANO_SERIAL, STUB_TS6, TENOR_DEF, TENOR_SERIAL, dial, make_server, notices, oper_on,
)


def soprano_service(tmp_path, monkeypatch, *defs) -> tuple[ConferenceRoomService, MemoryReactorClock]:
    """soprano (hub) as a started service on a memory reactor, with the stand-in TS6 modules."""
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    reactor = MemoryReactorClock()
    reactor.advance(START)
    servers = FrozenMap((fold_name(d.handle), d) for d in defs)
    opers = FrozenMap({"admin": OperEntry("admin", "$2b$04$" + "a" * 53, frozenset("a"))})  # oper_on's entry
    settings = replace(make_settings(name="soprano.webmaster.com", serial=SOPRANO_SERIAL, role="hub",
                                     servers=servers, opers=opers),
                       config_dir=str(tmp_path), bindip="127.0.0.1", ports=(7000,))
    svc = ConferenceRoomService(LoadedConfig(settings, str(tmp_path / "c.conf")), reactor)
    attach(svc.core, STUB_TS6)
    svc.core.link_manager = svc.link_manager
    svc.startService()
    return svc, reactor


def tenor_dials(svc: ConferenceRoomService, reactor: MemoryReactorClock):
    """tenor (a leaf on the same clock) links in to the service's core; the handshake runs."""
    tenor = make_server("tenor.webmaster.com", TENOR_SERIAL, "leaf", SOPRANO_DEF, clock=reactor)
    pair = dial(tenor, SOPRANO_DEF, svc.core)
    pair.pump()
    return tenor, pair


def test_service_runs_a_link_manager_that_knows_the_links(tmp_path, monkeypatch) -> None:
    """The service has a LinkManager child; an inbound link it accepts is reported to it."""
    svc, reactor = soprano_service(tmp_path, monkeypatch, TENOR_DEF)
    assert isinstance(svc.link_manager, LinkManager) and svc.link_manager.parent is svc
    _, pair = tenor_dials(svc, reactor)
    assert svc.link_manager.links == (pair.passive,)
    assert svc.core.links == [pair.passive]


def test_auto_upstream_is_dialled_with_a_link_protocol(tmp_path, monkeypatch) -> None:
    """An AUTO definition is dialled at start; the connection speaks the link protocol (PASS/CAPAB/SERVER)."""
    svc, reactor = soprano_service(tmp_path, monkeypatch, replace(SOPRANO_DEF, handle="alto",
                                                                  name="alto.webmaster.com", port=7001))
    assert [(host, port) for host, port, *_ in reactor.tcpClients] == [("127.0.0.1", 7001)]
    protocol = reactor.tcpClients[0][2].buildProtocol(None)._wrappedProtocol
    assert isinstance(protocol, LinkConnection) and protocol.active
    assert protocol.definition.handle == "alto"


def test_a_dial_whose_peer_never_answers_is_given_up_after_30_seconds(tmp_path, monkeypatch) -> None:
    """An auto-connect dial whose peer accepts TCP and says nothing: after the one handshake deadline
    (30 s from the TCP connection, as hybrid) the link is closed with an ERROR saying why, the operators
    read the failure with the retry wait, and nothing else times it out later."""
    from twisted.internet.testing import StringTransport

    from conferenceroom.link.handshake import REGISTRATION_TIMEOUT

    svc, reactor = soprano_service(tmp_path, monkeypatch, replace(SOPRANO_DEF, handle="alto",
                                                                  name="alto.webmaster.com", port=7001))
    oper = oper_on(svc.core)
    protocol = reactor.tcpClients[0][2].buildProtocol(None)
    protocol.makeConnection(StringTransport())
    link = protocol._wrappedProtocol
    reactor.advance(REGISTRATION_TIMEOUT - 1)
    assert not link.closing
    reactor.advance(1)
    reason = f"Link registration timed out after {REGISTRATION_TIMEOUT} seconds"
    assert link.closing and protocol.transport.value().endswith(f"({reason})\r\n".encode())
    last = notices(oper)[-1]
    assert last.startswith(f"Connection to alto (alto.webmaster.com) at 127.0.0.1:7001 failed: {reason}; retrying in ")
    manager_calls = [call.func.__name__ for call in reactor.getDelayedCalls()
                     if call.active() and getattr(call.func, "__self__", None) is svc.link_manager]
    assert manager_calls == ["_retry_due"]  # the retry wait only: no second deadline


def test_as_disable_drops_the_live_link(tmp_path, monkeypatch) -> None:
    """SERVER tenor DISABLE (a live reconfigure) drops tenor's link, splits it and says so."""
    svc, reactor = soprano_service(tmp_path, monkeypatch, TENOR_DEF)
    oper = oper_on(svc.core)
    tenor, pair = tenor_dials(svc, reactor)
    notices(oper)
    servers = FrozenMap({"tenor": replace(TENOR_DEF, enabled=False)})
    changes = svc.reconfigure(replace(svc.settings, servers=servers))
    pair.pump()
    assert "Dropped the link to tenor.webmaster.com: Server definition tenor was disabled" in changes
    assert svc.core.network.find_server("tenor.webmaster.com") is None
    assert tenor.network.find_server("soprano.webmaster.com") is None
    assert notices(oper) == [
        "Link with tenor.webmaster.com[127.0.0.2] lost: Server definition tenor was disabled"
    ]


def test_new_auto_definition_is_dialled_at_once(tmp_path, monkeypatch) -> None:
    """SERVER alto ADD ... AUTO ON ENABLE on a running hub dials it right away."""
    svc, reactor = soprano_service(tmp_path, monkeypatch)
    assert reactor.tcpClients == []
    alto = replace(SOPRANO_DEF, handle="alto", name="alto.webmaster.com", port=7002)
    svc.reconfigure(replace(svc.settings, servers=FrozenMap({"alto": alto})))
    assert [(host, port) for host, port, *_ in reactor.tcpClients] == [("127.0.0.1", 7002)]


def test_stopping_the_service_squits_every_link(tmp_path, monkeypatch) -> None:
    """Shutting down sends SQUIT and ERROR 'Server shutting down' on every link."""
    svc, reactor = soprano_service(tmp_path, monkeypatch, TENOR_DEF)
    tenor, pair = tenor_dials(svc, reactor)
    pair.wire.clear()
    svc.stopService()
    pair.pump()
    assert [m.command for m in pair.lines("p>a")] == ["SQUIT", "ERROR"]
    assert tenor.network.find_server("soprano.webmaster.com") is None


def test_link_notices_reach_operators_through_the_manager(tmp_path, monkeypatch) -> None:
    """The manager's own sentences (connecting ...) are server notices to +s operators."""
    svc, reactor = soprano_service(tmp_path, monkeypatch)
    oper = oper_on(svc.core)
    alto = replace(SOPRANO_DEF, handle="alto", name="alto.webmaster.com", port=7003)
    svc.reconfigure(replace(svc.settings, servers=FrozenMap({"alto": alto})))
    assert notices(oper) == ["Connecting to alto (alto.webmaster.com) at 127.0.0.1:7003"]





def test_rehash_with_a_disabled_definition_drops_its_link(tmp_path, monkeypatch) -> None:
    """REHASH of a file where tenor's definition is disabled: the link goes, and the report says so."""
    from conferenceroom.admin import save_config

    svc, reactor = soprano_service(tmp_path, monkeypatch, TENOR_DEF)
    tenor, pair = tenor_dials(svc, reactor)
    servers = FrozenMap({"tenor": replace(TENOR_DEF, enabled=False)})
    save_config(replace(svc.settings, servers=servers), str(tmp_path / "c.conf"), now=reactor.seconds())
    report = svc.rehash()
    pair.pump()
    assert "Dropped the link to tenor.webmaster.com: Server definition tenor was disabled" in report.changes
    assert tenor.network.find_server("soprano.webmaster.com") is None
