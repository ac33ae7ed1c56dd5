"""Client command handlers, one module per family.

Each module marks its handlers with :func:`conferenceroom.dispatch.command`;
:func:`all_modules` lists the modules a server's command table is built from.
"""

from __future__ import annotations

from types import ModuleType


def all_modules() -> list[ModuleType]:
    """Every client command module, imported."""
    from . import (
        admin, bans, channel, info, ircv3, message, monitor, multiline, oper, operwall, query, registration, sasl,
        services,
    )

    return [registration, channel, message, query, info, oper, operwall, bans, admin, services, monitor, ircv3,
            multiline, sasl]
