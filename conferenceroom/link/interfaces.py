"""What the link manager needs from a server link (real link protocols and test fakes provide it)."""

from __future__ import annotations

from zope.interface import Attribute, Interface


class ILinkConnection(Interface):
    """One server link, as the :class:`~conferenceroom.link.manager.LinkManager` sees it.

    The link protocol provides this and reports to the manager: for every
    protocol the manager's factory built, exactly one of
    ``link_established(link)`` (handshake accepted) or ``link_lost(link,
    reason)`` (refused, failed, closed), and ``link_lost`` again once an
    established link closes.  Inbound links report the same way.
    """

    name = Attribute("The peer's server name as it announced it (str).")
    handle = Attribute("Handle of the server definition it linked under (str), or None before that is known.")
    role = Attribute("The peer's effective role: 'hub' or 'leaf' (str).")
    secure = Attribute("True if the link runs over TLS.")

    def drop(reason: str) -> None:
        """Close the link: SQUIT/ERROR to the peer carrying *reason*, then ``link_lost``."""

    def announce_role(role: str) -> None:
        """This server switched role live: tell the peer."""

    def set_ping_interval(seconds: int) -> None:
        """The definition's PING changed: use *seconds* for this link's keepalive from now on."""
