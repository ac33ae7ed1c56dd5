# -*- test-case-name: tests.unit.test_sasl -*-
"""The services side of SASL: PLAIN and EXTERNAL checked against the accounts.

One :class:`Exchange` per client being authenticated, keyed by the client's
UID (reserved before registration).  The client's server feeds it the way
charybdis feeds atheme (see :mod:`conferenceroom.sasl`): ``S`` (start, with
the mechanism and the certificate fingerprint), ``C`` (a chunk of the
response, at most 400 bytes of base64; a shorter chunk or ``+`` ends it),
``D`` (the client gave up).  Answers go back through ``reply(mode, data)``:
``C +`` (send me your response), ``L <account>`` then ``D S`` (success),
``D F`` (failure), ``M <mechanisms>`` (unknown mechanism).

Passwords are checked by :meth:`~.accounts.Accounts.verify_password` on the
password pool (never on the reactor), with its back-off per account and per
address.  A client already on the network is logged in here, by the services
route (every server learns it by SVSACCOUNT before the ``D S``); a client
still registering is logged in by its own server, and its login hooks run
when it appears on the network with that account.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

from .. import events as ev
from ..casemap import fold
from .accounts import TryAgain

if TYPE_CHECKING:
    from .host import ServicesHost

log = Logger()

MECHANISMS = ("PLAIN", "EXTERNAL")
#: A response longer than this (base64 bytes over all its chunks) fails the exchange.
MAX_RESPONSE = 8192
CHUNK = 400
#: Exchanges at once (each is small; a flood of starts cannot grow without bound).
MAX_EXCHANGES = 4096

Reply = Callable[[str, str], None]


@dataclass
class Exchange:
    """One SASL exchange in progress."""

    uid: str
    mechanism: str
    reply: Reply
    certfp: str | None = None
    ip: str | None = None
    chunks: list[str] = field(default_factory=list)
    size: int = 0
    checking: bool = False


class SaslAgent:
    """Runs the SASL exchanges of every server's clients against this host's accounts."""

    def __init__(self, host: "ServicesHost") -> None:
        self.host = host
        self.exchanges: dict[str, Exchange] = {}
        self.awaiting: dict[str, str] = {}  # UID of a client logged in while registering -> account
        self.addresses: dict[str, str] = {}  # UID -> IP told by ``H`` before the ``S`` of a remote client
        network = host.core.network
        network.events.subscribe(self._event, kinds=(ev.UserIntroduced,))
        host.stopped.append(lambda: network.events.unsubscribe(self._event))

    # -- the client's server speaks ------------------------------------------------

    def note_address(self, uid: str, ip: str) -> None:
        """``H``: where a remote client connects from (its password back-off is per address too)."""
        self.addresses[uid] = ip
        if len(self.addresses) > MAX_EXCHANGES:
            self.addresses.pop(next(iter(self.addresses)))

    def start(self, uid: str, mechanism: str, reply: Reply, certfp: str | None = None,
              ip: str | None = None, host: str | None = None) -> None:
        """``S``: begin an exchange (a new start replaces an unfinished one)."""
        self.exchanges.pop(uid, None)
        ip = ip or self.addresses.pop(uid, None)
        mechanism = mechanism.upper()
        if mechanism not in MECHANISMS:
            reply("M", ",".join(MECHANISMS))
            reply("D", "F")
            return
        if len(self.exchanges) >= MAX_EXCHANGES:
            reply("D", "F")
            return
        self.exchanges[uid] = Exchange(uid, mechanism, reply, certfp or None, ip or None)
        reply("C", "+")

    def data(self, uid: str, chunk: str) -> None:
        """``C``: a chunk of the client's response; a chunk under 400 bytes (or ``+``) ends it."""
        exchange = self.exchanges.get(uid)
        if exchange is None or exchange.checking:
            return
        if chunk != "+":
            exchange.chunks.append(chunk)
            exchange.size += len(chunk)
            if exchange.size > MAX_RESPONSE or len(chunk) > CHUNK:
                self._finish(exchange, None)
                return
            if len(chunk) == CHUNK:
                return  # more to come
        try:
            response = base64.b64decode("".join(exchange.chunks), validate=True) if exchange.chunks else b""
        except (binascii.Error, ValueError):
            self._finish(exchange, None)
            return
        exchange.checking = True

        def check() -> None:
            if exchange.mechanism == "PLAIN":
                self._plain(exchange, response)
            else:
                self._external(exchange, response)

        ready = self.host.ready
        if ready.called:
            check()
        else:  # the accounts are still loading: check once they are in
            ready.addCallback(lambda result: (check(), result)[1])

    def abort(self, uid: str) -> None:
        """``D``: the client aborted (or its connection went away)."""
        self.exchanges.pop(uid, None)

    # -- mechanisms -------------------------------------------------------------------

    def _plain(self, exchange: Exchange, response: bytes) -> None:
        parts = response.split(b"\x00")
        if len(parts) != 3:
            self._finish(exchange, None)
            return
        try:
            authzid, authcid, password = (p.decode("utf-8") for p in parts)
        except UnicodeDecodeError:
            self._finish(exchange, None)
            return
        if not authcid or not password or (authzid and fold(authzid) != fold(authcid)):
            self._finish(exchange, None)  # acting as another account is not offered
            return
        d = self.host.accounts.verify_password(authcid, password, exchange.ip)
        d.addCallback(lambda name: self._finish(exchange, name))
        d.addErrback(self._failed, exchange)

    def _external(self, exchange: Exchange, response: bytes) -> None:
        account = self.host.accounts.by_certfp(exchange.certfp) if exchange.certfp else None
        try:
            authzid = response.decode("utf-8")
        except UnicodeDecodeError:
            authzid = "\x00"
        if account is not None and authzid and fold(authzid) != account.key:
            account = None
        self._finish(exchange, account.name if account is not None else None)

    def _failed(self, failure: Any, exchange: Exchange) -> None:
        if not failure.check(TryAgain):
            log.failure("SASL check for {uid}", failure, uid=exchange.uid)
        self._finish(exchange, None)

    def _finish(self, exchange: Exchange, name: str | None) -> None:
        """Success (``L`` then ``D S``) for account ``name``, failure (``D F``) for None."""
        if self.exchanges.get(exchange.uid) is not exchange:
            return  # aborted meanwhile
        del self.exchanges[exchange.uid]
        account = self.host.accounts.get(name) if name is not None else None
        if account is None:
            exchange.reply("D", "F")
            return
        user = self.host.core.network.users_by_uid.get(exchange.uid)
        if user is not None:
            self.host.log_in(user, account)
        else:
            self.awaiting[exchange.uid] = account.name
            if len(self.awaiting) > MAX_EXCHANGES:
                self.awaiting.pop(next(iter(self.awaiting)))
        exchange.reply("L", account.name)
        exchange.reply("D", "S")

    # -- a client logged in while registering arrives --------------------------------

    def _event(self, event: ev.Event) -> None:
        if not isinstance(event, ev.UserIntroduced) or not self.awaiting:
            return
        user = event.user
        name = self.awaiting.pop(user.uid, None)
        account = self.host.accounts.get(name) if name is not None else None
        if account is not None and user.account is not None and fold(user.account) == account.key:
            self.host.logged_in(user, account)


def agent_of(host: "ServicesHost") -> SaslAgent:
    """The SASL agent of ``host`` (made on first use)."""
    agent = getattr(host, "sasl", None)
    if agent is None:
        agent = host.sasl = SaslAgent(host)  # type: ignore[attr-defined]
    return agent
