"""Server links: TS6 as ircd-hybrid 8.2 speaks it, plus ConferenceRoom's serial and role.

``ts6`` builds and checks handshake lines, ``handshake`` turns a peer's
PASS/CAPAB/SERVER/SVINFO into one :class:`~conferenceroom.link.handshake.PeerAnnouncement`
(sans-IO), and ``policy`` decides whether that peer may link (SPEC sections 3-4).
After the handshake, ``commands`` (its table over ``servers``, ``users``, ``channels``,
``messages``, ``encap``, ``queries`` and ``remoteops``) applies the peer's lines, ``outbound``
sends our changes and ``burst`` what we know.
The wire format is described in ``docs/link-protocol.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core import ServerCore


def attach(core: "ServerCore") -> None:
    """Give ``core`` its server command table (``core.server_commands``), bound to its network and links."""
    from .commands import LinkSide, build_table

    side = LinkSide(core.network, core.router, links=lambda: getattr(core, "links", ()),
                    notice=core.notice_opers, core=core)
    core.server_commands = build_table(side)
