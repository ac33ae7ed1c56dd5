"""Secure links in LinkConnection: no line before the peer's certificate is judged; refusals on both sides.

The TLS session itself is stood in for by a transport that says it is TLS
and shows a certificate (the real handshake is in test_link_tlsclient.py
and the network tests); ``handshakeCompleted`` is called as Twisted's TLS
transport calls it.
"""

from __future__ import annotations

from tests.helpers import connect, feed
from tests.tlscerts import self_signed
from tests.unit.linkkit import SOPRANO_CERT, TENOR_CERT, TLS_NOW, TLSTransport, tls_dial
from tests.unit.linkpair import notices, oper_on, soprano_and_tenor

IMPOSTOR = self_signed("soprano.webmaster.com", TLS_NOW)


def test_nothing_leaves_before_the_tls_handshake_is_done() -> None:
    """A secure link we dial writes nothing (PASS holds the password) until TLS is up and the peer judged."""
    _s, _t, pair, _ws, _wt = tls_dial(SOPRANO_CERT, fingerprint=SOPRANO_CERT.fingerprint)
    assert pair.active.transport.value() == b""
    pair.active.handshakeCompleted()
    assert pair.active.transport.value().startswith(b"CAPAB ")  # no password in SOPRANO_DEF: CAPAB opens


def test_pinned_peer_links_and_the_notice_says_tls() -> None:
    """Both sides pin: the link comes up and each side's operators read that it runs over TLS, pinned."""
    _s, _t, pair, watch_s, watch_t = tls_dial(SOPRANO_CERT, TENOR_CERT.fingerprint,
                                              fingerprint=SOPRANO_CERT.fingerprint)
    pair.active.handshakeCompleted()
    pair.pump()
    assert pair.active.registered and pair.passive.registered
    assert ("Link with soprano.webmaster.com[127.0.0.3] established over TLS (hub, definition soprano; "
            "pinned certificate); sent a burst of 2 lines") in notices(watch_t)
    assert ("Link with tenor.webmaster.com[127.0.0.2] established over TLS (leaf, definition tenor; "
            "pinned certificate); sent a burst of 2 lines") in notices(watch_s)


def test_pin_mismatch_refused_with_error_and_notices_on_both_sides() -> None:
    """An impostor's certificate: tenor sends no PASS, only an ERROR saying why (over TLS); tenor's operators
    read expected and presented fingerprints; soprano's read the ERROR tenor sent."""
    _s, tenor, pair, watch_s, watch_t = tls_dial(IMPOSTOR, fingerprint=SOPRANO_CERT.fingerprint)
    pair.active.handshakeCompleted()
    pair.pump()
    reason = (f"TLS certificate fingerprint mismatch for definition soprano: expected {SOPRANO_CERT.fingerprint}, "
              f"got {IMPOSTOR.fingerprint}")
    assert [line for tag, line in pair.wire if tag == "a>p"] == [f"ERROR :Closing Link: 127.0.0.3 ({reason})"]
    assert f"Link with soprano.webmaster.com[127.0.0.3] refused: {reason}" in notices(watch_t)
    assert (f"Link attempt from 127.0.0.2 over TLS ended by the peer: Closing Link: 127.0.0.3 ({reason})"
            in notices(watch_s))
    assert not pair.active.registered and tenor.link_manager.lost[0][1] == reason


def test_self_signed_peer_without_pin_or_ca_file_is_pinned_on_first_use() -> None:
    """The manual's fresh install: no pin, no CA file; soprano's self-signed certificate is pinned, operators
    are told the fingerprint, the pin is saved, and the link comes up."""
    _s, _t, pair, _ws, watch_t = tls_dial(SOPRANO_CERT)
    pair.active.handshakeCompleted()
    pair.pump()
    assert pair.active.registered
    fp = SOPRANO_CERT.fingerprint
    assert pair.saved == [("soprano", fp.replace(":", "").lower())]  # type: ignore[attr-defined]
    told = notices(watch_t)
    assert (f"TLS certificate of soprano.webmaster.com[127.0.0.3] is self-signed and definition soprano pins "
            f"none: pinned {fp} on first use; from now on only this certificate links (check it with "
            f"soprano.webmaster.com's operator; SERVER soprano SET FINGERPRINT changes it)") in told
    assert any("established over TLS (hub, definition soprano; self-signed certificate pinned on first use)" in t
               for t in told)


def test_error_as_the_first_line_over_a_tls_client_port_is_a_link_refusal() -> None:
    """On a TLS client port, a server that dialled us and refuses our certificate sends ERROR first:
    operators read it as a link attempt ended by the peer (a plaintext ERROR from a client is just junk)."""
    soprano, _tenor = soprano_and_tenor()
    watch = oper_on(soprano, "sop")
    conn = connect(soprano, "127.0.0.2")
    conn.transport = TLSTransport("127.0.0.2", 40001, TENOR_CERT)
    conn.secure = True
    feed(conn, "ERROR :Closing Link: 127.0.0.3 (TLS certificate name mismatch: it is for a.test, not b.test)")
    assert notices(watch) == ["Link attempt from 127.0.0.2 over TLS ended by the peer: Closing Link: 127.0.0.3 "
                              "(TLS certificate name mismatch: it is for a.test, not b.test)"]
    plain = connect(soprano, "127.0.0.4")
    feed(plain, "ERROR :anything")
    assert notices(watch) == []


def test_tls_handshake_on_a_plaintext_port_is_refused_in_plain_words() -> None:
    """A ClientHello on a plaintext client port: ERROR saying where TLS is, and a notice to operators."""
    soprano, _tenor = soprano_and_tenor()
    watch = oper_on(soprano, "sop")
    conn = connect(soprano, "127.0.0.2")
    conn.dataReceived(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40))
    assert conn.transport.value().startswith(b"ERROR :Closing Link: 127.0.0.2 (Port ")
    assert b"does not speak TLS; this server has no TLS port open)" in conn.transport.value()
    told = notices(watch)
    assert len(told) == 1 and told[0].startswith("TLS handshake from 127.0.0.2 on plaintext port ")
    assert told[0].endswith("refused: a server (or client) set to use TLS dialled a plaintext port; "
                            "this server has no TLS port open")


def test_a_tls_handshake_that_never_finishes_times_out_saying_so() -> None:
    """A secure link whose TLS handshake never completes (a silent port): after the registration timeout
    the operators read that no TLS session came up, not a generic registration timeout."""
    _s, tenor, pair, _ws, watch_t = tls_dial(SOPRANO_CERT, fingerprint=SOPRANO_CERT.fingerprint)
    tenor.clock.advance(pair.active.handshake.timeout + 1)
    told = notices(watch_t)
    assert told == [f"Link with soprano.webmaster.com[127.0.0.3] refused: no TLS session within "
                    f"{pair.active.handshake.timeout:g} seconds of connecting (is that port a TLS port? the peer "
                    "never finished the TLS handshake)"]
    assert b"PASS" not in pair.active.transport.value()


GREETING = b"NOTICE AUTH :*** Looking up your hostname\r\nNOTICE AUTH :*** Found your hostname\r\n"


def test_peer_greeting_before_the_verdict_waits_and_a_mismatch_is_still_named() -> None:
    """A hybrid greets with NOTICEs as soon as TLS is up, while our check of its certificate still runs:
    those lines wait for the verdict, and a wrong certificate is refused for that, not as an internal error."""
    _s, _t, pair, _ws, watch_t = tls_dial(IMPOSTOR, fingerprint=SOPRANO_CERT.fingerprint)
    pair.active.dataReceived(GREETING)
    pair.active.handshakeCompleted()
    pair.pump()
    reason = (f"TLS certificate fingerprint mismatch for definition soprano: expected {SOPRANO_CERT.fingerprint}, "
              f"got {IMPOSTOR.fingerprint}")
    assert f"Link with soprano.webmaster.com[127.0.0.3] refused: {reason}" in notices(watch_t)
    assert not any("Internal error" in text for text in notices(watch_t))


def test_peer_greeting_before_the_verdict_is_read_after_it_and_the_link_comes_up() -> None:
    """The same greeting to a link whose pin matches: read once the certificate is judged, and linked."""
    _s, _t, pair, _ws, watch_t = tls_dial(SOPRANO_CERT, TENOR_CERT.fingerprint, fingerprint=SOPRANO_CERT.fingerprint)
    pair.active.dataReceived(GREETING)
    pair.active.handshakeCompleted()
    pair.pump()
    assert pair.active.registered and pair.passive.registered
    assert not any("Internal error" in text for text in notices(watch_t))


def test_a_flood_before_the_verdict_is_refused() -> None:
    """A peer that pours lines at us before its certificate is judged is dropped, naming why; nothing piles up."""
    _s, _t, pair, _ws, watch_t = tls_dial(SOPRANO_CERT, fingerprint=SOPRANO_CERT.fingerprint)
    pair.active.dataReceived(b"NOTICE AUTH :hello\r\n" * 100)
    assert pair.active.closing
    assert any("More than 64 lines before its TLS certificate was judged" in text for text in notices(watch_t))


def test_tls_handshake_on_a_plaintext_port_names_the_port_dialled() -> None:
    """The refusal of a ClientHello on plaintext port 6697 names that port, to the peer and to operators
    (the port is asked of the socket when needed, not at every connect)."""
    from twisted.internet import address
    from twisted.internet.testing import StringTransport

    from conferenceroom.client.protocol import ClientConnection

    soprano, _tenor = soprano_and_tenor()
    watch = oper_on(soprano, "sop")
    conn = ClientConnection(soprano)
    conn.makeConnection(StringTransport(peerAddress=address.IPv4Address("TCP", "127.0.0.2", 40000),
                                        hostAddress=address.IPv4Address("TCP", "127.0.0.1", 6697)))
    conn.dataReceived(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40))
    assert conn.transport.value().startswith(b"ERROR :Closing Link: 127.0.0.2 (Port 6697 does not speak TLS")
    assert notices(watch)[0].startswith("TLS handshake from 127.0.0.2 on plaintext port 6697 refused")
