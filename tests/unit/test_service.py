"""The service: listeners follow the settings by difference, not by restart."""

import signal
from dataclasses import replace
from typing import Any

import pytest

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


def test_sighup_during_an_as_command_waits_for_it(tmp_path, monkeypatch) -> None:
    """A SIGHUP that arrives while an AS command is being applied and saved
    re-reads the file only once that command is done: the change is neither
    undone in memory by the old file nor left different from the file, and
    the operator sees the AS reply before the REHASH report."""
    from twisted.internet import defer

    from conferenceroom.admin import load_config
    from tests.helpers import feed, make_oper, register, sent

    monkeypatch.setattr(signal, "signal", lambda *a: None)
    path = tmp_path / "c.conf"
    path.write_text("general set name test.local\ngeneral set ports 7000\ngeneral set bindip 127.0.0.1\n"
                    "general set description Before\n" f"oper admin add $2b$04${'a' * 53} a\n")
    svc = ConferenceRoomService(load_config(str(path)), MemoryReactorClock())
    svc.startService()
    pending: list[tuple[defer.Deferred, Any]] = []

    def later(f, *args, **kw):  # type: ignore[no-untyped-def]
        d: defer.Deferred = defer.Deferred()
        pending.append((d, lambda: f(*args, **kw)))
        return d

    def finish_one() -> None:
        d, work = pending.pop(0)
        d.callback(work())

    svc.core.defer_to_thread = later
    conn = register(svc.core, "alice")
    make_oper(conn, "a")
    feed(conn, "AS general set description During")
    finish_one()  # the command is parsed and applied; now it is being saved
    svc._rehash_from_signal()
    while pending:
        finish_one()
    assert svc.settings.description == "During"
    assert load_config(str(path)).settings.description == "During"
    notices = [m.params[-1] for m in sent(conn) if m.command == "NOTICE"]
    assert notices[0] == "Description set to During"
    assert notices[-1].endswith("REHASH (SIGHUP): nothing changed")


def test_file_that_cannot_be_rewritten_is_a_warning(tmp_path, monkeypatch) -> None:
    """A config line that asks for the file to be rewritten (a ban duration
    turned into an expiry time; a plain-text password hashed) in a file the
    server cannot write is a warning, at start-up and on REHASH: the server
    starts, the REHASH is done and reports why the file was left as it is."""
    import conferenceroom.admin.configfile as configfile_module
    from conferenceroom.admin import load_config

    def cannot_write(*args, **kw):  # type: ignore[no-untyped-def]
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(signal, "signal", lambda *a: None)
    monkeypatch.setattr(configfile_module, "write_atomically", cannot_write)
    path = tmp_path / "c.conf"
    path.write_text("general set name test.local\ngeneral set ports 7000\ngeneral set bindip 127.0.0.1\n"
                    "security kline add *@spam.example 1h spam\n")
    reactor = MemoryReactorClock()
    svc = ConferenceRoomService(load_config(str(path), now=reactor.seconds()), reactor)
    svc.startService()
    assert svc.running and [e.mask for e in svc.settings.klines] == ["*@spam.example"]
    path.write_text(path.read_text() + "general set description Edited\n")
    report = svc.rehash()
    assert svc.settings.description == "Edited"
    assert any("cannot rewrite" in w and "Permission denied" in w for w in report.warnings)


def _oper_settings(svc: ConferenceRoomService, **opers: str) -> Any:
    """``svc``'s settings with exactly the oper entries ``name=flags``."""
    from conferenceroom.admin.settings import FrozenMap, OperEntry

    hashed = "$2b$04$" + "a" * 53
    return replace(svc.settings, opers=FrozenMap(
        {name: OperEntry(name, hashed, frozenset(flags)) for name, flags in opers.items()}))


def test_oper_whose_entry_is_removed_or_disabled_loses_operator_status(tmp_path, monkeypatch) -> None:
    """Operator status comes from an oper entry: when AS or REHASH removes
    that entry or disables it (flag d), an operator already logged in with
    it is de-opered at once (MODE -o and a notice), so a compromised or
    retired account cannot keep using AS.  Other operators are left alone."""
    from tests.helpers import make_oper, register, sent

    svc = start(tmp_path, monkeypatch, MemoryReactorClock(), (7000,))
    svc.reconfigure(_oper_settings(svc, bob="ac", carol="a"))
    bob, carol = register(svc.core, "bob"), register(svc.core, "carol")
    make_oper(bob, "ac", name="bob")
    make_oper(carol, "a", name="carol")
    svc.reconfigure(_oper_settings(svc, bob="acd", carol="a"))
    assert not bob.user.is_oper and "o" not in bob.user.modes and not bob.user.has_oper_flag("ac")
    lines = [(m.command, m.params[-1]) for m in sent(bob)]
    assert ("MODE", "-oA") in lines
    assert ("NOTICE", "*** You are no longer an IRC operator: oper entry bob is disabled") in lines
    assert carol.user.is_oper and not sent(carol)
    svc.reconfigure(_oper_settings(svc, bob="acd"))
    assert not carol.user.is_oper
    assert [m.params[-1] for m in sent(carol) if m.command == "NOTICE"] == [
        "*** You are no longer an IRC operator: oper entry carol was removed"]


def test_tls_files_are_relative_to_the_config_file(tmp_path, monkeypatch) -> None:
    """``GENERAL SSL CERT``/``KEY`` given as relative paths are read beside
    the config file (like the MOTD and the data folder), whatever the
    server's working directory is."""
    import datetime

    from conferenceroom import tls
    from conferenceroom.admin import load_config

    made = tls.load_or_create("test.local", str(tmp_path / "certs"), None, None,
                              datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = tmp_path / "c.conf"
    path.write_text("general set name test.local\ngeneral set ports 7000\ngeneral set bindip 127.0.0.1\n"
                    "general ssl enable\ngeneral ssl port 7001\n"
                    f"general ssl cert certs/{tls.GENERATED_CERT}\ngeneral ssl key certs/{tls.GENERATED_KEY}\n")
    reactor = MemoryReactorClock()
    svc = ConferenceRoomService(load_config(str(path)), reactor)
    svc.startService()
    assert [port for port, *_ in reactor.sslServers] == [7001]
    assert svc.tls_fingerprint == made.fingerprint


def test_tls_files_can_be_cleared(tmp_path) -> None:
    """``GENERAL SSL CERT none`` (and KEY) go back to the generated self-signed pair."""
    from conferenceroom.admin import Settings, build_tree

    tree = build_tree(bcrypt_rounds=4)
    s = Settings().apply(["general ssl cert /etc/c.pem", "general ssl key /etc/k.pem"], tree=tree)
    s = s.apply(["general ssl cert none", "general ssl key none"], tree=tree)
    assert (s.ssl.cert, s.ssl.key) == (None, None)
    assert not [line for line in tree.write(s) if "ssl cert" in line or "ssl key" in line]


def test_motd_is_read_bounded_and_only_from_a_regular_file(tmp_path, monkeypatch) -> None:
    """The MOTD comes from a regular file, cut at 64 KiB; a directory gives no MOTD (422)."""
    (tmp_path / "motd.txt").write_text("line one\nline two\n" + "x" * 70000 + "\n")
    svc = start(tmp_path, monkeypatch, MemoryReactorClock(), (7000,))
    lines = svc.core.motd_lines
    assert lines[:2] == ["line one", "line two"]
    assert len("\n".join(lines).encode()) <= 64 * 1024
    (tmp_path / "motd.txt").unlink()
    (tmp_path / "motd.txt").mkdir()
    svc._load_motd()
    assert svc.core.motd_lines is None


def test_start_up_fails_when_no_client_port_opens(tmp_path, monkeypatch) -> None:
    """When every client port is taken, start-up stops with exit status 1 and a
    critical log line naming each port and why (twistd exits; systemd sees the failure)."""
    from twisted.logger import capturedLogs, formatEvent

    from conferenceroom.service import NoClientPort

    with capturedLogs() as events:
        with pytest.raises(NoClientPort) as raised:
            start(tmp_path, monkeypatch, BusyPortReactor({7000, 7001}), (7000, 7001))
    assert raised.value.code == 1
    critical = [formatEvent(e) for e in events if e["log_level"].name == "critical"]
    assert critical == [
        "no client port could be opened (port 7000 on 127.0.0.1: Address already in use;"
        " port 7001 on 127.0.0.1: Address already in use); stopping"
    ]


def test_start_up_with_no_ports_configured_fails(tmp_path, monkeypatch) -> None:
    """A config with no client port at all would serve nothing: start-up stops and says so."""
    from conferenceroom.service import NoClientPort

    with pytest.raises(NoClientPort) as raised:
        start(tmp_path, monkeypatch, MemoryReactorClock(), ())
    assert raised.value.code == 1
    assert raised.value.message == "no client port is configured (general set ports ...); stopping"


def test_start_up_continues_when_some_client_port_opens(tmp_path, monkeypatch) -> None:
    """One port taken, another free: the server runs on the free one and logs the other's failure."""
    from twisted.logger import capturedLogs, formatEvent

    with capturedLogs() as events:
        svc = start(tmp_path, monkeypatch, BusyPortReactor({7000}), (7000, 7001))
    assert svc.running
    assert listeners(svc)[7001].listening is not None
    errors = [formatEvent(e) for e in events if e["log_level"].name == "error"]
    assert any(line.startswith("cannot listen on 127.0.0.1:7000:") and "Address already in use" in line
               for line in errors)
    assert not [e for e in events if e["log_level"].name == "critical"]


def test_tap_builds_a_bounded_log_observer_from_twistd_options(tmp_path, monkeypatch) -> None:
    """``twistd --logfile F conferenceroom --log-size N --log-files K`` gives the service an observer
    writing F with those limits, which a twistd application adopts as its log observer (opening F
    at once and rotating it on SIGUSR1)."""
    handlers: dict[int, Any] = {}
    monkeypatch.setattr(signal, "signal", lambda signum, handler: handlers.__setitem__(signum, handler))
    from twisted.application.service import Application, IServiceCollection
    from twisted.logger import ILogObserver
    from twisted.scripts.twistd import ServerOptions

    from conferenceroom import tap

    path = tmp_path / "c.conf"
    path.write_text("general set name test.local\ngeneral set ports 7000\n")
    config = ServerOptions()
    config.parseOptions(["-n", "--logfile", str(tmp_path / "x.log"), "conferenceroom", "--config", str(path),
                         "--log-size", "2000", "--log-files", "3", "--log-level", "debug"])
    svc = tap.makeService(config.subOptions)
    observer = svc.log_observer
    assert (observer.options.path, observer.options.size, observer.options.files, observer.options.level) == (
        str(tmp_path / "x.log"), 2000, 3, "debug")
    application = Application("conferenceroom")
    svc.setServiceParent(application)
    assert application.getComponent(ILogObserver) is observer
    assert svc in list(IServiceCollection(application))
    assert (tmp_path / "x.log").exists() and signal.SIGUSR1 in handlers


def test_tap_leaves_syslog_to_twistd(tmp_path) -> None:
    """With ``--syslog`` twistd's own observer stays: the service offers none."""
    from twisted.scripts.twistd import ServerOptions

    from conferenceroom import tap

    path = tmp_path / "c.conf"
    path.write_text("general set name test.local\ngeneral set ports 7000\n")
    config = ServerOptions()
    config.parseOptions(["-n", "--syslog", "conferenceroom", "--config", str(path)])
    assert tap.makeService(config.subOptions).log_observer is None


def test_start_up_names_the_tls_port_too_when_nothing_opens(tmp_path, monkeypatch) -> None:
    """The plain port is taken and the TLS certificate cannot be read: start-up stops, naming both."""
    from conferenceroom.admin import load_config
    from conferenceroom.service import NoClientPort

    monkeypatch.setattr(signal, "signal", lambda *a: None)
    path = tmp_path / "c.conf"
    path.write_text("general set name test.local\ngeneral set ports 7000\ngeneral set bindip 127.0.0.1\n"
                    "general ssl enable\ngeneral ssl port 7001\n"
                    "general ssl cert missing.pem\ngeneral ssl key missing.key\n")
    svc = ConferenceRoomService(load_config(str(path)), BusyPortReactor({7000}))
    with pytest.raises(NoClientPort) as raised:
        svc.startService()
    assert raised.value.message.startswith(
        "no client port could be opened (port 7000 on 127.0.0.1: Address already in use; TLS port 7001: ")
    assert "missing.pem" in raised.value.message



def test_rehash_puts_a_renewed_certificate_in_force_without_closing_the_port(tmp_path, monkeypatch) -> None:
    """Certbot-style renewal (new contents, same paths) then REHASH: the TLS
    listener is the very same one (nobody dropped, the port never closes),
    new handshakes get the new certificate, and the report says so."""
    import datetime
    import shutil

    from conferenceroom import tls
    from conferenceroom.admin import load_config

    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    first = tls.load_or_create("test.local", str(tmp_path / "one"), None, None, when)
    second = tls.load_or_create("test.local", str(tmp_path / "two"), None, None, when)
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(first.cert_path, live / "cert.pem")
    shutil.copy(tmp_path / "one" / tls.GENERATED_KEY, live / "key.pem")
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    path = tmp_path / "c.conf"
    path.write_text("general set name test.local\ngeneral set ports 7000\ngeneral set bindip 127.0.0.1\n"
                    "general ssl enable\ngeneral ssl port 7001\n"
                    f"general ssl cert {live / 'cert.pem'}\ngeneral ssl key {live / 'key.pem'}\n")
    reactor = MemoryReactorClock()
    svc = ConferenceRoomService(load_config(str(path)), reactor)
    svc.startService()
    before = listeners(svc)[7001]
    assert fingerprint_served(before) == first.fingerprint
    shutil.copy(second.cert_path, live / "cert.pem")
    shutil.copy(tmp_path / "two" / tls.GENERATED_KEY, live / "key.pem")
    report = svc.rehash()
    assert "reloading the TLS certificate" in report.changes
    after = listeners(svc)[7001]
    assert after is before and after.listening is not None
    assert fingerprint_served(after) == second.fingerprint == svc.tls_fingerprint
    assert len(reactor.sslServers) == 1  # never listened again


def fingerprint_served(listener: Listener) -> str:
    """The SHA-256 fingerprint of the certificate a new handshake on ``listener`` would present."""
    from cryptography.hazmat.primitives import hashes

    cert = listener.tls.options.certificate.to_cryptography()
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
