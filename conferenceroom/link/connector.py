# -*- test-case-name: tests.unit.test_link_connector -*-
"""How the link manager dials a definition: endpoint strings, TLS, back-off, failure sentences.

Outgoing links are made from endpoint strings
(``tcp:host=...:port=...:bindAddress=...:timeout=30``) through an
:data:`EndpointFactory`, so tests hand in one bound to a ``MemoryReactor``
and the service hands in :func:`string_endpoints` of the real reactor.  A
``secure`` definition wraps that endpoint in TLS with the client context
the caller supplies (:func:`~twisted.internet.endpoints.wrapClientTLS`).

:class:`Backoff` is the retry policy: the wait after the *n*-th failed round
is ``initial * factor ** (n - 1)`` (5, 10, 20, ... seconds), at most
``cap`` (300 s), spread by ``jitter`` (±20 %) so that leaves cut off by the
same hub do not all dial back in the same second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet import error
from twisted.internet.endpoints import clientFromString, quoteStringArgument, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.python.failure import Failure

#: Seconds a TCP connect may take before it counts as failed.
CONNECT_TIMEOUT = 30

EndpointFactory = Callable[[str], IStreamClientEndpoint]
"""Turns an endpoint string into a client endpoint (``clientFromString`` bound to a reactor)."""


def endpoint_description(host: str, port: int, bindip: str = "", timeout: int = CONNECT_TIMEOUT) -> str:
    """The client endpoint string for *host*:*port*, leaving from *bindip* when set."""
    parts = [f"tcp:host={quoteStringArgument(host)}", f"port={int(port)}", f"timeout={int(timeout)}"]
    if bindip:
        parts.append(f"bindAddress={quoteStringArgument(bindip)}")
    return ":".join(parts)


def display_address(host: str, port: int) -> str:
    """``host:port`` as operators write it, IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def string_endpoints(reactor: object) -> EndpointFactory:
    """The real :data:`EndpointFactory`: :func:`clientFromString` on *reactor*."""

    def build(description: str) -> IStreamClientEndpoint:
        return clientFromString(reactor, description)

    return build


def make_endpoint(
    endpoints: EndpointFactory,
    host: str,
    port: int,
    bindip: str = "",
    tls: object | None = None,
) -> IStreamClientEndpoint:
    """The endpoint for one dial; *tls* (a client connection creator) wraps it in TLS."""
    endpoint = endpoints(endpoint_description(host, port, bindip))
    if tls is not None:
        endpoint = wrapClientTLS(tls, endpoint)
    return endpoint


@dataclass(frozen=True)
class Backoff:
    """Wait before the next round of auto-connect attempts: exponential, capped, jittered."""

    initial: float = 5.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.initial <= 0:
            raise ValueError("the first wait must be more than 0 seconds")
        if self.factor < 1:
            raise ValueError("the back-off factor must be at least 1")
        if self.cap < self.initial:
            raise ValueError("the cap must be at least the first wait")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction from 0 up to (not including) 1")

    def delay(self, failures: int, rand: float) -> float:
        """Seconds to wait after *failures* failed rounds (1 or more); *rand* is uniform in [0, 1]."""
        steps = min(max(failures, 1) - 1, 64)
        base = min(self.cap, self.initial * self.factor**steps)
        return min(self.cap, base * (1 + self.jitter * (2 * rand - 1)))


_PHRASES: tuple[tuple[type[BaseException], str], ...] = (
    (error.ConnectionRefusedError, "connection refused"),
    (error.TCPTimedOutError, "connection timed out"),
    (error.TimeoutError, "connection timed out"),
    (error.DNSLookupError, "cannot resolve the host name"),
    (error.NoRouteError, "no route to host"),
)


#: What OpenSSL says when the other side of a connection does not speak TLS at all.
_NOT_TLS = ("wrong version number", "packet length too long", "http request", "unknown protocol",
            "record layer failure", "wrong ssl version", "unexpected eof", "bad record type")


def not_tls(failure: Failure) -> bool:
    """True if *failure* is a TLS handshake that failed because the other side spoke no TLS."""
    from OpenSSL.SSL import Error as SSLError

    return bool(failure.check(SSLError)) and any(words in str(failure.value).lower() for words in _NOT_TLS)


def describe_tls_failure(failure: Failure) -> str | None:
    """A sentence for a TLS handshake that failed, else None."""
    from OpenSSL.SSL import Error as SSLError

    if not_tls(failure):
        return "the peer does not speak TLS on that port (a plaintext port? dial its TLS port, or SET SECURE OFF)"
    if failure.check(SSLError):
        text = str(failure.value).lower()
        for alert, meaning in (("unknown ca", "it does not trust our certificate (unknown CA)"),
                               ("bad certificate", "it refused our certificate"),
                               ("certificate expired", "it says our certificate has expired"),
                               ("certificate required", "it requires a certificate and we have none"),
                               ("handshake failure", "no TLS version or cipher in common"),
                               ("protocol version", "no TLS version in common")):
            if alert in text:
                return f"TLS handshake refused by the peer: {meaning}"
        return f"TLS handshake failed ({failure.getErrorMessage()})"
    return None


def plain_to_tls_reason(text: str, received: bytes, handle: str | None) -> str:
    """Why a plaintext link we dialled ended before the peer's first line (*received*: its bytes so far)."""
    handle = handle or "<handle>"
    if received[:1] in (b"\x15", b"\x16"):  # a TLS alert or handshake record
        return f"the peer answered in TLS: that port is a TLS port (SERVER {handle} SET SECURE ON)"
    return f"{text} before saying anything (a TLS port? then SERVER {handle} SET SECURE ON)"


def describe_failure(failure: Failure) -> str:
    """A short phrase for why a connection attempt failed."""
    for kind, phrase in _PHRASES:
        if failure.check(kind):
            return phrase
    tls = describe_tls_failure(failure)
    if tls is not None:
        return tls
    value = failure.value
    if isinstance(value, error.ConnectError) and value.osError:
        text = str(value.osError)
    else:
        text = failure.getErrorMessage()
    return text.strip().rstrip(".") or type(value).__name__


def describe_loss(reason: Failure | None) -> str:
    """Why an established connection ended, as hybrid words it (``Read error: Connection reset by peer``)."""
    if reason is None or reason.check(error.ConnectionDone):
        return "Remote host closed the connection"
    tls = describe_tls_failure(reason)
    if tls is not None:
        return tls
    if reason.check(error.ConnectionLost):
        args = reason.value.args
        detail = str(args[0]).strip().rstrip(".") if args and args[0] else "Connection lost"
        return f"Read error: {detail}"
    return f"Read error: {reason.getErrorMessage().strip().rstrip('.')}"
