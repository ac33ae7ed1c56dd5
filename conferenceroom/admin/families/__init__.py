"""AS command families: one module per family, each declaring its verbs.

Adding a family means writing a module with
a ``family()`` function returning a :class:`~conferenceroom.admin.tree.Family`
and adding it to :data:`ALL_FAMILIES`.  The order is the order of HELP and of
the canonical config file.
"""

from conferenceroom.admin.families import general, oper, security, server, services

#: Family factories in HELP / writer order (an immutable tuple, not a registry).
ALL_FAMILIES = (general.family, oper.family, services.family, server.family, security.family)

#: ConferenceRoom's own config families that conferenceroom does not
#: implement.  A config line starting with one of these is kept in the file
#: as it is, with a warning at load; any other unknown first word is an
#: error (a typo).  Sources: tests/fixtures/ConfRoom.conf (KEY, WEB, NEWS,
#: BOT, CLIENT, EVENT) and ConferenceRoom's adminserv manual (CHAN: the
#: rooms managed by server bots).
UNSUPPORTED_FAMILIES = ("KEY", "WEB", "NEWS", "BOT", "CLIENT", "EVENT", "CHAN")

__all__ = ["ALL_FAMILIES", "UNSUPPORTED_FAMILIES"]
