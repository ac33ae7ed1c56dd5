#!/usr/bin/env python3
"""The "Twisted echo floor": the least an IRC-ish server on Twisted can do.

A minimal broadcast server measured exactly like the real ones
(``compare.py --refs floor``), so that our server's figures can be read
against the runtime's own floor as well as against the C servers.  It does
only what the load phases use, each the plainest way Twisted allows:

* registration: NICK (433 when taken) and USER, then ``001``;
* ``PING`` -> ``PONG``; ``PONG`` ignored;
* ``JOIN #a,#b``: the JOIN line to every member (the joiner too), ``353``
  names in lines of at most ~400 bytes, ``366``;
* ``PART``: the PART line to every member, the parter too;
* ``PRIVMSG``/``NOTICE`` to a channel (every other member; the line encoded
  once and written to each transport) or to a nick (the sender may be it);
* ``QUIT`` and lost connections: one QUIT line to each co-member.

Anything else gets ``421``; commands before registration ``451``.  No modes,
no flood control, no timers.  Loopback only.

    python3 benchmarks/floor.py --port 16667        # foreground, Ctrl-C stops
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import Optional

from twisted.internet import protocol
from twisted.protocols.basic import LineOnlyReceiver

SERVER = b"floor.bench"
NAMES_WIDTH = 400


class FloorProtocol(LineOnlyReceiver):
    """One client connection."""

    delimiter = b"\n"
    MAX_LENGTH = 8192

    def __init__(self, factory: "FloorFactory") -> None:
        self.factory = factory
        self.nick: Optional[bytes] = None
        self.user: Optional[bytes] = None
        self.prefix = b""
        self.registered = False
        self.channels: set[bytes] = set()

    # -- I/O ---------------------------------------------------------------------
    def send(self, line: bytes) -> None:
        self.transport.write(line + b"\r\n")

    def numeric(self, code: bytes, *params: bytes) -> None:
        self.send(b":" + SERVER + b" " + code + b" " + (self.nick or b"*")
                  + (b" " + b" ".join(params) if params else b""))

    def lineLengthExceeded(self, line: bytes) -> None:
        self.numeric(b"417", b":Input line was too long")

    def lineReceived(self, line: bytes) -> None:
        line = line.rstrip(b"\r")
        if line.startswith(b"@"):
            line = line.partition(b" ")[2]
        if line.startswith(b":"):
            line = line.partition(b" ")[2]
        head, sep, trailing = line.partition(b" :")
        params = head.split()
        if not params:
            return
        if sep:
            params.append(trailing)
        command = params.pop(0).upper()
        handler = HANDLERS.get(command)
        if handler is None:
            if self.registered:
                self.numeric(b"421", command, b":Unknown command")
            else:
                self.numeric(b"451", b":You have not registered")
            return
        if not self.registered and command not in PRE_REGISTRATION:
            self.numeric(b"451", b":You have not registered")
            return
        handler(self, params)

    def connectionLost(self, reason=None) -> None:
        self.factory.remove(self, b"Connection closed")

    # -- commands ------------------------------------------------------------------
    def irc_NICK(self, params: list[bytes]) -> None:
        if not params:
            self.numeric(b"431", b":No nickname given")
            return
        nick = params[0]
        if self.factory.nicks.get(nick.lower(), self) is not self:
            self.numeric(b"433", nick, b":Nickname is already in use")
            return
        if self.registered:
            self.numeric(b"400", b":Nick changes are not supported here")
            return
        if self.nick is not None:
            self.factory.nicks.pop(self.nick.lower(), None)
        self.nick = nick
        self.factory.nicks[nick.lower()] = self
        self._try_register()

    def irc_USER(self, params: list[bytes]) -> None:
        if len(params) < 4:
            self.numeric(b"461", b"USER", b":Not enough parameters")
            return
        if self.user is None:
            self.user = params[0]
            self._try_register()

    def _try_register(self) -> None:
        if self.registered or self.nick is None or self.user is None:
            return
        self.registered = True
        self.prefix = b":" + self.nick + b"!" + self.user + b"@127.0.0.1"
        self.numeric(b"001", b":Welcome to the floor " + self.nick)

    def irc_PING(self, params: list[bytes]) -> None:
        token = params[-1] if params else b""
        self.send(b":" + SERVER + b" PONG " + SERVER + b" :" + token)

    def irc_PONG(self, params: list[bytes]) -> None:
        return

    def irc_QUIT(self, params: list[bytes]) -> None:
        reason = params[-1] if params else b"Client quit"
        self.factory.remove(self, b"Quit: " + reason)
        self.transport.loseConnection()

    def irc_JOIN(self, params: list[bytes]) -> None:
        if not params:
            self.numeric(b"461", b"JOIN", b":Not enough parameters")
            return
        for name in params[0].split(b","):
            if not name.startswith(b"#"):
                self.numeric(b"403", name, b":No such channel")
                continue
            key = name.lower()
            if key in self.channels:
                continue
            members = self.factory.channels.setdefault(key, {})
            members[self] = None
            self.channels.add(key)
            data = self.prefix + b" JOIN " + name + b"\r\n"
            for member in members:
                member.transport.write(data)
            self._names(name, members)

    def _names(self, name: bytes, members: dict) -> None:
        head = b":" + SERVER + b" 353 " + self.nick + b" = " + name + b" :"
        chunk: list[bytes] = []
        width = 0
        for member in members:
            chunk.append(member.nick)
            width += len(member.nick) + 1
            if width >= NAMES_WIDTH:
                self.send(head + b" ".join(chunk))
                chunk, width = [], 0
        if chunk:
            self.send(head + b" ".join(chunk))
        self.numeric(b"366", name, b":End of /NAMES list.")

    def irc_PART(self, params: list[bytes]) -> None:
        if not params:
            self.numeric(b"461", b"PART", b":Not enough parameters")
            return
        for name in params[0].split(b","):
            key = name.lower()
            if key not in self.channels:
                self.numeric(b"442", name, b":You're not on that channel")
                continue
            members = self.factory.channels[key]
            data = self.prefix + b" PART " + name + b"\r\n"
            for member in members:
                member.transport.write(data)
            self.factory.leave(self, key)

    def irc_PRIVMSG(self, params: list[bytes], command: bytes = b"PRIVMSG") -> None:
        if len(params) < 2:
            self.numeric(b"411" if not params else b"412",
                         b":No recipient given" if not params else b":No text to send")
            return
        target, text = params[0], params[1]
        data = self.prefix + b" " + command + b" " + target + b" :" + text + b"\r\n"
        if target.startswith(b"#"):
            members = self.factory.channels.get(target.lower())
            if members is None or self not in members:
                self.numeric(b"404", target, b":Cannot send to channel")
                return
            for member in members:
                if member is not self:
                    member.transport.write(data)
            return
        peer = self.factory.nicks.get(target.lower())
        if peer is None or not peer.registered:
            self.numeric(b"401", target, b":No such nick/channel")
            return
        peer.transport.write(data)

    def irc_NOTICE(self, params: list[bytes]) -> None:
        if len(params) >= 2:
            self.irc_PRIVMSG(params, b"NOTICE")


HANDLERS = {
    b"NICK": FloorProtocol.irc_NICK, b"USER": FloorProtocol.irc_USER,
    b"PING": FloorProtocol.irc_PING, b"PONG": FloorProtocol.irc_PONG,
    b"QUIT": FloorProtocol.irc_QUIT, b"JOIN": FloorProtocol.irc_JOIN,
    b"PART": FloorProtocol.irc_PART, b"PRIVMSG": FloorProtocol.irc_PRIVMSG,
    b"NOTICE": FloorProtocol.irc_NOTICE,
}
PRE_REGISTRATION = {b"NICK", b"USER", b"PING", b"PONG", b"QUIT"}


class FloorFactory(protocol.Factory):
    """Shared state: nick -> connection, channel -> ordered members."""

    def __init__(self) -> None:
        self.nicks: dict[bytes, FloorProtocol] = {}
        self.channels: dict[bytes, dict[FloorProtocol, None]] = {}

    def buildProtocol(self, addr) -> FloorProtocol:
        return FloorProtocol(self)

    def leave(self, proto: FloorProtocol, key: bytes) -> None:
        """Take ``proto`` out of channel ``key``; drop the channel when empty."""
        proto.channels.discard(key)
        members = self.channels.get(key)
        if members is not None:
            members.pop(proto, None)
            if not members:
                del self.channels[key]

    def remove(self, proto: FloorProtocol, reason: bytes) -> None:
        """A client leaves (QUIT or lost connection); idempotent."""
        if proto.nick is not None and self.nicks.get(proto.nick.lower()) is proto:
            del self.nicks[proto.nick.lower()]
        if proto.registered and proto.channels:
            data = proto.prefix + b" QUIT :" + reason + b"\r\n"
            told = {proto}
            for key in list(proto.channels):
                for member in self.channels.get(key, ()):
                    if member not in told:
                        told.add(member)
                        member.transport.write(data)
        for key in list(proto.channels):
            self.leave(proto, key)
        proto.registered = False


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="Minimal Twisted IRC broadcast server "
                                 "(the benchmarks' runtime floor).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--backlog", type=int, default=4096)
    args = ap.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        ap.error("refusing a non-loopback address: %s" % args.host)
    from twisted.internet import epollreactor
    epollreactor.install()
    from twisted.internet import reactor
    reactor.listenTCP(args.port, FloorFactory(), backlog=args.backlog, interface=args.host)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
