"""The service: listeners follow the settings by difference, not by restart."""

import signal
from dataclasses import replace

from twisted.internet.error import CannotListenError
from twisted.internet.testing import MemoryReactorClock

from conferenceroom.admin import LoadedConfig
from conferenceroom.service import ConferenceRoomService, Listener
from tests.helpers import make_settings


class BusyPortReactor(MemoryReactorClock):
    """A memory reactor on which some ports are already taken."""

    def __init__(self, busy: set[int]) -> None:
        super().__init__()
        self.busy = busy

    def listenTCP(self, port, factory, backlog=50, interface=""):  # type: ignore[no-untyped-def]
        if port in self.busy:
            raise CannotListenError(interface, port, OSError(98, "Address already in use"))
        return super().listenTCP(port, factory, backlog, interface)


def start(tmp_path, monkeypatch, reactor: MemoryReactorClock, ports: tuple[int, ...]) -> ConferenceRoomService:
    """A started service with ``ports`` on ``reactor``."""
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    settings = replace(make_settings(), config_dir=str(tmp_path), bindip="127.0.0.1", ports=ports)
    svc = ConferenceRoomService(LoadedConfig(settings, str(tmp_path / "c.conf")), reactor)
    svc.startService()
    return svc


def listeners(svc: ConferenceRoomService) -> dict[int, Listener]:
    """The service's client listeners by port."""
    return {child.port: child for child in svc if isinstance(child, Listener)}


def test_changing_ports_keeps_unchanged_listeners(tmp_path, monkeypatch) -> None:
    """Adding and removing a port leaves the other listener the very same object."""
    svc = start(tmp_path, monkeypatch, MemoryReactorClock(), (7000, 7001))
    before = listeners(svc)
    changes = svc.reconfigure(replace(svc.settings, ports=(7000, 7002)))
    after = listeners(svc)
    assert after[7000] is before[7000]
    assert set(after) == {7000, 7002}
    assert "closed port 7001" in changes and "opened port 7002" in changes


def test_busy_port_is_reported_and_retried(tmp_path, monkeypatch) -> None:
    """A port that cannot be bound is reported as such and tried again next time."""
    reactor = BusyPortReactor({7005})
    svc = start(tmp_path, monkeypatch, reactor, (7000,))
    changes = svc.reconfigure(replace(svc.settings, ports=(7000, 7005)))
    assert any(c.startswith("could not open port 7005") for c in changes)
    assert listeners(svc)[7005].listening is None
    reactor.busy.clear()
    changes = svc.reconfigure(replace(svc.settings, description="same ports, retry"))
    assert "opened port 7005" in changes
    assert listeners(svc)[7005].listening is not None
