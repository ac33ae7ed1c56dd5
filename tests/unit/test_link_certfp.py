"""TLS users across server links: +z in UID (hybrid's +S too), CERTFP both ways, remote WHOIS 671/276."""

from __future__ import annotations

from conferenceroom.wire import parse
from tests.helpers import make_core, make_oper, register
from tests.unit.linkkit import dispatch, peer_link
from tests.unit.linknet import feed, raw_link

FP = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SECURE_DAVE = ":2BB UID dave 1 1795607297 +Siz ~dave 127.0.0.1 127.0.0.1 127.0.0.1 2BBAAAAAB * :Dave on B"


def test_hybrid_secure_user_and_its_certfp_arrive(alpha):
    """hybrid's UID with +S/+z makes a +z (secure) user; ``:<UID> CERTFP <fp>``
    records its fingerprint and is passed on to the other links."""
    beta = raw_link(alpha)
    gamma = raw_link(alpha, "gamma.lab", "3CC")
    gamma.lines()
    feed(alpha, beta, SECURE_DAVE, f":2BBAAAAAB CERTFP {FP}")
    dave = alpha.user("dave")
    assert dave.secure and dave.modes == {"i", "z"}
    assert dave.certfp == FP
    assert f":2BBAAAAAB CERTFP {FP}" in gamma.lines()
    assert beta.errors == []


def test_encap_certfp_and_junk_fingerprints(alpha):
    """The charybdis form ``ENCAP * CERTFP :<fp>`` works too; a fingerprint
    that is not hex, or a CERTFP from a server, changes nothing."""
    beta = raw_link(alpha)
    feed(alpha, beta, SECURE_DAVE, f":2BBAAAAAB ENCAP * CERTFP :{FP.upper()}")
    assert alpha.user("dave").certfp == FP
    feed(alpha, beta, ":2BBAAAAAB CERTFP not:hex!", f":2BB CERTFP {FP[:10]}")
    assert alpha.user("dave").certfp == FP
    assert beta.errors == []


def _tls_user(core, nick, certfp=FP):
    conn = register(core, nick)
    conn.user.set_mode("z")
    conn.user.certfp = certfp
    return conn


def test_local_tls_user_goes_out_with_z_and_certfp():
    """A TLS user introduced while linked goes out as UID with +z followed by
    ``:<UID> CERTFP <fp>``; the burst of a new link says the same."""
    from conferenceroom.client.protocol import ClientConnection
    from tests.unit.test_client_tls import TLSStringTransport, client_cert
    from twisted.internet import address
    from tests.helpers import feed as client_feed

    core = make_core()
    link = peer_link(core)
    link.lines()
    conn = ClientConnection(core)
    conn.makeConnection(TLSStringTransport(None, peerAddress=address.IPv4Address("TCP", "127.0.0.1", 5)))
    conn.certfp = FP  # as handshakeCompleted reads it from the client certificate
    client_feed(conn, "NICK alice", "USER alice 0 * :Alice")
    uid = conn.user.uid
    lines = [parse(line) for line in link.lines()]
    intro = [m for m in lines if m.command == "UID"][0]
    assert intro.params[3] == "+z"
    assert (lines[lines.index(intro) + 1].command, lines[lines.index(intro) + 1].params) == ("CERTFP", (FP,))
    assert lines[lines.index(intro) + 1].source == uid
    from conferenceroom.link.burst import burst_messages

    burst = list(burst_messages(core.network, peer_link(core, "gamma.lab", "3CC", "gamma", linked=False)))
    mine = [i for i, m in enumerate(burst) if m.command == "UID" and m.params[-3] == uid][0]
    assert burst[mine].params[3] == "+z"
    assert (burst[mine + 1].command, burst[mine + 1].source, burst[mine + 1].params) == ("CERTFP", uid, (FP,))


def test_remote_whois_shows_671_to_all_and_276_to_opers():
    """A remote user asking WHOIS of our TLS user gets 671; 276 only when the asker is an operator."""
    core = make_core()
    link = peer_link(core)
    alice = _tls_user(core, "alice")
    dispatch(core, link,
             ":2BB UID carol 1 1795607297 +o ~carol 127.0.0.1 127.0.0.1 127.0.0.1 2BBAAAAAA * :Carol",
             ":2BB UID dave 1 1795607297 + ~dave 127.0.0.1 127.0.0.1 127.0.0.1 2BBAAAAAB * :Dave")
    link.lines()
    sid = core.network.me.sid
    dispatch(core, link, f":2BBAAAAAB WHOIS {alice.user.uid} :alice")
    plain = link.lines()
    assert f":{sid} 671 2BBAAAAAB alice :is using a secure connection" in plain
    assert not [line for line in plain if " 276 " in line]
    dispatch(core, link, f":2BBAAAAAA WHOIS {alice.user.uid} :alice")
    oper = link.lines()
    assert f":{sid} 276 2BBAAAAAA alice :has client certificate fingerprint {FP}" in oper


def test_whois_here_of_a_remote_tls_user_shows_671_and_276_to_opers():
    """Our own WHOIS of a remote TLS user (state from UID and CERTFP): 671 for anyone, 276 for an operator."""
    from tests.helpers import feed as client_feed
    from tests.helpers import sent

    core = make_core()
    link = peer_link(core)
    dispatch(core, link, SECURE_DAVE, f":2BBAAAAAB CERTFP {FP}")
    bob, oper = register(core, "bob"), register(core, "olga")
    make_oper(oper)
    for conn in (bob, oper):
        sent(conn)
        client_feed(conn, "WHOIS dave")
    bobs, opers = sent(bob), sent(oper)
    assert [m.params[-1] for m in bobs if m.command == "671"] == ["is using a secure connection"]
    assert not [m for m in bobs if m.command == "276"]
    assert [m.params[-1] for m in opers if m.command == "276"] == [f"has client certificate fingerprint {FP}"]
