# -*- test-case-name: tests.unit.test_client_ircv3 -*-
"""IRCv3 commands of their own: SETNAME (setname), RENAME (draft/channel-rename), MARKREAD
(draft/read-marker: kept per account when logged in, else for the connection's life) and
REDACT (draft/message-redaction, for the last messages sent on this server).

Errors are IRCv3 standard replies (``FAIL <command> <code> ... :<text>``).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ...casemap import fold, is_channel, valid_channel
from ...dispatch import command
from ...limits import CHANNELLEN, REALNAMELEN
from ...modes import STATUS_RANK, rank
from ...network import Channel, User
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


# -- REDACT (draft/message-redaction) ------------------------------------------------------

REDACTION = "draft/message-redaction"
RECENT_MESSAGES = 20_000  # msgids remembered for REDACT, oldest forgotten first


class RecentMessages:
    """The last messages sent here, by msgid: who sent them to which channel or user."""

    def __init__(self, size: int = RECENT_MESSAGES) -> None:
        self.size = size
        self.entries: OrderedDict[str, tuple[User, Channel | User]] = OrderedDict()

    def add(self, msgid: str, sender: User, target: Channel | User) -> None:
        """Remember that ``sender`` sent ``msgid`` to ``target``."""
        self.entries[msgid] = (sender, target)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def get(self, msgid: str) -> tuple[User, Channel | User] | None:
        """(sender, target) of ``msgid``, if it is still remembered."""
        return self.entries.get(msgid)


def recent_messages(core: Any) -> RecentMessages:
    """The server's :class:`RecentMessages` (made on first use)."""
    recent = core.__dict__.get("recent_messages")
    if recent is None:
        recent = core.__dict__["recent_messages"] = RecentMessages()
    return recent


@command("REDACT", min_params=2, penalty=2, syntax="REDACT <target> <msgid> [:<reason>]")
def handle_redact(conn: "ClientConnection", msg: Message) -> None:
    """REDACT <target> <msgid> [:<reason>]: withdraw a message one sent (or, as a channel
    operator, anyone's message in the channel); clients with the capability are told."""
    user = conn.user
    assert user is not None
    target, msgid = msg.params[0], msg.params[1]
    reason = msg.params[2:3]
    network = conn.core.network
    named = network.find_channel(target) if is_channel(target) else network.find_user(target)
    if named is None or (isinstance(named, Channel) and user not in named.members):
        fail(conn, "REDACT", "INVALID_TARGET", target, text="You are not in that channel or no such nick")
        return
    found = recent_messages(conn.core).get(msgid)
    sender, where = found if found is not None else (None, None)
    if isinstance(where, Channel):
        if fold(where.name) != fold(target):
            found = None
    elif where is not None:  # a private message: named by either party's nick
        if user not in (sender, where) or fold(target) not in (fold(sender.nick), fold(where.nick)):
            found = None
    if found is None:
        fail(conn, "REDACT", "UNKNOWN_MSGID", target, msgid, text="No such message to redact")
        return
    if isinstance(where, Channel):
        membership = where.members.get(user)
        allowed = sender is user or (membership is not None and rank(membership.status) >= STATUS_RANK["o"])
        readers = [u for u in where.local_members]
    else:
        allowed = sender is user
        readers = [u for u in (sender, where) if u.is_local]
    if not allowed:
        fail(conn, "REDACT", "REDACT_FORBIDDEN", target, msgid, text="You may not redact that message")
        return
    shown = where.name if isinstance(where, Channel) else target
    out = Message("REDACT", (shown, msgid, *reason), user.mask)
    conn.core.router.to_local(readers, out, cap=REDACTION)  # local only: links carry no REDACT
