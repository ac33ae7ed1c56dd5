"""irssi over TLS: a real irssi with a client certificate and the server's
certificate pinned connects to the TLS port, is +z, and WHOIS shows 671
and its fingerprint (276)."""

from __future__ import annotations

from tests.integration.adminlive import fingerprint, wait_port
from tests.integration.conftest import free_port
from tests.integration.test_irssi import IRSSI_NICK, _irssi_home, irssi_binary, tmux  # noqa: F401 - fixtures
from tests.integration.test_tls_clients import der_fingerprint_hex, make_pair, tls_client


def test_irssi_connects_over_tls_with_a_client_certificate(irc_server, irc_client, irssi_binary,
                                                           tmux, tmp_path):
    """irssi `/connect -tls` with `-tls_cert`/`-tls_pkey` and `-tls_pinned_cert` (the
    server's SHA-256) registers; a plain user's WHOIS shows 671 and no 276, irssi's own
    WHOIS shows its certificate fingerprint, and its screen shows user mode +z."""
    port = free_port()
    srv = irc_server([f"general ssl port {port}", "general ssl enable"])
    wait_port(port)
    served = fingerprint(tls_client(port, "probe").peer_certificate)
    cert, key = make_pair(tmp_path / "irssi-cert", "irssi.example")
    fp = der_fingerprint_hex(cert)
    home = _irssi_home(tmp_path / "irssi-home", srv.port)
    tmux.start([irssi_binary, f"--home={home}", "-n", IRSSI_NICK],
               env={"TERM": "screen", "LANG": "C.UTF-8", "HOME": str(home)})
    tmux.wait_for_screen("Irssi", timeout=20)
    tmux.send_line(f"/connect -tls -tls_cert {cert} -tls_pkey {key} -tls_pinned_cert {served} "
                   f"127.0.0.1 {port}")
    tmux.wait_for_screen("Welcome", timeout=20)
    tmux.wait_for_screen("+z", timeout=10)
    watcher = irc_client(srv, "watcher")
    watcher.send(f"WHOIS {IRSSI_NICK}")
    lines = watcher.collect("318")
    assert [m.params[-1] for m in lines if m.command == "671"] == ["is using a secure connection"]
    assert not [m for m in lines if m.command == "276"]
    tmux.send_line(f"/whois {IRSSI_NICK}")
    tmux.wait_for_screen(f"has client certificate fingerprint {fp}", timeout=10)
    tmux.send_line("/quit tls done")
