"""The service opens, moves and closes the WebSocket listener live, by difference."""

from __future__ import annotations

from dataclasses import replace

from twisted.internet.testing import MemoryReactorClock

from conferenceroom.admin.settings import WebSocketSettings
from conferenceroom.client.websocket import WebSocketFactory
from conferenceroom.service import WebSocketListener
from tests.unit.test_service import BusyPortReactor, start


def ws_listeners(svc):  # type: ignore[no-untyped-def]
    """The service's WebSocket listeners."""
    return [child for child in svc if isinstance(child, WebSocketListener)]


def with_ws(settings, **ws):  # type: ignore[no-untyped-def]
    """``settings`` with WebSocket settings ``ws`` (enabled unless told)."""
    ws.setdefault("enabled", True)
    return replace(settings, websocket=replace(settings.websocket, **ws))


def test_enable_opens_disable_closes(tmp_path, monkeypatch) -> None:
    """ENABLE opens the port with a WebSocket factory and says so; DISABLE closes it; ports stay."""
    reactor = MemoryReactorClock()
    svc = start(tmp_path, monkeypatch, reactor, (7000,))
    assert ws_listeners(svc) == []
    changes = svc.reconfigure(with_ws(svc.settings, port=8067))
    assert changes == ["opened WebSocket port 8067"]
    [listener] = ws_listeners(svc)
    assert listener.listening is not None
    assert [p for p in reactor.tcpServers if p[0] == 8067][0][1].__class__ is WebSocketFactory
    changes = svc.reconfigure(with_ws(svc.settings, enabled=False))
    assert changes == ["closed WebSocket port 8067"]
    assert ws_listeners(svc) == []
    assert [c.port for c in svc if type(c).__name__ == "Listener"] == [7000]


def test_port_change_moves_and_origin_change_keeps(tmp_path, monkeypatch) -> None:
    """A new port closes the old listener and opens the new one; an origin change keeps the same listener."""
    svc = start(tmp_path, monkeypatch, MemoryReactorClock(), (7000,))
    svc.reconfigure(with_ws(svc.settings, port=8067))
    changes = svc.reconfigure(with_ws(svc.settings, port=8097))
    assert changes == ["closed WebSocket port 8067", "opened WebSocket port 8097"]
    [before] = ws_listeners(svc)
    assert svc.reconfigure(with_ws(svc.settings, origins=("https://a.example",))) == []
    assert ws_listeners(svc) == [before]


def test_plain_port_changes_leave_websocket_alone(tmp_path, monkeypatch) -> None:
    """Changing the plain ports neither closes nor reopens the WebSocket listener."""
    svc = start(tmp_path, monkeypatch, MemoryReactorClock(), (7000,))
    svc.reconfigure(with_ws(svc.settings, port=8067))
    [before] = ws_listeners(svc)
    changes = svc.reconfigure(replace(svc.settings, ports=(7001,)))
    assert "closed WebSocket port 8067" not in changes
    assert ws_listeners(svc) == [before]


def test_busy_websocket_port_reported_and_retried(tmp_path, monkeypatch) -> None:
    """A WebSocket port that cannot be bound is reported, then opened by a later change once free."""
    reactor = BusyPortReactor({8067})
    svc = start(tmp_path, monkeypatch, reactor, (7000,))
    changes = svc.reconfigure(with_ws(svc.settings, port=8067))
    assert changes[0].startswith("could not open WebSocket port 8067")
    reactor.busy.clear()
    assert svc.reconfigure(replace(svc.settings, description="retry")) == ["opened WebSocket port 8067"]


def test_secure_websocket_uses_server_certificate(tmp_path, monkeypatch) -> None:
    """SECURE on listens with TLS using the server's (generated) certificate; operators get its fingerprint."""
    reactor = MemoryReactorClock()
    svc = start(tmp_path, monkeypatch, reactor, (7000,))
    svc.core.defer_to_thread = lambda f, *a: __import__("twisted.internet.defer").internet.defer.succeed(f(*a))
    notices = []
    monkeypatch.setattr(svc.core, "notice_opers", lambda text, **kw: notices.append(text))
    changes = svc.reconfigure(with_ws(svc.settings, port=8443, secure=True))
    assert changes == ["opening WebSocket TLS port 8443"]
    [listener] = ws_listeners(svc)
    assert listener.tls is not None and listener.label == "WebSocket TLS"
    assert reactor.sslServers and reactor.sslServers[0][0] == 8443
    assert notices and notices[0].startswith("WebSocket TLS port 8443 open; certificate fingerprint ")


def test_start_up_opens_websocket(tmp_path, monkeypatch) -> None:
    """A config with the WebSocket listener enabled opens it at start-up."""
    import signal

    from conferenceroom.admin import LoadedConfig
    from conferenceroom.service import ConferenceRoomService
    from tests.helpers import make_settings

    monkeypatch.setattr(signal, "signal", lambda *a: None)
    settings = replace(make_settings(), config_dir=str(tmp_path), bindip="127.0.0.1", ports=(7000,),
                       websocket=WebSocketSettings(enabled=True, port=8067))
    svc = ConferenceRoomService(LoadedConfig(settings, str(tmp_path / "c.conf")), MemoryReactorClock())
    svc.startService()
    [listener] = ws_listeners(svc)
    assert listener.listening is not None and listener.port == 8067
