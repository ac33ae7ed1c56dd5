"""The manual's security section: both servers enable SSL, tenor connects to soprano's TLS port.

Each side pins the other's certificate (the fingerprint each server notices
when its TLS port opens), soprano accepts tenor only over TLS
(SECUREONLY), and a wrong pin is refused with a notice naming it.
"""

from __future__ import annotations

from tests.integration.conftest import free_port
from tests.network.conftest import Node, links
from tests.network.test_manual_pair import SOPRANO_SERIAL, TENOR_SERIAL

WRONG_PIN = "ab" * 32


def enable_ssl(node: Node) -> tuple[int, str]:
    """``general ssl port`` and ``general ssl enable``; return the port and the noticed fingerprint."""
    port = free_port()
    node.as_(f"general ssl port {port}", "general ssl enable")
    text = node.server_notice(rf"^TLS port {port} open; certificate fingerprint ")
    return port, text.rsplit(" ", 1)[1]


def tls_pair(network, soprano_pin_of_tenor: str | None = None):
    """soprano and tenor with SSL on; tenor dials soprano's TLS port; both pins set."""
    soprano = network.server("soprano.webmaster.com", SOPRANO_SERIAL, hub=True)
    tenor = network.server("tenor.webmaster.com", TENOR_SERIAL, hub=False)
    soprano_tls, soprano_fp = enable_ssl(soprano)
    _, tenor_fp = enable_ssl(tenor)
    soprano.define("tenor", name="tenor.*", serial=TENOR_SERIAL, secure=True, secureonly=True,
                   fingerprint=soprano_pin_of_tenor or tenor_fp)
    tenor.define("soprano", name="soprano.webmaster.com", host="127.0.0.1", port=soprano_tls,
                 serial=SOPRANO_SERIAL, secure=True, secureonly=True, fingerprint=soprano_fp, auto=True)
    return soprano, tenor


def test_tls_link_with_pinned_certificates_on_both_sides(network) -> None:
    """tenor dials soprano's TLS port; each side checks the other's pinned certificate; the link comes up
    (soprano's SECUREONLY would refuse it over plain TCP)."""
    soprano, tenor = tls_pair(network)
    soprano.server_notice(r"^Link with tenor\.webmaster\.com\[127\.0\.0\.1\] established")
    assert links(soprano.operator()) == ["soprano.webmaster.com", "tenor.webmaster.com"]


def test_wrong_pin_of_the_peer_is_refused(network) -> None:
    """soprano pins a certificate tenor does not have: the link is refused, naming the definition."""
    soprano, _ = tls_pair(network, soprano_pin_of_tenor=WRONG_PIN)
    assert soprano.server_notice(r"^Link with tenor") == (
        "Link with tenor.webmaster.com[127.0.0.1] refused: TLS certificate of tenor.webmaster.com does not match "
        "the fingerprint pinned in definition tenor")
