"""The TLS port graded by sslyze: TLS 1.2+, forward-secret AEAD suites only,
no compression, no insecure or client-initiated renegotiation.

Server links are accepted on the same listeners as clients (a server may
connect to any client port, TLS or not), so the TLS port scanned here is
the link port too (tests/network/test_tls_links.py links servers over it).
"""

from __future__ import annotations

import re

from tests.integration.adminlive import wait_port
from tests.integration.conftest import free_port
from tests.integration.tlsscan import accepted, scan

AEAD_FS = re.compile(r"^(ECDHE|DHE)-(RSA|ECDSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$")


def test_sslyze_grades_the_tls_port(irc_server, tmp_path):
    """sslyze against the running server's TLS port (client and link port): SSL 2/3 and
    TLS 1.0/1.1 refused outright; TLS 1.2 accepts only ECDHE/DHE with AES-GCM or
    ChaCha20-Poly1305; TLS 1.3 accepted; compression off; renegotiation secure and
    never client-initiated."""
    port = free_port()
    srv = irc_server([f"general ssl port {port}", "general ssl enable"])
    wait_port(port)
    result = scan(srv.host, port, tmp_path / "sslyze.json")
    for old in ("ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1"):
        assert accepted(result, old) == [], old
    tls12 = accepted(result, "tls_1_2")
    assert tls12 and all(AEAD_FS.match(name) for name in tls12), tls12
    assert {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"} <= set(tls12), tls12
    tls13 = accepted(result, "tls_1_3")
    assert set(tls13) >= {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"}, tls13
    assert all("GCM" in n or "CHACHA20" in n for n in tls13), tls13
    assert result["tls_compression"]["result"]["supports_compression"] is False
    reneg = result["session_renegotiation"]["result"]
    assert reneg["supports_secure_renegotiation"] is True
    assert reneg["is_vulnerable_to_client_renegotiation_dos"] is False
    assert reneg["client_renegotiations_success_count"] == 0
