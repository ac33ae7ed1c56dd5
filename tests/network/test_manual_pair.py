"""The manual's two-server example, step by step: soprano (hub) and tenor (leaf).

Both start from a minimal bootstrap file; an operator on each types the
manual's ``/as`` lines.  tenor auto-connects to soprano; users on both see
each other (WHOIS, JOIN, NAMES, PRIVMSG); an operator's SQUIT splits tenor
off (its users QUIT with ``<near> <far>``), tenor re-links by itself, and
``/connect soprano.* <port>`` links it on demand.
"""

from __future__ import annotations

from tests.network.conftest import Node, links, lusers, names, wait_until

SOPRANO_SERIAL = "102-0000-001"
TENOR_SERIAL = "101-0001-001"


def configure_pair(network, auto: bool = True) -> tuple[Node, Node]:
    """The manual's lines on each side (SSL left out); returns (soprano, tenor)."""
    soprano = network.server("soprano.webmaster.com", SOPRANO_SERIAL, hub=True)
    tenor = network.server("tenor.webmaster.com", TENOR_SERIAL, hub=False)
    soprano.as_("general set hub")
    tenor.as_("general set leaf", "services disable")
    soprano.define("tenor", name="tenor.*", serial=TENOR_SERIAL)
    tenor.define("soprano", name="soprano.webmaster.com", host="127.0.0.1", port=soprano.port, ping=300,
                 serial=SOPRANO_SERIAL, auto=auto)
    return soprano, tenor


def test_tenor_links_to_soprano_and_users_see_each_other(network) -> None:
    """tenor auto-connects; both sides notice the link; WHOIS, JOIN, NAMES and PRIVMSG work across it."""
    soprano, tenor = configure_pair(network)
    established = soprano.server_notice(r"^Link with tenor\.webmaster\.com\[127\.0\.0\.1\] established")
    assert "(leaf, definition tenor)" in established
    tenor.server_notice(r"^Link with soprano\.webmaster\.com\[127\.0\.0\.1\] established \(hub, definition soprano\)")
    soprano.server_notice(r"^End of burst from tenor\.webmaster\.com \(\d+ lines, [\d.]+ s\)")
    alice = soprano.user("alice")
    bob = tenor.user("bob")
    wait_until(lambda: any(m.command == "311" for m in _whois(alice, "bob")), "alice sees bob")
    whois = _whois(alice, "bob")
    assert [m.params[2] for m in whois if m.command == "312"] == ["tenor.webmaster.com"]
    alice.join("#opera")
    bob.join("#opera")
    wait_until(lambda: names(alice, "#opera") == ["alice", "bob"], "NAMES on soprano lists both")
    assert names(bob, "#opera") == ["alice", "bob"]
    bob.send("PRIVMSG #opera :hello from tenor")
    heard = alice.expect("PRIVMSG")
    assert heard.source.startswith("bob!") and heard.params == ["#opera", "hello from tenor"]
    alice.send("PRIVMSG bob :hello from soprano")
    assert bob.expect("PRIVMSG").params == ["bob", "hello from soprano"]
    assert links(alice) == ["soprano.webmaster.com", "tenor.webmaster.com"]
    assert lusers(alice) == lusers(bob)


def _whois(client, nick: str):
    client.send(f"WHOIS {nick}")
    return client.collect(["318"], timeout=10.0)


def test_squit_splits_tenor_off_and_it_relinks(network) -> None:
    """SQUIT tenor.* from soprano's oper: bob QUITs with 'soprano... tenor...' for alice; tenor re-links."""
    soprano, tenor = configure_pair(network)
    soprano.server_notice(r"^Link with tenor\.webmaster\.com\[127\.0\.0\.1\] established")
    alice = soprano.user("alice")
    bob = tenor.user("bob")
    alice.join("#opera")
    bob.join("#opera")
    wait_until(lambda: names(alice, "#opera") == ["alice", "bob"], "bob joined on soprano's side")
    soprano.operator().send("SQUIT tenor.* :maintenance")
    quit_ = alice.expect("QUIT", timeout=10.0)
    assert quit_.source.startswith("bob!") and quit_.params == ["soprano.webmaster.com tenor.webmaster.com"]
    quit_back = bob.expect("QUIT", timeout=10.0)
    assert quit_back.source.startswith("alice!")
    assert quit_back.params == ["tenor.webmaster.com soprano.webmaster.com"]
    tenor.server_notice(r"^Link with soprano\.webmaster\.com\[127\.0\.0\.1\] lost: maintenance")
    # tenor's auto-connect resumes (about 5 s later) and the burst brings bob back.
    soprano.server_notice(r"^Link with tenor\.webmaster\.com\[127\.0\.0\.1\] established")
    wait_until(lambda: names(alice, "#opera") == ["alice", "bob"], "bob is back after the relink")


def test_connect_links_on_demand(network) -> None:
    """With AUTO off, nothing links until tenor's oper types /connect soprano.* <port>."""
    soprano, tenor = configure_pair(network, auto=False)
    op = tenor.operator()
    assert links(op) == ["tenor.webmaster.com"]
    op.send(f"CONNECT soprano.* {soprano.port}")
    reply = op.expect(lambda m: m.command == "NOTICE" and (m.trailing or "").startswith("*** Connecting to"))
    assert reply.trailing == f"*** Connecting to soprano (soprano.webmaster.com) at 127.0.0.1:{soprano.port}"
    tenor.server_notice(r"^Link with soprano\.webmaster\.com\[127\.0\.0\.1\] established")
    wait_until(lambda: links(op) == ["soprano.webmaster.com", "tenor.webmaster.com"], "LINKS on tenor")
