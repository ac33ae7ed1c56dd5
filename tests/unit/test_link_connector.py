"""Dialling pieces of the link manager: endpoint strings, the back-off policy, failure sentences."""

from __future__ import annotations

import pytest
from twisted.internet import error
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from conferenceroom.link.connector import (
    Backoff,
    describe_failure,
    display_address,
    endpoint_description,
    string_endpoints,
)


def dial(description: str) -> tuple:
    """Connect an endpoint built from *description* on a MemoryReactor; return what connectTCP got."""
    reactor = MemoryReactorClock()
    string_endpoints(reactor)(description).connect(Factory.forProtocol(Protocol))
    host, port, _factory, timeout, bind = reactor.tcpClients[0]
    return host, port, timeout, bind


def test_plain_endpoint_reaches_host_and_port() -> None:
    """A definition's host and port become a TCP connection to exactly that address."""
    description = endpoint_description("209.133.1.1", 7000)
    assert description.startswith("tcp:")
    host, port, timeout, bind = dial(description)
    assert (host, port, timeout, bind) == ("209.133.1.1", 7000, 30, None)


def test_bindip_becomes_bind_address() -> None:
    """SERVER x SET BINDIP makes the link leave from that local address."""
    host, port, _timeout, bind = dial(endpoint_description("soprano.webmaster.com", 994, "10.0.0.5"))
    assert (host, port, bind) == ("soprano.webmaster.com", 994, ("10.0.0.5", 0))


def test_ipv6_host_is_quoted() -> None:
    """IPv6 literals (full of colons) survive the endpoint string syntax."""
    host, port, _timeout, bind = dial(endpoint_description("2001:db8::1", 7000, "::1"))
    assert (host, port, bind) == ("2001:db8::1", 7000, ("::1", 0))


def test_display_address_brackets_ipv6() -> None:
    """Operators read host:port, with brackets around an IPv6 literal."""
    assert display_address("209.133.1.1", 7000) == "209.133.1.1:7000"
    assert display_address("2001:db8::1", 994) == "[2001:db8::1]:994"


def test_backoff_doubles_from_five_seconds_to_a_five_minute_cap() -> None:
    """Without jitter the waits after 1, 2, 3... failed rounds are 5, 10, 20... seconds, never over 300."""
    backoff = Backoff()
    waits = [backoff.delay(n, 0.5) for n in range(1, 10)]
    assert waits == [5, 10, 20, 40, 80, 160, 300, 300, 300]
    assert backoff.delay(10_000, 0.5) == 300


def test_backoff_jitter_bounds() -> None:
    """Jitter spreads each wait by up to 20% either way, and the cap still holds."""
    backoff = Backoff()
    assert backoff.delay(1, 0.0) == pytest.approx(4.0)
    assert backoff.delay(1, 1.0) == pytest.approx(6.0)
    assert backoff.delay(7, 1.0) == 300
    assert backoff.delay(7, 0.0) == pytest.approx(240.0)


def test_backoff_rejects_nonsense() -> None:
    """A policy that would never wait, or wait less later, is refused when built."""
    with pytest.raises(ValueError):
        Backoff(initial=0)
    with pytest.raises(ValueError):
        Backoff(factor=0.5)
    with pytest.raises(ValueError):
        Backoff(initial=10, cap=5)
    with pytest.raises(ValueError):
        Backoff(jitter=1.5)


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (error.ConnectionRefusedError(), "connection refused"),
        (error.TCPTimedOutError(), "connection timed out"),
        (error.TimeoutError(), "connection timed out"),
        (error.DNSLookupError("no.such.host"), "cannot resolve the host name"),
        (error.NoRouteError(), "no route to host"),
    ],
)
def test_failures_read_as_short_sentences(exc: Exception, text: str) -> None:
    """Connection failures become the short phrase an operator sees in the notice."""
    assert describe_failure(Failure(exc)) == text


def test_other_failures_keep_their_message() -> None:
    """An unexpected failure still says what happened, without a trailing full stop."""
    assert describe_failure(Failure(OSError("Address already in use."))) == "Address already in use"


def test_tls_failures_are_sentences() -> None:
    """A TLS handshake that failed reads as a sentence an operator acts on, not OpenSSL's tuple: a peer that
    speaks no TLS on that port, a peer that refused our certificate, anything else with OpenSSL's words."""
    from OpenSSL.SSL import Error as SSLError

    plain = describe_failure(Failure(SSLError([("SSL routines", "", "wrong version number")])))
    assert plain == "the peer does not speak TLS on that port (a plaintext port? dial its TLS port, or SET SECURE OFF)"
    ca = describe_failure(Failure(SSLError([("SSL routines", "", "tlsv1 alert unknown ca")])))
    assert ca == "TLS handshake refused by the peer: it does not trust our certificate (unknown CA)"
    other = describe_failure(Failure(SSLError([("SSL routines", "", "sslv3 alert illegal parameter")])))
    assert other.startswith("TLS handshake failed (") and "illegal parameter" in other


def test_lost_connections_read_as_short_phrases() -> None:
    """A link's lost TCP connection reads like hybrid's: no Twisted 'non-clean fashion' sentence."""
    from conferenceroom.link.connector import describe_loss

    assert describe_loss(Failure(error.ConnectionDone())) == "Remote host closed the connection"
    assert describe_loss(Failure(error.ConnectionLost("Connection reset by peer"))) == (
        "Read error: Connection reset by peer")
    assert describe_loss(Failure(error.ConnectionLost())) == "Read error: Connection lost"
    assert describe_loss(None) == "Remote host closed the connection"
