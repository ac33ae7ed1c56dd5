# -*- test-case-name: tests.unit.test_routing -*-
"""The Router: the only fan-out code.

A message addressed to a user, a channel, the operators or everyone is
delivered here: to each local client connection once, and (for routes that
are server links or the services pseudo-server) once per route, never back
to the route it came from.  Routes are duck-typed: a local client
connection has ``is_client = True`` and ``send(message)``; any other route
has ``relay(message, target, origin)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .network import Channel, Network, User
from .wire import Message


class Router:
    """Deliver messages to users, channels and operators through their routes."""

    def __init__(self, network: Network) -> None:
        self.network = network

    @staticmethod
    def is_local(user: User) -> bool:
        """True if ``user`` is a client connected to this server."""
        return user.is_local

    def to_user(self, user: User, message: Message, origin: Any = None) -> None:
        """Send ``message`` to ``user`` wherever it is."""
        route = user.route
        if route is None or route is origin:
            return
        if getattr(route, "is_client", False):
            route.send(message)
        else:
            route.relay(message, user, origin)

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
        origin: Any = None,
        status: str | None = None,
        cap: str | None = None,
    ) -> None:
        """Send ``message`` to every member of ``channel`` except ``exclude``.

        Local members each get it once; each remote route gets it once.
        ``status`` limits delivery to members holding that status or higher
        (STATUSMSG, e.g. ``@#chan``); it is a prefix (``@``) or a mode (``o``).
        ``cap`` skips local members without that capability (TAGMSG).
        """
        from .modes import MODE_OF_PREFIX, STATUS_RANK, rank

        min_rank = STATUS_RANK.get(MODE_OF_PREFIX.get(status, status), 0) if status else 0
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
                route.relay(message, channel, origin)

    def to_remote(self, users: Iterable[User], message: Message, target: Any, origin: Any = None) -> None:
        """Relay ``message`` (about ``target``) once per non-client route of ``users``.

        Local clients are skipped (the announcer writes to them) and so is
        ``origin``, the route the change arrived from.
        """
        relayed: set[int] = set()
        for user in users:
            route = user.route
            if route is None or route is origin or getattr(route, "is_client", False):
                continue
            if id(route) not in relayed:
                relayed.add(id(route))
                route.relay(message, target, origin)

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
