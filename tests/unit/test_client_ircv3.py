"""SETNAME and RENAME (IRCv3 setname, draft/channel-rename) as clients see them, here and across links."""

from conferenceroom.modes import ModeChange
from tests.unit.linknet import Mesh
from tests.helpers import (
    feed, join_channel, make_core, make_remote_server, make_remote_user, register, sent,
)


def test_setname_confirmed_and_shown_to_peers_with_the_cap() -> None:
    """SETNAME changes the real name (WHOIS shows it); the user and peers with setname see
    SETNAME; a peer without the cap sees nothing."""
    core = make_core()
    alice = register(core, "alice", caps="setname")
    bob = register(core, "bob", caps="setname")
    carol = register(core, "carol")
    for conn in (alice, bob, carol):
        join_channel(core, conn, "#c")
        sent(conn)
    feed(alice, "SETNAME :Alice Liddell")
    assert [(m.command, m.source, m.params) for m in sent(alice)] == [
        ("SETNAME", "alice!~alice@127.0.0.1", ("Alice Liddell",))]
    assert [m.command for m in sent(bob)] == ["SETNAME"]
    assert sent(carol) == []
    feed(carol, "WHOIS alice")
    assert [m.params[-1] for m in sent(carol) if m.command == "311"] == ["Alice Liddell"]


def test_setname_invalid_is_a_standard_fail() -> None:
    """A too long or blank real name gets FAIL SETNAME INVALID_REALNAME and changes nothing."""
    core = make_core()
    alice = register(core, "alice", caps="setname")
    feed(alice, "SETNAME :" + "x" * 151, "SETNAME : ")
    got = sent(alice)
    assert [m.params[:2] for m in got] == [("SETNAME", "INVALID_REALNAME")] * 2
    assert all(m.command == "FAIL" for m in got)
    assert alice.user.realname == "Real alice"


def test_setname_and_bot_mode_cross_a_chain_of_servers() -> None:
    """Over alpha - beta - gamma, a SETNAME on alpha (ENCAP * SETNAME) and a +B (a user mode)
    reach gamma's copy of the user; nothing loops back."""
    mesh = Mesh()
    alpha, beta, gamma = (mesh.node(n, s) for n, s in (("alpha.lab", "1AA"), ("beta.lab", "2BB"),
                                                        ("gamma.lab", "3CC")))
    mesh.link(alpha, beta)
    mesh.link(beta, gamma)
    user = alpha.add_user("alice")
    mesh.pump()
    alpha.network.set_realname(user, "Alice Liddell")
    alpha.network.apply_user_modes(user, user, [ModeChange(True, "B")])
    mesh.pump()
    far = gamma.user("alice")
    assert far.realname == "Alice Liddell" and "B" in far.modes
    assert beta.user("alice").realname == "Alice Liddell"
    assert not gamma.wrong_direction and not alpha.wrong_direction
