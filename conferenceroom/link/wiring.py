# -*- test-case-name: tests.unit.test_link_wiring -*-
"""The link side of a server, plugged into a :class:`~conferenceroom.core.ServerCore`.

:func:`attach` gives the core what links share: ``core.links`` (accepted
links, in order), ``core.link_acceptor`` (builds the passive link a client
port hands a server over to), ``core.link_side`` (burst and relay rendering),
``core.server_commands`` (the server command table) and the link announcer
subscribed to network events beside the client announcer.
:func:`load_ts6` builds those from the TS6 modules (``link.attach`` for the
command table of ``link/commands.py``, ``link/outbound.py``,
``link/burst.py``); tests hand in their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conferenceroom.link.protocol import LinkConnection, TS6Output

if TYPE_CHECKING:
    from conferenceroom.core import ServerCore


@dataclass(frozen=True)
class TS6Modules:
    """The TS6 pieces a server links with.

    ``output``: the burst and the rendering of relays; ``announcer(network,
    links)``: the event subscriber that sends our changes to the links;
    ``attach_commands(core)``: sets ``core.server_commands``.
    """

    output: TS6Output
    announcer: Callable[[Any, Callable[[], Iterable[Any]]], Callable[[Any], None]]
    attach_commands: Callable[[Any], None]


def load_ts6() -> TS6Modules:
    """The real TS6 modules (raises ImportError while they are not installed)."""
    from conferenceroom.link import attach as attach_commands, burst, outbound

    return TS6Modules(TS6Output(burst.burst_messages, outbound.render_relay, burst.burst_text),
                      outbound.LinkAnnouncer,
                      attach_commands)


def attach(core: "ServerCore", ts6: TS6Modules | None) -> None:
    """Give *core* its links list, link side, server command table and link announcer.

    With *ts6* None the server keeps an empty table and refuses every link
    with a sentence saying why (see :class:`~conferenceroom.link.protocol.LinkConnection`).
    """
    old = getattr(core, "link_announcer", None)
    if old is not None:  # attached again (tests swap the TS6 modules): one announcer only
        core.network.events.unsubscribe(old)
        core.link_announcer = None
    core.links = []
    core.link_manager = None
    # A connection on a client port that opens with CAPAB or SERVER becomes this.
    core.link_acceptor = lambda: LinkConnection(core)
    if ts6 is None:
        core.link_side = None
        return
    core.link_side = ts6.output
    ts6.attach_commands(core)
    core.link_announcer = ts6.announcer(core.network, lambda: tuple(core.links))
    core.network.events.subscribe(core.link_announcer)
