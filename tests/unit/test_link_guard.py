"""Guessing link credentials: an address whose link logins keep failing is throttled like an abuser."""

from __future__ import annotations

from dataclasses import replace

from conferenceroom.link.guard import FAILURES_BEFORE_THROTTLE
from conferenceroom.link.protocol import LinkConnection
from conferenceroom.wire import parse
from tests.unit.linkpair import notices, oper_on, soprano_and_tenor, transport


def attempt(core, ip: str, serial: str) -> LinkConnection:
    """A server at *ip* presents itself as tenor.webmaster.com with *serial*."""
    link = LinkConnection(core)
    link.makeConnection(transport(ip, 40001))
    link.dataReceived(f"CAPAB :EOB ENCAP TBURST CR-SERIAL={serial} CR-ROLE=leaf\r\n"
                      "SERVER tenor.webmaster.com 1 269 + :guess\r\n".encode())
    return link


def test_repeated_failed_link_logins_throttle_the_address() -> None:
    """Five refused link logins (wrong serial) from one address within ten minutes: the fifth refusal
    tells the operators the address is now refused for a while, and new connections from it are
    refused at accept; another address is not affected."""
    soprano, _ = soprano_and_tenor()
    oper = oper_on(soprano)
    for n in range(FAILURES_BEFORE_THROTTLE - 1):
        link = attempt(soprano, "198.51.100.7", f"101-0001-00{n + 2}")
        assert link.closing
        soprano.clock.advance(30)
    assert not soprano.throttled("198.51.100.7")
    notices(oper)
    attempt(soprano, "198.51.100.7", "101-0001-009")
    last = notices(oper)
    assert last[0] == ("Link with tenor.webmaster.com[198.51.100.7] refused: "
                       "Serial 101-0001-009 of tenor.webmaster.com does not match definition tenor")
    assert last[1].startswith(f"198.51.100.7 made {FAILURES_BEFORE_THROTTLE} failed link logins in 10 minutes: "
                              "refused for ")
    assert soprano.throttled("198.51.100.7")
    assert not soprano.throttled("198.51.100.8")


def test_failed_logins_spread_out_do_not_throttle() -> None:
    """Failures more than ten minutes apart (a peer with a wrong serial retrying on its back-off) never add up."""
    soprano, _ = soprano_and_tenor()
    for n in range(FAILURES_BEFORE_THROTTLE * 2):
        attempt(soprano, "198.51.100.7", "101-0001-009")
        soprano.clock.advance(601 / (FAILURES_BEFORE_THROTTLE - 1))
    assert not soprano.throttled("198.51.100.7")


def test_an_address_exempt_from_the_trigger_is_never_throttled() -> None:
    """A trigger of 0 for the address (SECURITY TRIGGER ADD <ip> 0) exempts it, as for clients."""
    soprano, _ = soprano_and_tenor()
    soprano.settings = replace(soprano.settings, triggers=(("198.51.100.7", 0),))
    for _ in range(FAILURES_BEFORE_THROTTLE + 1):
        attempt(soprano, "198.51.100.7", "101-0001-009")
    assert not soprano.throttled("198.51.100.7")


def test_a_successful_link_is_not_a_failure() -> None:
    """The right serial links, however many times the link is made."""
    soprano, _ = soprano_and_tenor()
    for _ in range(FAILURES_BEFORE_THROTTLE + 1):
        link = attempt(soprano, "198.51.100.7", "101-0001-001")
        assert link.peer is not None
        link.connectionLost(None)
    assert not soprano.throttled("198.51.100.7")
