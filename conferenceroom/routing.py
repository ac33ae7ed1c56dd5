# -*- test-case-name: tests.unit.test_routing -*-
"""The Router: the only fan-out code.

A message addressed to a user, a channel, a server, the operators or a
mask is delivered here: to each local client connection once, and to each
other route (a server link, the services pseudo-server) once, never back to
the route it came from (``origin``) and never once per remote user.

A message from a user or server has two forms, both made here:
:meth:`Router.message_from` renders the client form (source
``nick!user@host`` or the server name) for local clients, and each other
route receives a :class:`Relay` carrying the sender and target *objects*
beside that client form, so a link renders UID/SID itself.  Routes are
duck-typed: a local client connection has ``is_client = True`` and
``send(message)``; any other route has ``relay(relay)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .events import HERE
from .modes import BOT_MODE, MODE_OF_PREFIX, STATUS_RANK, rank
from .network import Channel, Network, Server, User
from .wire import Message


#: The local client connection class whose held output ``to_channel`` appends to
#: directly (registered by ``client.protocol``; other routes always get ``send``).
DIRECT_ROUTE: list[type | None] = [None]


def register_direct_route(cls: type) -> None:
    """Let ``to_channel`` append to the held output of ``cls`` routes inline (see ``ClientConnection.send``)."""
    DIRECT_ROUTE[0] = cls


@dataclass(frozen=True)
class Relay:
    """A message from ``sender`` on its way over one non-client route.

    ``target`` is the :class:`User`, :class:`Channel` or :class:`Server` it
    is for, or a string for a mask delivery (``$*.example``, ``#*.host``) or
    a broadcast (``*``: WALLOPS).  ``message`` is the client form; ``status``
    the lowest member status addressed (STATUSMSG), if any; ``origin`` the
    route it arrived from (HERE: sent from this server).
    """

    sender: User | Server
    target: Any
    message: Message
    origin: Any = HERE
    status: str | None = None


def source_of(sender: User | Server) -> str:
    """The client-form source of a message from ``sender``: ``nick!user@host`` or a server name."""
    return sender.mask if isinstance(sender, User) else sender.name


def account_tags(sender: Any) -> dict[str, str]:
    """The IRCv3 ``account`` tag of a message from ``sender`` (none unless it is a logged-in user).

    Each connection shows it only to clients with account-tag.
    """
    account = getattr(sender, "account", None)
    return {"account": account} if account else {}


class Router:
    """Deliver messages to users, channels and operators through their routes."""

    def __init__(self, network: Network) -> None:
        self.network = network

    @staticmethod
    def is_local(user: User) -> bool:
        """True if ``user`` is a client connected to this server."""
        return user.is_local

    @staticmethod
    def message_from(
        sender: User | Server, command: str, params: tuple[str, ...], tags: dict[str, str] | None = None
    ) -> Message:
        """The client form of a message from ``sender`` (the one place it is rendered).

        A logged-in user's message carries its ``account`` tag.
        """
        account = getattr(sender, "account", None)
        if account and (tags is None or "account" not in tags):
            tags = {**(tags or {}), "account": account}
        return Message(command, params, source_of(sender), tags or {})

    def deliver(
        self,
        sender: User | Server,
        target: User | Channel | Server | str,
        command: str,
        params: tuple[str, ...],
        *,
        tags: dict[str, str] | None = None,
        origin: Any = HERE,
        exclude: User | None = None,
        status: str | None = None,
        cap: str | None = None,
        recipients: Iterable[User] = (),
    ) -> Message:
        """Deliver a message from ``sender`` to ``target``; return its client form (for echo-message).

        A channel reaches its members (``status``: STATUSMSG); a user, that
        user; a server, the route toward it; a string target (a mask, or
        ``*`` for a broadcast such as WALLOPS) reaches ``recipients``.  Local
        clients get the client form once each (``cap``: only those with that
        capability); every other route gets one :class:`Relay`, never the
        ``origin`` route.
        """
        if isinstance(sender, User) and BOT_MODE in sender.modes:
            tags = {**(tags or {}), "bot": ""}  # IRCv3 bot mode: every message of a bot says so
        message = self.message_from(sender, command, params, tags)
        if isinstance(target, Channel):
            self.to_channel(
                target, message, exclude=exclude, origin=origin, status=status, cap=cap, sender=sender
            )
        elif isinstance(target, User):
            self.to_user(target, message, origin=origin, sender=sender, cap=cap)
        elif isinstance(target, Server):
            route = target.route
            if route is not None and route is not origin and not getattr(route, "is_client", False):
                route.relay(Relay(sender, target, message, origin))
        else:
            self._to_recipients(recipients, message, sender, target, origin, exclude, cap)
        return message

    def _link_routes(self, origin: Any, seen: set[int]) -> Iterable[Any]:
        """Each server link's route once (not ``origin``, nor any already in ``seen``, which it fills)."""
        for server in self.network.servers.values():
            route = server.route
            if route is None or route is origin or getattr(route, "is_client", False) or id(route) in seen:
                continue
            seen.add(id(route))
            yield route

    def to_user(
        self, user: User, message: Message, origin: Any = HERE, sender: User | Server | None = None,
        cap: str | None = None,
    ) -> None:
        """Send ``message`` to ``user`` wherever it is (``sender`` is needed for a remote user)."""
        route = user.route
        if route is None or route is origin:
            return
        if getattr(route, "is_client", False):
            if cap is None or cap in route.caps:
                route.send(message)
        else:
            route.relay(Relay(_required(sender, message), user, message, origin))

    def _to_recipients(
        self, users: Iterable[User], message: Message, sender: User | Server, target: Any, origin: Any,
        exclude: User | None, cap: str | None,
    ) -> None:
        """Each local user of ``users`` once; each other route once for all its users.

        A broadcast (``target`` ``*``: WALLOPS, GLOBOPS, OPERWALL) also
        reaches every server link with no recipient behind it, since the
        servers beyond decide who sees it there.
        """
        relayed: set[int] = set()
        for user in users:
            route = user.route
            if user is exclude or route is None or route is origin:
                continue
            if getattr(route, "is_client", False):
                if cap is None or cap in route.caps:
                    route.send(message)
            elif id(route) not in relayed:
                relayed.add(id(route))
                route.relay(Relay(sender, target, message, origin))
        if target == "*":
            for route in self._link_routes(origin, relayed):
                route.relay(Relay(sender, target, message, origin))

    def to_local(
        self,
        users: Iterable[User],
        message: Message | Callable[[User], Message | None],
        exclude: User | None = None,
        cap: str | None = None,
        without_cap: str | None = None,
    ) -> None:
        """Send to each local user of ``users`` once.

        ``message`` may be a function of the recipient (for replies that
        depend on its capabilities); ``cap``/``without_cap`` filter the
        recipients by negotiated capability.
        """
        for user in users:
            if user is exclude:
                continue
            route = user.route
            if not getattr(route, "is_client", False):
                continue
            if cap is not None and cap not in route.caps:
                continue
            if without_cap is not None and without_cap in route.caps:
                continue
            msg = message(user) if callable(message) else message
            if msg is not None:
                route.send(msg)

    def to_channel(
        self,
        channel: Channel,
        message: Message,
        exclude: User | None = None,
        origin: Any = HERE,
        status: str | None = None,
        cap: str | None = None,
        sender: User | Server | None = None,
    ) -> None:
        """Send ``message`` to every member of ``channel`` except ``exclude``.

        Local members each get it once; each remote route gets it once.
        ``status`` limits delivery to members holding that status or higher
        (STATUSMSG, e.g. ``@#chan``); it is a prefix (``@``) or a mode (``o``).
        ``cap`` skips local members without that capability (TAGMSG).
        """
        if status:
            self._to_status(channel, message, exclude, origin, status, cap, sender)
            return
        members = channel.members
        local = channel.local_members
        # A local client whose output is already held for this batch, with the
        # line already encoded for its tag profile, gets it appended here: what
        # ``ClientConnection.send`` would do, without a call per recipient.  A
        # held list is never kept past ERROR/close, and one left by a lost or
        # dead connection is dropped unwritten by its flush, so appending to it
        # needs no other check; anything else (a labeled reply being gathered,
        # the first line of the batch, a new tag profile) goes through ``send``.
        fields = message.__dict__
        encoded = fields.get("_encoded")
        if encoded is None:
            encoded = fields["_encoded"] = {}
        line_for = encoded.get
        direct = DIRECT_ROUTE[0]
        for user in local:
            if user is exclude:
                continue
            route = user.route
            if cap is not None and cap not in route.caps:
                continue
            if route.__class__ is direct:
                out = route._out
                if out is not None and route.label is None:
                    data = line_for(route._profile)
                    if data is not None:
                        out.append(data)
                        continue
            route.send(message)
        if len(members) == len(local):
            return
        relayed: set[int] = set()
        for user in members:
            route = user.route
            if route is None or route is origin or user in local or user is exclude:
                continue
            if id(route) not in relayed and not getattr(route, "is_client", False):
                relayed.add(id(route))
                route.relay(Relay(_required(sender, message), channel, message, origin, None))

    def _to_status(
        self, channel: Channel, message: Message, exclude: User | None, origin: Any, status: str,
        cap: str | None, sender: User | Server | None,
    ) -> None:
        """:meth:`to_channel` for STATUSMSG: members holding ``status`` (a prefix or a mode) or higher."""
        mode = MODE_OF_PREFIX.get(status, status)
        min_rank = STATUS_RANK.get(mode, 0)
        relayed: set[int] = set()
        for user, membership in channel.members.items():
            if user is exclude:
                continue
            if min_rank and rank(membership.status) < min_rank:
                continue
            route = user.route
            if route is None or route is origin:
                continue
            if getattr(route, "is_client", False):
                if cap is None or cap in route.caps:
                    route.send(message)
            elif id(route) not in relayed:
                relayed.add(id(route))
                route.relay(Relay(_required(sender, message), channel, message, origin, mode))

    def to_opers(
        self,
        message_for: Callable[[User], Message],
        flag: str = "",
        user_mode: str | None = None,
        exclude: User | None = None,
    ) -> None:
        """Send a message built per recipient to local operators.

        Only operators with any of ``flag`` (every operator for ''), holding
        user mode ``user_mode`` if given, and not ``exclude``.
        """
        for user in list(self.network.by_mode["o"]):
            if (
                user is not exclude
                and user.is_local
                and user.has_oper_flag(flag)
                and (user_mode is None or user_mode in user.modes)
            ):
                user.route.send(message_for(user))


def _required(sender: User | Server | None, message: Message) -> User | Server:
    """The sender a relay needs; a caller reaching a link without one is a bug, said plainly."""
    if sender is None:
        raise ValueError(f"{message.command}: a message for a server link needs its sender object")
    return sender
