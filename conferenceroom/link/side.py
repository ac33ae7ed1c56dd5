# -*- test-case-name: tests.unit.test_link_commands -*-
"""What every server-origin handler shares: the :class:`LinkSide` it is bound to, and small lookups."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..casemap import fold, match
from ..network import Network, Server, User
from ..wire import Message


@dataclass
class LinkSide:
    """What server handlers use: the network, the router, the links and operator notices.

    ``core`` (optional) answers remote queries (MOTD, VERSION, ...).
    """

    network: Network
    router: Any
    links: Callable[[], Iterable[Any]] = lambda: ()
    notice: Callable[[str], None] = lambda text: None
    core: Any = None

    @property
    def me(self) -> Server:
        """This server."""
        return self.network.me

    def others(self, link: Any) -> list[Any]:
        """Every link but ``link`` (accepted, its burst written: lines after it are in order there)."""
        return [other for other in self.links() if other is not link]

    def link_of(self, route: Any) -> Any:
        """The link whose route is ``route`` (None if none)."""
        return next((other for other in self.links() if other.route is route), None)

    def forward(self, link: Any, msg: Message) -> None:
        """Pass ``msg`` unchanged to every other link."""
        for other in self.others(link):
            other.send(msg)

    def toward(self, obj: User | Server, msg: Message) -> bool:
        """Send ``msg`` on the link that reaches ``obj``; False if there is none."""
        target = self.link_of(obj.route)
        if target is None:
            return False
        target.send(msg)
        return True


def int_of(value: str) -> int | None:
    """``value`` as a non-negative integer (ASCII digits only), or None."""
    return int(value) if value.isascii() and value.isdecimal() else None


def user_by_ref(network: Network, ref: str) -> User | None:
    """A user named by UID (or, from older peers, by nick)."""
    return network.users_by_uid.get(ref) or network.find_user(ref)


def server_of(source: User | Server) -> Server:
    """The server of ``source`` (itself if it is one)."""
    return source.server if isinstance(source, User) else source


def is_ours(side: LinkSide, ref: str) -> bool:
    """True if ``ref`` (a SID or a server name/mask) means this server."""
    return ref == side.me.sid or fold(ref) == fold(side.me.name) or match(ref, side.me.name)
