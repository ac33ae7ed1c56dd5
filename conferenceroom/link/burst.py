# -*- test-case-name: tests.unit.test_link_burst -*-
"""The burst: everything this side of a new link knows, as TS6 lines, in dependency order.

Servers (``SID``, nearest first, so every uplink is known before the
servers behind it), then users (``UID``, each followed by its ``AWAY``),
then channels (``SJOIN`` split to fit 512 bytes, ``BMASK`` per list,
``TBURST`` for a topic), then ``:<our SID> EOB``.  Nothing behind the new
link itself is sent back to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..network import Network, Server
from ..wire import Message
from .outbound import behind, bmask_lines, certfp_lines, has_owner, sid_line, sjoin_lines, tburst_line, uid_line


def servers_in_tree_order(network: Network) -> list[Server]:
    """Every server but us, each after its uplink (breadth first from us)."""
    order: list[Server] = []
    frontier = [network.me]
    while frontier:
        children = sorted(
            (s for s in network.servers.values() if s.uplink in frontier and s is not network.me),
            key=lambda s: (s.hopcount, s.name.lower()),
        )
        # keep siblings grouped under their uplink, nearest first
        order.extend(children)
        frontier = children
    return order


def burst_messages(network: Network, link: Any) -> Iterator[Message]:
    """The burst for ``link``: SID, UID (+AWAY), SJOIN/BMASK/TBURST per channel, then EOB."""
    me = network.me
    owner = has_owner(link)
    for server in servers_in_tree_order(network):
        if not behind(server, link):
            yield sid_line(server)
    for user in list(network.users_by_uid.values()):
        if behind(user, link):
            continue
        yield uid_line(user)
        if user.certfp:
            yield from certfp_lines(user)
        if user.away:
            yield Message("AWAY", (user.away,), user.uid)
    for channel in list(network.channels.values()):
        members = [(u, m.status) for u, m in channel.members.items() if not behind(u, link)]
        if not members:
            continue
        yield from sjoin_lines(me.sid, channel, members, owner)
        yield from bmask_lines(me.sid, channel)
        if channel.topic:
            yield tburst_line(me.sid, channel)
    yield Message("EOB", (), me.sid)
