"""AS command families: one module per family, each declaring its verbs.

Adding a family means writing a module with
a ``family()`` function returning a :class:`~conferenceroom.admin.tree.Family`
and adding it to :data:`ALL_FAMILIES`.  The order is the order of HELP and of
the canonical config file.
"""

from conferenceroom.admin.families import general, oper, security, server, services

#: Family factories in HELP / writer order (an immutable tuple, not a registry).
ALL_FAMILIES = (general.family, oper.family, services.family, server.family, security.family)

__all__ = ["ALL_FAMILIES"]
