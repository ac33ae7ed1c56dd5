"""TLS for outgoing links: a pinned fingerprint or CA and name checks, before any line leaves.

Each test runs a real TLS handshake in memory (iosim): the client side
writes ``PASS`` at once, as the active side of a link does, and the test
checks whether the server ever got it.
"""

from __future__ import annotations

import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import ssl
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.test.iosim import connectedServerAndClient

from conferenceroom.admin.settings import ServerDef
from conferenceroom.link.tlsclient import client_tls_factory

NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)


def make_pair(name: str) -> tuple[ssl.PrivateCertificate, str]:
    """A self-signed certificate for *name* and its SHA-256 fingerprint (colon hex, as tls.py shows it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ssl.PrivateCertificate.loadPEM(pem), ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


SOPRANO_PAIR = make_pair("soprano.webmaster.com")
IMPOSTOR_PAIR = make_pair("soprano.webmaster.com")
TENOR_PAIR = make_pair("tenor.webmaster.com")


class Speaker(Protocol):
    """The active side of a link: sends PASS the moment the connection exists."""

    lost: Any = None

    def connectionMade(self) -> None:
        self.transport.write(b"PASS link-secret TS 6 :101\r\n")

    def connectionLost(self, reason: Any) -> None:
        self.lost = reason


class Listener(Protocol):
    """The passive side: records what arrived and which client certificate it saw."""

    def __init__(self) -> None:
        self.received = b""
        self.peer_cert: Any = None

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        self.peer_cert = self.transport.getPeerCertificate()


def handshake(creator: Any, server_pair: ssl.PrivateCertificate, ask_client_cert: bool = False) -> tuple[Speaker, Listener]:
    """Run a TLS connection from *creator* to a server presenting *server_pair*."""
    if ask_client_cert:
        server_options = server_pair.options(TENOR_PAIR[0])  # trusts tenor's self-signed certificate
    else:
        server_options = server_pair.options()
    speaker, listener = Speaker(), Listener()
    clock = Clock()  # TLS transports flush small writes on the next tick of this clock
    server_factory = TLSMemoryBIOFactory(server_options, False, Factory.forProtocol(lambda: listener), clock)
    client_factory = TLSMemoryBIOFactory(creator, True, Factory.forProtocol(lambda: speaker), clock)
    _client, _server, pump = connectedServerAndClient(
        lambda: server_factory.buildProtocol(None), lambda: client_factory.buildProtocol(None), clock=clock
    )
    pump.flush()
    return speaker, listener


def definition(**kw: Any) -> ServerDef:
    """soprano as tenor defines it, secure."""
    fields: dict[str, Any] = dict(name="soprano.*", serial="102-0000-001", host="soprano.webmaster.com",
                                  port=994, secure=True, auto=True, enabled=True)
    fields.update(kw)
    return ServerDef("soprano", **fields)


def test_pinned_certificate_links() -> None:
    """A definition pinning soprano's certificate connects to soprano, self-signed as it is."""
    pair, fp = SOPRANO_PAIR
    tls_for = client_tls_factory()
    _speaker, listener = handshake(tls_for(definition(fingerprint=fp.replace(":", "").lower())), pair)
    assert listener.received == b"PASS link-secret TS 6 :101\r\n"


def test_pin_is_checked_before_the_password_leaves() -> None:
    """An impostor with another certificate never receives a line: the pin is checked in the TLS handshake."""
    _pair, fp = SOPRANO_PAIR
    impostor, _ = IMPOSTOR_PAIR
    speaker, listener = handshake(client_tls_factory()(definition(fingerprint=fp)), impostor)
    assert listener.received == b""
    assert speaker.lost is not None


def test_unpinned_definition_checks_the_ca_and_name() -> None:
    """Without a pin the peer needs a certificate from a trusted CA for the host we dial."""
    pair, _fp = SOPRANO_PAIR
    trusted = client_tls_factory(trust_root=pair)  # soprano's self-signed certificate as the CA
    _speaker, listener = handshake(trusted(definition()), pair)
    assert listener.received.startswith(b"PASS ")
    speaker, listener = handshake(trusted(definition(host="alto.webmaster.com")), pair)
    assert listener.received == b"" and speaker.lost is not None


def test_unpinned_self_signed_peer_is_refused() -> None:
    """A self-signed certificate nobody trusts is refused when the definition pins nothing."""
    pair, _fp = SOPRANO_PAIR
    tenor_ca, _ = TENOR_PAIR
    speaker, listener = handshake(client_tls_factory(trust_root=tenor_ca)(definition()), pair)
    assert listener.received == b""
    assert speaker.lost is not None


def test_our_certificate_is_presented() -> None:
    """We present our own certificate, so the peer can pin our fingerprint in its definition of us."""
    pair, fp = SOPRANO_PAIR
    tenor, tenor_fp = TENOR_PAIR
    for d in (definition(fingerprint=fp), definition()):
        tls_for = client_tls_factory(identity=tenor, trust_root=pair)
        _speaker, listener = handshake(tls_for(d), pair, ask_client_cert=True)
        assert listener.received.startswith(b"PASS ")
        seen = listener.peer_cert.to_cryptography().fingerprint(hashes.SHA256()).hex().upper()
        assert seen == tenor_fp.replace(":", "")
