"""Services across real linked processes: the manual's soprano (hub, runs services) and tenor (leaf).

Users on the leaf register, identify and read memos through the hub's
services; nick enforcement reaches a leaf user (SVSNICK over the link);
``/as services disable`` and ``/squit services`` on tenor as the manual
types them; ``SQUIT services`` from the leaf drops the hub's services for
everyone until ``AS SERVICES ENABLE``; two servers running services are
refused with the way out while each keeps serving its clients.
"""

from __future__ import annotations

from tests.network.conftest import links, query, wait_until

SOPRANO_SERIAL = "102-0000-001"
TENOR_SERIAL = "101-0001-001"
SERVICES = "services.webmaster.com"


def _pair(network, tenor_services: bool = False, link: bool = True, tenor_extra=()):
    soprano = network.server("soprano.webmaster.com", SOPRANO_SERIAL, hub=True, services=True,
                             extra=["services set enforcedelay 5"])
    tenor = network.server("tenor.webmaster.com", TENOR_SERIAL, hub=False, services=tenor_services,
                           extra=list(tenor_extra))
    soprano.define("tenor", name="tenor.*", serial=TENOR_SERIAL)
    if link:
        tenor.define("soprano", name="soprano.webmaster.com", host="127.0.0.1", port=soprano.port, ping=300,
                     serial=SOPRANO_SERIAL, auto=True)
    return soprano, tenor


def _notices(client, bot, last):
    lines = client.collect(lambda m: m.command == "NOTICE" and m.nick == bot and m.trailing.startswith(last),
                           timeout=15.0)
    return [m.trailing for m in lines if m.command == "NOTICE" and m.nick == bot]


def test_leaf_users_use_the_hubs_services(network) -> None:
    """From tenor: LINKS and WHOIS show services.webmaster.com; REGISTER, IDENTIFY and MemoServ work."""
    soprano, tenor = _pair(network)
    soprano.server_notice(r"^End of burst from tenor\.webmaster\.com")
    bob = tenor.user("bob")
    wait_until(lambda: SERVICES in links(bob), "tenor lists the services server")
    bob.send("WHOIS NickServ")
    whois = {m.command: m.params for m in bob.collect("318", timeout=10.0)}
    assert whois["312"][2] == SERVICES
    bob.send("PRIVMSG NickServ :REGISTER bobpass1")
    assert _notices(bob, "NickServ", "You are now identified")[-1] == "You are now identified for bob."
    alice = soprano.user("alice")
    alice.send("NS REGISTER alicepw1")
    _notices(alice, "NickServ", "You are now identified")
    alice.send("MS SEND bob hello from the hub")
    assert _notices(alice, "MemoServ", "Memo sent")[-1] == "Memo sent to bob."
    assert _notices(bob, "MemoServ", "You have a new memo")[-1].startswith("You have a new memo (1) from alice.")
    bob.send("PRIVMSG NickServ :LOGOUT")
    _notices(bob, "NickServ", "You are now logged out")
    bob.send("NS IDENTIFY bobpass1")
    _notices(bob, "NickServ", "You are now identified for bob.")
    assert _notices(bob, "MemoServ", "You have 1 new memo")


def test_enforcement_renames_a_leaf_user(network) -> None:
    """A tenor user on a nick registered with soprano's NickServ is warned and renamed to Guest (SVSNICK)."""
    soprano, tenor = _pair(network)
    soprano.server_notice(r"^End of burst from tenor\.webmaster\.com")
    alice = soprano.user("alice")
    alice.send("NS REGISTER alicepw1")
    _notices(alice, "NickServ", "You are now identified")
    alice.quit()
    impostor = tenor.user("mallory")
    wait_until(lambda: SERVICES in links(impostor), "tenor knows services")
    impostor.send("NICK alice")
    warning = _notices(impostor, "NickServ", "This nickname is registered")
    assert "within 5 seconds" in warning[-1]
    renamed = impostor.expect(lambda m: m.command == "NICK", timeout=15.0)
    renamed = impostor.expect(lambda m: m.command == "NICK" and m.params[0].startswith("Guest"), timeout=15.0) \
        if renamed.params[0] == "alice" else renamed
    assert renamed.params[0].startswith("Guest")


def test_manual_tenor_disables_and_squits_services(network) -> None:
    """tenor runs services, the operator types the manual's /as services disable and /squit services; then
    tenor links to soprano and uses soprano's services."""
    soprano, tenor = _pair(network, tenor_services=True, link=False)
    replies = tenor.as_("services disable")
    assert any("Services set to disabled" in r for r in replies)
    op = tenor.operator()
    op.send("SQUIT services :no longer need these services")
    said = op.expect(lambda m: m.command == "NOTICE" and "SQUIT services" in m.trailing, timeout=10.0)
    assert "not running here" in said.trailing
    tenor.define("soprano", name="soprano.webmaster.com", host="127.0.0.1", port=soprano.port, ping=300,
                 serial=SOPRANO_SERIAL, auto=True)
    soprano.server_notice(r"^End of burst from tenor\.webmaster\.com")
    bob = tenor.user("bob")
    wait_until(lambda: links(bob) == sorted(["soprano.webmaster.com", "tenor.webmaster.com", SERVICES]),
               "one services server, soprano's")


def test_squit_services_from_the_leaf_and_enable_again(network) -> None:
    """SQUIT services typed on tenor drops soprano's services everywhere (bots QUIT, notices); they stay down
    through an unrelated AS change; AS SERVICES ENABLE on soprano brings them back for both servers; the
    accounts are still there."""
    soprano, tenor = _pair(network)
    soprano.server_notice(r"^End of burst from tenor\.webmaster\.com")
    bob = tenor.user("bob")
    wait_until(lambda: SERVICES in links(bob), "tenor knows services")
    bob.send("NS REGISTER bobpass1")
    _notices(bob, "NickServ", "You are now identified")
    tenor.operator().send(f"SQUIT {SERVICES} :maintenance")
    soprano.server_notice(r"SQUIT services\.webmaster\.com from op")
    soprano.server_notice(r"Services server services\.webmaster\.com leaves the network")
    tenor.server_notice(r"^Server services\.webmaster\.com split from soprano\.webmaster\.com")
    wait_until(lambda: SERVICES not in links(bob), "services gone from tenor")
    bob.send("PRIVMSG NickServ :HELP")
    assert bob.expect("401").params[1] == "NickServ"
    soprano.as_("server tenor set ping 200")  # an unrelated change does not bring them back
    bob.send("PRIVMSG NickServ :HELP")
    assert bob.expect("401").params[1] == "NickServ"
    assert SERVICES not in links(bob)
    soprano.as_("services enable")
    wait_until(lambda: SERVICES in links(bob), "services back on tenor")
    bob.send("NS LOGOUT")
    bob.send("NS IDENTIFY bobpass1")
    assert _notices(bob, "NickServ", "You are now identified")[-1] == "You are now identified for bob."


def test_two_services_meeting_are_refused_and_both_keep_working(network) -> None:
    """Both run services: the link is refused on both sides with a sentence naming /as services disable; each
    server keeps serving its own clients; after /as services disable on tenor the link comes up."""
    soprano, tenor = _pair(network, tenor_services=True)
    refused = soprano.server_notice(r"Two services servers would meet")
    assert "/as services disable" in refused
    tenor_said = tenor.server_notice(r"Two services servers would meet")
    assert "/as services disable" in tenor_said
    for node in (soprano, tenor):
        c = node.user(f"u{node.name[:3]}")
        c.send("PRIVMSG NickServ :HELP")
        assert _notices(c, "NickServ", "Type /msg NickServ HELP <command>")
    tenor.as_("services disable")
    tenor.operator().send("CONNECT soprano.*")
    soprano.server_notice(r"^End of burst from tenor\.webmaster\.com", timeout=30.0)
    bob = tenor.user("bob")
    wait_until(lambda: links(bob) == sorted(["soprano.webmaster.com", "tenor.webmaster.com", SERVICES]),
               "the network has soprano's services only")


def test_a_third_server_with_services_is_refused_and_the_network_keeps_working(network) -> None:
    """soprano (services) and tenor are linked; alto, running services too, dials soprano: refused with the
    way out, and soprano and tenor stay linked, their users still talking and using soprano's services."""
    soprano, tenor = _pair(network)
    soprano.server_notice(r"^End of burst from tenor\.webmaster\.com")
    alto = network.server("alto.example.net", "103-0000-001", hub=True, services=True)
    soprano.define("alto", name="alto.*", serial="103-0000-001")
    alto.define("soprano", name="soprano.webmaster.com", host="127.0.0.1", port=soprano.port, ping=300,
                serial=SOPRANO_SERIAL, auto=True)
    refused = soprano.server_notice(r"Two services servers would meet")
    assert "services.example.net" in refused and "/as services disable" in refused
    alto.server_notice(r"Two services servers would meet")
    alice = soprano.user("alice")
    bob = tenor.user("bob")
    assert links(bob) == sorted(["soprano.webmaster.com", "tenor.webmaster.com", SERVICES])
    wait_until(lambda: any(m.command == "311" for m in query(alice, "WHOIS bob", "318")), "alice sees bob")
    alice.send("PRIVMSG bob :still here")
    assert bob.expect("PRIVMSG").params == ["bob", "still here"]
    bob.send("NS REGISTER bobpass1")
    assert _notices(bob, "NickServ", "You are now identified")[-1] == "You are now identified for bob."
