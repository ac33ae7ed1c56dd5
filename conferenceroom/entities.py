"""What the network model holds: servers, users, channels, memberships, list entries, WHOWAS records.

Plain records (User, Channel and Membership with slots: one of each per
user or membership) and the shared empty values that keep an idle user small.  They change only through
:class:`conferenceroom.network.Network`, which owns them and emits the events.
"""

from __future__ import annotations

from types import MappingProxyType
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Server:
    """A server of the network; ``route`` is the link toward it (None: us)."""

    def __init__(
        self,
        name: str,
        sid: str,
        description: str = "",
        uplink: "Server | None" = None,
        route: Any = None,
        hopcount: int = 0,
        serial: str = "",
        role: str = "hub",
    ) -> None:
        self.name = name
        self.sid = sid
        self.description = description
        self.uplink = uplink
        self.route = route
        self.hopcount = hopcount
        self.serial = serial
        self.role = role
        self.users: set[User] = set()
        #: the network's services run here (a SID with flag ``S``); see :attr:`is_services`
        self.services = False

    @property
    def is_services(self) -> bool:
        """True for the services pseudo-server: served by this process, flagged ``S`` by its link, or
        named ``services.<domain>`` (the flag is lost behind a hybrid hub, which keeps only ``h``)."""
        return (self.services or bool(getattr(self.route, "decides_here", False))
                or (self.route is not None and self.name.lower().startswith("services.")))

    def __repr__(self) -> str:
        return f"<Server {self.name} {self.sid}>"


class _NoInvites(frozenset):
    """The invites of a user holding none: shared by every such user (a set costs 216 bytes).

    ``discard`` and ``clear`` do nothing; :meth:`User.invite` swaps in a real set.
    """

    __slots__ = ()

    def discard(self, name: str) -> None:
        """Nothing to forget."""

    def clear(self) -> None:
        """Nothing to forget."""


NO_INVITES = _NoInvites()
NO_OPER_FLAGS: frozenset[str] = frozenset()  # shared: an empty frozenset is not a singleton
NO_MODES: frozenset[str] = frozenset()
#: Each distinct user mode set held once (a set costs 216 bytes per user, empty or not; most users
#: share one of a few combinations); bounded, past that a combination is simply not shared.
_MODE_SETS: dict[frozenset[str], frozenset[str]] = {NO_MODES: NO_MODES}
_MODE_SETS_MAX = 1024


def shared_modes(letters: Iterable[str]) -> frozenset[str]:
    """The shared frozenset of ``letters`` (a new one once the table is full)."""
    modes = frozenset(letters)
    found = _MODE_SETS.get(modes)
    if found is not None:
        return found
    if len(_MODE_SETS) < _MODE_SETS_MAX:
        _MODE_SETS[modes] = modes
    return modes
NO_STATUS: frozenset[str] = frozenset()  # the status a plain JOIN grants (shared)
#: The channels of a user in none (most idle clients): shared and read-only; the first join
#: gives the user a dict of its own (an empty dict is 64 bytes per user).
NO_CHANNELS: "Mapping[Channel, Membership]" = MappingProxyType({})


class User:
    """A user anywhere on the network; ``route`` reaches it."""

    # Slots and no __dict__: every user, local or remote, holds just these (a managed __dict__
    # costs ~35 bytes more per user even when empty).
    __slots__ = (
        "uid", "nick", "ident", "host", "realhost", "ip", "realname", "server", "route", "signon",
        "nick_ts", "last_active", "modes", "away", "account", "oper_name", "oper_flags", "certfp",
        "channels", "invited",
    )

    def __init__(
        self,
        uid: str,
        nick: str,
        ident: str,
        host: str,
        realname: str,
        server: Server,
        route: Any,
        ip: str = "0",
        signon: float = 0.0,
    ) -> None:
        self.uid = uid
        self.nick = nick
        self.ident = ident
        self.host = host
        self.realhost = host
        self.ip = ip
        self.realname = realname
        self.server = server
        self.route = route
        self.signon = signon
        self.nick_ts = signon
        self.last_active = signon
        #: user mode letters; read-only and shared between users: change them with :meth:`set_mode`
        self.modes: frozenset[str] = NO_MODES
        self.away: str | None = None
        self.account: str | None = None
        self.oper_name: str | None = None
        self.oper_flags: frozenset[str] = NO_OPER_FLAGS
        #: SHA-256 of the client certificate (lower-case hex), shown in WHOIS 276; None without one
        self.certfp: str | None = None
        self.channels: dict[Channel, Membership] = NO_CHANNELS  # type: ignore[assignment]
        #: folded channel names this user is invited to (:meth:`invite` adds one)
        self.invited: set[str] | frozenset[str] = NO_INVITES

    def set_mode(self, mode: str, on: bool = True) -> None:
        """Set (or with ``on`` false clear) user mode ``mode``; the model's bookkeeping (operators
        by mode, events) is :meth:`Network.apply_user_modes`'s."""
        modes = self.modes
        if (mode in modes) != on:
            self.modes = shared_modes(modes | {mode} if on else modes - {mode})

    def set_modes(self, letters: Iterable[str]) -> None:
        """Replace the user's modes with ``letters``."""
        self.modes = shared_modes(letters)

    def invite(self, name: str) -> None:
        """Remember an invite to the channel folded as ``name``."""
        if self.invited is NO_INVITES:
            self.invited = set()
        self.invited.add(name)  # type: ignore[union-attr]

    @property
    def mask(self) -> str:
        """``nick!ident@host``, the source of this user's messages."""
        return f"{self.nick}!{self.ident}@{self.host}"

    @property
    def real_mask(self) -> str:
        """``nick!ident@realhost``."""
        return f"{self.nick}!{self.ident}@{self.realhost}"

    @property
    def is_local(self) -> bool:
        """True if this user's route is a client connection on this server."""
        return getattr(self.route, "is_client", False)

    @property
    def secure(self) -> bool:
        """True if the user is connected over TLS (user mode +z, set by its server)."""
        return "z" in self.modes

    @property
    def is_oper(self) -> bool:
        """True if the user has user mode +o."""
        return "o" in self.modes

    def has_oper_flag(self, flags: str) -> bool:
        """True if the user is an operator with any of ``flags`` ('' = any oper)."""
        if not self.is_oper:
            return False
        return not flags or any(f in self.oper_flags for f in flags)

    def __repr__(self) -> str:
        return f"<User {self.nick} {self.uid}>"


@dataclass
class ListEntry:
    """An entry of a channel list mode (ban, exception, invite exception)."""

    mask: str
    setter: str
    ts: int


@dataclass(eq=False, slots=True)
class Membership:
    """A user's presence in a channel, with status modes (q, o, v)."""

    user: User
    channel: "Channel"
    status: set[str] = field(default_factory=set)


class Channel:
    """A channel: modes, lists, topic and members."""

    # Slots: a channel is made and dropped per JOIN+PART of an empty one; "__dict__" keeps rare extras possible.
    __slots__ = ("name", "ts", "flags", "key", "limit", "lists", "topic", "topic_setter", "topic_ts", "members",
                 "local_members", "invited", "__dict__")

    def __init__(self, name: str, ts: int) -> None:
        self.name = name
        self.ts = ts
        self.flags: set[str] = set()
        self.key: str | None = None
        self.limit: int | None = None
        self.lists: dict[str, list[ListEntry]] = {"b": [], "e": [], "I": []}
        self.topic = ""
        self.topic_setter = ""
        self.topic_ts = 0
        self.members: dict[User, Membership] = {}
        #: the members on this server (clients to write to), kept beside ``members``
        self.local_members: set[User] = set()
        self.invited: set[User] = set()  # users holding an INVITE to this channel

    def mode_string(self, show_key: bool = True) -> list[str]:
        """The channel's modes as ``["+ntkl", key, limit]``."""
        letters = "+" + "".join(sorted(self.flags))
        params = []
        if self.key is not None:
            letters += "k"
            params.append(self.key if show_key else "*")
        if self.limit is not None:
            letters += "l"
            params.append(str(self.limit))
        return [letters, *params]

    def __repr__(self) -> str:
        return f"<Channel {self.name}>"


@dataclass(frozen=True)
class WhowasEntry:
    """What WHOWAS remembers about a nick that left."""

    nick: str
    ident: str
    host: str
    realname: str
    server: str
    when: float
