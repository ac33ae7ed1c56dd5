"""Secure links verified by a CA: tenor trusts a test CA (GENERAL SSL CAFILE) and pins nothing.

soprano's TLS port presents a certificate from files (GENERAL SSL CERT/KEY):
one the CA issued for its name links; one for another name, an expired one
and one from a CA tenor does not trust are refused, and both operators are
told why (tenor refuses by ERROR over TLS, soprano reads that ERROR).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from tests.integration.conftest import free_port
from tests.network.conftest import Node, links
from tests.network.test_manual_pair import SOPRANO_SERIAL, TENOR_SERIAL
from tests.tlscerts import DAY, Issued, issue, make_ca

NOW = datetime.datetime.now(datetime.timezone.utc)  # the servers verify with the real clock


def pair_with_certificate(network, certificate: Issued, ca: Issued) -> tuple[Node, Node, int]:
    """soprano presenting *certificate* on its TLS port; tenor trusting *ca* and dialling that port."""
    folder: Path = network.root
    cert, key = certificate.write(folder, "soprano")
    (folder / "network-ca.pem").write_bytes(ca.cert_pem)
    tls_port = free_port()
    soprano = network.server("soprano.webmaster.com", SOPRANO_SERIAL, hub=True, extra=(
        f"general ssl cert {cert}", f"general ssl key {key}", f"general ssl port {tls_port}", "general ssl enable"))
    tenor = network.server("tenor.webmaster.com", TENOR_SERIAL, hub=False)
    tenor.as_(f"general ssl cafile {folder / 'network-ca.pem'}")
    soprano.define("tenor", name="tenor.*", serial=TENOR_SERIAL, secureonly=True)
    tenor.define("soprano", name="soprano.webmaster.com", host="127.0.0.1", port=tls_port, serial=SOPRANO_SERIAL,
                 secure=True, secureonly=True)
    tenor.operator().send("CONNECT soprano.*")
    return soprano, tenor, tls_port


def test_certificate_from_the_trusted_ca_for_the_servers_name_links(network) -> None:
    """A certificate the CA issued for soprano.webmaster.com: the link comes up over TLS, verified by the CA,
    and nothing is pinned (a renewed certificate from the same CA will link too)."""
    ca = make_ca("Webmaster Test CA", NOW)
    soprano, tenor, _ = pair_with_certificate(network, issue(ca, "soprano.webmaster.com", now=NOW), ca)
    assert tenor.server_notice(r"^Link with soprano") == (
        "Link with soprano.webmaster.com[127.0.0.1] established over TLS (hub, definition soprano; "
        "certificate for soprano.webmaster.com signed by a trusted CA); sent a burst of 2 lines")
    soprano.server_notice(r"^Link with tenor\.webmaster\.com\[127\.0\.0\.1\] established over TLS")
    assert links(tenor.operator()) == ["soprano.webmaster.com", "tenor.webmaster.com"]
    assert "fingerprint" not in tenor.proc.config_path.read_text()


def _refused(network, certificate: Issued, ca: Issued) -> tuple[str, str]:
    """Link with *certificate* presented: (tenor's refusal reason, soprano's notice)."""
    soprano, tenor, _ = pair_with_certificate(network, certificate, ca)
    prefix = "Link with soprano.webmaster.com[127.0.0.1] refused: "
    told = tenor.server_notice(r"^Link with soprano")
    assert told.startswith(prefix), told
    reason = told[len(prefix):]
    seen = soprano.server_notice(r"^Link attempt from")
    assert links(soprano.operator()) == ["soprano.webmaster.com"]
    assert seen == f"Link attempt from 127.0.0.1 over TLS ended by the peer: Closing Link: 127.0.0.1 ({reason})"
    return reason, seen


@pytest.mark.parametrize("case", ["name mismatch", "expired", "unknown CA"])
def test_each_certificate_failure_is_refused_with_its_reason_on_both_sides(network, case: str) -> None:
    """A certificate for another name, an expired one, one from a CA tenor does not trust: tenor sends no
    PASS, refuses by ERROR saying why, its operators read the reason; soprano's operators read tenor's ERROR."""
    ca = make_ca("Webmaster Test CA", NOW)
    if case == "name mismatch":
        reason, _ = _refused(network, issue(ca, "alto.webmaster.com", now=NOW), ca)
        assert reason == ("TLS certificate name mismatch: it is for alto.webmaster.com, "
                          "not 127.0.0.1 or soprano.webmaster.com")
    elif case == "expired":
        ended = NOW - 2 * DAY
        old = issue(ca, "soprano.webmaster.com", now=NOW, not_before=NOW - 90 * DAY, not_after=ended)
        reason, _ = _refused(network, old, ca)
        assert reason == f"TLS certificate of 127.0.0.1 expired on {ended.strftime('%Y-%m-%d %H:%M UTC')}"
    else:
        stranger = make_ca("Somebody Else's CA", NOW)
        reason, _ = _refused(network, issue(stranger, "soprano.webmaster.com", now=NOW), ca)
        assert reason == ("TLS certificate of 127.0.0.1 is not signed by a trusted CA (issuer CN=Somebody Else's "
                          f"CA; trusted: {network.root / 'network-ca.pem'})")
