# -*- test-case-name: tests.unit.test_admin_tree -*-
"""The server's settings: one immutable, typed, comparable snapshot.

Nothing here parses commands: the admin tree (``tree.py`` and
``families/``) turns ``AS`` commands into new snapshots.  A snapshot is never
changed in place; every change produces a new :class:`Settings`.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Iterator, Mapping, TypeVar

from conferenceroom.casemap import fold, ip_matches, match as mask_match

#: Oper flags and what they mean (ConferenceRoom letters).
OPER_FLAGS: Mapping[str, str] = {
    "a": "server administrator",
    "c": "configuration access",
    "d": "disabled",
    "e": "requires TLS",
    "g": "global operator",
    "h": "helper",
    "s": "services administrator",
}

_K = TypeVar("_K")
_V = TypeVar("_V")

fold_name = fold  # oper names are keyed by their rfc1459-folded form


def unmapped_ip(ip: str) -> str:
    """*ip*, or the IPv4 address inside an IPv4-mapped IPv6 one (``::ffff:192.0.2.5``).

    A listener bound to ``::`` sees IPv4 clients that way; bans and trigger
    exceptions written for IPv4 must still apply to them.
    """
    if ip[:7].lower() != "::ffff:":
        return ip
    try:
        mapped = ipaddress.IPv6Address(ip).ipv4_mapped
    except ValueError:
        return ip
    return ip if mapped is None else str(mapped)


class FrozenMap(Mapping[_K, _V]):
    """A small immutable, hashable mapping; equal when items are equal."""

    __slots__ = ("_data", "_hash")

    def __init__(self, items: Iterable[tuple[_K, _V]] | Mapping[_K, _V] = ()):
        if isinstance(items, Mapping):
            items = items.items()
        self._data: dict[_K, _V] = dict(items)
        self._hash: int | None = None

    def __getitem__(self, key: _K) -> _V:
        return self._data[key]

    def __iter__(self) -> Iterator[_K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def set(self, key: _K, value: _V) -> "FrozenMap[_K, _V]":
        """Return a copy with *key* set to *value*."""
        data = dict(self._data)
        data[key] = value
        return FrozenMap(data)

    def remove(self, key: _K) -> "FrozenMap[_K, _V]":
        """Return a copy without *key* (KeyError if absent)."""
        data = dict(self._data)
        del data[key]
        return FrozenMap(data)


@dataclass(frozen=True)
class SSLSettings:
    """The client TLS listener."""

    enabled: bool = False
    port: int = 994
    cert: str | None = None
    key: str | None = None
    #: advertise the IRCv3 ``sts`` policy: plain clients move to ``port``, TLS clients keep to TLS
    sts: bool = False
    #: seconds a client keeps to TLS after seeing the policy (0: forget it)
    sts_duration: int = 86400
    #: CAs for secure links without a pin (None: the system's CAs, self-signed peers pinned on first use)
    cafile: str | None = None


@dataclass(frozen=True)
class WebSocketSettings:
    """The WebSocket client listener (IRCv3 WebSocket: browsers and web clients).

    ``origins`` are the allowed ``Origin`` headers (globs, lower case); none
    listed admits only clients without one and pages from the listener's own
    host.  ``proxies`` are the reverse proxies (IP, CIDR or glob) whose
    ``X-Forwarded-For`` names the client; any other peer is its own address.
    """

    enabled: bool = False
    port: int = 8067
    secure: bool = False
    origins: tuple[str, ...] = ()
    proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class ManholeSettings:
    """The SSH manhole for live inspection (always bound to 127.0.0.1).

    ``authorized_keys`` is an OpenSSH authorized_keys file whose keys may log
    in besides admin opers with their password; None means no key logins.
    """

    enabled: bool = False
    port: int = 6022
    authorized_keys: str | None = None


@dataclass(frozen=True)
class FloodSettings:
    """Penalty-based flood control.

    A client has a budget of ``penalties`` line-costs per ``seconds`` window;
    lines over budget are queued; when the queued cost exceeds ``kill`` the
    client is disconnected with "Excess Flood".  Operators are exempt when
    ``oper_exempt`` is set.
    """

    enabled: bool = True
    penalties: int = 10
    seconds: int = 10
    kill: int = 20
    oper_exempt: bool = True


@dataclass(frozen=True)
class OperEntry:
    """One operator block: display name, bcrypt hash, flags, access masks.

    An empty ``access`` means the operator may log in from anywhere.
    """

    name: str
    password_hash: str
    flags: frozenset[str] = frozenset()
    access: tuple[str, ...] = ()

    def has_flag(self, flag: str) -> bool:
        """Return True if this oper has *flag*."""
        return flag in self.flags

    @property
    def disabled(self) -> bool:
        """True if the oper block carries flag ``d``."""
        return "d" in self.flags

    @property
    def flag_string(self) -> str:
        """The flags as a sorted string such as ``"ac"``."""
        return "".join(sorted(self.flags))


@dataclass(frozen=True)
class ServerDef:
    """One server definition (the manual's "servers tab") under a local handle.

    ``name`` is a mask the peer's announced name must match; a peer must
    present ``serial`` and/or ``password`` (at least one is required before
    the definition can be enabled).  ``password`` is the shared link password
    kept as given, since it is sent to the peer; ``fingerprint`` is a
    lower-case SHA-256 hex pin of the peer's TLS certificate.  ``role`` is
    used only for a peer that does not announce one.  ``host``/``port`` are
    needed only to connect out; ``auto`` makes this an upstream we
    auto-connect to.
    """

    handle: str
    name: str = "*"
    serial: str | None = None
    role: str = "leaf"
    host: str | None = None
    port: int | None = None
    bindip: str = ""
    ping: int = 90
    auto: bool = False
    secure: bool = False
    secureonly: bool = False
    enabled: bool = False
    password: str | None = None
    fingerprint: str | None = None

    @property
    def can_enable(self) -> bool:
        """True if the definition has a serial or a password (needed to enable it)."""
        return bool(self.serial or self.password)

    def matches_name(self, server_name: str) -> bool:
        """True if *server_name* matches this definition's name mask."""
        return mask_match(self.name, server_name)


@dataclass(frozen=True)
class BanEntry:
    """One saved ban (K-line, AKILL or Z-line).

    Times are unix seconds; ``expires`` 0 means permanent, ``set_at`` 0
    means unknown.  ``set_by`` is who added it ("" when unknown).
    """

    mask: str
    reason: str = ""
    set_by: str = ""
    set_at: int = 0
    expires: int = 0
    #: The mask case-folded (rfc1459), computed once: bans are looked up by it.
    folded: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "folded", fold(self.mask))

    def active(self, now: float | None) -> bool:
        """True unless the ban has expired at *now* (None: time unknown, active)."""
        return not self.expires or now is None or now < self.expires

    def remaining(self, now: float) -> int | None:
        """Seconds left before expiry (None for a permanent ban; 0 when expired)."""
        if not self.expires:
            return None
        return max(0, int(self.expires - now))


#: Ban kinds and the Settings attribute holding each (in matching order).
BAN_KINDS: Mapping[str, str] = {"zline": "zlines", "kline": "klines", "akill": "akills"}


@dataclass(frozen=True)
class Settings:
    """Immutable snapshot of every admin setting.

    ``motd`` and :meth:`datadir_path` resolve relative paths against
    ``config_dir`` (the folder of the config file the settings came from).
    """

    name: str = "irc.conferenceroom.local"
    description: str = "ConferenceRoom IRC server"
    serial: str = "100-0000-001"
    contact: str = ""
    network: str = "ConferenceRoom"
    ports: tuple[int, ...] = (6667,)
    bindip: str = ""
    role: str = "hub"
    datadir: str | None = None
    motd_file: str = "motd.txt"
    config_dir: str = ""
    ssl: SSLSettings = field(default_factory=SSLSettings)
    secureonly: bool = False
    securenetwork: bool = False
    utf8only: bool = False  # refuse lines that are not UTF-8 (ISUPPORT UTF8ONLY)
    services_enabled: bool = True
    services_password_cost: int = 12
    services_enforce_delay: int = 60
    services_min_password: int = 5
    services_server_name: str | None = None
    opers: FrozenMap[str, OperEntry] = field(default_factory=FrozenMap)
    flood: FloodSettings = field(default_factory=FloodSettings)
    manhole: ManholeSettings = field(default_factory=ManholeSettings)
    websocket: WebSocketSettings = field(default_factory=WebSocketSettings)
    deftrigger: int = 5
    triggers: tuple[tuple[str, int], ...] = ()
    cps: int = 0
    servers: FrozenMap[str, ServerDef] = field(default_factory=FrozenMap)
    klines: tuple[BanEntry, ...] = ()
    akills: tuple[BanEntry, ...] = ()
    zlines: tuple[BanEntry, ...] = ()

    # -- derived values ------------------------------------------------------

    @property
    def is_hub(self) -> bool:
        """True if this server is a hub."""
        return self.role == "hub"

    @property
    def motd(self) -> str:
        """Path of the MOTD file, relative paths resolved against ``config_dir``."""
        return self._resolve(self.motd_file)

    def datadir_path(self, config_path: str | None = None) -> str:
        """Folder for the services database and generated certificates.

        Defaults to ``data`` beside the config file.  *config_path* (the
        config file) overrides ``config_dir`` when given.
        """
        base = self.config_dir if config_path is None else os.path.dirname(os.path.abspath(config_path))
        return os.path.normpath(os.path.join(base, self.datadir or "data"))

    def _resolve(self, path: str) -> str:
        if os.path.isabs(path) or not self.config_dir:
            return path
        return os.path.normpath(os.path.join(self.config_dir, path))

    @property
    def ssl_files(self) -> tuple[str | None, str | None]:
        """The TLS certificate and key paths, relative ones resolved against ``config_dir``."""
        cert, key = self.ssl.cert, self.ssl.key
        return (None if cert is None else self._resolve(cert), None if key is None else self._resolve(key))

    @property
    def ssl_cafile(self) -> str | None:
        """The CA file for secure links (``GENERAL SSL CAFILE``), resolved against ``config_dir``."""
        return None if self.ssl.cafile is None else self._resolve(self.ssl.cafile)

    def oper(self, name: str) -> OperEntry | None:
        """Return the oper block called *name* (case-insensitive), or None."""
        return self.opers.get(fold_name(name))

    def server(self, handle: str) -> ServerDef | None:
        """Return the server definition under *handle* (case-insensitive), or None."""
        return self.servers.get(fold_name(handle))

    def bans(self, kind: str) -> tuple[BanEntry, ...]:
        """The saved bans of *kind* (``kline``, ``akill`` or ``zline``)."""
        return getattr(self, BAN_KINDS[kind])

    def without_expired(self, now: float) -> "Settings":
        """These settings without bans that have expired at *now* (self if none)."""
        changes = {}
        for attr in BAN_KINDS.values():
            entries = getattr(self, attr)
            kept = tuple(e for e in entries if e.active(now))
            if len(kept) != len(entries):
                changes[attr] = kept
        return replace(self, **changes) if changes else self

    def trigger_for(self, ip: str) -> int:
        """Connections allowed from *ip* (0 = unlimited).

        The first trigger exception whose mask (exact IP, CIDR or glob)
        matches wins; otherwise the default trigger applies.
        """
        if not self.triggers:
            return self.deftrigger
        ips = {ip, unmapped_ip(ip)}
        for mask, limit in self.triggers:
            if any(ip_matches(mask, a) for a in ips):
                return limit
        return self.deftrigger

    def problems(self) -> list[str]:
        """Combinations that load but are probably mistakes (for warnings)."""
        out = []
        if self.ssl.enabled and self.ssl.port in self.ports:
            out.append(f"SSL port {self.ssl.port} is also listed as a plain port")
        if self.websocket.enabled and (self.websocket.port in self.ports
                                       or (self.ssl.enabled and self.websocket.port == self.ssl.port)):
            out.append(f"WebSocket port {self.websocket.port} is also a plain or TLS client port")
        if self.secureonly and not self.ssl.enabled:
            out.append("SECUREONLY is on but SSL is disabled: no client can connect")
        if self.ssl.sts and not self.ssl.enabled:
            out.append("STS is on but SSL is disabled: no sts policy is advertised")
        elif self.ssl.sts and self.ssl.cert is None:
            out.append("STS is on with the generated self-signed certificate: clients that honour STS "
                       "check the certificate and will refuse it (GENERAL SSL CERT/KEY: a CA-signed pair)")
        if self.opers and not any(not o.disabled and o.flags & {"a", "c"} for o in self.opers.values()):
            out.append("no enabled oper has flag a or c: nobody can use AS commands")
        for key in sorted(self.servers):
            d = self.servers[key]
            if d.enabled and d.auto and (not d.host or not d.port):
                out.append(f"server {d.handle} has AUTO on but no host and port: it cannot connect out")
        return out

    # -- changes -------------------------------------------------------------

    def apply(self, commands: Iterable[str | list[str] | tuple[str, ...]], tree: Any = None) -> "Settings":
        """Return the settings after running *commands* (AS lines or word lists).

        Raises ``AdminError`` on the first bad command; ``self`` is unchanged.
        """
        if tree is None:
            from conferenceroom.admin.tree import build_tree

            tree = build_tree()
        current = self
        for command in commands:
            words = command.split() if isinstance(command, str) else list(command)
            current = tree.execute(current, words).settings
        return current


def get_field(obj: Any, dotted: str) -> Any:
    """Return the value at *dotted* (``"ssl.port"``) inside *obj*."""
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def with_field(obj: Any, dotted: str, value: Any) -> Any:
    """Return a copy of dataclass *obj* with the value at *dotted* replaced."""
    head, _, tail = dotted.partition(".")
    if tail:
        value = with_field(getattr(obj, head), tail, value)
    return replace(obj, **{head: value})
