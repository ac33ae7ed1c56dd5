# -*- test-case-name: tests.unit.test_client_ircv3 -*-
"""IRCv3 commands of their own: SETNAME (setname) and RENAME (draft/channel-rename).

Errors are IRCv3 standard replies (``FAIL <command> <code> ... :<text>``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...casemap import fold, valid_channel
from ...dispatch import command
from ...limits import CHANNELLEN, REALNAMELEN
from ...modes import STATUS_RANK, rank
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


def _links_can_rename(conn: "ClientConnection") -> bool:
    """True if every linked server is a ConferenceRoom one (hybrid cannot rename a channel)."""
    links = getattr(conn.core, "links", None) or []
    return all(any(t.startswith("CR-") for t in getattr(link, "capabilities", ())) for link in links)


@command("RENAME", min_params=2, penalty=3, syntax="RENAME <channel> <new name> [:<reason>]")
def handle_rename(conn: "ClientConnection", msg: Message) -> None:
    """RENAME <channel> <new name> [:<reason>]: a channel operator renames the channel."""
    user = conn.user
    assert user is not None
    network = conn.core.network
    old, new = msg.params[0], msg.params[1]
    reason = msg.params[2] if len(msg.params) > 2 else ""
    channel = network.find_channel(old)
    if channel is None:
        conn.reply("ERR_NOSUCHCHANNEL", old)
        return
    membership = channel.members.get(user)
    if membership is None:
        conn.reply("ERR_NOTONCHANNEL", channel.name)
        return
    if rank(membership.status) < STATUS_RANK["o"]:
        conn.reply("ERR_CHANOPRIVSNEEDED", channel.name)
        return
    if not valid_channel(new, CHANNELLEN):
        fail(conn, "RENAME", "CHANNEL_NAME_INVALID", old, new, text="Invalid channel name")
    elif new[0] != channel.name[0]:
        fail(conn, "RENAME", "CANNOT_RENAME", old, new, text="A channel cannot change its type")
    elif fold(new) != fold(channel.name) and network.find_channel(new) is not None:
        fail(conn, "RENAME", "CHANNEL_NAME_IN_USE", old, new, text="That name is in use")
    elif not _links_can_rename(conn):
        fail(conn, "RENAME", "CANNOT_RENAME", old, new,
             text="A server linked to this network cannot rename channels")
    else:
        network.rename_channel(user, channel, new, reason)
