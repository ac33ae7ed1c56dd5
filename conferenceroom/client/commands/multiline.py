# -*- test-case-name: tests.unit.test_client_multiline -*-
"""draft/multiline: a client sends one message of several lines as a batch.

``BATCH +<ref> draft/multiline <target>``, then PRIVMSG (or NOTICE) lines to
that target tagged ``batch=<ref>`` (``draft/multiline-concat`` joins a line
to the previous one), then ``BATCH -<ref>``.  Clients with the capability get
the message as one batch (msgid and time on its BATCH line); the others, and
server links, get each non-blank line as a message of its own (the first
one carrying the msgid).  A labeled ``BATCH +`` gets its label on the echoed
batch.  Mistakes are ``FAIL BATCH MULTILINE_*`` and drop the batch.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from itertools import count
from typing import TYPE_CHECKING

from ...casemap import fold, is_channel
from ...dispatch import command
from ...network import Channel, User
from ...routing import Relay
from ...wire import Message
from ...modes import BOT_MODE
from ..caps import MULTILINE as CAP, MULTILINE_MAX_BYTES as MAX_BYTES, MULTILINE_MAX_LINES as MAX_LINES
from ..labels import label_of

if TYPE_CHECKING:
    from ..protocol import ClientConnection

CONCAT = "draft/multiline-concat"
_ids = count(1)


@dataclass
class Pending:
    """A multiline batch being received."""

    ref: str
    target: str
    tags: dict[str, str]
    label: str | None
    lines: list[tuple[str, str, bool]] = field(default_factory=list)  # (verb, text, concat)
    size: int = 0


def _fail(conn: "ClientConnection", code: str, text: str) -> None:
    """FAIL BATCH <code>; the open batch is dropped, and its remaining lines and end ignored."""
    pending = getattr(conn, "pending_multiline", None)
    conn.failed_multiline = pending.ref if pending is not None else None
    conn.pending_multiline = None
    conn.send(Message("FAIL", ("BATCH", code, text), conn.core.name))


@command("BATCH", min_params=1, syntax="BATCH {+<ref> draft/multiline <target> | -<ref>}")
def handle_batch(conn: "ClientConnection", msg: Message) -> None:
    """BATCH +<ref> draft/multiline <target> opens a multiline message; BATCH -<ref> sends it."""
    ref = msg.params[0]
    pending: Pending | None = getattr(conn, "pending_multiline", None)
    if ref.startswith("+"):
        if CAP not in conn.caps or len(msg.params) < 3 or msg.params[1] != CAP:
            _fail(conn, "MULTILINE_INVALID", "Only draft/multiline batches are accepted")
            return
        if pending is not None:
            _fail(conn, "MULTILINE_INVALID", "A multiline batch is already open")
            return
        client_tags = {k: v for k, v in msg.tags.items() if k[:1] == "+"}
        label = label_of(conn, msg)
        conn.pending_multiline = Pending(ref[1:], msg.params[2], client_tags, label)
        if label is not None and conn.label is not None:
            conn.label = None  # the label goes on the echoed batch, not on an ACK now
        return
    if pending is None and ref[1:] == getattr(conn, "failed_multiline", None):
        conn.failed_multiline = None  # the end of a batch already refused
        return
    if pending is None or ref[1:] != pending.ref or not ref.startswith("-"):
        _fail(conn, "MULTILINE_INVALID", "No such multiline batch is open")
        return
    conn.pending_multiline = None
    if not pending.lines:
        _fail(conn, "MULTILINE_INVALID", "An empty multiline batch")
        return
    _deliver(conn, pending)


def take_line(conn: "ClientConnection", msg: Message) -> bool:
    """True if ``msg`` (a PRIVMSG or NOTICE tagged ``batch``) belongs to an open multiline batch.

    A line of the wrong batch, target or shape fails the batch (still True: it is used up).
    """
    pending: Pending | None = getattr(conn, "pending_multiline", None)
    ref = msg.tags.get("batch")
    if ref is None:
        return False
    if pending is None and ref == getattr(conn, "failed_multiline", None):
        return True  # a line of a batch already refused
    if pending is None or ref != pending.ref:
        _fail(conn, "MULTILINE_INVALID", "That batch is not open")
        return True
    if len(msg.params) < 2 or fold(msg.params[0]) != fold(pending.target):
        _fail(conn, "MULTILINE_INVALID", "Every line of a multiline batch goes to its target")
        return True
    text = msg.params[1]
    concat = CONCAT in msg.tags
    if concat and not text:
        _fail(conn, "MULTILINE_INVALID", "A blank line cannot be concatenated")
        return True
    pending.size += len(text.encode("utf-8"))
    if pending.size > MAX_BYTES:
        _fail(conn, "MULTILINE_MAX_BYTES", f"A multiline message may hold {MAX_BYTES} bytes")
        return True
    if len(pending.lines) >= MAX_LINES:
        _fail(conn, "MULTILINE_MAX_LINES", f"A multiline message may hold {MAX_LINES} lines")
        return True
    pending.lines.append((msg.command, text, concat))
    return True


def _deliver(conn: "ClientConnection", pending: Pending) -> None:
    """The batch to capable recipients, single lines to the others and to links."""
    from .message import _can_send

    user = conn.user
    assert user is not None
    core = conn.core
    network = core.network
    target = pending.target
    recipients: list[User]
    where: Channel | User
    if is_channel(target):
        channel = network.find_channel(target)
        if channel is None:
            conn.reply("ERR_NOSUCHCHANNEL", target)
            return
        reason = _can_send(user, channel)
        if reason is not None:
            conn.send(Message("404", (conn.nick, channel.name, reason), core.name))
            return
        where, shown = channel, channel.name
        recipients = [u for u in channel.members if u is not user]
    else:
        found = network.find_user(target)
        if found is None:
            conn.reply("ERR_NOSUCHNICK", target)
            return
        where, shown = found, found.nick
        recipients = [found] if found is not user else []
    verb = pending.lines[0][0]
    msgid = uuid.uuid4().hex
    stamp = conn.core_time()
    head = {**pending.tags, "msgid": msgid, "time": stamp}
    if user.account:
        head["account"] = user.account
    if BOT_MODE in user.modes:
        head["bot"] = ""
    batch = _batch(user, shown, verb, pending, head)
    single = _singles(user, shown, verb, pending, head, stamp)
    from .ircv3 import recent_messages

    recent_messages(core).add(msgid, user, where)
    relayed: set[int] = set()
    for member in recipients:
        route = member.route
        if getattr(route, "is_client", False):
            for line in (batch if CAP in route.caps else single):
                route.send(line)
        elif route is not None and id(route) not in relayed:
            relayed.add(id(route))
            for line in single:
                route.relay(Relay(user, where, line))
    if "echo-message" in conn.caps:
        echo = batch if CAP in conn.caps else single
        if pending.label is not None and echo:
            echo = [echo[0].with_tags({**echo[0].tags, "label": pending.label}), *echo[1:]]
        for line in echo:
            conn.send(line)
    elif pending.label is not None:
        conn.send(Message("ACK", (), core.name, {"label": pending.label}))


def _batch(user: User, target: str, verb: str, pending: Pending, head: dict[str, str]) -> list[Message]:
    ref = f"ml{next(_ids)}"
    lines = [Message("BATCH", (f"+{ref}", CAP, target), user.mask, head)]
    for _, text, concat in pending.lines:
        tags = {"batch": ref, CONCAT: ""} if concat else {"batch": ref}
        lines.append(Message(verb, (target, text), user.mask, tags))
    lines.append(Message("BATCH", (f"-{ref}",), user.mask))
    return lines


def _singles(user: User, target: str, verb: str, pending: Pending, head: dict[str, str],
             stamp: str) -> list[Message]:
    out = []
    for _, text, _concat in pending.lines:
        if not text:
            continue
        tags = dict(head) if not out else {**pending.tags, "time": stamp}
        out.append(Message(verb, (target, text), user.mask, tags))
    return out
