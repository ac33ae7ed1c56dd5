"""The manual's security section with real servers: secure links and every way they are refused.

Both servers enable SSL and tenor dials soprano's TLS port: with both
certificates pinned, or as the manual has it (no pins: soprano's self-signed
certificate is pinned on first use and saved).  Refusals, each told to the
operators of both sides: a wrong pin, another certificate after the first-use
pin, a plaintext CONNECT to a SECUREONLY peer, TLS to a plaintext port and
plaintext to a TLS port; SECURENETWORK switched on drops a plaintext link.
"""

from __future__ import annotations

import datetime

from tests.integration.adminlive import SERVER_NOTICE
from tests.integration.conftest import ADMIN_OPER, free_port
from tests.network.conftest import Node, links, query, wait_until
from tests.network.test_manual_pair import SOPRANO_SERIAL, TENOR_SERIAL
from tests.tlscerts import self_signed

WRONG_PIN = "ab" * 32


def enable_ssl(node: Node) -> tuple[int, str]:
    """``general ssl port`` and ``general ssl enable``; return the port and the noticed fingerprint."""
    port = free_port()
    node.as_(f"general ssl port {port}", "general ssl enable")
    text = node.server_notice(rf"^TLS port {port} open; certificate fingerprint ")
    node.tls_fingerprint = text.rsplit(" ", 1)[1]  # type: ignore[attr-defined]
    return port, node.tls_fingerprint  # type: ignore[attr-defined]


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
    soprano, tenor = tls_pair(network, soprano_pin_of_tenor=WRONG_PIN)
    tenor_fp = tenor.tls_fingerprint
    reason = (f"TLS certificate fingerprint mismatch for tenor.webmaster.com (definition tenor): "
              f"expected {':'.join(['AB'] * 32)}, got {tenor_fp}")
    assert soprano.server_notice(r"^Link with tenor") == f"Link with tenor.webmaster.com[127.0.0.1] refused: {reason}"
    assert tenor.server_notice(r"^Link with soprano") == (
        f"Link with soprano.webmaster.com[127.0.0.1] closed by the peer: Closing Link: 127.0.0.1 ({reason})")


def manual_pair(network) -> tuple[Node, Node]:
    """soprano (hub) and tenor (leaf) defining each other, no TLS yet; no auto-connect."""
    soprano = network.server("soprano.webmaster.com", SOPRANO_SERIAL, hub=True)
    tenor = network.server("tenor.webmaster.com", TENOR_SERIAL, hub=False)
    soprano.define("tenor", name="tenor.*", serial=TENOR_SERIAL)
    tenor.define("soprano", name="soprano.webmaster.com", host="127.0.0.1", port=soprano.port,
                 serial=SOPRANO_SERIAL)
    return soprano, tenor


def test_the_manuals_ssl_passage_on_a_fresh_install(network) -> None:
    """The manual's lines typed by operators: ``general ssl enable`` on both (994 is the default port; the test
    moves it to a free one), secure and secureonly on both definitions, tenor's port set to soprano's TLS port,
    ``/connect soprano.*``: the link comes up over TLS, soprano's self-signed certificate is pinned on first use
    (and saved), and users on both sides see each other."""
    soprano, tenor = manual_pair(network)
    for node in (soprano, tenor):
        assert "SSL port: 994" in [line.strip() for line in node.as_("general list")]
    soprano_tls, soprano_fp = enable_ssl(soprano)
    enable_ssl(tenor)
    tenor.as_("server soprano set secure on", "server soprano set secureonly on",
              f"server soprano set port {soprano_tls}")
    soprano.as_("server tenor set secure on", "server tenor set secureonly on")
    tenor.operator().send("CONNECT soprano.*")
    assert tenor.server_notice(r"^TLS certificate of soprano") == (
        f"TLS certificate of soprano.webmaster.com[127.0.0.1] is self-signed and definition soprano pins none: "
        f"pinned {soprano_fp} on first use; from now on only this certificate links (check it with "
        "soprano.webmaster.com's operator; SERVER soprano SET FINGERPRINT changes it)")
    tenor.server_notice(r"^Link with soprano\.webmaster\.com\[127\.0\.0\.1\] established over TLS \(hub, "
                        r"definition soprano; self-signed certificate pinned on first use\)")
    soprano.server_notice(r"^Link with tenor\.webmaster\.com\[127\.0\.0\.1\] established over TLS "
                          r"\(leaf, definition tenor\)")
    assert links(tenor.operator()) == ["soprano.webmaster.com", "tenor.webmaster.com"]
    pin = soprano_fp.replace(":", "").lower()
    wait_until(lambda: f"server soprano set fingerprint {pin}" in tenor.proc.config_path.read_text().lower(),
               "the pin is saved in tenor's config file")
    alice, bob = soprano.user("alice"), tenor.user("bob")
    wait_until(lambda: any(m.command == "311" for m in query(bob, "WHOIS alice", "318")), "bob sees alice")
    bob.send("PRIVMSG alice :over TLS")
    assert alice.expect("PRIVMSG").params == ["alice", "over TLS"]


def test_plaintext_connect_toward_a_secureonly_peer_is_refused_on_both_sides(network) -> None:
    """tenor dials soprano's plaintext port while soprano accepts tenor only over TLS: soprano refuses by ERROR
    and tells its operators; tenor's operators read soprano's reason."""
    soprano, tenor = manual_pair(network)
    soprano.as_("server tenor set secureonly on")
    tenor.operator().send("CONNECT soprano.*")
    reason = "Definition tenor accepts tenor.webmaster.com only over TLS (SECUREONLY)"
    assert soprano.server_notice(r"^Link with tenor") == f"Link with tenor.webmaster.com[127.0.0.1] refused: {reason}"
    assert tenor.server_notice(r"^Link with soprano") == (
        f"Link with soprano.webmaster.com[127.0.0.1] closed by the peer: Closing Link: 127.0.0.1 ({reason})")
    assert links(soprano.operator()) == ["soprano.webmaster.com"]


def test_tls_dialled_to_a_plaintext_port_is_told_on_both_sides(network) -> None:
    """tenor is set SECURE but its port is soprano's plaintext port: soprano answers in plain words and tells
    its operators; tenor's operators read that the port does not speak TLS."""
    soprano, tenor = manual_pair(network)
    tenor.as_("server soprano set secure on")
    tenor.operator().send("CONNECT soprano.*")
    assert soprano.server_notice(r"^TLS handshake from") == (
        f"TLS handshake from 127.0.0.1 on plaintext port {soprano.port} refused: a server (or client) set to use "
        "TLS dialled a plaintext port; this server has no TLS port open")
    told = tenor.server_notice(r"^Connection to soprano")
    assert told == (f"Connection to soprano (soprano.webmaster.com) at 127.0.0.1:{soprano.port} failed: the peer "
                    "does not speak TLS on that port (a plaintext port? dial its TLS port, or SET SECURE OFF)")


def test_plaintext_dialled_to_a_tls_port_is_told_on_both_sides(network) -> None:
    """tenor dials soprano's TLS port without TLS: soprano's operators read that a plaintext connection came
    to the TLS port; tenor's that the port is a TLS port."""
    soprano, tenor = manual_pair(network)
    soprano_tls, _ = enable_ssl(soprano)
    tenor.as_(f"server soprano set port {soprano_tls}")
    tenor.operator().send("CONNECT soprano.*")
    assert soprano.server_notice(r"^Plaintext connection") == (
        f"Plaintext connection from 127.0.0.1 on TLS port {soprano_tls} refused: it did not start a TLS handshake "
        "(a server linking without TLS? SERVER <handle> SET SECURE ON on its side)")
    told = tenor.server_notice(r"^Connection to soprano")
    assert "SERVER soprano SET SECURE ON" in told and "TLS port" in told


def test_securenetwork_switched_on_drops_the_plain_link_and_refuses_it_again(network) -> None:
    """A plaintext link is up; soprano's operator sets GENERAL SET SECURENETWORK ON: the link is dropped at once
    with a notice on both sides, and tenor's plaintext redial is refused saying why."""
    soprano, tenor = manual_pair(network)
    tenor.as_("server soprano set auto on")
    soprano.server_notice(r"^Link with tenor\.webmaster\.com\[127\.0\.0\.1\] established \(leaf")
    watcher = soprano.proc.client("watcher")  # a second operator: the first one's AS reads its replies
    watcher.register("watcher")
    watcher.oper(ADMIN_OPER[0], ADMIN_OPER[1])
    replies = soprano.as_("general set securenetwork on")
    reason = "Server links must use TLS on this network (SECURENETWORK is on)"
    assert f"Dropped the link to tenor.webmaster.com: {reason}" in replies
    lost = watcher.expect(lambda m: m.command == "NOTICE" and "Link with tenor" in (m.trailing or ""))
    assert lost.trailing == f"{SERVER_NOTICE}Link with tenor.webmaster.com[127.0.0.1] lost: {reason}"
    assert reason in tenor.server_notice(r"^Link with soprano.* (lost|closed)")
    assert soprano.server_notice(r"^Link with tenor.* refused", timeout=40) == (
        f"Link with tenor.webmaster.com[127.0.0.1] refused: {reason}")
    assert links(soprano.operator()) == ["soprano.webmaster.com"]


def test_after_the_first_use_pin_another_certificate_is_refused(network) -> None:
    """Trust on first use holds: once soprano's certificate is pinned, a server at that address presenting
    another one (here soprano itself, given a new certificate) is refused with both fingerprints, and
    soprano's operators read why."""
    soprano, tenor = manual_pair(network)
    soprano_tls, first_fp = enable_ssl(soprano)
    tenor.as_("server soprano set secure on", f"server soprano set port {soprano_tls}")
    tenor.operator().send("CONNECT soprano.*")
    tenor.server_notice(r"^Link with soprano\.webmaster\.com\[127\.0\.0\.1\] established over TLS")
    pin = first_fp.replace(":", "").lower()
    wait_until(lambda: f"server soprano set fingerprint {pin}" in tenor.proc.config_path.read_text().lower(),
               "the pin is saved in tenor's config file")
    other = self_signed("soprano.webmaster.com", datetime.datetime.now(datetime.timezone.utc))
    cert, key = other.write(network.root, "impostor")
    tenor.operator().send("SQUIT soprano.webmaster.com :new certificate")
    tenor.server_notice(r"^Link with soprano.* lost")
    soprano.as_(f"general ssl cert {cert}", f"general ssl key {key}")
    # The TLS port stays open; the new certificate is reloaded in place (tlskeeper).
    soprano.server_notice(rf"^TLS certificate reloaded from .*impostor\.crt: fingerprint {other.fingerprint}")
    tenor.operator().send("CONNECT soprano.*")
    reason = (f"TLS certificate fingerprint mismatch for definition soprano: expected {first_fp}, "
              f"got {other.fingerprint}")
    assert tenor.server_notice(r"^Link with soprano") == f"Link with soprano.webmaster.com[127.0.0.1] refused: {reason}"
    assert soprano.server_notice(r"^Link attempt from") == (
        f"Link attempt from 127.0.0.1 over TLS ended by the peer: Closing Link: 127.0.0.1 ({reason})")
