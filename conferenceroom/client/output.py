# -*- test-case-name: tests.unit.test_client_output -*-
"""Long replies written as the client reads them.

A handler with a reply that can run to megabytes (LIST, NAMES, WHO, the
b/e/I lists) hands the connection an iterable of messages instead of
writing them all at once.  :class:`ReplyStream` writes a chunk per reactor
turn while the transport is willing: it registers as a streaming producer,
so the transport pauses it when its buffer is full and resumes it once the
client has read it.  A slow but reading client therefore gets the whole
reply and never trips the SendQ limit, a client that stops reading holds
no more than the transport's buffer, and other clients are served between
chunks.  While a reply streams, the client's later input lines wait in the
flood gate (held), so replies keep the order of the commands.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from twisted.internet import tcp
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

from ..wire import Message

if TYPE_CHECKING:
    from .protocol import ClientConnection

CHUNK_BYTES = 16 * 1024  # written per reactor turn at most


@implementer(IPushProducer)
class ReplyStream:
    """Writes queued message iterators to one connection as it drains."""

    log = Logger()

    def __init__(self, conn: "ClientConnection", clock: Any) -> None:
        self.conn = conn
        self.clock = clock
        self.pending: deque[Iterator[Message]] = deque()
        self.active = False  # a reply is being written (the gate is held)
        self.paused = False  # the transport's buffer is full
        self.registered = False
        self._call: Any = None

    def add(self, messages: Iterable[Message]) -> None:
        """Queue ``messages``; a short reply is written at once, a long one paced."""
        self.pending.append(iter(messages))
        if not self.active:
            self.active = True
            self.paused = False
            self._pump()

    # -- IPushProducer -------------------------------------------------------

    def pauseProducing(self) -> None:
        """The transport's buffer is full: stop until :meth:`resumeProducing`."""
        self.paused = True

    def resumeProducing(self) -> None:
        """The transport drained: write the next chunk on the next turn."""
        self.paused = False
        if self.active and self._call is None:
            self._call = self.clock.callLater(0, self._pump)

    def stopProducing(self) -> None:
        """The connection is gone: forget the rest."""
        self.stop()

    # -- internals -------------------------------------------------------------

    def _pump(self) -> None:
        self._call = None
        conn = self.conn
        written = 0
        while self.active and not self.paused and self.pending and written < CHUNK_BYTES:
            try:
                msg = next(self.pending[0])
            except StopIteration:
                self.pending.popleft()
                continue
            except Exception:
                self.log.failure("error building a long reply for {ip}", ip=conn.ip)
                self.pending.popleft()
                continue
            written += conn.send(msg)
            if conn.closing or conn.dead:
                self.stop()
                return
        if not self.active:
            return
        if not self.pending:
            self._finish()
            return
        if not self.registered:
            self.registered = True
            conn.gate.hold()
            conn.transport.registerProducer(self, True)
        if not self.paused and self._call is None:
            self._call = self.clock.callLater(0, self._pump)

    def _finish(self) -> None:
        self.active = False
        if self.registered:
            self.registered = False
            self._unregister()
            self.conn.gate.release()  # input that waited behind the reply runs now

    def stop(self) -> None:
        """Drop every queued reply (the connection is closing)."""
        self.active = False
        self.pending.clear()
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        if self.registered:
            self.registered = False
            self._unregister()

    def _unregister(self) -> None:
        transport = self.conn.transport
        if transport is not None and getattr(transport, "producer", self) is self:
            transport.unregisterProducer()


class OutputBatch:
    """Output held while one chunk of input is handled, then written once per connection.

    A channel message reaches each member as an append to that member's
    pending list; when the outermost :meth:`end` comes (the end of the
    ``dataReceived`` that caused it), each connection written to gets one
    joined write.  Lines keep their order: everything a connection sends goes
    through the same list, and it is flushed before ERROR and close.
    Outside a batch (timers, server links) writes go straight through.
    At the end, each connection's output goes to its socket at once when
    nothing waits in its transport (:func:`write_now`).
    """

    def __init__(self) -> None:
        self.depth = 0
        self.dirty: list["ClientConnection"] = []

    def begin(self) -> None:
        """Hold output until the matching :meth:`end`."""
        self.depth += 1

    def end(self) -> None:
        """Close one level; at the outermost, write what every connection holds."""
        self.depth -= 1
        if not self.depth and self.dirty:
            self.flush()

    def flush(self) -> None:
        """Write every held output now, to the socket where it can (a flush may drop a client, never write more)."""
        while self.dirty:
            dirty, self.dirty = self.dirty, []
            for conn in dirty:
                conn.flush_output(True)


def write_now(transport: Any, data: bytes) -> None:
    """Write ``data``: straight to the socket when the transport holds nothing unsent, else through it.

    What a client's read made anyone receive (its PONG or echo, a channel
    line for every member) then leaves in the same reactor pass, not one
    poll later, and costs one system call instead of Twisted's
    register-for-writing round (epoll add, a poll, send, epoll remove).  Only a
    plain TCP connection qualifies; whatever the socket does not take at
    once (or an error, which Twisted then reports) goes through the
    transport as usual, after nothing, so the order holds.
    """
    if (
        type(transport) is tcp.Server and not transport.TLS and transport.connected
        and not transport.disconnecting and not transport._tempDataBuffer
        and transport.offset == len(transport.dataBuffer)
    ):
        try:
            sent = transport.socket.send(data)
        except OSError:  # full (EAGAIN) or gone: the transport sees to it
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)


#: The one batch of this process (the reactor runs one thing at a time).
BATCH = OutputBatch()
