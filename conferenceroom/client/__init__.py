"""The client side: connections, commands, capabilities and the announcer.

:func:`attach` plugs it into a :class:`~conferenceroom.core.ServerCore`;
``service.build_core`` calls it, so the core never imports this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core import ServerCore


def attach(core: "ServerCore") -> None:
    """Give ``core`` the client command table and capabilities, and subscribe the announcer."""
    from .. import events as ev
    from ..dispatch import CommandTable
    from .announce import ClientAnnouncer
    from .caps import default_capabilities
    from .commands import all_modules

    core.commands = CommandTable.from_modules(*all_modules())
    core.capabilities = default_capabilities()
    core.announcer = ClientAnnouncer(core)
    core.network.events.subscribe(core.announcer)
    from .monitor import attach as attach_monitor

    attach_monitor(core)
    from .sasl import SaslCapability

    core.sasl_capability = SaslCapability(core)
    core.network.events.subscribe(core.sasl_capability, kinds=(ev.ServerIntroduced, ev.NetSplit))
    core.sasl_capability.update()
