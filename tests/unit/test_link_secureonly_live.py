"""A definition's SECUREONLY turned on live drops its plain links (as SECURENETWORK does), with the policy's reason.

Found by probing the manual's SSL passage on two linked servers: after
``/as server soprano set secureonly on`` the plain link stayed up, and
``/connect`` answered "Already linked".
"""

from __future__ import annotations

from dataclasses import replace

from tests.unit.test_link_manager import LEAF2, TENOR, Harness, make_settings


def test_secureonly_on_drops_the_definitions_plain_link_only() -> None:
    """tenor's plain link is dropped with the SECUREONLY sentence; its TLS links and other definitions stay."""
    h = Harness(make_settings(TENOR, LEAF2)).start()
    plain = h.inbound("tenor", "tenor.webmaster.com", "leaf", secure=False)
    other = h.inbound("leaf2", "leaf2.sd.com", "leaf", secure=False)
    report = h.manager.reconfigure(make_settings(replace(TENOR, secure=True, secureonly=True), LEAF2))
    assert plain.dropped == ["Definition tenor accepts tenor.webmaster.com only over TLS (SECUREONLY)"]
    assert other.dropped == []
    assert report == ["Dropped the link to tenor.webmaster.com: "
                      "Definition tenor accepts tenor.webmaster.com only over TLS (SECUREONLY)"]


def test_secureonly_on_keeps_a_tls_link() -> None:
    """A link already over TLS is kept when SECUREONLY turns on."""
    h = Harness(make_settings(TENOR)).start()
    tls = h.inbound("tenor", "tenor.webmaster.com", "leaf", secure=True)
    assert h.manager.reconfigure(make_settings(replace(TENOR, secure=True, secureonly=True))) == []
    assert tls.dropped == []
