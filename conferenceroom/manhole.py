# -*- test-case-name: tests.unit.test_manhole -*-
"""The SSH manhole: a Python prompt inside the running server.

``GENERAL SET MANHOLE on`` opens an SSH server on 127.0.0.1 (never another
address) at ``GENERAL SET MANHOLEPORT`` (6022).  Who may log in:

* an oper entry with flag ``a`` (and not ``d``) with its oper password,
  judged exactly like OPER (access masks against ``<name>@<client address>``,
  the same cost whatever is wrong, the same back-off);
* any public key listed in the ``GENERAL SET MANHOLEKEYS`` authorized_keys
  file (read at each login, so editing the file needs no rehash).

Every accepted and refused login is logged with the reason.  At most
MAX_SESSIONS connections are open at once, and a connection that has not
logged in within LOGIN_TIMEOUT seconds is closed.  The host key
(Ed25519) is generated on first use and kept in the data folder, mode 0600.

The prompt is Twisted's ``ColoredManhole``; its namespace holds ``network``,
``settings`` (always the snapshot in force), ``core``, ``router``,
``service`` and ``show()`` (a summary of servers, users and channels).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from twisted.application import service
from twisted.conch import error as conch_error
from twisted.conch import manhole_ssh
from twisted.conch.insults import insults
from twisted.conch.interfaces import IConchUser
from twisted.conch.manhole import ColoredManhole
from twisted.conch.ssh import keys, userauth
from twisted.conch.ssh.common import getNS
from twisted.conch.ssh.transport import SSHServerTransport
from twisted.cred import portal
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import ISSHPrivateKey, IUsernamePassword, UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import defer
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.logger import Logger
from zope.interface import implementer

from .atomicfile import write_atomically
from .operauth import LoginResult, OperAuthenticator, TryAgain

#: The only address the manhole ever listens on.
MANHOLE_HOST = "127.0.0.1"

#: Host key file name inside the data folder.
HOST_KEY_FILE = "manhole_host_ed25519"

#: SSH connections open at once (logged in or not); more are closed at once.
MAX_SESSIONS = 4

#: Seconds an SSH client has to log in, from the moment it connects.
LOGIN_TIMEOUT = 30

#: Failed logins on one connection before it is closed.
ATTEMPTS_PER_CONNECTION = 3

log = Logger(namespace="conferenceroom.manhole")


# --------------------------------------------------------------------------
# Host key and authorized keys (blocking: call through core.defer_to_thread).


def host_key_path(datadir: str) -> str:
    """Where the manhole host key lives inside *datadir*."""
    return os.path.join(datadir, HOST_KEY_FILE)


def load_or_create_host_key(path: str) -> keys.Key:
    """Load the Ed25519 host key at *path*, generating it (0600) on first use.

    The folder is created (0700) if missing.  Blocking.
    """
    if os.path.exists(path):
        return keys.Key.fromFile(path)
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    private = ed25519.Ed25519PrivateKey.generate()
    data = private.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
    write_atomically(path, data, 0o600)
    log.info("generated manhole host key {path}", path=path)
    return keys.Key.fromString(data)


def read_authorized_keys(path: str) -> list[keys.Key]:
    """The public keys listed in the authorized_keys file *path* (bad lines skipped). Blocking."""
    found = []
    with open(path, "rb") as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith(b"#"):
                continue
            try:
                found.append(keys.Key.fromString(line))
            except (keys.BadKeyError, ValueError):
                log.warn("{path}: skipped a line that is not a public key", path=path)
    return found


def keys_file(settings: Any) -> str | None:
    """The authorized_keys path of *settings*, relative to the config folder; None when unset."""
    path = settings.manhole.authorized_keys
    if path is None:
        return None
    if os.path.isabs(path) or not settings.config_dir:
        return path
    return os.path.normpath(os.path.join(settings.config_dir, path))


def fingerprint(key: keys.Key) -> str:
    """``SHA256:...`` fingerprint of *key*, as OpenSSH shows it."""
    return "SHA256:" + key.fingerprint(keys.FingerprintFormats.SHA256_BASE64).rstrip("=")


# --------------------------------------------------------------------------
# Who may log in.


def _text(value: bytes | str) -> str | None:
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


@implementer(IUsernamePassword)
class PeerPassword(UsernamePassword):
    """A user name and password, with the address of the SSH client that sent them."""

    def __init__(self, username: bytes, password: bytes, peer: str) -> None:
        super().__init__(username, password)
        self.peer = peer


@implementer(ICredentialsChecker)
class ManholeChecker:
    """Admin opers by password (the rules of OPER), or keys from the authorized_keys file.

    *auth* is the server's :class:`OperAuthenticator`, so a manhole login is
    judged exactly like OPER: flag ``a`` and not ``d``, the access masks
    matched against ``<login name>@<client address>``, one bcrypt check of
    the same cost whatever is wrong, and the same back-off per address and
    name.  *get_settings* returns the settings in force; *run_blocking*
    runs a function off the reactor thread (reading the keys file);
    *notify* tells operators with +s about a refused login.
    """

    credentialInterfaces = (IUsernamePassword, ISSHPrivateKey)

    def __init__(self, auth: OperAuthenticator, get_settings: Callable[[], Any],
                 run_blocking: Callable[..., defer.Deferred],
                 notify: Callable[[str], None] | None = None) -> None:
        self.auth = auth
        self.get_settings = get_settings
        self.run_blocking = run_blocking
        self.notify = notify

    def requestAvatarId(self, credentials: Any) -> defer.Deferred:
        """Fire with the user name (bytes), or fail with UnauthorizedLogin."""
        if ISSHPrivateKey.providedBy(credentials):
            return self._check_key(credentials)
        return self._check_password(credentials)

    # -- passwords ---------------------------------------------------------

    def _check_password(self, creds: Any) -> defer.Deferred:
        name = _text(creds.username)
        password = _text(creds.password)
        shown = name if name is not None else repr(creds.username)
        peer = getattr(creds, "peer", MANHOLE_HOST)
        # Undecodable bytes still cost a full check, then never match.
        d = self.auth.login(name or "", password or "", peer, (f"{name or ''}@{peer}",), secure=True, need="a")

        def decide(result: LoginResult) -> bytes:
            reason = result.reason
            if reason is None and password is None:
                reason = "wrong password"
            if reason is not None or result.entry is None:
                if self.notify is not None:
                    self.notify(f"Failed manhole login as {shown} from {peer}: {reason}")
                self._refuse(shown, "password", reason or "refused")
            assert result.entry is not None
            self._accept(shown, f"password of admin oper {result.entry.name} from {peer}")
            return creds.username

        def busy(failure: Any) -> None:
            failure.trap(TryAgain)
            self._refuse(shown, "password", "too many password checks pending")

        return d.addCallbacks(decide, busy)

    # -- public keys ------------------------------------------------------

    def _check_key(self, creds: Any) -> defer.Deferred:
        name = _text(creds.username) or repr(creds.username)
        path = keys_file(self.get_settings())
        if path is None:
            return defer.fail(self._refusal(name, "publickey", "key logins are off (GENERAL SET MANHOLEKEYS is not set)"))
        d = self.run_blocking(read_authorized_keys, path)

        def unreadable(failure: Any) -> None:
            failure.trap(OSError)
            self._refuse(name, "publickey", f"cannot read {path}: {failure.value.strerror}")

        def decide(authorized: list[keys.Key]) -> bytes:
            try:
                offered = keys.Key.fromString(creds.blob)
            except keys.BadKeyError:
                self._refuse(name, "publickey", "unreadable public key")
            if not any(key.blob() == creds.blob for key in authorized):
                self._refuse(name, "publickey", f"key {fingerprint(offered)} is not listed in {path}")
            if not creds.signature:
                raise conch_error.ValidPublicKey()  # the client's probe: "try this key"
            if not offered.verify(creds.signature, creds.sigData):
                self._refuse(name, "publickey", f"bad signature for key {fingerprint(offered)}")
            self._accept(name, f"public key {fingerprint(offered)} listed in {path}")
            return creds.username

        return d.addCallbacks(decide, unreadable)

    # -- logging -----------------------------------------------------------

    def _refusal(self, name: str, method: str, reason: str) -> UnauthorizedLogin:
        log.warn("manhole login refused for {user!r} ({method}): {reason}", user=name, method=method, reason=reason)
        return UnauthorizedLogin(reason)

    def _refuse(self, name: str, method: str, reason: str) -> None:
        raise self._refusal(name, method, reason)

    def _accept(self, name: str, how: str) -> None:
        log.info("manhole login accepted for {user!r}: {how}", user=name, how=how)


# --------------------------------------------------------------------------
# What the prompt sees.


class LiveSettings:
    """The settings snapshot in force, looked up at each use.

    ``settings.ports`` reads the current snapshot; ``settings()`` returns it.
    """

    def __init__(self, core: Any) -> None:
        self._core = core

    def __call__(self) -> Any:
        return self._core.settings

    def __getattr__(self, name: str) -> Any:
        return getattr(self._core.settings, name)

    def __repr__(self) -> str:
        return repr(self._core.settings)


def summary(core: Any) -> list[str]:
    """Lines describing the servers, users and channels *core* knows."""
    net = core.network
    up = int(core.clock.seconds() - core.boot_time)
    lines = [f"{net.me.name} ({net.me.role}), up {up // 86400}d {up % 86400 // 3600}h {up % 3600 // 60}m"]
    lines.append(f"{len(net.servers)} server(s):")
    for srv in sorted(net.servers.values(), key=lambda s: (s.hopcount, s.name)):
        via = "this server" if srv is net.me else f"hop {srv.hopcount}"
        lines.append(f"  {srv.name} [{srv.sid}] {len(srv.users)} user(s), {via}")
    local = len(net.me.users)
    lines.append(f"{len(net.users)} user(s), {local} local:")
    for user in sorted(net.users.values(), key=lambda u: u.nick.lower()):
        modes = "+" + "".join(sorted(user.modes)) if user.modes else ""
        lines.append(f"  {user.mask} on {user.server.name} {modes}".rstrip())
    lines.append(f"{len(net.channels)} channel(s):")
    for chan in sorted(net.channels.values(), key=lambda c: c.name.lower()):
        topic = f" topic {chan.topic!r}" if chan.topic else ""
        lines.append(f"  {chan.name} {len(chan.members)} member(s) {' '.join(chan.mode_string(False))}{topic}")
    return lines


def make_namespace(core: Any, owner: Any) -> dict[str, Any]:
    """The names a manhole session starts with."""

    def show() -> None:
        """Print a summary of servers, users and channels."""
        print("\n".join(summary(core)))

    return {
        "network": core.network,
        "settings": LiveSettings(core),
        "core": core,
        "router": core.router,
        "service": owner,
        "show": show,
    }


class _Session(manhole_ssh.TerminalSession):
    """A terminal session that follows window resizes and closes on EOF."""

    width, height = 80, 24
    _shell: tuple[Any, Any] | None = None

    def getPty(self, term: bytes, windowSize: Any, attrs: Any) -> None:
        """Remember the terminal size the client asked for."""
        rows, cols = windowSize[:2]
        self.height, self.width = rows or 24, cols or 80

    def openShell(self, proto: Any) -> None:
        """Start the Python shell at the remembered size."""
        chained = self.chainedProtocolFactory()
        self.transportFactory(proto, chained, IConchUser(self.original), self.width, self.height)
        self._shell = (proto, chained)

    def windowChanged(self, newWindowSize: Any) -> None:
        """Tell the running shell the new terminal size."""
        rows, cols = newWindowSize[:2]
        self.height, self.width = rows or 24, cols or 80
        if self._shell is not None:
            self._shell[1].terminalProtocol.terminalSize(self.width, self.height)

    def eofReceived(self) -> None:
        """Close the connection when the client sends EOF."""
        if self._shell is not None:
            self._shell[0].loseConnection()


class _Realm(manhole_ssh.TerminalRealm):
    """The terminal realm, with sessions that follow resizes and EOF."""

    sessionFactory = _Session


class _UserAuth(userauth.SSHUserAuthServer):
    """User authentication with a short timeout and few attempts; password
    credentials carry the client's address (matched against access masks)."""

    loginTimeout = LOGIN_TIMEOUT
    attemptsBeforeDisconnect = ATTEMPTS_PER_CONNECTION

    def auth_password(self, packet: bytes) -> defer.Deferred:
        """Check a password login through the portal, with the client's address."""
        password = getNS(packet[1:])[0]
        peer = getattr(self.transport.transport.getPeer(), "host", MANHOLE_HOST)
        creds = PeerPassword(self.user, password, peer)
        return self.portal.login(creds, None, IConchUser).addErrback(self._ebPassword)


class _Transport(SSHServerTransport):
    """The SSH transport of one manhole connection; the factory counts it until it closes."""

    def connectionLost(self, reason: Any) -> None:
        """Forget this connection and stop its login timer."""
        self.factory.forget(self)
        super().connectionLost(reason)


class ManholeFactory(manhole_ssh.ConchFactory):
    """A ConchFactory with its own host keys, a cap on connections and a login deadline."""

    protocol = _Transport

    def __init__(self, portal_: portal.Portal, host_key: keys.Key, clock: Any) -> None:
        super().__init__(portal_)
        self.publicKeys = {b"ssh-ed25519": host_key.public()}
        self.privateKeys = {b"ssh-ed25519": host_key}
        self.clock = clock
        self.connections: dict[Any, Any] = {}  # transport -> its login deadline timer

    def getService(self, transport: Any, service: bytes) -> Any:
        """The SSH service class, user authentication made on our clock."""
        found = super().getService(transport, service)
        if found is userauth.SSHUserAuthServer or service == b"ssh-userauth":

            def build() -> _UserAuth:
                auth = _UserAuth()
                auth.clock = self.clock
                return auth

            return build
        return found

    def buildProtocol(self, addr: Any) -> Any:
        """A transport for a new connection, or None (closed at once) past MAX_SESSIONS."""
        if len(self.connections) >= MAX_SESSIONS:
            log.warn("manhole connection from {host} refused: {n} connections already open",
                     host=getattr(addr, "host", "?"), n=len(self.connections))
            return None
        proto = super().buildProtocol(addr)
        self.connections[proto] = self.clock.callLater(LOGIN_TIMEOUT, self._deadline, proto, addr)
        return proto

    def _deadline(self, proto: Any, addr: Any) -> None:
        """Close a connection that has not logged in within LOGIN_TIMEOUT seconds."""
        self.connections[proto] = None
        if getattr(getattr(proto, "service", None), "name", None) == b"ssh-connection":
            return
        log.warn("manhole connection from {host} closed: no login within {n} seconds",
                 host=getattr(addr, "host", "?"), n=LOGIN_TIMEOUT)
        if proto.transport is not None:
            proto.transport.loseConnection()

    def forget(self, proto: Any) -> None:
        """``proto`` closed: stop counting it."""
        timer = self.connections.pop(proto, None)
        if timer is not None and timer.active():
            timer.cancel()


def make_factory(core: Any, owner: Any, host_key: keys.Key) -> ManholeFactory:
    """The SSH factory of a manhole for *core*, with *host_key*."""
    realm = _Realm()
    namespace = make_namespace(core, owner)
    realm.chainedProtocolFactory = lambda: insults.ServerProtocol(ColoredManhole, namespace)
    checker = ManholeChecker(core.oper_auth, lambda: core.settings, core.defer_to_thread, core.notice_opers)
    return ManholeFactory(portal.Portal(realm, [checker]), host_key, core.clock)


# --------------------------------------------------------------------------
# The service.


class ManholeService(service.Service):
    """The manhole listener on 127.0.0.1:*port*; a child of the server's service."""

    def __init__(self, core: Any, owner: Any, port: int, reactor: Any) -> None:
        self.core = core
        self.owner = owner
        self.port = port
        self.reactor = reactor
        self.name = f"manhole:{MANHOLE_HOST}:{port}"
        self.factory: ManholeFactory | None = None
        self.listening: Any = None
        self.ready: defer.Deferred | None = None

    def startService(self) -> None:
        """Load or make the host key off the reactor thread, then listen."""
        super().startService()
        path = host_key_path(self.core.settings.datadir_path(self.core.config_path))
        self.ready = self.core.defer_to_thread(load_or_create_host_key, path)
        self.ready.addCallback(self._listen)
        self.ready.addErrback(self._failed)

    def _listen(self, host_key: keys.Key) -> Any:
        if not self.running:
            return None
        self.factory = make_factory(self.core, self.owner, host_key)
        endpoint = TCP4ServerEndpoint(self.reactor, self.port, interface=MANHOLE_HOST)
        return endpoint.listen(self.factory).addCallback(self._listening, host_key)

    def _listening(self, port: Any, host_key: keys.Key) -> None:
        if not self.running:
            port.stopListening()
            return
        self.listening = port
        log.info("manhole listening on {host}:{port} (SSH host key {fp})",
                 host=MANHOLE_HOST, port=self.port, fp=fingerprint(host_key))

    def _failed(self, failure: Any) -> None:
        log.error("manhole cannot start on {host}:{port}: {why}",
                  host=MANHOLE_HOST, port=self.port, why=failure.getErrorMessage())

    def stopService(self) -> Any:
        """Stop listening and close open manhole sessions."""
        super().stopService()
        if self.factory is not None:
            for conn in list(self.factory.connections):
                self.factory.forget(conn)
                if conn.transport is not None:
                    conn.transport.loseConnection()
        if self.listening is not None:
            port, self.listening = self.listening, None
            log.info("manhole closed on {host}:{port}", host=MANHOLE_HOST, port=self.port)
            return defer.maybeDeferred(port.stopListening)
        return None
