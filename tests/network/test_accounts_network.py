"""Accounts across real linked processes: services on soprano (hub), clients on tenor (leaf).

A login on tenor through soprano's NickServ is seen by tenor's and
soprano's users (ACCOUNT, the account tag, WHOIS 330); a tenor client logs
in with SASL PLAIN, its exchange relayed as ENCAP SASL to the hub's
services, before and after registering, and a wrong password is refused;
and a real ircd-hybrid leaf sees a login made on our side (330 and +r in
its WHOIS), hybrid listing our services server in its ``service {}`` block.
"""

from __future__ import annotations

import base64

from tests.integration.hybrid import Connect, HybridConfig, hybrid  # noqa: F401 (fixture)
from tests.integration.ircclient import IRCClient, unique_nick
from tests.network.conftest import links, names, query, wait_until

SOPRANO_SERIAL = "102-0000-001"
TENOR_SERIAL = "101-0001-001"
SERVICES = "services.webmaster.com"
PASSWORD = "sesame42"
CAPS = ["account-notify", "account-tag", "extended-join"]


def _pair(network):
    soprano = network.server("soprano.webmaster.com", SOPRANO_SERIAL, hub=True, services=True)
    tenor = network.server("tenor.webmaster.com", TENOR_SERIAL, hub=False)
    soprano.define("tenor", name="tenor.*", serial=TENOR_SERIAL)
    tenor.define("soprano", name="soprano.webmaster.com", host="127.0.0.1", port=soprano.port, ping=300,
                 serial=SOPRANO_SERIAL, auto=True)
    soprano.server_notice(r"^End of burst from tenor\.webmaster\.com")
    return soprano, tenor


def _identified(client: IRCClient) -> list:
    """Lines up to NickServ's "You are now identified" (the login's 900 and MODE +r come before it)."""
    return client.collect(lambda m: m.command == "NOTICE" and m.nick == "NickServ"
                          and m.trailing.startswith("You are now identified"), timeout=15.0)


def _whois_account(client: IRCClient, nick: str) -> str | None:
    for m in query(client, f"WHOIS {nick}", "318"):
        if m.command == "330":
            return m.params[2]
    return None


def _b64(*parts: str) -> str:
    return base64.b64encode("\x00".join(parts).encode()).decode()


def test_login_on_the_leaf_is_seen_on_both_servers(network) -> None:
    """bob on tenor REGISTERs with soprano's NickServ: he sees +r and 900; a tenor peer and a soprano
    peer see ACCOUNT and the account tag on his message; WHOIS on both servers shows 330; LOGOUT undoes it."""
    soprano, tenor = _pair(network)
    carol = soprano.proc.client("carol")
    carol.register("carol", caps=CAPS)
    dave = tenor.proc.client("dave")
    dave.register("dave", caps=CAPS)
    bob = tenor.user("bob")
    wait_until(lambda: SERVICES in links(bob), "tenor lists the services server")
    for c in (carol, dave, bob):
        c.join("#acc")
    wait_until(lambda: names(carol, "#acc") == ["bob", "carol", "dave"], "carol sees the tenor users join")
    bob.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
    seen = {m.command: m.params for m in _identified(bob)}
    assert seen["MODE"] == ["bob", "+r"] and seen["900"][2] == "bob"
    for peer in (carol, dave):
        assert peer.expect(lambda m: m.command == "ACCOUNT" and m.nick == "bob", timeout=10.0).params == ["bob"]
    bob.send("PRIVMSG #acc :tagged from the leaf")
    for peer in (carol, dave):
        said = peer.expect(lambda m: m.command == "PRIVMSG" and m.nick == "bob", timeout=10.0)
        assert said.tags.get("account") == "bob"
    assert _whois_account(carol, "bob") == "bob"
    assert _whois_account(dave, "bob") == "bob"
    bob.send("PRIVMSG NickServ :LOGOUT")
    assert bob.expect("901", timeout=15.0).params[0] == "bob"
    for peer in (carol, dave):
        assert peer.expect(lambda m: m.command == "ACCOUNT" and m.nick == "bob", timeout=10.0).params == ["*"]
    assert _whois_account(carol, "bob") is None


def test_sasl_plain_from_the_leaf_with_services_on_the_hub(network) -> None:
    """A tenor client logs in with SASL PLAIN before registering (relayed to soprano's services as ENCAP
    SASL) under the account's nick: AUTHENTICATE +, 900, 903, then registration with +r and 330 on
    soprano; a wrong password is 904; a registered tenor client "later" logs in by SASL too (900, 903,
    no +r: not its nick; 330 on soprano)."""
    soprano, tenor = _pair(network)
    owner = soprano.user("jilles")
    owner.send(f"NS REGISTER {PASSWORD}")
    _identified(owner)
    owner.quit()
    probe = tenor.user(unique_nick("probe"))
    wait_until(lambda: SERVICES in links(probe), "tenor lists the services server")

    c = IRCClient.connect(tenor.proc.host, tenor.port, name="saslclient")
    c.send("CAP LS 302")
    offered = " ".join(m.trailing for m in c.collect(lambda m: m.command == "CAP" and m.params[2] != "*"))
    assert "sasl=PLAIN,EXTERNAL" in offered.split()
    c.send("CAP REQ :sasl")
    c.expect(lambda m: m.command == "CAP" and m.params[1] == "ACK")
    c.send("NICK jilles")
    c.send("USER leafy 0 * :Leaf SASL")
    c.send("AUTHENTICATE PLAIN")
    assert c.expect("AUTHENTICATE", timeout=10.0).params == ["+"]
    c.send("AUTHENTICATE " + _b64("jilles", "jilles", "not-the-password"))
    assert c.expect("904", timeout=15.0).params[0] == "jilles"
    c.send("AUTHENTICATE PLAIN")
    c.expect("AUTHENTICATE", timeout=10.0)
    c.send("AUTHENTICATE " + _b64("", "jilles", PASSWORD))
    assert c.expect("900", timeout=15.0).params[2] == "jilles"
    c.expect("903")
    c.send("CAP END")
    c.expect("001")
    c.expect(lambda m: m.command == "MODE" and m.params[-1] == "+r", timeout=10.0)
    watcher = soprano.user("watcher")
    wait_until(lambda: _whois_account(watcher, "jilles") == "jilles", "soprano sees jilles logged in")

    later = tenor.proc.client("later")
    later.register("later", caps=["sasl"])
    later.send("AUTHENTICATE PLAIN")
    later.expect("AUTHENTICATE", timeout=10.0)
    later.send("AUTHENTICATE " + _b64("", "jilles", PASSWORD))
    assert later.expect("900", timeout=15.0).params[2] == "jilles"
    later.expect("903")
    later.send("MODE later")
    assert "r" not in later.expect("221").params[1]
    wait_until(lambda: _whois_account(watcher, "later") == "jilles", "soprano sees later logged in")
    c.close()


def test_hybrid_leaf_sees_a_login(network, hybrid) -> None:
    """ircd-hybrid 8.2 linked to our hub lists services.webmaster.com in service {}: a login by our
    NickServ (SVSACCOUNT + SVSMODE +r from the services server) shows in hybrid's WHOIS as 330 and
    307 (+r); after alice renames away hybrid shows 330 without 307, back on her nick 307 again; a
    hybrid user identifying with our NickServ is logged in on our side too, and has 307 in hybrid's
    WHOIS again after a nick change away and back (hybrid drops +r itself, we send SVSMODE +r)."""
    ours = network.server("soprano.webmaster.com", SOPRANO_SERIAL, hub=True, services=True)
    ours.define("hyb", name="hyb.test", password="interop-link-secret", role="leaf")
    theirs = hybrid(HybridConfig("hyb.test", "4HY", hub=False, description="hybrid leaf",
                                 connects=[Connect("soprano.webmaster.com", ours.port, "interop-link-secret",
                                                   hub_mask="*")],
                                 extra=f'service {{ name = "{SERVICES}"; }};'))
    theirs.connect_server("soprano.webmaster.com")
    ours.server_notice(r"^End of burst from hyb\.test ")
    alice = ours.user("alice")
    bob = theirs.client("bob")
    wait_until(lambda: any(m.command == "312" for m in query(bob, "WHOIS alice", "318")), "hybrid sees alice")
    alice.send(f"NS REGISTER {PASSWORD}")
    _identified(alice)
    wait_until(lambda: _whois_account(bob, "alice") == "alice", "hybrid's WHOIS shows alice's account (330)")
    assert _regnick(bob, "alice")
    alice.send("NICK alice2")
    wait_until(lambda: _whois_account(bob, "alice2") == "alice", "hybrid sees alice2, still logged in")
    assert not _regnick(bob, "alice2")
    alice.send("NICK alice")
    wait_until(lambda: _regnick(bob, "alice"), "hybrid shows alice identified (307) again")
    bob.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
    bob.expect(lambda m: m.command == "NOTICE" and m.trailing.startswith("You are now identified"), timeout=15.0)
    wait_until(lambda: _whois_account(alice, "bob") == "bob", "our WHOIS shows hybrid's bob logged in")
    wait_until(lambda: _whois_account(bob, "bob") == "bob", "hybrid itself has bob logged in")
    wait_until(lambda: _regnick(bob, "bob"), "hybrid has bob identified for his nick (307)")
    bob.send("NICK bobby")
    wait_until(lambda: _whois_account(bob, "bobby") == "bob" and not _regnick(bob, "bobby"),
               "hybrid's bobby: logged in, not identified for this nick")
    bob.send("NICK bob")
    wait_until(lambda: _regnick(bob, "bob"), "our SVSMODE +r gives hybrid's bob 307 again")


def _regnick(client: IRCClient, nick: str) -> bool:
    """True if WHOIS ``nick`` shows 307 (identified for this nick: user mode r)."""
    return any(m.command == "307" for m in query(client, f"WHOIS {nick}", "318"))


def _os(client: IRCClient, text: str, last: str) -> list[str]:
    """``/msg OperServ <text>``; OperServ's NOTICE texts up to the one starting with ``last``."""
    client.send(f"PRIVMSG OperServ :{text}")
    lines = client.collect(lambda m: m.command == "NOTICE" and m.nick == "OperServ" and m.trailing.startswith(last),
                           timeout=15.0)
    return [m.trailing for m in lines if m.command == "NOTICE" and m.nick == "OperServ"]


def test_operserv_from_the_leaf(network) -> None:
    """A services administrator on tenor (flag s) uses soprano's OperServ: AKILL ADD kills the matching
    users of both servers and a later matching client on tenor, LIST and DEL; GLOBAL reaches users of
    both servers; STATS; a plain operator and a user are refused."""
    soprano, tenor = _pair(network)
    tenor.as_("oper sadmin add sadminpw1 s")
    boss = tenor.user("boss")
    wait_until(lambda: SERVICES in links(boss), "tenor lists the services server")
    boss.oper("sadmin", "sadminpw1")
    joe = tenor.user("joe")
    assert _os(joe, "STATS", "Permission denied") == [
        "Permission denied: OperServ is for services administrators (IRC operators with flag s or a)."]
    far = soprano.user("farjoe")
    wait_until(lambda: "farjoe" in [m.params[1] for m in query(boss, "WHOIS farjoe", "318") if m.command == "311"],
               "tenor sees farjoe")
    assert _os(boss, "GLOBAL network maintenance", "Global notice sent")[-1].startswith("Global notice sent to ")
    for c in (joe, far):
        notice = c.expect(lambda m: m.command == "NOTICE" and m.nick == "OperServ", timeout=10.0)
        assert notice.trailing == "[Global] network maintenance"
    spam_soprano = soprano.proc.client("spam1")
    spam_soprano.register("spam1", user="spammer")
    spam_tenor = tenor.proc.client("spam2")
    spam_tenor.register("spam2", user="spammer")
    wait_until(lambda: any(m.command == "311" for m in query(boss, "WHOIS spam1", "318")), "tenor sees spam1")
    reply = _os(boss, "AKILL ADD ~spammer@* +1h spam bots", "AKILL added")[-1]
    assert reply == "AKILL added: ~spammer@* (spam bots) [expires in 1h]; 2 users disconnected."
    for c in (spam_soprano, spam_tenor):
        kill = c.expect("KILL", timeout=10.0)
        assert "AKILLed: spam bots" in kill.trailing
    again = tenor.proc.client("spam3")
    again.send("NICK spam3")
    again.send("USER spammer 0 * :back again")
    assert "AKILLed: spam bots" in again.expect("KILL", timeout=10.0).trailing
    listing = _os(boss, "AKILL LIST", "End of AKILL list")
    assert listing[0] == "AKILLs (1):" and listing[1].startswith("1. ~spammer@* - spam bots [set by boss;")
    stats = _os(boss, "STATS", "  Server uptime")
    assert stats[0] == "Services statistics:" and stats[4].split() == ["AKILLs:", "1"]
    assert _os(boss, "AKILL DEL ~spammer@*", "AKILL for") == ["AKILL for ~spammer@* removed."]
    assert _os(boss, "AKILL LIST", "No AKILLs") == ["No AKILLs."]
