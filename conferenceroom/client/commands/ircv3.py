# -*- test-case-name: tests.unit.test_client_ircv3 -*-
"""IRCv3 commands of their own: SETNAME (setname) and RENAME (draft/channel-rename).

Errors are IRCv3 standard replies (``FAIL <command> <code> ... :<text>``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...dispatch import command
from ...limits import REALNAMELEN
from ...wire import Message

if TYPE_CHECKING:
    from ..protocol import ClientConnection


def fail(conn: "ClientConnection", verb: str, code: str, *context: str, text: str) -> None:
    """``FAIL <verb> <code> [<context>...] :<text>`` (IRCv3 standard replies)."""
    conn.send(Message("FAIL", (verb, code, *context, text), conn.core.name))


@command("SETNAME", min_params=1, penalty=2, syntax="SETNAME :<real name>")
def handle_setname(conn: "ClientConnection", msg: Message) -> None:
    """SETNAME :<real name>: change one's real name; peers with setname see SETNAME."""
    user = conn.user
    assert user is not None
    realname = msg.params[0]
    if not realname.strip() or len(realname) > REALNAMELEN:
        fail(conn, "SETNAME", "INVALID_REALNAME", text=f"Real name must be 1 to {REALNAMELEN} characters")
        return
    conn.core.network.set_realname(user, realname)
