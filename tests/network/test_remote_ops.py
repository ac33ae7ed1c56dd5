"""An operator's link commands across the network, on real servers: a role switched live reaches
the hub, and a remote CONNECT typed on the hub makes the leaf-turned-hub dial a third server."""

from __future__ import annotations

from tests.network.conftest import links, wait_until
from tests.network.test_manual_pair import configure_pair

BASS_SERIAL = "103-0000-001"


def test_role_switch_then_remote_connect(network) -> None:
    """tenor (leaf, linked to soprano) turns hub live; soprano's operator reads it. Then soprano's
    operator types CONNECT bass.* <port> tenor.webmaster.com: tenor dials bass, soprano's operator
    reads tenor's answer, and soprano keeps tenor (no 'Leaf introduced a server' split)."""
    soprano, tenor = configure_pair(network)
    soprano.server_notice(r"^Link with tenor\.webmaster\.com\[127\.0\.0\.1\] established")
    bass = network.server("bass.webmaster.com", BASS_SERIAL, hub=False)
    bass.as_("services disable")
    bass.define("tenor", name="tenor.webmaster.com", serial="101-0001-001")
    tenor.define("bass", name="bass.*", serial=BASS_SERIAL, host="127.0.0.1", port=bass.port)
    replies = tenor.as_("general set hub")
    assert "Told soprano.webmaster.com that this server is now a hub" in replies
    soprano.server_notice(r"^tenor\.webmaster\.com is now a hub$")
    op = soprano.operator()
    op.send(f"CONNECT bass.* {bass.port} tenor.webmaster.com")
    answer = op.expect(lambda m: m.command == "NOTICE" and m.source == "tenor.webmaster.com", timeout=15.0)
    assert answer.params[-1] == f"*** Connecting to bass (bass.*) at 127.0.0.1:{bass.port}"
    tenor.server_notice(r"^Remote CONNECT bass\.\* \d+ from \S+ \(\S+@soprano\.webmaster\.com\)$")
    bass.server_notice(r"^Link with tenor\.webmaster\.com\[127\.0\.0\.1\] established \(hub, definition tenor\)")
    alice = soprano.user("alice")
    wait_until(lambda: "bass.webmaster.com" in links(alice), "soprano sees bass behind tenor")
    assert links(alice) == ["bass.webmaster.com", "soprano.webmaster.com", "tenor.webmaster.com"]
