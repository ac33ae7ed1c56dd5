# -*- test-case-name: tests.unit.test_client_labels -*-
"""IRCv3 labeled-response: every reply to a labeled command carries its label.

While a labeled command runs, what the connection would write to its own
client is held here.  When the command is done: nothing gives a labeled
``ACK``; one line gets the ``label`` tag; more lines are wrapped in a
``BATCH +<id> labeled-response`` carrying the label (each line with the
``batch`` tag), or, for a client without ``batch``, sent unlabeled.

A command is done when its handler has returned and the flood gate is no
longer held on its behalf: a long reply written as the client reads it
(``ReplyStream``) or a command waiting on off-thread work (OPER, AS) holds
the gate.  In that case the batch is opened at once, the reply's lines are
written into it as they come, and it is closed when the gate is released.
While it is open, lines from other users (a PRIVMSG arriving meanwhile) are
not part of the reply and go out untagged; the reply's own lines are those
of the long reply and those from this server or from the client itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import count
from typing import TYPE_CHECKING

from ..wire import Message, ParseError, parse

if TYPE_CHECKING:
    from .protocol import ClientConnection

MAX_LABEL = 64  # bytes: a longer label is not echoed (the spec's limit)
_ids = count(1)


def label_of(conn: "ClientConnection", msg: Message) -> str | None:
    """The label of ``msg`` if ``conn`` negotiated labeled-response and it has a usable one."""
    if "labeled-response" not in conn.caps:
        return None
    label = msg.tags.get("label")
    if not label or len(label.encode("utf-8")) > MAX_LABEL:
        return None
    return label


@contextmanager
def not_a_reply(conn: "ClientConnection") -> Iterator[None]:
    """Lines written to ``conn`` meanwhile are not replies to its labeled command."""
    label = conn.label
    if label is None:
        yield
        return
    label.suspended += 1
    try:
        yield
    finally:
        label.suspended -= 1


def raw_label(conn: "ClientConnection", raw: bytes) -> str | None:
    """The label of a line that could not be parsed (an unknown command such as ``FOO_BAR``)."""
    if "labeled-response" not in conn.caps or not raw.startswith(b"@"):
        return None
    tags = raw[1:].partition(b" ")[0].decode("utf-8", "replace")
    try:
        msg = parse(f"@{tags} PING")
    except ParseError:
        return None
    return label_of(conn, msg)


class LabeledReply:
    """The replies of one labeled command, held until it is done."""

    def __init__(self, conn: "ClientConnection", label: str) -> None:
        self.conn = conn
        self.label = label
        self.held: list[Message] = []
        self.baseline = conn.gate.held
        self.batch_id: str | None = None  # set once the batch is open (an unfinished command)
        self.running = True  # the handler has not returned yet
        self.suspended = 0  # >0: lines written now are not replies (a message to oneself)

    # -- what the connection asks ------------------------------------------------

    def take(self, msg: Message) -> bool:
        """True if ``msg`` (about to be written) is part of this reply and was dealt with here."""
        if self.suspended:
            return False
        if self.batch_id is None:
            self.held.append(msg)
            return True
        if msg.tags.get("batch") == self.batch_id or not self._ours(msg):
            return False  # already in the batch, or not a reply: written as is
        self.conn.write_message(self._in_batch(msg))
        return True

    def stream(self, messages: Iterable[Message]) -> Iterator[Message]:
        """A long reply's lines, put into the batch if it is open by the time each is written."""
        for msg in messages:
            yield self._in_batch(msg) if self.batch_id is not None else msg

    def handler_returned(self) -> None:
        """The handler is done: finish now, or open the batch for the rest."""
        self.running = False
        if self.conn.gate.held <= self.baseline:
            self.finish()
            return
        if "batch" not in self.conn.caps:
            self._release_held()
            self.batch_id = ""  # no batch: later lines go out as they are
            return
        self.batch_id = f"L{next(_ids)}"
        self.conn.write_message(Message("BATCH", (f"+{self.batch_id}", "labeled-response"),
                                        self.conn.core.name, {"label": self.label}))
        for msg in self._drain():
            self.conn.write_message(self._in_batch(msg))

    def gate_released(self) -> None:
        """The gate was released: if that ends this command, close its batch."""
        if not self.running and self.conn.gate.held <= self.baseline:
            self.finish()

    def finish(self) -> None:
        """Write what was held with the label, or close the open batch; stop capturing."""
        conn = self.conn
        if conn.label is self:
            conn.label = None
        if self.batch_id:
            conn.write_message(Message("BATCH", (f"-{self.batch_id}",), conn.core.name))
            return
        if self.batch_id == "":
            return
        held = self._drain()
        if not held:
            conn.write_message(Message("ACK", (), conn.core.name, {"label": self.label}))
        elif len(held) == 1:
            conn.write_message(held[0].with_tags({**held[0].tags, "label": self.label}))
        elif "batch" in conn.caps:
            batch_id = f"L{next(_ids)}"
            conn.write_message(Message("BATCH", (f"+{batch_id}", "labeled-response"), conn.core.name,
                                       {"label": self.label}))
            for msg in held:
                conn.write_message(msg.with_tags({**msg.tags, "batch": batch_id}))
            conn.write_message(Message("BATCH", (f"-{batch_id}",), conn.core.name))
        else:
            for msg in held:
                conn.write_message(msg)

    # -- internals ------------------------------------------------------------------

    def _drain(self) -> list[Message]:
        held, self.held = self.held, []
        return held

    def _release_held(self) -> None:
        for msg in self._drain():
            self.conn.write_message(msg)

    def _in_batch(self, msg: Message) -> Message:
        if not self.batch_id:
            return msg
        return msg.with_tags({**msg.tags, "batch": self.batch_id})

    def _ours(self, msg: Message) -> bool:
        """A reply line of an unfinished command: from this server or from the client itself."""
        source = msg.source or ""
        user = self.conn.user
        return source == self.conn.core.name or (
            user is not None and (source == user.nick or source.startswith(user.nick + "!"))
        )
