"""Server TLS asks a connecting peer for its certificate, so an inbound link's pin can be checked."""

from __future__ import annotations

import datetime

from OpenSSL import SSL

from conferenceroom import tls


def test_server_context_requests_a_peer_certificate_and_accepts_none(tmp_path) -> None:
    """The listener asks for a certificate (a linking server's, to compare with its pin) without requiring one."""
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    server = tls.load_or_create("soprano.webmaster.com", str(tmp_path), None, None, now)
    context = server.options.getContext()
    assert context.get_verify_mode() == SSL.VERIFY_PEER
    SSL.Connection(context, None)  # a connection made from it ...
    assert server.options.getContext() is context  # ... and later ones reuse the same context unchanged
