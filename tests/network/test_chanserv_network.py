"""ChanServ across a link: services run on soprano (hub), users on tenor (leaf, services disabled).

A user on tenor talks to ChanServ through the link, registers a channel
there and gets its +q from ChanServ on soprano; an AOP on tenor gets +o on
join; an AKICKed user on tenor is banned and kicked; every change is seen
alike on both servers.
"""

from __future__ import annotations

from tests.integration.test_chanserv import chanserv_mode, cs, login, names
from tests.network.conftest import Node, wait_until

SOPRANO_SERIAL = "102-0000-001"
TENOR_SERIAL = "101-0001-001"


def linked_pair(network) -> tuple[Node, Node]:
    """soprano (hub, services) and tenor (leaf, services disabled), linked."""
    soprano = network.server("soprano.webmaster.com", SOPRANO_SERIAL, hub=True, services=True)
    tenor = network.server("tenor.webmaster.com", TENOR_SERIAL, hub=False)
    tenor.as_("general set leaf", "services disable")
    soprano.define("tenor", name="tenor.*", serial=TENOR_SERIAL)
    tenor.define("soprano", name="soprano.webmaster.com", host="127.0.0.1", port=soprano.port, ping=300,
                 serial=SOPRANO_SERIAL, auto=True)
    soprano.server_notice(r"^End of burst from tenor\.webmaster\.com")
    return soprano, tenor


def knows(client, nick: str) -> bool:
    """True if WHOIS ``nick`` finds it from ``client``'s server."""
    client.send(f"WHOIS {nick}")
    return any(m.command == "311" for m in client.collect("318", timeout=10.0))


def test_leaf_user_registers_and_gets_modes_from_hub_chanserv(network) -> None:
    """Registration, auto-modes and AKICK for users on the leaf, made by ChanServ on the hub, seen on both."""
    soprano, tenor = linked_pair(network)
    bob = tenor.user("bob")
    wait_until(lambda: knows(bob, "ChanServ"), "tenor knows ChanServ")
    login(bob)
    bob.join("#opera")
    replies = cs(bob, "REGISTER #opera", "registered")
    assert replies[-1] == "#opera is now registered to your account bob; you are its founder."
    chanserv_mode(bob, "#opera", "+q", "bob")

    alice = soprano.user("alice")
    login(alice)
    assert cs(bob, "ACCESS #opera ADD alice AOP", "added")[-1] == \
        "alice added to the access list of #opera at AOP."
    carol = tenor.user("carol")
    login(carol)
    assert cs(bob, "ACCESS #opera ADD carol VOP", "added")[-1] == \
        "carol added to the access list of #opera at VOP."

    alice.join("#opera")
    chanserv_mode(alice, "#opera", "+o", "alice")
    chanserv_mode(bob, "#opera", "+o", "alice")
    carol.join("#opera")
    chanserv_mode(carol, "#opera", "+v", "carol")
    chanserv_mode(alice, "#opera", "+v", "carol")
    wait_until(lambda: names(alice, "#opera") == names(bob, "#opera"), "both servers agree on NAMES")
    assert sorted(names(alice, "#opera")) == sorted(["~bob", "@alice", "+carol"])

    assert cs(bob, "AKICK #opera ADD troll!*@* go away", "AKICK list")[-1] == \
        "troll!*@* added to the AKICK list of #opera."
    troll = tenor.user("troll")
    troll.send("JOIN #opera")
    kick = troll.expect("KICK", timeout=10.0)
    assert kick.nick == "ChanServ" and kick.params == ["#opera", "troll", "go away"]
    seen_on_hub = alice.expect(lambda m: m.command == "KICK", timeout=10.0)
    assert seen_on_hub.nick == "ChanServ" and seen_on_hub.params == ["#opera", "troll", "go away"]

    # The channel empties on both servers and is recreated on the leaf: lock and topic come back.
    bob.send("TOPIC #opera :Tonight: Tosca")
    alice.expect("TOPIC", timeout=10.0)
    for user in (alice, carol, bob):
        user.send("PART #opera")
    # Recreate only once both servers have let the channel go: a JOIN reaching a copy still held
    # (a PART not yet across the link) would rejoin that channel, topic and all.
    wait_until(lambda: names(alice, "#opera") == [] and names(bob, "#opera") == [],
               "#opera emptied on both servers")
    bob.join("#opera")
    topic = bob.expect(lambda m: m.command == "TOPIC" and (m.nick or "") == "ChanServ", timeout=10.0)
    assert topic.params == ["#opera", "Tonight: Tosca"]
    chanserv_mode(bob, "#opera", "+q", "bob")
