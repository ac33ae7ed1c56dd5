"""Tests for the SSH manhole: who may log in, what the prompt sees, and how
the service opens, keeps, moves and closes it."""

from __future__ import annotations

import os
import signal
import stat
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from twisted.conch import error as conch_error
from twisted.conch.ssh import keys
from twisted.cred.credentials import IUsernamePassword, SSHPrivateKey, UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import defer, task
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python.failure import Failure

from conferenceroom.admin import LoadedConfig, Settings
from conferenceroom.admin.settings import ManholeSettings
from conferenceroom.manhole import (
    MANHOLE_HOST, ManholeChecker, ManholeService, PeerPassword, host_key_path, load_or_create_host_key,
    make_namespace, summary,
)
from conferenceroom.operauth import OperAuthenticator
from conferenceroom.passwords import hash_password
from conferenceroom.service import ConferenceRoomService
from tests.helpers import feed, make_core, make_settings, register

HASH = hash_password("adminpass", rounds=4)

SETTINGS = Settings().apply([
    f"oper admin add {HASH} ac",
    f"oper helper add {HASH} h",
    f"oper retired add {HASH} ad",
])


def result_of(d: defer.Deferred) -> Any:
    """The result a Deferred has already fired with (a Failure on error)."""
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, "the Deferred has not fired"
    return box[0]


@pytest.fixture
def logged():
    """Collect the text of every log event emitted during the test."""
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    yield lambda: [formatEvent(e) for e in events]
    globalLogPublisher.removeObserver(events.append)


def checker(settings: Settings = SETTINGS, run: Any = defer.maybeDeferred, notes: list | None = None) -> ManholeChecker:
    """A checker over *settings* that runs blocking work synchronously (on a task.Clock)."""
    get = settings if callable(settings) and not isinstance(settings, Settings) else (lambda: settings)
    clock = task.Clock()
    auth = OperAuthenticator(clock, get, run)
    return ManholeChecker(auth, get, defer.maybeDeferred, None if notes is None else notes.append)


def login(check: ManholeChecker, user: bytes, password: bytes, peer: str = "127.0.0.1") -> Any:
    """Try a password login from *peer*; the avatar id or a Failure."""
    return result_of(check.requestAvatarId(PeerPassword(user, password, peer)))


def refused(result: Any) -> str:
    """The reason of an UnauthorizedLogin failure (asserting it is one)."""
    assert isinstance(result, Failure), result
    assert result.check(UnauthorizedLogin), result
    return result.getErrorMessage()


# -- passwords -------------------------------------------------------------


def test_admin_oper_with_right_password_is_accepted(logged):
    """An oper with flag a logs in with its oper password, and it is logged."""
    assert login(checker(), b"admin", b"adminpass") == b"admin"
    assert "manhole login accepted for 'admin': password of admin oper admin from 127.0.0.1" in logged()


def test_oper_name_is_case_insensitive():
    """The user name matches the oper entry as oper names do (case-insensitively)."""
    assert login(checker(), b"ADMIN", b"adminpass") == b"ADMIN"


def test_wrong_password_is_refused(logged):
    """A wrong password is refused with the reason logged."""
    assert refused(login(checker(), b"admin", b"nope")) == "wrong password"
    assert "manhole login refused for 'admin' (password): wrong password" in logged()


def test_unknown_user_is_refused(logged):
    """A name with no oper entry is refused."""
    assert refused(login(checker(), b"mallory", b"adminpass")) == "no such operator name"
    assert any("refused for 'mallory'" in line for line in logged())


def test_non_admin_oper_is_refused(logged):
    """An oper without flag a is refused even with the right password."""
    reason = refused(login(checker(), b"helper", b"adminpass"))
    assert reason == "operator entry lacks flag a"
    assert any("refused for 'helper'" in line and "flag a" in line for line in logged())


def test_disabled_oper_is_refused():
    """An admin oper carrying flag d (disabled) is refused."""
    assert refused(login(checker(), b"retired", b"adminpass")) == "operator entry is disabled (flag d)"


def test_disabled_oper_with_wrong_password_says_wrong_password():
    """The password is judged first, so a wrong password never reveals the flags."""
    assert refused(login(checker(), b"retired", b"nope")) == "wrong password"


def test_non_utf8_password_is_refused():
    """Bytes that are not UTF-8 never match a password."""
    assert refused(login(checker(), b"admin", b"\xff\xfe")) == "wrong password"


def test_settings_are_read_at_login_time():
    """The checker uses the settings in force when the login happens."""
    current = {"s": Settings()}
    check = checker(lambda: current["s"])
    refused(login(check, b"admin", b"adminpass"))
    current["s"] = SETTINGS
    assert login(check, b"admin", b"adminpass") == b"admin"


def test_password_is_verified_through_the_blocking_runner():
    """bcrypt runs through the injected off-thread runner, not inline."""
    calls = []

    def runner(f, *args):
        calls.append(f.__name__)
        return defer.maybeDeferred(f, *args)

    check = checker(run=runner)
    assert login(check, b"admin", b"adminpass") == b"admin"
    assert calls == ["check_password"]


# -- public keys -------------------------------------------------------------


def new_key() -> keys.Key:
    """A fresh Ed25519 private key."""
    return keys.Key(ed25519.Ed25519PrivateKey.generate())


def key_settings(tmp_path, *listed: keys.Key, name: str = "manhole_keys") -> Settings:
    """Settings whose authorized_keys file (relative to the config folder) lists *listed*."""
    lines = [k.public().toString("openssh") + b" someone@example" for k in listed]
    (tmp_path / name).write_bytes(b"# manhole keys\nnot a key\n\n" + b"\n".join(lines) + b"\n")
    return replace(SETTINGS, config_dir=str(tmp_path), manhole=ManholeSettings(authorized_keys=name))


def key_login(check: ManholeChecker, key: keys.Key, signer: keys.Key | None = None, sign: bool = True) -> Any:
    """Try a public-key login offering *key*, signed by *signer* (default: the key itself)."""
    data = b"session id and request"
    signature = (signer or key).sign(data) if sign else None
    creds = SSHPrivateKey(b"anyone", b"ssh-ed25519", key.public().blob(), data, signature)
    return result_of(check.requestAvatarId(creds))


def test_listed_key_is_accepted(tmp_path, logged):
    """A key listed in the authorized_keys file, correctly signed, logs in."""
    key = new_key()
    assert key_login(checker(key_settings(tmp_path, new_key(), key)), key) == b"anyone"
    assert any("manhole login accepted for 'anyone': public key SHA256:" in line for line in logged())


def test_listed_key_probe_is_answered_valid(tmp_path):
    """An unsigned offer of a listed key gets ValidPublicKey (the client then signs)."""
    key = new_key()
    result = key_login(checker(key_settings(tmp_path, key)), key, sign=False)
    assert isinstance(result, Failure) and result.check(conch_error.ValidPublicKey)


def test_unlisted_key_is_refused(tmp_path, logged):
    """A key not in the file is refused, naming its fingerprint and the file."""
    reason = refused(key_login(checker(key_settings(tmp_path, new_key())), new_key()))
    assert reason.startswith("key SHA256:") and reason.endswith(f"is not listed in {tmp_path / 'manhole_keys'}")
    assert any("refused for 'anyone' (publickey)" in line for line in logged())


def test_bad_signature_is_refused(tmp_path):
    """A listed key with a signature made by another key is refused."""
    key = new_key()
    assert refused(key_login(checker(key_settings(tmp_path, key)), key, signer=new_key())).startswith("bad signature")


def test_key_logins_off_without_keys_file():
    """Without GENERAL SET MANHOLEKEYS no key is accepted."""
    key = new_key()
    assert "key logins are off" in refused(key_login(checker(), key))


def test_missing_keys_file_is_refused(tmp_path):
    """A keys file that cannot be read refuses key logins and says why."""
    settings = replace(SETTINGS, config_dir=str(tmp_path), manhole=ManholeSettings(authorized_keys="absent"))
    assert refused(key_login(checker(settings), new_key())).startswith(f"cannot read {tmp_path / 'absent'}")


# -- host key ----------------------------------------------------------------


def test_host_key_generated_once_with_private_mode(tmp_path):
    """The host key is made on first use in a new data folder, mode 0600, then reused."""
    path = host_key_path(str(tmp_path / "data"))
    first = load_or_create_host_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert first.type() == "Ed25519" and first.isPublic() is False
    assert load_or_create_host_key(path) == first


# -- namespace ---------------------------------------------------------------


def test_namespace_names_and_live_settings():
    """The prompt sees network, router, core, service, show and the current settings."""
    core = make_core(make_settings())
    ns = make_namespace(core, "the-service")
    assert ns["network"] is core.network and ns["router"] is core.router and ns["core"] is core
    assert ns["service"] == "the-service"
    assert ns["settings"].name == "test.local"
    core.apply_settings(replace(core.settings, description="Changed"))
    assert ns["settings"].description == "Changed"
    assert ns["settings"]() is core.settings


def test_summary_lists_servers_users_channels():
    """show() summarises servers, users and channels."""
    core = make_core(make_settings())
    conn = register(core, "alice")
    feed(conn, "JOIN #room")
    lines = summary(core)
    assert lines[1] == "1 server(s):"
    assert any(line.startswith("  test.local [") for line in lines)
    assert "1 user(s), 1 local:" in lines
    assert any(line.startswith("  alice!") for line in lines)
    assert "1 channel(s):" in lines
    assert any(line.startswith("  #room 1 member(s)") for line in lines)


# -- the service -------------------------------------------------------------


def build_service(tmp_path, monkeypatch, manhole: ManholeSettings) -> tuple[ConferenceRoomService, MemoryReactorClock]:
    """A started server on a memory reactor with the given manhole settings."""
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    settings = replace(make_settings(), config_dir=str(tmp_path), bindip="", ports=(6667,),
                       manhole=manhole)
    reactor = MemoryReactorClock()
    svc = ConferenceRoomService(LoadedConfig(settings, str(tmp_path / "c.conf")), reactor)
    svc.startService()
    return svc, reactor


def manholes(svc: ConferenceRoomService) -> list[ManholeService]:
    """The manhole children of *svc*."""
    return [child for child in svc if isinstance(child, ManholeService)]


def listening_on(reactor: MemoryReactorClock) -> list[tuple[str, int]]:
    """(interface, port) of every TCP listen the reactor was asked for, in order."""
    return [(interface, port) for port, _factory, _backlog, interface in reactor.tcpServers]


def test_manhole_off_by_default(tmp_path, monkeypatch):
    """With default settings no manhole is started."""
    svc, reactor = build_service(tmp_path, monkeypatch, ManholeSettings())
    assert manholes(svc) == []
    assert all(port != 6022 for _, port in listening_on(reactor))


def test_manhole_listens_on_loopback_only(tmp_path, monkeypatch):
    """An enabled manhole listens on 127.0.0.1 even when clients listen everywhere."""
    svc, reactor = build_service(tmp_path, monkeypatch, ManholeSettings(enabled=True, port=7022))
    assert (MANHOLE_HOST, 7022) in listening_on(reactor)
    assert ("", 6667) in listening_on(reactor)
    assert os.path.exists(tmp_path / "data" / "manhole_host_ed25519")


def test_reconfigure_keeps_moves_and_closes_manhole(tmp_path, monkeypatch):
    """Live changes: unchanged keeps the object, a new port moves it, off closes it."""
    svc, reactor = build_service(tmp_path, monkeypatch, ManholeSettings(enabled=True, port=7022))
    [first] = manholes(svc)
    same = svc.reconfigure(replace(svc.settings, description="Other", manhole=ManholeSettings(True, 7022, "keys")))
    assert same == [] and manholes(svc) == [first]
    moved = svc.reconfigure(replace(svc.settings, manhole=ManholeSettings(True, 7023)))
    assert moved == ["closed the manhole on 127.0.0.1:7022", "opened the manhole on 127.0.0.1:7023"]
    [second] = manholes(svc)
    assert second is not first and not first.running and second.running
    assert listening_on(reactor)[-1] == (MANHOLE_HOST, 7023)
    closed = svc.reconfigure(replace(svc.settings, manhole=ManholeSettings(False, 7023)))
    assert closed == ["closed the manhole on 127.0.0.1:7023"] and manholes(svc) == []
    opened = svc.reconfigure(replace(svc.settings, manhole=ManholeSettings(True, 7023)))
    assert opened == ["opened the manhole on 127.0.0.1:7023"] and len(manholes(svc)) == 1


# -- the rules of OPER, cap and deadline ---------------------------------------


def test_access_masks_match_login_name_at_client_address(logged):
    """An admin entry with access masks is refused from an address they do
    not cover (user@host with the login name as user), like OPER."""
    settings = Settings().apply([f"oper admin add {HASH} a", "oper admin access add admin@10.1.2.*"])
    assert refused(login(checker(settings), b"admin", b"adminpass")) == \
        "host does not match the operator entry"
    assert login(checker(settings), b"admin", b"adminpass", peer="10.1.2.3") == b"admin"
    other = Settings().apply([f"oper admin add {HASH} a", "oper admin access add root@127.0.0.1"])
    assert refused(login(checker(other), b"admin", b"adminpass")) == "host does not match the operator entry"


def test_refused_login_is_noticed_to_opers():
    """A refused password login tells operators (with +s) who tried, from where and why."""
    notes: list[str] = []
    refused(login(checker(notes=notes), b"admin", b"nope"))
    assert notes == ["Failed manhole login as admin from 127.0.0.1: wrong password"]


def test_manhole_and_oper_share_back_off():
    """Failed OPERs from an address slow down manhole logins from it (one
    back-off for both: a login during it is refused when the wait is over, unchecked),
    and the manhole factory uses the server's authenticator."""
    from conferenceroom import operauth
    from conferenceroom.manhole import make_factory

    core = make_core(make_settings(opers=SETTINGS.opers))
    core.check_password = defer.maybeDeferred
    conn = register(core, "guesser")
    for i in range(operauth.FREE_ATTEMPTS):
        feed(conn, f"OPER x{i} wrong")
    factory = make_factory(core, None, new_key())
    check = factory.portal.checkers[IUsernamePassword]
    d = check.requestAvatarId(PeerPassword(b"admin", b"adminpass", "127.0.0.1"))
    box: list[Any] = []
    d.addBoth(box.append)
    assert box == []
    core.clock.advance(operauth.BASE_DELAY)
    assert len(box) == 1 and isinstance(box[0], Failure)
    again = check.requestAvatarId(PeerPassword(b"admin", b"adminpass", "127.0.0.1"))
    again.addBoth(box.append)
    assert box[1:] == [b"admin"]


def _factory(clock: Any) -> Any:
    from conferenceroom.manhole import ManholeFactory
    from twisted.cred import portal as cred_portal

    factory = ManholeFactory(cred_portal.Portal(None, []), new_key(), clock)
    factory.doStart()
    return factory


def test_connection_cap():
    """Past MAX_SESSIONS open connections a new one is refused (no protocol);
    once one closes, a new one is accepted again."""
    from twisted.internet.address import IPv4Address
    from twisted.internet.testing import StringTransport
    from conferenceroom.manhole import MAX_SESSIONS

    clock = task.Clock()
    factory = _factory(clock)
    addr = IPv4Address("TCP", "127.0.0.1", 50000)
    protos = [factory.buildProtocol(addr) for _ in range(MAX_SESSIONS)]
    assert all(p is not None for p in protos)
    assert factory.buildProtocol(addr) is None
    protos[0].makeConnection(StringTransport())
    protos[0].connectionLost(Failure(Exception("gone")))
    assert factory.buildProtocol(addr) is not None


def test_connection_without_login_is_closed_after_the_timeout():
    """A connection that has not logged in within LOGIN_TIMEOUT seconds is closed."""
    from twisted.internet.address import IPv4Address
    from twisted.internet.testing import StringTransport
    from conferenceroom.manhole import LOGIN_TIMEOUT

    clock = task.Clock()
    factory = _factory(clock)
    proto = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
    transport = StringTransport()
    proto.makeConnection(transport)
    clock.advance(LOGIN_TIMEOUT - 1)
    assert not transport.disconnecting
    clock.advance(1)
    assert transport.disconnecting
    assert LOGIN_TIMEOUT <= 30


def test_user_auth_is_short_and_carries_the_address():
    """The SSH user-auth service of the manhole times out in LOGIN_TIMEOUT
    seconds on the server's clock and passes the client address with the password."""
    from twisted.conch.ssh.common import NS
    from conferenceroom.manhole import LOGIN_TIMEOUT

    clock = task.Clock()
    factory = _factory(clock)
    auth = factory.getService(None, b"ssh-userauth")()
    assert auth.loginTimeout == LOGIN_TIMEOUT and auth.clock is clock
    seen = []

    class Portal:
        def login(self, creds, mind, *ifaces):
            seen.append((creds.username, creds.password, creds.peer))
            return defer.fail(UnauthorizedLogin("no"))

    class Transport:
        class transport:
            @staticmethod
            def getPeer():
                from twisted.internet.address import IPv4Address
                return IPv4Address("TCP", "127.0.0.5", 1234)

    auth.portal, auth.transport, auth.user = Portal(), Transport(), b"admin"
    auth.auth_password(b"\x00" + NS(b"secret")).addErrback(lambda f: None)
    assert seen == [(b"admin", b"secret", "127.0.0.5")]


def test_password_pool_runs_with_the_service(tmp_path, monkeypatch):
    """The server's password pool (OPER and manhole logins) is a child service
    of its own: started with the server with at most 2 threads, and its
    threads stopped when the server stops."""
    from conferenceroom.passwords import POOL_THREADS

    svc, _ = build_service(tmp_path, monkeypatch, ManholeSettings())
    pool = svc.getServiceNamed("password-pool")
    assert pool is svc.core.password_pool and pool.running
    assert pool.pool.started and pool.pool.max == POOL_THREADS == 2
    svc.stopService()
    assert not pool.running and pool.pool.joined
