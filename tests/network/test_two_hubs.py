"""The manual's eight-server network: two hubs (San Diego, New York), three leaves each.

Each hub auto-connects to the other hub; each leaf auto-connects to its
city's hub, with the other city's hub as its second upstream (failover).
Once linked, every server sees all eight (LINKS) and the same users
(NAMES, LUSERS).  SIGKILL of hub1.sd.com splits its leaves off; they re-link
by failover to hub1.ny.com and the seven survivors end consistent.
"""

from __future__ import annotations

from tests.network.conftest import LINK_TIMEOUT, Node, links, lusers, names, wait_until

HUBS = {"hub1.sd.com": "201-0000-001", "hub1.ny.com": "202-0000-001"}
LEAVES = {
    f"leaf{i}.{city}.com": f"{200 + n}-0000-00{i + 1}"
    for n, city in ((1, "sd"), (2, "ny")) for i in (1, 2, 3)
}


def handle(name: str) -> str:
    """The definition handle for a server name: hub1.sd.com -> hub1sd."""
    return name.replace(".com", "").replace(".", "")


def build(network) -> dict[str, Node]:
    """Start the eight servers and type every definition, hubs first, leaves last."""
    nodes = {name: network.server(name, serial, hub=True) for name, serial in HUBS.items()}
    nodes.update({name: network.server(name, serial, hub=False) for name, serial in LEAVES.items()})
    sd, ny = nodes["hub1.sd.com"], nodes["hub1.ny.com"]
    for hub, other in ((sd, ny), (ny, sd)):
        hub.define(handle(other.name), name=other.name, serial=HUBS[other.name], host="127.0.0.1",
                   port=other.port, auto=True)
        for leaf, serial in LEAVES.items():  # downstream: its own leaves, and the other city's for failover
            hub.define(handle(leaf), name=leaf, serial=serial)
    for leaf in LEAVES:
        own, other = (sd, ny) if ".sd." in leaf else (ny, sd)
        for upstream in (own, other):  # configuration order is the failover order
            nodes[leaf].define(handle(upstream.name), name=upstream.name, serial=HUBS[upstream.name],
                               host="127.0.0.1", port=upstream.port, auto=True)
    return nodes


def test_two_hub_network_links_and_survives_a_hub_crash(network) -> None:
    """All eight link; killing hub1.sd.com moves its leaves to hub1.ny.com; everyone agrees after."""
    nodes = build(network)
    everyone = sorted(nodes)
    users = {}
    for name, node in nodes.items():
        wait_until(lambda node=node: links(node.operator()) == everyone, f"LINKS on {name} lists all eight",
                   timeout=2 * LINK_TIMEOUT)
    for name, node in nodes.items():
        nick = "u" + handle(name)
        users[name] = node.user(nick)
        users[name].join("#manual")
    all_nicks = sorted("u" + handle(name) for name in nodes)
    for name, client in users.items():
        wait_until(lambda c=client: names(c, "#manual") == all_nicks, f"NAMES #manual on {name}")
    assert len({lusers(c) for c in users.values()}) == 1
    # The San Diego leaves hang off hub1.sd.com, the New York ones off hub1.ny.com.
    ny_map = [m.trailing for m in _map(users["hub1.ny.com"])]
    assert any(row.lstrip("|`- ").startswith("leaf1.ny.com") for row in ny_map)

    nodes["hub1.sd.com"].proc.kill()
    survivors = [name for name in everyone if name != "hub1.sd.com"]
    ny = nodes["hub1.ny.com"]
    moved: set[str] = set()
    while len(moved) < 3:  # the three San Diego leaves fail over, in any order
        text = ny.server_notice(r"^Link with leaf[123]\.sd\.com\[127\.0\.0\.1\] established",
                                timeout=2 * LINK_TIMEOUT)
        moved.add(text.split("[")[0].removeprefix("Link with "))
    survivor_nicks = sorted("u" + handle(name) for name in survivors)
    for name in survivors:
        client = users[name]
        wait_until(lambda c=client: links(c) == survivors, f"LINKS on {name} after the crash")
        wait_until(lambda c=client: names(c, "#manual") == survivor_nicks, f"NAMES #manual on {name}")
    counts = {name: lusers(users[name]) for name in survivors}
    assert len(set(counts.values())) == 1, counts
    assert "on 7 servers" in next(iter(counts.values()))


def _map(client):
    client.send("MAP")
    return [m for m in client.collect("017", timeout=10.0) if m.command == "015"]
