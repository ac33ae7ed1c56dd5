"""Secure links with a real ircd-hybrid 8.2 (GnuTLS), both ways, each side pinning the other's certificate.

hybrid presents a self-signed certificate from its ``serverinfo`` files; our
server the one ``GENERAL SSL ENABLE`` generates.  Our definition pins
hybrid's fingerprint (``SERVER hyb SET FINGERPRINT``) and accepts it only
over TLS; hybrid's ``connect {}`` block pins ours
(``tls_certificate_fingerprint``).  Then users on both sides see each other
and talk.
"""

from __future__ import annotations

import datetime

from tests.integration.hybrid import Connect, HybridConfig, hybrid  # noqa: F401 (fixture)
from tests.network.conftest import Node, names, wait_until
from tests.network.test_hybrid_interop import CROSS, HUB_SERIAL, OURS, PASSWORD, THEIRS, line_from, sees
from tests.network.test_tls_links import enable_ssl
from tests.tlscerts import self_signed

NOW = datetime.datetime.now(datetime.timezone.utc)


def hybrid_with_certificate(hybrid, config: HybridConfig):
    """A hybrid (not started) with a self-signed certificate for its name in its directory; its fingerprint."""
    cert = self_signed(config.name, NOW)
    config.tls_files = ("cert.pem", "key.pem")
    theirs = hybrid(config, start=False)
    cert.write(theirs.directory, "cert")
    (theirs.directory / "cert.crt").rename(theirs.directory / "cert.pem")
    (theirs.directory / "cert.key").rename(theirs.directory / "key.pem")
    return theirs, cert.fingerprint


def users_meet(ours: Node, theirs) -> None:
    """A user on each side: WHOIS finds the other on its server, a channel holds both, messages cross."""
    bob = theirs.client("bob")
    alice = ours.user("alice")
    sees(alice, "bob", THEIRS)
    sees(bob, "alice", OURS)
    bob.join("#tls")
    wait_until(lambda: names(alice, "#tls") == ["bob"], "our side sees #tls", CROSS)
    alice.join("#tls")
    wait_until(lambda: names(bob, "#tls") == ["alice", "bob"], "hybrid sees alice join", CROSS)
    alice.send("PRIVMSG #tls :from conferenceroom over TLS")
    assert line_from(bob, "PRIVMSG", "alice").params == ["#tls", "from conferenceroom over TLS"]
    bob.send("PRIVMSG alice :from hybrid over TLS")
    assert line_from(alice, "PRIVMSG", "bob").params == ["alice", "from hybrid over TLS"]


def test_hybrid_leaf_dials_our_tls_port(network, hybrid) -> None:
    """hybrid (``flags = tls``, pinning our certificate) dials our TLS port; our definition pins hybrid's
    certificate and is SECUREONLY: the link is up over TLS on both sides and users meet."""
    ours = network.server(OURS, HUB_SERIAL, hub=True)
    tls_port, our_fp = enable_ssl(ours)
    theirs, their_fp = hybrid_with_certificate(hybrid, HybridConfig(
        THEIRS, "4HY", hub=False, description="hybrid leaf",
        connects=[Connect(OURS, tls_port, PASSWORD, hub_mask="*", tls=True, fingerprint=our_fp)]))
    ours.define("hyb", name=THEIRS, password=PASSWORD, role="leaf", secureonly=True, fingerprint=their_fp)
    theirs.start()
    assert "established: [TLS: TLS1." in theirs.connect_server(OURS)  # hybrid's notice names the TLS version
    ours.server_notice(rf"^Link with {THEIRS}\[127\.0\.0\.1\] established over TLS \(leaf, definition hyb; "
                       r"pinned certificate\)")
    users_meet(ours, theirs)


def test_our_leaf_dials_hybrids_tls_port(network, hybrid) -> None:
    """Our leaf dials hybrid's TLS server port (SECURE, hybrid's certificate pinned); hybrid pins ours: the link
    is up over TLS and users meet."""
    ours = network.server(OURS, "101-0001-001", hub=False)
    ours.as_("general set leaf", "services disable")
    _, our_fp = enable_ssl(ours)
    theirs, their_fp = hybrid_with_certificate(hybrid, HybridConfig(THEIRS, "4HY", hub=True, description="hybrid hub"))
    theirs.config.connects.append(Connect(OURS, 1, PASSWORD, hub_mask=None, fingerprint=our_fp))
    theirs.start()
    ours.define("hyb", name=THEIRS, password=PASSWORD, role="hub", host="127.0.0.1", port=theirs.config.tls_port,
                secure=True, secureonly=True, fingerprint=their_fp, auto=True)
    ours.server_notice(rf"^Link with {THEIRS}\[127\.0\.0\.1\] established over TLS \(hub, definition hyb; "
                       r"pinned certificate\)")
    users_meet(ours, theirs)


def test_hybrid_with_another_certificate_than_pinned_is_refused(network, hybrid) -> None:
    """Our leaf pins a certificate hybrid does not have: no PASS leaves (hybrid, which logs nothing for an
    unregistered connection, is sent only our ERROR); our operators read the expected and the presented
    fingerprint."""
    ours = network.server(OURS, "101-0001-001", hub=False)
    ours.as_("general set leaf", "services disable")
    enable_ssl(ours)
    theirs, their_fp = hybrid_with_certificate(hybrid, HybridConfig(THEIRS, "4HY", hub=True, description="hybrid hub"))
    theirs.config.connects.append(Connect(OURS, 1, PASSWORD, hub_mask=None))
    theirs.start()
    wrong = "AB:" * 31 + "AB"
    ours.define("hyb", name=THEIRS, password=PASSWORD, role="hub", host="127.0.0.1", port=theirs.config.tls_port,
                secure=True, fingerprint=wrong, auto=True)
    assert ours.server_notice(rf"^Link with {THEIRS}") == (
        f"Link with {THEIRS}[127.0.0.1] refused: TLS certificate fingerprint mismatch for definition hyb: "
        f"expected {wrong}, got {their_fp}")
