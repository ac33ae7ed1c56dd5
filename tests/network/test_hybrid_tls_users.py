"""A real ircd-hybrid 8.2 sees our TLS users as secure: +z and CERTFP cross the link in hybrid's terms."""

from __future__ import annotations

from tests.integration.hybrid import hybrid  # noqa: F401 (fixture)
from tests.integration.test_tls_clients import der_fingerprint_hex, make_pair, tls_client
from tests.network.conftest import query
from tests.network.test_hybrid_interop import OURS, hybrid_leaf_linked, sees
from tests.network.test_tls_links import enable_ssl


def test_hybrid_shows_our_tls_user_with_671_and_its_fingerprint_to_opers(network, hybrid, tmp_path) -> None:
    """alice connects to our TLS port with a client certificate; on hybrid, an operator's
    WHOIS shows 671 and 276 with her SHA-256, a plain user's WHOIS 671 only."""
    ours, theirs = hybrid_leaf_linked(network, hybrid)
    port, _ = enable_ssl(ours)
    pair = make_pair(tmp_path / "alice", "alice.example")
    alice = tls_client(port, "alice", pair)
    alice.register("alice")
    hop = theirs.oper_client("hop")
    sees(hop, "alice", OURS)
    by_oper = query(hop, "WHOIS alice", "318")
    assert [m.params[-1] for m in by_oper if m.command == "671"] == ["is using a secure connection"]
    assert [m.params[-1] for m in by_oper if m.command == "276"] == [
        f"has client certificate fingerprint {der_fingerprint_hex(pair[0])}"]
    bob = theirs.client("bob")
    by_user = query(bob, "WHOIS alice", "318")
    assert [m.command for m in by_user if m.command in ("671", "276")] == ["671"]
    alice.close()
