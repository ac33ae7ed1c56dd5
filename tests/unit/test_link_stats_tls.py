"""STATS l marks server links that run over TLS, with the protocol and cipher, for operators."""

from __future__ import annotations

from typing import Any

from tests.helpers import feed, sent
from tests.unit.linkpair import linked, oper_on, soprano_and_tenor
from tests.unit.linkkit import SOPRANO_CERT, TENOR_CERT, TLSTransport, tls_dial


class Session:
    """What pyOpenSSL's Connection tells about a TLS session."""

    def get_protocol_version_name(self) -> str:
        return "TLSv1.3"

    def get_cipher_name(self) -> str:
        return "TLS_AES_256_GCM_SHA384"


def stats_l_servers(oper: Any) -> list[str]:
    """The trailing text of each 211 line for a server link (names with a dot and no user@)."""
    feed(oper, "STATS l")
    return [m.params[1] + " " + m.params[-1] for m in sent(oper)
            if m.command == "211" and "@" not in m.params[1]]


def test_stats_l_marks_a_tls_link_with_protocol_and_cipher(monkeypatch) -> None:
    """An operator's STATS l ends the 211 line of a TLS server link with ``TLS TLSv1.3 <cipher>``."""
    monkeypatch.setattr(TLSTransport, "getHandle", lambda self: Session(), raising=False)
    soprano, tenor, pair, watch_s, watch_t = tls_dial(SOPRANO_CERT, TENOR_CERT.fingerprint,
                                                      fingerprint=SOPRANO_CERT.fingerprint)
    pair.active.handshakeCompleted()
    pair.pump()
    assert pair.passive.registered
    sent(watch_s)
    [row] = stats_l_servers(watch_s)
    assert row == "tenor.webmaster.com[127.0.0.2] 0 0 TLS TLSv1.3 TLS_AES_256_GCM_SHA384"


def test_stats_l_marks_a_tls_link_even_without_session_details() -> None:
    """A TLS transport that cannot say its cipher is still marked ``TLS``."""
    soprano, tenor, pair, watch_s, watch_t = tls_dial(SOPRANO_CERT, TENOR_CERT.fingerprint,
                                                      fingerprint=SOPRANO_CERT.fingerprint)
    pair.active.handshakeCompleted()
    pair.pump()
    sent(watch_t)
    [row] = stats_l_servers(watch_t)
    assert row == "soprano.webmaster.com[127.0.0.3] 0 0 TLS"


def test_stats_l_leaves_a_plain_link_unmarked() -> None:
    """A plain-text server link keeps hybrid's ``-`` in that place."""
    soprano, tenor = soprano_and_tenor()
    linked(soprano, tenor)
    oper = oper_on(soprano, "op")
    [row] = stats_l_servers(oper)
    assert row == "tenor.webmaster.com[127.0.0.2] 0 0 -"
