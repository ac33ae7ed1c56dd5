# -*- test-case-name: tests.unit.test_sasl -*-
"""ENCAP SASL on a link: a remote client's exchange for our services, or our services' answer for our client.

The lines are described in :mod:`conferenceroom.sasl` and ``docs/link-protocol.md`` (7a).  They are
routed toward the one server they name, never flooded to every link, since they carry passwords.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..network import Server, User
from ..wire import Message

if TYPE_CHECKING:
    from .side import LinkSide


def encap_sasl(side: "LinkSide", link: Any, source: Any, msg: Message) -> None:
    """``ENCAP <server> SASL ...`` (see :mod:`conferenceroom.sasl`): for our services, for our client,
    or routed toward the one server it names (never flooded: it carries passwords)."""
    network = side.network
    mask, args = msg.params[0], msg.params[2:]
    target = network.servers_by_sid.get(mask) or network.find_server(mask)
    if target is None or len(args) < 3:
        return
    if target is side.me:  # an answer of the services for a client of ours
        if side.core is not None:
            from ..sasl import answer

            answer(side.core, args[1], args[2], args[3] if len(args) > 3 else "")
        return
    host = getattr(side.core, "services", None)
    if host is not None and getattr(host, "running", False) and target is host.server:
        _sasl_request(side, host, source.server if isinstance(source, User) else source, args)
    elif target.route is not link.route:
        side.toward(target, msg)


def _sasl_request(side: "LinkSide", host: Any, origin: Server, args: tuple[str, ...]) -> None:
    """A step of a remote client's exchange for our services; answers go back to its server."""
    from ..services.sasl import agent_of

    agent = agent_of(host)
    uid, mode, data = args[0], args[2], args[3:]
    nickserv = host.bot("nickserv")
    agent_id = nickserv.user.uid if nickserv is not None and nickserv.user is not None else host.server.sid

    def reply(answer_mode: str, answer: str) -> None:
        side.toward(origin, Message("ENCAP", (origin.name, "SASL", agent_id, uid, answer_mode, answer),
                                    host.server.sid))

    if mode == "H" and len(data) > 1:
        agent.note_address(uid, data[1])
    elif mode == "S" and data:
        agent.start(uid, data[0], reply, certfp=data[1] if len(data) > 1 else None)
    elif mode == "C" and data:
        agent.data(uid, data[0])
    elif mode == "D":
        agent.abort(uid)
