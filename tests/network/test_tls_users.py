"""TLS users seen from the other side of a link: +z, 671 and the certificate
fingerprint (276) cross the link, in the burst and for users who arrive later."""

from __future__ import annotations

from tests.integration.test_tls_clients import der_fingerprint_hex, make_pair, tls_client
from tests.network.conftest import Node
from tests.network.test_manual_pair import SOPRANO_SERIAL, TENOR_SERIAL
from tests.network.test_tls_links import enable_ssl


def whois(client, nick: str) -> dict[str, list[str]]:
    """The WHOIS numerics about ``nick`` by code (trailing texts)."""
    client.send(f"WHOIS {nick}")
    out: dict[str, list[str]] = {}
    for m in client.collect("318", timeout=10):
        out.setdefault(m.command, []).append(m.params[-1])
    return out


def test_tls_users_and_their_fingerprints_cross_the_link(network, tmp_path) -> None:
    """bob (TLS, client certificate) is on soprano before the link, alice (TLS,
    certificate) joins tenor after it: each server's operator sees the other
    server's user with 671 and its fingerprint in 276; a plain user sees 671 only."""
    soprano: Node = network.server("soprano.webmaster.com", SOPRANO_SERIAL, hub=True)
    tenor: Node = network.server("tenor.webmaster.com", TENOR_SERIAL, hub=False)
    soprano_tls, _ = enable_ssl(soprano)
    tenor_tls, _ = enable_ssl(tenor)
    bob_pair = make_pair(tmp_path / "bob", "bob.example")
    alice_pair = make_pair(tmp_path / "alice", "alice.example")
    bob = tls_client(soprano_tls, "bob", bob_pair)
    bob.register("bob")
    soprano.define("tenor", name="tenor.*", serial=TENOR_SERIAL)
    tenor.define("soprano", name="soprano.webmaster.com", host="127.0.0.1", port=soprano.port,
                 serial=SOPRANO_SERIAL, auto=True)
    soprano.server_notice(r"^Link with tenor\.webmaster\.com\[127\.0\.0\.1\] established")
    tenor.server_notice(r"established")
    alice = tls_client(tenor_tls, "alice", alice_pair)
    alice.register("alice")
    plain = soprano.user("plainwatcher")

    seen_by_tenor_oper = whois(tenor.operator(), "bob")
    assert seen_by_tenor_oper["671"] == ["is using a secure connection"]
    assert seen_by_tenor_oper["276"] == [f"has client certificate fingerprint {der_fingerprint_hex(bob_pair[0])}"]

    for _ in range(50):  # alice's UID and CERTFP are on their way to soprano
        seen = whois(soprano.operator(), "alice")
        if "311" in seen:
            break
    assert seen["671"] == ["is using a secure connection"]
    assert seen["276"] == [f"has client certificate fingerprint {der_fingerprint_hex(alice_pair[0])}"]
    seen_by_plain = whois(plain, "alice")
    assert seen_by_plain["671"] == ["is using a secure connection"] and "276" not in seen_by_plain
    bob.close()
    alice.close()


def test_secureonly_is_for_clients_a_server_still_links_on_the_plain_port(network) -> None:
    """GENERAL SET SECUREONLY on refuses plain-text clients, but a server dialling
    the plain port is a link, judged by the link rules (SECURENETWORK, the
    definition's SECUREONLY): tenor links in over plain TCP while a plain client
    on the same port is refused with the ERROR."""
    from tests.integration.adminlive import attempt, refused

    soprano: Node = network.server("soprano.webmaster.com", SOPRANO_SERIAL, hub=True)
    tenor: Node = network.server("tenor.webmaster.com", TENOR_SERIAL, hub=False)
    soprano_tls, _ = enable_ssl(soprano)
    soprano.as_("general set secureonly on")
    soprano.define("tenor", name="tenor.*", serial=TENOR_SERIAL)
    tenor.define("soprano", name="soprano.webmaster.com", host="127.0.0.1", port=soprano.port,
                 serial=SOPRANO_SERIAL, auto=True)
    soprano.server_notice(r"^Link with tenor\.webmaster\.com\[127\.0\.0\.1\] established")
    _client, lines = attempt(soprano.port, "plainuser")
    assert refused(lines), [m.raw for m in lines]
    assert f"This server accepts only TLS connections (port {soprano_tls})" in lines[-1].params[-1]
