# -*- test-case-name: tests.unit.test_sasl -*-
"""Where a client's SASL exchange is decided: the services here, or the services server over the links.

A client's server hands each step to an *agent* with ``start(uid, mechanism,
reply, certfp, ip)``, ``data(uid, chunk)`` and ``abort(uid)``; the agent
answers through ``reply(mode, data)`` (modes of
:mod:`conferenceroom.services.sasl`).  With services running in this process
the agent is theirs and is called directly.  With services on another server
the steps travel as charybdis and atheme carry them, routed toward that
server only::

    :<our SID> ENCAP <services server> SASL <client UID> * H <host> <ip>
    :<our SID> ENCAP <services server> SASL <client UID> * S <mechanism> [<certfp>]
    :<our SID> ENCAP <services server> SASL <client UID> * C <chunk>
    :<our SID> ENCAP <services server> SASL <client UID> * D A

and the services server answers the same way, toward us::

    :<services SID> ENCAP <our name> SASL <agent UID> <client UID> C|L|D|M <data>

The client UID is reserved for the connection before it registers, so a
login before registration lands on the right connection and the UID line
that introduces it later carries the account.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .network import Server
from .wire import Message

Reply = Callable[[str, str], None]


def replies(core: Any) -> dict[str, Reply]:
    """The answer callbacks of this server's exchanges relayed to remote services, by client UID."""
    table = getattr(core, "sasl_replies", None)
    if table is None:
        table = core.sasl_replies = {}
    return table


class LinkAgent:
    """The agent of services on another server: every step is an ENCAP SASL toward it."""

    def __init__(self, core: Any, services: Server) -> None:
        self.core = core
        self.services = services

    def _send(self, uid: str, mode: str, *data: str) -> bool:
        link = next((link for link in getattr(self.core, "links", ()) if link.route is self.services.route), None)
        if link is None:
            return False
        me = self.core.network.me
        link.send(Message("ENCAP", (self.services.name, "SASL", uid, "*", mode, *data), me.sid))
        return True

    def start(self, uid: str, mechanism: str, reply: Reply, certfp: str | None = None,
              ip: str | None = None, host: str | None = None) -> None:
        """``H`` (where the client connects from) and ``S`` (the mechanism and certificate)."""
        replies(self.core)[uid] = reply
        self._send(uid, "H", host or "*", ip or "0")
        if not self._send(uid, "S", mechanism, *([certfp] if certfp else [])):
            replies(self.core).pop(uid, None)
            reply("D", "F")

    def data(self, uid: str, chunk: str) -> None:
        """``C``: one chunk of the client's response."""
        self._send(uid, "C", chunk)

    def abort(self, uid: str) -> None:
        """``D A``: the client gave up; answers still on their way are dropped."""
        if replies(self.core).pop(uid, None) is not None:
            self._send(uid, "D", "A")


def find_agent(core: Any) -> Any:
    """The agent deciding logins for this server's clients now, or None (no services reachable)."""
    host = getattr(core, "services", None)
    if host is not None and getattr(host, "running", False):
        from .services.sasl import agent_of

        return agent_of(host)
    services = core.network.services_server()
    if services is None or getattr(services.route, "decides_here", False):
        return None
    return LinkAgent(core, services)


def answer(core: Any, uid: str, mode: str, data: str) -> bool:
    """An answer from remote services for client ``uid``; False if no exchange waits for it."""
    table = replies(core)
    reply = table.get(uid)
    if reply is None:
        return False
    if mode == "D":
        del table[uid]
    reply(mode, data)
    return True
