# -*- test-case-name: tests.unit.test_link_protocol -*-
"""The output half of a :class:`~conferenceroom.link.protocol.LinkConnection`.

Relays reach a link through its :class:`LinkRoute` and leave as TS6 lines
rendered by the :class:`TS6Output` wired in :func:`conferenceroom.link.wiring.attach`;
our burst is written in one go, and the send queue is bounded (the burst
has an allowance on top that shrinks as it leaves).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conferenceroom.sendq import queued_bytes
from conferenceroom.wire import Message, encode_line

if TYPE_CHECKING:
    from conferenceroom.link.protocol import LinkConnection
    from conferenceroom.routing import Relay

#: Bytes a link may have queued for sending beyond what is left of its burst before it is closed.
LINK_SENDQ = 32 * 1024 * 1024
SENDQ_CHECK_EVERY = 63  # check the send queue on every 64th write (a bit mask)


@dataclass(frozen=True)
class TS6Output:
    """What links need from the TS6 modules: the burst and the rendering of relays.

    ``burst(network, link)`` gives every line of our burst for *link*;
    ``render_relay(relay, link)`` the TS6 lines of one relayed message;
    ``burst_text(network, link)`` (optional) the burst's lines as checked text.
    """

    burst: Callable[[Any, Any], Iterable[Message]]
    render_relay: Callable[["Relay", Any], Iterable[Message]]
    #: the same burst as lines without CR LF, each already fitting 512 bytes (faster to write)
    burst_text: Callable[[Any, Any], list[str]] | None = None


class LinkRoute:
    """The route of every server and user behind one link: relays go out as TS6 lines."""

    is_client = False

    def __init__(self, link: "LinkConnection") -> None:
        self.link = link

    def relay(self, relay: "Relay") -> None:
        """Render *relay* for this link and send each line."""
        link = self.link
        side = link.side
        if side is None or link.closing:
            return
        for msg in side.render_relay(relay, link):
            link.send(msg)

    def __repr__(self) -> str:
        return f"<LinkRoute {self.link.name}>"


class LinkSending:
    """Mixin of :class:`~conferenceroom.link.protocol.LinkConnection`: lines out, the burst, the SendQ bound."""

    def _write_burst(self) -> None:
        """Write our whole burst in one go (a snapshot: live changes follow it in order)."""
        assert self.side is not None
        if self.side.burst_text is not None:
            lines = self.side.burst_text(self.core.network, self)
            data = ("\r\n".join(lines) + "\r\n").encode("utf-8", "replace") if lines else b""
            count = len(lines)
        else:
            chunks = []
            for msg in self.side.burst(self.core.network, self):
                encoded = self._encode(msg)
                if encoded is not None:
                    chunks.append(encoded)
            data = b"".join(chunks)
            count = len(chunks)
        self.burst_lines = count
        self._sendq_limit = LINK_SENDQ + len(data)
        if data and self.transport is not None:
            self.transport.write(data)
            self.lines_out += count
            self.bytes_out += len(data)

    def send(self, msg: Message) -> None:
        """Write one TS6 line; a send queue past its bound closes the link."""
        if self.closing or self.transport is None:
            return
        data = self._encode(msg)
        if data is None:
            return
        self.transport.write(data)
        self.lines_out += 1
        self.bytes_out += len(data)
        self._writes += 1
        if not self._writes & SENDQ_CHECK_EVERY:
            self._check_sendq()

    def _check_sendq(self) -> None:
        """Close past the bound; else shrink our burst's allowance to what may still be queued of it."""
        queued = queued_bytes(self.transport)
        if queued > self._sendq_limit:
            self.core.clock.callLater(0, self._sendq_exceeded)
        elif self._sendq_limit > LINK_SENDQ:  # what is left of the burst is at most what is queued
            self._sendq_limit = LINK_SENDQ + min(self._sendq_limit - LINK_SENDQ, queued)

    def _encode(self, msg: Message) -> bytes | None:
        try:
            return encode_line(msg)
        except ValueError:
            self.log.error("refused to send malformed line {msg!r} to {peer}", msg=msg, peer=self.name)
            return None

    def _sendq_exceeded(self) -> None:
        if not self.closing:
            self._notice(f"Link with {self._who()} lost: SendQ exceeded")
            self._close("SendQ exceeded", notice=False)
