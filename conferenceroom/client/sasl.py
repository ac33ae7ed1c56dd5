# -*- test-case-name: tests.unit.test_sasl -*-
"""IRCv3 SASL for clients: AUTHENTICATE, the ``sasl`` capability and numerics 900-908.

A client that took ``sasl`` runs one exchange at a time, before or after
registering: ``AUTHENTICATE PLAIN|EXTERNAL``, then its response in base64
chunks of at most 400 bytes (a chunk of exactly 400 is followed by more, or
by ``AUTHENTICATE +``), ``AUTHENTICATE *`` to abort.  Each step goes to the
agent that decides logins (:func:`conferenceroom.sasl.find_agent`: the
services here, or the services server through the links); its answers
become ``AUTHENTICATE`` challenges, 900 RPL_LOGGEDIN with 903
RPL_SASLSUCCESS, 904 ERR_SASLFAIL, 906 ERR_SASLABORTED, 908 RPL_SASLMECHS.
A line over 400 bytes is 905 ERR_SASLTOOLONG; a logged-in client is refused
with 907 ERR_SASLALREADY.  An exchange still running when registration
completes is aborted (906) and the client registers without an account.

``sasl`` is offered (``sasl=PLAIN,EXTERNAL``) while a services server is on
the network, with ``CAP NEW``/``CAP DEL`` to clients that took cap-notify.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..network import ACCOUNT_MODE
from ..sasl import find_agent
from ..wire import Message
from .caps import Capability

if TYPE_CHECKING:
    from .protocol import ClientConnection

MECHANISMS = ("PLAIN", "EXTERNAL")
CHUNK = 400
#: Bytes of base64 one response may take over all its chunks.
MAX_RESPONSE = 8192
#: Seconds an exchange may wait for the services' answer or the client's next step.
TIMEOUT = 30.0
CAPABILITY = Capability("sasl", ",".join(MECHANISMS))


class Exchange:
    """One connection's exchange in progress."""

    def __init__(self, conn: "ClientConnection", agent: Any, uid: str, mechanism: str) -> None:
        self.conn = conn
        self.agent = agent
        self.uid = uid
        self.mechanism = mechanism
        self.size = 0
        self.account: str | None = None
        self.timer = conn.core.clock.callLater(TIMEOUT, self.expire)

    def end(self) -> None:
        """Forget the exchange (its answers are ignored from now on)."""
        if self.timer.active():
            self.timer.cancel()
        if getattr(self.conn, "sasl", None) is self:
            self.conn.sasl = None

    def abort(self, numeric_name: str | None = "ERR_SASLABORTED") -> None:
        """Tell the agent the client gave up; reply ``numeric_name`` (906 by default)."""
        self.end()
        self.agent.abort(self.uid)
        if numeric_name is not None:
            self.conn.reply(numeric_name)

    def expire(self) -> None:
        """No answer in time: the exchange fails (904)."""
        if getattr(self.conn, "sasl", None) is self:
            self.abort("ERR_SASLFAIL")

    def answer(self, mode: str, data: str) -> None:
        """An answer of the agent: a challenge, the account, the mechanism list or the outcome."""
        conn = self.conn
        if getattr(conn, "sasl", None) is not self or conn.closing:
            return
        if mode == "C":
            for chunk in challenge_lines(data):
                conn.send(Message("AUTHENTICATE", (chunk,), conn.core.name))
        elif mode == "L":
            self.account = data
        elif mode == "M":
            conn.reply("RPL_SASLMECHS", data)
        elif mode == "D":
            self.end()
            if data == "S" and self.account:
                logged_in(conn, self.account)
            elif data == "A":
                conn.reply("ERR_SASLABORTED")
            else:
                conn.reply("ERR_SASLFAIL")


def challenge_lines(data: str) -> list[str]:
    """A challenge as AUTHENTICATE parameters: 400-byte pieces, ``+`` after an exact multiple."""
    if data in ("", "+"):
        return ["+"]
    pieces = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    if len(pieces[-1]) == CHUNK:
        pieces.append("+")
    return pieces


def logged_in(conn: "ClientConnection", account: str) -> None:
    """Success: 900 then 903 (clients expect them together), then +r if the nick is the account's."""
    user = conn.user
    if user is None:
        conn.sasl_account = account  # type: ignore[attr-defined]
        pending = conn.pending
        nick = pending.nick if pending is not None and pending.nick else "*"
        ident = pending.ident if pending is not None and pending.ident else "*"
        conn.reply("RPL_LOGGEDIN", f"{nick}!{ident}@{conn.host}", account)
        conn.reply("RPL_SASLSUCCESS")
        return
    conn.reply("RPL_LOGGEDIN", user.mask, user.account or account)
    conn.reply("RPL_SASLSUCCESS")
    if ACCOUNT_MODE in user.modes:  # logged in under its account's nick already (here, or by SVSACCOUNT)
        conn.send(Message("MODE", (user.nick, "+" + ACCOUNT_MODE), conn.core.name))


def logged_in_account(conn: "ClientConnection") -> str | None:
    """The account the connection is logged in to (registered or not)."""
    if conn.user is not None:
        return conn.user.account
    return getattr(conn, "sasl_account", None)


def reserve_uid(conn: "ClientConnection") -> str:
    """The UID this connection will register with (reserved at its first exchange)."""
    if conn.user is not None:
        return conn.user.uid
    uid = getattr(conn, "sasl_uid", None)
    if uid is None:
        uid = conn.sasl_uid = conn.core.network.next_uid()  # type: ignore[attr-defined]
    return uid


def authenticate(conn: "ClientConnection", arg: str) -> None:
    """One AUTHENTICATE line from the client."""
    exchange: Exchange | None = getattr(conn, "sasl", None)
    if "sasl" not in conn.caps:
        conn.reply("ERR_SASLFAIL")
        return
    if exchange is None:
        if arg == "*":
            conn.reply("ERR_SASLABORTED")
            return
        if logged_in_account(conn) is not None:
            conn.reply("ERR_SASLALREADY")
            return
        mechanism = arg.upper()
        if mechanism not in MECHANISMS:
            conn.reply("RPL_SASLMECHS", ",".join(MECHANISMS))
            conn.reply("ERR_SASLFAIL")
            return
        agent = find_agent(conn.core)
        if agent is None:
            conn.reply("ERR_SASLFAIL")
            return
        uid = reserve_uid(conn)
        exchange = conn.sasl = Exchange(conn, agent, uid, mechanism)  # type: ignore[attr-defined]
        certfp = getattr(conn, "certfp", None) or getattr(conn.user, "certfp", None)
        agent.start(uid, mechanism, exchange.answer, certfp=certfp, ip=conn.ip, host=conn.host)
        return
    if arg == "*":
        exchange.abort()
        return
    if len(arg.encode("utf-8")) > CHUNK:
        exchange.abort("ERR_SASLTOOLONG")
        return
    exchange.size += len(arg)
    if exchange.size > MAX_RESPONSE:
        exchange.abort("ERR_SASLFAIL")
        return
    if exchange.timer.active():
        exchange.timer.reset(TIMEOUT)
    exchange.agent.data(exchange.uid, arg)


def before_registration(conn: "ClientConnection") -> tuple[str | None, str | None]:
    """Registration completes: abort an exchange still running (906); the reserved UID and the account."""
    exchange: Exchange | None = getattr(conn, "sasl", None)
    if exchange is not None:
        exchange.abort()
    return getattr(conn, "sasl_uid", None), getattr(conn, "sasl_account", None)


def connection_lost(conn: "ClientConnection") -> None:
    """The connection is gone: the agent forgets its exchange."""
    exchange: Exchange | None = getattr(conn, "sasl", None)
    if exchange is not None:
        exchange.abort(None)


class SaslCapability:
    """Offers ``sasl`` while a services server is on the network (CAP NEW / CAP DEL with cap-notify)."""

    def __init__(self, core: Any) -> None:
        self.core = core

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.ServerIntroduced) and event.server.is_services:
            self.update()
        elif isinstance(event, ev.NetSplit) and any(s.is_services for s in event.servers):
            self.update()

    def update(self) -> None:
        """Offer or withdraw ``sasl`` to match the network; tell cap-notify clients of a change."""
        core = self.core
        caps = core.capabilities
        offered = "sasl" in caps
        wanted = core.network.services_server() is not None
        if wanted == offered:
            return
        if wanted:
            caps["sasl"] = CAPABILITY
        else:
            del caps["sasl"]
        for conn in list(getattr(core, "connections", ())):
            if "cap-notify" not in getattr(conn, "caps", ()) or getattr(conn, "closing", False):
                continue
            if wanted:
                shown = f"sasl={CAPABILITY.value}" if getattr(conn, "cap_version", 0) >= 302 else "sasl"
                conn.send(Message("CAP", (conn.nick, "NEW", shown), core.name))
            else:
                conn.send(Message("CAP", (conn.nick, "DEL", "sasl"), core.name))
                conn.caps = conn.caps - {"sasl"}

