"""Accounts across links, the hybrid way: UID's account field, SVSACCOUNT and SVSMODE from services only."""

from __future__ import annotations

from tests.unit.linkkit import DAVE
from tests.unit.linknet import feed

SERVICES = ":2BB SID services.beta.lab 2 0SV +S :Services"


def test_uid_account_field_logs_the_user_in_and_r_follows_account_and_nick(alpha, beta):
    """A UID with an account logs the user in; +r only when the nick is the account's (any case);
    '*' means not logged in, whatever the umodes say."""
    feed(alpha, beta, ":2BB UID erin 1 1795607300 +i ~erin h h 10.1.1.1 2BBAAAAAC Erin :Erin",
         ":2BB UID fred 1 1795607300 +ir ~fred h h 10.1.1.2 2BBAAAAAD * :Fred",
         ":2BB UID gus 1 1795607300 +r ~gus h h 10.1.1.3 2BBAAAAAE gusacct :Gus")
    erin, fred, gus = alpha.user("erin"), alpha.user("fred"), alpha.user("gus")
    assert (erin.account, erin.modes) == ("Erin", {"i", "r"})
    assert (fred.account, fred.modes) == (None, {"i"})
    assert (gus.account, gus.modes) == ("gusacct", set())


def test_svsaccount_and_svsmode_from_the_services_server_are_obeyed(alpha, beta):
    """Services behind beta (SID flag S) log dave in and out: account and +r follow; SVSMODE +r/-r changes nothing more."""
    feed(alpha, beta, SERVICES, DAVE, ":0SV SVSACCOUNT 2BBAAAAAB 1795607297 dave",
         ":0SV SVSMODE 2BBAAAAAB 1795607297 +r")
    dave = alpha.user("dave")
    assert alpha.network.find_server("services.beta.lab").is_services
    assert (dave.account, "r" in dave.modes) == ("dave", True)
    feed(alpha, beta, ":0SV SVSACCOUNT 2BBAAAAAB 1795607297 *", ":0SV SVSMODE 2BBAAAAAB 1795607297 -r")
    assert (dave.account, "r" in dave.modes) == (None, False)
    assert beta.errors == []


def test_svsaccount_from_the_server_hosting_services_is_obeyed(alpha, beta):
    """The CR server whose services pseudo-server sits behind it may send SVSACCOUNT with its own SID."""
    feed(alpha, beta, SERVICES, DAVE, ":2BB SVSACCOUNT 2BBAAAAAB 1795607297 dave")
    assert alpha.user("dave").account == "dave"


def test_svsaccount_and_su_from_any_other_server_are_ignored(alpha, beta):
    """Without services behind it, a server's SVSACCOUNT, SVSMODE and ENCAP SU change nothing (as hybrid)."""
    feed(alpha, beta, DAVE, ":2BB SVSACCOUNT 2BBAAAAAB 1795607297 dave",
         ":2BB ENCAP * SU 2BBAAAAAB dave", ":2BB SVSMODE 2BBAAAAAB 1795607297 +i")
    dave = alpha.user("dave")
    assert (dave.account, dave.modes) == (None, set())
    feed(alpha, beta, ":2BB SID plain.beta.lab 2 0PL + :Not services", ":0PL SVSACCOUNT 2BBAAAAAB 0 dave")
    assert dave.account is None


def test_svsmode_applies_i_and_w_and_takes_oper_away(alpha, beta):
    """Services may set +i/+w and remove +o (with A and a); they cannot make anyone an operator."""
    feed(alpha, beta, SERVICES, ":2BB UID carol 1 1795607297 +aosw ~carol h h 10.0.0.9 2BBAAAAAA * :Carol",
         ":0SV SVSMODE 2BBAAAAAA 1795607297 +i-o", ":0SV SVSMODE 2BBAAAAAA 0 +o")
    carol = alpha.user("carol")
    assert carol.modes == {"i", "s", "w"}


def test_login_at_the_services_host_goes_out_as_svsaccount_and_svsmode(alpha, beta):
    """A login under the account's nick decided by local services reaches a peer as SVSACCOUNT then
    SVSMODE +r from the services SID; a logout as '*' and -r; a login under another nick is
    SVSACCOUNT alone; the services server is burst with flag S."""
    route = alpha.add_services("services.alpha.lab", "0SV")
    assert beta.lines() == [":1AA SID services.alpha.lab 2 0SV +S Services"]
    alice = alpha.add_user("alice")
    beta.lines()
    ts = int(alice.nick_ts)
    alpha.network.set_account(alice, "Alice", origin=route)
    alpha.network.set_account(alice, None, origin=route)
    alpha.network.set_account(alice, "AliceAcct", origin=route)
    assert beta.lines() == [
        f":0SV SVSACCOUNT {alice.uid} {ts} Alice", f":0SV SVSMODE {alice.uid} {ts} +r",
        f":0SV SVSACCOUNT {alice.uid} {ts} *", f":0SV SVSMODE {alice.uid} {ts} -r",
        f":0SV SVSACCOUNT {alice.uid} {ts} AliceAcct",
    ]


def test_nick_change_of_an_identified_user_gives_hybrid_svsmode_r(alpha, beta):
    """hybrid drops +r by itself on every nick change and waits for services: our identified user's
    NICK away is NICK alone, its NICK back is followed by SVSMODE +r (with the new nick TS); a case
    change and a user with no account add nothing."""
    alpha.add_services("services.alpha.lab", "0SV")
    alice = alpha.add_user("alice")
    bob = alpha.add_user("bob")
    alpha.network.set_account(alice, "alice")
    beta.lines()
    alpha.network.change_nick(alice, "ally", ts=1795607400)
    alpha.network.change_nick(alice, "Alice", ts=1795607401)
    alpha.network.change_nick(alice, "ALICE", ts=1795607402)
    alpha.network.change_nick(bob, "robert", ts=1795607403)
    assert beta.lines() == [
        f":{alice.uid} NICK ally 1795607400",
        f":{alice.uid} NICK Alice 1795607401", f":0SV SVSMODE {alice.uid} 1795607401 +r",
        f":{alice.uid} NICK ALICE 1795607402",
        f":{bob.uid} NICK robert 1795607403",
    ]


def test_hybrid_user_back_on_its_account_nick_gets_svsmode_r_from_us(alpha, beta):
    """A user on a hybrid peer logged in as dave renames away (we drop +r, as hybrid did) then back:
    we derive +r and send hybrid the SVSMODE +r its services would have sent."""
    alpha.add_services("services.alpha.lab", "0SV")
    feed(alpha, beta, ":2BB UID dave 1 1795607297 +r ~dave h h 10.0.0.4 2BBAAAAAB dave :Dave")
    dave = alpha.user("dave")
    assert "r" in dave.modes
    beta.lines()
    feed(alpha, beta, ":2BBAAAAAB NICK davey :1795607500")
    assert "r" not in dave.modes and beta.lines() == []
    feed(alpha, beta, ":2BBAAAAAB NICK Dave :1795607501")
    assert "r" in dave.modes
    assert beta.lines() == [":0SV SVSMODE 2BBAAAAAB 1795607501 +r"]


def test_conferenceroom_peers_derive_r_without_svsmode(mesh):
    """Between our servers a nick change is NICK alone: each side derives +r/-r from account and nick."""
    a, b = mesh.node("a.test", "1AA"), mesh.node("b.test", "2BB")
    route = a.add_services("services.a.test", "0SV")
    ab, ba = mesh.link(a, b)
    cat = a.add_user("cat")
    a.network.set_account(cat, "cat", origin=route)
    mesh.pump()
    assert "r" in b.user("cat").modes
    ab.lines(), ba.lines()
    a.network.change_nick(cat, "kitty")
    mesh.pump()
    assert [line.split()[1] for line in ab.lines()] == ["NICK"]
    assert "r" not in b.user("kitty").modes and b.user("kitty").account == "cat"
    a.network.change_nick(cat, "CAT")
    mesh.pump()
    assert [line.split()[1] for line in ab.lines()] == ["NICK"] and ba.lines() == []
    assert "r" in cat.modes and "r" in b.user("CAT").modes


def test_burst_carries_account_and_r_in_uid(alpha, beta):
    """A logged-in user is burst with +r in its modes and the account in UID's account field."""
    from conferenceroom.link.burst import burst_messages

    route = alpha.add_services("services.alpha.lab", "0SV")
    alice = alpha.add_user("alice")
    alpha.network.set_account(alice, "alice", origin=route)
    uid = next(m for m in burst_messages(alpha.network, beta) if m.command == "UID")
    assert uid.params[3] == "+r" and uid.params[9] == "alice"


def test_login_crosses_a_chain_from_the_services_source(mesh):
    """a (services) - b - c: a login decided on a reaches b and c from the services SID, and c's users
    logged in on a keep +r; a logout undoes it everywhere; nothing comes back."""
    a, b, c = (mesh.node(f"{x}.test", sid) for x, sid in (("a", "1AA"), ("b", "2BB"), ("c", "3CC")))
    route = a.add_services("services.a.test", "0SV")
    ab, ba = mesh.link(a, b)
    bc, cb = mesh.link(b, c)
    cat = c.add_user("cat")
    mesh.pump()
    for link in (ab, ba, bc, cb):
        link.lines()
    a.network.set_account(a.user("cat"), "cat", origin=route)
    mesh.pump()
    assert c.user("cat").account == "cat" and "r" in c.user("cat").modes
    assert b.user("cat").account == "cat"
    assert [line.split()[:2] for line in bc.lines()] == [[":0SV", "SVSACCOUNT"], [":0SV", "SVSMODE"]]
    assert ba.lines() == [] and cb.lines() == []
    a.network.set_account(a.user("cat"), None, origin=route)
    mesh.pump()
    assert (cat.account, "r" in cat.modes) == (None, False)
