"""Our services used from a real ircd-hybrid 8.2 leaf: hybrid learns the services server and the bots
from our burst, and its users talk to NickServ and MemoServ through the link."""

from __future__ import annotations

from tests.integration.hybrid import Connect, HybridConfig, hybrid  # noqa: F401 (fixture)
from tests.network.conftest import query, wait_until

PASSWORD = "interop-link-secret"
OURS, THEIRS = "cr.test", "hyb.test"
SERVICES = "services.cr.test"


def test_hybrid_leaf_users_use_our_services(network, hybrid) -> None:
    """A user on hybrid sees NickServ on services.cr.test (WHOIS), registers and gets a memo notice."""
    ours = network.server(OURS, "102-0000-001", hub=True, services=True)
    ours.define("hyb", name=THEIRS, password=PASSWORD, role="leaf")
    theirs = hybrid(HybridConfig(THEIRS, "4HY", hub=False, description="hybrid leaf",
                                 connects=[Connect(OURS, ours.port, PASSWORD, hub_mask="*")]))
    theirs.connect_server(OURS)
    ours.server_notice(rf"^End of burst from {THEIRS} ")
    carol = theirs.client("carol")

    def whois_server():
        return next((m.params[2] for m in query(carol, "WHOIS NickServ", "318") if m.command == "312"), None)

    wait_until(lambda: whois_server() == SERVICES, "hybrid sees NickServ on the services server", 15.0)
    carol.send("PRIVMSG NickServ :REGISTER carolpw1")
    done = carol.expect(lambda m: m.command == "NOTICE" and m.nick == "NickServ"
                        and m.trailing.startswith("You are now identified"), timeout=15.0)
    assert done.trailing == "You are now identified for carol."
    alice = ours.user("alice")
    alice.send("PRIVMSG NickServ :REGISTER alicepw1")
    alice.expect(lambda m: m.command == "NOTICE" and m.trailing.startswith("You are now identified"))
    alice.send("PRIVMSG MemoServ :SEND carol across the link")
    memo = carol.expect(lambda m: m.command == "NOTICE" and m.nick == "MemoServ", timeout=15.0)
    assert memo.trailing.startswith("You have a new memo (1) from alice.")
