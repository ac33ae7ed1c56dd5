# -*- test-case-name: tests.unit.test_client_ircv3 -*-
"""IRCv3 commands of their own: SETNAME (setname), RENAME (draft/channel-rename), MARKREAD
(draft/read-marker: kept per account when logged in, else for the connection's life).

Errors are IRCv3 standard replies (``FAIL <command> <code> ... :<text>``).
"""

from __future__ import annotations

import re
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


# -- MARKREAD (draft/read-marker) -----------------------------------------------------------

READ_MARKER = "draft/read-marker"
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")


def _markers(conn: "ClientConnection") -> dict[str, str]:
    """Read markers of ``conn``'s user: per account when logged in, else per connection."""
    user = conn.user
    if user is not None and user.account:
        store: dict[str, dict[str, str]] = conn.core.__dict__.setdefault("read_markers", {})
        return store.setdefault(fold(user.account), {})
    return conn.__dict__.setdefault("read_markers", {})


def send_read_marker(conn: "ClientConnection", target: str) -> None:
    """``MARKREAD <target> timestamp=<ts>`` (or ``*`` when none is stored)."""
    stamp = _markers(conn).get(fold(target))
    conn.send(Message("MARKREAD", (target, f"timestamp={stamp}" if stamp else "*"), conn.core.name))


@command("MARKREAD", syntax="MARKREAD <target> [timestamp=<YYYY-MM-DDThh:mm:ss.sssZ>]")
def handle_markread(conn: "ClientConnection", msg: Message) -> None:
    """MARKREAD <target>: what was read last; with a timestamp, move it forward (never back)."""
    if not msg.params or not msg.params[0]:
        fail(conn, "MARKREAD", "NEED_MORE_PARAMS", text="MARKREAD needs a target")
        return
    target = msg.params[0]
    if len(msg.params) > 1:
        stamp = msg.params[1].partition("timestamp=")[2] if msg.params[1].startswith("timestamp=") else ""
        if not _TIMESTAMP.fullmatch(stamp):
            fail(conn, "MARKREAD", "INVALID_PARAMS", target,
                 text="The timestamp must be timestamp=YYYY-MM-DDThh:mm:ss.sssZ")
            return
        markers = _markers(conn)
        key = fold(target)
        if stamp > markers.get(key, ""):
            markers[key] = stamp
        # Every session of the same account with the capability is told.
        user = conn.user
        sessions = [conn]
        if user is not None and user.account:
            sessions += [u.route for u in conn.core.network.local_users()
                         if u is not user and u.account == user.account and READ_MARKER in u.route.caps]
        for session in sessions:
            send_read_marker(session, target)
        return
    send_read_marker(conn, target)
