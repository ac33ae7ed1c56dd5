"""TLS for outgoing links: a pinned fingerprint, or CA, dates and name; every refusal says why.

:func:`check_peer` is judged on certificate chains made here (a test CA,
certificates it issues, self-signed ones); the connection creator is run
through a real TLS handshake in memory (iosim).
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from twisted.internet import ssl
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.test.iosim import connectedServerAndClient

from conferenceroom.admin.settings import ServerDef
from conferenceroom.link.tlsclient import check_peer, client_tls_factory, peer_chain
from tests.tlscerts import DAY, Issued, issue, make_ca, self_signed

NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)
CA = make_ca("Webmaster Test CA", NOW)
OTHER_CA = make_ca("Somebody Else's CA", NOW)
SOPRANO = issue(CA, "soprano.webmaster.com", now=NOW)
SOPRANO_SELF = self_signed("soprano.webmaster.com", NOW)
IMPOSTOR = self_signed("soprano.webmaster.com", NOW)
TENOR_SELF = self_signed("tenor.webmaster.com", NOW)


def definition(**kw: Any) -> ServerDef:
    """soprano as tenor defines it, secure."""
    fields: dict[str, Any] = dict(name="soprano.webmaster.com", serial="102-0000-001",
                                  host="soprano.webmaster.com", port=994, secure=True, auto=True, enabled=True)
    fields.update(kw)
    return ServerDef("soprano", **fields)


def cafile(tmp_path: Path, *cas: Issued) -> str:
    """A CA file holding *cas*."""
    path = tmp_path / "ca.pem"
    path.write_bytes(b"".join(ca.cert_pem for ca in cas))
    return str(path)


def test_pinned_certificate_passes_self_signed_as_it_is() -> None:
    """A definition pinning soprano's certificate accepts it, self-signed, whatever its names."""
    d = definition(fingerprint=SOPRANO_SELF.fingerprint.replace(":", "").lower(), host="127.0.0.1")
    found = check_peer(d, [SOPRANO_SELF.der], cafile=None, now=NOW)
    assert found.refusal is None and found.learned_pin is None
    assert found.how == "pinned certificate"


def test_pin_mismatch_shows_the_expected_and_the_presented_fingerprint(tmp_path) -> None:
    """An impostor's certificate: refused, naming the definition, the pinned and the presented fingerprint,
    even when a CA would vouch for it."""
    d = definition(fingerprint=SOPRANO_SELF.fingerprint)
    found = check_peer(d, [IMPOSTOR.der], cafile=None, now=NOW)
    assert found.refusal == (
        f"TLS certificate fingerprint mismatch for definition soprano: expected {SOPRANO_SELF.fingerprint}, "
        f"got {IMPOSTOR.fingerprint}")
    assert check_peer(d, [SOPRANO.der], cafile=cafile(tmp_path, CA), now=NOW).refusal.startswith(
        "TLS certificate fingerprint mismatch")


def test_ca_signed_certificate_for_the_host_dialled_passes(tmp_path) -> None:
    """Unpinned: a certificate from the configured CA for the host we dial links."""
    found = check_peer(definition(), [SOPRANO.der], cafile=cafile(tmp_path, CA), now=NOW)
    assert found.refusal is None and found.learned_pin is None
    assert found.how == "certificate for soprano.webmaster.com signed by a trusted CA"


def test_dialling_an_address_the_definitions_exact_name_counts(tmp_path) -> None:
    """Dialling 127.0.0.1 for definition soprano.webmaster.com, a certificate for that name is the right one;
    a wildcard definition name gives no name to check, so the address must be in the certificate."""
    ca = cafile(tmp_path, CA)
    by_name = check_peer(definition(host="127.0.0.1"), [SOPRANO.der], cafile=ca, now=NOW)
    assert by_name.refusal is None and by_name.how == "certificate for soprano.webmaster.com signed by a trusted CA"
    refused = check_peer(definition(host="127.0.0.1", name="soprano.*"), [SOPRANO.der], cafile=ca, now=NOW)
    assert refused.refusal == "TLS certificate name mismatch: it is for soprano.webmaster.com, not 127.0.0.1"
    by_ip = issue(CA, "127.0.0.1", now=NOW)
    assert check_peer(definition(host="127.0.0.1", name="soprano.*"), [by_ip.der], cafile=ca, now=NOW).refusal is None


def test_name_mismatch_names_both(tmp_path) -> None:
    """A CA certificate for another server: refused, saying whom it is for and what we dialled."""
    alto = issue(CA, "alto.webmaster.com", "www.webmaster.com", now=NOW)
    found = check_peer(definition(), [alto.der], cafile=cafile(tmp_path, CA), now=NOW)
    assert found.refusal == (
        "TLS certificate name mismatch: it is for alto.webmaster.com, www.webmaster.com, not soprano.webmaster.com")


def test_expired_and_not_yet_valid_certificates_are_told_apart(tmp_path) -> None:
    """The clock we are given decides: an expired certificate says when it expired; a future one when it starts."""
    ca = cafile(tmp_path, CA)
    old = issue(CA, "soprano.webmaster.com", now=NOW, not_before=NOW - 400 * DAY, not_after=NOW - 30 * DAY)
    found = check_peer(definition(), [old.der], cafile=ca, now=NOW)
    expiry = (NOW - 30 * DAY).strftime("%Y-%m-%d %H:%M UTC")
    assert found.refusal == f"TLS certificate of soprano.webmaster.com expired on {expiry}"
    assert check_peer(definition(), [SOPRANO.der], cafile=ca, now=NOW + 400 * DAY).refusal.startswith(
        "TLS certificate of soprano.webmaster.com expired on ")
    future = issue(CA, "soprano.webmaster.com", now=NOW, not_before=NOW + 10 * DAY)
    early = check_peer(definition(), [future.der], cafile=ca, now=NOW)
    assert early.refusal.startswith("TLS certificate of soprano.webmaster.com is not valid yet (valid from ")


def test_unknown_ca_is_refused_naming_the_issuer(tmp_path) -> None:
    """A certificate from a CA we do not trust: refused, naming its issuer and what we trust."""
    stranger = issue(OTHER_CA, "soprano.webmaster.com", now=NOW)
    path = cafile(tmp_path, CA)
    found = check_peer(definition(), [stranger.der, OTHER_CA.der], cafile=path, now=NOW)
    assert found.refusal == (
        "TLS certificate of soprano.webmaster.com is not signed by a trusted CA "
        f"(issuer CN=Somebody Else's CA; trusted: {path})")


def test_self_signed_with_a_ca_file_is_refused_with_the_pin_to_set(tmp_path) -> None:
    """With a CA file set, a self-signed certificate is not trusted; the notice gives the AS line that would pin it."""
    found = check_peer(definition(), [SOPRANO_SELF.der], cafile=cafile(tmp_path, CA), now=NOW)
    assert found.refusal.startswith("TLS certificate of soprano.webmaster.com is self-signed and not from a CA in ")
    assert found.refusal.endswith(f"to trust it, pin it: SERVER soprano SET FINGERPRINT {SOPRANO_SELF.fingerprint}")
    assert found.learned_pin is None


def test_self_signed_without_a_ca_file_is_trusted_on_first_use() -> None:
    """No pin and no CA file (the manual's fresh install): the self-signed certificate becomes the pin."""
    found = check_peer(definition(host="127.0.0.1"), [SOPRANO_SELF.der], cafile=None, now=NOW)
    assert found.refusal is None
    assert found.learned_pin == SOPRANO_SELF.cert.fingerprint(hashes.SHA256()).hex()
    assert found.how == "self-signed certificate pinned on first use"


def test_expired_self_signed_is_not_trusted_on_first_use() -> None:
    """Trust on first use still needs a certificate valid today."""
    stale = self_signed("soprano.webmaster.com", NOW - 40 * DAY, not_after=NOW - DAY)
    found = check_peer(definition(), [stale.der], cafile=None, now=NOW)
    assert found.refusal.startswith("TLS certificate of soprano.webmaster.com expired on ")
    assert found.learned_pin is None


def test_a_missing_ca_file_is_a_refusal_not_a_traceback(tmp_path) -> None:
    """GENERAL SSL CAFILE naming a file that is not there refuses the link, saying so."""
    missing = str(tmp_path / "nope.pem")
    found = check_peer(definition(), [SOPRANO.der], cafile=missing, now=NOW)
    assert found.refusal == f"cannot read the CA file {missing}: No such file or directory"


def test_no_certificate_is_refused() -> None:
    """A peer that shows no certificate at all is refused."""
    assert check_peer(definition(), [], cafile=None, now=NOW).refusal == (
        "soprano.webmaster.com presented no TLS certificate")


# -- the connection creator, through a real handshake -------------------------------------


class Speaker(Protocol):
    """The active side: records the peer's chain once the handshake is done."""

    chain: Any = None

    def connectionMade(self) -> None:
        self.transport.write(b"hello\r\n")

    def dataReceived(self, data: bytes) -> None:
        self.chain = peer_chain(self.transport)


class Listener(Protocol):
    """The passive side: echoes, and records which client certificate it saw."""

    peer_cert: Any = None

    def dataReceived(self, data: bytes) -> None:
        self.peer_cert = self.transport.getPeerCertificate()
        self.transport.write(data)


def _pem(issued: Issued) -> ssl.PrivateCertificate:
    return ssl.PrivateCertificate.loadPEM(issued.cert_pem + issued.key_pem)


def handshake(creator: Any, server: Issued, extra_chain: tuple[Issued, ...] = ()) -> tuple[Speaker, Listener]:
    """Run a TLS connection from *creator* to a server presenting *server* (and *extra_chain*)."""
    pem = _pem(server)
    server_options = ssl.CertificateOptions(
        privateKey=pem.privateKey.original, certificate=pem.original,
        extraCertChain=[ssl.Certificate.loadPEM(c.cert_pem).original for c in extra_chain],
        verify=True, caCerts=[ssl.Certificate.loadPEM(TENOR_SELF.cert_pem).original],
    )
    speaker, listener = Speaker(), Listener()
    clock = Clock()
    server_factory = TLSMemoryBIOFactory(server_options, False, Factory.forProtocol(lambda: listener), clock)
    client_factory = TLSMemoryBIOFactory(creator, True, Factory.forProtocol(lambda: speaker), clock)
    _c, _s, pump = connectedServerAndClient(
        lambda: server_factory.buildProtocol(None), lambda: client_factory.buildProtocol(None), clock=clock
    )
    pump.flush()
    return speaker, listener


def test_handshake_completes_and_hands_over_the_whole_chain() -> None:
    """The creator lets any certificate through the TLS handshake (check_peer judges it before PASS) and
    the active side can read the leaf and the intermediate the peer sent."""
    speaker, _listener = handshake(client_tls_factory(_pem(TENOR_SELF))(definition()), SOPRANO, (CA,))
    assert speaker.chain == [SOPRANO.der, CA.der]


def test_our_certificate_is_presented() -> None:
    """We present our own certificate, so the peer can pin our fingerprint in its definition of us."""
    _speaker, listener = handshake(client_tls_factory(_pem(TENOR_SELF))(definition()), SOPRANO_SELF)
    seen = listener.peer_cert.to_cryptography().fingerprint(hashes.SHA256()).hex().upper()
    assert seen == TENOR_SELF.fingerprint.replace(":", "")
