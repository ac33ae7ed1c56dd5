# -*- test-case-name: tests.unit.test_network -*-
"""Typed events the network state model emits after each change.

Subscribers (the client announcer, later the link broadcaster and services)
receive these objects; the event class is the hook name, so a typo is an
import error.  ``origin`` says where the change came from, so that no
subscriber echoes it back:

- :data:`HERE`: decided on this server (a local client's command, an
  operator, a timer, this server's own rules);
- a route object: the server link (or services pseudo-server) the change
  arrived through.  A route whose ``decides_here`` attribute is true (the
  services pseudo-server running in this process) makes its changes here, so
  :func:`decided_here` treats it like :data:`HERE` for defaults (a channel it
  creates gets the default modes), while split horizon still skips it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .network import Channel, Membership, Server, User
    from .modes import ModeChange
    from .ts import NetjoinResult


class _Here:
    """The type of :data:`HERE`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "HERE"


HERE: Any = _Here()
"""The origin of a change decided on this server (never a route, so never skipped as one)."""


def decided_here(origin: Any) -> bool:
    """True if a change with ``origin`` was decided on this server, not replayed from a link."""
    return origin is HERE or bool(getattr(origin, "decides_here", False))


@dataclass(frozen=True)
class Event:
    """Base class of every network event."""

    origin: Any = field(default=HERE, kw_only=True)
    # True for the local effects of a netjoin (JOINs, mode wipes, statuses):
    # links relay the ChannelNetjoined that follows them instead.
    netjoin: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        if self.origin is None:
            raise TypeError(f"{type(self).__name__}: origin must be HERE or a route, not None")



@dataclass(frozen=True)
class UserIntroduced(Event):
    """A user finished registering here, or was introduced by a link."""

    user: "User"


@dataclass(frozen=True)
class NickChanged(Event):
    """``user`` changed nick from ``old``; ``peers`` are users who share a channel.

    ``identified``: True if the new nick gained user mode ``r``, False if it
    lost it, None if unchanged (see ``Network._derive_identified``).
    """

    user: "User"
    old: str
    old_mask: str
    peers: frozenset["User"]
    identified: bool | None = None


@dataclass(frozen=True)
class UserQuit(Event):
    """``user`` left the network by itself (QUIT, connection lost); ``peers`` shared a channel with it.

    Emitted once the user is gone from the state (users, channels).
    """

    user: "User"
    reason: str
    peers: frozenset["User"]


@dataclass(frozen=True)
class UserKilled(Event):
    """``killer`` (a user or a server) killed ``user``; emitted once the user is gone.

    ``path`` is the kill path (``server!host!ident!nick`` of an operator, a
    server name for a server kill, or what a link relayed); ``reason`` is
    the killer's text.  Peers are shown :attr:`quit_reason`.
    """

    user: "User"
    killer: "User | Server"
    path: str
    reason: str
    peers: frozenset["User"]

    @property
    def quit_reason(self) -> str:
        """The QUIT text peers see: ``Killed (<killer> (<reason>))``."""
        name = getattr(self.killer, "nick", None) or self.killer.name
        return f"Killed ({name} ({self.reason}))"


@dataclass(frozen=True)
class ChannelJoined(Event):
    """``user`` joined ``channel`` (``created`` if the channel is new).

    ``granted`` is the status the join itself handed out (a burst's ``@``, a
    services join), shown to members as a MODE; a new channel's creator op
    given by default is not in it.
    """

    user: "User"
    channel: "Channel"
    membership: "Membership"
    created: bool
    granted: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MembersNetjoined(Event):
    """An SJOIN put ``joined`` (in its order) into ``channel``: one event for all of them.

    Local clients see one JOIN per member; links wait for the ``ChannelNetjoined``.
    """

    channel: "Channel"
    joined: tuple["Membership", ...]
    created: bool


@dataclass(frozen=True)
class ChannelNetjoined(Event):
    """A link's SJOIN for ``channel`` was applied by the TS rules (see :mod:`conferenceroom.ts`).

    Its local effects came before it as events with ``netjoin=True``;
    ``result`` says what was kept.
    """

    source: "Server"
    channel: "Channel"
    ts: int
    result: "NetjoinResult"


@dataclass(frozen=True)
class ChannelParted(Event):
    """``user`` left ``channel`` with ``reason``; ``members`` were in it before (a set-like snapshot).

    Emitted while ``user`` is still a member, so ``channel.local_members`` are
    the local users who see the PART.
    """

    user: "User"
    channel: "Channel"
    reason: str | None
    members: AbstractSet["User"] = field(hash=False)


@dataclass(frozen=True)
class UserKicked(Event):
    """``source`` kicked ``target`` out of ``channel``; ``members`` were in it before (a set-like snapshot).

    Emitted while ``target`` is still a member (see :class:`ChannelParted`).
    """

    source: "User | Server"
    channel: "Channel"
    target: "User"
    reason: str
    members: AbstractSet["User"] = field(hash=False)


@dataclass(frozen=True)
class TopicChanged(Event):
    """The topic of ``channel`` was set (or cleared) by ``source``."""

    source: "User | Server"
    channel: "Channel"


@dataclass(frozen=True)
class ChannelModesChanged(Event):
    """``changes`` were applied to ``channel`` by ``source``."""

    source: "User | Server"
    channel: "Channel"
    changes: tuple["ModeChange", ...]


@dataclass(frozen=True)
class UserModesChanged(Event):
    """``changes`` were applied to ``user``'s own modes by ``source``."""

    source: "User | Server"
    user: "User"
    changes: tuple["ModeChange", ...]


@dataclass(frozen=True)
class AwayChanged(Event):
    """``user`` set (``user.away`` not None) or cleared their away message."""

    user: "User"


@dataclass(frozen=True)
class AccountChanged(Event):
    """``user`` logged in to ``user.account`` (None: logged out); ``old`` is the previous account.

    ``identified``: True if user mode ``r`` was set with it, False if removed, None if unchanged.
    """

    user: "User"
    old: str | None
    identified: bool | None = None


@dataclass(frozen=True)
class UserInvited(Event):
    """``source`` invited ``target`` to ``channel``."""

    source: "User"
    target: "User"
    channel: "Channel"


@dataclass(frozen=True)
class HostChanged(Event):
    """``user``'s ident or host changed; ``old_mask`` is the previous n!u@h."""

    user: "User"
    old_mask: str
    peers: frozenset["User"]


@dataclass(frozen=True)
class ChannelRenamed(Event):
    """``source`` renamed ``channel`` from ``old`` to ``channel.name`` (draft/channel-rename)."""

    source: "User | Server"
    channel: "Channel"
    old: str
    reason: str


@dataclass(frozen=True)
class RealnameChanged(Event):
    """``user`` changed its real name (SETNAME) to ``user.realname``; ``peers`` share a channel."""

    user: "User"
    peers: frozenset["User"]


@dataclass(frozen=True)
class ServerIntroduced(Event):
    """A server joined the network."""

    server: "Server"


@dataclass(frozen=True)
class NetSplit(Event):
    """``server`` and everything behind it left the network, in one event.

    Emitted once the split is applied: ``servers`` (``server`` first, then
    those behind it) and ``users`` are gone from the state.  ``reason`` is
    why the link went (for operators and links); users see
    :attr:`quit_reason`, ``<near> <far>``.  ``local_peers`` maps each lost
    user to the local users who shared a channel with it.
    """

    server: "Server"
    servers: tuple["Server", ...]
    users: tuple["User", ...]
    reason: str
    local_peers: dict["User", frozenset["User"]] = field(default_factory=dict, hash=False, compare=False)

    @property
    def quit_reason(self) -> str:
        """``<near> <far>``: the server that kept the link, then the one lost."""
        near = self.server.uplink.name if self.server.uplink is not None else "*"
        return f"{near} {self.server.name}"


def _quick_init(cls: type) -> None:
    """Give the frozen dataclass ``cls`` an ``__init__`` that fills its ``__dict__`` directly.

    Same signature, defaults and origin check as the generated one: the frozen
    dataclass's ``object.__setattr__`` per field cost more than the rest of an
    event's life when a burst makes tens of thousands.  Assigning to a field
    afterwards still raises ``FrozenInstanceError``.
    """
    env: dict[str, Any] = {"_MISSING": MISSING}
    positional, keyword, body = [], [], []
    for f in fields(cls):
        if f.default is not MISSING:
            env[f"_d_{f.name}"] = f.default
            param = f"{f.name}=_d_{f.name}"
        elif f.default_factory is not MISSING:
            env[f"_f_{f.name}"] = f.default_factory
            param = f"{f.name}=_MISSING"
            body.append(f" if {f.name} is _MISSING: {f.name} = _f_{f.name}()")
        else:
            param = f.name
        (keyword if f.kw_only else positional).append(param)
        body.append(f" d[{f.name!r}] = {f.name}")
    signature = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    source = (f"def __init__({signature}):\n"
              " if origin is None: raise TypeError(f'{type(self).__name__}: origin must be HERE or a route, not None')\n"
              " d = self.__dict__\n" + "\n".join(body) + "\n")
    exec(source, env)  # noqa: S102 - built from the dataclass's own field names, as dataclasses does
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[misc]


for _event_class in list(globals().values()):
    if isinstance(_event_class, type) and issubclass(_event_class, Event) and _event_class is not Event:
        _quick_init(_event_class)
del _event_class


Subscriber = Callable[[Event], None]


class EventBus:
    """An ordered list of subscribers; each event goes to each of them that wants its kind.

    A subscriber may name the event classes it handles (``kinds``); it is
    then not called for the others (a JOIN does not wake the services'
    nick enforcer).  Without ``kinds`` it gets every event.
    """

    def __init__(self) -> None:
        self._entries: tuple[tuple[Subscriber, frozenset[type] | None], ...] = ()
        # event class -> its subscribers in order; rebuilt after (un)subscribe.  Tuples are
        # replaced, never changed, so emit needs no copy when a subscriber (un)subscribes.
        self._by_kind: dict[type, tuple[Subscriber, ...]] = {}

    def subscribe(self, subscriber: Subscriber, kinds: "Iterable[type[Event]] | None" = None) -> None:
        """Call ``subscriber(event)`` for every later event (of one of ``kinds``, if given)."""
        self._entries = (*self._entries, (subscriber, None if kinds is None else frozenset(kinds)))
        self._by_kind = {}

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop calling ``subscriber``."""
        entries = list(self._entries)
        for i, (known, _) in enumerate(entries):
            if known == subscriber:
                del entries[i]
                break
        else:
            raise ValueError(f"{subscriber!r} is not subscribed")
        self._entries = tuple(entries)
        self._by_kind = {}

    @property
    def _subscribers(self) -> tuple[Subscriber, ...]:
        """Every subscriber, in order."""
        return tuple(subscriber for subscriber, _ in self._entries)

    def _route(self, kind: type) -> tuple[Subscriber, ...]:
        found = tuple(
            subscriber for subscriber, kinds in self._entries
            if kinds is None or any(issubclass(kind, wanted) for wanted in kinds)
        )
        self._by_kind[kind] = found
        return found

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber of its kind, in subscription order."""
        kind = type(event)
        subscribers = self._by_kind.get(kind)
        if subscribers is None:
            subscribers = self._route(kind)
        for subscriber in subscribers:
            subscriber(event)
