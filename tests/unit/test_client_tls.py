"""TLS clients as users see them: +z, WHOIS 671/276, OPER flag e, the sts capability."""

import datetime
from dataclasses import replace

from twisted.internet import address, interfaces
from twisted.internet.testing import StringTransport
from zope.interface import implementer

from conferenceroom import tls
from conferenceroom.admin.settings import OperEntry, SSLSettings
from conferenceroom.client.protocol import ClientConnection
from conferenceroom.passwords import hash_password
from tests.helpers import feed, make_core, make_oper, make_settings, register, sent

NOW = datetime.datetime(2026, 11, 25, tzinfo=datetime.timezone.utc)


@implementer(interfaces.ISSLTransport)
class TLSStringTransport(StringTransport):
    """A StringTransport that is a TLS connection with an optional client certificate."""

    def __init__(self, cert=None, **kw):
        super().__init__(**kw)
        self.cert = cert

    def getPeerCertificate(self):
        return self.cert


def client_cert(tmp_path):
    """A self-signed client certificate (pyOpenSSL X509) and its lower-case hex fingerprint."""
    from OpenSSL import crypto

    made = tls.load_or_create("alice.example", str(tmp_path), None, None, NOW)
    with open(made.cert_path, "rb") as fh:
        cert = crypto.load_certificate(crypto.FILETYPE_PEM, fh.read())
    return cert, made.fingerprint.replace(":", "").lower()


def tls_register(core, nick, cert=None):
    """A client registered over TLS (handshake done before its first line)."""
    conn = ClientConnection(core)
    conn.makeConnection(TLSStringTransport(cert, peerAddress=address.IPv4Address("TCP", "127.0.0.1", 40001)))
    conn.handshakeCompleted()
    feed(conn, f"NICK {nick}", f"USER {nick} 0 * :Real {nick}")
    assert conn.user is not None
    return conn


def numerics(messages, code):
    return [m for m in messages if m.command == code]


def test_tls_client_gets_plus_z_told_after_welcome_and_in_mode(tmp_path) -> None:
    """A TLS client is +z from registration: a MODE line after the welcome says
    so, MODE <nick> shows it and 004 lists z among the user modes."""
    core = make_core()
    conn = ClientConnection(core)
    conn.makeConnection(TLSStringTransport(None, peerAddress=address.IPv4Address("TCP", "127.0.0.1", 40001)))
    conn.handshakeCompleted()
    feed(conn, "NICK alice", "USER alice 0 * :Alice")
    lines = sent(conn)
    assert "z" in numerics(lines, "004")[0].params[3]
    assert [m.params for m in lines if m.command == "MODE"] == [("alice", "+z")]
    feed(conn, "MODE alice")
    assert numerics(sent(conn), "221")[0].params[-1] == "+z"


def test_plain_client_is_not_plus_z_and_cannot_set_it() -> None:
    """A plain client has no +z and MODE +z changes nothing."""
    core = make_core()
    conn = register(core, "bob")
    feed(conn, "MODE bob +z")
    assert not [m for m in sent(conn) if m.command == "MODE"]
    feed(conn, "MODE bob")
    assert numerics(sent(conn), "221")[0].params[-1] == "+"
    assert not conn.user.secure


def test_tls_client_cannot_remove_plus_z() -> None:
    """MODE -z from the user is ignored: the connection is still TLS."""
    core = make_core()
    conn = tls_register(core, "alice")
    sent(conn)
    feed(conn, "MODE alice -zi")
    assert not [m for m in sent(conn) if m.command == "MODE"]
    assert "z" in conn.user.modes and conn.user.secure


def test_whois_671_for_everyone_276_for_the_user_and_opers(tmp_path) -> None:
    """WHOIS of a TLS client with a certificate: everyone sees 671; only the
    user and operators see 276 with the SHA-256 fingerprint."""
    cert, fp = client_cert(tmp_path)
    core = make_core()
    alice = tls_register(core, "alice", cert)
    bob = register(core, "bob")
    oper = register(core, "carol")
    make_oper(oper)
    for conn in (alice, bob, oper):
        sent(conn)
        feed(conn, "WHOIS alice")
    mine, bobs, opers = sent(alice), sent(bob), sent(oper)
    for lines in (mine, bobs, opers):
        assert numerics(lines, "671")[0].params[1:] == ("alice", "is using a secure connection")
    assert numerics(mine, "276")[0].params[1:] == ("alice", f"has client certificate fingerprint {fp}")
    assert numerics(opers, "276")[0].params[-1].endswith(fp)
    assert not numerics(bobs, "276")
    assert alice.user.certfp == fp


def test_tls_without_certificate_has_671_and_no_276() -> None:
    """A TLS client without a certificate: 671, no 276 (not even to itself)."""
    core = make_core()
    alice = tls_register(core, "alice")
    sent(alice)
    feed(alice, "WHOIS alice")
    lines = sent(alice)
    assert numerics(lines, "671") and not numerics(lines, "276")


PASSWORD = "s3cret-pass"


def _oper_core(flags: str):
    entry = OperEntry("God", hash_password(PASSWORD, rounds=4), frozenset(flags))
    from conferenceroom.admin.settings import FrozenMap
    return make_core(make_settings(opers=FrozenMap({"god": entry}), ssl=SSLSettings(enabled=True)))


def test_oper_flag_e_refuses_plain_with_491_and_a_notice_once_the_password_is_right() -> None:
    """Flag e over plain text: the right password gets 491 and a NOTICE saying
    TLS is needed (and that the password crossed unencrypted); operators
    with +s are told why; a wrong password still gets 464 and no hint."""
    core = _oper_core("ae")
    watcher = register(core, "watch")
    make_oper(watcher)
    feed(watcher, "MODE watch +s")
    sent(watcher)
    conn = register(core, "alice")
    feed(conn, "OPER God wrong")
    assert [m.command for m in sent(conn)] == ["464"]
    feed(conn, f"OPER God {PASSWORD}")
    lines = sent(conn)
    assert [m.command for m in lines] == ["491", "NOTICE"]
    assert lines[1].params[-1] == (
        "*** OPER God needs a TLS connection (oper flag e): connect to port 994 with TLS and try again; "
        "the password just crossed the network unencrypted, consider changing it")
    assert not conn.user.is_oper
    told = [m.params[-1] for m in sent(watcher) if m.command == "NOTICE"]
    assert any("Failed OPER attempt as God by alice" in t and "TLS" in t for t in told), told
    secure = tls_register(core, "bob")
    sent(secure)
    feed(secure, f"OPER God {PASSWORD}")
    assert sent(secure)[0].command == "381"


def _sts_core(on: bool, duration: int = 86400):
    return make_core(make_settings(ssl=SSLSettings(enabled=True, port=6697, sts=on, sts_duration=duration)))


def _ls(conn, version="302"):
    feed(conn, f"CAP LS {version}".strip())
    return " ".join(m.params[-1] for m in sent(conn) if m.command == "CAP")


def test_sts_is_advertised_with_port_on_plain_and_duration_on_tls() -> None:
    """With STS on: CAP LS 302 over plain text shows sts=port=<tls port>,duration=<s>,
    over TLS sts=duration=<s>; CAP REQ sts is refused (NAK)."""
    core = _sts_core(True)
    from tests.helpers import connect

    plain = connect(core)
    assert "sts=port=6697,duration=86400" in _ls(plain).split()
    feed(plain, "CAP REQ :sts")
    assert [m.params[1] for m in sent(plain) if m.command == "CAP"] == ["NAK"]
    secure = ClientConnection(core)
    secure.makeConnection(TLSStringTransport(None, peerAddress=address.IPv4Address("TCP", "127.0.0.1", 4)))
    secure.handshakeCompleted()
    assert "sts=duration=86400" in _ls(secure).split()


def test_sts_off_by_default_and_not_offered() -> None:
    """Without the setting no sts capability is offered."""
    from tests.helpers import connect

    core = _sts_core(False)
    assert "sts" not in _ls(connect(core))


def test_secureonly_refuses_a_plain_client_at_its_first_line_with_an_error() -> None:
    """SECUREONLY on: a plain client's first line (CAP, NICK, ...) gets
    ERROR naming the TLS port and the connection closes; nothing registers."""
    from tests.helpers import connect, sent_lines

    core = make_core(make_settings(secureonly=True, ssl=SSLSettings(enabled=True, port=6697)))
    conn = connect(core)
    feed(conn, "CAP LS 302", "NICK alice", "USER alice 0 * :Alice")
    lines = sent_lines(conn)
    assert lines == ["ERROR :Closing Link: 127.0.0.1 (This server accepts only TLS connections (port 6697))"]
    assert conn.user is None and conn.closing


def test_secureonly_leaves_a_server_link_on_a_plain_port_to_the_link_rules() -> None:
    """SECUREONLY is about clients: a server opening with PASS/CAPAB/SERVER on a
    plain port is handed to the link layer (whose SECURENETWORK and per-definition
    SECUREONLY decide), not refused as a client."""
    from tests.helpers import connect, sent_lines

    core = make_core(make_settings(secureonly=True, ssl=SSLSettings(enabled=True, port=6697)))
    conn = connect(core)
    feed(conn, "PASS secret", "CAPAB :QS EX IE ENCAP TBURST SVS EOB", "SERVER tenor.test 1 2BB + :Tenor")
    assert conn.link is not None
    assert not any("accepts only TLS" in line for line in sent_lines(conn))


def test_secureonly_admits_tls_clients() -> None:
    """SECUREONLY on: a TLS client registers as usual."""
    core = make_core(make_settings(secureonly=True, ssl=SSLSettings(enabled=True, port=6697)))
    conn = tls_register(core, "alice")
    assert conn.user is not None and conn.user.secure
