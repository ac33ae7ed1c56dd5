# -*- test-case-name: tests.unit.test_tls -*-
"""TLS contexts: certificates from the config, or a generated self-signed pair.

When ``GENERAL SSL CERT``/``KEY`` are not set, a self-signed certificate for
the server name is generated on first use in DATADIR and reused after; its
SHA-256 fingerprint is logged so peers can pin it.  Generation is blocking
work: callers run :func:`load_or_create` off the reactor thread.

Every server context is graded the same way: TLS 1.2 at least, over TLS 1.2
only forward-secret AEAD suites (ECDHE/DHE with AES-GCM or ChaCha20-Poly1305;
TLS 1.3 suites are all of that kind), no compression, no renegotiation.  A
peer's certificate is asked for and never required (:class:`AskPeerCertificate`).
A listener hands connections out through a :class:`ServerCreator`, whose
certificate :meth:`~ServerCreator.swap` replaces for new handshakes only
(a renewed certificate picked up by REHASH drops nobody).
"""

from __future__ import annotations

import datetime
import os
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto
from twisted.internet import interfaces, ssl
from zope.interface import implementer

from .atomicfile import write_atomically

GENERATED_CERT = "server-cert.pem"
GENERATED_KEY = "server-key.pem"

#: Over TLS 1.2: forward-secret key exchange and AEAD ciphers only (TLS 1.3 has no other kind).
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL"
#: Operators are warned this long before the certificate expires.
EXPIRY_WARNING = datetime.timedelta(days=14)

#: Held while checking for and generating the self-signed pair: callers run
#: in the reactor's thread pool, possibly several at once.
_GENERATING = threading.Lock()


class TLSError(Exception):
    """Certificate or key files that cannot be used; the message says why."""


@dataclass(frozen=True)
class ServerTLS:
    """A ready server context and what an operator needs to know about it."""

    options: ssl.CertificateOptions
    cert_path: str
    fingerprint: str
    generated: bool
    not_after: datetime.datetime | None = None
    #: What listeners hand connections out with; :meth:`ServerCreator.swap` renews it.
    creator: "ServerCreator | None" = None


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as colon-separated upper-case hex."""
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _generate(name: str, cert_path: str, key_path: str, now: datetime.datetime) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    os.makedirs(os.path.dirname(cert_path) or ".", exist_ok=True)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    # The key first, the certificate last: a pair whose certificate is
    # there is complete (load_or_create generates again otherwise).
    write_atomically(key_path, key_pem, 0o600)
    write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def load_or_create(
    name: str, datadir: str, cert_path: str | None, key_path: str | None, now: datetime.datetime
) -> ServerTLS:
    """A server context from the configured files, or a generated pair in ``datadir``.

    Raises :class:`TLSError` naming the file and the reason when the
    configured files cannot be read or do not match.
    """
    generated = False
    if not cert_path:
        cert_path = os.path.join(datadir, GENERATED_CERT)
        key_path = os.path.join(datadir, GENERATED_KEY)
        with _GENERATING:  # two threads at once must not write a key and a certificate each
            if not (os.path.exists(cert_path) and os.path.exists(key_path)):
                _generate(name, cert_path, key_path, now)
                generated = True
    key_path = key_path or cert_path
    try:
        with open(cert_path, "rb") as fh:
            cert_pem = fh.read()
        with open(key_path, "rb") as fh:
            key_pem = fh.read()
    except OSError as exc:
        raise TLSError(f"cannot read {exc.filename}: {exc.strerror}") from None
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:  # cryptography's way of saying the key is encrypted
        raise TLSError(f"{key_path}: the key is protected by a passphrase; "
                       "give a key without one (openssl pkey -in KEY -out NEWKEY)") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TLSError(f"{cert_path} / {key_path}: not a PEM certificate and key ({exc})") from None
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise TLSError(f"{key_path} is not the key of {cert_path}")
    pem = ssl.PrivateCertificate.loadPEM(cert_pem + b"\n" + key_pem)
    options = graded_options(pem.privateKey.original, pem.original)
    not_after = cert.not_valid_after_utc
    return ServerTLS(options, cert_path, fingerprint(cert), generated, not_after, ServerCreator(options))


def graded_options(key: crypto.PKey, cert: crypto.X509) -> "AskPeerCertificate":
    """Server options with our grade: TLS 1.2+, forward-secret AEAD ciphers, peer certificate asked."""
    return AskPeerCertificate(
        privateKey=key, certificate=cert,
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
        acceptableCiphers=ssl.AcceptableCiphers.fromOpenSSLCipherString(CIPHERS),
    )


def peer_fingerprint(cert: crypto.X509 | None) -> str | None:
    """A peer certificate's SHA-256 fingerprint as lower-case hex (WHOIS 276, CERTFP), or None."""
    if cert is None:
        return None
    return cert.to_cryptography().fingerprint(hashes.SHA256()).hex()


def expiry_warning(loaded: ServerTLS, now: datetime.datetime) -> str | None:
    """The sentence for operators when ``loaded`` expires within :data:`EXPIRY_WARNING` (or has), else None."""
    end = loaded.not_after
    if end is None or end - now > EXPIRY_WARNING:
        return None
    when = f"({end:%Y-%m-%d %H:%M} UTC)"
    if end <= now:
        days = (now - end).days
        return f"TLS certificate {loaded.cert_path} EXPIRED {_days(days)} ago {when}: renew it, then REHASH"
    return f"TLS certificate {loaded.cert_path} expires in {_days((end - now).days)} {when}: renew it, then REHASH"


def _days(n: int) -> str:
    return "less than a day" if n == 0 else f"{n} day{'s' if n != 1 else ''}"


@implementer(interfaces.IOpenSSLServerConnectionCreator)
class ServerCreator:
    """What a TLS listener makes its connections with: the current options, swappable.

    A connection keeps the context it was made with, so swapping in a
    renewed certificate changes only the handshakes that follow.
    """

    def __init__(self, options: ssl.CertificateOptions) -> None:
        self.options = options

    @property
    def context(self) -> SSL.Context:
        """The context new connections get."""
        return self.options.getContext()

    def swap(self, options: ssl.CertificateOptions) -> None:
        """Use ``options`` for every handshake from now on."""
        self.options = options

    def serverConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        """A server-side connection with the current context."""
        return SSL.Connection(self.context, None)


def _accept_any(connection: object, cert: object, errno: int, depth: int, ok: int) -> bool:
    return True


class AskPeerCertificate(ssl.CertificateOptions):
    """Server TLS that asks the peer for a certificate and accepts any, or none.

    A server linking in presents its certificate, so a definition's
    fingerprint pin can be compared with it (IRC clients simply send none);
    the link policy, not the TLS handshake, decides what it is worth.
    """

    _asking: object = None

    def getContext(self) -> object:
        """The context, set once (before any connection uses it) to request a peer certificate."""
        if self._asking is None:
            context = super().getContext()
            context.set_verify(SSL.VERIFY_PEER, _accept_any)
            context.set_options(SSL.OP_NO_RENEGOTIATION)
            self._asking = context
        return self._asking
