"""Server links: TS6 as ircd-hybrid 8.2 speaks it, plus ConferenceRoom's serial and role.

``ts6`` builds and checks handshake lines, ``handshake`` turns a peer's
PASS/CAPAB/SERVER/SVINFO into one :class:`~conferenceroom.link.handshake.PeerAnnouncement`
(sans-IO), and ``policy`` decides whether that peer may link (SPEC sections 3-4).
The wire format is described in ``docs/link-protocol.md``.
"""
